/*
 * session - one SMTP server session as a pure state machine (RFC 5321,
 * ESMTP PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES).
 *
 * No sockets, no timers, no event loop: bytes from the client go in
 * (smtp_session_input), replies come out in a buffer
 * (smtp_session_output), and what must reach the queue manager goes
 * through a small ops table (begin/data/end/abort/counter), so the unit
 * tests and the fuzzer drive it with a fake queue manager.  smtpd.c owns
 * the socket, the timers and the real qmgr channel and calls in here.
 *
 * What it decides: the HAT verdict at start (lib/hat), command syntax and
 * order, every per-session limit with its reply and log line, the relay
 * decision per recipient (lib/rat), the DATA phase (data_parser.c) and
 * the Received: header.  Replies to a whole pipelined batch are collected
 * and written by the caller once no complete command line is left.
 *
 * Memory per session is bounded whatever the client sends: at most
 * SMTP_IN_MAX bytes of unprocessed input (the caller stops reading while
 * smtp_session_wants_input() is false), processing pauses when
 * SMTP_OUT_HIGH bytes of replies are waiting, one DATA frame of
 * SMTP_DATA_FRAME bytes, and recipients limited by the policy's
 * max_rcpts_per_msg and SMTP_RCPT_BYTES_MAX.
 *
 * Policy: the HAT verdict picks a mail flow policy; config_policy_merge
 * fills what it leaves unset from the listener's default_policy, and the
 * merged copy governs the session (banners, limits, hourly rate limit and
 * directory harvest prevention through params.rates, RAT replies).
 * Recipients go through rewrite.h's stages and the alias table.
 *
 * TLS (RFC 3207) and AUTH (RFC 4954, PLAIN and LOGIN) are decided here
 * too: the policy's tls (off: no STARTTLS; preferred: offered; required:
 * 530 to all but NOOP, EHLO, QUIT and STARTTLS until TLS is up) and auth
 * (off, preferred, required: 530 to MAIL until authenticated; offered
 * only under TLS while auth_requires_tls).  After "220 Ready to start
 * TLS" the session drops whatever input it holds (a client may not
 * pipeline past STARTTLS) and waits in SMTP_STARTTLS; the caller does the
 * handshake and reports with smtp_session_tls_started() (the session is
 * then reset, as if just greeted) or smtp_session_tls_failed().  Passwords
 * are checked by the caller (ops->auth_check, asynchronous); failures are
 * counted per connection (auth.max_failures: 421) and per address and
 * hour in params.rates (auth.max_failures_per_ip: 454).  An authenticated
 * client may relay.
 *
 * Not for: the TLS library itself, the password file and crypt(3), DNS
 * (smtpd.c gathers the facts the HAT needs and passes them in params),
 * timers (the caller calls smtp_session_timeout), talking IPC.
 */
#ifndef SP_SMTPD_SESSION_H
#define SP_SMTPD_SESSION_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "hat.h"
#include "rates.h"

#define SMTP_LINE_MAX		512		/* command line, CRLF included */
#define SMTP_IN_MAX		(128 * 1024)	/* unprocessed client bytes */
#define SMTP_OUT_HIGH		(32 * 1024)	/* replies waiting: pause */
#define SMTP_DATA_FRAME		(64 * 1024)	/* QMSG_DATA payload limit */
#define SMTP_RCPT_BYTES_MAX	(512 * 1024)	/* recipients in one QMSG_BEGIN */
#define SMTP_HELO_MAX		255

#define SMTP_COUNTER_REJECTED_RCPTS	"Rejected Recipients"
#define SMTP_COUNTER_DROPPED_MSGS	"Dropped Messages"
#define SMTP_COUNTER_DHAP_HITS		"DHAP Hits"
#define SMTP_COUNTER_RATE_LIMIT_HITS	"Rate Limit Hits"

/* Resource conservation gauge value meaning "accept no mail". */
#define SMTP_RESCON_HALT		999

enum smtp_state {
	SMTP_CMD,		/* reading commands */
	SMTP_DATA,		/* reading message data */
	SMTP_WAIT_MID,		/* DATA given; waiting for a MID block */
	SMTP_WAIT_COMMIT,	/* end of data seen; waiting for qmgr */
	SMTP_CLOSED,		/* write out what is left, then close */
	SMTP_WAIT_DNS,		/* MAIL FROM: verifying the sender domain */
	SMTP_STARTTLS,		/* 220 to STARTTLS given: the caller does the handshake */
	SMTP_WAIT_AUTH,		/* AUTH: the caller is checking the password */
};

/* Outcomes of ops->auth_check (smtp_session_auth_result). */
enum smtp_auth_result { SMTP_AUTH_OK, SMTP_AUTH_FAIL, SMTP_AUTH_TEMPFAIL };

/* Outcomes of ops->verify_domain (smtp_session_sender_verified). */
enum smtp_verify { SMTP_VERIFY_OK, SMTP_VERIFY_NXDOMAIN, SMTP_VERIFY_TEMPFAIL };

enum smtp_timeout { SMTP_TIMEOUT_IDLE, SMTP_TIMEOUT_SESSION };

/* The envelope handed to ops->begin. */
struct smtp_txn {
	uint32_t	 mid;
	uint32_t	 icid;
	uint64_t	 received;	/* unix seconds */
	const char	*listener;
	const char	*client_ip;
	const char	*client_host;	/* "unknown" until reverse DNS exists */
	const char	*helo;
	const char	*sender;	/* "" = null sender */
	uint32_t	 flags;		/* MSGF_* */
	char *const	*rcpts;
	size_t		 nrcpt;
};

/*
 * What a session needs from the queue manager side.  arg is the caller's
 * per-session pointer.  begin returns 0, or -1 when the channel is gone
 * (the session then answers 451).  After begin, exactly one of end or
 * abort follows, unless smtp_session_qmgr_lost() was called.
 */
struct smtp_session_ops {
	int	(*qmgr_ready)(void *arg);
	/* 0 and *mid; -1: none (451); 1: none yet, more are coming: the
	 * session waits (SMTP_WAIT_MID) until smtp_session_mid_ready(). */
	int	(*take_mid)(void *arg, uint32_t *mid);
	int	(*begin)(void *arg, const struct smtp_txn *txn);
	void	(*data)(void *arg, const void *p, size_t n);	/* <= SMTP_DATA_FRAME */
	void	(*end)(void *arg, uint64_t size);
	void	(*abort)(void *arg);
	void	(*counter)(void *arg, const char *name, uint64_t delta);
	/* Optional (NULL: time(NULL)): the clock of the hourly limits. */
	time_t	(*now)(void *arg);
	/* Optional (NULL: 0): the resource conservation gauge, 0-60 or
	 * SMTP_RESCON_HALT, asked at every MAIL FROM. */
	unsigned (*rescon)(void *arg);
	/* Optional: starts a lookup of the sender domain (A-labels) for
	 * verify_sender_domain; 0: the session waits (SMTP_WAIT_DNS) for
	 * smtp_session_sender_verified(); -1: no DNS, the domain passes. */
	int	(*verify_domain)(void *arg, const char *domain);
	/* Optional (NULL: AUTH is never offered): starts checking a user's
	 * password; the session waits (SMTP_WAIT_AUTH) for
	 * smtp_session_auth_result().  The strings are valid only during
	 * the call (the session wipes the password afterwards). */
	void	(*auth_check)(void *arg, const char *user, const char *pass);
};

struct smtp_session_params {
	const struct config		*cfg;		/* hostname, smtpd: limits */
	const struct cfg_listener	*listener;
	const char			*local_ip;
	const char			*client_ip;
	uint32_t			 icid;
	/* What smtpd learnt before the session started (all optional). */
	const char			*ptr_host;	/* reverse DNS name; NULL: none */
	int				 host_verified;	/* ptr_host forward-confirmed */
	hat_listed_fn			*listed;	/* DNS list answers (start only) */
	void				*listed_arg;
	uint32_t			 conns_from_ip;	/* live sessions from client_ip
							 * on this listener, this one
							 * included; 0: not counted */
	struct rate_table		*rates;		/* hourly limits; NULL: none */
	int				 tls_available;	/* the listener has a certificate */
	int				 auth_available; /* credentials can be checked */
};

struct smtp_session;

/* The strings in params are copied; cfg and listener must outlive the
 * session (smtpd.c holds a reference on the config). */
struct smtp_session *smtp_session_new(const struct smtp_session_params *params,
		    const struct smtp_session_ops *ops, void *arg);
/* Logs the connection and the HAT verdict, writes the banner (none for
 * TCPREFUSE: the session is then SMTP_CLOSED at once). */
void		 smtp_session_start(struct smtp_session *s);
/* Logs "ICID n close" and frees. */
void		 smtp_session_free(struct smtp_session *s);

/* Room for more client bytes (0 while the caller must not read). */
size_t		 smtp_session_input_room(const struct smtp_session *s);
/* Appends at most input_room bytes (the rest is dropped) and processes. */
void		 smtp_session_input(struct smtp_session *s, const void *p, size_t n);
/* Processes buffered input as far as possible (after output was written). */
void		 smtp_session_process(struct smtp_session *s);
/* The client closed its side: finish what is buffered, then close. */
void		 smtp_session_eof(struct smtp_session *s);
/* The connection broke: abort any open transaction and close. */
void		 smtp_session_lost(struct smtp_session *s);

int		 smtp_session_wants_input(const struct smtp_session *s);
/* Processing stopped only because replies piled up: call process again
 * once they are written. */
int		 smtp_session_runnable(const struct smtp_session *s);
/* Replies to send; the caller takes them (buf_steal or buf_reset). */
struct buf	*smtp_session_output(struct smtp_session *s);
enum smtp_state	 smtp_session_state(const struct smtp_session *s);

/* The answer to ops->verify_domain (enum smtp_verify). */
void		 smtp_session_sender_verified(struct smtp_session *s, int result);
/* MIDs arrived: a session in SMTP_WAIT_MID retries its DATA command. */
void		 smtp_session_mid_ready(struct smtp_session *s);
/* QMSG_COMMITTED for this session's transaction. */
void		 smtp_session_committed(struct smtp_session *s, uint32_t status,
		    const char *text);
/* The qmgr channel died: whatever was begun with it is gone. */
void		 smtp_session_qmgr_lost(struct smtp_session *s);
void		 smtp_session_timeout(struct smtp_session *s, enum smtp_timeout which);
/* Drain deadline: 421 4.3.2 and close (after a pending commit answer). */
void		 smtp_session_shutdown(struct smtp_session *s);

/* The TLS handshake after STARTTLS worked: the session starts over (no
 * banner; the client must EHLO again).  peer: the client certificate's
 * subject, or NULL. */
void		 smtp_session_tls_started(struct smtp_session *s, const char *version,
		    const char *cipher, const char *peer);
/* It failed: logged with why, and the session closes. */
void		 smtp_session_tls_failed(struct smtp_session *s, const char *why);
int		 smtp_session_tls_active(const struct smtp_session *s);
/* The answer to ops->auth_check (enum smtp_auth_result). */
void		 smtp_session_auth_result(struct smtp_session *s, int result);

/* RFC 5322 date of t in local time: "Sun, 23 Nov 2026 10:56:16 +0100". */
void		 smtp_rfc5322_date(time_t t, char *out, size_t outlen);

#endif
