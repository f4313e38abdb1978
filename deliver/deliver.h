/*
 * deliver - internal interfaces of the deliver daemon (DESIGN.md section
 * 2): the one struct holding the process state, a delivery job, and an
 * outbound SMTP connection.
 *
 *   deliver.c      main(): bootstrap, privileges, the loop
 *   dispatch.c     the process: master and qmgr messages (one switch
 *                  each), DCID blocks, results, drain, control, reload
 *   job.c          one DMSG_JOB: routing, which host next, per-recipient
 *                  outcome, mail-log lines, the DMSG_RESULT
 *   route.c        a destination's host list: smtp_routes, MX answer,
 *                  address literal (no I/O)
 *   session.c      one TCP connection running smtp_client.c, its timers,
 *                  body streaming, the idle pool for reuse
 *   smtp_client.c  the SMTP protocol engine (no I/O)
 *   probe.c        sallyctl tlsverify: one connection as delivery would
 *                  make it, checked as required-verify, step by step
 *
 * Not for: other daemons; nothing here is in lib/.
 */
#ifndef SP_DELIVER_H
#define SP_DELIVER_H
#include <sys/queue.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "config.h"
#include "ctl.h"
#include "dns.h"
#include "ipc_conn.h"
#include "smtp_client.h"
#include "tls_io.h"
#include "tls_policy.h"

#define DCID_BLOCK		512	/* DCIDs asked of qmgr at a time */
#define DCID_MAX_BLOCKS		4
#define BODY_CHUNK		(64 * 1024)	/* asked of qmgr per DMSG_BODY_REQ */
#define BODY_HIGH_WATER		(128 * 1024)	/* unwritten body bytes before we wait */
#define JOB_MAX_RCPTS		10000
#define JOB_MAX_ATTEMPTS	10	/* addresses tried per job */
#define JOB_MAX_SESSIONS	3	/* SMTP sessions (banner seen) per job */
#define QUIT_TIMEOUT		10	/* seconds to wait for 221 */
#define REPLY_LINE_MAX		1024	/* longer is a broken server */
#define PROBE_TIMEOUT		20	/* tlsverify: seconds per step */

struct deliver;
struct session;
struct probe;
struct dane_job;

/* One host of a destination, in the order to try. */
struct target_host {
	char		 name[DNS_NAME_MAX + 1];
	uint16_t	 port;
	uint16_t	 pref;
	int		 resolved;	/* addrs known (else: A/AAAA lookup first) */
	enum dns_status	 status;	/* of that lookup */
	struct dns_addr	 addrs[DNS_MAX_ADDRS];
	size_t		 naddrs;
	int		 configured;	/* from smtp_routes or a literal, not DNS */
};

enum job_state {
	JOB_NEW,
	JOB_DNS,	/* waiting for the MX or a host's addresses */
	JOB_CONNECTING,
	JOB_SMTP,	/* attached to a session */
	JOB_DONE,
};

struct job {
	TAILQ_ENTRY(job)	 entry;
	struct deliver		*dl;
	uint32_t		 id;		/* qmgr's reqid */
	uint32_t		 mid;
	char			*domain;
	char			*sender;
	uint32_t		 flags;
	uint64_t		 size;
	uint32_t		*rids;
	uint32_t		*rdcid;		/* session each outcome came from */
	struct smtpc_rcpt	*rcpts;
	size_t			 nrcpt;
	struct smtpc_txn	 txn;
	/* earlier host's temporary answers, kept in case later hosts only
	 * fail to connect */
	struct smtpc_rcpt	*prev;

	enum job_state		 state;
	int			 abandoned;	/* qmgr went away: no result */
	struct dns_req		*dnsreq;
	struct target_host	*hosts;
	size_t			 nhosts, hi, ai;
	unsigned		 attempts, sessions;
	int			 reused_failed;	/* a reused connection failed: no pool */
	char			 conn_error[SMTPC_TEXT_MAX];	/* last connect failure */
	char			 dns_error[DNS_ERR_MAX];
	struct session		*sess;
	uint32_t		 dcid;		/* of the session the result is from */
	char			 result_host[320];

	/* body streaming, restarted for every attempt: [0, fed) went to the
	 * engine; first is the first part (kept for later attempts), chunk
	 * the DMSG_BODY in hand */
	unsigned char		*first;
	size_t			 first_len;
	int			 first_fed;
	unsigned char		*chunk;
	size_t			 chunk_len;
	uint64_t		 fed;
	int			 body_req_pending;
	uint64_t		 req_off;	/* of the DMSG_BODY_REQ out */
	char			 final[SMTPC_TEXT_MAX];	/* reply to "." */

	/* settings when the job started (a reload applies to new jobs) */
	uint32_t		 connect_timeout, command_timeout;
};
TAILQ_HEAD(job_list, job);

enum session_state {
	SESS_CONNECTING,
	SESS_WAIT_DCID,	/* connected; no DCID in hand yet */
	SESS_ACTIVE,	/* running a job's transaction */
	SESS_IDLE,	/* in the pool, kept for the next job to its domain */
	SESS_QUITTING,
	SESS_CLOSING,
};

struct session {
	TAILQ_ENTRY(session)	 entry;		/* dl->sessions */
	TAILQ_ENTRY(session)	 qentry;	/* dl->idle or dl->wait_dcid */
	struct deliver		*dl;
	enum session_state	 state;
	struct job		*job;
	uv_tcp_t		 tcp;
	uv_timer_t		 timer;
	uv_connect_t		 creq;
	int			 handles;	/* open uv handles */
	int			 counted;	/* in dl->nconns */
	int			 timed_out;	/* the connect timer fired */
	int			 failed;	/* the connection broke */
	struct smtp_client	*sc;
	uint32_t		 dcid;		/* DCID_NONE until established */
	char			 domain[DNS_NAME_MAX + 1];	/* reuse key */
	char			 host[DNS_NAME_MAX + 1];
	char			 addr[DNS_ADDR_TEXT];
	char			 local[DNS_ADDR_TEXT];
	uint16_t		 port;
	struct buf		 line;
	size_t			 wpending;	/* bytes handed to uv_write, not done */
	uint32_t		 command_timeout, idle_reuse;
	uint64_t		 idle_since;
	/* TLS (tls_policy.h decides, at each step) */
	enum cfg_tls_out	 tls_mode;	/* effective; OFF: no STARTTLS */
	int			 host_configured;	/* name from the config, not an MX */
	char			*tls_cert;	/* client certificate name, or NULL */
	struct tls_io		*tls;
	int			 handshaking;
	struct tls_attempt	 att;
	char			 tls_detail[TLS_REASON_MAX];
	struct probe		*probe;		/* tlsverify: no job, a transcript */
	struct dane_job		*dane;		/* tls: dane: TLSA lookup, then its answer */
	int			 dane_wait;	/* an EV_TLS waits for the lookup */
};
TAILQ_HEAD(session_list, session);

struct deliver {
	uv_loop_t		*loop;
	const struct config	*cfg;		/* current; routes for new jobs */
	struct ipc_conn		*master;	/* control replies (may be NULL) */
	struct ipc_conn		*qmgr;
	struct dns_resolver	*resolver;
	struct dns_ctx		*dns;

	/* settings copied from cfg (they outlive a reload) */
	char			*hostname;
	uint32_t		 connect_timeout, command_timeout, idle_reuse, dns_timeout;
	uint16_t		 smtp_port;	/* port for MX hosts: 25 (tests change it) */

	struct {
		uint32_t	first[DCID_MAX_BLOCKS];
		uint32_t	count[DCID_MAX_BLOCKS];
		int		nblocks;
		int		requested;
		uint32_t	reqid;
	} ids;

	struct job_list		 jobs;
	size_t			 njobs;
	struct session_list	 sessions;	/* every open connection */
	struct session_list	 idle;
	struct session_list	 wait_dcid;
	size_t			 nconns;	/* established connections */

	int			 draining;
	int			 drain_final;	/* nothing left: results going out */
	unsigned		 drain_polls;
	uv_timer_t		 drain_timer;
	/* called once the drain is complete (main: exit(0)) */
	void			(*on_drained)(struct deliver *dl);

	struct {
		uint64_t	jobs, results, connections, reused, dns_failures;
	} stats;
	/* DNS counters already reported to qmgr (which keeps dnsstatus). */
	uint64_t		 dns_reported[6];
	/* TLS client contexts by client certificate name ("" = none), built
	 * when first needed from the current config. */
	struct {
		char	*name;
		SSL_CTX	*ctx;
	}			*tlsctx;
	size_t			 ntlsctx;
	uint64_t		 tls_errors_reported;
};

/* dispatch.c */
void	deliver_init(struct deliver *dl, uv_loop_t *loop, const struct config *cfg,
	    struct dns_resolver *r);
void	deliver_apply_config(struct deliver *dl, const struct config *cfg);
void	deliver_master_frame(struct deliver *dl, const struct ipc_hdr *hdr,
	    const unsigned char *p);
/* A new qmgr channel (after IMSG_PEER); the old one, if any, is closed. */
int	deliver_qmgr_attach(struct deliver *dl, int fd);
void	deliver_drain(struct deliver *dl, uint32_t seconds);
void	deliver_flush(struct deliver *dl, const char *domain);
/* Builds the reply to a control request (argv) into r. */
void	deliver_ctl(struct deliver *dl, int argc, char **argv, struct ctl_reply *r);
/* Tears everything down (tests): jobs dropped, connections closed. */
void	deliver_shutdown(struct deliver *dl);
/* 0 and a DCID, or -1 when none is in hand (more have been asked for). */
int	deliver_dcid_take(struct deliver *dl, uint32_t *dcid);
void	deliver_send_result(struct deliver *dl, struct job *j);
void	deliver_send_body_req(struct deliver *dl, struct job *j, uint64_t off, uint32_t max);
/* Something finished: if draining and nothing is left, finish the drain. */
void	deliver_check_drained(struct deliver *dl);
/* The TLS client context for a client certificate (NULL: none); NULL with
 * err if it cannot be built. */
SSL_CTX	*deliver_tls_ctx(struct deliver *dl, const char *cert, char *err, size_t errlen);
/* Tells qmgr the last TLS failure of a destination (hoststatus). */
void	deliver_tls_error(struct deliver *dl, const char *domain, const char *host,
	    const char *mode, const char *text);

/* job.c */
struct job	*job_new(struct deliver *dl, uint32_t id, const unsigned char *p, size_t len);
void		 job_start(struct job *j);
void		 job_body(struct job *j, uint64_t off, const void *data, size_t len);
/* Sends the job's result (unless abandoned) and frees it. */
void		 job_finish(struct job *j);
/* Ends the job now: pending recipients get 4/reason/text. */
void		 job_abort(struct job *j, int reason, const char *text);
/* qmgr went away: no result will be sent; connections wind down. */
void		 job_abandon(struct job *j);
/* From session.c: */
void		 job_connect_failed(struct job *j, struct session *s, const char *why);
void		 job_session_ready(struct job *j, struct session *s);
void		 job_txn_done(struct job *j, struct session *s);
void		 job_txn_retry(struct job *j, struct session *s);
void		 job_pump_body(struct job *j);

/* probe.c */
/* Starts `tlsverify DOMAIN [HOST[:PORT]]`; the reply goes to master with
 * reqid when the probe is over. */
void	probe_start(struct deliver *dl, uint32_t reqid, int argc, char **argv);
/* One line of the transcript (printf). */
void	probe_line(struct probe *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The probe's connection is over: ok 1 when TLS was verified. */
void	probe_done(struct probe *p, int ok);

/* route.c */
/* The host list for a domain without a DNS answer: an address literal or
 * the smtp_routes entry.  Returns 1 and fills *hosts (free()), or 0 when
 * MX resolution is needed, or -1 (err) when the domain is unusable. */
int	route_static(const struct config *cfg, const char *domain, struct target_host **hosts,
	    size_t *n, char *err, size_t errlen);
/* The host list from an MX answer (DNS_OK), equal preferences shuffled. */
void	route_from_mx(const struct dns_result *res, uint16_t port, dns_rnd_fn *rnd, void *arg,
	    struct target_host **hosts, size_t *n);
/* Fills a host's addresses from an A/AAAA answer. */
void	route_set_addrs(struct target_host *h, const struct dns_result *res);
/* Address text (v4 or v6, brackets allowed) into h->addrs[0]; 0 or -1. */
int	route_literal(const char *text, struct target_host *h);

/* session.c */
/* Starts connecting for j (j->sess is set); NULL and err when it cannot
 * even start.  The outcome comes back as job_connect_failed() or
 * job_session_ready(). */
struct session	*session_connect(struct deliver *dl, struct job *j, const struct target_host *h,
		    const struct dns_addr *a, char *err, size_t errlen);
/* An idle connection to domain, taken out of the pool, or NULL. */
struct session	*session_take_idle(struct deliver *dl, const char *domain);
/* Runs j's transaction on s (fresh or reused). */
void		 session_run(struct session *s, struct job *j);
/* DCIDs arrived: start the connections that waited for one. */
void		 session_resume_waiting(struct deliver *dl);
/* Sends QUIT when that is safe, else closes. */
void		 session_quit(struct session *s);
void		 session_close(struct session *s);
/* tlsverify: connects to a for p (no job); NULL and err if it cannot start. */
struct session	*session_probe(struct deliver *dl, struct probe *p, const char *domain,
		    const struct target_host *h, const struct dns_addr *a, char *err,
		    size_t errlen);
/* The job leaves the session (abandon, abort): QUIT when the protocol
 * allows it, else a hard close (in the middle of DATA nothing may be
 * written: it would become message text, and "." would deliver a cut
 * message). */
void		 session_detach(struct session *s);
void		 session_pump_body(struct session *s);
void		 session_close_idle(struct deliver *dl, const char *domain);

#endif
