/*
 * lib_rat - RAT matching: ALL, exact domain (case-insensitive, A-labels),
 * ".domain" for subdomains only, full addresses, "user@", literals, IDN
 * entries against A-label recipients, first match wins.
 */
#include <string.h>

#include "rat.h"
#include "tap.h"

static void
test_patterns(void)
{
	ok(rat_pattern_matches("ALL", "joe", "example.com"), "ALL");
	ok(rat_pattern_matches("all", "joe", "[192.0.2.1]"), "ALL matches a literal too");
	ok(rat_pattern_matches("example.com", "joe", "example.com"), "exact domain");
	ok(rat_pattern_matches("EXAMPLE.Com", "joe", "example.com"), "domain case-insensitive");
	ok(rat_pattern_matches("example.com.", "joe", "example.com"), "entry's trailing dot");
	ok(!rat_pattern_matches("example.com", "joe", "a.example.com"),
	    "exact domain does not cover subdomains");
	ok(!rat_pattern_matches("example.com", "joe", "badexample.com"), "no suffix match");
	ok(!rat_pattern_matches("example.com", "joe", "example.com.evil"), "no prefix match");
	ok(rat_pattern_matches(".example.com", "joe", "a.example.com"), ".domain: subdomain");
	ok(rat_pattern_matches(".example.com", "joe", "b.a.example.com"),
	    ".domain: deeper subdomain");
	ok(!rat_pattern_matches(".example.com", "joe", "example.com"),
	    ".domain: not the domain itself");
	ok(!rat_pattern_matches(".example.com", "joe", "badexample.com"),
	    ".domain: label boundary");
	ok(rat_pattern_matches("joe@example.com", "joe", "example.com"), "full address");
	ok(rat_pattern_matches("Joe@Example.com", "JOE", "example.com"),
	    "full address, case-insensitive");
	ok(!rat_pattern_matches("joe@example.com", "jo", "example.com"), "local prefix only");
	ok(!rat_pattern_matches("joe@example.com", "joe2", "example.com"), "longer local");
	ok(!rat_pattern_matches("joe@example.com", "joe", "a.example.com"),
	    "full address, other domain");
	ok(rat_pattern_matches("joe@", "joe", "anything.test"), "user@ any domain");
	ok(!rat_pattern_matches("joe@", "ann", "anything.test"), "user@ other user");
	ok(!rat_pattern_matches("@", "joe", "example.com"), "lone @ matches nothing");
	ok(rat_pattern_matches("joe@.example.com", "joe", "x.example.com"),
	    "user at subdomains");
	ok(rat_pattern_matches("\"a@b\"@example.com", "\"a@b\"", "example.com"),
	    "quoted local part with @ in the entry");
	ok(rat_pattern_matches("[192.0.2.1]", "joe", "[192.0.2.1]"), "literal entry");
	ok(!rat_pattern_matches("[192.0.2.1]", "joe", "[192.0.2.2]"), "other literal");
	ok(rat_pattern_matches("[IPv6:2001:DB8::1]", "joe", "[ipv6:2001:db8::1]"),
	    "IPv6 literal entry, canonical compare");
	ok(!rat_pattern_matches(".[192.0.2.1]", "joe", "[192.0.2.1]"),
	    "a literal has no subdomains");
	ok(rat_pattern_matches("bücher.example", "joe", "xn--bcher-kva.example"),
	    "U-label entry matches A-label recipient");
	ok(rat_pattern_matches("xn--bcher-kva.example", "joe", "xn--bcher-kva.example"),
	    "A-label entry");
	ok(rat_pattern_matches(".bücher.example", "joe", "mx.xn--bcher-kva.example"),
	    "U-label subdomain entry");
	ok(!rat_pattern_matches("exаmple.com", "joe", "example.com"),
	    "Cyrillic look-alike entry is not example.com");
	ok(!rat_pattern_matches("bad_domain!", "joe", "bad_domain!"), "invalid entry never matches");
	ok(!rat_pattern_matches("", "joe", "example.com"), "empty entry never matches");
	ok(!rat_pattern_matches(".", "joe", "example.com"), "lone dot never matches");
}

static void
test_table(void)
{
	struct cfg_rat_entry rat[4];
	const struct cfg_rat_entry *e;
	size_t idx;

	memset(rat, 0, sizeof rat);
	rat[0].match = "spam@example.com";
	rat[0].action = ACTION_REJECT;
	rat[1].match = "example.com";
	rat[1].action = ACTION_ACCEPT;
	rat[2].match = ".example.org";
	rat[2].action = ACTION_ACCEPT;
	rat[3].match = "ALL";
	rat[3].action = ACTION_REJECT;

	e = rat_match_recipient(rat, 4, "spam", "example.com", &idx);
	ok(e == &rat[0] && idx == 0, "first match: the reject entry");
	ok(!rat_accepts(rat, 4, "spam", "example.com"), "so refused");
	ok(rat_accepts(rat, 4, "joe", "example.com"), "domain accepted");
	ok(rat_accepts(rat, 4, "joe", "mx.example.org"), "subdomain accepted");
	ok(!rat_accepts(rat, 4, "joe", "example.org"), "parent of .domain refused");
	e = rat_match_recipient(rat, 4, "joe", "evil.test", &idx);
	ok(e == &rat[3] && idx == 3, "ALL catches the rest");
	ok(!rat_accepts(rat, 4, "joe", "evil.test"), "and refuses");
	ok(!rat_accepts(rat, 3, "joe", "evil.test"), "no match at all refuses");
	ok(!rat_accepts(rat, 0, "joe", "example.com"), "empty RAT refuses everything");
}

int
main(void)
{
	test_patterns();
	test_table();
	return done_testing();
}
