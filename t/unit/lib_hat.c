/*
 * lib_hat - HAT matching: ALL, exact IPv4/IPv6, CIDR v4/v6, IPv4-mapped
 * clients, first match wins, unsupported kinds never match.
 */
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
	is(m(".spam.example", "192.0.2.1"), 0, "domain suffix: not yet, never matches");
	is(m("mail.example.com", "192.0.2.1"), 0, "host name: never matches");
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

int
main(void)
{
	test_patterns();
	test_table();
	return done_testing();
}
