/* The access decision over a parsed ACL (rules: acl.h): deny rules first,
 * then granting rules; pattern substitution; filter coverage for
 * SUBSCRIBE. Runs on worker threads for every delivery, so it reads the
 * immutable ACL only and substitutes into a stack buffer. */
#include "auth/acl_int.h"
#include "topic/topic.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* --- filter coverage -------------------------------------------------------- */

static size_t level_end(const char *t, size_t len, size_t pos)
{
	const char *slash = memchr(t + pos, '/', len - pos);
	return slash ? (size_t)(slash - t) : len;
}

static bool level_is(const char *t, size_t start, size_t end, char c)
{
	return end - start == 1 && t[start] == c;
}

/* Level by level: '#' in the rule covers whatever is left (the parent
 * level included, as "a/#" matches "a"); a '#' in sub that the rule does
 * not meet with its own '#' reaches levels the rule cannot promise; '+' in
 * the rule covers any one level but '#'; a literal covers only itself. */
bool acl_filter_covers(const char *rule, size_t rule_len, const char *sub, size_t sub_len)
{
	/* [MQTT-4.7.2-1]: a rule starting with a wildcard reaches no '$' topic */
	if (sub_len > 0 && sub[0] == '$' && rule_len > 0 && (rule[0] == '+' || rule[0] == '#'))
		return false;
	size_t r = 0, s = 0;
	for (;;) {
		size_t re = level_end(rule, rule_len, r), se = level_end(sub, sub_len, s);
		if (level_is(rule, r, re, '#'))
			return true;
		if (level_is(sub, s, se, '#'))
			return false;
		if (!level_is(rule, r, re, '+') &&
		    (level_is(sub, s, se, '+') || re - r != se - s || memcmp(rule + r, sub + s, re - r) != 0))
			return false;
		bool r_last = re == rule_len, s_last = se == sub_len;
		if (s_last) /* "a/b/#" still covers "a/b" */
			return r_last || (rule_len - re == 2 && rule[re + 1] == '#');
		if (r_last)
			return false;
		r = re + 1;
		s = se + 1;
	}
}

/* --- one rule ------------------------------------------------------------------- */

/* The client asking, and the topic or filter it asks about. */
struct ask {
	const char *client_id;
	const char *username;    /* NULL: anonymous */
	size_t id_len, user_len;
	bool id_safe, user_safe; /* may the value stand in for a level of an allowing pattern? */
	const char *topic;
	size_t topic_len;
	enum acl_access access;
};

static bool level_safe(const char *v, size_t len)
{
	return v && len > 0 && strpbrk(v, "/+#") == NULL;
}

static bool filter_applies(const char *f, size_t flen, const struct ask *q)
{
	if (q->access == ACL_SUBSCRIBE)
		return acl_filter_covers(f, flen, q->topic, q->topic_len);
	return topic_match(f, flen, q->topic, q->topic_len);
}

/* A deny rule applies whatever it would grant; a granting rule must
 * grant this access (subscribing needs read). */
static bool rule_hits(const struct acl_rule *r, bool deny, const struct ask *q)
{
	uint8_t need = q->access == ACL_SUBSCRIBE ? ACL_READ : (uint8_t)q->access;
	if (!deny && !(r->access & need))
		return false;
	return filter_applies(r->filter, r->len, q);
}

static bool any_rule(const struct acl_rules *rules, bool deny, const struct ask *q)
{
	for (uint32_t i = 0; i < rules->n; i++)
		if (rule_hits(&rules->v[i], deny, q))
			return true;
	return false;
}

/* --- patterns ------------------------------------------------------------------- */

#define SUBST_STACK 1024

/* Length of r's filter with %c and %u levels replaced. */
static size_t subst_len(const struct acl_rule *r, const struct ask *q)
{
	size_t n = r->len;
	for (const char *lvl = r->filter; lvl; lvl = strchr(lvl, '/') ? strchr(lvl, '/') + 1 : NULL) {
		size_t l = strcspn(lvl, "/");
		if (l == 2 && lvl[0] == '%' && lvl[1] == 'c')
			n = n - 2 + q->id_len;
		else if (l == 2 && lvl[0] == '%' && lvl[1] == 'u')
			n = n - 2 + q->user_len;
	}
	return n;
}

static void subst_into(const struct acl_rule *r, const struct ask *q, char *out)
{
	for (const char *lvl = r->filter;;) {
		size_t l = strcspn(lvl, "/");
		if (l == 2 && lvl[0] == '%' && lvl[1] == 'c') {
			memcpy(out, q->client_id, q->id_len);
			out += q->id_len;
		} else if (l == 2 && lvl[0] == '%' && lvl[1] == 'u') {
			memcpy(out, q->username, q->user_len);
			out += q->user_len;
		} else {
			memcpy(out, lvl, l);
			out += l;
		}
		if (lvl[l] == '\0')
			break;
		*out++ = '/';
		lvl += l + 1;
	}
}

static bool pattern_eligible(const struct acl_rule *r, bool deny, const struct ask *q)
{
	if ((r->uses & ACL_USES_USER) && !q->username)
		return false; /* as mosquitto: a %u pattern never speaks for an anonymous client */
	if (deny)
		return true;  /* substituted as is: a wider deny only denies more */
	if (((r->uses & ACL_USES_CLIENT) && !q->id_safe) || ((r->uses & ACL_USES_USER) && !q->user_safe))
		return false;
	/* a client named "$SYS" must not turn "%c/#" into "$SYS/#"; mosquitto
	 * never lets a pattern starting with %c or %u reach a '$' topic */
	const char *first = r->first == ACL_USES_CLIENT ? q->client_id : r->first == ACL_USES_USER ? q->username : "";
	return first[0] != '$';
}

static bool pattern_hits(const struct acl_rule *r, bool deny, const struct ask *q)
{
	uint8_t need = q->access == ACL_SUBSCRIBE ? ACL_READ : (uint8_t)q->access;
	if ((!deny && !(r->access & need)) || !pattern_eligible(r, deny, q))
		return false;
	if (r->uses == 0)
		return filter_applies(r->filter, r->len, q);
	size_t len = subst_len(r, q);
	char stack[SUBST_STACK];
	char *buf = len <= sizeof(stack) ? stack : malloc(len);
	if (!buf)
		return deny; /* out of memory: fail closed */
	subst_into(r, q, buf);
	bool hit = filter_applies(buf, len, q);
	if (buf != stack)
		free(buf);
	return hit;
}

static bool any_pattern(const struct acl_rules *rules, bool deny, const struct ask *q)
{
	for (uint32_t i = 0; i < rules->n; i++)
		if (pattern_hits(&rules->v[i], deny, q))
			return true;
	return false;
}

/* --- the decision ------------------------------------------------------------- */

bool acl_check(const struct acl *a, const char *client_id, const char *username, const char *topic,
	       size_t topic_len, enum acl_access access)
{
	assert(a && client_id && topic);
	assert(access == ACL_READ || access == ACL_WRITE || access == ACL_SUBSCRIBE);
	struct ask q = {
		.client_id = client_id,
		.username = username,
		.id_len = strlen(client_id),
		.user_len = username ? strlen(username) : 0,
		.topic = topic,
		.topic_len = topic_len,
		.access = access,
	};
	q.id_safe = level_safe(client_id, q.id_len);
	q.user_safe = level_safe(username, q.user_len);
	const struct acl_set *set = acl_set_for(a, username);
	if ((set && any_rule(&set->deny, true, &q)) || any_pattern(&a->pat_deny, true, &q))
		return false;
	return (set && any_rule(&set->allow, false, &q)) || any_pattern(&a->pat_allow, false, &q);
}
