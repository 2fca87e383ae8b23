/* A minimal JSON reader for JWT headers and claims sets (RFC 8259): the
 * text must be exactly one object; the caller names in advance the members
 * it wants and gets back their kind and value. Every other member is
 * parsed and checked for syntax, then ignored (nested objects and arrays
 * included, to a depth of 16), so a token may carry claims we do not use.
 *
 * Deliberately not here: floats as values (a number with a fraction or an
 * exponent is JSON_NUMBER, which no check accepts), \u0000 inside strings
 * (refused: it could make two different names compare equal as C strings),
 * a wanted member given twice (refused: which one a reader takes differs
 * between implementations, so an attacker could pick). Pure: no I/O, no
 * allocation, no globals; safe on any thread. */
#ifndef JWT_AUTH_JSON_H
#define JWT_AUTH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_kind {
	JSON_ABSENT = 0,            /* the member is not in the object */
	JSON_STRING,                /* str, str_len */
	JSON_INT,                   /* num: an integer that fits int64_t */
	JSON_NUMBER,                /* any other number */
	JSON_ARRAY,                 /* array_strings, array_has */
	JSON_OTHER,                 /* an object, true, false or null */
};

struct json_member {
	const char *name;           /* in: the member wanted (NULL: slot unused) */
	const char *want;           /* in, optional: for an array, look for this string */
	enum json_kind kind;        /* out */
	const char *str;            /* JSON_STRING: unescaped, inside the parsed buffer, no NUL after it */
	size_t str_len;
	int64_t num;                /* JSON_INT */
	bool array_strings;         /* JSON_ARRAY: every element is a string */
	bool array_has;             /* JSON_ARRAY: one element equals want */
};

/* Read the object in buf[0, len) into m[0, n) (reset first). The buffer is
 * modified: strings are unescaped in place, and m's str point into it.
 * Returns true, or false with *why (static text) saying what is wrong. */
bool json_object_read(char *buf, size_t len, struct json_member *m, size_t n, const char **why);

#endif
