/*
 * auth_forward - SMTP AUTH checked by another server; see auth_forward.h.
 */
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "auth_forward.h"
#include "base64.h"
#include "smtp_reply.h"
#include "tls_name.h"
#include "tls_policy.h"

struct fwd {
	int		 fd;
	SSL		*ssl;
	char		 buf[1024];
	size_t		 len;
	char		*err;
	size_t		 errlen;
};

static int
fwd_connect(struct fwd *f, const struct cfg_hostport *hp)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct timeval tv = { AUTH_FORWARD_TIMEOUT, 0 };
	struct pollfd pfd;
	socklen_t sl, el = sizeof(int);
	int e = 0;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, hp->host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(hp->port);
		sl = sizeof *sin;
	} else if (inet_pton(AF_INET6, hp->host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(hp->port);
		sl = sizeof *sin6;
	} else {
		snprintf(f->err, f->errlen, "auth.forward %s is not an IP address", hp->host);
		return -1;
	}
	if ((f->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		goto fail;
	if (connect(f->fd, (struct sockaddr *)&ss, sl) < 0) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd.fd = f->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, AUTH_FORWARD_TIMEOUT * 1000) != 1) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e != 0) {
			errno = e ? e : errno;
			goto fail;
		}
	}
	/* Blocking from here, every read and write bounded. */
	fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(f->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return 0;
fail:
	snprintf(f->err, f->errlen, "auth.forward %s port %u: %s", hp->host,
	    (unsigned)hp->port, strerror(errno));
	return -1;
}

static ssize_t
fwd_io(struct fwd *f, void *p, size_t n, int writing)
{
	size_t done = 0;
	ssize_t r;

	if (f->ssl != NULL) {
		if ((writing ? SSL_write_ex(f->ssl, p, n, &done) :
		    SSL_read_ex(f->ssl, p, n, &done)) != 1) {
			ERR_clear_error();
			return -1;
		}
		return (ssize_t)done;
	}
	r = writing ? write(f->fd, p, n) : read(f->fd, p, n);
	return r;
}

static int
fwd_send(struct fwd *f, const char *line)
{
	size_t n = strlen(line);

	if (fwd_io(f, (void *)line, n, 1) != (ssize_t)n) {
		snprintf(f->err, f->errlen, "auth.forward: write failed");
		return -1;
	}
	return 0;
}

/* One whole reply; its code, or -1. */
static int
fwd_reply(struct fwd *f, struct smtp_reply *r)
{
	enum smtp_reply_status st = SMTP_REPLY_MORE;
	char *nl;
	ssize_t n;
	size_t ll;

	smtp_reply_init(r);
	while (st == SMTP_REPLY_MORE) {
		while ((nl = memchr(f->buf, '\n', f->len)) == NULL) {
			if (f->len == sizeof f->buf) {
				snprintf(f->err, f->errlen, "auth.forward: reply line too long");
				return -1;
			}
			if ((n = fwd_io(f, f->buf + f->len, sizeof f->buf - f->len, 0)) <= 0) {
				snprintf(f->err, f->errlen, "auth.forward: %s", n == 0 ?
				    "connection closed" : "no answer in time");
				return -1;
			}
			f->len += (size_t)n;
		}
		ll = (size_t)(nl - f->buf);
		st = smtp_reply_feed(r, f->buf, ll > 0 && f->buf[ll - 1] == '\r' ? ll - 1 : ll);
		memmove(f->buf, nl + 1, f->len - ll - 1);
		f->len -= ll + 1;
	}
	if (st == SMTP_REPLY_ERROR) {
		snprintf(f->err, f->errlen, "auth.forward: malformed reply");
		return -1;
	}
	return r->code;
}

static int
fwd_cmd(struct fwd *f, const char *line, struct smtp_reply *r)
{
	if (fwd_send(f, line) < 0)
		return -1;
	return fwd_reply(f, r);
}

/* STARTTLS per auth.forward_tls; 0 when the session may carry the
 * password, -1 when not. */
static int
fwd_tls(struct fwd *f, const struct config *cfg, SSL_CTX *ctx, struct smtp_reply *r,
    const char *ehlo_line)
{
	enum cfg_tls_out mode = cfg->auth.forward_tls;
	struct tls_refid ref;
	char why[256];
	int offered = smtp_reply_has_ext(r, "STARTTLS", NULL, NULL);

	if (mode == TLS_OUT_OFF)
		return 0;
	/* Every other mode: a password never goes out in clear (RFC 4954
	 * 4, spec 3.5 point 7), so "preferred" cannot fall back here. */
	if (!offered || ctx == NULL) {
		snprintf(f->err, f->errlen, "auth.forward: the server offers no STARTTLS "
		    "(the password is sent in clear only with forward_tls: off)");
		return -1;
	}
	if (fwd_cmd(f, "STARTTLS\r\n", r) != 220) {
		snprintf(f->err, f->errlen, "auth.forward: STARTTLS refused");
		return -1;
	}
	if (f->len > 0) {
		snprintf(f->err, f->errlen, "auth.forward: data after the 220 to STARTTLS");
		return -1;
	}
	if ((f->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(f->ssl, f->fd) != 1 ||
	    SSL_connect(f->ssl) != 1) {
		ERR_clear_error();
		snprintf(f->err, f->errlen, "auth.forward: TLS handshake failed");
		return -1;
	}
	if (tls_policy_verifies(mode, TLS_DANE_NONE) || mode == TLS_OUT_PREFERRED_VERIFY) {
		ref.name = cfg->auth.forward->host;
		ref.kind = TLS_REFID_STATIC;
		/* The server is configured by address: its certificate must
		 * name that address (an IP SAN), or carry it as a DNS name. */
		if (SSL_get_verify_result(f->ssl) != X509_V_OK ||
		    SSL_get0_peer_certificate(f->ssl) == NULL ||
		    (X509_check_ip_asc(SSL_get0_peer_certificate(f->ssl), ref.name, 0) != 1 &&
		    !tls_name_check(SSL_get0_peer_certificate(f->ssl), &ref, 1, TLS_NAME_VERIFY,
		    why, sizeof why))) {
			if (mode != TLS_OUT_PREFERRED_VERIFY) {
				snprintf(f->err, f->errlen, "auth.forward: the server's "
				    "certificate is not verified");
				return -1;
			}
		}
	}
	return fwd_cmd(f, ehlo_line, r) == 250 ? 0 : -1;
}

int
auth_forward_check(const struct config *cfg, SSL_CTX *ctx, const char *user,
    const char *pass, char *err, size_t errlen)
{
	struct fwd f;
	struct smtp_reply *r = calloc(1, sizeof *r);
	char plain[600], b64[BASE64_ENCODED_LEN(600)], line[sizeof b64 + 32], ehlo[300];
	size_t ul = strlen(user), pl = strlen(pass);
	int rc = -1, code;

	memset(&f, 0, sizeof f);
	f.fd = -1;
	f.err = err;
	f.errlen = errlen;
	err[0] = '\0';
	if (r == NULL || cfg->auth.forward == NULL || ul + pl + 2 > sizeof plain) {
		snprintf(err, errlen, "auth.forward: not usable");
		goto out;
	}
	snprintf(ehlo, sizeof ehlo, "EHLO %s\r\n", cfg->hostname);
	if (fwd_connect(&f, cfg->auth.forward) < 0 || fwd_reply(&f, r) != 220 ||
	    fwd_cmd(&f, ehlo, r) != 250 || fwd_tls(&f, cfg, ctx, r, ehlo) < 0)
		goto out;
	plain[0] = '\0';
	memcpy(plain + 1, user, ul);
	plain[1 + ul] = '\0';
	memcpy(plain + 2 + ul, pass, pl);
	base64_encode(plain, ul + pl + 2, b64);
	snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", b64);
	code = fwd_cmd(&f, line, r);
	explicit_bzero(plain, sizeof plain);
	explicit_bzero(b64, sizeof b64);
	explicit_bzero(line, sizeof line);
	if (code == 235)
		rc = 1;
	else if (code >= 500 && code < 600)
		rc = 0;
	else if (code > 0)
		snprintf(err, errlen, "auth.forward: AUTH answered %d", code);
	if (code > 0)
		(void)fwd_send(&f, "QUIT\r\n");
out:
	if (err[0] == '\0' && rc < 0)
		snprintf(err, errlen, "auth.forward: unexpected answer");
	if (f.ssl != NULL) {
		SSL_shutdown(f.ssl);
		SSL_free(f.ssl);
		ERR_clear_error();
	}
	if (f.fd >= 0)
		close(f.fd);
	free(r);
	return rc;
}
