/*
 * auth_forward - SMTP AUTH by asking another SMTP server (auth.forward):
 * the client's user name and password are tried there with AUTH PLAIN,
 * and its answer is ours (235: good, 535 and other 5xx: wrong, anything
 * else: try later).
 *
 * Blocking, with a deadline on every step: smtpd calls it on the libuv
 * thread pool.  The server is an IP address (smtpd is chrooted and
 * resolves no names itself).  TLS per auth.forward_tls with the outbound
 * TLS settings and trust store (tls_ctx_client): the password is never
 * sent in clear unless forward_tls is off (preferred cannot fall back to
 * clear here), and under a verify mode the certificate must chain to a
 * trusted CA and name the configured address (an IP SAN, or the address
 * as a DNS name); preferred-verify only logs a failed verification.
 *
 * Not for: the users file (auth.h), the SMTP exchange with our client
 * (session.c).
 */
#ifndef SP_SMTPD_AUTH_FORWARD_H
#define SP_SMTPD_AUTH_FORWARD_H
#include <stddef.h>
#include <openssl/ssl.h>

#include "config.h"

#define AUTH_FORWARD_TIMEOUT	10	/* seconds per step */

/* 1: accepted, 0: refused, -1: no answer (why in err). ctx: the TLS
 * client context (NULL when forward_tls is off). */
int	auth_forward_check(const struct config *cfg, SSL_CTX *ctx, const char *user,
	    const char *pass, char *err, size_t errlen);

#endif
