/*
 * addr_parse - libFuzzer target for lib/addr.c.
 *
 * The input is a MAIL FROM/RCPT TO argument ("<path> params").  It is
 * parsed under all four flag combinations, and every success is checked
 * against the contract in addr.h: bounded, NUL-terminated fields, rest
 * inside the input, an LDH lower-case routing domain, no UTF-8 unless
 * allowed, and a stable result when "<full>" is parsed again.  The
 * parameters after the path, the whole input as parameters, and the
 * input as a config domain (addr_domain_to_ascii) are fuzzed as well.
 *
 * Not for: checking policy; any violation aborts with __builtin_trap.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static int
terminated(const char *s, size_t sz)
{
	return memchr(s, '\0', sz) != NULL;
}

static void
check_ascii_domain(const char *d)
{
	size_t i, n = strlen(d);

	CHECK(n <= ADDR_DOMAIN_MAX);
	if (n == 0)
		return;
	CHECK(d[n - 1] != '.' && d[0] != '.');
	if (d[0] == '[')
		return;		/* literal: checked by inet_pton already */
	for (i = 0; i < n; i++)
		CHECK((d[i] >= 'a' && d[i] <= 'z') || (d[i] >= '0' && d[i] <= '9') ||
		    d[i] == '-' || d[i] == '.');
	CHECK(strstr(d, "..") == NULL);
}

static void
check_addr(const char *in, size_t size, int utf8, int nodom,
    const struct mailaddr *a, const char *rest)
{
	struct mailaddr b;
	char again[sizeof a->full + 2];
	const char *r2;
	size_t n;

	CHECK(terminated(a->local, sizeof a->local));
	CHECK(terminated(a->domain, sizeof a->domain));
	CHECK(terminated(a->domain_ascii, sizeof a->domain_ascii));
	CHECK(terminated(a->full, sizeof a->full));
	CHECK(rest != NULL && rest > in && rest <= in + size && rest[-1] == '>');
	CHECK(rest - in <= ADDR_PATH_MAX);
	CHECK(rest == in + size || *rest == ' ');
	CHECK(strlen(a->local) <= ADDR_LOCAL_MAX);
	CHECK(strlen(a->domain) <= ADDR_DOMAIN_MAX);
	check_ascii_domain(a->domain_ascii);
	if (!utf8)
		CHECK(!a->has_utf8);
	if (a->is_null) {
		CHECK(a->local[0] == '\0' && a->domain[0] == '\0' && a->full[0] == '\0');
		return;
	}
	CHECK(a->local[0] != '\0');
	if (!nodom)
		CHECK(a->domain[0] != '\0' && a->domain_ascii[0] != '\0');
	CHECK(strchr(a->full, '\r') == NULL && strchr(a->full, '\n') == NULL);

	/* What we hand on must parse again to the same thing. */
	n = strlen(a->full);
	again[0] = '<';
	memcpy(again + 1, a->full, n);
	again[n + 1] = '>';
	CHECK(addr_parse_path(again, n + 2, utf8, nodom, &b, &r2) == ADDR_OK);
	CHECK(strcmp(a->local, b.local) == 0);
	CHECK(strcmp(a->domain, b.domain) == 0);
	CHECK(strcmp(a->domain_ascii, b.domain_ascii) == 0);
	CHECK(strcmp(a->full, b.full) == 0);
	CHECK(a->has_utf8 == b.has_utf8 && a->is_literal == b.is_literal);
}

static void
check_params(const char *s, size_t n)
{
	struct esmtp_params p;

	if (addr_parse_esmtp_params(s, n, &p) == 0) {
		CHECK(terminated(p.unknown, sizeof p.unknown));
		CHECK(p.has_size || p.size == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct mailaddr a;
	const char *rest;
	char *z, out[ADDR_DOMAIN_MAX + 1], out2[ADDR_DOMAIN_MAX + 1];
	int utf8, nodom;
	enum addr_status st;

	for (utf8 = 0; utf8 <= 1; utf8++)
		for (nodom = 0; nodom <= 1; nodom++) {
			st = addr_parse_path(in, size, utf8, nodom, &a, &rest);
			CHECK(addr_strerror(st) != NULL);
			if (st != ADDR_OK)
				continue;
			check_addr(in, size, utf8, nodom, &a, rest);
			check_params(rest, (size_t)(in + size - rest));
		}
	check_params(in, size);

	/* The input as a config domain. */
	if ((z = malloc(size + 1)) == NULL)
		return 0;
	memcpy(z, data, size);
	z[size] = '\0';
	if (addr_domain_to_ascii(z, out, sizeof out) == 0) {
		check_ascii_domain(out);
		CHECK(addr_domain_to_ascii(out, out2, sizeof out2) == 0);
		CHECK(strcmp(out, out2) == 0);
	}
	free(z);
	return 0;
}
