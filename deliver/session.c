/*
 * session - one outbound SMTP connection on the libuv loop.
 *
 * Connects (connect_timeout), takes a DCID, reads the server's lines
 * (bounded) into the protocol engine and writes what it answers; a
 * command timer (command_timeout) runs whenever the connection is
 * expected to make progress.  The body is streamed with bounded memory:
 * at most one chunk from qmgr in hand and BODY_HIGH_WATER bytes handed to
 * the socket but not written yet; the next chunk is asked for when the
 * socket has taken the last.
 *
 * After a transaction a healthy connection waits in the idle pool for
 * idle_reuse seconds, keyed by the destination domain; while it waits it
 * keeps reading, so a server that hangs up or says 421 is noticed and the
 * connection dropped.  The next job takes it with RSET (smtp_client.c).
 *
 * A session is freed only from libuv close callbacks, so nothing that
 * runs from one of its callbacks can pull it away underneath.
 *
 * Not for: choosing hosts or deciding what a failure means for a message
 * (job.c), the SMTP dialogue itself (smtp_client.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "deliver.h"
#include "log.h"
#include "proto.h"
#include "dane.h"
#include "tls_ctx.h"
#include "tls_name.h"
#include "xalloc.h"

struct session_write {
	uv_write_t	 req;
	uv_buf_t	 ub;
	struct session	*s;
	char		*data;
};

static void session_event(struct session *s, int ev);
static void session_lost(struct session *s, const char *why);
static void dane_job_free(struct dane_job *j);
static void session_tls_decide(struct session *s, int ev);
static void session_tls_begin(struct session *s);
static void session_tls_failed(struct session *s, const char *why);

/*
 * tls: dane (RFC 7672): the TLSA records of the host, validated with
 * DNSSEC against dns.trust_anchors, looked up on the thread pool while
 * the connection is made.  For a host from an MX lookup the MX RRset must
 * validate too (2.2.1); a host from smtp_routes is the operator's word.
 */
struct dane_job {
	uv_work_t		 work;
	struct session		*s;	/* NULL: gone; the job frees itself */
	int			 running;
	ldns_resolver		*res;
	char			*anchors;
	size_t			 alen;
	char			 domain[DNS_NAME_MAX + 1];
	char			 host[DNS_NAME_MAX + 1];
	uint16_t		 port;
	int			 check_mx;
	int			 mx_secure;
	enum dane_status	 mx_status;
	struct dane_result	 r;
};

static void
dane_job_free(struct dane_job *j)
{
	free(j->anchors);
	free(j);
}

static void
dane_work(uv_work_t *w)
{
	struct dane_job *j = w->data;
	struct dane_anchors *ta;
	char err[DANE_ERR_MAX];

	if ((ta = dane_anchors_load(j->anchors, j->alen, err, sizeof err)) == NULL) {
		j->r.status = DANE_TEMPFAIL;
		snprintf(j->r.error, sizeof j->r.error, "dns.trust_anchors: %.200s", err);
		return;
	}
	j->mx_secure = 1;
	if (j->check_mx) {
		j->mx_status = dane_lookup_mx_secure(j->res, ta, j->domain, &j->mx_secure, err,
		    sizeof err);
		if (j->mx_status == DANE_BOGUS || j->mx_status == DANE_TEMPFAIL) {
			j->r.status = j->mx_status;
			snprintf(j->r.error, sizeof j->r.error, "MX of %.60s: %.180s", j->domain, err);
		}
	}
	if (j->mx_secure)
		dane_lookup(j->res, ta, j->host, j->port, &j->r);
	else if (j->r.status != DANE_BOGUS && j->r.status != DANE_TEMPFAIL)
		j->r.status = DANE_INSECURE;	/* no DANE for hosts of an insecure MX */
	dane_anchors_free(ta);
	OPENSSL_thread_stop();	/* this pool thread's RNG state (see dns.c) */
}

static void session_tls_decide(struct session *s, int ev);

/* What the lookup means for tls_policy (enum tls_dane_fact). */
static enum tls_dane_fact
dane_fact(const struct dane_job *j, size_t *usable)
{
	size_t i;

	*usable = 0;
	if (j->check_mx && !j->mx_secure && j->r.status != DANE_BOGUS &&
	    j->r.status != DANE_TEMPFAIL)
		return TLS_DANE_NONE;
	switch (j->r.status) {
	case DANE_SECURE_TLSA:
		for (i = 0; i < j->r.ntlsa; i++)
			if ((j->r.tlsa[i].usage == 2 || j->r.tlsa[i].usage == 3) &&
			    j->r.tlsa[i].selector <= 1 && j->r.tlsa[i].mtype <= 2)
				(*usable)++;
		return *usable > 0 ? TLS_DANE_USABLE : TLS_DANE_UNUSABLE;
	case DANE_SECURE_NONE:
	case DANE_INSECURE:
		return TLS_DANE_NONE;
	default:
		return TLS_DANE_LOOKUP_FAILED;
	}
}

static void
dane_done(uv_work_t *w, int status)
{
	struct dane_job *j = w->data;
	struct session *s = j->s;
	size_t usable;

	j->running = 0;
	if (s == NULL) {
		dane_job_free(j);
		return;
	}
	if (status < 0) {
		j->r.status = DANE_TEMPFAIL;
		snprintf(j->r.error, sizeof j->r.error, "lookup cancelled");
	}
	s->att.dane = dane_fact(j, &usable);
	log_info("DANE %s port %u (domain %s): %s%s%s, %zu usable TLSA record(s)%s%s", j->host,
	    (unsigned)j->port, j->domain, j->check_mx && !j->mx_secure &&
	    s->att.dane == TLS_DANE_NONE ? "MX not secure, " : "", dane_status_str(j->r.status),
	    "", usable, j->r.error[0] ? ": " : "", j->r.error);
	if (s->att.dane == TLS_DANE_LOOKUP_FAILED) {
		snprintf(s->tls_detail, sizeof s->tls_detail, "%s", j->r.error[0] ? j->r.error :
		    dane_status_str(j->r.status));
		s->att.detail = s->tls_detail;
	}
	if (s->dane_wait && s->state != SESS_CLOSING) {
		s->dane_wait = 0;
		session_tls_decide(s, SMTPC_EV_TLS);
	}
}

/* Starts the TLSA lookup of a dane session. */
static void
dane_start(struct deliver *dl, struct session *s)
{
	const struct cfg_file *f = dl->cfg->dns.trust_anchors != NULL ?
	    config_file(dl->cfg, dl->cfg->dns.trust_anchors) : NULL;
	ldns_resolver *res = dns_resolver_ldns(dl->resolver);
	struct dane_job *j;

	if (f == NULL || res == NULL) {
		log_info("DANE %s: %s; TLS is opportunistic", s->host, f == NULL ?
		    "no DNSSEC trust anchors (dns.trust_anchors)" : "no DNS resolver");
		s->att.dane = TLS_DANE_NONE;
		return;
	}
	j = xcalloc(1, sizeof *j);
	j->work.data = j;
	j->s = s;
	j->res = res;
	j->anchors = xmalloc(f->len + 1);
	memcpy(j->anchors, f->data, f->len + 1);
	j->alen = f->len;
	snprintf(j->domain, sizeof j->domain, "%s", s->domain);
	snprintf(j->host, sizeof j->host, "%s", s->host);
	j->port = s->port;
	j->check_mx = !s->host_configured;
	if (uv_queue_work(dl->loop, &j->work, dane_work, dane_done) != 0) {
		dane_job_free(j);
		s->att.dane = TLS_DANE_LOOKUP_FAILED;
		return;
	}
	j->running = 1;
	s->dane = j;
}

static void
session_freed(uv_handle_t *h)
{
	struct session *s = h->data;

	if (--s->handles > 0)
		return;
	buf_free(&s->line);
	smtpc_free(s->sc);
	tls_io_free(s->tls);
	free(s->tls_cert);
	if (s->dane != NULL) {
		if (s->dane->running)
			s->dane->s = NULL;	/* still on the thread pool: it frees itself */
		else
			dane_job_free(s->dane);
	}
	free(s);
}

static void session_timer_fired(uv_timer_t *t);

static void
session_timer(struct session *s, uint32_t seconds)
{
	if (s->state == SESS_CLOSING)
		return;
	if (s->failed)
		seconds = 0;	/* a failed write is reported first */
	uv_timer_start(&s->timer, session_timer_fired, (uint64_t)seconds * 1000, 0);
}

static void
unlink_queues(struct session *s)
{
	struct deliver *dl = s->dl;

	if (s->state == SESS_IDLE)
		TAILQ_REMOVE(&dl->idle, s, qentry);
	else if (s->state == SESS_WAIT_DCID)
		TAILQ_REMOVE(&dl->wait_dcid, s, qentry);
}

void
session_close(struct session *s)
{
	struct deliver *dl = s->dl;

	if (s->state == SESS_CLOSING)
		return;
	if (s->probe != NULL) {
		probe_line(s->probe, "Connection to %s closed before the check was complete.",
		    s->addr);
		probe_done(s->probe, 0);
		s->probe = NULL;
	}
	unlink_queues(s);
	s->state = SESS_CLOSING;
	TAILQ_REMOVE(&dl->sessions, s, entry);
	if (s->job != NULL) {
		s->job->sess = NULL;
		s->job = NULL;
	}
	if (s->counted) {
		dl->nconns--;
		s->counted = 0;
		log_info("DCID %u close", s->dcid);
	}
	uv_read_stop((uv_stream_t *)&s->tcp);
	uv_close((uv_handle_t *)&s->tcp, session_freed);
	uv_close((uv_handle_t *)&s->timer, session_freed);
	deliver_check_drained(dl);
}

static void
session_written(uv_write_t *req, int status)
{
	struct session_write *w = (struct session_write *)req;
	struct session *s = w->s;

	s->wpending -= w->ub.len;
	free(w->data);
	free(w);
	if (s->state == SESS_CLOSING)
		return;
	if (status < 0) {
		char why[SMTPC_TEXT_MAX];

		snprintf(why, sizeof why, "4.4.2 write to %s [%s] failed: %.100s", s->host, s->addr,
		    uv_strerror(status));
		session_lost(s, why);
		return;
	}
	if (s->state == SESS_ACTIVE) {
		session_timer(s, s->command_timeout);
		if (s->job != NULL && smtpc_wants_body(s->sc))
			session_pump_body(s);
	}
}

/* Hands data (malloc'd, taken over) to the socket. */
static void
session_send(struct session *s, char *data, size_t n)
{
	struct session_write *w;
	uv_buf_t ub;

	w = xcalloc(1, sizeof *w);
	w->s = s;
	w->data = data;
	w->ub = uv_buf_init(w->data, (unsigned)n);
	ub = w->ub;	/* libuv copies the descriptor; the bytes stay in w */
	s->wpending += n;
	if (uv_write(&w->req, (uv_stream_t *)&s->tcp, &ub, 1, session_written) != 0) {
		/* The stream is unusable; its read side reports the error. */
		s->wpending -= n;
		free(w->data);
		free(w);
		s->failed = 1;
		session_timer(s, 0);
	}
}

/* What TLS has for the network. */
static void
session_tls_send(struct session *s)
{
	size_t n;
	char *p = tls_io_take_output(s->tls, &n);

	if (p != NULL)
		session_send(s, p, n);
}

/* Writes what the engine has to say (through TLS once it is up). */
static void
session_flush(struct session *s)
{
	struct buf *o;
	size_t n;

	if (s->sc == NULL || s->state == SESS_CLOSING)
		return;
	o = smtpc_output(s->sc);
	if (o->len == 0)
		return;
	if (s->tls == NULL) {
		n = o->len;
		session_send(s, buf_steal(o), n);
		return;
	}
	if (tls_io_write(s->tls, o->data, o->len) < 0) {
		s->failed = 1;
		session_timer(s, 0);
	}
	buf_reset(o);
	session_tls_send(s);
}

static void
session_quit_timer(struct session *s)
{
	s->state = SESS_QUITTING;
	session_timer(s, QUIT_TIMEOUT);
}

void
session_quit(struct session *s)
{
	if (s->state == SESS_CLOSING || s->state == SESS_QUITTING)
		return;
	if (s->state == SESS_CONNECTING || s->state == SESS_WAIT_DCID || s->sc == NULL) {
		session_close(s);
		return;
	}
	unlink_queues(s);
	if (s->job != NULL) {
		s->job->sess = NULL;
		s->job = NULL;
	}
	if (!smtpc_quit(s->sc)) {
		session_close(s);
		return;
	}
	session_flush(s);
	session_quit_timer(s);
}

void
session_detach(struct session *s)
{
	struct job *j = s->job;

	s->job = NULL;
	if (j != NULL)
		j->sess = NULL;
	if (s->state != SESS_ACTIVE || s->sc == NULL || !smtpc_abandon(s->sc)) {
		session_close(s);
		return;
	}
	session_flush(s);
	session_quit_timer(s);
}

static void
session_make_idle(struct session *s)
{
	struct deliver *dl = s->dl;

	s->state = SESS_IDLE;
	s->idle_since = uv_now(dl->loop);
	TAILQ_INSERT_TAIL(&dl->idle, s, qentry);
	session_timer(s, s->idle_reuse);
}

struct session *
session_take_idle(struct deliver *dl, const char *domain)
{
	struct session *s;

	TAILQ_FOREACH_REVERSE(s, &dl->idle, session_list, qentry) {
		if (strcasecmp(s->domain, domain) != 0 || !smtpc_idle(s->sc))
			continue;
		TAILQ_REMOVE(&dl->idle, s, qentry);
		s->state = SESS_ACTIVE;
		uv_timer_stop(&s->timer);
		return s;
	}
	return NULL;
}

void
session_close_idle(struct deliver *dl, const char *domain)
{
	struct session *s, *next;

	for (s = TAILQ_FIRST(&dl->idle); s != NULL; s = next) {
		next = TAILQ_NEXT(s, qentry);
		if (domain == NULL || *domain == '\0' || strcasecmp(s->domain, domain) == 0)
			session_quit(s);
	}
}

void
session_run(struct session *s, struct job *j)
{
	int r;

	s->job = j;
	s->state = SESS_ACTIVE;
	s->command_timeout = j->command_timeout;
	job_session_ready(j, s);
	r = smtpc_begin(s->sc, &j->txn);
	session_flush(s);
	if (r < 0) {
		session_event(s, SMTPC_EV_RETRY);
		return;
	}
	session_event(s, r);
	if (s->state == SESS_ACTIVE)
		session_timer(s, s->command_timeout);
}

static void
session_alloc(uv_handle_t *h, size_t hint, uv_buf_t *ub)
{
	static char rbuf[16384];	/* one loop thread; consumed in session_read */

	(void)h;
	(void)hint;
	*ub = uv_buf_init(rbuf, sizeof rbuf);
}

static void session_lines(struct session *s, const char *p, size_t len);
static void session_tls_handshake(struct session *s);

static void
session_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *ub)
{
	struct session *s = st->data;
	char why[SMTPC_TEXT_MAX], plain[16384];
	ssize_t n;

	if (nread == 0 || s->state == SESS_CLOSING)
		return;
	if (nread < 0) {
		if (nread == UV_EOF)
			snprintf(why, sizeof why, "4.4.2 connection closed by %s [%s]", s->host,
			    s->addr);
		else
			snprintf(why, sizeof why, "4.4.2 connection with %s [%s] broken: %.100s",
			    s->host, s->addr, uv_strerror((int)nread));
		if (s->handshaking) {
			s->handshaking = 0;
			session_tls_failed(s, why + 6);
			return;
		}
		session_lost(s, why);
		return;
	}
	if (s->tls == NULL) {
		session_lines(s, ub->base, (size_t)nread);
		return;
	}
	tls_io_feed(s->tls, ub->base, (size_t)nread);
	if (s->handshaking) {
		session_tls_handshake(s);
		if (s->handshaking || s->state == SESS_CLOSING || s->tls == NULL)
			return;
	}
	while (s->state != SESS_CLOSING) {
		n = tls_io_read(s->tls, plain, sizeof plain);
		session_tls_send(s);
		if (n > 0) {
			session_lines(s, plain, (size_t)n);
			continue;
		}
		if (n == TLS_IO_CLOSED || n == TLS_IO_ERROR) {
			snprintf(why, sizeof why, "4.4.2 TLS session with %s [%s] %s", s->host,
			    s->addr, n == TLS_IO_CLOSED ? "closed by the server" :
			    tls_io_error(s->tls));
			session_lost(s, why);
		}
		break;
	}
}

/* Server lines (plaintext) into the engine. */
static void
session_lines(struct session *s, const char *p, size_t len)
{
	const char *end, *nl;
	char why[SMTPC_TEXT_MAX];

	end = p + len;
	while (p < end && s->state != SESS_CLOSING) {
		size_t n;
		int ev;

		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (buf_append(&s->line, p, n) < 0) {
			snprintf(why, sizeof why, "4.5.0 %s [%s] sent a reply line over %d bytes",
			    s->host, s->addr, REPLY_LINE_MAX);
			session_lost(s, why);
			return;
		}
		p += n;
		if (nl == NULL)
			break;
		p++;
		if (s->line.len > 0 && s->line.data[s->line.len - 1] == '\r')
			s->line.len--;
		ev = smtpc_feed_line(s->sc, s->line.data ? s->line.data : "", s->line.len);
		buf_reset(&s->line);
		session_flush(s);
		session_event(s, ev);
		if (ev == SMTPC_EV_TLS_READY && s->handshaking) {
			/* Whatever came after "220 Ready to start TLS" was sent
			 * before the handshake: never read it as SMTP. */
			if (p < end)
				log_info("DCID %u discarded %zu bytes sent after the reply to "
				    "STARTTLS", s->dcid, (size_t)(end - p));
			return;
		}
	}
	if (s->state == SESS_ACTIVE)
		session_timer(s, s->command_timeout);
}

static void
session_event(struct session *s, int ev)
{
	struct deliver *dl = s->dl;
	struct job *j;
	int keep;

	switch (ev) {
	case SMTPC_EV_NONE:
		break;
	case SMTPC_EV_BODY:
		session_pump_body(s);
		break;
	case SMTPC_EV_DONE:
		keep = smtpc_reusable(s->sc) && !dl->draining && s->idle_reuse > 0 &&
		    s->state == SESS_ACTIVE;
		j = s->job;
		s->job = NULL;
		if (j != NULL)
			job_txn_done(j, s);
		if (s->state != SESS_ACTIVE)
			break;
		if (keep)
			session_make_idle(s);
		else
			session_quit(s);
		break;
	case SMTPC_EV_RETRY:
		j = s->job;
		s->job = NULL;
		session_quit(s);
		if (j != NULL)
			job_txn_retry(j, s);
		break;
	case SMTPC_EV_TLS:
	case SMTPC_EV_TLS_REFUSED:
		session_tls_decide(s, ev);
		break;
	case SMTPC_EV_TLS_READY:
		session_tls_begin(s);
		break;
	case SMTPC_EV_CLOSE:
		if (s->job != NULL) {
			/* Cannot happen: CLOSE comes only without a transaction. */
			j = s->job;
			session_close(s);
			job_abort(j, REASON_CONN, "4.4.2 connection closed");
			break;
		}
		session_close(s);
		break;
	}
}

/* The connection is broken: tell the engine (pending recipients become
 * temporary failures) and close. */
static void
session_lost(struct session *s, const char *why)
{
	if (s->state == SESS_CLOSING)
		return;
	if (s->probe != NULL) {
		probe_line(s->probe, "Connection to %s failed: %s.", s->addr, why);
		probe_line(s->probe, "TLS verification failed.");
		probe_done(s->probe, 0);
		s->probe = NULL;
	}
	if (s->state == SESS_CONNECTING || s->state == SESS_WAIT_DCID) {
		struct job *j = s->job;

		log_info("Connection error: domain %s host %s address %s port %u - %s", s->domain,
		    s->host, s->addr, s->port, why);
		s->job = NULL;
		session_close(s);
		if (j != NULL)
			job_connect_failed(j, s, why);
		return;
	}
	if (s->sc != NULL && s->job != NULL) {
		log_info("DCID %u %s", s->dcid, why);
		session_event(s, smtpc_fail(s->sc, why));
	}
	session_close(s);
}

static void
session_timer_fired(uv_timer_t *t)
{
	struct session *s = t->data;
	char why[SMTPC_TEXT_MAX];

	if (s->failed) {
		s->failed = 0;
		snprintf(why, sizeof why, "4.4.2 cannot write to %s [%s]", s->host, s->addr);
		session_lost(s, why);
		return;
	}
	switch (s->state) {
	case SESS_CONNECTING:
		s->timed_out = 1;
		snprintf(why, sizeof why, "connection timed out after %us", s->dl->connect_timeout);
		session_lost(s, why);
		break;
	case SESS_WAIT_DCID:
		session_lost(s, "no connection id (DCID) from the queue manager");
		break;
	case SESS_ACTIVE:
		snprintf(why, sizeof why, "4.4.2 timeout: no progress with %s [%s] in %us",
		    s->host, s->addr, s->command_timeout);
		session_lost(s, why);
		break;
	case SESS_IDLE:
		log_debug("DCID %u idle for %us; closing", s->dcid, s->idle_reuse);
		session_quit(s);
		break;
	case SESS_QUITTING:
		session_close(s);
		break;
	case SESS_CLOSING:
		break;
	}
}

/* ---- TLS (spec tls-with-other-mtas.md 3.2; the matrix is tls_policy.c) ---- */

/* Logs a TLS failure, keeps it for hoststatus, and for a destination that
 * requires TLS says so loudly (the TLS failure alert of spec 2.5). */
static void
session_tls_report(struct session *s, const struct tls_decision *d)
{
	struct deliver *dl = s->dl;
	char host[DNS_NAME_MAX + DNS_ADDR_TEXT + 8];
	const char *mode = tls_policy_mode_name(s->tls_mode);

	snprintf(host, sizeof host, "%s [%s]", s->host, s->addr);
	log_info("DCID %u TLS failed: domain %s host %s mode %s: %s", s->dcid, s->domain, host,
	    mode, d->reason);
	deliver_tls_error(dl, s->domain, host, mode, d->reason);
	if (d->alert && dl->cfg->tls.alert_on_failure)
		log_warning("TLS negotiation failed for required-TLS destination %s (host %s): "
		    "%s", s->domain, host, d->reason);
}

/* Applies a decision: go on in clear, STARTTLS, deliver over TLS, or
 * deliver nothing here. */
static void
session_tls_apply(struct session *s, const struct tls_decision *d)
{
	char text[SMTPC_TEXT_MAX];
	int ev;

	switch (d->action) {
	case TLS_ACT_STARTTLS:
		if (s->probe != NULL)
			probe_line(s->probe, "Checking TLS connection.");
		if (smtpc_starttls(s->sc) < 0) {
			session_lost(s, "4.7.4 cannot send STARTTLS");
			return;
		}
		session_flush(s);
		return;
	case TLS_ACT_FALLBACK_CLEAR:
		log_info("DCID %u TLS not available from %s [%s]: %s", s->dcid, s->host,
		    s->addr, d->reason);
		/* FALLTHROUGH */
	case TLS_ACT_CLEAR:
		ev = smtpc_tls_skip(s->sc);
		session_flush(s);
		session_event(s, ev);
		return;
	case TLS_ACT_TLS:
		if (d->unverified)
			log_info("DCID %u TLS peer %s [%s] not verified: %s", s->dcid, s->host,
			    s->addr, d->reason);
		smtpc_tls_started(s->sc);
		session_flush(s);
		if (s->probe != NULL) {
			probe_line(s->probe, "TLS connection to %s succeeded.", s->addr);
			probe_line(s->probe, "TLS successfully connected to %s.", s->host);
			probe_line(s->probe, "TLS verification completed.");
			probe_done(s->probe, 1);
			s->probe = NULL;
			session_quit(s);
		}
		return;
	case TLS_ACT_DEFER:
		if (s->probe != NULL) {
			probe_line(s->probe, "TLS connection to %s failed: %s.", s->addr, d->reason);
			probe_line(s->probe, "TLS verification failed.");
			probe_done(s->probe, 0);
			s->probe = NULL;
			if (d->close)	/* after a failed handshake: no QUIT */
				session_close(s);
			else
				session_quit(s);
			return;
		}
		session_tls_report(s, d);
		snprintf(text, sizeof text, "%s TLS %s with %.80s [%s] (mode %s): %.300s", d->status,
		    strcmp(d->status, "4.7.4") == 0 ? "not available" : "failed", s->host,
		    s->addr, tls_policy_mode_name(s->tls_mode), d->reason);
		ev = smtpc_defer(s->sc, text, !d->close);
		session_flush(s);
		session_event(s, ev);
		if (d->close && s->state != SESS_CLOSING)
			session_close(s);
		return;
	}
}

static void
session_tls_decide(struct session *s, int ev)
{
	struct tls_decision d;

	if (ev == SMTPC_EV_TLS && s->dane != NULL && s->dane->running) {
		s->dane_wait = 1;	/* dane_done() decides */
		return;
	}
	if (ev == SMTPC_EV_TLS) {
		s->att.ehlo = smtpc_ehlo_rejected(s->sc) ? TLS_EHLO_REJECTED :
		    (smtpc_extensions(s->sc) & SMTPC_EXT_STARTTLS) ? TLS_EHLO_STARTTLS :
		    TLS_EHLO_NO_STARTTLS;
		if (s->att.dane != TLS_DANE_LOOKUP_FAILED)
			s->att.detail = NULL;
	} else {
		s->att.starttls = TLS_STARTTLS_REFUSED;
		snprintf(s->tls_detail, sizeof s->tls_detail, "%s", smtpc_tls_reply(s->sc));
		s->att.detail = s->tls_detail;
	}
	tls_policy_decide(s->tls_mode, &s->att, &d);
	session_tls_apply(s, &d);
}

/* The server name to send (SNI): a host name, never an address. */
static const char *
sni_name(const char *host)
{
	unsigned char b[16];

	if (host[0] == '[' || inet_pton(AF_INET, host, b) == 1 ||
	    inet_pton(AF_INET6, host, b) == 1)
		return NULL;
	return host;
}

/* 220 to STARTTLS: start the handshake. */
static void
session_tls_begin(struct session *s)
{
	char err[512];
	SSL_CTX *ctx;

	s->att.starttls = TLS_STARTTLS_220;
	ctx = deliver_tls_ctx(s->dl, s->tls_cert, err, sizeof err);
	if (ctx == NULL || (s->tls = tls_io_new(ctx, 0, sni_name(s->host))) == NULL) {
		session_tls_failed(s, ctx == NULL ? err : "cannot start TLS");
		return;
	}
	if (s->tls_mode == TLS_OUT_DANE && s->att.dane == TLS_DANE_USABLE && s->dane != NULL &&
	    dane_apply(tls_io_ssl(s->tls), s->host, &s->dane->r, err, sizeof err) <= 0) {
		/* No record could be added: nothing can authenticate the peer. */
		log_info("DCID %u DANE: %s", s->dcid, err);
		s->att.dane = TLS_DANE_UNUSABLE;
	}
	s->handshaking = 1;
	session_tls_handshake(s);
}

/* The handshake after 220 failed (or the connection broke during it). */
static void
session_tls_failed(struct session *s, const char *why)
{
	struct tls_decision d;

	s->handshaking = 0;
	s->att.handshake = TLS_HANDSHAKE_FAILED;
	snprintf(s->tls_detail, sizeof s->tls_detail, "%s", why);
	if (s->probe != NULL)
		probe_line(s->probe, "TLS handshake failed: %s.", why);
	s->att.detail = s->tls_detail;
	tls_policy_decide(s->tls_mode, &s->att, &d);
	session_tls_apply(s, &d);
	if (s->state != SESS_CLOSING)
		session_close(s);
}

/* Checks the server's certificate: the chain (OpenSSL's verification
 * against the trust store) and the name (tls_name.h rules). */
static void
session_tls_verify(struct session *s)
{
	SSL *ssl = tls_io_ssl(s->tls);
	struct tls_refid refs[2];
	X509 *peer;
	long vr;
	char why[TLS_NAME_WHY_MAX];

	s->att.verify = TLS_VERIFY_FAILED;
	if (s->tls_mode == TLS_OUT_DANE) {
		/* RFC 7672: the TLSA records authenticate the peer. */
		vr = SSL_get_verify_result(ssl);
		if (vr == X509_V_OK && SSL_get0_dane_authority(ssl, NULL, NULL) >= 0) {
			s->att.verify = TLS_VERIFY_OK;
			snprintf(s->tls_detail, sizeof s->tls_detail, "matched a TLSA record");
		} else
			snprintf(s->tls_detail, sizeof s->tls_detail, "no TLSA record matches "
			    "the server's certificate (%s)", X509_verify_cert_error_string(vr));
		return;
	}
	if (s->probe != NULL)
		probe_line(s->probe, "Verifying peer certificate.");
	if ((peer = SSL_get0_peer_certificate(ssl)) == NULL) {
		snprintf(s->tls_detail, sizeof s->tls_detail, "the server sent no certificate");
		return;
	}
	if ((vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
		snprintf(s->tls_detail, sizeof s->tls_detail, "certificate not trusted: %s",
		    X509_verify_cert_error_string(vr));
		if (s->probe != NULL)
			probe_line(s->probe, "Certificate chain not trusted: %s.",
			    X509_verify_cert_error_string(vr));
		return;
	}
	if (s->probe != NULL)
		probe_line(s->probe, "Certificate chain verified.  Verifying certificate names "
		    "against %s and %s.", s->domain, s->host);
	refs[0].name = s->domain;
	refs[0].kind = TLS_REFID_DOMAIN;
	refs[1].name = s->host;
	refs[1].kind = s->host_configured ? TLS_REFID_STATIC : TLS_REFID_MX;
	if (!tls_name_check(peer, refs, 2, s->tls_mode == TLS_OUT_REQUIRED_VERIFY_HOSTED ?
	    TLS_NAME_HOSTED : TLS_NAME_VERIFY, why, sizeof why)) {
		snprintf(s->tls_detail, sizeof s->tls_detail, "certificate name mismatch: %.200s",
		    why);
		if (s->probe != NULL)
			probe_line(s->probe, "TLS certificate name mismatch: %s.", why);
		return;
	}
	s->att.verify = TLS_VERIFY_OK;
	snprintf(s->tls_detail, sizeof s->tls_detail, "%.250s", why);
	if (s->probe != NULL) {
		probe_line(s->probe, "TLS certificate match: %s.", why);
		probe_line(s->probe, "TLS certificate verified.");
	}
}

static void
session_tls_handshake(struct session *s)
{
	struct tls_decision d;
	char version[32], cipher[96], peer[512];
	int r = tls_io_handshake(s->tls);

	session_tls_send(s);
	if (r == TLS_IO_WANT)
		return;
	if (r != TLS_IO_DONE) {
		session_tls_failed(s, tls_io_error(s->tls));
		return;
	}
	s->handshaking = 0;
	s->att.handshake = TLS_HANDSHAKE_OK;
	tls_ctx_describe(tls_io_ssl(s->tls), version, sizeof version, cipher, sizeof cipher,
	    peer, sizeof peer);
	s->att.detail = NULL;
	if (s->probe != NULL)
		probe_line(s->probe, "TLS connection established: protocol %s, cipher %s.",
		    version, cipher);
	if (tls_policy_verifies(s->tls_mode, s->att.dane) ||
	    s->tls_mode == TLS_OUT_PREFERRED_VERIFY) {
		session_tls_verify(s);
		s->att.detail = s->tls_detail;
	}
	log_info("DCID %u TLS success protocol %s cipher %s peer %s verified %s", s->dcid,
	    version, cipher, peer[0] ? peer : "none", s->att.verify == TLS_VERIFY_OK ? "yes" :
	    s->att.verify == TLS_VERIFY_FAILED ? "no" : "not checked");
	tls_policy_decide(s->tls_mode, &s->att, &d);
	session_tls_apply(s, &d);
}

/* Connected and holding a DCID: greet, then run the job. */
static void
session_start(struct session *s, uint32_t dcid)
{
	struct deliver *dl = s->dl;
	char tag[32];

	s->dcid = dcid;
	s->counted = 1;
	dl->nconns++;
	dl->stats.connections++;
	log_info("New SMTP DCID %u interface %s address %s port %u", dcid, s->local, s->addr,
	    s->port);
	snprintf(tag, sizeof tag, "DCID %u", dcid);
	s->sc = smtpc_new(dl->hostname, tag);
	if (s->tls_mode != TLS_OUT_OFF)
		smtpc_tls_hook(s->sc, 1);
	if (uv_read_start((uv_stream_t *)&s->tcp, session_alloc, session_read) != 0) {
		session_lost(s, "4.4.2 cannot read from the connection");
		return;
	}
	if (s->job != NULL)
		session_run(s, s->job);
	else if (s->probe != NULL)
		session_timer(s, s->command_timeout);	/* the greeting, then TLS */
	else
		session_quit(s);
}

void
session_resume_waiting(struct deliver *dl)
{
	struct session *s;
	uint32_t dcid;

	while ((s = TAILQ_FIRST(&dl->wait_dcid)) != NULL) {
		if (deliver_dcid_take(dl, &dcid) < 0)
			return;
		TAILQ_REMOVE(&dl->wait_dcid, s, qentry);
		s->state = SESS_ACTIVE;
		uv_timer_stop(&s->timer);
		session_start(s, dcid);
	}
}

static void
session_connected(uv_connect_t *req, int status)
{
	struct session *s = req->data;
	struct deliver *dl = s->dl;
	struct sockaddr_storage ss;
	int len = sizeof ss;
	uint32_t dcid;

	if (s->state == SESS_CLOSING)
		return;
	if (status < 0) {
		session_lost(s, status == UV_ECONNREFUSED ? "connection refused" :
		    uv_strerror(status));
		return;
	}
	uv_timer_stop(&s->timer);
	snprintf(s->local, sizeof s->local, "?");
	if (uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, s->local,
			    sizeof s->local);
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, s->local,
			    sizeof s->local);
	}
	if (s->probe != NULL)
		probe_line(s->probe, "Connected to %s from interface %s.", s->addr, s->local);
	if (deliver_dcid_take(dl, &dcid) < 0) {
		log_debug("connection to %s [%s] waits for a DCID", s->host, s->addr);
		s->state = SESS_WAIT_DCID;
		TAILQ_INSERT_TAIL(&dl->wait_dcid, s, qentry);
		session_timer(s, s->command_timeout);
		return;
	}
	s->state = SESS_ACTIVE;
	session_start(s, dcid);
}

/* The destination's TLS mode and client certificate (spec 3.2: its own
 * entry, else the "default" entry; the certificate likewise, else
 * tls.outbound.certificate). */
static void
session_tls_setup(struct deliver *dl, struct session *s)
{
	const struct cfg_destination *d = config_destination(dl->cfg, s->domain);
	const struct cfg_destination *dflt = config_destination(dl->cfg, "default");
	const char *cert;

	s->tls_mode = tls_policy_effective(d ? d->tls : TLS_OUT_DEFAULT,
	    dflt ? dflt->tls : TLS_OUT_DEFAULT);
	cert = d && d->certificate ? d->certificate : dflt && dflt->certificate ?
	    dflt->certificate : dl->cfg->tls.outbound.certificate;
	s->tls_cert = cert ? xstrdup(cert) : NULL;
	memset(&s->att, 0, sizeof s->att);
}

static struct session *session_open(struct deliver *dl, const char *domain,
    const struct target_host *h, const struct dns_addr *a, uint32_t connect_timeout,
    uint32_t command_timeout, char *err, size_t errlen);

struct session *
session_connect(struct deliver *dl, struct job *j, const struct target_host *h,
    const struct dns_addr *a, char *err, size_t errlen)
{
	struct session *s = session_open(dl, j->domain, h, a, j->connect_timeout,
	    j->command_timeout, err, errlen);

	if (s == NULL)
		return NULL;
	s->job = j;
	j->sess = s;
	log_debug("MID %u connecting to %s [%s]:%u", j->mid, s->host, s->addr, s->port);
	return s;
}

struct session *
session_probe(struct deliver *dl, struct probe *p, const char *domain,
    const struct target_host *h, const struct dns_addr *a, char *err, size_t errlen)
{
	uint32_t t = dl->connect_timeout < PROBE_TIMEOUT ? dl->connect_timeout : PROBE_TIMEOUT;
	struct session *s = session_open(dl, domain, h, a, t, PROBE_TIMEOUT, err, errlen);

	if (s == NULL)
		return NULL;
	/* The spec: tlsverify checks against the required (verify) settings. */
	s->tls_mode = TLS_OUT_REQUIRED_VERIFY;
	s->probe = p;
	return s;
}

static struct session *
session_open(struct deliver *dl, const char *domain, const struct target_host *h,
    const struct dns_addr *a, uint32_t connect_timeout, uint32_t command_timeout, char *err,
    size_t errlen)
{
	struct session *s = xcalloc(1, sizeof *s);
	struct sockaddr_storage ss;
	int r;

	memset(&ss, 0, sizeof ss);
	if (a->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(h->port);
		memcpy(&sin->sin_addr, a->bytes, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(h->port);
		memcpy(&sin6->sin6_addr, a->bytes, 16);
	}
	s->dl = dl;
	s->dcid = DCID_NONE;
	s->state = SESS_CONNECTING;
	s->command_timeout = command_timeout;
	s->idle_reuse = dl->idle_reuse;
	s->port = h->port;
	snprintf(s->domain, sizeof s->domain, "%s", domain);
	snprintf(s->host, sizeof s->host, "%s", h->name);
	s->host_configured = h->configured;
	s->port = h->port;
	session_tls_setup(dl, s);
	if (s->tls_mode == TLS_OUT_DANE)
		dane_start(dl, s);
	snprintf(s->addr, sizeof s->addr, "%s", a->text);
	buf_init(&s->line, REPLY_LINE_MAX);
	uv_tcp_init(dl->loop, &s->tcp);
	uv_timer_init(dl->loop, &s->timer);
	s->tcp.data = s;
	s->timer.data = s;
	s->creq.data = s;
	s->handles = 2;
	if ((r = uv_tcp_connect(&s->creq, &s->tcp, (struct sockaddr *)&ss, session_connected)) != 0) {
		snprintf(err, errlen, "%s", uv_strerror(r));
		s->state = SESS_CLOSING;
		uv_close((uv_handle_t *)&s->tcp, session_freed);
		uv_close((uv_handle_t *)&s->timer, session_freed);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&dl->sessions, s, entry);
	session_timer(s, connect_timeout);
	return s;
}

void
session_pump_body(struct session *s)
{
	struct job *j = s->job;
	struct deliver *dl = s->dl;

	while (j != NULL && s->state == SESS_ACTIVE && smtpc_wants_body(s->sc) &&
	    s->wpending < BODY_HIGH_WATER) {
		if (!j->first_fed) {
			j->first_fed = 1;
			if (j->first_len > 0) {
				smtpc_body(s->sc, j->first, j->first_len);
				j->fed = j->first_len;
				session_flush(s);
			}
			continue;
		}
		if (j->chunk != NULL) {
			smtpc_body(s->sc, j->chunk, j->chunk_len);
			j->fed += j->chunk_len;
			free(j->chunk);
			j->chunk = NULL;
			j->chunk_len = 0;
			session_flush(s);
			continue;
		}
		if (j->fed >= j->size) {
			smtpc_body_end(s->sc);
			session_flush(s);
			break;
		}
		if (!j->body_req_pending) {
			uint64_t left = j->size - j->fed;

			j->body_req_pending = 1;
			j->req_off = j->fed;
			deliver_send_body_req(dl, j, j->fed,
			    (uint32_t)(left < BODY_CHUNK ? left : BODY_CHUNK));
		}
		break;
	}
}
