/*
 * tls_io - a TLS connection over two memory BIOs; see tls_io.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls_ctx.h"
#include "tls_io.h"
#include "xalloc.h"

struct tls_io {
	SSL	*ssl;
	BIO	*in;	/* network -> SSL */
	BIO	*out;	/* SSL -> network */
	char	 err[TLS_IO_ERR_MAX];
};

struct tls_io *
tls_io_new(SSL_CTX *ctx, int server, const char *sni)
{
	struct tls_io *t = xcalloc(1, sizeof *t);

	if ((t->ssl = SSL_new(ctx)) == NULL || (t->in = BIO_new(BIO_s_mem())) == NULL ||
	    (t->out = BIO_new(BIO_s_mem())) == NULL) {
		BIO_free(t->in);
		BIO_free(t->out);
		SSL_free(t->ssl);
		free(t);
		ERR_clear_error();
		return NULL;
	}
	BIO_set_mem_eof_return(t->in, -1);	/* empty means "later", not EOF */
	SSL_set_bio(t->ssl, t->in, t->out);
	if (server)
		SSL_set_accept_state(t->ssl);
	else {
		SSL_set_connect_state(t->ssl);
		if (sni != NULL)
			SSL_set_tlsext_host_name(t->ssl, sni);
	}
	return t;
}

void
tls_io_free(struct tls_io *t)
{
	if (t == NULL)
		return;
	SSL_free(t->ssl);	/* frees both BIOs */
	free(t);
}

SSL *
tls_io_ssl(struct tls_io *t)
{
	return t->ssl;
}

void
tls_io_feed(struct tls_io *t, const void *p, size_t n)
{
	if (n > 0)
		BIO_write(t->in, p, (int)n);
}

/* Classifies the result of an SSL call. */
static int
status(struct tls_io *t, int rc, const char *what)
{
	int e = SSL_get_error(t->ssl, rc);
	char lib[200];

	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return TLS_IO_WANT;
	case SSL_ERROR_ZERO_RETURN:
		return TLS_IO_CLOSED;
	default:
		tls_ctx_errors(lib, sizeof lib);
		snprintf(t->err, sizeof t->err, "%s: %s", what, e == SSL_ERROR_SYSCALL ?
		    "unexpected end of the TLS stream" : lib);
		return TLS_IO_ERROR;
	}
}

int
tls_io_handshake(struct tls_io *t)
{
	int rc = SSL_do_handshake(t->ssl);

	if (rc == 1)
		return TLS_IO_DONE;
	return status(t, rc, "handshake");
}

ssize_t
tls_io_read(struct tls_io *t, void *buf, size_t cap)
{
	size_t got = 0;
	int rc;

	if (cap == 0)
		return TLS_IO_WANT;
	rc = SSL_read_ex(t->ssl, buf, cap, &got);
	if (rc == 1)
		return (ssize_t)got;
	return status(t, rc, "read");
}

int
tls_io_pending(struct tls_io *t)
{
	return SSL_pending(t->ssl) > 0 || BIO_ctrl_pending(t->in) > 0;
}

int
tls_io_write(struct tls_io *t, const void *p, size_t n)
{
	size_t done = 0, w;

	while (done < n) {
		if (SSL_write_ex(t->ssl, (const char *)p + done, n - done, &w) != 1)
			return status(t, 0, "write") == TLS_IO_WANT ? 0 : TLS_IO_ERROR;
		done += w;
	}
	return 0;
}

void
tls_io_shutdown(struct tls_io *t)
{
	SSL_shutdown(t->ssl);
	ERR_clear_error();
}

char *
tls_io_take_output(struct tls_io *t, size_t *len)
{
	size_t n = BIO_ctrl_pending(t->out);
	char *p;

	*len = 0;
	if (n == 0)
		return NULL;
	p = xmalloc(n);
	*len = (size_t)BIO_read(t->out, p, (int)n);
	return p;
}

const char *
tls_io_error(const struct tls_io *t)
{
	return t->err[0] != '\0' ? t->err : "TLS error";
}
