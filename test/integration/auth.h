/* Shared by the password_file / acl_file tests (auth_test.c: who gets in;
 * auth_acl_test.c: what they may publish, subscribe to and receive).
 *
 * Each test starts its own broker (auth_start) from a config template in
 * which @D@ stands for a directory of the test's own holding its password
 * and ACL files (auth_write, auth_passwd); the suite's fini stops the
 * broker and removes the directory. Users are made with Debian's
 * mosquitto_passwd, as an operator would (one test also uses our
 * fleetmq_passwd, $FLEETMQ_PASSWD_BIN).
 *
 * Deliveries that must NOT happen are checked with a fence: the publisher
 * sends the forbidden message, then an allowed one, and the subscriber's
 * next packet must be the allowed one. Messages of one publisher reach a
 * subscriber in the order sent (per topic [MQTT-4.6.0-6]; fleetmq and
 * mosquitto keep that order across topics too), so nothing waits for a
 * quiet period.
 *
 * The same suite runs against Debian's mosquitto 2.0.11 to list where we
 * differ: FLEETMQ_TEST_BIN=/usr/sbin/mosquitto AUTH_TEST_MOSQUITTO=1. Then
 * a reload is awaited by time (mosquitto logs it differently) and the
 * tests that read fleetmq's log fail on that alone. */
#ifndef FM_TEST_AUTH_H
#define FM_TEST_AUTH_H

#include "harness.h"
#include "raw.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Upper bound for anything that should happen promptly (the broker may be
 * a sanitizer build). */
#define AUTH_WAIT_MS 10000

/* The broker of the running test. */
extern struct hb broker;

/* The usual setup: anonymous clients refused, both files global. */
#define AUTH_CONF                                                                                          \
	"listener %PORT% 127.0.0.1\nallow_anonymous false\nlog_type all\n"                                 \
	"password_file @D@/passwd\nacl_file @D@/acl\n"

/* Suite .init / .fini: the file directory, libmosquitto; then the broker
 * stopped (a clean exit asserted) and every file removed. */
void auth_init(void);
void auth_fini(void);

/* --- files and config --------------------------------------------------- */

/* The test's file directory, and the path of a file in it (one of a few
 * rotating static buffers: do not keep it). */
const char *auth_dir(void);
const char *auth_path(const char *name);
/* tmpl with every @D@ replaced by auth_dir(). */
void auth_expand(char *out, size_t len, const char *tmpl);
/* A whole config from tmpl: auth_expand, plus what running against
 * mosquitto needs. */
void auth_conf(char *out, size_t len, const char *tmpl);
/* Write a file in the directory (@D@ expanded in text too). */
void auth_write(const char *name, const char *text);
/* Add or change user in password file name with mosquitto_passwd -b
 * (creating the file with -c when it does not exist yet). sha512: the
 * mosquitto 1.x format ($6$, -H sha512) instead of PBKDF2 ($7$). */
void auth_passwd(const char *name, const char *user, const char *pass);
void auth_passwd_sha512(const char *name, const char *user, const char *pass);
/* The same with our own tool, fleetmq_passwd -b. */
void auth_passwd_fleetmq(const char *name, const char *user, const char *pass);
/* "passwd" with the usual users: admin/adminpw, alice/alicepw, bob/bobpw. */
void auth_users(void);

/* Start the broker on tmpl (@D@ expanded; %PORT% / %PORT2% as the harness
 * does). */
void auth_start(const char *tmpl);
/* Rewrite the config from tmpl, SIGHUP, and wait until the broker says it
 * has reloaded (the new rules are in force once that line is logged). */
void auth_reload(const char *tmpl);
/* Bytes of broker log so far, and a search of what came after. */
long auth_log_size(void);
bool auth_log_since(long offset, const char *needle, int wait_ms);
/* Running against Debian's mosquitto (AUTH_TEST_MOSQUITTO=1)? */
bool auth_against_mosquitto(void);
/* Wait until the broker logs needle (a subscription, a disconnect) and
 * assert it did; against mosquitto, whose log says it otherwise, wait 1 s. */
void auth_await_log(const char *needle, const char *what);

/* --- raw clients ---------------------------------------------------------- */

/* CONNECT (clean, keepalive 60) with user and pass (either NULL: flag not
 * set) to port; returns the CONNACK code, *present its Session Present. */
int auth_connect_to(struct raw *r, uint16_t port, uint8_t version, const char *id, const char *user,
		    const char *pass, bool *present);
int auth_connect(struct raw *r, uint8_t version, const char *id, const char *user, const char *pass);
/* The same, asserting that it got in. */
void auth_login(struct raw *r, uint8_t version, const char *id, const char *user, const char *pass);
/* A refused CONNECT: exactly one CONNACK with code, Session Present 0
 * ([MQTT-3.2.2-4] / [MQTT-3.2.2-6]), then the broker closes the connection
 * ([MQTT-3.2.2-5] / [MQTT-3.2.2-7]). */
void auth_expect_refused_at(uint16_t port, uint8_t version, const char *id, const char *user, const char *pass,
			    uint8_t code, const char *what);
void auth_expect_refused(uint8_t version, const char *id, const char *user, const char *pass, uint8_t code,
			 const char *what);

/* The next packet at r is a PUBLISH of topic/payload (acknowledged if QoS
 * 1 or 2, the QoS 2 flow completed); returns its QoS, *retain its flag. */
uint8_t auth_expect_msg(struct raw *r, const char *topic, const char *payload, bool *retain, const char *what);
/* QoS 1 PUBLISH and its PUBACK; returns the 5.0 reason code (0 for 3.1.1). */
uint8_t auth_pub1(struct raw *r, const char *topic, const char *payload, bool retain, uint16_t id);
/* The whole QoS 2 flow; returns the PUBREC's 5.0 reason code (a code of
 * 0x80 or more ends the flow there [MQTT-4.3.3-4]). */
uint8_t auth_pub2(struct raw *r, const char *topic, const char *payload, uint16_t id);
/* PINGREQ answered: the connection is still up [MQTT-3.12.4-1]. */
void auth_expect_alive(struct raw *r, const char *what);
/* SUBSCRIBE n filters at qos each; codes[n] from the SUBACK, asserted to
 * carry one code per filter, in order ([MQTT-3.8.4-4], [MQTT-3.9.3-1]). */
void auth_subscribe(struct raw *r, uint16_t id, const char *const *filters, uint32_t n, uint8_t qos,
		    uint8_t *codes);

/* --- a canary -------------------------------------------------------------- */

/* admin's subscriber on canary/# and publisher, connected before the test
 * does anything hostile; canary_check() publishes at QoS 1 and wants that
 * exact message next at the subscriber. */
struct canary {
	struct raw sub, pub;
	uint16_t next_id;
};
void canary_up(struct canary *c);
void canary_check(struct canary *c, const char *what);
void canary_down(struct canary *c);

/* --- external clients --------------------------------------------------- */

/* Run argv (argv[0] from PATH), stdout and stderr into out (at most
 * timeout_ms, then killed by PID). Returns the exit code, 128+signal, or
 * -1 on timeout. */
int auth_run(const char *const *argv, char *out, size_t len, int timeout_ms);
/* Start argv in the background with its output into a file of the broker's
 * directory (path into out_path); auth_wait() collects it. */
pid_t auth_spawn(const char *const *argv, char *out_path, size_t len);
int auth_wait(pid_t pid, int timeout_ms);
void auth_read(const char *path, char *buf, size_t len);
/* port as text, in one of a few rotating static buffers. */
const char *auth_port(uint16_t port);

/* The path of plugin name (jwt_auth, example, challenge_auth, ...): from
 * meson (FLEETMQ_PLUGIN_<NAME>), or, when FLEETMQ_TEST_BIN points at a
 * broker of another build directory (a sanitizer build), that directory's
 * own plugins, built with the broker's flags. */
const char *auth_plugin_path(const char *name);

/* A libmosquitto client's CONNACK code (MQTT_PROTOCOL_V311 or _V5) with
 * user/pass (NULL user: none set), against the running broker. */
int auth_lib_connack(int version, const char *id, const char *user, const char *pass);

#endif
