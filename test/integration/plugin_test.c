/* Plugins in a real broker: the host's refusals at start (test/plugins/:
 * a plugin built for API version 999, one without fm_plugin_init, one whose
 * init fails), jwt_auth end to end (plugins/jwt_auth: HS256 tokens as MQTT
 * passwords, with raw clients for the exact CONNACK codes and mosquitto_pub
 * / mosquitto_sub / libmosquitto as deployed devices would be), the example
 * plugin (plugins/example: topic rewrite, drop, CONNECT/DISCONNECT, TICK)
 * and ACL_CHECK from a plugin (test/plugins/acl_deny).
 *
 * The plugin files come from meson (FLEETMQ_PLUGIN_<NAME>); when
 * FLEETMQ_TEST_BIN points at a broker of another build directory (a
 * sanitizer build), that directory's own plugins are taken when it has
 * them, since they are built with the broker's flags.
 *
 * Refusals of a CONNECT, by protocol version (auth_expect_refused checks the
 * code, Session Present 0 and the close):
 *   3.1.1, 3.2.2.3 Connect Return code: 4 "bad user name or password"
 *          (any token we refuse: the client gave a username), 5 "not authorized";
 *   5.0,   3.2.2.2 Connect Reason Code: 0x86 Bad User Name or Password,
 *          0x87 Not authorized. */
#include "auth.h"

#include "fleetmq/errors.h"
#include "fleetmq/plugin.h"

#include <criterion/criterion.h>
#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

TestSuite(plugin_host, .init = auth_init, .fini = auth_fini, .timeout = 30);
TestSuite(jwt_auth, .init = auth_init, .fini = auth_fini, .timeout = 30);
TestSuite(jwt_clients, .init = auth_init, .fini = auth_fini, .timeout = 30);
TestSuite(example_plugin, .init = auth_init, .fini = auth_fini, .timeout = 30);
TestSuite(plugin_acl, .init = auth_init, .fini = auth_fini, .timeout = 30);

static const uint8_t versions[] = {MQTT_V311, MQTT_V5};

/* 3.2.2.3 return code 4 / 3.2.2.2 reason code 0x86 */
static uint8_t bad_credentials(uint8_t version)
{
	return version == MQTT_V5 ? MQTT_RC_BAD_USERNAME_OR_PASSWORD : MQTT_CONNACK_BAD_CREDENTIALS;
}

/* --- plugin files ------------------------------------------------------------ */

/* Run the broker on conf (a whole config, @D@ expanded) expecting it not to
 * start; its output into out. */
static void expect_no_start(const char *conf, char *out, size_t len, const char *what)
{
	auth_write("startup.conf", conf);
	const char *argv[] = {hb_binary(), "-c", auth_path("startup.conf"), NULL};
	int rc = hb_run_capture(argv, out, len, 10);
	cr_assert_neq(rc, 0, "%s: the broker started (exit %d): %s", what, rc, out);
	cr_assert_neq(rc, 128 + 9, "%s: the broker kept running", what);
}

static void startup_conf(char *conf, size_t len, const char *plugin_lines)
{
	snprintf(conf, len, "listener %u 127.0.0.1\nallow_anonymous true\nlog_type all\n%s", hb_free_port(),
		 plugin_lines);
}

/* --- the host's refusals ----------------------------------------------------------- */

Test(plugin_host, a_plugin_built_for_another_api_version_is_refused_naming_both_versions_and_the_file)
{
	const char *so = auth_plugin_path("bad_version");
	char lines[1024], conf[2048], out[8192];
	snprintf(lines, sizeof(lines), "plugin %s\n", so);
	startup_conf(conf, sizeof(conf), lines);
	expect_no_start(conf, out, sizeof(out), "API version 999");
	cr_assert(strstr(out, so), "the file is not named: %s", out);
	cr_assert(strstr(out, "version 999"), "the plugin's version is not named: %s", out);
	char ours[64];
	snprintf(ours, sizeof(ours), "speaks version %d", FM_PLUGIN_API_VERSION);
	cr_assert(strstr(out, ours), "the broker's version is not named: %s", out);
	cr_assert_null(strstr(out, "init ran"), "fm_plugin_init of a refused plugin ran: %s", out);
}

Test(plugin_host, a_plugin_without_fm_plugin_init_is_refused)
{
	const char *so = auth_plugin_path("no_init");
	char lines[1024], conf[2048], out[8192];
	snprintf(lines, sizeof(lines), "plugin %s\n", so);
	startup_conf(conf, sizeof(conf), lines);
	expect_no_start(conf, out, sizeof(out), "no fm_plugin_init");
	cr_assert(strstr(out, so) && strstr(out, "fm_plugin_init"), "file or function not named: %s", out);
}

Test(plugin_host, a_plugin_whose_init_fails_stops_the_start_and_is_not_cleaned_up)
{
	const char *so = auth_plugin_path("init_fails");
	char lines[1024], conf[2048], out[8192];
	/* a good plugin first: it is unloaded (and cleaned up) on the way out */
	snprintf(lines, sizeof(lines), "plugin %s\nplugin %s\nplugin_opt_colour blue\n", auth_plugin_path("example"), so);
	startup_conf(conf, sizeof(conf), lines);
	expect_no_start(conf, out, sizeof(out), "init fails");
	cr_assert(strstr(out, "init_fails: refusing to start on purpose (1 options, first colour)"),
		  "the plugin's own reason (with its option) is not in the output: %s", out);
	cr_assert(strstr(out, so) && strstr(out, "failed to start"), "the file is not named: %s", out);
	cr_assert_null(strstr(out, "cleanup called after a failed init"), "cleanup ran after a failed init: %s", out);
}

Test(plugin_host, a_missing_file_is_refused_naming_it)
{
	char lines[1024], conf[2048], out[8192];
	snprintf(lines, sizeof(lines), "plugin %s\n", auth_path("nowhere.so"));
	startup_conf(conf, sizeof(conf), lines);
	expect_no_start(conf, out, sizeof(out), "missing file");
	cr_assert(strstr(out, auth_path("nowhere.so")) && strstr(out, "cannot be loaded"), "%s", out);
}

/* jwt_auth and example refuse to start on bad options, saying why. */
Test(plugin_host, shipped_plugins_refuse_bad_options_at_start)
{
	static const char *const key = "0123456789abcdef0123456789abcdef\n";
	auth_write("key", key);
	auth_write("empty", "\n");
	auth_write("short", "too short\n");
	struct {
		const char *plugin, *opts, *needle;
	} cases[] = {
		{"jwt_auth", "", "plugin_opt_secret_file is required"},
		{"jwt_auth", "plugin_opt_secret_file @D@/none\n", "cannot open plugin_opt_secret_file @D@/none"},
		{"jwt_auth", "plugin_opt_secret_file @D@/empty\n", "plugin_opt_secret_file @D@/empty is empty"},
		{"jwt_auth", "plugin_opt_secret_file @D@/short\n", "has 9 bytes; HS256 needs at least 32"},
		{"jwt_auth", "plugin_opt_secret_file @D@/key\nplugin_opt_leeway soon\n", "plugin_opt_leeway 'soon'"},
		{"jwt_auth", "plugin_opt_secret_file @D@/key\nplugin_opt_isuer x\n", "unknown option plugin_opt_isuer"},
		{"example", "plugin_opt_rewrite_from a/\n", "plugin_opt_rewrite_from and plugin_opt_rewrite_to go together"},
		{"example", "plugin_opt_dorp x\n", "unknown option plugin_opt_dorp"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char lines[1024], tmpl[2048], conf[4096], needle[512], out[8192];
		snprintf(lines, sizeof(lines), "plugin %s\n%s", auth_plugin_path(cases[i].plugin), cases[i].opts);
		startup_conf(tmpl, sizeof(tmpl), lines);
		auth_expand(conf, sizeof(conf), tmpl);
		auth_expand(needle, sizeof(needle), cases[i].needle);
		expect_no_start(conf, out, sizeof(out), cases[i].needle);
		cr_assert(strstr(out, needle), "case %zu: no '%s' in: %s", i, needle, out);
		cr_assert(strstr(out, "failed to start"), "case %zu: %s", i, out);
	}
}

/* --- JWTs for the tests --------------------------------------------------------------- */

#define KEY "fleetmq-plugin-test-key-0123456789abcdef"
#define ISS "fleetmq-test"
#define AUD "mqtt"

static size_t b64url(const void *in, size_t n, char *out, size_t cap)
{
	size_t len = 0;
	cr_assert_eq(mbedtls_base64_encode((unsigned char *)out, cap, &len, in, n), 0);
	for (size_t i = 0; i < len; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	while (len && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	return len;
}

/* header.claims.signature with HMAC-SHA256 under key (NULL: an empty
 * signature, as an alg "none" token has). One of a few rotating buffers. */
static const char *jwt_sign(const char *header, const char *claims, const char *key)
{
	static char bufs[8][4096];
	static unsigned next;
	char *t = bufs[next++ % 8];
	size_t n = b64url(header, strlen(header), t, 1024);
	t[n++] = '.';
	n += b64url(claims, strlen(claims), t + n, 2048);
	t[n++] = '.';
	t[n] = '\0';
	if (key) {
		uint8_t mac[32];
		const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
		cr_assert_eq(mbedtls_md_hmac(md, (const uint8_t *)key, strlen(key), (const uint8_t *)t, n - 1, mac), 0);
		b64url(mac, sizeof(mac), t + n, 64);
	}
	return t;
}

#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* A token for sub with exp at now + exp_in (and the test broker's iss/aud). */
static const char *jwt_for(const char *sub, long exp_in)
{
	char claims[512];
	snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%ld}", sub,
		 (long)time(NULL) + exp_in);
	return jwt_sign(HS256, claims, KEY);
}

/* claims_fmt with %ld for now (every %ld gets now + the next offset). */
static const char *jwt_claims(const char *claims_fmt, long a, long b)
{
	char claims[1024];
	long now = (long)time(NULL);
	snprintf(claims, sizeof(claims), claims_fmt, now + a, now + b);
	return jwt_sign(HS256, claims, KEY);
}

/* jwt_auth with the test key, iss and aud, then a password_file (alice's
 * password has dots: it is still no JWT). */
#define JWT_CONF                                                                                           \
	"listener %%PORT%% 127.0.0.1\nallow_anonymous false\nlog_type all\n"                                \
	"plugin %s\nplugin_opt_secret_file @D@/key\nplugin_opt_issuer " ISS "\nplugin_opt_audience " AUD "\n" \
	"%s"                                                                                               \
	"password_file @D@/passwd\n"

static void start_jwt(const char *more_opts)
{
	FILE *f = fopen(auth_path("key"), "w");
	cr_assert(f);
	fputs(KEY "\n", f); /* the newline is not part of the key */
	cr_assert_eq(fclose(f), 0);
	chmod(auth_path("key"), 0600);
	auth_passwd("passwd", "alice", "alice.pass.word");
	char tmpl[2048];
	snprintf(tmpl, sizeof(tmpl), JWT_CONF, auth_plugin_path("jwt_auth"), more_opts ? more_opts : "");
	auth_start(tmpl);
}

static void expect_in(uint8_t version, const char *id, const char *user, const char *token, const char *what)
{
	struct raw r;
	int rc = auth_connect(&r, version, id, user, token);
	cr_assert_eq(rc, 0, "%s (%s): CONNACK 0x%02x, expected 0", what, version == MQTT_V5 ? "5.0" : "3.1.1", rc);
	auth_expect_alive(&r, what);
	raw_close(&r);
}

/* Refused in both versions (4 / 0x86), and the reason logged (reason:
 * a part of jwt_auth's log line after "JWT refused: "). */
static void expect_refused(const char *user, const char *token, const char *reason, const char *what)
{
	for (size_t v = 0; v < 2; v++) {
		long off = auth_log_size();
		auth_expect_refused(versions[v], "jwt-refused", user, token, bad_credentials(versions[v]), what);
		if (reason) {
			cr_assert(auth_log_since(off, "JWT refused: ", AUTH_WAIT_MS), "%s: no refusal logged", what);
			cr_assert(auth_log_since(off, reason, 0), "%s: no '%s' in the log", what, reason);
		}
	}
}

/* --- jwt_auth ---------------------------------------------------------------------------- */

Test(jwt_auth, a_valid_token_gets_connack_0_in_3_1_1_and_5_0)
{
	start_jwt(NULL);
	for (size_t v = 0; v < 2; v++)
		expect_in(versions[v], "dev-1", "dev-1", jwt_for("dev-1", 300), "valid token");
	cr_assert(hb_log_contains(&broker, "client dev-1 (user dev-1) from 127.0.0.1:", 1000), "acceptance not logged");
}

/* 3.2.2.3 return code 4 / 3.2.2.2 0x86 for an expired token; the leeway
 * (default 30 s) lets a token 10 s past exp in, not one 60 s past it. */
Test(jwt_auth, an_expired_token_is_refused_with_4_or_0x86_and_the_leeway_applies)
{
	start_jwt(NULL);
	long off = auth_log_size();
	const char *expired = jwt_for("dev-1", -60);
	expect_refused("dev-1", expired, "expired (exp has passed)", "expired 60 s ago");
	for (size_t v = 0; v < 2; v++)
		expect_in(versions[v], "dev-1", "dev-1", jwt_for("dev-1", -10), "within the leeway");
	/* the reason is logged, never the token */
	cr_assert_not(auth_log_since(off, strrchr(expired, '.') + 1, 0), "the token's signature is in the log");
	cr_assert_not(auth_log_since(off, expired, 0), "the token is in the log");
}

Test(jwt_auth, nbf_in_the_future_is_refused_beyond_the_leeway)
{
	start_jwt(NULL);
	const char *fmt = "{\"sub\":\"dev-1\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%ld,\"nbf\":%ld}";
	expect_refused("dev-1", jwt_claims(fmt, 600, 120), "not valid yet", "nbf in 2 minutes");
	expect_in(MQTT_V311, "dev-1", "dev-1", jwt_claims(fmt, 600, 10), "nbf within the leeway");
	expect_in(MQTT_V5, "dev-1", "dev-1", jwt_claims(fmt, 600, -10), "nbf passed");
}

Test(jwt_auth, a_wrong_signature_is_refused)
{
	start_jwt(NULL);
	char claims[256];
	snprintf(claims, sizeof(claims), "{\"sub\":\"dev-1\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%ld}",
		 (long)time(NULL) + 300);
	expect_refused("dev-1", jwt_sign(HS256, claims, KEY "x"), "bad signature", "signed with another key");
	/* the claims changed under a good signature (dev-1 -> dev-2) */
	char forged[4096];
	const char *good = jwt_for("dev-1", 300);
	const char *sig = strrchr(good, '.');
	const char *other = jwt_for("dev-2", 300);
	int n = snprintf(forged, sizeof(forged), "%.*s%s", (int)(strrchr(other, '.') - other), other, sig);
	cr_assert(n > 0 && (size_t)n < sizeof(forged), "the forged token fits");
	expect_refused("dev-2", forged, "bad signature", "claims swapped under a signature");
	/* a truncated signature */
	n = snprintf(forged, sizeof(forged), "%.*s", (int)strlen(good) - 2, good);
	cr_assert(n > 0 && (size_t)n < sizeof(forged), "the cut token fits");
	expect_refused("dev-1", forged, "the signature is not an HS256 signature", "signature cut short");
}

/* Only HS256: alg none (an unsigned token), another HMAC, the name in
 * another case, RS256 (alg confusion: the secret taken as a public key),
 * no alg, and a crit header are all refused. */
Test(jwt_auth, alg_none_and_every_alg_but_hs256_are_refused)
{
	start_jwt(NULL);
	char claims[256];
	snprintf(claims, sizeof(claims), "{\"sub\":\"dev-1\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%ld}",
		 (long)time(NULL) + 300);
	expect_refused("dev-1", jwt_sign("{\"alg\":\"none\"}", claims, NULL), "the header's alg is not HS256",
		       "alg none, no signature");
	expect_refused("dev-1", jwt_sign("{\"alg\":\"none\"}", claims, KEY), "the header's alg is not HS256",
		       "alg none with a signature");
	expect_refused("dev-1", jwt_sign("{\"alg\":\"HS512\"}", claims, KEY), "alg is not HS256", "HS512");
	expect_refused("dev-1", jwt_sign("{\"alg\":\"hs256\"}", claims, KEY), "alg is not HS256", "hs256");
	expect_refused("dev-1", jwt_sign("{\"alg\":\"RS256\"}", claims, KEY), "alg is not HS256", "RS256");
	expect_refused("dev-1", jwt_sign("{\"typ\":\"JWT\"}", claims, KEY), "the header has no alg", "no alg");
	expect_refused("dev-1", jwt_sign("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", claims, KEY), "crit",
		       "crit header");
	expect_refused("dev-1", jwt_sign("{\"alg\":\"HS256\",\"alg\":\"none\"}", claims, KEY),
		       "the header is not a valid JSON object", "alg given twice");
	expect_in(MQTT_V5, "dev-1", "dev-1", jwt_sign("{\"alg\":\"HS256\"}", claims, KEY), "alg HS256 without typ");
}

Test(jwt_auth, wrong_or_missing_issuer_and_audience_are_refused)
{
	start_jwt(NULL);
	const char *fmt_iss = "{\"sub\":\"dev-1\",\"iss\":\"someone-else\",\"aud\":\"" AUD "\",\"exp\":%ld}";
	expect_refused("dev-1", jwt_claims(fmt_iss, 300, 0), "wrong issuer (iss)", "wrong iss");
	const char *fmt_no_iss = "{\"sub\":\"dev-1\",\"aud\":\"" AUD "\",\"exp\":%ld}";
	expect_refused("dev-1", jwt_claims(fmt_no_iss, 300, 0), "no iss claim", "no iss");
	const char *fmt_aud = "{\"sub\":\"dev-1\",\"iss\":\"" ISS "\",\"aud\":\"http\",\"exp\":%ld}";
	expect_refused("dev-1", jwt_claims(fmt_aud, 300, 0), "wrong audience (aud)", "wrong aud");
	const char *fmt_no_aud = "{\"sub\":\"dev-1\",\"iss\":\"" ISS "\",\"exp\":%ld}";
	expect_refused("dev-1", jwt_claims(fmt_no_aud, 300, 0), "no aud claim", "no aud");
	/* aud may be an array (RFC 7519 4.1.3): ours must be in it */
	const char *fmt_arr = "{\"sub\":\"dev-1\",\"iss\":\"" ISS "\",\"aud\":[\"http\",\"" AUD "\"],\"exp\":%ld}";
	expect_in(MQTT_V311, "dev-1", "dev-1", jwt_claims(fmt_arr, 300, 0), "aud array with ours");
	const char *fmt_arr_not = "{\"sub\":\"dev-1\",\"iss\":\"" ISS "\",\"aud\":[\"http\",\"ws\"],\"exp\":%ld}";
	expect_refused("dev-1", jwt_claims(fmt_arr_not, 300, 0), "wrong audience (aud)", "aud array without ours");
}

Test(jwt_auth, the_username_must_equal_the_sub_claim)
{
	start_jwt(NULL);
	expect_refused("dev-2", jwt_for("dev-1", 300), "the username claim does not match the username",
		       "dev-1's token with username dev-2");
	const char *fmt = "{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%ld}";
	expect_refused("dev-1", jwt_claims(fmt, 300, 0), "no username claim", "no sub");
	/* the name is compared after JSON unescaping: \u002d is '-' */
	const char *esc = "{\"sub\":\"dev\\u002d1\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%ld}";
	expect_in(MQTT_V5, "dev-1", "dev-1", jwt_claims(esc, 300, 0), "escaped sub");
	/* 5.0 lets a client send a password without a username: nothing to
	 * match, so refused (no username: 3.2.2.2 0x87 Not authorized) */
	auth_expect_refused(MQTT_V5, "jwt-nameless", NULL, jwt_for("dev-1", 300), MQTT_RC_NOT_AUTHORIZED,
			    "a token without a username");
}

Test(jwt_auth, malformed_claims_are_refused)
{
	start_jwt(NULL);
	const char *no_exp = "{\"sub\":\"dev-1\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\"}";
	expect_refused("dev-1", jwt_sign(HS256, no_exp, KEY), "no exp claim", "no exp");
	const char *float_exp = "{\"sub\":\"dev-1\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%ld.5}";
	expect_refused("dev-1", jwt_claims(float_exp, 300, 0), "exp is not an integer", "fractional exp");
	const char *str_exp = "{\"sub\":\"dev-1\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":\"%ld\"}";
	expect_refused("dev-1", jwt_claims(str_exp, 300, 0), "exp is not an integer", "exp as a string");
	/* two subs: which one a reader takes varies, so neither is */
	const char *two_subs = "{\"sub\":\"dev-1\",\"sub\":\"dev-2\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%ld}";
	expect_refused("dev-2", jwt_claims(two_subs, 300, 0), "not a flat JSON object", "sub given twice");
	expect_refused("dev-1", jwt_sign(HS256, "{\"sub\":\"dev-1\",", KEY), "not a flat JSON object", "cut short");
	expect_refused("dev-1", jwt_sign(HS256, "[1,2]", KEY), "not a flat JSON object", "an array");
	/* claims the plugin does not read may be anything JSON allows */
	const char *rich = "{\"sub\":\"dev-1\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%ld,\"iat\":%ld,"
			   "\"scope\":{\"topics\":[\"a/#\",{\"x\":null}],\"ok\":true},\"n\":-1.5e3}";
	expect_in(MQTT_V311, "dev-1", "dev-1", jwt_claims(rich, 300, -5), "claims it does not read");
}

/* A password that is not a JWT is deferred: the password_file decides
 * (3.2.2.3 return code 4 / 0x86 for a wrong one). Two dots do not make a
 * JWT: alice's password is alice.pass.word. */
Test(jwt_auth, a_password_that_is_no_jwt_falls_through_to_the_password_file)
{
	start_jwt(NULL);
	for (size_t v = 0; v < 2; v++) {
		expect_in(versions[v], "alice-1", "alice", "alice.pass.word", "password_file user");
		auth_expect_refused(versions[v], "alice-2", "alice", "wrong", bad_credentials(versions[v]),
				    "password_file user, wrong password");
		auth_expect_refused(versions[v], "mallory", "mallory", "x.y.z", bad_credentials(versions[v]),
				    "nobody's password");
	}
	cr_assert(hb_log_contains(&broker, "bad username or password", 1000), "the password_file did not decide");
	cr_assert_not(hb_log_contains(&broker, "JWT refused", 0), "a plain password was taken for a JWT");
}

/* username_claim / clientid_claim pick the claims; require_jwt refuses
 * what is not a JWT instead of deferring it. */
Test(jwt_auth, clientid_claim_and_require_jwt)
{
	start_jwt("plugin_opt_username_claim name\nplugin_opt_clientid_claim sub\nplugin_opt_require_jwt true\n");
	const char *fmt = "{\"name\":\"bob\",\"sub\":\"dev-7\",\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%ld}";
	const char *token = jwt_claims(fmt, 300, 0);
	for (size_t v = 0; v < 2; v++) {
		expect_in(versions[v], "dev-7", "bob", token, "name and client id match");
		auth_expect_refused(versions[v], "dev-8", "bob", token, bad_credentials(versions[v]),
				    "another client id");
		auth_expect_refused(versions[v], "dev-7", "dev-7", token, bad_credentials(versions[v]),
				    "the username is the sub, not the name");
		auth_expect_refused(versions[v], "alice-1", "alice", "alice.pass.word", bad_credentials(versions[v]),
				    "require_jwt: no password_file fallback");
	}
	cr_assert(hb_log_contains(&broker, "JWT refused: the client id claim does not match the client id", 1000));
	cr_assert(hb_log_contains(&broker, "the password is not a JWT (plugin_opt_require_jwt true)", 1000));
}

/* --- jwt_auth with real clients ------------------------------------------------------------ */

Test(jwt_clients, mosquitto_pub_and_sub_with_tokens_in_3_1_1_and_5_0)
{
	start_jwt(NULL);
	const char *port = auth_port(broker.port);
	char sub_out[128], out[1024];
	const char *sub_token = jwt_for("sensor-sub", 300);
	const char *sub_argv[] = {"mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-V", "5", "-i", "cli-sub", "-u",
				  "sensor-sub", "-P", sub_token, "-t", "t/#", "-q", "1", "-v", "-C", "2", "-W", "10",
				  NULL};
	pid_t sub = auth_spawn(sub_argv, sub_out, sizeof(sub_out));
	auth_await_log("cli-sub 1 t/#", "mosquitto_sub subscribed");
	const char *pub4[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-u", "sensor-1", "-P",
			      jwt_for("sensor-1", 300), "-q", "1", "-t", "t/one", "-m", "first", NULL};
	cr_assert_eq(auth_run(pub4, out, sizeof(out), AUTH_WAIT_MS), 0, "mosquitto_pub (3.1.1): %s", out);
	const char *pub5[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V", "5", "-u", "sensor-1", "-P",
			      jwt_for("sensor-1", 300), "-q", "2", "-t", "t/two", "-m", "second", NULL};
	cr_assert_eq(auth_run(pub5, out, sizeof(out), AUTH_WAIT_MS), 0, "mosquitto_pub (5.0): %s", out);
	cr_assert_eq(auth_wait(sub, AUTH_WAIT_MS), 0, "mosquitto_sub did not get both messages");
	auth_read(sub_out, out, sizeof(out));
	cr_assert_str_eq(out, "t/one first\nt/two second\n");

	/* an expired token, as the tools report it (3.2.2.3 code 4 / 3.2.2.2 0x86) */
	const char *old = jwt_for("sensor-1", -3600);
	const char *bad4[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-u", "sensor-1", "-P", old,
			      "-t", "t/x", "-m", "x", NULL};
	cr_assert_neq(auth_run(bad4, out, sizeof(out), AUTH_WAIT_MS), 0);
	cr_assert(strstr(out, "bad user name or password"), "mosquitto_pub 3.1.1 said: %s", out);
	const char *bad5[] = {"mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-V", "5", "-u", "sensor-1", "-P", old,
			      "-t", "t/x", "-m", "x", NULL};
	cr_assert_neq(auth_run(bad5, out, sizeof(out), AUTH_WAIT_MS), 0);
	cr_assert(strstr(out, "Bad User Name or Password"), "mosquitto_pub 5.0 said: %s", out);
}

Test(jwt_clients, libmosquitto_sees_the_connack_codes)
{
	start_jwt(NULL);
	const char *good = jwt_for("lib-dev", 300), *expired = jwt_for("lib-dev", -3600);
	cr_assert_eq(auth_lib_connack(MQTT_PROTOCOL_V311, "lib-a4", "lib-dev", good), 0);
	cr_assert_eq(auth_lib_connack(MQTT_PROTOCOL_V5, "lib-a5", "lib-dev", good), 0);
	cr_assert_eq(auth_lib_connack(MQTT_PROTOCOL_V311, "lib-e4", "lib-dev", expired), 4, "3.2.2.3: return code 4");
	cr_assert_eq(auth_lib_connack(MQTT_PROTOCOL_V5, "lib-e5", "lib-dev", expired), 0x86, "3.2.2.2: 0x86");
	cr_assert_eq(auth_lib_connack(MQTT_PROTOCOL_V311, "lib-p4", "alice", "alice.pass.word"), 0, "password_file");
}

/* --- the example plugin ---------------------------------------------------------------------- */

static void start_example(void)
{
	char tmpl[2048];
	snprintf(tmpl, sizeof(tmpl),
		 "listener %%PORT%% 127.0.0.1\nallow_anonymous true\nlog_type all\n"
		 "plugin %s\nplugin_opt_rewrite_from legacy/\nplugin_opt_rewrite_to v2/\n"
		 "plugin_opt_drop sensors/noise\nplugin_opt_summary_every 1\n",
		 auth_plugin_path("example"));
	auth_start(tmpl);
}

Test(example_plugin, a_topic_prefix_is_rewritten_before_routing)
{
	start_example();
	struct raw sub, pub;
	auth_login(&sub, MQTT_V311, "ex-sub", NULL, NULL);
	cr_assert_eq(raw_subscribe(&sub, 1, "#", 1), 1);
	for (size_t v = 0; v < 2; v++) {
		auth_login(&pub, versions[v], "ex-pub", NULL, NULL);
		auth_pub1(&pub, "legacy/room/temp", "21.5", false, 1);
		auth_expect_msg(&sub, "v2/room/temp", "21.5", NULL, "rewritten");
		auth_pub1(&pub, "other/legacy/x", "kept", false, 2);
		auth_expect_msg(&sub, "other/legacy/x", "kept", NULL, "only a prefix is rewritten");
		raw_close(&pub);
	}
	/* a retained message is kept under its new topic */
	auth_login(&pub, MQTT_V311, "ex-pub", NULL, NULL);
	auth_pub1(&pub, "legacy/state", "on", true, 3);
	auth_expect_msg(&sub, "v2/state", "on", NULL, "retained, rewritten");
	struct raw late;
	auth_login(&late, MQTT_V311, "ex-late", NULL, NULL);
	cr_assert_eq(raw_subscribe(&late, 1, "v2/state", 1), 1);
	bool retain = false;
	auth_expect_msg(&late, "v2/state", "on", &retain, "retained under the new topic");
	cr_assert(retain);
	raw_close(&late);
	raw_close(&pub);
	raw_close(&sub);
}

/* FM_PLUGIN_DROP: not routed, but a QoS 1 publisher gets its PUBACK (a 5.0
 * one with a success code) and a QoS 2 one its whole flow, so neither
 * resends. The fence message after it must be the next one delivered. */
Test(example_plugin, a_dropped_message_is_acknowledged_and_goes_nowhere)
{
	start_example();
	struct raw sub, pub;
	auth_login(&sub, MQTT_V311, "ex-sub", NULL, NULL);
	cr_assert_eq(raw_subscribe(&sub, 1, "sensors/#", 1), 1);
	for (size_t v = 0; v < 2; v++) {
		auth_login(&pub, versions[v], "ex-pub", NULL, NULL);
		cr_assert_lt(auth_pub1(&pub, "sensors/noise", "hiss", false, 1), 0x80, "PUBACK of a dropped message");
		cr_assert_lt(auth_pub2(&pub, "sensors/noise", "hiss", 2), 0x80, "QoS 2 flow of a dropped message");
		auth_pub1(&pub, "sensors/fence", "after", false, 3);
		auth_expect_msg(&sub, "sensors/fence", "after", NULL, "the dropped messages were routed");
		auth_expect_alive(&pub, "publisher after a drop");
		raw_close(&pub);
	}
	raw_close(&sub);
}

Test(example_plugin, connect_and_disconnect_are_logged_and_tick_counts)
{
	start_example();
	struct raw r;
	auth_login(&r, MQTT_V5, "ex-logged", "someone", NULL);
	cr_assert(hb_log_contains(&broker, "plugin example.so: client ex-logged connected from 127.0.0.1:", AUTH_WAIT_MS),
		  "CONNECT not logged by the plugin");
	cr_assert(hb_log_contains(&broker, "(user someone, protocol level 5)", 0));
	static const uint8_t disconnect[] = {0xE0, 0x00};
	raw_send(&r, disconnect, sizeof(disconnect));
	cr_assert(hb_log_contains(&broker, "plugin example.so: client ex-logged disconnected: ", AUTH_WAIT_MS),
		  "DISCONNECT not logged by the plugin");
	raw_close(&r);
	/* TICK once a second: the count grows (summary_every 1) and the
	 * counters the workers bumped are seen from the control thread */
	cr_assert(hb_log_contains(&broker, "plugin example.so: tick 2 at ", 5000), "no second tick");
	long off = auth_log_size();
	cr_assert(auth_log_since(off, "plugin example.so: tick 3 at ", 5000), "the tick count did not grow");
	cr_assert(auth_log_since(off, "clients connected", 0));
	cr_assert(hb_log_contains(&broker, "0 clients connected", 0), "connected count after the disconnect");
}

/* --- ACL_CHECK from a plugin ----------------------------------------------------------------- */

static void start_acl(void)
{
	char tmpl[2048];
	snprintf(tmpl, sizeof(tmpl),
		 "listener %%PORT%% 127.0.0.1\nallow_anonymous true\nlog_type all\nplugin %s\nplugin_opt_deny secret/\n",
		 auth_plugin_path("acl_deny"));
	auth_start(tmpl);
}

/* SUBACK: 3.1.1 0x80 Failure (3.9.3), 5.0 0x87 Not authorized (3.9.3),
 * one code per filter in order [MQTT-3.9.3-1]. */
Test(plugin_acl, a_denied_filter_gets_suback_0x80_or_0x87)
{
	start_acl();
	for (size_t v = 0; v < 2; v++) {
		struct raw r;
		auth_login(&r, versions[v], "acl-sub", NULL, NULL);
		const char *filters[] = {"open/#", "secret/#", "open/x"};
		uint8_t codes[3];
		auth_subscribe(&r, 1, filters, 3, 1, codes);
		cr_assert_eq(codes[0], 1, "open/# granted QoS 1");
		cr_assert_eq(codes[1], versions[v] == MQTT_V5 ? MQTT_RC_NOT_AUTHORIZED : MQTT_SUBACK_FAILURE,
			     "secret/# refused (%s)", versions[v] == MQTT_V5 ? "0x87" : "0x80");
		cr_assert_eq(codes[2], 1, "open/x granted QoS 1");
		raw_close(&r);
	}
	cr_assert(hb_log_contains(&broker, "acl_deny: subscribe secret/# by acl-sub denied", 1000));
}

/* PUBLISH to a denied topic: 5.0 PUBACK 0x87 (3.4.2.1); 3.1.1 has no
 * code, so it is acknowledged and dropped. Nobody receives it. */
Test(plugin_acl, a_denied_publish_gets_puback_0x87_in_5_0_and_is_not_delivered)
{
	start_acl();
	struct raw sub, pub;
	auth_login(&sub, MQTT_V311, "acl-sub", NULL, NULL);
	cr_assert_eq(raw_subscribe(&sub, 1, "#", 1), 1);
	auth_login(&pub, MQTT_V5, "acl-pub5", NULL, NULL);
	cr_assert_eq(auth_pub1(&pub, "secret/plans", "x", false, 1), MQTT_RC_NOT_AUTHORIZED, "5.0 PUBACK 0x87");
	raw_close(&pub);
	auth_login(&pub, MQTT_V311, "acl-pub4", NULL, NULL);
	auth_pub1(&pub, "secret/plans", "y", false, 1);
	auth_pub1(&pub, "open/fence", "after", false, 2);
	auth_expect_msg(&sub, "open/fence", "after", NULL, "a denied publish was delivered");
	raw_close(&pub);
	raw_close(&sub);
	cr_assert(hb_log_contains(&broker, "acl_deny: write secret/plans by acl-pub5 denied", 1000));
}
