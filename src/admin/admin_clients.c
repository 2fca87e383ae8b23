/* GET /api/v1/clients: a filtered, sorted page of the sessions (online
 * clients and offline persistent sessions); GET /api/v1/clients/ID: one of
 * them in detail.
 *
 * A session's fields belong to its home worker, so each worker reads its
 * own (a poll through its inbox), applies the filters, sorts, and hands
 * back at most offset + limit rows with the count of all that matched;
 * this thread merges, sorts again and cuts the page. A worker walks the
 * session table a slice at a time under its lock (admin_walk_sessions),
 * so CONNECTs on other workers wait for one slice at most; sorting and
 * copying happen after. */
#include "admin/admin_int.h"
#include "core/grow.h"
#include "proto/client.h"
#include "proto/worker_poll.h"

#include <stdlib.h>
#include <string.h>

enum sort_key { SORT_ID, SORT_QUEUED, SORT_INFLIGHT, SORT_SINCE, SORT_SUBSCRIPTIONS };

struct client_query {
	int online;                 /* -1 either, 0 offline, 1 online */
	char prefix[256];           /* client id prefix; "" any */
	char username[256];         /* exactly this username; "" any */
	unsigned port;              /* listener port; 0 any */
	enum sort_key sort;
	bool desc;
	struct admin_page page;
};

struct client_row {
	char *client_id;
	char *username;             /* NULL: none (or offline) */
	char address[NET_ADDR_STRLEN];
	bool online, persistent;
	uint8_t version;
	uint16_t port, keepalive_s;
	uint32_t since_s, subscriptions, inflight, queued;
	uint64_t queued_bytes;
	uint32_t expiry_interval;
};

struct client_rows {
	size_t total, n;
	struct client_row *v;
};

/* --- on the workers ------------------------------------------------------------- */

static const struct client *owner_of(const struct session *s)
{
	return s->owner;
}

static bool matches(const struct session *s, const struct client_query *q)
{
	const struct client *c = owner_of(s);
	if (q->online >= 0 && (c != NULL) != (q->online == 1))
		return false;
	if (q->prefix[0] && strncmp(s->client_id, q->prefix, strlen(q->prefix)) != 0)
		return false;
	if (q->username[0] && (!c || !c->username || strcmp(c->username, q->username) != 0))
		return false;
	return !q->port || (c && c->listener && c->listener->port == q->port);
}

/* Messages waiting: in memory, and spilled to the store. */
static uint32_t queued_of(const struct session *s)
{
	return s->queued + (s->spill ? s->spill->count : 0);
}

static uint64_t key_of(const struct session *s, enum sort_key k)
{
	switch (k) {
	case SORT_QUEUED: return queued_of(s);
	case SORT_INFLIGHT: return s->n_inflight;
	case SORT_SINCE: return s->since_s;
	case SORT_SUBSCRIPTIONS: return s->n_subs;
	default: return 0;
	}
}

static void row_of(const struct session *s, struct client_row *r)
{
	const struct client *c = owner_of(s);
	*r = (struct client_row){
		.client_id = strdup(s->client_id),
		.online = c != NULL,
		.persistent = s->persistent,
		.since_s = s->since_s,
		.subscriptions = s->n_subs,
		.inflight = s->n_inflight,
		.queued = queued_of(s),
		.queued_bytes = s->queued_bytes + (s->spill ? s->spill->bytes : 0),
		.expiry_interval = s->expiry_interval,
	};
	if (!c)
		return;
	r->username = c->username ? strdup(c->username) : NULL;
	net_addr_format(&c->conn.peer, r->address, sizeof(r->address));
	r->version = c->version;
	r->port = c->listener ? (uint16_t)c->listener->port : 0; /* 0: a bridge's own connection */
	r->keepalive_s = c->keepalive_s;
}

static void rows_free(void *p)
{
	struct client_rows *rows = p;
	if (!rows)
		return;
	for (size_t i = 0; i < rows->n; i++) {
		free(rows->v[i].client_id);
		free(rows->v[i].username);
	}
	free(rows->v);
	free(rows);
}

/* Rows compare by the sort key, then by client id: in the order asked
 * when the id is the key, else ascending (a stable tie-breaker). */
static int compare(const struct client_query *q, uint64_t ka, const char *ia, uint64_t kb, const char *ib)
{
	if (ka != kb)
		return (ka < kb) != q->desc ? -1 : 1;
	int c = strcmp(ia, ib);
	return q->sort == SORT_ID && q->desc ? -c : c;
}

struct candidate {
	const struct session *s;
	uint64_t key;
};

struct walk {
	struct worker *w;
	const struct client_query *q;
	struct candidate *v;
	uint32_t n, cap;
	bool oom;
};

static void consider(struct session *s, void *arg)
{
	struct walk *k = arg;
	if (session_home(s) != k->w || atomic_load(&s->dead) || !matches(s, k->q))
		return;
	if (fm_grow((void **)&k->v, &k->cap, k->n + 1, sizeof(*k->v), 256) != FM_OK) {
		k->oom = true;
		return;
	}
	k->v[k->n++] = (struct candidate){ .s = s, .key = key_of(s, k->q->sort) };
}

static void forget_candidates(void *arg)
{
	struct walk *k = arg;
	k->n = 0;
	k->oom = false;
}

static int compare_candidates(const void *a, const void *b, void *arg)
{
	const struct candidate *x = a, *y = b;
	return compare(arg, x->key, x->s->client_id, y->key, y->s->client_id);
}

/* The first offset + limit of this worker's matches, in order. */
static void *collect_rows(struct worker *w, const void *arg)
{
	const struct client_query *q = arg;
	struct client_rows *rows = calloc(1, sizeof(*rows));
	struct walk k = { .w = w, .q = q };
	if (!rows)
		return NULL;
	/* the sessions found are this worker's, and only this worker (running
	 * this) could end or move them: the table's lock is for the walk */
	admin_walk_sessions(w, consider, forget_candidates, &k);
	if (k.n > 1)
		qsort_r(k.v, k.n, sizeof(*k.v), compare_candidates, (void *)q);
	rows->total = k.n;
	size_t keep = k.n < q->page.offset + q->page.limit ? k.n : q->page.offset + q->page.limit;
	rows->v = keep ? calloc(keep, sizeof(*rows->v)) : NULL;
	for (size_t i = 0; rows->v && i < keep; i++)
		row_of(k.v[i].s, &rows->v[rows->n++]);
	free(k.v);
	if (k.oom || (keep && !rows->v)) {
		rows_free(rows);
		return NULL;
	}
	return rows;
}

/* --- on the HTTP thread ----------------------------------------------------------- */

static uint64_t row_key(const struct client_row *r, enum sort_key k)
{
	switch (k) {
	case SORT_QUEUED: return r->queued;
	case SORT_INFLIGHT: return r->inflight;
	case SORT_SINCE: return r->since_s;
	case SORT_SUBSCRIPTIONS: return r->subscriptions;
	default: return 0;
	}
}

static int compare_rows(const void *a, const void *b, void *arg)
{
	const struct client_row *x = *(struct client_row *const *)a, *y = *(struct client_row *const *)b;
	const struct client_query *q = arg;
	return compare(q, row_key(x, q->sort), x->client_id, row_key(y, q->sort), y->client_id);
}

static cJSON *row_json(struct broker *b, const struct client_row *r)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "client_id", r->client_id ? r->client_id : "");
	if (r->username)
		cJSON_AddStringToObject(j, "username", r->username);
	else
		cJSON_AddNullToObject(j, "username");
	cJSON_AddBoolToObject(j, "online", r->online);
	cJSON_AddBoolToObject(j, "persistent", r->persistent);
	if (r->online) {
		cJSON_AddNumberToObject(j, "listener_port", r->port);
		cJSON_AddNumberToObject(j, "protocol_version", r->version);
		cJSON_AddStringToObject(j, "address", r->address);
		cJSON_AddNumberToObject(j, "keepalive_s", r->keepalive_s);
	}
	double since_ms = (double)b->start_ms + (double)r->since_s * 1000.0;
	cJSON_AddNumberToObject(j, r->online ? "connected_since_ms" : "offline_since_ms", since_ms);
	cJSON_AddNumberToObject(j, "subscriptions", r->subscriptions);
	cJSON_AddNumberToObject(j, "inflight", r->inflight);
	cJSON_AddNumberToObject(j, "queued", r->queued);
	cJSON_AddNumberToObject(j, "queued_bytes", (double)r->queued_bytes);
	cJSON_AddNumberToObject(j, "session_expiry_interval_s", r->expiry_interval);
	return j;
}

/* --- the query ---------------------------------------------------------------------- */

static bool copy_arg(char *dst, size_t len, const char *v)
{
	if (strlen(v) >= len)
		return false;
	strcpy(dst, v);
	return true;
}

static const char *parse_sort(struct client_query *q, const char *sort, const char *order)
{
	static const struct { const char *name; enum sort_key key; } keys[] = {
		{"id", SORT_ID}, {"queued", SORT_QUEUED}, {"inflight", SORT_INFLIGHT},
		{"connected_since", SORT_SINCE}, {"subscriptions", SORT_SUBSCRIPTIONS},
	};
	bool found = !sort;
	for (size_t i = 0; sort && i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(sort, keys[i].name) == 0) {
			q->sort = keys[i].key;
			found = true;
		}
	if (!found)
		return "sort: one of id, queued, inflight, connected_since, subscriptions";
	q->desc = q->sort != SORT_ID; /* the largest queues first, by default */
	if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0)
		return "order: asc or desc";
	if (order)
		q->desc = strcmp(order, "desc") == 0;
	return NULL;
}

/* NULL, or what is wrong with the request's arguments. */
static const char *parse_query(const struct http_request *req, struct client_query *q)
{
	*q = (struct client_query){ .online = -1 };
	const char *v;
	size_t port = 0;
	if ((v = http_arg(req, "online")) && strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
		return "online: true or false";
	if (v)
		q->online = strcmp(v, "true") == 0;
	if ((v = http_arg(req, "prefix")) && !copy_arg(q->prefix, sizeof(q->prefix), v))
		return "prefix: at most 255 bytes";
	if ((v = http_arg(req, "username")) && !copy_arg(q->username, sizeof(q->username), v))
		return "username: at most 255 bytes";
	if ((v = http_arg(req, "listener")) && (!admin_parse_count(v, 65535, &port) || port == 0))
		return "listener: a port number";
	q->port = (unsigned)port;
	const char *bad = admin_parse_page(req, &q->page);
	return bad ? bad : parse_sort(q, http_arg(req, "sort"), http_arg(req, "order"));
}

/* Every worker's rows, merged and cut to the page. */
static void reply_page(struct broker *b, struct worker_poll *p, const struct client_query *q,
		       struct http_response *resp)
{
	size_t total = 0, n = 0;
	for (unsigned w = 0; w < b->n_workers; w++) {
		const struct client_rows *r = worker_poll_result(p, w);
		total += r->total;
		n += r->n;
	}
	const struct client_row **all = malloc((n ? n : 1) * sizeof(*all));
	if (!all)
		return admin_reply_error(resp, 500, "out of memory");
	n = 0;
	for (unsigned w = 0; w < b->n_workers; w++) {
		const struct client_rows *r = worker_poll_result(p, w);
		for (size_t i = 0; i < r->n; i++)
			all[n++] = &r->v[i];
	}
	if (n > 1)
		qsort_r(all, n, sizeof(*all), compare_rows, (void *)q);
	cJSON *list;
	cJSON *j = admin_page_json(&q->page, total, "clients", &list);
	for (size_t i = q->page.offset; i < n && i < q->page.offset + q->page.limit; i++)
		admin_json_add(list, NULL, row_json(b, all[i]));
	free(all);
	admin_reply_json(resp, 200, j);
}

const char *admin_clients_check(const struct http_request *req)
{
	struct client_query q;
	return parse_query(req, &q);
}

void admin_clients(struct broker *b, const struct http_request *req, struct http_response *resp)
{
	struct client_query q;
	const char *bad = parse_query(req, &q);
	if (bad)
		return admin_reply_error(resp, 400, bad);
	struct worker_poll *p = admin_poll_workers(b, collect_rows, &q, sizeof(q), rows_free, resp);
	if (!p)
		return;
	reply_page(b, p, &q, resp);
	worker_poll_release(p);
}

/* --- one client ---------------------------------------------------------------------- */

struct client_detail {
	struct client_row row;
	struct session_sub *subs;   /* copies: filter strings owned */
	uint32_t n_subs;
	char *will_topic;           /* NULL: no will */
};

static void detail_free(void *p)
{
	struct client_detail *d = p;
	if (!d)
		return;
	free(d->row.client_id);
	free(d->row.username);
	for (uint32_t i = 0; i < d->n_subs; i++)
		free(d->subs[i].filter);
	free(d->subs);
	free(d->will_topic);
	free(d);
}

static bool copy_subs(const struct session *s, struct client_detail *d)
{
	d->subs = s->n_subs ? calloc(s->n_subs, sizeof(*d->subs)) : NULL;
	if (s->n_subs && !d->subs)
		return false;
	for (uint32_t i = 0; i < s->n_subs; i++) {
		d->subs[i] = (struct session_sub){ .filter = strdup(s->subs[i].filter), .len = s->subs[i].len,
						   .options = s->subs[i].options };
		d->n_subs++;
		if (!d->subs[i].filter)
			return false;
	}
	return true;
}

/* The session named arg, if it is homed on this worker; else NULL. */
static void *collect_detail(struct worker *w, const void *arg)
{
	const char *id = arg;
	struct client_detail *d = NULL;
	pthread_mutex_lock(&w->b->sessions_lock);
	struct session *s = session_table_get(w->b->sessions, id, strlen(id));
	if (s && session_home(s) == w && !atomic_load(&s->dead) && (d = calloc(1, sizeof(*d)))) {
		row_of(s, &d->row);
		bool ok = d->row.client_id && copy_subs(s, d);
		if (ok && s->will)
			ok = (d->will_topic = strdup(s->will->topic)) != NULL;
		if (!ok) {
			detail_free(d);
			d = NULL;
		}
	}
	pthread_mutex_unlock(&w->b->sessions_lock);
	return d;
}

static cJSON *subs_json(const struct client_detail *d)
{
	cJSON *list = cJSON_CreateArray();
	for (uint32_t i = 0; i < d->n_subs; i++) {
		uint8_t o = d->subs[i].options;
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "filter", d->subs[i].filter);
		cJSON_AddNumberToObject(j, "qos", o & 0x03);
		cJSON_AddBoolToObject(j, "no_local", (o & 0x04) != 0);
		cJSON_AddBoolToObject(j, "retain_as_published", (o & 0x08) != 0);
		cJSON_AddNumberToObject(j, "retain_handling", (o >> 4) & 0x03);
		admin_json_add(list, NULL, j);
	}
	return list;
}

const char *admin_client_check(const struct http_request *req)
{
	const char *id = req->path + strlen("/api/v1/clients/");
	return !*id || strlen(id) > 65535 ? "a client id, please: /api/v1/clients/ID" : NULL;
}

/* The one session named id, wherever it is homed. */
static void reply_client(struct broker *b, const char *id, struct http_response *resp)
{
	struct worker_poll *p = worker_poll_start(b, collect_detail, id, strlen(id) + 1, detail_free);
	if (!p)
		return admin_reply_error(resp, 500, "out of memory");
	bool all = worker_poll_wait(p, ADMIN_WORKER_WAIT_MS);
	const struct client_detail *d = NULL;
	for (unsigned w = 0; w < b->n_workers && !d; w++)
		d = worker_poll_result(p, w);
	if (d) {
		cJSON *j = row_json(b, &d->row);
		admin_json_add(j, "subscription_list", subs_json(d));
		if (d->will_topic)
			cJSON_AddStringToObject(j, "will_topic", d->will_topic);
		else
			cJSON_AddNullToObject(j, "will_topic");
		admin_reply_json(resp, 200, j);
	} else {
		admin_reply_error(resp, all ? 404 : 503, all ? "no such client" : "a worker did not answer in time");
	}
	worker_poll_release(p);
}

void admin_client(struct broker *b, const struct http_request *req, struct http_response *resp)
{
	reply_client(b, req->path + strlen("/api/v1/clients/"), resp);
}

/* /api/v1/client?id=ID: for ids the path cannot carry intact (the server
 * collapses "//", "/./" and "/../" in a path, after decoding %2F). */
const char *admin_client_arg_check(const struct http_request *req)
{
	const char *id = http_arg(req, "id");
	return !id || !*id ? "id: the client id, please" : NULL;
}

void admin_client_arg(struct broker *b, const struct http_request *req, struct http_response *resp)
{
	reply_client(b, http_arg(req, "id"), resp);
}
