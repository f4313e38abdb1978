/*
 * smtp_client - libFuzzer target for deliver/smtp_client.c, the SMTP
 * client engine, driven as deliver/session.c drives it, by a hostile
 * server.
 *
 * Input:
 *   byte 0   bits 0-1 recipients - 1, bit 2 null sender, bit 3 SMTPUTF8,
 *            bit 4 8BITMIME, bit 5 TLS hook on, bit 6 smtpc_begin before
 *            the banner (else once the engine is idle), bit 7 the last
 *            recipient is inactive (settled earlier)
 *   byte 1   body: bits 0-5 length / 32, bits 6-7 style (plain CRLF
 *            lines, lines starting with '.', bare LF, all mixed)
 *   byte 2   SIZE= declared: 0 the body length, else 1 << (b & 63)
 *   byte 3-4 two interruptions: bits 0-5 the line before which it
 *            happens, bits 6-7 smtpc_fail, smtpc_abandon, smtpc_quit or
 *            nothing
 *   byte 5   n, then n bytes of caller decisions, one taken at each
 *            event (0 when they run out: STARTTLS if advertised, TLS
 *            started, the whole body at once, the next transaction)
 *   rest     server lines, split on '\n' (one '\r' before it dropped, as
 *            deliver does), any bytes, fed one by one; when they run out
 *            the connection is lost (smtpc_fail if a transaction runs)
 *
 * Caller decisions: at SMTPC_EV_BODY body chunks of 1-127 bytes or the
 * rest, maybe a pause until the next server line (the write did not
 * complete yet), then smtpc_body_end; at SMTPC_EV_TLS smtpc_starttls,
 * smtpc_tls_skip, smtpc_defer (QUIT or not) or wait for the next line (a
 * DANE lookup running); at TLS_READY smtpc_tls_started or smtpc_defer; at
 * TLS_REFUSED skip or defer; at DONE the next transaction on the reused
 * connection (a fresh txn), smtpc_quit or nothing.
 *
 * Checks (abort() on a violation, with its name on stderr):
 *   DONE      after DONE every active recipient has status 2, 4 or 5, a
 *             reason, and a text starting with its code; status 2 only
 *             when RCPT got 2xx, "." was sent and the final reply is 2xx
 *   FROZEN    a transaction's recipients never change after its DONE,
 *             RETRY or smtpc_abandon; inactive ones are never touched
 *   EVENT     DONE/RETRY/BODY only with a transaction running, CLOSE only
 *             without one (unless the caller sent QUIT in the middle),
 *             TLS events only with the hook
 *   LINE      no output line over 1000 octets, every line CRLF-ended,
 *             every command one the engine may send
 *   QUIT      nothing is written after QUIT
 *   SILENT    nothing is written after smtpc_defer(.., 0) or smtpc_fail
 *   TLS       with the hook, no MAIL FROM unless the caller chose clear
 *             text or started TLS; nothing between STARTTLS and its reply
 *             nor between TLS_READY and smtpc_tls_started
 *   BODY      what smtpc_body writes is the chunk dot-stuffed, the data
 *             never holds CRLF "." CRLF before the end and ends with it
 *   BOUND     smtpc_output stays under 1 MiB
 * Set SMTPC_FUZZ_ALLOW to a list of these names to go on past known
 * violations (to look for the next one).
 *
 * Not for: lib/smtp_reply.c's own contract (smtp_reply.c), sockets, TLS.
 * make fuzz compiles only lib/ sources with this file, so the engine is
 * included here directly.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "../../deliver/smtp_client.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum fz_check {
	FZ_DONE = 0x001, FZ_FROZEN = 0x002, FZ_EVENT = 0x004, FZ_LINE = 0x008,
	FZ_QUIT = 0x010, FZ_SILENT = 0x020, FZ_TLS = 0x040, FZ_BODY = 0x080,
	FZ_BOUND = 0x100,
};

static const char *const fz_check_names[] = {
	"DONE", "FROZEN", "EVENT", "LINE", "QUIT", "SILENT", "TLS", "BODY", "BOUND",
};

static unsigned fz_allowed;

#define CHECK(id, cond) do { if (!(cond)) fz_violation((id), #cond, __LINE__); } while (0)

static void
fz_violation(unsigned id, const char *what, int line)
{
	size_t i;

	if (fz_allowed & id)
		return;
	for (i = 0; i < sizeof fz_check_names / sizeof fz_check_names[0]; i++)
		if (id == 1u << i)
			fprintf(stderr, "smtp_client fuzz: %s violated: %s (line %d)\n",
			    fz_check_names[i], what, line);
	abort();
}

#define FZ_NTXN		4
#define FZ_NRCPT	4
#define FZ_BODY_MAX	(63 * 32 + 256)
#define FZ_OUT_MAX	(1024 * 1024)

enum fz_txn_state { TX_UNUSED, TX_RUNNING, TX_DONE, TX_RETRIED, TX_ABANDONED, TX_QUIT };

struct fz_txn {
	struct smtpc_txn	 t;
	struct smtpc_rcpt	 r[FZ_NRCPT];
	struct smtpc_rcpt	 snap[FZ_NRCPT];	/* as last seen by the caller */
	enum fz_txn_state	 state;
	int			 dot;		/* the whole body and "." went out */
};

struct fz {
	struct smtp_client	*c;
	const uint8_t		*dec;
	size_t			 ndec, idec;
	uint8_t			 setup;
	uint64_t		 declared;

	struct fz_txn		 tx[FZ_NTXN];
	int			 ntx;
	int			 cur;		/* running transaction, or -1 */

	char			 body[FZ_BODY_MAX];
	size_t			 body_len, body_off;
	int			 in_body;	/* EV_BODY came, body_end not called */
	int			 paused;	/* body goes on after the next line */
	int			 bol;		/* at the start of a line */
	int			 crlf;		/* the body so far ends in CRLF */
	char			 prev;		/* its last byte */
	char			 tail[5];	/* last data bytes sent, for CRLF.CRLF */

	int			 hook;
	int			 mail_ok;	/* MAIL FROM may go out */
	int			 tls_wait;	/* STARTTLS or TLS_READY: silence */
	int			 tls_later;	/* EV_TLS decision put off a line */
	int			 quit_out;
	int			 silent;
	size_t			 linelen;	/* output bytes since the last '\n' */
	int			 depth;
};

static const char *const fz_addrs[] = {
	"a@x.example", "b@x.example", "c@x.example", "d@x.example",
};

static uint8_t
decide(struct fz *f)
{
	return f->idec < f->ndec ? f->dec[f->idec++] : 0;
}

/* Frozen transactions and inactive recipients are as the caller left them. */
static void
check_frozen(struct fz *f)
{
	int i;
	size_t k;

	for (i = 0; i < f->ntx; i++) {
		struct fz_txn *x = &f->tx[i];

		for (k = 0; k < x->t.nrcpts; k++) {
			if (x->state == TX_RUNNING && x->r[k].active)
				continue;
			if (x->state == TX_QUIT)
				continue;
			CHECK(FZ_FROZEN, memcmp(&x->r[k], &x->snap[k], sizeof x->r[k]) == 0);
		}
	}
}

static int
has_prefix(const char *p, size_t n, const char *pfx)
{
	size_t pn = strlen(pfx);

	return n >= pn && memcmp(p, pfx, pn) == 0;
}

/* Output outside DATA: whole CRLF lines, each a command we know. */
static void
check_commands(struct fz *f, const char *p, size_t n)
{
	const char *end = p + n, *nl;
	size_t ln;

	CHECK(FZ_QUIT, !f->quit_out);
	CHECK(FZ_SILENT, !f->silent);
	CHECK(FZ_TLS, !f->tls_wait);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		CHECK(FZ_LINE, nl != NULL);
		if (nl == NULL)
			return;
		ln = (size_t)(nl - p) + 1;
		CHECK(FZ_LINE, ln >= 2 && p[ln - 2] == '\r');
		CHECK(FZ_LINE, memchr(p, '\r', ln - 2) == NULL);
		CHECK(FZ_LINE, memchr(p, '\0', ln) == NULL);
		CHECK(FZ_QUIT, !f->quit_out);
		if (has_prefix(p, ln, "MAIL FROM:<"))
			CHECK(FZ_TLS, !f->hook || f->mail_ok);
		else if (has_prefix(p, ln, "QUIT\r\n"))
			f->quit_out = 1;
		else if (has_prefix(p, ln, "STARTTLS\r\n")) {
			CHECK(FZ_TLS, f->hook && !f->mail_ok);
			f->tls_wait = 1;
		} else
			CHECK(FZ_LINE, has_prefix(p, ln, "EHLO fz.test\r\n") ||
			    has_prefix(p, ln, "HELO fz.test\r\n") ||
			    has_prefix(p, ln, "RCPT TO:<") || has_prefix(p, ln, "DATA\r\n") ||
			    has_prefix(p, ln, "RSET\r\n") || has_prefix(p, ln, ".\r\n"));
		p = nl + 1;
	}
}

static void
check_lines(struct fz *f, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		f->linelen++;
		CHECK(FZ_LINE, f->linelen <= 1000);
		if (p[i] == '\n')
			f->linelen = 0;
	}
}

/* Data bytes as a strict server reads them: CRLF "." CRLF ends the
 * message (the 354 reply counts as the CRLF before the first line), and
 * only the engine's own end may be one. */
static void
data_bytes(struct fz *f, const char *p, size_t n, int end)
{
	size_t i;

	for (i = 0; i < n; i++) {
		memmove(f->tail, f->tail + 1, sizeof f->tail - 1);
		f->tail[sizeof f->tail - 1] = p[i];
		if (memcmp(f->tail, "\r\n.\r\n", 5) == 0)
			CHECK(FZ_BODY, end && i == n - 1);
	}
	if (end)
		CHECK(FZ_BODY, memcmp(f->tail, "\r\n.\r\n", 5) == 0);
}

/*
 * Takes what the engine wrote since the last call.  body: the chunk just
 * given to smtpc_body (NULL otherwise); end: smtpc_body_end was called.
 */
static void
drain(struct fz *f, const char *body, size_t blen, int end)
{
	struct buf *o = smtpc_output(f->c);
	static char want[2 * FZ_BODY_MAX + 8];
	size_t i, w = 0;
	const char *p;

	CHECK(FZ_BOUND, o->len < FZ_OUT_MAX);
	p = o->data != NULL ? o->data : "";
	check_lines(f, p, o->len);
	if (body != NULL || end) {
		/* Dot-stuffing by our own model of the contract. */
		for (i = 0; body != NULL && i < blen; i++) {
			if (f->bol && body[i] == '.')
				want[w++] = '.';
			want[w++] = body[i];
			f->crlf = body[i] == '\n' && f->prev == '\r';
			f->prev = body[i];
			f->bol = body[i] == '\n';
		}
		if (end) {
			/* A body ending in a bare LF still needs CRLF before ".". */
			if (!f->crlf) {
				want[w++] = '\r';
				want[w++] = '\n';
			}
			memcpy(want + w, ".\r\n", 3);
			w += 3;
		}
		CHECK(FZ_QUIT, o->len == 0 || !f->quit_out);
		CHECK(FZ_SILENT, o->len == 0 || !f->silent);
		CHECK(FZ_BODY, o->len == w && memcmp(p, want, w) == 0);
		data_bytes(f, p, o->len, end);
	} else if (o->len > 0)
		check_commands(f, p, o->len);
	buf_reset(o);
	check_frozen(f);
	CHECK(FZ_EVENT, smtpc_phase(f->c) != NULL);
	CHECK(FZ_EVENT, memchr(smtpc_final_reply(f->c), '\0', SMTPC_TEXT_MAX) != NULL);
	CHECK(FZ_EVENT, memchr(smtpc_tls_reply(f->c), '\0', SMTPC_TEXT_MAX) != NULL);
	CHECK(FZ_EVENT, !smtpc_wants_body(f->c) || f->cur >= 0);
}

static void freeze(struct fz *f, enum fz_txn_state st);
static void handle(struct fz *f, int ev);

static int
new_txn(struct fz *f)
{
	struct fz_txn *x;
	size_t k, n = (size_t)(f->setup & 3) + 1;
	int r;

	if (f->ntx == FZ_NTXN)
		return -2;
	x = &f->tx[f->ntx];
	memset(x, 0, sizeof *x);
	for (k = 0; k < n; k++) {
		x->r[k].addr = fz_addrs[(k + (size_t)f->ntx) % FZ_NRCPT];
		x->r[k].active = 1;
	}
	if ((f->setup & 0x80) && f->ntx == 0) {
		/* Settled at an earlier host: the engine must leave it be. */
		x->r[n - 1].active = 0;
		x->r[n - 1].status = 5;
		snprintf(x->r[n - 1].text, sizeof x->r[n - 1].text, "550 5.1.1 earlier");
	}
	x->t.sender = (f->setup & 4) ? "" : "s@y.example";
	x->t.flags = ((f->setup & 8) ? MSGF_SMTPUTF8 : 0) | ((f->setup & 16) ? MSGF_8BITMIME : 0);
	x->t.size = f->declared;
	x->t.rcpts = x->r;
	x->t.nrcpts = n;
	memcpy(x->snap, x->r, sizeof x->snap);
	x->state = TX_RUNNING;
	f->ntx++;
	f->cur = f->ntx - 1;
	f->in_body = f->paused = 0;
	r = smtpc_begin(f->c, &x->t);
	if (r < 0) {
		/* Not taken: it stays as it was. */
		x->state = TX_ABANDONED;
		f->cur = -1;
	}
	drain(f, NULL, 0, 0);
	if (r >= 0)
		handle(f, r);
	return r;
}

/* The caller is done with the running transaction. */
static void
freeze(struct fz *f, enum fz_txn_state st)
{
	struct fz_txn *x;

	if (f->cur < 0)
		return;
	x = &f->tx[f->cur];
	memcpy(x->snap, x->r, sizeof x->snap);
	x->state = st;
	f->cur = -1;
	f->in_body = f->paused = 0;
}

static void
check_done(struct fz *f)
{
	struct fz_txn *x = &f->tx[f->cur];
	const char *fin = smtpc_final_reply(f->c);
	size_t k;

	for (k = 0; k < x->t.nrcpts; k++) {
		const struct smtpc_rcpt *r = &x->r[k];

		if (!r->active)
			continue;
		CHECK(FZ_DONE, r->status == 2 || r->status == 4 || r->status == 5);
		CHECK(FZ_DONE, r->reason >= REASON_SMTP && r->reason <= REASON_OTHER);
		CHECK(FZ_DONE, memchr(r->text, '\0', sizeof r->text) != NULL);
		CHECK(FZ_DONE, r->text[0] >= '2' && r->text[0] <= '5');
		if (r->status == 2) {
			CHECK(FZ_DONE, r->accepted);
			CHECK(FZ_DONE, x->dot);
			CHECK(FZ_DONE, fin[0] == '2');
		}
	}
}

static void
body_pump(struct fz *f)
{
	uint8_t d;
	size_t n;

	f->paused = 0;
	while (f->in_body && smtpc_wants_body(f->c)) {
		if (f->body_off == f->body_len) {
			smtpc_body_end(f->c);
			f->in_body = 0;
			f->tx[f->cur].dot = 1;
			drain(f, NULL, 0, 1);
			return;
		}
		d = decide(f);
		n = (d & 0x7f) == 0 ? f->body_len - f->body_off : (size_t)(d & 0x7f);
		if (n > f->body_len - f->body_off)
			n = f->body_len - f->body_off;
		smtpc_body(f->c, f->body + f->body_off, n);
		drain(f, f->body + f->body_off, n, 0);
		f->body_off += n;
		if (d & 0x80) {
			f->paused = 1;	/* the write is still pending */
			return;
		}
	}
}

static void
defer(struct fz *f, int send_quit)
{
	int ev = smtpc_defer(f->c, "4.7.4 TLS not available with mx.fuzz [192.0.2.1]",
	    send_quit);

	f->tls_wait = 0;
	if (!send_quit)
		f->silent = 1;
	drain(f, NULL, 0, 0);
	handle(f, ev);
}

static void
lose(struct fz *f, const char *why)
{
	int ev = smtpc_fail(f->c, why);

	f->silent = 1;
	drain(f, NULL, 0, 0);
	handle(f, ev);
}

static void
tls_decide(struct fz *f)
{
	uint8_t d = decide(f);
	int ev;

	f->tls_later = 0;
	switch (d % 5) {
	case 0:
		/* What the policy does by default: STARTTLS when offered. */
		if (smtpc_extensions(f->c) & SMTPC_EXT_STARTTLS) {
			CHECK(FZ_TLS, smtpc_starttls(f->c) == 0);
			drain(f, NULL, 0, 0);
			CHECK(FZ_TLS, f->tls_wait);
			break;
		}
		CHECK(FZ_TLS, smtpc_starttls(f->c) < 0);
		f->mail_ok = 1;
		ev = smtpc_tls_skip(f->c);
		drain(f, NULL, 0, 0);
		handle(f, ev);
		break;
	case 1:
		f->mail_ok = 1;
		ev = smtpc_tls_skip(f->c);
		drain(f, NULL, 0, 0);
		handle(f, ev);
		break;
	case 2:
		defer(f, 1);
		break;
	case 3:
		defer(f, 0);
		break;
	case 4:
		if (d & 0x80) {
			f->tls_later = 1;	/* a DANE lookup runs */
			break;
		}
		f->mail_ok = 1;
		ev = smtpc_tls_skip(f->c);
		drain(f, NULL, 0, 0);
		handle(f, ev);
		break;
	}
}

static void
handle(struct fz *f, int ev)
{
	uint8_t d;

	CHECK(FZ_EVENT, ev >= SMTPC_EV_NONE && ev <= SMTPC_EV_TLS_REFUSED);
	CHECK(FZ_EVENT, ++f->depth < 32);
	switch (ev) {
	case SMTPC_EV_NONE:
		break;
	case SMTPC_EV_BODY:
		CHECK(FZ_EVENT, f->cur >= 0 && !f->in_body && smtpc_wants_body(f->c));
		if (f->cur < 0)
			break;
		f->in_body = 1;
		f->body_off = 0;
		f->bol = f->crlf = 1;
		f->prev = '\n';
		memcpy(f->tail, "xxx\r\n", 5);
		body_pump(f);
		break;
	case SMTPC_EV_DONE:
		CHECK(FZ_EVENT, f->cur >= 0);
		if (f->cur < 0)
			break;
		check_done(f);
		freeze(f, TX_DONE);
		d = decide(f);
		if (d % 3 == 0 && smtpc_reusable(f->c)) {
			CHECK(FZ_EVENT, smtpc_idle(f->c));
			(void)new_txn(f);
		} else if (d % 3 != 2) {
			(void)smtpc_quit(f->c);
			drain(f, NULL, 0, 0);
		}
		break;
	case SMTPC_EV_RETRY:
		CHECK(FZ_EVENT, f->cur >= 0);
		freeze(f, TX_RETRIED);
		break;
	case SMTPC_EV_CLOSE:
		CHECK(FZ_EVENT, f->cur < 0 || f->tx[f->cur].state == TX_QUIT);
		break;
	case SMTPC_EV_TLS:
		CHECK(FZ_EVENT, f->hook && !f->mail_ok && !smtpc_tls_active(f->c));
		tls_decide(f);
		break;
	case SMTPC_EV_TLS_READY:
		CHECK(FZ_EVENT, f->hook && f->tls_wait);
		d = decide(f);
		if (d % 3 == 0) {
			f->tls_wait = 0;
			f->mail_ok = 1;
			smtpc_tls_started(f->c);
			CHECK(FZ_TLS, smtpc_tls_active(f->c) && smtpc_extensions(f->c) == 0);
			drain(f, NULL, 0, 0);
		} else
			defer(f, d % 3 == 2);
		break;
	case SMTPC_EV_TLS_REFUSED:
		CHECK(FZ_EVENT, f->hook && f->tls_wait);
		f->tls_wait = 0;
		d = decide(f);
		if (d % 3 == 0) {
			f->mail_ok = 1;
			ev = smtpc_tls_skip(f->c);
			drain(f, NULL, 0, 0);
			handle(f, ev);
		} else
			defer(f, d % 3 == 2);
		break;
	}
	f->depth--;
}

/* The interruptions of bytes 3-4: timers, a job that goes away, QUIT. */
static void
interrupt(struct fz *f, uint8_t how)
{
	int r;

	switch (how >> 6) {
	case 0:
		lose(f, "4.4.2 timeout: no progress with mx.fuzz [192.0.2.1] in 300s");
		break;
	case 1:
		freeze(f, TX_ABANDONED);
		r = smtpc_abandon(f->c);
		if (!r)
			f->silent = 1;	/* the caller closes the connection */
		drain(f, NULL, 0, 0);
		break;
	case 2:
		if (f->tls_wait)
			break;	/* deliver never quits inside STARTTLS */
		r = smtpc_quit(f->c);
		if (r && f->cur >= 0)
			f->tx[f->cur].state = TX_QUIT;
		drain(f, NULL, 0, 0);
		break;
	default:
		break;
	}
}

static void
make_body(struct fz *f, uint8_t b, uint8_t seed)
{
	static const char *const pieces[] = {
		"abc", "x", " ", "\r\n", "Subject: hi\r\n", ".", "..", ".\r\n",
		"\r\n.\r\n", "\n", "\n.\n", "\r", "\r\n..\r\n", "\0",
	};
	static const unsigned npieces[] = { 5, 9, 12, 14 };
	size_t want = (size_t)(b & 0x3f) * 32, run = 0, i;
	uint32_t x = 0x9e3779b9u ^ seed ^ ((uint32_t)b << 8);
	unsigned style = b >> 6;

	f->body_len = 0;
	while (f->body_len < want) {
		const char *s;
		size_t n;
		unsigned k;

		x = x * 1103515245u + 12345u;
		k = (x >> 16) % npieces[style];
		s = pieces[k];
		n = k == 13 ? 1 : strlen(s);
		if (run + n > 200) {
			s = "\r\n";
			n = 2;
		}
		for (i = 0; i < n; i++) {
			f->body[f->body_len++] = s[i];
			run = s[i] == '\n' ? 0 : run + 1;
		}
	}
}

static void
parse_allowed(void)
{
	static int done;
	const char *e;
	size_t i;

	if (done)
		return;
	done = 1;
	log_open("deliver", "/dev/null");
	if ((e = getenv("SMTPC_FUZZ_ALLOW")) == NULL)
		return;
	for (i = 0; i < sizeof fz_check_names / sizeof fz_check_names[0]; i++)
		if (strstr(e, fz_check_names[i]) != NULL)
			fz_allowed |= 1u << i;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fz f;
	const char *p, *end, *nl;
	size_t n, nlines = 0;
	int later;

	parse_allowed();
	if (size < 6)
		return 0;
	memset(&f, 0, sizeof f);
	f.setup = data[0];
	f.declared = data[2] == 0 ? 0 : (uint64_t)1 << (data[2] & 63);
	make_body(&f, data[1], data[2]);
	if (data[2] == 0)
		f.declared = f.body_len;
	f.ndec = data[5] < size - 6 ? data[5] : size - 6;
	f.dec = data + 6;
	f.cur = -1;
	f.hook = (f.setup & 0x20) != 0;
	f.c = smtpc_new("fz.test", "DCID 1");
	if (f.hook)
		smtpc_tls_hook(f.c, 1);
	if (f.setup & 0x40)
		(void)new_txn(&f);

	p = (const char *)data + 6 + f.ndec;
	end = (const char *)data + size;
	while (p < end) {
		if (nlines < 64) {
			if ((data[3] & 0x3f) == nlines)
				interrupt(&f, data[3]);
			if ((data[4] & 0x3f) == nlines)
				interrupt(&f, data[4]);
		}
		if (f.paused && f.cur >= 0)
			body_pump(&f);
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		later = f.tls_later;
		handle(&f, smtpc_feed_line(f.c, p, n));
		drain(&f, NULL, 0, 0);
		/* The lookup is over; deliver does not ask a closed session. */
		if (later && f.tls_later && f.c->state == SC_TLS_DECIDE)
			tls_decide(&f);
		else if (later)
			f.tls_later = 0;
		if (f.ntx == 0 && smtpc_idle(f.c))
			(void)new_txn(&f);
		p = nl != NULL ? nl + 1 : end;
		nlines++;
	}
	/* The server closed the connection. */
	if (f.cur >= 0 && f.tx[f.cur].state == TX_RUNNING)
		lose(&f, "4.4.2 lost connection with mx.fuzz [192.0.2.1]");
	check_frozen(&f);
	smtpc_free(f.c);
	return 0;
}
