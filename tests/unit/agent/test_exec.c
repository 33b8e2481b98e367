// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests: agent/exec.c and agent/children.c with the real loop: exit
 * statuses reach the owner that started the child, output is bounded, a
 * command that never stops writing holds neither the loop nor anyone else,
 * deadlines kill the whole process group. Runs real /bin/sh commands; a
 * watchdog (alarm) turns a hang into a failure.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "children.h"
#include "exec.h"
#include "fdio.h"
#include "loop.h"

static struct loop *loop;
static int done_calls;

static void on_done(struct exec_job *job)
{
	(void)job;
	done_calls++;
}

/* Runs the loop until done_calls reaches n (at most ms milliseconds). */
static void run_until_done(int n, unsigned long long ms)
{
	unsigned long long end = now_ms() + ms;

	while (done_calls < n && now_ms() < end)
		loop_run_once(loop, 100);
	assert_int_equal(done_calls, n);
}

static int start(struct exec_job *job, const char *cmd,
		 const struct exec_limits *lim)
{
	done_calls = 0;
	return exec_start(loop, job, cmd, strlen(cmd), lim, on_done);
}

static const struct exec_limits small = {
	.timeout_ms = 20000,
	.keep_max = 1000,
	.read_max = 1 << 20,
	.step_max = 4096,
};

static void test_status_and_output(void **state)
{
	struct exec_job job;

	(void)state;
	assert_int_equal(start(&job, "printf out; printf err >&2; exit 3",
			       &exec_default_limits), 0);
	run_until_done(1, 10000);
	assert_true(WIFEXITED(job.wstatus));
	assert_int_equal(WEXITSTATUS(job.wstatus), 3);
	assert_int_equal(job.out_len, 6);
	assert_memory_equal(job.out, "outerr", 6);
	assert_false(job.truncated || job.timed_out || job.output_limit);
	exec_release(&job);
	exec_release(&job);	/* twice is fine */
}

static void test_output_beyond_keep_is_discarded(void **state)
{
	struct exec_job job;
	size_t i;

	(void)state;
	assert_int_equal(start(&job, "head -c 100000 /dev/zero | tr '\\0' a",
			       &small), 0);
	run_until_done(1, 10000);
	assert_true(WIFEXITED(job.wstatus) && WEXITSTATUS(job.wstatus) == 0);
	assert_int_equal(job.out_len, 1000);
	for (i = 0; i < job.out_len; i++)
		assert_int_equal(job.out[i], 'a');
	assert_true(job.truncated);
	assert_false(job.output_limit);
	assert_int_equal(job.read_total, 100000);
	exec_release(&job);
}

static void test_each_callback_reads_one_step(void **state)
{
	struct exec_job job;
	int avail = 0, i;

	(void)state;
	/* 60000 bytes in the pipe, then the command stays */
	assert_int_equal(start(&job, "head -c 60000 /dev/zero; exec sleep 30",
			       &small), 0);
	for (i = 0; i < 500 && avail < 60000; i++) {
		usleep(10000);
		assert_int_equal(ioctl(job.pipe.fd, FIONREAD, &avail), 0);
	}
	assert_int_equal(avail, 60000);
	loop_run_once(loop, 0);
	/* one step, not all that was there */
	assert_int_equal(job.read_total, small.step_max);
	loop_run_once(loop, 0);
	assert_int_equal(job.read_total, 2 * small.step_max);
	/* end it: the deadline path */
	loop_timer_arm(&job.timer, 0);
	run_until_done(1, 5000);
	assert_true(job.timed_out);
	exec_release(&job);
}

static int other_served;

static void on_other(struct watch *w, uint32_t events)
{
	char c;

	(void)events;
	assert_int_equal(read(w->fd, &c, 1), 1);
	other_served++;
}

static void test_endless_output_holds_no_one(void **state)
{
	struct exec_job job;
	struct watch other = { .fd = -1, .fn = on_other };
	int p[2], rounds = 0;
	unsigned long long end = now_ms() + 15000;
	size_t i;

	(void)state;
	assert_int_equal(pipe(p), 0);
	other.fd = p[0];
	assert_int_equal(loop_add(loop, &other, EPOLLIN), 0);
	other_served = 0;
	assert_int_equal(start(&job, "yes", &small), 0);
	/* another client has something to say in every round */
	while (done_calls == 0 && now_ms() < end) {
		assert_int_equal(write(p[1], "x", 1), 1);
		loop_run_once(loop, 100);
		rounds++;
	}
	assert_int_equal(done_calls, 1);
	/* every round served the other client: yes never held the loop */
	assert_true(other_served >= rounds - 1);
	assert_true(rounds > 1);
	/* killed for its output, long before the 20 s deadline */
	assert_true(job.output_limit);
	assert_true(job.truncated);
	assert_false(job.timed_out);
	assert_true(WIFSIGNALED(job.wstatus));
	assert_int_equal(WTERMSIG(job.wstatus), SIGKILL);
	assert_true(job.read_total > small.read_max);
	assert_true(job.read_total <= small.read_max + small.step_max);
	assert_int_equal(job.out_len, small.keep_max);
	for (i = 0; i < job.out_len; i++)
		assert_true(job.out[i] == 'y' || job.out[i] == '\n');
	exec_release(&job);
	loop_close(&other);
	close(p[1]);
}

/* Waits (bounded) until pid no longer exists. */
static int gone(pid_t pid)
{
	int i;

	for (i = 0; i < 500; i++) {
		/* orphans come to us (subreaper): the loop reaps them */
		loop_run_once(loop, 10);
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return 1;
	}
	return 0;
}

static void test_deadline_kills_the_whole_group(void **state)
{
	struct exec_job job;
	unsigned long long end = now_ms() + 10000;
	pid_t bg, sh;

	(void)state;
	assert_int_equal(start(&job, "sleep 100 & echo $!; wait", &small), 0);
	sh = job.pid;
	/* once the background pid is out, the deadline comes */
	while (!memchr(job.out, '\n', job.out_len) && now_ms() < end)
		loop_run_once(loop, 100);
	assert_non_null(memchr(job.out, '\n', job.out_len));
	loop_timer_arm(&job.timer, 0);
	run_until_done(1, 5000);
	assert_true(job.timed_out);
	assert_false(job.output_limit);
	bg = (pid_t)atoi(job.out);
	assert_true(bg > 0);
	assert_true(gone(sh));
	assert_true(gone(bg));
	exec_release(&job);
}

static void test_background_holder_does_not_delay_the_reply(void **state)
{
	struct exec_job job;
	pid_t bg;

	(void)state;
	/* the background sleep keeps the pipe's write end open */
	assert_int_equal(start(&job, "sleep 20 & echo $!", &small), 0);
	run_until_done(1, 10000);
	assert_true(WIFEXITED(job.wstatus) && WEXITSTATUS(job.wstatus) == 0);
	bg = (pid_t)atoi(job.out);
	assert_true(bg > 0);
	/* the reply came while it still runs */
	assert_int_equal(kill(bg, 0), 0);
	assert_int_equal(kill(bg, SIGKILL), 0);
	assert_true(gone(bg));
	exec_release(&job);
}

static int seen_status[2];
static struct child_watch cws[2];

static void on_child(struct child_watch *cw, int wstatus)
{
	seen_status[cw - cws] = wstatus;
	done_calls++;
}

static pid_t fork_exit(int code)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(code);
	assert_true(pid > 0);
	return pid;
}

static void test_exits_reach_their_owners(void **state)
{
	struct child_watch forgotten;
	pid_t a, b, c, d;

	(void)state;
	done_calls = 0;
	a = fork_exit(7);
	b = fork_exit(9);
	c = fork_exit(0);	/* nobody's: reaped silently */
	d = fork_exit(0);	/* watched, then forgotten */
	children_watch(&cws[1], b, on_child);
	children_watch(&cws[0], a, on_child);
	children_watch(&forgotten, d, on_child);
	children_unwatch(&forgotten);
	run_until_done(2, 5000);
	assert_int_equal(WEXITSTATUS(seen_status[0]), 7);
	assert_int_equal(WEXITSTATUS(seen_status[1]), 9);
	assert_true(gone(c));
	assert_true(gone(d));
	assert_int_equal(done_calls, 2);
	assert_false(children_reap());
}

static int setup(void **state)
{
	(void)state;
	/* like PID 1: orphans of our commands are ours to reap */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return -1;
	loop = loop_new();
	if (!loop || children_init(loop) < 0)
		return -1;
	return 0;
}

static int watchdog(void **state)
{
	(void)state;
	/* a hang (a loop that never returns) fails the run */
	alarm(60);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_status_and_output, watchdog),
		cmocka_unit_test_setup(test_output_beyond_keep_is_discarded, watchdog),
		cmocka_unit_test_setup(test_each_callback_reads_one_step, watchdog),
		cmocka_unit_test_setup(test_endless_output_holds_no_one, watchdog),
		cmocka_unit_test_setup(test_deadline_kills_the_whole_group, watchdog),
		cmocka_unit_test_setup(test_background_holder_does_not_delay_the_reply, watchdog),
		cmocka_unit_test_setup(test_exits_reach_their_owners, watchdog),
	};

	return cmocka_run_group_tests_name("agent exec", tests, setup, NULL);
}
