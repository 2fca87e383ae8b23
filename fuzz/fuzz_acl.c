/* libFuzzer target: the ACL parser and the access decision on arbitrary
 * text. Parsing either succeeds or fails with a message naming file and
 * line. A parsed ACL is asked about a fixed set of clients (anonymous,
 * named, and ids or names holding wildcards, '/' and '$') and topics, for
 * every access, and about the first filter the input names, so the
 * matcher, the substitution and the coverage code all see fuzzed rules.
 * Invariants: nothing crashes or leaks, and a client whose id is "+" or
 * "#" never gets an access that the same user with the plain id "c1" is
 * refused: a wildcard id may make a deny pattern wider, never an allow. */
#include "auth/acl.h"
#include "topic/topic.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const ids[] = { "c1", "+", "#", "a/b", "$SYS", "" };
static const char *const users[] = { NULL, "u", "+", "a/b", "" };
static const char *const topics[] = { "a", "a/b", "a/b/c", "$SYS/x", "c1/x", "u/c1", "/", "" };
static const char *const filters[] = { "#", "a/#", "a/+", "+/x", "$SYS/#", "a/b" };

/* Ask for every id; a wildcard id must not get what "c1" (ids[0]) is refused. */
static void ask(const struct acl *a, const char *user, const char *t, enum acl_access acc)
{
	size_t n = strlen(t);
	bool plain = acl_check(a, ids[0], user, t, n, acc);
	for (size_t i = 1; i < sizeof(ids) / sizeof(ids[0]); i++) {
		bool got = acl_check(a, ids[i], user, t, n, acc);
		if (got && !plain && (ids[i][0] == '+' || ids[i][0] == '#'))
			abort();
	}
}

static void ask_everything(const struct acl *a, const char *extra)
{
	for (size_t u = 0; u < sizeof(users) / sizeof(users[0]); u++) {
		for (size_t t = 0; t < sizeof(topics) / sizeof(topics[0]); t++) {
			ask(a, users[u], topics[t], ACL_READ);
			ask(a, users[u], topics[t], ACL_WRITE);
		}
		for (size_t f = 0; f < sizeof(filters) / sizeof(filters[0]); f++)
			ask(a, users[u], filters[f], ACL_SUBSCRIBE);
		if (extra) {
			size_t n = strlen(extra);
			if (n > 0 && topic_name_valid(extra, n)) {
				ask(a, users[u], extra, ACL_READ);
				ask(a, users[u], extra, ACL_WRITE);
			}
			if (n > 0 && topic_filter_valid(extra, n))
				ask(a, users[u], extra, ACL_SUBSCRIBE);
		}
	}
}

/* The last word of the first topic/pattern line, if any: a filter the
 * rules are likely to be about. Returned in a malloc'ed copy. */
static char *first_filter(const char *text)
{
	const char *p = strstr(text, "topic ");
	if (!p)
		p = strstr(text, "pattern ");
	if (!p)
		return NULL;
	const char *end = strchr(p, '\n');
	size_t len = end ? (size_t)(end - p) : strlen(p);
	const char *last = p + len;
	while (last > p && last[-1] != ' ' && last[-1] != '\t')
		last--;
	return strndup(last, (size_t)(p + len - last));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16 * 1024)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct acl *a = NULL;
	struct fm_errbuf eb = {{0}};
	int rc = acl_parse("fuzz.acl", text, &a, &eb);
	if (rc == 0) {
		char *extra = first_filter(text);
		ask_everything(a, extra);
		free(extra);
		acl_free(a);
	} else if (strncmp(eb.msg, "fuzz.acl:", 9) != 0 && strncmp(eb.msg, "out of memory", 13) != 0) {
		abort(); /* a parse error must name the file and line */
	}
	free(text);
	return 0;
}
