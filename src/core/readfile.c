/* Whole-file reads (readfile.h). */
#include "core/readfile.h"
#include "core/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fm_read_file(const char *path, size_t max, char **text, size_t *len, int *err_no)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		*err_no = errno;
		return FM_ENOTFOUND;
	}
	size_t n = 0, cap = 4096;
	char *buf = malloc(cap);
	int rc = buf ? FM_OK : FM_ENOMEM;
	while (rc == FM_OK) {
		if (cap - n < 2) {
			char *bigger = cap > max ? NULL : realloc(buf, cap * 2);
			if (!bigger) {
				rc = cap > max ? FM_ETOOBIG : FM_ENOMEM;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (rc == FM_OK && ferror(f)) {
		*err_no = errno;
		rc = FM_EIO;
	}
	fclose(f);
	if (rc == FM_OK && n > max)
		rc = FM_ETOOBIG;
	if (rc == FM_OK) {
		buf[n] = '\0';
		if (memchr(buf, '\0', n))
			rc = FM_EPROTO;
	}
	if (rc != FM_OK) {
		free(buf);
		return rc;
	}
	*text = buf;
	*len = n;
	return FM_OK;
}
