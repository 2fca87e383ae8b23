/* Topic names, topic filters, the subscription tree and the retained tree.
 *
 * Topic rules (MQTT 3.1.1 section 4.7, 5.0 section 4.7):
 *  - levels are separated by '/'; empty levels are allowed ("a//b", "/a").
 *  - '#' matches the parent level and any number of children; it must be the
 *    whole last level of a filter [MQTT-4.7.1-2]. "sport/#" matches "sport".
 *  - '+' matches exactly one level and must occupy a whole level [MQTT-4.7.1-3].
 *  - topic names never contain wildcards [MQTT-4.7.3-1 / MQTT-3.3.2-2].
 *  - topics and filters are at least one character long [MQTT-4.7.3-1].
 *  - a filter starting with a wildcard does not match topics starting with
 *    '$' [MQTT-4.7.2-1]: "#" and "+/x" never match "$SYS/x".
 *
 * Both trees store one node per level with children in a hash table, so the
 * cost of matching grows with the topic's depth and the number of matching
 * wildcard branches, never with the number of subscriptions. Subscribers and
 * retained values are opaque pointers to this module. */
#ifndef FM_TOPIC_TOPIC_H
#define FM_TOPIC_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Validation of the wildcard/structure rules; UTF-8 is the codec's job. */
bool topic_name_valid(const char *name, size_t len);
bool topic_filter_valid(const char *filter, size_t len);
/* Does filter match topic name? (Reference matcher; the trees do not use it.) */
bool topic_match(const char *filter, size_t flen, const char *name, size_t nlen);
/* Number of levels in a topic or filter ("a/b" = 2, "" = 1, "/" = 2). */
unsigned topic_levels(const char *t, size_t len);

/* --- subscription tree --------------------------------------------------- */

struct topic_tree;

/* One subscription as stored: who and with which options. */
struct topic_sub {
	void *subscriber;   /* opaque (a session) */
	uint8_t options;    /* QoS in bits 0-1; 5.0 subscription options above */
	uint32_t sub_id;    /* 5.0 subscription identifier, 0 if none */
};

struct topic_tree *topic_tree_new(void);
/* Free the tree; subscribers are not touched. Accepts NULL. */
void topic_tree_free(struct topic_tree *t);

/* Add or replace the subscription of subscriber to filter (filter already
 * validated). *replaced tells whether it existed (options are updated).
 * FM_OK or FM_ENOMEM. */
int topic_tree_add(struct topic_tree *t, const char *filter, size_t len,
		   const struct topic_sub *sub, bool *replaced);
/* Remove subscriber's subscription to filter. FM_OK or FM_ENOTFOUND. Nodes
 * left without children and subscribers are freed. */
int topic_tree_del(struct topic_tree *t, const char *filter, size_t len, void *subscriber);

/* Called once per matching subscription (a subscriber with several matching
 * filters is reported once per filter; de-duplication is the caller's). */
typedef void topic_match_fn(void *arg, const struct topic_sub *sub);
/* Match a topic name (already validated) against all filters. Performs no
 * allocation. */
void topic_tree_match(const struct topic_tree *t, const char *name, size_t len,
		      topic_match_fn *fn, void *arg);
/* Number of stored subscriptions. */
size_t topic_tree_count(const struct topic_tree *t);

/* --- shared subscriptions ------------------------------------------------
 * "$share/{ShareName}/{filter}" (MQTT 5.0 section 4.8.2; our 3.1.1 clients
 * may use it too): every (ShareName, filter) is one group whose members
 * take turns receiving the messages matching filter. The group is stored
 * in the subscription tree under filter as a subscriber of its own, with
 * TOPIC_SUB_SHARED in its options; members are opaque pointers, as in the
 * tree. Callers serialise changes with the tree's (write) lock; routers
 * read members under its read lock. */

/* Options bit marking a tree entry whose subscriber is a share_group
 * (bit 7 of a SUBSCRIBE options byte is reserved, so never a client's). */
#define TOPIC_SUB_SHARED 0x80u

struct topic_share {
	const char *name;       /* Share Name */
	size_t name_len;
	const char *filter;     /* the filter after it */
	size_t filter_len;
};

/* Does f start with "$share/"? Then *out is split into name and filter
 * (either may be empty: topic_share_valid says whether it is usable). */
bool topic_share_parse(const char *f, size_t len, struct topic_share *out);
/* A non-empty Share Name without '/', '+', '#' [MQTT-4.8.2-1],
 * [MQTT-4.8.2-2], and a valid filter. */
bool topic_share_valid(const struct topic_share *s);

struct share_member {
	void *subscriber;
	uint8_t options;        /* granted QoS and 5.0 options of this member */
	uint32_t sub_id;
};
struct share_group;
struct share_table;

struct share_table *share_table_new(void);
/* Frees the table and its groups (not the members). Accepts NULL. */
void share_table_free(struct share_table *t);
/* Add or replace m in group s. *created: the group is new (the caller adds
 * it to the tree); *replaced: m's subscriber was a member already. FM_OK or
 * FM_ENOMEM (nothing changed). */
int share_join(struct share_table *t, const struct topic_share *s, const struct share_member *m,
	       struct share_group **out, bool *created, bool *replaced);
/* Remove subscriber from group s. When it was the last member, the group
 * leaves the table and is returned in *emptied: the caller removes it from
 * the tree, then share_group_free()s it. FM_OK or FM_ENOTFOUND. */
int share_leave(struct share_table *t, const struct topic_share *s, const void *subscriber,
		struct share_group **emptied);
void share_group_free(struct share_group *g);
/* The members (valid under the tree's read lock) and a turn counter to
 * start the round robin from. */
uint32_t share_members(const struct share_group *g, const struct share_member **v);
uint32_t share_next(struct share_group *g);
size_t share_table_count(const struct share_table *t);
/* Members of every group together. */
size_t share_table_members(const struct share_table *t);

/* --- retained tree ------------------------------------------------------- */

struct retain_tree;
/* unref is called on a value when it is replaced, deleted or the tree is
 * freed; size (NULL: none) says how many bytes a value counts for in
 * retain_tree_bytes. */
typedef void retain_unref_fn(void *value);
typedef uint64_t retain_size_fn(const void *value);

struct retain_tree *retain_tree_new(retain_unref_fn *unref, retain_size_fn *size);
void retain_tree_free(struct retain_tree *t);
/* Store value under topic name, taking over the caller's reference; a
 * previous value is unref'ed. value NULL deletes. FM_OK or FM_ENOMEM. */
int retain_tree_set(struct retain_tree *t, const char *name, size_t len, void *value);
/* Value stored exactly under name, or NULL (borrowed). */
void *retain_tree_get(const struct retain_tree *t, const char *name, size_t len);

typedef void retain_match_fn(void *arg, void *value);
/* Every stored value whose topic matches filter. Walks only matching branches:
 * "a/+/c" does not visit "b/...". Values are borrowed for the callback. */
void retain_tree_match(const struct retain_tree *t, const char *filter, size_t len,
		       retain_match_fn *fn, void *arg);
size_t retain_tree_count(const struct retain_tree *t);
/* The sum of every value's size. */
uint64_t retain_tree_bytes(const struct retain_tree *t);

#endif
