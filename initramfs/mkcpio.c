// SPDX-License-Identifier: GPL-2.0
/*
 * mkcpio: writes a reproducible cpio archive in the kernel's "newc" format
 * (the format the kernel unpacks as initramfs; see the kernel's
 * Documentation/driver-api/early-userspace/buffer-format.rst) from a list
 * of entries, without needing root to create device nodes.
 *
 *   mkcpio [-t MTIME] [-o OUT] [LIST]      (LIST or stdin)
 *
 * LIST lines (paths inside the archive, without a leading '/'):
 *   dir   PATH MODE
 *   file  PATH SOURCE MODE
 *   slink PATH TARGET MODE
 *   nod   PATH MODE c|b MAJOR MINOR
 *   # comment
 *
 * Everything that could differ between two builds is fixed: entries are
 * sorted by path, inode numbers follow that order, owners are 0:0, every
 * mtime is MTIME (default 0), modes come from the list, not from the
 * source files. Parent directories must be listed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum kind { K_DIR, K_FILE, K_SLINK, K_NOD };

struct entry {
	enum kind kind;
	char *path;
	char *src;	/* file: source path; slink: target */
	unsigned int mode;	/* permission bits only */
	bool block;
	unsigned int maj, min;
};

static struct entry *entries;
static size_t nentries, capentries;
static unsigned long long mtime;
static const char *list_name = "<stdin>";

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("mkcpio: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		die("out of memory");
	return d;
}

static unsigned int parse_mode(const char *s, unsigned long line)
{
	char *end;
	unsigned long m;

	errno = 0;
	m = strtoul(s, &end, 8);
	if (errno || *end || end == s || m > 07777)
		die("%s:%lu: bad mode '%s'", list_name, line, s);
	return (unsigned int)m;
}

static unsigned int parse_num(const char *s, unsigned long line)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v > 0xfffff)
		die("%s:%lu: bad number '%s'", list_name, line, s);
	return (unsigned int)v;
}

static void check_path(const char *p, unsigned long line)
{
	if (!*p || p[0] == '/' || strstr(p, "//") || p[strlen(p) - 1] == '/' ||
	    strcmp(p, "..") == 0 || strncmp(p, "../", 3) == 0 ||
	    strstr(p, "/../") || strcmp(p, ".") == 0)
		die("%s:%lu: bad archive path '%s'", list_name, line, p);
}

static void add(const struct entry *e)
{
	if (nentries == capentries) {
		capentries = capentries ? capentries * 2 : 256;
		entries = realloc(entries, capentries * sizeof(*entries));
		if (!entries)
			die("out of memory");
	}
	entries[nentries++] = *e;
}

static void read_list(FILE *f)
{
	char buf[4096];
	unsigned long line = 0;

	while (fgets(buf, sizeof(buf), f)) {
		char *w[7];
		int n = 0;
		char *save = NULL, *tok;
		struct entry e;

		line++;
		if (!strchr(buf, '\n') && !feof(f))
			die("%s:%lu: line too long", list_name, line);
		for (tok = strtok_r(buf, " \t\n", &save); tok && n < 7;
		     tok = strtok_r(NULL, " \t\n", &save))
			w[n++] = tok;
		if (n == 0 || w[0][0] == '#')
			continue;
		memset(&e, 0, sizeof(e));
		if (strcmp(w[0], "dir") == 0 && n == 3) {
			e.kind = K_DIR;
			e.mode = parse_mode(w[2], line);
		} else if (strcmp(w[0], "file") == 0 && n == 4) {
			e.kind = K_FILE;
			e.src = xstrdup(w[2]);
			e.mode = parse_mode(w[3], line);
		} else if (strcmp(w[0], "slink") == 0 && n == 4) {
			e.kind = K_SLINK;
			e.src = xstrdup(w[2]);
			e.mode = parse_mode(w[3], line);
		} else if (strcmp(w[0], "nod") == 0 && n == 6 &&
			   (strcmp(w[3], "c") == 0 || strcmp(w[3], "b") == 0)) {
			e.kind = K_NOD;
			e.mode = parse_mode(w[2], line);
			e.block = w[3][0] == 'b';
			e.maj = parse_num(w[4], line);
			e.min = parse_num(w[5], line);
		} else {
			die("%s:%lu: cannot parse '%s' entry", list_name, line,
			    w[0]);
		}
		check_path(w[1], line);
		e.path = xstrdup(w[1]);
		add(&e);
	}
	if (ferror(f))
		die("reading %s: %s", list_name, strerror(errno));
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path,
		      ((const struct entry *)b)->path);
}

static const struct entry *find(const char *path)
{
	struct entry key = { .path = (char *)path };

	return bsearch(&key, entries, nentries, sizeof(*entries), by_path);
}

/* After sorting: no duplicates, every parent is a listed directory. */
static void check_tree(void)
{
	size_t i;

	for (i = 0; i < nentries; i++) {
		char *slash, *parent;
		const struct entry *p;

		if (i > 0 && strcmp(entries[i - 1].path, entries[i].path) == 0)
			die("'%s' listed twice", entries[i].path);
		slash = strrchr(entries[i].path, '/');
		if (!slash)
			continue;
		parent = xstrdup(entries[i].path);
		parent[slash - entries[i].path] = '\0';
		p = find(parent);
		if (!p || p->kind != K_DIR)
			die("'%s': parent directory '%s' is not listed",
			    entries[i].path, parent);
		free(parent);
	}
}

static FILE *out;
static unsigned long long written;

static void put(const void *buf, size_t n)
{
	if (n && fwrite(buf, 1, n, out) != n)
		die("write: %s", strerror(errno));
	written += n;
}

static void pad4(void)
{
	static const char zero[4];

	put(zero, (size_t)((4 - written % 4) % 4));
}

/* One 8-digit hex header field; every value was range-checked to 32 bits. */
static void hex8(char *dst, unsigned long long v)
{
	static const char digits[] = "0123456789ABCDEF";
	int i;

	for (i = 7; i >= 0; i--) {
		dst[i] = digits[v & 0xf];
		v >>= 4;
	}
}

static void header(unsigned long ino, unsigned int mode, unsigned int nlink,
		   unsigned long long size, unsigned int rmaj,
		   unsigned int rmin, const char *name)
{
	/* magic, then ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
	 * devminor, rdevmajor, rdevminor, namesize, check */
	unsigned long long f[13] = {
		ino, mode, 0, 0, nlink, mtime, size, 0, 0, rmaj, rmin,
		strlen(name) + 1, 0,
	};
	char h[110];
	int i;

	if (size > 0xffffffffULL)
		die("'%s': too big for newc", name);
	memcpy(h, "070701", 6);
	for (i = 0; i < 13; i++)
		hex8(h + 6 + 8 * i, f[i]);
	put(h, sizeof(h));
	put(name, strlen(name) + 1);
	pad4();
}

static void write_file(unsigned long ino, const struct entry *e)
{
	FILE *f = fopen(e->src, "rb");
	struct stat st;
	char buf[65536];
	unsigned long long left;
	size_t r;

	if (!f)
		die("%s: %s", e->src, strerror(errno));
	if (fstat(fileno(f), &st) < 0)
		die("%s: %s", e->src, strerror(errno));
	if (!S_ISREG(st.st_mode))
		die("%s: not a regular file", e->src);
	header(ino, S_IFREG | e->mode, 1, (unsigned long long)st.st_size, 0, 0,
	       e->path);
	left = (unsigned long long)st.st_size;
	while (left > 0 && (r = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (r > left)
			die("%s: grew while being archived", e->src);
		put(buf, r);
		left -= r;
	}
	if (ferror(f) || left != 0 || fgetc(f) != EOF)
		die("%s: changed while being archived", e->src);
	if (fclose(f) != 0)
		die("%s: %s", e->src, strerror(errno));
	pad4();
}

static void write_archive(void)
{
	size_t i;

	for (i = 0; i < nentries; i++) {
		const struct entry *e = &entries[i];
		unsigned long ino = (unsigned long)i + 1;

		switch (e->kind) {
		case K_DIR:
			header(ino, S_IFDIR | e->mode, 2, 0, 0, 0, e->path);
			break;
		case K_FILE:
			write_file(ino, e);
			break;
		case K_SLINK:
			header(ino, S_IFLNK | e->mode, 1, strlen(e->src), 0, 0,
			       e->path);
			put(e->src, strlen(e->src));
			pad4();
			break;
		case K_NOD:
			header(ino, (e->block ? S_IFBLK : S_IFCHR) | e->mode, 1,
			       0, e->maj, e->min, e->path);
			break;
		}
	}
	header(0, 0, 1, 0, 0, 0, "TRAILER!!!");
}

int main(int argc, char **argv)
{
	const char *outname = NULL;
	FILE *in = stdin;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
			char *end;

			errno = 0;
			mtime = strtoull(argv[++i], &end, 10);
			if (errno || *end || mtime > 0xffffffffULL)
				die("bad mtime '%s'", argv[i]);
		} else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			outname = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1]) {
			die("usage: mkcpio [-t MTIME] [-o OUT] [LIST]");
		} else {
			list_name = argv[i];
			in = fopen(list_name, "r");
			if (!in)
				die("%s: %s", list_name, strerror(errno));
		}
	}
	read_list(in);
	if (in != stdin && fclose(in) != 0)
		die("%s: %s", list_name, strerror(errno));
	qsort(entries, nentries, sizeof(*entries), by_path);
	check_tree();
	out = outname ? fopen(outname, "wb") : stdout;
	if (!out)
		die("%s: %s", outname, strerror(errno));
	write_archive();
	if (fflush(out) != 0 || (outname && fclose(out) != 0))
		die("write: %s", strerror(errno));
	return 0;
}
