/*
 * lib_hat - HAT matching: ALL, exact IPv4/IPv6, CIDR v4/v6, IPv4-mapped
 * clients, ranges, partial addresses, forward-confirmed host names and
 * .suffixes, DNS lists, first match wins, what DNS a client needs,
 * unsupported and malformed kinds never match.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hat.h"
#include "tap.h"

static int
m(const char *pattern, const char *ip)
{
	struct hat_addr a;

	if (hat_parse_addr(ip, &a) < 0)
		return -1;
	return hat_pattern_matches(pattern, &a);
}

static void
test_patterns(void)
{
	struct hat_addr a;

	ok(hat_parse_addr("192.0.2.1", &a) == 0 && a.family == AF_INET, "IPv4 parses");
	ok(hat_parse_addr("2001:db8::1", &a) == 0 && a.family == AF_INET6, "IPv6 parses");
	ok(hat_parse_addr("::ffff:192.0.2.1", &a) == 0 && a.family == AF_INET,
	    "IPv4-mapped IPv6 becomes IPv4");
	ok(hat_parse_addr("fe80::1%eth0", &a) == 0 && a.family == AF_INET6,
	    "zone suffix ignored");
	ok(hat_parse_addr("example.com", &a) < 0, "a name is not an address");
	ok(hat_parse_addr("", &a) < 0, "empty is not an address");
	ok(hat_parse_addr("1.2.3.4%x", &a) < 0, "IPv4 with a zone is refused");

	is(m("ALL", "192.0.2.1"), 1, "ALL matches IPv4");
	is(m("all", "2001:db8::1"), 1, "all (any case) matches IPv6");
	is(m("192.0.2.1", "192.0.2.1"), 1, "exact IPv4");
	is(m("192.0.2.1", "192.0.2.2"), 0, "other IPv4");
	is(m("192.0.2.1", "::ffff:192.0.2.1"), 1, "exact IPv4 matches mapped client");
	is(m("2001:db8::1", "2001:0db8:0:0::1"), 1, "exact IPv6, other spelling");
	is(m("2001:db8::1", "2001:db8::2"), 0, "other IPv6");
	is(m("2001:db8::1", "192.0.2.1"), 0, "IPv6 entry, IPv4 client");
	is(m("10.0.0.0/8", "10.255.1.2"), 1, "CIDR v4 inside");
	is(m("10.0.0.0/8", "11.0.0.1"), 0, "CIDR v4 outside");
	is(m("10.1.2.3/8", "10.9.9.9"), 1, "host bits in the entry are ignored");
	is(m("192.0.2.128/25", "192.0.2.127"), 0, "/25 lower half outside");
	is(m("192.0.2.128/25", "192.0.2.200"), 1, "/25 upper half inside");
	is(m("0.0.0.0/0", "203.0.113.9"), 1, "/0 is every IPv4");
	is(m("0.0.0.0/0", "2001:db8::1"), 0, "/0 v4 is no IPv6");
	is(m("192.0.2.7/32", "192.0.2.7"), 1, "/32");
	is(m("192.0.2.7/33", "192.0.2.7"), 0, "/33 is malformed: no match");
	is(m("192.0.2.7/", "192.0.2.7"), 0, "empty prefix: no match");
	is(m("192.0.2.7/x", "192.0.2.7"), 0, "bad prefix: no match");
	is(m("192.0.2.7/-1", "192.0.2.7"), 0, "negative prefix: no match");
	is(m("2001:db8::/32", "2001:db8:ffff::1"), 1, "CIDR v6 inside");
	is(m("2001:db8::/32", "2001:db9::1"), 0, "CIDR v6 outside");
	is(m("2001:db8::/33", "2001:db8:8000::1"), 0, "/33 v6 boundary");
	is(m("2001:db8::/129", "2001:db8::1"), 0, "/129 malformed");
	is(m("::1", "::1"), 1, "loopback v6");
	is(m("::ffff:10.0.0.0/104", "10.1.2.3"), 1, "mapped CIDR matches IPv4 client");
	is(m("::ffff:10.0.0.0/104", "11.1.2.3"), 0, "mapped CIDR outside");
	is(m("10.0.0.0/8", "::ffff:10.1.2.3"), 1, "v4 CIDR matches mapped client");
	is(m(".spam.example", "192.0.2.1"), 0, "domain suffix: no match on the address alone");
	is(m("mail.example.com", "192.0.2.1"), 0, "host name: no match on the address alone");
	is(m("SBRS[-10:-5]", "192.0.2.1"), 0, "SBRS range: never matches");
	is(m("", "192.0.2.1"), 0, "empty pattern: no match");
	is(m("010.0.0.1", "10.0.0.1"), 0, "octal-looking IPv4 is not an address");
}

static void
test_table(void)
{
	char *blocked[] = { "10.9.0.0/16", ".spam.example" };
	char *relay[] = { "127.0.0.1", "::1" };
	char *onlynames[] = { "host.example" };
	char *all[] = { "ALL" };
	struct cfg_hat_entry hat[4];
	const struct cfg_hat_entry *e;
	const char *matched;
	size_t idx;

	memset(hat, 0, sizeof hat);
	hat[0].group = "BLOCKED";
	hat[0].match = blocked;
	hat[0].nmatch = 2;
	hat[1].group = "NAMES";
	hat[1].match = onlynames;
	hat[1].nmatch = 1;
	hat[2].group = "RELAYLIST";
	hat[2].match = relay;
	hat[2].nmatch = 2;
	hat[3].group = "ALL";
	hat[3].match = all;
	hat[3].nmatch = 1;

	e = hat_match_sender_group(hat, 4, "10.9.1.1", &matched, &idx);
	ok(e == &hat[0], "first entry wins");
	is_str(matched, "10.9.0.0/16", "matching string reported");
	is(idx, 0, "index reported");
	e = hat_match_sender_group(hat, 4, "::1", &matched, &idx);
	ok(e == &hat[2], "IPv6 loopback in RELAYLIST (NAMES skipped)");
	is_str(matched, "::1", "second match string of the entry");
	e = hat_match_sender_group(hat, 4, "192.0.2.1", &matched, NULL);
	ok(e == &hat[3], "falls through to ALL");
	is_str(matched, "ALL", "ALL reported");
	e = hat_match_sender_group(hat, 3, "192.0.2.1", &matched, NULL);
	ok(e == NULL, "no entry matches");
	ok(matched == NULL, "nothing reported");
	e = hat_match_sender_group(hat, 4, "not-an-ip", &matched, NULL);
	ok(e == NULL, "client that is not an address matches nothing, not even ALL");
	e = hat_match_sender_group(hat, 0, "10.9.1.1", NULL, NULL);
	ok(e == NULL, "empty table");
	e = hat_match_sender_group(hat, 4, "::ffff:10.9.3.4", NULL, NULL);
	ok(e == &hat[0], "IPv4-mapped client hits the IPv4 CIDR");
}

static int
mc(const char *pattern, const char *ip, const char *host)
{
	struct hat_client c;

	if (hat_client_init(&c, ip, host, NULL, NULL) < 0)
		return -1;
	return hat_pattern_matches_client(pattern, &c);
}

static void
test_ranges(void)
{
	is(m("10.1.1.10-50", "10.1.1.10"), 1, "range: low end");
	is(m("10.1.1.10-50", "10.1.1.50"), 1, "range: high end");
	is(m("10.1.1.10-50", "10.1.1.30"), 1, "range: inside");
	is(m("10.1.1.10-50", "10.1.1.9"), 0, "range: below");
	is(m("10.1.1.10-50", "10.1.1.51"), 0, "range: above");
	is(m("10.1.1.10-50", "10.1.2.30"), 0, "range: other /24");
	is(m("10.1.1.10-50", "::ffff:10.1.1.20"), 1, "range: mapped client");
	is(m("10.1.1.10-50", "2001:db8::1"), 0, "range: IPv6 client");
	is(m("10.0.0.250-10.0.1.5", "10.0.1.2"), 1, "full range across octets");
	is(m("10.0.0.250-10.0.1.5", "10.0.1.6"), 0, "full range: above");
	is(m("10.1.1.50-10", "10.1.1.30"), 0, "reversed range: malformed");
	is(m("10.1.1.10-256", "10.1.1.30"), 0, "range end over 255: malformed");
	is(m("10.1.1.10-", "10.1.1.10"), 0, "range without an end: malformed");
	is(m("10.1.1-50", "10.1.1.10"), 0, "range of three octets: malformed");
	is(m("10.1.1.10--50", "10.1.1.10"), 0, "double dash: malformed");
	is(m("10.1.1.0010-50", "10.1.1.10"), 0, "four-digit octet: malformed");
	is(m("10.2.3.", "10.2.3.4"), 1, "partial /24");
	is(m("10.2.3.", "10.2.4.4"), 0, "partial /24 outside");
	is(m("10.", "10.200.3.4"), 1, "partial /8");
	is(m("10.2.", "10.20.3.4"), 0, "partial compares whole octets");
	is(m("10.2.3.4.", "10.2.3.4"), 0, "four octets and a dot: malformed");
	is(m("10..3.", "10.0.3.4"), 0, "empty octet: malformed");
	is(m("300.", "44.1.1.1"), 0, "octet over 255: malformed");
	is(m(".", "10.1.1.1"), 0, "a lone dot matches nothing");
	is(hat_pattern_kind("10.2.3."), HAT_KIND_ADDR, "partial is an address kind");
	is(hat_pattern_kind("10.1.1.10-50"), HAT_KIND_ADDR, "range is an address kind");
	is(hat_pattern_kind("mail.example.com"), HAT_KIND_HOST, "host kind");
	is(hat_pattern_kind(".example.com"), HAT_KIND_HOST, "suffix kind");
	is(hat_pattern_kind("dnsbl:bl.example"), HAT_KIND_DNSBL, "dnsbl kind");
	is(hat_pattern_kind("dnsbl:"), HAT_KIND_BAD, "dnsbl without a zone");
	is(hat_pattern_kind("dnsbl:.bl.example"), HAT_KIND_BAD, "dnsbl zone with a leading dot");
	is(hat_pattern_kind("bad host"), HAT_KIND_BAD, "space: malformed");
	is(hat_pattern_kind("a..b"), HAT_KIND_BAD, "empty label: malformed");
	is(hat_pattern_kind("1.2.3"), HAT_KIND_BAD, "three octets without a dot: malformed");
	is(hat_pattern_kind("SBRS[-10:-5]"), HAT_KIND_OTHER, "SBRS is known, unsupported");
}

static void
test_names(void)
{
	is(mc("mail.example.com", "192.0.2.1", "mail.example.com"), 1, "host name exact");
	is(mc("mail.example.com", "192.0.2.1", "MAIL.Example.COM."), 1,
	    "host name: case and trailing dot ignored");
	is(mc("mail.example.com", "192.0.2.1", "xmail.example.com"), 0, "host name: not a suffix");
	is(mc("mail.example.com", "192.0.2.1", NULL), 0, "host name: no verified name");
	is(mc(".example.com", "192.0.2.1", "a.b.example.com"), 1, ".suffix: deep subdomain");
	is(mc(".example.com", "192.0.2.1", "example.com"), 0, ".suffix: not the domain itself");
	is(mc(".example.com", "192.0.2.1", "badexample.com"), 0, ".suffix: label boundary");
	is(mc(".tst", "192.0.2.1", "host.tst"), 1, ".tst matches every host in tst");
	is(mc("b\xc3\xbc" "cher.example", "192.0.2.1", "xn--bcher-kva.example"), 1,
	    "IDN host name entry matches the A-label PTR name");
	is(mc(".b\xc3\xbc" "cher.example", "192.0.2.1", "mx.xn--bcher-kva.example"), 1,
	    "IDN .suffix entry");
	is(mc("b\xc3\xbc" "cher.example", "192.0.2.1", "bucher.example"), 0, "IDN: not the look-alike");
	is(hat_pattern_kind("b\xc3\xbc" "cher.example"), HAT_KIND_HOST, "IDN host kind");
	is(mc("10.0.0.0/8", "10.1.1.1", "x.example"), 1, "address kinds still work");
}

static int
listed_in(void *arg, const char *zone)
{
	return strcmp(zone, (const char *)arg) == 0;
}

static void
test_dnsbl_and_needs(void)
{
	char *bl[] = { "dnsbl:bl.example" };
	char *names[] = { ".spam.example", "10.9.0.0/16" };
	char *local[] = { "192.0.2.0/24" };
	char *bl2[] = { "dnsbl:other.example", "dnsbl:BL.example" };
	char *all[] = { "ALL" };
	struct cfg_hat_entry hat[5];
	struct hat_client c;
	const char *zones[4], *matched;
	size_t nz;
	int nh;

	memset(hat, 0, sizeof hat);
	hat[0].group = "BL"; hat[0].match = bl; hat[0].nmatch = 1;
	hat[1].group = "NAMES"; hat[1].match = names; hat[1].nmatch = 2;
	hat[2].group = "LOCAL"; hat[2].match = local; hat[2].nmatch = 1;
	hat[3].group = "BL2"; hat[3].match = bl2; hat[3].nmatch = 2;
	hat[4].group = "ALL"; hat[4].match = all; hat[4].nmatch = 1;

	hat_client_init(&c, "203.0.113.5", NULL, listed_in, "bl.example");
	ok(hat_match_client(hat, 5, &c, &matched, NULL) == &hat[0], "listed client in BL");
	is_str(matched, "dnsbl:bl.example", "dnsbl match reported");
	hat_client_init(&c, "203.0.113.5", "h.spam.example", listed_in, "none");
	ok(hat_match_client(hat, 5, &c, &matched, NULL) == &hat[1], "verified name in NAMES");
	hat_client_init(&c, "203.0.113.5", NULL, listed_in, "other.example");
	ok(hat_match_client(hat, 5, &c, &matched, NULL) == &hat[3], "second list");
	hat_client_init(&c, "203.0.113.5", NULL, NULL, NULL);
	ok(hat_match_client(hat, 5, &c, &matched, NULL) == &hat[4], "no facts: ALL");

	hat_dns_needs(hat, 5, "203.0.113.5", &nh, zones, 4, &nz);
	is(nh, 1, "a host name entry before the match: PTR needed");
	is(nz, 2, "two distinct zones (case-insensitive)");
	is_str(zones[0], "bl.example", "first zone");
	is_str(zones[1], "other.example", "second zone");
	hat_dns_needs(hat, 5, "10.9.1.1", &nh, zones, 4, &nz);
	is(nh, 0, "NAMES matches by address: its host name cannot change the group");
	is(nz, 1, "only the list before the address match");
	hat_dns_needs(hat, 5, "192.0.2.9", &nh, zones, 1, &nz);
	is(nz, 1, "zones bounded by max");
	hat_dns_needs(hat + 2, 3, "192.0.2.9", &nh, zones, 4, &nz);
	ok(nh == 0 && nz == 0, "decided by the address first: no DNS at all");
	hat_dns_needs(hat, 5, "not-an-ip", &nh, zones, 4, &nz);
	ok(nh == 0 && nz == 0, "no address: no DNS");
}

/* Every pattern kind against every client: the compiled form (what a
 * loaded config uses) agrees with parsing on the fly. */
static void
test_compiled(void)
{
	static const char *const pats[] = {
		"ALL", "192.0.2.1", "10.0.0.0/8", "10.1.1.10-50", "10.0.0.250-10.0.1.5", "10.2.3.",
		"10.", "2001:db8::/32", "::ffff:10.0.0.0/104", "mx.good.test", ".good.test",
		"dnsbl:bl.example", "SBRS[-1:1]", "10.1.1.50-10", "bad pattern", "10..3.", "",
		"g\xc3\xb6" "od.test", ".g\xc3\xb6" "od.test", "\xff\xfe" ".test",
	};
	static const char *const ips[] = {
		"192.0.2.1", "10.1.1.30", "10.0.1.2", "10.2.3.4", "2001:db8::1", "::ffff:10.9.9.9",
		"203.0.113.1",
	};
	struct cfg_hat_entry e;
	struct hat_client c;
	char *m[1];
	size_t i, j;
	int bad = 0;

	for (i = 0; i < sizeof pats / sizeof pats[0]; i++) {
		memset(&e, 0, sizeof e);
		m[0] = (char *)pats[i];
		e.group = "G";
		e.match = m;
		e.nmatch = 1;
		hat_compile_entry(&e);
		for (j = 0; j < sizeof ips / sizeof ips[0]; j++) {
			int h = (int)(j % 2);

			hat_client_init(&c, ips[j], h ? "a.mx.good.test" : "mx.good.test",
			    listed_in, "bl.example");
			if ((hat_match_client(&e, 1, &c, NULL, NULL) != NULL) !=
			    hat_pattern_matches_client(pats[i], &c)) {
				printf("# differs: '%s' vs %s\n", pats[i], ips[j]);
				bad++;
			}
		}
		free(e.compiled);
	}
	is(bad, 0, "compiled patterns agree with parsing on the fly");
}

int
main(void)
{
	test_patterns();
	test_table();
	test_ranges();
	test_names();
	test_dnsbl_and_needs();
	test_compiled();
	return done_testing();
}
