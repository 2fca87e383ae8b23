/* Topic name / filter validation and level counting (MQTT 4.7). */
#include "topic/topic.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static bool name_ok(const char *s)
{
	return topic_name_valid(s, strlen(s));
}

static bool filter_ok(const char *s)
{
	return topic_filter_valid(s, strlen(s));
}

/* [MQTT-4.7.3-1] topic names and filters are at least one character long */
Test(topic_valid, empty_name_and_filter_rejected_MQTT_4_7_3_1)
{
	cr_assert_not(topic_name_valid("", 0));
	cr_assert_not(topic_filter_valid("", 0));
}

/* [MQTT-4.7.1-1] wildcards must not be used within a topic name */
Test(topic_valid, wildcards_in_name_rejected_MQTT_4_7_1_1)
{
	cr_assert_not(name_ok("+"));
	cr_assert_not(name_ok("#"));
	cr_assert_not(name_ok("sport/+/player1"));
	cr_assert_not(name_ok("sport/tennis/#"));
	cr_assert_not(name_ok("sport+"));
	cr_assert_not(name_ok("a#b"));
}

Test(topic_valid, ordinary_names_accepted)
{
	cr_assert(name_ok("sport/tennis/player1"));
	cr_assert(name_ok("/"));        /* two empty levels */
	cr_assert(name_ok("/finance")); /* 4.7.1.3: leading empty level */
	cr_assert(name_ok("a//b"));
	cr_assert(name_ok(" "));        /* 4.7.3: space is a valid character */
	cr_assert(name_ok("$SYS/broker/uptime"));
	cr_assert(name_ok("ACCOUNTS"));
}

/* U+0000 is the codec's job, but a NUL byte must not slip through here. */
Test(topic_valid, nul_byte_rejected)
{
	cr_assert_not(topic_name_valid("a\0b", 3));
	cr_assert_not(topic_filter_valid("a/\0", 3));
}

/* The wire length prefix is 16 bits. */
Test(topic_valid, length_limit_is_65535)
{
	size_t max = 65535;
	char *s = malloc(max + 1);
	cr_assert_not_null(s);
	memset(s, 'x', max + 1);
	cr_assert(topic_name_valid(s, max));
	cr_assert_not(topic_name_valid(s, max + 1));
	cr_assert(topic_filter_valid(s, max));
	cr_assert_not(topic_filter_valid(s, max + 1));
	free(s);
}

/* 4.7.1.2 examples; [MQTT-4.7.1-2] '#' alone in the last level */
Test(topic_valid, multi_level_wildcard_examples_4_7_1_2_MQTT_4_7_1_2)
{
	cr_assert(filter_ok("sport/tennis/player1/#"));
	cr_assert(filter_ok("sport/#"));
	cr_assert(filter_ok("#"));
	cr_assert(filter_ok("/#"));
	cr_assert_not(filter_ok("sport/tennis#"));
	cr_assert_not(filter_ok("sport/tennis/#/ranking"));
	cr_assert_not(filter_ok("#/"));
	cr_assert_not(filter_ok("##"));
	cr_assert_not(filter_ok("a/#b"));
	cr_assert_not(filter_ok("+#"));
}

/* 4.7.1.3 examples; [MQTT-4.7.1-3] '+' occupies an entire level */
Test(topic_valid, single_level_wildcard_examples_4_7_1_3_MQTT_4_7_1_3)
{
	cr_assert(filter_ok("+"));
	cr_assert(filter_ok("+/tennis/#"));
	cr_assert(filter_ok("sport/+/player1"));
	cr_assert(filter_ok("+/+"));
	cr_assert(filter_ok("/+"));
	cr_assert(filter_ok("+/"));
	cr_assert(filter_ok("a//+//b"));
	cr_assert_not(filter_ok("sport+"));
	cr_assert_not(filter_ok("+sport"));
	cr_assert_not(filter_ok("sport/+x/y"));
	cr_assert_not(filter_ok("++"));
}

Test(topic_valid, plain_filters_accepted)
{
	cr_assert(filter_ok("sport/tennis"));
	cr_assert(filter_ok("/"));
	cr_assert(filter_ok("$SYS/#"));
}

Test(topic_valid, levels_counts_separators_plus_one)
{
	cr_assert_eq(topic_levels("a/b", 3), 2);
	cr_assert_eq(topic_levels("", 0), 1);
	cr_assert_eq(topic_levels("/", 1), 2);
	cr_assert_eq(topic_levels("a//b", 4), 3);
	cr_assert_eq(topic_levels("/finance", 8), 2);
	cr_assert_eq(topic_levels("sport/tennis/player1/#", 22), 4);
	cr_assert_eq(topic_levels("a/b/c", 3), 2); /* only len bytes count */
}
