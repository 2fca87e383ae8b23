/* jwt_auth's JSON reader and base64url/HS256 checks (plugins/jwt_auth/
 * json.c, jwt.c) without a broker: the edge cases a token can hide in. */
#include "json.h"
#include "jwt.h"

#include <criterion/criterion.h>
#include <string.h>

static bool read1(const char *text, struct json_member *m, size_t n, const char **why)
{
	static char buf[1024];
	size_t len = strlen(text);
	cr_assert(len < sizeof(buf));
	memcpy(buf, text, len);
	return json_object_read(buf, len, m, n, why);
}

Test(jwt_json, strings_are_unescaped_before_comparing)
{
	struct json_member m[1] = { { .name = "sub" } };
	const char *why = NULL;
	cr_assert(read1("{\"s\\u0075b\" : \"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\"}", m, 1, &why), "%s", why);
	cr_assert_eq(m[0].kind, JSON_STRING);
	cr_assert_eq(m[0].str_len, 11);
	cr_assert(memcmp(m[0].str, "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80", 11) == 0);
}

Test(jwt_json, what_it_cannot_read_exactly_is_refused)
{
	static const char *const bad[] = {
		"", "[]", "{", "{\"a\":}", "{\"a\":1,}", "{\"a\":01}", "{\"a\":1} x", "{\"a\":\"\\u0000\"}",
		"{\"a\":\"\\ud83d\"}", "{\"a\":\"\\ude00\"}", "{\"a\":\"\\x\"}", "{\"a\":\"\x01\"}", "{\"a\":tru}",
		"{\"a\":[1 2]}", "{\"a\":\"open", "{'a':1}", "{\"sub\":\"x\",\"sub\":\"y\"}",
		"{\"a\":[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_member m[1] = { { .name = "sub" } };
		const char *why = NULL;
		cr_assert_not(read1(bad[i], m, 1, &why), "accepted: %s", bad[i]);
		cr_assert(why, "no reason for: %s", bad[i]);
	}
	struct json_member m[1] = { { .name = "sub" } };
	const char *why = NULL;
	cr_assert(read1("{\"a\":[[[[[[[[[[[[[[1]]]]]]]]]]]]]]}", m, 1, &why), "depth 15: %s", why);
}

Test(jwt_json, numbers_are_integers_only_when_they_fit)
{
	struct json_member m[4] = { { .name = "a" }, { .name = "b" }, { .name = "c" }, { .name = "d" } };
	const char *why = NULL;
	cr_assert(read1("{\"a\":9223372036854775807,\"b\":9223372036854775808,\"c\":-9223372036854775808,"
			"\"d\":1e3}", m, 4, &why), "%s", why);
	cr_assert_eq(m[0].kind, JSON_INT);
	cr_assert_eq(m[0].num, INT64_MAX);
	cr_assert_eq(m[1].kind, JSON_NUMBER);
	cr_assert_eq(m[2].kind, JSON_INT);
	cr_assert_eq(m[2].num, INT64_MIN);
	cr_assert_eq(m[3].kind, JSON_NUMBER);
}

Test(jwt_json, an_array_is_searched_for_the_wanted_string)
{
	struct json_member m[2] = { { .name = "aud", .want = "mqtt" }, { .name = "x" } };
	const char *why = NULL;
	cr_assert(read1("{\"aud\":[\"http\",\"mq\\u0074t\"],\"x\":{\"aud\":\"y\"}}", m, 2, &why), "%s", why);
	cr_assert_eq(m[0].kind, JSON_ARRAY);
	cr_assert(m[0].array_strings && m[0].array_has);
	cr_assert_eq(m[1].kind, JSON_OTHER, "a nested object is not read");
	cr_assert(read1("{\"aud\":[\"mqtt\",1]}", m, 2, &why));
	cr_assert_not(m[0].array_strings);
}

/* eyJhbGciOiJIUzI1NiJ9 is {"alg":"HS256"}; the last character of a
 * base64url run may carry no bits past the data (canonical form only). */
Test(jwt_json, jwt_shapes)
{
	struct jwt_rules r = { .key = (const uint8_t *)"k", .key_len = 1, .username_claim = "sub" };
	const char *why = NULL;
	static const char *const not_jwt[] = { "password", "a.b.c", "my.pass.word", "eyJhbGciOiJIUzI1NiJ9.e30",
					       "eyJhbGciOiJIUzI1NiJ9..x", "e30.e30.a.b", "e30+.e30.x" };
	for (size_t i = 0; i < sizeof(not_jwt) / sizeof(not_jwt[0]); i++)
		cr_assert_eq(jwt_check(&r, (const uint8_t *)not_jwt[i], strlen(not_jwt[i]), "u", "c", 0, &why),
			     JWT_NOT_A_JWT, "%s", not_jwt[i]);
	static const char *const invalid[] = { "e30.e30.", "eyJhbGciOiJIUzI1NiJ9.e30.", "eyJhbGciOiJub25lIn0.e30.",
					       "eyJhbGciOiJIUzI1NiJ9.e31.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		cr_assert_eq(jwt_check(&r, (const uint8_t *)invalid[i], strlen(invalid[i]), "u", "c", 0, &why),
			     JWT_INVALID, "%s", invalid[i]);
}
