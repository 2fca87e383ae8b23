#include "loop/wheel.h"

static uint64_t tick_of(uint64_t ms) { return ms / LOOP_TICK_MS; }

void wheel_init(struct wheel *w, uint64_t now_ms)
{
	for (size_t i = 0; i < WHEEL_SLOTS; i++)
		list_init(&w->slots[i]);
	w->tick = tick_of(now_ms);
	w->armed = 0;
}

void wheel_add(struct wheel *w, struct loop_timer *t, uint64_t deadline_ms)
{
	/* Never place a timer in a slot the wheel has already passed in this
	 * rotation: it would wait a whole rotation to be seen. */
	uint64_t tick = (deadline_ms + LOOP_TICK_MS - 1) / LOOP_TICK_MS;
	if (tick <= w->tick)
		tick = w->tick + 1;
	t->deadline_ms = deadline_ms;
	list_push_back(&w->slots[tick % WHEEL_SLOTS], &t->link);
	w->armed++;
}

void wheel_del(struct wheel *w, struct loop_timer *t)
{
	if (!list_linked(&t->link))
		return;
	list_del(&t->link);
	w->armed--;
}

/* Find a due timer in slot s, or NULL. Later-rotation timers are skipped. */
static struct loop_timer *due_in_slot(struct list *slot, uint64_t now_ms)
{
	struct list *pos, *tmp;
	list_foreach_safe(pos, tmp, slot) {
		struct loop_timer *t = list_entry(pos, struct loop_timer, link);
		if (t->deadline_ms <= now_ms)
			return t;
	}
	return NULL;
}

struct loop_timer *wheel_pop_due(struct wheel *w, uint64_t now_ms)
{
	uint64_t now_tick = tick_of(now_ms);
	if (w->armed == 0) {
		w->tick = now_tick;
		return NULL;
	}
	/* After a long stall, one full rotation covers every slot once. */
	if (now_tick > w->tick + WHEEL_SLOTS)
		w->tick = now_tick - WHEEL_SLOTS;
	for (;;) {
		struct list *slot = &w->slots[(w->tick + 1) % WHEEL_SLOTS];
		struct loop_timer *t = due_in_slot(slot, now_ms);
		if (t) {
			wheel_del(w, t);
			return t;
		}
		if (w->tick + 1 > now_tick)
			return NULL;
		w->tick++;
	}
}
