/*
 * deliver_flow - the deliver process end to end, in one process on
 * loopback: a fake qmgr on a socketpair (jobs, DCID blocks, body chunks,
 * results) and fake SMTP servers on 127.0.0.1, scripted DNS.  Covers
 * delivery, pipelining, connection reuse, large bodies pulled in chunks,
 * per-recipient results, host fallback, DNS failures, timeouts, flush,
 * qmgr going away and coming back, drain, control, and the mail-log lines.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "config.h"
#include "ctl.h"
#include "deliver.h"
#include "ipc.h"
#include "log.h"
#include "proto.h"
#include "tap.h"
#include "xalloc.h"

static uv_loop_t loop;

/* ------------------------------------------------------------------ */
/* fake SMTP servers                                                   */
/* ------------------------------------------------------------------ */

struct fsrv {
	uv_tcp_t	 listener;
	int		 port;
	const char	*banner;
	const char	*ehlo;
	const char	*reject_rcpt;	/* RCPT containing this gets 550 */
	const char	*drop_rcpt;	/* RCPT containing this gets 421, hang-up */
	int		 nrcpt;		/* RCPT commands seen */
	int		 stall_data;	/* never answer DATA */
	int		 hold_dot;	/* answer "." only when told */
	int		 close_after_msg; /* hang up after each message */
	int		 rset_421;	/* RSET gets 421 and a hang-up */
	struct fconn	*held;		/* whose "." waits for an answer */
	int		 nconn, nquit, nrset, nmsg, nclosed, ndata;
	struct buf	 body;		/* last message, unstuffed */
	char		 mail_from[512];
};

struct fconn {
	uv_tcp_t	 tcp;
	struct fsrv	*srv;
	struct buf	 line;
	struct buf	 body;
	int		 in_data;
	int		 quit;
	int		 closing;
};

struct fwrite {
	uv_write_t	 req;
	uv_buf_t	 ub;
	struct fconn	*fc;
};

static void
fc_closed(uv_handle_t *h)
{
	struct fconn *fc = h->data;

	buf_free(&fc->line);
	buf_free(&fc->body);
	free(fc);
}

static void
fc_close(struct fconn *fc)
{
	if (fc->closing)
		return;
	if (fc->srv->held == fc)
		fc->srv->held = NULL;
	fc->closing = 1;
	fc->srv->nclosed++;
	uv_close((uv_handle_t *)&fc->tcp, fc_closed);
}

static void
fc_written(uv_write_t *req, int status)
{
	struct fwrite *w = (struct fwrite *)req;
	struct fconn *fc = w->fc;

	(void)status;
	free(w->ub.base);
	free(w);
	if (fc->quit)
		fc_close(fc);
}

static void
fc_send(struct fconn *fc, const char *text)
{
	struct fwrite *w;
	size_t n = strlen(text);
	uv_buf_t ub;
	char *data;

	if (fc->closing)
		return;
	data = xmalloc(n + 2);
	memcpy(data, text, n);
	memcpy(data + n, "\r\n", 2);
	ub = uv_buf_init(data, (unsigned)(n + 2));
	w = xcalloc(1, sizeof *w);
	w->fc = fc;
	w->ub = ub;
	/* libuv copies the buffer descriptors; the bytes stay ours. */
	uv_write(&w->req, (uv_stream_t *)&fc->tcp, &ub, 1, fc_written);
}

static void
fc_line(struct fconn *fc, const char *l, size_t n)
{
	struct fsrv *s = fc->srv;

	if (fc->in_data) {
		if (n == 1 && l[0] == '.') {
			fc->in_data = 0;
			s->nmsg++;
			buf_reset(&s->body);
			buf_append(&s->body, fc->body.data ? fc->body.data : "", fc->body.len);
			buf_reset(&fc->body);
			if (s->hold_dot) {
				s->held = fc;
				return;
			}
			if (s->close_after_msg)
				fc->quit = 1;
			fc_send(fc, "250 2.0.0 ok");
			return;
		}
		if (n > 0 && l[0] == '.') {
			l++;
			n--;
		}
		buf_append(&fc->body, l, n);
		buf_append(&fc->body, "\r\n", 2);
		return;
	}
	if (n >= 4 && strncasecmp(l, "EHLO", 4) == 0)
		fc_send(fc, s->ehlo);
	else if (n >= 4 && strncasecmp(l, "HELO", 4) == 0)
		fc_send(fc, "250 hello");
	else if (n >= 10 && strncasecmp(l, "MAIL FROM:", 10) == 0) {
		snprintf(s->mail_from, sizeof s->mail_from, "%.*s", (int)n, l);
		fc_send(fc, "250 2.1.0 ok");
	} else if (n >= 8 && strncasecmp(l, "RCPT TO:", 8) == 0) {
		s->nrcpt++;
		if (s->drop_rcpt && memmem(l, n, s->drop_rcpt, strlen(s->drop_rcpt))) {
			fc->quit = 1;
			fc_send(fc, "421 4.3.2 shutting down now");
		} else if (s->reject_rcpt && memmem(l, n, s->reject_rcpt, strlen(s->reject_rcpt)))
			fc_send(fc, "550 5.1.1 no such user");
		else
			fc_send(fc, "250 2.1.5 ok");
	} else if (n == 4 && strncasecmp(l, "DATA", 4) == 0) {
		s->ndata++;
		if (s->stall_data)
			return;
		fc->in_data = 1;
		buf_reset(&fc->body);
		fc_send(fc, "354 go ahead");
	} else if (n == 4 && strncasecmp(l, "RSET", 4) == 0) {
		s->nrset++;
		if (s->rset_421) {
			fc->quit = 1;
			fc_send(fc, "421 4.4.2 idle too long, closing");
		} else
			fc_send(fc, "250 2.0.0 reset");
	} else if (n == 4 && strncasecmp(l, "QUIT", 4) == 0) {
		s->nquit++;
		fc->quit = 1;
		fc_send(fc, "221 2.0.0 bye");
	} else
		fc_send(fc, "500 5.5.1 what?");
}

static void
fc_alloc(uv_handle_t *h, size_t hint, uv_buf_t *ub)
{
	static char b[65536];

	(void)h;
	(void)hint;
	*ub = uv_buf_init(b, sizeof b);
}

static void
fc_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *ub)
{
	struct fconn *fc = st->data;
	const char *p = ub->base, *end, *nl;

	if (nread < 0) {
		fc_close(fc);
		return;
	}
	end = p + nread;
	while (p < end && !fc->closing) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			buf_append(&fc->line, p, (size_t)(end - p));
			break;
		}
		buf_append(&fc->line, p, (size_t)(nl - p));
		if (fc->line.len > 0 && fc->line.data[fc->line.len - 1] == '\r')
			fc->line.len--;
		fc_line(fc, fc->line.data ? fc->line.data : "", fc->line.len);
		buf_reset(&fc->line);
		p = nl + 1;
	}
}

static void
fsrv_accept(uv_stream_t *l, int status)
{
	struct fsrv *s = l->data;
	struct fconn *fc;

	if (status < 0)
		return;
	fc = xcalloc(1, sizeof *fc);
	fc->srv = s;
	buf_init(&fc->line, 0);
	buf_init(&fc->body, 0);
	uv_tcp_init(&loop, &fc->tcp);
	fc->tcp.data = fc;
	if (uv_accept(l, (uv_stream_t *)&fc->tcp) != 0) {
		fc->closing = 1;
		uv_close((uv_handle_t *)&fc->tcp, fc_closed);
		return;
	}
	s->nconn++;
	fc_send(fc, s->banner);
	uv_read_start((uv_stream_t *)&fc->tcp, fc_alloc, fc_read);
}

static void
fsrv_start(struct fsrv *s, const char *banner, const char *ehlo)
{
	struct sockaddr_in sin;
	struct sockaddr_storage ss;
	int len = sizeof ss;

	memset(s, 0, sizeof *s);
	s->banner = banner;
	s->ehlo = ehlo;
	buf_init(&s->body, 0);
	uv_tcp_init(&loop, &s->listener);
	s->listener.data = s;
	uv_ip4_addr("127.0.0.1", 0, &sin);
	uv_tcp_bind(&s->listener, (struct sockaddr *)&sin, 0);
	uv_listen((uv_stream_t *)&s->listener, 16, fsrv_accept);
	uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
	s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void
fsrv_stop(struct fsrv *s)
{
	uv_close((uv_handle_t *)&s->listener, NULL);
	buf_free(&s->body);
}

/* A port nobody listens on. */
static int
dead_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof sin);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* A port whose accept queue is full: connecting to it hangs.  The
 * descriptors stay open until the test ends. */
static int
full_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int l = socket(AF_INET, SOCK_STREAM, 0), i;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(l, (struct sockaddr *)&sin, sizeof sin);
	listen(l, 0);
	getsockname(l, (struct sockaddr *)&sin, &len);
	for (i = 0; i < 3; i++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

		connect(c, (struct sockaddr *)&sin, sizeof sin);
	}
	usleep(100000);
	return ntohs(sin.sin_port);
}

/* ------------------------------------------------------------------ */
/* fake qmgr                                                           */
/* ------------------------------------------------------------------ */

#define MAXJOBS 64

struct fresult {
	int		 got;
	uint32_t	 dcid;
	char		 host[256];
	uint32_t	 n;
	uint32_t	 rid[8], status[8], reason[8];
	char		 text[8][512];
};

static struct {
	struct ipc_conn	*conn;
	uint32_t	 next_id;
	int		 withhold_ids;
	int		 nids_req;
	const char	*body[MAXJOBS];
	size_t		 bodylen[MAXJOBS];
	int		 nbody_req, pending_req, max_pending;
	uint64_t	 last_off;
	int		 offsets_ok;
	struct fresult	 res[MAXJOBS];
	int		 nresults;
	int		 closed;
} fq;

static void
fq_frame(struct ipc_conn *c, const struct ipc_hdr *hdr, const unsigned char *p, void *arg)
{
	struct ipc_rd rd;
	struct buf b;
	size_t start;

	(void)arg;
	ipc_rd_init(&rd, p, hdr->len);
	buf_init(&b, 0);
	switch (hdr->type) {
	case QMSG_IDS_REQ: {
		uint32_t kind = ipc_get_u32(&rd), count = ipc_get_u32(&rd);

		fq.nids_req++;
		if (fq.withhold_ids)
			break;
		start = ipc_msg_begin(&b, QMSG_IDS, hdr->reqid);
		ipc_put_u32(&b, kind);
		ipc_put_u32(&b, fq.next_id);
		ipc_put_u32(&b, count);
		ipc_msg_end(&b, start);
		fq.next_id += count;
		ipc_conn_send(c, &b);
		break;
	}
	case DMSG_BODY_REQ: {
		uint64_t off = ipc_get_u64(&rd);
		uint32_t max = ipc_get_u32(&rd), id = hdr->reqid;
		size_t n = 0;

		fq.nbody_req++;
		if (++fq.pending_req > fq.max_pending)
			fq.max_pending = fq.pending_req;
		if (off < fq.last_off)
			fq.offsets_ok = 0;
		fq.last_off = off;
		if (id < MAXJOBS && off < fq.bodylen[id])
			n = fq.bodylen[id] - off < max ? fq.bodylen[id] - off : max;
		start = ipc_msg_begin(&b, DMSG_BODY, id);
		ipc_put_u64(&b, off);
		ipc_put_bytes(&b, id < MAXJOBS && fq.body[id] ? fq.body[id] + off : "", n);
		ipc_msg_end(&b, start);
		ipc_conn_send(c, &b);
		fq.pending_req--;
		break;
	}
	case DMSG_RESULT: {
		struct fresult *r = hdr->reqid < MAXJOBS ? &fq.res[hdr->reqid] : NULL;
		uint32_t i;

		if (r == NULL)
			break;
		r->got++;
		fq.nresults++;
		r->dcid = ipc_get_u32(&rd);
		ipc_get_strbuf(&rd, r->host, sizeof r->host);
		r->n = ipc_get_u32(&rd);
		for (i = 0; i < r->n && i < 8; i++) {
			r->rid[i] = ipc_get_u32(&rd);
			r->status[i] = ipc_get_u32(&rd);
			r->reason[i] = ipc_get_u32(&rd);
			ipc_get_strbuf(&rd, r->text[i], sizeof r->text[i]);
		}
		if (!ipc_rd_done(&rd))
			r->got = 99;	/* malformed */
		break;
	}
	}
	buf_free(&b);
}

static void
fq_closed(struct ipc_conn *c, void *arg)
{
	(void)c;
	(void)arg;
	fq.closed = 1;
	fq.conn = NULL;
}

static void
fq_connect(struct deliver *dl)
{
	int sv[2];

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	fq.closed = 0;
	fq.conn = ipc_conn_open(&loop, sv[1], fq_frame, fq_closed, NULL);
	deliver_qmgr_attach(dl, sv[0]);
}

static void
send_job(uint32_t id, uint32_t mid, const char *domain, uint32_t flags, const char *body,
    size_t first, int nrcpt, const char *const *rcpts)
{
	struct buf b;
	size_t start, len = strlen(body);
	int i;

	fq.body[id] = body;
	fq.bodylen[id] = len;
	memset(&fq.res[id], 0, sizeof fq.res[id]);
	buf_init(&b, 0);
	start = ipc_msg_begin(&b, DMSG_JOB, id);
	ipc_put_u32(&b, mid);
	ipc_put_str(&b, domain);
	ipc_put_str(&b, "sender@origin.test");
	ipc_put_u32(&b, flags);
	ipc_put_u64(&b, len);
	ipc_put_u32(&b, (uint32_t)nrcpt);
	for (i = 0; i < nrcpt; i++) {
		ipc_put_u32(&b, (uint32_t)i);
		ipc_put_str(&b, rcpts[i]);
	}
	ipc_put_bytes(&b, body, first < len ? first : len);
	ipc_msg_end(&b, start);
	ipc_conn_send(fq.conn, &b);
	buf_free(&b);
}

#define RCPTS(...)	((const char *const[]){ __VA_ARGS__ })

static void
run_until(const int *v, int want)
{
	int i;

	for (i = 0; i < 10000 && *v < want; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(500);
	}
}

static void
run_for(int ms)
{
	int i;

	for (i = 0; i < ms * 2; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(500);
	}
}

/* ------------------------------------------------------------------ */
/* scripted DNS                                                        */
/* ------------------------------------------------------------------ */

static int
fake_dns(void *arg, const char *name, uint16_t qtype, unsigned char **wire, size_t *len,
    char *err, size_t errlen)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rr *rr = NULL;
	uint8_t *w = NULL;

	(void)arg;
	ldns_pkt_set_qr(p, true);
	if (strcmp(name, "mx.flow.test") == 0 && qtype == LDNS_RR_TYPE_MX)
		ldns_rr_new_frm_str(&rr, "mx.flow.test. 300 IN MX 10 smtp.flow.test.", 300, NULL,
		    NULL);
	else if (strcmp(name, "smtp.flow.test") == 0 && qtype == LDNS_RR_TYPE_A)
		ldns_rr_new_frm_str(&rr, "smtp.flow.test. 300 IN A 127.0.0.1", 300, NULL, NULL);
	else if (strcmp(name, "null.flow.test") == 0 && qtype == LDNS_RR_TYPE_MX)
		ldns_rr_new_frm_str(&rr, "null.flow.test. 300 IN MX 0 .", 300, NULL, NULL);
	else if (strcmp(name, "sf.flow.test") == 0)
		ldns_pkt_set_rcode(p, LDNS_RCODE_SERVFAIL);
	else if (strcmp(name, "nx.flow.test") == 0)
		ldns_pkt_set_rcode(p, LDNS_RCODE_NXDOMAIN);
	else if (strcmp(name, "down.flow.test") == 0) {
		ldns_pkt_free(p);
		snprintf(err, errlen, "network unreachable");
		return -1;
	}
	if (rr != NULL)
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	ldns_pkt2wire(&w, p, len);
	ldns_pkt_free(p);
	*wire = w;
	return 0;
}

/* ------------------------------------------------------------------ */

static char logpath[] = "/tmp/sp-deliver-flow-XXXXXX";

static int
log_has(const char *needle)
{
	FILE *f = fopen(logpath, "r");
	char line[4096];
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static int drained;

static void
on_drained(struct deliver *dl)
{
	(void)dl;
	drained++;
}

static char *
make_body(size_t size)
{
	char *b = xmalloc(size + 1);
	size_t i = 0, line = 0;

	while (i < size) {
		/* Lines of varying length; every 7th starts with a dot. */
		size_t n = 40 + (line * 37) % 120, k;

		for (k = 0; k < n && i < size; k++)
			b[i++] = k == 0 && line % 7 == 0 ? '.' : (char)('a' + (line + k) % 26);
		if (i < size)
			b[i++] = '\r';
		if (i < size)
			b[i++] = '\n';
		line++;
	}
	b[size - 2] = '\r';
	b[size - 1] = '\n';
	b[size] = '\0';
	return b;
}

int
main(void)
{
	static struct deliver dl;
	struct fsrv srv, busy, stall, plain, hold, flaky, hangup, mixed;
	struct config *cfg2;
	struct config *cfg;
	struct config_source src;
	struct dns_resolver *res;
	char yaml[2048], err[512], needle[256];
	const char *small = "Subject: hi\r\n\r\n.dot line\r\n..two\r\nend\r\n";
	char *big;
	int dead, full, fd, ncl;

	signal(SIGPIPE, SIG_IGN);
	fd = mkstemp(logpath);
	close(fd);
	log_open("deliver", logpath);
	uv_loop_init(&loop);
	fsrv_start(&srv, "220 fake.test ESMTP", "250-fake.test\r\n250-PIPELINING\r\n250 SIZE 10000000");
	fsrv_start(&busy, "421 4.3.2 too busy", "250 x");
	fsrv_start(&stall, "220 stall.test ESMTP", "250-stall.test\r\n250 PIPELINING");
	stall.stall_data = 1;
	fsrv_start(&plain, "220 plain.test", "250 plain.test");
	fsrv_start(&hold, "220 hold.test ESMTP", "250-hold.test\r\n250 PIPELINING");
	hold.hold_dot = 1;
	fsrv_start(&flaky, "220 flaky.test ESMTP", "250-flaky.test\r\n250 PIPELINING");
	fsrv_start(&hangup, "220 hangup.test ESMTP", "250 hangup.test");
	hangup.close_after_msg = 1;
	fsrv_start(&mixed, "220 mixed.test ESMTP", "250-mixed.test\r\n250 PIPELINING");
	mixed.reject_rcpt = "bad";
	mixed.drop_rcpt = "drop";
	dead = dead_port();
	full = full_port();
	snprintf(yaml, sizeof yaml,
	    "hostname: gw.flow.test\n"
	    "deliver: { connect_timeout: 2, command_timeout: 1, idle_reuse: 30, dns_timeout: 2 }\n"
	    "smtp_routes:\n"
	    "  route.test: [\"127.0.0.1:%d\"]\n"
	    "  fallback.test: [\"127.0.0.1:%d\", \"127.0.0.1:%d\"]\n"
	    "  dead.test: [\"127.0.0.1:%d\"]\n"
	    "  tryn.test: [\"127.0.0.1:%d\", \"127.0.0.1:%d\"]\n"
	    "  stall.test: [\"127.0.0.1:%d\"]\n"
	    "  plain.test: [\"127.0.0.1:%d\"]\n"
	    "  name.test: [\"smtp.flow.test:%d\"]\n"
	    "  hold.test: [\"127.0.0.1:%d\"]\n"
	    "  flaky.test: [\"127.0.0.1:%d\"]\n"
	    "  hangup.test: [\"127.0.0.1:%d\"]\n"
	    "  mixed.test: [\"127.0.0.1:%d\", \"127.0.0.1:%d\"]\n"
	    "  full.test: [\"127.0.0.1:%d\", \"127.0.0.1:%d\"]\n",
	    srv.port, dead, srv.port, dead, busy.port, srv.port, stall.port, plain.port,
	    srv.port, hold.port, flaky.port, hangup.port, mixed.port, srv.port, full, srv.port);
	src.path = "flow.yaml";
	src.text = yaml;
	src.len = strlen(yaml);
	if (config_parse_sources(&src, 1, &cfg, err, sizeof err) < 0) {
		printf("Bail out! config: %s\n", err);
		return 1;
	}
	res = dns_resolver_new_fn(fake_dns, NULL);
	deliver_init(&dl, &loop, cfg, res);
	dl.smtp_port = (uint16_t)srv.port;
	dl.on_drained = on_drained;
	fq.next_id = 1000;
	fq.offsets_ok = 1;
	fq_connect(&dl);
	run_until(&fq.nids_req, 1);
	is(fq.nids_req, 1, "a DCID block is asked for on attach");

	/* 1. A plain delivery, pipelined. */
	send_job(1, 7, "route.test", 0, small, 65536, 2,
	    RCPTS("a@route.test", "b@route.test"));
	run_until(&fq.res[1].got, 1);
	is(fq.res[1].got, 1, "one result for job 1");
	is(fq.res[1].n, 2, "two recipients");
	ok(fq.res[1].status[0] == 2 && fq.res[1].status[1] == 2, "both delivered");
	is(fq.res[1].reason[0], REASON_SMTP, "reason smtp");
	is_str(fq.res[1].text[0], "250 2.0.0 ok", "reply text");
	is(fq.res[1].dcid, 1000, "DCID from the block");
	snprintf(needle, sizeof needle, "127.0.0.1 [127.0.0.1]:%d", srv.port);
	is_str(fq.res[1].host, needle, "host of the result");
	ok(srv.body.len == strlen(small) && memcmp(srv.body.data, small, srv.body.len) == 0,
	    "server got the body, dot-stuffing undone");
	snprintf(needle, sizeof needle, "MAIL FROM:<sender@origin.test> SIZE=%zu", strlen(small));
	is_str(srv.mail_from, needle, "MAIL with SIZE");
	is(dl.nconns, 1, "connection kept open");
	snprintf(needle, sizeof needle, "New SMTP DCID 1000 interface 127.0.0.1 address "
	    "127.0.0.1 port %d", srv.port);
	ok(log_has(needle), "log: New SMTP DCID");
	ok(log_has("Delivery start DCID 1000 MID 7 to RID [0, 1]"), "log: Delivery start");
	ok(log_has("Message done DCID 1000 MID 7 to RID [0, 1]"), "log: Message done");
	ok(log_has("MID 7 RID [0, 1] Response '2.0.0 ok'"), "log: Response");

	/* 2. The next job to the domain reuses the connection. */
	send_job(2, 8, "route.test", 0, small, 65536, 1, RCPTS("c@route.test"));
	run_until(&fq.res[2].got, 1);
	is(fq.res[2].status[0], 2, "second job delivered");
	is(srv.nconn, 1, "over the same connection");
	is(srv.nrset, 1, "after RSET");
	is(fq.res[2].dcid, 1000, "same DCID");
	ok(log_has("DCID 1000 reused for MID 8"), "log: reuse");

	/* 3. A large body, pulled from qmgr in chunks. */
	big = make_body(300 * 1024 + 17);
	send_job(3, 9, "route.test", 0, big, 65536, 1, RCPTS("d@route.test"));
	run_until(&fq.res[3].got, 1);
	is(fq.res[3].status[0], 2, "large message delivered");
	ok(srv.body.len == strlen(big) && memcmp(srv.body.data, big, srv.body.len) == 0,
	    "large body intact (%zu bytes)", srv.body.len);
	ok(fq.nbody_req >= 4, "pulled in chunks (%d requests)", fq.nbody_req);
	ok(fq.offsets_ok, "offsets in order");

	/* 4. Per-recipient results. */
	srv.reject_rcpt = "bad";
	send_job(4, 10, "route.test", 0, small, 65536, 3,
	    RCPTS("ok1@route.test", "bad@route.test", "ok2@route.test"));
	run_until(&fq.res[4].got, 1);
	ok(fq.res[4].status[0] == 2 && fq.res[4].status[2] == 2, "good ones delivered");
	is(fq.res[4].status[1], 5, "bad one bounced");
	is_str(fq.res[4].text[1], "550 5.1.1 no such user", "with the server's reply");
	ok(log_has("Bounced: DCID 1000 MID 10 to RID 1 - 550 5.1.1 no such user"), "log: Bounced");
	ok(log_has("Message done DCID 1000 MID 10 to RID [0, 2]"), "log: done for the others");
	srv.reject_rcpt = NULL;

	/* 5. First host refuses the connection: the next one is used. */
	send_job(5, 11, "fallback.test", 0, small, 65536, 1, RCPTS("x@fallback.test"));
	run_until(&fq.res[5].got, 1);
	is(fq.res[5].status[0], 2, "delivered via the second host");
	ok(log_has("Connection error: domain fallback.test"), "log: connection error");

	/* 5b. First host never completes the handshake: connect timeout. */
	send_job(29, 35, "full.test", 0, small, 65536, 1, RCPTS("x@full.test"));
	run_until(&fq.res[29].got, 1);
	is(fq.res[29].status[0], 2, "connect timeout, then the next host");
	snprintf(needle, sizeof needle, "port %d - connection timed out after 2s", full);
	ok(log_has(needle), "log: connection timed out");

	/* 6. Every host refuses: temporary, connection. */
	send_job(6, 12, "dead.test", 0, small, 65536, 1, RCPTS("x@dead.test"));
	run_until(&fq.res[6].got, 1);
	is(fq.res[6].status[0], 4, "all hosts down: deferred");
	is(fq.res[6].reason[0], REASON_CONN, "reason conn");
	ok(strstr(fq.res[6].text[0], "refused") != NULL, "text: %s", fq.res[6].text[0]);
	is(fq.res[6].dcid, DCID_NONE, "no DCID");
	ok(log_has("Delayed: MID 12 to RID 0 - 4.4.1"), "log: Delayed");

	/* 7. MX routing (port taken from the test knob). */
	send_job(7, 13, "mx.flow.test", 0, small, 65536, 1, RCPTS("x@mx.flow.test"));
	run_until(&fq.res[7].got, 1);
	is(fq.res[7].status[0], 2, "delivered by MX");
	ok(strncmp(fq.res[7].host, "smtp.flow.test [127.0.0.1]", 26) == 0, "to the MX host: %s",
	    fq.res[7].host);

	/* 8. DNS failures. */
	send_job(8, 14, "nx.flow.test", 0, small, 65536, 1, RCPTS("x@nx.flow.test"));
	send_job(9, 15, "null.flow.test", 0, small, 65536, 1, RCPTS("x@null.flow.test"));
	send_job(10, 16, "sf.flow.test", 0, small, 65536, 1, RCPTS("x@sf.flow.test"));
	send_job(11, 17, "down.flow.test", 0, small, 65536, 1, RCPTS("x@down.flow.test"));
	run_until(&fq.res[11].got, 1);
	run_until(&fq.res[10].got, 1);
	run_until(&fq.res[9].got, 1);
	run_until(&fq.res[8].got, 1);
	ok(fq.res[8].status[0] == 5 && fq.res[8].reason[0] == REASON_DNS, "NXDOMAIN: 5 dns");
	ok(strncmp(fq.res[8].text[0], "5.1.2 ", 6) == 0, "5.1.2: %s", fq.res[8].text[0]);
	ok(fq.res[9].status[0] == 5 && fq.res[9].reason[0] == REASON_DNS, "null MX: 5 dns");
	ok(strncmp(fq.res[9].text[0], "5.1.10 ", 7) == 0, "5.1.10: %s", fq.res[9].text[0]);
	ok(fq.res[10].status[0] == 4 && fq.res[10].reason[0] == REASON_DNS, "SERVFAIL: 4 dns");
	ok(fq.res[11].status[0] == 4 && fq.res[11].reason[0] == REASON_DNS,
	    "resolver unreachable: 4 dns");
	ok(log_has("DNS hard error for MID 14 domain nx.flow.test"), "log: DNS hard error");
	ok(log_has("DNS temporary failure for MID 16 domain sf.flow.test"), "log: DNS temp");

	/* 9. A 421 banner: the next host takes it. */
	send_job(12, 18, "tryn.test", 0, small, 65536, 1, RCPTS("x@tryn.test"));
	run_until(&fq.res[12].got, 1);
	is(fq.res[12].status[0], 2, "421 banner, then delivered by the next host");
	is(busy.nconn, 1, "the busy host was tried");
	ok(log_has("MID 18 host 127.0.0.1 failed (421 4.3.2 too busy); trying the next host"),
	    "log: trying the next host");

	/* 9b. 421 in the middle of the RCPTs: the refused recipient stays
	 * bounced, the others go to the next host. */
	{
		int before = srv.nrcpt;

		send_job(28, 34, "mixed.test", 0, small, 65536, 3,
		    RCPTS("bad@mixed.test", "drop@mixed.test", "fine@mixed.test"));
		run_until(&fq.res[28].got, 1);
		is(fq.res[28].status[0], 5, "RCPT 550 at the first host stays a bounce");
		is(fq.res[28].status[1], 2, "421'd recipient delivered by the next host");
		is(fq.res[28].status[2], 2, "so is the one left pending");
		is(srv.nrcpt - before, 2, "only those two were sent to the next host");
		snprintf(needle, sizeof needle, "Bounced: DCID %u MID 34 to RID 0 - 550 5.1.1",
		    fq.res[28].dcid - 1);
		ok(log_has(needle), "bounce logged with the first host's DCID");
	}

	/* 10. A route host given by name is resolved. */
	send_job(13, 19, "name.test", 0, small, 65536, 1, RCPTS("x@name.test"));
	run_until(&fq.res[13].got, 1);
	is(fq.res[13].status[0], 2, "route host name resolved and used");

	/* 11. No answer to DATA: command timeout. */
	send_job(14, 20, "stall.test", 0, small, 65536, 1, RCPTS("x@stall.test"));
	run_until(&fq.res[14].got, 1);
	is(fq.res[14].status[0], 4, "timeout: deferred");
	is(fq.res[14].reason[0], REASON_CONN, "reason conn");
	ok(strstr(fq.res[14].text[0], "timeout") != NULL, "text: %s", fq.res[14].text[0]);

	/* 12. SMTPUTF8 needed, server without it. */
	send_job(15, 21, "plain.test", MSGF_SMTPUTF8, small, 65536, 1, RCPTS("x@plain.test"));
	run_until(&fq.res[15].got, 1);
	is(fq.res[15].status[0], 5, "SMTPUTF8 refused locally");
	ok(strncmp(fq.res[15].text[0], "5.6.7 ", 6) == 0, "5.6.7: %s", fq.res[15].text[0]);
	is(plain.ndata, 0, "nothing sent");

	/* 13. Without pipelining, body split so that the first part ends
	 * inside a line. */
	send_job(16, 22, "plain.test", MSGF_8BITMIME, small, 5, 1, RCPTS("y@plain.test"));
	run_until(&fq.res[16].got, 1);
	is(fq.res[16].status[0], 2, "delivered without pipelining, body in two parts");
	ok(plain.body.len == strlen(small) && memcmp(plain.body.data, small, plain.body.len) == 0,
	    "body intact across the split");
	is_str(plain.mail_from, "MAIL FROM:<sender@origin.test>", "no SIZE/BODY when not offered");

	/* 14. Control: connections. */
	{
		struct ctl_reply r;
		struct ctl_result cr;
		struct buf b;
		char *argv[] = { "connections", NULL };

		ctl_reply_init(&r);
		deliver_ctl(&dl, 1, argv, &r);
		buf_init(&b, 0);
		ctl_reply_encode(&r, &b, 1);
		ok(ctl_result_decode((unsigned char *)b.data + IPC_HDR_LEN, b.len - IPC_HDR_LEN,
		    &cr) == 0 && cr.nrec == 1, "connections: one record");
		is_str(ctl_record_get(&cr.recs[0], "name"), "Current Outbound Conn.", "name");
		snprintf(needle, sizeof needle, "%zu", dl.nconns);
		is_str(ctl_record_get(&cr.recs[0], "current"), needle, "current");
		ok(dl.nconns >= 2, "idle connections counted (%zu)", dl.nconns);
		ctl_result_free(&cr);
		buf_free(&b);
		ctl_reply_free(&r);
	}

	/* 15. Flush closes the idle connections of a domain. */
	{
		int q = srv.nquit;

		deliver_flush(&dl, "route.test");
		run_until(&srv.nquit, q + 1);
		is(srv.nquit, q + 1, "flush: QUIT to route.test's connection");
		run_for(100);
		ok(log_has("DCID 1000 close"), "log: DCID close");
	}

	/* 16. qmgr goes away in the middle of DATA, and comes back. */
	ncl = stall.nclosed;
	stall.stall_data = 1;
	send_job(17, 23, "stall.test", 0, small, 65536, 1, RCPTS("z@stall.test"));
	run_until(&stall.ndata, 2);
	ipc_conn_close(fq.conn);
	run_until(&stall.nclosed, ncl + 1);
	is(stall.nclosed, ncl + 1, "connection closed when qmgr went away mid-DATA");
	is(stall.nmsg, 0, "nothing delivered");
	ok(dl.qmgr == NULL, "deliver noticed");
	is(dl.njobs, 0, "job abandoned");
	fq_connect(&dl);
	send_job(18, 24, "route.test", 0, small, 65536, 1, RCPTS("w@route.test"));
	run_until(&fq.res[18].got, 1);
	is(fq.res[18].status[0], 2, "new qmgr channel works");
	is(fq.res[17].got, 0, "no result ever for the abandoned job");

	/* 17. qmgr goes away after ".": the answer is still read (and
	 * logged), then the job is dropped without a result. */
	send_job(20, 26, "hold.test", 0, small, 65536, 1, RCPTS("h@hold.test"));
	run_until(&hold.nmsg, 1);
	ok(hold.held != NULL, "server holds the final reply");
	ipc_conn_close(fq.conn);
	run_for(50);
	is(dl.njobs, 1, "job kept while its final reply is due");
	fc_send(hold.held, "250 2.0.0 late ok");
	run_for(100);
	is(dl.njobs, 0, "then dropped");
	ok(log_has("Message done DCID") && log_has("Response '2.0.0 late ok'"),
	    "the late reply is logged");
	fq_connect(&dl);
	run_for(20);
	is(fq.res[20].got, 0, "no result on the new channel");

	/* 18. No DCID in hand: the connection waits for a block. */
	deliver_flush(&dl, "");
	run_for(50);
	fq.withhold_ids = 1;
	dl.ids.nblocks = 0;
	dl.ids.requested = 0;
	{
		int before = fq.nids_req;

		send_job(21, 27, "plain.test", 0, small, 65536, 1, RCPTS("i@plain.test"));
		run_until(&fq.nids_req, before + 1);
		run_for(50);
		ok(!TAILQ_EMPTY(&dl.wait_dcid), "connection waits for a DCID");
		is(fq.res[21].got, 0, "nothing happens meanwhile");
	}
	{
		struct buf b;
		size_t start;

		buf_init(&b, 0);
		start = ipc_msg_begin(&b, QMSG_IDS, 0);
		ipc_put_u32(&b, ID_DCID);
		ipc_put_u32(&b, 5000);
		ipc_put_u32(&b, 10);
		ipc_msg_end(&b, start);
		ipc_conn_send(fq.conn, &b);
		buf_free(&b);
	}
	run_until(&fq.res[21].got, 1);
	is(fq.res[21].status[0], 2, "delivered once the block came");
	is(fq.res[21].dcid, 5000, "with a DCID from it");
	fq.withhold_ids = 0;

	/* 19. A reused connection refuses RSET: reconnect, transparently. */
	send_job(22, 28, "flaky.test", 0, small, 65536, 1, RCPTS("j@flaky.test"));
	run_until(&fq.res[22].got, 1);
	is(fq.res[22].status[0], 2, "first message on flaky");
	flaky.rset_421 = 1;
	send_job(23, 29, "flaky.test", 0, small, 65536, 1, RCPTS("k@flaky.test"));
	run_until(&fq.res[23].got, 1);
	is(flaky.nrset, 1, "RSET tried on the reused connection");
	is(fq.res[23].status[0], 2, "delivered on a new connection");
	is(flaky.nconn, 2, "two connections");
	ok(log_has("reused connection for MID 29 is gone; connecting again"), "log: reconnect");

	/* 20. The server hangs up while the connection is idle. */
	send_job(24, 30, "hangup.test", 0, small, 65536, 1, RCPTS("l@hangup.test"));
	run_until(&fq.res[24].got, 1);
	run_for(50);
	send_job(25, 31, "hangup.test", 0, small, 65536, 1, RCPTS("m@hangup.test"));
	run_until(&fq.res[25].got, 1);
	ok(fq.res[24].status[0] == 2 && fq.res[25].status[0] == 2, "both delivered");
	is(hangup.nconn, 2, "the dropped idle connection was not reused");

	/* 21. Reload: new routes for new jobs, idle connections dropped. */
	snprintf(yaml, sizeof yaml,
	    "hostname: gw2.flow.test\n"
	    "deliver: { connect_timeout: 2, command_timeout: 1, idle_reuse: 30, dns_timeout: 2 }\n"
	    "smtp_routes:\n"
	    "  route.test: [\"127.0.0.1:%d\"]\n"
	    "  stall.test: [\"127.0.0.1:%d\"]\n", plain.port, stall.port);
	src.len = strlen(yaml);
	if (config_parse_sources(&src, 1, &cfg2, err, sizeof err) < 0) {
		printf("Bail out! config 2: %s\n", err);
		return 1;
	}
	{
		int m = plain.nmsg;

		deliver_apply_config(&dl, cfg2);
		run_for(50);
		is(dl.nconns, 0, "reload: idle connections closed");
		send_job(26, 32, "route.test", 0, small, 65536, 1, RCPTS("n@route.test"));
		run_until(&fq.res[26].got, 1);
		is(fq.res[26].status[0], 2, "delivered after reload");
		is(plain.nmsg, m + 1, "to the new route");
		is_str(dl.hostname, "gw2.flow.test", "new hostname");
	}

	/* 22. Drain: new jobs refused, running ones cut at the deadline,
	 * exit when everything is closed. */
	send_job(27, 33, "stall.test", 0, small, 65536, 1, RCPTS("o@stall.test"));
	{
		int nd = stall.ndata;

		run_until(&stall.ndata, nd + 1);
	}
	deliver_drain(&dl, 0);
	send_job(19, 25, "route.test", 0, small, 65536, 1, RCPTS("v@route.test"));
	run_until(&fq.res[19].got, 1);
	run_until(&fq.res[27].got, 1);
	is(fq.res[19].status[0], 4, "job during drain deferred");
	is(fq.res[19].reason[0], REASON_OTHER, "reason other");
	ok(strstr(fq.res[19].text[0], "shutting down") != NULL, "text: %s", fq.res[19].text[0]);
	is(fq.res[27].status[0], 4, "running job cut at the deadline: deferred");
	ok(strstr(fq.res[27].text[0], "interrupted") != NULL, "text: %s", fq.res[27].text[0]);
	run_until(&drained, 1);
	is(drained, 1, "drained: exit callback once the connections are closed");
	is(dl.nconns, 0, "no connection left");

	deliver_shutdown(&dl);
	if (fq.conn)
		ipc_conn_close(fq.conn);
	fsrv_stop(&srv);
	fsrv_stop(&busy);
	fsrv_stop(&stall);
	fsrv_stop(&plain);
	fsrv_stop(&hold);
	fsrv_stop(&flaky);
	fsrv_stop(&hangup);
	fsrv_stop(&mixed);
	run_for(50);
	uv_run(&loop, UV_RUN_DEFAULT);
	is(uv_loop_close(&loop), 0, "everything closed");
	dns_resolver_free(res);
	config_free(cfg);
	config_free(cfg2);
	free(big);
	if (tap_fail)
		printf("# log kept in %s\n", logpath);
	else
		unlink(logpath);
	return done_testing();
}
