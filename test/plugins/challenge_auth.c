/* EXT_AUTH for the tests: two toy methods with fixed answers, so a test
 * can walk every path of an MQTT 5.0 enhanced authentication.
 *
 *   TEST-CHALLENGE  a three-step exchange: the CONNECT's data must be
 *                   "hello"; the broker answers "challenge-1", the client
 *                   must send "response-1", then "challenge-2" /
 *                   "response-2"; it ends with "welcome" in the CONNACK
 *                   (or the final AUTH 0x00 of a re-authentication).
 *   TEST-ONESHOT    one step: data "secret" is allowed with "ok" as the
 *                   answer; anything else is denied.
 *   TEST-NAMED      one step: data "secret" is allowed as user "named-user"
 *                   (fm_ext_auth_set_username), whatever the CONNECT said.
 *   TEST-ENDLESS    never decides: every step continues with "more".
 *
 * Wrong data at any step is denied; other methods are deferred. Every
 * step is logged with the client id and username the plugin was given. */
#include "fleetmq/plugin.h"

#include <stdio.h>
#include <string.h>

static struct fm_plugin *self;

static bool data_is(const struct fm_ext_auth *a, const char *want)
{
	size_t n = strlen(want);
	return a->data_in && a->data_in_len == n && memcmp(a->data_in, want, n) == 0;
}

static int challenge(struct fm_ext_auth *a)
{
	static const char *const expect[] = {"hello", "response-1", "response-2"};
	if (a->step > 2 || !data_is(a, expect[a->step]))
		return FM_PLUGIN_DENY;
	if (a->step == 2) {
		fm_ext_auth_set_data(a, "welcome", 7);
		return FM_PLUGIN_ALLOW;
	}
	char next[32];
	int n = snprintf(next, sizeof(next), "challenge-%u", a->step + 1);
	fm_ext_auth_set_data(a, next, (size_t)n);
	return FM_PLUGIN_CONTINUE;
}

static int on_ext_auth(enum fm_plugin_event event, void *event_data, void *user_data)
{
	(void)event;
	(void)user_data;
	struct fm_ext_auth *a = event_data;
	const struct fm_client *c = a->client;
	fm_plugin_log(self, FM_LOG_NOTICE, "challenge_auth: %s step %u for client '%s' user '%s'", a->method, a->step,
		      c->client_id, c->username ? c->username : "(none)");
	if (strcmp(a->method, "TEST-CHALLENGE") == 0)
		return challenge(a);
	if (strcmp(a->method, "TEST-ONESHOT") == 0 || strcmp(a->method, "TEST-NAMED") == 0) {
		if (!data_is(a, "secret"))
			return FM_PLUGIN_DENY;
		if (a->method[5] == 'N')
			return fm_ext_auth_set_username(a, "named-user") == FM_OK ? FM_PLUGIN_ALLOW : FM_PLUGIN_DENY;
		fm_ext_auth_set_data(a, "ok", 2);
		return FM_PLUGIN_ALLOW;
	}
	if (strcmp(a->method, "TEST-ENDLESS") == 0) {
		fm_ext_auth_set_data(a, "more", 4);
		return FM_PLUGIN_CONTINUE;
	}
	return FM_PLUGIN_DEFER;
}

FM_PLUGIN_EXPORT int fm_plugin_version(void)
{
	return FM_PLUGIN_API_VERSION;
}

FM_PLUGIN_EXPORT void fm_plugin_cleanup(void *user_data)
{
	(void)user_data;
}

FM_PLUGIN_EXPORT int fm_plugin_init(struct fm_plugin *p, const struct fm_plugin_opt *opts, size_t n_opts,
				    void **user_data)
{
	(void)opts;
	(void)n_opts;
	self = p;
	*user_data = NULL;
	return fm_plugin_register(p, FM_EVENT_EXT_AUTH, on_ext_auth);
}
