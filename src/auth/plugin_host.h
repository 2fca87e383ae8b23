/* The plugin host: loads the plugins the config names (include/fleetmq/
 * plugin.h is their side of it), checks the API version each was built
 * for, and asks them in config order. Built once at start; read-only after
 * that, so any worker may ask it at any time. */
#ifndef FM_AUTH_PLUGIN_HOST_H
#define FM_AUTH_PLUGIN_HOST_H

#include "core/err.h"
#include "core/log.h"
#include "fleetmq/plugin.h"

#include <stdbool.h>

struct plugin_host;

/* One `plugin PATH` line with its plugin_opt_ lines. */
struct plugin_spec {
	const char *path;
	const struct fm_plugin_opt *opts;
	size_t n_opts;
};

/* Load and initialise specs[0..n) in order. FM_OK (n may be 0: an empty
 * host), or an error with eb naming the plugin and what went wrong (not
 * found, a missing function, the wrong API version, its init failing);
 * whatever was loaded is unloaded again. */
int plugin_host_load(const struct plugin_spec *specs, size_t n, struct log *log, struct plugin_host **out,
		     struct fm_errbuf *eb);
/* Call every cleanup and unload (after the last callback). NULL is fine. */
void plugin_host_free(struct plugin_host *h);

/* Whether any plugin registered for ev (h may be NULL: none). */
bool plugin_host_wants(const struct plugin_host *h, enum fm_plugin_event ev);
/* BASIC_AUTH, EXT_AUTH, ACL_CHECK: the first verdict that is not
 * FM_PLUGIN_DEFER, or FM_PLUGIN_DEFER when all defer (or none listens).
 * FM_PLUGIN_CONTINUE is a verdict for EXT_AUTH only (data must then come
 * from plugin_ext_auth_init). */
int plugin_host_decide(const struct plugin_host *h, enum fm_plugin_event ev, void *data);
/* MESSAGE: run every plugin on m until one drops it. FM_PLUGIN_DROP or
 * FM_PLUGIN_DEFER (route it, as it now is). m must come from
 * plugin_message_init. */
int plugin_host_message(const struct plugin_host *h, struct fm_message *m);
/* CONNECT, DISCONNECT, TICK: tell every plugin that listens. */
void plugin_host_notify(const struct plugin_host *h, enum fm_plugin_event ev, void *data);

/* A message as plugins see it, with room for the topic and payload they
 * set (fm_message_set_topic / _payload). */
struct plugin_message {
	struct fm_message m;        /* first: the host finds the rest from it */
	char *topic_owned;
	uint8_t *payload_owned;
};
void plugin_message_init(struct plugin_message *pm, const struct fm_client *client, const char *topic,
			 size_t topic_len, const uint8_t *payload, size_t payload_len, uint8_t qos, bool retain);
void plugin_message_fini(struct plugin_message *pm);

/* An EXT_AUTH step as plugins see it, with the Authentication Data a
 * plugin sets for the reply (fm_ext_auth_set_data; NULL: none). */
struct plugin_ext_auth {
	struct fm_ext_auth a;       /* first: the host finds the rest from it */
	uint8_t *data_out;
	size_t data_out_len;
	char *username_out;         /* fm_ext_auth_set_username; NULL: none */
};
void plugin_ext_auth_init(struct plugin_ext_auth *pa, const struct fm_client *client, const char *method,
			  const uint8_t *data_in, size_t data_in_len, unsigned step);
void plugin_ext_auth_fini(struct plugin_ext_auth *pa);

#endif
