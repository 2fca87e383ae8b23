/* Text for fm_err codes, and the errno conversion done once at each syscall. */
#include "core/err.h"

#include <errno.h>

const char *fm_strerror(int err)
{
	switch (err) {
	case FM_OK: return "success";
	case FM_ENOMEM: return "out of memory";
	case FM_EINVAL: return "invalid argument";
	case FM_EPROTO: return "protocol error";
	case FM_EAGAIN: return "try again";
	case FM_EIO: return "I/O error";
	case FM_ECLOSED: return "connection closed";
	case FM_ETOOBIG: return "too large";
	case FM_ENOTFOUND: return "not found";
	case FM_ELIMIT: return "limit reached";
	case FM_ECONFIG: return "configuration error";
	case FM_EDENIED: return "not authorised";
	case FM_ESTORE: return "store error";
	case FM_EFULL: return "out of space";
	}
	return "unknown error";
}

int fm_err_errno(int e)
{
	switch (e) {
	case EAGAIN: return FM_EAGAIN;
	case ENOMEM: return FM_ENOMEM;
	case EINVAL: return FM_EINVAL;
	case EPIPE:
	case ECONNRESET: return FM_ECLOSED;
	case EMFILE:
	case ENFILE: return FM_ELIMIT;
	}
	return FM_EIO;
}
