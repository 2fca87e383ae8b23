/* fleetmq error codes.
 *
 * Every fallible function returns an int: FM_OK (0) on success or a negative
 * enum fm_err. Outcomes that are not failures ("session resumed", "no
 * subscribers") never share this space; they travel in out-parameters.
 * Protocol violations are FM_EPROTO plus an MQTT reason code carried
 * separately, so the protocol layer decides between NACK and DISCONNECT. */
#ifndef FLEETMQ_ERRORS_H
#define FLEETMQ_ERRORS_H

enum fm_err {
	FM_OK = 0,
	FM_ENOMEM = -1,    /* allocation failed */
	FM_EINVAL = -2,    /* caller passed something invalid (our bug or bad config) */
	FM_EPROTO = -3,    /* peer violated the protocol; a reason code says how */
	FM_EAGAIN = -4,    /* not enough bytes yet / would block; try again later */
	FM_EIO = -5,       /* an operating-system I/O error */
	FM_ECLOSED = -6,   /* the peer closed the connection */
	FM_ETOOBIG = -7,   /* exceeds a configured size limit */
	FM_ENOTFOUND = -8, /* no such entry */
	FM_ELIMIT = -9,    /* a configured count limit was reached */
	FM_ECONFIG = -10,  /* invalid configuration */
	FM_EDENIED = -11,  /* not authorised */
	FM_ESTORE = -12,   /* the durable store failed or refused */
	FM_EFULL = -13,    /* out of space: the disk, or a configured size limit */
};

/* Text for any fm_err value; never NULL. Exported from the broker binary,
 * so plugins may call it too. */
#if defined(__GNUC__)
__attribute__((visibility("default")))
#endif
const char *fm_strerror(int err);

#endif
