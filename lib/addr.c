/*
 * addr - RFC 5321 path and mailbox parsing for MAIL FROM:/RCPT TO: (see
 * addr.h for the contract).
 *
 * The input is hostile and not NUL-terminated: every read is checked
 * against the length, nothing is copied into the result before its length
 * is known to fit, and the result is written only on success.  The path is
 * parsed by the grammar (RFC 5321 4.1.2, extended by RFC 6531 when
 * SMTPUTF8 is allowed), never by searching for '@' or '>', so a quoted
 * "a@b" or "a>b" in the local part cannot move the domain, and relay
 * tricks ("user%other@domain", "\"user@other\"@domain",
 * "<@route:user@domain>") all end with the domain after the last '@' of
 * the mailbox proper.
 *
 * The routing form of the domain (domain_ascii) is built label by label:
 * an ASCII label that is not an A-label is only lower-cased (so real
 * hostnames such as "r3---sn-x" survive, which IDNA2008 would refuse);
 * a label with UTF-8 or an "xn--" prefix goes through libidn2 (IDNA2008
 * with UTS#46 mapping, non-transitional first, transitional as fallback).
 * Whatever libidn2 returns is checked again as a plain LDH domain, since
 * UTS#46 maps look-alikes such as U+FF0F or U+FF20 to '/' or '@'.
 * Address literals are checked with inet_pton and given in a canonical,
 * lower-case form ("[192.0.2.1]", "[ipv6:2001:db8::1]").
 *
 * Not for: RFC 5322 header addresses, DSN/AUTH parameter values (only
 * their syntax is checked here), policy (which domains are ours).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <idn2.h>

#include "addr.h"

/* Where the parts of a path were found in the input. */
struct path_span {
	size_t	local_off, local_len;
	size_t	dom_off, dom_len;	/* as written, trailing dot included */
	int	has_domain;
	int	is_literal;
	int	has_utf8;
};

static int
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static unsigned char
to_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* RFC 5321 atext (RFC 5322 3.2.3). */
static int
is_atext(unsigned char c)
{
	if (is_alpha(c) || is_digit(c))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/*
 * Length of the strictly valid UTF-8 sequence of a non-ASCII character at
 * p, or 0: no overlong forms, no surrogates, nothing above U+10FFFF and no
 * C1 controls (U+0080..U+009F), which have no business in an address.
 */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c < 0xc2)
		return 0;		/* ASCII, stray continuation, overlong */
	if (c <= 0xdf) {
		need = 2;
		if (c == 0xc2)
			lo = 0xa0;	/* U+0080..U+009F: C1 controls */
	} else if (c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;
	if (n < need)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return need;
}

/*
 * Accepts one non-ASCII character at s[*pos]: a syntax error if it is not
 * valid UTF-8, ADDR_ERR_UTF8 if it is but SMTPUTF8 was not declared.
 */
static enum addr_status
take_utf8(const unsigned char *s, size_t len, size_t *pos, int allow_utf8,
    int *has_utf8)
{
	size_t n = utf8_seq(s + *pos, len - *pos);

	if (n == 0)
		return ADDR_ERR_SYNTAX;
	if (!allow_utf8)
		return ADDR_ERR_UTF8;
	*has_utf8 = 1;
	*pos += n;
	return ADDR_OK;
}

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE, s[*pos] is the DQUOTE. */
static enum addr_status
scan_quoted(const unsigned char *s, size_t len, size_t *pos, int allow_utf8,
    int *has_utf8)
{
	enum addr_status st;
	size_t i = *pos + 1;
	unsigned char c;

	for (;;) {
		if (i >= len)
			return ADDR_ERR_SYNTAX;	/* unterminated */
		c = s[i];
		if (c == '"')
			break;
		if (c == '\\') {
			/* quoted-pairSMTP = %d92 %d32-126 */
			if (i + 1 >= len || s[i + 1] < 32 || s[i + 1] > 126)
				return ADDR_ERR_SYNTAX;
			i += 2;
		} else if (c >= 32 && c <= 126)
			i++;
		else if (c >= 0x80) {
			if ((st = take_utf8(s, len, &i, allow_utf8, has_utf8)) != ADDR_OK)
				return st;
		} else
			return ADDR_ERR_SYNTAX;	/* NUL, CR, LF, other controls */
	}
	*pos = i + 1;
	return ADDR_OK;
}

/* Dot-string = Atom *("." Atom); stops at the first byte that is neither. */
static enum addr_status
scan_dot_string(const unsigned char *s, size_t len, size_t *pos,
    int allow_utf8, int *has_utf8)
{
	enum addr_status st;
	size_t i = *pos, atom;

	for (;;) {
		atom = i;
		while (i < len) {
			if (is_atext(s[i]))
				i++;
			else if (s[i] >= 0x80) {
				if ((st = take_utf8(s, len, &i, allow_utf8,
				    has_utf8)) != ADDR_OK)
					return st;
			} else
				break;
		}
		if (i == atom)
			return ADDR_ERR_SYNTAX;	/* empty atom: "..", ".a", "a." */
		if (i < len && s[i] == '.') {
			i++;
			continue;
		}
		break;
	}
	*pos = i;
	return ADDR_OK;
}

/* Bytes that may appear in a Domain (LDH, dots, UTF-8 of U-labels). */
static int
is_domain_byte(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c >= 0x80;
}

/*
 * Checks a domain (no trailing dot) label by label: no empty label, LDH
 * labels of 1..63 octets without a hyphen at either end, UTF-8 only where
 * allowed and strictly valid (U-labels are checked further by libidn2).
 */
static enum addr_status
check_domain(const unsigned char *d, size_t n, int allow_utf8, int *has_utf8)
{
	enum addr_status st;
	size_t i = 0, start;
	int utf8;

	if (n == 0)
		return ADDR_ERR_SYNTAX;
	for (;;) {
		start = i;
		utf8 = 0;
		while (i < n && d[i] != '.') {
			if (d[i] >= 0x80) {
				if ((st = take_utf8(d, n, &i, allow_utf8,
				    has_utf8)) != ADDR_OK)
					return st;
				utf8 = 1;
			} else if (is_alpha(d[i]) || is_digit(d[i]) || d[i] == '-')
				i++;
			else
				return ADDR_ERR_SYNTAX;
		}
		if (i == start)
			return ADDR_ERR_SYNTAX;		/* empty label */
		if (!utf8) {
			if (i - start > 63)
				return ADDR_ERR_SYNTAX;
			if (d[start] == '-' || d[i - 1] == '-')
				return ADDR_ERR_SYNTAX;
		}
		if (i == n)
			return ADDR_OK;
		i++;					/* the dot */
		if (i == n)
			return ADDR_ERR_SYNTAX;		/* trailing dot */
	}
}

/* Is out a plain LDH domain: what routing may see after IDNA mapping. */
static int
is_ldh_domain(const char *d, size_t n)
{
	int st, dummy = 0;

	if (n == 0 || n > ADDR_DOMAIN_MAX)
		return 0;
	st = check_domain((const unsigned char *)d, n, 0, &dummy);
	return st == ADDR_OK && !dummy;
}

/* One label to A-label form with libidn2; 0 or -1. */
static int
label_to_ascii(const char *label, char *out, size_t outlen, size_t *outn)
{
	char *res = NULL;
	size_t n;
	int rc;

	rc = idn2_to_ascii_8z(label, &res,
	    IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK) {
		res = NULL;
		rc = idn2_to_ascii_8z(label, &res,
		    IDN2_NFC_INPUT | IDN2_TRANSITIONAL);
	}
	if (rc != IDN2_OK || res == NULL) {
		if (rc == IDN2_OK)
			idn2_free(res);
		return -1;
	}
	n = strlen(res);
	if (n >= outlen) {
		idn2_free(res);
		return -1;
	}
	memcpy(out, res, n + 1);
	idn2_free(res);
	*outn = n;
	return 0;
}

/*
 * Domain as written (valid per check_domain, no trailing dot) -> A-labels,
 * lower case.  ASCII labels that are not A-labels are only lower-cased.
 */
static enum addr_status
domain_ascii(const char *d, size_t n, char *out, size_t outlen)
{
	char label[ADDR_DOMAIN_MAX + 1], conv[ADDR_DOMAIN_MAX * 4 + 1];
	size_t i = 0, start, k, o = 0, cn;
	int plain;

	if (outlen == 0 || n > ADDR_DOMAIN_MAX)
		return ADDR_ERR_TOO_LONG;
	while (i < n) {
		start = i;
		plain = 1;
		while (i < n && d[i] != '.') {
			if ((unsigned char)d[i] >= 0x80)
				plain = 0;
			i++;
		}
		if (i - start >= 4 && to_lower(d[start]) == 'x' &&
		    to_lower(d[start + 1]) == 'n' && d[start + 2] == '-' &&
		    d[start + 3] == '-')
			plain = 0;
		if (plain) {
			if (o + (i - start) >= outlen)
				return ADDR_ERR_TOO_LONG;
			for (k = start; k < i; k++)
				out[o++] = (char)to_lower((unsigned char)d[k]);
		} else {
			memcpy(label, d + start, i - start);
			label[i - start] = '\0';
			if (label_to_ascii(label, conv, sizeof conv, &cn) < 0)
				return ADDR_ERR_IDN;
			if (o + cn >= outlen)
				return ADDR_ERR_TOO_LONG;
			for (k = 0; k < cn; k++)
				out[o++] = (char)to_lower((unsigned char)conv[k]);
		}
		if (i < n) {
			if (o + 1 >= outlen)
				return ADDR_ERR_TOO_LONG;
			out[o++] = '.';
			i++;
		}
	}
	out[o] = '\0';
	if (o > ADDR_DOMAIN_MAX)
		return ADDR_ERR_TOO_LONG;
	if (!is_ldh_domain(out, o))
		return ADDR_ERR_IDN;
	return ADDR_OK;
}

/*
 * Address literal contents (between the brackets) -> canonical lower-case
 * form with brackets.  Only IPv4 and the registered "IPv6:" tag are
 * accepted: a General-address-literal cannot be routed.
 */
static enum addr_status
literal_ascii(const char *lit, size_t n, char *out, size_t outlen)
{
	char tmp[ADDR_DOMAIN_MAX + 1], txt[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	const char *tag = "";
	size_t tl;

	if (n == 0 || n >= sizeof tmp)
		return ADDR_ERR_SYNTAX;
	memcpy(tmp, lit, n);
	tmp[n] = '\0';
	if (n > 5 && strncasecmp(tmp, "IPv6:", 5) == 0) {
		if (inet_pton(AF_INET6, tmp + 5, bin) != 1 ||
		    inet_ntop(AF_INET6, bin, txt, sizeof txt) == NULL)
			return ADDR_ERR_SYNTAX;
		tag = "ipv6:";
	} else if (inet_pton(AF_INET, tmp, bin) != 1 ||
	    inet_ntop(AF_INET, bin, txt, sizeof txt) == NULL)
		return ADDR_ERR_SYNTAX;
	tl = strlen(tag);
	if (tl + strlen(txt) + 3 > outlen)
		return ADDR_ERR_TOO_LONG;
	out[0] = '[';
	memcpy(out + 1, tag, tl);
	memcpy(out + 1 + tl, txt, strlen(txt));
	out[1 + tl + strlen(txt)] = ']';
	out[2 + tl + strlen(txt)] = '\0';
	return ADDR_OK;
}

/*
 * A-d-l = At-domain *( "," At-domain ) ":"; s[*pos] is the first '@'.
 * The route is checked and then ignored (RFC 5321 C: "MUST ignore").
 */
static enum addr_status
scan_route(const unsigned char *s, size_t len, size_t *pos, int allow_utf8)
{
	enum addr_status st;
	size_t i = *pos, start;
	int dummy = 0;

	for (;;) {
		if (i >= len || s[i] != '@')
			return ADDR_ERR_SYNTAX;
		start = ++i;
		while (i < len && is_domain_byte(s[i]))
			i++;
		if (i - start > ADDR_DOMAIN_MAX)
			return ADDR_ERR_TOO_LONG;
		if ((st = check_domain(s + start, i - start, allow_utf8,
		    &dummy)) != ADDR_OK)
			return st;
		if (i >= len)
			return ADDR_ERR_SYNTAX;
		if (s[i] == ':')
			break;
		if (s[i] != ',')
			return ADDR_ERR_SYNTAX;
		i++;
	}
	*pos = i + 1;
	return ADDR_OK;
}

/* Finds the parts of "<...>"; *end is the index of the closing '>'. */
static enum addr_status
scan_path(const unsigned char *s, size_t len, int allow_utf8,
    struct path_span *sp, size_t *end)
{
	enum addr_status st;
	size_t i = 1;

	if (len < 2 || s[0] != '<')
		return ADDR_ERR_SYNTAX;
	if (s[1] == '>') {
		*end = 1;
		return ADDR_OK;			/* null path */
	}
	if (s[1] == '@' &&
	    (st = scan_route(s, len, &i, allow_utf8)) != ADDR_OK)
		return st;

	sp->local_off = i;
	if (i < len && s[i] == '"')
		st = scan_quoted(s, len, &i, allow_utf8, &sp->has_utf8);
	else
		st = scan_dot_string(s, len, &i, allow_utf8, &sp->has_utf8);
	if (st != ADDR_OK)
		return st;
	sp->local_len = i - sp->local_off;
	if (sp->local_off > 1 && (i >= len || s[i] != '@'))
		return ADDR_ERR_SYNTAX;		/* a route needs a mailbox */

	if (i < len && s[i] == '@') {
		sp->has_domain = 1;
		sp->dom_off = ++i;
		if (i < len && s[i] == '[') {
			/* dcontent = %d33-90 / %d94-126 */
			sp->is_literal = 1;
			for (i++; i < len && s[i] != ']'; i++)
				if (s[i] < 33 || s[i] > 126 || s[i] == '[' ||
				    s[i] == '\\')
					return ADDR_ERR_SYNTAX;
			if (i >= len)
				return ADDR_ERR_SYNTAX;
			i++;
		} else
			while (i < len && is_domain_byte(s[i]))
				i++;
		sp->dom_len = i - sp->dom_off;
	}
	if (i >= len || s[i] != '>')
		return ADDR_ERR_SYNTAX;		/* missing '>' or junk */
	*end = i;
	return ADDR_OK;
}

enum addr_status
addr_parse_path(const char *str, size_t len, int allow_utf8,
    int allow_no_domain, struct mailaddr *out, const char **rest)
{
	const unsigned char *s = (const unsigned char *)str;
	struct path_span sp;
	struct mailaddr a;
	enum addr_status st;
	size_t end, dlen;

	if (rest != NULL)
		*rest = str;
	memset(&sp, 0, sizeof sp);
	memset(&a, 0, sizeof a);
	if (str == NULL || out == NULL)
		return ADDR_ERR_SYNTAX;
	if ((st = scan_path(s, len, allow_utf8, &sp, &end)) != ADDR_OK)
		return st;
	/* After '>' only the parameters may follow, separated by a space. */
	if (end + 1 < len && s[end + 1] != ' ')
		return ADDR_ERR_SYNTAX;
	if (end + 1 > ADDR_PATH_MAX)
		return ADDR_ERR_TOO_LONG;

	if (end == 1) {
		a.is_null = 1;
		goto done;
	}
	if (sp.local_len > ADDR_LOCAL_MAX)
		return ADDR_ERR_TOO_LONG;
	memcpy(a.local, s + sp.local_off, sp.local_len);
	a.local[sp.local_len] = '\0';
	a.has_utf8 = sp.has_utf8;

	if (!sp.has_domain) {
		if (!allow_no_domain)
			return ADDR_ERR_NO_DOMAIN;
		memcpy(a.full, a.local, sp.local_len + 1);
		goto done;
	}

	dlen = sp.dom_len;
	if (sp.is_literal) {
		if (dlen > ADDR_DOMAIN_MAX)
			return ADDR_ERR_TOO_LONG;
		if ((st = literal_ascii(str + sp.dom_off + 1, dlen - 2,
		    a.domain_ascii, sizeof a.domain_ascii)) != ADDR_OK)
			return st;
		a.is_literal = 1;
	} else {
		/* One trailing dot is the root; it is not part of the name. */
		if (dlen > 0 && s[sp.dom_off + dlen - 1] == '.')
			dlen--;
		if (dlen > ADDR_DOMAIN_MAX)
			return ADDR_ERR_TOO_LONG;
		if ((st = check_domain(s + sp.dom_off, dlen, allow_utf8,
		    &a.has_utf8)) != ADDR_OK)
			return st;
		if ((st = domain_ascii(str + sp.dom_off, dlen, a.domain_ascii,
		    sizeof a.domain_ascii)) != ADDR_OK)
			return st;
	}
	memcpy(a.domain, s + sp.dom_off, dlen);
	a.domain[dlen] = '\0';
	memcpy(a.full, a.local, sp.local_len);
	a.full[sp.local_len] = '@';
	memcpy(a.full + sp.local_len + 1, a.domain, dlen + 1);

done:
	*out = a;
	if (rest != NULL)
		*rest = str + end + 1;
	return ADDR_OK;
}

const char *
addr_strerror(enum addr_status st)
{
	switch (st) {
	case ADDR_OK:
		return "OK";
	case ADDR_ERR_SYNTAX:
		return "Syntax error in mailbox address";
	case ADDR_ERR_TOO_LONG:
		return "Address too long";
	case ADDR_ERR_UTF8:
		return "UTF-8 address requires SMTPUTF8";
	case ADDR_ERR_IDN:
		return "Invalid internationalized domain name";
	case ADDR_ERR_NO_DOMAIN:
		return "Address lacks a domain";
	}
	return "Invalid address";
}

int
addr_domain_to_ascii(const char *domain, char *out, size_t outlen)
{
	const unsigned char *d = (const unsigned char *)domain;
	char tmp[ADDR_DOMAIN_MAX + 1];
	size_t n;
	int dummy = 0;

	if (out != NULL && outlen > 0)
		out[0] = '\0';
	if (domain == NULL || out == NULL || outlen == 0)
		return -1;
	n = strnlen(domain, ADDR_DOMAIN_MAX + 2);
	if (n >= 2 && d[0] == '[' && d[n - 1] == ']') {
		if (n > ADDR_DOMAIN_MAX ||
		    literal_ascii(domain + 1, n - 2, tmp, sizeof tmp) != ADDR_OK)
			return -1;
	} else {
		if (n > 0 && d[n - 1] == '.')
			n--;
		if (n > ADDR_DOMAIN_MAX ||
		    check_domain(d, n, 1, &dummy) != ADDR_OK ||
		    domain_ascii(domain, n, tmp, sizeof tmp) != ADDR_OK)
			return -1;
	}
	n = strlen(tmp);
	if (n >= outlen) {
		out[0] = '\0';
		return -1;
	}
	memcpy(out, tmp, n + 1);
	return 0;
}

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
static int
is_keyword(const unsigned char *k, size_t n)
{
	size_t i;

	if (n == 0 || !(is_alpha(k[0]) || is_digit(k[0])))
		return 0;
	for (i = 1; i < n; i++)
		if (!(is_alpha(k[i]) || is_digit(k[i]) || k[i] == '-'))
			return 0;
	return 1;
}

/* esmtp-value = 1*(%d33-60 / %d62-126 / UTF8-non-ascii) */
static int
is_value(const unsigned char *v, size_t n)
{
	size_t i = 0, k;

	if (n == 0)
		return 0;
	while (i < n) {
		if (v[i] >= 0x80) {
			if ((k = utf8_seq(v + i, n - i)) == 0)
				return 0;
			i += k;
		} else if (v[i] < 33 || v[i] > 126 || v[i] == '=')
			return 0;
		else
			i++;
	}
	return 1;
}

static int
word_is(const unsigned char *w, size_t n, const char *what)
{
	return strlen(what) == n && strncasecmp((const char *)w, what, n) == 0;
}

/* Decimal, digits only, no overflow. */
static int
parse_size(const unsigned char *v, size_t n, unsigned long long *out)
{
	unsigned long long x = 0;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (!is_digit(v[i]))
			return -1;
		if (x > (~0ULL - (unsigned)(v[i] - '0')) / 10)
			return -1;
		x = x * 10 + (unsigned)(v[i] - '0');
	}
	*out = x;
	return 0;
}

int
addr_parse_esmtp_params(const char *str, size_t len, struct esmtp_params *p)
{
	const unsigned char *s = (const unsigned char *)str;
	const unsigned char *kw, *val;
	size_t i = 0, kn, vn, n;
	int has_value, seen_body = 0;

	if (p == NULL)
		return -1;
	memset(p, 0, sizeof *p);
	if (str == NULL)
		return len == 0 ? 0 : -1;
	for (;;) {
		while (i < len && s[i] == ' ')
			i++;
		if (i >= len)
			break;
		kw = s + i;
		while (i < len && s[i] != ' ' && s[i] != '=')
			i++;
		kn = (size_t)(s + i - kw);
		has_value = i < len && s[i] == '=';
		val = NULL;
		vn = 0;
		if (has_value) {
			val = s + ++i;
			while (i < len && s[i] != ' ')
				i++;
			vn = (size_t)(s + i - val);
			if (!is_value(val, vn))
				return -1;
		}
		if (!is_keyword(kw, kn))
			return -1;

		if (word_is(kw, kn, "SIZE")) {
			if (p->has_size || !has_value ||
			    parse_size(val, vn, &p->size) < 0)
				return -1;
			p->has_size = 1;
		} else if (word_is(kw, kn, "BODY")) {
			if (seen_body || !has_value)
				return -1;
			if (word_is(val, vn, "8BITMIME"))
				p->body_8bit = 1;
			else if (!word_is(val, vn, "7BIT"))
				return -1;
			seen_body = 1;
		} else if (word_is(kw, kn, "SMTPUTF8")) {
			if (p->smtputf8 || has_value)
				return -1;
			p->smtputf8 = 1;
		} else if (word_is(kw, kn, "AUTH")) {
			/* RFC 4954 5: accepted when AUTH is offered. */
			if (p->has_auth || !has_value)
				return -1;
			p->has_auth = 1;
		} else if (p->unknown[0] == '\0') {
			n = kn < sizeof p->unknown - 1 ? kn : sizeof p->unknown - 1;
			memcpy(p->unknown, kw, n);
			p->unknown[n] = '\0';
		}
	}
	return 0;
}
