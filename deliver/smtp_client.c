/*
 * smtp_client - SMTP client protocol engine (see smtp_client.h).
 *
 * Every command sent pushes what its reply means onto a queue of expected
 * replies; every complete reply pops the head.  Without PIPELINING the
 * queue never holds more than one entry; with it (RFC 2920) MAIL, every
 * RCPT and DATA go out in one write and their replies are matched in
 * order.  Per-recipient outcome:
 *   MAIL rejected        every active recipient gets MAIL's reply
 *   RCPT 4xx/5xx         that recipient gets 4/5 and the reply
 *   DATA or "." reply    every recipient accepted at RCPT gets it
 *   421 / lost / timeout every still-pending recipient gets 4
 *
 * Not for: sockets, timers, DNS, logging of mail-flow lines.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proto.h"
#include "smtp_client.h"
#include "smtp_reply.h"
#include "xalloc.h"

enum sc_state {
	SC_GREETING,	/* waiting for the banner */
	SC_HELLO,	/* EHLO or HELO sent */
	SC_READY,	/* greeted; no transaction running */
	SC_TXN,		/* transaction commands in flight */
	SC_BODY,	/* 354 received: the body goes out */
	SC_TLS_DECIDE,	/* greeted: the caller decides about STARTTLS */
	SC_STARTTLS,	/* STARTTLS sent */
	SC_HANDSHAKE,	/* 220 to STARTTLS: the caller does the handshake */
	SC_QUIT,	/* QUIT sent */
	SC_DEAD,	/* nothing more can be done on this connection */
};

enum sc_cmd {
	CMD_BANNER, CMD_EHLO, CMD_HELO, CMD_RSET_REUSE, CMD_MAIL, CMD_RCPT, CMD_DATA,
	CMD_DOT, CMD_DOT_DISCARD, CMD_RSET_END, CMD_QUIT, CMD_STARTTLS,
};

static const char *const cmd_names[] = {
	"banner", "EHLO", "HELO", "RSET", "MAIL FROM", "RCPT TO", "DATA",
	"end of data", "end of data", "RSET", "QUIT", "STARTTLS",
};

struct sc_expect {
	enum sc_cmd	cmd;
	size_t		rcpt;
};

struct smtp_client {
	char			 helo[256];
	char			 tag[48];
	enum sc_state		 state;
	struct smtp_reply	 reply;
	unsigned		 ext;
	uint64_t		 size_max;
	struct buf		 out;

	struct sc_expect	*exp;
	size_t			 exp_cap, exp_head, exp_tail;

	struct smtpc_txn	*txn;
	int			 txn_started;
	int			 mail_state;	/* 0 unknown, 1 accepted, -1 refused */
	size_t			 naccepted;
	size_t			 next_rcpt;	/* without pipelining: next to send */
	int			 data_sent;
	int			 dot_sent;
	int			 bol;		/* body: at the start of a line */
	int			 crlf;		/* body: ends in CRLF so far */
	char			 prev;
	int			 try_next;
	int			 reusable;
	int			 quit_sent;
	unsigned		 ntxn;
	char			 final[SMTPC_TEXT_MAX];
	int			 tls_hook;	/* stop after the greeting for TLS */
	int			 tls_active;
	int			 ehlo_rejected;
	char			 tls_reply[SMTPC_TEXT_MAX];	/* to STARTTLS */
};

struct smtp_client *
smtpc_new(const char *helo, const char *logtag)
{
	struct smtp_client *c = xcalloc(1, sizeof *c);

	snprintf(c->helo, sizeof c->helo, "%s", helo);
	snprintf(c->tag, sizeof c->tag, "%s", logtag ? logtag : "");
	buf_init(&c->out, 0);
	smtp_reply_init(&c->reply);
	c->state = SC_GREETING;
	c->reusable = 1;
	c->exp_cap = 8;
	c->exp = xcalloc(c->exp_cap, sizeof *c->exp);
	/* The banner is the first reply, as if we had asked for it. */
	c->exp[c->exp_tail++] = (struct sc_expect){ CMD_BANNER, 0 };
	return c;
}

void
smtpc_free(struct smtp_client *c)
{
	if (c == NULL)
		return;
	buf_free(&c->out);
	free(c->exp);
	free(c);
}

struct buf *
smtpc_output(struct smtp_client *c)
{
	return &c->out;
}

int
smtpc_try_next(const struct smtp_client *c)
{
	return c->try_next;
}

int
smtpc_reusable(const struct smtp_client *c)
{
	return c->reusable && c->state == SC_READY;
}

int
smtpc_idle(const struct smtp_client *c)
{
	return c->state == SC_READY && c->txn == NULL;
}

int
smtpc_waiting(const struct smtp_client *c)
{
	return c->exp_head < c->exp_tail;
}

const char *
smtpc_phase(const struct smtp_client *c)
{
	if (c->state == SC_BODY)
		return "message body";
	if (c->exp_head < c->exp_tail)
		return cmd_names[c->exp[c->exp_head].cmd];
	return "idle";
}

int
smtpc_in_data(const struct smtp_client *c)
{
	return c->data_sent && !c->dot_sent && c->txn != NULL;
}

int
smtpc_wants_body(const struct smtp_client *c)
{
	return c->state == SC_BODY;
}

int
smtpc_dot_sent(const struct smtp_client *c)
{
	return c->dot_sent;
}

unsigned
smtpc_extensions(const struct smtp_client *c)
{
	return c->ext;
}

const char *
smtpc_final_reply(const struct smtp_client *c)
{
	return c->final;
}

unsigned
smtpc_transactions(const struct smtp_client *c)
{
	return c->ntxn;
}

static void
expect(struct smtp_client *c, enum sc_cmd cmd, size_t rcpt)
{
	if (c->exp_head == c->exp_tail)
		c->exp_head = c->exp_tail = 0;
	if (c->exp_tail == c->exp_cap) {
		if (c->exp_head > 0) {
			memmove(c->exp, c->exp + c->exp_head,
			    (c->exp_tail - c->exp_head) * sizeof *c->exp);
			c->exp_tail -= c->exp_head;
			c->exp_head = 0;
		} else {
			c->exp_cap *= 2;
			c->exp = xrealloc(c->exp, c->exp_cap * sizeof *c->exp);
		}
	}
	c->exp[c->exp_tail].cmd = cmd;
	c->exp[c->exp_tail].rcpt = rcpt;
	c->exp_tail++;
}

static void
send_cmd(struct smtp_client *c, enum sc_cmd cmd, size_t rcpt, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
send_cmd(struct smtp_client *c, enum sc_cmd cmd, size_t rcpt, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
	buf_puts(&c->out, "\r\n");
	expect(c, cmd, rcpt);
}

static void
set_rcpt(struct smtpc_rcpt *r, int status, int reason, const char *text)
{
	r->status = status;
	r->reason = reason;
	snprintf(r->text, sizeof r->text, "%s", text);
}

static int
code_status(int code)
{
	return code >= 500 ? 5 : code >= 200 && code < 300 ? 2 : 4;
}

/* Every active recipient without a final status gets this one. */
static void
settle_pending(struct smtp_client *c, int status, int reason, const char *text)
{
	size_t i;

	if (c->txn == NULL)
		return;
	for (i = 0; i < c->txn->nrcpts; i++) {
		struct smtpc_rcpt *r = &c->txn->rcpts[i];

		if (r->active && r->status == 0)
			set_rcpt(r, status, reason, text);
	}
}

static enum smtpc_event
txn_done(struct smtp_client *c)
{
	c->txn = NULL;
	c->txn_started = 0;
	c->ntxn++;
	if (c->state == SC_TXN || c->state == SC_BODY)
		c->state = SC_READY;
	return SMTPC_EV_DONE;
}

int
smtpc_quit(struct smtp_client *c)
{
	if (c->quit_sent)
		return 1;
	if (c->state == SC_DEAD || c->state == SC_BODY || smtpc_in_data(c))
		return 0;
	c->quit_sent = 1;
	c->reusable = 0;
	send_cmd(c, CMD_QUIT, 0, "QUIT");
	c->state = SC_QUIT;
	return 1;
}

int
smtpc_abandon(struct smtp_client *c)
{
	int in_data = smtpc_in_data(c) || c->state == SC_BODY;

	c->txn = NULL;
	c->txn_started = 0;
	c->reusable = 0;
	if (in_data || c->state == SC_DEAD || c->state == SC_GREETING || c->state == SC_HELLO ||
	    c->state == SC_STARTTLS || c->state == SC_HANDSHAKE) {
		c->state = SC_DEAD;
		return 0;
	}
	if (c->quit_sent)
		return 1;
	/* Replies still due to pipelined commands may come first: whatever
	 * comes now is taken as the end. */
	c->exp_head = c->exp_tail = 0;
	c->state = SC_READY;
	smtpc_quit(c);
	return 1;
}

/* The session cannot go on: status/text for everything pending, then QUIT
 * if the server still listens. */
static enum smtpc_event
session_fail(struct smtp_client *c, int status, int reason, const char *text, int try_next,
    int send_quit)
{
	c->try_next = try_next;
	c->reusable = 0;
	if (send_quit) {
		c->exp_head = c->exp_tail = 0;
		c->state = SC_READY;	/* so that QUIT may go out */
		smtpc_quit(c);
	} else
		c->state = SC_DEAD;
	if (c->txn == NULL)
		return send_quit ? SMTPC_EV_NONE : SMTPC_EV_CLOSE;
	settle_pending(c, status, reason, text);
	c->txn = NULL;
	c->txn_started = 0;
	c->ntxn++;
	return SMTPC_EV_DONE;
}

static size_t
active_count(const struct smtpc_txn *t)
{
	size_t i, n = 0;

	for (i = 0; i < t->nrcpts; i++)
		if (t->rcpts[i].active)
			n++;
	return n;
}

static size_t
next_active(const struct smtpc_txn *t, size_t from)
{
	while (from < t->nrcpts && !t->rcpts[from].active)
		from++;
	return from;
}

static void
send_rcpt(struct smtp_client *c, size_t i)
{
	send_cmd(c, CMD_RCPT, i, "RCPT TO:<%s>", c->txn->rcpts[i].addr);
}

/* MAIL FROM, and with PIPELINING every RCPT and DATA in the same write. */
static enum smtpc_event
txn_send_mail(struct smtp_client *c)
{
	struct smtpc_txn *t = c->txn;
	char text[SMTPC_TEXT_MAX];
	size_t i;

	c->state = SC_TXN;
	c->mail_state = 0;
	c->naccepted = 0;
	c->data_sent = c->dot_sent = 0;
	c->try_next = 0;
	c->final[0] = '\0';
	for (i = 0; i < t->nrcpts; i++) {
		if (!t->rcpts[i].active)
			continue;	/* settled earlier: keep its result */
		t->rcpts[i].status = 0;
		t->rcpts[i].accepted = 0;
		t->rcpts[i].text[0] = '\0';
	}
	if (active_count(t) == 0)
		return txn_done(c);
	if ((t->flags & MSGF_SMTPUTF8) && !(c->ext & SMTPC_EXT_SMTPUTF8)) {
		log_info("%s server does not support SMTPUTF8; the message needs it", c->tag);
		settle_pending(c, 5, REASON_OTHER, "5.6.7 server does not support SMTPUTF8");
		return txn_done(c);
	}
	if ((c->ext & SMTPC_EXT_SIZE) && c->size_max > 0 && t->size > c->size_max) {
		snprintf(text, sizeof text, "5.3.4 message size %" PRIu64 " exceeds the "
		    "server's limit of %" PRIu64, t->size, c->size_max);
		log_info("%s %s", c->tag, text);
		settle_pending(c, 5, REASON_OTHER, text);
		return txn_done(c);
	}
	buf_printf(&c->out, "MAIL FROM:<%s>", t->sender ? t->sender : "");
	if (c->ext & SMTPC_EXT_SIZE)
		buf_printf(&c->out, " SIZE=%" PRIu64, t->size);
	if ((t->flags & MSGF_8BITMIME) && (c->ext & SMTPC_EXT_8BITMIME))
		buf_puts(&c->out, " BODY=8BITMIME");
	if (t->flags & MSGF_SMTPUTF8)
		buf_puts(&c->out, " SMTPUTF8");
	send_cmd(c, CMD_MAIL, 0, "%s", "");
	if (c->ext & SMTPC_EXT_PIPELINING) {
		for (i = next_active(t, 0); i < t->nrcpts; i = next_active(t, i + 1))
			send_rcpt(c, i);
		send_cmd(c, CMD_DATA, 0, "DATA");
		c->data_sent = 1;
	}
	return SMTPC_EV_NONE;
}

static enum smtpc_event
txn_start(struct smtp_client *c)
{
	c->txn_started = 1;
	if (c->ntxn > 0) {
		/* A reused connection: RSET clears what the last one left and
		 * tells us the server is still there. */
		c->state = SC_TXN;
		c->try_next = 0;
		send_cmd(c, CMD_RSET_REUSE, 0, "RSET");
		return SMTPC_EV_NONE;
	}
	return txn_send_mail(c);
}

int
smtpc_begin(struct smtp_client *c, struct smtpc_txn *txn)
{
	if (c->txn != NULL || c->state == SC_DEAD || c->state == SC_QUIT ||
	    c->quit_sent || !c->reusable)
		return -1;
	c->txn = txn;
	c->txn_started = 0;
	c->try_next = 0;
	if (c->state == SC_READY)
		return txn_start(c);
	return SMTPC_EV_NONE;
}

static void
parse_ehlo(struct smtp_client *c)
{
	const char *param;
	size_t plen;

	c->ext = 0;
	c->size_max = 0;
	if (smtp_reply_has_ext(&c->reply, "PIPELINING", NULL, NULL))
		c->ext |= SMTPC_EXT_PIPELINING;
	if (smtp_reply_has_ext(&c->reply, "8BITMIME", NULL, NULL))
		c->ext |= SMTPC_EXT_8BITMIME;
	if (smtp_reply_has_ext(&c->reply, "SMTPUTF8", NULL, NULL))
		c->ext |= SMTPC_EXT_SMTPUTF8;
	if (smtp_reply_has_ext(&c->reply, "STARTTLS", NULL, NULL))
		c->ext |= SMTPC_EXT_STARTTLS;
	if (smtp_reply_has_ext(&c->reply, "ENHANCEDSTATUSCODES", NULL, NULL))
		c->ext |= SMTPC_EXT_ENHANCED;
	if (smtp_reply_has_ext(&c->reply, "SIZE", &param, &plen)) {
		uint64_t v = 0;
		size_t i;

		c->ext |= SMTPC_EXT_SIZE;
		for (i = 0; param != NULL && i < plen && param[i] >= '0' && param[i] <= '9' &&
		    v < UINT64_MAX / 10 - 10; i++)
			v = v * 10 + (uint64_t)(param[i] - '0');
		c->size_max = v;
	}
}

/* Greeted: run the transaction that was waiting, if any. */
static enum smtpc_event
session_ready(struct smtp_client *c)
{
	if (c->tls_hook && !c->tls_active && c->state == SC_HELLO) {
		c->state = SC_TLS_DECIDE;
		return SMTPC_EV_TLS;
	}
	c->state = SC_READY;
	if (c->txn != NULL && !c->txn_started)
		return txn_start(c);
	return SMTPC_EV_NONE;
}

/* Without pipelining, after a RCPT reply: the next RCPT, or DATA, or RSET
 * when nobody was accepted. */
static void
txn_advance(struct smtp_client *c)
{
	size_t i = next_active(c->txn, c->next_rcpt);

	if (i < c->txn->nrcpts) {
		c->next_rcpt = i + 1;
		send_rcpt(c, i);
	} else if (c->naccepted > 0) {
		send_cmd(c, CMD_DATA, 0, "DATA");
		c->data_sent = 1;
	} else
		send_cmd(c, CMD_RSET_END, 0, "RSET");
}

static enum smtpc_event
on_reply(struct smtp_client *c)
{
	struct smtp_reply *r = &c->reply;
	char text[SMTPC_TEXT_MAX];
	struct sc_expect e;
	int st = code_status(r->code);
	size_t i;

	smtp_reply_oneline(r, text, sizeof text);
	if (c->exp_head == c->exp_tail) {
		/* Nothing was asked.  A 421 on an idle connection is the
		 * server going away; anything else breaks the protocol. */
		if (c->state == SC_BODY && c->txn != NULL) {
			settle_pending(c, st == 5 ? 5 : 4, REASON_SMTP, text);
			c->state = SC_DEAD;
			c->reusable = 0;
			return txn_done(c);
		}
		if (c->txn != NULL)
			return session_fail(c, 4, REASON_SMTP, text, 1, 0);
		c->state = SC_DEAD;
		c->reusable = 0;
		return SMTPC_EV_CLOSE;
	}
	e = c->exp[c->exp_head++];
	if (c->quit_sent && e.cmd != CMD_QUIT) {
		settle_pending(c, 4, REASON_CONN, "4.4.2 QUIT sent before the end");
		return SMTPC_EV_NONE;
	}

	/* 421: the server is closing the channel, whatever was asked. */
	if (r->code == 421)
		c->reusable = 0;
	if (r->code == 421 && e.cmd != CMD_QUIT && e.cmd != CMD_DOT_DISCARD) {
		if (e.cmd == CMD_RSET_REUSE) {
			c->txn = NULL;
			c->txn_started = 0;
			c->state = SC_DEAD;
			c->reusable = 0;
			return SMTPC_EV_RETRY;
		}
		return session_fail(c, 4, REASON_SMTP, text, !c->dot_sent, 0);
	}

	switch (e.cmd) {
	case CMD_BANNER:
		if (st != 2)
			return session_fail(c, st, REASON_SMTP, text, st == 4, 1);
		c->state = SC_HELLO;
		send_cmd(c, CMD_EHLO, 0, "EHLO %s", c->helo);
		return SMTPC_EV_NONE;
	case CMD_EHLO:
		if (st == 2) {
			parse_ehlo(c);
			return session_ready(c);
		}
		if (st == 5) {
			char safe[SMTPC_TEXT_MAX * 2];

			log_info("%s EHLO refused (%s); trying HELO", c->tag,
			    log_safe(text, safe, sizeof safe));
			c->ehlo_rejected = 1;
			send_cmd(c, CMD_HELO, 0, "HELO %s", c->helo);
			return SMTPC_EV_NONE;
		}
		return session_fail(c, 4, REASON_SMTP, text, 1, 1);
	case CMD_HELO:
		if (st == 2) {
			c->ext = 0;
			return session_ready(c);
		}
		return session_fail(c, st, REASON_SMTP, text, st == 4, 1);
	case CMD_STARTTLS:
		snprintf(c->tls_reply, sizeof c->tls_reply, "%s", text);
		if (r->code == 220) {
			c->state = SC_HANDSHAKE;
			return SMTPC_EV_TLS_READY;
		}
		c->state = SC_TLS_DECIDE;
		return SMTPC_EV_TLS_REFUSED;
	case CMD_RSET_REUSE:
		if (st != 2) {
			c->reusable = 0;
			c->txn = NULL;
			c->txn_started = 0;
			c->state = SC_READY;
			smtpc_quit(c);
			return SMTPC_EV_RETRY;
		}
		return txn_send_mail(c);
	case CMD_MAIL:
		if (st != 2) {
			c->mail_state = -1;
			settle_pending(c, st, REASON_SMTP, text);
			if (!smtpc_waiting(c))
				return txn_done(c);
			return SMTPC_EV_NONE;	/* pipelined replies still to come */
		}
		c->mail_state = 1;
		if (!(c->ext & SMTPC_EXT_PIPELINING)) {
			c->next_rcpt = 0;
			txn_advance(c);
		}
		return SMTPC_EV_NONE;
	case CMD_RCPT:
		if (c->mail_state == 1) {
			struct smtpc_rcpt *rc = &c->txn->rcpts[e.rcpt];

			if (st == 2) {
				rc->accepted = 1;
				c->naccepted++;
			} else
				set_rcpt(rc, st, REASON_SMTP, text);
		}
		if (!(c->ext & SMTPC_EXT_PIPELINING) && c->mail_state == 1)
			txn_advance(c);
		else if (!smtpc_waiting(c))
			return txn_done(c);
		return SMTPC_EV_NONE;
	case CMD_DATA:
		if (c->mail_state != 1 || c->naccepted == 0) {
			if (r->code == 354) {
				/* RFC 2920: a server that takes DATA with nobody
				 * to deliver to gets an empty message ended at once,
				 * which it must refuse. */
				buf_puts(&c->out, ".\r\n");
				c->dot_sent = 1;
				expect(c, CMD_DOT_DISCARD, 0);
				return SMTPC_EV_NONE;
			}
			return txn_done(c);
		}
		if (r->code == 354) {
			c->state = SC_BODY;
			c->bol = c->crlf = 1;
			c->prev = '\n';
			return SMTPC_EV_BODY;
		}
		for (i = 0; i < c->txn->nrcpts; i++)
			if (c->txn->rcpts[i].accepted && c->txn->rcpts[i].status == 0)
				set_rcpt(&c->txn->rcpts[i], st == 2 ? 4 : st, REASON_SMTP, text);
		if (st == 2)
			c->reusable = 0;
		return txn_done(c);
	case CMD_DOT:
		snprintf(c->final, sizeof c->final, "%s", text);
		for (i = 0; i < c->txn->nrcpts; i++)
			if (c->txn->rcpts[i].accepted && c->txn->rcpts[i].status == 0)
				set_rcpt(&c->txn->rcpts[i], st, REASON_SMTP, text);
		return txn_done(c);
	case CMD_DOT_DISCARD:
		return txn_done(c);
	case CMD_RSET_END:
		if (st != 2)
			c->reusable = 0;
		return txn_done(c);
	case CMD_QUIT:
		c->state = SC_DEAD;
		return SMTPC_EV_CLOSE;
	}
	return SMTPC_EV_NONE;
}

enum smtpc_event
smtpc_feed_line(struct smtp_client *c, const char *line, size_t len)
{
	enum smtp_reply_status rs;
	enum smtpc_event ev;

	if (c->state == SC_DEAD)
		return SMTPC_EV_CLOSE;
	rs = smtp_reply_feed(&c->reply, line, len);
	if (rs == SMTP_REPLY_MORE)
		return SMTPC_EV_NONE;
	if (rs == SMTP_REPLY_ERROR) {
		smtp_reply_init(&c->reply);
		return smtpc_fail(c, "4.5.0 malformed reply from the server");
	}
	ev = on_reply(c);
	smtp_reply_init(&c->reply);
	return ev;
}

void
smtpc_body(struct smtp_client *c, const void *data, size_t len)
{
	const char *p = data, *end = p + len, *nl, *seg;

	if (c->state != SC_BODY)
		return;
	while (p < end) {
		if (c->bol && *p == '.')
			buf_append(&c->out, ".", 1);
		nl = memchr(p, '\n', (size_t)(end - p));
		seg = nl != NULL ? nl + 1 : end;
		buf_append(&c->out, p, (size_t)(seg - p));
		c->crlf = nl != NULL && (nl > p ? nl[-1] == '\r' : c->prev == '\r');
		c->prev = seg[-1];
		c->bol = nl != NULL;
		p = seg;
	}
}

void
smtpc_body_end(struct smtp_client *c)
{
	if (c->state != SC_BODY)
		return;
	if (!c->bol || !c->crlf)
		buf_puts(&c->out, "\r\n");
	buf_puts(&c->out, ".\r\n");
	c->dot_sent = 1;
	c->state = SC_TXN;
	expect(c, CMD_DOT, 0);
}

enum smtpc_event
smtpc_fail(struct smtp_client *c, const char *why)
{
	char text[SMTPC_TEXT_MAX];
	int reuse_check;

	if (c->state == SC_DEAD && c->txn == NULL)
		return SMTPC_EV_CLOSE;
	if (c->state == SC_BODY)
		snprintf(text, sizeof text, "%s (while sending the message body)", why);
	else
		snprintf(text, sizeof text, "%s (waiting for %s)", why, smtpc_phase(c));
	reuse_check = c->txn != NULL && c->exp_head < c->exp_tail &&
	    c->exp[c->exp_head].cmd == CMD_RSET_REUSE;
	c->exp_head = c->exp_tail = 0;
	c->reusable = 0;
	if (reuse_check) {
		c->txn = NULL;
		c->txn_started = 0;
		c->state = SC_DEAD;
		return SMTPC_EV_RETRY;
	}
	return session_fail(c, 4, REASON_CONN, text, !c->dot_sent, 0);
}

/* ---- STARTTLS (the decisions are the caller's: tls_policy.h) ---- */

void
smtpc_tls_hook(struct smtp_client *c, int on)
{
	c->tls_hook = on;
}

int
smtpc_ehlo_rejected(const struct smtp_client *c)
{
	return c->ehlo_rejected;
}

int
smtpc_tls_active(const struct smtp_client *c)
{
	return c->tls_active;
}

const char *
smtpc_tls_reply(const struct smtp_client *c)
{
	return c->tls_reply;
}

int
smtpc_starttls(struct smtp_client *c)
{
	if (c->state != SC_TLS_DECIDE || !(c->ext & SMTPC_EXT_STARTTLS))
		return -1;
	c->state = SC_STARTTLS;
	send_cmd(c, CMD_STARTTLS, 0, "STARTTLS");
	return 0;
}

enum smtpc_event
smtpc_tls_skip(struct smtp_client *c)
{
	if (c->state != SC_TLS_DECIDE)
		return SMTPC_EV_NONE;
	c->state = SC_HELLO;
	c->tls_hook = 0;
	return session_ready(c);
}

void
smtpc_tls_started(struct smtp_client *c)
{
	if (c->state != SC_HANDSHAKE)
		return;
	/* RFC 3207 4.2: what the server said before TLS is forgotten. */
	c->tls_active = 1;
	c->ext = 0;
	c->size_max = 0;
	c->state = SC_HELLO;
	send_cmd(c, CMD_EHLO, 0, "EHLO %s", c->helo);
}

enum smtpc_event
smtpc_defer(struct smtp_client *c, const char *text, int send_quit)
{
	/* After a failed handshake the caller says send_quit 0 (nothing
	 * can be said); after a verification failure TLS is up and QUIT
	 * goes out over it. */
	return session_fail(c, 4, REASON_CONN, text, 1, send_quit);
}
