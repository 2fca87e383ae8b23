/* Reference matcher topic_match (MQTT 4.7.1, 4.7.2). */
#include "topic/topic.h"

#include <criterion/criterion.h>
#include <string.h>

static bool match(const char *filter, const char *name)
{
	return topic_match(filter, strlen(filter), name, strlen(name));
}

/* 4.7.1.2 non-normative example for "sport/tennis/player1/#" */
Test(topic_match, hash_example_4_7_1_2)
{
	cr_assert(match("sport/tennis/player1/#", "sport/tennis/player1"));
	cr_assert(match("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
	cr_assert(match("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"));
	cr_assert_not(match("sport/tennis/player1/#", "sport/tennis/player2"));
	cr_assert_not(match("sport/tennis/player1/#", "sport/tennis"));
}

/* [MQTT-4.7.1-2] example: "sport/#" also matches the parent "sport" */
Test(topic_match, hash_matches_parent_level_MQTT_4_7_1_2)
{
	cr_assert(match("sport/#", "sport"));
	cr_assert(match("sport/#", "sport/"));
	cr_assert(match("sport/#", "sport/a/b/c"));
	cr_assert_not(match("sport/#", "sports"));
	cr_assert(match("+/#", "a"));
	cr_assert(match("a/b/#", "a/b"));
	cr_assert_not(match("a/b/#", "a"));
}

Test(topic_match, lone_hash_matches_everything_not_dollar)
{
	cr_assert(match("#", "a"));
	cr_assert(match("#", "/"));
	cr_assert(match("#", "a/b/c"));
	cr_assert(match("/#", "/finance"));
	cr_assert_not(match("/#", "finance"));
}

/* 4.7.1.3 non-normative examples for '+' */
Test(topic_match, plus_examples_4_7_1_3)
{
	cr_assert(match("sport/tennis/+", "sport/tennis/player1"));
	cr_assert(match("sport/tennis/+", "sport/tennis/player2"));
	cr_assert_not(match("sport/tennis/+", "sport/tennis/player1/ranking"));
	cr_assert_not(match("sport/+", "sport"));
	cr_assert(match("sport/+", "sport/"));
	cr_assert(match("+/+", "/finance"));
	cr_assert(match("/+", "/finance"));
	cr_assert_not(match("+", "/finance"));
}

Test(topic_match, plus_matches_exactly_one_level)
{
	cr_assert(match("a/+/c", "a/b/c"));
	cr_assert(match("a/+/c", "a//c"));
	cr_assert_not(match("a/+/c", "a/b/x/c"));
	cr_assert_not(match("a/+/c", "a/c"));
	cr_assert(match("+", "a"));
	cr_assert(match("+/+/+", "//"));
	cr_assert(match("a/+", "a/$b")); /* '$' only matters in the first level */
}

/* [MQTT-4.7.2-1] wildcard-first filters do not match '$' topic names;
 * examples from 4.7.2 */
Test(topic_match, dollar_topics_hidden_from_leading_wildcards_MQTT_4_7_2_1)
{
	cr_assert_not(match("#", "$SYS/monitor/Clients"));
	cr_assert_not(match("#", "$"));
	cr_assert_not(match("+/monitor/Clients", "$SYS/monitor/Clients"));
	cr_assert_not(match("+", "$SYS"));
	cr_assert_not(match("+/#", "$SYS"));
	cr_assert(match("$SYS/#", "$SYS/monitor/Clients"));
	cr_assert(match("$SYS/monitor/+", "$SYS/monitor/Clients"));
	cr_assert(match("$SYS/#", "$SYS"));
}

Test(topic_match, literal_levels_compare_exactly)
{
	cr_assert(match("a/b", "a/b"));
	cr_assert_not(match("a/b", "a/bc"));
	cr_assert_not(match("a/bc", "a/b"));
	cr_assert_not(match("a", "a/b"));
	cr_assert_not(match("a/b", "a"));
	cr_assert_not(match("a//b", "a/b"));
	cr_assert(match("/", "/"));
	cr_assert_not(match("a/", "a"));
	cr_assert_not(match("ACCOUNTS", "Accounts")); /* 4.7.3: case sensitive */
}

Test(topic_match, uses_lengths_not_nul_termination)
{
	cr_assert(topic_match("a/b/c", 3, "a/bXYZ", 3));
	cr_assert_not(topic_match("a/#", 3, "b/c", 3));
}
