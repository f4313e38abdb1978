/*
 * smtp_client - the SMTP client protocol engine of deliver (RFC 5321,
 * RFC 2920 pipelining), with no sockets in it.
 *
 * The caller owns the connection: it feeds each line the server sends
 * (smtpc_feed_line, without CRLF), writes out whatever smtpc_output()
 * holds after every call, and reacts to the event each call returns:
 *
 *   SMTPC_EV_NONE   nothing to do but wait for more lines
 *   SMTPC_EV_BODY   354 came: feed the body (smtpc_body, any chunking),
 *                   then smtpc_body_end()
 *   SMTPC_EV_DONE   the transaction is over: every active recipient has
 *                   status 2, 4 or 5, a reason (REASON_*) and a text.
 *                   smtpc_try_next(): the failure was about this host,
 *                   not the message (4xx banner/EHLO, 421, connection
 *                   lost before the final "."), so the recipients that
 *                   are 4 may be tried at the next host.
 *                   smtpc_reusable(): another transaction may follow.
 *   SMTPC_EV_RETRY  a reused connection failed its RSET: nothing was
 *                   attempted; reconnect and start again
 *   SMTPC_EV_CLOSE  the connection is finished (QUIT answered, or the
 *                   server closed or broke protocol while idle)
 *   SMTPC_EV_TLS    (with smtpc_tls_hook) greeted in clear: decide
 *                   (smtpc_extensions, smtpc_ehlo_rejected) and call
 *                   smtpc_starttls, smtpc_tls_skip or smtpc_defer
 *   SMTPC_EV_TLS_READY    220 to STARTTLS: do the handshake, then
 *                   smtpc_tls_started (EHLO again) or smtpc_defer
 *   SMTPC_EV_TLS_REFUSED  STARTTLS got another reply (smtpc_tls_reply):
 *                   smtpc_tls_skip or smtpc_defer
 *
 * A transaction may be given with smtpc_begin() right after smtpc_new(),
 * before the banner: it starts once the greeting and EHLO are done.  On a
 * connection that already carried one, it starts with RSET.  Texts the
 * engine makes up itself start with an RFC 3463 code ("5.6.7 ...").
 *
 * Not for: DNS, connecting, timers (the caller calls smtpc_fail() when
 * its timer fires), the TLS library and the TLS policy (the caller, at
 * the TLS events), logging the mail-flow lines (the caller does, from the
 * results).
 */
#ifndef SP_DELIVER_SMTP_CLIENT_H
#define SP_DELIVER_SMTP_CLIENT_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define SMTPC_TEXT_MAX	512

/* EHLO extensions seen (smtpc_extensions). */
#define SMTPC_EXT_PIPELINING	0x01
#define SMTPC_EXT_SIZE		0x02
#define SMTPC_EXT_8BITMIME	0x04
#define SMTPC_EXT_SMTPUTF8	0x08
#define SMTPC_EXT_STARTTLS	0x10
#define SMTPC_EXT_ENHANCED	0x20

struct smtpc_rcpt {
	const char	*addr;		/* caller: the address, no brackets */
	int		 active;	/* caller: attempt it in this transaction */
	int		 status;	/* engine: 0 pending, 2, 4 or 5 */
	int		 reason;	/* engine: REASON_* */
	int		 accepted;	/* engine: RCPT TO got 2xx */
	char		 text[SMTPC_TEXT_MAX];	/* engine: reply or error */
};

struct smtpc_txn {
	const char		*sender;	/* "" = null sender */
	uint32_t		 flags;		/* MSGF_* */
	uint64_t		 size;		/* body size, for SIZE= */
	struct smtpc_rcpt	*rcpts;
	size_t			 nrcpts;
};

enum smtpc_event {
	SMTPC_EV_NONE = 0,
	SMTPC_EV_BODY,
	SMTPC_EV_DONE,
	SMTPC_EV_RETRY,
	SMTPC_EV_CLOSE,
	SMTPC_EV_TLS,
	SMTPC_EV_TLS_READY,
	SMTPC_EV_TLS_REFUSED,
};

struct smtp_client;

/* helo: our name for EHLO/HELO; logtag prefixes the engine's log lines
 * ("DCID 7"). */
struct smtp_client	*smtpc_new(const char *helo, const char *logtag);
void			 smtpc_free(struct smtp_client *c);

/* Starts (or queues until the session is ready) a transaction.  The
 * txn and its recipients must stay valid until DONE/RETRY.  Usually
 * returns NONE; DONE when it is decided at once (SMTPUTF8 or SIZE refused
 * from the EHLO answer); -1 if the engine is busy or the connection dead. */
int			 smtpc_begin(struct smtp_client *c, struct smtpc_txn *txn);
enum smtpc_event	 smtpc_feed_line(struct smtp_client *c, const char *line, size_t len);
/* Body bytes as stored (CRLF lines, not dot-stuffed); stuffed here. */
void			 smtpc_body(struct smtp_client *c, const void *data, size_t len);
void			 smtpc_body_end(struct smtp_client *c);
/* The connection broke or a timer fired: why, e.g. "4.4.2 lost connection
 * with mx.example[192.0.2.1]".  Pending recipients become 4 REASON_CONN. */
enum smtpc_event	 smtpc_fail(struct smtp_client *c, const char *why);
/* Sends QUIT (once); the answer gives CLOSE.  1 when a QUIT is out, 0
 * when none can be sent (inside DATA, connection dead). */
int			 smtpc_quit(struct smtp_client *c);
/* The transaction's owner is gone: forget it (its recipients are not
 * touched again).  Returns 1 when QUIT was queued (any reply now gives
 * CLOSE), 0 when the connection must simply be closed (before the
 * greeting is done, inside DATA, or already dead). */
int			 smtpc_abandon(struct smtp_client *c);

struct buf		*smtpc_output(struct smtp_client *c);
int			 smtpc_try_next(const struct smtp_client *c);
int			 smtpc_reusable(const struct smtp_client *c);
/* Ready for smtpc_begin(): greeted, no transaction, not dead. */
int			 smtpc_idle(const struct smtp_client *c);
/* A reply is awaited (the caller runs its command timer). */
int			 smtpc_waiting(const struct smtp_client *c);
/* What is awaited, for error texts: "banner", "RCPT TO", ... */
const char		*smtpc_phase(const struct smtp_client *c);
/* DATA was sent and "." not yet: closing now cannot deliver anything,
 * and writing any command would become message text. */
int			 smtpc_in_data(const struct smtp_client *c);
int			 smtpc_dot_sent(const struct smtp_client *c);
/* 354 came and smtpc_body_end() was not called yet. */
int			 smtpc_wants_body(const struct smtp_client *c);
unsigned		 smtpc_extensions(const struct smtp_client *c);
/* The reply to the final "." of the last transaction ("" if none). */
const char		*smtpc_final_reply(const struct smtp_client *c);
/* Transactions finished on this connection. */
unsigned		 smtpc_transactions(const struct smtp_client *c);

/* STARTTLS.  With the hook on, the engine stops after the greeting
 * (SMTPC_EV_TLS) instead of starting the transaction. */
void			 smtpc_tls_hook(struct smtp_client *c, int on);
int			 smtpc_ehlo_rejected(const struct smtp_client *c);
int			 smtpc_tls_active(const struct smtp_client *c);
/* The reply to STARTTLS, one line ("" before). */
const char		*smtpc_tls_reply(const struct smtp_client *c);
/* Sends STARTTLS (at SMTPC_EV_TLS, if advertised); 0, or -1. */
int			 smtpc_starttls(struct smtp_client *c);
/* Goes on in clear: the transaction starts (returns its first event). */
enum smtpc_event	 smtpc_tls_skip(struct smtp_client *c);
/* The handshake worked: EHLO again (RFC 3207 4.2). */
void			 smtpc_tls_started(struct smtp_client *c);
/* Nothing may be delivered on this connection: pending recipients get 4,
 * REASON_CONN and text ("4.7.4 ..."), the next host may be tried; QUIT
 * if send_quit (0 after a failed handshake: the server cannot read it). */
enum smtpc_event	 smtpc_defer(struct smtp_client *c, const char *text, int send_quit);

#endif
