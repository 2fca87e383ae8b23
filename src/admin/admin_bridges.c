/* /api/v1/bridges: each bridge's state as its worker last published it
 * (atomics and a short locked copy of two strings, no worker asked). */
#include "admin/admin_int.h"
#include "bridge/bridge.h"

static cJSON *bridge_json(const struct bridge_status *st)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "name", st->name);
	cJSON_AddStringToObject(j, "state", bridge_state_name(st->state));
	cJSON_AddBoolToObject(j, "connected", st->state == BRIDGE_CONNECTED);
	admin_json_add(j, "address", st->address[0] ? cJSON_CreateString(st->address) : cJSON_CreateNull());
	cJSON_AddStringToObject(j, "remote_clientid", st->remote_clientid);
	cJSON_AddStringToObject(j, "local_clientid", st->local_clientid);
	admin_json_add(j, "connected_since_ms",
		       st->connected_since_ms ? cJSON_CreateNumber((double)st->connected_since_ms) : cJSON_CreateNull());
	cJSON_AddNumberToObject(j, "connects", (double)st->connects);
	cJSON_AddNumberToObject(j, "queued", (double)st->queued);
	cJSON_AddNumberToObject(j, "inflight", (double)st->inflight);
	cJSON_AddNumberToObject(j, "sent", (double)st->sent);
	cJSON_AddNumberToObject(j, "received", (double)st->received);
	admin_json_add(j, "last_error", st->last_error[0] ? cJSON_CreateString(st->last_error) : cJSON_CreateNull());
	return j;
}

void admin_bridges(struct broker *b, const struct http_request *req, struct http_response *resp)
{
	(void)req;
	cJSON *j = cJSON_CreateObject();
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < bridges_count(b); i++) {
		struct bridge_status st;
		bridges_status(b, i, &st);
		admin_json_add(list, NULL, bridge_json(&st));
	}
	admin_json_add(j, "bridges", list);
	admin_reply_json(resp, 200, j);
}
