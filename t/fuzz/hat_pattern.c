/*
 * hat_pattern - libFuzzer target for lib/hat.c.
 *
 * The input is split at the first NUL (or newline) into a HAT match
 * string and a client address; the rest, if any, is a host name.  The
 * pattern is classified and matched against the client with and without
 * DNS facts, and as a one-entry table through hat_match_client and
 * hat_dns_needs.  Contract checked: an address-only match never depends
 * on the facts (hat_pattern_matches implies hat_pattern_matches_client),
 * BAD patterns never match, and hat_dns_needs reports at most the zones
 * asked for, each pointing into the pattern.
 *
 * Not for: DNS; any violation aborts with __builtin_trap.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)
#define FIELD_MAX 300

static int
listed_all(void *arg, const char *zone)
{
	(void)arg;
	CHECK(zone != NULL && strlen(zone) < FIELD_MAX);
	return 1;
}

/* Next field of at most FIELD_MAX - 1 bytes, up to a NUL or newline. */
static size_t
field(const uint8_t *p, size_t n, char *out)
{
	size_t i = 0;

	while (i < n && i < FIELD_MAX - 1 && p[i] != '\0' && p[i] != '\n') {
		out[i] = (char)p[i];
		i++;
	}
	out[i] = '\0';
	return i < n ? i + 1 : i;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char pat[FIELD_MAX], ip[FIELD_MAX], host[FIELD_MAX];
	char *match[1];
	const char *zones[2], *matched;
	struct cfg_hat_entry e;
	struct hat_client bare, full;
	enum hat_kind k;
	size_t off, nz, i;
	int need;

	off = field(data, size, pat);
	off += field(data + off, size - off, ip);
	field(data + off, size - off, host);
	k = hat_pattern_kind(pat);
	if (hat_client_init(&bare, ip, NULL, NULL, NULL) < 0) {
		CHECK(hat_match_sender_group(NULL, 0, ip, NULL, NULL) == NULL);
		return 0;
	}
	hat_client_init(&full, ip, host, listed_all, NULL);
	if (hat_pattern_matches(pat, &bare.addr)) {
		CHECK(k == HAT_KIND_ALL || k == HAT_KIND_ADDR);
		CHECK(hat_pattern_matches_client(pat, &full));
		CHECK(hat_pattern_matches_client(pat, &bare));
	}
	if (k == HAT_KIND_BAD || k == HAT_KIND_OTHER)
		CHECK(!hat_pattern_matches_client(pat, &full));
	if (k == HAT_KIND_HOST || k == HAT_KIND_DNSBL)
		CHECK(!hat_pattern_matches_client(pat, &bare));
	memset(&e, 0, sizeof e);
	match[0] = pat;
	e.group = "G";
	e.match = match;
	e.nmatch = 1;
	if (hat_match_client(&e, 1, &full, &matched, NULL) != NULL)
		CHECK(matched == pat);
	hat_compile_entry(&e);
	CHECK((hat_match_client(&e, 1, &full, NULL, NULL) != NULL) ==
	    hat_pattern_matches_client(pat, &full));
	CHECK((hat_match_client(&e, 1, &bare, NULL, NULL) != NULL) ==
	    hat_pattern_matches_client(pat, &bare));
	free(e.compiled);
	e.compiled = NULL;
	hat_dns_needs(&e, 1, ip, &need, zones, 2, &nz);
	CHECK(nz <= 1);
	for (i = 0; i < nz; i++)
		CHECK(zones[i] > pat && zones[i] < pat + strlen(pat));
	CHECK(!need || k == HAT_KIND_HOST);
	return 0;
}
