// SPDX-License-Identifier: GPL-2.0
/* fd helpers; see fdio.h. */
#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t read_small_file(const char *path, char *buf, size_t cap)
{
	size_t len = 0;
	int fd, saved;

	if (cap == 0) {
		errno = EINVAL;
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (len < cap - 1) {
		ssize_t r = read(fd, buf + len, cap - 1 - len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	if (close(fd) < 0)
		return -1;
	return (ssize_t)len;
}

static unsigned long long clock_ms(clockid_t id)
{
	struct timespec ts;

	/* cannot fail for these clocks on Linux; 0 keeps callers safe */
	if (clock_gettime(id, &ts) < 0)
		return 0;
	return (unsigned long long)ts.tv_sec * 1000ULL +
	       (unsigned long long)ts.tv_nsec / 1000000ULL;
}

unsigned long long now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

unsigned long long boottime_ms(void)
{
	return clock_ms(CLOCK_BOOTTIME);
}
