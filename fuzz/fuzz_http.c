/* libFuzzer target: the part of the HTTP request path that is ours
 * (libwebsockets parses the HTTP itself): routing, the method rule and
 * every endpoint's argument checks (admin_request_check). The input is
 * "METHOD-BYTE PATH?name=value&name=value..." as the server hands it over
 * (path and arguments already split and decoded). Checks beside "no
 * crash": the answer is one of 0, 400, 404, 405, a refusal says why, and
 * the same request gets the same answer twice. */
#include "admin/admin.h"
#include "net/http.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The request's strings: the path, then each argument in place. */
struct text {
	char path[1024];
	char args[HTTP_MAX_ARGS][256];
};

static void add_arg(struct http_request *r, struct text *t, const char *frag, size_t len)
{
	if (r->n_args == HTTP_MAX_ARGS) {
		r->too_many_args = true;
		return;
	}
	char *slot = t->args[r->n_args];
	len = len < sizeof(t->args[0]) - 1 ? len : sizeof(t->args[0]) - 1;
	memcpy(slot, frag, len);
	slot[len] = '\0';
	char *eq = strchr(slot, '=');
	if (eq)
		*eq = '\0';
	r->args[r->n_args++] = (struct http_arg){ .name = slot, .value = eq ? eq + 1 : "" };
}

static void build(const uint8_t *data, size_t size, struct http_request *r, struct text *t)
{
	memset(r, 0, sizeof(*r));
	r->method = size && data[0] < 3 ? (enum http_method)data[0] : HTTP_GET;
	r->authorization = "";
	const char *p = size ? (const char *)data + 1 : "";
	size_t n = size ? size - 1 : 0;
	size_t path_len = 0;
	while (path_len < n && p[path_len] != '?' && p[path_len] != '\0')
		path_len++;
	size_t copy = path_len < sizeof(t->path) - 1 ? path_len : sizeof(t->path) - 1;
	memcpy(t->path, p, copy);
	t->path[copy] = '\0';
	r->path = t->path;
	for (size_t i = path_len + 1; i < n;) {
		size_t end = i;
		while (end < n && p[end] != '&')
			end++;
		add_arg(r, t, p + i, end - i);
		i = end + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct text t;
	struct http_request r;
	build(data, size, &r, &t);
	const char *why = NULL;
	unsigned status = admin_request_check(&r, &why);
	if (status != 0 && status != 400 && status != 404 && status != 405)
		abort();
	if (status != 0 && (!why || !*why))
		abort(); /* every refusal says why */
	const char *why2 = NULL;
	if (admin_request_check(&r, &why2) != status)
		abort();
	for (size_t i = 0; i < r.n_args; i++)
		if (http_arg(&r, r.args[i].name) == NULL)
			abort(); /* every argument can be found by its name */
	return 0;
}
