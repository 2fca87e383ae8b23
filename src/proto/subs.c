/* Subscriptions in the router (subs.h). */
#include "proto/subs.h"

#include "fleetmq/errors.h"

static int share_add(struct broker *b, const struct topic_share *sh, struct session *s, uint8_t options,
		     uint32_t sub_id, bool *replaced)
{
	struct share_member m = { .subscriber = s, .options = options, .sub_id = sub_id };
	struct share_group *g;
	bool created;
	int rc = share_join(b->shares, sh, &m, &g, &created, replaced);
	if (rc != FM_OK || !created)
		return rc;
	struct topic_sub entry = { .subscriber = g, .options = TOPIC_SUB_SHARED };
	bool existed;
	rc = topic_tree_add(b->subs, sh->filter, sh->filter_len, &entry, &existed);
	if (rc != FM_OK) {
		struct share_group *emptied;
		share_leave(b->shares, sh, s, &emptied);
		share_group_free(emptied);
	}
	return rc;
}

int subs_add(struct broker *b, struct session *s, const char *filter, size_t len, uint8_t options,
	     uint32_t sub_id, bool *replaced)
{
	struct topic_share sh;
	if (topic_share_parse(filter, len, &sh))
		return share_add(b, &sh, s, options, sub_id, replaced);
	struct topic_sub sub = { .subscriber = s, .options = options, .sub_id = sub_id };
	return topic_tree_add(b->subs, filter, len, &sub, replaced);
}

int subs_del(struct broker *b, struct session *s, const char *filter, size_t len)
{
	struct topic_share sh;
	if (!topic_share_parse(filter, len, &sh))
		return topic_tree_del(b->subs, filter, len, s);
	struct share_group *emptied;
	int rc = share_leave(b->shares, &sh, s, &emptied);
	if (emptied) {
		topic_tree_del(b->subs, sh.filter, sh.filter_len, emptied);
		share_group_free(emptied);
	}
	return rc;
}
