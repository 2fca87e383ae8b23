/* The password and ACL files in force, per listener. Built from the config
 * at start and again on SIGHUP; immutable once built and reference
 * counted: every worker holds the current set in its limits (replaced by
 * the LIMITS message after a reload, so checks read it without a lock),
 * and a set is freed when the last worker lets go of it. Without
 * per_listener_settings every listener shares the global files; a file
 * named by several listeners is read once. */
#ifndef FM_PROTO_AUTH_RULES_H
#define FM_PROTO_AUTH_RULES_H

#include "config/conf.h"
#include "core/err.h"

#include <stddef.h>

struct auth_rules;
struct passwd_db;
struct acl;

/* Read the files c names. FM_OK, or FM_ECONFIG with eb saying which file
 * and line is wrong (the caller keeps the rules it has). */
int auth_rules_load(const struct conf *c, struct auth_rules **out, struct fm_errbuf *eb);
void auth_rules_ref(struct auth_rules *r);
void auth_rules_unref(struct auth_rules *r);

/* The listener's password database / ACL, or NULL when it has none (r may
 * be NULL: no rules at all). */
const struct passwd_db *auth_rules_passwd(const struct auth_rules *r, size_t listener);
const struct acl *auth_rules_acl(const struct auth_rules *r, size_t listener);

#endif
