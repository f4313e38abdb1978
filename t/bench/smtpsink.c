/*
 * smtpsink - a fast SMTP server that stands in for the downstream MTA in
 * integration tests and benchmarks ("the sink").
 *
 * SUMMARY
 *	smtpsink [-l ADDR] [-p PORT] [-P PORTFILE] [-d DIR] [-c COUNTFILE]
 *	    [--no-pipelining] [--tempfail-first N] [--drop-mid-data N]
 *	    [--banner-code CODE] [--max-size BYTES] [--hostname NAME]
 *
 * DESCRIPTION
 *	Listens on ADDR:PORT (default 127.0.0.1, port 0 = let the kernel
 *	choose), and once listening writes the port number to PORTFILE
 *	(temporary name, then rename, so a reader never sees half a number).
 *	EHLO advertises PIPELINING, 8BITMIME, SMTPUTF8, SIZE and
 *	ENHANCEDSTATUSCODES.  Replies to pipelined commands are sent as one
 *	write per batch of input, so pipelining clients are fast.
 *
 *	With -d DIR each accepted message becomes DIR/<seq>.eml (the message
 *	bytes exactly as received, after dot-unstuffing: the end marker is
 *	not included) and DIR/<seq>.env ("MAIL FROM:<x>\n", then one
 *	"RCPT TO:<y>\n" per accepted recipient).  Both are written under a
 *	temporary name and renamed; the .env is renamed last, so a reader
 *	that sees <seq>.env sees the whole message.  seq counts accepted
 *	messages from 1, or on from the highest <seq>.env already in DIR,
 *	so a sink restarted on the same directory overwrites nothing.  With -c FILE one line per accepted message
 *	"seq <n> from <x> rcpts <k> bytes <b>" is appended to FILE.
 *
 *	Failure behaviours, chosen by the local part of a recipient
 *	(case-insensitive prefix): "tempfail..." gets 451 4.2.0 at RCPT,
 *	"reject..." gets 550 5.1.1 at RCPT; an accepted "datatempfail..."
 *	recipient makes the reply to end-of-data 452 4.3.1, "datareject..."
 *	554 5.6.0 (datareject wins when both are present).  Options:
 *	--tempfail-first N answers the first N RCPT commands of the run with
 *	451; --drop-mid-data N closes the connection of each of the first N
 *	DATA transactions as soon as body bytes arrive, before the end
 *	marker; --stall-first N never answers the end of the first N DATA
 *	transactions (a downstream that hangs); --banner-code CODE greets with CODE (4xx: then closes; 5xx:
 *	answers 503 to everything but QUIT, RFC 5321 3.1).
 *
 *	DATA ends only at CRLF.CRLF.  The sink is lenient otherwise (bare LF
 *	and long lines are stored as they come): it records what the
 *	gateway sent, it does not judge it.
 *
 *	SIGTERM or SIGINT: closes everything, prints "received <n>
 *	messages" on standard output and exits 0.
 *
 *	Memory per session is bounded: a fixed input buffer (a command line
 *	longer than it gets 500 5.5.2), a fixed body buffer flushed to the
 *	file, and reading stops while too many replies wait to be written.
 *
 *	Not for: production use, TLS, AUTH, or checking SMTP conformance.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <uv.h>

#define BENCH_NAME "smtpsink"
#include "benchutil.h"
#include "buf.h"
#include "xalloc.h"

#define SINK_INBUF		16384	/* command lines longer than this: 500 */
#define SINK_BODYBUF		16384	/* body bytes buffered before write(2) */
#define SINK_MAX_RCPTS		1000
#define SINK_ADDR_MAX		1024
#define SINK_OUT_HIGH		(256 * 1024)	/* stop reading above this */
#define SINK_OUT_LOW		(64 * 1024)	/* resume below this */
#define SINK_DEFAULT_MAXSIZE	(100ULL * 1024 * 1024)

enum data_state { D_BOL, D_MID, D_CR, D_DOT, D_DOTCR };
enum data_verdict { V_ACCEPT, V_TEMPFAIL, V_REJECT };

struct sink_opts {
	const char	*addr;
	int		 port;
	const char	*portfile;
	const char	*dir;
	const char	*countfile;
	const char	*hostname;
	int		 pipelining;
	uint64_t	 tempfail_first;
	uint64_t	 drop_mid_data;
	uint64_t	 stall_first;	/* never answer the first N end-of-DATA */
	int		 banner_code;
	uint64_t	 max_size;
};

struct session;

struct sink {
	struct sink_opts opts;
	uv_loop_t	*loop;
	uv_tcp_t	 listener;
	uv_signal_t	 sigterm, sigint;
	int		 countfd;
	uint64_t	 seq;		/* last seq given */
	uint64_t	 accepted;	/* in this run */
	uint64_t	 rcpt_commands;
	uint64_t	 drops_done;
	uint64_t	 stalls_done;
	uint64_t	 next_session_id;
	uint64_t	 nsessions, peak_sessions;	/* concurrent, for limit tests */
	struct session	*sessions;
	int		 stopping;
};

struct session {
	uv_tcp_t	 tcp;		/* first: handle pointer == session */
	struct sink	*sink;
	struct session	*prev, *next;
	uint64_t	 id;
	int		 closing;
	int		 paused;	/* reading stopped for back-pressure */
	int		 greeted;	/* HELO/EHLO seen */
	int		 refuse_all;	/* 5xx banner: 503 to all but QUIT */
	int		 in_data;
	int		 discard_line;	/* skipping the rest of a too-long line */
	/* transaction */
	int		 has_mail;
	struct buf	 from;
	struct buf	 rcpts;		/* "RCPT TO:<y>\n" lines */
	size_t		 nrcpts;
	enum data_verdict verdict;
	/* DATA */
	enum data_state	 dstate;
	int		 drop;
	int		 oversize;
	uint64_t	 body_bytes;
	int		 bodyfd;
	char		*tmp_eml;
	size_t		 bodylen;
	char		 body[SINK_BODYBUF];
	/* I/O */
	size_t		 inlen;
	char		 in[SINK_INBUF];
	struct buf	 out;
};

struct sink_write {
	uv_write_t	 req;
	size_t		 len;
	char		 data[];
};

static struct sink sink_state;

static void	session_close(struct session *s);
static void	session_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *b);
static void	session_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b);

static void
reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
reply(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)buf_vprintf(&s->out, fmt, ap);
	va_end(ap);
	(void)buf_append(&s->out, "\r\n", 2);
}

/* ---- output ------------------------------------------------------- */

static void
write_cb(uv_write_t *req, int status)
{
	struct sink_write *w = (struct sink_write *)req;
	struct session *s = req->data;

	free(w);
	if (status < 0 || s->closing)
		return;
	if (s->paused && uv_stream_get_write_queue_size((uv_stream_t *)&s->tcp) < SINK_OUT_LOW) {
		s->paused = 0;
		if (uv_read_start((uv_stream_t *)&s->tcp, session_alloc_cb, session_read_cb) < 0)
			session_close(s);
	}
}

static void
flush_out(struct session *s)
{
	uv_buf_t b;
	struct sink_write *w;
	int n = 0;

	if (s->closing || s->out.len == 0)
		return;
	if (uv_stream_get_write_queue_size((uv_stream_t *)&s->tcp) == 0) {
		b = uv_buf_init(s->out.data, (unsigned)s->out.len);
		n = uv_try_write((uv_stream_t *)&s->tcp, &b, 1);
		if (n == UV_EAGAIN)
			n = 0;
		else if (n < 0) {
			session_close(s);
			return;
		}
	}
	if ((size_t)n < s->out.len) {
		w = xmalloc(sizeof *w + s->out.len - (size_t)n);
		w->len = s->out.len - (size_t)n;
		memcpy(w->data, s->out.data + n, w->len);
		w->req.data = s;
		b = uv_buf_init(w->data, (unsigned)w->len);
		if (uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, write_cb) < 0) {
			free(w);
			buf_reset(&s->out);
			session_close(s);
			return;
		}
	}
	buf_reset(&s->out);
	if (!s->paused &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&s->tcp) > SINK_OUT_HIGH) {
		s->paused = 1;
		uv_read_stop((uv_stream_t *)&s->tcp);
	}
}

static void
shutdown_cb(uv_shutdown_t *req, int status)
{
	struct session *s = req->data;

	free(req);
	session_close(s);
}

/* Sends what is pending, then closes once the kernel has it. */
static void
session_finish(struct session *s)
{
	uv_shutdown_t *req;

	flush_out(s);
	if (s->closing)
		return;
	uv_read_stop((uv_stream_t *)&s->tcp);
	req = xmalloc(sizeof *req);
	req->data = s;
	if (uv_shutdown(req, (uv_stream_t *)&s->tcp, shutdown_cb) < 0) {
		free(req);
		session_close(s);
		return;
	}
	s->closing = 1;		/* no more input or output; closed in shutdown_cb */
}

/* ---- storage ------------------------------------------------------ */

static void
transaction_reset(struct session *s)
{
	if (s->bodyfd >= 0) {
		close(s->bodyfd);
		s->bodyfd = -1;
	}
	if (s->tmp_eml != NULL) {
		(void)unlink(s->tmp_eml);
		free(s->tmp_eml);
		s->tmp_eml = NULL;
	}
	s->has_mail = 0;
	buf_reset(&s->from);
	buf_reset(&s->rcpts);
	s->nrcpts = 0;
	s->verdict = V_ACCEPT;
	s->in_data = 0;
	s->drop = 0;
	s->oversize = 0;
	s->body_bytes = 0;
	s->bodylen = 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
body_flush(struct session *s)
{
	int r = 0;

	if (s->bodyfd >= 0 && s->bodylen > 0)
		r = write_all(s->bodyfd, s->body, s->bodylen);
	s->bodylen = 0;
	if (r < 0) {
		fprintf(stderr, "smtpsink: write %s: %s\n", s->tmp_eml, strerror(errno));
		close(s->bodyfd);
		s->bodyfd = -1;
	}
	return r;
}

static void
body_emit(struct session *s, const char *p, size_t n)
{
	s->body_bytes += n;
	if (s->body_bytes > s->sink->opts.max_size)
		s->oversize = 1;
	if (s->bodyfd < 0 || s->oversize)
		return;
	if (s->bodylen + n > sizeof s->body) {
		if (body_flush(s) < 0)
			return;
		if (n >= sizeof s->body) {
			if (write_all(s->bodyfd, p, n) < 0) {
				fprintf(stderr, "smtpsink: write %s: %s\n", s->tmp_eml,
				    strerror(errno));
				close(s->bodyfd);
				s->bodyfd = -1;
			}
			return;
		}
	}
	memcpy(s->body + s->bodylen, p, n);
	s->bodylen += n;
}

/* Writes DIR/<seq>.env through a temporary name.  0 or -1. */
static int
store_envelope(struct session *s, uint64_t seq)
{
	const char *dir = s->sink->opts.dir;
	char tmp[PATH_MAX], dst[PATH_MAX];
	struct buf env;
	int fd, r;

	snprintf(tmp, sizeof tmp, "%s/.tmp-%ld-%" PRIu64 ".env", dir, (long)getpid(), s->id);
	snprintf(dst, sizeof dst, "%s/%" PRIu64 ".env", dir, seq);
	buf_init(&env, 0);
	(void)buf_printf(&env, "MAIL FROM:<%s>\n", s->from.data ? s->from.data : "");
	if (s->rcpts.len)
		(void)buf_append(&env, s->rcpts.data, s->rcpts.len);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "smtpsink: open %s: %s\n", tmp, strerror(errno));
		buf_free(&env);
		return -1;
	}
	r = write_all(fd, env.data, env.len);
	buf_free(&env);
	if (close(fd) < 0 || r < 0 || rename(tmp, dst) < 0) {
		fprintf(stderr, "smtpsink: writing %s: %s\n", dst, strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

/* Stores the accepted message under its seq.  0 or -1. */
static int
store_message(struct session *s, uint64_t seq)
{
	char dst[PATH_MAX];
	int r;

	if (s->bodyfd < 0)
		return -1;	/* open or write failed earlier */
	if (body_flush(s) < 0)
		return -1;
	r = close(s->bodyfd);
	s->bodyfd = -1;
	snprintf(dst, sizeof dst, "%s/%" PRIu64 ".eml", s->sink->opts.dir, seq);
	if (r < 0 || rename(s->tmp_eml, dst) < 0) {
		fprintf(stderr, "smtpsink: storing %s: %s\n", dst, strerror(errno));
		return -1;
	}
	free(s->tmp_eml);
	s->tmp_eml = NULL;
	return store_envelope(s, seq);
}

static void
count_message(struct session *s, uint64_t seq)
{
	char line[SINK_ADDR_MAX + 128];
	int n;

	if (s->sink->countfd < 0)
		return;
	n = snprintf(line, sizeof line, "seq %" PRIu64 " from %s rcpts %zu bytes %" PRIu64 "\n",
	    seq, s->from.data ? s->from.data : "", s->nrcpts, s->body_bytes);
	if (n > 0 && (size_t)n >= sizeof line)
		n = (int)sizeof line - 1;
	if (n > 0 && write_all(s->sink->countfd, line, (size_t)n) < 0)
		fprintf(stderr, "smtpsink: count file: %s\n", strerror(errno));
}

/* The end marker arrived: the one reply to the whole DATA transaction. */
static void
data_end(struct session *s)
{
	struct sink *k = s->sink;
	uint64_t seq;

	s->in_data = 0;
	if (k->stalls_done < k->opts.stall_first) {
		/* --stall-first: a downstream that hangs after "."; the client
		 * waits until it gives up.  Nothing is stored. */
		k->stalls_done++;
		transaction_reset(s);
		return;
	}
	if (s->oversize)
		reply(s, "552 5.3.4 message too big");
	else if (s->verdict == V_REJECT)
		reply(s, "554 5.6.0 rejected");
	else if (s->verdict == V_TEMPFAIL)
		reply(s, "452 4.3.1 later");
	else {
		seq = k->seq + 1;
		if (k->opts.dir != NULL && store_message(s, seq) < 0)
			reply(s, "451 4.3.0 sink could not store the message");
		else {
			k->seq = seq;
			k->accepted++;
			count_message(s, seq);
			reply(s, "250 2.0.0 Ok: queued as %" PRIu64, seq);
		}
	}
	transaction_reset(s);
}

/*
 * Consumes DATA input: removes dot-stuffing, stops at CRLF.CRLF.  Returns
 * the number of bytes of p used (less than n only at the end marker).
 */
static size_t
data_scan(struct session *s, const char *p, size_t n)
{
	const char *cr;
	size_t i = 0, end;
	char c;

	if (s->drop && n > 0) {
		/* --drop-mid-data: some body bytes have arrived; vanish. */
		session_close(s);
		return n;
	}
	while (i < n) {
		switch (s->dstate) {
		case D_MID:
			cr = memchr(p + i, '\r', n - i);
			end = cr != NULL ? (size_t)(cr - p) + 1 : n;
			body_emit(s, p + i, end - i);
			i = end;
			if (cr != NULL)
				s->dstate = D_CR;
			break;
		case D_CR:
			c = p[i++];
			body_emit(s, &c, 1);
			s->dstate = c == '\n' ? D_BOL : c == '\r' ? D_CR : D_MID;
			break;
		case D_BOL:
			if (p[i] == '.') {
				i++;
				s->dstate = D_DOT;
			} else
				s->dstate = D_MID;
			break;
		case D_DOT:
			/* A leading dot is dropped unless it is the end marker. */
			if (p[i] == '\r') {
				i++;
				s->dstate = D_DOTCR;
			} else
				s->dstate = D_MID;
			break;
		case D_DOTCR:
			if (p[i] == '\n') {
				data_end(s);
				return i + 1;
			}
			body_emit(s, "\r", 1);
			s->dstate = D_CR;
			break;
		}
	}
	return i;
}

/* ---- commands ----------------------------------------------------- */

static int
has_prefix_ci(const char *s, size_t n, const char *prefix)
{
	size_t pn = strlen(prefix);

	return n >= pn && strncasecmp(s, prefix, pn) == 0;
}

/*
 * Parses "<addr> params" after "FROM:" / "TO:".  Stores the address
 * (without brackets) in out and points *params at the rest.  0 or -1.
 */
static int
parse_path(const char *p, size_t n, struct buf *out, const char **params, size_t *paramlen)
{
	const char *end, *close_br;
	size_t i = 0;

	while (i < n && p[i] == ' ')
		i++;
	p += i;
	n -= i;
	if (n > 0 && p[0] == '<') {
		close_br = memchr(p, '>', n);
		if (close_br == NULL)
			return -1;
		if (buf_append(out, p + 1, (size_t)(close_br - p - 1)) < 0)
			return -1;
		end = close_br + 1;
	} else {
		/* Lenient: a bare address up to the first space. */
		end = memchr(p, ' ', n);
		if (end == NULL)
			end = p + n;
		if (end == p || buf_append(out, p, (size_t)(end - p)) < 0)
			return -1;
	}
	*params = end;
	*paramlen = n - (size_t)(end - p);
	if (memchr(out->data ? out->data : "", '\n', out->len) != NULL)
		return -1;
	return 0;
}

/* Value of "KEY=value" among space-separated params, or NULL. */
static const char *
find_param(const char *p, size_t n, const char *key, size_t *vlen)
{
	size_t kn = strlen(key), i = 0, j;

	while (i < n) {
		while (i < n && p[i] == ' ')
			i++;
		j = i;
		while (j < n && p[j] != ' ')
			j++;
		if (j - i > kn && strncasecmp(p + i, key, kn) == 0 && p[i + kn] == '=') {
			*vlen = j - i - kn - 1;
			return p + i + kn + 1;
		}
		i = j;
	}
	return NULL;
}

static void
cmd_ehlo(struct session *s, int extended, const char *arg, size_t arglen)
{
	const struct sink_opts *o = &s->sink->opts;

	while (arglen > 0 && *arg == ' ') {
		arg++;
		arglen--;
	}
	if (arglen == 0) {
		reply(s, "501 5.5.4 %s requires a domain", extended ? "EHLO" : "HELO");
		return;
	}
	transaction_reset(s);
	s->greeted = 1;
	if (!extended) {
		reply(s, "250 %s", o->hostname);
		return;
	}
	(void)buf_printf(&s->out, "250-%s greets %.*s\r\n", o->hostname,
	    (int)(arglen > 255 ? 255 : arglen), arg);
	if (o->pipelining)
		(void)buf_puts(&s->out, "250-PIPELINING\r\n");
	(void)buf_printf(&s->out, "250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE %" PRIu64 "\r\n"
	    "250 ENHANCEDSTATUSCODES\r\n", o->max_size);
}

static void
cmd_mail(struct session *s, const char *arg, size_t arglen)
{
	const char *params, *v;
	size_t plen, vlen;
	char num[32];

	if (!s->greeted) {
		reply(s, "503 5.5.1 send HELO or EHLO first");
		return;
	}
	if (s->has_mail) {
		reply(s, "503 5.5.1 nested MAIL command");
		return;
	}
	if (!has_prefix_ci(arg, arglen, "FROM:")) {
		reply(s, "501 5.5.4 syntax: MAIL FROM:<address>");
		return;
	}
	buf_reset(&s->from);
	if (parse_path(arg + 5, arglen - 5, &s->from, &params, &plen) < 0) {
		buf_reset(&s->from);
		reply(s, "501 5.1.7 bad sender address syntax");
		return;
	}
	if ((v = find_param(params, plen, "SIZE", &vlen)) != NULL && vlen < sizeof num) {
		memcpy(num, v, vlen);
		num[vlen] = '\0';
		if (strtoull(num, NULL, 10) > s->sink->opts.max_size) {
			buf_reset(&s->from);
			reply(s, "552 5.3.4 message size exceeds fixed limit");
			return;
		}
	}
	s->has_mail = 1;
	reply(s, "250 2.1.0 sender ok");
}

static void
cmd_rcpt(struct session *s, const char *arg, size_t arglen)
{
	struct sink *k = s->sink;
	struct buf addr;
	const char *params, *at;
	size_t plen, local;

	if (!s->has_mail) {
		reply(s, "503 5.5.1 need MAIL before RCPT");
		return;
	}
	if (!has_prefix_ci(arg, arglen, "TO:")) {
		reply(s, "501 5.5.4 syntax: RCPT TO:<address>");
		return;
	}
	buf_init(&addr, SINK_ADDR_MAX);
	if (parse_path(arg + 3, arglen - 3, &addr, &params, &plen) < 0 || addr.len == 0) {
		buf_free(&addr);
		reply(s, "501 5.1.3 bad recipient address syntax");
		return;
	}
	k->rcpt_commands++;
	at = strrchr(addr.data, '@');
	local = at != NULL ? (size_t)(at - addr.data) : addr.len;
	if (k->rcpt_commands <= k->opts.tempfail_first ||
	    has_prefix_ci(addr.data, local, "tempfail"))
		reply(s, "451 4.2.0 try later");
	else if (has_prefix_ci(addr.data, local, "reject"))
		reply(s, "550 5.1.1 no such user");
	else if (s->nrcpts >= SINK_MAX_RCPTS)
		reply(s, "452 4.5.3 too many recipients");
	else {
		(void)buf_printf(&s->rcpts, "RCPT TO:<%s>\n", addr.data);
		s->nrcpts++;
		if (has_prefix_ci(addr.data, local, "datareject"))
			s->verdict = V_REJECT;
		else if (has_prefix_ci(addr.data, local, "datatempfail") &&
		    s->verdict != V_REJECT)
			s->verdict = V_TEMPFAIL;
		reply(s, "250 2.1.5 recipient ok");
	}
	buf_free(&addr);
}

static void
cmd_data(struct session *s)
{
	struct sink *k = s->sink;

	if (!s->has_mail) {
		reply(s, "503 5.5.1 need MAIL before DATA");
		return;
	}
	if (s->nrcpts == 0) {
		reply(s, "554 5.5.1 no valid recipients");
		return;
	}
	if (k->opts.dir != NULL) {
		s->tmp_eml = xasprintf("%s/.tmp-%ld-%" PRIu64 ".eml", k->opts.dir,
		    (long)getpid(), s->id);
		s->bodyfd = open(s->tmp_eml, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (s->bodyfd < 0) {
			fprintf(stderr, "smtpsink: open %s: %s\n", s->tmp_eml, strerror(errno));
			free(s->tmp_eml);
			s->tmp_eml = NULL;
			reply(s, "451 4.3.0 sink cannot store messages");
			return;
		}
	}
	if (k->drops_done < k->opts.drop_mid_data) {
		k->drops_done++;
		s->drop = 1;
	}
	s->in_data = 1;
	s->dstate = D_BOL;
	s->body_bytes = 0;
	s->bodylen = 0;
	reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
session_command(struct session *s, const char *line, size_t len)
{
	const char *arg;
	size_t vlen, arglen;

	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		;
	arg = line + vlen;
	arglen = len - vlen;
	if (arglen > 0) {
		arg++;
		arglen--;
	}

	if (vlen == 4 && strncasecmp(line, "QUIT", 4) == 0) {
		reply(s, "221 2.0.0 bye");
		session_finish(s);
		return;
	}
	if (s->refuse_all) {
		reply(s, "503 5.5.1 no service here, only QUIT");
		return;
	}
	if (vlen == 4 && strncasecmp(line, "EHLO", 4) == 0)
		cmd_ehlo(s, 1, arg, arglen);
	else if (vlen == 4 && strncasecmp(line, "HELO", 4) == 0)
		cmd_ehlo(s, 0, arg, arglen);
	else if (vlen == 4 && strncasecmp(line, "MAIL", 4) == 0)
		cmd_mail(s, arg, arglen);
	else if (vlen == 4 && strncasecmp(line, "RCPT", 4) == 0)
		cmd_rcpt(s, arg, arglen);
	else if (vlen == 4 && strncasecmp(line, "DATA", 4) == 0) {
		if (arglen > 0)
			reply(s, "501 5.5.4 DATA takes no argument");
		else
			cmd_data(s);
	} else if (vlen == 4 && strncasecmp(line, "RSET", 4) == 0) {
		transaction_reset(s);
		reply(s, "250 2.0.0 ok");
	} else if (vlen == 4 && strncasecmp(line, "NOOP", 4) == 0)
		reply(s, "250 2.0.0 ok");
	else if (vlen == 4 && strncasecmp(line, "VRFY", 4) == 0)
		reply(s, "252 2.5.0 cannot verify, but will accept");
	else if (vlen == 4 && strncasecmp(line, "HELP", 4) == 0)
		reply(s, "214 2.0.0 smtpsink: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT");
	else
		reply(s, "500 5.5.2 command not recognized");
}

/* Handles everything complete in s->in; keeps a partial line. */
static void
session_process(struct session *s)
{
	size_t off = 0, len;
	char *lf;

	while (off < s->inlen && !s->closing) {
		if (s->in_data) {
			off += data_scan(s, s->in + off, s->inlen - off);
			continue;
		}
		lf = memchr(s->in + off, '\n', s->inlen - off);
		if (lf == NULL) {
			if (s->discard_line)
				off = s->inlen;
			break;
		}
		len = (size_t)(lf - (s->in + off));
		if (s->discard_line)
			s->discard_line = 0;
		else {
			if (len > 0 && s->in[off + len - 1] == '\r')
				len--;
			session_command(s, s->in + off, len);
		}
		off = (size_t)(lf - s->in) + 1;
	}
	if (s->closing)
		return;
	if (off > 0) {
		memmove(s->in, s->in + off, s->inlen - off);
		s->inlen -= off;
	}
	if (s->inlen == sizeof s->in) {
		reply(s, "500 5.5.2 line too long");
		s->discard_line = 1;
		s->inlen = 0;
	}
	if (s->in_data)
		(void)body_flush(s);
	flush_out(s);
}

/* ---- connections -------------------------------------------------- */

static void
session_alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct session *s = (struct session *)h;

	b->base = s->in + s->inlen;
	b->len = sizeof s->in - s->inlen;
}

static void
session_read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
	struct session *s = (struct session *)st;

	if (nread < 0) {
		session_close(s);
		return;
	}
	if (nread == 0 || s->closing)
		return;
	s->inlen += (size_t)nread;
	session_process(s);
}

static void
session_free_cb(uv_handle_t *h)
{
	struct session *s = (struct session *)h;

	s->sink->nsessions--;
	buf_free(&s->from);
	buf_free(&s->rcpts);
	buf_free(&s->out);
	free(s);
}

static void
session_close(struct session *s)
{
	struct sink *k = s->sink;

	if (uv_is_closing((uv_handle_t *)&s->tcp))
		return;
	s->closing = 1;
	transaction_reset(s);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		k->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	uv_close((uv_handle_t *)&s->tcp, session_free_cb);
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct sink *k = server->data;
	struct session *s;
	int code = k->opts.banner_code;

	if (status < 0) {
		fprintf(stderr, "smtpsink: accept: %s\n", uv_strerror(status));
		return;
	}
	s = xcalloc(1, sizeof *s);
	s->sink = k;
	s->id = ++k->next_session_id;
	if (++k->nsessions > k->peak_sessions)
		k->peak_sessions = k->nsessions;
	s->bodyfd = -1;
	buf_init(&s->from, SINK_ADDR_MAX);
	buf_init(&s->rcpts, 0);
	buf_init(&s->out, 0);
	uv_tcp_init(k->loop, &s->tcp);
	if (uv_accept(server, (uv_stream_t *)&s->tcp) < 0) {
		uv_close((uv_handle_t *)&s->tcp, session_free_cb);
		return;
	}
	(void)uv_tcp_nodelay(&s->tcp, 1);
	s->next = k->sessions;
	if (s->next != NULL)
		s->next->prev = s;
	k->sessions = s;

	if (code >= 400 && code < 500) {
		reply(s, "%d 4.3.2 %s service not available, closing channel", code,
		    k->opts.hostname);
		session_finish(s);
		return;
	}
	if (code >= 500) {
		reply(s, "%d 5.3.2 %s no SMTP service here", code, k->opts.hostname);
		s->refuse_all = 1;
	} else
		reply(s, "%d %s ESMTP smtpsink", code, k->opts.hostname);
	flush_out(s);
	if (!s->closing && uv_read_start((uv_stream_t *)&s->tcp, session_alloc_cb,
	    session_read_cb) < 0)
		session_close(s);
}

/* ---- process ------------------------------------------------------ */

static void
write_port_file(const char *path, int port)
{
	char tmp[PATH_MAX];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
	f = fopen(tmp, "w");
	if (f == NULL)
		die("%s: %s", tmp, strerror(errno));
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		die("%s: %s", path, strerror(errno));
}

/* The highest <n>.env in dir, so that a restarted sink goes on after it. */
static uint64_t
highest_seq(const char *dir)
{
	DIR *d;
	struct dirent *e;
	uint64_t n, max = 0;
	char *end;

	if ((d = opendir(dir)) == NULL)
		die("%s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		n = strtoull(e->d_name, &end, 10);
		if (strcmp(end, ".env") == 0 && n > max)
			max = n;
	}
	closedir(d);
	return max;
}

static void
on_signal(uv_signal_t *sig, int signum)
{
	struct sink *k = sig->data;

	if (k->stopping)
		return;
	k->stopping = 1;
	uv_close((uv_handle_t *)&k->listener, NULL);
	while (k->sessions != NULL)
		session_close(k->sessions);
	uv_close((uv_handle_t *)&k->sigterm, NULL);
	uv_close((uv_handle_t *)&k->sigint, NULL);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: smtpsink [-l ADDR] [-p PORT] [-P PORTFILE] [-d DIR] [-c COUNTFILE]\n"
	    "                [--no-pipelining] [--tempfail-first N] [--drop-mid-data N]\n"
	    "                [--stall-first N] [--banner-code CODE] [--max-size BYTES]\n"
	    "                [--hostname NAME]\n"
	    "Recipient local parts tempfail*, reject*, datatempfail*, datareject* fail\n"
	    "on purpose.  SIGTERM prints \"received <n> messages\" and exits 0.\n");
}

static uint64_t
parse_count(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-')
		die("%s: not a number: %s", opt, s);
	return v;
}

static void
parse_args(struct sink_opts *o, int argc, char **argv)
{
	enum { O_NOPIPE = 256, O_TEMPFAIL, O_DROP, O_BANNER, O_MAXSIZE, O_HOSTNAME, O_STALL };
	static const struct option longopts[] = {
		{ "no-pipelining",	no_argument,		NULL, O_NOPIPE },
		{ "tempfail-first",	required_argument,	NULL, O_TEMPFAIL },
		{ "drop-mid-data",	required_argument,	NULL, O_DROP },
		{ "stall-first",	required_argument,	NULL, O_STALL },
		{ "banner-code",	required_argument,	NULL, O_BANNER },
		{ "max-size",		required_argument,	NULL, O_MAXSIZE },
		{ "hostname",		required_argument,	NULL, O_HOSTNAME },
		{ "help",		no_argument,		NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->addr = "127.0.0.1";
	o->hostname = "smtpsink.test";
	o->pipelining = 1;
	o->banner_code = 220;
	o->max_size = SINK_DEFAULT_MAXSIZE;
	while ((c = getopt_long(argc, argv, "l:p:P:d:c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o->addr = optarg; break;
		case 'p':
			if (parse_count("-p", optarg) > 65535)
				die("-p: port out of range: %s", optarg);
			o->port = (int)parse_count("-p", optarg);
			break;
		case 'P': o->portfile = optarg; break;
		case 'd': o->dir = optarg; break;
		case 'c': o->countfile = optarg; break;
		case O_NOPIPE: o->pipelining = 0; break;
		case O_TEMPFAIL: o->tempfail_first = parse_count("--tempfail-first", optarg); break;
		case O_DROP: o->drop_mid_data = parse_count("--drop-mid-data", optarg); break;
		case O_STALL: o->stall_first = parse_count("--stall-first", optarg); break;
		case O_BANNER:
			o->banner_code = (int)parse_count("--banner-code", optarg);
			if (o->banner_code < 200 || o->banner_code > 599)
				die("--banner-code: not an SMTP reply code: %s", optarg);
			break;
		case O_MAXSIZE: o->max_size = parse_count("--max-size", optarg); break;
		case O_HOSTNAME: o->hostname = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	struct sink *k = &sink_state;
	struct sockaddr_storage ss;
	int len, r, port;

	parse_args(&k->opts, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	k->loop = uv_default_loop();
	k->countfd = -1;
	if (k->opts.countfile != NULL) {
		k->countfd = open(k->opts.countfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (k->countfd < 0)
			die("%s: %s", k->opts.countfile, strerror(errno));
	}
	if (k->opts.dir != NULL) {
		if (access(k->opts.dir, W_OK) < 0)
			die("%s: %s", k->opts.dir, strerror(errno));
		k->seq = highest_seq(k->opts.dir);
	}

	if (strchr(k->opts.addr, ':') != NULL)
		r = uv_ip6_addr(k->opts.addr, k->opts.port, (struct sockaddr_in6 *)&ss);
	else
		r = uv_ip4_addr(k->opts.addr, k->opts.port, (struct sockaddr_in *)&ss);
	if (r < 0)
		die("-l %s: %s", k->opts.addr, uv_strerror(r));
	uv_tcp_init(k->loop, &k->listener);
	k->listener.data = k;
	if ((r = uv_tcp_bind(&k->listener, (struct sockaddr *)&ss, 0)) < 0 ||
	    (r = uv_listen((uv_stream_t *)&k->listener, 4096, on_connection)) < 0)
		die("listen on %s port %d: %s", k->opts.addr, k->opts.port, uv_strerror(r));
	len = sizeof ss;
	if ((r = uv_tcp_getsockname(&k->listener, (struct sockaddr *)&ss, &len)) < 0)
		die("getsockname: %s", uv_strerror(r));
	port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);

	uv_signal_init(k->loop, &k->sigterm);
	uv_signal_init(k->loop, &k->sigint);
	k->sigterm.data = k->sigint.data = k;
	uv_signal_start(&k->sigterm, on_signal, SIGTERM);
	uv_signal_start(&k->sigint, on_signal, SIGINT);

	if (k->opts.portfile != NULL)
		write_port_file(k->opts.portfile, port);
	fprintf(stderr, "smtpsink: listening on %s port %d\n", k->opts.addr, port);

	uv_run(k->loop, UV_RUN_DEFAULT);
	uv_loop_close(k->loop);
	if (k->countfd >= 0)
		close(k->countfd);
	printf("received %" PRIu64 " messages\n", k->accepted);
	printf("peak %" PRIu64 " concurrent sessions\n", k->peak_sessions);
	fflush(stdout);
	return 0;
}
