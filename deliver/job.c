/*
 * job - one delivery job from qmgr (DMSG_JOB): a message and the
 * recipients of one domain, answered with exactly one DMSG_RESULT.
 *
 * Life of a job:
 *   an idle connection to the domain?   reuse it (RSET first)
 *   else route (route.c): literal / smtp_routes / MX lookup
 *   try the addresses in order: a refused or timed-out connection moves
 *   on to the next; a session that fails for reasons of the host (4xx
 *   banner, 421, lost before ".") moves on with the recipients that are
 *   still temporary; anything else is the answer.
 * Every decision is logged with the spec's mail-log grammar.
 *
 * Not for: sockets and timers (session.c), the SMTP dialogue
 * (smtp_client.c), framing (dispatch.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver.h"
#include "ipc.h"
#include "log.h"
#include "proto.h"
#include "xalloc.h"

#define JOB_STR_MAX	2048

static void job_route(struct job *j);
static void job_next_target(struct job *j);

/* No control characters: they would end an SMTP command early. */
static int
clean_string(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

struct job *
job_new(struct deliver *dl, uint32_t id, const unsigned char *p, size_t len)
{
	struct ipc_rd rd;
	struct job *j = xcalloc(1, sizeof *j);
	const void *first;
	size_t firstlen, i;
	uint32_t n;

	j->dl = dl;
	j->id = id;
	j->dcid = DCID_NONE;
	ipc_rd_init(&rd, p, len);
	j->mid = ipc_get_u32(&rd);
	j->domain = ipc_get_strdup(&rd, DNS_NAME_MAX + 2);
	j->sender = ipc_get_strdup(&rd, JOB_STR_MAX);
	j->flags = ipc_get_u32(&rd);
	j->size = ipc_get_u64(&rd);
	n = ipc_get_u32(&rd);
	if (!ipc_rd_ok(&rd) || n > JOB_MAX_RCPTS)
		goto bad;
	j->nrcpt = n;
	j->rids = xcalloc(n ? n : 1, sizeof *j->rids);
	j->rdcid = xcalloc(n ? n : 1, sizeof *j->rdcid);
	j->rcpts = xcalloc(n ? n : 1, sizeof *j->rcpts);
	for (i = 0; i < n; i++) {
		j->rdcid[i] = DCID_NONE;
		j->rids[i] = ipc_get_u32(&rd);
		j->rcpts[i].addr = ipc_get_strdup(&rd, JOB_STR_MAX);
		if (j->rcpts[i].addr == NULL)
			goto bad;
		j->rcpts[i].active = 1;
	}
	first = ipc_get_bytes(&rd, &firstlen);
	if (first == NULL || !ipc_rd_done(&rd))
		goto bad;
	if (firstlen > 0) {
		j->chunk = NULL;
		j->first = xmalloc(firstlen);
		memcpy(j->first, first, firstlen);
		j->first_len = firstlen;
	}
	if (j->size < firstlen)
		j->size = firstlen;
	j->txn.sender = j->sender;
	j->txn.flags = j->flags;
	j->txn.size = j->size;
	j->txn.rcpts = j->rcpts;
	j->txn.nrcpts = j->nrcpt;
	j->connect_timeout = dl->connect_timeout;
	j->command_timeout = dl->command_timeout;
	j->state = JOB_NEW;
	TAILQ_INSERT_TAIL(&dl->jobs, j, entry);
	dl->njobs++;
	dl->stats.jobs++;
	return j;
bad:
	if (j->rcpts)
		for (i = 0; i < j->nrcpt; i++)
			free((char *)j->rcpts[i].addr);
	free(j->rcpts);
	free(j->rids);
	free(j->rdcid);
	free(j->domain);
	free(j->sender);
	free(j);
	return NULL;
}

static void
job_free(struct job *j)
{
	struct deliver *dl = j->dl;
	size_t i;

	if (j->dnsreq)
		dns_cancel(j->dnsreq);
	if (j->sess)
		session_detach(j->sess);
	TAILQ_REMOVE(&dl->jobs, j, entry);
	dl->njobs--;
	for (i = 0; i < j->nrcpt; i++)
		free((char *)j->rcpts[i].addr);
	free(j->rcpts);
	free(j->prev);
	free(j->rids);
	free(j->rdcid);
	free(j->domain);
	free(j->sender);
	free(j->hosts);
	free(j->first);
	free(j->chunk);
	free(j);
	deliver_check_drained(dl);
}

/* "0, 1, 2" of the recipients with this status (0: all active). */
static void
rid_list(const struct job *j, int status, struct buf *b)
{
	size_t i;
	int any = 0;

	buf_reset(b);
	for (i = 0; i < j->nrcpt; i++) {
		if (status ? j->rcpts[i].status != status : !j->rcpts[i].active)
			continue;
		buf_printf(b, "%s%u", any ? ", " : "", j->rids[i]);
		any = 1;
	}
	if (!any)
		buf_puts(b, "");
}

static void
log_results(const struct job *j)
{
	char dcid[32], safe[SMTPC_TEXT_MAX * 2];
	const char *resp;
	struct buf b;
	size_t i;

	dcid[0] = '\0';
	if (j->dcid != DCID_NONE)
		snprintf(dcid, sizeof dcid, "DCID %u ", j->dcid);
	buf_init(&b, 0);
	rid_list(j, 2, &b);
	if (b.len > 0) {
		log_info("Message done %sMID %u to RID [%s]", dcid, j->mid, b.data);
		/* The spec logs the reply's text, without the code. */
		resp = j->final;
		if (strlen(resp) > 4 && resp[3] == ' ')
			resp += 4;
		log_info("MID %u RID [%s] Response '%s'", j->mid, b.data,
		    log_safe(resp, safe, sizeof safe));
	}
	buf_free(&b);
	for (i = 0; i < j->nrcpt; i++) {
		const struct smtpc_rcpt *r = &j->rcpts[i];

		if (r->status != 4 && r->status != 5)
			continue;
		dcid[0] = '\0';
		if (j->rdcid[i] != DCID_NONE)
			snprintf(dcid, sizeof dcid, "DCID %u ", j->rdcid[i]);
		log_info("%s: %sMID %u to RID %u - %s", r->status == 4 ? "Delayed" : "Bounced",
		    dcid, j->mid, j->rids[i], log_safe(r->text, safe, sizeof safe));
	}
}

void
job_finish(struct job *j)
{
	size_t i;

	if (j->abandoned) {
		log_info("MID %u delivery job %u dropped: the queue manager went away "
		    "(it retries the message)", j->mid, j->id);
		job_free(j);
		return;
	}
	for (i = 0; i < j->nrcpt; i++) {
		struct smtpc_rcpt *r = &j->rcpts[i];

		if (r->status != 2 && r->status != 4 && r->status != 5) {
			r->status = 4;
			r->reason = REASON_OTHER;
			snprintf(r->text, sizeof r->text, "4.3.0 delivery not completed");
		}
	}
	j->state = JOB_DONE;
	log_results(j);
	deliver_send_result(j->dl, j);
	job_free(j);
}

/* Every recipient not decided yet gets this outcome. */
static void
settle(struct job *j, int status, int reason, const char *text)
{
	size_t i;

	for (i = 0; i < j->nrcpt; i++) {
		struct smtpc_rcpt *r = &j->rcpts[i];

		if (r->status == 0) {
			r->status = status;
			r->reason = reason;
			snprintf(r->text, sizeof r->text, "%s", text);
		}
	}
}

void
job_abort(struct job *j, int reason, const char *text)
{
	if (j->dnsreq) {
		dns_cancel(j->dnsreq);
		j->dnsreq = NULL;
	}
	if (j->sess) {
		size_t i;

		for (i = 0; i < j->nrcpt; i++)
			if (j->rcpts[i].active && j->rcpts[i].status == 0)
				j->rdcid[i] = j->sess->dcid;
		session_detach(j->sess);
	}
	settle(j, 4, reason, text);
	job_finish(j);
}

void
job_abandon(struct job *j)
{
	j->abandoned = 1;
	if (j->dnsreq) {
		dns_cancel(j->dnsreq);
		j->dnsreq = NULL;
	}
	/* After "." the message may already be delivered: read the answer
	 * (and log it) rather than cut the connection. */
	if (j->sess && j->sess->state == SESS_ACTIVE && j->sess->sc &&
	    smtpc_dot_sent(j->sess->sc) && !smtpc_idle(j->sess->sc))
		return;
	job_finish(j);
}

static void
job_fail_all(struct job *j, int status, int reason, const char *text)
{
	settle(j, status, reason, text);
	job_finish(j);
}

void
job_start(struct job *j)
{
	struct deliver *dl = j->dl;
	char safe[JOB_STR_MAX];
	struct session *s;
	size_t i, usable = 0;

	if (dl->draining) {
		log_info("MID %u delivery job %u refused: shutting down", j->mid, j->id);
		job_fail_all(j, 4, REASON_OTHER, "4.3.2 shutting down");
		return;
	}
	if (!clean_string(j->domain) || !clean_string(j->sender) || j->domain[0] == '\0') {
		log_warning("MID %u delivery job %u: invalid domain or sender '%s'", j->mid, j->id,
		    log_safe(j->sender, safe, sizeof safe));
		job_fail_all(j, 5, REASON_OTHER, "5.1.7 invalid sender or domain in the queue");
		return;
	}
	for (i = 0; i < j->nrcpt; i++) {
		struct smtpc_rcpt *r = &j->rcpts[i];

		if (!clean_string(r->addr) || r->addr[0] == '\0') {
			r->active = 0;
			r->status = 5;
			r->reason = REASON_OTHER;
			snprintf(r->text, sizeof r->text, "5.1.3 invalid recipient address");
		} else
			usable++;
	}
	if (usable == 0) {
		job_finish(j);
		return;
	}
	if ((s = session_take_idle(dl, j->domain)) != NULL) {
		log_info("DCID %u reused for MID %u (domain %s)", s->dcid, j->mid, j->domain);
		dl->stats.reused++;
		session_run(s, j);
		return;
	}
	job_route(j);
}

static void
job_mx_done(const struct dns_result *res, void *arg)
{
	struct job *j = arg;
	struct deliver *dl = j->dl;
	char text[SMTPC_TEXT_MAX], safe[DNS_ERR_MAX * 2];
	struct buf b;
	size_t i;

	j->dnsreq = NULL;
	log_safe(res->error, safe, sizeof safe);
	switch (res->status) {
	case DNS_OK:
		route_from_mx(res, dl->smtp_port, NULL, NULL, &j->hosts, &j->nhosts);
		buf_init(&b, 0);
		for (i = 0; i < j->nhosts; i++)
			buf_printf(&b, "%s%s(%u)", i ? " " : "", j->hosts[i].name,
			    j->hosts[i].pref);
		{
			char *hl = xmalloc(b.len * 4 + 8);

			log_info("MID %u domain %s %s: %s", j->mid, j->domain,
			    res->implicit_mx ? "has no MX, using its address" : "MX",
			    log_safe(b.data ? b.data : "", hl, (unsigned)(b.len * 4 + 8)));
			free(hl);
		}
		buf_free(&b);
		j->hi = j->ai = 0;
		job_next_target(j);
		return;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
	case DNS_NULLMX:
		dl->stats.dns_failures++;
		log_info("DNS hard error for MID %u domain %s: %s", j->mid, j->domain, safe);
		snprintf(text, sizeof text, "%s %s", res->status == DNS_NULLMX ? "5.1.10" :
		    res->status == DNS_NXDOMAIN ? "5.1.2" : "5.4.4", res->error);
		job_fail_all(j, 5, REASON_DNS, text);
		return;
	case DNS_TEMPFAIL:
		dl->stats.dns_failures++;
		log_info("DNS temporary failure for MID %u domain %s: %s", j->mid, j->domain, safe);
		snprintf(text, sizeof text, "4.4.3 %s", res->error);
		job_fail_all(j, 4, REASON_DNS, text);
		return;
	}
}

/* Routing from scratch (first try, or after a reused connection failed). */
static void
job_route(struct job *j)
{
	struct deliver *dl = j->dl;
	char err[256];
	int r;

	free(j->hosts);
	j->hosts = NULL;
	j->nhosts = j->hi = j->ai = 0;
	r = route_static(dl->cfg, j->domain, &j->hosts, &j->nhosts, err, sizeof err);
	if (r < 0) {
		log_info("MID %u domain %s: %s", j->mid, j->domain, err);
		job_fail_all(j, 5, REASON_OTHER, err);
		return;
	}
	if (r > 0) {
		log_debug("MID %u domain %s: %zu host(s) from smtp_routes", j->mid, j->domain,
		    j->nhosts);
		job_next_target(j);
		return;
	}
	j->state = JOB_DNS;
	j->dnsreq = dns_lookup(dl->dns, DNS_KIND_MX, j->domain, job_mx_done, j);
}

static void
job_host_done(const struct dns_result *res, void *arg)
{
	struct job *j = arg;
	struct target_host *h = &j->hosts[j->hi];
	char safe[DNS_ERR_MAX * 2];

	j->dnsreq = NULL;
	route_set_addrs(h, res);
	if (res->status != DNS_OK) {
		log_info("DNS %s for MID %u host %s: %s", res->status == DNS_TEMPFAIL ?
		    "temporary failure" : "hard error", j->mid, h->name,
		    log_safe(res->error, safe, sizeof safe));
		snprintf(j->dns_error, sizeof j->dns_error, "%s", res->error);
	}
	job_next_target(j);
}

/* No address left to try: what the recipients still pending get. */
static void
job_exhausted(struct job *j)
{
	char text[SMTPC_TEXT_MAX];
	size_t i;
	int reason;

	if (j->conn_error[0]) {
		snprintf(text, sizeof text, "%s", j->conn_error);
		reason = REASON_CONN;
	} else if (j->dns_error[0]) {
		snprintf(text, sizeof text, "4.4.3 %s", j->dns_error);
		reason = REASON_DNS;
	} else {
		snprintf(text, sizeof text, "4.4.0 no host to deliver to");
		reason = REASON_OTHER;
	}
	log_info("MID %u domain %s: no more hosts to try (%s)", j->mid, j->domain, text);
	for (i = 0; i < j->nrcpt; i++) {
		struct smtpc_rcpt *r = &j->rcpts[i];

		if (r->status != 0)
			continue;
		/* A real answer from an earlier host says more than a refused
		 * connection to a later one. */
		if (j->prev != NULL && j->prev[i].status == 4) {
			r->status = 4;
			r->reason = j->prev[i].reason;
			snprintf(r->text, sizeof r->text, "%s", j->prev[i].text);
		} else {
			r->status = 4;
			r->reason = reason;
			snprintf(r->text, sizeof r->text, "%s", text);
		}
	}
	job_finish(j);
}

static void
job_next_target(struct job *j)
{
	struct deliver *dl = j->dl;
	char err[256];

	for (;;) {
		struct target_host *h;
		const struct dns_addr *a;

		if (j->hi >= j->nhosts || j->attempts >= JOB_MAX_ATTEMPTS ||
		    j->sessions >= JOB_MAX_SESSIONS) {
			job_exhausted(j);
			return;
		}
		h = &j->hosts[j->hi];
		if (!h->resolved) {
			j->state = JOB_DNS;
			j->dnsreq = dns_lookup(dl->dns, DNS_KIND_ADDR, h->name, job_host_done, j);
			return;
		}
		if (j->ai >= h->naddrs) {
			if (h->naddrs == 0)
				log_info("MID %u host %s has no address (%s); skipped", j->mid,
				    h->name, dns_status_str(h->status));
			j->hi++;
			j->ai = 0;
			continue;
		}
		a = &h->addrs[j->ai++];
		j->attempts++;
		j->state = JOB_CONNECTING;
		if (session_connect(dl, j, h, a, err, sizeof err) != NULL)
			return;
		log_info("Connection error: MID %u domain %s host %s address %s port %u - %s",
		    j->mid, j->domain, h->name, a->text, h->port, err);
		snprintf(j->conn_error, sizeof j->conn_error, "4.4.1 %.255s: %.200s", h->name, err);
	}
}

void
job_connect_failed(struct job *j, struct session *s, const char *why)
{
	j->sess = NULL;
	snprintf(j->conn_error, sizeof j->conn_error, "4.4.1 %.255s [%s]:%u: %.150s", s->host, s->addr,
	    s->port, why);
	if (j->abandoned) {
		job_finish(j);
		return;
	}
	job_next_target(j);
}

void
job_session_ready(struct job *j, struct session *s)
{
	struct buf b;

	j->state = JOB_SMTP;
	j->sess = s;
	j->dcid = s->dcid;
	j->sessions++;
	snprintf(j->result_host, sizeof j->result_host, "%s [%s]:%u", s->host, s->addr, s->port);
	/* Each attempt sends the body from the start. */
	j->fed = 0;
	j->first_fed = 0;
	free(j->chunk);
	j->chunk = NULL;
	j->chunk_len = 0;
	j->final[0] = '\0';
	buf_init(&b, 0);
	rid_list(j, 0, &b);
	log_info("Delivery start DCID %u MID %u to RID [%s]", s->dcid, j->mid,
	    b.data ? b.data : "");
	buf_free(&b);
}

static int
job_has_next(const struct job *j)
{
	size_t hi = j->hi, ai = j->ai;

	if (j->hosts == NULL)
		return 1;	/* came by reuse: routing is still possible */
	if (j->attempts >= JOB_MAX_ATTEMPTS || j->sessions >= JOB_MAX_SESSIONS)
		return 0;
	for (; hi < j->nhosts; hi++, ai = 0)
		if (!j->hosts[hi].resolved || ai < j->hosts[hi].naddrs)
			return 1;
	return 0;
}

void
job_txn_done(struct job *j, struct session *s)
{
	char safe[SMTPC_TEXT_MAX * 2];
	size_t i;
	int retry = 0;

	j->sess = NULL;
	snprintf(j->final, sizeof j->final, "%s", smtpc_final_reply(s->sc));
	for (i = 0; i < j->nrcpt; i++)
		if (j->rcpts[i].active)
			j->rdcid[i] = s->dcid;
	if (j->abandoned) {
		/* What the server said is a fact worth a log line, even if
		 * nobody waits for the result any more. */
		log_results(j);
		job_finish(j);
		return;
	}
	if (smtpc_try_next(s->sc)) {
		for (i = 0; i < j->nrcpt; i++)
			if (j->rcpts[i].active && j->rcpts[i].status == 4)
				retry = 1;
	}
	if (retry && !j->dl->draining && job_has_next(j)) {
		const char *why = "";

		if (j->prev == NULL)
			j->prev = xcalloc(j->nrcpt, sizeof *j->prev);
		for (i = 0; i < j->nrcpt; i++) {
			struct smtpc_rcpt *r = &j->rcpts[i];

			if (r->active && r->status == 4) {
				j->prev[i] = *r;
				if (!*why)
					why = j->prev[i].text;
				r->status = 0;
				r->accepted = 0;
				r->text[0] = '\0';
			} else
				r->active = 0;
		}
		log_info("DCID %u MID %u host %s failed (%s); trying the next host", s->dcid,
		    j->mid, s->host, log_safe(why, safe, sizeof safe));
		j->dcid = DCID_NONE;
		if (j->hosts == NULL) {
			j->reused_failed = 1;
			job_route(j);
		} else
			job_next_target(j);
		return;
	}
	job_finish(j);
}

void
job_txn_retry(struct job *j, struct session *s)
{
	j->sess = NULL;
	j->dcid = DCID_NONE;
	log_info("DCID %u reused connection for MID %u is gone; connecting again", s->dcid,
	    j->mid);
	if (j->abandoned) {
		job_finish(j);
		return;
	}
	j->reused_failed = 1;
	job_route(j);
}

void
job_body(struct job *j, uint64_t off, const void *data, size_t len)
{
	uint64_t left;

	if (!j->body_req_pending || off != j->req_off) {
		log_warning("MID %u delivery job %u: unexpected body data at %llu", j->mid, j->id,
		    (unsigned long long)off);
		return;
	}
	j->body_req_pending = 0;
	/* An answer to a request of an earlier attempt: not wanted now. */
	if (j->sess == NULL || j->sess->sc == NULL || !smtpc_wants_body(j->sess->sc) ||
	    off != j->fed || j->chunk != NULL) {
		job_pump_body(j);
		return;
	}
	if (len == 0) {
		log_warning("MID %u: the queue has no body data at %llu of %llu", j->mid,
		    (unsigned long long)off, (unsigned long long)j->size);
		job_abort(j, REASON_OTHER, "4.3.0 message body could not be read from the queue");
		return;
	}
	left = j->size - j->fed;
	if (len > left)
		len = (size_t)left;
	j->chunk = xmalloc(len ? len : 1);
	memcpy(j->chunk, data, len);
	j->chunk_len = len;
	job_pump_body(j);
}

void
job_pump_body(struct job *j)
{
	if (j->sess != NULL)
		session_pump_body(j->sess);
}
