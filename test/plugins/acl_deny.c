/* ACL_CHECK from a plugin: every access (subscribe, publish, delivery) to a
 * topic or filter that starts with plugin_opt_deny's prefix is denied; the
 * rest is deferred (to the acl_file, or allowed without one). Counts its
 * denials in the log so a test can see it was asked. */
#include "fleetmq/plugin.h"

#include <stdlib.h>
#include <string.h>

struct acl_deny {
	struct fm_plugin *p;
	char *prefix;               /* read-only after init */
	size_t prefix_len;
};

static const char *access_name(enum fm_acl_access a)
{
	return a == FM_ACL_READ ? "read" : a == FM_ACL_WRITE ? "write" : "subscribe";
}

static int on_acl(enum fm_plugin_event event, void *event_data, void *user_data)
{
	(void)event;
	const struct acl_deny *d = user_data;
	const struct fm_acl_check *a = event_data;
	if (a->topic_len < d->prefix_len || memcmp(a->topic, d->prefix, d->prefix_len) != 0)
		return FM_PLUGIN_DEFER;
	fm_plugin_log(d->p, FM_LOG_NOTICE, "acl_deny: %s %.*s by %s denied", access_name(a->access), (int)a->topic_len,
		      a->topic, a->client->client_id);
	return FM_PLUGIN_DENY;
}

FM_PLUGIN_EXPORT int fm_plugin_version(void)
{
	return FM_PLUGIN_API_VERSION;
}

FM_PLUGIN_EXPORT void fm_plugin_cleanup(void *user_data)
{
	struct acl_deny *d = user_data;
	if (d)
		free(d->prefix);
	free(d);
}

FM_PLUGIN_EXPORT int fm_plugin_init(struct fm_plugin *p, const struct fm_plugin_opt *opts, size_t n_opts,
				    void **user_data)
{
	struct acl_deny *d = calloc(1, sizeof(*d));
	if (!d)
		return FM_ENOMEM;
	d->p = p;
	for (size_t i = 0; i < n_opts; i++)
		if (strcmp(opts[i].name, "deny") == 0 && !d->prefix)
			d->prefix = strdup(opts[i].value);
	if (!d->prefix) {
		fm_plugin_log(p, FM_LOG_ERROR, "acl_deny: plugin_opt_deny PREFIX is required");
		fm_plugin_cleanup(d);
		return FM_ECONFIG;
	}
	d->prefix_len = strlen(d->prefix);
	int rc = fm_plugin_register(p, FM_EVENT_ACL_CHECK, on_acl);
	if (rc != FM_OK) {
		fm_plugin_cleanup(d);
		return rc;
	}
	*user_data = d;
	return FM_OK;
}
