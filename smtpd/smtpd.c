/*
 * smtpd - Sallyport's SMTP server daemon.
 *
 * SUMMARY
 *	smtpd -s SLOT	(started by sallyportd, never by hand)
 *
 * WHAT IT DOES
 *	Serves SMTP on the listening sockets master opened (fd
 *	LISTENER_FD_BASE + i for listeners[i]), one libuv loop, thousands of
 *	sessions.  Each connection gets an ICID and a session (session.c:
 *	the protocol, HAT/RAT, DATA); this file owns what session.c must
 *	not: sockets, timers, the qmgr channel, the ID blocks, and master's
 *	requests.  One switch per channel: master_frame() for master,
 *	qmgr_frame() for qmgr.
 *
 *	Privilege: after start-up it runs as users.net, chrooted in
 *	<paths.run>/empty, and opens no file.  Everything it needs (config
 *	texts, listening sockets, the qmgr channel) arrives over descriptors.
 *
 *	The qmgr channel comes as IMSG_PEER and may go away at any time
 *	(qmgr restarts); without it MAIL FROM answers 451, and transactions
 *	that were streaming to it end with 451.  IDs come from qmgr in
 *	blocks (IDS_BLOCK at first), asked for again below a quarter; a
 *	block that runs dry doubles the next one.  While a block is on its
 *	way a new client waits for its ICID (at most ICID_WAIT_MS) and a
 *	DATA command for its MID (SMTP_WAIT_MID), instead of being refused
 *	for a burst; with no qmgr at all they get 421 and 451.
 *
 *	Backpressure: a client is read only while its session has room and
 *	its replies are being taken (CONN_WQ_HIGH); message data is not read
 *	while more than QMGR_WQ_HIGH bytes wait to go to qmgr.
 *
 *	DNS for the HAT: before a session starts, hat_dns_needs() says
 *	which facts can change the client's sender group; only those are
 *	looked up, on the thread pool through lib/dns (cached, each answer
 *	within dns.timeout): the PTR name and its forward confirmation
 *	(an A/AAAA lookup of the first PTR name that must give back the
 *	client's address), and one A query per DNS list zone (the first
 *	HAT_ZONES_MAX zones that can decide; later ones never match).  A lookup
 *	that fails or times out counts as "not listed" / "no verified
 *	name".  The resolver (dns.servers, else /etc/resolv.conf) is set up
 *	before the chroot; dns.timeout 0 turns these lookups off.
 *
 *	Hourly limits (max_rcpts_per_hour, DHAP) live in one rate table per
 *	process (rates.c); max_conns_per_ip counts this process's sessions.
 *	That is per client address for the whole gateway because master
 *	steers every connection from one address to the same smtpd (one
 *	SO_REUSEPORT socket per slot, chosen by a BPF program on the source
 *	address; see sallyportd.c).
 *
 *	Resource conservation: once a second the memory use is read from
 *	resource_conservation.meminfo (/proc/meminfo, opened before the
 *	chroot and re-read through the same descriptor) and the queue use
 *	is the higher of what qmgr reports for its LMDB map (QMSG_QUEUE_USE)
 *	and the use of the spool's file system (fstatvfs on the
 *	spool directory, also opened before the chroot).  Between the start
 *	and halt thresholds of either, the gauge runs 1-60 and each new
 *	connection waits gauge/60 x max_delay before its banner; at a halt
 *	threshold it is 999 and MAIL FROM gets 452 4.3.1.  The higher of the
 *	two levels counts.  Entry and exit are logged.  (A full LMDB map is
 *	qmgr's business: it answers 452 itself.)
 *
 *	Configuration: every session holds a reference to the config it
 *	started with (struct smtpd_conf), so a reload changes policies, HAT
 *	and RAT for new sessions only.  The set of listeners is fixed for the
 *	life of the process (master restarts smtpd when it changes).
 *
 * NOT FOR
 *	The SMTP protocol itself (session.c), TLS and AUTH (later issues).
 */
#include <sys/socket.h>
#include <sys/statvfs.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "buf.h"
#include "config.h"
#include "ctl.h"
#include "daemon.h"
#include "dns.h"
#include "hat.h"
#include "ipc.h"
#include "ipc_conn.h"
#include "log.h"
#include "proto.h"
#include "rates.h"
#include "session.h"
#include "xalloc.h"
#include "auth_users.h"
#include "auth_forward.h"
#include "tls_ctx.h"
#include "tls_io.h"

#define IDS_BLOCK		200	/* first block asked for */
#define IDS_BLOCK_MAX		65536	/* blocks grow up to this under load */
#define IDS_RANGES		4
#define READ_CHUNK		(64 * 1024)
#define CONN_WQ_HIGH		(128 * 1024)	/* replies not yet taken by the client */
#define QMGR_WQ_HIGH		(16 * 1024 * 1024)	/* unsent bytes to qmgr: pause DATA */
#define QMGR_WQ_LOW		(4 * 1024 * 1024)
#define CONGEST_CHECK_MS	10
#define CLOSE_GRACE_MS		10000	/* a closing client that does not read */
#define ICID_WAIT_MS		10000	/* a new client waiting for an ICID block */
#define DRAIN_GRACE_MS		30000	/* after the deadline, for commits */
#define LISTEN_BACKLOG		1024
#define HAT_ZONES_MAX		8	/* DNS lists looked up per client */
#define RESCON_CHECK_MS		1000

static const char usage[] =
    "usage: smtpd -s SLOT\n"
    "  The SMTP server of Sallyport; started by sallyportd, which passes its\n"
    "  configuration, listening sockets and queue manager channel.\n";

/* A config shared by the sessions that started under it. */
struct smtpd_conf {
	struct config		*cfg;
	unsigned		 refs;
	SSL_CTX			**tls;		/* per listener; NULL: no TLS */
	struct auth_users	*users;		/* NULL: no users file */
	SSL_CTX			*fwd_ctx;	/* auth.forward over TLS */
};

/* A password check on the thread pool.  c is NULL once the connection
 * has gone away (the result is then dropped). */
struct auth_job {
	uv_work_t		 work;
	struct conn		*c;
	struct smtpd_conf	*conf;
	char			 user[256];
	char			 pass[512];
	int			 result;
	char			 err[256];
};

/* IDs of one kind received from qmgr and not used yet.  A pool that
 * runs dry while qmgr is there doubles its block size: a burst of
 * connections or messages then costs one refusal round, not many. */
struct id_pool {
	uint32_t	first[IDS_RANGES];
	uint32_t	count[IDS_RANGES];
	int		n;
	uint32_t	avail;
	uint32_t	block;		/* size asked for; refill under a quarter */
	int		pending;	/* a request is out */
	int		dry;		/* ran out since the last block came */
};

struct listener {
	char		*name;
	size_t		 index;
	uv_tcp_t	 tcp;
	int		 open;
	int		 listening;
};

struct conn;

/* One DNS lookup of a connection waiting to start (slot 0: PTR, then the
 * forward confirmation; slot 1 + i: DNS list zone i). */
struct conn_dns {
	struct conn	*c;
	int		 slot;
	struct dns_req	*req;
};

struct conn {
	uv_tcp_t		 tcp;
	uv_timer_t		 timer;
	int			 nhandles;	/* open libuv handles */
	struct smtpd_conf	*conf;
	struct listener		*lst;
	const struct cfg_listener *lcfg;	/* in conf */
	struct smtp_session	*s;		/* NULL: no session (yet) */
	char			 local_ip[INET6_ADDRSTRLEN];
	char			 peer_ip[INET6_ADDRSTRLEN];
	int			 waiting_icid;	/* accepted; no ICID to start with */
	int			 waiting_mid;	/* session in SMTP_WAIT_MID */
	uint32_t		 icid;		/* taken, session not started yet */
	int			 preparing;	/* ICID taken, DNS or tarpit pending */
	int			 waiting_dns;	/* lookups left before the start */
	int			 tarpit;	/* resource conservation delay */
	struct conn_dns		 dq[1 + HAT_ZONES_MAX];
	struct dns_req		*vreq;		/* verify_sender_domain lookup */
	char			 ptr_host[DNS_NAME_MAX + 1];
	int			 host_verified;
	const char		*zones[HAT_ZONES_MAX];	/* into conf */
	int			 listed[HAT_ZONES_MAX];
	size_t			 nzones;
	uint64_t		 started;	/* uv_now() */
	uint64_t		 last_active;
	uint64_t		 idle_ms;
	uint64_t		 session_ms;
	uint32_t		 txn_tag;	/* QMSG_* reqid; 0: none */
	struct tls_io		*tls;		/* after STARTTLS */
	int			 handshaking;
	struct auth_job		*auth;		/* password check under way */
	size_t			 writing;	/* bytes handed to uv_write */
	int			 reading;
	int			 closing;
	struct conn		*prev, *next;
};

struct write_req {
	uv_write_t	 req;
	struct conn	*c;
	char		*data;
	size_t		 len;
};

/* The daemon's state: one struct, one instance. */
struct smtpd {
	struct daemon		 d;
	struct smtpd_conf	*conf;		/* for new sessions */
	struct smtpd_conf	*startup;	/* listeners come from this one */
	struct listener		*listeners;
	size_t			 nlisteners;
	struct conn		*conns;
	size_t			 nconns;	/* handles in the list */
	size_t			 nsessions;	/* of them, with a session */
	size_t			 nwaiting;	/* of them, waiting for an ICID */
	size_t			 npreparing;	/* of them, waiting for DNS or tarpit */
	struct ipc_conn		*qmgr;
	struct id_pool		 ids[ID_DCID + 1];
	uint32_t		 next_tag;
	uint32_t		 next_reqid;
	int			 congested;
	uv_timer_t		 congest_timer;
	int			 draining;
	uv_timer_t		 drain_timer;
	struct dns_resolver	*resolver;	/* NULL: no DNS for the HAT */
	struct dns_ctx		*dns;
	struct rate_table	*rates;
	int			 meminfo_fd;	/* -1: not measured */
	int			 spool_fd;	/* -1: not measured */
	int			 rescon_mem;	/* last levels: memory, queue */
	int			 rescon_queue;
	int			 qmgr_queue_use;	/* percent from qmgr, -1 unknown */
	unsigned		 rescon;	/* gauge: 0-60 or SMTP_RESCON_HALT */
	uv_timer_t		 rescon_timer;
	char			 rbuf[READ_CHUNK];
};

static struct smtpd smtpd;

static void	conn_pump(struct conn *);
static void	conn_update_reading(struct conn *);
static void	conn_refuse(struct conn *, const char *);
static void	conn_start_session(struct conn *, uint32_t);
static void	conn_prepare(struct conn *, uint32_t);
static void	conn_timer(uv_timer_t *);
static int	conn_listed(void *, const char *);
static uint32_t	conns_from_ip(struct smtpd *, const struct conn *);
static void	ids_arrived(struct smtpd *, uint32_t);
static void	listeners_start(struct smtpd *);

/* ---- configuration references ---- */

static struct smtpd_conf *
conf_load(struct daemon *d)
{
	struct smtpd_conf *sc;
	struct config *cfg;
	char err[1024];

	const struct cfg_file *f;
	size_t i;

	if (config_parse_sources(d->srcs, d->nsrcs, &cfg, err, sizeof err) < 0) {
		log_warning("cannot load configuration: %s", err);
		return NULL;
	}
	sc = xcalloc(1, sizeof *sc);
	sc->cfg = cfg;
	sc->refs = 1;
	sc->tls = xcalloc(cfg->nlisteners ? cfg->nlisteners : 1, sizeof *sc->tls);
	for (i = 0; i < cfg->nlisteners; i++) {
		const struct cfg_listener *l = &cfg->listeners[i];

		if (l->certificate == NULL && !config_listener_tls(cfg, l))
			continue;
		sc->tls[i] = tls_ctx_server(cfg, config_listener_certificate(l), err,
		    sizeof err);
		if (sc->tls[i] == NULL)
			log_warning("listener %s: no TLS: %s", l->name, err);
	}
	if (cfg->auth.users_file != NULL) {
		if ((f = config_file(cfg, cfg->auth.users_file)) == NULL)
			log_warning("auth.users_file %s was not loaded; AUTH is not offered",
			    cfg->auth.users_file);
		else if ((sc->users = auth_users_parse(f->data, f->len, err,
		    sizeof err)) == NULL)
			log_warning("auth.users_file %s: %s; AUTH is not offered",
			    cfg->auth.users_file, err);
	}
	if (sc->users == NULL && cfg->auth.forward != NULL &&
	    cfg->auth.forward_tls != TLS_OUT_OFF &&
	    (sc->fwd_ctx = tls_ctx_client(cfg, NULL, err, sizeof err)) == NULL)
		log_warning("auth.forward: no TLS: %s", err);
	return sc;
}

static struct smtpd_conf *
conf_ref(struct smtpd_conf *sc)
{
	sc->refs++;
	return sc;
}

static void
conf_unref(struct smtpd_conf *sc)
{
	size_t i;

	if (sc == NULL || --sc->refs > 0)
		return;
	for (i = 0; i < sc->cfg->nlisteners; i++)
		SSL_CTX_free(sc->tls[i]);
	free(sc->tls);
	auth_users_free(sc->users);
	SSL_CTX_free(sc->fwd_ctx);
	config_free(sc->cfg);
	free(sc);
}

/* ---- IDs ---- */

static void
ids_refill(struct smtpd *sd, uint32_t kind)
{
	struct id_pool *p = &sd->ids[kind];
	struct buf b;
	size_t start;

	if (p->block == 0)
		p->block = IDS_BLOCK;
	if (sd->qmgr == NULL || p->pending || p->avail >= p->block / 4 || p->n == IDS_RANGES)
		return;
	buf_init(&b, 0);
	start = ipc_msg_begin(&b, QMSG_IDS_REQ, ++sd->next_reqid);
	ipc_put_u32(&b, kind);
	ipc_put_u32(&b, p->block);
	ipc_msg_end(&b, start);
	if (ipc_conn_send(sd->qmgr, &b) == 0)
		p->pending = 1;
	buf_free(&b);
}

static int
ids_take(struct smtpd *sd, uint32_t kind, uint32_t *out)
{
	struct id_pool *p = &sd->ids[kind];

	if (p->n == 0) {
		if (sd->qmgr != NULL && !p->dry && p->block != 0 && p->block < IDS_BLOCK_MAX) {
			p->dry = 1;
			p->block *= 2;
			log_info("%s block ran dry; asking for %u at a time",
			    kind == ID_MID ? "MID" : "ICID", p->block);
		}
		ids_refill(sd, kind);
		return -1;
	}
	*out = p->first[0]++;
	p->avail--;
	if (--p->count[0] == 0) {
		memmove(p->first, p->first + 1, (size_t)(p->n - 1) * sizeof p->first[0]);
		memmove(p->count, p->count + 1, (size_t)(p->n - 1) * sizeof p->count[0]);
		p->n--;
	}
	ids_refill(sd, kind);
	return 0;
}

static void
ids_received(struct smtpd *sd, const unsigned char *pl, size_t len)
{
	struct ipc_rd rd;
	struct id_pool *p;
	uint32_t kind, first, count;

	ipc_rd_init(&rd, pl, len);
	kind = ipc_get_u32(&rd);
	first = ipc_get_u32(&rd);
	count = ipc_get_u32(&rd);
	if (!ipc_rd_done(&rd) || (kind != ID_MID && kind != ID_ICID) || count == 0 ||
	    first >= ID_WRAP || count > ID_WRAP - first) {
		log_warning("malformed ID block from qmgr");
		return;
	}
	p = &sd->ids[kind];
	p->pending = 0;
	p->dry = 0;
	if (p->n == IDS_RANGES) {
		log_warning("ID block from qmgr not needed; dropped");
		return;
	}
	p->first[p->n] = first;
	p->count[p->n] = count;
	p->n++;
	p->avail += count;
	ids_refill(sd, kind);
	ids_arrived(sd, kind);
}

/* ---- session ops: the qmgr side of a session ---- */

static int
op_qmgr_ready(void *arg)
{
	(void)arg;
	return smtpd.qmgr != NULL;
}

static int
op_take_mid(void *arg, uint32_t *mid)
{
	struct conn *c = arg;

	if (ids_take(&smtpd, ID_MID, mid) == 0)
		return 0;
	if (smtpd.qmgr == NULL)
		return -1;
	c->waiting_mid = 1;	/* ids_take asked for more */
	return 1;
}

static int
op_begin(void *arg, const struct smtp_txn *t)
{
	struct conn *c = arg;
	struct smtpd *sd = &smtpd;
	struct buf b;
	size_t start, i;

	if (sd->qmgr == NULL)
		return -1;
	if (++sd->next_tag == 0)
		sd->next_tag = 1;
	buf_init(&b, 0);
	start = ipc_msg_begin(&b, QMSG_BEGIN, sd->next_tag);
	ipc_put_u32(&b, t->mid);
	ipc_put_u32(&b, t->icid);
	ipc_put_u64(&b, t->received);
	ipc_put_str(&b, t->listener);
	ipc_put_str(&b, t->client_ip);
	ipc_put_str(&b, t->client_host);
	ipc_put_str(&b, t->helo);
	ipc_put_str(&b, t->sender);
	ipc_put_u32(&b, t->flags);
	ipc_put_u32(&b, (uint32_t)t->nrcpt);
	for (i = 0; i < t->nrcpt; i++)
		ipc_put_str(&b, t->rcpts[i]);
	if (ipc_msg_end(&b, start) < 0 || ipc_conn_send(sd->qmgr, &b) < 0) {
		buf_free(&b);
		return -1;
	}
	buf_free(&b);
	c->txn_tag = sd->next_tag;
	return 0;
}

static void
congestion_check(uv_timer_t *t)
{
	struct smtpd *sd = t->data;
	struct conn *c;

	if (sd->qmgr != NULL && ipc_conn_write_queue(sd->qmgr) > QMGR_WQ_LOW)
		return;
	sd->congested = 0;
	uv_timer_stop(t);
	log_info("queue manager caught up; resuming message data");
	for (c = sd->conns; c != NULL; c = c->next)
		if (c->s != NULL && !c->closing)
			conn_pump(c);
}

static void
op_data(void *arg, const void *p, size_t n)
{
	struct conn *c = arg;
	struct smtpd *sd = &smtpd;

	if (sd->qmgr == NULL || c->txn_tag == 0)
		return;
	ipc_conn_send_raw(sd->qmgr, QMSG_DATA, c->txn_tag, p, n);
	if (!sd->congested && ipc_conn_write_queue(sd->qmgr) > QMGR_WQ_HIGH) {
		/* qmgr is slower than the clients: stop reading DATA until it
		 * catches up, so its backlog cannot grow without bound here. */
		sd->congested = 1;
		uv_timer_start(&sd->congest_timer, congestion_check, CONGEST_CHECK_MS,
		    CONGEST_CHECK_MS);
		log_info("queue manager is behind; pausing message data");
	}
}

static void
op_end(void *arg, uint64_t size)
{
	struct conn *c = arg;
	struct smtpd *sd = &smtpd;
	struct buf b;
	size_t start;

	if (sd->qmgr == NULL || c->txn_tag == 0)
		return;
	buf_init(&b, 0);
	start = ipc_msg_begin(&b, QMSG_END, c->txn_tag);
	ipc_put_u64(&b, size);
	ipc_msg_end(&b, start);
	ipc_conn_send(sd->qmgr, &b);
	buf_free(&b);
	/* The client now waits for us: the idle clock restarts. */
	c->last_active = uv_now(sd->d.loop);
}

static void
op_abort(void *arg)
{
	struct conn *c = arg;
	struct smtpd *sd = &smtpd;

	if (sd->qmgr != NULL && c->txn_tag != 0)
		ipc_conn_send_raw(sd->qmgr, QMSG_ABORT, c->txn_tag, NULL, 0);
	c->txn_tag = 0;
}

static void
op_counter(void *arg, const char *name, uint64_t delta)
{
	struct smtpd *sd = &smtpd;
	struct buf b;
	size_t start;

	(void)arg;
	if (sd->qmgr == NULL)
		return;		/* counters are best effort */
	buf_init(&b, 0);
	start = ipc_msg_begin(&b, QMSG_COUNTER, 0);
	ipc_put_str(&b, name);
	ipc_put_u64(&b, delta);
	ipc_msg_end(&b, start);
	ipc_conn_send(sd->qmgr, &b);
	buf_free(&b);
}

static time_t
op_now(void *arg)
{
	(void)arg;
	return time(NULL);
}

static unsigned
op_rescon(void *arg)
{
	(void)arg;
	return smtpd.rescon;
}

static void
verify_answer(const struct dns_result *res, void *arg)
{
	struct conn *c = arg;

	c->vreq = NULL;
	if (c->closing || c->s == NULL)
		return;
	smtp_session_sender_verified(c->s, res->status == DNS_OK ? SMTP_VERIFY_OK :
	    res->status == DNS_TEMPFAIL ? SMTP_VERIFY_TEMPFAIL : SMTP_VERIFY_NXDOMAIN);
	conn_pump(c);
}

static int
op_verify_domain(void *arg, const char *domain)
{
	struct conn *c = arg;

	if (smtpd.dns == NULL || c->conf->cfg->dns.timeout == 0 || c->vreq != NULL)
		return -1;
	c->vreq = dns_lookup(smtpd.dns, DNS_KIND_MX, domain, verify_answer, c);
	return 0;
}

static void
auth_work(uv_work_t *w)
{
	struct auth_job *j = w->data;

	if (j->conf->users != NULL)
		j->result = auth_users_check(j->conf->users, j->user, j->pass);
	else
		j->result = auth_forward_check(j->conf->cfg, j->conf->fwd_ctx, j->user, j->pass,
		    j->err, sizeof j->err);
	explicit_bzero(j->pass, sizeof j->pass);
	OPENSSL_thread_stop();	/* this pool thread's TLS and RNG state (see dns.c) */
}

static void
auth_done(uv_work_t *w, int status)
{
	struct auth_job *j = w->data;
	struct conn *c = j->c;
	int result = status < 0 ? -1 : j->result;

	if (result < 0 && j->err[0] != '\0') {
		char safe[sizeof j->user * 4];

		log_warning("AUTH check for '%s' failed: %s", log_safe(j->user, safe,
		    sizeof safe), j->err);
	}
	explicit_bzero(j->pass, sizeof j->pass);
	conf_unref(j->conf);
	free(j);
	if (c == NULL)
		return;
	c->auth = NULL;
	smtp_session_auth_result(c->s, result > 0 ? SMTP_AUTH_OK : result == 0 ?
	    SMTP_AUTH_FAIL : SMTP_AUTH_TEMPFAIL);
	conn_pump(c);
}

static void
op_auth_check(void *arg, const char *user, const char *pass)
{
	struct conn *c = arg;
	struct auth_job *j = xcalloc(1, sizeof *j);

	j->c = c;
	j->conf = conf_ref(c->conf);
	j->work.data = j;
	snprintf(j->user, sizeof j->user, "%s", user);
	if (strlen(pass) >= sizeof j->pass)
		j->pass[0] = '\0';	/* longer than any password we accept: fails */
	else
		memcpy(j->pass, pass, strlen(pass) + 1);
	c->auth = j;
	uv_queue_work(smtpd.d.loop, &j->work, auth_work, auth_done);
}

static const struct smtp_session_ops session_ops = {
	.auth_check = op_auth_check,
	.verify_domain = op_verify_domain,
	.now = op_now,
	.rescon = op_rescon,
	.qmgr_ready = op_qmgr_ready,
	.take_mid = op_take_mid,
	.begin = op_begin,
	.data = op_data,
	.end = op_end,
	.abort = op_abort,
	.counter = op_counter,
};

/* ---- connections ---- */

static void
conn_dns_cancel(struct conn *c)
{
	size_t i;

	for (i = 0; i < 1 + HAT_ZONES_MAX; i++) {
		if (c->dq[i].req != NULL) {
			dns_cancel(c->dq[i].req);
			c->dq[i].req = NULL;
		}
	}
	if (c->vreq != NULL) {
		dns_cancel(c->vreq);
		c->vreq = NULL;
	}
	c->waiting_dns = 0;
}

static void
conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct smtpd *sd = &smtpd;

	if (--c->nhandles > 0)
		return;
	conn_dns_cancel(c);
	if (c->auth != NULL)
		c->auth->c = NULL;
	tls_io_free(c->tls);
	if (c->s != NULL) {
		smtp_session_free(c->s);	/* may abort a transaction: c still valid */
		sd->nsessions--;
	}
	if (c->waiting_icid)
		sd->nwaiting--;
	if (c->preparing)
		sd->npreparing--;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		sd->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	sd->nconns--;
	conf_unref(c->conf);
	free(c);
	if (sd->draining && sd->nconns == 0) {
		log_info("drained: no session left; smtpd exits");
		exit(0);
	}
}

static void
conn_close_handles(struct conn *c)
{
	if (uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

static void
conn_timer(uv_timer_t *t)
{
	struct conn *c = t->data;
	uint64_t now = uv_now(t->loop), next = 0, d;

	if (c->closing) {
		conn_close_handles(c);	/* the client would not take the last reply */
		return;
	}
	if (c->s == NULL) {
		if (c->tarpit) {
			c->tarpit = 0;
			conn_start_session(c, c->icid);
			return;
		}
		if (c->waiting_icid) {
			c->waiting_icid = 0;
			smtpd.nwaiting--;
			log_warning("connection from %s on %s refused: no ICID came from the "
			    "queue manager", c->peer_ip, c->lst->name);
			conn_refuse(c, "421 4.3.0 Service temporarily unavailable\r\n");
		}
		return;
	}
	if (c->session_ms && now >= c->started + c->session_ms)
		smtp_session_timeout(c->s, SMTP_TIMEOUT_SESSION);
	else if (c->idle_ms && now >= c->last_active + c->idle_ms)
		smtp_session_timeout(c->s, SMTP_TIMEOUT_IDLE);
	else {
		if (c->idle_ms)
			next = c->last_active + c->idle_ms - now;
		if (c->session_ms) {
			d = c->started + c->session_ms - now;
			if (next == 0 || d < next)
				next = d;
		}
		if (next)
			uv_timer_start(&c->timer, conn_timer, next, 0);
		return;
	}
	conn_pump(c);
}

/* No more reading; close once the last reply is written. */
static void
conn_finish(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = 0;
	}
	if (c->writing == 0) {
		conn_close_handles(c);
		return;
	}
	uv_timer_start(&c->timer, conn_timer, CLOSE_GRACE_MS, 0);
}

static void
conn_written(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct conn *c = w->c;

	c->writing -= w->len;
	free(w->data);
	free(w);
	if (uv_is_closing((uv_handle_t *)&c->tcp))
		return;
	if (c->closing) {
		if (c->writing == 0)
			conn_close_handles(c);
		return;
	}
	if (status < 0) {
		smtp_session_lost(c->s);
		conn_finish(c);
		return;
	}
	conn_pump(c);
}

static void
conn_write(struct conn *c, char *data, size_t len)
{
	struct write_req *w = xcalloc(1, sizeof *w);
	uv_buf_t ub;

	w->c = c;
	w->data = data;
	w->len = len;
	ub = uv_buf_init(data, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &ub, 1, conn_written) < 0) {
		free(data);
		free(w);
		if (c->s != NULL)
			smtp_session_lost(c->s);
		return;
	}
	c->writing += len;
}

/* What TLS has for the network. */
static void
conn_tls_send(struct conn *c)
{
	size_t len;
	char *p = tls_io_take_output(c->tls, &len);

	if (p != NULL)
		conn_write(c, p, len);
}

static void
conn_flush(struct conn *c)
{
	struct buf *out = smtp_session_output(c->s);
	size_t len = out->len;

	if (len == 0)
		return;
	if (c->tls == NULL) {
		conn_write(c, buf_steal(out), len);
		return;
	}
	if (tls_io_write(c->tls, out->data, len) < 0)
		smtp_session_lost(c->s);
	buf_reset(out);
	conn_tls_send(c);
}

/* The session said 220 to STARTTLS (already flushed in clear). */
static void
conn_tls_start(struct conn *c)
{
	SSL_CTX *ctx = c->conf->tls[c->lcfg - c->conf->cfg->listeners];

	if (ctx == NULL || (c->tls = tls_io_new(ctx, 1, NULL)) == NULL) {
		smtp_session_tls_failed(c->s, "cannot start TLS");
		return;
	}
	c->handshaking = 1;
}

/* Moves what TLS has decrypted into the session, as far as it has room;
 * drives the handshake first. */
static void
conn_tls_input(struct conn *c)
{
	char version[32], cipher[96], peer[512];
	size_t room;
	ssize_t n;
	int r;

	if (c->handshaking) {
		r = tls_io_handshake(c->tls);
		conn_tls_send(c);
		if (r == TLS_IO_WANT)
			return;
		c->handshaking = 0;
		if (r != TLS_IO_DONE) {
			smtp_session_tls_failed(c->s, tls_io_error(c->tls));
			return;
		}
		tls_ctx_describe(tls_io_ssl(c->tls), version, sizeof version, cipher,
		    sizeof cipher, peer, sizeof peer);
		smtp_session_tls_started(c->s, version, cipher, peer[0] ? peer : NULL);
	}
	while ((room = smtp_session_input_room(c->s)) > 0 && smtp_session_wants_input(c->s)) {
		n = tls_io_read(c->tls, smtpd.rbuf, room < sizeof smtpd.rbuf ? room :
		    sizeof smtpd.rbuf);
		conn_tls_send(c);	/* TLS 1.3 may answer (key updates) */
		if (n > 0) {
			smtp_session_input(c->s, smtpd.rbuf, (size_t)n);
			continue;
		}
		if (n == TLS_IO_CLOSED)
			smtp_session_eof(c->s);
		else if (n == TLS_IO_ERROR) {
			log_info("ICID %u TLS error: %s", c->icid, tls_io_error(c->tls));
			smtp_session_lost(c->s);
		}
		break;
	}
}

static void
conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *ub)
{
	struct conn *c = h->data;
	size_t room = c->s != NULL ? smtp_session_input_room(c->s) : 0;

	(void)hint;
	if (c->tls != NULL)
		room = READ_CHUNK;	/* ciphertext: the want test bounded it */
	ub->base = smtpd.rbuf;
	ub->len = room < sizeof smtpd.rbuf ? room : sizeof smtpd.rbuf;
}

static void
conn_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *ub)
{
	struct conn *c = st->data;

	if (nread == 0 || c->closing)
		return;
	if (nread == UV_ENOBUFS) {
		conn_update_reading(c);
		return;
	}
	if (nread < 0) {
		uv_read_stop(st);
		c->reading = 0;
		if (c->handshaking)
			smtp_session_tls_failed(c->s, nread == UV_EOF ? "the client closed "
			    "the connection during the handshake" : uv_strerror((int)nread));
		else if (nread == UV_EOF)
			smtp_session_eof(c->s);
		else
			smtp_session_lost(c->s);
		conn_pump(c);
		return;
	}
	c->last_active = uv_now(st->loop);
	if (c->tls != NULL) {
		tls_io_feed(c->tls, ub->base, (size_t)nread);
		conn_tls_input(c);
	} else
		smtp_session_input(c->s, ub->base, (size_t)nread);
	conn_pump(c);
}

static void
conn_update_reading(struct conn *c)
{
	struct smtpd *sd = &smtpd;
	int want;

	if (c->closing)
		return;
	want = smtp_session_wants_input(c->s) && c->writing < CONN_WQ_HIGH &&
	    !(sd->congested && smtp_session_state(c->s) == SMTP_DATA);
	if (c->tls != NULL) {
		/* Ciphertext is read while the handshake needs it, or while the
		 * session has room and TLS holds nothing it has not taken. */
		if (c->handshaking)
			want = c->writing < CONN_WQ_HIGH;
		else if (tls_io_pending(c->tls))
			want = 0;
	}
	if (want && !c->reading) {
		if (uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) == 0)
			c->reading = 1;
	} else if (!want && c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = 0;
	}
}

/* Writes what the session produced, lets it go on while it can, and
 * decides whether to read from the client. */
static void
conn_pump(struct conn *c)
{
	if (c->closing)
		return;
	for (;;) {
		conn_flush(c);
		if (smtp_session_state(c->s) == SMTP_CLOSED) {
			if (c->tls != NULL && !c->handshaking) {
				tls_io_shutdown(c->tls);
				conn_tls_send(c);
			}
			conn_finish(c);
			return;
		}
		if (smtp_session_state(c->s) == SMTP_STARTTLS && c->tls == NULL) {
			conn_tls_start(c);
			continue;
		}
		if (c->tls != NULL && !c->handshaking && tls_io_pending(c->tls) &&
		    smtp_session_wants_input(c->s) && c->writing < CONN_WQ_HIGH) {
			size_t before = smtp_session_input_room(c->s);

			conn_tls_input(c);
			if (smtp_session_input_room(c->s) != before ||
			    smtp_session_state(c->s) == SMTP_CLOSED)
				continue;
		}
		if (!smtp_session_runnable(c->s) || c->writing >= CONN_WQ_HIGH)
			break;
		smtp_session_process(c->s);
	}
	conn_update_reading(c);
}

/* Answers a connection we will not serve, and closes it. */
static void
conn_refuse(struct conn *c, const char *text)
{
	conn_write(c, xstrdup(text), strlen(text));
	conn_finish(c);
}

static void
sockaddr_text(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	out[0] = '\0';
	if (ss->ss_family == AF_INET)
		uv_ip4_name((const struct sockaddr_in *)ss, out, outlen);
	else if (ss->ss_family == AF_INET6) {
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12, out, (socklen_t)outlen);
		else
			uv_ip6_name(s6, out, outlen);
	}
}

static int
conn_listed(void *arg, const char *zone)
{
	struct conn *c = arg;
	size_t i;

	for (i = 0; i < c->nzones; i++)
		if (strcasecmp(c->zones[i], zone) == 0)
			return c->listed[i];
	return 0;
}

/* Sessions from c's address on c's listener, c included. */
static uint32_t
conns_from_ip(struct smtpd *sd, const struct conn *c)
{
	const struct conn *o;
	uint32_t n = 1;

	for (o = sd->conns; o != NULL; o = o->next)
		if (o != c && o->s != NULL && !o->closing && o->lst == c->lst &&
		    strcmp(o->peer_ip, c->peer_ip) == 0)
			n++;
	return n;
}

/* Starts the SMTP session of an accepted connection. */
static void
conn_start_session(struct conn *c, uint32_t icid)
{
	struct smtpd *sd = &smtpd;
	const struct config *cfg = c->conf->cfg;
	struct smtp_session_params sp;

	if (c->preparing) {
		c->preparing = 0;
		sd->npreparing--;
	}
	memset(&sp, 0, sizeof sp);
	sp.cfg = cfg;
	sp.listener = c->lcfg;
	sp.local_ip = c->local_ip;
	sp.client_ip = c->peer_ip;
	sp.icid = icid;
	sp.ptr_host = c->ptr_host[0] != '\0' ? c->ptr_host : NULL;
	sp.host_verified = c->host_verified;
	sp.listed = conn_listed;
	sp.listed_arg = c;
	sp.conns_from_ip = conns_from_ip(sd, c);
	sp.rates = sd->rates;
	sp.tls_available = c->conf->tls[c->lcfg - cfg->listeners] != NULL;
	sp.auth_available = c->conf->users != NULL || c->conf->cfg->auth.forward != NULL;
	c->s = smtp_session_new(&sp, &session_ops, c);
	sd->nsessions++;
	c->started = c->last_active = uv_now(sd->d.loop);
	c->idle_ms = (uint64_t)cfg->smtpd.idle_timeout * 1000;
	c->session_ms = (uint64_t)cfg->smtpd.session_timeout * 1000;
	uv_timer_stop(&c->timer);
	if (c->idle_ms || c->session_ms)
		uv_timer_start(&c->timer, conn_timer, c->idle_ms && (!c->session_ms ||
		    c->idle_ms < c->session_ms) ? c->idle_ms : c->session_ms, 0);
	smtp_session_start(c->s);
	conn_pump(c);
}

/* The DNS facts are in (or were not needed): start now or after the
 * resource conservation delay. */
static void
conn_dns_done(struct conn *c)
{
	struct smtpd *sd = &smtpd;
	const struct config *cfg = c->conf->cfg;
	uint64_t delay;

	if (sd->rescon > 0 && sd->rescon < SMTP_RESCON_HALT && cfg->rescon.max_delay > 0) {
		delay = (uint64_t)cfg->rescon.max_delay * 1000 * sd->rescon / 60;
		c->tarpit = 1;
		uv_timer_start(&c->timer, conn_timer, delay, 0);
		return;
	}
	conn_start_session(c, c->icid);
}

/* A PTR name fit for logs and Received: letters, digits, '-', '_', '.'. */
static int
ldh_name(const char *n)
{
	size_t len = strlen(n);

	return len > 0 && len <= DNS_NAME_MAX && strspn(n, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == len;
}

static void
conn_dns_answer(const struct dns_result *res, void *arg)
{
	struct conn_dns *q = arg;
	struct conn *c = q->c;
	struct hat_addr client;
	size_t i;

	q->req = NULL;
	if (q->slot > 0) {
		c->listed[q->slot - 1] = res->status == DNS_OK;
	} else if (res->kind == DNS_KIND_PTR) {
		if (res->status == DNS_OK && res->nhosts > 0 && ldh_name(res->hosts[0].name)) {
			snprintf(c->ptr_host, sizeof c->ptr_host, "%s", res->hosts[0].name);
			q->req = dns_lookup(smtpd.dns, DNS_KIND_ADDR, c->ptr_host,
			    conn_dns_answer, q);
			return;		/* still waiting: the forward confirmation */
		}
	} else if (res->status == DNS_OK && res->nhosts > 0 &&
	    hat_parse_addr(c->peer_ip, &client) == 0) {
		for (i = 0; i < res->hosts[0].naddrs; i++) {
			const struct dns_addr *a = &res->hosts[0].addrs[i];

			if (a->family == client.family && memcmp(a->bytes, client.bytes,
			    client.family == AF_INET ? 4 : 16) == 0)
				c->host_verified = 1;
		}
	}
	if (--c->waiting_dns == 0 && !c->closing)
		conn_dns_done(c);
}

/*
 * An accepted connection with its ICID: looks up what the HAT needs to
 * know about the client, then starts the session.
 */
static void
conn_prepare(struct conn *c, uint32_t icid)
{
	struct smtpd *sd = &smtpd;
	const struct cfg_listener *l = c->lcfg;
	char name[DNS_NAME_MAX + 1];
	int need_host;
	size_t i;

	c->icid = icid;
	c->preparing = 1;
	sd->npreparing++;
	if (sd->dns == NULL || c->conf->cfg->dns.timeout == 0) {
		conn_dns_done(c);
		return;
	}
	hat_dns_needs(l->hat, l->nhat, c->peer_ip, &need_host, c->zones, HAT_ZONES_MAX,
	    &c->nzones);
	c->waiting_dns = 1;	/* held while the lookups are started */
	if (need_host) {
		c->dq[0].c = c;
		c->dq[0].slot = 0;
		c->waiting_dns++;
		c->dq[0].req = dns_lookup(sd->dns, DNS_KIND_PTR, c->peer_ip, conn_dns_answer,
		    &c->dq[0]);
	}
	for (i = 0; i < c->nzones; i++) {
		c->dq[1 + i].c = c;
		c->dq[1 + i].slot = (int)i + 1;
		if (dns_reverse_name(c->peer_ip, c->zones[i], name, sizeof name) < 0)
			continue;
		c->waiting_dns++;
		c->dq[1 + i].req = dns_lookup(sd->dns, DNS_KIND_A, name, conn_dns_answer,
		    &c->dq[1 + i]);
	}
	if (--c->waiting_dns == 0)
		conn_dns_done(c);
}

/* An ID block arrived: whoever waited for one goes on. */
static void
ids_arrived(struct smtpd *sd, uint32_t kind)
{
	struct conn *c;
	uint32_t icid;

	if (kind == ID_ICID && !sd->draining)
		listeners_start(sd);
	for (c = sd->conns; c != NULL; c = c->next) {
		if (c->closing)
			continue;
		if (kind == ID_ICID && c->waiting_icid) {
			if (ids_take(sd, ID_ICID, &icid) < 0)
				return;
			c->waiting_icid = 0;
			sd->nwaiting--;
			conn_prepare(c, icid);
		} else if (kind == ID_MID && c->waiting_mid && c->s != NULL) {
			c->waiting_mid = 0;
			smtp_session_mid_ready(c->s);
			conn_pump(c);
		}
	}
}

static void
listener_accept(uv_stream_t *server, int status)
{
	struct smtpd *sd = &smtpd;
	struct listener *l = server->data;
	struct sockaddr_storage ss;
	struct smtpd_conf *conf;
	struct conn *c;
	char *msg;
	uint32_t icid, maxc;
	int len;

	if (status < 0) {
		log_warning("listener %s: accept: %s", l->name, uv_strerror(status));
		return;
	}
	c = xcalloc(1, sizeof *c);
	uv_tcp_init(sd->d.loop, &c->tcp);
	uv_timer_init(sd->d.loop, &c->timer);
	c->tcp.data = c;
	c->timer.data = c;
	c->nhandles = 2;
	c->lst = l;
	c->next = sd->conns;
	if (sd->conns != NULL)
		sd->conns->prev = c;
	sd->conns = c;
	sd->nconns++;
	if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
		c->closing = 1;
		conn_close_handles(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);

	conf = sd->conf;
	if ((c->lcfg = config_listener(conf->cfg, l->name)) == NULL) {
		/* Gone from the reloaded config: master restarts us soon. */
		conf = sd->startup;
		c->lcfg = &conf->cfg->listeners[l->index];
	}
	c->conf = conf_ref(conf);
	len = sizeof ss;
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) < 0)
		memset(&ss, 0, sizeof ss);
	sockaddr_text(&ss, c->peer_ip, sizeof c->peer_ip);
	len = sizeof ss;
	if (uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&ss, &len) < 0)
		memset(&ss, 0, sizeof ss);
	sockaddr_text(&ss, c->local_ip, sizeof c->local_ip);

	maxc = conf->cfg->smtpd.max_connections;
	if (maxc != 0 && sd->nsessions + sd->nwaiting + sd->npreparing >= maxc) {
		log_info("connection from %s on %s refused: too many connections (%u)",
		    c->peer_ip, l->name, maxc);
		conn_refuse(c, "421 4.7.0 Too many connections\r\n");
		return;
	}
	if (ids_take(sd, ID_ICID, &icid) == 0) {
		conn_prepare(c, icid);
		return;
	}
	if (sd->qmgr != NULL) {
		/* A burst used up the block and more are on the way: wait. */
		c->waiting_icid = 1;
		sd->nwaiting++;
		uv_timer_start(&c->timer, conn_timer, ICID_WAIT_MS, 0);
		return;
	}
	log_warning("connection from %s on %s refused: no ICID available (queue manager "
	    "unavailable)", c->peer_ip, l->name);
	msg = xasprintf("421 4.3.0 %s Service temporarily unavailable\r\n", conf->cfg->hostname);
	conn_refuse(c, msg);
	free(msg);
}

/* ---- listeners ---- */

static void
listeners_open(struct smtpd *sd)
{
	const struct config *cfg = sd->startup->cfg;
	struct listener *l;
	size_t i;
	int fd, r;

	sd->nlisteners = cfg->nlisteners;
	sd->listeners = xcalloc(cfg->nlisteners ? cfg->nlisteners : 1, sizeof *sd->listeners);
	for (i = 0; i < cfg->nlisteners; i++) {
		l = &sd->listeners[i];
		l->name = xstrdup(cfg->listeners[i].name);
		l->index = i;
		fd = LISTENER_FD_BASE + (int)i;
		if (fcntl(fd, F_GETFD) < 0) {
			log_warning("listener %s: no socket inherited on fd %d; not serving it",
			    l->name, fd);
			continue;
		}
		uv_tcp_init(sd->d.loop, &l->tcp);
		l->tcp.data = l;
		if ((r = uv_tcp_open(&l->tcp, fd)) < 0) {
			log_warning("listener %s: cannot listen on fd %d: %s", l->name, fd,
			    uv_strerror(r));
			uv_close((uv_handle_t *)&l->tcp, NULL);
			continue;
		}
		l->open = 1;
		log_info("listener %s (%s) on %s port %u", l->name,
		    cfg->listeners[i].type == LISTENER_PUBLIC ? "public" :
		    cfg->listeners[i].type == LISTENER_PRIVATE ? "private" : "sinkhole",
		    cfg->listeners[i].address, cfg->listeners[i].port);
	}
}

/*
 * Accepting starts only once the first ICID block is here: until then a
 * connection could only be refused, while the kernel's backlog (or a
 * sibling smtpd that is ready) can serve it a moment later.
 */
static void
listeners_start(struct smtpd *sd)
{
	struct listener *l;
	size_t i;
	int r;

	for (i = 0; i < sd->nlisteners; i++) {
		l = &sd->listeners[i];
		if (!l->open || l->listening)
			continue;
		if ((r = uv_listen((uv_stream_t *)&l->tcp, LISTEN_BACKLOG, listener_accept)) < 0) {
			log_warning("listener %s: cannot listen: %s", l->name, uv_strerror(r));
			continue;
		}
		l->listening = 1;
		log_debug("listener %s accepting", l->name);
	}
}

static void
listener_close(struct listener *l, const char *why)
{
	if (!l->open)
		return;
	l->open = 0;
	uv_close((uv_handle_t *)&l->tcp, NULL);
	log_info("listener %s closed: %s", l->name, why);
}

/* ---- the qmgr channel ---- */

/* Everything begun on the channel is gone with it. */
static void
qmgr_channel_lost(struct smtpd *sd)
{
	struct conn *c;
	int k;

	sd->qmgr_queue_use = -1;	/* unknown until the new qmgr says */
	for (k = 0; k <= ID_DCID; k++)
		sd->ids[k].pending = 0;
	sd->congested = 0;
	uv_timer_stop(&sd->congest_timer);
	for (c = sd->conns; c != NULL; c = c->next) {
		if (c->closing)
			continue;
		if (c->waiting_icid) {
			c->waiting_icid = 0;
			sd->nwaiting--;
			conn_refuse(c, "421 4.3.0 Service temporarily unavailable\r\n");
			continue;
		}
		if (c->s == NULL)
			continue;
		c->txn_tag = 0;
		c->waiting_mid = 0;
		smtp_session_qmgr_lost(c->s);
		conn_pump(c);
	}
}

/* Linear: bounded by the sessions of this process, and one answer per
 * message is cheap next to the commit behind it. */
static struct conn *
conn_by_tag(struct smtpd *sd, uint32_t tag)
{
	struct conn *c;

	if (tag == 0)
		return NULL;
	for (c = sd->conns; c != NULL; c = c->next)
		if (c->txn_tag == tag)
			return c;
	return NULL;
}

static void
qmgr_committed(struct smtpd *sd, uint32_t tag, const unsigned char *pl, size_t len)
{
	struct ipc_rd rd;
	struct conn *c;
	char text[SMTP_LINE_MAX];
	uint32_t status;

	ipc_rd_init(&rd, pl, len);
	status = ipc_get_u32(&rd);
	if (ipc_get_strbuf(&rd, text, sizeof text) < 0 || !ipc_rd_ok(&rd)) {
		log_warning("malformed commit answer from qmgr (tag %u)", tag);
		status = COMMIT_TEMPFAIL;
		text[0] = '\0';
	}
	if ((c = conn_by_tag(sd, tag)) == NULL)
		return;		/* the client went away meanwhile */
	c->txn_tag = 0;
	if (c->closing)
		return;
	smtp_session_committed(c->s, status, text);
	conn_pump(c);
}

static void
qmgr_frame(struct ipc_conn *ic, const struct ipc_hdr *hdr, const unsigned char *pl, void *arg)
{
	struct smtpd *sd = arg;

	(void)ic;
	switch (hdr->type) {
	case QMSG_IDS:
		ids_received(sd, pl, hdr->len);
		break;
	case QMSG_COMMITTED:
		qmgr_committed(sd, hdr->reqid, pl, hdr->len);
		break;
	case QMSG_QUEUE_USE: {
		struct ipc_rd rd;
		uint32_t pct;

		ipc_rd_init(&rd, pl, hdr->len);
		pct = ipc_get_u32(&rd);
		if (ipc_rd_done(&rd) && pct <= 100)
			sd->qmgr_queue_use = (int)pct;
		break;
	}
	default:
		log_warning("unexpected message type %u from qmgr", hdr->type);
	}
}

static void
qmgr_closed(struct ipc_conn *ic, void *arg)
{
	struct smtpd *sd = arg;

	if (ic != sd->qmgr)
		return;		/* an old channel replaced by a newer one */
	sd->qmgr = NULL;
	log_warning("queue manager channel closed; new mail is refused with 451 until it "
	    "is back");
	qmgr_channel_lost(sd);
}

static void
peer_add(struct smtpd *sd, const unsigned char *pl, size_t len)
{
	struct ipc_rd rd;
	struct ipc_conn *old;
	uint32_t kind, slot;
	int fd = ipc_conn_take_fd(sd->d.master);

	ipc_rd_init(&rd, pl, len);
	kind = ipc_get_u32(&rd);
	slot = ipc_get_u32(&rd);
	if (fd < 0 || !ipc_rd_done(&rd) || kind != PROC_QMGR) {
		log_warning("malformed or unexpected peer message from master");
		if (fd >= 0)
			close(fd);
		return;
	}
	if ((old = sd->qmgr) != NULL) {
		sd->qmgr = NULL;
		qmgr_channel_lost(sd);
		ipc_conn_close(old);
	}
	if ((sd->qmgr = ipc_conn_open(sd->d.loop, fd, qmgr_frame, qmgr_closed, sd)) == NULL) {
		log_warning("cannot open the queue manager channel");
		close(fd);
		return;
	}
	log_info("queue manager channel up (qmgr %u)", slot);
	ids_refill(sd, ID_ICID);
	ids_refill(sd, ID_MID);
}

/* ---- master ---- */

static struct listener *
listener_by_name(struct smtpd *sd, const char *name)
{
	size_t i;

	for (i = 0; i < sd->nlisteners; i++)
		if (strcmp(sd->listeners[i].name, name) == 0)
			return &sd->listeners[i];
	return NULL;
}

static void
ctl_suspendlistener(struct smtpd *sd, struct ctl_reply *r, int argc, char **argv)
{
	struct buf names;
	size_t i;
	int k;

	for (k = 1; k < argc; k++) {
		if (listener_by_name(sd, argv[k]) == NULL) {
			ctl_reply_error(r, "unknown listener '%s'", argv[k]);
			return;
		}
	}
	buf_init(&names, 0);
	for (i = 0; i < sd->nlisteners; i++) {
		struct listener *l = &sd->listeners[i];
		int named = argc == 1;

		for (k = 1; k < argc && !named; k++)
			named = strcmp(argv[k], l->name) == 0;
		if (!named)
			continue;
		buf_printf(&names, "%s%s", names.len ? ", " : "", l->name);
		listener_close(l, "suspended by the administrator");
	}
	ctl_reply_message(r, "listeners suspended: %s", names.len ? names.data : "(none)");
	buf_free(&names);
}

/*
 * topin: one row per (remote IP, listener) with its open sessions.  The
 * host name is shown only when forward-confirmed; otherwise the IP, as
 * the spec says.  Master sums the rows of every smtpd and sorts them.
 */
struct topin_row {
	const struct conn	*first;
	size_t			 n;
};

static void
ctl_topin(struct smtpd *sd, struct ctl_reply *r)
{
	struct topin_row *rows = xcalloc(sd->nsessions + 1, sizeof *rows);
	const struct conn *c;
	size_t nrows = 0, i;

	for (c = sd->conns; c != NULL; c = c->next) {
		if (c->s == NULL || c->closing || c->lst == NULL)
			continue;
		for (i = 0; i < nrows; i++)
			if (rows[i].first->lst == c->lst &&
			    strcmp(rows[i].first->peer_ip, c->peer_ip) == 0)
				break;
		if (i == nrows) {
			if (nrows == sd->nsessions)
				break;	/* cannot happen: one row per session at most */
			rows[nrows++].first = c;
		}
		rows[i].n++;
	}
	for (i = 0; i < nrows; i++) {
		c = rows[i].first;
		ctl_rec_begin(r);
		ctl_rec_add(r, "section", "peer");
		ctl_rec_add(r, "hostname", "%s", c->host_verified && c->ptr_host[0] ?
		    c->ptr_host : c->peer_ip);
		ctl_rec_add(r, "ip", "%s", c->peer_ip);
		ctl_rec_add(r, "listener", "%s", c->lst->name);
		ctl_rec_add(r, "conns", "%zu", rows[i].n);
		ctl_rec_end(r);
	}
	free(rows);
}

static void
master_ctl(struct smtpd *sd, uint32_t reqid, const unsigned char *pl, size_t len)
{
	struct ctl_reply r;
	char **argv = NULL;
	int argc = 0;

	ctl_reply_init(&r);
	if (ctl_decode_request(pl, len, &argc, &argv) < 0)
		ctl_reply_error(&r, "malformed control request");
	else if (strcmp(argv[0], "connections") == 0) {
		ctl_rec_begin(&r);
		ctl_rec_add(&r, "name", "Current Inbound Conn.");
		ctl_rec_add(&r, "current", "%zu", sd->nsessions);
		ctl_rec_end(&r);
		ctl_rec_begin(&r);
		ctl_rec_add(&r, "section", "gauge");
		ctl_rec_add(&r, "name", "Resource Conservation");
		ctl_rec_add(&r, "current", "%u", sd->rescon);
		ctl_rec_end(&r);
	} else if (strcmp(argv[0], "topin") == 0)
		ctl_topin(sd, &r);
	else if (strcmp(argv[0], "suspendlistener") == 0)
		ctl_suspendlistener(sd, &r, argc, argv);
	else if (strcmp(argv[0], "resumelistener") == 0)
		ctl_reply_error(&r, "resumelistener is done by master (it restarts smtpd)");
	else
		ctl_reply_error(&r, "smtpd does not know '%s'", argv[0]);
	ctl_free_argv(argc, argv);
	ctl_reply_send(&r, sd->d.master, reqid);
}

static void
drain_force(uv_timer_t *t)
{
	(void)t;
	log_warning("drain: sessions still waiting for the queue manager; smtpd exits");
	exit(0);
}

static void
drain_deadline(uv_timer_t *t)
{
	struct smtpd *sd = t->data;
	struct conn *c;

	log_info("drain deadline: closing %zu remaining session(s)", sd->nsessions);
	for (c = sd->conns; c != NULL; c = c->next) {
		if (c->s == NULL || c->closing)
			continue;
		smtp_session_shutdown(c->s);
		conn_pump(c);
	}
	uv_timer_start(&sd->drain_timer, drain_force, DRAIN_GRACE_MS, 0);
}

static void
drain_start(struct smtpd *sd, const unsigned char *pl, size_t len)
{
	struct ipc_rd rd;
	uint32_t secs;
	size_t i;

	ipc_rd_init(&rd, pl, len);
	secs = ipc_get_u32(&rd);
	if (!ipc_rd_ok(&rd))
		secs = 0;
	if (sd->draining)
		return;
	sd->draining = 1;
	for (i = 0; i < sd->nlisteners; i++)
		listener_close(&sd->listeners[i], "draining");
	log_info("draining: %zu session(s) get %u s to finish", sd->nsessions, secs);
	if (sd->nconns == 0) {
		log_info("drained: no session left; smtpd exits");
		exit(0);
	}
	uv_timer_start(&sd->drain_timer, drain_deadline, (uint64_t)secs * 1000, 0);
}

static void
master_frame(struct daemon *d, const struct ipc_hdr *hdr, const unsigned char *pl)
{
	struct smtpd *sd = &smtpd;

	(void)d;
	switch (hdr->type) {
	case IMSG_PEER:
		peer_add(sd, pl, hdr->len);
		break;
	case IMSG_CTL:
		master_ctl(sd, hdr->reqid, pl, hdr->len);
		break;
	case IMSG_DRAIN:
		drain_start(sd, pl, hdr->len);
		break;
	default:
		log_warning("unexpected message type %u from master", hdr->type);
	}
}

static void
config_changed(struct daemon *d, struct config *old)
{
	struct smtpd *sd = &smtpd;
	struct smtpd_conf *sc;

	(void)old;
	if ((sc = conf_load(d)) == NULL)
		return;
	conf_unref(sd->conf);
	sd->conf = sc;
	if (sd->dns != NULL && sc->cfg->dns.timeout > 0)
		dns_ctx_set_timeout(sd->dns, sc->cfg->dns.timeout);
	log_info("new sessions use the reloaded configuration");
}

/* The resolver reads resolv.conf (or takes dns.servers): before the
 * chroot.  Without one, host name and DNS list entries never match. */
static void
dns_setup(struct smtpd *sd)
{
	const struct config *cfg = sd->startup->cfg;
	struct dns_options opt;
	char err[256];

	memset(&opt, 0, sizeof opt);
	opt.timeout = cfg->dns.timeout > 0 && cfg->dns.timeout < 5 ? cfg->dns.timeout : 0;
	opt.servers = cfg->dns.servers;
	opt.nservers = cfg->dns.nservers;
	if ((sd->resolver = dns_resolver_new(&opt, err, sizeof err)) == NULL) {
		log_warning("no DNS for sender groups (host names and DNS lists never match): %s",
		    err);
		return;
	}
	sd->dns = dns_ctx_new(sd->d.loop, sd->resolver, cfg->dns.timeout);
}

/* Memory in use, percent, from a meminfo file; -1 if unreadable. */
static int
rescon_memory_percent(int fd)
{
	char text[4096], *p;
	unsigned long long total = 0, avail = 0;
	ssize_t n;

	if (fd < 0 || (n = pread(fd, text, sizeof text - 1, 0)) <= 0)
		return -1;
	text[n] = '\0';
	if ((p = strstr(text, "MemTotal:")) != NULL)
		total = strtoull(p + 9, NULL, 10);
	if ((p = strstr(text, "MemAvailable:")) != NULL)
		avail = strtoull(p + 13, NULL, 10);
	if (total == 0 || avail > total)
		return -1;
	return (int)((total - avail) * 100 / total);
}

/* Use of the spool's file system, percent; -1 if unknown. */
static int
rescon_queue_percent(int fd)
{
	struct statvfs sv;
	unsigned long long used;

	/* As df(1): blocks reserved for root count neither as used nor free. */
	if (fd < 0 || fstatvfs(fd, &sv) < 0 || sv.f_bfree > sv.f_blocks)
		return -1;
	used = (unsigned long long)(sv.f_blocks - sv.f_bfree);
	if (used + sv.f_bavail == 0)
		return -1;
	return (int)(used * 100 / (used + sv.f_bavail));
}

/* 0 below start, 1-60 between start and halt, 999 from halt; -1 kept. */
static int
rescon_level(int pct, unsigned start, unsigned halt)
{
	unsigned level;

	if (pct < 0)
		return -1;
	if ((unsigned)pct < start)
		return 0;
	if ((unsigned)pct >= halt)
		return SMTP_RESCON_HALT;
	level = ((unsigned)pct - start) * 60 / (halt > start ? halt - start : 1);
	return level == 0 ? 1 : (int)level;
}

static void
rescon_check(uv_timer_t *t)
{
	struct smtpd *sd = t->data;
	const struct config *cfg = sd->conf->cfg;
	int mem = rescon_memory_percent(sd->meminfo_fd);
	int queue = rescon_queue_percent(sd->spool_fd);

	/* The queue can fill its LMDB map before the disk: qmgr says how
	 * full it is. */
	if (sd->qmgr_queue_use > queue)
		queue = sd->qmgr_queue_use;
	int lm = rescon_level(mem, cfg->rescon.memory_start, cfg->rescon.memory_halt);
	int lq = rescon_level(queue, cfg->rescon.queue_start, cfg->rescon.queue_halt);
	unsigned level;
	const char *why;

	if (lm < 0 && lq < 0)
		return;		/* unreadable (being rewritten?): keep the gauge */
	if (lm < 0)
		lm = sd->rescon_mem;
	if (lq < 0)
		lq = sd->rescon_queue;
	sd->rescon_mem = lm;
	sd->rescon_queue = lq;
	level = (unsigned)(lm > lq ? lm : lq);
	why = lm >= lq ? "memory" : "queue";
	if (level != 0 && sd->rescon == 0)
		log_warning("resource conservation: entering (memory %d%%, start %u%%, halt %u%%; "
		    "queue %d%%, start %u%%, halt %u%%)", mem, cfg->rescon.memory_start,
		    cfg->rescon.memory_halt, queue, cfg->rescon.queue_start, cfg->rescon.queue_halt);
	else if (level == 0 && sd->rescon != 0)
		log_info("resource conservation: leaving (memory %d%%, queue %d%%)", mem, queue);
	if (level == SMTP_RESCON_HALT && sd->rescon != SMTP_RESCON_HALT)
		log_warning("resource conservation: %s use at its halt threshold: new mail is "
		    "refused with 452", why);
	else if (level != 0 && level != SMTP_RESCON_HALT && level != sd->rescon)
		log_info("resource conservation: gauge %u (%s)", level, why);
	sd->rescon = level;
}

/* Opens the meminfo file and the spool directory before the chroot;
 * checks once a second. */
static void
rescon_setup(struct smtpd *sd)
{
	const struct config *cfg = sd->startup->cfg;

	uv_timer_init(sd->d.loop, &sd->rescon_timer);
	sd->rescon_timer.data = sd;
	sd->qmgr_queue_use = -1;
	if ((sd->meminfo_fd = open(cfg->rescon.meminfo, O_RDONLY | O_CLOEXEC)) < 0)
		log_warning("resource conservation: cannot open %s: %s; memory not measured",
		    cfg->rescon.meminfo, strerror(errno));
	if ((sd->spool_fd = open(cfg->paths.spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		log_warning("resource conservation: cannot open %s: %s; queue not measured",
		    cfg->paths.spool, strerror(errno));
	rescon_check(&sd->rescon_timer);
	uv_timer_start(&sd->rescon_timer, rescon_check, RESCON_CHECK_MS, RESCON_CHECK_MS);
	uv_unref((uv_handle_t *)&sd->rescon_timer);
}

int
main(int argc, char **argv)
{
	struct smtpd *sd = &smtpd;
	char *chroot_dir;

	daemon_init(&sd->d, "smtpd", argc, argv, usage);
	signal(SIGPIPE, SIG_IGN);
	if ((sd->conf = conf_load(&sd->d)) == NULL)
		log_fatal("cannot load the configuration master sent");
	sd->startup = conf_ref(sd->conf);
	uv_timer_init(sd->d.loop, &sd->congest_timer);
	sd->congest_timer.data = sd;
	uv_timer_init(sd->d.loop, &sd->drain_timer);
	sd->drain_timer.data = sd;
	listeners_open(sd);
	dns_setup(sd);
	sd->rates = rate_table_new(0);
	rescon_setup(sd);

	tzset();	/* Received: dates need the zone after chroot */
	chroot_dir = daemon_chroot_dir(sd->d.cfg);
	daemon_drop_privileges(&sd->d, sd->d.cfg->users.net, chroot_dir);
	free(chroot_dir);
	daemon_start(&sd->d, master_frame, config_changed);
	log_info("smtpd %d serving %zu listener(s)", sd->d.slot, sd->nlisteners);
	return uv_run(sd->d.loop, UV_RUN_DEFAULT);
}
