/* Internal to src/auth: the parsed form of an ACL file, shared by the
 * parser (acl.c) and the decision (acl_check.c). */
#ifndef FM_AUTH_ACL_INT_H
#define FM_AUTH_ACL_INT_H

#include "auth/acl.h"
#include "auth/auth_text.h"

#include <stdint.h>

/* Bits of acl_rule.uses: which substitutions a pattern makes. */
#define ACL_USES_CLIENT 1u  /* a level that is exactly "%c" */
#define ACL_USES_USER 2u    /* a level that is exactly "%u" */

struct acl_rule {
	char *filter;        /* NUL-terminated, owned */
	uint32_t len;        /* strlen(filter) */
	uint8_t access;      /* ACL_READ | ACL_WRITE; 0 in a deny list */
	uint8_t uses;        /* ACL_USES_* (patterns only) */
	uint8_t first;       /* ACL_USES_* bit if the first level is "%c"/"%u" */
	uint32_t line;       /* where it was written */
};

/* Rules of one kind in file order. */
struct acl_rules {
	struct acl_rule *v;
	uint32_t n, cap;
};

/* The rules that apply to one username (or to anonymous clients). Denies
 * are kept apart so the decision looks at all of them first. */
struct acl_set {
	char *user;          /* NULL for the anonymous set */
	size_t user_len;
	struct acl_rules deny, allow;
};

struct acl {
	struct acl_set anon;          /* topic lines before the first user line */
	struct acl_set *users;        /* one per distinct user name */
	uint32_t n_users, cap_users;
	struct name_index by_user;    /* username -> users[] */
	struct acl_rules pat_deny;    /* pattern lines, for every client */
	struct acl_rules pat_allow;
};

/* The set for username (NULL: anonymous), or NULL if the file has none. */
const struct acl_set *acl_set_for(const struct acl *a, const char *username);

#endif
