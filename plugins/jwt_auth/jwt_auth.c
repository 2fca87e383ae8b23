/* jwt_auth: devices log in with a JWT (HS256) as their MQTT password.
 *
 * The plugin's side of the broker (options, the BASIC_AUTH callback, log
 * lines); the token checks themselves are jwt.c, the JSON reader json.c.
 * Options (plugins/README.md has the full story):
 *
 *   plugin_opt_secret_file PATH      the HMAC-SHA256 key (required, >= 32 bytes;
 *                                    one trailing newline is not part of it)
 *   plugin_opt_issuer ISS            iss must be exactly ISS (default: not checked)
 *   plugin_opt_audience AUD          aud must be AUD or an array holding it
 *                                    (default: a token with an aud is refused)
 *   plugin_opt_leeway SECONDS        clock skew allowed on exp / nbf (default 30)
 *   plugin_opt_username_claim CLAIM  must equal the MQTT username (default sub)
 *   plugin_opt_clientid_claim CLAIM  must equal the client id (default: not checked)
 *   plugin_opt_require_jwt BOOL      true: refuse passwords that are not JWTs
 *                                    instead of deferring them (default false)
 *
 * Verdicts: a valid token ALLOW; a JWT that fails any check DENY (the
 * reason logged at notice, never the token); a password that is not a JWT
 * at all DEFER, so the next plugin or the password_file decides.
 *
 * Threads: the options are read-only after fm_plugin_init and jwt_check
 * keeps everything on the stack (plus one malloc per call), so the callback
 * runs on any number of workers at once without a lock. It never blocks:
 * the key is read once, at start, and the clock is time(). */
#include "jwt.h"

#include "fleetmq/plugin.h"

#include <mbedtls/platform_util.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define KEY_MIN 32                  /* RFC 7518 3.2: at least the hash size */
#define KEY_MAX 65536
#define LEEWAY_MAX 86400

struct jwt_auth {
	struct fm_plugin *p;        /* for fm_plugin_log */
	struct jwt_rules rules;     /* points into the fields below */
	uint8_t *key;               /* the secret; zeroed before it is freed */
	size_t key_len;
	char *issuer;               /* NULL: not set */
	char *audience;
	char *username_claim;
	char *clientid_claim;
	bool require_jwt;
};

/* --- options ------------------------------------------------------------------ */

/* The key from path: the whole file, less one trailing "\n" or "\r\n" (so
 * `echo "$SECRET" > file` gives the key one expects). */
static int read_key(struct jwt_auth *ja, const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fm_plugin_log(ja->p, FM_LOG_ERROR, "cannot open plugin_opt_secret_file %s: %s", path, strerror(errno));
		return FM_ECONFIG;
	}
	int rc = FM_ECONFIG;
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fm_plugin_log(ja->p, FM_LOG_ERROR, "plugin_opt_secret_file %s is not a regular file", path);
		goto out;
	}
	if (st.st_mode & S_IROTH)
		fm_plugin_log(ja->p, FM_LOG_WARNING, "plugin_opt_secret_file %s is readable by every user", path);
	ja->key = malloc(KEY_MAX + 1);
	if (!ja->key) {
		rc = FM_ENOMEM;
		goto out;
	}
	size_t n = fread(ja->key, 1, KEY_MAX + 1, f);
	if (ferror(f)) {
		fm_plugin_log(ja->p, FM_LOG_ERROR, "cannot read plugin_opt_secret_file %s", path);
		goto out;
	}
	if (n > KEY_MAX) {
		fm_plugin_log(ja->p, FM_LOG_ERROR, "plugin_opt_secret_file %s is larger than %d bytes", path, KEY_MAX);
		goto out;
	}
	if (n > 0 && ja->key[n - 1] == '\n')
		n--;
	if (n > 0 && ja->key[n - 1] == '\r')
		n--;
	if (n == 0) {
		fm_plugin_log(ja->p, FM_LOG_ERROR, "plugin_opt_secret_file %s is empty", path);
		goto out;
	}
	if (n < KEY_MIN) {
		fm_plugin_log(ja->p, FM_LOG_ERROR, "the key in plugin_opt_secret_file %s has %zu bytes; HS256 needs at "
			      "least %d (RFC 7518 3.2)", path, n, KEY_MIN);
		goto out;
	}
	ja->key_len = n;
	rc = FM_OK;
out:
	fclose(f);
	return rc;
}

static int parse_leeway(struct jwt_auth *ja, const char *text)
{
	char *end;
	errno = 0;
	long v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < 0 || v > LEEWAY_MAX) {
		fm_plugin_log(ja->p, FM_LOG_ERROR, "plugin_opt_leeway '%s': seconds from 0 to %d expected", text,
			      LEEWAY_MAX);
		return FM_ECONFIG;
	}
	ja->rules.leeway_s = v;
	return FM_OK;
}

static int parse_bool(struct jwt_auth *ja, const char *name, const char *text, bool *out)
{
	if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
		*out = text[0] == 't';
		return FM_OK;
	}
	fm_plugin_log(ja->p, FM_LOG_ERROR, "plugin_opt_%s '%s': true or false expected", name, text);
	return FM_ECONFIG;
}

/* A string option into *slot (once). */
static int set_string(struct jwt_auth *ja, char **slot, const char *name, const char *value)
{
	if (*slot) {
		fm_plugin_log(ja->p, FM_LOG_ERROR, "plugin_opt_%s given twice", name);
		return FM_ECONFIG;
	}
	if (!*value) {
		fm_plugin_log(ja->p, FM_LOG_ERROR, "plugin_opt_%s is empty", name);
		return FM_ECONFIG;
	}
	*slot = strdup(value);
	return *slot ? FM_OK : FM_ENOMEM;
}

static int read_option(struct jwt_auth *ja, const struct fm_plugin_opt *o, char **secret_file)
{
	if (strcmp(o->name, "secret_file") == 0)
		return set_string(ja, secret_file, o->name, o->value);
	if (strcmp(o->name, "issuer") == 0)
		return set_string(ja, &ja->issuer, o->name, o->value);
	if (strcmp(o->name, "audience") == 0)
		return set_string(ja, &ja->audience, o->name, o->value);
	if (strcmp(o->name, "username_claim") == 0)
		return set_string(ja, &ja->username_claim, o->name, o->value);
	if (strcmp(o->name, "clientid_claim") == 0)
		return set_string(ja, &ja->clientid_claim, o->name, o->value);
	if (strcmp(o->name, "leeway") == 0)
		return parse_leeway(ja, o->value);
	if (strcmp(o->name, "require_jwt") == 0)
		return parse_bool(ja, o->name, o->value, &ja->require_jwt);
	/* a misspelt option would otherwise silently weaken the checks */
	fm_plugin_log(ja->p, FM_LOG_ERROR, "unknown option plugin_opt_%s", o->name);
	return FM_ECONFIG;
}

static int configure(struct jwt_auth *ja, const struct fm_plugin_opt *opts, size_t n_opts)
{
	char *secret_file = NULL;
	int rc = FM_OK;
	for (size_t i = 0; rc == FM_OK && i < n_opts; i++)
		rc = read_option(ja, &opts[i], &secret_file);
	if (rc == FM_OK && !secret_file) {
		fm_plugin_log(ja->p, FM_LOG_ERROR, "plugin_opt_secret_file is required (the HS256 key)");
		rc = FM_ECONFIG;
	}
	if (rc == FM_OK)
		rc = read_key(ja, secret_file);
	if (rc == FM_OK && !ja->username_claim && !(ja->username_claim = strdup("sub")))
		rc = FM_ENOMEM;
	free(secret_file);
	ja->rules.key = ja->key;
	ja->rules.key_len = ja->key_len;
	ja->rules.issuer = ja->issuer;
	ja->rules.audience = ja->audience;
	ja->rules.username_claim = ja->username_claim;
	ja->rules.clientid_claim = ja->clientid_claim;
	return rc;
}

/* --- the callback ---------------------------------------------------------------- */

/* BASIC_AUTH, on a worker thread: see the file comment for the verdicts. */
static int on_basic_auth(enum fm_plugin_event event, void *event_data, void *user_data)
{
	(void)event;
	const struct jwt_auth *ja = user_data;
	const struct fm_basic_auth *a = event_data;
	const char *id = a->client->client_id, *user = a->username ? a->username : "(none)";
	const char *shown_id = *id ? id : "(none yet)"; /* a client that sent no id gets one after this */
	const char *why = NULL;
	switch (jwt_check(&ja->rules, a->password, a->password_len, a->username, id, (int64_t)time(NULL), &why)) {
	case JWT_VALID:
		fm_plugin_log(ja->p, FM_LOG_INFO, "client %s (user %s) from %s: JWT accepted", shown_id, user, a->client->peer);
		return FM_PLUGIN_ALLOW;
	case JWT_INVALID:
		fm_plugin_log(ja->p, FM_LOG_NOTICE, "client %s (user %s) from %s: JWT refused: %s", shown_id, user,
			      a->client->peer, why);
		return FM_PLUGIN_DENY;
	case JWT_NOT_A_JWT:
		break;
	}
	if (!ja->require_jwt)
		return FM_PLUGIN_DEFER; /* someone else's password: the password_file decides */
	fm_plugin_log(ja->p, FM_LOG_NOTICE, "client %s (user %s) from %s: refused: the password is not a JWT "
		      "(plugin_opt_require_jwt true)", shown_id, user, a->client->peer);
	return FM_PLUGIN_DENY;
}

/* --- the three exports -------------------------------------------------------------- */

FM_PLUGIN_EXPORT int fm_plugin_version(void)
{
	return FM_PLUGIN_API_VERSION;
}

FM_PLUGIN_EXPORT void fm_plugin_cleanup(void *user_data)
{
	struct jwt_auth *ja = user_data;
	if (!ja)
		return;
	if (ja->key)
		mbedtls_platform_zeroize(ja->key, KEY_MAX + 1);
	free(ja->key);
	free(ja->issuer);
	free(ja->audience);
	free(ja->username_claim);
	free(ja->clientid_claim);
	free(ja);
}

FM_PLUGIN_EXPORT int fm_plugin_init(struct fm_plugin *p, const struct fm_plugin_opt *opts, size_t n_opts,
				    void **user_data)
{
	struct jwt_auth *ja = calloc(1, sizeof(*ja));
	if (!ja) {
		fm_plugin_log(p, FM_LOG_ERROR, "out of memory");
		return FM_ENOMEM;
	}
	ja->p = p;
	ja->rules.leeway_s = 30;
	int rc = configure(ja, opts, n_opts);
	if (rc == FM_OK)
		rc = fm_plugin_register(p, FM_EVENT_BASIC_AUTH, on_basic_auth);
	if (rc != FM_OK) {
		fm_plugin_cleanup(ja); /* the broker calls cleanup only after a successful init */
		return rc;
	}
	fm_plugin_log(p, FM_LOG_NOTICE, "HS256 tokens; %s must equal the username%s%s%s%s, leeway %llds", ja->username_claim,
		      ja->clientid_claim ? ", " : "", ja->clientid_claim ? ja->clientid_claim : "",
		      ja->clientid_claim ? " the client id" : "", ja->require_jwt ? "; JWT required" : "",
		      (long long)ja->rules.leeway_s);
	*user_data = ja;
	return FM_OK;
}
