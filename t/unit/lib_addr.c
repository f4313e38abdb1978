/*
 * lib_addr - MAIL FROM/RCPT TO path parsing and ESMTP parameters: the
 * grammar, the limits, relay tricks, UTF-8 and IDN, and input that is
 * meant to hurt (NUL, CR, LF, unterminated quotes, missing '>').
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "tap.h"

static struct mailaddr A;
static const char *R;

/* Parses a NUL-terminated test string. */
static enum addr_status
parse(const char *s, int utf8, int nodom)
{
	memset(&A, 0x55, sizeof A);
	R = NULL;
	return addr_parse_path(s, strlen(s), utf8, nodom, &A, &R);
}

/* Builds "<" local "@" domain ">" from repeated characters. */
static void
make_path(char *out, size_t outlen, size_t nlocal, const char *domain)
{
	size_t i, o = 0;

	out[o++] = '<';
	for (i = 0; i < nlocal && o < outlen - 1; i++)
		out[o++] = 'a';
	snprintf(out + o, outlen - o, "@%s>", domain);
}

/* n labels of len characters each, joined by dots. */
static void
make_domain(char *out, size_t outlen, int n, size_t len)
{
	size_t o = 0, i;
	int l;

	for (l = 0; l < n; l++) {
		if (l > 0 && o < outlen - 1)
			out[o++] = '.';
		for (i = 0; i < len && o < outlen - 1; i++)
			out[o++] = (char)('a' + (l % 26));
	}
	out[o] = '\0';
}

static void
test_basic(void)
{
	const char *s;

	is(parse("<user@example.com>", 0, 0), ADDR_OK, "plain address");
	is_str(A.local, "user", "local part");
	is_str(A.domain, "example.com", "domain");
	is_str(A.domain_ascii, "example.com", "domain_ascii");
	is_str(A.full, "user@example.com", "full");
	ok(!A.is_null && !A.has_utf8 && !A.is_literal, "flags clear");
	ok(R != NULL && *R == '\0', "rest at end");

	is(parse("<>", 0, 0), ADDR_OK, "null path");
	ok(A.is_null, "is_null");
	is_str(A.full, "", "null path: full empty");
	is_str(A.domain_ascii, "", "null path: no domain");
	s = "<> SIZE=10";
	is(parse(s, 0, 0), ADDR_OK, "null path with params");
	ok(R == s + 2, "rest points just after '>'");

	s = "<a@b.example> SIZE=100 BODY=8BITMIME";
	is(parse(s, 0, 0), ADDR_OK, "path with params");
	is_str(R, " SIZE=100 BODY=8BITMIME", "rest is the parameters");

	is(parse("<User.Name@EXAMPLE.Com>", 0, 0), ADDR_OK, "mixed case");
	is_str(A.local, "User.Name", "local part case kept");
	is_str(A.domain, "EXAMPLE.Com", "domain as written");
	is_str(A.domain_ascii, "example.com", "domain_ascii lower case");

	is(parse("<first.last+tag=x@sub.example.org>", 0, 0), ADDR_OK, "dot-atom with specials");
	is_str(A.local, "first.last+tag=x", "dot-atom local");
	is(parse("<!#$%&'*+-/=?^_`{|}~@x.org>", 0, 0), ADDR_OK, "all atext specials");

	is(parse("<user@example.com.>", 0, 0), ADDR_OK, "one trailing dot");
	is_str(A.domain, "example.com", "trailing dot removed from domain");
	is_str(A.domain_ascii, "example.com", "and from domain_ascii");
	is_str(A.full, "user@example.com", "and from full");
	is(parse("<user@example.com..>", 0, 0), ADDR_ERR_SYNTAX, "two trailing dots");
	is(parse("<user@.>", 0, 0), ADDR_ERR_SYNTAX, "domain is only a dot");
	is(parse("<user@>", 0, 0), ADDR_ERR_SYNTAX, "empty domain");
	is(parse("<user@a..b>", 0, 0), ADDR_ERR_SYNTAX, "empty label");
	is(parse("<user@.example.com>", 0, 0), ADDR_ERR_SYNTAX, "leading dot");
	is(parse("<user@-ab.com>", 0, 0), ADDR_ERR_SYNTAX, "leading hyphen");
	is(parse("<user@ab-.com>", 0, 0), ADDR_ERR_SYNTAX, "trailing hyphen");
	is(parse("<user@ab.com->", 0, 0), ADDR_ERR_SYNTAX, "trailing hyphen, last label");
	is(parse("<user@a-b.com>", 0, 0), ADDR_OK, "inner hyphen");
	is(parse("<user@r3---sn-abc.googlevideo.com>", 0, 0), ADDR_OK,
	    "double hyphen in ASCII label (real host names)");
	is_str(A.domain_ascii, "r3---sn-abc.googlevideo.com", "kept as is");
	is(parse("<user@123.example>", 0, 0), ADDR_OK, "label starting with a digit");
	is(parse("<user@a_b.example>", 0, 0), ADDR_ERR_SYNTAX, "underscore in domain");
	is(parse("<user@exa mple.com>", 0, 0), ADDR_ERR_SYNTAX, "space in domain");
	is(parse("<user@example.com:25>", 0, 0), ADDR_ERR_SYNTAX, "port in domain");

	is(parse("<.user@x.org>", 0, 0), ADDR_ERR_SYNTAX, "local starts with dot");
	is(parse("<user.@x.org>", 0, 0), ADDR_ERR_SYNTAX, "local ends with dot");
	is(parse("<us..er@x.org>", 0, 0), ADDR_ERR_SYNTAX, "two dots in local");
	is(parse("<us er@x.org>", 0, 0), ADDR_ERR_SYNTAX, "space in unquoted local");
	is(parse("<us(er)@x.org>", 0, 0), ADDR_ERR_SYNTAX, "comment chars in local");
	is(parse("<us\\er@x.org>", 0, 0), ADDR_ERR_SYNTAX, "backslash outside quotes");
	is(parse("<@x.org>", 0, 0), ADDR_ERR_SYNTAX, "empty local part");
}

static void
test_framing(void)
{
	const char *s;
	char buf[32];

	is(parse("", 0, 0), ADDR_ERR_SYNTAX, "empty input");
	is(parse("<", 0, 0), ADDR_ERR_SYNTAX, "lone '<'");
	is(parse(">", 0, 0), ADDR_ERR_SYNTAX, "lone '>'");
	is(parse("user@x.org", 0, 0), ADDR_ERR_SYNTAX, "no angle brackets");
	is(parse(" <user@x.org>", 0, 0), ADDR_ERR_SYNTAX, "leading space");
	is(parse("<user@x.org", 0, 0), ADDR_ERR_SYNTAX, "missing '>'");
	is(parse("<user@x.org SIZE=1", 0, 0), ADDR_ERR_SYNTAX, "missing '>' before params");
	is(parse("<user", 0, 0), ADDR_ERR_SYNTAX, "missing '>' after local");
	is(parse("<user@x.org>junk", 0, 0), ADDR_ERR_SYNTAX, "garbage after '>'");
	is(parse("<user@x.org>>", 0, 0), ADDR_ERR_SYNTAX, "double '>'");
	is(parse("<user@x.org><b@c.org>", 0, 0), ADDR_ERR_SYNTAX, "two paths");
	is(parse("<<user@x.org>>", 0, 0), ADDR_ERR_SYNTAX, "double brackets");
	is(parse("<>junk", 0, 0), ADDR_ERR_SYNTAX, "garbage after null path");
	is(parse("<user@x.org> ", 0, 0), ADDR_OK, "trailing space is fine");

	/* Embedded NUL, CR and LF anywhere are syntax errors. */
	is(addr_parse_path("<us\0er@x.org>", 13, 0, 0, &A, &R), ADDR_ERR_SYNTAX, "NUL in local");
	is(addr_parse_path("<user@x.o\0rg>", 13, 0, 0, &A, &R), ADDR_ERR_SYNTAX, "NUL in domain");
	is(addr_parse_path("<\"us\0er\"@x.org>", 15, 0, 0, &A, &R), ADDR_ERR_SYNTAX, "NUL in quoted local");
	is(addr_parse_path("<user@x.org>\0", 13, 0, 0, &A, &R), ADDR_ERR_SYNTAX, "NUL after '>'");
	is(parse("<us\rer@x.org>", 0, 0), ADDR_ERR_SYNTAX, "CR in local");
	is(parse("<us\ner@x.org>", 0, 0), ADDR_ERR_SYNTAX, "LF in local");
	is(parse("<user@x.org\r\n>", 0, 0), ADDR_ERR_SYNTAX, "CRLF in domain");
	is(parse("<\"a\r\nb\"@x.org>", 0, 0), ADDR_ERR_SYNTAX, "CRLF in quoted local");
	is(parse("<user@x.org>\r\nRCPT TO:<v@y.org>", 0, 0), ADDR_ERR_SYNTAX, "CRLF after '>'");
	is(parse("<\"a\tb\"@x.org>", 0, 0), ADDR_ERR_SYNTAX, "tab in quoted local");
	is(parse("<a\x7f@x.org>", 0, 0), ADDR_ERR_SYNTAX, "DEL in local");

	/* The input need not be NUL-terminated; len is obeyed. */
	memcpy(buf, "<a@b.org>XXXXXXXXXXXXX", 22);
	is(addr_parse_path(buf, 9, 0, 0, &A, &R), ADDR_OK, "length obeyed, no NUL");
	ok(R == buf + 9, "rest at len");
	is(addr_parse_path(buf, 5, 0, 0, &A, &R), ADDR_ERR_SYNTAX, "truncated by len");
	is(addr_parse_path(buf, 0, 0, 0, &A, &R), ADDR_ERR_SYNTAX, "zero length");
	s = "<x@y.org>";
	is(addr_parse_path(s, 1, 0, 0, &A, &R), ADDR_ERR_SYNTAX, "only '<' within len");
	is(addr_parse_path(s, strlen(s), 0, 0, &A, NULL), ADDR_OK, "rest may be NULL");
}

static void
test_quoted(void)
{
	is(parse("<\"a b\"@x.org>", 0, 0), ADDR_OK, "quoted with space");
	is_str(A.local, "\"a b\"", "quotes kept in local");
	is_str(A.full, "\"a b\"@x.org", "quotes kept in full");
	is(parse("<\"a@b\"@x.org>", 0, 0), ADDR_OK, "quoted '@'");
	is_str(A.local, "\"a@b\"", "local keeps quoted '@'");
	is_str(A.domain, "x.org", "domain after the quoted local");
	is(parse("<\"a>b\"@x.org>", 0, 0), ADDR_OK, "quoted '>' does not end the path");
	is_str(A.domain, "x.org", "domain after quoted '>'");
	is(parse("<\"a\\\"b\"@x.org>", 0, 0), ADDR_OK, "quoted-pair \\\"");
	is_str(A.local, "\"a\\\"b\"", "quoted-pair kept");
	is(parse("<\"a\\\\\"@x.org>", 0, 0), ADDR_OK, "quoted-pair \\\\ at the end");
	is(parse("<\"\"@x.org>", 0, 0), ADDR_OK, "empty quoted string");
	is(parse("<\"abc@x.org>", 0, 0), ADDR_ERR_SYNTAX, "unterminated quote");
	is(parse("<\"abc", 0, 0), ADDR_ERR_SYNTAX, "unterminated quote at end of input");
	is(parse("<\"abc\\\">", 0, 0), ADDR_ERR_SYNTAX, "escaped closing quote");
	is(parse("<\"abc\\", 0, 0), ADDR_ERR_SYNTAX, "backslash at end of input");
	is(parse("<\"a\\\x01\"@x.org>", 0, 0), ADDR_ERR_SYNTAX, "quoted-pair of a control");
	is(parse("<\"a\"b@x.org>", 0, 0), ADDR_ERR_SYNTAX, "text after closing quote");
	is(parse("<a\"b\"@x.org>", 0, 0), ADDR_ERR_SYNTAX, "quote inside an atom");
	is(parse("<\"postmaster\">", 0, 1), ADDR_OK, "quoted bare local part");
}

static void
test_relay_tricks(void)
{
	is(parse("<user%other@domain>", 0, 0), ADDR_OK, "percent hack parses");
	is_str(A.local, "user%other", "percent stays in local");
	is_str(A.domain_ascii, "domain", "domain is after the last '@'");
	is(parse("<\"user@other\"@domain>", 0, 0), ADDR_OK, "quoted '@' trick parses");
	is_str(A.domain_ascii, "domain", "quoted '@' does not move the domain");
	is(parse("<user!other@domain>", 0, 0), ADDR_OK, "bang path parses");
	is_str(A.local, "user!other", "bang stays in local");
	is_str(A.domain_ascii, "domain", "bang path domain");
	is(parse("<user@other@domain>", 0, 0), ADDR_ERR_SYNTAX, "two '@'");
	is(parse("<\"user\"@other@domain>", 0, 0), ADDR_ERR_SYNTAX, "quoted then two '@'");

	is(parse("<@route:user@domain>", 0, 0), ADDR_OK, "source route");
	is_str(A.local, "user", "route stripped: local");
	is_str(A.domain_ascii, "domain", "route stripped: domain");
	is_str(A.full, "user@domain", "route stripped: full");
	is(parse("<@a.example,@b.example:user@c.example>", 0, 0), ADDR_OK, "two-hop source route");
	is_str(A.domain, "c.example", "last hop domain");
	is(parse("<@a,@b,@c:\"x@y\"@d>", 0, 0), ADDR_OK, "route and quoted local");
	is_str(A.domain, "d", "route + quoted: domain");
	is(parse("<@:user@d>", 0, 0), ADDR_ERR_SYNTAX, "empty route domain");
	is(parse("<@a,user@d>", 0, 0), ADDR_ERR_SYNTAX, "route without ':'");
	is(parse("<@a user@d>", 0, 0), ADDR_ERR_SYNTAX, "space in route");
	is(parse("<@a:>", 0, 0), ADDR_ERR_SYNTAX, "route to null");
	is(parse("<@a,:user@d>", 0, 0), ADDR_ERR_SYNTAX, "empty hop after ','");
	is(parse("<@a..b:user@d>", 0, 0), ADDR_ERR_SYNTAX, "bad route domain");
	is(parse("<@[1.2.3.4]:user@d>", 0, 0), ADDR_ERR_SYNTAX, "literal in route");
	is(parse("<@a:postmaster>", 0, 1), ADDR_ERR_SYNTAX, "route to bare local part");
	is(parse("<@a:user@d", 0, 0), ADDR_ERR_SYNTAX, "route, missing '>'");
}

static void
test_literals(void)
{
	is(parse("<user@[192.0.2.1]>", 0, 0), ADDR_OK, "IPv4 literal");
	ok(A.is_literal, "is_literal");
	is_str(A.domain, "[192.0.2.1]", "literal as written");
	is_str(A.domain_ascii, "[192.0.2.1]", "literal routing form");
	is(parse("<user@[IPv6:2001:DB8:0:0::1]>", 0, 0), ADDR_OK, "IPv6 literal");
	is_str(A.domain, "[IPv6:2001:DB8:0:0::1]", "IPv6 literal as written");
	is_str(A.domain_ascii, "[ipv6:2001:db8::1]", "IPv6 literal canonical");
	is(parse("<user@[ipv6:::ffff:192.0.2.1]>", 0, 0), ADDR_OK, "IPv4-mapped IPv6");
	is(parse("<user@[300.1.1.1]>", 0, 0), ADDR_ERR_SYNTAX, "octet > 255");
	is(parse("<user@[1.2.3]>", 0, 0), ADDR_ERR_SYNTAX, "three octets");
	is(parse("<user@[01.2.3.4]>", 0, 0), ADDR_ERR_SYNTAX, "leading zero octet");
	is(parse("<user@[1.2.3.4.]>", 0, 0), ADDR_ERR_SYNTAX, "trailing dot in literal");
	is(parse("<user@[IPv6:zz::1]>", 0, 0), ADDR_ERR_SYNTAX, "bad IPv6");
	is(parse("<user@[IPv6:]>", 0, 0), ADDR_ERR_SYNTAX, "empty IPv6");
	is(parse("<user@[2001:db8::1]>", 0, 0), ADDR_ERR_SYNTAX, "IPv6 without tag");
	is(parse("<user@[IPv6:fe80::1%eth0]>", 0, 0), ADDR_ERR_SYNTAX, "zone id");
	is(parse("<user@[x-tag:stuff]>", 0, 0), ADDR_ERR_SYNTAX, "general literal refused");
	is(parse("<user@[]>", 0, 0), ADDR_ERR_SYNTAX, "empty literal");
	is(parse("<user@[192.0.2.1>", 0, 0), ADDR_ERR_SYNTAX, "unterminated literal");
	is(parse("<user@[192.0.2.1]x>", 0, 0), ADDR_ERR_SYNTAX, "junk after literal");
	is(parse("<user@[192.0.2.1].>", 0, 0), ADDR_ERR_SYNTAX, "dot after literal");
	is(parse("<user@[192.0.2.1 ]>", 0, 0), ADDR_ERR_SYNTAX, "space in literal");
	is(parse("<user@[1[2]>", 0, 0), ADDR_ERR_SYNTAX, "'[' in literal");
	is(parse("<user@x[192.0.2.1]>", 0, 0), ADDR_ERR_SYNTAX, "literal after name");
}

static void
test_lengths(void)
{
	char p[2048], d[1024], hop[256];

	make_path(p, sizeof p, 64, "x.org");
	is(parse(p, 0, 0), ADDR_OK, "local part of 64");
	is(strlen(A.local), 64, "64 octets kept");
	make_path(p, sizeof p, 65, "x.org");
	is(parse(p, 0, 0), ADDR_ERR_TOO_LONG, "local part of 65");
	make_path(p, sizeof p, 1000, "x.org");
	is(parse(p, 0, 0), ADDR_ERR_TOO_LONG, "local part of 1000");

	make_domain(d, sizeof d, 1, 63);
	make_path(p, sizeof p, 1, d);
	is(parse(p, 0, 0), ADDR_OK, "label of 63");
	make_domain(d, sizeof d, 1, 64);
	make_path(p, sizeof p, 1, d);
	is(parse(p, 0, 0), ADDR_ERR_SYNTAX, "label of 64");

	/* "<" 64 "@" 189 ">" = 256: the path limit exactly. */
	make_domain(d, sizeof d, 3, 63);	/* 191 */
	d[189] = '\0';
	make_path(p, sizeof p, 64, d);
	is(strlen(p), 256, "test path is 256 octets");
	is(parse(p, 0, 0), ADDR_OK, "path of 256");
	make_domain(d, sizeof d, 3, 63);
	d[190] = '\0';
	make_path(p, sizeof p, 64, d);
	is(parse(p, 0, 0), ADDR_ERR_TOO_LONG, "path of 257");
	make_domain(d, sizeof d, 5, 63);	/* 319 */
	make_path(p, sizeof p, 1, d);
	is(parse(p, 0, 0), ADDR_ERR_TOO_LONG, "domain of 319");
	make_domain(d, sizeof d, 15, 63);
	make_path(p, sizeof p, 1, d);
	is(parse(p, 0, 0), ADDR_ERR_TOO_LONG, "domain of 959");
	snprintf(p, sizeof p, "<a@[IPv6:%0300d]>", 0);
	is(parse(p, 0, 0), ADDR_ERR_TOO_LONG, "overlong literal");

	/* A long source route counts against the path. */
	make_domain(hop, sizeof hop, 3, 60);
	snprintf(p, sizeof p, "<@%s,@%s:a@b.org>", hop, hop);
	is(parse(p, 0, 0), ADDR_ERR_TOO_LONG, "long source route");

	/* Bare local part limits too. */
	make_path(p, sizeof p, 65, "");
	p[strlen(p) - 2] = '>';
	p[strlen(p) - 1] = '\0';
	is(parse(p, 0, 1), ADDR_ERR_TOO_LONG, "bare local part of 65");
}

static void
test_no_domain(void)
{
	is(parse("<postmaster>", 0, 1), ADDR_OK, "bare local part allowed");
	is_str(A.local, "postmaster", "bare local");
	is_str(A.domain, "", "no domain");
	is_str(A.domain_ascii, "", "no domain_ascii");
	is_str(A.full, "postmaster", "full is the local part");
	is(parse("<postmaster>", 0, 0), ADDR_ERR_NO_DOMAIN, "bare local part refused");
	is(parse("<>", 0, 1), ADDR_OK, "null path with allow_no_domain");
	ok(A.is_null, "still null");
}

static void
test_utf8(void)
{
	is(parse("<user@b\xc3\xbc" "cher.example>", 1, 0), ADDR_OK, "IDN domain");
	is_str(A.domain, "b\xc3\xbc" "cher.example", "U-label kept as written");
	is_str(A.domain_ascii, "xn--bcher-kva.example", "A-label for routing");
	ok(A.has_utf8, "has_utf8");
	is(parse("<user@b\xc3\xbc" "cher.example>", 0, 0), ADDR_ERR_UTF8, "IDN without SMTPUTF8");
	is(parse("<user@B\xc3\x9c" "CHER.Example>", 1, 0), ADDR_OK, "upper case IDN");
	is_str(A.domain_ascii, "xn--bcher-kva.example", "upper case IDN maps the same");
	is(parse("<user@XN--BCHER-KVA.EXAMPLE>", 0, 0), ADDR_OK, "A-label in ASCII");
	is_str(A.domain_ascii, "xn--bcher-kva.example", "A-label lower-cased");
	ok(!A.has_utf8, "A-label is not UTF-8");
	is(parse("<user@xn--zzzz.example>", 0, 0), ADDR_ERR_IDN, "bogus A-label");
	is(parse("<user@xn--.example>", 0, 0), ADDR_ERR_SYNTAX, "empty A-label (trailing hyphen)");
	is(parse("<user@xn--a.example>", 0, 0), ADDR_ERR_IDN, "A-label of a disallowed character");

	is(parse("<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a>",
	    1, 0), ADDR_OK, "all-Chinese address");
	is_str(A.domain_ascii, "xn--fsqu00a.xn--4rr70v", "Chinese domain to A-labels");
	is(parse("<\xc3\xbcser@example.com>", 1, 0), ADDR_OK, "UTF-8 local part");
	ok(A.has_utf8, "has_utf8 from local part");
	is_str(A.domain_ascii, "example.com", "ASCII domain with UTF-8 local");
	is(parse("<\xc3\xbcser@example.com>", 0, 0), ADDR_ERR_UTF8, "UTF-8 local without SMTPUTF8");
	is(parse("<\"\xc3\xbc s\"@example.com>", 1, 0), ADDR_OK, "UTF-8 in quoted local");
	is(parse("<\"\xc3\xbc s\"@example.com>", 0, 0), ADDR_ERR_UTF8, "UTF-8 quoted without SMTPUTF8");

	/* UTS#46 maps full-width forms; the result must still be LDH. */
	is(parse("<a@\xef\xbd\x85\xef\xbd\x98\xef\xbd\x81\xef\xbd\x8d\xef\xbd\x90\xef\xbd\x8c\xef\xbd\x85.com>",
	    1, 0), ADDR_OK, "full-width letters");
	is_str(A.domain_ascii, "example.com", "full-width maps to ASCII");
	is(parse("<a@x\xef\xbc\x8f" "y.com>", 1, 0), ADDR_ERR_IDN, "full-width solidus refused");
	is(parse("<a@x\xef\xbc\xa0" "evil.com>", 1, 0), ADDR_ERR_IDN, "full-width '@' refused");
	is(parse("<a@\xf0\x9f\x92\xa9.la>", 1, 0), ADDR_OK, "emoji via transitional fallback");
	is_str(A.domain_ascii, "xn--ls8h.la", "emoji A-label");
	is(parse("<a@b\xc3\xbc-.example>", 1, 0), ADDR_ERR_IDN, "U-label ending in hyphen");

	/* Broken UTF-8 is a syntax error whether or not SMTPUTF8 is on. */
	is(parse("<a\xc0\xaf@x.org>", 1, 0), ADDR_ERR_SYNTAX, "overlong 2-byte");
	is(parse("<a\xe0\x80\xaf@x.org>", 1, 0), ADDR_ERR_SYNTAX, "overlong 3-byte");
	is(parse("<a\xf0\x80\x80\xaf@x.org>", 1, 0), ADDR_ERR_SYNTAX, "overlong 4-byte");
	is(parse("<a\xed\xa0\x80@x.org>", 1, 0), ADDR_ERR_SYNTAX, "UTF-16 surrogate");
	is(parse("<a\xc2\x85@x.org>", 1, 0), ADDR_ERR_SYNTAX, "C1 control (NEL)");
	is(parse("<a\xc2\x9b@x.org>", 1, 0), ADDR_ERR_SYNTAX, "C1 control (CSI)");
	is(parse("<a\x80@x.org>", 1, 0), ADDR_ERR_SYNTAX, "lone continuation byte");
	is(parse("<a\xc3@x.org>", 1, 0), ADDR_ERR_SYNTAX, "truncated sequence");
	is(parse("<a@x.or\xc3>", 1, 0), ADDR_ERR_SYNTAX, "truncated sequence at domain end");
	is(parse("<a\xf4\x90\x80\x80@x.org>", 1, 0), ADDR_ERR_SYNTAX, "above U+10FFFF");
	is(parse("<a\xf5\x80\x80\x80@x.org>", 1, 0), ADDR_ERR_SYNTAX, "0xF5 lead byte");
	is(parse("<a\xff@x.org>", 1, 0), ADDR_ERR_SYNTAX, "0xFF byte");
	is(parse("<a@b\xc0\xbc" "cher.example>", 1, 0), ADDR_ERR_SYNTAX, "overlong in domain");
	is(parse("<a\xc0\xaf@x.org>", 0, 0), ADDR_ERR_SYNTAX, "bad UTF-8 without SMTPUTF8");
	is(parse("<\"\xed\xbf\xbf\"@x.org>", 1, 0), ADDR_ERR_SYNTAX, "surrogate in quoted local");
	is(parse("<a\xc2\xa0@x.org>", 1, 0), ADDR_OK, "U+00A0 is valid UTF-8");
	is(parse("<a\xf4\x8f\xbf\xbf@x.org>", 1, 0), ADDR_OK, "U+10FFFF is valid UTF-8");
}

static void
test_domain_to_ascii(void)
{
	char out[ADDR_DOMAIN_MAX + 1], small[8];

	is(addr_domain_to_ascii("B\xc3\xbc" "cher.Example.", out, sizeof out), 0, "config IDN");
	is_str(out, "xn--bcher-kva.example", "config IDN converted");
	is(addr_domain_to_ascii("EXAMPLE.COM", out, sizeof out), 0, "config ASCII");
	is_str(out, "example.com", "lower-cased");
	is(addr_domain_to_ascii("[IPv6:2001:DB8::0:1]", out, sizeof out), 0, "config literal");
	is_str(out, "[ipv6:2001:db8::1]", "literal canonical, same as a parsed one");
	is(addr_domain_to_ascii("a..b", out, sizeof out), -1, "empty label refused");
	is(addr_domain_to_ascii("", out, sizeof out), -1, "empty refused");
	is_str(out, "", "out emptied on error");
	is(addr_domain_to_ascii(".", out, sizeof out), -1, "root only refused");
	is(addr_domain_to_ascii("xn--zzzz.example", out, sizeof out), -1, "bad A-label refused");
	is(addr_domain_to_ascii("a b.example", out, sizeof out), -1, "space refused");
	is(addr_domain_to_ascii("example.com", small, sizeof small), -1, "small buffer refused");
	is_str(small, "", "small buffer left empty");
	is(addr_domain_to_ascii(NULL, out, sizeof out), -1, "NULL refused");
	is(addr_domain_to_ascii("x\xc0\xaf.org", out, sizeof out), -1, "bad UTF-8 refused");
}

static void
test_esmtp(void)
{
	struct esmtp_params p;
	char big[200];

#define ESMTP(s) addr_parse_esmtp_params((s), strlen(s), &p)
	is(ESMTP(""), 0, "no parameters");
	ok(!p.has_size && !p.body_8bit && !p.smtputf8 && !p.unknown[0], "nothing set");
	is(ESMTP(" "), 0, "only a space");
	is(ESMTP("SIZE=1000"), 0, "SIZE");
	ok(p.has_size && p.size == 1000, "size 1000");
	is(ESMTP(" size=12 body=8bitmime smtputf8"), 0, "lower case keywords");
	ok(p.has_size && p.size == 12 && p.body_8bit && p.smtputf8, "all three set");
	is(ESMTP("  SIZE=5   BODY=7BIT  "), 0, "extra spaces tolerated");
	ok(p.has_size && !p.body_8bit, "BODY=7BIT is not 8bit");
	is(ESMTP("SIZE=0"), 0, "SIZE=0");
	is(ESMTP("SIZE=18446744073709551615"), 0, "SIZE at ULLONG_MAX");
	ok(p.size == 18446744073709551615ULL, "max size value");
	is(ESMTP("SIZE=18446744073709551616"), -1, "SIZE overflow");
	is(ESMTP("SIZE=99999999999999999999999"), -1, "SIZE way over");
	is(ESMTP("SIZE=000000000000000000000000001"), 0, "leading zeros");
	is(ESMTP("SIZE="), -1, "SIZE empty value");
	is(ESMTP("SIZE"), -1, "SIZE without value");
	is(ESMTP("SIZE=-1"), -1, "SIZE negative");
	is(ESMTP("SIZE=+1"), -1, "SIZE with plus");
	is(ESMTP("SIZE=1x"), -1, "SIZE trailing junk");
	is(ESMTP("SIZE= 1"), -1, "SIZE space before value");
	is(ESMTP("SIZE=1 SIZE=2"), -1, "SIZE twice");
	is(ESMTP("BODY=BINARYMIME"), -1, "BODY=BINARYMIME not offered");
	is(ESMTP("BODY=8bitmime"), 0, "BODY value case-insensitive");
	is(ESMTP("BODY=8BITMIMEX"), -1, "BODY value with junk");
	is(ESMTP("BODY"), -1, "BODY without value");
	is(ESMTP("BODY=7BIT BODY=8BITMIME"), -1, "BODY twice");
	is(ESMTP("SMTPUTF8=yes"), -1, "SMTPUTF8 with value");
	is(ESMTP("SMTPUTF8 SMTPUTF8"), -1, "SMTPUTF8 twice");
	is(ESMTP("AUTH=<>"), 0, "AUTH=<>");
	ok(p.has_auth, "has_auth");
	is(ESMTP("AUTH"), -1, "AUTH without value");
	is(ESMTP("FOO=bar"), 0, "unknown keyword is not malformed");
	is_str(p.unknown, "FOO", "unknown recorded");
	is(ESMTP("X-A NOTIFY=NEVER SIZE=3"), 0, "two unknowns");
	is_str(p.unknown, "X-A", "first unknown recorded");
	ok(p.has_size && p.size == 3, "known after unknown still parsed");
	memset(big, 'K', sizeof big);
	big[sizeof big - 1] = '\0';
	is(ESMTP(big), 0, "very long unknown keyword");
	is(strlen(p.unknown), sizeof p.unknown - 1, "unknown truncated to fit");
	is(ESMTP("FOO=bar SIZE=x"), -1, "malformed after unknown");
	is(ESMTP("=x"), -1, "empty keyword");
	is(ESMTP("-X"), -1, "keyword starts with hyphen");
	is(ESMTP("SI_ZE=1"), -1, "underscore in keyword");
	is(ESMTP("FOO=a=b"), -1, "'=' in value");
	is(ESMTP("FOO="), -1, "empty value");
	is(ESMTP("SIZE=1\tBODY=7BIT"), -1, "tab separator");
	is(ESMTP("SIZE=1\r"), -1, "CR in parameters");
	is(ESMTP("SIZE=1\n"), -1, "LF in parameters");
	is(addr_parse_esmtp_params("SIZE=1\0BODY=7BIT", 16, &p), -1, "NUL in parameters");
	is(addr_parse_esmtp_params("SIZE=12345", 6, &p), 0, "length obeyed");
	ok(p.size == 1, "value cut at len");
	is(ESMTP("FOO=\xc3\xbc"), 0, "UTF-8 value");
	is(ESMTP("FOO=\xc0\xaf"), -1, "bad UTF-8 value");
	is(ESMTP("\xc3\xbc=1"), -1, "UTF-8 keyword");
#undef ESMTP
}

int
main(void)
{
	test_basic();
	test_framing();
	test_quoted();
	test_relay_tricks();
	test_literals();
	test_lengths();
	test_no_domain();
	test_utf8();
	test_domain_to_ascii();
	test_esmtp();
	is_str(addr_strerror(ADDR_ERR_UTF8), "UTF-8 address requires SMTPUTF8", "strerror");
	ok(addr_strerror((enum addr_status)99) != NULL, "strerror of unknown status");
	return done_testing();
}
