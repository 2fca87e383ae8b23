/* Helpers for the store tests; see store_util.h. */
#include "store_util.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

char t_dir[64];
char t_store_dir[128];
char t_db_path[192];

/* --- messages ------------------------------------------------------------------ */

struct store_message msg_of(const char *topic, size_t topic_len, const void *payload, size_t payload_len,
			    uint8_t qos)
{
	return (struct store_message){ .topic = topic, .topic_len = topic_len, .payload = payload,
				       .payload_len = payload_len, .qos = qos };
}

int add_msg(struct store_batch *b, uint64_t msg_id, const char *topic, size_t topic_len, const void *payload,
	    size_t payload_len, uint8_t qos)
{
	struct store_message m = msg_of(topic, topic_len, payload, payload_len, qos);
	m.msg_id = msg_id;
	return store_msg_add(b, &m);
}

int put_retained(struct store_batch *b, const char *topic, size_t topic_len, const void *payload,
		 size_t payload_len, uint8_t qos)
{
	struct store_message m = msg_of(topic, topic_len, payload, payload_len, qos);
	return store_retain_put(b, &m);
}

/* --- the test's directory --------------------------------------------------- */

void tmp_setup(void)
{
	snprintf(t_dir, sizeof(t_dir), "/tmp/fleetmq-store-test-XXXXXX");
	cr_assert_not_null(mkdtemp(t_dir));
	snprintf(t_store_dir, sizeof(t_store_dir), "%s/store", t_dir);
	snprintf(t_db_path, sizeof(t_db_path), "%s/fleetmq.db", t_store_dir);
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tmp_teardown(void)
{
	if (t_dir[0] == '\0')
		return;
	/* depth first, so directories are empty when their turn comes */
	cr_assert_eq(nftw(t_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0, "cannot remove %s", t_dir);
	t_dir[0] = '\0';
}

/* --- opening and applying ---------------------------------------------------- */

struct store *open_store(enum store_durability durability, uint32_t batched_interval_ms)
{
	struct store_opts o = { .dir = t_store_dir, .durability = durability,
				.batched_interval_ms = batched_interval_ms };
	struct fm_errbuf eb = { { 0 } };
	struct store *st = NULL;
	int rc = store_open(&st, &o, &eb);
	cr_assert_eq(rc, FM_OK, "store_open(%s): %s", t_store_dir, eb.msg);
	return st;
}

int try_open(const char *dir, struct fm_errbuf *eb)
{
	struct store_opts o = { .dir = dir, .durability = STORE_FULL };
	struct store *st = NULL;
	int rc = store_open(&st, &o, eb);
	if (rc == FM_OK)
		store_close(st);
	return rc;
}

void done_nothing(struct store_batch *b) { (void)b; }

void apply_ok(struct store *st, struct store_batch *b)
{
	b->rc = -9999; /* so a done that never ran cannot pass for success */
	store_apply_now(st, b);
	cr_assert_eq(b->rc, FM_OK, "batch failed: %s", fm_strerror(b->rc));
	store_batch_reset(b);
}

/* --- batches driven through the store thread ------------------------------- */

void waiter_init(struct waiter *w)
{
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->done = 0;
}

void waiter_fini(struct waiter *w)
{
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}

void waiter_wait(struct waiter *w, unsigned n)
{
	pthread_mutex_lock(&w->mu);
	while (w->done < n)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

/* On the store thread: note how many commits happened before we were
 * handed back, then wake the test. */
static void waited_done(struct store_batch *b)
{
	struct waited_batch *wb = (struct waited_batch *)b;
	wb->commits_at_done = store_stats(wb->st).commits;
	pthread_mutex_lock(&wb->w->mu);
	wb->w->done++;
	pthread_cond_broadcast(&wb->w->cv);
	pthread_mutex_unlock(&wb->w->mu);
}

void waited_batch_init(struct waited_batch *wb, struct waiter *w, struct store *st)
{
	store_batch_init(&wb->b, waited_done);
	wb->b.rc = -9999;
	wb->w = w;
	wb->st = st;
	wb->commits_at_done = UINT64_MAX;
}

/* --- the recording loader --------------------------------------------------- */

static struct rec *rec_new(struct loaded *ld, enum rec_kind kind)
{
	if (ld->n == ld->cap) {
		ld->cap = ld->cap ? ld->cap * 2 : 64;
		ld->v = realloc(ld->v, ld->cap * sizeof(*ld->v));
		cr_assert_not_null(ld->v);
	}
	struct rec *r = &ld->v[ld->n++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	return r;
}

static void copy_str(char *dst, size_t cap, size_t *dst_len, const char *src, size_t len)
{
	cr_assert_lt(len, cap, "loaded string of %zu bytes does not fit the test's buffer", len);
	memcpy(dst, src, len);
	dst[len] = '\0';
	*dst_len = len;
}

static uint8_t *copy_bytes(const void *p, size_t len, size_t *out_len)
{
	cr_assert(p || len == 0, "a loaded blob of %zu bytes at NULL", len);
	uint8_t *c = malloc(len ? len : 1);
	cr_assert_not_null(c);
	if (len)
		memcpy(c, p, len);
	*out_len = len;
	return c;
}

/* Topic, payload, properties, QoS and expiry of a loaded message. */
static void copy_message(struct rec *r, const struct store_message *m)
{
	copy_str(r->topic, sizeof(r->topic), &r->topic_len, m->topic, m->topic_len);
	r->payload = copy_bytes(m->payload, m->payload_len, &r->payload_len);
	r->props = copy_bytes(m->props, m->props_len, &r->props_len);
	r->qos = m->qos;
	r->expires_at_ms = m->expires_at_ms;
}

/* The injected failure, if this callback is the one. */
static int maybe_fail(struct loaded *ld, enum rec_kind kind)
{
	if (ld->fail_rc == FM_OK || ld->fail_kind != kind)
		return FM_OK;
	int rc = ld->fail_rc;
	ld->fail_rc = FM_OK;
	return rc;
}

static int on_message(void *arg, const struct store_message *m)
{
	struct rec *r = rec_new(arg, REC_MESSAGE);
	r->msg_id = m->msg_id;
	copy_message(r, m);
	return maybe_fail(arg, REC_MESSAGE);
}

static int on_session(void *arg, const char *client_id, size_t id_len, uint64_t expires_at_ms, int64_t interval)
{
	struct rec *r = rec_new(arg, REC_SESSION);
	copy_str(r->client, sizeof(r->client), &r->client_len, client_id, id_len);
	r->expires_at_ms = expires_at_ms;
	r->interval = interval;
	return maybe_fail(arg, REC_SESSION);
}

static int on_subscription(void *arg, const char *client_id, size_t id_len, const char *filter,
			   size_t filter_len, uint8_t options, uint32_t sub_id)
{
	struct rec *r = rec_new(arg, REC_SUB);
	copy_str(r->client, sizeof(r->client), &r->client_len, client_id, id_len);
	copy_str(r->topic, sizeof(r->topic), &r->topic_len, filter, filter_len);
	r->options = options;
	r->sub_id = sub_id;
	return maybe_fail(arg, REC_SUB);
}

static int on_queued(void *arg, const char *client_id, size_t id_len, const struct store_message *m, uint8_t qos,
		     enum store_ref_state state, uint16_t packet_id, uint32_t sub_id)
{
	struct rec *r = rec_new(arg, REC_QUEUED);
	copy_str(r->client, sizeof(r->client), &r->client_len, client_id, id_len);
	r->msg_id = m->msg_id;
	r->qos = qos;
	r->state = (uint8_t)state;
	r->packet_id = packet_id;
	r->sub_id = sub_id;
	return maybe_fail(arg, REC_QUEUED);
}

static int on_qos2_in(void *arg, const char *client_id, size_t id_len, uint16_t packet_id)
{
	struct rec *r = rec_new(arg, REC_QOS2);
	copy_str(r->client, sizeof(r->client), &r->client_len, client_id, id_len);
	r->packet_id = packet_id;
	return maybe_fail(arg, REC_QOS2);
}

static int on_retained(void *arg, const struct store_message *m)
{
	struct rec *r = rec_new(arg, REC_RETAINED);
	copy_message(r, m);
	return maybe_fail(arg, REC_RETAINED);
}

struct store_loader recording_loader(struct loaded *ld)
{
	return (struct store_loader){
		.arg = ld,
		.message = on_message,
		.session = on_session,
		.subscription = on_subscription,
		.queued = on_queued,
		.qos2_in = on_qos2_in,
		.retained = on_retained,
	};
}

void reload(struct loaded *ld)
{
	memset(ld, 0, sizeof(*ld));
	struct store *st = open_store(STORE_FULL, 0);
	struct store_loader l = recording_loader(ld);
	struct fm_errbuf eb = { { 0 } };
	int rc = store_load(st, &l, &ld->max_msg_id, &eb);
	store_close(st);
	cr_assert_eq(rc, FM_OK, "store_load: %s", eb.msg);
}

void loaded_free(struct loaded *ld)
{
	for (size_t i = 0; i < ld->n; i++) {
		free(ld->v[i].payload);
		free(ld->v[i].props);
	}
	free(ld->v);
	memset(ld, 0, sizeof(*ld));
}

size_t rec_count(const struct loaded *ld, enum rec_kind kind)
{
	size_t n = 0;
	for (size_t i = 0; i < ld->n; i++)
		n += ld->v[i].kind == kind;
	return n;
}

/* The first record of kind whose client and topic match (NULL matches any). */
static const struct rec *rec_find(const struct loaded *ld, enum rec_kind kind, const char *client_id,
				  const char *topic)
{
	for (size_t i = 0; i < ld->n; i++) {
		const struct rec *r = &ld->v[i];
		if (r->kind == kind && (!client_id || strcmp(r->client, client_id) == 0) &&
		    (!topic || strcmp(r->topic, topic) == 0))
			return r;
	}
	return NULL;
}

const struct rec *rec_message(const struct loaded *ld, uint64_t msg_id)
{
	for (size_t i = 0; i < ld->n; i++)
		if (ld->v[i].kind == REC_MESSAGE && ld->v[i].msg_id == msg_id)
			return &ld->v[i];
	return NULL;
}

const struct rec *rec_session(const struct loaded *ld, const char *client_id)
{
	return rec_find(ld, REC_SESSION, client_id, NULL);
}

const struct rec *rec_sub(const struct loaded *ld, const char *client_id, const char *filter)
{
	return rec_find(ld, REC_SUB, client_id, filter);
}

const struct rec *rec_retained(const struct loaded *ld, const char *topic)
{
	return rec_find(ld, REC_RETAINED, NULL, topic);
}

bool rec_has_qos2(const struct loaded *ld, const char *client_id, uint16_t packet_id)
{
	for (size_t i = 0; i < ld->n; i++)
		if (ld->v[i].kind == REC_QOS2 && strcmp(ld->v[i].client, client_id) == 0 &&
		    ld->v[i].packet_id == packet_id)
			return true;
	return false;
}

size_t rec_queue(const struct loaded *ld, const char *client_id, const struct rec **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < ld->n; i++)
		if (ld->v[i].kind == REC_QUEUED && strcmp(ld->v[i].client, client_id) == 0) {
			cr_assert_lt(n, max, "more queue entries for %s than expected", client_id);
			out[n++] = &ld->v[i];
		}
	return n;
}

/* --- the database file, bypassing the store -------------------------------- */

long long db_int(const char *sql)
{
	sqlite3 *db = NULL;
	cr_assert_eq(sqlite3_open_v2(t_db_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK, "open %s", t_db_path);
	sqlite3_stmt *st = NULL;
	cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: no row", sql);
	long long v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

void db_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK, "open %s", path);
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, err ? err : "?");
	sqlite3_close(db);
}

uint8_t *file_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f, "cannot open %s", path);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	long size = ftell(f);
	cr_assert_geq(size, 0);
	rewind(f);
	uint8_t *p = malloc((size_t)size + 1);
	cr_assert_not_null(p);
	cr_assert_eq(fread(p, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	*len = (size_t)size;
	return p;
}

void file_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "cannot create %s", path);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

void file_assert_same(const char *path, const uint8_t *want, size_t len)
{
	size_t got_len;
	uint8_t *got = file_read(path, &got_len);
	cr_assert_eq(got_len, len, "%s changed size: %zu bytes, was %zu", path, got_len, len);
	size_t i = 0;
	while (i < len && got[i] == want[i])
		i++;
	int was = i < len ? want[i] : -1, now = i < len ? got[i] : -1;
	free(got);
	cr_assert_eq(i, len, "%s changed at byte %zu (was 0x%02x, now 0x%02x)", path, i, was, now);
}
