/* ACL files as mosquitto's acl_file option reads them (mosquitto.conf(5),
 * mosquitto 2.0), and the access decisions the broker asks of them.
 *
 * The file. One rule a line; blank lines and lines starting with '#' are
 * skipped (we also allow blanks before the '#'):
 *   topic [read|write|readwrite|deny] FILTER
 *   pattern [read|write|readwrite|deny] FILTER
 *   user USERNAME
 * - "This parameter is optional (unless <topic> includes a space character)
 *   - if not given then the access is read/write." After an access word,
 *   the rest of the line (trimmed) is the filter, spaces included.
 * - "The first set of topics are applied to anonymous clients": topic lines
 *   before the first user line apply only to clients without a username;
 *   after "user NAME" (NAME is the rest of the line) they apply only to
 *   that username. A name given twice adds to the same set.
 * - "pattern" lines apply to every client, wherever they appear. A level
 *   that is exactly "%c" stands for the client id, exactly "%u" for the
 *   username ("The substitution pattern must be the only text for that
 *   level of hierarchy"); "%c" inside a longer level is literal text.
 *   mosquitto 2.0 skips a pattern using %u for an anonymous client; so do
 *   we.
 * - FILTER must be a valid MQTT topic filter.
 * Errors ("FILE:LINE: ..."): an unknown keyword, a first word after topic or
 * pattern that is not an access word while more words follow ("topic a b"),
 * an access word with no filter ("topic read": mosquitto would read that as
 * readwrite access to a topic named "read"; we refuse it as a likely typo),
 * an invalid filter, "user" without a name.
 *
 * The decision (acl_check). Rules that can apply to a client: the set for
 * its username (or the anonymous set), then the patterns.
 * 1. Any applicable deny rule that matches -> denied. "The deny option can
 *    [be] used to explicitly deny access to a topic that would otherwise be
 *    granted by a broader read/write/readwrite statement."
 * 2. Any applicable rule granting the access that matches -> allowed.
 * 3. Otherwise denied ("only the topics listed will have access").
 * Where this differs from mosquitto 2.0.11 (checked against it): mosquitto
 * looks at the user's set first, deny then allow, and only then at the
 * patterns, so an allow in the user's set beats a pattern deny. Here a deny
 * anywhere wins: strictly less access, never more.
 *
 * Client ids and usernames cannot widen a pattern: an allowing pattern
 * matches only if the value it substitutes is non-empty and holds no '/',
 * '+' or '#' (mosquitto 2.0 refuses clients with '+' or '#' in id or name
 * when patterns exist, but lets '/' through). A denying pattern substitutes
 * the text as it is: whatever that widens can only deny more.
 *
 * Wildcards and '$': matching is MQTT's ([MQTT-4.7.2-1]): a rule starting
 * with '+' or '#' never matches "$SYS/..." or any '$' topic; grant those
 * with rules that name them ("topic read $SYS/#").
 *
 * Accesses:
 * - ACL_WRITE: may the client publish to this topic name (also its will)?
 * - ACL_READ: may this topic name be delivered to the client (every
 *   delivery, retained messages included)?
 * - ACL_SUBSCRIBE: is the filter fully readable? Allowed when one
 *   read-capable rule covers every topic the filter can match (rule "a/#"
 *   covers "a/+/c" and "a"; rule "a/+" does not cover "a/#"), and no deny
 *   rule covers the whole filter. For a shared subscription pass the filter
 *   after "$share/NAME/".
 *   NOTE: mosquitto 2.0's acl_file never refuses a SUBSCRIBE (its check
 *   returns success for subscribe without looking at the filter;
 *   mosquitto 2.0.11 grants '#' to a user limited to "a/#") and
 *   relies on ACL_READ at delivery alone. A broker that wants to behave
 *   like mosquitto grants the SUBSCRIBE and checks ACL_READ per delivery;
 *   ACL_SUBSCRIBE is the stricter answer for one that refuses up front.
 *
 * A parsed ACL is immutable; acl_check may run on any number of threads at
 * once, and does not allocate unless a pattern substitution exceeds 1 KiB. */
#ifndef FM_AUTH_ACL_H
#define FM_AUTH_ACL_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

struct acl;

enum acl_access {
	ACL_READ = 1,      /* a concrete topic delivered to the client */
	ACL_WRITE = 2,     /* a concrete topic published by the client */
	ACL_SUBSCRIBE = 4, /* a filter the client subscribes to */
};

/* Parse the ACL file at path into *out (caller acl_free()s). FM_OK, or
 * FM_ECONFIG with eb set ("FILE:LINE: what is wrong", or why the file
 * could not be read). */
int acl_load(const char *path, struct acl **out, struct fm_errbuf *eb);
/* The same from NUL-terminated text; name stands for the file in messages. */
int acl_parse(const char *name, const char *text, struct acl **out, struct fm_errbuf *eb);
/* Accepts NULL. */
void acl_free(struct acl *a);

/* May the client (client_id, never NULL; username NULL when it gave none)
 * have access to topic (a topic name for ACL_READ/ACL_WRITE, a filter for
 * ACL_SUBSCRIBE; topic_len bytes, already validated by the codec)? Runs on
 * the worker thread of every delivery: the user's rules are found by hash,
 * and nothing is allocated in the common case. */
bool acl_check(const struct acl *a, const char *client_id, const char *username, const char *topic,
	       size_t topic_len, enum acl_access access);

/* Does every topic matched by filter sub also match ACL filter rule? Both
 * valid filters. "a/#" covers "a", "a/+/c" and "a/#"; "+/b" does not cover
 * "$SYS/b". For a topic name, the same as topic_match(rule, sub). */
bool acl_filter_covers(const char *rule, size_t rule_len, const char *sub, size_t sub_len);

/* Counts, for logs and tests: user sets (the anonymous set not included)
 * and rules of every kind. */
size_t acl_user_count(const struct acl *a);
size_t acl_rule_count(const struct acl *a);

#endif
