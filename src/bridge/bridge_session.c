/* The bridge's local session: persistent, never expiring, its queue not
 * bounded by max_queued_messages, subscribed to exactly the out topics of
 * the config. It exists from the start, whether the remote is reachable
 * or not, so what is headed out queues from the first message on. */
#include "bridge/bridge_int.h"

#include "proto/persist.h"
#include "proto/proto.h"
#include "proto/subs.h"

#include <string.h>

/* What the local subscriptions ask for: the message's own RETAIN flag (a
 * retained message stays retained on the remote), and not what the bridge
 * itself published here (it came from the remote: no loop). */
#define BRIDGE_SUB_OPTIONS (SUB_NO_LOCAL | SUB_RETAIN_AS_PUBLISHED)

static bool configured_out(const struct bridge *br, const char *filter)
{
	for (size_t i = 0; i < br->n_topics; i++)
		if ((br->topics[i].conf->direction & CONF_BRIDGE_OUT) && strcmp(br->topics[i].local_filter, filter) == 0)
			return true;
	return false;
}

/* Drop subscriptions an earlier config had, add or refresh the current. */
static int sync_subscriptions(struct bridge *br, struct session *s)
{
	for (uint32_t i = s->n_subs; i-- > 0;)
		if (!configured_out(br, s->subs[i].filter))
			proto_session_unsubscribe(br->w, s, s->subs[i].filter, s->subs[i].len);
	for (size_t i = 0; i < br->n_topics; i++) {
		const struct bridge_topic *t = &br->topics[i];
		if (!(t->conf->direction & CONF_BRIDGE_OUT))
			continue;
		bool replaced;
		int rc = proto_session_subscribe(br->w, s, t->local_filter, strlen(t->local_filter),
						 (uint8_t)(t->conf->qos | BRIDGE_SUB_OPTIONS), 0, &replaced);
		if (rc != FM_OK)
			return rc;
	}
	return FM_OK;
}

/* The session with the bridge's id, with a reference, or NULL. */
static struct session *lookup(struct broker *b, const char *id)
{
	pthread_mutex_lock(&b->sessions_lock);
	struct session *s = session_table_get(b->sessions, id, strlen(id));
	if (s)
		session_ref(s);
	pthread_mutex_unlock(&b->sessions_lock);
	return s;
}

/* A new session in the table and the store, with a reference for us. */
static struct session *create(struct bridge *br, const char *id)
{
	struct broker *b = br->b;
	struct session *s = session_new(id, strlen(id), true, br->w);
	if (!s)
		return NULL;
	s->expiry_interval = UINT32_MAX; /* never expires */
	pthread_mutex_lock(&b->sessions_lock);
	int rc = session_table_get(b->sessions, id, strlen(id)) ? FM_EDENIED : session_table_add(b->sessions, s);
	if (rc == FM_OK)
		session_ref(s); /* the table's */
	pthread_mutex_unlock(&b->sessions_lock);
	if (rc != FM_OK) {
		session_free(s);
		return NULL;
	}
	persist_session_put(br->w, s);
	return s;
}

/* A session of this id homed elsewhere belongs to a client that took
 * the bridge's local_clientid: we do not fight over it. local_cleansession
 * true ends what an earlier run left (at the first setup only). */
static int find_or_create(struct bridge *br, bool first, struct session **out)
{
	const char *id = br->conf->local_clientid;
	struct session *s = lookup(br->b, id);
	if (s && session_home(s) != br->w) {
		session_unref(s);
		return FM_EDENIED;
	}
	if (s && first && br->conf->local_cleansession && !s->owner) {
		proto_session_end(br->w, s);
		session_unref(s);
		s = NULL;
	}
	if (!s && (s = create(br, id)) == NULL)
		return FM_ENOMEM;
	s->unbounded = true;
	*out = s;
	return FM_OK;
}

int bridge_session_setup(struct bridge *br)
{
	if (br->session && !atomic_load(&br->session->dead) && session_home(br->session) == br->w)
		return FM_OK;
	bool first = br->session == NULL;
	if (br->session) {
		session_unref(br->session);
		br->session = NULL;
	}
	struct session *s;
	int rc = find_or_create(br, first, &s);
	if (rc != FM_OK)
		return rc;
	if ((rc = sync_subscriptions(br, s)) != FM_OK) {
		session_unref(s);
		return rc;
	}
	persist_flush(br->w);
	br->session = s;
	return FM_OK;
}

void bridge_session_send_retained(struct bridge *br)
{
	if (!br->conf->outgoing_retain || !br->remote_retain)
		return; /* they would arrive as live messages, stale ones */
	for (size_t i = 0; i < br->n_topics; i++) {
		const struct bridge_topic *t = &br->topics[i];
		if (t->conf->direction == CONF_BRIDGE_OUT)
			proto_session_send_retained(br->w, br->session, t->local_filter, strlen(t->local_filter),
						    t->conf->qos, 0);
	}
	persist_flush(br->w);
}

uint64_t bridge_session_queued(const struct bridge *br)
{
	const struct session *s = br->session;
	if (!s)
		return 0;
	return (uint64_t)s->queued + (s->spill ? s->spill->count : 0);
}
