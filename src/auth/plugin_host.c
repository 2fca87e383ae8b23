/* Loading plugins and calling them (plugin_host.h). The functions a plugin
 * may call (fm_plugin_register, fm_plugin_log, fm_message_set_*,
 * fm_ext_auth_set_data) are exported from the broker binary. */
#include "auth/plugin_host.h"
#include "mqtt/codec.h"
#include "topic/topic.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENT_MAX FM_EVENT_TICK

struct fm_plugin {
	struct plugin_host *host;
	void *dl;
	char *name;                 /* the file name, for log lines */
	void *user_data;
	bool initialising;          /* fm_plugin_register is allowed only in init */
	bool initialised;           /* cleanup is owed */
	void (*cleanup)(void *user_data);
	fm_plugin_callback *cb[EVENT_MAX + 1];
};

struct plugin_host {
	struct log *log;
	struct fm_plugin **v;
	size_t n;
	unsigned wants;             /* bit per event some plugin registered */
};

/* --- what plugins call -------------------------------------------------------- */

FM_PLUGIN_EXPORT int fm_plugin_register(struct fm_plugin *p, enum fm_plugin_event event, fm_plugin_callback *cb)
{
	if (!p || !cb || !p->initialising || event < FM_EVENT_BASIC_AUTH || event > EVENT_MAX || p->cb[event])
		return FM_EINVAL;
	p->cb[event] = cb;
	p->host->wants |= 1u << event;
	return FM_OK;
}

static unsigned log_type_of(enum fm_plugin_log_level level)
{
	switch (level) {
	case FM_LOG_ERROR: return LOG_T_ERROR;
	case FM_LOG_WARNING: return LOG_T_WARNING;
	case FM_LOG_NOTICE: return LOG_T_NOTICE;
	case FM_LOG_INFO: return LOG_T_INFO;
	default: return LOG_T_DEBUG;
	}
}

FM_PLUGIN_EXPORT void fm_plugin_log(struct fm_plugin *p, enum fm_plugin_log_level level, const char *fmt, ...)
{
	if (!p || !log_enabled(p->host->log, log_type_of(level)))
		return;
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_msg(p->host->log, log_type_of(level), "plugin %s: %s", p->name, text);
}

/* A copy of src[0, len) with a NUL after it (a topic is then a string). */
static uint8_t *dup_bytes(const void *src, size_t len)
{
	uint8_t *copy = malloc(len + 1);
	if (copy) {
		if (len)
			memcpy(copy, src, len);
		copy[len] = '\0';
	}
	return copy;
}

FM_PLUGIN_EXPORT int fm_message_set_topic(struct fm_message *m, const char *topic)
{
	struct plugin_message *pm = (struct plugin_message *)m;
	size_t len = topic ? strlen(topic) : 0;
	if (!topic || len > 65535 || !topic_name_valid(topic, len))
		return FM_EINVAL;
	char *copy = (char *)dup_bytes(topic, len);
	if (!copy)
		return FM_ENOMEM;
	free(pm->topic_owned);
	m->topic = pm->topic_owned = copy;
	m->topic_len = len;
	return FM_OK;
}

FM_PLUGIN_EXPORT int fm_message_set_payload(struct fm_message *m, const void *payload, size_t len)
{
	struct plugin_message *pm = (struct plugin_message *)m;
	if (len > 268435455u || (len && !payload))
		return FM_EINVAL;
	uint8_t *copy = dup_bytes(payload, len);
	if (!copy)
		return FM_ENOMEM;
	free(pm->payload_owned);
	m->payload = pm->payload_owned = copy;
	m->payload_len = len;
	return FM_OK;
}

FM_PLUGIN_EXPORT int fm_ext_auth_set_data(struct fm_ext_auth *a, const void *data, size_t len)
{
	struct plugin_ext_auth *pa = (struct plugin_ext_auth *)a;
	if (!a || len > 65535 || (len && !data))
		return FM_EINVAL; /* Authentication Data is Binary Data: a two-byte length */
	uint8_t *copy = dup_bytes(data, len);
	if (!copy)
		return FM_ENOMEM;
	free(pa->data_out);
	pa->data_out = copy;
	pa->data_out_len = len;
	return FM_OK;
}

FM_PLUGIN_EXPORT int fm_ext_auth_set_username(struct fm_ext_auth *a, const char *username)
{
	struct plugin_ext_auth *pa = (struct plugin_ext_auth *)a;
	size_t len = username ? strlen(username) : 0;
	if (!a || !username || len == 0 || len > 65535 || !mqtt_utf8_valid(username, len))
		return FM_EINVAL; /* a name a CONNECT could have carried */
	char *copy = strdup(username);
	if (!copy)
		return FM_ENOMEM;
	free(pa->username_out);
	pa->username_out = copy;
	return FM_OK;
}

/* What a plugin that deferred set is not its answer: the next plugin's
 * (or none) goes out. */
static void forget_ext_auth_output(struct plugin_ext_auth *pa)
{
	free(pa->data_out);
	free(pa->username_out);
	pa->data_out = NULL;
	pa->username_out = NULL;
	pa->data_out_len = 0;
}

void plugin_ext_auth_init(struct plugin_ext_auth *pa, const struct fm_client *client, const char *method,
			  const uint8_t *data_in, size_t data_in_len, unsigned step)
{
	*pa = (struct plugin_ext_auth){
		.a = { .client = client, .method = method, .data_in = data_in, .data_in_len = data_in_len,
		       .step = step },
	};
}

void plugin_ext_auth_fini(struct plugin_ext_auth *pa)
{
	forget_ext_auth_output(pa);
}

void plugin_message_init(struct plugin_message *pm, const struct fm_client *client, const char *topic,
			 size_t topic_len, const uint8_t *payload, size_t payload_len, uint8_t qos, bool retain)
{
	*pm = (struct plugin_message){
		.m = { .client = client, .topic = topic, .topic_len = topic_len, .payload = payload,
		       .payload_len = payload_len, .qos = qos, .retain = retain },
	};
}

void plugin_message_fini(struct plugin_message *pm)
{
	free(pm->topic_owned);
	free(pm->payload_owned);
	pm->topic_owned = NULL;
	pm->payload_owned = NULL;
}

/* --- loading ---------------------------------------------------------------------- */

static void unload(struct fm_plugin *p)
{
	if (!p)
		return;
	if (p->initialised && p->cleanup)
		p->cleanup(p->user_data);
	if (p->dl)
		dlclose(p->dl);
	free(p->name);
	free(p);
}

void plugin_host_free(struct plugin_host *h)
{
	if (!h)
		return;
	for (size_t i = h->n; i-- > 0;)
		unload(h->v[i]); /* the reverse of loading */
	free(h->v);
	free(h);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* dlopen and find the three functions; the version first, so a plugin
 * built for another API is refused before any of its code runs. */
static int open_plugin(struct fm_plugin *p, const struct plugin_spec *s, int (**init)(struct fm_plugin *,
		       const struct fm_plugin_opt *, size_t, void **), struct fm_errbuf *eb)
{
	p->dl = dlopen(s->path, RTLD_NOW | RTLD_LOCAL);
	if (!p->dl)
		return fm_errbuf_set(eb, "plugin '%s' cannot be loaded: %s", s->path, dlerror());
	int (*version)(void) = (int (*)(void))dlsym(p->dl, "fm_plugin_version");
	*init = (int (*)(struct fm_plugin *, const struct fm_plugin_opt *, size_t, void **))dlsym(p->dl, "fm_plugin_init");
	p->cleanup = (void (*)(void *))dlsym(p->dl, "fm_plugin_cleanup");
	if (!version || !*init || !p->cleanup)
		return fm_errbuf_set(eb, "plugin '%s' is not a fleetmq plugin: it must export fm_plugin_version, "
				     "fm_plugin_init and fm_plugin_cleanup", s->path);
	int built_for = version();
	if (built_for != FM_PLUGIN_API_VERSION)
		return fm_errbuf_set(eb, "plugin '%s' was built for plugin API version %d; this fleetmq speaks version %d "
				     "(rebuild it against this fleetmq's include/fleetmq/plugin.h)", s->path, built_for,
				     FM_PLUGIN_API_VERSION);
	return FM_OK;
}

static int load_one(struct plugin_host *h, const struct plugin_spec *s, struct fm_errbuf *eb)
{
	struct fm_plugin *p = calloc(1, sizeof(*p));
	if (!p || !(p->name = strdup(base_name(s->path)))) {
		free(p);
		return fm_errbuf_set(eb, "out of memory"), FM_ENOMEM;
	}
	p->host = h;
	h->v[h->n++] = p; /* from here on plugin_host_free unloads it */
	int (*init)(struct fm_plugin *, const struct fm_plugin_opt *, size_t, void **) = NULL;
	int rc = open_plugin(p, s, &init, eb);
	if (rc != FM_OK)
		return rc;
	p->initialising = true;
	rc = init(p, s->opts, s->n_opts, &p->user_data);
	p->initialising = false;
	if (rc != FM_OK)
		return fm_errbuf_set(eb, "plugin '%s' failed to start: %s (its log lines say why)", s->path,
				     fm_strerror(rc));
	p->initialised = true;
	log_notice(h->log, "plugin %s loaded (plugin API version %d)", p->name, FM_PLUGIN_API_VERSION);
	return FM_OK;
}

int plugin_host_load(const struct plugin_spec *specs, size_t n, struct log *log, struct plugin_host **out,
		     struct fm_errbuf *eb)
{
	struct plugin_host *h = calloc(1, sizeof(*h));
	if (!h || !(h->v = calloc(n + 1, sizeof(*h->v)))) {
		free(h);
		return fm_errbuf_set(eb, "out of memory"), FM_ENOMEM;
	}
	h->log = log;
	for (size_t i = 0; i < n; i++) {
		int rc = load_one(h, &specs[i], eb);
		if (rc != FM_OK) {
			plugin_host_free(h);
			return rc;
		}
	}
	*out = h;
	return FM_OK;
}

/* --- asking ---------------------------------------------------------------------------- */

bool plugin_host_wants(const struct plugin_host *h, enum fm_plugin_event ev)
{
	return h && (h->wants & (1u << ev));
}

int plugin_host_decide(const struct plugin_host *h, enum fm_plugin_event ev, void *data)
{
	if (!plugin_host_wants(h, ev))
		return FM_PLUGIN_DEFER;
	for (size_t i = 0; i < h->n; i++) {
		struct fm_plugin *p = h->v[i];
		if (!p->cb[ev])
			continue;
		int r = p->cb[ev](ev, data, p->user_data);
		if (r == FM_PLUGIN_ALLOW || r == FM_PLUGIN_DENY || (ev == FM_EVENT_EXT_AUTH && r == FM_PLUGIN_CONTINUE))
			return r;
		if (r != FM_PLUGIN_DEFER)
			return FM_PLUGIN_DENY; /* an answer that makes no sense here refuses */
		if (ev == FM_EVENT_EXT_AUTH)
			forget_ext_auth_output(data);
	}
	return FM_PLUGIN_DEFER;
}

int plugin_host_message(const struct plugin_host *h, struct fm_message *m)
{
	if (!plugin_host_wants(h, FM_EVENT_MESSAGE))
		return FM_PLUGIN_DEFER;
	for (size_t i = 0; i < h->n; i++) {
		struct fm_plugin *p = h->v[i];
		if (p->cb[FM_EVENT_MESSAGE] && p->cb[FM_EVENT_MESSAGE](FM_EVENT_MESSAGE, m, p->user_data) == FM_PLUGIN_DROP)
			return FM_PLUGIN_DROP;
	}
	return FM_PLUGIN_DEFER;
}

void plugin_host_notify(const struct plugin_host *h, enum fm_plugin_event ev, void *data)
{
	if (!plugin_host_wants(h, ev))
		return;
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i]->cb[ev])
			h->v[i]->cb[ev](ev, data, h->v[i]->user_data);
}
