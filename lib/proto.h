/*
 * proto - the message types Sallyport processes exchange, and the layout of
 * each payload.  One header for every process (as OpenSMTPD's smtpd.h):
 * to see what a process can be asked, read its switch over these types.
 *
 * Field notation: u32, u64, str (u32 length + bytes, no NUL), bytes.
 * "reqid" is the frame header's request id.  Every process pair has its
 * own socketpair, created by master; master passes them with IMSG_PEER.
 *
 * Not for: message bodies on disk, the queue's LMDB layout (qmgr/).
 */
#ifndef SP_PROTO_H
#define SP_PROTO_H

enum proc_kind {
	PROC_MASTER = 0,
	PROC_SMTPD = 1,
	PROC_QMGR = 2,
	PROC_DELIVER = 3,
	PROC_CLI = 4,
};

/* Children inherit their master channel as this descriptor. */
#define MASTER_CHANNEL_FD	3
/* smtpd inherits its listening sockets from this descriptor upwards, in the
 * order of the config's listeners: fd 4 is listeners[0], and so on. */
#define LISTENER_FD_BASE	4

enum imsg_type {
	/* ---- master <-> every child (MASTER_CHANNEL_FD) ---- */

	/* master -> child, first message and on every reload.
	 * u32 nfiles, then nfiles x (str path, str yaml text).  The child
	 * parses it with config_parse_sources(); master has already validated
	 * it, so a failure here is logged and the old config is kept. */
	IMSG_CONFIG = 1,
	/* child -> master: setup done (config applied, privileges dropped). */
	IMSG_READY = 2,
	/* master -> child, with a socketpair end attached:
	 * u32 peer kind (enum proc_kind), u32 peer slot (0..n-1). */
	IMSG_PEER = 3,
	/* master -> child: stop taking new work, finish within u32 seconds,
	 * then exit 0. */
	IMSG_DRAIN = 4,
	/* master -> child (reqid): u32 argc, argc x str argv.  The child
	 * answers IMSG_CTL_REPLY with the same reqid.  See "control commands"
	 * below for which child serves what. */
	IMSG_CTL = 5,
	/* child -> master, master -> sallyctl (reqid):
	 *   u32 status (0 ok, 1 error), str message,
	 *   u32 nrec, nrec x (u32 nfield, nfield x (str key, str value)).
	 * Records are flat key/value lists; sallyctl formats them as text or
	 * JSON. */
	IMSG_CTL_REPLY = 6,

	/* ---- smtpd/deliver <-> qmgr ---- */

	/* (reqid) u32 id kind (enum id_kind), u32 count wanted. */
	QMSG_IDS_REQ = 20,
	/* (reqid) u32 id kind, u32 first, u32 count: the ids first ..
	 * first+count-1, all below 2^31, never handed out again. */
	QMSG_IDS = 21,
	/* smtpd -> qmgr (reqid = transaction tag, unique on that channel):
	 *   u32 mid, u32 icid, u64 received time (unix seconds),
	 *   str listener, str client ip, str client host name, str helo,
	 *   str sender (no angle brackets; "" = null sender),
	 *   u32 flags (MSGF_*), u32 nrcpt, nrcpt x str recipient. */
	QMSG_BEGIN = 22,
	/* smtpd -> qmgr (reqid): bytes of the message, in order, as stored:
	 * CRLF line ends, dot-unstuffed, Received: header first.  At most
	 * 64 KiB a frame. */
	QMSG_DATA = 23,
	/* smtpd -> qmgr (reqid): u64 total size.  qmgr answers QMSG_COMMITTED
	 * once the message is durable (or failed to be). */
	QMSG_END = 24,
	/* smtpd -> qmgr (reqid): forget the transaction, nothing is queued. */
	QMSG_ABORT = 25,
	/* qmgr -> smtpd (reqid): u32 status (COMMIT_*), str reply text to
	 * give the client when status is not COMMIT_OK (e.g. "452 4.3.1
	 * Insufficient system storage"). */
	QMSG_COMMITTED = 26,
	/* any -> qmgr: str counter name (a label of the spec's Table 1,
	 * e.g. "Rejected Recipients"), u64 delta. */
	QMSG_COUNTER = 27,
	/* qmgr -> smtpd, every second: u32 percent of the queue in use, the
	 * tighter of the LMDB map and the spool's file system.  Resource
	 * conservation in smtpd (chrooted, it cannot see the map) uses it. */
	QMSG_QUEUE_USE = 28,

	/* ---- qmgr <-> deliver ---- */

	/* qmgr -> deliver (reqid = job id):
	 *   u32 mid, str domain (recipient domain, A-labels, lower case),
	 *   str sender, u32 flags (MSGF_*), u64 body size,
	 *   u32 nrcpt, nrcpt x (u32 rid, str recipient),
	 *   bytes first part of the body (all of it when it fits in 64 KiB). */
	DMSG_JOB = 40,
	/* deliver -> qmgr (reqid = job id): u64 offset, u32 max length. */
	DMSG_BODY_REQ = 41,
	/* qmgr -> deliver (reqid = job id): u64 offset, bytes data. */
	DMSG_BODY = 42,
	/* deliver -> qmgr (reqid = job id): u32 dcid (DCID_NONE if no
	 * connection was made), str host the result came from ("mx.example
	 * [192.0.2.1]:25" or ""), u32 nrcpt, nrcpt x (u32 rid, u32 status
	 * (2, 4 or 5), u32 reason (REASON_*), str reply or error text). */
	DMSG_RESULT = 43,
	/* qmgr -> deliver: str domain ("" = all).  Close idle connections to
	 * it and forget cached DNS answers (delivernow, suspenddel). */
	DMSG_FLUSH = 44,
	/* qmgr -> deliver: str domain ("" = all).  The end of a suspenddel
	 * delay: interrupt the deliveries still running to it (each recipient
	 * answered 4, REASON_CONN, so it stays queued), close their
	 * connections, then flush as DMSG_FLUSH. */
	DMSG_ABORT = 45,
	/* deliver -> qmgr (reqid 0): str domain, str host ("mx.example
	 * [192.0.2.1]"), str mode (tls: keyword), str reason.  A TLS failure,
	 * kept as the destination's "Last TLS Error" (hoststatus). */
	DMSG_TLS_ERROR = 46,
};

enum id_kind { ID_MID = 1, ID_ICID = 2, ID_DCID = 3 };
#define ID_WRAP		(1u << 31)
#define DCID_NONE	0xffffffffu

/* Message flags carried from smtpd to qmgr to deliver. */
#define MSGF_SMTPUTF8	0x1	/* MAIL FROM had SMTPUTF8 */
#define MSGF_8BITMIME	0x2	/* BODY=8BITMIME */
#define MSGF_BOUNCE	0x4	/* generated DSN: never bounce it again */
#define MSGF_DROP	0x8	/* queue then drop (sinkhole_queue) */
#define MSGF_WORKQ	0x10	/* qmgr only: held in the paused work queue */

enum commit_status {
	COMMIT_OK = 0,		/* durable: answer 250 */
	COMMIT_TEMPFAIL = 1,	/* answer the given 4xx text */
	COMMIT_PERMFAIL = 2,	/* answer the given 5xx text */
};

enum deliver_reason {
	REASON_SMTP = 0,	/* the reply came from the remote server */
	REASON_DNS = 1,		/* resolution failed (5: NXDOMAIN / no host) */
	REASON_CONN = 2,	/* connect, TLS or I/O failure, timeout */
	REASON_OTHER = 3,	/* anything else (local error) */
};

/*
 * Control commands (IMSG_CTL argv[0]) and who serves them:
 *   master:  version, commit (reload), status (merges the children's and
 *            adds the system gauges), suspendlistener, resumelistener,
 *            tcpservices; routes the others
 *   qmgr:    status, hoststatus (queue and counters), tophosts, dnsstatus,
 *            showrecipients, deleterecipients, bouncerecipients,
 *            redirectrecipients, delivernow, suspenddel, resumedel,
 *            showmessage, oldmessage, removemessage, archivemessage,
 *            workqueue, resetcounters
 *   smtpd:   connections, suspendlistener
 *   deliver: connections, hoststatus (DNS cache, SMTP routes), dnsflush
 * "connections" is an internal building block of status.  Records carry
 * "section" (counter, id, gauge, rate, info, error, host, ip, mx, route,
 * service) and "name"; sallyctl's format.c turns them into the spec's
 * layouts.  deliver reports the dnsstatus counters to qmgr as QMSG_COUNTER
 * increments ("DNS Requests", "Network Requests", "Cache Hits", "Cache
 * Misses", "Cache Exceptions", "Cache Expired"), so qmgr persists them.
 */

#endif
