/*
 * tls_io - one TLS connection over memory buffers, for daemons whose
 * sockets belong to libuv (smtpd's server side, deliver's client side).
 *
 * The caller moves bytes: what arrives from the network goes in with
 * tls_io_feed(); what must go to the network comes out of
 * tls_io_take_output() after every call.  The handshake is driven with
 * tls_io_handshake(); afterwards plaintext is read with tls_io_read() (as
 * much as the caller has room for: the rest stays buffered inside, see
 * tls_io_pending()) and written with tls_io_write().  Memory is bounded
 * by the caller: it feeds network bytes only while it can take the
 * plaintext they decrypt to.
 *
 * Not for: sockets, choosing certificates or settings (tls_ctx.h),
 * deciding what a failed verification means (tls_policy.h).
 */
#ifndef SP_TLS_IO_H
#define SP_TLS_IO_H
#include <stddef.h>
#include <sys/types.h>
#include <openssl/ssl.h>

#define TLS_IO_ERR_MAX	256

enum tls_io_status {
	TLS_IO_DONE = 1,	/* handshake complete / bytes read */
	TLS_IO_WANT = 0,	/* needs more network input */
	TLS_IO_CLOSED = -1,	/* the peer closed the TLS session */
	TLS_IO_ERROR = -2,	/* failed: tls_io_error() says why */
};

struct tls_io;

/* server: 1 for the server side.  sni: the client's server name (NULL:
 * none). */
struct tls_io	*tls_io_new(SSL_CTX *ctx, int server, const char *sni);
void		 tls_io_free(struct tls_io *t);
SSL		*tls_io_ssl(struct tls_io *t);

/* Network bytes in. */
void		 tls_io_feed(struct tls_io *t, const void *p, size_t n);
/* TLS_IO_DONE when established, WANT, or ERROR. */
int		 tls_io_handshake(struct tls_io *t);
/* Up to cap plaintext bytes: > 0 bytes read, else WANT, CLOSED, ERROR. */
ssize_t		 tls_io_read(struct tls_io *t, void *buf, size_t cap);
/* Plaintext buffered inside (decrypted, not read yet) or network bytes
 * fed and not yet processed. */
int		 tls_io_pending(struct tls_io *t);
/* Encrypts all n bytes (0, or ERROR). */
int		 tls_io_write(struct tls_io *t, const void *p, size_t n);
/* Sends close_notify. */
void		 tls_io_shutdown(struct tls_io *t);
/* Network bytes out: a malloc'd buffer the caller owns, NULL if none. */
char		*tls_io_take_output(struct tls_io *t, size_t *len);
const char	*tls_io_error(const struct tls_io *t);

#endif
