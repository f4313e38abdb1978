/*
 * sched - when and where recipients go: per-destination ready queues with
 * the concurrency limit of `destinations`, a retry heap ordered by next
 * attempt, delivery jobs to deliver processes, their results, retries
 * with exponential backoff per bounce profile, and DSNs on hard failure
 * or expiry.
 *
 * A recipient is in exactly one place: a ready queue, the retry heap, a
 * job in flight, or done.  Each state change is written back to the queue
 * (envelope rewrite); a message with no recipient left is deleted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounce.h"
#include "config.h"
#include "log.h"
#include "proto.h"
#include "qmgr.h"
#include "xalloc.h"

#define JOB_FIRST_CHUNK		(64 * 1024)
#define BODY_CHUNK_MAX		(256 * 1024)
#define DELIVER_MAX_JOBS	2000
#define DEST_KEEP_SECONDS	(3 * 3600)

static unsigned
str_hash(const char *s)
{
	unsigned h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h;
}

static struct dest *
dest_get(struct qmgr *q, const char *domain)
{
	unsigned h = str_hash(domain) % DEST_HASH_SIZE;
	struct dest *d;

	for (d = q->dests[h]; d; d = d->hnext)
		if (strcmp(d->domain, domain) == 0)
			return d;
	d = xcalloc(1, sizeof *d);
	d->domain = xstrdup(domain);
	d->ready_tail = &d->ready;
	d->hnext = q->dests[h];
	q->dests[h] = d;
	q->ndests++;
	return d;
}

struct dest *
sched_dest_find(struct qmgr *q, const char *domain)
{
	struct dest *d;

	for (d = q->dests[str_hash(domain) % DEST_HASH_SIZE]; d; d = d->hnext)
		if (strcmp(d->domain, domain) == 0)
			return d;
	return NULL;
}

void
sched_tls_error(struct qmgr *q, const unsigned char *pl, size_t len)
{
	struct ipc_rd rd;
	char *domain, *host, *mode, *text;
	const char *lb, *rb;
	struct dest *d;

	ipc_rd_init(&rd, pl, len);
	domain = ipc_get_strdup(&rd, 1024);
	host = ipc_get_strdup(&rd, 1024);
	mode = ipc_get_strdup(&rd, 64);
	text = ipc_get_strdup(&rd, 2048);
	if (!ipc_rd_ok(&rd) || domain == NULL || host == NULL || mode == NULL ||
	    text == NULL || *domain == '\0') {
		log_warning("malformed TLS error report from deliver");
		goto out;
	}
	d = dest_get(q, domain);
	free(d->last_tls);
	free(d->last_tls_ip);
	free(d->last_tls_mode);
	lb = strchr(host, '[');
	rb = lb ? strchr(lb, ']') : NULL;
	d->last_tls_ip = lb && rb ? xstrndup(lb + 1, (size_t)(rb - lb - 1)) : xstrdup(host);
	d->last_tls = text;
	d->last_tls_mode = mode;
	d->last_tls_time = qmgr_now();
	text = mode = NULL;
out:
	free(domain);
	free(host);
	free(mode);
	free(text);
}

/* A counter event of one recipient: global and for its destination. */
static void
count_rcpt(struct qmgr *q, const char *domain, enum counter_id id)
{
	struct dest *d = dest_get(q, domain);

	counter_add(&q->ctr, id, 1);
	d->hc[id]++;
	d->last_activity = qmgr_now();
}

static void
dest_free(struct dest *d)
{
	free(d->domain);
	free(d->last_5xx);
	free(d->last_5xx_ip);
	free(d->last_tls);
	free(d->last_tls_ip);
	free(d->last_tls_mode);
	free(d);
}

static void
dest_enqueue(struct qmgr *q, struct dest *d, struct dentry *e)
{
	e->next = NULL;
	*d->ready_tail = e;
	d->ready_tail = &e->next;
	d->last_activity = qmgr_now();
	if (!d->in_runq) {
		d->in_runq = 1;
		d->rnext = q->runq;
		q->runq = d;
	}
}

static void
dentry_free(struct dentry *e)
{
	free(e->rids);
	free(e);
}

/* ---- retry heap (min-heap on due) ---- */

static void
heap_swap(struct qmgr *q, size_t a, size_t b)
{
	struct dentry *t = q->heap[a];

	q->heap[a] = q->heap[b];
	q->heap[b] = t;
	q->heap[a]->heap_index = a;
	q->heap[b]->heap_index = b;
}

static void
heap_push(struct qmgr *q, struct dentry *e)
{
	size_t i;

	if (q->heap_len == q->heap_cap) {
		q->heap_cap = q->heap_cap ? q->heap_cap * 2 : 256;
		q->heap = xrealloc(q->heap, q->heap_cap * sizeof *q->heap);
	}
	i = q->heap_len++;
	q->heap[i] = e;
	e->heap_index = i;
	while (i > 0 && q->heap[(i - 1) / 2]->due > q->heap[i]->due) {
		heap_swap(q, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static struct dentry *
heap_pop(struct qmgr *q)
{
	struct dentry *top;
	size_t i = 0;

	if (q->heap_len == 0)
		return NULL;
	top = q->heap[0];
	q->heap[0] = q->heap[--q->heap_len];
	q->heap[0]->heap_index = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, s = i;
		if (l < q->heap_len && q->heap[l]->due < q->heap[s]->due)
			s = l;
		if (r < q->heap_len && q->heap[r]->due < q->heap[s]->due)
			s = r;
		if (s == i)
			break;
		heap_swap(q, i, s);
		i = s;
	}
	return top;
}

/* ---- scheduling ---- */

static void kick_cb(uv_idle_t *h);
static struct qmgr *sched_q;

void
sched_init(struct qmgr *q)
{
	sched_q = q;
	uv_idle_init(q->d.loop, &q->kick);
	q->kick.data = q;
}

void
sched_kick(struct qmgr *q)
{
	if (!q->kicked) {
		q->kicked = 1;
		uv_idle_start(&q->kick, kick_cb);
	}
}

/* Groups the message's pending recipients by domain into entries, due at
 * their next_try. */
void
sched_message(struct qmgr *q, struct qmsg *m)
{
	uint64_t now = qmgr_now();
	uint32_t i, j;
	char *seen = xcalloc(m->nrcpt, 1);

	for (i = 0; i < m->nrcpt; i++) {
		struct dentry *e;
		if (seen[i] || m->rcpts[i].state == RCPT_DONE || m->rcpts[i].inflight)
			continue;
		e = xcalloc(1, sizeof *e);
		e->m = m;
		e->rids = xcalloc(m->nrcpt, sizeof *e->rids);
		e->due = m->rcpts[i].next_try;
		for (j = i; j < m->nrcpt; j++) {
			if (!seen[j] && m->rcpts[j].state != RCPT_DONE && !m->rcpts[j].inflight &&
			    strcmp(m->rcpts[j].domain, m->rcpts[i].domain) == 0 &&
			    m->rcpts[j].next_try == m->rcpts[i].next_try) {
				seen[j] = 1;
				e->rids[e->nrids++] = j;
			}
		}
		if (e->due > now)
			heap_push(q, e);
		else
			dest_enqueue(q, dest_get(q, m->rcpts[i].domain), e);
	}
	free(seen);
	sched_kick(q);
}

int
sched_suspended(struct qmgr *q, const char *domain)
{
	size_t i;

	for (i = 0; i < q->nsuspended; i++)
		if (strcmp(q->suspended[i], "ALL") == 0 || strcasecmp(q->suspended[i], domain) == 0)
			return 1;
	return 0;
}

static struct peer *
pick_deliver(struct qmgr *q)
{
	struct peer *p, *best = NULL;

	for (p = q->peers; p; p = p->next)
		if (p->kind == PROC_DELIVER && p->conn && p->njobs < DELIVER_MAX_JOBS &&
		    (best == NULL || p->njobs < best->njobs))
			best = p;
	return best;
}

static struct job *
job_find(struct qmgr *q, uint32_t id, int unlink_it)
{
	struct job **pp, *j;

	for (pp = &q->jobs[id % JOB_HASH_SIZE]; (j = *pp) != NULL; pp = &j->hnext) {
		if (j->id == id) {
			if (unlink_it) {
				*pp = j->hnext;
				q->njobs--;
			}
			return j;
		}
	}
	return NULL;
}

static void
job_start(struct qmgr *q, struct peer *dp, struct dest *d, struct dentry *e)
{
	struct job *j = xcalloc(1, sizeof *j);
	struct qmsg *m = e->m;
	struct buf b, body;
	size_t start, i;
	int r;

	j->id = ++q->next_job;
	if (j->id == 0)
		j->id = ++q->next_job;
	j->deliver_serial = dp->serial;
	j->dest = d;
	j->e = e;
	j->hnext = q->jobs[j->id % JOB_HASH_SIZE];
	q->jobs[j->id % JOB_HASH_SIZE] = j;
	q->njobs++;
	d->active++;
	dp->njobs++;
	buf_init(&body, 0);
	if ((r = store_body_read(q->store, m->mid, m->body_in_file, 0, JOB_FIRST_CHUNK, &body)) != 0)
		log_warning("MID %u: cannot read body: %s", m->mid, store_strerror(r));
	buf_init(&b, 0);
	start = ipc_msg_begin(&b, DMSG_JOB, j->id);
	ipc_put_u32(&b, m->mid);
	ipc_put_str(&b, d->domain);
	ipc_put_str(&b, m->sender);
	ipc_put_u32(&b, m->flags);
	ipc_put_u64(&b, m->size);
	ipc_put_u32(&b, (uint32_t)e->nrids);
	for (i = 0; i < e->nrids; i++) {
		ipc_put_u32(&b, e->rids[i]);
		ipc_put_str(&b, m->rcpts[e->rids[i]].addr);
		m->rcpts[e->rids[i]].inflight = 1;
	}
	ipc_put_bytes(&b, body.data ? body.data : "", body.len);
	ipc_msg_end(&b, start);
	qmgr_send(dp, &b);
	buf_free(&b);
	buf_free(&body);
}

static void
sched_run(struct qmgr *q)
{
	struct dest **dp, *d;
	struct peer *p;

	if (q->draining)
		return;
	for (dp = &q->runq; (d = *dp) != NULL;) {
		const struct cfg_destination *dc = config_destination(q->d.cfg, d->domain);
		while (d->ready && d->active < dc->max_conns && !sched_suspended(q, d->domain) &&
		    (p = pick_deliver(q)) != NULL) {
			struct dentry *e = d->ready;
			d->ready = e->next;
			if (d->ready == NULL)
				d->ready_tail = &d->ready;
			job_start(q, p, d, e);
		}
		if (d->ready == NULL) {
			d->in_runq = 0;
			*dp = d->rnext;
		} else
			dp = &d->rnext;
	}
}

static void
kick_cb(uv_idle_t *h)
{
	struct qmgr *q = h->data;

	uv_idle_stop(h);
	q->kicked = 0;
	sched_run(q);
}

void
sched_tick(struct qmgr *q)
{
	uint64_t now = qmgr_now();
	struct dentry *e;
	size_t i;

	while (q->heap_len && q->heap[0]->due <= now) {
		e = heap_pop(q);
		dest_enqueue(q, dest_get(q, e->m->rcpts[e->rids[0]].domain), e);
	}
	/* Forget destinations idle for three hours (Destinations in Memory). */
	for (i = 0; i < DEST_HASH_SIZE; i++) {
		struct dest **pp = &q->dests[i], *d;
		while ((d = *pp) != NULL) {
			if (!d->ready && !d->active && !d->in_runq &&
			    now - d->last_activity > DEST_KEEP_SECONDS) {
				*pp = d->hnext;
				dest_free(d);
				q->ndests--;
			} else
				pp = &d->hnext;
		}
	}
	sched_kick(q);
}

void
sched_delivernow(struct qmgr *q, const char *domain)
{
	struct dentry **keep = NULL, *e;
	size_t nkeep = 0;

	while ((e = heap_pop(q)) != NULL) {
		if (domain == NULL || strcasecmp(e->m->rcpts[e->rids[0]].domain, domain) == 0) {
			dest_enqueue(q, dest_get(q, e->m->rcpts[e->rids[0]].domain), e);
		} else {
			keep = xrealloc(keep, (nkeep + 1) * sizeof *keep);
			keep[nkeep++] = e;
		}
	}
	while (nkeep)
		heap_push(q, keep[--nkeep]);
	free(keep);
	sched_kick(q);
}

size_t
sched_jobs(struct qmgr *q)
{
	return q->njobs;
}

size_t
sched_active_dests(struct qmgr *q)
{
	return q->ndests;
}

/* ---- envelope write-back ---- */

static void
envelope_written(struct qop *op)
{
	struct qmsg *m = op->ctx;

	if (op->result != 0)
		log_crit("MID %u: queue update failed: %s", m->mid, store_strerror(op->result));
	m->writing--;
	if (m->pending == 0 && m->writing == 0)
		qmsg_free(m);
	else if (m->rewrite && m->writing == 0) {
		m->rewrite = 0;
		sched_write_envelope(sched_q, m);
	}
	qop_free(op);
}

/* Writes the message's state back: a rewrite while it has recipients
 * pending, a delete (and removal from the table) once none is. */
void
sched_write_envelope(struct qmgr *q, struct qmsg *m)
{
	struct qop *op;

	if (m->pending == 0) {
		op = qop_new(QOP_DEL_MSG, m->mid);
		op->unlink_body = m->body_in_file;
		qmgr_msg_remove(q, m);
	} else {
		if (m->writing) {
			m->rewrite = 1;
			return;
		}
		op = qop_new(QOP_PUT_MSG, m->mid);
		qmsg_encode(m, &op->env);
	}
	m->writing++;
	op->ctx = m;
	op->done = envelope_written;
	store_submit(q->store, op);
}

/* ---- bounces ---- */

static void
bounce_committed(struct qop *op)
{
	struct qmsg *b = op->ctx;

	if (op->result != 0) {
		log_crit("MID %u: DSN could not be queued: %s; dropped", b->mid,
		    store_strerror(op->result));
		qmsg_free(b);
	} else {
		counter_add(&sched_q->ctr, C_GEN_BOUNCE_RCPTS, b->nrcpt);
		qmgr_msg_add(sched_q, b);
		log_info("MID %u queued for delivery (DSN)", b->mid);
		sched_message(sched_q, b);
	}
	qop_free(op);
}

static uint32_t
own_mid(struct qmgr *q)
{
	uint32_t first;

	/* qmgr takes its own MIDs from the same durable sequence as smtpd. */
	if (q->own_mid_next >= q->own_mid_end) {
		uint64_t f = q->next_id[ID_MID];
		if (f >= ID_WRAP)
			f = 0;
		first = (uint32_t)f;
		q->next_id[ID_MID] = f + 100 > ID_WRAP ? ID_WRAP : f + 100;
		q->own_mid_next = first;
		q->own_mid_end = q->next_id[ID_MID];
		qmgr_meta_put(q, "next.mid", q->next_id[ID_MID]);
	}
	return (uint32_t)q->own_mid_next++;
}

static void
bounce_generate(struct qmgr *q, struct qmsg *m, const uint32_t *rids, size_t n)
{
	struct buf head, body;
	struct qmsg *b;
	struct qop *op;
	size_t hlen;

	if (m->flags & MSGF_BOUNCE || m->sender == NULL || m->sender[0] == '\0') {
		log_info("MID %u: no DSN for %zu failed recipient(s): null sender", m->mid, n);
		return;
	}
	buf_init(&head, 0);
	store_body_read(q->store, m->mid, m->body_in_file, 0, JOB_FIRST_CHUNK, &head);
	hlen = bounce_header_len(head.data ? head.data : "", head.len);
	b = xcalloc(1, sizeof *b);
	b->mid = own_mid(q);
	b->parent_mid = m->mid;
	b->received = qmgr_now();
	b->flags = MSGF_BOUNCE;
	b->sender = xstrdup("");
	b->listener = xstrdup("");
	b->client_ip = xstrdup("");
	b->subject = xstrdup("Delivery Status Notification (Failure)");
	b->nrcpt = 1;
	b->rcpts = xcalloc(1, sizeof *b->rcpts);
	b->rcpts[0].addr = xstrdup(m->sender);
	b->rcpts[0].domain = qmsg_rcpt_domain(m->sender);
	b->pending = 1;
	buf_init(&body, 0);
	bounce_build(&body, q->d.cfg->hostname, m, rids, n, head.data ? head.data : "", hlen,
	    b->mid, (time_t)b->received);
	b->size = body.len;
	buf_free(&head);
	op = qop_new(QOP_PUT_MSG, b->mid);
	op->with_body = 1;
	op->body = body;
	qmsg_encode(b, &op->env);
	op->ctx = b;
	op->done = bounce_committed;
	store_submit(q->store, op);
	log_info("MID %u generated DSN MID %u to <%s> for %zu recipient(s)", m->mid, b->mid,
	    m->sender, n);
}

/* ---- results ---- */

static uint32_t
backoff(const struct cfg_bounce_profile *bp, uint32_t attempts)
{
	uint64_t d = bp->initial_retry ? bp->initial_retry : 1;
	uint32_t i;

	for (i = 1; i < attempts && d < bp->max_retry; i++)
		d *= 2;
	return (uint32_t)(d > bp->max_retry ? bp->max_retry : d);
}

static void
hard_bounce(struct qmgr *q, struct qmsg *m, uint32_t rid, enum counter_id why)
{
	struct qrcpt *r = &m->rcpts[rid];

	r->state = RCPT_DONE;
	m->pending--;
	count_rcpt(q, r->domain, why);
	count_rcpt(q, r->domain, C_HARD_BOUNCED_RCPTS);
	count_rcpt(q, r->domain, C_COMPLETED_RCPTS);
	log_info("MID %u RID [%u] to <%s> hard bounced: %s", m->mid, rid, r->addr,
	    r->last_reply ? r->last_reply : "");
}

/* Applies one delivery outcome to a recipient.  Returns 1 when it hard
 * bounced, so the caller can put it in the DSN. */
static int
apply_outcome(struct qmgr *q, struct qmsg *m, uint32_t rid, uint32_t status, uint32_t reason,
    const char *text, struct dentry **retry)
{
	const struct cfg_bounce_profile *bp;
	struct qrcpt *r = &m->rcpts[rid];
	uint64_t now = qmgr_now();

	r->inflight = 0;
	free(r->last_reply);
	r->last_reply = xstrdup(text);
	if (status == 2) {
		r->state = RCPT_DONE;
		m->pending--;
		count_rcpt(q, r->domain, C_DELIVERED_RCPTS);
		count_rcpt(q, r->domain, C_COMPLETED_RCPTS);
		return 0;
	}
	if (status == 5) {
		hard_bounce(q, m, rid, reason == REASON_DNS ? C_DNS_HARD_BOUNCES :
		    reason == REASON_SMTP ? C_5XX_HARD_BOUNCES : C_OTHER_HARD_BOUNCES);
		return 1;
	}
	count_rcpt(q, r->domain, C_SOFT_BOUNCED_EVENTS);
	r->attempts++;
	bp = config_bounce_profile(q->d.cfg, config_destination(q->d.cfg, r->domain)->bounce_profile);
	if (now - m->received >= bp->max_queue_time || r->attempts >= bp->max_attempts) {
		char *t = xasprintf("%s (expired after %u attempt(s), %llu s in queue)", text,
		    r->attempts, (unsigned long long)(now - m->received));
		free(r->last_reply);
		r->last_reply = t;
		hard_bounce(q, m, rid, C_EXPIRED_HARD_BOUNCES);
		return 1;
	}
	r->next_try = now + backoff(bp, r->attempts);
	log_info("MID %u RID [%u] to <%s> deferred (attempt %u), next try in %llu s: %s", m->mid,
	    rid, r->addr, r->attempts, (unsigned long long)(r->next_try - now), text);
	if (*retry == NULL) {
		*retry = xcalloc(1, sizeof **retry);
		(*retry)->m = m;
		(*retry)->rids = xcalloc(m->nrcpt, sizeof *(*retry)->rids);
		(*retry)->due = r->next_try;
	}
	(*retry)->rids[(*retry)->nrids++] = rid;
	return 0;
}

/* Host up/down and the last 5XX of hoststatus, from one job's result:
 * up when the host answered in SMTP, down when it could not be reached. */
static void
note_host(struct dest *d, const char *host, const uint32_t *status, const uint32_t *reason,
    char **text, size_t n)
{
	const char *lb = strchr(host, '['), *rb = lb ? strchr(lb, ']') : NULL;
	int smtp = 0, conn = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (reason[i] == REASON_SMTP)
			smtp = 1;
		else if (reason[i] == REASON_CONN)
			conn = 1;
		if (status[i] == 5 && reason[i] == REASON_SMTP && text[i]) {
			free(d->last_5xx);
			free(d->last_5xx_ip);
			d->last_5xx = xstrdup(text[i]);
			d->last_5xx_ip = lb && rb ? xstrndup(lb + 1, (size_t)(rb - lb - 1)) :
			    xstrdup(host);
			d->last_5xx_time = qmgr_now();
		}
	}
	if (smtp)
		d->host_state = HOST_UP;
	else if (conn)
		d->host_state = HOST_DOWN;
}

static void
job_finish(struct qmgr *q, struct job *j, struct peer *dp, uint32_t *status, uint32_t *reason,
    char **text, const char *host)
{
	struct dentry *e = j->e, *retry = NULL;
	struct qmsg *m = e->m;
	uint32_t *bounced = xcalloc(e->nrids, sizeof *bounced);
	size_t i, nb = 0;

	note_host(j->dest, host, status, reason, text, e->nrids);
	for (i = 0; i < e->nrids; i++) {
		uint32_t rid = e->rids[i];
		if (m->rcpts[rid].state == RCPT_DONE)
			continue;
		if (apply_outcome(q, m, rid, status[i], reason[i], text[i] ? text[i] :
		    "no result from delivery", &retry))
			bounced[nb++] = rid;
	}
	if (nb)
		bounce_generate(q, m, bounced, nb);
	free(bounced);
	if (retry)
		heap_push(q, retry);
	if (m->pending == 0)
		log_info("Message finished MID %u done", m->mid);
	sched_write_envelope(q, m);
	j->dest->active--;
	j->dest->last_activity = qmgr_now();
	if (dp)
		dp->njobs--;
	dentry_free(e);
	free(j);
	sched_kick(q);
}

void
sched_result(struct qmgr *q, struct peer *p, uint32_t jobid, const unsigned char *pl, size_t len)
{
	struct job *j = job_find(q, jobid, 1);
	struct ipc_rd rd;
	uint32_t dcid, n, i, k, *status, *reason;
	char **text, host[512];
	size_t nr;

	if (j == NULL) {
		log_warning("result for unknown job %u from deliver %d", jobid, p->slot);
		return;
	}
	status = xcalloc(j->e->nrids, sizeof *status);
	reason = xcalloc(j->e->nrids, sizeof *reason);
	text = xcalloc(j->e->nrids, sizeof *text);
	for (i = 0; i < j->e->nrids; i++) {
		status[i] = 4;
		reason[i] = REASON_OTHER;
	}
	ipc_rd_init(&rd, pl, len);
	dcid = ipc_get_u32(&rd);
	ipc_get_strbuf(&rd, host, sizeof host);
	n = ipc_get_u32(&rd);
	for (k = 0; k < n && ipc_rd_ok(&rd); k++) {
		uint32_t rid = ipc_get_u32(&rd), st = ipc_get_u32(&rd), rs = ipc_get_u32(&rd);
		char *t = ipc_get_strdup(&rd, 4096);
		for (i = 0; i < j->e->nrids; i++) {
			if (j->e->rids[i] == rid && t != NULL && (st == 2 || st == 4 || st == 5)) {
				status[i] = st;
				reason[i] = rs;
				free(text[i]);
				text[i] = t;
				t = NULL;
				break;
			}
		}
		free(t);
	}
	if (!ipc_rd_done(&rd))
		log_warning("malformed delivery result for MID %u from deliver %d; unreported "
		    "recipients are retried", j->e->m->mid, p->slot);
	if (dcid != DCID_NONE)
		q->last_id[ID_DCID] = dcid;
	nr = j->e->nrids;
	job_finish(q, j, p, status, reason, text, host);
	for (i = 0; i < nr; i++)
		free(text[i]);
	free(status);
	free(reason);
	free(text);
}

void
sched_body_req(struct qmgr *q, struct peer *p, uint32_t jobid, const unsigned char *pl, size_t len)
{
	struct job *j = job_find(q, jobid, 0);
	struct ipc_rd rd;
	struct buf b, body;
	uint64_t off;
	uint32_t max;
	size_t start;
	int r;

	ipc_rd_init(&rd, pl, len);
	off = ipc_get_u64(&rd);
	max = ipc_get_u32(&rd);
	if (j == NULL || !ipc_rd_done(&rd))
		return;
	if (max > BODY_CHUNK_MAX)
		max = BODY_CHUNK_MAX;
	buf_init(&body, 0);
	if ((r = store_body_read(q->store, j->e->m->mid, j->e->m->body_in_file, off, max, &body)) != 0)
		log_warning("MID %u: cannot read body at %llu: %s", j->e->m->mid,
		    (unsigned long long)off, store_strerror(r));
	buf_init(&b, 0);
	start = ipc_msg_begin(&b, DMSG_BODY, jobid);
	ipc_put_u64(&b, off);
	ipc_put_bytes(&b, body.data ? body.data : "", body.len);
	ipc_msg_end(&b, start);
	qmgr_send(p, &b);
	buf_free(&b);
	buf_free(&body);
}

/* A deliver process went away: its jobs go back to their ready queues
 * unchanged (no attempt is counted; nothing was decided). */
void
sched_deliver_lost(struct qmgr *q, struct peer *p)
{
	size_t i, k;

	for (i = 0; i < JOB_HASH_SIZE; i++) {
		struct job **pp = &q->jobs[i], *j;
		while ((j = *pp) != NULL) {
			if (j->deliver_serial != p->serial) {
				pp = &j->hnext;
				continue;
			}
			*pp = j->hnext;
			q->njobs--;
			for (k = 0; k < j->e->nrids; k++)
				j->e->m->rcpts[j->e->rids[k]].inflight = 0;
			j->dest->active--;
			log_info("MID %u: delivery job lost with deliver %d; requeued", j->e->m->mid,
			    p->slot);
			dest_enqueue(q, j->dest, j->e);
			free(j);
		}
	}
	sched_kick(q);
}

/* ---- queue operations (sallyctl) ---- */

/* Takes every entry out of the ready queues and the retry heap and
 * schedules the messages again, after a queue operation changed their
 * recipients.  Jobs in flight are not touched. */
static void
sched_rebuild(struct qmgr *q)
{
	struct dentry *e, *next;
	struct dest *d;
	struct qmsg *m;
	size_t i;

	for (i = 0; i < DEST_HASH_SIZE; i++) {
		for (d = q->dests[i]; d; d = d->hnext) {
			for (e = d->ready; e; e = next) {
				next = e->next;
				dentry_free(e);
			}
			d->ready = NULL;
			d->ready_tail = &d->ready;
		}
	}
	for (i = 0; i < q->heap_len; i++)
		dentry_free(q->heap[i]);
	q->heap_len = 0;
	for (i = 0; i < MSG_HASH_SIZE; i++)
		for (m = q->msgs[i]; m; m = m->hnext)
			if (m->pending)
				sched_message(q, m);
}

size_t
sched_rcpt_op(struct qmgr *q, enum rcpt_op op, const char *domain, const char *sender,
    uint32_t mid, const char *target, size_t *nrcpts, const char *why)
{
	static const char *const verbs[] = { "deleted", "bounced", "redirected" };
	struct qmsg **touched = NULL, *m;
	size_t nt = 0, i, n = 0;
	uint32_t *rids = NULL, j;

	for (i = 0; i < MSG_HASH_SIZE; i++) {
		for (m = q->msgs[i]; m; m = m->hnext) {
			size_t nr = 0;

			if (mid && m->mid != mid)
				continue;
			if (sender && strcasecmp(m->sender, sender) != 0)
				continue;
			rids = xrealloc(rids, (m->nrcpt ? m->nrcpt : 1) * sizeof *rids);
			for (j = 0; j < m->nrcpt; j++) {
				struct qrcpt *r = &m->rcpts[j];

				if (r->state == RCPT_DONE || r->inflight)
					continue;
				if (domain && strcasecmp(r->domain, domain) != 0)
					continue;
				log_info("MID %u RID [%u] to <%s> %s by the administrator (%s)%s%s",
				    m->mid, j, r->addr, verbs[op], why, target ? " to " : "",
				    target ? target : "");
				switch (op) {
				case RCPT_OP_DELETE:
					r->state = RCPT_DONE;
					m->pending--;
					count_rcpt(q, r->domain, C_DELETED_RCPTS);
					count_rcpt(q, r->domain, C_COMPLETED_RCPTS);
					break;
				case RCPT_OP_BOUNCE:
					free(r->last_reply);
					r->last_reply = xasprintf("5.0.0 bounced by the administrator "
					    "(%s)", why);
					hard_bounce(q, m, j, C_OTHER_HARD_BOUNCES);
					break;
				case RCPT_OP_REDIRECT:
					free(r->domain);
					r->domain = xstrdup(target);
					r->rerouted = 1;	/* kept in the envelope */
					r->next_try = 0;
					break;
				}
				rids[nr++] = j;
			}
			if (nr == 0)
				continue;
			n += nr;
			if (op == RCPT_OP_BOUNCE)
				bounce_generate(q, m, rids, nr);
			touched = xrealloc(touched, (nt + 1) * sizeof *touched);
			touched[nt++] = m;
		}
	}
	free(rids);
	sched_rebuild(q);
	for (i = 0; i < nt; i++) {
		if (touched[i]->pending == 0)
			log_info("Message finished MID %u done", touched[i]->mid);
		sched_write_envelope(q, touched[i]);
	}
	free(touched);
	sched_kick(q);
	*nrcpts += n;
	return nt;
}

/* resetcounters: hoststatus data is "since the last reset". */
void
sched_reset_host_counters(struct qmgr *q)
{
	struct dest *d;
	size_t i;

	for (i = 0; i < DEST_HASH_SIZE; i++)
		for (d = q->dests[i]; d; d = d->hnext)
			memset(d->hc, 0, sizeof d->hc);
}
