/* Loading the password and ACL files of every listener, each file once. */
#include "proto/auth_rules.h"
#include "auth/acl.h"
#include "auth/passwd.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct auth_rules {
	atomic_uint refs;
	size_t n;                  /* listeners */
	struct passwd_db **pw;     /* per listener; may repeat */
	struct acl **acl;          /* per listener; may repeat */
};

/* The index of an earlier listener that names the same file, or i. */
static size_t first_with(const char *const *paths, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (paths[k] && strcmp(paths[k], paths[i]) == 0)
			return k;
	return i;
}

static void free_rules(struct auth_rules *r)
{
	for (size_t i = 0; i < r->n; i++) {
		/* shared entries are freed where they first appear */
		bool pw_first = true, acl_first = true;
		for (size_t k = 0; k < i; k++) {
			pw_first = pw_first && r->pw[k] != r->pw[i];
			acl_first = acl_first && r->acl[k] != r->acl[i];
		}
		if (pw_first)
			passwd_db_free(r->pw[i]);
		if (acl_first)
			acl_free(r->acl[i]);
	}
	free(r->pw);
	free(r->acl);
	free(r);
}

static int load_all(const struct conf *c, struct auth_rules *r, const char **pw_paths, const char **acl_paths,
		    struct fm_errbuf *eb)
{
	for (size_t i = 0; i < r->n; i++) {
		pw_paths[i] = conf_listener_password_file(c, &c->listeners[i]);
		acl_paths[i] = conf_listener_acl_file(c, &c->listeners[i]);
	}
	for (size_t i = 0; i < r->n; i++) {
		size_t p = pw_paths[i] ? first_with(pw_paths, i) : i;
		size_t a = acl_paths[i] ? first_with(acl_paths, i) : i;
		int rc = FM_OK;
		if (pw_paths[i])
			rc = p < i ? (r->pw[i] = r->pw[p], FM_OK) : passwd_db_load(pw_paths[i], &r->pw[i], eb);
		if (rc == FM_OK && acl_paths[i])
			rc = a < i ? (r->acl[i] = r->acl[a], FM_OK) : acl_load(acl_paths[i], &r->acl[i], eb);
		if (rc != FM_OK)
			return rc;
	}
	return FM_OK;
}

int auth_rules_load(const struct conf *c, struct auth_rules **out, struct fm_errbuf *eb)
{
	struct auth_rules *r = calloc(1, sizeof(*r));
	const char **pw_paths = calloc(c->n_listeners + 1, sizeof(*pw_paths));
	const char **acl_paths = calloc(c->n_listeners + 1, sizeof(*acl_paths));
	int rc = FM_ENOMEM;
	if (r && pw_paths && acl_paths) {
		atomic_init(&r->refs, 1);
		r->n = c->n_listeners;
		r->pw = calloc(r->n + 1, sizeof(*r->pw));
		r->acl = calloc(r->n + 1, sizeof(*r->acl));
		rc = r->pw && r->acl ? load_all(c, r, pw_paths, acl_paths, eb) : FM_ENOMEM;
	}
	if (rc == FM_ENOMEM)
		fm_errbuf_set(eb, "out of memory reading password_file/acl_file");
	free(pw_paths);
	free(acl_paths);
	if (rc != FM_OK) {
		if (r)
			free_rules(r);
		return rc;
	}
	*out = r;
	return FM_OK;
}

void auth_rules_ref(struct auth_rules *r)
{
	if (r)
		atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
}

void auth_rules_unref(struct auth_rules *r)
{
	if (r && atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1)
		free_rules(r);
}

const struct passwd_db *auth_rules_passwd(const struct auth_rules *r, size_t listener)
{
	return r && listener < r->n ? r->pw[listener] : NULL;
}

const struct acl *auth_rules_acl(const struct auth_rules *r, size_t listener)
{
	return r && listener < r->n ? r->acl[listener] : NULL;
}
