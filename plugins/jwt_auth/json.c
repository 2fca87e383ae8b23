/* The JSON reader of json.h: a recursive-descent parser over a cursor that
 * never reads past the end of the buffer. Strings are unescaped in place:
 * an escape is always at least as long as what it stands for (\n: 2 bytes
 * for 1, \uXXXX: 6 for at most 3, a surrogate pair: 12 for 4), so the write
 * position never overtakes the read position. */
#include "json.h"

#include <string.h>

#define MAX_DEPTH 16

struct cur {
	char *p;                    /* next byte to read */
	char *end;                  /* one past the last byte */
	int depth;                  /* objects and arrays open around p */
	const char *why;            /* the first error */
};

/* One parsed value, as json_member reports it. */
struct val {
	enum json_kind kind;
	const char *str;
	size_t str_len;
	int64_t num;
	bool array_strings;
	bool array_has;
};

static bool fail(struct cur *c, const char *why)
{
	if (!c->why)
		c->why = why;
	return false;
}

static void skip_ws(struct cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static bool take(struct cur *c, char ch)
{
	skip_ws(c);
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

static int hex4(const char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char h = p[i];
		int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* \uXXXX (and its low half, for a surrogate pair) after the "\u": the code
 * point, or -1. */
static long read_unicode(struct cur *c)
{
	if (c->end - c->p < 4)
		return -1;
	long cp = hex4(c->p);
	c->p += 4;
	if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
		return -1; /* not hex, or a low surrogate alone */
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u')
			return -1;
		long lo = hex4(c->p + 2);
		if (lo < 0xDC00 || lo > 0xDFFF)
			return -1;
		c->p += 6;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	return cp;
}

static char *put_utf8(char *w, long cp)
{
	if (cp < 0x80) {
		*w++ = (char)cp;
	} else if (cp < 0x800) {
		*w++ = (char)(0xC0 | (cp >> 6));
		*w++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*w++ = (char)(0xE0 | (cp >> 12));
		*w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*w++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*w++ = (char)(0xF0 | (cp >> 18));
		*w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
		*w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*w++ = (char)(0x80 | (cp & 0x3F));
	}
	return w;
}

/* A string at c->p (whitespace skipped), unescaped in place. */
static bool read_string(struct cur *c, const char **out, size_t *out_len)
{
	if (!take(c, '"'))
		return fail(c, "a string was expected");
	char *start = c->p, *w = c->p;
	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p++;
		if (ch == '"') {
			*out = start;
			*out_len = (size_t)(w - start);
			return true;
		}
		if (ch < 0x20)
			return fail(c, "a control character inside a string");
		if (ch != '\\') {
			*w++ = (char)ch;
			continue;
		}
		if (c->p >= c->end)
			break;
		char e = *c->p++;
		switch (e) {
		case '"': case '\\': case '/': *w++ = e; break;
		case 'b': *w++ = '\b'; break;
		case 'f': *w++ = '\f'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 't': *w++ = '\t'; break;
		case 'u': {
			long cp = read_unicode(c);
			if (cp <= 0)
				return fail(c, cp == 0 ? "\\u0000 inside a string" : "a bad \\u escape");
			w = put_utf8(w, cp);
			break;
		}
		default:
			return fail(c, "a bad escape inside a string");
		}
	}
	return fail(c, "an unterminated string");
}

static bool is_digit(struct cur *c)
{
	return c->p < c->end && *c->p >= '0' && *c->p <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?: JSON_INT when it is an
 * integer that fits int64_t, else JSON_NUMBER. */
static bool read_number(struct cur *c, struct val *v)
{
	bool neg = c->p < c->end && *c->p == '-';
	if (neg)
		c->p++;
	if (!is_digit(c))
		return fail(c, "a bad number");
	bool fits = true;
	uint64_t mag = 0;
	uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	if (*c->p == '0') {
		c->p++;
	} else {
		while (is_digit(c)) {
			unsigned d = (unsigned)(*c->p++ - '0');
			if (mag > (limit - d) / 10)
				fits = false;
			else
				mag = mag * 10 + d;
		}
	}
	bool integer = true;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		integer = false;
		if (!is_digit(c))
			return fail(c, "a bad number");
		while (is_digit(c))
			c->p++;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		integer = false;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (!is_digit(c))
			return fail(c, "a bad number");
		while (is_digit(c))
			c->p++;
	}
	if (integer && fits) {
		v->kind = JSON_INT;
		v->num = neg ? (mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
	} else {
		v->kind = JSON_NUMBER;
	}
	return true;
}

static bool read_literal(struct cur *c, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
		return fail(c, "an unexpected character");
	c->p += n;
	return true;
}

static bool read_value(struct cur *c, struct val *v, const char *want);

/* The members of an object after its '{', up to its '}'; the caller's
 * members (m, n: may be 0) are filled in from those it names. */
static bool read_members(struct cur *c, struct json_member *m, size_t n)
{
	if (take(c, '}'))
		return true;
	do {
		const char *key;
		size_t key_len;
		if (!read_string(c, &key, &key_len))
			return false;
		if (!take(c, ':'))
			return fail(c, "':' was expected");
		/* a member we want: which one (several slots may share a name) */
		const char *want = NULL;
		for (size_t i = 0; i < n; i++) {
			if (m[i].name && strlen(m[i].name) == key_len && memcmp(m[i].name, key, key_len) == 0) {
				if (m[i].kind != JSON_ABSENT)
					return fail(c, "a member given twice");
				if (m[i].want)
					want = m[i].want;
			}
		}
		struct val v = { 0 };
		if (!read_value(c, &v, want))
			return false;
		for (size_t i = 0; i < n; i++) {
			if (m[i].name && strlen(m[i].name) == key_len && memcmp(m[i].name, key, key_len) == 0) {
				m[i].kind = v.kind;
				m[i].str = v.str;
				m[i].str_len = v.str_len;
				m[i].num = v.num;
				m[i].array_strings = v.array_strings;
				m[i].array_has = v.array_has && m[i].want;
			}
		}
	} while (take(c, ','));
	return take(c, '}') || fail(c, "',' or '}' was expected");
}

/* The elements of an array after its '[', up to its ']'. */
static bool read_elements(struct cur *c, struct val *v, const char *want)
{
	v->array_strings = true;
	if (take(c, ']'))
		return true;
	do {
		struct val e = { 0 };
		if (!read_value(c, &e, NULL))
			return false;
		if (e.kind != JSON_STRING)
			v->array_strings = false;
		else if (want && strlen(want) == e.str_len && memcmp(want, e.str, e.str_len) == 0)
			v->array_has = true;
	} while (take(c, ','));
	return take(c, ']') || fail(c, "',' or ']' was expected");
}

static bool read_value(struct cur *c, struct val *v, const char *want)
{
	skip_ws(c);
	if (c->p >= c->end)
		return fail(c, "a value was expected");
	switch (*c->p) {
	case '"':
		v->kind = JSON_STRING;
		return read_string(c, &v->str, &v->str_len);
	case '{':
	case '[': {
		bool object = *c->p++ == '{';
		if (++c->depth > MAX_DEPTH)
			return fail(c, "nested too deep");
		bool ok = object ? read_members(c, NULL, 0) : read_elements(c, v, want);
		c->depth--;
		v->kind = object ? JSON_OTHER : JSON_ARRAY;
		return ok;
	}
	case 't':
		v->kind = JSON_OTHER;
		return read_literal(c, "true");
	case 'f':
		v->kind = JSON_OTHER;
		return read_literal(c, "false");
	case 'n':
		v->kind = JSON_OTHER;
		return read_literal(c, "null");
	default:
		return read_number(c, v);
	}
}

bool json_object_read(char *buf, size_t len, struct json_member *m, size_t n, const char **why)
{
	for (size_t i = 0; i < n; i++) {
		const char *name = m[i].name, *want = m[i].want;
		m[i] = (struct json_member){ .name = name, .want = want };
	}
	struct cur c = { .p = buf, .end = buf + len, .depth = 1 };
	bool ok = take(&c, '{') || fail(&c, "not a JSON object");
	ok = ok && read_members(&c, m, n);
	if (ok) {
		skip_ws(&c);
		if (c.p != c.end)
			ok = fail(&c, "text after the object");
	}
	if (!ok)
		*why = c.why;
	return ok;
}
