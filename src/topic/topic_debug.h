/* Internal to src/topic and its tests: counters that make tree structure
 * observable, so tests can check pruning without reaching into layouts.
 * Not part of the module contract in topic.h. */
#ifndef FM_TOPIC_TOPIC_DEBUG_H
#define FM_TOPIC_TOPIC_DEBUG_H

#include "topic/topic.h"

/* Nodes currently allocated, the root included (an empty tree has 1). */
size_t topic_tree_nodes(const struct topic_tree *t);
size_t retain_tree_nodes(const struct retain_tree *t);

#endif
