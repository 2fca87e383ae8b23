/* The dashboard's files (web/dashboard/), embedded in the binary at build
 * time by tools/embed_web.py, which writes the table this declares. */
#ifndef FM_ADMIN_WEB_ASSETS_H
#define FM_ADMIN_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *path;           /* "/" and the file's name: "/dashboard.js" */
	const char *content_type;   /* from the file's extension, with charset for text */
	const unsigned char *data;  /* the file's bytes, not NUL-terminated */
	size_t len;                 /* bytes in data */
};

extern const struct web_asset web_assets[];
extern const size_t web_assets_count;

#endif
