/*
 * tlsload - STARTTLS handshake load generator.
 *
 * SUMMARY
 *	tlsload -H HOST -p PORT [-c CONCURRENCY] [-n TOTAL] [-T TIMEOUT]
 *	    [--resume] [--tls13|--tls12] [--cafile FILE] [--json]
 *
 * DESCRIPTION
 *	Makes TOTAL (default 1000) SMTP connections to HOST:PORT from
 *	CONCURRENCY (default 8) threads, each running one connection at a
 *	time on a blocking socket.  Each connection reads the 220 banner,
 *	sends EHLO, checks that STARTTLS is advertised, sends STARTTLS,
 *	expects 220, does the TLS handshake as a client, sends EHLO again
 *	over TLS, QUITs, sends close_notify and closes.
 *
 *	Without --cafile the server's certificate is not verified.  With
 *	it, the chain must verify against FILE and the certificate must
 *	match HOST: its IP address when HOST is an address literal, its DNS
 *	name otherwise (then also sent as SNI).
 *
 *	With --resume each thread keeps the session of its previous
 *	connection and offers it on the next.  The session is taken from
 *	the new-session callback, so in TLS 1.3 it is the ticket the server
 *	sends after the handshake; reading the EHLO reply over TLS is what
 *	makes OpenSSL process that ticket.  With all connections succeeding
 *	the expected resumed count is TOTAL minus the number of threads.
 *	"Offered" counts handshakes that offered a session, including ones
 *	that then failed; a session from a connection that ended without
 *	close_notify is dropped, not offered.
 *
 *	Every socket operation (connect, each read, each write, including
 *	those inside the TLS library) times out after TIMEOUT seconds
 *	(default 10).  A connection that fails anywhere is counted and its
 *	reason kept (the first ten are printed on standard error); the run
 *	goes on.
 *
 *	Prints connections, handshakes completed and the TLS version,
 *	failures, resumed handshakes (and how many resumptions were
 *	offered), elapsed seconds, handshakes/s and p50/p99 latency in ms of
 *	the connections that completed, measured from the start of connect()
 *	to close(); with --json the same as one JSON object on one line.
 *	Exits 0 if at least one TLS handshake succeeded, 1 if none did, 2 on
 *	usage errors.
 *
 *	Not for: throughput of mail over TLS, certificate policy testing
 *	(see lib/tls_policy.c), or checking the server's SMTP conformance.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define BENCH_NAME "tlsload"
#include "benchutil.h"
#include "smtp_reply.h"
#include "xalloc.h"

#define TLSLOAD_INBUF		8192
#define TLSLOAD_MAX_REASONS	10
#define TLSLOAD_EHLO		"tlsload.test"
#define TLSLOAD_MAX_THREADS	4096
#define TLSLOAD_MAX_TOTAL	100000000UL

struct tlsload_opts {
	const char	*host;
	const char	*port;
	unsigned	 concurrency;
	unsigned	 total;
	unsigned	 timeout;	/* seconds, per socket operation */
	int		 resume;
	int		 version;	/* 0: any, else TLS1_2_VERSION / TLS1_3_VERSION */
	const char	*cafile;
	int		 json;
};

struct tlsload;

/* One thread; one connection at a time. */
struct worker {
	struct tlsload	*l;
	pthread_t	 thread;
	unsigned	 index;
	SSL_SESSION	*session;	/* --resume: offered on the next connection */
	uint64_t	 handshakes;
	uint64_t	 completed;	/* whole sequence through QUIT */
	uint64_t	 failures;
	uint64_t	 offered;	/* handshakes that offered a session */
	uint64_t	 resumed;
	/* The connection in progress. */
	int		 fd;
	SSL		*ssl;
	size_t		 inlen;
	char		 in[TLSLOAD_INBUF];
	struct smtp_reply reply;
	char		 err[400];
};

struct tlsload {
	struct tlsload_opts opts;
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	int		 host_is_ip;
	SSL_CTX		*ctx;
	struct worker	*workers;
	unsigned	 nworkers;
	atomic_uint	 next;		/* connections claimed by workers */
	atomic_size_t	 nlat;
	uint32_t	*lat_us;	/* per completed connection */
	pthread_mutex_t	 lock;		/* guards what follows */
	char		*reasons[TLSLOAD_MAX_REASONS];
	unsigned	 nreasons;
	uint64_t	 more_reasons;	/* failures beyond those kept */
	const char	*tls_version;	/* of the first handshake, static string */
	uint64_t	 t_start, t_end;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
add_reason(struct tlsload *l, unsigned connno, const char *msg)
{
	pthread_mutex_lock(&l->lock);
	if (l->nreasons < TLSLOAD_MAX_REASONS)
		l->reasons[l->nreasons++] = xasprintf("connection %u: %s", connno, msg);
	else
		l->more_reasons++;
	pthread_mutex_unlock(&l->lock);
}

/* ---- one connection ----------------------------------------------- */

static int conn_fail(struct worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records why the connection failed (the first reason wins); returns -1. */
static int
conn_fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (w->err[0] != '\0')
		return -1;
	va_start(ap, fmt);
	vsnprintf(w->err, sizeof w->err, fmt, ap);
	va_end(ap);
	return -1;
}

static const char *
errno_text(struct worker *w, int e, char *out, size_t outlen)
{
	if (e == EAGAIN || e == EWOULDBLOCK)
		snprintf(out, outlen, "timed out after %u s", w->l->opts.timeout);
	else
		snprintf(out, outlen, "%s", strerror(e));
	return out;
}

/*
 * Explains a failed SSL_* call: the library's reason, the certificate
 * verification result if that is what failed, or the socket error
 * (a timeout shows up as EAGAIN from the blocking socket).
 */
static int
tls_fail(struct worker *w, const char *what, int ret, int saved_errno)
{
	char text[256], etext[128];
	unsigned long code;
	long vr;
	int err;

	err = SSL_get_error(w->ssl, ret);
	if (err == SSL_ERROR_SYSCALL && ERR_peek_error() != 0)
		err = SSL_ERROR_SSL;
	switch (err) {
	case SSL_ERROR_ZERO_RETURN:
		snprintf(text, sizeof text, "connection closed");
		break;
	case SSL_ERROR_SYSCALL:
		if (saved_errno == 0)
			snprintf(text, sizeof text, "connection closed");
		else
			errno_text(w, saved_errno, text, sizeof text);
		break;
	case SSL_ERROR_SSL:
		code = ERR_get_error();
		ERR_error_string_n(code, etext, sizeof etext);
		vr = SSL_get_verify_result(w->ssl);
		if (vr != X509_V_OK)
			snprintf(text, sizeof text, "%s (certificate: %s)", etext,
			    X509_verify_cert_error_string(vr));
		else
			snprintf(text, sizeof text, "%s", etext);
		break;
	default:
		snprintf(text, sizeof text, "SSL error %d", err);
		break;
	}
	ERR_clear_error();
	return conn_fail(w, "%s: %s", what, text);
}

static int
conn_open(struct worker *w)
{
	struct tlsload *l = w->l;
	struct timeval tv = { .tv_sec = (time_t)l->opts.timeout, .tv_usec = 0 };
	struct pollfd pfd;
	char etext[128];
	int fl, r, soerr = 0, one = 1;
	socklen_t slen = sizeof soerr;

	w->fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (w->fd < 0)
		return conn_fail(w, "socket: %s", strerror(errno));
	if (connect(w->fd, (struct sockaddr *)&l->addr, l->addrlen) < 0) {
		if (errno != EINPROGRESS)
			return conn_fail(w, "connect: %s", strerror(errno));
		pfd.fd = w->fd;
		pfd.events = POLLOUT;
		do
			r = poll(&pfd, 1, (int)l->opts.timeout * 1000);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return conn_fail(w, "connect: poll: %s", strerror(errno));
		if (r == 0)
			return conn_fail(w, "connect: timed out after %u s", l->opts.timeout);
		if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) < 0)
			soerr = errno;
		if (soerr != 0)
			return conn_fail(w, "connect: %s", errno_text(w, soerr, etext, sizeof etext));
	}
	/* Blocking from here on, each read and write bounded by the timeout. */
	if ((fl = fcntl(w->fd, F_GETFL)) < 0 || fcntl(w->fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
	    setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(w->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
		return conn_fail(w, "socket options: %s", strerror(errno));
	(void)setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return 0;
}

/* Reads more input: > 0 bytes, 0 on end of stream, -1 on error. */
static ssize_t
conn_fill(struct worker *w, const char *what)
{
	char *p = w->in + w->inlen;
	size_t room = sizeof w->in - w->inlen;
	char etext[128], where[96];
	ssize_t n;
	int r, e;

	if (w->ssl != NULL) {
		errno = 0;
		r = SSL_read(w->ssl, p, (int)room);
		e = errno;
		if (r > 0)
			return r;
		if (SSL_get_error(w->ssl, r) == SSL_ERROR_ZERO_RETURN ||
		    (SSL_get_error(w->ssl, r) == SSL_ERROR_SYSCALL && e == 0 &&
		    ERR_peek_error() == 0)) {
			ERR_clear_error();
			return 0;
		}
		snprintf(where, sizeof where, "reading the reply to %s", what);
		return tls_fail(w, where, r, e);
	}
	do
		n = read(w->fd, p, room);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return conn_fail(w, "reading the reply to %s: %s", what,
		    errno_text(w, errno, etext, sizeof etext));
	return n;
}

/*
 * Reads one complete reply into w->reply; bytes after it stay in w->in.
 * Returns 0, -1 on error, 1 if the server closed the connection before
 * sending any of it (an error too, which the caller may forgive).
 */
static int
read_reply(struct worker *w, const char *what)
{
	char *lf, *line;
	size_t len, off;
	ssize_t n;
	enum smtp_reply_status st;

	smtp_reply_init(&w->reply);
	for (;;) {
		while ((lf = memchr(w->in, '\n', w->inlen)) != NULL) {
			line = w->in;
			len = (size_t)(lf - line);
			off = len + 1;
			if (len > 0 && line[len - 1] == '\r')
				len--;
			st = smtp_reply_feed(&w->reply, line, len);
			if (st == SMTP_REPLY_ERROR)
				return conn_fail(w, "malformed reply to %s: '%.*s'", what,
				    (int)(len > 200 ? 200 : len), line);
			memmove(w->in, w->in + off, w->inlen - off);
			w->inlen -= off;
			if (st == SMTP_REPLY_DONE)
				return 0;
		}
		if (w->inlen == sizeof w->in)
			return conn_fail(w, "reply line to %s too long", what);
		if ((n = conn_fill(w, what)) < 0)
			return -1;
		if (n == 0) {
			int clean = w->reply.nlines == 0 && w->inlen == 0;

			conn_fail(w, "connection closed while waiting for the reply to %s", what);
			return clean ? 1 : -1;
		}
		w->inlen += (size_t)n;
	}
}

static int
send_command(struct worker *w, const char *cmd)
{
	size_t len = strlen(cmd), off = 0;
	char etext[128], where[96];
	ssize_t n;
	int r, e;

	if (w->ssl != NULL) {
		errno = 0;
		r = SSL_write(w->ssl, cmd, (int)len);	/* blocking: all or error */
		e = errno;
		if (r <= 0) {
			snprintf(where, sizeof where, "sending %.*s", (int)(len - 2), cmd);
			return tls_fail(w, where, r, e);
		}
		return 0;
	}
	while (off < len) {
		n = send(w->fd, cmd + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return conn_fail(w, "sending %.*s: %s", (int)(len - 2), cmd,
			    errno_text(w, errno, etext, sizeof etext));
		off += (size_t)n;
	}
	return 0;
}

/* Sends cmd and expects a reply with the given code. */
static int
command(struct worker *w, const char *cmd, const char *what, int code)
{
	char line[300];

	if (send_command(w, cmd) < 0 || read_reply(w, what) != 0)
		return -1;
	if (w->reply.code != code)
		return conn_fail(w, "%s: %s", what,
		    smtp_reply_oneline(&w->reply, line, sizeof line));
	return 0;
}

/*
 * The client cache mode makes OpenSSL hand us each new session: in TLS
 * 1.2 at the end of a full handshake, in TLS 1.3 for each ticket the
 * server sends after it.  Keeping the newest is right for both.
 */
static int
session_new_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct worker *w = SSL_get_app_data(ssl);

	if (w->session != NULL)
		SSL_SESSION_free(w->session);
	w->session = sess;
	return 1;	/* the reference is ours */
}

static int
tls_start(struct worker *w)
{
	struct tlsload *l = w->l;
	int r, e;

	ERR_clear_error();
	if ((w->ssl = SSL_new(l->ctx)) == NULL || !SSL_set_fd(w->ssl, w->fd))
		return conn_fail(w, "SSL_new: %s", ERR_reason_error_string(ERR_get_error()));
	SSL_set_app_data(w->ssl, w);
	if (!l->host_is_ip)
		(void)SSL_set_tlsext_host_name(w->ssl, l->opts.host);
	if (l->opts.cafile != NULL) {
		r = l->host_is_ip ?
		    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(w->ssl), l->opts.host) :
		    SSL_set1_host(w->ssl, l->opts.host);
		if (r != 1)
			return conn_fail(w, "cannot set the name to verify: %s", l->opts.host);
	}
	if (l->opts.resume && w->session != NULL) {
		/* A session from a connection that ended badly is unusable. */
		if (SSL_SESSION_is_resumable(w->session) &&
		    SSL_set_session(w->ssl, w->session) == 1) {
			w->offered++;
		} else {
			SSL_SESSION_free(w->session);
			w->session = NULL;
		}
	}
	errno = 0;
	r = SSL_connect(w->ssl);
	e = errno;
	if (r != 1)
		return tls_fail(w, "TLS handshake", r, e);
	w->handshakes++;
	if (SSL_session_reused(w->ssl))
		w->resumed++;
	if (l->tls_version == NULL) {
		pthread_mutex_lock(&l->lock);
		if (l->tls_version == NULL)
			l->tls_version = SSL_get_version(w->ssl);
		pthread_mutex_unlock(&l->lock);
	}
	return 0;
}

static int
run_connection(struct worker *w)
{
	char line[300];
	int r;

	if (conn_open(w) < 0)
		return -1;
	if (read_reply(w, "connect (banner)") != 0)
		return -1;
	if (w->reply.code != 220)
		return conn_fail(w, "banner: %s", smtp_reply_oneline(&w->reply, line, sizeof line));
	if (command(w, "EHLO " TLSLOAD_EHLO "\r\n", "EHLO", 250) < 0)
		return -1;
	if (!smtp_reply_has_ext(&w->reply, "STARTTLS", NULL, NULL))
		return conn_fail(w, "STARTTLS not advertised");
	if (command(w, "STARTTLS\r\n", "STARTTLS", 220) < 0)
		return -1;
	/* Anything sent before the handshake must not be read as if inside it. */
	if (w->inlen != 0)
		return conn_fail(w, "%zu bytes after the reply to STARTTLS", w->inlen);
	if (tls_start(w) < 0)
		return -1;
	if (command(w, "EHLO " TLSLOAD_EHLO "\r\n", "EHLO over TLS", 250) < 0)
		return -1;
	if (send_command(w, "QUIT\r\n") < 0)
		return -1;
	r = read_reply(w, "QUIT");
	if (r < 0)
		return -1;
	if (r == 1)
		w->err[0] = '\0';	/* closed after QUIT: fine */
	else if (w->reply.code != 221)
		return conn_fail(w, "QUIT: %s", smtp_reply_oneline(&w->reply, line, sizeof line));
	/* close_notify; marks the session as cleanly ended, so reusable. */
	(void)SSL_shutdown(w->ssl);
	ERR_clear_error();
	return 0;
}

static void
conn_close(struct worker *w)
{
	if (w->ssl != NULL) {
		SSL_free(w->ssl);
		w->ssl = NULL;
	}
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
	w->inlen = 0;
	ERR_clear_error();
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct tlsload *l = w->l;
	unsigned connno;
	uint64_t t0, us;
	size_t i;

	for (;;) {
		connno = atomic_fetch_add(&l->next, 1);
		if (connno >= l->opts.total)
			break;
		w->err[0] = '\0';
		w->fd = -1;
		ERR_clear_error();
		t0 = now_ns();
		if (run_connection(w) == 0) {
			conn_close(w);
			us = (now_ns() - t0) / 1000;
			w->completed++;
			i = atomic_fetch_add(&l->nlat, 1);
			l->lat_us[i] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
		} else {
			conn_close(w);
			w->failures++;
			add_reason(l, connno + 1, w->err[0] ? w->err : "unknown error");
		}
	}
	return NULL;
}

/* ---- set-up ------------------------------------------------------- */

static SSL_CTX *
make_ctx(const struct tlsload_opts *o)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		die("SSL_CTX_new: %s", ERR_reason_error_string(ERR_get_error()));
	if (o->version != 0 && (!SSL_CTX_set_min_proto_version(ctx, o->version) ||
	    !SSL_CTX_set_max_proto_version(ctx, o->version)))
		die("cannot restrict the TLS version");
	/* SMTP frames its own data; a peer that skips close_notify is normal. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (o->cafile != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, o->cafile, NULL) != 1)
			die("%s: %s", o->cafile, ERR_reason_error_string(ERR_get_error()));
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	if (o->resume) {
		SSL_CTX_set_session_cache_mode(ctx,
		    SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, session_new_cb);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	}
	return ctx;
}

static void
resolve(struct tlsload *l)
{
	struct addrinfo hints, *res;
	unsigned char a[sizeof(struct in6_addr)];
	int r;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(l->opts.host, l->opts.port, &hints, &res)) != 0)
		die("%s port %s: %s", l->opts.host, l->opts.port, gai_strerror(r));
	memcpy(&l->addr, res->ai_addr, res->ai_addrlen);
	l->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	l->host_is_ip = inet_pton(AF_INET, l->opts.host, a) == 1 ||
	    inet_pton(AF_INET6, l->opts.host, a) == 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: tlsload -H HOST -p PORT [-c CONCURRENCY] [-n TOTAL] [-T TIMEOUT-S]\n"
	    "               [--resume] [--tls13|--tls12] [--cafile FILE] [--json]\n");
}

static void
parse_args(struct tlsload_opts *o, int argc, char **argv)
{
	enum { OPT_RESUME = 256, OPT_TLS13, OPT_TLS12, OPT_CAFILE, OPT_JSON };
	static const struct option longopts[] = {
		{ "resume",	no_argument,		NULL, OPT_RESUME },
		{ "tls13",	no_argument,		NULL, OPT_TLS13 },
		{ "tls12",	no_argument,		NULL, OPT_TLS12 },
		{ "cafile",	required_argument,	NULL, OPT_CAFILE },
		{ "json",	no_argument,		NULL, OPT_JSON },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->host = "127.0.0.1";
	o->concurrency = 8;
	o->total = 1000;
	o->timeout = 10;
	while ((c = getopt_long(argc, argv, "H:p:c:n:T:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': o->host = optarg; break;
		case 'p': o->port = optarg; (void)parse_num("-p", optarg, 1, 65535); break;
		case 'c':
			o->concurrency = (unsigned)parse_num("-c", optarg, 1, TLSLOAD_MAX_THREADS);
			break;
		case 'n': o->total = (unsigned)parse_num("-n", optarg, 1, TLSLOAD_MAX_TOTAL); break;
		case 'T': o->timeout = (unsigned)parse_num("-T", optarg, 1, 86400); break;
		case OPT_RESUME: o->resume = 1; break;
		case OPT_TLS13:
		case OPT_TLS12:
			if (o->version != 0)
				die("--tls13 and --tls12 exclude each other");
			o->version = c == OPT_TLS13 ? TLS1_3_VERSION : TLS1_2_VERSION;
			break;
		case OPT_CAFILE: o->cafile = optarg; break;
		case OPT_JSON: o->json = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc || o->port == NULL) {
		usage(stderr);
		exit(2);
	}
}

/* ---- results ------------------------------------------------------ */

struct totals {
	uint64_t	 handshakes, completed, failures, offered, resumed;
};

static void
report(struct tlsload *l, const struct totals *t)
{
	double elapsed = (double)(l->t_end - l->t_start) / 1e9;
	double rate = elapsed > 0 ? (double)t->handshakes / elapsed : 0;
	size_t nlat = atomic_load(&l->nlat);
	double p50, p99;

	qsort(l->lat_us, nlat, sizeof *l->lat_us, cmp_u32);
	p50 = percentile_ms(l->lat_us, nlat, 0.50);
	p99 = percentile_ms(l->lat_us, nlat, 0.99);
	if (l->opts.json) {
		/* The version is one of OpenSSL's fixed names: no escaping needed. */
		printf("{\"connections\": %u, \"concurrency\": %u, \"completed\": %" PRIu64 ", "
		    "\"handshakes\": %" PRIu64 ", \"failures\": %" PRIu64 ", "
		    "\"resume\": %s, \"resume_offered\": %" PRIu64 ", \"resumed\": %" PRIu64 ", "
		    "\"tls_version\": %s%s%s, \"elapsed_s\": %.3f, \"handshakes_per_s\": %.1f, "
		    "\"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
		    l->opts.total, l->nworkers, t->completed, t->handshakes, t->failures,
		    l->opts.resume ? "true" : "false", t->offered, t->resumed,
		    l->tls_version ? "\"" : "", l->tls_version ? l->tls_version : "null",
		    l->tls_version ? "\"" : "", elapsed, rate, p50, p99);
	} else {
		printf("connections:       %u (%u threads)\n", l->opts.total, l->nworkers);
		printf("handshakes:        %" PRIu64 " (%s)\n", t->handshakes,
		    l->tls_version ? l->tls_version : "none");
		printf("failures:          %" PRIu64 "\n", t->failures);
		if (l->opts.resume)
			printf("resumed:           %" PRIu64 " of %" PRIu64 " offered\n",
			    t->resumed, t->offered);
		else
			printf("resumed:           %" PRIu64 " (--resume not given)\n", t->resumed);
		printf("elapsed:           %.3f s\n", elapsed);
		printf("handshakes/s:      %.1f\n", rate);
		printf("latency p50:       %.3f ms\n", p50);
		printf("latency p99:       %.3f ms\n", p99);
	}
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	static struct tlsload load;
	struct tlsload *l = &load;
	struct totals t = { 0 };
	struct worker *w;
	unsigned i;
	int r;

	parse_args(&l->opts, argc, argv);
	signal(SIGPIPE, SIG_IGN);	/* OpenSSL writes with write(2) */
	resolve(l);
	l->ctx = make_ctx(&l->opts);
	pthread_mutex_init(&l->lock, NULL);
	atomic_init(&l->next, 0);
	atomic_init(&l->nlat, 0);
	l->lat_us = xcalloc(l->opts.total, sizeof *l->lat_us);
	l->nworkers = l->opts.concurrency < l->opts.total ? l->opts.concurrency : l->opts.total;
	l->workers = xcalloc(l->nworkers, sizeof *l->workers);

	l->t_start = now_ns();
	for (i = 0; i < l->nworkers; i++) {
		w = &l->workers[i];
		w->l = l;
		w->index = i + 1;
		w->fd = -1;
		if ((r = pthread_create(&w->thread, NULL, worker_main, w)) != 0)
			die("pthread_create: %s", strerror(r));
	}
	for (i = 0; i < l->nworkers; i++) {
		w = &l->workers[i];
		pthread_join(w->thread, NULL);
		t.handshakes += w->handshakes;
		t.completed += w->completed;
		t.failures += w->failures;
		t.offered += w->offered;
		t.resumed += w->resumed;
		if (w->session != NULL)
			SSL_SESSION_free(w->session);
	}
	l->t_end = now_ns();

	report(l, &t);
	for (i = 0; i < l->nreasons; i++) {
		fprintf(stderr, "tlsload: %s\n", l->reasons[i]);
		free(l->reasons[i]);
	}
	if (l->more_reasons > 0)
		fprintf(stderr, "tlsload: ... and %" PRIu64 " more failures\n", l->more_reasons);
	if (t.handshakes == 0)
		fprintf(stderr, "tlsload: no TLS handshake succeeded\n");
	SSL_CTX_free(l->ctx);
	pthread_mutex_destroy(&l->lock);
	free(l->workers);
	free(l->lat_us);
	return t.handshakes > 0 ? 0 : 1;
}
