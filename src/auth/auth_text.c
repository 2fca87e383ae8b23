/* Reading auth files, walking their lines, and the name index. */
#include "auth/auth_text.h"
#include "core/readfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- files ---------------------------------------------------------------- */

/* Password and ACL files: 100,000 users fit in a few MiB. */
#define AUTH_FILE_MAX (256u * 1024u * 1024u)

int auth_read_file(const char *path, const char *what, char **text, size_t *len,
		   struct fm_errbuf *eb)
{
	int err_no = 0;
	int rc = fm_read_file(path, AUTH_FILE_MAX, text, len, &err_no);
	switch (rc) {
	case FM_OK: return FM_OK;
	case FM_ENOTFOUND: return fm_errbuf_set(eb, "cannot read %s '%s': %s", what, path, strerror(err_no));
	case FM_EIO: return fm_errbuf_set(eb, "cannot read %s '%s'", what, path);
	case FM_EPROTO: return fm_errbuf_set(eb, "%s: not a text file (it holds a NUL byte)", path);
	case FM_ETOOBIG: return fm_errbuf_set(eb, "%s '%s' is larger than 256 MiB", what, path);
	default: return fm_errbuf_set(eb, "out of memory reading %s '%s'", what, path);
	}
}

/* --- lines ---------------------------------------------------------------- */

bool auth_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

char *auth_trim_end(char *s)
{
	size_t n = strlen(s);
	while (n && (auth_is_blank(s[n - 1]) || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

char *auth_skip_blanks(char *s)
{
	while (auth_is_blank(*s))
		s++;
	return s;
}

void auth_lines_init(struct auth_lines *it, char *text)
{
	it->next = text;
	it->no = 0;
}

char *auth_lines_next(struct auth_lines *it)
{
	while (it->next) {
		char *line = it->next;
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		it->next = nl ? nl + 1 : NULL;
		it->no++;
		line = auth_trim_end(auth_skip_blanks(line));
		if (line[0] != '\0' && line[0] != '#')
			return line;
	}
	return NULL;
}

/* --- name index ----------------------------------------------------------- */

/* FNV-1a. The names in the table come from the operator's file, not from
 * clients; a client only chooses what is looked up, which costs it one
 * probe sequence in a half-empty table whatever it sends. */
uint32_t name_hash(const char *name, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 16777619u;
	}
	return h;
}

uint32_t name_index_find(const struct name_index *ix, const char *name, size_t len, name_eq_fn *eq,
			 const void *owner)
{
	if (ix->cap == 0)
		return UINT32_MAX;
	uint32_t h = name_hash(name, len), mask = ix->cap - 1;
	for (uint32_t i = h & mask;; i = (i + 1) & mask) {
		const struct name_slot *s = &ix->slots[i];
		if (s->pos1 == 0)
			return UINT32_MAX;
		if (s->hash == h && eq(owner, s->pos1 - 1, name, len))
			return s->pos1 - 1;
	}
}

static void place(struct name_slot *slots, uint32_t cap, struct name_slot s)
{
	uint32_t i = s.hash & (cap - 1);
	while (slots[i].pos1 != 0)
		i = (i + 1) & (cap - 1);
	slots[i] = s;
}

static int rehash(struct name_index *ix, uint32_t cap)
{
	struct name_slot *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return FM_ENOMEM;
	for (uint32_t i = 0; i < ix->cap; i++)
		if (ix->slots[i].pos1 != 0)
			place(slots, cap, ix->slots[i]);
	free(ix->slots);
	ix->slots = slots;
	ix->cap = cap;
	return FM_OK;
}

int name_index_add(struct name_index *ix, const char *name, size_t len, uint32_t pos)
{
	if ((ix->count + 1) * 2 > ix->cap) {
		if (ix->cap >= (UINT32_C(1) << 31))
			return FM_ENOMEM;
		int rc = rehash(ix, ix->cap ? ix->cap * 2 : 16);
		if (rc != FM_OK)
			return rc;
	}
	place(ix->slots, ix->cap, (struct name_slot){ .hash = name_hash(name, len), .pos1 = pos + 1 });
	ix->count++;
	return FM_OK;
}

void name_index_fini(struct name_index *ix)
{
	free(ix->slots);
	*ix = (struct name_index){ 0 };
}
