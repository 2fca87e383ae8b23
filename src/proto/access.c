/* The access decisions of access.h. */
#include "proto/access.h"
#include "proto/auth_rules.h"
#include "proto/client.h"
#include "proto/worker.h"
#include "auth/acl.h"
#include "auth/passwd.h"

static const struct acl *acl_of(const struct client *c)
{
	return auth_rules_acl(c->w->lim.auth, c->listener->index);
}

bool access_password_ok(const struct client *c, const struct mqtt_connect *ct)
{
	const struct passwd_db *pw = auth_rules_passwd(c->w->lim.auth, c->listener->index);
	if (!pw)
		return true;
	return passwd_db_check(pw, ct->username.p, ct->username.len, ct->has_password ? ct->password.p : NULL,
			       ct->has_password ? ct->password.len : 0);
}

bool access_may_publish(const struct client *c, const char *client_id, const char *topic, size_t len)
{
	const struct acl *a = acl_of(c);
	return !a || acl_check(a, client_id, c->username, topic, len, ACL_WRITE);
}

bool access_may_subscribe(const struct client *c, const char *filter, size_t len)
{
	const struct acl *a = acl_of(c);
	return !a || acl_check(a, client_log_id(c), c->username, filter, len, ACL_SUBSCRIBE);
}

bool access_may_read(const struct client *c, const struct msg *m)
{
	const struct acl *a = acl_of(c);
	return !a || acl_check(a, client_log_id(c), c->username, m->topic, m->topic_len, ACL_READ);
}
