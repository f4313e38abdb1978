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
 *
 * Other kinds the schema allows (host names, ".domain" suffixes, SBRS
 * ranges, ...) need DNS or reputation data and come with a later issue;
 * until then they never match, so an entry that only has such strings is
 * skipped rather than guessed at.
 *
 * Not for: policy lookup by name (config_policy), DNS.
 */
#ifndef SP_HAT_H
#define SP_HAT_H
#include <sys/socket.h>

#include <stddef.h>

#include "config.h"

/* A client or pattern address, IPv4 kept as 4 bytes. */
struct hat_addr {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	bytes[16];
};

/* Parses a textual address (an IPv6 zone suffix "%eth0" is ignored, an
 * IPv4-mapped IPv6 address becomes IPv4).  0, or -1 if not an address. */
int	hat_parse_addr(const char *s, struct hat_addr *out);

/* 1 if the one match string pattern matches the client, else 0 (also for
 * kinds not understood yet and for malformed patterns). */
int	hat_pattern_matches(const char *pattern, const struct hat_addr *client);

/*
 * The first entry of hat[0..nhat-1] that matches client_ip, or NULL when
 * none does (or client_ip is not an address).  *matched (if not NULL) is
 * set to the match string that decided, for the log ("match 10.0.0.0/8");
 * *index (if not NULL) to the entry's position.
 */
const struct cfg_hat_entry *hat_match_sender_group(const struct cfg_hat_entry *hat,
	    size_t nhat, const char *client_ip, const char **matched, size_t *index);

#endif
