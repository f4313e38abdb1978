/*
 * hat - Host Access Table matching: which sender group of a listener a
 * connecting client belongs to, and so which mail flow policy applies.
 *
 * Pure functions over the config structs (no I/O, no allocation), shared
 * by smtpd (every connection) and the trace command (dry runs).  The HAT
 * is ordered: the first entry with a match string that matches the client
 * wins.  Match kinds understood here:
 *
 *	ALL			every client
 *	192.0.2.7, 2001:db8::7	one address (IPv4-mapped IPv6 clients such
 *				as ::ffff:192.0.2.7 match IPv4 entries)
 *	10.0.0.0/8, 2001:db8::/32  a CIDR block (host bits are ignored)
 *	10.1.1.10-50		an IPv4 range of the last octet; also written
 *				10.1.1.10-10.1.1.50 (any two IPv4 addresses)
 *	10.2.3.			a partial IPv4 address: every address that
 *				starts with those whole octets
 *	mail.example.com	the client's forward-confirmed reverse DNS
 *				name, exactly (case-insensitive; an IDN
 *				entry is compared in A-labels)
 *	.example.com		forward-confirmed names under example.com
 *				(not example.com itself)
 *	dnsbl:zone.example	the client's address is listed in that DNS
 *				list (an A record for 4.3.2.1.zone.example)
 *
 * The DNS facts (the verified name, the DNS list answers) are gathered by
 * the caller before matching -- smtpd off its event loop, trace from its
 * arguments -- and passed in struct hat_client; hat_dns_needs() says which
 * facts can change the verdict for one client.  Kinds that need data we do
 * not have (SBRS ranges, ...) never match, and a pattern that does not
 * parse never matches: a typo in the HAT must not widen a sender group.
 *
 * Not for: policy lookup by name (config_policy), doing DNS.
 */
#ifndef SP_HAT_H
#define SP_HAT_H
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define HAT_DNSBL_PREFIX	"dnsbl:"

/* A client or pattern address, IPv4 kept as 4 bytes. */
struct hat_addr {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	bytes[16];
};

/* Answers "is the client listed in DNS list zone": 1 yes, 0 no (also for
 * lookups that failed or timed out: a list that does not answer lists
 * nobody). */
typedef int hat_listed_fn(void *arg, const char *zone);

/* What is known about a client when its sender group is chosen. */
struct hat_client {
	struct hat_addr	 addr;
	const char	*host;		/* forward-confirmed reverse DNS name,
					 * no trailing dot; NULL: none */
	hat_listed_fn	*listed;	/* NULL: listed nowhere */
	void		*arg;
};

enum hat_kind {
	HAT_KIND_BAD = 0,	/* does not parse: never matches */
	HAT_KIND_ALL,
	HAT_KIND_ADDR,		/* address, CIDR, range, partial address */
	HAT_KIND_HOST,		/* host name or .suffix */
	HAT_KIND_DNSBL,
	HAT_KIND_OTHER,		/* known but unsupported (SBRS...) */
};

/*
 * A match string parsed once (config loading calls hat_compile_entry for
 * every HAT entry), so that a connection costs a few compares per entry
 * instead of a parse.  Addresses, CIDRs and partial addresses become a
 * prefix; ranges an interval; names and zones point into the string.
 */
struct hat_pattern {
	enum hat_kind	 kind;
	int		 range;		/* ADDR: lo..hi instead of a prefix */
	struct hat_addr	 net;		/* ADDR prefix */
	int		 bits;
	uint32_t	 lo, hi;	/* ADDR range, IPv4 host order */
	const char	*text;		/* HOST: the pattern; DNSBL: the zone */
};

/* Fills out from pattern (kind HAT_KIND_BAD when it does not parse). */
void	hat_compile(const char *pattern, struct hat_pattern *out);
/* Allocates e->compiled (one per match string); free() releases it. */
void	hat_compile_entry(struct cfg_hat_entry *e);

/* Parses a textual address (an IPv6 zone suffix "%eth0" is ignored, an
 * IPv4-mapped IPv6 address becomes IPv4).  0, or -1 if not an address. */
int	hat_parse_addr(const char *s, struct hat_addr *out);

/* What kind of match string pattern is. */
enum hat_kind	hat_pattern_kind(const char *pattern);

/* 0 and *c ready (host and listed may be NULL), -1 if ip is no address. */
int	hat_client_init(struct hat_client *c, const char *ip, const char *host,
	    hat_listed_fn *listed, void *arg);

/* 1 if the one match string pattern matches the client's address alone,
 * else 0 (name and DNS list kinds need hat_pattern_matches_client). */
int	hat_pattern_matches(const char *pattern, const struct hat_addr *client);
/* 1 if pattern matches the client, any kind. */
int	hat_pattern_matches_client(const char *pattern, const struct hat_client *c);

/*
 * The first entry of hat[0..nhat-1] that matches the client, or NULL when
 * none does.  *matched (if not NULL) is set to the match string that
 * decided, for the log ("match 10.0.0.0/8"); *index (if not NULL) to the
 * entry's position.
 */
const struct cfg_hat_entry *hat_match_client(const struct cfg_hat_entry *hat, size_t nhat,
	    const struct hat_client *c, const char **matched, size_t *index);

/* The same for a client known only by its address (no DNS facts): host
 * name and DNS list entries do not match.  NULL too when client_ip is
 * not an address. */
const struct cfg_hat_entry *hat_match_sender_group(const struct cfg_hat_entry *hat,
	    size_t nhat, const char *client_ip, const char **matched, size_t *index);

/*
 * Which DNS facts can decide the verdict for client_ip: the entries before
 * the first one that matches by address alone.  *need_host is set when one
 * of them has a host name pattern; the DNS list zones they name (the text
 * after "dnsbl:", pointers into hat, each zone once) are stored in
 * zones[0..max-1] and counted in *nzones (at most max).
 */
void	hat_dns_needs(const struct cfg_hat_entry *hat, size_t nhat, const char *client_ip,
	    int *need_host, const char **zones, size_t max, size_t *nzones);

#endif
