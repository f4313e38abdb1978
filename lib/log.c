/*
 * log - per-daemon log files (see log.h).  Not for the control protocol's
 * replies or for anything a client sees.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static struct {
	char		 name[32];
	int		 fd;
	int		 also_stderr;
	enum log_level	 min;
} logstate = { "sallyport", 2, 0, LOG_LVL_INFO };

static const char *const level_names[] = { "Debug", "Info", "Warning", "Critical" };

int
log_open(const char *daemon, const char *path)
{
	int fd = 2;

	snprintf(logstate.name, sizeof logstate.name, "%s", daemon);
	if (path != NULL) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0)
			return -1;
	}
	if (logstate.fd > 2)
		close(logstate.fd);
	logstate.fd = fd;
	return 0;
}

void
log_set_level(enum log_level min)
{
	logstate.min = min;
}

void
log_also_stderr(int on)
{
	logstate.also_stderr = on;
}

void
log_close(void)
{
	if (logstate.fd > 2)
		close(logstate.fd);
	logstate.fd = 2;
}

void
log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char line[4096];
	struct timeval tv;
	struct tm tm;
	size_t n;
	int r;

	if (lvl < logstate.min)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof line - n, ".%03dZ %s[%d] %s: ", (int)(tv.tv_usec / 1000),
	    logstate.name, (int)getpid(), level_names[lvl]);
	if (r > 0)
		n += (size_t)r;
	r = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
	if (r > 0)
		n += (size_t)r < sizeof line - n - 1 ? (size_t)r : sizeof line - n - 2;
	line[n++] = '\n';
	(void)!write(logstate.fd, line, n);
	if (logstate.also_stderr && logstate.fd != 2)
		(void)!write(2, line, n);
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

void
log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_CRITICAL, fmt, ap);
	va_end(ap);
	if (logstate.fd != 2) {
		va_start(ap, fmt);
		fprintf(stderr, "%s: ", logstate.name);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	exit(1);
}

const char *
log_safe(const char *s, char *out, unsigned outlen)
{
	unsigned o = 0;

	if (outlen == 0)
		return "";
	for (; s && *s && o + 5 < outlen; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f) {
			o += (unsigned)snprintf(out + o, outlen - o, "\\x%02x", c);
		} else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}
