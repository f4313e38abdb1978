/*
 * dispatch - the deliver process: what master and qmgr can ask of it,
 * one switch each, and the process-wide state around the jobs.
 *
 *   master: IMSG_PEER (the qmgr channel arrives, or arrives again after
 *           qmgr restarted), IMSG_DRAIN, IMSG_CTL ("connections")
 *   qmgr:   DMSG_JOB, DMSG_BODY, DMSG_FLUSH, QMSG_IDS (DCID blocks)
 *
 * When the qmgr channel closes, running jobs are abandoned: qmgr requeues
 * them itself, so no result is owed; their connections end cleanly.
 *
 * Not for: the delivery of one job (job.c), connections (session.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "deliver.h"
#include "ipc.h"
#include "log.h"
#include "proto.h"
#include "dane.h"
#include "tls_ctx.h"
#include "xalloc.h"

#define DRAIN_POLL_MS	20
#define DRAIN_POLL_MAX	250	/* x DRAIN_POLL_MS: wait for results to go out */

static void tls_ctx_clear(struct deliver *);

void
deliver_apply_config(struct deliver *dl, const struct config *cfg)
{
	/* A reload may change routes: idle connections made under the old
	 * ones are not reused. */
	if (dl->cfg != NULL && dl->cfg != cfg)
		session_close_idle(dl, NULL);
	if (dl->cfg != cfg)
		tls_ctx_clear(dl);
	dl->cfg = cfg;
	free(dl->hostname);
	dl->hostname = xstrdup(cfg->hostname && *cfg->hostname ? cfg->hostname : "localhost");
	dl->connect_timeout = cfg->deliver.connect_timeout ? cfg->deliver.connect_timeout : 30;
	dl->command_timeout = cfg->deliver.command_timeout ? cfg->deliver.command_timeout : 300;
	dl->idle_reuse = cfg->deliver.idle_reuse;
	dl->dns_timeout = cfg->deliver.dns_timeout ? cfg->deliver.dns_timeout : 20;
	if (dl->dns != NULL)
		dns_ctx_set_timeout(dl->dns, dl->dns_timeout);
}

/* Contexts of the old config go (sessions keep theirs: SSL holds a
 * reference). */
static void
tls_ctx_clear(struct deliver *dl)
{
	size_t i;

	for (i = 0; i < dl->ntlsctx; i++) {
		free(dl->tlsctx[i].name);
		SSL_CTX_free(dl->tlsctx[i].ctx);
	}
	free(dl->tlsctx);
	dl->tlsctx = NULL;
	dl->ntlsctx = 0;
}

SSL_CTX *
deliver_tls_ctx(struct deliver *dl, const char *cert, char *err, size_t errlen)
{
	const char *key = cert != NULL ? cert : "";
	SSL_CTX *ctx;
	size_t i;

	for (i = 0; i < dl->ntlsctx; i++)
		if (strcmp(dl->tlsctx[i].name, key) == 0)
			return dl->tlsctx[i].ctx;
	if ((ctx = tls_ctx_client(dl->cfg, cert, err, errlen)) == NULL)
		return NULL;
	if (dane_ctx_enable(ctx) < 0)
		log_warning("TLS client context: DANE support unavailable");
	dl->tlsctx = xrealloc(dl->tlsctx, (dl->ntlsctx + 1) * sizeof *dl->tlsctx);
	dl->tlsctx[dl->ntlsctx].name = xstrdup(key);
	dl->tlsctx[dl->ntlsctx].ctx = ctx;
	dl->ntlsctx++;
	return ctx;
}

void
deliver_tls_error(struct deliver *dl, const char *domain, const char *host, const char *mode,
    const char *text)
{
	struct buf b;
	size_t start;

	if (dl->qmgr == NULL)
		return;
	buf_init(&b, 0);
	start = ipc_msg_begin(&b, DMSG_TLS_ERROR, 0);
	ipc_put_str(&b, domain);
	ipc_put_str(&b, host);
	ipc_put_str(&b, mode);
	ipc_put_str(&b, text);
	if (ipc_msg_end(&b, start) == 0)
		ipc_conn_send(dl->qmgr, &b);
	buf_free(&b);
}

void
deliver_init(struct deliver *dl, uv_loop_t *loop, const struct config *cfg,
    struct dns_resolver *r)
{
	memset(dl, 0, sizeof *dl);
	dl->loop = loop;
	dl->resolver = r;
	dl->smtp_port = 25;
	TAILQ_INIT(&dl->jobs);
	TAILQ_INIT(&dl->sessions);
	TAILQ_INIT(&dl->idle);
	TAILQ_INIT(&dl->wait_dcid);
	deliver_apply_config(dl, cfg);
	dl->dns = dns_ctx_new(loop, r, dl->dns_timeout);
	uv_timer_init(loop, &dl->drain_timer);
	dl->drain_timer.data = dl;
}

/* ---- DCIDs ---- */

static uint32_t
dcid_left(const struct deliver *dl)
{
	uint32_t n = 0;
	int i;

	for (i = 0; i < dl->ids.nblocks; i++)
		n += dl->ids.count[i];
	return n;
}

static void
dcid_refill(struct deliver *dl)
{
	struct buf b;
	size_t start;

	if (dl->qmgr == NULL || dl->ids.requested || dcid_left(dl) >= DCID_BLOCK / 4 ||
	    dl->ids.nblocks >= DCID_MAX_BLOCKS)
		return;
	buf_init(&b, 0);
	start = ipc_msg_begin(&b, QMSG_IDS_REQ, ++dl->ids.reqid);
	ipc_put_u32(&b, ID_DCID);
	ipc_put_u32(&b, DCID_BLOCK);
	ipc_msg_end(&b, start);
	if (ipc_conn_send(dl->qmgr, &b) == 0)
		dl->ids.requested = 1;
	buf_free(&b);
}

int
deliver_dcid_take(struct deliver *dl, uint32_t *dcid)
{
	while (dl->ids.nblocks > 0 && dl->ids.count[0] == 0) {
		memmove(dl->ids.first, dl->ids.first + 1,
		    (size_t)(dl->ids.nblocks - 1) * sizeof dl->ids.first[0]);
		memmove(dl->ids.count, dl->ids.count + 1,
		    (size_t)(dl->ids.nblocks - 1) * sizeof dl->ids.count[0]);
		dl->ids.nblocks--;
	}
	if (dl->ids.nblocks == 0) {
		dcid_refill(dl);
		return -1;
	}
	*dcid = dl->ids.first[0]++;
	dl->ids.count[0]--;
	dcid_refill(dl);
	return 0;
}

static void
dcid_block(struct deliver *dl, const unsigned char *p, size_t len)
{
	struct ipc_rd rd;
	uint32_t kind, first, count;

	ipc_rd_init(&rd, p, len);
	kind = ipc_get_u32(&rd);
	first = ipc_get_u32(&rd);
	count = ipc_get_u32(&rd);
	if (!ipc_rd_done(&rd) || kind != ID_DCID) {
		log_warning("malformed id block from qmgr");
		return;
	}
	dl->ids.requested = 0;
	if (count == 0 || dl->ids.nblocks >= DCID_MAX_BLOCKS)
		return;
	dl->ids.first[dl->ids.nblocks] = first;
	dl->ids.count[dl->ids.nblocks] = count;
	dl->ids.nblocks++;
	session_resume_waiting(dl);
}

/* ---- to qmgr ---- */

/* The DNS cache counters of dnsstatus, as increments since the last
 * report: qmgr keeps them (Reset, Uptime, persisted Lifetime). */
static void
report_dns_counters(struct deliver *dl)
{
	static const char *const names[6] = { "DNS Requests", "Network Requests", "Cache Hits",
	    "Cache Misses", "Cache Exceptions", "Cache Expired" };
	struct dns_stats st;
	uint64_t now[6];
	struct buf b;
	size_t start;
	int k;

	if (dl->qmgr == NULL || dl->dns == NULL)
		return;
	dns_get_stats(dl->dns, &st);
	now[0] = st.lookups;
	now[1] = st.queries;
	now[2] = st.cache_hits;
	now[3] = st.cache_misses;
	now[4] = st.cache_negative;
	now[5] = st.cache_expired;
	buf_init(&b, 0);
	for (k = 0; k < 6; k++) {
		if (now[k] <= dl->dns_reported[k])
			continue;
		start = ipc_msg_begin(&b, QMSG_COUNTER, 0);
		ipc_put_str(&b, names[k]);
		ipc_put_u64(&b, now[k] - dl->dns_reported[k]);
		ipc_msg_end(&b, start);
		dl->dns_reported[k] = now[k];
	}
	if (b.len)
		ipc_conn_send(dl->qmgr, &b);
	buf_free(&b);
}

void
deliver_send_result(struct deliver *dl, struct job *j)
{
	struct buf b;
	size_t start, i;

	if (dl->qmgr == NULL)
		return;
	buf_init(&b, 0);
	start = ipc_msg_begin(&b, DMSG_RESULT, j->id);
	ipc_put_u32(&b, j->dcid);
	ipc_put_str(&b, j->dcid != DCID_NONE ? j->result_host : "");
	ipc_put_u32(&b, (uint32_t)j->nrcpt);
	for (i = 0; i < j->nrcpt; i++) {
		ipc_put_u32(&b, j->rids[i]);
		ipc_put_u32(&b, (uint32_t)j->rcpts[i].status);
		ipc_put_u32(&b, (uint32_t)j->rcpts[i].reason);
		ipc_put_str(&b, j->rcpts[i].text);
	}
	if (ipc_msg_end(&b, start) < 0)
		log_crit("MID %u: result too large for one frame", j->mid);
	else
		ipc_conn_send(dl->qmgr, &b);
	buf_free(&b);
	dl->stats.results++;
	report_dns_counters(dl);
}

void
deliver_send_body_req(struct deliver *dl, struct job *j, uint64_t off, uint32_t max)
{
	struct buf b;
	size_t start;

	if (dl->qmgr == NULL)
		return;
	buf_init(&b, 0);
	start = ipc_msg_begin(&b, DMSG_BODY_REQ, j->id);
	ipc_put_u64(&b, off);
	ipc_put_u32(&b, max);
	ipc_msg_end(&b, start);
	ipc_conn_send(dl->qmgr, &b);
	buf_free(&b);
}

/* A job frame we cannot read: an empty result makes qmgr retry it. */
static void
send_empty_result(struct deliver *dl, uint32_t id)
{
	struct buf b;
	size_t start;

	buf_init(&b, 0);
	start = ipc_msg_begin(&b, DMSG_RESULT, id);
	ipc_put_u32(&b, DCID_NONE);
	ipc_put_str(&b, "");
	ipc_put_u32(&b, 0);
	ipc_msg_end(&b, start);
	ipc_conn_send(dl->qmgr, &b);
	buf_free(&b);
}

static struct job *
job_by_id(struct deliver *dl, uint32_t id)
{
	struct job *j;

	TAILQ_FOREACH(j, &dl->jobs, entry)
		if (j->id == id && !j->abandoned)
			return j;
	return NULL;
}

/* ---- from qmgr ---- */

static void
qmgr_frame(struct ipc_conn *c, const struct ipc_hdr *hdr, const unsigned char *p, void *arg)
{
	struct deliver *dl = arg;
	struct ipc_rd rd;
	struct job *j;

	if (dl == NULL || c != dl->qmgr)
		return;
	switch (hdr->type) {
	case DMSG_JOB:
		if (job_by_id(dl, hdr->reqid) != NULL) {
			log_warning("qmgr sent job %u twice; ignored", hdr->reqid);
			break;
		}
		if ((j = job_new(dl, hdr->reqid, p, hdr->len)) == NULL) {
			log_warning("malformed delivery job %u from qmgr", hdr->reqid);
			send_empty_result(dl, hdr->reqid);
			break;
		}
		job_start(j);
		break;
	case DMSG_BODY: {
		uint64_t off;
		const void *data;
		size_t len;

		ipc_rd_init(&rd, p, hdr->len);
		off = ipc_get_u64(&rd);
		data = ipc_get_bytes(&rd, &len);
		if (data == NULL || !ipc_rd_done(&rd)) {
			log_warning("malformed body frame for job %u", hdr->reqid);
			break;
		}
		if ((j = job_by_id(dl, hdr->reqid)) != NULL)
			job_body(j, off, data, len);
		break;
	}
	case DMSG_FLUSH: {
		char domain[DNS_NAME_MAX + 1];

		ipc_rd_init(&rd, p, hdr->len);
		if (ipc_get_strbuf(&rd, domain, sizeof domain) < 0 || !ipc_rd_done(&rd)) {
			log_warning("malformed flush request from qmgr");
			break;
		}
		deliver_flush(dl, domain);
		break;
	}
	case DMSG_ABORT: {
		char domain[DNS_NAME_MAX + 1];
		struct job *next;
		size_t n = 0;

		ipc_rd_init(&rd, p, hdr->len);
		if (ipc_get_strbuf(&rd, domain, sizeof domain) < 0 || !ipc_rd_done(&rd)) {
			log_warning("malformed abort request from qmgr");
			break;
		}
		for (j = TAILQ_FIRST(&dl->jobs); j != NULL; j = next) {
			next = TAILQ_NEXT(j, entry);
			if (j->abandoned || (domain[0] != '\0' && strcasecmp(j->domain, domain) != 0))
				continue;
			job_abort(j, REASON_CONN, "4.4.2 delivery interrupted: delivery suspended");
			n++;
		}
		log_info("delivery suspended for %s: %zu delivery(ies) interrupted",
		    domain[0] ? domain : "all domains", n);
		deliver_flush(dl, domain);
		break;
	}
	case QMSG_IDS:
		dcid_block(dl, p, hdr->len);
		break;
	default:
		log_warning("unexpected message type %u from qmgr", hdr->type);
		break;
	}
}

static void
abandon_jobs(struct deliver *dl)
{
	struct job *j, *next;

	for (j = TAILQ_FIRST(&dl->jobs); j != NULL; j = next) {
		next = TAILQ_NEXT(j, entry);
		if (!j->abandoned)
			job_abandon(j);
	}
}

static void
qmgr_closed(struct ipc_conn *c, void *arg)
{
	struct deliver *dl = arg;

	if (dl == NULL || dl->qmgr != c)
		return;
	dl->qmgr = NULL;
	dl->ids.requested = 0;
	log_info("qmgr channel closed: abandoning %zu running job(s); qmgr retries them",
	    dl->njobs);
	abandon_jobs(dl);
	deliver_check_drained(dl);
}

int
deliver_qmgr_attach(struct deliver *dl, int fd)
{
	struct ipc_conn *c;

	if (dl->qmgr != NULL) {
		struct ipc_conn *old = dl->qmgr;

		log_info("new qmgr channel replaces the old one");
		dl->qmgr = NULL;
		ipc_conn_set_arg(old, NULL);
		ipc_conn_close(old);
		abandon_jobs(dl);
	}
	if ((c = ipc_conn_open(dl->loop, fd, qmgr_frame, qmgr_closed, dl)) == NULL) {
		log_warning("cannot open the qmgr channel");
		close(fd);
		return -1;
	}
	dl->qmgr = c;
	dl->ids.requested = 0;
	log_info("qmgr channel open");
	dcid_refill(dl);
	return 0;
}

/* ---- flush, drain, control ---- */

void
deliver_flush(struct deliver *dl, const char *domain)
{
	log_info("flush %s: idle connections closed, cached DNS answers forgotten",
	    domain && *domain ? domain : "all domains");
	session_close_idle(dl, domain);
	dns_flush(dl->dns, domain);
}

static void
drain_poll(uv_timer_t *t)
{
	struct deliver *dl = t->data;

	if (dl->qmgr != NULL && ipc_conn_write_queue(dl->qmgr) > 0 &&
	    ++dl->drain_polls < DRAIN_POLL_MAX)
		return;
	uv_timer_stop(t);
	log_info("drained: exiting");
	if (dl->on_drained)
		dl->on_drained(dl);
}

void
deliver_check_drained(struct deliver *dl)
{
	if (!dl->draining || dl->drain_final || dl->njobs > 0 || !TAILQ_EMPTY(&dl->sessions))
		return;
	dl->drain_final = 1;
	uv_timer_start(&dl->drain_timer, drain_poll, 0, DRAIN_POLL_MS);
}

static void
drain_deadline(uv_timer_t *t)
{
	struct deliver *dl = t->data;
	struct session *s;
	struct job *j, *next;

	log_info("drain deadline reached: interrupting %zu job(s)", dl->njobs);
	for (j = TAILQ_FIRST(&dl->jobs); j != NULL; j = next) {
		next = TAILQ_NEXT(j, entry);
		if (j->abandoned)
			job_finish(j);
		else
			job_abort(j, REASON_OTHER, "4.3.2 delivery interrupted: shutting down");
	}
	while ((s = TAILQ_FIRST(&dl->sessions)) != NULL)
		session_close(s);
	deliver_check_drained(dl);
}

void
deliver_drain(struct deliver *dl, uint32_t seconds)
{
	if (dl->draining)
		return;
	dl->draining = 1;
	log_info("draining: no new jobs, %zu running, %u s to finish", dl->njobs, seconds);
	session_close_idle(dl, NULL);
	uv_timer_start(&dl->drain_timer, drain_deadline, (uint64_t)seconds * 1000, 0);
	deliver_check_drained(dl);
}

/* TTL left, as hoststatus shows it ("52m24s"). */
static void
ttl_text(uint64_t secs, char *out, size_t len)
{
	if (secs >= 3600)
		snprintf(out, len, "%lluh%llum%llus", (unsigned long long)(secs / 3600),
		    (unsigned long long)(secs / 60 % 60), (unsigned long long)(secs % 60));
	else
		snprintf(out, len, "%llum%llus", (unsigned long long)(secs / 60),
		    (unsigned long long)(secs % 60));
}

/* hoststatus: this deliver's connections to the domain, what its DNS
 * cache holds for it (MX hosts, their addresses by preference, when they
 * expire) and the SMTP route configured for it. */
static void
hoststatus_dns(struct deliver *dl, const char *domain, struct ctl_reply *r)
{
	const struct cfg_route *rt = config_route(dl->cfg, domain);
	struct dns_result res;
	struct session *s;
	uint64_t left;
	char ttl[32];
	size_t i, k, open = 0, pending = 0;

	/* Pending: not yet ready for a transaction (connecting, or waiting
	 * for its DCID); open: the others, idle ones kept for reuse too. */
	TAILQ_FOREACH(s, &dl->sessions, entry) {
		if (strcmp(s->domain, domain) != 0 || s->state == SESS_CLOSING)
			continue;
		if (s->state == SESS_CONNECTING || s->state == SESS_WAIT_DCID)
			pending++;
		else
			open++;
	}
	ctl_rec_begin(r);
	ctl_rec_add(r, "section", "gauge");
	ctl_rec_add(r, "name", "Current Outbound Connections");
	ctl_rec_add(r, "current", "%zu", open);
	ctl_rec_end(r);
	ctl_rec_begin(r);
	ctl_rec_add(r, "section", "gauge");
	ctl_rec_add(r, "name", "Pending Outbound Connections");
	ctl_rec_add(r, "current", "%zu", pending);
	ctl_rec_end(r);

	if (rt != NULL) {
		for (i = 0; i < rt->nhosts; i++) {
			ctl_rec_begin(r);
			ctl_rec_add(r, "section", "route");
			ctl_rec_add(r, "host", "%s:%u", rt->hosts[i].host,
			    rt->hosts[i].port ? rt->hosts[i].port : 25);
			ctl_rec_end(r);
		}
	}
	if (dns_cache_peek(dl->dns, DNS_KIND_MX, domain, &res, &left) < 0)
		return;
	ctl_rec_begin(r);
	ctl_rec_add(r, "section", "info");
	ctl_rec_add(r, "name", "IP expiry");
	ctl_rec_add(r, "value", "%lld", (long long)time(NULL) + (long long)(left / 1000));
	ctl_rec_end(r);
	ctl_rec_begin(r);
	ctl_rec_add(r, "section", "info");
	ctl_rec_add(r, "name", "DNS status");
	ctl_rec_add(r, "value", "%s", dns_status_str(res.status));
	ctl_rec_end(r);
	ttl_text(left / 1000, ttl, sizeof ttl);
	for (i = 0; i < res.nhosts; i++) {
		const struct dns_host *h = &res.hosts[i];

		if (!res.implicit_mx) {
			ctl_rec_begin(r);
			ctl_rec_add(r, "section", "mx");
			ctl_rec_add(r, "pref", "%u", h->pref);
			ctl_rec_add(r, "ttl", "%s", ttl);
			ctl_rec_add(r, "host", "%s", h->name);
			ctl_rec_end(r);
		}
		for (k = 0; k < h->naddrs; k++) {
			ctl_rec_begin(r);
			ctl_rec_add(r, "section", "ip");
			ctl_rec_add(r, "pref", "%u", h->pref);
			ctl_rec_add(r, "addr", "%s", h->addrs[k].text);
			ctl_rec_end(r);
		}
	}
	dns_result_clear(&res);
}

void
deliver_ctl(struct deliver *dl, int argc, char **argv, struct ctl_reply *r)
{
	struct dns_stats st;

	if (argc >= 1 && strcmp(argv[0], "connections") == 0) {
		ctl_rec_begin(r);
		ctl_rec_add(r, "name", "Current Outbound Conn.");
		ctl_rec_add(r, "current", "%zu", dl->nconns);
		ctl_rec_end(r);
	} else if (argc >= 2 && strcmp(argv[0], "hoststatus") == 0) {
		hoststatus_dns(dl, argv[1], r);
	} else if (argc >= 1 && strcmp(argv[0], "dnsflush") == 0) {
		dns_flush(dl->dns, argc >= 2 ? argv[1] : NULL);
		log_info("dnsflush: DNS cache emptied%s%s", argc >= 2 ? " for " : "",
		    argc >= 2 ? argv[1] : "");
		ctl_reply_message(r, "DNS cache flushed.");
	} else if (argc >= 1 && strcmp(argv[0], "dnscache") == 0) {
		dns_get_stats(dl->dns, &st);
		ctl_rec_begin(r);
		ctl_rec_add(r, "name", "DNS Requests");
		ctl_rec_add(r, "lifetime", "%llu", (unsigned long long)st.lookups);
		ctl_rec_end(r);
		ctl_rec_begin(r);
		ctl_rec_add(r, "name", "DNS Cache Hits");
		ctl_rec_add(r, "lifetime", "%llu", (unsigned long long)st.cache_hits);
		ctl_rec_end(r);
		ctl_rec_begin(r);
		ctl_rec_add(r, "name", "DNS Queries");
		ctl_rec_add(r, "lifetime", "%llu", (unsigned long long)st.queries);
		ctl_rec_end(r);
		ctl_rec_begin(r);
		ctl_rec_add(r, "name", "DNS Timeouts");
		ctl_rec_add(r, "lifetime", "%llu", (unsigned long long)st.timeouts);
		ctl_rec_end(r);
		ctl_rec_begin(r);
		ctl_rec_add(r, "name", "DNS Cache Entries");
		ctl_rec_add(r, "current", "%zu", st.cached);
		ctl_rec_end(r);
	} else
		ctl_reply_error(r, "deliver: unknown command '%s'", argc >= 1 ? argv[0] : "");
}

void
deliver_master_frame(struct deliver *dl, const struct ipc_hdr *hdr, const unsigned char *p)
{
	struct ipc_rd rd;

	switch (hdr->type) {
	case IMSG_PEER: {
		uint32_t kind, slot;
		int fd;

		ipc_rd_init(&rd, p, hdr->len);
		kind = ipc_get_u32(&rd);
		slot = ipc_get_u32(&rd);
		fd = dl->master ? ipc_conn_take_fd(dl->master) : -1;
		if (!ipc_rd_done(&rd) || fd < 0) {
			log_warning("malformed peer message from master");
			if (fd >= 0)
				close(fd);
			break;
		}
		if (kind != PROC_QMGR) {
			log_warning("unexpected peer kind %u (slot %u); ignored", kind, slot);
			close(fd);
			break;
		}
		deliver_qmgr_attach(dl, fd);
		break;
	}
	case IMSG_DRAIN: {
		uint32_t secs;

		ipc_rd_init(&rd, p, hdr->len);
		secs = ipc_get_u32(&rd);
		if (!ipc_rd_done(&rd))
			secs = 0;
		deliver_drain(dl, secs);
		break;
	}
	case IMSG_CTL: {
		struct ctl_reply r;
		char **argv;
		int argc;

		ctl_reply_init(&r);
		if (ctl_decode_request(p, hdr->len, &argc, &argv) < 0) {
			ctl_reply_error(&r, "deliver: malformed request");
		} else if (strcmp(argv[0], "tlsverify") == 0) {
			/* Answered when the connection is over. */
			ctl_reply_free(&r);
			probe_start(dl, hdr->reqid, argc, argv);
			ctl_free_argv(argc, argv);
			break;
		} else {
			deliver_ctl(dl, argc, argv, &r);
			ctl_free_argv(argc, argv);
		}
		if (dl->master)
			ctl_reply_send(&r, dl->master, hdr->reqid);
		else
			ctl_reply_free(&r);
		break;
	}
	default:
		log_warning("unexpected message type %u from master", hdr->type);
		break;
	}
}

void
deliver_shutdown(struct deliver *dl)
{
	struct session *s;
	struct job *j;

	if (dl->qmgr != NULL) {
		struct ipc_conn *c = dl->qmgr;

		dl->qmgr = NULL;
		ipc_conn_set_arg(c, NULL);
		ipc_conn_close(c);
	}
	while ((j = TAILQ_FIRST(&dl->jobs)) != NULL) {
		j->abandoned = 1;
		job_finish(j);
	}
	while ((s = TAILQ_FIRST(&dl->sessions)) != NULL)
		session_close(s);
	dl->draining = 0;
	uv_close((uv_handle_t *)&dl->drain_timer, NULL);
	dns_ctx_free(dl->dns);
	dl->dns = NULL;
	tls_ctx_clear(dl);
	free(dl->hostname);
	dl->hostname = NULL;
}
