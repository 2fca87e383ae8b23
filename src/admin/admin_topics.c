/* GET /api/v1/subscriptions?prefix=F: who subscribed to which filter
 * (filters starting with F), and GET /api/v1/retained?prefix=T: the
 * retained messages under topic T, both paged and sorted by name.
 *
 * Subscriptions are read where they live, in each session on its home
 * worker (a poll), so no lock is taken on the routing tree; retained
 * messages are read from the shared retained tree under its read lock
 * (messages are immutable once retained). */
#include "admin/admin_int.h"
#include "core/clock.h"
#include "core/grow.h"
#include "mqtt/codec.h"
#include "proto/client.h"
#include "proto/worker_poll.h"
#include "topic/topic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREVIEW_BYTES 64

struct page {
	char prefix[1024];
	struct admin_page page;
};

static const char *parse_page(const struct http_request *req, struct page *pg)
{
	*pg = (struct page){ 0 };
	const char *v = http_arg(req, "prefix");
	if (v && strlen(v) >= sizeof(pg->prefix))
		return "prefix: at most 1023 bytes";
	if (v)
		strcpy(pg->prefix, v);
	return admin_parse_page(req, &pg->page);
}

/* Rows of (name, client or topic details) gathered into one growing
 * array; each entry owns its strings. */
struct sub_row {
	char *filter;
	char *client_id;
	uint8_t options;
};

struct sub_rows {
	struct sub_row *v;
	uint32_t n, cap;
	bool oom;
};

static void sub_rows_free(void *p)
{
	struct sub_rows *r = p;
	if (!r)
		return;
	for (uint32_t i = 0; i < r->n; i++) {
		free(r->v[i].filter);
		free(r->v[i].client_id);
	}
	free(r->v);
	free(r);
}

static bool sub_rows_add(struct sub_rows *r, const char *filter, const char *client_id, uint8_t options)
{
	if (fm_grow((void **)&r->v, &r->cap, r->n + 1, sizeof(*r->v), 64) != FM_OK)
		return false;
	struct sub_row *row = &r->v[r->n];
	row->filter = strdup(filter);
	row->client_id = strdup(client_id);
	row->options = options;
	r->n++; /* freed with the rest even when a copy failed */
	return row->filter && row->client_id;
}

/* This worker's sessions with subscriptions, found under the table's
 * lock; their subscriptions are copied after it (only this worker, running
 * this, could change them). */
struct sub_walk {
	struct worker *w;
	const struct session **v;
	uint32_t n, cap;
	bool oom;
};

static void note_session(struct session *s, void *arg)
{
	struct sub_walk *k = arg;
	if (k->oom || session_home(s) != k->w || atomic_load(&s->dead) || s->n_subs == 0)
		return;
	if (fm_grow((void **)&k->v, &k->cap, k->n + 1, sizeof(*k->v), 64) != FM_OK)
		k->oom = true;
	else
		k->v[k->n++] = s;
}

static void forget_sessions(void *arg)
{
	struct sub_walk *k = arg;
	k->n = 0;
	k->oom = false;
}

static void copy_subs_of(const struct session *s, const char *prefix, size_t prefix_len, struct sub_rows *rows)
{
	for (uint32_t i = 0; i < s->n_subs && !rows->oom; i++)
		if (strncmp(s->subs[i].filter, prefix, prefix_len) == 0 &&
		    !sub_rows_add(rows, s->subs[i].filter, s->client_id, s->subs[i].options))
			rows->oom = true;
}

static void *collect_subs(struct worker *w, const void *arg)
{
	const struct page *pg = arg;
	struct sub_rows *rows = calloc(1, sizeof(*rows));
	if (!rows)
		return NULL;
	struct sub_walk k = { .w = w };
	admin_walk_sessions(w, note_session, forget_sessions, &k);
	rows->oom = k.oom;
	for (uint32_t i = 0; i < k.n && !rows->oom; i++)
		copy_subs_of(k.v[i], pg->prefix, strlen(pg->prefix), rows);
	free(k.v);
	if (rows->oom) {
		sub_rows_free(rows);
		return NULL;
	}
	return rows;
}

static int compare_subs(const void *a, const void *b)
{
	const struct sub_row *x = *(struct sub_row *const *)a, *y = *(struct sub_row *const *)b;
	int c = strcmp(x->filter, y->filter);
	return c ? c : strcmp(x->client_id, y->client_id);
}

static cJSON *sub_json(const struct sub_row *r)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "filter", r->filter);
	cJSON_AddStringToObject(j, "client_id", r->client_id);
	cJSON_AddNumberToObject(j, "qos", r->options & 0x03);
	cJSON_AddBoolToObject(j, "no_local", (r->options & 0x04) != 0);
	cJSON_AddBoolToObject(j, "retain_as_published", (r->options & 0x08) != 0);
	cJSON_AddNumberToObject(j, "retain_handling", (r->options >> 4) & 0x03);
	return j;
}

static void reply_subs(struct broker *b, struct worker_poll *p, const struct page *pg, struct http_response *resp)
{
	size_t n = 0;
	for (unsigned w = 0; w < b->n_workers; w++)
		n += ((const struct sub_rows *)worker_poll_result(p, w))->n;
	const struct sub_row **all = malloc((n ? n : 1) * sizeof(*all));
	if (!all)
		return admin_reply_error(resp, 500, "out of memory");
	n = 0;
	for (unsigned w = 0; w < b->n_workers; w++) {
		const struct sub_rows *r = worker_poll_result(p, w);
		for (size_t i = 0; i < r->n; i++)
			all[n++] = &r->v[i];
	}
	if (n > 1)
		qsort(all, n, sizeof(*all), compare_subs);
	cJSON *items;
	cJSON *j = admin_page_json(&pg->page, n, "subscriptions", &items);
	for (size_t i = pg->page.offset; i < n && i < pg->page.offset + pg->page.limit; i++)
		admin_json_add(items, NULL, sub_json(all[i]));
	free(all);
	admin_reply_json(resp, 200, j);
}

const char *admin_subscriptions_check(const struct http_request *req)
{
	struct page pg;
	return parse_page(req, &pg);
}

void admin_subscriptions(struct broker *b, const struct http_request *req, struct http_response *resp)
{
	struct page pg;
	const char *bad = parse_page(req, &pg);
	if (bad)
		return admin_reply_error(resp, 400, bad);
	struct worker_poll *p = admin_poll_workers(b, collect_subs, &pg, sizeof(pg), sub_rows_free, resp);
	if (!p)
		return;
	reply_subs(b, p, &pg, resp);
	worker_poll_release(p);
}

/* --- retained messages ------------------------------------------------------------ */

struct retained {
	struct msg **v;             /* references held */
	uint32_t n, cap;
	bool oom;
};

static void keep_retained(void *arg, void *value)
{
	struct retained *r = arg;
	if (r->oom || (r->oom = fm_grow((void **)&r->v, &r->cap, r->n + 1, sizeof(*r->v), 64) != FM_OK))
		return;
	r->v[r->n++] = msg_ref(value);
}

static int compare_topics(const void *a, const void *b)
{
	const struct msg *x = *(struct msg *const *)a, *y = *(struct msg *const *)b;
	return strcmp(x->topic, y->topic);
}

/* The first bytes of the payload as text, cut on a character boundary,
 * or NULL when they are not UTF-8 text. */
static cJSON *preview_json(const struct msg *m)
{
	size_t n = m->payload_len < PREVIEW_BYTES ? m->payload_len : PREVIEW_BYTES;
	while (n > 0 && n < m->payload_len && (msg_payload(m)[n] & 0xC0) == 0x80)
		n--; /* not in the middle of a character */
	if (!mqtt_utf8_valid((const char *)msg_payload(m), n))
		return cJSON_CreateNull();
	char text[PREVIEW_BYTES + 1];
	memcpy(text, msg_payload(m), n);
	text[n] = '\0';
	return cJSON_CreateString(text);
}

static cJSON *retained_json(const struct msg *m, uint64_t now_ms)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "topic", m->topic);
	cJSON_AddNumberToObject(j, "qos", m->qos);
	cJSON_AddNumberToObject(j, "payload_bytes", m->payload_len);
	admin_json_add(j, "payload_preview", preview_json(m));
	if (m->expires_at_ms)
		cJSON_AddNumberToObject(j, "expires_in_s",
					m->expires_at_ms > now_ms ? (double)((m->expires_at_ms - now_ms) / 1000) : 0);
	return j;
}

/* A page, with a prefix that is a topic name. */
static const char *parse_topic_page(const struct http_request *req, struct page *pg)
{
	const char *bad = parse_page(req, pg);
	if (bad)
		return bad;
	if (strpbrk(pg->prefix, "+#") || (pg->prefix[0] && !topic_name_valid(pg->prefix, strlen(pg->prefix))))
		return "prefix: a topic name (no wildcards)";
	return NULL;
}

const char *admin_retained_check(const struct http_request *req)
{
	struct page pg;
	return parse_topic_page(req, &pg);
}

void admin_retained(struct broker *b, const struct http_request *req, struct http_response *resp)
{
	struct page pg;
	const char *bad = parse_topic_page(req, &pg);
	if (bad)
		return admin_reply_error(resp, 400, bad);
	/* "T/#" matches T and everything under it; with no prefix, every
	 * topic but the $ ones ("$SYS" as the prefix shows those) */
	char filter[sizeof(pg.prefix) + 2];
	snprintf(filter, sizeof(filter), "%s%s", pg.prefix, pg.prefix[0] ? "/#" : "#");
	struct retained r = { 0 };
	pthread_rwlock_rdlock(&b->retained_lock);
	retain_tree_match(b->retained, filter, strlen(filter), keep_retained, &r);
	pthread_rwlock_unlock(&b->retained_lock);
	if (!r.oom) {
		if (r.n > 1)
			qsort(r.v, r.n, sizeof(*r.v), compare_topics);
		cJSON *items;
		cJSON *j = admin_page_json(&pg.page, r.n, "retained", &items);
		uint64_t now = clock_wall_ms();
		for (size_t i = pg.page.offset; i < r.n && i < pg.page.offset + pg.page.limit; i++)
			admin_json_add(items, NULL, retained_json(r.v[i], now));
		admin_reply_json(resp, 200, j);
	} else {
		admin_reply_error(resp, 500, "out of memory");
	}
	for (size_t i = 0; i < r.n; i++)
		msg_unref(r.v[i]);
	free(r.v);
}
