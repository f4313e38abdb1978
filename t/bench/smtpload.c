/*
 * smtpload - SMTP load generator for `make bench` and the integration
 * tests.
 *
 * SUMMARY
 *	smtpload -H HOST -p PORT -n SESSIONS -m MESSAGES -s SIZE
 *	    [-f FROM] [-t TO] [-e EHLO-NAME] [-T TIMEOUT] [--json]
 *
 * DESCRIPTION
 *	Opens SESSIONS concurrent SMTP sessions to HOST:PORT on one libuv
 *	loop.  Each reads the banner, sends EHLO, then runs MESSAGES
 *	transactions one after another and QUITs.  When the server offers
 *	PIPELINING, MAIL, RCPT and DATA go out in one write (RFC 2920);
 *	otherwise one command per round trip.  Each message is about SIZE
 *	bytes: From, To, Subject, Date and a unique Message-ID, then lines of
 *	printable text ending in CRLF (no line starts with a dot, so no
 *	stuffing is needed).  The body text is built once and shared by all
 *	sessions; only the headers are written per message.
 *
 *	Latency is measured per message from the moment the final ".\r\n"
 *	was handed to the kernel to the moment the reply to it was read.
 *	A final 2xx counts as accepted, anything else as failed.
 *
 *	Prints sessions, messages sent, accepted, failed, connection
 *	errors, elapsed seconds, accepted msg/s and p50/p99 latency in ms;
 *	with --json the same as one JSON object on one line.  Exits 1 if any
 *	message was not accepted or any connection failed, after printing
 *	the first reasons on standard error; 2 on usage errors.
 *
 *	A session that gets no reply for TIMEOUT seconds (default 60) is
 *	abandoned and counted as a connection error, so a stuck server
 *	cannot hang a benchmark.
 *
 *	Not for: TLS, AUTH, or testing the server's SMTP conformance.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#define BENCH_NAME "smtpload"
#include "benchutil.h"
#include "buf.h"
#include "smtp_reply.h"
#include "xalloc.h"

#define LOAD_INBUF		8192
#define LOAD_MAX_REASONS	10
#define LOAD_LINE_TEXT		"The quick brown fox jumps over the lazy dog; "	\
				"Sallyport load test body text 0123456789"

enum sess_state {
	S_CONNECT, S_BANNER, S_EHLO, S_MAIL, S_RCPT, S_DATA, S_BODY, S_RSET, S_QUIT,
	S_DONE,
};

struct load_opts {
	const char	*host;
	const char	*port;
	unsigned	 sessions;
	unsigned	 messages;
	size_t		 size;
	const char	*from;
	const char	*to;
	const char	*ehlo;
	unsigned	 timeout;
	int		 json;
};

struct load;

struct session {
	uv_tcp_t	 tcp;		/* first: handle pointer == session */
	uv_connect_t	 connect;
	uv_timer_t	 timer;
	struct load	*load;
	unsigned	 index;
	enum sess_state	 state;
	int		 pipelining;
	int		 failed_txn;	/* MAIL or RCPT refused in this transaction */
	int		 pending;	/* replies still expected for a pipelined group */
	unsigned	 done_msgs;	/* transactions finished */
	int		 closed;
	int		 handles;	/* open handles (tcp, timer) */
	struct smtp_reply reply;
	uint64_t	 t_issue, t_written;
	uv_write_t	 wreq;
	int		 writing;
	struct buf	 hdr;		/* this message's headers + commands */
	size_t		 inlen;
	char		 in[LOAD_INBUF];
};

struct load {
	struct load_opts opts;
	uv_loop_t	*loop;
	struct sockaddr_storage addr;
	char		*body;		/* shared body text */
	size_t		 bodylen;
	struct session	*sessions;
	unsigned	 active;
	uint64_t	 sent;		/* end of data written */
	uint64_t	 bytes;		/* message bytes written (headers + body) */
	uint64_t	 accepted;
	uint64_t	 failed;	/* final reply not 2xx, or refused before DATA */
	uint64_t	 conn_errors;
	uint32_t	*lat_us;	/* per accepted-or-failed final reply */
	size_t		 nlat;
	uint64_t	 t_start, t_end;
	char		*reasons[LOAD_MAX_REASONS];
	unsigned	 nreasons;
	uint64_t	 msgid_seq;
};

static void	session_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *b);
static void	session_fail(struct session *s, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
static void	start_transaction(struct session *s);

static void
add_reason(struct load *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
add_reason(struct load *l, const char *fmt, ...)
{
	va_list ap;
	char *r;

	if (l->nreasons >= LOAD_MAX_REASONS)
		return;
	va_start(ap, fmt);
	if (vasprintf(&r, fmt, ap) < 0)
		r = NULL;
	va_end(ap);
	if (r != NULL)
		l->reasons[l->nreasons++] = r;
}

/* ---- message text ------------------------------------------------- */

/* Lines of printable text, CRLF-terminated, about n bytes in all. */
static void
build_body(struct load *l, size_t n)
{
	static const char text[] = LOAD_LINE_TEXT;
	struct buf b;
	size_t line = 0, want;

	buf_init(&b, 0);
	while (b.len + 2 < n) {
		want = n - b.len - 2;
		if (want > 76)
			want = 76;
		/* Vary the start so lines differ; never start with '.'. */
		for (size_t i = 0; i < want; i++)
			(void)buf_append(&b, &text[(line * 7 + i) % (sizeof text - 1)], 1);
		(void)buf_append(&b, "\r\n", 2);
		line++;
	}
	if (b.len == 0)
		(void)buf_puts(&b, "x\r\n");
	l->bodylen = b.len;
	l->body = buf_steal(&b);
}

static void
format_headers(struct load *l, unsigned index, unsigned msgno, struct buf *b)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	(void)buf_printf(b,
	    "From: Load Generator <%s>\r\n"
	    "To: <%s>\r\n"
	    "Subject: smtpload session %u message %u\r\n"
	    "Date: %s\r\n"
	    "Message-ID: <%ld.%u.%u.%" PRIu64 "@smtpload.test>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n",
	    l->opts.from, l->opts.to, index, msgno, date,
	    (long)getpid(), index, msgno, ++l->msgid_seq);
}

/* ---- I/O ---------------------------------------------------------- */

static void
handle_close_cb(uv_handle_t *h)
{
	struct session *s = h->data;

	if (--s->handles == 0)
		buf_free(&s->hdr);
}

static void
session_end(struct session *s)
{
	struct load *l = s->load;

	if (s->closed)
		return;
	s->closed = 1;
	s->state = S_DONE;
	uv_timer_stop(&s->timer);
	uv_close((uv_handle_t *)&s->timer, handle_close_cb);
	uv_close((uv_handle_t *)&s->tcp, handle_close_cb);
	if (--l->active == 0)
		l->t_end = uv_hrtime();
}

static void
session_fail(struct session *s, const char *fmt, ...)
{
	struct load *l = s->load;
	va_list ap;
	char msg[600];

	if (s->closed)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	l->conn_errors++;
	add_reason(l, "session %u: %s (after %u of %u messages)", s->index, msg,
	    s->done_msgs, l->opts.messages);
	session_end(s);
}

static void
timer_cb(uv_timer_t *t)
{
	struct session *s = t->data;

	session_fail(s, "no reply within %u s", s->load->opts.timeout);
}

static void
touch_timer(struct session *s)
{
	uv_timer_start(&s->timer, timer_cb, (uint64_t)s->load->opts.timeout * 1000, 0);
}

static void
write_cb(uv_write_t *req, int status)
{
	struct session *s = req->data;

	s->writing = 0;
	if (status < 0) {
		if (status != UV_ECANCELED)
			session_fail(s, "write: %s", uv_strerror(status));
		return;
	}
	if (s->state == S_BODY && s->t_written == 0) {
		s->t_written = uv_hrtime();
		s->load->sent++;
	}
}

/*
 * s->hdr belongs to the write in flight until write_cb: a server that
 * answers before it has our whole command or body has broken the
 * protocol, and the session ends rather than touch the buffer.
 */
static int
write_idle(struct session *s)
{
	if (s->writing) {
		session_fail(s, "server replied before our write completed (state %d)",
		    (int)s->state);
		return 0;
	}
	return 1;
}

/* Writes bufs (kept alive by the caller until write_cb). */
static void
session_write(struct session *s, uv_buf_t *bufs, unsigned n)
{
	int r;

	s->wreq.data = s;
	s->writing = 1;
	if ((r = uv_write(&s->wreq, (uv_stream_t *)&s->tcp, bufs, n, write_cb)) < 0) {
		s->writing = 0;
		session_fail(s, "write: %s", uv_strerror(r));
	}
	touch_timer(s);
}

static void
send_hdr(struct session *s)
{
	uv_buf_t b = uv_buf_init(s->hdr.data, (unsigned)s->hdr.len);

	session_write(s, &b, 1);
}

static void
send_command(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
send_command(struct session *s, const char *fmt, ...)
{
	va_list ap;

	if (!write_idle(s))
		return;
	buf_reset(&s->hdr);
	va_start(ap, fmt);
	(void)buf_vprintf(&s->hdr, fmt, ap);
	va_end(ap);
	send_hdr(s);
}

static void
send_body(struct session *s)
{
	static char dot[] = ".\r\n";
	struct load *l = s->load;
	uv_buf_t b[3];

	if (!write_idle(s))
		return;
	buf_reset(&s->hdr);
	format_headers(l, s->index, s->done_msgs + 1, &s->hdr);
	l->bytes += s->hdr.len + l->bodylen;
	b[0] = uv_buf_init(s->hdr.data, (unsigned)s->hdr.len);
	b[1] = uv_buf_init(l->body, (unsigned)l->bodylen);
	b[2] = uv_buf_init(dot, 3);
	s->state = S_BODY;
	s->t_written = 0;
	s->t_issue = uv_hrtime();
	session_write(s, b, 3);
}

static void
record_latency(struct session *s)
{
	struct load *l = s->load;
	uint64_t t0 = s->t_written ? s->t_written : s->t_issue;
	uint64_t us = (uv_hrtime() - t0) / 1000;

	if (l->nlat < (size_t)l->opts.sessions * l->opts.messages)
		l->lat_us[l->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static void
transaction_done(struct session *s)
{
	s->done_msgs++;
	start_transaction(s);
}

static void
start_transaction(struct session *s)
{
	struct load *l = s->load;

	s->failed_txn = 0;
	if (s->done_msgs >= l->opts.messages) {
		s->state = S_QUIT;
		send_command(s, "QUIT\r\n");
		return;
	}
	if (s->pipelining) {
		s->state = S_MAIL;
		s->pending = 3;
		send_command(s, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n",
		    l->opts.from, l->opts.to);
	} else {
		s->state = S_MAIL;
		s->pending = 1;
		send_command(s, "MAIL FROM:<%s>\r\n", l->opts.from);
	}
}

static void
txn_refused(struct session *s, const char *what, const struct smtp_reply *r)
{
	struct load *l = s->load;
	char line[300];

	if (!s->failed_txn) {
		s->failed_txn = 1;
		l->failed++;
		add_reason(l, "session %u message %u: %s: %s", s->index, s->done_msgs + 1,
		    what, smtp_reply_oneline(r, line, sizeof line));
	}
}

/* One complete reply, interpreted by the state it answers. */
static void
handle_reply(struct session *s, const struct smtp_reply *r)
{
	struct load *l = s->load;
	char line[300];

	switch (s->state) {
	case S_BANNER:
		if (r->code != 220) {
			session_fail(s, "banner: %s", smtp_reply_oneline(r, line, sizeof line));
			return;
		}
		s->state = S_EHLO;
		send_command(s, "EHLO %s\r\n", l->opts.ehlo);
		return;
	case S_EHLO:
		if (r->code != 250) {
			session_fail(s, "EHLO: %s", smtp_reply_oneline(r, line, sizeof line));
			return;
		}
		s->pipelining = smtp_reply_has_ext(r, "PIPELINING", NULL, NULL);
		start_transaction(s);
		return;
	case S_MAIL:
		s->pending--;
		if (r->code / 100 != 2)
			txn_refused(s, "MAIL FROM", r);
		s->state = S_RCPT;
		if (!s->pipelining) {
			if (s->failed_txn)
				goto reset;
			s->pending = 1;
			send_command(s, "RCPT TO:<%s>\r\n", l->opts.to);
		}
		return;
	case S_RCPT:
		s->pending--;
		if (r->code / 100 != 2)
			txn_refused(s, "RCPT TO", r);
		s->state = S_DATA;
		if (!s->pipelining) {
			if (s->failed_txn)
				goto reset;
			s->pending = 1;
			send_command(s, "DATA\r\n");
		}
		return;
	case S_DATA:
		s->pending--;
		if (r->code == 354) {
			/* Even after a refused MAIL or RCPT the server wants data. */
			send_body(s);
			return;
		}
		txn_refused(s, "DATA", r);
		goto reset;
	case S_BODY:
		record_latency(s);
		if (r->code / 100 == 2 && !s->failed_txn)
			l->accepted++;
		else
			txn_refused(s, "end of data", r);
		transaction_done(s);
		return;
	case S_RSET:
		if (r->code != 250) {
			session_fail(s, "RSET: %s", smtp_reply_oneline(r, line, sizeof line));
			return;
		}
		transaction_done(s);
		return;
	case S_QUIT:
		session_end(s);
		return;
	default:
		session_fail(s, "unexpected reply %s", smtp_reply_oneline(r, line, sizeof line));
		return;
	}
reset:
	s->state = S_RSET;
	send_command(s, "RSET\r\n");
}

static void
session_process(struct session *s)
{
	size_t off = 0, len;
	char *lf, *line;
	enum smtp_reply_status st;

	while (!s->closed && (lf = memchr(s->in + off, '\n', s->inlen - off)) != NULL) {
		line = s->in + off;
		len = (size_t)(lf - line);
		if (len > 0 && line[len - 1] == '\r')
			len--;
		st = smtp_reply_feed(&s->reply, line, len);
		off = (size_t)(lf - s->in) + 1;
		if (st == SMTP_REPLY_ERROR) {
			session_fail(s, "malformed reply line: '%.*s'",
			    (int)(len > 200 ? 200 : len), line);
			return;
		}
		if (st == SMTP_REPLY_DONE) {
			struct smtp_reply r = s->reply;

			smtp_reply_init(&s->reply);
			handle_reply(s, &r);
		}
	}
	if (s->closed)
		return;
	memmove(s->in, s->in + off, s->inlen - off);
	s->inlen -= off;
	if (s->inlen == sizeof s->in)
		session_fail(s, "reply line too long");
}

static void
session_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct session *s = h->data;

	b->base = s->in + s->inlen;
	b->len = sizeof s->in - s->inlen;
}

static void
session_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
	struct session *s = st->data;

	if (s->closed)
		return;
	if (nread < 0) {
		if (s->state == S_QUIT && nread == UV_EOF)
			session_end(s);		/* closed after QUIT: fine */
		else
			session_fail(s, "%s while waiting for the reply to %s",
			    nread == UV_EOF ? "connection closed" : uv_strerror((int)nread),
			    s->state == S_BANNER ? "connect (banner)" :
			    s->state == S_EHLO ? "EHLO" :
			    s->state == S_MAIL ? "MAIL" :
			    s->state == S_RCPT ? "RCPT" :
			    s->state == S_DATA ? "DATA" :
			    s->state == S_BODY ? "end of data" :
			    s->state == S_RSET ? "RSET" : "QUIT");
		return;
	}
	if (nread == 0)
		return;
	touch_timer(s);
	s->inlen += (size_t)nread;
	session_process(s);
}

static void
connect_cb(uv_connect_t *req, int status)
{
	struct session *s = req->data;
	int r;

	if (s->closed)
		return;
	if (status < 0) {
		session_fail(s, "connect: %s", uv_strerror(status));
		return;
	}
	(void)uv_tcp_nodelay(&s->tcp, 1);
	s->state = S_BANNER;
	if ((r = uv_read_start((uv_stream_t *)&s->tcp, session_alloc_cb, session_read_cb)) < 0)
		session_fail(s, "read: %s", uv_strerror(r));
}

/* ---- results ------------------------------------------------------ */

/* Sizes the shared body so headers + body come to about -s bytes. */
static void
size_headers(struct load *l)
{
	struct buf b;
	size_t hlen;

	buf_init(&b, 0);
	format_headers(l, l->opts.sessions, l->opts.messages, &b);
	hlen = b.len;
	buf_free(&b);
	l->msgid_seq = 0;
	build_body(l, l->opts.size > hlen ? l->opts.size - hlen : 1);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: smtpload -H HOST -p PORT -n SESSIONS -m MESSAGES -s SIZE\n"
	    "                [-f FROM] [-t TO] [-e EHLO-NAME] [-T TIMEOUT-S] [--json]\n");
}

static void
parse_args(struct load_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json",	no_argument,	NULL, 'j' },
		{ "help",	no_argument,	NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->host = "127.0.0.1";
	o->sessions = 1;
	o->messages = 1;
	o->size = 4096;
	o->from = "load@smtpload.test";
	o->to = "sink@example.com";
	o->ehlo = "smtpload.test";
	o->timeout = 60;
	while ((c = getopt_long(argc, argv, "H:p:n:m:s:f:t:e:T:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': o->host = optarg; break;
		case 'p': o->port = optarg; (void)parse_num("-p", optarg, 1, 65535); break;
		case 'n': o->sessions = (unsigned)parse_num("-n", optarg, 1, 100000); break;
		case 'm': o->messages = (unsigned)parse_num("-m", optarg, 0, 100000000); break;
		case 's': o->size = parse_num("-s", optarg, 1, 1UL << 30); break;
		case 'f': o->from = optarg; break;
		case 't': o->to = optarg; break;
		case 'e': o->ehlo = optarg; break;
		case 'T': o->timeout = (unsigned)parse_num("-T", optarg, 1, 86400); break;
		case 'j': o->json = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc || o->port == NULL) {
		usage(stderr);
		exit(2);
	}
	if ((uint64_t)o->sessions * o->messages > 200000000ULL)
		die("too many messages in all");
}

static void
resolve(struct load *l)
{
	struct addrinfo hints, *res;
	int r;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(l->opts.host, l->opts.port, &hints, &res)) != 0)
		die("%s port %s: %s", l->opts.host, l->opts.port, gai_strerror(r));
	memcpy(&l->addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
}

static void
report(struct load *l)
{
	double elapsed = (double)(l->t_end - l->t_start) / 1e9;
	double rate = elapsed > 0 ? (double)l->accepted / elapsed : 0;
	uint64_t planned = (uint64_t)l->opts.sessions * l->opts.messages;
	uint64_t failed = planned - l->accepted;
	double p50, p99;
	double avg_bytes = l->sent ? (double)l->bytes / (double)l->sent : 0;

	qsort(l->lat_us, l->nlat, sizeof *l->lat_us, cmp_u32);
	p50 = percentile_ms(l->lat_us, l->nlat, 0.50);
	p99 = percentile_ms(l->lat_us, l->nlat, 0.99);
	if (l->opts.json) {
		printf("{\"sessions\": %u, \"messages_per_session\": %u, \"size\": %zu, "
		    "\"message_bytes\": %.0f, \"planned\": %" PRIu64 ", \"sent\": %" PRIu64 ", "
		    "\"accepted\": %" PRIu64 ", \"failed\": %" PRIu64 ", "
		    "\"refused\": %" PRIu64 ", \"connection_errors\": %" PRIu64 ", "
		    "\"elapsed_s\": %.3f, \"accepted_per_s\": %.1f, "
		    "\"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
		    l->opts.sessions, l->opts.messages, l->opts.size,
		    avg_bytes, planned, l->sent, l->accepted, failed, l->failed,
		    l->conn_errors, elapsed, rate, p50, p99);
	} else {
		printf("sessions:          %u\n", l->opts.sessions);
		printf("messages sent:     %" PRIu64 " of %" PRIu64 " (%.0f bytes each)\n",
		    l->sent, planned, avg_bytes);
		printf("accepted:          %" PRIu64 "\n", l->accepted);
		printf("failed:            %" PRIu64 "\n", failed);
		printf("connection errors: %" PRIu64 "\n", l->conn_errors);
		printf("elapsed:           %.3f s\n", elapsed);
		printf("accepted msg/s:    %.1f\n", rate);
		printf("latency p50:       %.3f ms\n", p50);
		printf("latency p99:       %.3f ms\n", p99);
	}
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	static struct load load;
	struct load *l = &load;
	struct session *s;
	unsigned i;
	int r;

	parse_args(&l->opts, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	resolve(l);
	size_headers(l);
	l->loop = uv_default_loop();
	l->lat_us = xcalloc((size_t)l->opts.sessions * l->opts.messages + 1, sizeof *l->lat_us);
	l->sessions = xcalloc(l->opts.sessions, sizeof *l->sessions);
	l->t_start = uv_hrtime();
	l->active = l->opts.sessions;
	for (i = 0; i < l->opts.sessions; i++) {
		s = &l->sessions[i];
		s->load = l;
		s->index = i + 1;
		s->state = S_CONNECT;
		s->handles = 2;
		buf_init(&s->hdr, 0);
		smtp_reply_init(&s->reply);
		uv_tcp_init(l->loop, &s->tcp);
		uv_timer_init(l->loop, &s->timer);
		s->tcp.data = s->timer.data = s->connect.data = s;
		touch_timer(s);
		if ((r = uv_tcp_connect(&s->connect, &s->tcp, (struct sockaddr *)&l->addr,
		    connect_cb)) < 0)
			session_fail(s, "connect: %s", uv_strerror(r));
	}
	uv_run(l->loop, UV_RUN_DEFAULT);
	if (l->t_end == 0)
		l->t_end = uv_hrtime();

	report(l);
	for (i = 0; i < l->nreasons; i++) {
		fprintf(stderr, "smtpload: %s\n", l->reasons[i]);
		free(l->reasons[i]);
	}
	r = l->accepted != (uint64_t)l->opts.sessions * l->opts.messages || l->conn_errors > 0;
	if (r && l->nreasons == 0)
		fprintf(stderr, "smtpload: not every message was accepted\n");
	uv_loop_close(l->loop);
	free(l->sessions);
	free(l->lat_us);
	free(l->body);
	return r;
}
