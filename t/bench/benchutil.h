/*
 * benchutil - what the benchmark tools (smtpload, smtpsink, tlsload)
 * share: a fatal error with the program's name, a bounded number from an
 * option, and latency percentiles.  The including file defines BENCH_NAME first.
 *
 * Not for: anything in the daemons (lib/ is theirs).
 */
#ifndef SP_BENCHUTIL_H
#define SP_BENCHUTIL_H
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef BENCH_NAME
#error "define BENCH_NAME before including benchutil.h"
/* qsort order for latencies in microseconds. */
static __attribute__((unused)) int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (0..1) of n sorted microsecond values, in ms. */
static __attribute__((unused)) double
percentile_ms(const uint32_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i] / 1000.0;
}

#endif

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* "NAME: message" on stderr, exit 2 (a usage or set-up error). */
static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", BENCH_NAME);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* A decimal number from min to max, else die naming the option. */
static __attribute__((unused)) unsigned long
parse_num(const char *opt, const char *s, unsigned long min, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < min || v > max)
		die("%s: expected a number from %lu to %lu, got '%s'", opt, min, max, s);
	return v;
}

/* qsort order for latencies in microseconds. */
static __attribute__((unused)) int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (0..1) of n sorted microsecond values, in ms. */
static __attribute__((unused)) double
percentile_ms(const uint32_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i] / 1000.0;
}

#endif
