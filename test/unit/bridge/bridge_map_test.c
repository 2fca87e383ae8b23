/* Topic remapping of bridges (bridge_map.c), against mosquitto.conf(5)'s
 * definition: the local topic is LOCAL_PREFIX + PATTERN, the remote one
 * REMOTE_PREFIX + PATTERN, the first matching topic line decides, and a
 * line maps only in its own direction. */
#include "bridge/bridge_int.h"

#include <criterion/criterion.h>
#include <string.h>

static struct conf_bridge_topic lines[4];
static struct conf_bridge cb;
static struct bridge br;
static struct buf out;

static void line(size_t i, const char *pattern, uint8_t dir, const char *local, const char *remote)
{
	lines[i] = (struct conf_bridge_topic){ .pattern = (char *)pattern, .direction = dir,
					       .local_prefix = (char *)local, .remote_prefix = (char *)remote };
}

static void build(size_t n)
{
	cb = (struct conf_bridge){ .topics = lines, .n_topics = n };
	br = (struct bridge){ .conf = &cb };
	buf_init(&out);
	cr_assert_eq(bridge_topics_build(&br), FM_OK);
}

static void teardown(void)
{
	bridge_topics_free(&br);
	buf_fini(&out);
}

static bool out_is(const char *topic, const char *want)
{
	if (!bridge_map_topic_out(&br, topic, strlen(topic), &out))
		return want == NULL;
	return want && buf_used(&out) == strlen(want) && memcmp(buf_head(&out), want, strlen(want)) == 0;
}

static bool in_is(const char *topic, const char *want)
{
	if (!bridge_map_topic_in(&br, topic, strlen(topic), &out))
		return want == NULL;
	return want && buf_used(&out) == strlen(want) && memcmp(buf_head(&out), want, strlen(want)) == 0;
}

Test(bridge_map, prefixes_swap_both_ways, .fini = teardown)
{
	line(0, "sensors/#", CONF_BRIDGE_BOTH, "local/", "remote/");
	build(1);
	cr_assert(out_is("local/sensors/t1", "remote/sensors/t1"));
	cr_assert(out_is("local/sensors", "remote/sensors")); /* '#' matches the parent [MQTT-4.7.1-2] */
	cr_assert(in_is("remote/sensors/a/b", "local/sensors/a/b"));
	cr_assert(out_is("sensors/t1", NULL)); /* without the local prefix: not this line */
	cr_assert(in_is("local/sensors/t1", NULL));
}

Test(bridge_map, no_prefix_keeps_the_topic, .fini = teardown)
{
	line(0, "chat/+", CONF_BRIDGE_BOTH, NULL, NULL);
	build(1);
	cr_assert(out_is("chat/room", "chat/room"));
	cr_assert(in_is("chat/room", "chat/room"));
	cr_assert(out_is("chat/room/deeper", NULL)); /* '+' is one level [MQTT-4.7.1-3] */
}

Test(bridge_map, a_line_maps_only_its_direction, .fini = teardown)
{
	line(0, "up/#", CONF_BRIDGE_OUT, "", "edge1/");
	line(1, "down/#", CONF_BRIDGE_IN, "", "edge1/");
	build(2);
	cr_assert(out_is("up/x", "edge1/up/x"));
	cr_assert(in_is("edge1/up/x", NULL));
	cr_assert(in_is("edge1/down/x", "down/x"));
	cr_assert(out_is("down/x", NULL));
}

Test(bridge_map, first_matching_line_decides, .fini = teardown)
{
	line(0, "a/special", CONF_BRIDGE_OUT, NULL, "vip/");
	line(1, "a/#", CONF_BRIDGE_OUT, NULL, "all/");
	build(2);
	cr_assert(out_is("a/special", "vip/a/special"));
	cr_assert(out_is("a/other", "all/a/other"));
}

Test(bridge_map, empty_pattern_with_prefix_is_the_prefix_itself, .fini = teardown)
{
	/* mosquitto's `topic "" out 0 local/exact remote/exact`: the prefixes
	 * are whole topics */
	line(0, "", CONF_BRIDGE_BOTH, "local/exact", "remote/exact");
	build(1);
	cr_assert(out_is("local/exact", "remote/exact"));
	cr_assert(in_is("remote/exact", "local/exact"));
	cr_assert(out_is("local/exact/more", NULL));
}

/* "local/#" matches "local" itself [MQTT-4.7.1-2]: the parent level maps
 * to the other side's parent level, never to "remote/" or "" */
Test(bridge_map, hash_parent_level_maps_to_the_other_parent, .fini = teardown)
{
	line(0, "#", CONF_BRIDGE_BOTH, "local/", "remote/");
	build(1);
	cr_assert(out_is("local", "remote"));
	cr_assert(in_is("remote", "local"));
	cr_assert(out_is("local/a", "remote/a"));
}

Test(bridge_map, parent_level_without_a_prefix_on_the_other_side_is_dropped, .fini = teardown)
{
	line(0, "#", CONF_BRIDGE_OUT, "local/", NULL);
	build(1);
	cr_assert(out_is("local", NULL)); /* would be the empty topic */
	cr_assert(out_is("local/a", "a"));
}
