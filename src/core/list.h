/* Intrusive doubly linked list (circular, with a sentinel head).
 * Nodes embed a struct list; list_entry() recovers the container. */
#ifndef FM_CORE_LIST_H
#define FM_CORE_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list {
	struct list *prev, *next;
};

#define list_entry(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void list_init(struct list *l) { l->prev = l->next = l; }
static inline bool list_empty(const struct list *l) { return l->next == l; }
/* True if node n is linked into some list (nodes are list_init'ed when unlinked). */
static inline bool list_linked(const struct list *n) { return n->next != n && n->next != NULL; }

static inline void list_insert_after(struct list *pos, struct list *n)
{
	n->prev = pos;
	n->next = pos->next;
	pos->next->prev = n;
	pos->next = n;
}

static inline void list_push_back(struct list *head, struct list *n) { list_insert_after(head->prev, n); }
static inline void list_push_front(struct list *head, struct list *n) { list_insert_after(head, n); }

/* Unlink n and leave it self-linked, so list_linked() is false afterwards. */
static inline void list_del(struct list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

static inline struct list *list_first(const struct list *head) { return list_empty(head) ? NULL : head->next; }

#define list_foreach_safe(pos, tmp, head) \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); (pos) = (tmp), (tmp) = (pos)->next)

#endif
