/*
 * qmgr - the queue manager: sole writer of the LMDB queue.
 *
 * Receives messages from smtpd (QMSG_BEGIN/DATA/END), commits them with
 * group commit (store.c) and only then answers QMSG_COMMITTED, which is
 * what lets smtpd say 250.  Hands out MID/ICID/DCID blocks that are
 * durable before they are used.  Owns the counters.  Scheduling, delivery
 * results, retries and bounces are in sched.c; control requests in ctl.c.
 *
 * Runs as the queue user (no chroot: it needs the spool and the state
 * directory).  On start it recovers every committed message from the
 * queue and schedules its pending recipients.
 */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "log.h"
#include "proto.h"
#include "qmgr.h"
#include "xalloc.h"

#define RX_MAX_RCPTS	100000
#define RX_HEAD_MAX	(64 * 1024)
#define IDS_MAX_BLOCK	100000

static const char usage[] =
    "usage: qmgr -s SLOT\n"
    "The Sallyport queue manager. It is started by sallyportd, which passes it\n"
    "its configuration and channels; see qmgr(8).\n";

static struct qmgr qmgr;

/* ---- IDs ---- */

struct ids_reply {
	uint64_t	peer_serial;
	uint32_t	reqid, kind, first, count;
};

static void
ids_committed(struct qop *op)
{
	struct ids_reply *ir = op->ctx;
	struct peer *p = qmgr_peer_by_serial(&qmgr, ir->peer_serial);
	struct buf b;
	size_t start;

	if (op->result != 0)
		log_crit("cannot record ID high-water mark: %s; IDs not handed out",
		    store_strerror(op->result));
	else if (p != NULL) {
		buf_init(&b, 0);
		start = ipc_msg_begin(&b, QMSG_IDS, ir->reqid);
		ipc_put_u32(&b, ir->kind);
		ipc_put_u32(&b, ir->first);
		ipc_put_u32(&b, ir->count);
		ipc_msg_end(&b, start);
		qmgr_send(p, &b);
		buf_free(&b);
	}
	free(ir);
	qop_free(op);
}

/* Reserves count ids of kind; they never come back, even after a crash,
 * because the new high-water mark is durable before anyone sees them. */
static void
ids_reserve(struct qmgr *q, uint32_t kind, uint32_t count, uint32_t *first)
{
	uint64_t f = q->next_id[kind];

	if (f >= ID_WRAP)
		f = 0;
	if (f + count > ID_WRAP)
		count = (uint32_t)(ID_WRAP - f);
	*first = (uint32_t)f;
	q->next_id[kind] = f + count;
}

static void
ids_request(struct qmgr *q, struct peer *p, uint32_t reqid, const unsigned char *pl, size_t len)
{
	struct ipc_rd rd;
	struct ids_reply *ir;
	struct qop *op;
	uint32_t kind, count;
	static const char *const keys[4] = { "", "next.mid", "next.icid", "next.dcid" };

	ipc_rd_init(&rd, pl, len);
	kind = ipc_get_u32(&rd);
	count = ipc_get_u32(&rd);
	if (!ipc_rd_done(&rd) || kind < ID_MID || kind > ID_DCID || count == 0) {
		log_warning("malformed ID request from %s %d", p->kind == PROC_SMTPD ? "smtpd" :
		    "deliver", p->slot);
		return;
	}
	if (count > IDS_MAX_BLOCK)
		count = IDS_MAX_BLOCK;
	ir = xcalloc(1, sizeof *ir);
	ir->peer_serial = p->serial;
	ir->reqid = reqid;
	ir->kind = kind;
	ids_reserve(q, kind, count, &ir->first);
	ir->count = (uint32_t)(q->next_id[kind] - ir->first);
	op = qop_new(QOP_META, 0);
	snprintf(op->key, sizeof op->key, "%s", keys[kind]);
	op->val = q->next_id[kind];
	op->ctx = ir;
	op->done = ids_committed;
	store_submit(q->store, op);
}

/* ---- receiving ---- */

static void
rx_free(struct rx *rx)
{
	if (rx->fd >= 0)
		close(rx->fd);
	if (rx->tmppath) {
		unlink(rx->tmppath);
		free(rx->tmppath);
	}
	buf_free(&rx->body);
	qmsg_free(rx->m);
	free(rx);
}

static struct rx *
rx_find(struct peer *p, uint32_t tag, int unlink_it)
{
	struct rx **pp, *rx;

	for (pp = &p->rxs; (rx = *pp) != NULL; pp = &rx->next) {
		if (rx->tag == tag) {
			if (unlink_it)
				*pp = rx->next;
			return rx;
		}
	}
	return NULL;
}

static void
rx_begin(struct qmgr *q, struct peer *p, uint32_t tag, const unsigned char *pl, size_t len)
{
	struct ipc_rd rd;
	struct qmsg *m = xcalloc(1, sizeof *m);
	struct rx *rx;
	char *helo, *host;
	uint32_t i, n;

	ipc_rd_init(&rd, pl, len);
	m->mid = ipc_get_u32(&rd);
	m->icid = ipc_get_u32(&rd);
	m->received = ipc_get_u64(&rd);
	m->listener = ipc_get_strdup(&rd, 256);
	m->client_ip = ipc_get_strdup(&rd, 256);
	host = ipc_get_strdup(&rd, 1024);
	helo = ipc_get_strdup(&rd, 1024);
	m->sender = ipc_get_strdup(&rd, 2048);
	m->flags = ipc_get_u32(&rd);
	n = ipc_get_u32(&rd);
	free(host);
	free(helo);
	if (!ipc_rd_ok(&rd) || n == 0 || n > RX_MAX_RCPTS || n > rd.left / 4) {
		log_warning("malformed message start from smtpd %d", p->slot);
		qmsg_free(m);
		return;
	}
	m->rcpts = xcalloc(n, sizeof *m->rcpts);
	m->nrcpt = n;
	for (i = 0; i < n; i++) {
		m->rcpts[i].addr = ipc_get_strdup(&rd, 2048);
		if (m->rcpts[i].addr == NULL) {
			log_warning("malformed recipient list from smtpd %d", p->slot);
			qmsg_free(m);
			return;
		}
		m->rcpts[i].domain = qmsg_rcpt_domain(m->rcpts[i].addr);
	}
	m->pending = n;
	if (m->mid >= q->last_id[ID_MID] || q->last_id[ID_MID] - m->mid > ID_WRAP / 2)
		q->last_id[ID_MID] = m->mid;
	q->last_id[ID_ICID] = m->icid;
	rx = xcalloc(1, sizeof *rx);
	rx->peer = p;
	rx->peer_serial = p->serial;
	rx->tag = tag;
	rx->m = m;
	rx->fd = -1;
	buf_init(&rx->body, 0);
	rx->next = p->rxs;
	p->rxs = rx;
}

static void
rx_data(struct qmgr *q, struct peer *p, uint32_t tag, const unsigned char *pl, size_t len)
{
	struct rx *rx = rx_find(p, tag, 0);

	if (rx == NULL || rx->io_error)
		return;
	rx->size += len;
	if (rx->fd < 0 && rx->body.len + len > q->d.cfg->queue.body_file_threshold) {
		/* Spill to a file: memory per message stays bounded. */
		rx->tmppath = store_incoming_path(q->store, rx->m->mid, tag);
		rx->fd = open(rx->tmppath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		if (rx->fd < 0 || write(rx->fd, rx->body.data, rx->body.len) != (ssize_t)rx->body.len) {
			log_warning("MID %u cannot write spool file %s: %s", rx->m->mid,
			    rx->tmppath, strerror(errno));
			rx->io_error = errno ? errno : EIO;
			return;
		}
	}
	if (rx->fd >= 0) {
		if (write(rx->fd, pl, len) != (ssize_t)len) {
			log_warning("MID %u cannot write spool file %s: %s", rx->m->mid,
			    rx->tmppath, strerror(errno));
			rx->io_error = errno ? errno : EIO;
		}
		if (rx->body.len < RX_HEAD_MAX)
			buf_append(&rx->body, pl, len < RX_HEAD_MAX - rx->body.len ? len :
			    RX_HEAD_MAX - rx->body.len);
		return;
	}
	buf_append(&rx->body, pl, len);
}

static void
rx_reply(struct peer *p, uint32_t tag, uint32_t status, const char *text)
{
	struct buf b;
	size_t start;

	if (p == NULL)
		return;
	buf_init(&b, 0);
	start = ipc_msg_begin(&b, QMSG_COMMITTED, tag);
	ipc_put_u32(&b, status);
	ipc_put_str(&b, text);
	ipc_msg_end(&b, start);
	qmgr_send(p, &b);
	buf_free(&b);
}

/* Subject header of a message head, unfolded and bounded, or NULL. */
static char *
find_subject(const char *s, size_t len)
{
	size_t hlen, i, j;
	struct buf out;

	for (hlen = 0; hlen + 1 < len; hlen++)
		if (s[hlen] == '\n' && (s[hlen + 1] == '\r' || s[hlen + 1] == '\n'))
			break;
	for (i = 0; i + 8 <= hlen; i++) {
		if ((i == 0 || s[i - 1] == '\n') && strncasecmp(s + i, "Subject:", 8) == 0) {
			buf_init(&out, 512);
			for (j = i + 8; j < hlen; j++) {
				if (s[j] == '\r')
					continue;
				if (s[j] == '\n') {
					if (j + 1 < hlen && (s[j + 1] == ' ' || s[j + 1] == '\t'))
						continue;
					break;
				}
				if (buf_append(&out, s + j, 1) < 0)
					break;
			}
			while (out.len && out.data[0] == ' ')
				buf_consume(&out, 1);
			return buf_steal(&out);
		}
	}
	return NULL;
}

static void
rx_committed(struct qop *op)
{
	struct qmgr *q = &qmgr;
	struct rx *rx = op->ctx;
	struct qmsg *m = rx->m;
	/* The smtpd that sent it may have gone while the commit ran. */
	struct peer *p = qmgr_peer_by_serial(q, rx->peer_serial);
	char text[256];

	if (op->result == 0) {
		rx->m = NULL;
		if (rx->tmppath) {	/* renamed into bodies/ by the writer */
			free(rx->tmppath);
			rx->tmppath = NULL;
		}
		counter_add(&q->ctr, C_MSGS_RECEIVED, 1);
		counter_add(&q->ctr, C_RCPTS_RECEIVED, m->nrcpt);
		qmgr_msg_add(q, m);
		log_info("MID %u queued for delivery", m->mid);
		rx_reply(p, rx->tag, COMMIT_OK, "");
		workqueue_enter(q, m);
	} else {
		if (op->result == MDB_MAP_FULL || op->result == ENOSPC) {
			log_warning("MID %u not queued: queue storage full (%s); answered 452",
			    m->mid, store_strerror(op->result));
			snprintf(text, sizeof text, "452 4.3.1 Insufficient system storage");
		} else {
			log_crit("MID %u not queued: queue write failed: %s", m->mid,
			    store_strerror(op->result));
			snprintf(text, sizeof text, "451 4.3.0 Queue write failed, try again later");
		}
		rx_reply(p, rx->tag, COMMIT_TEMPFAIL, text);
	}
	op->ctx = NULL;
	qop_free(op);
	rx_free(rx);
}

static void
rx_end(struct qmgr *q, struct peer *p, uint32_t tag, const unsigned char *pl, size_t len)
{
	struct rx *rx = rx_find(p, tag, 1);
	struct ipc_rd rd;
	struct qop *op;
	uint64_t size;

	if (rx == NULL)
		return;
	ipc_rd_init(&rd, pl, len);
	size = ipc_get_u64(&rd);
	if (!ipc_rd_done(&rd) || size != rx->size || rx->io_error) {
		log_warning("MID %u not queued: %s", rx->m->mid, rx->io_error ?
		    strerror(rx->io_error) : "size mismatch between smtpd and qmgr");
		rx_reply(p, tag, COMMIT_TEMPFAIL, "451 4.3.0 Local error in processing");
		rx_free(rx);
		return;
	}
	rx->m->size = size;
	rx->m->subject = find_subject(rx->body.data ? rx->body.data : "", rx->body.len);
	if (q->wq_paused)
		rx->m->flags |= MSGF_WORKQ;	/* committed as held */
	op = qop_new(QOP_PUT_MSG, rx->m->mid);
	if (rx->fd >= 0) {
		close(rx->fd);
		rx->fd = -1;
		rx->m->body_in_file = 1;
		op->body_file = xstrdup(rx->tmppath);
	} else {
		op->with_body = 1;
		op->body = rx->body;
		buf_init(&rx->body, 0);
	}
	qmsg_encode(rx->m, &op->env);
	op->ctx = rx;
	op->done = rx_committed;
	rx->next = NULL;
	store_submit(q->store, op);
}

static void
rx_abort(struct peer *p, uint32_t tag)
{
	struct rx *rx = rx_find(p, tag, 1);

	if (rx != NULL) {
		log_info("MID %u aborted by smtpd; nothing queued", rx->m->mid);
		rx_free(rx);
	}
}

static void
counter_message(struct qmgr *q, const unsigned char *pl, size_t len)
{
	struct ipc_rd rd;
	char name[64];
	uint64_t delta;
	int id;

	ipc_rd_init(&rd, pl, len);
	ipc_get_strbuf(&rd, name, sizeof name);
	delta = ipc_get_u64(&rd);
	if (ipc_rd_done(&rd) && qmgr_dns_counter(q, name, delta))
		return;
	if (!ipc_rd_done(&rd) || (id = counter_by_label(name)) < 0) {
		log_warning("unknown counter update '%s'", name);
		return;
	}
	counter_add(&q->ctr, (enum counter_id)id, delta);
}

/* ---- channels ---- */

static void
peer_frame(struct ipc_conn *c, const struct ipc_hdr *hdr, const unsigned char *pl, void *arg)
{
	struct peer *p = arg;
	struct qmgr *q = p->q;

	(void)c;
	switch (hdr->type) {
	case QMSG_IDS_REQ:
		ids_request(q, p, hdr->reqid, pl, hdr->len);
		break;
	case QMSG_BEGIN:
		rx_begin(q, p, hdr->reqid, pl, hdr->len);
		break;
	case QMSG_DATA:
		rx_data(q, p, hdr->reqid, pl, hdr->len);
		break;
	case QMSG_END:
		rx_end(q, p, hdr->reqid, pl, hdr->len);
		break;
	case QMSG_ABORT:
		rx_abort(p, hdr->reqid);
		break;
	case QMSG_COUNTER:
		counter_message(q, pl, hdr->len);
		break;
	case DMSG_BODY_REQ:
		sched_body_req(q, p, hdr->reqid, pl, hdr->len);
		break;
	case DMSG_RESULT:
		sched_result(q, p, hdr->reqid, pl, hdr->len);
		break;
	case DMSG_TLS_ERROR:
		sched_tls_error(q, pl, hdr->len);
		break;
	default:
		log_warning("unexpected message type %u from %s %d", hdr->type,
		    p->kind == PROC_SMTPD ? "smtpd" : "deliver", p->slot);
	}
}

static void
peer_closed(struct ipc_conn *c, void *arg)
{
	struct peer *p = arg, **pp;
	struct rx *rx, *next;

	(void)c;
	p->conn = NULL;
	for (pp = &qmgr.peers; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	for (rx = p->rxs; rx; rx = next) {
		next = rx->next;
		log_info("MID %u aborted: smtpd %d went away", rx->m->mid, p->slot);
		rx_free(rx);
	}
	if (p->kind == PROC_DELIVER)
		sched_deliver_lost(&qmgr, p);
	log_info("%s %d channel closed", p->kind == PROC_SMTPD ? "smtpd" : "deliver", p->slot);
	free(p);
}

static void
peer_add(struct qmgr *q, const unsigned char *pl, size_t len)
{
	struct ipc_rd rd;
	struct peer *p;
	uint32_t kind, slot;
	int fd = ipc_conn_take_fd(q->d.master);

	ipc_rd_init(&rd, pl, len);
	kind = ipc_get_u32(&rd);
	slot = ipc_get_u32(&rd);
	if (fd < 0 || !ipc_rd_done(&rd) || (kind != PROC_SMTPD && kind != PROC_DELIVER)) {
		log_warning("malformed peer message from master");
		if (fd >= 0)
			close(fd);
		return;
	}
	p = xcalloc(1, sizeof *p);
	p->q = q;
	p->serial = ++q->next_serial;
	p->kind = (int)kind;
	p->slot = (int)slot;
	p->conn = ipc_conn_open(q->d.loop, fd, peer_frame, peer_closed, p);
	if (p->conn == NULL) {
		close(fd);
		free(p);
		return;
	}
	p->next = q->peers;
	q->peers = p;
	log_info("%s %u connected", kind == PROC_SMTPD ? "smtpd" : "deliver", slot);
	if (kind == PROC_DELIVER)
		sched_kick(q);
}

static void
drain_check(struct qmgr *q)
{
	struct peer *p;
	int busy = 0;

	for (p = q->peers; p; p = p->next)
		if (p->rxs || p->njobs)
			busy = 1;
	if (busy && qmgr_now() < q->drain_deadline)
		return;
	qmgr_persist_counters(q);
	log_info("queue closed after %llu group commit(s); qmgr exits",
	    (unsigned long long)store_commits(q->store));
	store_close(q->store);
	exit(0);
}

/* Disk I/O of the queue: bytes this process read and wrote in the last
 * second (Linux /proc/self/io; elsewhere 0), against the most seen. */
static void
sample_io(struct qmgr *q)
{
	FILE *fp = fopen("/proc/self/io", "r");
	char line[128];
	uint64_t total = 0, v;

	if (fp == NULL)
		return;
	while (fgets(line, sizeof line, fp) != NULL)
		if (sscanf(line, "read_bytes: %" SCNu64, &v) == 1 ||
		    sscanf(line, "write_bytes: %" SCNu64, &v) == 1)
			total += v;
	fclose(fp);
	q->io_cur = q->io_last && total >= q->io_last ? total - q->io_last : 0;
	q->io_last = total;
	if (q->io_cur > q->io_max)
		q->io_max = q->io_cur;
}

/* Queue use for smtpd's resource conservation: what is used of the
 * room the queue has (store_usage counts the map and the disk). */
static void
send_queue_use(struct qmgr *q)
{
	uint64_t used_kb, free_kb;
	struct peer *p;
	struct buf b;
	size_t start;
	uint32_t pct;

	store_usage(q->store, &used_kb, &free_kb);
	pct = used_kb + free_kb ? (uint32_t)(used_kb * 100 / (used_kb + free_kb)) : 0;
	buf_init(&b, 0);
	for (p = q->peers; p; p = p->next) {
		if (p->kind != PROC_SMTPD)
			continue;
		start = ipc_msg_begin(&b, QMSG_QUEUE_USE, 0);
		ipc_put_u32(&b, pct);
		ipc_msg_end(&b, start);
		qmgr_send(p, &b);
	}
	buf_free(&b);
}

static void
tick_cb(uv_timer_t *t)
{
	struct qmgr *q = t->data;

	send_queue_use(q);
	qmgr_sample_rates(q);
	sample_io(q);
	sched_tick(q);
	qmgr_persist_counters(q);
	if (q->draining)
		drain_check(q);
}

static void
master_frame(struct daemon *d, const struct ipc_hdr *hdr, const unsigned char *pl)
{
	struct qmgr *q = &qmgr;
	struct ipc_rd rd;

	(void)d;
	switch (hdr->type) {
	case IMSG_PEER:
		peer_add(q, pl, hdr->len);
		break;
	case IMSG_CTL:
		qmgr_ctl(q, hdr->reqid, pl, hdr->len);
		break;
	case IMSG_DRAIN:
		ipc_rd_init(&rd, pl, hdr->len);
		q->draining = 1;
		q->drain_deadline = qmgr_now() + ipc_get_u32(&rd);
		log_info("draining: finishing open work, then exiting");
		drain_check(q);
		break;
	default:
		log_warning("unexpected message type %u from master", hdr->type);
	}
}

/* ---- start-up ---- */

static void
recover_one(uint32_t mid, const void *env, size_t len, void *arg)
{
	struct qmgr *q = arg;
	struct qmsg *m = qmsg_decode(mid, env, len);

	if (m == NULL) {
		log_crit("MID %u: unreadable envelope in the queue; left in place", mid);
		return;
	}
	if (m->pending == 0) {
		/* Finished but its delete did not commit before a crash. */
		struct qop *op = qop_new(QOP_DEL_MSG, mid);
		op->unlink_body = m->body_in_file;
		store_submit(q->store, op);
		qmsg_free(m);
		return;
	}
	qmgr_msg_add(q, m);
}

static void
load_state(struct qmgr *q)
{
	char key[48];
	uint64_t v;
	size_t i, rcpts = 0;
	int k, r;
	static const char *const keys[4] = { "", "next.mid", "next.icid", "next.dcid" };

	for (k = ID_MID; k <= ID_DCID; k++) {
		q->next_id[k] = store_meta_get(q->store, keys[k], &v) == 0 ? v : 1;
		q->last_id[k] = q->next_id[k] > 0 ? (uint32_t)(q->next_id[k] - 1) : 0;
	}
	for (k = 0; k < C_COUNT; k++) {
		counter_key(key, sizeof key, "ctr", (enum counter_id)k);
		if (store_meta_get(q->store, key, &v) == 0)
			q->ctr.lifetime[k] = v;
		counter_key(key, sizeof key, "base", (enum counter_id)k);
		if (store_meta_get(q->store, key, &v) == 0)
			q->ctr.baseline[k] = v;
	}
	if (store_meta_get(q->store, "reset.time", &v) == 0)
		q->ctr.reset_time = v;
	qmgr_load_dns_counters(q);
	if ((r = store_scan(q->store, recover_one, q)) != 0)
		log_crit("queue scan failed: %s", store_strerror(r));
	for (i = 0; i < MSG_HASH_SIZE; i++) {
		struct qmsg *m;
		for (m = q->msgs[i]; m; m = m->hnext) {
			rcpts += m->pending;
			if (!(m->flags & MSGF_WORKQ))
				sched_message(q, m);
			else if (q->wq_paused)
				workqueue_enter(q, m);
			else {
				/* Paused when it arrived, resumed since. */
				m->flags &= ~(uint32_t)MSGF_WORKQ;
				sched_write_envelope(q, m);
				sched_message(q, m);
			}
		}
	}
	log_info("queue recovered: %zu message(s), %zu recipient(s) pending", q->nmsgs, rcpts);
}

static void
make_dir(const char *path, int mode)
{
	if (mkdir(path, (mode_t)mode) < 0 && errno != EEXIST)
		log_fatal("cannot create %s: %s", path, strerror(errno));
}

int
main(int argc, char **argv)
{
	struct qmgr *q = &qmgr;
	char err[512];

	daemon_init(&q->d, "qmgr", argc, argv, usage);
	daemon_drop_privileges(&q->d, q->d.cfg->users.queue, NULL);
	make_dir(q->d.cfg->paths.spool, 0750);
	make_dir(q->d.cfg->paths.state, 0750);
	q->store = store_open(q->d.loop, q->d.cfg->paths.spool, q->d.cfg->queue.map_size,
	    err, sizeof err);
	if (q->store == NULL)
		log_fatal("%s", err);
	q->started = time(NULL);
	sched_init(q);
	qmgr_load_suspend_state(q);
	qmgr_load_workqueue_state(q);
	load_state(q);
	rates_init(&q->rates, RS_COUNT);
	qmgr_sample_rates(q);		/* from zero: the first events count */
	uv_timer_init(q->d.loop, &q->tick);
	q->tick.data = q;
	uv_timer_start(&q->tick, tick_cb, 1000, 1000);
	daemon_start(&q->d, master_frame, NULL);
	log_info("qmgr started (queue %s/queue)", q->d.cfg->paths.spool);
	uv_run(q->d.loop, UV_RUN_DEFAULT);
	return 0;
}
