/*
 * hat - Host Access Table matching (see hat.h).
 *
 * Addresses are compared as bytes after inet_pton, never as strings, so
 * "010.0.0.1" or "::ffff:10.0.0.1" cannot slip past an entry written
 * differently.  Ranges and partial addresses are parsed octet by octet
 * (decimal, 0-255, at most three digits).  Host names are compared
 * case-insensitively without a trailing dot, and only against a name the
 * caller forward-confirmed.  A pattern that does not parse never matches:
 * a typo in the HAT must not widen a sender group.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "hat.h"
#include "xalloc.h"

#define HAT_ADDR_TEXT_MAX	64	/* longest textual address we parse */
#define HAT_NAME_MAX		255

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

/* One decimal octet of at most three digits at *sp; advances *sp. */
static int
parse_octet(const char **sp, unsigned *out)
{
	const char *s = *sp;
	unsigned v = 0;
	int n = 0;

	while (*s >= '0' && *s <= '9' && n < 4) {
		v = v * 10 + (unsigned)(*s - '0');
		s++;
		n++;
	}
	if (n == 0 || n > 3 || v > 255)
		return -1;
	*sp = s;
	*out = v;
	return 0;
}

/* Whole dotted IPv4 a.b.c.d at *sp (stops after d); host order. */
static int
parse_v4(const char **sp, uint32_t *out)
{
	unsigned o;
	uint32_t v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		if (i > 0) {
			if (**sp != '.')
				return -1;
			(*sp)++;
		}
		if (parse_octet(sp, &o) < 0)
			return -1;
		v = v << 8 | o;
	}
	*out = v;
	return 0;
}

/* "a.b.c.d-e" or "a.b.c.d-w.x.y.z" -> [lo, hi]; -1 if it is not one. */
static int
parse_range(const char *s, uint32_t *lo, uint32_t *hi)
{
	const char *p = s;
	uint32_t h;
	unsigned o;

	if (parse_v4(&p, lo) < 0 || *p++ != '-')
		return -1;
	if (strchr(p, '.') != NULL) {
		if (parse_v4(&p, &h) < 0 || *p != '\0')
			return -1;
	} else {
		if (parse_octet(&p, &o) < 0 || *p != '\0')
			return -1;
		h = (*lo & 0xffffff00u) | o;
	}
	if (h < *lo)
		return -1;
	*hi = h;
	return 0;
}

/* "10.2.3." -> octets {10,2,3}, n = 3 (1 to 3 whole octets). */
static int
parse_partial(const char *s, unsigned char *oct, int *n)
{
	const char *p = s;
	unsigned o;

	*n = 0;
	while (*p != '\0') {
		if (*n == 3 || parse_octet(&p, &o) < 0 || *p != '.')
			return -1;
		p++;
		oct[(*n)++] = (unsigned char)o;
	}
	return *n > 0 ? 0 : -1;
}

static int
only_chars(const char *s, const char *set)
{
	return s[strspn(s, set)] == '\0';
}

/* A host name pattern: letters, digits, '-', '_', '.', UTF-8 (an IDN,
 * matched in A-labels), optionally one leading dot, no empty labels. */
static int
valid_host_pattern(const char *s)
{
	const char *p = s[0] == '.' ? s + 1 : s;
	size_t n = strlen(p);

	if (n == 0 || n > HAT_NAME_MAX)
		return 0;
	for (; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' ||
		    (unsigned char)*p >= 0x80))
			return 0;
	p = s[0] == '.' ? s + 1 : s;
	if (p[0] == '.' || strstr(p, "..") != NULL)
		return 0;
	/* All digits and dots is a mistyped address, not a name. */
	return !only_chars(p, "0123456789.");
}

enum hat_kind
hat_pattern_kind(const char *pattern)
{
	struct hat_addr a;
	const char *z;
	unsigned char oct[3];
	uint32_t lo, hi;
	int bits, n;

	if (pattern == NULL || *pattern == '\0')
		return HAT_KIND_BAD;
	if (strcasecmp(pattern, "ALL") == 0)
		return HAT_KIND_ALL;
	if (strncasecmp(pattern, HAT_DNSBL_PREFIX, strlen(HAT_DNSBL_PREFIX)) == 0) {
		z = pattern + strlen(HAT_DNSBL_PREFIX);
		return valid_host_pattern(z) && z[0] != '.' ? HAT_KIND_DNSBL : HAT_KIND_BAD;
	}
	if (strncasecmp(pattern, "SBRS", 4) == 0)
		return HAT_KIND_OTHER;
	if (strchr(pattern, '/') != NULL)
		return parse_cidr(pattern, &a, &bits) == 0 ? HAT_KIND_ADDR : HAT_KIND_BAD;
	if (strchr(pattern, '-') != NULL && only_chars(pattern, "0123456789.-"))
		return parse_range(pattern, &lo, &hi) == 0 ? HAT_KIND_ADDR : HAT_KIND_BAD;
	if (only_chars(pattern, "0123456789.") && pattern[strlen(pattern) - 1] == '.')
		return parse_partial(pattern, oct, &n) == 0 ? HAT_KIND_ADDR : HAT_KIND_BAD;
	if (hat_parse_addr(pattern, &a) == 0)
		return HAT_KIND_ADDR;
	return valid_host_pattern(pattern) ? HAT_KIND_HOST : HAT_KIND_BAD;
}

int
hat_client_init(struct hat_client *c, const char *ip, const char *host,
    hat_listed_fn *listed, void *arg)
{
	memset(c, 0, sizeof *c);
	if (hat_parse_addr(ip, &c->addr) < 0)
		return -1;
	c->host = host;
	c->listed = listed;
	c->arg = arg;
	return 0;
}

static uint32_t
v4_value(const struct hat_addr *a)
{
	return (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 |
	    (uint32_t)a->bytes[2] << 8 | a->bytes[3];
}

int
hat_pattern_matches(const char *pattern, const struct hat_addr *client)
{
	struct hat_addr a;
	unsigned char oct[3];
	uint32_t lo, hi, v;
	int bits, n;

	if (pattern == NULL || client == NULL)
		return 0;
	switch (hat_pattern_kind(pattern)) {
	case HAT_KIND_ALL:
		return 1;
	case HAT_KIND_ADDR:
		break;
	default:
		return 0;
	}
	if (strchr(pattern, '/') != NULL) {
		if (parse_cidr(pattern, &a, &bits) < 0 || a.family != client->family)
			return 0;
		return prefix_equal(a.bytes, client->bytes, bits);
	}
	if (strchr(pattern, '-') != NULL) {
		if (client->family != AF_INET || parse_range(pattern, &lo, &hi) < 0)
			return 0;
		v = v4_value(client);
		return v >= lo && v <= hi;
	}
	if (pattern[strlen(pattern) - 1] == '.') {
		if (client->family != AF_INET || parse_partial(pattern, oct, &n) < 0)
			return 0;
		return memcmp(oct, client->bytes, (size_t)n) == 0;
	}
	if (hat_parse_addr(pattern, &a) < 0 || a.family != client->family)
		return 0;
	return memcmp(a.bytes, client->bytes, a.family == AF_INET ? 4 : 16) == 0;
}

/*
 * A host pattern in A-labels ("bücher.example" -> "xn--bcher-kva.example",
 * a leading dot kept) into out; 0, or -1 if it does not convert.  ASCII
 * patterns are copied as they are.
 */
static int
host_pattern_ascii(const char *pattern, char *out, size_t outlen)
{
	const char *p = pattern[0] == '.' ? pattern + 1 : pattern;
	size_t off = pattern[0] == '.' ? 1 : 0;

	if (outlen < 2)
		return -1;
	out[0] = '.';
	if (only_chars(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")) {
		if (strlen(p) + off >= outlen)
			return -1;
		memcpy(out + off, p, strlen(p) + 1);
		return 0;
	}
	return addr_domain_to_ascii(p, out + off, outlen - off) < 0 ? -1 : 0;
}

/* Name without a trailing dot, compared case-insensitively; pattern is
 * in A-labels. */
static int
host_matches_ascii(const char *pattern, const char *host)
{
	size_t pn = strlen(pattern), hn;

	if (host == NULL)
		return 0;
	hn = strlen(host);
	if (hn > 0 && host[hn - 1] == '.')
		hn--;
	if (pn > 0 && pattern[pn - 1] == '.')
		pn--;
	if (hn == 0 || pn == 0)
		return 0;
	if (pattern[0] == '.')
		return hn > pn && strncasecmp(host + hn - pn, pattern, pn) == 0;
	return hn == pn && strncasecmp(host, pattern, pn) == 0;
}

static int
host_matches(const char *pattern, const char *host)
{
	char ascii[HAT_NAME_MAX + 2];

	if (host == NULL || host_pattern_ascii(pattern, ascii, sizeof ascii) < 0)
		return 0;
	return host_matches_ascii(ascii, host);
}

int
hat_pattern_matches_client(const char *pattern, const struct hat_client *c)
{
	if (pattern == NULL || c == NULL)
		return 0;
	switch (hat_pattern_kind(pattern)) {
	case HAT_KIND_ALL:
	case HAT_KIND_ADDR:
		return hat_pattern_matches(pattern, &c->addr);
	case HAT_KIND_HOST:
		return host_matches(pattern, c->host);
	case HAT_KIND_DNSBL:
		return c->listed != NULL &&
		    c->listed(c->arg, pattern + strlen(HAT_DNSBL_PREFIX)) == 1;
	default:
		return 0;
	}
}

void
hat_compile(const char *pattern, struct hat_pattern *out)
{
	unsigned char oct[3];
	int n;

	memset(out, 0, sizeof *out);
	out->kind = hat_pattern_kind(pattern);
	switch (out->kind) {
	case HAT_KIND_HOST:
		out->text = pattern;
		return;
	case HAT_KIND_DNSBL:
		out->text = pattern + strlen(HAT_DNSBL_PREFIX);
		return;
	case HAT_KIND_ADDR:
		break;
	default:
		return;
	}
	if (strchr(pattern, '/') != NULL) {
		if (parse_cidr(pattern, &out->net, &out->bits) < 0)
			out->kind = HAT_KIND_BAD;
	} else if (strchr(pattern, '-') != NULL) {
		out->range = 1;
		if (parse_range(pattern, &out->lo, &out->hi) < 0)
			out->kind = HAT_KIND_BAD;
	} else if (pattern[strlen(pattern) - 1] == '.') {
		if (parse_partial(pattern, oct, &n) < 0)
			out->kind = HAT_KIND_BAD;
		out->net.family = AF_INET;
		memcpy(out->net.bytes, oct, (size_t)n);
		out->bits = 8 * n;
	} else if (hat_parse_addr(pattern, &out->net) < 0)
		out->kind = HAT_KIND_BAD;
	else
		out->bits = out->net.family == AF_INET ? 32 : 128;
}

/*
 * One allocation: the patterns, then the A-label forms of the host name
 * patterns they point to, so free(e->compiled) releases everything.
 */
void
hat_compile_entry(struct cfg_hat_entry *e)
{
	char ascii[HAT_NAME_MAX + 2], *blob;
	size_t j, extra = 0, n = e->nmatch ? e->nmatch : 1;
	struct hat_pattern *pc;

	for (j = 0; j < e->nmatch; j++)
		if (hat_pattern_kind(e->match[j]) == HAT_KIND_HOST &&
		    host_pattern_ascii(e->match[j], ascii, sizeof ascii) == 0)
			extra += strlen(ascii) + 1;
	pc = xcalloc(1, n * sizeof *pc + extra);
	blob = (char *)(pc + n);
	for (j = 0; j < e->nmatch; j++) {
		hat_compile(e->match[j], &pc[j]);
		if (pc[j].kind != HAT_KIND_HOST)
			continue;
		if (host_pattern_ascii(e->match[j], ascii, sizeof ascii) < 0) {
			pc[j].kind = HAT_KIND_BAD;	/* an IDN that does not convert */
			continue;
		}
		memcpy(blob, ascii, strlen(ascii) + 1);
		pc[j].text = blob;
		blob += strlen(ascii) + 1;
	}
	e->compiled = pc;
}

/* A compiled pattern against the address alone. */
static int
compiled_addr_matches(const struct hat_pattern *p, const struct hat_addr *a)
{
	uint32_t v;

	if (p->kind == HAT_KIND_ALL)
		return 1;
	if (p->kind != HAT_KIND_ADDR)
		return 0;
	if (p->range) {
		if (a->family != AF_INET)
			return 0;
		v = v4_value(a);
		return v >= p->lo && v <= p->hi;
	}
	return p->net.family == a->family && prefix_equal(p->net.bytes, a->bytes, p->bits);
}

static int
compiled_matches(const struct hat_pattern *p, const struct hat_client *c)
{
	switch (p->kind) {
	case HAT_KIND_ALL:
	case HAT_KIND_ADDR:
		return compiled_addr_matches(p, &c->addr);
	case HAT_KIND_HOST:
		return host_matches_ascii(p->text, c->host);
	case HAT_KIND_DNSBL:
		return c->listed != NULL && c->listed(c->arg, p->text) == 1;
	default:
		return 0;
	}
}

/* Entry i, string j: compiled when the config was loaded, else parsed. */
static int
entry_matches(const struct cfg_hat_entry *e, size_t j, const struct hat_client *c)
{
	if (e->compiled != NULL)
		return compiled_matches(&e->compiled[j], c);
	return hat_pattern_matches_client(e->match[j], c);
}

static int
entry_addr_matches(const struct cfg_hat_entry *e, size_t j, const struct hat_addr *a)
{
	if (e->compiled != NULL)
		return compiled_addr_matches(&e->compiled[j], a);
	return hat_pattern_matches(e->match[j], a);
}

const struct cfg_hat_entry *
hat_match_client(const struct cfg_hat_entry *hat, size_t nhat, const struct hat_client *c,
    const char **matched, size_t *index)
{
	size_t i, j;

	if (matched != NULL)
		*matched = NULL;
	for (i = 0; i < nhat; i++) {
		for (j = 0; j < hat[i].nmatch; j++) {
			if (!entry_matches(&hat[i], j, c))
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

const struct cfg_hat_entry *
hat_match_sender_group(const struct cfg_hat_entry *hat, size_t nhat, const char *client_ip,
    const char **matched, size_t *index)
{
	struct hat_client c;

	if (matched != NULL)
		*matched = NULL;
	if (hat_client_init(&c, client_ip, NULL, NULL, NULL) < 0)
		return NULL;
	return hat_match_client(hat, nhat, &c, matched, index);
}

void
hat_dns_needs(const struct cfg_hat_entry *hat, size_t nhat, const char *client_ip,
    int *need_host, const char **zones, size_t max, size_t *nzones)
{
	struct hat_addr a;
	const char *z;
	size_t i, j, k;

	*need_host = 0;
	*nzones = 0;
	if (hat_parse_addr(client_ip, &a) < 0)
		return;
	for (i = 0; i < nhat; i++) {
		for (j = 0; j < hat[i].nmatch; j++)
			if (entry_addr_matches(&hat[i], j, &a))
				return;	/* decided by the address: nothing later counts */
		for (j = 0; j < hat[i].nmatch; j++) {
			switch (hat[i].compiled != NULL ? hat[i].compiled[j].kind :
			    hat_pattern_kind(hat[i].match[j])) {
			case HAT_KIND_HOST:
				*need_host = 1;
				break;
			case HAT_KIND_DNSBL:
				z = hat[i].match[j] + strlen(HAT_DNSBL_PREFIX);
				for (k = 0; k < *nzones; k++)
					if (strcasecmp(zones[k], z) == 0)
						break;
				if (k == *nzones && *nzones < max)
					zones[(*nzones)++] = z;
				break;
			default:
				break;
			}
		}
	}
}
