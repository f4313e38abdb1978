/*
 * session - the SMTP server protocol state machine (see session.h).
 *
 * HOW
 *	Input accumulates in s->in; smtp_session_process() takes complete
 *	command lines from it in order (PIPELINING) and appends each reply
 *	to s->out.  DATA switches to the data parser, which streams the
 *	stored message to qmgr in frames; at the end marker the session
 *	waits (SMTP_WAIT_COMMIT) and processes nothing more until qmgr says
 *	the message is durable, so a client that pipelines after "." costs
 *	no memory beyond SMTP_IN_MAX.  A DATA command that finds the MID
 *	block empty waits the same way (SMTP_WAIT_MID) until smtpd.c has a
 *	new block.
 *
 *	Enhanced status codes (RFC 2034) are given in replies to commands
 *	only after EHLO.  Replies the session sends on its own initiative
 *	(banners, 421 closes, the 554 answers of a rejected host) always
 *	carry them, as every MTA does: they are not answers to an EHLO-era
 *	command.
 *
 *	Recipient processing follows the trace order: default domain for a
 *	bare local part, domain map, then the relay decision (RAT), then
 *	the alias table (one level; "/dev/null" drops the recipient, and a
 *	message left with only dropped recipients is read and discarded,
 *	counted as a Dropped Message).  The sender gets the default domain
 *	and, on private listeners, masquerading.
 *
 *	Limits with their replies: max_conns_per_ip at the banner (421
 *	4.7.0), max_msgs_per_conn at MAIL (421 4.7.0, close), the resource
 *	conservation halt at MAIL (452 4.3.1), max_rcpts_per_hour per
 *	sending IP (the policy's code and text, 452 by default; RAT entries
 *	with bypass_rate_limit do not count), and directory harvest
 *	prevention: an invalid recipient beyond the policy's hourly limit
 *	closes the connection with 421 4.7.0 and counts a DHAP hit.
 *
 *	Relay decision per recipient, in order: bare <postmaster> is always
 *	accepted (RFC 5321 4.5.1); a RELAY policy accepts anything; a
 *	sinkhole listener accepts anything; sender-specified routing in the
 *	local part ('%', '!', or '@' inside quotes) is refused for everyone
 *	else, as Postfix does by default (allow_untrusted_routing = no): the
 *	next hop might honour it and relay for us; then a public listener
 *	asks its RAT about the parsed domain (A-labels) and a private
 *	listener refuses.
 *
 * NOT FOR
 *	Sockets, timers, TLS, AUTH, DNS.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "data_parser.h"
#include "hat.h"
#include "log.h"
#include "proto.h"
#include "rat.h"
#include "base64.h"
#include "rewrite.h"
#include "session.h"
#include "xalloc.h"

#define GREET_NONE	0
#define GREET_HELO	1
#define GREET_EHLO	2

#define LOG_ARG_MAX	200	/* command text quoted in a log line */

struct smtp_session {
	const struct config		*cfg;
	const struct cfg_listener	*listener;
	const struct cfg_policy		*policy;	/* &eff */
	struct cfg_policy		 eff;		/* merged with the default */
	const struct smtp_session_ops	*ops;
	void				*arg;
	uint32_t			 icid;
	char				 local_ip[64];
	char				 client_ip[64];
	enum cfg_action			 action;
	enum smtp_state			 state;
	char				 ptr_host[256];
	int				 host_verified;
	hat_listed_fn			*listed;	/* start only */
	void				*listed_arg;
	uint32_t			 conns_from_ip;
	struct rate_table		*rates;
	uint32_t			 nmsgs;		/* accepted in this connection */
	size_t				 nrcpts_ok;	/* recipients accepted, all txns */

	int				 tls_available;
	int				 auth_available;
	int				 tls_active;
	int				 tls_530;	/* "Must issue a STARTTLS" given */
	char				 tls_version[32];
	char				 tls_cipher[96];
	int				 auth_step;	/* AUTH_STEP_* */
	int				 auth_response;	/* s->cmd is a line after a 334 */
	int				 auth_login;	/* mechanism LOGIN (else PLAIN) */
	char				 auth_user[256];
	int				 authenticated;
	unsigned			 auth_failures;

	struct buf			 in;
	size_t				 in_off;	/* processed bytes of in */
	struct buf			 out;
	int				 discarding;	/* rest of a too long line */
	int				 blocked_out;
	int				 eof;
	int				 shutdown_pending;
	const char			*close_reason;	/* NULL: QUIT */
	unsigned			 errors;
	int				 greeted;
	int				 enhanced;
	char				 helo[SMTP_HELO_MAX + 1];
	char				 cmd[SMTP_LINE_MAX];	/* current line */

	/* transaction */
	int				 in_txn;
	char				*sender;
	uint32_t			 flags;
	char				**rcpts;
	size_t				 nrcpt;
	size_t				 rcpt_bytes;
	size_t				 ndropped;	/* aliased to /dev/null */
	uint32_t			 mid;
	int				 qmgr_txn;	/* begun with qmgr, not ended */
	int				 queueless;	/* sinkhole: nothing to qmgr */
	int				 qmgr_gone;	/* channel died during DATA */
	struct data_parser		 dp;
	struct buf			 frame;
	uint64_t			 sent;		/* bytes given to ops->data */
};

/* A policy for hosts no HAT entry matched: refuse everything. */
static const struct cfg_policy no_policy = {
	.name = "None", .action = ACTION_REJECT,
};

#define AUTH_STEP_NONE		0
#define AUTH_STEP_PLAIN		1	/* 334 sent, waiting for the response */
#define AUTH_STEP_USER		2	/* LOGIN: waiting for the user name */
#define AUTH_STEP_PASS		3	/* LOGIN: waiting for the password */

static void	session_close(struct smtp_session *, const char *);
static void	sender_rewrite(struct smtp_session *);
static void	sender_verify_failed(struct smtp_session *, const char *);

static const char *
hostname(const struct smtp_session *s)
{
	return s->cfg->hostname != NULL ? s->cfg->hostname : "localhost";
}

static const char *
action_name(enum cfg_action a)
{
	switch (a) {
	case ACTION_ACCEPT:
		return "ACCEPT";
	case ACTION_RELAY:
		return "RELAY";
	case ACTION_REJECT:
		return "REJECT";
	case ACTION_TCPREFUSE:
		return "TCPREFUSE";
	}
	return "REJECT";
}

/* ---- replies ---- */

static void
reply_v(struct smtp_session *s, int with_enh, int code, const char *enh, const char *fmt,
    va_list ap)
{
	buf_printf(&s->out, "%d ", code);
	if (with_enh && enh != NULL)
		buf_printf(&s->out, "%s ", enh);
	buf_vprintf(&s->out, fmt, ap);
	buf_puts(&s->out, "\r\n");
}

/* A reply to a command: enhanced code only after EHLO. */
static void __attribute__((format(printf, 4, 5)))
reply(struct smtp_session *s, int code, const char *enh, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_v(s, s->enhanced, code, enh, fmt, ap);
	va_end(ap);
}

/* A reply the server sends on its own: always with the enhanced code. */
static void __attribute__((format(printf, 4, 5)))
reply_enh(struct smtp_session *s, int code, const char *enh, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_v(s, 1, code, enh, fmt, ap);
	va_end(ap);
}

/* The current command, safe and short enough for a log line. */
static const char *
cmd_for_log(const struct smtp_session *s, char *out, unsigned outlen)
{
	char tmp[LOG_ARG_MAX + 1];
	size_t n = strnlen(s->cmd, LOG_ARG_MAX);

	/* Never log credentials: an AUTH line shows its mechanism only.
	 * auth_response too: a refused response has already left its step. */
	if (s->auth_step != AUTH_STEP_NONE || s->auth_response)
		return "<AUTH response>";
	if (strncasecmp(s->cmd, "AUTH", 4) == 0 && !isalnum((unsigned char)s->cmd[4])) {
		/* "AUTH PLAIN <secret>", or a broken "AUTH\tPLAIN <secret>". */
		n = 4 + (s->cmd[4] == ' ' ? 1 + strcspn(s->cmd + 5, " \t") : 0);
		if (n > LOG_ARG_MAX)
			n = LOG_ARG_MAX;
	}
	memcpy(tmp, s->cmd, n);
	tmp[n] = '\0';
	return log_safe(tmp, out, outlen);
}

static void
count_error(struct smtp_session *s)
{
	if (++s->errors <= s->cfg->smtpd.max_errors || s->state == SMTP_CLOSED)
		return;
	log_info("ICID %u too many errors (%u, limit %u); closing", s->icid, s->errors,
	    s->cfg->smtpd.max_errors);
	reply_enh(s, 421, "4.7.0", "%s Too many errors", hostname(s));
	session_close(s, "too many errors");
}

/*
 * Refuses the current command: reply, a log line with the ICID, and for
 * 5xx one more error towards max_errors.
 */
static void __attribute__((format(printf, 4, 5)))
refuse(struct smtp_session *s, int code, const char *enh, const char *fmt, ...)
{
	char text[512], cmd[LOG_ARG_MAX * 4 + 8], safe[sizeof text * 4];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	reply(s, code, enh, "%s", text);
	log_info("ICID %u refused '%s': %d %s %s", s->icid, cmd_for_log(s, cmd, sizeof cmd),
	    code, enh, log_safe(text, safe, sizeof safe));
	if (code >= 500)
		count_error(s);
}

/* ---- transaction ---- */

static void
txn_reset(struct smtp_session *s)
{
	size_t i;

	for (i = 0; i < s->nrcpt; i++)
		free(s->rcpts[i]);
	free(s->rcpts);
	s->rcpts = NULL;
	s->nrcpt = 0;
	s->rcpt_bytes = 0;
	s->ndropped = 0;
	free(s->sender);
	s->sender = NULL;
	s->in_txn = 0;
	s->flags = 0;
	s->mid = 0;
	s->qmgr_txn = 0;
	s->queueless = 0;
	s->qmgr_gone = 0;
	s->sent = 0;
	buf_free(&s->frame);
}

/* Tells qmgr to forget the message being received, if any. */
static void
txn_abort(struct smtp_session *s)
{
	if (s->qmgr_txn) {
		s->qmgr_txn = 0;
		s->ops->abort(s->arg);
	}
	buf_free(&s->frame);
}

static void
session_close(struct smtp_session *s, const char *reason)
{
	if (s->state == SMTP_CLOSED)
		return;
	if (s->state == SMTP_DATA)
		txn_abort(s);
	s->state = SMTP_CLOSED;
	s->close_reason = reason;
}

/* ---- session life ---- */

struct smtp_session *
smtp_session_new(const struct smtp_session_params *p, const struct smtp_session_ops *ops,
    void *arg)
{
	struct smtp_session *s = xcalloc(1, sizeof *s);

	s->cfg = p->cfg;
	s->listener = p->listener;
	s->ops = ops;
	s->arg = arg;
	s->icid = p->icid;
	snprintf(s->local_ip, sizeof s->local_ip, "%s", p->local_ip ? p->local_ip : "");
	snprintf(s->client_ip, sizeof s->client_ip, "%s", p->client_ip ? p->client_ip : "");
	snprintf(s->ptr_host, sizeof s->ptr_host, "%s", p->ptr_host ? p->ptr_host : "");
	s->host_verified = p->ptr_host != NULL && p->host_verified;
	s->listed = p->listed;
	s->listed_arg = p->listed_arg;
	s->conns_from_ip = p->conns_from_ip;
	s->rates = p->rates;
	s->tls_available = p->tls_available;
	s->auth_available = p->auth_available && ops->auth_check != NULL;
	s->eff = no_policy;
	s->policy = &s->eff;
	s->action = ACTION_REJECT;
	s->state = SMTP_CMD;
	buf_init(&s->in, SMTP_IN_MAX);
	buf_init(&s->out, 0);
	buf_init(&s->frame, 0);
	return s;
}

/*
 * A sinkhole listener's own defaults for what no policy sets (the spec's
 * "defaults for a sinkhole listener": 100M, 600 connections per address,
 * 10,000 messages per connection, 100,000 recipients per message).
 */
static void
sinkhole_defaults(struct cfg_policy *p)
{
	if (!(p->set & POL_MAX_MESSAGE_SIZE))
		p->max_message_size = 100ULL * 1024 * 1024;
	if (!(p->set & POL_MAX_CONNS_PER_IP))
		p->max_conns_per_ip = 600;
	if (!(p->set & POL_MAX_MSGS_PER_CONN))
		p->max_msgs_per_conn = 10000;
	if (!(p->set & POL_MAX_RCPTS_PER_MSG))
		p->max_rcpts_per_msg = 100000;
}

void
smtp_session_start(struct smtp_session *s)
{
	const struct cfg_hat_entry *e = NULL;
	const struct cfg_policy *pol = NULL;
	const char *matched = NULL, *text;
	struct hat_client hc;
	char safe[1024];
	unsigned code;

	log_info("New SMTP ICID %u interface %s (%s) address %s reverse dns host %s "
	    "verified %s", s->icid, s->listener->name, s->local_ip, s->client_ip,
	    s->ptr_host[0] != '\0' ? log_safe(s->ptr_host, safe, sizeof safe) : "unknown",
	    s->host_verified ? "yes" : "no");
	if (hat_client_init(&hc, s->client_ip, s->host_verified ? s->ptr_host : NULL,
	    s->listed, s->listed_arg) == 0)
		e = hat_match_client(s->listener->hat, s->listener->nhat, &hc, &matched, NULL);
	s->listed = NULL;	/* the caller's answers are gone after start */
	if (e != NULL) {
		pol = e->policy;
		if (pol == NULL && e->policy_name != NULL)
			pol = config_policy(s->cfg, e->policy_name);
	}
	if (pol != NULL) {
		config_policy_merge(pol, s->listener->default_policy, &s->eff);
		if (s->listener->type == LISTENER_SINKHOLE)
			sinkhole_defaults(&s->eff);
		s->action = s->eff.action;
	}
	log_info("ICID %u %s SG %s match %s SBRS None", s->icid, action_name(s->action),
	    e != NULL ? e->group : "None", matched != NULL ? matched : "None");
	switch (s->action) {
	case ACTION_TCPREFUSE:
		session_close(s, "TCP refused by HAT");
		break;
	case ACTION_REJECT:
		code = s->eff.reject_banner_code ? s->eff.reject_banner_code : 554;
		if ((text = s->eff.reject_banner_text) != NULL)
			buf_printf(&s->out, "%u %s\r\n", code, text);
		else
			reply_enh(s, (int)code, code >= 500 ? "5.7.1" : "4.7.1",
			    "%s Access denied", hostname(s));
		if (code == 421)
			session_close(s, "rejected by HAT");
		break;
	default:
		if (s->eff.max_conns_per_ip != 0 && s->conns_from_ip > s->eff.max_conns_per_ip) {
			log_info("ICID %u refused: too many connections from %s (%u, limit %u)",
			    s->icid, s->client_ip, s->conns_from_ip, s->eff.max_conns_per_ip);
			reply_enh(s, 421, "4.7.0", "%s Too many connections from your host",
			    hostname(s));
			session_close(s, "too many connections from one address");
			break;
		}
		code = s->eff.banner_code ? s->eff.banner_code : 220;
		if ((text = s->eff.banner_text) != NULL)
			buf_printf(&s->out, "%u %s\r\n", code, text);
		else
			buf_printf(&s->out, "%u %s ESMTP Sallyport\r\n", code, hostname(s));
		break;
	}
}

void
smtp_session_free(struct smtp_session *s)
{
	if (s == NULL)
		return;
	if (s->state != SMTP_CLOSED)
		smtp_session_lost(s);
	if (s->tls_530 && !s->tls_active && s->nrcpts_ok == 0)
		log_info("ICID %u TLS was required but the client did not start it; "
		    "closed without accepting any recipient", s->icid);
	if (s->close_reason != NULL)
		log_info("ICID %u close (%s)", s->icid, s->close_reason);
	else
		log_info("ICID %u close", s->icid);
	txn_reset(s);
	buf_free(&s->in);
	buf_free(&s->out);
	free(s);
}

size_t
smtp_session_input_room(const struct smtp_session *s)
{
	if (s->state != SMTP_CMD && s->state != SMTP_DATA)
		return 0;
	return SMTP_IN_MAX - (s->in.len - s->in_off);
}

int
smtp_session_wants_input(const struct smtp_session *s)
{
	return (s->state == SMTP_CMD || s->state == SMTP_DATA) && !s->eof &&
	    !s->blocked_out && s->out.len < SMTP_OUT_HIGH && smtp_session_input_room(s) > 0;
}

int
smtp_session_runnable(const struct smtp_session *s)
{
	return (s->state == SMTP_CMD || s->state == SMTP_DATA) && s->blocked_out;
}

struct buf *
smtp_session_output(struct smtp_session *s)
{
	return &s->out;
}

enum smtp_state
smtp_session_state(const struct smtp_session *s)
{
	return s->state;
}

void
smtp_session_input(struct smtp_session *s, const void *p, size_t n)
{
	size_t room = smtp_session_input_room(s);

	if (n > room)
		n = room;	/* the caller was told; never grow past the bound */
	if (n > 0) {
		if (s->in_off > 0) {
			buf_consume(&s->in, s->in_off);
			s->in_off = 0;
		}
		buf_append(&s->in, p, n);
	}
	smtp_session_process(s);
}

/* ---- helpers for commands ---- */

static void
rfc_date_now(char *out, size_t outlen)
{
	smtp_rfc5322_date(time(NULL), out, outlen);
}

void
smtp_rfc5322_date(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	localtime_r(&t, &tm);
	if (strftime(out, outlen, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0 && outlen > 0)
		out[0] = '\0';
}

/* "FROM:" / "TO:" after the verb; returns the argument after it or NULL. */
static const char *
after_keyword(const char *args, const char *kw)
{
	size_t n = strlen(kw);

	if (strncasecmp(args, kw, n) != 0)
		return NULL;
	args += n;
	while (*args == ' ')
		args++;
	return args;
}

static int
only_spaces(const char *p)
{
	while (*p == ' ')
		p++;
	return *p == '\0';
}

/* user@domain in the form qmgr routes on: domain as A-labels, lower case. */
static char *
addr_for_queue(const struct mailaddr *a)
{
	if (a->is_null)
		return xstrdup("");
	return xasprintf("%s@%s", a->local, a->domain_ascii);
}

/* Sender-specified routing hidden in a local part. */
static int
local_has_routing(const char *local)
{
	if (strpbrk(local, "%!") != NULL)
		return 1;
	return local[0] == '"' && strchr(local, '@') != NULL;
}

/* ---- commands ---- */

static int
starttls_offered(const struct smtp_session *s)
{
	return s->policy->tls != TLS_IN_OFF && s->tls_available && !s->tls_active;
}

static int
auth_offered(const struct smtp_session *s)
{
	return s->policy->auth != AUTH_OFF && s->auth_available &&
	    !s->authenticated && (s->tls_active || !s->policy->auth_requires_tls);
}

static void
cmd_helo(struct smtp_session *s, const char *args, int ehlo)
{
	const unsigned char *p;
	size_t n;
	uint64_t max;

	n = strcspn(args, " ");
	if (n == 0) {
		refuse(s, 501, "5.5.4", "Syntax: %s hostname", ehlo ? "EHLO" : "HELO");
		return;
	}
	if (n > SMTP_HELO_MAX) {
		refuse(s, 501, "5.5.4", "Host name too long");
		return;
	}
	for (p = (const unsigned char *)args; p < (const unsigned char *)args + n; p++) {
		if (*p < 0x21 || *p == 0x7f) {
			refuse(s, 501, "5.5.4", "Invalid host name");
			return;
		}
	}
	txn_reset(s);
	memcpy(s->helo, args, n);
	s->helo[n] = '\0';
	s->greeted = ehlo ? GREET_EHLO : GREET_HELO;
	s->enhanced = ehlo;
	if (!ehlo) {
		buf_printf(&s->out, "250 %s\r\n", hostname(s));
		return;
	}
	max = s->policy->max_message_size;
	buf_printf(&s->out, "250-%s\r\n250-PIPELINING\r\n250-SIZE %llu\r\n250-8BITMIME\r\n"
	    "250-SMTPUTF8\r\n", hostname(s), (unsigned long long)max);
	if (starttls_offered(s))
		buf_puts(&s->out, "250-STARTTLS\r\n");
	if (auth_offered(s))
		buf_puts(&s->out, "250-AUTH PLAIN LOGIN\r\n");
	buf_puts(&s->out, "250 ENHANCEDSTATUSCODES\r\n");
}

static void
cmd_mail(struct smtp_session *s, const char *args)
{
	struct mailaddr a;
	struct esmtp_params ep;
	enum addr_status st;
	const char *path, *rest;
	uint64_t max = s->policy->max_message_size;

	if (!s->greeted) {
		refuse(s, 503, "5.5.1", "Error: send HELO/EHLO first");
		return;
	}
	if (s->in_txn) {
		refuse(s, 503, "5.5.1", "Error: nested MAIL command");
		return;
	}
	if (s->state == SMTP_WAIT_DNS)
		return;
	if (s->policy->auth == AUTH_REQUIRED && !s->authenticated) {
		refuse(s, 530, "5.7.0", "Authentication required");
		return;
	}
	if ((path = after_keyword(args, "FROM:")) == NULL) {
		refuse(s, 501, "5.5.4", "Syntax: MAIL FROM:<address>");
		return;
	}
	if (s->eff.max_msgs_per_conn != 0 && s->nmsgs >= s->eff.max_msgs_per_conn) {
		log_info("ICID %u message limit reached (%u per connection); closing", s->icid,
		    s->eff.max_msgs_per_conn);
		reply(s, 421, "4.7.0", "%s Too many messages in this connection", hostname(s));
		session_close(s, "too many messages in one connection");
		return;
	}
	if (s->ops->rescon != NULL && s->ops->rescon(s->arg) >= SMTP_RESCON_HALT) {
		refuse(s, 452, "4.3.1", "Insufficient system resources (resource conservation), "
		    "try again later");
		return;
	}
	if (!s->ops->qmgr_ready(s->arg)) {
		refuse(s, 451, "4.3.0", "Queue manager unavailable, try again later");
		return;
	}
	/* The parameters say whether UTF-8 is allowed: find them first. */
	st = addr_parse_path(path, strlen(path), 1, s->listener->default_domain != NULL, &a,
	    &rest);
	if (st == ADDR_OK) {
		if (addr_parse_esmtp_params(rest, strlen(rest), &ep) < 0) {
			refuse(s, 501, "5.5.4", "Syntax error in parameters");
			return;
		}
		if (s->greeted != GREET_EHLO && !only_spaces(rest)) {
			refuse(s, 555, "5.5.4", "Parameters need EHLO");
			return;
		}
		if (ep.unknown[0] != '\0' || ep.has_auth) {
			refuse(s, 555, "5.5.4", "Unsupported parameter %s",
			    ep.has_auth && ep.unknown[0] == '\0' ? "AUTH" : ep.unknown);
			return;
		}
		st = addr_parse_path(path, strlen(path), ep.smtputf8,
		    s->listener->default_domain != NULL, &a, &rest);
	}
	if (st == ADDR_OK && !a.is_null && a.domain_ascii[0] == '\0' &&
	    (s->listener->default_domain == NULL || addr_domain_to_ascii(
	    s->listener->default_domain, a.domain_ascii, sizeof a.domain_ascii) < 0))
		st = ADDR_ERR_NO_DOMAIN;
	switch (st) {
	case ADDR_OK:
		break;
	case ADDR_ERR_UTF8:
		refuse(s, 553, "5.6.7", "UTF-8 address needs SMTPUTF8");
		return;
	case ADDR_ERR_TOO_LONG:
		refuse(s, 501, "5.1.7", "Sender address too long");
		return;
	case ADDR_ERR_IDN:
		refuse(s, 553, "5.1.7", "Invalid internationalized sender domain");
		return;
	case ADDR_ERR_NO_DOMAIN:
		refuse(s, 553, "5.1.7", "Sender address must contain a domain");
		return;
	default:
		refuse(s, 501, "5.1.7", "Bad sender address syntax");
		return;
	}
	if (ep.has_size && max != 0 && ep.size > max) {
		refuse(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
		return;
	}
	s->in_txn = 1;
	s->sender = addr_for_queue(&a);
	sender_rewrite(s);
	if (s->eff.verify_sender_domain && !a.is_null) {
		const char *dom = strrchr(s->sender, '@') + 1;

		if (!a.is_literal && strchr(dom, '.') == NULL) {
			sender_verify_failed(s, "malformed");
			return;
		}
		if (!a.is_literal && s->ops->verify_domain != NULL &&
		    s->ops->verify_domain(s->arg, dom) == 0) {
			s->state = SMTP_WAIT_DNS;
			return;
		}
	}
	s->flags = (ep.smtputf8 ? MSGF_SMTPUTF8 : 0) | (ep.body_8bit ? MSGF_8BITMIME : 0);
	if (s->listener->type == LISTENER_SINKHOLE && s->listener->sinkhole_queue)
		s->flags |= MSGF_DROP;
	reply(s, 250, "2.1.0", "Sender ok");
}

/* verify_sender_domain refused the sender: the policy's code. */
static void
sender_verify_failed(struct smtp_session *s, const char *why)
{
	unsigned code = s->eff.verify_sender_code ? s->eff.verify_sender_code : 553;

	refuse(s, (int)code, "5.1.8", "Sender address rejected: Domain not found (%s)", why);
	txn_reset(s);
}

void
smtp_session_sender_verified(struct smtp_session *s, int result)
{
	unsigned code;

	if (s->state != SMTP_WAIT_DNS)
		return;
	s->state = SMTP_CMD;
	switch (result) {
	case SMTP_VERIFY_OK:
		reply(s, 250, "2.1.0", "Sender ok");
		break;
	case SMTP_VERIFY_NXDOMAIN:
		sender_verify_failed(s, "does not resolve");
		break;
	default:
		code = s->eff.verify_sender_tempfail_code ?
		    s->eff.verify_sender_tempfail_code : 451;
		refuse(s, (int)code, "4.1.8", "Sender address rejected: Domain lookup failed, "
		    "try again later");
		txn_reset(s);
		break;
	}
	smtp_session_process(s);
}

/* Masquerading after the default domain (which the parser applied). */
static void
sender_rewrite(struct smtp_session *s)
{
	char safe[ADDR_PATH_MAX * 8], safe2[ADDR_PATH_MAX * 8];
	char *m;

	if (s->sender[0] == '\0' || (m = rewrite_masquerade(s->listener, s->sender)) == NULL)
		return;
	log_info("ICID %u sender <%s> masqueraded as <%s>", s->icid,
	    log_safe(s->sender, safe, sizeof safe), log_safe(m, safe2, sizeof safe2));
	free(s->sender);
	s->sender = m;
}

/*
 * NULL if the recipient may be accepted, else the refusal text (550).
 * *rat gets the RAT entry that matched, when the listener is public (for
 * its custom reply and bypass_rate_limit), else NULL.
 */
static const char *
relay_refusal(const struct smtp_session *s, const struct mailaddr *a,
    const struct cfg_rat_entry **rat)
{
	const char *denied = s->listener->type == LISTENER_PUBLIC ?
	    "Recipient address rejected: Access denied" : "Relaying denied";

	*rat = NULL;
	if (s->listener->type == LISTENER_PUBLIC)
		*rat = rat_match_recipient(s->listener->rat, s->listener->nrat, a->local,
		    a->domain_ascii, NULL);
	if (s->action == ACTION_RELAY || s->listener->type == LISTENER_SINKHOLE)
		return NULL;
	if (local_has_routing(a->local))
		return denied;
	if (*rat != NULL && (*rat)->action == ACTION_ACCEPT)
		return NULL;
	return denied;
}

static time_t
session_now(struct smtp_session *s)
{
	return s->ops->now != NULL ? s->ops->now(s->arg) : time(NULL);
}

/* A configured "code [x.y.z] text" reply; the enhanced code is dropped
 * when the client did not say EHLO. */
static void
reply_custom(struct smtp_session *s, const char *t)
{
	const char *p = t + 4, *sp;

	if (!s->enhanced && p[0] >= '2' && p[0] <= '5' && p[1] == '.' &&
	    (sp = strchr(p, ' ')) != NULL && strspn(p, "0123456789.") == (size_t)(sp - p))
		buf_printf(&s->out, "%.3s %s\r\n", t, sp + 1);
	else
		buf_printf(&s->out, "%s\r\n", t);
}

/*
 * Directory harvest prevention: one more invalid recipient from this
 * address.  1 when that was one too many: the connection is closed.
 */
static int
dhap_check(struct smtp_session *s)
{
	uint32_t n, max = s->eff.dhap_max_invalid_rcpts_per_hour;

	if (s->rates == NULL)
		return 0;
	n = rate_table_add(s->rates, RATE_INVALID_RCPTS, s->client_ip, 1, session_now(s));
	if (max == 0 || n <= max)
		return 0;
	log_info("ICID %u DHAP: %u invalid recipients from %s in the last hour (limit %u); "
	    "dropping the connection", s->icid, n, s->client_ip, max);
	s->ops->counter(s->arg, SMTP_COUNTER_DHAP_HITS, 1);
	reply_enh(s, 421, "4.7.0", "%s Too many invalid recipients; closing", hostname(s));
	session_close(s, "directory harvest prevention");
	return 1;
}

/* The hourly recipient limit of the sending address: 1 when reached
 * (the reply is given), else 0. */
static int
rate_limited(struct smtp_session *s, const struct cfg_rat_entry *rat)
{
	uint32_t n, max = s->eff.max_rcpts_per_hour, code = s->eff.rate_limit_code;
	const char *text = s->eff.rate_limit_text;

	if (max == 0 || s->rates == NULL || (rat != NULL && rat->bypass_rate_limit))
		return 0;
	n = rate_table_add(s->rates, RATE_RCPTS, s->client_ip, 0, session_now(s));
	if (n < max)
		return 0;
	if (code == 0)
		code = 452;
	if (text == NULL)
		text = "Too many recipients received this hour";
	log_info("ICID %u Rate limit: %u recipients per hour from %s reached; answered %u",
	    s->icid, max, s->client_ip, code);
	s->ops->counter(s->arg, SMTP_COUNTER_RATE_LIMIT_HITS, 1);
	reply(s, (int)code, code >= 500 ? "5.7.0" : "4.7.0", "%s", text);
	return 1;
}

/* Adds one recipient address (already rewritten) to the transaction. */
static void
rcpt_add(struct smtp_session *s, char *rcpt)
{
	s->rcpts = xrealloc(s->rcpts, (s->nrcpt + 1) * sizeof *s->rcpts);
	s->rcpts[s->nrcpt++] = rcpt;
	s->nrcpts_ok++;
	s->rcpt_bytes += strlen(rcpt) + 4;
}

/* Alias table: rcpt is consumed (added, or replaced by its expansion). */
static void
rcpt_add_aliased(struct smtp_session *s, char *rcpt)
{
	const struct cfg_alias *al = config_alias(s->cfg, rcpt);
	char safe[ADDR_PATH_MAX * 8], safe2[ADDR_PATH_MAX * 8];
	size_t i;

	if (al == NULL) {
		rcpt_add(s, rcpt);
		return;
	}
	for (i = 0; i < al->nto; i++) {
		log_info("ICID %u alias <%s> -> %s%s%s", s->icid, log_safe(rcpt, safe, sizeof safe),
		    strcmp(al->to[i], "/dev/null") == 0 ? "" : "<",
		    log_safe(al->to[i], safe2, sizeof safe2),
		    strcmp(al->to[i], "/dev/null") == 0 ? " (dropped)" : ">");
		if (strcmp(al->to[i], "/dev/null") == 0)
			s->ndropped++;
		else if (s->rcpt_bytes + strlen(al->to[i]) + 4 <= SMTP_RCPT_BYTES_MAX)
			rcpt_add(s, xstrdup(al->to[i]));
	}
	free(rcpt);
}

static void
rcpt_refused(struct smtp_session *s)
{
	s->ops->counter(s->arg, SMTP_COUNTER_REJECTED_RCPTS, 1);
}

static void
cmd_rcpt(struct smtp_session *s, const char *args)
{
	struct mailaddr a;
	enum addr_status st;
	const struct cfg_rat_entry *rat;
	const char *path, *rest, *why;
	char *rcpt, *mapped, safe[ADDR_PATH_MAX * 8], safe2[ADDR_PATH_MAX * 8];
	size_t len;
	int postmaster = 0;

	if (!s->in_txn) {
		refuse(s, 503, "5.5.1", "Error: need MAIL command");
		return;
	}
	if ((path = after_keyword(args, "TO:")) == NULL) {
		refuse(s, 501, "5.5.4", "Syntax: RCPT TO:<address>");
		rcpt_refused(s);
		return;
	}
	st = addr_parse_path(path, strlen(path), (s->flags & MSGF_SMTPUTF8) != 0, 1, &a, &rest);
	if (st == ADDR_OK && a.is_null)
		st = ADDR_ERR_SYNTAX;
	if (st == ADDR_OK && a.domain_ascii[0] == '\0') {
		if (strcasecmp(a.local, "postmaster") == 0) {
			if (addr_domain_to_ascii(hostname(s), a.domain_ascii,
			    sizeof a.domain_ascii) < 0)
				snprintf(a.domain_ascii, sizeof a.domain_ascii, "%s",
				    hostname(s));
			postmaster = 1;
		} else if (s->listener->default_domain == NULL ||
		    addr_domain_to_ascii(s->listener->default_domain, a.domain_ascii,
		    sizeof a.domain_ascii) < 0)
			st = ADDR_ERR_NO_DOMAIN;
		else
			log_info("ICID %u recipient <%s> -> <%s@%s> (default domain)", s->icid,
			    log_safe(a.local, safe, sizeof safe), safe, a.domain_ascii);
	}
	switch (st) {
	case ADDR_OK:
		break;
	case ADDR_ERR_UTF8:
		refuse(s, 553, "5.6.7", "UTF-8 address needs SMTPUTF8");
		rcpt_refused(s);
		return;
	case ADDR_ERR_TOO_LONG:
		refuse(s, 501, "5.1.3", "Recipient address too long");
		rcpt_refused(s);
		return;
	case ADDR_ERR_IDN:
		refuse(s, 553, "5.1.2", "Invalid internationalized domain name");
		rcpt_refused(s);
		return;
	case ADDR_ERR_NO_DOMAIN:
		refuse(s, 553, "5.1.3", "Recipient address must contain a domain");
		rcpt_refused(s);
		return;
	default:
		refuse(s, 501, "5.1.3", "Bad recipient address syntax");
		rcpt_refused(s);
		return;
	}
	if (!only_spaces(rest)) {
		refuse(s, 555, "5.5.4", "Unsupported parameter");
		rcpt_refused(s);
		return;
	}
	rcpt = addr_for_queue(&a);
	if ((mapped = rewrite_domain_map(s->listener, rcpt)) != NULL) {
		log_info("ICID %u recipient <%s> -> <%s> (domain map)", s->icid,
		    log_safe(rcpt, safe, sizeof safe), log_safe(mapped, safe2, sizeof safe2));
		free(rcpt);
		rcpt = mapped;
		snprintf(a.domain_ascii, sizeof a.domain_ascii, "%s", strrchr(rcpt, '@') + 1);
	}
	len = strlen(rcpt);
	if ((s->policy->max_rcpts_per_msg != 0 && s->nrcpt >= s->policy->max_rcpts_per_msg) ||
	    s->rcpt_bytes + len + 4 > SMTP_RCPT_BYTES_MAX) {
		free(rcpt);
		refuse(s, 452, "4.5.3", "Too many recipients");
		rcpt_refused(s);
		return;
	}
	why = relay_refusal(s, &a, &rat);
	if (postmaster && s->listener->type == LISTENER_PUBLIC && rat != NULL &&
	    rat->action == ACTION_REJECT)
		rat = NULL;	/* postmaster is accepted whatever the RAT says */
	if (!postmaster && why != NULL) {
		rcpt_refused(s);
		if (dhap_check(s)) {
			free(rcpt);
			return;
		}
		if (rat != NULL && rat->action == ACTION_REJECT && rat->reply != NULL) {
			log_info("ICID %u refused '<%s>': %s", s->icid,
			    log_safe(rcpt, safe, sizeof safe),
			    log_safe(rat->reply, safe2, sizeof safe2));
			reply_custom(s, rat->reply);
			if (rat->reply[0] == '5')
				count_error(s);
		} else
			refuse(s, 550, "5.7.1", "%s", why);
		free(rcpt);
		return;
	}
	if (rate_limited(s, rat)) {
		free(rcpt);
		return;
	}
	if (s->eff.max_rcpts_per_hour != 0 && s->rates != NULL &&
	    (rat == NULL || !rat->bypass_rate_limit))
		rate_table_add(s->rates, RATE_RCPTS, s->client_ip, 1, session_now(s));
	rcpt_add_aliased(s, rcpt);
	if (rat != NULL && rat->action == ACTION_ACCEPT && rat->reply != NULL &&
	    rat->reply[0] == '2')
		reply_custom(s, rat->reply);
	else
		reply(s, 250, "2.1.5", "Recipient ok");
}

/* The forward-confirmed client name, else "unknown" (for Received: and
 * qmgr); an unconfirmed PTR name is never passed on. */
static const char *
client_host(const struct smtp_session *s)
{
	return s->host_verified && s->ptr_host[0] != '\0' ? s->ptr_host : "unknown";
}

static void
received_header(struct smtp_session *s)
{
	const char *with;
	char date[64];

	rfc_date_now(date, sizeof date);
	/* RFC 3848 (and RFC 6531 for UTF8SMTP) "with" types. */
	static const char *const withs[2][2][2] = {
		{ { "SMTP", "SMTP" }, { "SMTP", "SMTP" } },
		{ { "ESMTP", "ESMTPA" }, { "ESMTPS", "ESMTPSA" } },
	};
	static const char *const utf8[2][2] = {
		{ "UTF8SMTP", "UTF8SMTPA" }, { "UTF8SMTPS", "UTF8SMTPSA" },
	};

	if (s->flags & MSGF_SMTPUTF8)
		with = utf8[s->tls_active != 0][s->authenticated != 0];
	else
		with = withs[s->greeted == GREET_EHLO][s->tls_active != 0]
		    [s->authenticated != 0];
	buf_printf(&s->frame, "Received: from %s (%s [%s])\r\n", s->helo, client_host(s),
	    s->client_ip);
	if (s->tls_active)
		buf_printf(&s->frame, "\t(using %s with cipher %s)\r\n", s->tls_version,
		    s->tls_cipher);
	buf_printf(&s->frame, "\tby %s (Sallyport) with %s id %u", hostname(s), with, s->mid);
	if (s->nrcpt == 1)
		buf_printf(&s->frame, "\r\n\tfor <%s>; %s\r\n", s->rcpts[0], date);
	else
		buf_printf(&s->frame, ";\r\n\t%s\r\n", date);
}

static void
cmd_data(struct smtp_session *s, const char *args)
{
	struct smtp_txn t;
	char safe[ADDR_PATH_MAX * 16];
	size_t i;
	int r;

	if (!s->in_txn) {
		refuse(s, 503, "5.5.1", "Error: need MAIL command");
		return;
	}
	if (s->nrcpt == 0 && s->ndropped == 0) {
		refuse(s, 554, "5.5.1", "No valid recipients");
		return;
	}
	if (!only_spaces(args)) {
		refuse(s, 501, "5.5.4", "Syntax: DATA");
		return;
	}
	if (!s->ops->qmgr_ready(s->arg) || (r = s->ops->take_mid(s->arg, &s->mid)) < 0) {
		refuse(s, 451, "4.3.0", "Queue manager unavailable, try again later");
		return;
	}
	if (r > 0) {
		/* A burst used up the MID block; more are on the way. */
		s->state = SMTP_WAIT_MID;
		return;
	}
	s->queueless = (s->listener->type == LISTENER_SINKHOLE && !s->listener->sinkhole_queue) ||
	    s->nrcpt == 0;
	if (!s->queueless) {
		memset(&t, 0, sizeof t);
		t.mid = s->mid;
		t.icid = s->icid;
		t.received = (uint64_t)time(NULL);
		t.listener = s->listener->name;
		t.client_ip = s->client_ip;
		t.client_host = client_host(s);
		t.helo = s->helo;
		t.sender = s->sender;
		t.flags = s->flags;
		t.rcpts = s->rcpts;
		t.nrcpt = s->nrcpt;
		if (s->ops->begin(s->arg, &t) < 0) {
			refuse(s, 451, "4.3.0", "Queue manager unavailable, try again later");
			return;
		}
		s->qmgr_txn = 1;
	}
	log_info("Start MID %u ICID %u", s->mid, s->icid);
	log_info("MID %u ICID %u From: <%s>", s->mid, s->icid,
	    log_safe(s->sender, safe, sizeof safe));
	for (i = 0; i < s->nrcpt; i++)
		log_info("MID %u ICID %u RID %zu To: <%s>", s->mid, s->icid, i,
		    log_safe(s->rcpts[i], safe, sizeof safe));
	buf_puts(&s->out, "354 End data with <CR><LF>.<CR><LF>\r\n");
	buf_init(&s->frame, 0);
	received_header(s);
	data_parser_init(&s->dp, s->policy->max_message_size, SMTP_DATA_FRAME);
	s->state = SMTP_DATA;
}

static void
cmd_quit(struct smtp_session *s)
{
	reply(s, 221, "2.0.0", "Bye");
	session_close(s, NULL);
}

/* The verbs we know but do not offer. */
static int
not_implemented(const char *verb)
{
	static const char *const verbs[] = {
		"BDAT", "ETRN", "TURN", "ATRN", "EXPN", "SEND", "SOML",
		"SAML",
	};
	size_t i;

	for (i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		if (strcasecmp(verb, verbs[i]) == 0)
			return 1;
	return 0;
}

/* ---- STARTTLS (RFC 3207) ---- */

static void
cmd_starttls(struct smtp_session *s, const char *args)
{
	size_t dropped;

	if (s->tls_active) {
		refuse(s, 503, "5.5.1", "Error: TLS already active");
		return;
	}
	if (s->policy->tls == TLS_IN_OFF) {
		refuse(s, 502, "5.5.1", "Command not implemented");
		return;
	}
	if (!s->tls_available) {
		log_info("ICID %u STARTTLS refused: the listener has no usable certificate",
		    s->icid);
		refuse(s, 454, "4.7.0", "TLS not available due to temporary reason");
		return;
	}
	if (!only_spaces(args)) {
		refuse(s, 501, "5.5.4", "Syntax: STARTTLS");
		return;
	}
	reply(s, 220, "2.0.0", "Ready to start TLS");
	/* Nothing sent before the handshake may count after it: a client
	 * (or someone in the path) pipelining past STARTTLS gets it
	 * dropped, not executed under TLS (CVE-2011-0411). */
	dropped = s->in.len - s->in_off;
	if (dropped > 0)
		log_info("ICID %u STARTTLS: discarded %zu bytes sent before the TLS handshake",
		    s->icid, dropped);
	s->in_off = s->in.len;
	s->state = SMTP_STARTTLS;
}

void
smtp_session_tls_started(struct smtp_session *s, const char *version, const char *cipher,
    const char *peer)
{
	char safe[512];

	if (s->state != SMTP_STARTTLS)
		return;
	snprintf(s->tls_version, sizeof s->tls_version, "%s", version ? version : "TLS");
	snprintf(s->tls_cipher, sizeof s->tls_cipher, "%s", cipher ? cipher : "unknown");
	log_info("ICID %u TLS success protocol %s cipher %s client certificate %s", s->icid,
	    s->tls_version, s->tls_cipher, peer != NULL ?
	    log_safe(peer, safe, sizeof safe) : "none");
	/* RFC 3207 4.2: forget everything learnt before TLS. */
	txn_reset(s);
	s->tls_active = 1;
	s->greeted = GREET_NONE;
	s->enhanced = 0;
	s->helo[0] = '\0';
	s->authenticated = 0;
	s->auth_user[0] = '\0';
	s->auth_step = AUTH_STEP_NONE;
	if (s->action == ACTION_RELAY && s->eff.action != ACTION_RELAY)
		s->action = s->eff.action;
	buf_reset(&s->in);
	s->in_off = 0;
	s->state = SMTP_CMD;
}

void
smtp_session_tls_failed(struct smtp_session *s, const char *why)
{
	if (s->state != SMTP_STARTTLS)
		return;
	log_info("ICID %u TLS failed: %s", s->icid, why ? why : "handshake failed");
	session_close(s, "TLS handshake failed");
}

int
smtp_session_tls_active(const struct smtp_session *s)
{
	return s->tls_active;
}

/* ---- AUTH (RFC 4954: PLAIN, LOGIN) ---- */

static void
auth_done(struct smtp_session *s)
{
	s->auth_step = AUTH_STEP_NONE;
}

/* Checks the credentials: the caller answers later. */
static void
auth_check(struct smtp_session *s, const char *user, char *pass)
{
	snprintf(s->auth_user, sizeof s->auth_user, "%s", user);
	s->auth_step = AUTH_STEP_NONE;
	s->state = SMTP_WAIT_AUTH;
	s->ops->auth_check(s->arg, s->auth_user, pass);
	explicit_bzero(pass, strlen(pass));
}

/* The PLAIN response: [authzid] NUL authcid NUL passwd. */
static void
auth_plain(struct smtp_session *s, const char *b64)
{
	unsigned char dec[SMTP_LINE_MAX];
	const char *authz, *user, *pass;
	size_t n, la, lu;
	long len;

	len = base64_decode(b64, strlen(b64), dec, sizeof dec - 1);
	if (len < 0) {
		auth_done(s);
		refuse(s, 501, "5.5.2", "Invalid base64 data");
		return;
	}
	n = (size_t)len;
	dec[n] = '\0';
	authz = (const char *)dec;
	la = strnlen(authz, n);
	user = authz + la + 1;
	if (la >= n || (lu = strnlen(user, n - la - 1)) >= n - la - 1 || lu == 0 ||
	    lu >= sizeof s->auth_user || (la > 0 && strcmp(authz, user) != 0)) {
		explicit_bzero(dec, sizeof dec);
		auth_done(s);
		refuse(s, 501, "5.5.2", "Invalid PLAIN response");
		return;
	}
	pass = user + lu + 1;
	auth_check(s, user, (char *)pass);
	explicit_bzero(dec, sizeof dec);
}

/* One line of an AUTH exchange (after a 334). */
static void
auth_line(struct smtp_session *s, char *line)
{
	unsigned char dec[SMTP_LINE_MAX];
	long len;

	if (strcmp(line, "*") == 0) {
		auth_done(s);
		refuse(s, 501, "5.0.0", "Authentication cancelled");
		return;
	}
	if (s->auth_step == AUTH_STEP_PLAIN) {
		auth_plain(s, line);
		explicit_bzero(line, strlen(line));
		return;
	}
	len = base64_decode(line, strlen(line), dec, sizeof dec - 1);
	explicit_bzero(line, strlen(line));
	if (len < 0 || (size_t)len != strlen((char *)dec) ||
	    (s->auth_step == AUTH_STEP_USER && (len == 0 ||
	    (size_t)len >= sizeof s->auth_user))) {
		explicit_bzero(dec, sizeof dec);
		auth_done(s);
		refuse(s, 501, "5.5.2", "Invalid base64 data");
		return;
	}
	if (s->auth_step == AUTH_STEP_USER) {
		memcpy(s->auth_user, dec, (size_t)len + 1);	/* checked: < sizeof */
		s->auth_step = AUTH_STEP_PASS;
		buf_puts(&s->out, "334 UGFzc3dvcmQ6\r\n");	/* "Password:" */
		return;
	}
	{
		char user[sizeof s->auth_user];

		memcpy(user, s->auth_user, sizeof user);
		auth_check(s, user, (char *)dec);
	}
	explicit_bzero(dec, sizeof dec);
}

static void
cmd_auth(struct smtp_session *s, const char *args)
{
	char mech[16], *initial;
	size_t n;

	if (s->policy->auth == AUTH_OFF || !s->auth_available) {
		refuse(s, 502, "5.5.1", "Command not implemented");
		return;
	}
	if (!s->tls_active && s->policy->auth_requires_tls) {
		refuse(s, 538, "5.7.11", "Encryption required for requested authentication "
		    "mechanism");
		return;
	}
	if (s->greeted != GREET_EHLO) {
		refuse(s, 503, "5.5.1", "Error: send EHLO first");
		return;
	}
	if (s->authenticated) {
		refuse(s, 503, "5.5.1", "Error: already authenticated");
		return;
	}
	if (s->in_txn) {
		refuse(s, 503, "5.5.1", "Error: MAIL transaction in progress");
		return;
	}
	if (s->rates != NULL && s->cfg->auth.max_failures_per_ip > 0 &&
	    rate_table_add(s->rates, RATE_AUTH_FAILURES, s->client_ip, 0, session_now(s)) >=
	    s->cfg->auth.max_failures_per_ip) {
		log_info("ICID %u AUTH refused: %u failed attempts from %s in the last hour",
		    s->icid, s->cfg->auth.max_failures_per_ip, s->client_ip);
		refuse(s, 454, "4.7.0", "Too many failed authentication attempts, try again "
		    "later");
		return;
	}
	n = strcspn(args, " ");
	if (n == 0 || n >= sizeof mech) {
		refuse(s, 504, "5.5.4", "Unrecognized authentication type");
		return;
	}
	memcpy(mech, args, n);
	mech[n] = '\0';
	initial = (char *)args + n;
	while (*initial == ' ')
		initial++;
	if (strcasecmp(mech, "PLAIN") == 0) {
		s->auth_login = 0;
		if (*initial == '\0') {
			s->auth_step = AUTH_STEP_PLAIN;
			buf_puts(&s->out, "334 \r\n");
			return;
		}
		if (strcmp(initial, "=") == 0) {
			refuse(s, 501, "5.5.2", "Invalid PLAIN response");
			return;
		}
		auth_plain(s, initial);
		explicit_bzero(initial, strlen(initial));
		return;
	}
	if (strcasecmp(mech, "LOGIN") == 0) {
		s->auth_login = 1;
		s->auth_step = AUTH_STEP_USER;
		if (*initial == '\0') {
			buf_puts(&s->out, "334 VXNlcm5hbWU6\r\n");	/* "Username:" */
			return;
		}
		auth_line(s, initial);
		return;
	}
	refuse(s, 504, "5.5.4", "Unrecognized authentication type");
}

void
smtp_session_auth_result(struct smtp_session *s, int result)
{
	char safe[512];
	const char *mech;

	if (s->state != SMTP_WAIT_AUTH)
		return;
	s->state = SMTP_CMD;
	mech = s->auth_login ? "LOGIN" : "PLAIN";
	log_safe(s->auth_user, safe, sizeof safe);
	if (result == SMTP_AUTH_OK) {
		s->authenticated = 1;
		/* The spec: an authenticated client gets the relay policy. */
		s->action = ACTION_RELAY;
		log_info("ICID %u AUTH success user '%s' mechanism %s tls %s", s->icid, safe, mech,
		    s->tls_active ? s->tls_version : "none");
		reply(s, 235, "2.7.0", "Authentication successful");
	} else if (result == SMTP_AUTH_TEMPFAIL) {
		log_info("ICID %u AUTH temporary failure user '%s' mechanism %s", s->icid, safe,
		    mech);
		reply(s, 454, "4.7.0", "Temporary authentication failure");
		s->auth_user[0] = '\0';
	} else {
		s->auth_failures++;
		if (s->rates != NULL)
			rate_table_add(s->rates, RATE_AUTH_FAILURES, s->client_ip, 1,
			    session_now(s));
		log_info("ICID %u AUTH failed user '%s' mechanism %s (%u in this connection)",
		    s->icid, safe, mech, s->auth_failures);
		s->auth_user[0] = '\0';
		if (s->cfg->auth.max_failures > 0 && s->auth_failures >= s->cfg->auth.max_failures) {
			reply(s, 421, "4.7.0", "%s Too many failed authentication attempts",
			    hostname(s));
			session_close(s, "too many failed AUTH attempts");
		} else
			reply(s, 535, "5.7.8", "Authentication credentials invalid");
	}
	smtp_session_process(s);
}

/* One complete command line (s->cmd, no CRLF). */
static void
dispatch(struct smtp_session *s)
{
	char verb[16];
	const char *args;
	size_t vlen, n;

	n = strlen(s->cmd);
	while (n > 0 && s->cmd[n - 1] == ' ')
		s->cmd[--n] = '\0';
	vlen = strcspn(s->cmd, " ");
	args = s->cmd + vlen;
	while (*args == ' ')
		args++;
	if (vlen >= sizeof verb)
		vlen = sizeof verb - 1;	/* too long for any verb we know */
	memcpy(verb, s->cmd, vlen);
	verb[vlen] = '\0';

	if (s->action == ACTION_REJECT) {
		if (strcasecmp(verb, "QUIT") == 0) {
			cmd_quit(s);
			return;
		}
		reply_enh(s, 554, "5.7.1", "Access denied");
		{
			char cmd[LOG_ARG_MAX * 4 + 8];

			log_info("ICID %u refused '%s': 554 5.7.1 Access denied", s->icid,
			    cmd_for_log(s, cmd, sizeof cmd));
		}
		count_error(s);
		return;
	}
	if (s->policy->tls == TLS_IN_REQUIRED && !s->tls_active &&
	    strcasecmp(verb, "NOOP") != 0 && strcasecmp(verb, "EHLO") != 0 &&
	    strcasecmp(verb, "QUIT") != 0 && strcasecmp(verb, "STARTTLS") != 0) {
		char cmd[LOG_ARG_MAX * 4 + 8];

		/* RFC 3207 section 4; the spec's text. */
		reply_enh(s, 530, "5.7.0", "Must issue a STARTTLS command first");
		log_info("ICID %u refused '%s': 530 5.7.0 TLS required", s->icid,
		    cmd_for_log(s, cmd, sizeof cmd));
		s->tls_530 = 1;
		count_error(s);
		return;
	}
	if (strcasecmp(verb, "EHLO") == 0)
		cmd_helo(s, args, 1);
	else if (strcasecmp(verb, "STARTTLS") == 0)
		cmd_starttls(s, args);
	else if (strcasecmp(verb, "AUTH") == 0)
		cmd_auth(s, args);
	else if (strcasecmp(verb, "HELO") == 0)
		cmd_helo(s, args, 0);
	else if (strcasecmp(verb, "MAIL") == 0)
		cmd_mail(s, args);
	else if (strcasecmp(verb, "RCPT") == 0)
		cmd_rcpt(s, args);
	else if (strcasecmp(verb, "DATA") == 0)
		cmd_data(s, args);
	else if (strcasecmp(verb, "RSET") == 0) {
		txn_reset(s);
		reply(s, 250, "2.0.0", "Ok");
	} else if (strcasecmp(verb, "NOOP") == 0)
		reply(s, 250, "2.0.0", "Ok");
	else if (strcasecmp(verb, "QUIT") == 0)
		cmd_quit(s);
	else if (strcasecmp(verb, "VRFY") == 0)
		reply(s, 252, "2.5.2", "Cannot VRFY user, but will accept message and attempt "
		    "delivery");
	else if (strcasecmp(verb, "HELP") == 0)
		reply(s, 214, "2.0.0", "Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY "
		    "HELP");
	else if (not_implemented(verb))
		refuse(s, 502, "5.5.1", "Command not implemented");
	else
		refuse(s, 500, "5.5.2", "Command unrecognized");
}

/*
 * Takes one command line off the input.  Returns 1 when it made progress,
 * 0 when it needs more input (or the session closed).
 */
static int
command_step(struct smtp_session *s)
{
	const char *p, *lf;
	size_t avail = s->in.len - s->in_off, len;

	if (avail == 0)
		return 0;
	p = s->in.data + s->in_off;
	if (s->discarding) {
		if ((lf = memchr(p, '\n', avail)) == NULL) {
			s->in_off += avail;
			return 0;
		}
		s->in_off += (size_t)(lf - p) + 1;
		s->discarding = 0;
		return 1;
	}
	lf = memchr(p, '\n', avail < SMTP_LINE_MAX ? avail : SMTP_LINE_MAX);
	if (lf == NULL) {
		if (avail < SMTP_LINE_MAX)
			return 0;
		snprintf(s->cmd, sizeof s->cmd, "%.40s...", p);
		s->in_off += SMTP_LINE_MAX;
		s->discarding = 1;
		refuse(s, 500, "5.5.2", "Line too long");
		return 1;
	}
	len = (size_t)(lf - p);
	if (len == 0 || p[len - 1] != '\r') {
		/* Never guess where a command ends: that is how smuggling works. */
		snprintf(s->cmd, sizeof s->cmd, "%.*s", (int)(len < 40 ? len : 40), p);
		s->in_off += len + 1;
		refuse(s, 500, "5.5.2", "Bare LF in command");
		session_close(s, "bare LF in command");
		return 0;
	}
	len--;	/* the CR */
	memcpy(s->cmd, p, len);
	s->cmd[len] = '\0';
	s->in_off += len + 2;
	if (memchr(p, '\r', len) != NULL) {
		refuse(s, 500, "5.5.2", "Bare CR in command");
		session_close(s, "bare CR in command");
		return 0;
	}
	if (strlen(s->cmd) != len) {
		refuse(s, 500, "5.5.2", "NUL byte in command");
		return 1;
	}
	if (s->auth_step != AUTH_STEP_NONE) {
		s->auth_response = 1;
		auth_line(s, s->cmd);
		s->auth_response = 0;
	} else
		dispatch(s);
	return 1;
}

/* ---- DATA ---- */

static void
frame_flush(struct smtp_session *s)
{
	if (s->frame.len == 0)
		return;
	if (s->qmgr_txn) {
		s->ops->data(s->arg, s->frame.data, s->frame.len);
		s->sent += s->frame.len;
	}
	buf_reset(&s->frame);
}

static void
data_refused(struct smtp_session *s, int code, const char *enh, const char *text)
{
	log_info("ICID %u MID %u message refused: %d %s %s", s->icid, s->mid, code, enh, text);
	reply(s, code, enh, "%s", text);
	txn_abort(s);
	txn_reset(s);
	s->state = SMTP_CMD;
}

static void
data_finished(struct smtp_session *s)
{
	const char *subj = data_parser_subject(&s->dp);
	char safe[DATA_SUBJECT_MAX * 4 + 8], from[ADDR_PATH_MAX * 16];
	uint64_t total;

	if (s->qmgr_gone) {
		data_refused(s, 451, "4.3.0", "Queue manager unavailable; message not accepted");
		return;
	}
	switch (s->dp.error) {
	case DATA_OK:
		break;
	case DATA_ERR_LINE_TOO_LONG:
		data_refused(s, 554, "5.6.0", "Line too long (limit 998)");
		return;
	case DATA_ERR_NUL:
		data_refused(s, 554, "5.6.0", "NUL byte in message data");
		return;
	default:
		data_refused(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
		return;
	}
	frame_flush(s);
	total = s->queueless ? s->dp.size : s->sent;
	if (subj != NULL)
		log_info("MID %u Subject '%s'", s->mid, log_safe(subj, safe, sizeof safe));
	log_info("MID %u ready %llu bytes from <%s>", s->mid, (unsigned long long)total,
	    log_safe(s->sender, from, sizeof from));
	if (s->queueless) {
		if (s->nrcpt == 0)
			log_info("MID %u dropped: every recipient aliased to /dev/null", s->mid);
		else
			log_info("MID %u discarded by sinkhole listener %s", s->mid,
			    s->listener->name);
		s->ops->counter(s->arg, SMTP_COUNTER_DROPPED_MSGS, 1);
		s->nmsgs++;
		reply(s, 250, "2.0.0", "ok: Message %u accepted", s->mid);
		txn_reset(s);
		s->state = SMTP_CMD;
		return;
	}
	s->qmgr_txn = 0;
	s->ops->end(s->arg, total);
	s->state = SMTP_WAIT_COMMIT;
}

/* Feeds buffered input to the data parser.  1: progress, 0: need input. */
static int
data_step(struct smtp_session *s)
{
	const char *p;
	size_t avail = s->in.len - s->in_off, used;
	enum data_status st;
	int storing = s->qmgr_txn && s->dp.error == DATA_OK;

	if (avail == 0)
		return 0;
	p = s->in.data + s->in_off;
	st = data_parser_feed(&s->dp, p, avail, &used, storing ? &s->frame : NULL);
	s->in_off += used;
	if (s->dp.error != DATA_OK && st != DATA_FATAL && s->qmgr_txn) {
		/* Nothing of it will be queued: let qmgr free it now. */
		txn_abort(s);
	}
	if (storing && s->frame.len + 2 > SMTP_DATA_FRAME)
		frame_flush(s);
	switch (st) {
	case DATA_FATAL:
		log_info("ICID %u MID %u message refused: %s in message data; closing", s->icid,
		    s->mid, data_error_name(s->dp.error));
		txn_abort(s);
		reply(s, 521, "5.5.2", "%s Bare CR or LF in message data; closing", hostname(s));
		session_close(s, "bare CR or LF in message data");
		return 0;
	case DATA_DONE:
		data_finished(s);
		return 1;
	default:
		return used > 0;
	}
}

void
smtp_session_process(struct smtp_session *s)
{
	int progress = 1;

	s->blocked_out = 0;
	while (progress && (s->state == SMTP_CMD || s->state == SMTP_DATA)) {
		if (s->out.len >= SMTP_OUT_HIGH) {
			s->blocked_out = 1;
			break;
		}
		if (s->state == SMTP_DATA)
			progress = data_step(s);
		else
			progress = command_step(s);
	}
	if (s->in_off > 0 && (s->in_off == s->in.len || s->in_off >= SMTP_IN_MAX / 2)) {
		buf_consume(&s->in, s->in_off);
		s->in_off = 0;
	}
	if (s->eof && !s->blocked_out && (s->state == SMTP_CMD || s->state == SMTP_DATA))
		smtp_session_lost(s);
}

void
smtp_session_eof(struct smtp_session *s)
{
	s->eof = 1;
	smtp_session_process(s);
}

void
smtp_session_lost(struct smtp_session *s)
{
	if (s->state == SMTP_CLOSED)
		return;
	if (s->state == SMTP_DATA) {
		log_info("ICID %u lost connection during DATA; MID %u not queued", s->icid,
		    s->mid);
		txn_abort(s);
	} else if (s->state == SMTP_WAIT_COMMIT)
		log_info("ICID %u lost connection while MID %u was being queued", s->icid,
		    s->mid);
	session_close(s, "connection lost");
}

/* ---- events from smtpd.c ---- */

/* A qmgr reply text is used only if it looks like one line of SMTP. */
static int
valid_reply_text(const char *t)
{
	size_t i, n = strlen(t);

	if (n < 4 || n > SMTP_LINE_MAX - 2 || (t[0] != '4' && t[0] != '5') ||
	    t[1] < '0' || t[1] > '9' || t[2] < '0' || t[2] > '9' || t[3] != ' ')
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
			return 0;
	return 1;
}

/* Drops "x.y.z " after the code when the client did not say EHLO. */
static void
reply_text_from_qmgr(struct smtp_session *s, const char *t)
{
	const char *p = t + 4;

	if (!s->enhanced && (p[0] == '4' || p[0] == '5') && p[1] == '.') {
		const char *sp = strchr(p, ' ');

		if (sp != NULL && strspn(p, "0123456789.") == (size_t)(sp - p))
			p = sp + 1;
		buf_printf(&s->out, "%.3s %s\r\n", t, p);
		return;
	}
	buf_printf(&s->out, "%s\r\n", t);
}

static void
after_commit_answer(struct smtp_session *s)
{
	txn_reset(s);
	s->state = SMTP_CMD;
	if (s->shutdown_pending) {
		smtp_session_shutdown(s);
		return;
	}
	smtp_session_process(s);
}

void
smtp_session_mid_ready(struct smtp_session *s)
{
	if (s->state != SMTP_WAIT_MID)
		return;
	s->state = SMTP_CMD;
	cmd_data(s, "");
	smtp_session_process(s);
}

void
smtp_session_committed(struct smtp_session *s, uint32_t status, const char *text)
{
	char safe[SMTP_LINE_MAX * 4];

	if (s->state != SMTP_WAIT_COMMIT)
		return;
	if (status == COMMIT_OK) {
		s->nmsgs++;
		reply(s, 250, "2.0.0", "ok: Message %u accepted", s->mid);
	}
	else {
		if (text == NULL || !valid_reply_text(text))
			text = status == COMMIT_PERMFAIL ? "554 5.3.0 Message not accepted" :
			    "451 4.3.0 Local error in processing";
		reply_text_from_qmgr(s, text);
		log_info("ICID %u MID %u not queued: %s", s->icid, s->mid,
		    log_safe(text, safe, sizeof safe));
	}
	after_commit_answer(s);
}

void
smtp_session_qmgr_lost(struct smtp_session *s)
{
	switch (s->state) {
	case SMTP_DATA:
		if (s->queueless)
			break;
		/* Keep reading to the end marker; then answer 451. */
		s->qmgr_txn = 0;
		s->qmgr_gone = 1;
		buf_free(&s->frame);
		break;
	case SMTP_WAIT_MID:
		s->state = SMTP_CMD;
		refuse(s, 451, "4.3.0", "Queue manager unavailable, try again later");
		smtp_session_process(s);
		break;
	case SMTP_WAIT_COMMIT:
		log_info("ICID %u MID %u not queued: queue manager went away", s->icid, s->mid);
		reply(s, 451, "4.3.0", "Queue manager unavailable; message not accepted");
		after_commit_answer(s);
		break;
	default:
		break;
	}
}

void
smtp_session_timeout(struct smtp_session *s, enum smtp_timeout which)
{
	const char *why = which == SMTP_TIMEOUT_IDLE ? "idle timeout" : "session timeout";

	if (s->state == SMTP_CLOSED)
		return;
	if (s->state == SMTP_DATA)
		log_info("ICID %u %s during DATA; MID %u not queued", s->icid, why, s->mid);
	else if (s->state == SMTP_WAIT_COMMIT)
		log_info("ICID %u %s waiting for the queue manager (MID %u)", s->icid, why,
		    s->mid);
	else
		log_info("ICID %u %s", s->icid, why);
	reply_enh(s, 421, "4.4.2", "%s Error: timeout exceeded", hostname(s));
	session_close(s, why);
}

void
smtp_session_shutdown(struct smtp_session *s)
{
	if (s->state == SMTP_CLOSED)
		return;
	if (s->state == SMTP_WAIT_COMMIT) {
		s->shutdown_pending = 1;
		return;
	}
	if (s->state == SMTP_DATA)
		log_info("ICID %u shutting down during DATA; MID %u not queued", s->icid, s->mid);
	reply_enh(s, 421, "4.3.2", "%s Service shutting down", hostname(s));
	session_close(s, "shutting down");
}
