/* /healthz: every worker answers (a worker stuck in a loop or a lock is
 * the failure a restart cures); /readyz: the broker takes clients and can
 * keep its promises (running, the store writing, memory below its limit). */
#include "admin/admin_int.h"
#include "proto/worker_poll.h"

/* A worker's answer to "are you there": that it ran at all. */
static void *present(struct worker *w, const void *arg)
{
	(void)w;
	(void)arg;
	return NULL;
}

void admin_healthz(struct broker *b, const struct http_request *req, struct http_response *resp)
{
	(void)req;
	struct worker_poll *p = worker_poll_start(b, present, NULL, 0, NULL);
	if (!p)
		return admin_reply_error(resp, 500, "out of memory");
	bool all = worker_poll_wait(p, ADMIN_WORKER_WAIT_MS);
	cJSON *j = cJSON_CreateObject();
	cJSON *stuck = cJSON_CreateArray();
	for (unsigned i = 0; i < b->n_workers; i++)
		if (!worker_poll_answered(p, i))
			admin_json_add(stuck, NULL, cJSON_CreateNumber(i));
	worker_poll_release(p);
	cJSON_AddStringToObject(j, "status", all ? "ok" : "unhealthy");
	cJSON_AddNumberToObject(j, "workers", b->n_workers);
	admin_json_add(j, "workers_not_answering", stuck);
	admin_reply_json(resp, all ? 200 : 503, j);
}

void admin_readyz(struct broker *b, const struct http_request *req, struct http_response *resp)
{
	(void)req;
	cJSON *j = cJSON_CreateObject();
	cJSON *why = cJSON_CreateArray();
	if (!atomic_load(&b->running))
		admin_json_add(why, NULL, cJSON_CreateString("not running (starting or stopping)"));
	if (atomic_load(&b->store_fail_run) > 0)
		admin_json_add(why, NULL, cJSON_CreateString("the durable store is failing its writes"));
	if (atomic_load(&b->over_memory))
		admin_json_add(why, NULL, cJSON_CreateString("above memory_limit: new connections are refused"));
	bool ready = cJSON_GetArraySize(why) == 0;
	cJSON_AddBoolToObject(j, "ready", ready);
	admin_json_add(j, "reasons", why);
	admin_reply_json(resp, ready ? 200 : 503, j);
}
