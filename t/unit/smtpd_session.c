/*
 * smtpd_session - the SMTP session state machine driven with a fake
 * queue manager: banners and HAT actions, command order, pipelining at
 * any chunking, every limit with its reply, relay decisions on public,
 * private and sinkhole listeners (RAT, relay policy, routing tricks, IDN,
 * literals), the DATA phase (Received:, bare CR/LF, long lines, NUL,
 * size), commit answers, qmgr loss, timeouts, drain, bounded memory, and
 * the mail log lines.  Issue 3: merged policies (listener default
 * policy), banners, max_conns_per_ip, max_msgs_per_conn, the hourly
 * recipient rate limit and DHAP on a controllable clock, RAT replies and
 * bypass_rate_limit, DNS facts (verified names, DNS lists), rewriting
 * (default domain, domain map, aliases, masquerading) and resource
 * conservation.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "buf.h"
#include "config.h"
#include "log.h"
#include "proto.h"
#include "tap.h"
#include "xalloc.h"
#include "../../smtpd/session.h"

static const char yaml[] =
    "hostname: mx.test\n"
    "smtpd: { max_errors: 50 }\n"
    "listeners:\n"
    "  - name: In\n"
    "    type: public\n"
    "    address: 127.0.0.1\n"
    "    port: 2525\n"
    "    hat:\n"
    "      - { group: BLOCKED, match: [\"10.9.0.0/16\"], policy: BLOCKED }\n"
    "      - { group: REFUSED, match: [\"10.8.0.1\"], policy: REFUSE }\n"
    "      - { group: RELAYLIST, match: [\"192.0.2.10\", \"2001:db8::10\"], policy: RELAYED }\n"
    "      - { group: SMALL, match: [\"192.0.2.20\"], policy: SMALL }\n"
    "      - { group: ALL, match: [ALL], policy: ACCEPTED }\n"
    "    rat:\n"
    "      - { match: spam@example.com, action: reject }\n"
    "      - { match: example.com, action: accept }\n"
    "      - { match: .sub.example.net, action: accept }\n"
    "      - { match: \"bücher.example\", action: accept }\n"
    "      - { match: ALL, action: reject }\n"
    "  - name: Out\n"
    "    type: private\n"
    "    address: 127.0.0.1\n"
    "    port: 2526\n"
    "    hat:\n"
    "      - { group: RELAYLIST, match: [\"127.0.0.0/8\", \"::1\"], policy: RELAYED }\n"
    "      - { group: ALL, match: [ALL], policy: ACCEPTED }\n"
    "  - name: Picky\n"
    "    type: public\n"
    "    address: 127.0.0.1\n"
    "    port: 2527\n"
    "    hat:\n"
    "      - { group: FRIENDS, match: [\"192.0.2.0/24\"], policy: ACCEPTED }\n"
    "  - name: Sink\n"
    "    type: sinkhole\n"
    "    address: 127.0.0.1\n"
    "    port: 2528\n"
    "    hat:\n"
    "      - { group: ALL, match: [ALL], policy: ACCEPTED }\n"
    "  - name: SinkQ\n"
    "    type: sinkhole\n"
    "    sinkhole_queue: true\n"
    "    address: 127.0.0.1\n"
    "    port: 2529\n"
    "    hat:\n"
    "      - { group: ALL, match: [ALL], policy: ACCEPTED }\n"
    "policies:\n"
    "  ACCEPTED: { action: accept, max_message_size: 10M, max_rcpts_per_msg: 3 }\n"
    "  SMALL: { action: accept, max_message_size: 100, max_rcpts_per_msg: 1000 }\n"
    "  RELAYED: { action: relay }\n"
    "  BLOCKED: { action: reject }\n"
    "  REFUSE: { action: tcprefuse }\n";

/* ---- the fake queue manager ---- */

struct fake {
	int		 ready;
	int		 begin_fail;
	int		 mid_later;	/* take_mid: "not yet" */
	uint32_t	 next_mid;
	int		 mids_left;
	int		 open;		/* begun, not ended or aborted */
	int		 begins, ends, aborts, violations;
	struct buf	 data;
	size_t		 max_frame;
	uint64_t	 end_size;
	uint32_t	 mid, icid, flags;
	size_t		 nrcpt;
	char		 sender[1100], helo[300], client_ip[64], listener[64];
	char		 rcpts[8192];
	uint64_t	 rejected;
	uint64_t	 dropped, dhap, ratehits;
};

static struct fake fq;

static int
f_ready(void *arg)
{
	return ((struct fake *)arg)->ready;
}

static int
f_take_mid(void *arg, uint32_t *mid)
{
	struct fake *f = arg;

	if (f->mid_later)
		return 1;
	if (f->mids_left == 0)
		return -1;
	f->mids_left--;
	*mid = f->next_mid++;
	return 0;
}

static int
f_begin(void *arg, const struct smtp_txn *t)
{
	struct fake *f = arg;
	size_t i;

	if (f->begin_fail)
		return -1;
	if (f->open)
		f->violations++;
	f->open = 1;
	f->begins++;
	buf_reset(&f->data);
	f->mid = t->mid;
	f->icid = t->icid;
	f->flags = t->flags;
	f->nrcpt = t->nrcpt;
	snprintf(f->sender, sizeof f->sender, "%s", t->sender);
	snprintf(f->helo, sizeof f->helo, "%s", t->helo);
	snprintf(f->client_ip, sizeof f->client_ip, "%s", t->client_ip);
	snprintf(f->listener, sizeof f->listener, "%s", t->listener);
	f->rcpts[0] = '\0';
	for (i = 0; i < t->nrcpt; i++) {
		size_t n = strlen(f->rcpts);

		snprintf(f->rcpts + n, sizeof f->rcpts - n, "%s%s", i ? " " : "", t->rcpts[i]);
	}
	if (strcmp(t->client_host, "unknown") != 0)
		f->violations++;
	return 0;
}

static void
f_data(void *arg, const void *p, size_t n)
{
	struct fake *f = arg;

	if (!f->open || n == 0 || n > SMTP_DATA_FRAME)
		f->violations++;
	if (n > f->max_frame)
		f->max_frame = n;
	buf_append(&f->data, p, n);
}

static void
f_end(void *arg, uint64_t size)
{
	struct fake *f = arg;

	if (!f->open)
		f->violations++;
	f->open = 0;
	f->ends++;
	f->end_size = size;
}

static void
f_abort(void *arg)
{
	struct fake *f = arg;

	if (!f->open)
		f->violations++;
	f->open = 0;
	f->aborts++;
}

static void
f_counter(void *arg, const char *name, uint64_t delta)
{
	struct fake *f = arg;

	if (strcmp(name, "Rejected Recipients") == 0)
		f->rejected += delta;
	else if (strcmp(name, "Dropped Messages") == 0)
		f->dropped += delta;
	else if (strcmp(name, "DHAP Hits") == 0)
		f->dhap += delta;
	else if (strcmp(name, "Rate Limit Hits") == 0)
		f->ratehits += delta;
	else
		f->violations++;
}

/* The controllable clock of the hourly limits and the gauge. */
static time_t fake_now = 1700000000;
static unsigned fake_rescon;

static time_t
f_now(void *arg)
{
	(void)arg;
	return fake_now;
}

static int verify_calls;
static char verify_domain[300];

/* Only the VERIFY listener's policy asks; others never call this. */
static int
f_verify(void *arg, const char *domain)
{
	(void)arg;
	verify_calls++;
	snprintf(verify_domain, sizeof verify_domain, "%s", domain);
	return 0;
}

static unsigned
f_rescon(void *arg)
{
	(void)arg;
	return fake_rescon;
}

static const struct smtp_session_ops fake_ops = {
	.qmgr_ready = f_ready,
	.take_mid = f_take_mid,
	.begin = f_begin,
	.data = f_data,
	.end = f_end,
	.abort = f_abort,
	.counter = f_counter,
	.now = f_now,
	.rescon = f_rescon,
	.verify_domain = f_verify,
};

/* AUTH: the password check answers later (smtp_session_auth_result). */
static int auth_calls;
static char auth_seen_user[300], auth_seen_pass[600];

static void
f_auth_check(void *arg, const char *user, const char *pass)
{
	(void)arg;
	auth_calls++;
	snprintf(auth_seen_user, sizeof auth_seen_user, "%s", user);
	snprintf(auth_seen_pass, sizeof auth_seen_pass, "%s", pass);
}

/* fake_ops with f_auth_check (filled in by main). */
static struct smtp_session_ops auth_ops;

static void
fake_reset(void)
{
	buf_free(&fq.data);
	memset(&fq, 0, sizeof fq);
	buf_init(&fq.data, 0);
	fq.ready = 1;
	fq.next_mid = 100;
	fq.mids_left = 1000;
}

/* ---- driving a session like smtpd.c does ---- */

static struct config *cfg;
static struct rate_table *rates;	/* sess_open passes it when set */
static uint32_t conns_ip;		/* params.conns_from_ip */
static const char *ptr_name;		/* params.ptr_host */
static int ptr_verified;
static const char *listed_zone;		/* the one DNS list the client is on */
static int sess_tls;			/* params.tls_available */
static int sess_auth;			/* params.auth_available, auth_ops */
static struct buf pending;	/* bytes "on the socket" not yet taken */
static struct buf acc;		/* replies of the last step */
static size_t chunk;		/* 0: as much as fits; 1: byte at a time */
static int random_chunks;
static uint32_t rng = 4242;
static char logpath[] = "/tmp/smtpd_session_log.XXXXXX";
static long log_mark;

static uint32_t
next_rand(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

static int
f_listed(void *arg, const char *zone)
{
	(void)arg;
	return listed_zone != NULL && strcmp(zone, listed_zone) == 0;
}

static struct smtp_session *
sess_open(const char *listener, const char *ip)
{
	struct smtp_session_params p;
	struct smtp_session *s;

	fake_reset();
	buf_reset(&pending);
	memset(&p, 0, sizeof p);
	p.cfg = cfg;
	p.listener = config_listener(cfg, listener);
	p.local_ip = "127.0.0.1";
	p.client_ip = ip;
	p.icid = 7;
	p.rates = rates;
	p.conns_from_ip = conns_ip;
	p.ptr_host = ptr_name;
	p.host_verified = ptr_verified;
	p.listed = listed_zone != NULL ? f_listed : NULL;
	p.tls_available = sess_tls;
	p.auth_available = sess_auth;
	auth_calls = 0;
	auth_seen_user[0] = auth_seen_pass[0] = '\0';
	s = smtp_session_new(&p, sess_auth ? &auth_ops : &fake_ops, &fq);
	smtp_session_start(s);
	return s;
}

static void
take(struct smtp_session *s)
{
	struct buf *out = smtp_session_output(s);

	buf_append(&acc, out->data ? out->data : "", out->len);
	buf_reset(out);
}

/* Feeds pending input while the session takes it, writing replies out. */
static void
pump(struct smtp_session *s)
{
	size_t n, room;

	for (;;) {
		take(s);
		if (smtp_session_state(s) == SMTP_CLOSED || smtp_session_state(s) == SMTP_WAIT_COMMIT ||
		    smtp_session_state(s) == SMTP_WAIT_MID)
			return;
		if (smtp_session_runnable(s)) {
			smtp_session_process(s);
			continue;
		}
		if (pending.len == 0 || (room = smtp_session_input_room(s)) == 0)
			return;
		n = pending.len < room ? pending.len : room;
		if (chunk && n > chunk)
			n = chunk;
		if (random_chunks && n > 1)
			n = 1 + next_rand() % (n < 700 ? n : 700);
		smtp_session_input(s, pending.data, n);
		buf_consume(&pending, n);
	}
}

static const char *
say_n(struct smtp_session *s, const char *p, size_t n)
{
	buf_reset(&acc);
	buf_append(&pending, p, n);
	pump(s);
	return acc.data ? acc.data : "";
}

static const char *
say(struct smtp_session *s, const char *text)
{
	return say_n(s, text, strlen(text));
}

static const char *
commit(struct smtp_session *s, uint32_t status, const char *text)
{
	buf_reset(&acc);
	smtp_session_committed(s, status, text);
	pump(s);
	return acc.data ? acc.data : "";
}

static const char *
banner(struct smtp_session *s)
{
	buf_reset(&acc);
	take(s);
	return acc.data ? acc.data : "";
}

static void
sess_close(struct smtp_session *s)
{
	smtp_session_free(s);
}

/* ---- the log ---- */

static void
log_start(void)
{
	FILE *f = fopen(logpath, "r");

	log_mark = 0;
	if (f != NULL) {
		fseek(f, 0, SEEK_END);
		log_mark = ftell(f);
		fclose(f);
	}
}

/* Whether a line since log_start() contains needle. */
static int
log_has(const char *needle)
{
	FILE *f = fopen(logpath, "r");
	char line[8192];
	int found = 0;

	if (f == NULL)
		return 0;
	fseek(f, log_mark, SEEK_SET);
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

/* No line since log_start() contains needle; prints the first that does. */
static int
log_lacks(const char *needle)
{
	FILE *f = fopen(logpath, "r");
	char line[8192];
	int found = 0;

	if (f == NULL)
		return 1;
	fseek(f, log_mark, SEEK_SET);
	while (!found && fgets(line, sizeof line, f) != NULL)
		if ((found = strstr(line, needle) != NULL))
			printf("# in the log: %s", line);
	fclose(f);
	return !found;
}

/* ---- tests ---- */

static void
test_banners_and_hat(void)
{
	struct smtp_session *s;

	log_start();
	s = sess_open("In", "192.0.2.1");
	is_str(banner(s), "220 mx.test ESMTP Sallyport\r\n", "ACCEPT: 220 banner");
	ok(log_has("Info: New SMTP ICID 7 interface In (127.0.0.1) address 192.0.2.1 reverse "
	    "dns host unknown verified no"), "New SMTP ICID log line");
	ok(log_has("Info: ICID 7 ACCEPT SG ALL match ALL SBRS None"), "HAT verdict logged");
	is_str(say(s, "QUIT\r\n"), "221 Bye\r\n", "QUIT before EHLO: no enhanced code");
	is(smtp_session_state(s), SMTP_CLOSED, "closed after QUIT");
	sess_close(s);
	ok(log_has("ICID 7 close\n"), "plain close logged after QUIT");

	log_start();
	s = sess_open("In", "10.9.1.2");
	is_str(banner(s), "554 5.7.1 mx.test Access denied\r\n", "REJECT: 554 banner");
	ok(log_has("ICID 7 REJECT SG BLOCKED match 10.9.0.0/16 SBRS None"), "REJECT logged");
	is_str(say(s, "EHLO me\r\n"), "554 5.7.1 Access denied\r\n", "EHLO refused");
	is_str(say(s, "MAIL FROM:<a@b.example>\r\nNOOP\r\n"),
	    "554 5.7.1 Access denied\r\n554 5.7.1 Access denied\r\n", "everything refused");
	ok(log_has("ICID 7 refused 'NOOP': 554 5.7.1 Access denied"), "refusals logged");
	is_str(say(s, "QUIT\r\n"), "221 Bye\r\n", "QUIT works");
	is(fq.begins, 0, "nothing reached qmgr");
	sess_close(s);

	cfg->smtpd.max_errors = 5;
	s = sess_open("In", "10.9.1.2");
	banner(s);
	is_str(say(s, "A\r\nB\r\nC\r\nD\r\nE\r\nF\r\nG\r\n"),
	    "554 5.7.1 Access denied\r\n554 5.7.1 Access denied\r\n554 5.7.1 Access denied\r\n"
	    "554 5.7.1 Access denied\r\n554 5.7.1 Access denied\r\n554 5.7.1 Access denied\r\n"
	    "421 4.7.0 mx.test Too many errors\r\n", "rejected host is cut off after max_errors");
	sess_close(s);
	cfg->smtpd.max_errors = 50;

	log_start();
	s = sess_open("In", "10.8.0.1");
	is_str(banner(s), "", "TCPREFUSE: no banner");
	is(smtp_session_state(s), SMTP_CLOSED, "TCPREFUSE: closed at once");
	ok(log_has("ICID 7 TCPREFUSE SG REFUSED match 10.8.0.1 SBRS None"), "TCPREFUSE logged");
	sess_close(s);
	ok(log_has("ICID 7 close (TCP refused by HAT)"), "close reason logged");

	log_start();
	s = sess_open("Picky", "203.0.113.5");
	is_str(banner(s), "554 5.7.1 mx.test Access denied\r\n", "no HAT match: REJECT");
	ok(log_has("ICID 7 REJECT SG None match None SBRS None"), "no match logged as None");
	sess_close(s);

	s = sess_open("Picky", "192.0.2.77");
	is_str(banner(s), "220 mx.test ESMTP Sallyport\r\n", "HAT CIDR match accepted");
	sess_close(s);

	log_start();
	s = sess_open("In", "2001:db8::10");
	is_str(banner(s), "220 mx.test ESMTP Sallyport\r\n", "RELAY: 220");
	ok(log_has("ICID 7 RELAY SG RELAYLIST match 2001:db8::10 SBRS None"), "RELAY logged, IPv6");
	sess_close(s);
}

static const char ehlo_reply[] =
    "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
    "250 ENHANCEDSTATUSCODES\r\n";

static void
test_basic_commands(void)
{
	struct smtp_session *s = sess_open("In", "192.0.2.1");

	banner(s);
	is_str(say(s, "EHLO client.example\r\n"), ehlo_reply, "EHLO advertises the extensions");
	is_str(say(s, "NOOP\r\n"), "250 2.0.0 Ok\r\n", "NOOP");
	is_str(say(s, "noop with args\r\n"), "250 2.0.0 Ok\r\n", "noop, any case, args");
	is_str(say(s, "RSET\r\n"), "250 2.0.0 Ok\r\n", "RSET");
	is_str(say(s, "VRFY joe\r\n"), "252 2.5.2 Cannot VRFY user, but will accept message and "
	    "attempt delivery\r\n", "VRFY 252");
	ok(strncmp(say(s, "HELP\r\n"), "214 2.0.0 ", 10) == 0, "HELP 214");
	is_str(say(s, "STARTTLS\r\n"), "502 5.5.1 Command not implemented\r\n", "STARTTLS 502");
	is_str(say(s, "AUTH PLAIN AGFAYg==\r\n"), "502 5.5.1 Command not implemented\r\n",
	    "AUTH 502");
	is_str(say(s, "BDAT 10 LAST\r\n"), "502 5.5.1 Command not implemented\r\n", "BDAT 502");
	is_str(say(s, "ETRN example.com\r\n"), "502 5.5.1 Command not implemented\r\n", "ETRN 502");
	is_str(say(s, "TURN\r\n"), "502 5.5.1 Command not implemented\r\n", "TURN 502");
	sess_close(s);

	s = sess_open("In", "192.0.2.1");
	banner(s);
	is_str(say(s, "HELO client.example\r\n"), "250 mx.test\r\n", "HELO");
	is_str(say(s, "MAIL FROM:<a@example.org>\r\n"), "250 Sender ok\r\n",
	    "after HELO: no enhanced codes");
	is_str(say(s, "RCPT TO:<b@evil.test>\r\n"),
	    "550 Recipient address rejected: Access denied\r\n", "nor on refusals");
	is_str(say(s, "MAIL FROM:<a@example.org> SIZE=10\r\n"),
	    "503 Error: nested MAIL command\r\n", "nested MAIL");
	is_str(say(s, "RSET\r\nMAIL FROM:<a@example.org> SIZE=10\r\n"),
	    "250 Ok\r\n555 Parameters need EHLO\r\n", "ESMTP parameters need EHLO");
	is_str(say(s, "EHLO again\r\n"), ehlo_reply, "EHLO after HELO");
	is_str(say(s, "NOOP\r\n"), "250 2.0.0 Ok\r\n", "codes back after EHLO");
	is_str(say(s, "HELO again\r\n"), "250 mx.test\r\n", "HELO again");
	is_str(say(s, "NOOP\r\n"), "250 Ok\r\n", "codes gone again after HELO");
	is_str(say(s, "HELO\r\n"), "501 Syntax: HELO hostname\r\n", "HELO needs an argument");
	is_str(say(s, "EHLO bad\x01name\r\n"), "501 Invalid host name\r\n",
	    "control character in EHLO");
	sess_close(s);
}

static void
test_order(void)
{
	struct smtp_session *s = sess_open("In", "192.0.2.1");

	banner(s);
	is_str(say(s, "MAIL FROM:<a@example.org>\r\n"), "503 Error: send HELO/EHLO first\r\n",
	    "MAIL before HELO");
	is_str(say(s, "RCPT TO:<b@example.com>\r\n"), "503 Error: need MAIL command\r\n",
	    "RCPT before MAIL");
	is_str(say(s, "DATA\r\n"), "503 Error: need MAIL command\r\n", "DATA before MAIL");
	say(s, "EHLO c\r\n");
	is_str(say(s, "RCPT TO:<b@example.com>\r\n"), "503 5.5.1 Error: need MAIL command\r\n",
	    "RCPT before MAIL after EHLO");
	is_str(say(s, "MAIL FROM:<a@example.org>\r\n"), "250 2.1.0 Sender ok\r\n", "MAIL");
	is_str(say(s, "DATA\r\n"), "554 5.5.1 No valid recipients\r\n", "DATA without RCPT");
	is_str(say(s, "MAIL FROM:<a@example.org>\r\n"), "503 5.5.1 Error: nested MAIL command\r\n",
	    "nested MAIL after EHLO");
	is_str(say(s, "RCPT TO:<b@example.com>\r\nRSET\r\nDATA\r\n"),
	    "250 2.1.5 Recipient ok\r\n250 2.0.0 Ok\r\n503 5.5.1 Error: need MAIL command\r\n",
	    "RSET forgets the transaction");
	is(fq.begins, 0, "nothing begun");
	sess_close(s);
}

/* A full transaction in one chunk; returns the session waiting for commit. */
static const char *script =
    "EHLO client.example\r\n"
    "MAIL FROM:<alice@example.org> BODY=8BITMIME\r\n"
    "RCPT TO:<bob@example.com>\r\n"
    "DATA\r\n"
    "Subject: test message\r\n"
    "\r\n"
    "Hello.\r\n"
    "..leading dot\r\n"
    ".\r\n"
    "QUIT\r\n";

static void
test_pipelining(void)
{
	struct smtp_session *s;
	const char *r, *d;
	char expect[512];
	struct buf ref_out, ref_data;
	int k, same = 1;

	log_start();
	s = sess_open("In", "192.0.2.1");
	banner(s);
	r = say(s, script);
	snprintf(expect, sizeof expect, "%s250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n", ehlo_reply);
	is_str(r, expect, "pipelined commands answered in order, nothing after end of data");
	is(smtp_session_state(s), SMTP_WAIT_COMMIT, "waiting for the commit");
	is(smtp_session_input_room(s), 0, "not reading while waiting");
	ok(!smtp_session_wants_input(s), "wants no input");
	is(fq.begins, 1, "one BEGIN");
	is(fq.ends, 1, "one END");
	is(fq.mid, 100, "MID from the block");
	is(fq.icid, 7, "ICID");
	is_str(fq.sender, "alice@example.org", "sender");
	is_str(fq.rcpts, "bob@example.com", "recipient");
	is_str(fq.helo, "client.example", "helo");
	is_str(fq.client_ip, "192.0.2.1", "client ip");
	is_str(fq.listener, "In", "listener");
	is(fq.flags, MSGF_8BITMIME, "BODY=8BITMIME flag");
	d = fq.data.data;
	ok(d && strncmp(d, "Received: from client.example (unknown [192.0.2.1])\r\n\tby mx.test "
	    "(Sallyport) with ESMTP id 100\r\n\tfor <bob@example.com>; ", 108) == 0,
	    "Received: header first");
	ok(d && strstr(d, "\r\nSubject: test message\r\n\r\nHello.\r\n.leading dot\r\n") != NULL,
	    "body stored unstuffed with CRLF");
	ok(d && fq.data.len > 2 && memcmp(d + fq.data.len - 15, "\r\n.leading dot\r\n" + 1, 15)
	    == 0, "no end marker stored");
	is(fq.end_size, fq.data.len, "END size is what was sent");
	ok(log_has("Start MID 100 ICID 7"), "Start MID logged");
	ok(log_has("MID 100 ICID 7 From: <alice@example.org>"), "From logged");
	ok(log_has("MID 100 ICID 7 RID 0 To: <bob@example.com>"), "To logged");
	ok(log_has("MID 100 Subject 'test message'"), "Subject logged");
	snprintf(expect, sizeof expect, "MID 100 ready %zu bytes from <alice@example.org>",
	    fq.data.len);
	ok(log_has(expect), "ready logged with the size");
	is_str(commit(s, COMMIT_OK, ""), "250 2.0.0 ok: Message 100 accepted\r\n221 2.0.0 Bye\r\n",
	    "250 after commit, then the pipelined QUIT");
	is(smtp_session_state(s), SMTP_CLOSED, "closed");
	is(fq.violations, 0, "fake qmgr saw a clean protocol");
	sess_close(s);

	/* The same script in every chunking gives the same replies and data. */
	buf_init(&ref_out, 0);
	buf_init(&ref_data, 0);
	s = sess_open("In", "192.0.2.1");
	banner(s);
	buf_append(&ref_out, say(s, script), acc.len);
	buf_append(&ref_out, commit(s, COMMIT_OK, ""), acc.len);
	/* The Received: date may differ by a second: compare from the body. */
	buf_append(&ref_data, strstr(fq.data.data, "Subject:"),
	    fq.data.len - (size_t)(strstr(fq.data.data, "Subject:") - fq.data.data));
	sess_close(s);
	for (k = 0; k < 40; k++) {
		struct buf out;

		chunk = k == 0 ? 1 : 0;
		random_chunks = k > 0;
		s = sess_open("In", "192.0.2.1");
		banner(s);
		buf_init(&out, 0);
		buf_append(&out, say(s, script), acc.len);
		buf_append(&out, commit(s, COMMIT_OK, ""), acc.len);
		d = fq.data.data ? strstr(fq.data.data, "Subject:") : NULL;
		if (out.len != ref_out.len || memcmp(out.data, ref_out.data, out.len) != 0 ||
		    d == NULL || strcmp(d, ref_data.data) != 0 || fq.violations) {
			same = 0;
			printf("# chunking round %d differs\n", k);
		}
		buf_free(&out);
		sess_close(s);
	}
	chunk = 0;
	random_chunks = 0;
	ok(same, "byte-at-a-time and random chunks give the same replies and data");
	buf_free(&ref_out);
	buf_free(&ref_data);

	/* Two messages pipelined back to back. */
	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
	    "one\r\n.\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<c@example.com>\r\nDATA\r\n"
	    "two\r\n.\r\nQUIT\r\n");
	is(fq.ends, 1, "first message ended, second waits");
	is_str(commit(s, COMMIT_OK, ""), "250 2.0.0 ok: Message 100 accepted\r\n"
	    "250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n"
	    "354 End data with <CR><LF>.<CR><LF>\r\n", "second transaction after the first commit");
	is(fq.mid, 101, "second MID");
	is_str(commit(s, COMMIT_OK, ""), "250 2.0.0 ok: Message 101 accepted\r\n221 2.0.0 Bye\r\n",
	    "second commit");
	is(fq.violations, 0, "clean");
	sess_close(s);
}

static void
test_limits(void)
{
	struct smtp_session *s;
	char line[700];
	const char *r;
	size_t i;

	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\n");
	memset(line, 0, sizeof line);
	memcpy(line, "NOOP ", 5);
	memset(line + 5, 'x', 505);
	memcpy(line + 510, "\r\n", 2);
	is_str(say(s, line), "250 2.0.0 Ok\r\n", "512 octets with CRLF is allowed");
	memset(line, 0, sizeof line);
	memcpy(line, "NOOP ", 5);
	memset(line + 5, 'x', 506);
	memcpy(line + 511, "\r\nNOOP\r\n", 8);
	is_str(say(s, line), "500 5.5.2 Line too long\r\n250 2.0.0 Ok\r\n",
	    "513 octets: Line too long, the rest of it discarded, next command fine");
	memset(line, 'y', 600);
	line[600] = '\0';
	r = say(s, line);
	is_str(r, "500 5.5.2 Line too long\r\n", "long line without end: one reply");
	for (i = 0; i < 2000; i++)
		say(s, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
	is_str(say(s, "\r\nNOOP\r\n"), "250 2.0.0 Ok\r\n",
	    "110 KB more of it: discarded silently, then back to normal");
	sess_close(s);

	log_start();
	s = sess_open("In", "192.0.2.1");
	banner(s);
	is_str(say(s, "EHLO c\nNOOP\r\n"), "500 Bare LF in command\r\n",
	    "bare LF in a command: refused");
	is(smtp_session_state(s), SMTP_CLOSED, "and closed, NOOP never read");
	ok(log_has("ICID 7 refused 'EHLO c': 500 5.5.2 Bare LF in command"), "logged");
	sess_close(s);
	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\n");
	is_str(say(s, "NOOP\nRSET\r\n"), "500 5.5.2 Bare LF in command\r\n",
	    "after EHLO with the enhanced code");
	is(smtp_session_state(s), SMTP_CLOSED, "closed");
	sess_close(s);
	ok(log_has("ICID 7 close (bare LF in command)"), "close reason");

	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\n");
	is_str(say(s, "NOOP\rRSET\r\n"), "500 5.5.2 Bare CR in command\r\n", "bare CR in a command");
	is(smtp_session_state(s), SMTP_CLOSED, "closed");
	sess_close(s);

	s = sess_open("In", "192.0.2.1");
	banner(s);
	is_str(say_n(s, "NO\0OP\r\n", 7), "500 NUL byte in command\r\n", "NUL in a command");
	is(smtp_session_state(s), SMTP_CMD, "NUL: an error, not a close");
	sess_close(s);

	cfg->smtpd.max_errors = 5;
	log_start();
	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\n");
	is_str(say(s, "FOO\r\nBAR\r\nBAZ\r\n"), "500 5.5.2 Command unrecognized\r\n"
	    "500 5.5.2 Command unrecognized\r\n500 5.5.2 Command unrecognized\r\n",
	    "unknown commands");
	ok(log_has("ICID 7 refused 'BAR': 500 5.5.2 Command unrecognized"), "logged with ICID");
	is_str(say(s, "NOOP\r\nQUUX\r\nXYZZY\r\nNOOP\r\n"),
	    "250 2.0.0 Ok\r\n500 5.5.2 Command unrecognized\r\n500 5.5.2 Command unrecognized\r\n"
	    "250 2.0.0 Ok\r\n", "five errors: still served");
	is_str(say(s, "FROB\r\nNOOP\r\n"), "500 5.5.2 Command unrecognized\r\n"
	    "421 4.7.0 mx.test Too many errors\r\n", "sixth error (> max_errors 5): 421 and close");
	is(smtp_session_state(s), SMTP_CLOSED, "closed");
	ok(log_has("ICID 7 too many errors (6, limit 5); closing"), "logged");
	sess_close(s);
	ok(log_has("ICID 7 close (too many errors)"), "close reason");

	/* Flood of unknown commands in one chunk: cut off, the rest unread. */
	{
		struct buf flood;

		buf_init(&flood, 0);
		for (i = 0; i < 10000; i++)
			buf_puts(&flood, "GARBAGE\r\n");
		s = sess_open("In", "192.0.2.1");
		banner(s);
		r = say_n(s, flood.data, flood.len);
		is(strlen(r), 6 * strlen("500 Command unrecognized\r\n") +
		    strlen("421 4.7.0 mx.test Too many errors\r\n"), "flood: 6 replies then 421");
		is(smtp_session_state(s), SMTP_CLOSED, "flood: closed");
		sess_close(s);
		buf_free(&flood);
	}
	cfg->smtpd.max_errors = 50;
}

static void
test_bounded_memory(void)
{
	struct smtp_session *s = sess_open("In", "192.0.2.1");
	struct buf big;
	size_t i, n, replies = 0, maxout = 0;
	const char *p;

	banner(s);
	buf_init(&big, 0);
	for (i = 0; i < 30000; i++)
		buf_puts(&big, "EHLO x\r\n");
	/* Feed as a socket would: only what the session has room for, and
	 * write out replies before going on when it says so. */
	p = big.data;
	n = big.len;
	while (n > 0 || smtp_session_runnable(s)) {
		struct buf *out = smtp_session_output(s);
		size_t room, k;

		if (out->len > maxout)
			maxout = out->len;
		for (k = 0; k + 3 < out->len; k++)
			if (memcmp(out->data + k, "250 ", 4) == 0 && (k == 0 || out->data[k - 1] == '\n'))
				replies++;
		buf_reset(out);
		if (smtp_session_runnable(s)) {
			smtp_session_process(s);
			continue;
		}
		if (!smtp_session_wants_input(s))
			break;
		room = smtp_session_input_room(s);
		k = n < room ? n : room;
		if (k > 65536)
			k = 65536;
		smtp_session_input(s, p, k);
		p += k;
		n -= k;
	}
	{
		struct buf *out = smtp_session_output(s);
		size_t k;

		for (k = 0; k + 3 < out->len; k++)
			if (memcmp(out->data + k, "250 ", 4) == 0 && (k == 0 || out->data[k - 1] == '\n'))
				replies++;
		if (out->len > maxout)
			maxout = out->len;
		buf_reset(out);
	}
	is(replies, 30000, "30000 pipelined EHLOs all answered");
	ok(maxout < SMTP_OUT_HIGH + 256, "reply buffer stayed bounded (%zu)", maxout);
	buf_free(&big);
	sess_close(s);
}

static void
test_mail_from(void)
{
	struct smtp_session *s = sess_open("In", "192.0.2.1");

	banner(s);
	say(s, "EHLO c\r\n");
	is_str(say(s, "MAIL FROM:<jörg@example.org>\r\n"), "553 5.6.7 UTF-8 address needs "
	    "SMTPUTF8\r\n", "UTF-8 sender without SMTPUTF8");
	is_str(say(s, "MAIL FROM:<jörg@example.org> SMTPUTF8\r\n"), "250 2.1.0 Sender ok\r\n",
	    "UTF-8 sender with SMTPUTF8");
	say(s, "RSET\r\n");
	is_str(say(s, "MAIL FROM:<a@example.org> SIZE=10485761\r\n"),
	    "552 5.3.4 Message size exceeds fixed maximum message size\r\n", "SIZE over the max");
	is_str(say(s, "MAIL FROM:<a@example.org> SIZE=10485760\r\n"), "250 2.1.0 Sender ok\r\n",
	    "SIZE at the max");
	say(s, "RSET\r\n");
	is_str(say(s, "MAIL FROM:<a@example.org> FOO=bar\r\n"),
	    "555 5.5.4 Unsupported parameter FOO\r\n", "unknown parameter");
	is_str(say(s, "MAIL FROM:<a@example.org> AUTH=<>\r\n"),
	    "555 5.5.4 Unsupported parameter AUTH\r\n", "AUTH= while AUTH is not offered");
	is_str(say(s, "MAIL FROM:<a@example.org> SIZE=x\r\n"),
	    "501 5.5.4 Syntax error in parameters\r\n", "malformed parameter");
	is_str(say(s, "MAIL FROM:a@example.org\r\n"), "501 5.1.7 Bad sender address syntax\r\n",
	    "no angle brackets");
	is_str(say(s, "MAIL FROM:<a>\r\n"), "553 5.1.7 Sender address must contain a domain\r\n",
	    "sender without domain");
	is_str(say(s, "MAIL TO:<a@example.org>\r\n"), "501 5.5.4 Syntax: MAIL FROM:<address>\r\n",
	    "MAIL without FROM:");
	is_str(say(s, "MAIL FROM: <a@example.org>\r\n"), "250 2.1.0 Sender ok\r\n",
	    "space after the colon tolerated");
	say(s, "RSET\r\n");
	is_str(say(s, "mail from:<>\r\n"), "250 2.1.0 Sender ok\r\n", "null sender, lower case");
	say(s, "RSET\r\n");
	fq.ready = 0;
	is_str(say(s, "MAIL FROM:<a@example.org>\r\n"),
	    "451 4.3.0 Queue manager unavailable, try again later\r\n", "no qmgr: 451");
	sess_close(s);
}

static const char *
rcpt(struct smtp_session *s, const char *addr)
{
	static char line[1024];

	snprintf(line, sizeof line, "RCPT TO:%s\r\n", addr);
	return say(s, line);
}

static void
test_relay(void)
{
	struct smtp_session *s;
	static const char ok250[] = "250 2.1.5 Recipient ok\r\n";
	static const char rat550[] = "550 5.7.1 Recipient address rejected: Access denied\r\n";
	static const char relay550[] = "550 5.7.1 Relaying denied\r\n";
	static const char *const refused[] = {
		"<joe@evil.test>",
		"<spam@example.com>",			/* RAT reject entry first */
		"<user%evil.test@example.com>",		/* % hack aimed at us */
		"<user%example.com@evil.test>",
		"<evil.test!user@example.com>",		/* bang path */
		"<@example.com:joe@evil.test>",		/* source route is ignored */
		"<\"joe@example.com\"@evil.test>",	/* quoted @ does not move the domain */
		"<\"joe@evil.test\"@example.com>",	/* quoted routing aimed at us */
		"<joe@example.com.evil.test>",
		"<joe@evil.test.>",
		"<joe@sub.example.net>",		/* .sub.example.net: subdomains only */
		"<joe@[192.0.2.1]>",			/* literal, not in the RAT */
		"<joe@[IPv6:2001:db8::1]>",
		"<joe@xn--exmple-cua.com>",		/* look-alike of example.com */
	};
	static const char *const accepted[] = {
		"<joe@example.com>",
		"<JOE@EXAMPLE.COM>",
		"<joe@example.com.>",			/* trailing dot */
		"<@evil.test:joe@example.com>",		/* route ignored, domain ours */
		"<joe@x.sub.example.net>",
		"<joe@xn--bcher-kva.example>",		/* IDN in A-labels */
		"<\"joe smith\"@example.com>",
	};
	size_t i;
	int all;

	log_start();
	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\n");
	for (i = 0, all = 1; i < sizeof refused / sizeof refused[0]; i++) {
		say(s, "RSET\r\nMAIL FROM:<a@example.org>\r\n");
		if (strcmp(rcpt(s, refused[i]), rat550) != 0) {
			all = 0;
			printf("# %s: %s", refused[i], acc.data);
		}
	}
	ok(all, "public listener: RAT and relay tricks refused (%zu cases)", i);
	is(fq.rejected, i, "each refused recipient counted as Rejected Recipients");
	ok(log_has("ICID 7 refused 'RCPT TO:<joe@evil.test>': 550 5.7.1 Recipient address "
	    "rejected: Access denied"), "refusal logged with ICID");
	sess_close(s);

	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\n");
	for (i = 0, all = 1; i < sizeof accepted / sizeof accepted[0]; i++) {
		say(s, "RSET\r\nMAIL FROM:<a@example.org>\r\n");
		if (strcmp(rcpt(s, accepted[i]), ok250) != 0) {
			all = 0;
			printf("# %s: %s", accepted[i], acc.data);
		}
	}
	ok(all, "public listener: RAT accepts its domains (%zu cases)", i);
	is(fq.rejected, 0, "nothing counted");

	say(s, "RSET\r\nMAIL FROM:<a@example.org>\r\n");
	is_str(rcpt(s, "<joe@bücher.example>"), "553 5.6.7 UTF-8 address needs SMTPUTF8\r\n",
	    "IDN in UTF-8 without SMTPUTF8");
	say(s, "RSET\r\nMAIL FROM:<a@example.org> SMTPUTF8\r\n");
	is_str(rcpt(s, "<joe@bücher.example>"), ok250, "IDN with SMTPUTF8: RAT U-label entry");
	is_str(rcpt(s, "<jörg@bücher.example>"), ok250, "UTF-8 local part too");
	is_str(rcpt(s, "<joe@exаmple.com>"), rat550, "Cyrillic look-alike domain refused");
	say(s, "RSET\r\nMAIL FROM:<a@example.org>\r\n");
	is_str(rcpt(s, "<postmaster>"), ok250, "bare <postmaster> accepted");
	is_str(rcpt(s, "<Postmaster>"), ok250, "any case");
	is_str(rcpt(s, "<nobody>"), "553 5.1.3 Recipient address must contain a domain\r\n",
	    "other bare local part refused");
	is_str(rcpt(s, "<>"), "501 5.1.3 Bad recipient address syntax\r\n", "null recipient");
	is_str(rcpt(s, "joe@example.com"), "501 5.1.3 Bad recipient address syntax\r\n",
	    "no brackets");
	is_str(say(s, "RCPT <joe@example.com>\r\n"), "501 5.5.4 Syntax: RCPT TO:<address>\r\n",
	    "RCPT without TO:");
	is_str(rcpt(s, "<joe@example.com> NOTIFY=NEVER"), "555 5.5.4 Unsupported parameter\r\n",
	    "RCPT parameters not offered");
	is(fq.rejected, 7, "those refusals counted too");
	sess_close(s);

	/* Too many recipients: policy max 3. */
	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\n");
	is_str(say(s, "RCPT TO:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
	    "RCPT TO:<c@example.com>\r\nRCPT TO:<d@example.com>\r\n"),
	    "250 2.1.5 Recipient ok\r\n250 2.1.5 Recipient ok\r\n250 2.1.5 Recipient ok\r\n"
	    "452 4.5.3 Too many recipients\r\n", "fourth recipient: 452 4.5.3");
	is(fq.rejected, 1, "counted");
	say(s, "DATA\r\nhi\r\n.\r\n");
	is_str(fq.rcpts, "a@example.com b@example.com c@example.com", "three recipients queued");
	ok(strstr(fq.data.data, "id 100;\r\n\t") != NULL && strstr(fq.data.data, "\tfor <") == NULL,
	    "several recipients: no 'for' clause");
	commit(s, COMMIT_OK, "");
	sess_close(s);

	/* Private listener: relays only for RELAY hosts. */
	log_start();
	s = sess_open("Out", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\n");
	is_str(rcpt(s, "<joe@example.com>"), relay550, "private, ACCEPT host: Relaying denied");
	is_str(rcpt(s, "<joe@evil.test>"), relay550, "any domain");
	is_str(rcpt(s, "<user%evil.test@example.com>"), relay550, "%% hack");
	is_str(rcpt(s, "<\"joe@evil.test\"@example.com>"), relay550, "quoted local part with @");
	is_str(rcpt(s, "<joe@[127.0.0.1]>"), relay550, "literal");
	ok(log_has("ICID 7 refused 'RCPT TO:<joe@example.com>': 550 5.7.1 Relaying denied"),
	    "logged");
	sess_close(s);

	s = sess_open("Out", "127.0.0.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\n");
	is_str(rcpt(s, "<joe@anywhere.test>"), ok250, "private, RELAY host: any domain");
	is_str(rcpt(s, "<joe@[192.0.2.9]>"), ok250, "literal too");
	is_str(rcpt(s, "<user%evil.test@example.com>"), ok250, "and routing in the local part");
	sess_close(s);

	s = sess_open("In", "192.0.2.10");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\n");
	is_str(rcpt(s, "<joe@evil.test>"), ok250, "public listener, RELAY policy: any domain");
	is(fq.rejected, 0, "nothing refused");
	sess_close(s);
}

static void
test_data(void)
{
	struct smtp_session *s;
	struct buf m;
	const char *r;
	size_t i;

	/* HELO: SMTP in Received, no enhanced code in the final 250. */
	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "HELO old.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"
	    "DATA\r\nx\r\n.\r\n");
	ok(strstr(fq.data.data, "with SMTP id 100\r\n") != NULL, "HELO: with SMTP");
	is_str(commit(s, COMMIT_OK, ""), "250 ok: Message 100 accepted\r\n",
	    "HELO: 250 without 2.0.0");
	sess_close(s);

	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<jörg@example.org> SMTPUTF8\r\nRCPT TO:<b@example.com>\r\n"
	    "DATA\r\nx\r\n.\r\n");
	ok(strstr(fq.data.data, "with UTF8SMTP id 100\r\n") != NULL, "SMTPUTF8: with UTF8SMTP");
	is(fq.flags, MSGF_SMTPUTF8, "SMTPUTF8 flag");
	commit(s, COMMIT_OK, "");
	sess_close(s);

	/* Bare LF in DATA: 521 and close at once. */
	log_start();
	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
	r = say(s, "Subject: x\r\n\r\nline\n.\nMAIL FROM:<evil@example.org>\r\n");
	is_str(r, "521 5.5.2 mx.test Bare CR or LF in message data; closing\r\n",
	    "bare LF in DATA: 521");
	is(smtp_session_state(s), SMTP_CLOSED, "closed at once, nothing smuggled");
	is(fq.aborts, 1, "QMSG_ABORT sent");
	is(fq.ends, 0, "no END");
	ok(log_has("ICID 7 MID 100 message refused: bare LF in message data; closing"), "logged");
	sess_close(s);

	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
	is_str(say(s, "a\rb\r\n.\r\n"), "521 5.5.2 mx.test Bare CR or LF in message data; "
	    "closing\r\n", "bare CR in DATA: 521");
	is(fq.aborts, 1, "aborted");
	sess_close(s);

	/* Long line: read to the end, then 554, session goes on. */
	log_start();
	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
	buf_init(&m, 0);
	for (i = 0; i < 999; i++)
		buf_puts(&m, "L");
	buf_puts(&m, "\r\nmore\r\n.\r\nNOOP\r\n");
	is_str(say_n(s, m.data, m.len), "554 5.6.0 Line too long (limit 998)\r\n250 2.0.0 Ok\r\n",
	    "line over 998: 554 5.6.0 at the end marker, then commands again");
	is(fq.aborts, 1, "aborted");
	is(fq.ends, 0, "not ended");
	ok(log_has("ICID 7 MID 100 message refused: 554 5.6.0 Line too long (limit 998)"),
	    "logged");
	buf_free(&m);
	is_str(say(s, "MAIL FROM:<a@example.org>\r\n"), "250 2.1.0 Sender ok\r\n",
	    "transaction was reset");
	is(fq.violations, 0, "clean");
	sess_close(s);

	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
	is_str(say_n(s, "a\0b\r\n.\r\n", 8), "554 5.6.0 NUL byte in message data\r\n",
	    "NUL: 554 5.6.0");
	is(fq.aborts, 1, "aborted");
	sess_close(s);

	/* Size, not announced: SMALL policy allows 100 stored octets. */
	s = sess_open("In", "192.0.2.20");
	banner(s);
	ok(strstr(say(s, "EHLO c\r\n"), "250-SIZE 100\r\n") != NULL, "EHLO SIZE from the policy");
	say(s, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
	buf_init(&m, 0);
	for (i = 0; i < 10; i++)
		buf_puts(&m, "0123456789012345678\r\n");
	buf_puts(&m, ".\r\n");
	is_str(say_n(s, m.data, m.len),
	    "552 5.3.4 Message size exceeds fixed maximum message size\r\n",
	    "size over the max, not announced: 552 at the end");
	is(fq.aborts, 1, "aborted");
	buf_free(&m);
	say(s, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
	buf_init(&m, 0);
	for (i = 0; i < 4; i++)
		buf_puts(&m, "0123456789012345678\r\n");
	buf_puts(&m, "01234567890123\r\n.\r\n");
	is_str(say_n(s, m.data, m.len), "", "exactly 100 octets: fine, waiting for commit");
	is(fq.ends, 1, "ended");
	ok(fq.end_size > 100, "the Received: header is not counted against the limit");
	commit(s, COMMIT_OK, "");
	is_str(say(s, "MAIL FROM:<a@example.org> SIZE=101\r\n"),
	    "552 5.3.4 Message size exceeds fixed maximum message size\r\n",
	    "size announced: 552 at MAIL");
	buf_free(&m);
	sess_close(s);

	/* A big message streams in frames of at most 64 KiB. */
	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n");
	buf_init(&m, 0);
	for (i = 0; i < 20000; i++)
		buf_puts(&m, "The quick brown fox jumps over the lazy dog. 0123456789\r\n");
	buf_puts(&m, ".\r\n");
	say_n(s, m.data, m.len);
	is(fq.ends, 1, "big message ended");
	ok(fq.max_frame <= SMTP_DATA_FRAME && fq.max_frame > 60000, "frames up to 64 KiB (%zu)",
	    fq.max_frame);
	is(fq.end_size, fq.data.len, "size matches");
	ok(fq.data.len > m.len - 3, "all of it");
	commit(s, COMMIT_OK, "");
	buf_free(&m);
	is(fq.violations, 0, "clean");
	sess_close(s);

	/* Dropped in the middle of DATA. */
	log_start();
	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\npart");
	smtp_session_lost(s);
	is(fq.aborts, 1, "client drop: aborted");
	ok(log_has("ICID 7 lost connection during DATA; MID 100 not queued"), "logged");
	sess_close(s);
	ok(log_has("ICID 7 close (connection lost)"), "close reason");

	/* EOF right after the end marker and QUIT: all is answered. */
	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
	    "x\r\n.\r\nQUIT\r\n");
	smtp_session_eof(s);
	is(smtp_session_state(s), SMTP_WAIT_COMMIT, "EOF while waiting: still waiting");
	is_str(commit(s, COMMIT_OK, ""), "250 2.0.0 ok: Message 100 accepted\r\n221 2.0.0 Bye\r\n",
	    "then answered and QUIT");
	sess_close(s);

	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\npart");
	smtp_session_eof(s);
	is(smtp_session_state(s), SMTP_CLOSED, "EOF inside DATA: closed");
	is(fq.aborts, 1, "aborted");
	sess_close(s);

	/* No MID left, begin failing. */
	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n");
	fq.mids_left = 0;
	is_str(say(s, "DATA\r\n"), "451 4.3.0 Queue manager unavailable, try again later\r\n",
	    "no MID: 451");
	fq.mids_left = 5;
	fq.begin_fail = 1;
	is_str(say(s, "DATA\r\n"), "451 4.3.0 Queue manager unavailable, try again later\r\n",
	    "BEGIN failed: 451");
	fq.begin_fail = 0;
	fq.ready = 0;
	is_str(say(s, "DATA\r\n"), "451 4.3.0 Queue manager unavailable, try again later\r\n",
	    "qmgr gone before DATA: 451");
	fq.ready = 1;
	is(smtp_session_state(s), SMTP_CMD, "still in command mode");

	/* MID block used up but more coming: DATA waits, then goes on. */
	fq.mid_later = 1;
	is_str(say(s, "DATA\r\nSubject: w\r\n\r\nbody\r\n.\r\nQUIT\r\n"), "",
	    "no MID yet: DATA waits without an answer");
	is(smtp_session_state(s), SMTP_WAIT_MID, "waiting for a MID");
	is(smtp_session_input_room(s), 0, "reading nothing meanwhile");
	fq.mid_later = 0;
	buf_reset(&acc);
	smtp_session_mid_ready(s);
	pump(s);
	is_str(acc.data, "354 End data with <CR><LF>.<CR><LF>\r\n", "MIDs came: 354");
	is(fq.ends, 1, "and the message went through");
	ok(strstr(fq.data.data, "Subject: w\r\n\r\nbody\r\n") != NULL, "with its body");
	is_str(commit(s, COMMIT_OK, ""), "250 2.0.0 ok: Message 101 accepted\r\n221 2.0.0 Bye\r\n",
	    "committed, then QUIT");
	sess_close(s);

	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n");
	fq.mid_later = 1;
	say(s, "DATA\r\n");
	fq.ready = 0;
	buf_reset(&acc);
	smtp_session_qmgr_lost(s);
	pump(s);
	is_str(acc.data, "451 4.3.0 Queue manager unavailable, try again later\r\n",
	    "qmgr lost while waiting for a MID: 451");
	is(smtp_session_state(s), SMTP_CMD, "back to commands");
	is(fq.begins, 0, "nothing begun");
	sess_close(s);

	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n");
	fq.mid_later = 1;
	say(s, "DATA\r\n");
	buf_reset(&acc);
	smtp_session_timeout(s, SMTP_TIMEOUT_IDLE);
	take(s);
	is_str(acc.data, "421 4.4.2 mx.test Error: timeout exceeded\r\n",
	    "timeout while waiting for a MID: 421");
	sess_close(s);
}

static void
test_commit_and_qmgr(void)
{
	struct smtp_session *s;

	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
	    "x\r\n.\r\n");
	is_str(commit(s, COMMIT_TEMPFAIL, "452 4.3.1 Insufficient system storage"),
	    "452 4.3.1 Insufficient system storage\r\n", "commit failure: qmgr's text");
	is_str(say(s, "MAIL FROM:<a@example.org>\r\n"), "250 2.1.0 Sender ok\r\n", "reset after");
	sess_close(s);

	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "HELO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
	    "x\r\n.\r\n");
	is_str(commit(s, COMMIT_TEMPFAIL, "452 4.3.1 Insufficient system storage"),
	    "452 Insufficient system storage\r\n", "after HELO the enhanced code is dropped");
	sess_close(s);

	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
	    "x\r\n.\r\n");
	is_str(commit(s, COMMIT_TEMPFAIL, "250 sneaky\r\n"), "451 4.3.0 Local error in "
	    "processing\r\n", "a bogus qmgr text is not passed on");
	sess_close(s);

	/* qmgr dies while the message streams: read to the end, then 451. */
	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
	    "first part\r\n");
	smtp_session_qmgr_lost(s);
	fq.open = 0;	/* the channel is gone: nothing more may be sent on it */
	fq.ready = 0;
	is_str(say(s, "second part\r\n.\r\n"),
	    "451 4.3.0 Queue manager unavailable; message not accepted\r\n",
	    "qmgr lost during DATA: 451 at the end marker");
	is(fq.aborts, 0, "no ABORT on a dead channel");
	is(fq.ends, 0, "no END");
	is(fq.violations, 0, "nothing sent after the loss");
	is_str(say(s, "MAIL FROM:<a@example.org>\r\n"),
	    "451 4.3.0 Queue manager unavailable, try again later\r\n", "and MAIL now gets 451");
	sess_close(s);

	/* qmgr dies while we wait for the commit. */
	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
	    "x\r\n.\r\nNOOP\r\n");
	buf_reset(&acc);
	smtp_session_qmgr_lost(s);
	pump(s);
	is_str(acc.data, "451 4.3.0 Queue manager unavailable; message not accepted\r\n"
	    "250 2.0.0 Ok\r\n", "qmgr lost while waiting: 451, then the pipelined NOOP");
	sess_close(s);
}

static void
test_timeouts_and_drain(void)
{
	struct smtp_session *s;

	log_start();
	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\n");
	buf_reset(&acc);
	smtp_session_timeout(s, SMTP_TIMEOUT_IDLE);
	take(s);
	is_str(acc.data, "421 4.4.2 mx.test Error: timeout exceeded\r\n", "idle timeout: 421");
	is(smtp_session_state(s), SMTP_CLOSED, "closed");
	ok(log_has("ICID 7 idle timeout"), "logged");
	sess_close(s);
	ok(log_has("ICID 7 close (idle timeout)"), "close reason");

	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nx");
	buf_reset(&acc);
	smtp_session_timeout(s, SMTP_TIMEOUT_SESSION);
	take(s);
	is_str(acc.data, "421 4.4.2 mx.test Error: timeout exceeded\r\n", "session timeout: 421");
	is(fq.aborts, 1, "in DATA: aborted");
	sess_close(s);

	s = sess_open("In", "192.0.2.1");
	banner(s);
	buf_reset(&acc);
	smtp_session_shutdown(s);
	take(s);
	is_str(acc.data, "421 4.3.2 mx.test Service shutting down\r\n", "drain: 421 4.3.2");
	is(smtp_session_state(s), SMTP_CLOSED, "closed");
	sess_close(s);

	s = sess_open("In", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
	    "x\r\n.\r\n");
	buf_reset(&acc);
	smtp_session_shutdown(s);
	take(s);
	is_str(acc.data ? acc.data : "", "", "drain while waiting for the commit: wait");
	is_str(commit(s, COMMIT_OK, ""), "250 2.0.0 ok: Message 100 accepted\r\n"
	    "421 4.3.2 mx.test Service shutting down\r\n", "answer first, then 421");
	is(smtp_session_state(s), SMTP_CLOSED, "closed");
	sess_close(s);
}

static void
test_sinkhole(void)
{
	struct smtp_session *s;

	log_start();
	s = sess_open("Sink", "203.0.113.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\n");
	is_str(rcpt(s, "<anyone@anywhere.test>"), "250 2.1.5 Recipient ok\r\n",
	    "sinkhole accepts any recipient");
	is_str(say(s, "DATA\r\nSubject: s\r\n\r\nx\r\n.\r\n"),
	    "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 ok: Message 100 accepted\r\n",
	    "queueless sinkhole answers at once");
	is(fq.begins, 0, "nothing to qmgr");
	is(fq.dropped, 1, "counted as a Dropped Message");
	ok(log_has("MID 100 discarded by sinkhole listener Sink"), "logged as discarded");
	sess_close(s);

	conns_ip = 601;
	s = sess_open("Sink", "203.0.113.1");
	is_str(banner(s), "421 4.7.0 mx.test Too many connections from your host\r\n",
	    "sinkhole default: 600 connections per address (the policy sets none)");
	sess_close(s);
	conns_ip = 600;
	s = sess_open("Sink", "203.0.113.1");
	is_str(banner(s), "220 mx.test ESMTP Sallyport\r\n", "600th connection served");
	sess_close(s);
	conns_ip = 0;

	s = sess_open("SinkQ", "203.0.113.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<x@anywhere.test>\r\nDATA\r\n"
	    "x\r\n.\r\n");
	is(fq.begins, 1, "queueing sinkhole goes to qmgr");
	is(fq.flags, MSGF_DROP, "with MSGF_DROP");
	commit(s, COMMIT_OK, "");
	sess_close(s);
}

/* ---- issue 3: inbound policy ---- */

static const char yaml3[] =
    "hostname: mx.test\n"
    "smtpd: { max_errors: 50 }\n"
    "aliases:\n"
    "  team@example.com: [ann@example.com, bob@elsewhere.example]\n"
    "  void@example.com: /dev/null\n"
    "  trash@: /dev/null\n"
    "listeners:\n"
    "  - name: In\n"
    "    type: public\n"
    "    address: 127.0.0.1\n"
    "    port: 2525\n"
    "    default_policy: DEF\n"
    "    default_domain: example.com\n"
    "    domain_map: { old.example: example.com, .legacy.example: example.com }\n"
    "    hat:\n"
    "      - { group: LISTED, match: [\"dnsbl:bl.test\"], policy: BLOCKED }\n"
    "      - { group: NAMED, match: [.good.test], policy: NAMED }\n"
    "      - { group: LIMITED, match: [\"192.0.2.0/24\"], policy: LIMITED }\n"
    "      - { group: CHECKED, match: [\"198.51.100.77\"], policy: VERIFY }\n"
    "      - { group: ALL, match: [ALL], policy: PLAIN }\n"
    "    rat:\n"
    "      - { match: vip.example, action: accept, bypass_rate_limit: true, "
    "reply: \"250 2.1.5 welcome VIP\" }\n"
    "      - { match: nobody@example.com, action: reject, reply: \"550 5.1.1 no such user\" }\n"
    "      - { match: example.com, action: accept }\n"
    "      - { match: ALL, action: reject }\n"
    "  - name: Out\n"
    "    type: private\n"
    "    address: 127.0.0.1\n"
    "    port: 2526\n"
    "    masquerade: { \"@int.example\": \"@example.com\", \"boss@int.example\": \"ceo@example.com\" }\n"
    "    hat:\n"
    "      - { group: RELAYLIST, match: [\"127.0.0.0/8\"], policy: RELAYED }\n"
    "policies:\n"
    "  DEF: { max_rcpts_per_hour: 3, max_rcpts_per_hour_text: \"slow down please\", "
    "dhap_max_invalid_rcpts_per_hour: 2, max_conns_per_ip: 2 }\n"
    "  LIMITED: { max_msgs_per_conn: 1, banner_code: 220, banner_text: \"limited here\" }\n"
    "  PLAIN: { max_rcpts_per_hour: 0, dhap_max_invalid_rcpts_per_hour: 0, max_conns_per_ip: 0 }\n"
    "  NAMED: { banner_text: \"hello named\" }\n"
    "  BLOCKED: { action: reject, reject_banner_code: 554, reject_banner_text: \"go away\" }\n"
    "  RELAYED: { action: relay }\n"
    "  VERIFY: { verify_sender_domain: true, verify_sender_code: 550 }\n";

static void
open_ehlo_mail(struct smtp_session *s)
{
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@client.test>\r\n");
}

static void
test_inbound_policy(void)
{
	struct smtp_session *s;
	static const char ok250[] = "250 2.1.5 Recipient ok\r\n";
	int i;

	rates = rate_table_new(16);

	/* DNS facts: a listed client, a verified name, a name that is not. */
	listed_zone = "bl.test";
	s = sess_open("In", "203.0.113.5");
	is_str(banner(s), "554 go away\r\n", "DNS list: the reject banner of the policy");
	sess_close(s);
	listed_zone = NULL;
	ptr_name = "mx.good.test";
	ptr_verified = 1;
	log_start();
	s = sess_open("In", "203.0.113.6");
	is_str(banner(s), "220 hello named\r\n", "verified name matches the .suffix group");
	ok(log_has("reverse dns host mx.good.test verified yes"), "logged as verified");
	ok(log_has("ICID 7 ACCEPT SG NAMED match .good.test SBRS None"), "SG NAMED logged");
	sess_close(s);
	ptr_verified = 0;
	s = sess_open("In", "203.0.113.6");
	is_str(banner(s), "220 mx.test ESMTP Sallyport\r\n", "unverified name: no name match");
	sess_close(s);
	ptr_name = NULL;

	/* max_conns_per_ip from the default policy (PLAIN sets 0: unlimited). */
	conns_ip = 3;
	log_start();
	s = sess_open("In", "192.0.2.1");
	is_str(banner(s), "421 4.7.0 mx.test Too many connections from your host\r\n",
	    "third connection from one address over max_conns_per_ip 2 (default policy)");
	is(smtp_session_state(s), SMTP_CLOSED, "and closed");
	ok(log_has("too many connections from 192.0.2.1 (3, limit 2)"), "logged");
	sess_close(s);
	s = sess_open("In", "198.51.100.1");
	is_str(banner(s), "220 mx.test ESMTP Sallyport\r\n", "PLAIN overrides the limit with 0");
	sess_close(s);
	conns_ip = 2;
	s = sess_open("In", "192.0.2.1");
	is_str(banner(s), "220 limited here\r\n", "at the limit: served, with the custom banner");

	/* max_msgs_per_conn 1. */
	say(s, "EHLO c\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<x@example.com>\r\n");
	say(s, "DATA\r\nx\r\n.\r\n");
	is_str(commit(s, COMMIT_OK, ""), "250 2.0.0 ok: Message 100 accepted\r\n", "first message");
	is_str(say(s, "MAIL FROM:<a@client.test>\r\n"),
	    "421 4.7.0 mx.test Too many messages in this connection\r\n",
	    "second message in the connection: 421");
	is(smtp_session_state(s), SMTP_CLOSED, "connection closed after max_msgs_per_conn");
	sess_close(s);
	conns_ip = 0;

	/* Hourly recipient limit 3 per sending IP, across connections. */
	log_start();
	s = sess_open("In", "192.0.2.7");
	open_ehlo_mail(s);
	is_str(rcpt(s, "<a@example.com>"), ok250, "rate: 1");
	is_str(rcpt(s, "<b@example.com>"), ok250, "rate: 2");
	is_str(rcpt(s, "<v@vip.example>"), "250 2.1.5 welcome VIP\r\n",
	    "RAT accept with a custom reply; bypass_rate_limit does not count");
	is_str(rcpt(s, "<c@example.com>"), ok250, "rate: 3");
	sess_close(s);
	s = sess_open("In", "192.0.2.7");
	open_ehlo_mail(s);
	is_str(rcpt(s, "<d@example.com>"), "452 4.7.0 slow down please\r\n",
	    "4th recipient this hour, next connection: 452 with the policy text");
	is(fq.ratehits, 1, "Rate Limit Hits counted");
	ok(log_has("ICID 7 Rate limit: 3 recipients per hour from 192.0.2.7 reached; answered 452"),
	    "rate limit logged with the ICID");
	is_str(rcpt(s, "<w@vip.example>"), "250 2.1.5 welcome VIP\r\n",
	    "bypass_rate_limit entry still accepted past the limit");
	sess_close(s);
	s = sess_open("In", "192.0.2.8");
	open_ehlo_mail(s);
	is_str(rcpt(s, "<d@example.com>"), ok250, "another address has its own count");
	sess_close(s);
	fake_now += 30 * 60;
	s = sess_open("In", "192.0.2.7");
	open_ehlo_mail(s);
	is_str(rcpt(s, "<d@example.com>"), "452 4.7.0 slow down please\r\n",
	    "half an hour later: still limited");
	sess_close(s);
	fake_now += 31 * 60 + RATE_BUCKET_SECS;
	s = sess_open("In", "192.0.2.7");
	open_ehlo_mail(s);
	is_str(rcpt(s, "<d@example.com>"), ok250, "an hour later: accepted again");
	sess_close(s);

	/* DHAP: the 3rd invalid recipient in an hour (limit 2) drops. */
	log_start();
	s = sess_open("In", "192.0.2.9");
	open_ehlo_mail(s);
	is_str(rcpt(s, "<x@nowhere.example>"),
	    "550 5.7.1 Recipient address rejected: Access denied\r\n", "invalid 1: 550 5.7.1");
	is_str(rcpt(s, "<nobody@example.com>"), "550 5.1.1 no such user\r\n",
	    "invalid 2: the RAT entry's custom reply");
	is_str(rcpt(s, "<y@nowhere.example>"),
	    "421 4.7.0 mx.test Too many invalid recipients; closing\r\n", "invalid 3: dropped");
	is(smtp_session_state(s), SMTP_CLOSED, "DHAP closes the connection");
	is(fq.dhap, 1, "DHAP hit counted");
	is(fq.rejected, 3, "each one a Rejected Recipient");
	ok(log_has("ICID 7 DHAP: 3 invalid recipients from 192.0.2.9 in the last hour (limit 2)"),
	    "DHAP logged with the ICID");
	sess_close(s);
	s = sess_open("In", "192.0.2.9");
	open_ehlo_mail(s);
	is_str(rcpt(s, "<z@nowhere.example>"),
	    "421 4.7.0 mx.test Too many invalid recipients; closing\r\n",
	    "the next connection within the hour is dropped at once");
	sess_close(s);

	/* Rewriting: default domain, domain map, aliases, /dev/null. */
	log_start();
	s = sess_open("In", "198.51.100.2");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<joe>\r\n");
	is_str(rcpt(s, "<ann>"), ok250, "bare local part accepted with the default domain");
	is_str(rcpt(s, "<carl@old.example>"), ok250, "domain map: old.example");
	is_str(rcpt(s, "<dan@x.legacy.example>"), ok250, "domain map: .legacy.example");
	is_str(rcpt(s, "<team@example.com>"), ok250, "alias");
	is_str(rcpt(s, "<void@example.com>"), ok250, "alias to /dev/null: accepted");
	say(s, "DATA\r\nx\r\n.\r\n");
	is_str(fq.sender, "joe@example.com", "sender got the default domain");
	is_str(fq.rcpts, "ann@example.com carl@example.com dan@example.com ann@example.com "
	    "bob@elsewhere.example", "recipients rewritten in order, alias expanded, /dev/null gone");
	ok(log_has("recipient <carl@old.example> -> <carl@example.com> (domain map)"),
	    "domain map logged");
	ok(log_has("alias <void@example.com> -> /dev/null (dropped)"), "drop logged");
	commit(s, COMMIT_OK, "");
	say(s, "MAIL FROM:<a@client.test>\r\nRCPT TO:<trash@example.com>\r\n");
	is_str(say(s, "DATA\r\nx\r\n.\r\n"),
	    "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 ok: Message 101 accepted\r\n",
	    "only /dev/null recipients: read and discarded");
	is(fq.begins, 1, "nothing queued for it (only the first message was)");
	is(fq.dropped, 1, "counted as a Dropped Message");
	sess_close(s);

	/* Masquerading on the private listener. */
	s = sess_open("Out", "127.0.0.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<boss@int.example>\r\nRCPT TO:<x@dest.example>\r\nDATA\r\n"
	    "x\r\n.\r\n");
	is_str(fq.sender, "ceo@example.com", "masquerade: whole address entry");
	commit(s, COMMIT_OK, "");
	say(s, "MAIL FROM:<pat@INT.example>\r\nRCPT TO:<x@dest.example>\r\nDATA\r\nx\r\n.\r\n");
	is_str(fq.sender, "pat@example.com", "masquerade: domain entry");
	commit(s, COMMIT_OK, "");
	say(s, "MAIL FROM:<>\r\nRCPT TO:<x@dest.example>\r\nDATA\r\nx\r\n.\r\n");
	is_str(fq.sender, "", "null sender left alone");
	commit(s, COMMIT_OK, "");
	sess_close(s);

	/* verify_sender_domain: malformed at once, the rest asks DNS. */
	verify_calls = 0;
	s = sess_open("In", "198.51.100.77");
	banner(s);
	say(s, "EHLO c\r\n");
	is_str(say(s, "MAIL FROM:<a@localhost>\r\n"),
	    "550 5.1.8 Sender address rejected: Domain not found (malformed)\r\n",
	    "verify: a domain without a dot is malformed (policy code 550)");
	is(verify_calls, 0, "no DNS for a malformed domain");
	is_str(say(s, "MAIL FROM:<a@Gone.Example>\r\nRCPT TO:<b@example.com>\r\n"), "",
	    "verify: waiting for DNS, pipelined RCPT held");
	is(smtp_session_state(s), SMTP_WAIT_DNS, "state SMTP_WAIT_DNS");
	is_str(verify_domain, "gone.example", "asked about the domain in A-labels, lower case");
	buf_reset(&acc);
	smtp_session_sender_verified(s, SMTP_VERIFY_NXDOMAIN);
	pump(s);
	is_str(acc.data, "550 5.1.8 Sender address rejected: Domain not found (does not resolve)"
	    "\r\n503 5.5.1 Error: need MAIL command\r\n", "NXDOMAIN: 550, then the held RCPT");
	say(s, "MAIL FROM:<a@slow.example>\r\n");
	buf_reset(&acc);
	smtp_session_sender_verified(s, SMTP_VERIFY_TEMPFAIL);
	pump(s);
	is_str(acc.data, "451 4.1.8 Sender address rejected: Domain lookup failed, try again "
	    "later\r\n", "DNS failure: the tempfail code");
	say(s, "MAIL FROM:<a@fine.example>\r\n");
	buf_reset(&acc);
	smtp_session_sender_verified(s, SMTP_VERIFY_OK);
	pump(s);
	is_str(acc.data, "250 2.1.0 Sender ok\r\n", "resolving domain: sender ok");
	is_str(say(s, "MAIL FROM:<>\r\nRSET\r\n"), "503 5.5.1 Error: nested MAIL command\r\n"
	    "250 2.0.0 Ok\r\n", "transaction open after the verified MAIL");
	verify_calls = 0;
	say(s, "MAIL FROM:<>\r\n");
	is(verify_calls, 0, "the null sender is not verified");
	sess_close(s);
	s = sess_open("In", "198.51.100.78");
	banner(s);
	is_str(say(s, "EHLO c\r\nMAIL FROM:<a@localhost>\r\n") + strlen("250-mx.test\r\n"
	    "250-PIPELINING\r\n250-SIZE 10485760\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
	    "250 ENHANCEDSTATUSCODES\r\n"), "250 2.1.0 Sender ok\r\n",
	    "policies without verify_sender_domain do not check");
	sess_close(s);

	/* Resource conservation: 999 refuses new mail with 452. */
	fake_rescon = 999;
	s = sess_open("In", "198.51.100.3");
	banner(s);
	is_str(say(s, "EHLO c\r\nMAIL FROM:<a@client.test>\r\n") + strlen("250-mx.test\r\n"
	    "250-PIPELINING\r\n250-SIZE 10485760\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
	    "250 ENHANCEDSTATUSCODES\r\n"),
	    "452 4.3.1 Insufficient system resources (resource conservation), try again later\r\n",
	    "gauge 999: MAIL FROM gets 452");
	fake_rescon = 30;
	is_str(say(s, "MAIL FROM:<a@client.test>\r\n"), "250 2.1.0 Sender ok\r\n",
	    "below 999: mail accepted (smtpd slows connections instead)");
	sess_close(s);

	for (i = 0; i < 40; i++) {
		char ip[32];

		snprintf(ip, sizeof ip, "10.1.1.%d", i);
		rate_table_add(rates, RATE_RCPTS, ip, 1, fake_now);
	}
	is(rate_table_size(rates), 16, "rate table bounded (least recently used forgotten)");
	rate_table_free(rates);
	rates = NULL;
}

/* ---- STARTTLS and AUTH ---- */

static const char yaml_tls[] =
    "hostname: mx.test\n"
    "smtpd: { max_errors: 50 }\n"
    "auth: { max_failures: 3, max_failures_per_ip: 5 }\n"
    "listeners:\n"
    "  - { name: Off, type: public, address: 127.0.0.1, port: 2530,\n"
    "      hat: [ { group: ALL, match: [ALL], policy: OFF } ],\n"
    "      rat: [ { match: example.com, action: accept }, { match: ALL, action: reject } ] }\n"
    "  - { name: Pref, type: public, address: 127.0.0.1, port: 2531,\n"
    "      hat: [ { group: ALL, match: [ALL], policy: PREF } ],\n"
    "      rat: [ { match: example.com, action: accept }, { match: ALL, action: reject } ] }\n"
    "  - { name: Req, type: public, address: 127.0.0.1, port: 2532,\n"
    "      hat: [ { group: ALL, match: [ALL], policy: REQ } ],\n"
    "      rat: [ { match: example.com, action: accept }, { match: ALL, action: reject } ] }\n"
    "  - { name: AuthReq, type: public, address: 127.0.0.1, port: 2533,\n"
    "      hat: [ { group: ALL, match: [ALL], policy: AREQ } ],\n"
    "      rat: [ { match: example.com, action: accept }, { match: ALL, action: reject } ] }\n"
    "  - { name: Clear, type: public, address: 127.0.0.1, port: 2534,\n"
    "      hat: [ { group: ALL, match: [ALL], policy: CLEAR } ],\n"
    "      rat: [ { match: example.com, action: accept }, { match: ALL, action: reject } ] }\n"
    "  - { name: Both, type: public, address: 127.0.0.1, port: 2535,\n"
    "      hat: [ { group: ALL, match: [ALL], policy: BOTH } ],\n"
    "      rat: [ { match: example.com, action: accept }, { match: ALL, action: reject } ] }\n"
    "  - { name: Mixed, type: public, address: 127.0.0.1, port: 2536,\n"
    "      hat: [ { group: ALL, match: [ALL], policy: MIXED } ],\n"
    "      rat: [ { match: example.com, action: accept }, { match: ALL, action: reject } ] }\n"
    "  - { name: Priv, type: private, address: 127.0.0.1, port: 2537,\n"
    "      hat: [ { group: ALL, match: [ALL], policy: PREF } ] }\n"
    "policies:\n"
    "  OFF: { action: accept, tls: off, auth: preferred }\n"
    "  PREF: { action: accept, tls: preferred, auth: preferred }\n"
    "  REQ: { action: accept, tls: required }\n"
    "  AREQ: { action: accept, tls: preferred, auth: required }\n"
    "  CLEAR: { action: accept, tls: off, auth: preferred, auth_requires_tls: false }\n"
    "  BOTH: { action: accept, tls: required, auth: required }\n"
    "  MIXED: { action: accept, tls: preferred, auth: preferred, auth_requires_tls: false }\n";

#define EHLO_HEAD "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250-8BITMIME\r\n" \
    "250-SMTPUTF8\r\n"
#define EHLO_TAIL "250 ENHANCEDSTATUSCODES\r\n"
static const char ehlo_plain[] = EHLO_HEAD EHLO_TAIL;
static const char ehlo_tls[] = EHLO_HEAD "250-STARTTLS\r\n" EHLO_TAIL;
static const char ehlo_auth[] = EHLO_HEAD "250-AUTH PLAIN LOGIN\r\n" EHLO_TAIL;
static const char ehlo_tls_auth[] = EHLO_HEAD "250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n"
    EHLO_TAIL;
static const char must_tls[] = "530 5.7.0 Must issue a STARTTLS command first\r\n";

/* The handshake worked (as smtpd.c reports it). */
static const char *
tls_up(struct smtp_session *s, const char *peer)
{
	buf_reset(&acc);
	smtp_session_tls_started(s, "TLSv1.3", "TLS_AES_256_GCM_SHA384", peer);
	pump(s);
	return acc.data ? acc.data : "";
}

/* The password check answered. */
static const char *
auth_answer(struct smtp_session *s, int result)
{
	buf_reset(&acc);
	smtp_session_auth_result(s, result);
	pump(s);
	return acc.data ? acc.data : "";
}

/* base64 of n bytes, in a static buffer. */
static const char *
b64(const char *p, size_t n)
{
	static char out[4][700];
	static int k;

	k = (k + 1) % 4;
	base64_encode(p, n, out[k]);
	return out[k];
}

/* "AUTH PLAIN <b64(\0user\0pass)>\r\n" */
static const char *
plain_cmd(const char *authz, const char *user, const char *pass)
{
	static char cmd[1024];
	char raw[600];
	size_t n;

	n = (size_t)snprintf(raw, sizeof raw, "%s%c%s%c%s", authz, 0, user, 0, pass);
	snprintf(cmd, sizeof cmd, "AUTH PLAIN %s\r\n", b64(raw, n));
	return cmd;
}

/* A session on listener with TLS up and EHLO said again. */
static struct smtp_session *
open_tls(const char *listener, const char *ip)
{
	struct smtp_session *s = sess_open(listener, ip);

	banner(s);
	say(s, "EHLO c\r\nSTARTTLS\r\n");
	tls_up(s, NULL);
	say(s, "EHLO c\r\n");
	return s;
}

static void
test_starttls(void)
{
	struct smtp_session *s;
	const char *r;

	sess_tls = 1;
	sess_auth = 1;

	/* tls: off: never offered, 502 even with a certificate. */
	s = sess_open("Off", "192.0.2.1");
	banner(s);
	is_str(say(s, "EHLO c\r\n"), ehlo_plain, "tls off: no STARTTLS (and no AUTH in clear)");
	is_str(say(s, "STARTTLS\r\n"), "502 5.5.1 Command not implemented\r\n",
	    "tls off: STARTTLS 502");
	is(smtp_session_state(s), SMTP_CMD, "tls off: still reading commands");
	sess_close(s);

	/* preferred, no certificate: not offered, 454. */
	sess_tls = 0;
	log_start();
	s = sess_open("Pref", "192.0.2.1");
	banner(s);
	is_str(say(s, "EHLO c\r\n"), ehlo_plain, "no certificate: no STARTTLS");
	is_str(say(s, "STARTTLS\r\n"), "454 4.7.0 TLS not available due to temporary reason\r\n",
	    "no certificate: 454");
	ok(log_has("ICID 7 STARTTLS refused: the listener has no usable certificate"),
	    "no certificate: logged");
	sess_close(s);
	sess_tls = 1;

	/* preferred with a certificate: offered until active. */
	s = sess_open("Pref", "192.0.2.1");
	banner(s);
	is_str(say(s, "EHLO c\r\n"), ehlo_tls, "preferred: STARTTLS offered, AUTH not before TLS");
	is_str(say(s, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"),
	    "250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n",
	    "preferred: mail in clear is accepted");
	is_str(say(s, "STARTTLS now\r\n"), "501 5.5.4 Syntax: STARTTLS\r\n",
	    "STARTTLS with arguments: 501");
	log_start();
	is_str(say(s, "STARTTLS\r\nRSET\r\nMAIL FROM:<evil@example.org>\r\n"),
	    "220 2.0.0 Ready to start TLS\r\n",
	    "STARTTLS with pipelined commands: only the 220");
	is(pending.len, 0, "the whole write was taken");
	is(smtp_session_state(s), SMTP_STARTTLS, "waiting for the handshake");
	is(smtp_session_input_room(s), 0, "no input taken during the handshake");
	ok(log_has("ICID 7 STARTTLS: discarded 36 bytes sent before the TLS handshake"),
	    "discarded bytes logged");
	ok(!log_has("evil"), "the discarded MAIL was never looked at");
	ok(!smtp_session_tls_active(s), "not active before the handshake");
	is_str(tls_up(s, "CN=client.example,O=Test"), "", "handshake done: no banner");
	ok(smtp_session_tls_active(s), "TLS active");
	ok(log_has("ICID 7 TLS success protocol TLSv1.3 cipher TLS_AES_256_GCM_SHA384 client "
	    "certificate CN=client.example,O=Test"), "TLS success logged with the peer");
	is(fq.begins, 0, "nothing reached qmgr");
	is_str(say(s, "MAIL FROM:<a@example.org>\r\n"), "503 Error: send HELO/EHLO first\r\n",
	    "after TLS: EHLO needed again (and enhanced codes forgotten)");
	is_str(say(s, "EHLO c\r\n"), ehlo_auth, "after TLS: no STARTTLS, AUTH offered");
	is_str(say(s, "RCPT TO:<b@example.com>\r\n"), "503 5.5.1 Error: need MAIL command\r\n",
	    "the MAIL from before TLS is gone");
	is_str(say(s, "STARTTLS\r\n"), "503 5.5.1 Error: TLS already active\r\n",
	    "second STARTTLS: 503");
	r = say(s, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\nx\r\n.\r\n");
	ok(strstr(r, "354 ") != NULL, "mail over TLS");
	ok(fq.data.data != NULL && strstr(fq.data.data, "\r\n\t(using TLSv1.3 with cipher "
	    "TLS_AES_256_GCM_SHA384)\r\n\tby mx.test (Sallyport) with ESMTPS id 100\r\n") != NULL,
	    "Received: ESMTPS with protocol and cipher");
	ok(fq.data.data != NULL && strstr(fq.data.data, "evil") == NULL,
	    "no trace of the injected command");
	is_str(commit(s, COMMIT_OK, ""), "250 2.0.0 ok: Message 100 accepted\r\n", "committed");
	sess_close(s);

	/* STARTTLS mid-transaction: the open envelope is dropped. */
	s = sess_open("Pref", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nSTARTTLS\r\n");
	tls_up(s, NULL);
	is_str(say(s, "EHLO c\r\nDATA\r\n"), "250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n"
	    "250-8BITMIME\r\n250-SMTPUTF8\r\n250-AUTH PLAIN LOGIN\r\n250 ENHANCEDSTATUSCODES\r\n"
	    "503 5.5.1 Error: need MAIL command\r\n", "after TLS: DATA finds no transaction");
	is(fq.begins, 0, "DATA after TLS did not start the old transaction");
	sess_close(s);

	/* Handshake failure: logged, closed. */
	log_start();
	s = sess_open("Pref", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nSTARTTLS\r\n");
	smtp_session_tls_failed(s, "handshake: wrong version number");
	is(smtp_session_state(s), SMTP_CLOSED, "failed handshake closes");
	ok(log_has("ICID 7 TLS failed: handshake: wrong version number"), "failure logged");
	sess_close(s);
	ok(log_has("ICID 7 close (TLS handshake failed)"), "close reason logged");

	/* tls: required. */
	log_start();
	s = sess_open("Req", "192.0.2.1");
	banner(s);
	is_str(say(s, "NOOP\r\n"), "250 Ok\r\n", "required: NOOP allowed");
	is_str(say(s, "HELO c\r\n"), must_tls, "required: HELO 530");
	is_str(say(s, "EHLO c\r\n"), ehlo_tls, "required: EHLO allowed, offers STARTTLS");
	is_str(say(s, "MAIL FROM:<a@example.org>\r\n"), must_tls, "required: MAIL 530");
	is_str(say(s, "RCPT TO:<b@example.com>\r\n"), must_tls, "required: RCPT 530");
	is_str(say(s, "DATA\r\n"), must_tls, "required: DATA 530");
	is_str(say(s, "RSET\r\n"), must_tls, "required: RSET 530");
	is_str(say(s, "VRFY joe\r\n"), must_tls, "required: VRFY 530");
	is_str(say(s, "HELP\r\n"), must_tls, "required: HELP 530");
	is_str(say(s, "AUTH PLAIN AHVzZXIAc2VjcmV0\r\n"), must_tls, "required: AUTH 530");
	is_str(say(s, "NOOP\r\n"), "250 2.0.0 Ok\r\n", "required: NOOP still allowed");
	ok(log_has("ICID 7 refused 'MAIL FROM:<a@example.org>': 530 5.7.0 TLS required"),
	    "530 logged");
	ok(log_has("ICID 7 refused 'AUTH PLAIN': 530 5.7.0 TLS required"),
	    "530 to AUTH logged without the credentials");
	ok(!log_has("AHVzZXIAc2VjcmV0"), "no credentials in the log");
	is_str(say(s, "QUIT\r\n"), "221 2.0.0 Bye\r\n", "required: QUIT allowed");
	sess_close(s);
	ok(log_has("ICID 7 TLS was required but the client did not start it"),
	    "a client that gave up is logged");

	log_start();
	s = sess_open("Req", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nSTARTTLS\r\n");
	tls_up(s, NULL);
	r = say(s, "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"
	    "DATA\r\nx\r\n.\r\n");
	ok(strstr(r, "250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n354 ") != NULL,
	    "required: mail accepted after STARTTLS");
	is(fq.begins, 1, "required: message reached qmgr");
	commit(s, COMMIT_OK, "");
	say(s, "QUIT\r\n");
	sess_close(s);
	ok(!log_has("TLS was required but"), "no 'TLS was required' line after TLS");

	/* tls: required and auth: required: the TLS 530 comes first. */
	s = sess_open("Both", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\n");
	is_str(say(s, "MAIL FROM:<a@example.org>\r\n"), must_tls,
	    "both required: STARTTLS 530 takes precedence");
	sess_close(s);

	sess_tls = 0;
	sess_auth = 0;
}

static void
test_auth(void)
{
	struct smtp_session *s;
	const char *r, *c;
	char login_user[64], login_pass[64], plain_b64[256], cont_b64[256], bad_b64[256];
	char authz_b64[256];

	sess_tls = 1;
	sess_auth = 1;
	rates = rate_table_new(16);
	log_start();

	/* Not offered, and 538, before TLS while auth_requires_tls. */
	s = sess_open("Pref", "192.0.2.1");
	banner(s);
	is_str(say(s, "EHLO c\r\n"), ehlo_tls, "AUTH not offered before TLS");
	is_str(say(s, plain_cmd("", "user", "s3cr3t-PW")),
	    "538 5.7.11 Encryption required for requested authentication mechanism\r\n",
	    "AUTH before TLS: 538");
	is(auth_calls, 0, "no password check");
	sess_close(s);

	/* Without auth_check (or a users file) AUTH is never offered. */
	sess_auth = 0;
	s = open_tls("Pref", "192.0.2.1");
	is_str(say(s, "EHLO c\r\n"), ehlo_plain, "no credentials: AUTH not offered");
	is_str(say(s, "AUTH PLAIN AHUAcA==\r\n"), "502 5.5.1 Command not implemented\r\n",
	    "no credentials: 502");
	sess_close(s);
	sess_auth = 1;

	/* auth_requires_tls false: offered in clear. */
	s = sess_open("Clear", "192.0.2.1");
	banner(s);
	is_str(say(s, "EHLO c\r\n"), ehlo_auth, "auth_requires_tls false: AUTH in clear");
	sess_close(s);
	s = sess_open("Mixed", "192.0.2.1");
	banner(s);
	is_str(say(s, "EHLO c\r\n"), ehlo_tls_auth, "STARTTLS and AUTH both offered");
	sess_close(s);

	/* PLAIN with an initial response. */
	s = open_tls("Pref", "192.0.2.1");
	snprintf(plain_b64, sizeof plain_b64, "%s", plain_cmd("", "user", "s3cr3t-PW") + 11);
	plain_b64[strlen(plain_b64) - 2] = '\0';
	is_str(say(s, plain_cmd("", "user", "s3cr3t-PW")), "", "PLAIN: no reply yet");
	is(smtp_session_state(s), SMTP_WAIT_AUTH, "PLAIN: waiting for the check");
	is(auth_calls, 1, "PLAIN: one check");
	is_str(auth_seen_user, "user", "PLAIN: user");
	is_str(auth_seen_pass, "s3cr3t-PW", "PLAIN: password");
	is_str(auth_answer(s, SMTP_AUTH_OK), "235 2.7.0 Authentication successful\r\n",
	    "PLAIN: 235");
	ok(log_has("ICID 7 AUTH success user 'user' mechanism PLAIN tls TLSv1.3"),
	    "success logged");
	is_str(say(s, "EHLO c\r\n"), ehlo_plain, "authenticated: AUTH no longer offered");
	is_str(say(s, "AUTH PLAIN AHUAcA==\r\n"), "503 5.5.1 Error: already authenticated\r\n",
	    "second AUTH: 503");
	/* An authenticated client relays from a listener whose policy accepts. */
	r = say(s, "MAIL FROM:<a@example.org>\r\nRCPT TO:<x@elsewhere.test>\r\n"
	    "DATA\r\nx\r\n.\r\n");
	ok(strstr(r, "250 2.1.5 Recipient ok\r\n354 ") != NULL,
	    "authenticated: relays to any recipient");
	ok(fq.data.data != NULL && strstr(fq.data.data, "with ESMTPSA id 100") != NULL,
	    "Received: ESMTPSA");
	commit(s, COMMIT_OK, "");
	sess_close(s);

	/* The same client unauthenticated does not. */
	s = open_tls("Pref", "192.0.2.1");
	say(s, "MAIL FROM:<a@example.org>\r\n");
	is_str(say(s, "RCPT TO:<x@elsewhere.test>\r\n"),
	    "550 5.7.1 Recipient address rejected: Access denied\r\n",
	    "not authenticated: no relaying");
	is_str(say(s, "AUTH PLAIN AHUAcA==\r\n"),
	    "503 5.5.1 Error: MAIL transaction in progress\r\n", "AUTH inside a transaction: 503");
	sess_close(s);

	/* Private listener: relay only after AUTH. */
	s = open_tls("Priv", "192.0.2.1");
	say(s, "MAIL FROM:<a@example.org>\r\n");
	is_str(say(s, "RCPT TO:<x@elsewhere.test>\r\n"), "550 5.7.1 Relaying denied\r\n",
	    "private, accept policy: relaying denied");
	say(s, "RSET\r\n");
	say(s, plain_cmd("user", "user", "s3cr3t-PW"));
	is_str(auth_seen_user, "user", "PLAIN with authzid = authcid: accepted");
	auth_answer(s, SMTP_AUTH_OK);
	is_str(say(s, "MAIL FROM:<a@example.org>\r\nRCPT TO:<x@elsewhere.test>\r\n"),
	    "250 2.1.0 Sender ok\r\n250 2.1.5 Recipient ok\r\n", "private: relays after AUTH");
	sess_close(s);

	/* PLAIN with a 334 continuation, and commands pipelined behind AUTH. */
	s = open_tls("Pref", "192.0.2.1");
	is_str(say(s, "AUTH PLAIN\r\n"), "334 \r\n", "PLAIN without initial response: 334");
	snprintf(cont_b64, sizeof cont_b64, "%s", b64("\0u2\0s3cr3t-PW2", 14));
	c = cont_b64;
	{
		char line[300];

		snprintf(line, sizeof line, "%s\r\nMAIL FROM:<a@example.org>\r\n", c);
		is_str(say(s, line), "", "continuation: waiting for the check");
	}
	is_str(auth_seen_user, "u2", "continuation: user");
	is_str(auth_seen_pass, "s3cr3t-PW2", "continuation: password");
	is_str(auth_answer(s, SMTP_AUTH_OK),
	    "235 2.7.0 Authentication successful\r\n250 2.1.0 Sender ok\r\n",
	    "the pipelined MAIL is answered after the 235");
	sess_close(s);

	/* LOGIN, and LOGIN with the user name as initial response. */
	s = open_tls("Pref", "192.0.2.1");
	is_str(say(s, "AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n", "LOGIN: Username:");
	snprintf(login_user, sizeof login_user, "%s", b64("loginuser", 9));
	snprintf(login_pass, sizeof login_pass, "%s", b64("s3cr3t-PW3", 10));
	{
		char line[300];

		snprintf(line, sizeof line, "%s\r\n", login_user);
		is_str(say(s, line), "334 UGFzc3dvcmQ6\r\n", "LOGIN: Password:");
		snprintf(line, sizeof line, "%s\r\n", login_pass);
		is_str(say(s, line), "", "LOGIN: checking");
	}
	is_str(auth_seen_user, "loginuser", "LOGIN: user");
	is_str(auth_seen_pass, "s3cr3t-PW3", "LOGIN: password");
	is_str(auth_answer(s, SMTP_AUTH_OK), "235 2.7.0 Authentication successful\r\n",
	    "LOGIN: 235");
	ok(log_has("ICID 7 AUTH success user 'loginuser' mechanism LOGIN"), "LOGIN logged");
	sess_close(s);
	s = open_tls("Pref", "192.0.2.1");
	{
		char line[300];

		snprintf(line, sizeof line, "AUTH LOGIN %s\r\n", login_user);
		is_str(say(s, line), "334 UGFzc3dvcmQ6\r\n", "LOGIN with initial response");
		is_str(say(s, "*\r\n"), "501 5.0.0 Authentication cancelled\r\n",
		    "LOGIN: '*' at the password cancels");
	}
	is(auth_calls, 0, "cancelled: no check");
	is_str(say(s, "NOOP\r\n"), "250 2.0.0 Ok\r\n", "back to commands after cancel");
	is_str(say(s, "AUTH PLAIN\r\n*\r\n"), "334 \r\n501 5.0.0 Authentication cancelled\r\n",
	    "PLAIN: '*' cancels");
	is_str(say(s, "AUTH LOGIN\r\n*\r\n"),
	    "334 VXNlcm5hbWU6\r\n501 5.0.0 Authentication cancelled\r\n",
	    "LOGIN: '*' at the user name cancels");

	/* Bad base64 and bad PLAIN responses. */
	is_str(say(s, "AUTH PLAIN !!!!\r\n"), "501 5.5.2 Invalid base64 data\r\n",
	    "bad base64 initial response: 501");
	is_str(say(s, "AUTH PLAIN AHVzZXIAcA=\r\n"), "501 5.5.2 Invalid base64 data\r\n",
	    "base64 of bad length: 501");
	is_str(say(s, "AUTH PLAIN\r\nAHVz ZXIAcA==\r\n"),
	    "334 \r\n501 5.5.2 Invalid base64 data\r\n", "bad base64 continuation: 501");
	is_str(say(s, "AUTH LOGIN\r\nx\r\n"),
	    "334 VXNlcm5hbWU6\r\n501 5.5.2 Invalid base64 data\r\n", "LOGIN bad base64: 501");
	snprintf(authz_b64, sizeof authz_b64, "%s", b64("admin\0user\0s3cr3t-PW", 20));
	{
		char line[300];

		snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", authz_b64);
		is_str(say(s, line), "501 5.5.2 Invalid PLAIN response\r\n",
		    "PLAIN with authzid != authcid refused");
		snprintf(line, sizeof line, "AUTH PLAIN\r\n%s\r\n", authz_b64);
		is_str(say(s, line), "334 \r\n501 5.5.2 Invalid PLAIN response\r\n",
		    "the same as a continuation refused");
	}
	snprintf(bad_b64, sizeof bad_b64, "%s", b64("user\0s3cr3t-PW", 14));
	{
		char line[300];

		snprintf(line, sizeof line, "AUTH PLAIN %s\r\n", bad_b64);
		is_str(say(s, line), "501 5.5.2 Invalid PLAIN response\r\n",
		    "PLAIN with one NUL refused");
	}
	is_str(say(s, "AUTH PLAIN AHVzZXI=\r\n"), "501 5.5.2 Invalid PLAIN response\r\n",
	    "PLAIN without a password field refused");
	is_str(say(s, "AUTH PLAIN AABwYXNz\r\n"), "501 5.5.2 Invalid PLAIN response\r\n",
	    "PLAIN with an empty user refused");
	is_str(say(s, "AUTH CRAM-MD5\r\n"), "504 5.5.4 Unrecognized authentication type\r\n",
	    "unknown mechanism: 504");
	is_str(say(s, "AUTH\r\n"), "504 5.5.4 Unrecognized authentication type\r\n",
	    "no mechanism: 504");
	is(auth_calls, 0, "none of those reached the check");
	sess_close(s);

	/* HELO instead of EHLO. */
	s = sess_open("Clear", "192.0.2.1");
	banner(s);
	say(s, "HELO c\r\n");
	is_str(say(s, "AUTH PLAIN AHUAcA==\r\n"), "503 Error: send EHLO first\r\n",
	    "AUTH after HELO: 503");
	say(s, "EHLO c\r\n");
	say(s, plain_cmd("", "user", "s3cr3t-PW"));
	auth_answer(s, SMTP_AUTH_OK);
	say(s, "MAIL FROM:<a@example.org>\r\nRCPT TO:<x@elsewhere.test>\r\nDATA\r\nx\r\n.\r\n");
	ok(fq.data.data != NULL && strstr(fq.data.data, "with ESMTPA id 100") != NULL &&
	    strstr(fq.data.data, "(using") == NULL, "Received: ESMTPA without TLS");
	commit(s, COMMIT_OK, "");
	sess_close(s);

	/* AUTH in clear, then STARTTLS: forgotten, offered again. */
	s = sess_open("Mixed", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\n");
	say(s, plain_cmd("", "user", "s3cr3t-PW"));
	auth_answer(s, SMTP_AUTH_OK);
	say(s, "STARTTLS\r\n");
	tls_up(s, NULL);
	is_str(say(s, "EHLO c\r\n"), ehlo_auth, "after STARTTLS: AUTH offered again");
	say(s, "MAIL FROM:<a@example.org>\r\n");
	is_str(say(s, "RCPT TO:<x@elsewhere.test>\r\n"),
	    "550 5.7.1 Recipient address rejected: Access denied\r\n",
	    "after STARTTLS: the AUTH from before no longer relays");
	sess_close(s);

	/* Wrong passwords: 535, then 421 at auth.max_failures (3). */
	s = open_tls("Pref", "192.0.2.50");
	say(s, plain_cmd("", "user", "wrong-PW"));
	is_str(auth_answer(s, SMTP_AUTH_FAIL), "535 5.7.8 Authentication credentials invalid\r\n",
	    "wrong password: 535");
	ok(log_has("ICID 7 AUTH failed user 'user' mechanism PLAIN (1 in this connection)"),
	    "failure logged");
	say(s, plain_cmd("", "user", "wrong-PW"));
	is_str(auth_answer(s, SMTP_AUTH_TEMPFAIL), "454 4.7.0 Temporary authentication failure\r\n",
	    "check failed: 454");
	say(s, plain_cmd("", "user", "wrong-PW"));
	is_str(auth_answer(s, SMTP_AUTH_FAIL), "535 5.7.8 Authentication credentials invalid\r\n",
	    "second wrong password: 535");
	say(s, "AUTH LOGIN\r\n");
	say(s, "dXNlcg==\r\n");
	say(s, "d3Jvbmc=\r\n");
	is_str(auth_answer(s, SMTP_AUTH_FAIL),
	    "421 4.7.0 mx.test Too many failed authentication attempts\r\n",
	    "third failure: 421");
	is(smtp_session_state(s), SMTP_CLOSED, "closed");
	sess_close(s);
	ok(log_has("ICID 7 close (too many failed AUTH attempts)"), "close reason logged");

	/* Per address and hour (max_failures_per_ip 5), across sessions. */
	s = open_tls("Pref", "192.0.2.50");
	say(s, plain_cmd("", "user", "wrong-PW"));
	is_str(auth_answer(s, SMTP_AUTH_FAIL), "535 5.7.8 Authentication credentials invalid\r\n",
	    "4th failure from this address: 535");
	say(s, plain_cmd("", "user", "wrong-PW"));
	auth_answer(s, SMTP_AUTH_FAIL);
	is_str(say(s, plain_cmd("", "user", "s3cr3t-PW")),
	    "454 4.7.0 Too many failed authentication attempts, try again later\r\n",
	    "5 failures from this address in the hour: 454");
	is(auth_calls, 2, "the password was not checked");
	ok(log_has("ICID 7 AUTH refused: 5 failed attempts from 192.0.2.50 in the last hour"),
	    "per-address limit logged");
	sess_close(s);
	s = open_tls("Pref", "192.0.2.51");
	is_str(say(s, plain_cmd("", "user", "s3cr3t-PW")), "", "another address may try");
	auth_answer(s, SMTP_AUTH_OK);
	sess_close(s);
	fake_now += 2 * 3600;
	s = open_tls("Pref", "192.0.2.50");
	is_str(say(s, plain_cmd("", "user", "s3cr3t-PW")), "", "two hours later: may try again");
	sess_close(s);

	/* auth: required. */
	s = sess_open("AuthReq", "192.0.2.1");
	banner(s);
	say(s, "EHLO c\r\n");
	is_str(say(s, "MAIL FROM:<a@example.org>\r\n"), "530 5.7.0 Authentication required\r\n",
	    "auth required: MAIL before AUTH 530 (in clear)");
	say(s, "STARTTLS\r\n");
	tls_up(s, NULL);
	say(s, "EHLO c\r\n");
	is_str(say(s, "MAIL FROM:<a@example.org>\r\n"), "530 5.7.0 Authentication required\r\n",
	    "auth required: MAIL before AUTH 530 (over TLS)");
	say(s, plain_cmd("", "user", "s3cr3t-PW"));
	auth_answer(s, SMTP_AUTH_FAIL);
	is_str(say(s, "MAIL FROM:<a@example.org>\r\n"), "530 5.7.0 Authentication required\r\n",
	    "auth required: still 530 after a failure");
	say(s, plain_cmd("", "user", "s3cr3t-PW"));
	auth_answer(s, SMTP_AUTH_OK);
	is_str(say(s, "MAIL FROM:<a@example.org>\r\n"), "250 2.1.0 Sender ok\r\n",
	    "auth required: MAIL after AUTH");
	sess_close(s);

	/* A connection lost while the password is being checked. */
	s = open_tls("Pref", "192.0.2.1");
	say(s, plain_cmd("", "user", "s3cr3t-PW"));
	smtp_session_lost(s);
	is(smtp_session_state(s), SMTP_CLOSED, "lost during the check: closed");
	smtp_session_auth_result(s, SMTP_AUTH_OK);
	is(smtp_session_state(s), SMTP_CLOSED, "a late answer changes nothing");
	sess_close(s);

	/* A broken client separating with a tab: an unknown verb, refused,
	 * and its arguments still kept out of the log. */
	s = open_tls("Pref", "192.0.2.1");
	ok(strncmp(say(s, "AUTH\tPLAIN dGFiLXNlY3JldA==\r\n"), "500 ", 4) == 0,
	    "AUTH<TAB>PLAIN is no command");
	sess_close(s);
	ok(log_lacks("dGFiLXNlY3JldA=="), "its credentials are not logged");

	/* No credentials in the log, ever. */
	ok(log_lacks("s3cr3t"), "no password in the log");
	ok(log_lacks("wrong-PW"), "no wrong password in the log");
	ok(log_lacks(plain_b64), "no PLAIN response in the log");
	ok(log_lacks(cont_b64), "no PLAIN continuation in the log");
	ok(log_lacks(authz_b64), "no refused PLAIN response in the log");
	ok(log_lacks(bad_b64), "no malformed PLAIN response in the log");
	ok(log_lacks(login_pass), "no LOGIN password in the log");
	ok(log_lacks("d3Jvbmc="), "no LOGIN wrong password in the log");
	ok(log_lacks("dXNlcg=="), "no LOGIN user name response in the log");

	rate_table_free(rates);
	rates = NULL;
	sess_tls = 0;
	sess_auth = 0;
}

int
main(void)
{
	char err[512];
	struct config_source src;
	int fd;

	auth_ops = fake_ops;
	auth_ops.auth_check = f_auth_check;
	if ((fd = mkstemp(logpath)) < 0)
		return 1;
	close(fd);
	log_open("smtpd", logpath);
	buf_init(&pending, 0);
	buf_init(&acc, 0);
	buf_init(&fq.data, 0);
	src.path = "test.yaml";
	src.text = (char *)yaml;
	src.len = sizeof yaml - 1;
	if (config_parse_sources(&src, 1, &cfg, err, sizeof err) < 0) {
		printf("Bail out! config: %s\n", err);
		return 1;
	}
	test_banners_and_hat();
	test_basic_commands();
	test_order();
	test_pipelining();
	test_limits();
	test_bounded_memory();
	test_mail_from();
	test_relay();
	test_data();
	test_commit_and_qmgr();
	test_timeouts_and_drain();
	test_sinkhole();
	config_free(cfg);
	src.text = (char *)yaml3;
	src.len = sizeof yaml3 - 1;
	if (config_parse_sources(&src, 1, &cfg, err, sizeof err) < 0) {
		printf("Bail out! config: %s\n", err);
		return 1;
	}
	test_inbound_policy();
	config_free(cfg);
	src.text = (char *)yaml_tls;
	src.len = sizeof yaml_tls - 1;
	if (config_parse_sources(&src, 1, &cfg, err, sizeof err) < 0) {
		printf("Bail out! config: %s\n", err);
		return 1;
	}
	test_starttls();
	test_auth();
	config_free(cfg);
	buf_free(&pending);
	buf_free(&acc);
	buf_free(&fq.data);
	unlink(logpath);
	return done_testing();
}
