/*
 * rewrite - envelope address rewriting of a listener, as pure functions
 * over the config, in the order the trace command prints them:
 *
 *	sender:     default domain, then masquerading (private listeners)
 *	recipients: default domain, domain map, (RAT in session.c), alias
 *	            table (config_alias in lib/config)
 *
 * Addresses are "local@domain" with the domain in A-labels, lower case,
 * as session.c queues them.  Every function returns a new string (free
 * it) when it changed the address and NULL when it did not, so the
 * caller can log each step.
 *
 * Not for: header rewriting (header masquerading is a later issue), LDAP.
 */
#ifndef SP_SMTPD_REWRITE_H
#define SP_SMTPD_REWRITE_H

#include "config.h"

/* local (bare, no domain) -> local@default_domain, if the listener has one. */
char	*rewrite_default_domain(const struct cfg_listener *l, const char *local);
/* domain_map: local@old -> local@new ("old" exact, ".old" its subdomains). */
char	*rewrite_domain_map(const struct cfg_listener *l, const char *addr);
/* masquerade: "user@dom" exact, then "@dom" / "dom" for the domain. */
char	*rewrite_masquerade(const struct cfg_listener *l, const char *addr);

#endif
