/*
 * hat - Host Access Table matching (see hat.h).
 *
 * Addresses are compared as bytes after inet_pton, never as strings, so
 * "010.0.0.1" or "::ffff:10.0.0.1" cannot slip past an entry written
 * differently.  A pattern that does not parse never matches: a typo in
 * the HAT must not widen a sender group.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "hat.h"

#define HAT_ADDR_TEXT_MAX	64	/* longest textual address we parse */

static const unsigned char v4mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

int
hat_parse_addr(const char *s, struct hat_addr *out)
{
	char tmp[HAT_ADDR_TEXT_MAX];
	const char *pct;
	size_t n;

	if (s == NULL)
		return -1;
	n = (pct = strchr(s, '%')) != NULL ? (size_t)(pct - s) : strlen(s);
	if (n == 0 || n >= sizeof tmp)
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	memset(out, 0, sizeof *out);
	if (pct == NULL && inet_pton(AF_INET, tmp, out->bytes) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, tmp, out->bytes) != 1)
		return -1;
	out->family = AF_INET6;
	if (memcmp(out->bytes, v4mapped_prefix, sizeof v4mapped_prefix) == 0) {
		memmove(out->bytes, out->bytes + 12, 4);
		memset(out->bytes + 4, 0, 12);
		out->family = AF_INET;
	}
	return 0;
}

/* Decimal prefix length, digits only, at most max; -1 if malformed. */
static int
parse_prefix(const char *s, int max)
{
	int v = 0;

	if (*s == '\0' || strlen(s) > 3)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v <= max ? v : -1;
}

static int
prefix_equal(const unsigned char *a, const unsigned char *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(a, b, (size_t)whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

/* "addr/len" -> network and prefix length; -1 if it is not a CIDR. */
static int
parse_cidr(const char *pattern, struct hat_addr *net, int *bits)
{
	char tmp[HAT_ADDR_TEXT_MAX];
	const char *slash = strchr(pattern, '/');
	size_t n;

	if (slash == NULL || (n = (size_t)(slash - pattern)) == 0 || n >= sizeof tmp)
		return -1;
	memcpy(tmp, pattern, n);
	tmp[n] = '\0';
	memset(net, 0, sizeof *net);
	if (inet_pton(AF_INET, tmp, net->bytes) == 1) {
		net->family = AF_INET;
		*bits = parse_prefix(slash + 1, 32);
		return *bits < 0 ? -1 : 0;
	}
	if (inet_pton(AF_INET6, tmp, net->bytes) != 1)
		return -1;
	net->family = AF_INET6;
	*bits = parse_prefix(slash + 1, 128);
	if (*bits < 0)
		return -1;
	/* ::ffff:0:0/96 and longer is an IPv4 block written as IPv6. */
	if (*bits >= 96 && memcmp(net->bytes, v4mapped_prefix, 12) == 0) {
		memmove(net->bytes, net->bytes + 12, 4);
		memset(net->bytes + 4, 0, 12);
		net->family = AF_INET;
		*bits -= 96;
	}
	return 0;
}

int
hat_pattern_matches(const char *pattern, const struct hat_addr *client)
{
	struct hat_addr a;
	int bits;

	if (pattern == NULL || client == NULL)
		return 0;
	if (strcasecmp(pattern, "ALL") == 0)
		return 1;
	if (strchr(pattern, '/') != NULL) {
		if (parse_cidr(pattern, &a, &bits) < 0 || a.family != client->family)
			return 0;
		return prefix_equal(a.bytes, client->bytes, bits);
	}
	if (hat_parse_addr(pattern, &a) < 0 || a.family != client->family)
		return 0;
	return memcmp(a.bytes, client->bytes, a.family == AF_INET ? 4 : 16) == 0;
}

const struct cfg_hat_entry *
hat_match_sender_group(const struct cfg_hat_entry *hat, size_t nhat, const char *client_ip,
    const char **matched, size_t *index)
{
	struct hat_addr client;
	size_t i, j;

	if (matched != NULL)
		*matched = NULL;
	if (hat_parse_addr(client_ip, &client) < 0)
		return NULL;
	for (i = 0; i < nhat; i++) {
		for (j = 0; j < hat[i].nmatch; j++) {
			if (!hat_pattern_matches(hat[i].match[j], &client))
				continue;
			if (matched != NULL)
				*matched = hat[i].match[j];
			if (index != NULL)
				*index = i;
			return &hat[i];
		}
	}
	return NULL;
}
