/*
 * qmgr - the queue manager's state, shared by its files: qmgr.c (process,
 * channels, receiving), sched.c (destinations, jobs, retries, bounces),
 * ctl.c (control requests).
 */
#ifndef QMGR_QMGR_H
#define QMGR_QMGR_H
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "counters.h"
#include "daemon.h"
#include "evrates.h"
#include "ipc_conn.h"
#include "qmsg.h"
#include "store.h"

/* Built with -DSP_BENCH_NO_COUNTERS, qmgr counts nothing: only to measure
 * what counting costs (t/bench/run-bench, docs in the issue report). */
#ifdef SP_BENCH_NO_COUNTERS
#define counter_add(c, id, n)	((void)(c), (void)(id), (void)(n))
#endif

#define MSG_HASH_SIZE	65536
#define DEST_HASH_SIZE	4096
#define JOB_HASH_SIZE	4096

struct rx;
struct job;

struct peer {
	struct qmgr	*q;
	uint64_t	 serial;
	int		 kind;		/* PROC_SMTPD or PROC_DELIVER */
	int		 slot;
	struct ipc_conn	*conn;
	struct rx	*rxs;		/* smtpd: messages being received */
	uint32_t	 njobs;		/* deliver: jobs in flight */
	struct peer	*next;
};

/* A message being received from smtpd. */
struct rx {
	struct peer	*peer;		/* valid only while on peer->rxs */
	uint64_t	 peer_serial;	/* for the reply after the commit */
	uint32_t	 tag;
	struct qmsg	*m;
	struct buf	 body;		/* whole body, or its head once spilled */
	int		 fd;		/* spill file, -1 if in memory */
	char		*tmppath;
	uint64_t	 size;
	int		 io_error;
	struct rx	*next;
};

/* Recipients of one message for one destination, scheduled together. */
struct dentry {
	struct qmsg	*m;
	uint32_t	*rids;
	size_t		 nrids;
	uint64_t	 due;
	size_t		 heap_index;
	struct dentry	*next;
};

/* Host up/down of hoststatus: what the last attempt showed. */
enum host_state { HOST_UNKNOWN = 0, HOST_UP, HOST_DOWN };

struct dest {
	char		*domain;
	struct dentry	*ready, **ready_tail;
	uint32_t	 active;		/* jobs in flight */
	uint64_t	 last_activity;
	int		 in_runq;
	/* hoststatus / tophosts, since the last resetcounters (in memory:
	 * kept as long as the destination, 3 hours after its last message). */
	uint64_t	 hc[C_COUNT];
	int		 host_state;
	char		*last_5xx, *last_5xx_ip;
	uint64_t	 last_5xx_time;
	char		*last_tls, *last_tls_ip, *last_tls_mode;
	uint64_t	 last_tls_time;
	uint64_t	 scratch;		/* tophosts: active recipients */
	struct dest	*hnext, *rnext;
};

/* dnsstatus counters (spec 2.12), in display order. */
#define DNS_CTR_COUNT	6
extern const char *const dns_counter_labels[DNS_CTR_COUNT];

/* Rate series of status detail (index into struct rates). */
enum rate_series {
	RS_MSGS_RECEIVED, RS_RCPTS_RECEIVED, RS_SOFT_BOUNCED, RS_COMPLETED, RS_HARD_BOUNCED,
	RS_DELIVERED, RS_COUNT
};

struct job {
	uint32_t	 id;
	uint64_t	 deliver_serial;
	struct dest	*dest;
	struct dentry	*e;
	struct job	*hnext;
};

struct qmgr {
	struct daemon		 d;
	struct store		*store;
	struct peer		*peers;
	uint64_t		 next_serial;
	struct qmsg		*msgs[MSG_HASH_SIZE];
	size_t			 nmsgs;
	struct dest		*dests[DEST_HASH_SIZE];
	size_t			 ndests;
	struct dest		*runq;
	struct job		*jobs[JOB_HASH_SIZE];
	uint32_t		 next_job;
	size_t			 njobs;
	struct dentry		**heap;
	size_t			 heap_len, heap_cap;
	struct counters		 ctr;
	uint64_t		 next_id[4];	/* by enum id_kind */
	uint32_t		 last_id[4];
	uint64_t		 own_mid_next, own_mid_end;	/* MIDs for bounces */
	int			 ids_loaded;
	char			**suspended;	/* delivery suspended for these; "ALL" */
	size_t			 nsuspended;
	struct rates		 rates;
	/* dnsstatus counters, reported by deliver (DNS_CTR_* order) */
	uint64_t		 dns_life[DNS_CTR_COUNT], dns_base[DNS_CTR_COUNT];
	uint64_t		 dns_up[DNS_CTR_COUNT];
	int			 dns_dirty;
	int			 wq_paused;	/* workqueue pause (state, persisted) */
	uint32_t		*wq_held;	/* MIDs held while paused (MSGF_WORKQ) */
	size_t			 nwq_held, capwq_held;
	char			*wq_reason;
	uint64_t		 io_last, io_max, io_cur;	/* Disk I/O, bytes/s */
	uv_timer_t		 tick;
	uv_idle_t		 kick;
	int			 kicked;
	int			 draining;
	uint64_t		 drain_deadline;
	time_t			 started;
};

/* qmgr.c */
struct qmsg	*qmgr_msg_find(struct qmgr *q, uint32_t mid);
void		 qmgr_msg_add(struct qmgr *q, struct qmsg *m);
void		 qmgr_msg_remove(struct qmgr *q, struct qmsg *m);
struct peer	*qmgr_peer_by_serial(struct qmgr *q, uint64_t serial);
void		 qmgr_send(struct peer *p, struct buf *b);
uint64_t	 qmgr_now(void);
void		 qmgr_meta_put(struct qmgr *q, const char *key, uint64_t val);
void		 qmgr_persist_counters(struct qmgr *q);
/* A QMSG_COUNTER for a dnsstatus counter: 1, or 0 when label is not one. */
int		 qmgr_dns_counter(struct qmgr *q, const char *label, uint64_t delta);
void		 qmgr_load_dns_counters(struct qmgr *q);

/* sched.c */
void		 sched_init(struct qmgr *q);
void		 sched_message(struct qmgr *q, struct qmsg *m);
void		 sched_kick(struct qmgr *q);
void		 sched_tick(struct qmgr *q);
void		 sched_result(struct qmgr *q, struct peer *p, uint32_t jobid,
		    const unsigned char *payload, size_t len);
void		 sched_body_req(struct qmgr *q, struct peer *p, uint32_t jobid,
		    const unsigned char *payload, size_t len);
void		 sched_deliver_lost(struct qmgr *q, struct peer *p);
void		 sched_delivernow(struct qmgr *q, const char *domain);
int		 sched_suspended(struct qmgr *q, const char *domain);
void		 sched_write_envelope(struct qmgr *q, struct qmsg *m);
size_t		 sched_jobs(struct qmgr *q);
size_t		 sched_active_dests(struct qmgr *q);
struct dest	*sched_dest_find(struct qmgr *q, const char *domain);
/* DMSG_TLS_ERROR from deliver: the destination's last TLS failure. */
void		 sched_tls_error(struct qmgr *q, const unsigned char *pl, size_t len);
void		 sched_reset_host_counters(struct qmgr *q);
/* Queue operations of sallyctl: rcpt selects the recipients (exact,
 * case-insensitive match on domain or sender; NULL = all).  Recipients in
 * a delivery now are left alone.  Each returns the messages touched and
 * adds the recipients to *nrcpts. */
enum rcpt_op { RCPT_OP_DELETE, RCPT_OP_BOUNCE, RCPT_OP_REDIRECT };
size_t		 sched_rcpt_op(struct qmgr *q, enum rcpt_op op, const char *domain,
		    const char *sender, uint32_t mid, const char *target, size_t *nrcpts,
		    const char *why);

/* qmgr.c: the work queue */
void		 workqueue_enter(struct qmgr *q, struct qmsg *m);
void		 workqueue_release(struct qmgr *q);
size_t		 workqueue_count(struct qmgr *q);

/* ctl.c */
void		 qmgr_ctl(struct qmgr *q, uint32_t reqid, const unsigned char *p, size_t len);
void		 qmgr_load_suspend_state(struct qmgr *q);
void		 qmgr_sample_rates(struct qmgr *q);
void		 qmgr_load_workqueue_state(struct qmgr *q);

#endif
