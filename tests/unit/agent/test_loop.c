// SPDX-License-Identifier: GPL-2.0
/* Unit tests: agent/loop.c (watches, timers, freeing from callbacks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdio.h"
#include "loop.h"

static int calls;
static int order[8];
static int norder;

struct obj {
	int id;
	struct watch w;
	struct loop_timer t;
	struct obj *victim;	/* closed by this one's watch callback */
};

static void on_timer_record(struct loop_timer *t, unsigned long long now)
{
	struct obj *o = container_of(t, struct obj, t);

	(void)now;
	order[norder++] = o->id;
}

static void test_timers_fire_in_time_order_once(void **state)
{
	struct loop *l = loop_new();
	struct obj a = { .id = 1 }, b = { .id = 2 }, c = { .id = 3 };
	unsigned long long start = now_ms();

	(void)state;
	assert_non_null(l);
	norder = 0;
	loop_timer_add(l, &a.t, on_timer_record);
	loop_timer_add(l, &b.t, on_timer_record);
	loop_timer_add(l, &c.t, on_timer_record);
	loop_timer_arm(&a.t, 60);
	loop_timer_arm(&b.t, 20);
	/* c is registered but never armed: never fires */
	while (norder < 2 && now_ms() - start < 5000)
		loop_run_once(l, 1000);
	assert_int_equal(norder, 2);
	assert_int_equal(order[0], 2);
	assert_int_equal(order[1], 1);
	/* the loop waited for them instead of spinning */
	assert_true(now_ms() - start >= 60);
	loop_run_once(l, 30);
	assert_int_equal(norder, 2);
	loop_timer_del(&a.t);
	loop_timer_del(&b.t);
	loop_timer_del(&c.t);
	loop_free(l);
}

static void on_timer_rearm_now(struct loop_timer *t, unsigned long long now)
{
	(void)now;
	calls++;
	loop_timer_arm(t, 0);
}

static void test_rearm_now_fires_next_round(void **state)
{
	struct loop *l = loop_new();
	struct obj a = { .id = 1 };

	(void)state;
	calls = 0;
	loop_timer_add(l, &a.t, on_timer_rearm_now);
	loop_timer_arm(&a.t, 0);
	/* once per round, not endlessly within one round */
	loop_run_once(l, 0);
	assert_int_equal(calls, 1);
	loop_run_once(l, 0);
	assert_int_equal(calls, 2);
	loop_timer_del(&a.t);
	loop_free(l);
}

static struct obj *heap_objs[2];

/* frees both objects, and removes the other one's timer */
static void on_timer_free_all(struct loop_timer *t, unsigned long long now)
{
	int i;

	(void)t;
	(void)now;
	calls++;
	for (i = 0; i < 2; i++) {
		loop_timer_del(&heap_objs[i]->t);
		free(heap_objs[i]);
		heap_objs[i] = NULL;
	}
}

static void test_timer_callback_may_free_other_timers(void **state)
{
	struct loop *l = loop_new();
	int i;

	(void)state;
	calls = 0;
	for (i = 0; i < 2; i++) {
		heap_objs[i] = calloc(1, sizeof(struct obj));
		assert_non_null(heap_objs[i]);
		loop_timer_add(l, &heap_objs[i]->t, on_timer_free_all);
		loop_timer_arm(&heap_objs[i]->t, 0);
	}
	/* ASan reports a use after free if the loop touches them again */
	loop_run_once(l, 0);
	assert_int_equal(calls, 1);
	loop_free(l);
}

static void on_readable(struct watch *w, uint32_t events)
{
	struct obj *o = container_of(w, struct obj, w);
	char c;

	assert_true(events & EPOLLIN);
	calls++;
	order[norder++] = o->id;
	assert_int_equal(read(w->fd, &c, 1), 1);
	if (o->victim)
		loop_close(&o->victim->w);
}

static void test_watch_closed_earlier_in_batch_not_called(void **state)
{
	struct loop *l = loop_new();
	struct obj a = { .id = 1 }, b = { .id = 2 };
	int pa[2], pb[2];

	(void)state;
	calls = 0;
	norder = 0;
	assert_int_equal(pipe(pa), 0);
	assert_int_equal(pipe(pb), 0);
	a.w.fd = pa[0];
	a.w.fn = on_readable;
	b.w.fd = pb[0];
	b.w.fn = on_readable;
	/* whichever runs first closes the other */
	a.victim = &b;
	b.victim = &a;
	assert_int_equal(loop_add(l, &a.w, EPOLLIN), 0);
	assert_int_equal(loop_add(l, &b.w, EPOLLIN), 0);
	assert_int_equal(write(pa[1], "x", 1), 1);
	assert_int_equal(write(pb[1], "y", 1), 1);
	loop_run_once(l, 1000);
	assert_int_equal(calls, 1);
	assert_true(a.w.fd < 0 || b.w.fd < 0);
	loop_close(&a.w);
	loop_close(&b.w);
	close(pa[1]);
	close(pb[1]);
	loop_free(l);
}

static void test_max_wait_bounds_an_idle_round(void **state)
{
	struct loop *l = loop_new();
	unsigned long long start = now_ms();

	(void)state;
	loop_run_once(l, 50);
	assert_true(now_ms() - start >= 40);
	assert_true(now_ms() - start < 5000);
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_fire_in_time_order_once),
		cmocka_unit_test(test_rearm_now_fires_next_round),
		cmocka_unit_test(test_timer_callback_may_free_other_timers),
		cmocka_unit_test(test_watch_closed_earlier_in_batch_not_called),
		cmocka_unit_test(test_max_wait_bounds_an_idle_round),
	};

	return cmocka_run_group_tests_name("agent loop", tests, NULL, NULL);
}
