/* The MPSC inbox, single-threaded cases. The threaded case (producers on
 * four threads) is test/stress/inbox_stress.c, which also runs under
 * ThreadSanitizer. */
#include "loop/inbox.h"

#include <criterion/criterion.h>
#include <stddef.h>

struct item {
	struct inbox_node node;
	int seq;
};

Test(inbox, pop_on_empty_inbox_returns_null)
{
	struct loop *lp = loop_new();
	struct inbox q;
	inbox_init(&q, lp);
	cr_assert_null(inbox_pop(&q));
	struct item a = {.seq = 1}, b = {.seq = 2};
	inbox_push(&q, &a.node);
	inbox_push(&q, &b.node);
	cr_assert_eq(inbox_pop(&q), &a.node);
	cr_assert_eq(inbox_pop(&q), &b.node);
	cr_assert_null(inbox_pop(&q));
	inbox_push(&q, &a.node); /* a node may be reused once popped */
	cr_assert_eq(inbox_pop(&q), &a.node);
	cr_assert_null(inbox_pop(&q));
	loop_free(lp);
}
