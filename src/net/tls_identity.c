/* A client certificate's identity as mosquitto reports it: the subject's
 * common name (use_identity_as_username) or the whole subject in RFC 2253
 * form (use_subject_as_username), which ACL files then name. */
#include "net/tls.h"

#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <string.h>

bool tls_cert_cn(const mbedtls_x509_crt *crt, char *out, size_t len)
{
	for (const mbedtls_x509_name *n = &crt->subject; n; n = n->next) {
		if (!n->oid.p || MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0)
			continue;
		/* a name with a NUL in it would be cut short: not an identity */
		if (n->val.len + 1 > len || memchr(n->val.p, '\0', n->val.len))
			return false;
		memcpy(out, n->val.p, n->val.len);
		out[n->val.len] = '\0';
		return true;
	}
	return false;
}

/* Output with a bound; false once it does not fit. */
struct dn_out {
	char *p;
	size_t len, used;
	bool ok;
};

static void put(struct dn_out *o, const char *s, size_t n)
{
	if (!o->ok || o->used + n + 1 > o->len) {
		o->ok = false;
		return;
	}
	memcpy(o->p + o->used, s, n);
	o->used += n;
	o->p[o->used] = '\0';
}

/* RFC 2253 escaping as OpenSSL's XN_FLAG_RFC2253 does it: the specials
 * with a backslash, a leading '#' or space and a trailing space too, and
 * control and non-ASCII bytes as \XX. */
static void put_value(struct dn_out *o, const unsigned char *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = v[i];
		char esc[4];
		bool edge = (i == 0 && (ch == '#' || ch == ' ')) || (i + 1 == n && ch == ' ');
		if (ch < 0x20 || ch >= 0x7f) {
			snprintf(esc, sizeof(esc), "\\%02X", ch);
			put(o, esc, 3);
		} else if (edge || strchr(",+\"\\<>;", ch)) {
			esc[0] = '\\';
			esc[1] = (char)ch;
			put(o, esc, 2);
		} else {
			put(o, (const char *)&ch, 1);
		}
	}
}

static void put_attribute(struct dn_out *o, const mbedtls_x509_name *n)
{
	const char *short_name = NULL;
	char dotted[64];
	if (mbedtls_oid_get_attr_short_name(&n->oid, &short_name) != 0) {
		if (mbedtls_oid_get_numeric_string(dotted, sizeof(dotted), &n->oid) < 0) {
			o->ok = false;
			return;
		}
		short_name = dotted;
	}
	put(o, short_name, strlen(short_name));
	put(o, "=", 1);
	put_value(o, n->val.p, n->val.len);
}

#define DN_MAX_ATTRS 64

bool tls_cert_subject(const mbedtls_x509_crt *crt, char *out, size_t len)
{
	/* RFC 2253 as OpenSSL writes it: every attribute in reverse order,
	 * the RDNs and the values inside a multi-valued RDN alike; '+' joins
	 * values of one RDN (mbedtls marks them next_merged), ',' the RDNs */
	const mbedtls_x509_name *attr[DN_MAX_ATTRS];
	size_t n = 0;
	for (const mbedtls_x509_name *a = &crt->subject; a && a->oid.p; a = a->next) {
		if (n == DN_MAX_ATTRS)
			return false;
		attr[n++] = a;
	}
	struct dn_out o = {.p = out, .len = len, .ok = len > 0};
	if (o.ok)
		out[0] = '\0';
	for (size_t i = n; i-- > 0;) {
		if (i + 1 != n)
			put(&o, attr[i]->next_merged ? "+" : ",", 1);
		put_attribute(&o, attr[i]);
	}
	return o.ok && n > 0;
}
