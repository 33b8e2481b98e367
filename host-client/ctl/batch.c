// SPDX-License-Identifier: MIT
/*
 * upcall-ctl batch: many 'cpu add|del' commands, one per line of stdin, in
 * one process, under one acquisition of the VM's lock, over one QMP
 * connection and one device-manager session kept open between lines
 * (held.h), as a VMM keeps its own. Each line's result is printed as soon
 * as it is known (one JSON object per line with --json), so a program can
 * drive the batch through a pipe, one command at a time.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "held.h"
#include "interrupt.h"
#include "lock.h"

/* Words of one line; a cpu line needs at most a few dozen. */
#define BATCH_MAX_WORDS 64

static const char batch_usage[] =
	"Usage: upcall-ctl [OPTIONS] batch\n"
	"\n"
	"Read commands from stdin, one per line, and run each as upcall-ctl would,\n"
	"in one process: the VM's lock is taken once for the whole batch, and one\n"
	"QMP connection and one device-manager session are kept open across the\n"
	"lines (opened when the batch starts; one that failed is opened again\n"
	"by the next line that needs it). A line is 'cpu add ...' or 'cpu del ...'\n"
	"with the arguments of the cpu subcommand; blank lines and lines starting\n"
	"with '#' are skipped. Global options (--run, --timeout, --json, -v...)\n"
	"go before 'batch' and apply to every line.\n"
	"\n"
	"Each line's outcome is printed when it is known: the cpu command's own\n"
	"output followed by 'line N: ok' or 'line N: exit CODE' on stdout, or with\n"
	"--json one JSON object per line (the cpu command's keys plus \"line\"),\n"
	"then {\"batch\": true, \"lines\": N, \"failed\": N, \"ok\": ...} at the end.\n"
	"A failing line does not stop the batch. Other upcall-ctl runs on the same\n"
	"VM wait (--lock-wait) until the batch ends at end of input or on\n"
	"SIGINT/SIGTERM/SIGHUP (which also stops the running line at a safe point).\n"
	"\n"
	"A line may hold up to 4096 bytes (its newline not counted). If stdout\n"
	"cannot take a line's result (a closed pipe, a full disk), no further line\n"
	"runs.\n"
	"\n"
	"Exit status: that of the first failing line; if none failed, the batch's\n"
	"own failure (the lock or writing stdout: 3; reading stdin: 2; a signal:\n"
	"128+N), else 0.\n"
	"\n"
	"  -h, --help            this text\n";

/* A line longer than this (its newline not counted) is refused, and
 * skipped up to its newline. */
#define BATCH_MAX_LINE 4096
/* The reader holds a whole line of BATCH_MAX_LINE bytes and its newline. */
#define BATCH_BUF (BATCH_MAX_LINE + 1)
/* While stdin is idle, how often a deferred signal is looked for. */
#define BATCH_POLL_MS 100

/*
 * stdin, read by hand rather than with stdio: between lines the batch
 * waits in poll() with a short timeout, so a SIGTERM that came just
 * before the wait (ctl_interrupt_defer() handlers, no SA_RESTART) is seen
 * within BATCH_POLL_MS instead of the read blocking until the next line.
 */
struct reader {
	char buf[BATCH_BUF + 1]; /* + the NUL that ends a line handed out */
	size_t len;       /* bytes in buf */
	size_t taken;     /* bytes of buf handed out as the last line */
	bool skipping;    /* dropping the rest of an over-long line */
	bool eof;
};

enum { LINE_OK, LINE_EOF, LINE_LONG, LINE_STOP, LINE_ERR };

/* The next line (NUL-terminated, without '\n') in *line. */
static int next_line(struct reader *r, char **line, size_t *len)
{
	memmove(r->buf, r->buf + r->taken, r->len - r->taken);
	r->len -= r->taken;
	r->taken = 0;
	for (;;) {
		char *nl = memchr(r->buf, '\n', r->len);
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		ssize_t n;

		if (!nl && r->len == BATCH_BUF) {
			/* More than BATCH_MAX_LINE bytes without a newline:
			 * dropped, reported once its newline (or EOF) comes. */
			r->skipping = true;
			r->len = 0;
		}
		if (nl || (r->eof && r->len)) {
			size_t l = nl ? (size_t)(nl - r->buf) : r->len;
			bool skipped = r->skipping;

			r->buf[l] = '\0';
			r->taken = nl ? l + 1 : l;
			r->skipping = false;
			if (skipped)
				return LINE_LONG;
			*line = r->buf;
			*len = l;
			return LINE_OK;
		}
		if (r->eof) {
			/* An over-long last line whose tail filled the
			 * buffer exactly: reported once, then EOF. */
			bool skipped = r->skipping;

			r->skipping = false;
			return skipped ? LINE_LONG : LINE_EOF;
		}
		if (ctl_interrupted())
			return LINE_STOP;
		n = poll(&pfd, 1, BATCH_POLL_MS);
		if (n < 0 && errno != EINTR)
			return LINE_ERR;
		if (n <= 0)
			continue;
		n = read(STDIN_FILENO, r->buf + r->len, BATCH_BUF - r->len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return LINE_ERR;
		if (n == 0)
			r->eof = true;
		r->len += (size_t)n;
	}
}

/* Split line into words (blanks and tabs); -E2BIG if too many. */
static int split(char *line, char **words, int max)
{
	char *save = NULL, *w;
	int n = 0;

	for (w = strtok_r(line, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
		if (n == max)
			return -E2BIG;
		words[n++] = w;
	}
	return n;
}

/*
 * One line's outcome: JSON object or human summary, flushed at once.
 * Returns 0, or -errno when stdout could not take it (a closed pipe, a
 * full disk): whoever reads the results is gone or cannot see them, so
 * the caller runs no further line.
 */
static int line_done(struct ctl *c, unsigned int n, int rc)
{
	int err = 0;

	errno = 0;
	if (c->json)
		ctl_print_result(c, rc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	else if (rc == CTL_OK)
		printf("line %u: ok\n", n);
	else
		printf("line %u: exit %d\n", n, rc);
	/* errno is stdout's, taken before stderr's flush could change it. */
	if (fflush(stdout) || ferror(stdout))
		err = errno ? -errno : -EIO;
	(void)fflush(stderr); /* diagnostics only: nothing to do if it fails */
	return err;
}

/* The batch's last output: with --json one object on one line, like the
 * lines' (st: a failure of the batch itself, reported here). Returns the
 * exit code: the first failing line's, else st's. */
static int summary(struct ctl *c, unsigned int ran, unsigned int failed,
		   const struct ctl_status *st, int first)
{
	json_object_put(c->result);
	c->result = json_object_new_object();
	json_object_object_add(c->result, "batch", json_object_new_boolean(1));
	json_object_object_add(c->result, "lines", json_object_new_int64(ran));
	json_object_object_add(c->result, "failed", json_object_new_int64(failed));
	if (st->code != CTL_OK) {
		ctl_report(c, st, NULL);
		if (first == CTL_OK)
			first = st->code;
	}
	if (c->json) {
		ctl_print_result(c, first, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		c->printed = true;
	}
	return first;
}

/* Run one line (already split); returns its exit code. */
static int run_line(struct ctl *c, int argc, char **argv)
{
	int rc;

	if (strcmp(argv[0], "cpu"))
		return ctl_usage_error(c, NULL,
				       "unknown batch command '%s' (a line is 'cpu add ...' or 'cpu del ...')",
				       argv[0]);
	if (argc < 2 || (strcmp(argv[1], "add") && strcmp(argv[1], "del")))
		return ctl_usage_error(c, NULL, "a batch line is 'cpu add ...' or 'cpu del ...', not 'cpu %s'",
				       argc < 2 ? "" : argv[1]);
	c->in_batch_line = true;
	rc = cpu_main(c, argc, argv);
	c->in_batch_line = false;
	return rc;
}

/*
 * Open both connections before the first line, as a VMM does when it
 * starts the VM, so that a line pays only for its own requests. A failure
 * here is no error yet: the first line that needs the connection tries
 * again and reports it.
 */
static void connect_early(struct ctl *c)
{
	struct ctl_status st = { 0 };
	struct upcall *h;
	struct qmp *q;

	if (c->qmp) {
		q = ctl_qmp_get(c, &st);
		if (!q)
			ctl_debug(c, "batch: QMP not connected yet: %s", st.msg);
		ctl_qmp_put(c, q);
	}
	st.code = CTL_OK;
	if (c->uds || c->have_cid) {
		if (ctl_devmgr_get(c, &h, &st))
			ctl_debug(c, "batch: device manager not connected yet: %s", st.msg);
		else
			ctl_devmgr_put(c, h);
	}
}

static int parse(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_GLOBAL_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, CTL_GLOBAL_SHORTOPTS, opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			return -1;
		case '?':
			return ctl_usage_error(c, batch_usage, "batch: bad option");
		default:
			if (ctl_global_option(c, opt, optarg))
				return CTL_EUSAGE;
		}
	}
	if (optind < argc)
		return ctl_usage_error(c, batch_usage,
				       "batch: unexpected argument '%s' (commands come on stdin)",
				       argv[optind]);
	return CTL_OK;
}

int batch_main(struct ctl *c, int argc, char **argv)
{
	struct ctl_held *held;
	struct ctl_status st = { 0 };
	unsigned int n = 0, ran = 0, failed = 0;
	char *words[BATCH_MAX_WORDS];
	struct reader *in;
	char *line = NULL;
	struct ctl_lock lk;
	int rc, werr, first = CTL_OK;

	rc = parse(c, argc, argv);
	if (rc < 0)
		return ctl_help(c, batch_usage);
	if (rc)
		return rc;
	held = calloc(1, sizeof(*held)); /* the APIC ID cache: 130 KiB */
	in = calloc(1, sizeof(*in));
	if (!held || !in) {
		free(held);
		free(in);
		return ctl_error(c, CTL_ECONN, ENOMEM, "out of memory");
	}
	/*
	 * A reader of the results that goes away must not kill the batch
	 * with SIGPIPE in the middle of a line (between QEMU's device_add
	 * and the guest's request): the write fails with EPIPE instead, and
	 * the batch stops after that line (line_done()).
	 */
	if (sigaction(SIGPIPE, &(struct sigaction){ .sa_handler = SIG_IGN }, NULL) < 0) {
		free(held);
		free(in);
		return ctl_error(c, CTL_ECONN, errno, "sigaction(SIGPIPE): %s", strerror(errno));
	}
	if (ctl_lock_vm(c, &lk, &st)) {
		free(held);
		free(in);
		return summary(c, 0, 0, &st, CTL_OK);
	}
	c->held = held;
	connect_early(c);
	for (;;) {
		size_t len = 0;
		bool nul;
		int nw, got;

		got = next_line(in, &line, &len);
		if (got == LINE_STOP || (got == LINE_EOF && ctl_interrupted())) {
			ctl_interrupt_fail(&st, "batch stopped after line %u", n);
			break;
		}
		if (got == LINE_ERR) {
			ctl_fail(&st, CTL_EUSAGE, errno, "reading stdin after line %u: %s",
				 n, strerror(errno));
			break;
		}
		if (got == LINE_EOF)
			break;
		n++;
		if (got == LINE_LONG) {
			json_object_put(c->result);
			c->result = json_object_new_object();
			json_object_object_add(c->result, "line", json_object_new_int64(n));
			rc = ctl_usage_error(c, NULL, "line %u: longer than %d bytes", n,
					     BATCH_MAX_LINE);
			ran++;
			failed++;
			if (first == CTL_OK)
				first = rc;
			goto done;
		}
		nul = strlen(line) != (size_t)len;
		nw = nul ? 1 : split(line, words, BATCH_MAX_WORDS);
		if (nw == 0 || (nw > 0 && words[0][0] == '#'))
			continue;
		/* Each line gets a fresh JSON document. */
		json_object_put(c->result);
		c->result = json_object_new_object();
		json_object_object_add(c->result, "line", json_object_new_int64(n));
		if (nul) {
			rc = ctl_usage_error(c, NULL, "line %u: NUL byte in the line", n);
		} else {
			if (nw < 0)
				rc = ctl_usage_error(c, NULL, "line %u: more than %d words", n,
						     BATCH_MAX_WORDS);
			else
				rc = run_line(c, nw, words);
		}
		ran++;
		if (rc != CTL_OK) {
			failed++;
			if (first == CTL_OK)
				first = rc;
		}
done:
		werr = line_done(c, n, rc);
		if (werr) {
			ctl_fail(&st, CTL_ECONN, -werr, "writing line %u's result to stdout: %s",
				 n, strerror(-werr));
			/* With --json the error would go only where it cannot. */
			if (c->json)
				fprintf(stderr, "%s: %s\n", c->prog, st.msg);
			break;
		}
		if (ctl_interrupted()) {
			ctl_interrupt_fail(&st, "batch stopped after line %u", n);
			break;
		}
	}
	free(in);
	ctl_debug(c, "batch: %u command(s), %u QMP and %u device-manager connection(s) made",
		  ran, held->qmp_opens, held->devmgr_opens);
	ctl_held_close(held);
	free(held);
	c->held = NULL;
	ctl_unlock_vm(&lk);

	return summary(c, ran, failed, &st, first);
}
