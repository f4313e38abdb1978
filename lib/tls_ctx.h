/*
 * tls_ctx - OpenSSL contexts built from the configuration: one server
 * context per listener certificate (smtpd), one client context per client
 * certificate (deliver, sallyctl tlsverify), the trust store of the CA
 * lists (spec tls-with-other-mtas.md 3.6).
 *
 * Everything comes from the config and its attached files (config.h:
 * config_attach_files), never from the file system, because smtpd and
 * deliver are chrooted by the time they (re)build contexts.  Protocol and
 * cipher settings are tls.inbound and tls.outbound; the minimum version
 * defaults to TLS 1.2.  Master builds every context once when it loads a
 * config, so a bad certificate or key refuses the config with a clear
 * error instead of failing in a child.
 *
 * Not for: the TLS conversation (tls_io.h), verification decisions
 * (tls_name.h, tls_policy.h), managing certificate files (tls_cert.h).
 */
#ifndef SP_TLS_CTX_H
#define SP_TLS_CTX_H
#include <stddef.h>
#include <openssl/ssl.h>

#include "config.h"

/* A server context with the certificate object `name` and tls.inbound's
 * settings; session resumption (cache and tickets) per
 * tls.inbound.session_cache.  NULL with err set ("certificate 'mx':
 * the key does not match the certificate"). */
SSL_CTX		*tls_ctx_server(const struct config *cfg, const char *name,
		    char *err, size_t errlen);
/* A client context with tls.outbound's settings, the trust store of the
 * enabled CA lists (verification is left to the caller: SSL_VERIFY_NONE
 * with the store set, so the result can be read after the handshake),
 * and the client certificate `name` (NULL: none). */
SSL_CTX		*tls_ctx_client(const struct config *cfg, const char *name,
		    char *err, size_t errlen);
/* The trust store: the system list if tls.trust.system, the custom list if
 * tls.trust.custom.  An empty store (both disabled) is allowed: every
 * verification then fails.  *count gets the number of CA certificates. */
X509_STORE	*tls_ctx_trust(const struct config *cfg, size_t *count, char *err,
		    size_t errlen);
/* "TLSv1.3", "TLS_AES_256_GCM_SHA384" and the peer certificate's subject
 * (RFC 2253; "" if none) of an established connection. */
void		 tls_ctx_describe(SSL *ssl, char *version, size_t vlen, char *cipher,
		    size_t clen, char *peer, size_t plen);
/* The OpenSSL error queue as one line (emptied). */
void		 tls_ctx_errors(char *out, size_t outlen);

#endif
