/* Reading a whole (small) file into memory: configuration, password, ACL,
 * PSK and PEM files all arrive this way. */
#ifndef FM_CORE_READFILE_H
#define FM_CORE_READFILE_H

#include <stddef.h>

/* All of path, at most max bytes, into a NUL-terminated buffer the caller
 * frees (*len bytes before the terminator). FM_OK; FM_ENOTFOUND (it cannot
 * be opened) or FM_EIO (reading failed), both with *err_no set to errno;
 * FM_ETOOBIG (longer than max); FM_EPROTO (it holds a NUL byte: the
 * parsers read C strings); FM_ENOMEM. */
int fm_read_file(const char *path, size_t max, char **text, size_t *len, int *err_no);

#endif
