/* The dashboard page at "/" and its script and style sheet: static files
 * embedded in the binary (web_assets.h), served without a token because
 * they hold no data; the page fetches the data from the API with the
 * token the operator gives it. */
#include "admin/admin_int.h"
#include "admin/web_assets.h"

#include <string.h>

/* Only our own script, style sheet and API calls; no inline script, no
 * framing (clickjacking), no forms posted elsewhere. The favicon is an
 * empty data: URL (so the browser does not ask for /favicon.ico). */
#define DASHBOARD_CSP                                                                                     \
	"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " \
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static const struct web_asset *asset_of(const char *path)
{
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (size_t i = 0; i < web_assets_count; i++)
		if (strcmp(web_assets[i].path, path) == 0)
			return &web_assets[i];
	return NULL;
}

void admin_web(struct broker *b, const struct http_request *req, struct http_response *resp)
{
	(void)b;
	const struct web_asset *a = asset_of(req->path);
	if (!a) /* a route with no embedded file: the build left one out */
		return admin_reply_error(resp, 404, "no such file");
	if (buf_append(&resp->body, a->data, a->len) != FM_OK)
		return admin_reply_error(resp, 500, "out of memory");
	resp->content_type = a->content_type;
	resp->csp = DASHBOARD_CSP;
}
