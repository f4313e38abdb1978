/*
 * smtpd_rewrite - the envelope rewriting stages as pure functions: default
 * domain (bare local parts only), domain map (exact and .subdomain keys,
 * case, first match), masquerading (whole address before domain, "@dom"
 * and bare domain forms, private listeners only).
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "tap.h"
#include "../../smtpd/rewrite.h"

static void
check(char *got, const char *want, const char *name)
{
	if (want == NULL)
		ok(got == NULL, "%s: unchanged", name);
	else
		is_str(got, want, "%s", name);
	free(got);
}

int
main(void)
{
	struct cfg_strmap dm[] = {
		{ "old.example", "new.example" },
		{ ".legacy.example", "new.example" },
		{ "OLD.example", "never.example" },
		{ "b\xc3\xbc" "cher.example", "B\xc3\xbc" "cher.test" },
		{ ".b\xc3\xbc" "ro.example", "example.com" },
	};
	struct cfg_strmap mq[] = {
		{ "@int.example", "@example.com" },
		{ "boss@int.example", "ceo@example.com" },
		{ "lab.example", "example.org" },
		{ "dev@x.example", "@example.net" },
		{ ".sub.example", "example.com" },
	};
	struct cfg_listener l;

	memset(&l, 0, sizeof l);
	l.type = LISTENER_PRIVATE;
	check(rewrite_default_domain(&l, "joe"), NULL, "no default domain");
	l.default_domain = "example.com";
	check(rewrite_default_domain(&l, "joe"), "joe@example.com", "bare local part");
	check(rewrite_default_domain(&l, "joe@x.example"), NULL, "has a domain");
	check(rewrite_default_domain(&l, ""), NULL, "empty");

	l.domain_map = dm;
	l.ndomain_map = 5;
	check(rewrite_domain_map(&l, "a@old.example"), "a@new.example", "exact domain");
	check(rewrite_domain_map(&l, "a@x.old.example"), NULL, "exact key: no subdomains");
	check(rewrite_domain_map(&l, "a@b.legacy.example"), "a@new.example", ".subdomain key");
	check(rewrite_domain_map(&l, "a@legacy.example"), NULL, ".key: not the domain itself");
	check(rewrite_domain_map(&l, "\"a@b\"@old.example"), "\"a@b\"@new.example",
	    "quoted local part with @ kept whole");
	check(rewrite_domain_map(&l, "a@other.example"), NULL, "no entry");
	check(rewrite_domain_map(&l, "nodomain"), NULL, "no @");
	check(rewrite_domain_map(&l, "a@xn--bcher-kva.example"), "a@xn--bcher-kva.test",
	    "IDN key and target compared and written in A-labels");
	check(rewrite_domain_map(&l, "a@mx.xn--bro-hoa.example"), "a@example.com",
	    "IDN .subdomain key");
	l.default_domain = "b\xc3\xbc" "cher.example";
	check(rewrite_default_domain(&l, "joe"), "joe@xn--bcher-kva.example",
	    "IDN default domain in A-labels");

	l.masquerade = mq;
	l.nmasquerade = 5;
	check(rewrite_masquerade(&l, "boss@int.example"), "ceo@example.com",
	    "whole address wins over the domain entry before it");
	check(rewrite_masquerade(&l, "Boss@INT.example"), "ceo@example.com", "case-insensitive");
	check(rewrite_masquerade(&l, "pat@int.example"), "pat@example.com", "@domain -> @domain");
	check(rewrite_masquerade(&l, "pat@lab.example"), "pat@example.org", "bare domain form");
	check(rewrite_masquerade(&l, "dev@x.example"), "dev@example.net", "address -> @domain");
	check(rewrite_masquerade(&l, "pat@a.sub.example"), "pat@example.com", ".subdomain key");
	check(rewrite_masquerade(&l, "pat@ext.example"), NULL, "not listed");
	l.type = LISTENER_PUBLIC;
	check(rewrite_masquerade(&l, "pat@int.example"), NULL, "public listeners never masquerade");
	check(rewrite_masquerade(NULL, "pat@int.example"), NULL, "no listener");
	return done_testing();
}
