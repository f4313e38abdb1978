/*
 * rat - Recipient Access Table matching: which recipients a public
 * listener accepts.
 *
 * Pure functions over the config structs, shared by smtpd (every RCPT TO)
 * and the trace command.  The RAT is ordered and the first matching entry
 * decides (its action is accept or reject); no match means reject.
 * Match kinds:
 *
 *	ALL			every recipient
 *	example.com		that domain exactly (not its subdomains)
 *	.example.com		subdomains of example.com only (a.example.com,
 *				b.a.example.com), NOT example.com itself:
 *				list both to accept both
 *	joe@example.com		that address (local part compared ASCII
 *				case-insensitively, as written, quotes kept)
 *	joe@			local part joe at any domain
 *	joe@.example.com	joe at any subdomain of example.com
 *	[192.0.2.1]		an address literal domain
 *
 * Domains are compared in A-label form, lower case, without a trailing
 * dot, on both sides: a U-label entry ("bücher.example") matches a
 * recipient written with A-labels and the reverse (release notes: IDN in
 * HAT and RAT).  The recipient side is addr.h's domain_ascii; the entry
 * side is converted here with addr_domain_to_ascii().  An entry that does
 * not convert never matches.
 *
 * Not for: relay policy (smtpd decides when the RAT is consulted at all),
 * alias expansion, LDAP.
 */
#ifndef SP_RAT_H
#define SP_RAT_H
#include <stddef.h>

#include "config.h"

/* 1 if pattern matches the recipient local@domain_ascii, else 0.  local
 * is the local part as written; domain_ascii is A-labels, lower case. */
int	rat_pattern_matches(const char *pattern, const char *local, const char *domain_ascii);

/* The first entry of rat[0..nrat-1] matching the recipient, or NULL;
 * *index (if not NULL) gets its position. */
const struct cfg_rat_entry *rat_match_recipient(const struct cfg_rat_entry *rat, size_t nrat,
	    const char *local, const char *domain_ascii, size_t *index);

/* Convenience: 1 when the RAT accepts the recipient (first match has
 * action accept), 0 otherwise (no match, or a reject entry). */
int	rat_accepts(const struct cfg_rat_entry *rat, size_t nrat, const char *local,
	    const char *domain_ascii);

#endif
