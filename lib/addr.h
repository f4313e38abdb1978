/*
 * addr - RFC 5321 mailbox and path parsing for SMTP commands.
 *
 * Parses the argument of MAIL FROM:/RCPT TO: -- "<path>" followed by ESMTP
 * parameters -- strictly and with bounds: local part at most 64 octets,
 * domain at most 255, path at most 256.  Accepts quoted local parts
 * ("a b"@x, "a@b"@x keeps the quoted form), address literals
 * ([192.0.2.1], [IPv6:...]), strips an obsolete source route
 * (<@a,@b:user@c>), and with SMTPUTF8 allowed accepts UTF-8 in local part
 * and domain.  The domain is also given as A-labels, lower case, without a
 * trailing dot (libidn2, IDNA2008 with UTS#46 mapping), which is what
 * routing, RAT and relay decisions use; a domain that does not convert is
 * an error, so no trick with a look-alike spelling reaches routing.
 *
 * Not for: header addresses (RFC 5322 display names, groups, comments).
 */
#ifndef SP_ADDR_H
#define SP_ADDR_H
#include <stddef.h>

#define ADDR_LOCAL_MAX	64
#define ADDR_DOMAIN_MAX	255
#define ADDR_PATH_MAX	256

enum addr_status {
	ADDR_OK = 0,
	ADDR_ERR_SYNTAX,	/* 501 5.1.3 (RCPT) / 501 5.1.7 (MAIL) */
	ADDR_ERR_TOO_LONG,	/* 501 5.1.3: local/domain/path limit */
	ADDR_ERR_UTF8,		/* 553 5.6.7: UTF-8 without SMTPUTF8 */
	ADDR_ERR_IDN,		/* 553 5.1.2: domain does not convert */
	ADDR_ERR_NO_DOMAIN,	/* 553 5.1.2: bare local part (caller decides) */
};

struct mailaddr {
	int	is_null;			/* "<>" */
	int	has_utf8;			/* non-ASCII anywhere */
	int	is_literal;			/* domain is [address literal] */
	char	local[ADDR_LOCAL_MAX * 4 + 3];	/* as written, quotes kept */
	char	domain[ADDR_DOMAIN_MAX + 1];	/* as written, trailing dot removed */
	char	domain_ascii[ADDR_DOMAIN_MAX + 1]; /* A-labels, lower case */
	char	full[ADDR_PATH_MAX * 4 + 8];	/* local@domain as written */
};

/*
 * Parses "<...>" at the start of s (len bytes; s need not be
 * NUL-terminated).  allow_utf8: the transaction declared SMTPUTF8.
 * allow_no_domain: accept "<postmaster>"-style bare local parts (RCPT TO
 * <postmaster> is legal; the caller adds its domain).  On success *rest
 * points just after '>' (at the parameters, if any).
 */
enum addr_status addr_parse_path(const char *s, size_t len, int allow_utf8,
		    int allow_no_domain, struct mailaddr *out, const char **rest);

/* A human-readable reason for a status, for the SMTP reply text. */
const char	*addr_strerror(enum addr_status st);

/* ESMTP parameters after the path ("SIZE=1000 BODY=8BITMIME SMTPUTF8"). */
struct esmtp_params {
	int		 has_size;
	unsigned long long size;
	int		 body_8bit;	/* BODY=8BITMIME */
	int		 smtputf8;	/* SMTPUTF8 */
	char		 unknown[64];	/* first unknown keyword, "" if none */
	int		 has_auth;	/* AUTH=... (RFC 4954 5; value not kept) */
};
/* 0, or -1 on malformed/duplicate parameters (501 5.5.4). */
int		 addr_parse_esmtp_params(const char *s, size_t len, struct esmtp_params *p);

/* Domain (UTF-8 or ASCII) -> A-labels, lower case, no trailing dot. */
int		 addr_domain_to_ascii(const char *domain, char *out, size_t outlen);

#endif
