/* ACL files: the anonymous set and user sets, read/write/readwrite/deny,
 * deny precedence across sets and patterns, %c/%u substitution and ids
 * that try to widen a pattern, '$' topics, SUBSCRIBE filter coverage, and
 * every refused line with its file:line message. */
#include "auth/acl.h"
#include "topic/topic.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct fm_errbuf eb;

static struct acl *parse_ok(const char *text)
{
	struct acl *a = NULL;
	cr_assert_eq(acl_parse("acl.txt", text, &a, &eb), FM_OK, "%s", eb.msg);
	return a;
}

static void parse_fails(const char *text, const char *expect)
{
	struct acl *a = NULL;
	eb.msg[0] = '\0';
	cr_assert_eq(acl_parse("acl.txt", text, &a, &eb), FM_ECONFIG, "accepted: %s", text);
	cr_assert_null(a);
	cr_assert(strstr(eb.msg, expect), "message '%s' lacks '%s'", eb.msg, expect);
}

static bool can(const struct acl *a, const char *id, const char *user, const char *topic, enum acl_access acc)
{
	return acl_check(a, id, user, topic, strlen(topic), acc);
}

#define R ACL_READ
#define W ACL_WRITE
#define S ACL_SUBSCRIBE

/* --- sets and access words ---------------------------------------------------- */

Test(acl, anonymous_set_is_the_lines_before_the_first_user)
{
	struct acl *a = parse_ok("# anonymous clients\n"
				 "topic read public/#\n"
				 "user alice\n"
				 "topic readwrite alice/#\n");
	cr_assert(can(a, "c1", NULL, "public/news", R));
	cr_assert_not(can(a, "c1", NULL, "public/news", W));
	cr_assert_not(can(a, "c1", NULL, "alice/x", R), "alice's rules are not anonymous ones");
	cr_assert(can(a, "c1", "alice", "alice/x", R));
	cr_assert(can(a, "c1", "alice", "alice/x", W));
	cr_assert_not(can(a, "c1", "alice", "public/news", R), "the anonymous set is for anonymous clients only");
	cr_assert_not(can(a, "c1", "bob", "public/news", R), "a user without a set gets only patterns");
	cr_assert_not(can(a, "c1", "bob", "alice/x", R));
	cr_assert_eq(acl_user_count(a), 1);
	cr_assert_eq(acl_rule_count(a), 2);
	acl_free(a);
}

Test(acl, read_write_readwrite_and_the_default)
{
	struct acl *a = parse_ok("user u\n"
				 "topic read r/#\n"
				 "topic write w/#\n"
				 "topic readwrite rw/#\n"
				 "topic plain/#\n");
	cr_assert(can(a, "c", "u", "r/1", R));
	cr_assert_not(can(a, "c", "u", "r/1", W));
	cr_assert(can(a, "c", "u", "w/1", W));
	cr_assert_not(can(a, "c", "u", "w/1", R));
	cr_assert(can(a, "c", "u", "rw/1", R) && can(a, "c", "u", "rw/1", W));
	cr_assert(can(a, "c", "u", "plain/1", R) && can(a, "c", "u", "plain/1", W), "no access word: readwrite");
	cr_assert_not(can(a, "c", "u", "other", R), "nothing matching: denied");
	acl_free(a);
}

Test(acl, a_user_named_twice_collects_both_parts_and_names_may_hold_spaces)
{
	struct acl *a = parse_ok("user alice\ntopic read a/1\n"
				 "user bob\ntopic read b/1\n"
				 "user alice\ntopic read a/2\n"
				 "user John Smith\ntopic read js/#\n"
				 "user  \t padded  \ntopic read p\n");
	cr_assert(can(a, "c", "alice", "a/1", R) && can(a, "c", "alice", "a/2", R));
	cr_assert_not(can(a, "c", "alice", "b/1", R));
	cr_assert(can(a, "c", "John Smith", "js/x", R));
	cr_assert(can(a, "c", "padded", "p", R), "blanks around a name are not part of it");
	cr_assert_eq(acl_user_count(a), 4);
	acl_free(a);
}

Test(acl, filters_with_spaces_follow_an_access_word)
{
	struct acl *a = parse_ok("topic read my room/temp\n"
				 "topic deny   my room/secret  \n"
				 "topic\tread\ttabs/x\n");
	cr_assert(can(a, "c", NULL, "my room/temp", R));
	cr_assert_not(can(a, "c", NULL, "my room/secret", R));
	cr_assert(can(a, "c", NULL, "tabs/x", R), "tabs separate words too");
	acl_free(a);
}

/* --- deny ------------------------------------------------------------------------- */

Test(acl, deny_beats_a_broader_allow_in_the_same_set)
{
	struct acl *a = parse_ok("user u\n"
				 "topic readwrite home/#\n"
				 "topic deny home/safe\n"
				 "topic deny home/+/private/#\n");
	cr_assert(can(a, "c", "u", "home/door", W));
	cr_assert_not(can(a, "c", "u", "home/safe", R));
	cr_assert_not(can(a, "c", "u", "home/safe", W));
	cr_assert_not(can(a, "c", "u", "home/kid/private/diary", R));
	cr_assert(can(a, "c", "u", "home/kid/public", R));
	acl_free(a);
}

Test(acl, deny_order_in_the_file_does_not_matter)
{
	struct acl *a = parse_ok("topic deny x/secret\ntopic read x/#\n");
	struct acl *b = parse_ok("topic read x/#\ntopic deny x/secret\n");
	cr_assert_not(can(a, "c", NULL, "x/secret", R));
	cr_assert_not(can(b, "c", NULL, "x/secret", R));
	cr_assert(can(a, "c", NULL, "x/open", R) && can(b, "c", NULL, "x/open", R));
	acl_free(a);
	acl_free(b);
}

/* mosquitto 2.0.11 lets a user-set allow beat a pattern deny (checked); we
 * let any deny win, as acl.h says. A user-set deny beats a pattern allow
 * in both. */
Test(acl, deny_in_a_user_set_beats_a_pattern_allow_and_the_reverse)
{
	struct acl *a = parse_ok("user u\n"
				 "topic readwrite x/#\n"
				 "topic deny y/u\n"
				 "pattern deny x/%u\n"
				 "pattern readwrite y/%u\n");
	cr_assert_not(can(a, "c", "u", "x/u", W), "pattern deny beats the user's allow");
	cr_assert(can(a, "c", "u", "x/v", W));
	cr_assert_not(can(a, "c", "u", "y/u", W), "the user's deny beats the pattern allow");
	cr_assert(can(a, "c", "v", "y/v", W), "the pattern still grants others");
	acl_free(a);
}

Test(acl, anonymous_deny_beats_a_client_pattern)
{
	struct acl *a = parse_ok("topic deny dev/c1/#\npattern readwrite dev/%c/#\n");
	cr_assert_not(can(a, "c1", NULL, "dev/c1/x", W));
	cr_assert(can(a, "c2", NULL, "dev/c2/x", W));
	acl_free(a);
}

/* --- patterns --------------------------------------------------------------------- */

Test(acl, patterns_substitute_client_id_and_username)
{
	struct acl *a = parse_ok("pattern write sensor/%u/data\n"
				 "pattern read cmd/%c\n"
				 "pattern readwrite both/%u/%c/#\n"
				 "user someone\n"
				 "pattern read late/%c\n");
	cr_assert(can(a, "dev1", "alice", "sensor/alice/data", W));
	cr_assert_not(can(a, "dev1", "alice", "sensor/bob/data", W));
	cr_assert_not(can(a, "dev1", "alice", "sensor/alice/data", R));
	cr_assert(can(a, "dev1", "alice", "cmd/dev1", R));
	cr_assert_not(can(a, "dev1", "alice", "cmd/dev2", R));
	cr_assert(can(a, "dev1", "alice", "both/alice/dev1/x/y", W));
	cr_assert(can(a, "dev1", "alice", "both/alice/dev1", R), "'#' covers the parent level");
	cr_assert_not(can(a, "dev1", "alice", "both/dev1/alice", R));
	cr_assert(can(a, "dev1", "alice", "late/dev1", R), "patterns apply to all, even after a user line");
	acl_free(a);
}

Test(acl, a_username_pattern_never_matches_an_anonymous_client)
{
	struct acl *a = parse_ok("pattern readwrite u/%u/#\npattern readwrite c/%c/#\n");
	cr_assert_not(can(a, "dev1", NULL, "u/dev1/x", W));
	cr_assert_not(can(a, "dev1", NULL, "u//x", W));
	cr_assert(can(a, "dev1", NULL, "c/dev1/x", W), "a client-id pattern still applies");
	cr_assert_not(can(a, "dev1", "", "u//x", W), "an empty username stands for nothing");
	acl_free(a);
}

Test(acl, substitution_is_whole_levels_only)
{
	struct acl *a = parse_ok("pattern read dev_%c/x\npattern read %cx/y\npattern read a/%c/%u\n");
	cr_assert_not(can(a, "c1", "u", "dev_c1/x", R), "'%%c' inside a level is literal text");
	cr_assert(can(a, "c1", "u", "dev_%c/x", R));
	cr_assert(can(a, "c1", "u", "%cx/y", R));
	cr_assert(can(a, "c1", "u", "a/c1/u", R));
	cr_assert_not(can(a, "c", "u", "a/c1/u", R), "no prefix match: the level must equal the id");
	cr_assert_not(can(a, "c11", "u", "a/c1/u", R));
	acl_free(a);
}

Test(acl, ids_and_names_with_wildcards_or_slashes_cannot_widen_a_pattern)
{
	struct acl *a = parse_ok("pattern readwrite dev/%c/data\n"
				 "pattern readwrite user/%u/#\n"
				 "pattern readwrite %c/status\n");
	cr_assert_not(can(a, "+", NULL, "dev/other/data", W));
	cr_assert_not(can(a, "#", NULL, "dev/other/data", W));
	cr_assert_not(can(a, "x/y", NULL, "dev/x/y/data", W), "'/' would add a level");
	cr_assert_not(can(a, "c", "#", "user/bob/x", R));
	cr_assert_not(can(a, "c", "a/b", "user/a/b/x", R));
	cr_assert_not(can(a, "c", "+", "user/bob/x", R));
	cr_assert_not(can(a, "$SYS", NULL, "$SYS/status", W), "a pattern must not reach '$' topics by name");
	cr_assert(can(a, "dev-1", NULL, "dev-1/status", W));
	cr_assert(can(a, "a$b", NULL, "dev/a$b/data", W), "'$' inside a level is harmless");
	acl_free(a);
}

Test(acl, a_deny_pattern_with_a_wildcard_id_only_denies_more)
{
	struct acl *a = parse_ok("topic readwrite dev/#\npattern deny dev/%c/#\n");
	cr_assert(can(a, "c1", NULL, "dev/c2/x", W));
	cr_assert_not(can(a, "c1", NULL, "dev/c1/x", W));
	cr_assert_not(can(a, "+", NULL, "dev/c2/x", W), "'+' widened the deny, not an allow");
	acl_free(a);
}

Test(acl, a_pattern_without_substitution_applies_to_everyone)
{
	struct acl *a = parse_ok("pattern read shared/#\nuser u\ntopic write u/#\n");
	cr_assert(can(a, "c", NULL, "shared/a", R));
	cr_assert(can(a, "c", "u", "shared/a", R));
	cr_assert(can(a, "c", "zz", "shared/a", R));
	acl_free(a);
}

Test(acl, long_substitutions_still_work)
{
	char id[3000];
	memset(id, 'i', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	char topic[3100];
	snprintf(topic, sizeof(topic), "big/%s/x", id);
	struct acl *a = parse_ok("pattern read big/%c/x\n");
	cr_assert(can(a, id, NULL, topic, R));
	topic[5] = 'j';
	cr_assert_not(can(a, id, NULL, topic, R));
	acl_free(a);
}

/* --- '$' topics ------------------------------------------------------------------- */

Test(acl, wildcards_at_the_start_do_not_reach_dollar_topics)
{
	struct acl *a = parse_ok("user u\ntopic read #\ntopic read +/uptime\nuser admin\ntopic read $SYS/#\n");
	cr_assert(can(a, "c", "u", "anything/at/all", R));
	cr_assert_not(can(a, "c", "u", "$SYS/broker/uptime", R));
	cr_assert_not(can(a, "c", "u", "$SYS/uptime", R));
	cr_assert_not(can(a, "c", "u", "$SYS/#", S));
	cr_assert(can(a, "c", "admin", "$SYS/broker/uptime", R));
	cr_assert(can(a, "c", "admin", "$SYS/broker/#", S));
	cr_assert_not(can(a, "c", "admin", "#", S));
	acl_free(a);
}

/* --- SUBSCRIBE: filter coverage ------------------------------------------------ */

Test(acl, filter_coverage_rules)
{
	struct {
		const char *rule, *sub;
		bool covers;
	} cases[] = {
		{ "a/#", "a/+/c", true },    { "a/#", "a/#", true },       { "a/#", "a", true },
		{ "a/#", "a/b/c/d", true },  { "a/+", "a/#", false },      { "a/+", "a/+", true },
		{ "a/+", "a/b", true },      { "a/+", "a/b/c", false },    { "a/+", "a", false },
		{ "a/b", "a/+", false },     { "a/b", "a/b", true },       { "#", "#", true },
		{ "#", "+/x", true },        { "+/#", "a", true },         { "+/+", "a/+", true },
		{ "a/+/#", "a/#", false },   { "a/+/#", "a/b", true },     { "a/+/#", "a/+/c/#", true },
		{ "#", "$SYS/x", false },    { "+/x", "$SYS/x", false },   { "$SYS/#", "$SYS/+", true },
		{ "a/b/#", "a/b", true },    { "a/b/#", "a/+", false },    { "a//#", "a//b", true },
		{ "a/+", "a/", true },       { "+", "+", true },           { "+", "#", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = acl_filter_covers(cases[i].rule, strlen(cases[i].rule), cases[i].sub, strlen(cases[i].sub));
		cr_assert_eq(got, cases[i].covers, "rule '%s' sub '%s': got %d", cases[i].rule, cases[i].sub, got);
	}
}

/* On a topic name, covering is matching: the two agree. */
Test(acl, coverage_of_a_topic_name_is_topic_match)
{
	const char *rules[] = { "a/#", "a/+", "+/b", "#", "a/b", "a/+/#", "$SYS/#", "+", "a//b", "/#" };
	const char *names[] = { "a", "a/b", "a/b/c", "b", "$SYS/x", "a//b", "/a", "", "/" };
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
			const char *r = rules[i], *n = names[j];
			cr_assert_eq(acl_filter_covers(r, strlen(r), n, strlen(n)),
				     topic_match(r, strlen(r), n, strlen(n)), "rule '%s' name '%s'", r, n);
		}
}

Test(acl, subscribe_needs_a_read_rule_covering_the_whole_filter)
{
	struct acl *a = parse_ok("user u\n"
				 "topic read a/#\n"
				 "topic read b/+\n"
				 "topic write w/#\n"
				 "topic deny a/secret/#\n"
				 "pattern read dev/%c/#\n");
	cr_assert(can(a, "c", "u", "a/+/c", S));
	cr_assert(can(a, "c", "u", "a/#", S), "a partial deny leaves the rest to delivery checks");
	cr_assert_not(can(a, "c", "u", "a/secret/x", S), "a deny covering the filter refuses it");
	cr_assert_not(can(a, "c", "u", "a/secret/#", S));
	cr_assert(can(a, "c", "u", "b/x", S));
	cr_assert_not(can(a, "c", "u", "b/#", S), "'b/+' does not cover 'b/#'");
	cr_assert_not(can(a, "c", "u", "w/x", S), "write access does not let you subscribe");
	cr_assert_not(can(a, "c", "u", "#", S));
	cr_assert(can(a, "c", "u", "dev/c/+", S), "patterns cover too");
	cr_assert_not(can(a, "c", "u", "dev/+/x", S));
	acl_free(a);
}

/* --- errors -------------------------------------------------------------------------- */

Test(acl, bad_lines_name_file_line_and_problem)
{
	parse_fails("topic read a\n\ntopik read b\n",
		    "acl.txt:3: unknown keyword 'topik' (expected topic, pattern or user)");
	parse_fails("topic readonly a/b\n", "acl.txt:1: 'readonly' is not read, write, readwrite or deny");
	parse_fails("topic a b\n", "acl.txt:1: 'a' is not read, write, readwrite or deny");
	parse_fails("pattern writ a/%c\n", "acl.txt:1: 'writ' is not read, write, readwrite or deny");
	parse_fails("topic\n", "acl.txt:1: 'topic' without a topic filter");
	parse_fails("# x\npattern   \n", "acl.txt:2: 'pattern' without a topic filter");
	parse_fails("topic read\n", "acl.txt:1: 'topic read' has an access but no topic filter");
	parse_fails("topic deny\n", "'topic deny' has an access but no topic filter");
	parse_fails("topic read a/#/b\n", "acl.txt:1: 'a/#/b' is not a valid topic filter");
	parse_fails("topic read a+\n", "acl.txt:1: 'a+' is not a valid topic filter");
	parse_fails("pattern read %c/x#\n", "acl.txt:1: '%c/x#' is not a valid topic filter");
	parse_fails("user\n", "acl.txt:1: 'user' without a username");
	parse_fails("User alice\n", "unknown keyword 'User'");
}

Test(acl, comments_blank_lines_and_crlf)
{
	struct acl *a = parse_ok("# comment\r\n\r\n   # indented\r\n  topic read a/b  \r\n");
	cr_assert(can(a, "c", NULL, "a/b", R));
	cr_assert_eq(acl_rule_count(a), 1);
	acl_free(a);
	a = parse_ok("");
	cr_assert_not(can(a, "c", NULL, "a", R), "an empty file allows nothing");
	acl_free(a);
}

Test(acl, load_reads_a_file_and_names_it_in_errors)
{
	char path[] = "/tmp/fleetmq-acl-test-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("user u\ntopic read a/#\nbogus\n", f);
	fclose(f);
	struct acl *a = NULL;
	cr_assert_eq(acl_load(path, &a, &eb), FM_ECONFIG);
	char expect[128];
	snprintf(expect, sizeof(expect), "%s:3: unknown keyword 'bogus'", path);
	cr_assert(strstr(eb.msg, expect), "%s", eb.msg);
	f = fopen(path, "w");
	fputs("user u\ntopic read a/#\n", f);
	fclose(f);
	cr_assert_eq(acl_load(path, &a, &eb), FM_OK, "%s", eb.msg);
	cr_assert(can(a, "c", "u", "a/1", R));
	acl_free(a);
	unlink(path);
	cr_assert_eq(acl_load(path, &a, &eb), FM_ECONFIG);
	cr_assert(strstr(eb.msg, "cannot read acl_file"), "%s", eb.msg);
}

Test(acl, many_users_are_found_by_hash)
{
	size_t cap = 20000 * 48, len = 0;
	char *text = malloc(cap);
	for (int i = 0; i < 20000; i++)
		len += (size_t)snprintf(text + len, cap - len, "user u%d\ntopic read t/%d/#\n", i, i);
	struct acl *a = parse_ok(text);
	cr_assert_eq(acl_user_count(a), 20000);
	cr_assert(can(a, "c", "u19999", "t/19999/x", R));
	cr_assert_not(can(a, "c", "u19999", "t/19998/x", R));
	cr_assert(can(a, "c", "u0", "t/0", R));
	acl_free(a);
	free(text);
}
