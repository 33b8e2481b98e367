// SPDX-License-Identifier: GPL-2.0
/* Parsers for /proc/iomem, /proc/interrupts and virtio ids; see sysparse.h. */
#include "sysparse.h"

#include <string.h>

#include "strutil.h"

/* Calls back for each line of text[0..n) until fn returns true. */
static bool each_line(const char *text, size_t n,
		      bool (*fn)(const char *line, size_t len, void *arg),
		      void *arg)
{
	size_t pos = 0;

	while (pos < n) {
		const char *nl = memchr(text + pos, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - (text + pos)) : n - pos;

		if (fn(text + pos, len, arg))
			return true;
		pos += len + 1;
	}
	return false;
}

struct iomem_query {
	const char *name;
	uint64_t start, end;
};

static bool iomem_line(const char *l, size_t len, void *arg)
{
	struct iomem_query *q = arg;
	const char *dash, *sep;
	size_t i = 0, nlen;

	while (i < len && l[i] == ' ')
		i++;
	l += i;
	len -= i;
	sep = NULL;
	for (i = 0; i + 2 < len; i++) {
		if (l[i] == ' ' && l[i + 1] == ':' && l[i + 2] == ' ') {
			sep = l + i;
			break;
		}
	}
	if (!sep)
		return false;
	dash = memchr(l, '-', (size_t)(sep - l));
	if (!dash)
		return false;
	nlen = trim_trailing_space(sep + 3, len - (size_t)(sep + 3 - l));
	if (nlen != strlen(q->name) || memcmp(sep + 3, q->name, nlen) != 0)
		return false;
	return parse_u64_hex(l, (size_t)(dash - l), &q->start) &&
	       parse_u64_hex(dash + 1, (size_t)(sep - dash - 1), &q->end);
}

bool meminfo_bytes(const char *text, size_t n, const char *key,
		   uint64_t *bytes)
{
	size_t klen = strlen(key), pos = 0;

	while (pos < n) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - line) : n - pos;
		size_t i = klen + 1, start;
		uint64_t kb;

		pos += len + 1;
		if (len <= klen || memcmp(line, key, klen) || line[klen] != ':')
			continue;
		while (i < len && line[i] == ' ')
			i++;
		start = i;
		while (i < len && line[i] >= '0' && line[i] <= '9')
			i++;
		if (len - i != 3 || memcmp(line + i, " kB", 3) ||
		    !parse_u64_dec(line + start, i - start, &kb) ||
		    kb > UINT64_MAX / 1024)
			return false;
		*bytes = kb * 1024;
		return true;
	}
	return false;
}

bool iomem_find(const char *text, size_t n, const char *name,
		uint64_t *start, uint64_t *end)
{
	struct iomem_query q = { .name = name };

	if (!each_line(text, n, iomem_line, &q))
		return false;
	*start = q.start;
	*end = q.end;
	return true;
}

struct irq_query {
	const char *name;
	unsigned int irq;
};

static bool is_sep(char c)
{
	return c == ' ' || c == '\t' || c == ',' || c == '\r';
}

static bool irq_line(const char *l, size_t len, void *arg)
{
	struct irq_query *q = arg;
	size_t i = 0, start, nlen = strlen(q->name);
	uint64_t irq;
	bool first = true;

	while (i < len) {
		while (i < len && is_sep(l[i]))
			i++;
		start = i;
		while (i < len && !is_sep(l[i]))
			i++;
		if (i == start)
			break;
		if (first) {
			/* "12:" -- lines like "NMI:" or "LOC:" have no number */
			if (l[i - 1] != ':' ||
			    !parse_u64_dec(l + start, i - start - 1, &irq) ||
			    irq > 0xffffffffu)
				return false;
			first = false;
			continue;
		}
		if (i - start == nlen && memcmp(l + start, q->name, nlen) == 0) {
			q->irq = (unsigned int)irq;
			return true;
		}
	}
	return false;
}

bool interrupts_find(const char *text, size_t n, const char *name,
		     unsigned int *irq)
{
	struct irq_query q = { .name = name };

	if (!each_line(text, n, irq_line, &q))
		return false;
	*irq = q.irq;
	return true;
}

bool platform_name_base(const char *name, uint64_t *base)
{
	const char *dot = strchr(name, '.');

	if (!dot || dot == name)
		return false;
	return parse_u64_hex(name, (size_t)(dot - name), base) &&
	       dot[1] != '\0';
}

const char *virtio_type_name(unsigned long id)
{
	/* device ids from the virtio specification (linux/virtio_ids.h) */
	static const struct {
		unsigned long id;
		const char *name;
	} types[] = {
		{ 1, "net" },     { 2, "block" },   { 3, "console" },
		{ 4, "rng" },     { 5, "balloon" }, { 8, "scsi" },
		{ 9, "9p" },      { 16, "gpu" },    { 18, "input" },
		{ 19, "vsock" },  { 20, "crypto" }, { 23, "iommu" },
		{ 24, "mem" },    { 25, "sound" },  { 26, "fs" },
		{ 27, "pmem" },   { 34, "i2c" },    { 41, "gpio" },
	};
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].id == id)
			return types[i].name;
	return NULL;
}
