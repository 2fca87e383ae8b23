/* ACL file parsing into per-user rule sets and patterns (rules: acl.h). */
#include "auth/acl_int.h"
#include "topic/topic.h"

#include <stdlib.h>
#include <string.h>

/* --- building ------------------------------------------------------------- */

static int rules_add(struct acl_rules *r, const char *filter, uint8_t access, uint8_t uses,
		     uint8_t first, unsigned line)
{
	if (r->n == r->cap) {
		uint32_t cap = r->cap ? r->cap * 2 : 4;
		struct acl_rule *grown = realloc(r->v, cap * sizeof(*grown));
		if (!grown)
			return FM_ENOMEM;
		r->v = grown;
		r->cap = cap;
	}
	char *copy = strdup(filter);
	if (!copy)
		return FM_ENOMEM;
	r->v[r->n++] = (struct acl_rule){ .filter = copy, .len = (uint32_t)strlen(copy), .access = access,
					  .uses = uses, .first = first, .line = line };
	return FM_OK;
}

static void rules_free(struct acl_rules *r)
{
	for (uint32_t i = 0; i < r->n; i++)
		free(r->v[i].filter);
	free(r->v);
	*r = (struct acl_rules){ 0 };
}

static void set_free(struct acl_set *s)
{
	free(s->user);
	rules_free(&s->deny);
	rules_free(&s->allow);
}

static bool set_is(const void *owner, uint32_t pos, const char *name, size_t len)
{
	const struct acl *a = owner;
	return a->users[pos].user_len == len && memcmp(a->users[pos].user, name, len) == 0;
}

const struct acl_set *acl_set_for(const struct acl *a, const char *username)
{
	if (!username)
		return &a->anon;
	uint32_t pos = name_index_find(&a->by_user, username, strlen(username), set_is, a);
	return pos == UINT32_MAX ? NULL : &a->users[pos];
}

/* The set for "user name", created on first mention. Returned as a
 * position: users[] moves when it grows. */
static int user_set(struct acl *a, const char *name, uint32_t *pos)
{
	size_t len = strlen(name);
	*pos = name_index_find(&a->by_user, name, len, set_is, a);
	if (*pos != UINT32_MAX)
		return FM_OK;
	if (a->n_users == a->cap_users) {
		uint32_t cap = a->cap_users ? a->cap_users * 2 : 16;
		struct acl_set *grown = realloc(a->users, cap * sizeof(*grown));
		if (!grown)
			return FM_ENOMEM;
		a->users = grown;
		a->cap_users = cap;
	}
	char *copy = strdup(name);
	if (!copy || name_index_add(&a->by_user, name, len, a->n_users) != FM_OK) {
		free(copy);
		return FM_ENOMEM;
	}
	a->users[a->n_users] = (struct acl_set){ .user = copy, .user_len = len };
	*pos = a->n_users++;
	return FM_OK;
}

/* --- one line ----------------------------------------------------------------- */

/* Which levels of a pattern are exactly "%c" or "%u"; *first: the
 * substitution the first level makes, if any. */
static uint8_t pattern_uses(const char *f, uint8_t *first)
{
	uint8_t uses = 0;
	*first = 0;
	for (const char *lvl = f; lvl; lvl = strchr(lvl, '/') ? strchr(lvl, '/') + 1 : NULL) {
		bool whole = lvl[0] == '%' && (lvl[1] == 'c' || lvl[1] == 'u') &&
			     (lvl[2] == '/' || lvl[2] == '\0');
		if (whole) {
			uint8_t bit = lvl[1] == 'c' ? ACL_USES_CLIENT : ACL_USES_USER;
			uses |= bit;
			if (lvl == f)
				*first = bit;
		}
	}
	return uses;
}

/* "read" etc. to access bits; 0 for deny; -1 if not an access word. */
static int access_word(const char *w)
{
	if (strcmp(w, "read") == 0)
		return ACL_READ;
	if (strcmp(w, "write") == 0)
		return ACL_WRITE;
	if (strcmp(w, "readwrite") == 0)
		return ACL_READ | ACL_WRITE;
	if (strcmp(w, "deny") == 0)
		return 0;
	return -1;
}

/* Cut the first word off *rest (blanks end it); returns the word. */
static char *next_word(char **rest)
{
	char *w = auth_skip_blanks(*rest);
	char *end = w;
	while (*end && !auth_is_blank(*end))
		end++;
	*rest = end;
	if (*end) {
		*end = '\0';
		*rest = auth_skip_blanks(end + 1);
	}
	return w;
}

struct parse_state {
	const char *name;       /* file name for messages */
	unsigned no;            /* current line */
	struct acl *a;
	uint32_t user;          /* current user set; UINT32_MAX: the anonymous set */
	struct fm_errbuf *eb;
};

static int add_rule(struct parse_state *ps, bool pattern, const char *filter, int access)
{
	struct acl *a = ps->a;
	struct acl_rules *r;
	if (pattern)
		r = access == 0 ? &a->pat_deny : &a->pat_allow;
	else {
		struct acl_set *s = ps->user == UINT32_MAX ? &a->anon : &a->users[ps->user];
		r = access == 0 ? &s->deny : &s->allow;
	}
	uint8_t first = 0;
	uint8_t uses = pattern ? pattern_uses(filter, &first) : 0;
	if (rules_add(r, filter, (uint8_t)access, uses, first, ps->no) != FM_OK)
		return fm_errbuf_set(ps->eb, "out of memory reading %s", ps->name);
	return FM_OK;
}

/* rest: what follows "topic" or "pattern". */
static int parse_rule(struct parse_state *ps, const char *keyword, char *rest)
{
	if (*rest == '\0')
		return fm_errbuf_set(ps->eb, "%s:%u: '%s' without a topic filter", ps->name, ps->no, keyword);
	char *first = next_word(&rest);
	int access = ACL_READ | ACL_WRITE;
	const char *filter = first;
	if (*rest != '\0') {
		/* two or more words: the first must say the access */
		access = access_word(first);
		if (access < 0)
			return fm_errbuf_set(ps->eb,
					     "%s:%u: '%s' is not read, write, readwrite or deny (a filter "
					     "with spaces needs the access word first)",
					     ps->name, ps->no, first);
		filter = rest;
	} else if (access_word(first) >= 0) {
		return fm_errbuf_set(ps->eb, "%s:%u: '%s %s' has an access but no topic filter", ps->name,
				     ps->no, keyword, first);
	}
	if (strlen(filter) > 65535 || !topic_filter_valid(filter, strlen(filter)))
		return fm_errbuf_set(ps->eb, "%s:%u: '%s' is not a valid topic filter", ps->name, ps->no,
				     filter);
	return add_rule(ps, strcmp(keyword, "pattern") == 0, filter, access);
}

static int parse_line(struct parse_state *ps, char *line)
{
	char *rest = line;
	char *keyword = next_word(&rest);
	if (strcmp(keyword, "topic") == 0 || strcmp(keyword, "pattern") == 0)
		return parse_rule(ps, keyword, rest);
	if (strcmp(keyword, "user") == 0) {
		if (*rest == '\0')
			return fm_errbuf_set(ps->eb, "%s:%u: 'user' without a username", ps->name, ps->no);
		if (user_set(ps->a, rest, &ps->user) != FM_OK)
			return fm_errbuf_set(ps->eb, "out of memory reading %s", ps->name);
		return FM_OK;
	}
	return fm_errbuf_set(ps->eb, "%s:%u: unknown keyword '%s' (expected topic, pattern or user)",
			     ps->name, ps->no, keyword);
}

/* --- files ---------------------------------------------------------------- */

int acl_parse(const char *name, const char *text, struct acl **out, struct fm_errbuf *eb)
{
	struct acl *a = calloc(1, sizeof(*a));
	char *copy = strdup(text);
	if (!a || !copy) {
		free(a);
		free(copy);
		return fm_errbuf_set(eb, "out of memory reading %s", name);
	}
	struct parse_state ps = { .name = name, .a = a, .user = UINT32_MAX, .eb = eb };
	struct auth_lines it;
	auth_lines_init(&it, copy);
	int rc = FM_OK;
	for (char *line; rc == FM_OK && (line = auth_lines_next(&it)) != NULL;) {
		ps.no = it.no;
		rc = parse_line(&ps, line);
	}
	free(copy);
	if (rc != FM_OK) {
		acl_free(a);
		return FM_ECONFIG;
	}
	*out = a;
	return FM_OK;
}

int acl_load(const char *path, struct acl **out, struct fm_errbuf *eb)
{
	char *text;
	size_t len;
	int rc = auth_read_file(path, "acl_file", &text, &len, eb);
	if (rc != FM_OK)
		return rc;
	rc = acl_parse(path, text, out, eb);
	free(text);
	return rc;
}

void acl_free(struct acl *a)
{
	if (!a)
		return;
	set_free(&a->anon);
	for (uint32_t i = 0; i < a->n_users; i++)
		set_free(&a->users[i]);
	free(a->users);
	name_index_fini(&a->by_user);
	rules_free(&a->pat_deny);
	rules_free(&a->pat_allow);
	free(a);
}

size_t acl_user_count(const struct acl *a)
{
	return a->n_users;
}

static size_t set_rules(const struct acl_set *s)
{
	return s->deny.n + s->allow.n;
}

size_t acl_rule_count(const struct acl *a)
{
	size_t n = set_rules(&a->anon) + a->pat_deny.n + a->pat_allow.n;
	for (uint32_t i = 0; i < a->n_users; i++)
		n += set_rules(&a->users[i]);
	return n;
}
