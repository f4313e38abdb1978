/*
 * deliver_smtp_client - the SMTP client engine against scripted servers:
 * with and without pipelining, 4xx/5xx at every step, HELO fallback,
 * mixed per-recipient results, no accepted recipient, SMTPUTF8, SIZE,
 * dot-stuffing across every chunk boundary, connection loss, reuse,
 * STARTTLS decisions left to the caller.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "proto.h"
#include "smtp_client.h"
#include "tap.h"

static struct smtp_client *c;
static struct smtpc_rcpt rc[4];
static struct smtpc_txn txn;
static char outbuf[65536];

/* What the engine wants written since the last call. */
static const char *
take(void)
{
	struct buf *b = smtpc_output(c);
	size_t n = b->len < sizeof outbuf - 1 ? b->len : sizeof outbuf - 1;

	memcpy(outbuf, b->data ? b->data : "", n);
	outbuf[n] = '\0';
	buf_reset(b);
	return outbuf;
}

/* Feeds '\n'-separated server lines; returns the last event that was not
 * NONE (or NONE). */
static int
feed(const char *lines)
{
	const char *p = lines;
	int ev = SMTPC_EV_NONE, e;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		e = smtpc_feed_line(c, p, n);
		if (e != SMTPC_EV_NONE)
			ev = e;
		p += n + (nl ? 1 : 0);
	}
	return ev;
}

static void
setup(const char *sender, uint32_t flags, uint64_t size, size_t n, ...)
{
	static const char *addrs[] = { "a@x.example", "b@x.example", "c@x.example",
	    "d@x.example" };
	size_t i;

	(void)addrs;
	smtpc_free(c);
	c = smtpc_new("gw.test", "DCID 1");
	memset(rc, 0, sizeof rc);
	for (i = 0; i < n; i++) {
		rc[i].addr = addrs[i];
		rc[i].active = 1;
	}
	txn.sender = sender;
	txn.flags = flags;
	txn.size = size;
	txn.rcpts = rc;
	txn.nrcpts = n;
}

/* Greets with the given EHLO reply; returns what was written after it. */
static const char *
greet(const char *ehlo_reply)
{
	feed("220 mx.example ESMTP");
	take();
	feed(ehlo_reply);
	return take();
}

static void
test_basic_no_pipelining(void)
{
	setup("s@y.example", 0, 5, 2);
	is(smtpc_begin(c, &txn), SMTPC_EV_NONE, "begin before the banner is queued");
	is_str(take(), "", "nothing written before the banner");
	is(feed("220 mx.example ESMTP"), SMTPC_EV_NONE, "banner");
	is_str(take(), "EHLO gw.test\r\n", "EHLO with our name");
	is(feed("250-mx.example\n250-SIZE 1000\n250 8BITMIME"), SMTPC_EV_NONE, "EHLO ok");
	ok(smtpc_extensions(c) & SMTPC_EXT_SIZE, "SIZE seen");
	ok(!(smtpc_extensions(c) & SMTPC_EXT_PIPELINING), "no PIPELINING");
	is_str(take(), "MAIL FROM:<s@y.example> SIZE=5\r\n", "MAIL with SIZE, alone");
	ok(smtpc_waiting(c), "waiting for MAIL reply");
	is_str(smtpc_phase(c), "MAIL FROM", "phase MAIL FROM");
	feed("250 2.1.0 ok");
	is_str(take(), "RCPT TO:<a@x.example>\r\n", "first RCPT alone");
	feed("250 2.1.5 ok");
	is_str(take(), "RCPT TO:<b@x.example>\r\n", "second RCPT");
	feed("550 5.1.1 no such user");
	is_str(take(), "DATA\r\n", "DATA after the last RCPT");
	ok(smtpc_in_data(c), "in DATA");
	is(feed("354 go ahead"), SMTPC_EV_BODY, "354 asks for the body");
	smtpc_body(c, "hello\r\n", 7);
	smtpc_body_end(c);
	is_str(take(), "hello\r\n.\r\n", "body and dot");
	ok(!smtpc_in_data(c), "dot sent: not in data any more");
	is(feed("250 2.0.0 queued as 42"), SMTPC_EV_DONE, "final reply ends the transaction");
	is(rc[0].status, 2, "accepted recipient delivered");
	is(rc[0].reason, REASON_SMTP, "reason smtp");
	is_str(rc[0].text, "250 2.0.0 queued as 42", "its text is the final reply");
	is(rc[1].status, 5, "rejected recipient bounced");
	is_str(rc[1].text, "550 5.1.1 no such user", "with the RCPT reply");
	is_str(smtpc_final_reply(c), "250 2.0.0 queued as 42", "final reply kept");
	ok(smtpc_reusable(c), "connection reusable");
	ok(smtpc_idle(c), "idle");
	ok(!smtpc_try_next(c), "no next host");
	is(smtpc_transactions(c), 1, "one transaction");
}

static void
test_pipelining(void)
{
	setup("s@y.example", 0, 100, 3);
	smtpc_begin(c, &txn);
	is_str(greet("250-mx\n250-PIPELINING\n250 SIZE"),
	    "MAIL FROM:<s@y.example> SIZE=100\r\nRCPT TO:<a@x.example>\r\n"
	    "RCPT TO:<b@x.example>\r\nRCPT TO:<c@x.example>\r\nDATA\r\n",
	    "pipelined group: MAIL, every RCPT, DATA in one write");
	is(feed("250 ok\n250 ok\n450 4.2.1 busy\n250 ok"), SMTPC_EV_NONE, "replies in order");
	is(feed("354 go"), SMTPC_EV_BODY, "354");
	smtpc_body(c, "x\r\n", 3);
	smtpc_body_end(c);
	take();
	is(feed("250 done"), SMTPC_EV_DONE, "done");
	is(rc[0].status, 2, "rcpt 0 delivered");
	is(rc[1].status, 4, "rcpt 1 deferred by RCPT 450");
	is_str(rc[1].text, "450 4.2.1 busy", "rcpt 1 text");
	is(rc[2].status, 2, "rcpt 2 delivered");

	/* Pipelined MAIL refused: RCPT/DATA answers (503) must not turn into
	 * permanent failures. */
	setup("s@y.example", 0, 100, 2);
	smtpc_begin(c, &txn);
	greet("250-mx\n250 PIPELINING");
	is(feed("451 4.3.0 try later"), SMTPC_EV_NONE, "MAIL 451: wait for the rest");
	is(feed("503 5.5.1 need MAIL\n503 5.5.1 need MAIL"), SMTPC_EV_NONE, "RCPT 503s");
	is(feed("503 5.5.1 need RCPT"), SMTPC_EV_DONE, "DATA 503 ends it");
	is(rc[0].status, 4, "MAIL's 4 wins over RCPT 503");
	is(rc[1].status, 4, "for everyone");
	is_str(rc[1].text, "451 4.3.0 try later", "MAIL's text");
	ok(smtpc_reusable(c), "still usable");

	/* Pipelined, nobody accepted, DATA refused. */
	setup("s@y.example", 0, 10, 2);
	smtpc_begin(c, &txn);
	greet("250-mx\n250 PIPELINING");
	is(feed("250 ok\n550 no\n551 no"), SMTPC_EV_NONE, "both refused");
	is(feed("554 5.5.1 no valid recipients"), SMTPC_EV_DONE, "DATA 554 ends it");
	is(rc[0].status, 5, "rcpt 0 5");
	is_str(rc[0].text, "550 no", "rcpt 0 keeps its RCPT reply");
	is(rc[1].status, 5, "rcpt 1 5");
	is_str(take(), "", "no body sent");
	ok(smtpc_reusable(c), "reusable");

	/* Pipelined, nobody accepted, but the server says 354 anyway. */
	setup("s@y.example", 0, 10, 1);
	smtpc_begin(c, &txn);
	greet("250-mx\n250 PIPELINING");
	is(feed("250 ok\n450 later\n354 go"), SMTPC_EV_NONE, "354 with nobody accepted");
	is_str(take(), ".\r\n", "an empty message is ended at once");
	is(feed("554 no recipients"), SMTPC_EV_DONE, "its answer ends the transaction");
	is(rc[0].status, 4, "recipient keeps its RCPT 4");
	is_str(rc[0].text, "450 later", "and its text");
}

static void
test_banner_and_hello(void)
{
	setup("", 0, 1, 2);
	smtpc_begin(c, &txn);
	is(feed("421 4.3.2 too busy"), SMTPC_EV_DONE, "421 banner ends the transaction");
	is(rc[0].status, 4, "4 for all");
	is(rc[1].status, 4, "4 for all (2)");
	is(rc[0].reason, REASON_SMTP, "reason smtp");
	ok(smtpc_try_next(c), "421 banner: try the next host");
	ok(!smtpc_reusable(c), "not reusable");

	setup("", 0, 1, 1);
	smtpc_begin(c, &txn);
	is(feed("450 not now"), SMTPC_EV_DONE, "450 banner");
	ok(smtpc_try_next(c), "4xx banner: try next host");
	is_str(take(), "QUIT\r\n", "QUIT after a refused banner");
	is(feed("221 bye"), SMTPC_EV_CLOSE, "QUIT answered: close");

	setup("", 0, 1, 2);
	smtpc_begin(c, &txn);
	is(feed("554-mx.example no\n554 go away"), SMTPC_EV_DONE, "554 multi-line banner");
	is(rc[0].status, 5, "5 for all");
	is(rc[1].status, 5, "5 for all (2)");
	is_str(rc[0].text, "554 mx.example no go away", "multi-line text joined");
	ok(!smtpc_try_next(c), "5xx banner: no next host");
	is_str(take(), "QUIT\r\n", "QUIT");

	/* EHLO refused: HELO, and then no extensions at all. */
	setup("s@y", MSGF_8BITMIME, 9, 1);
	smtpc_begin(c, &txn);
	feed("220 old server");
	take();
	is(feed("502 5.5.2 what?"), SMTPC_EV_NONE, "EHLO 502");
	is_str(take(), "HELO gw.test\r\n", "HELO fallback");
	feed("250 hello");
	is_str(take(), "MAIL FROM:<s@y>\r\n", "plain MAIL: no SIZE, no BODY");
	is(smtpc_extensions(c), 0, "no extensions after HELO");
	feed("250 ok");
	is_str(take(), "RCPT TO:<a@x.example>\r\n", "RCPT");

	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	feed("220 hi");
	take();
	feed("500 no");
	take();
	is(feed("550 5.7.1 go away"), SMTPC_EV_DONE, "HELO 550");
	is(rc[0].status, 5, "HELO 5xx bounces");
	ok(!smtpc_try_next(c), "no next host");

	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	feed("220 hi");
	take();
	feed("500 no");
	take();
	is(feed("451 later"), SMTPC_EV_DONE, "HELO 451");
	is(rc[0].status, 4, "HELO 4xx defers");
	ok(smtpc_try_next(c), "and tries the next host");

	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	feed("220 hi");
	take();
	is(feed("451 4.3.0 later"), SMTPC_EV_DONE, "EHLO 451");
	is(rc[0].status, 4, "EHLO 4xx defers");
	ok(smtpc_try_next(c), "and tries the next host");
	is_str(take(), "QUIT\r\n", "and quits");
}

static void
test_mail_rcpt_data_failures(void)
{
	setup("s@y", 0, 9, 2);
	smtpc_begin(c, &txn);
	greet("250 mx");
	is(feed("452 4.3.1 full"), SMTPC_EV_DONE, "MAIL 452 ends it (no pipelining)");
	is(rc[0].status, 4, "4");
	is(rc[1].status, 4, "4 (2)");
	ok(smtpc_reusable(c), "reusable after a refused MAIL");
	ok(!smtpc_try_next(c), "MAIL 4xx is not a host failure");

	setup("s@y", 0, 9, 2);
	smtpc_begin(c, &txn);
	greet("250 mx");
	is(feed("553 5.1.8 bad sender"), SMTPC_EV_DONE, "MAIL 553");
	is(rc[0].status, 5, "5");
	is_str(rc[1].text, "553 5.1.8 bad sender", "text");

	/* Nobody accepted, no pipelining: RSET instead of DATA. */
	setup("s@y", 0, 9, 2);
	smtpc_begin(c, &txn);
	greet("250 mx");
	feed("250 ok");
	take();
	feed("550 no");
	take();
	is(feed("450 later"), SMTPC_EV_NONE, "last RCPT refused");
	is_str(take(), "RSET\r\n", "RSET instead of DATA");
	is(feed("250 reset"), SMTPC_EV_DONE, "done after RSET");
	is(rc[0].status, 5, "5");
	is(rc[1].status, 4, "4");
	ok(smtpc_reusable(c), "reusable");

	setup("s@y", 0, 9, 2);
	smtpc_begin(c, &txn);
	greet("250 mx");
	feed("250 ok\n250 ok\n550 no");
	is_str(take(), "RCPT TO:<a@x.example>\r\nRCPT TO:<b@x.example>\r\nDATA\r\n",
	    "one by one");
	is(feed("451 4.3.0 no DATA today"), SMTPC_EV_DONE, "DATA 451");
	is(rc[0].status, 4, "accepted recipient gets DATA's 4");
	is(rc[1].status, 5, "refused keeps its 5");

	setup("s@y", 0, 9, 2);
	smtpc_begin(c, &txn);
	greet("250-mx\n250 PIPELINING");
	feed("250 ok\n250 ok\n250 ok\n354 go");
	smtpc_body(c, "z", 1);
	smtpc_body_end(c);
	is_str(take(), "z\r\n.\r\n", "CRLF added before the dot");
	is(feed("552-5.3.4 too big\n552 5.3.4 really"), SMTPC_EV_DONE, "final 552");
	is(rc[0].status, 5, "5");
	is(rc[1].status, 5, "5 (2)");
	is_str(rc[1].text, "552 5.3.4 too big really", "multi-line final text");

	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	greet("250-mx\n250 PIPELINING");
	feed("250 ok\n250 ok\n354 go");
	smtpc_body_end(c);
	is_str(take(), ".\r\n", "empty body is just the dot");
	is(feed("451 4.7.1 greylisted"), SMTPC_EV_DONE, "final 451");
	is(rc[0].status, 4, "4");

	/* 421 in the middle of pipelined replies. */
	setup("s@y", 0, 9, 3);
	smtpc_begin(c, &txn);
	greet("250-mx\n250 PIPELINING");
	feed("250 ok\n550 5.1.1 unknown");
	is(feed("421 4.4.2 shutting down"), SMTPC_EV_DONE, "421 at RCPT ends everything");
	is(rc[0].status, 5, "earlier 5 stays");
	is(rc[1].status, 4, "pending gets 4");
	is(rc[2].status, 4, "pending gets 4 (2)");
	ok(smtpc_try_next(c), "421 before the dot: next host");
	ok(!smtpc_reusable(c), "not reusable");
	is(smtpc_begin(c, &txn), -1, "no new transaction on a dead connection");

	/* A reply in the middle of the body. */
	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	greet("250-mx\n250 PIPELINING");
	feed("250 ok\n250 ok\n354 go");
	smtpc_body(c, "abc\r\n", 5);
	is(feed("554 5.6.0 stop that"), SMTPC_EV_DONE, "unexpected reply during the body");
	is(rc[0].status, 5, "takes its status");
	ok(!smtpc_reusable(c), "and the connection is done");
}

static void
test_extensions(void)
{
	setup("s@y", MSGF_SMTPUTF8, 9, 2);
	smtpc_begin(c, &txn);
	feed("220 hi");
	take();
	is(feed("250-mx\n250 PIPELINING"), SMTPC_EV_DONE, "SMTPUTF8 needed, not offered");
	is(rc[0].status, 5, "5");
	is(rc[1].status, 5, "5 (2)");
	is_str(rc[0].text, "5.6.7 server does not support SMTPUTF8", "5.6.7 text");
	is(rc[0].reason, REASON_OTHER, "our own decision");
	is_str(take(), "", "no MAIL sent");
	ok(smtpc_reusable(c), "connection still fine");

	setup("s@y", MSGF_SMTPUTF8 | MSGF_8BITMIME, 9, 1);
	smtpc_begin(c, &txn);
	is_str(greet("250-mx\n250-SMTPUTF8\n250 8BITMIME"),
	    "MAIL FROM:<s@y> BODY=8BITMIME SMTPUTF8\r\n", "BODY=8BITMIME and SMTPUTF8");

	setup("s@y", MSGF_8BITMIME, 9, 1);
	smtpc_begin(c, &txn);
	is_str(greet("250-mx\n250 SIZE 0"), "MAIL FROM:<s@y> SIZE=9\r\n",
	    "8BITMIME not offered: no BODY=; SIZE 0 means no limit");

	setup("s@y", 0, 2000, 1);
	smtpc_begin(c, &txn);
	is(feed("220 hi"), SMTPC_EV_NONE, "banner");
	take();
	is(feed("250-mx\n250 SIZE 1000"), SMTPC_EV_DONE, "bigger than the server's SIZE");
	is(rc[0].status, 5, "5");
	ok(strncmp(rc[0].text, "5.3.4 ", 6) == 0, "5.3.4: %s", rc[0].text);

	setup("", 0, 9, 1);
	smtpc_begin(c, &txn);
	is_str(greet("250 mx"), "MAIL FROM:<>\r\n", "null sender");

	/* Inactive recipients are neither sent nor touched. */
	setup("s@y", 0, 9, 3);
	rc[1].active = 0;
	rc[1].status = 5;
	snprintf(rc[1].text, sizeof rc[1].text, "earlier");
	smtpc_begin(c, &txn);
	is_str(greet("250-mx\n250 PIPELINING"),
	    "MAIL FROM:<s@y>\r\nRCPT TO:<a@x.example>\r\nRCPT TO:<c@x.example>\r\nDATA\r\n",
	    "only active recipients");
	feed("250 ok\n250 ok\n250 ok\n354 go");
	smtpc_body_end(c);
	is(feed("250 ok"), SMTPC_EV_DONE, "done");
	is(rc[1].status, 5, "inactive keeps its status");
	is_str(rc[1].text, "earlier", "and text");
	is(rc[2].status, 2, "active ones delivered");
}

/* Stuffs in as chunks cut at cuts[0..ncuts-1]. */
static const char *
stuff(const char *in, const size_t *cuts, size_t ncuts)
{
	size_t len = strlen(in), prev = 0, i;

	setup("s@y", 0, len, 1);
	smtpc_begin(c, &txn);
	greet("250-mx\n250 PIPELINING");
	feed("250 ok\n250 ok\n354 go");
	take();
	for (i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len;

		smtpc_body(c, in + prev, end - prev);
		prev = end;
	}
	smtpc_body_end(c);
	return take();
}

static void
test_dot_stuffing(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "", ".\r\n" },
		{ ".\r\n", "..\r\n.\r\n" },
		{ "..\r\n", "...\r\n.\r\n" },
		{ "a\r\n.\r\n", "a\r\n..\r\n.\r\n" },
		{ "a\r\n.b\r\n..\r\n.\r\nend", "a\r\n..b\r\n...\r\n..\r\nend\r\n.\r\n" },
		{ "x.y\r\n a.\r\n", "x.y\r\n a.\r\n.\r\n" },
		{ ".start\r\n\r\n.\r\n\r\n", "..start\r\n\r\n..\r\n\r\n.\r\n" },
		{ "no newline at end.", "no newline at end.\r\n.\r\n" },
	};
	size_t k, i, j, len;
	int all;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		is_str(stuff(cases[k].in, NULL, 0), cases[k].out, "stuffing case %zu whole", k);
		len = strlen(cases[k].in);
		all = 1;
		for (i = 0; i <= len; i++) {
			size_t cut[1] = { i };

			if (strcmp(stuff(cases[k].in, cut, 1), cases[k].out) != 0) {
				all = 0;
				printf("# case %zu split at %zu: '%s'\n", k, i, outbuf);
			}
		}
		ok(all, "stuffing case %zu split at every position", k);
		all = 1;
		for (i = 0; i <= len; i++)
			for (j = i; j <= len; j++) {
				size_t cut[2] = { i, j };

				if (strcmp(stuff(cases[k].in, cut, 2), cases[k].out) != 0)
					all = 0;
			}
		ok(all, "stuffing case %zu in three chunks, every pair of cuts", k);
	}
	{
		/* One byte at a time. */
		const char *in = "a\r\n.\r\n..\r\n.x\r\n";
		size_t cuts[32];

		len = strlen(in);
		for (i = 0; i < len; i++)
			cuts[i] = i;
		is_str(stuff(in, cuts, len), "a\r\n..\r\n...\r\n..x\r\n.\r\n", "byte by byte");
	}
}

static void
test_connection_loss(void)
{
	setup("s@y", 0, 9, 2);
	smtpc_begin(c, &txn);
	greet("250 mx");
	feed("250 ok");
	take();
	feed("550 5.1.1 unknown");
	take();
	is(smtpc_fail(c, "4.4.2 lost connection with mx[192.0.2.1]"), SMTPC_EV_DONE,
	    "loss in RCPT phase");
	is(rc[0].status, 5, "decided recipient keeps 5");
	is(rc[1].status, 4, "pending one gets 4");
	is(rc[1].reason, REASON_CONN, "reason conn");
	is_str(rc[1].text, "4.4.2 lost connection with mx[192.0.2.1] (waiting for RCPT TO)",
	    "text names the phase");
	ok(smtpc_try_next(c), "before the dot: next host");
	ok(!smtpc_reusable(c), "not reusable");
	is(smtpc_fail(c, "again"), SMTPC_EV_CLOSE, "second failure: just close");

	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	greet("250-mx\n250 PIPELINING");
	feed("250 ok\n250 ok\n354 go");
	smtpc_body(c, "abc", 3);
	is(smtpc_fail(c, "4.4.2 timeout"), SMTPC_EV_DONE, "timeout in the body");
	is_str(rc[0].text, "4.4.2 timeout (while sending the message body)", "body phase text");
	ok(smtpc_try_next(c), "no dot yet: next host");

	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	greet("250-mx\n250 PIPELINING");
	feed("250 ok\n250 ok\n354 go");
	smtpc_body_end(c);
	is(smtpc_fail(c, "4.4.2 timeout"), SMTPC_EV_DONE, "timeout after the dot");
	is(rc[0].status, 4, "4");
	is_str(rc[0].text, "4.4.2 timeout (waiting for end of data)", "end of data phase");
	ok(!smtpc_try_next(c), "after the dot: never another host (no duplicates)");

	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	is(smtpc_fail(c, "4.4.2 timeout"), SMTPC_EV_DONE, "timeout waiting for the banner");
	is_str(rc[0].text, "4.4.2 timeout (waiting for banner)", "banner phase");
	ok(smtpc_try_next(c), "next host");

	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	feed("220 hi");
	take();
	is(feed("250 ok\n250 ok"), SMTPC_EV_NONE, "EHLO ok");
	take();
	is(feed("2x0 broken"), SMTPC_EV_DONE, "malformed reply");
	ok(strstr(rc[0].text, "malformed") != NULL, "malformed: %s", rc[0].text);
	is(rc[0].reason, REASON_CONN, "as a connection failure");
}

static void
test_reuse(void)
{
	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	greet("250-mx\n250 PIPELINING");
	feed("250 ok\n250 ok\n354 go");
	smtpc_body_end(c);
	take();
	is(feed("250 ok"), SMTPC_EV_DONE, "first transaction");
	ok(smtpc_idle(c), "idle");
	memset(rc, 0, sizeof rc);
	rc[0].addr = "z@x.example";
	rc[0].active = 1;
	txn.sender = "t@y";
	is(smtpc_begin(c, &txn), SMTPC_EV_NONE, "second transaction");
	is_str(take(), "RSET\r\n", "starts with RSET");
	ok(!smtpc_idle(c), "busy");
	is(smtpc_begin(c, &txn), -1, "busy engine refuses another");
	is(feed("250 2.0.0 reset"), SMTPC_EV_NONE, "RSET ok");
	is_str(take(), "MAIL FROM:<t@y>\r\nRCPT TO:<z@x.example>\r\nDATA\r\n", "then the group");
	feed("250 ok\n250 ok\n354 go");
	smtpc_body(c, "b\r\n", 3);
	smtpc_body_end(c);
	take();
	is(feed("250 second"), SMTPC_EV_DONE, "second done");
	is(rc[0].status, 2, "delivered");
	is(smtpc_transactions(c), 2, "two transactions");
	is_str(smtpc_final_reply(c), "250 second", "final reply of the second");

	/* RSET refused: retry elsewhere, nothing decided. */
	memset(rc, 0, sizeof rc);
	rc[0].addr = "z@x.example";
	rc[0].active = 1;
	smtpc_begin(c, &txn);
	take();
	is(feed("421 4.4.2 idle too long"), SMTPC_EV_RETRY, "RSET 421: retry");
	is(rc[0].status, 0, "recipient untouched");
	ok(!smtpc_reusable(c), "not reusable");

	/* Connection gone while waiting for RSET: retry too. */
	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	greet("250 mx");
	feed("250 ok\n250 ok\n354 go");
	smtpc_body_end(c);
	feed("250 ok");
	take();
	rc[0].status = 0;
	smtpc_begin(c, &txn);
	is_str(take(), "RSET\r\n", "RSET");
	is(smtpc_fail(c, "lost"), SMTPC_EV_RETRY, "lost during RSET: retry");
	is(rc[0].status, 0, "untouched");

	/* RSET 500: retry, QUIT this one. */
	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	greet("250 mx");
	feed("250 ok\n250 ok\n354 go");
	smtpc_body_end(c);
	feed("250 ok");
	take();
	smtpc_begin(c, &txn);
	take();
	is(feed("500 what"), SMTPC_EV_RETRY, "RSET 500: retry");
	is_str(take(), "QUIT\r\n", "and QUIT");

	/* Idle connection: the server says goodbye. */
	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	greet("250 mx");
	feed("250 ok\n250 ok\n354 go");
	smtpc_body_end(c);
	feed("250 ok");
	is(feed("421 4.4.2 timeout"), SMTPC_EV_CLOSE, "421 while idle: close");
	ok(!smtpc_reusable(c), "not reusable");

	/* QUIT. */
	setup("s@y", 0, 9, 1);
	feed("220 hi");
	feed("250 mx");
	take();
	ok(smtpc_idle(c), "greeted without a transaction: idle");
	smtpc_quit(c);
	is_str(take(), "QUIT\r\n", "QUIT");
	smtpc_quit(c);
	is_str(take(), "", "only once");
	is(feed("221 bye"), SMTPC_EV_CLOSE, "close after 221");
}

static void
test_abandon(void)
{
	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	is(smtpc_abandon(c), 0, "abandon before the banner: just close");

	setup("s@y", 0, 9, 2);
	smtpc_begin(c, &txn);
	greet("250 mx");
	feed("250 ok");
	take();
	is(smtpc_abandon(c), 1, "abandon while RCPT is answered: QUIT");
	is_str(take(), "QUIT\r\n", "QUIT written");
	is(feed("250 2.1.5 ok"), SMTPC_EV_CLOSE, "whatever comes next ends it");
	is(rc[0].status, 0, "recipients untouched after abandon");

	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	greet("250-mx\n250 PIPELINING");
	ok(smtpc_in_data(c), "pipelined DATA is out");
	is(smtpc_abandon(c), 0, "abandon with DATA out: close, never QUIT (it would be text)");
	is_str(take(), "", "nothing written");

	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	greet("250-mx\n250 PIPELINING");
	feed("250 ok\n250 ok\n354 go");
	smtpc_body(c, "x", 1);
	take();
	is(smtpc_abandon(c), 0, "abandon in the body: close");
	is_str(take(), "", "no dot, nothing");

	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	greet("250 mx");
	feed("250 ok\n250 ok\n354 go");
	smtpc_body_end(c);
	feed("250 ok");
	take();
	is(smtpc_abandon(c), 1, "abandon an idle connection: QUIT");
	is_str(take(), "QUIT\r\n", "QUIT");
}


/* STARTTLS: with the TLS hook the engine stops after the greeting and the
 * caller leads (deliver/session.c asks tls_policy.c what to do). */
static void
test_starttls(void)
{
	setup("s@y.example", 0, 5, 1);
	smtpc_tls_hook(c, 1);
	smtpc_begin(c, &txn);
	feed("220 mx.example ESMTP");
	is_str(take(), "EHLO gw.test\r\n", "EHLO first");
	is(feed("250-mx\n250-PIPELINING\n250 STARTTLS"), SMTPC_EV_TLS,
	    "the hook stops after EHLO: EV_TLS");
	is_str(take(), "", "no MAIL before the TLS decision");
	ok(smtpc_extensions(c) & SMTPC_EXT_STARTTLS, "STARTTLS seen");
	is(smtpc_ehlo_rejected(c), 0, "EHLO was accepted");
	is(smtpc_starttls(c), 0, "STARTTLS sent");
	is_str(take(), "STARTTLS\r\n", "STARTTLS alone");
	is_str(smtpc_phase(c), "STARTTLS", "phase STARTTLS");
	is(feed("220 2.0.0 Ready to start TLS"), SMTPC_EV_TLS_READY, "220: do the handshake");
	is_str(smtpc_tls_reply(c), "220 2.0.0 Ready to start TLS", "the reply is kept");
	smtpc_tls_started(c);
	ok(smtpc_tls_active(c), "TLS active");
	is(smtpc_extensions(c), 0, "what the server said before TLS is forgotten");
	is_str(take(), "EHLO gw.test\r\n", "EHLO again under TLS");
	is(feed("250-mx\n250 PIPELINING"), SMTPC_EV_NONE, "no second EV_TLS under TLS");
	is_str(take(), "MAIL FROM:<s@y.example>\r\nRCPT TO:<a@x.example>\r\nDATA\r\n",
	    "the transaction starts over TLS");

	/* Refused STARTTLS, then clear (preferred's pre-220 fallback). */
	setup("s@y.example", 0, 5, 1);
	smtpc_tls_hook(c, 1);
	smtpc_begin(c, &txn);
	feed("220 mx.example ESMTP");
	take();
	feed("250-mx\n250 STARTTLS");
	smtpc_starttls(c);
	take();
	is(feed("454 4.7.0 TLS not available"), SMTPC_EV_TLS_REFUSED, "454: EV_TLS_REFUSED");
	is_str(smtpc_tls_reply(c), "454 4.7.0 TLS not available", "with its text");
	is(smtpc_tls_skip(c), SMTPC_EV_NONE, "going on in clear");
	is_str(take(), "MAIL FROM:<s@y.example>\r\n", "the transaction starts in clear");

	/* No STARTTLS advertised: smtpc_starttls refuses; defer. */
	setup("s@y.example", 0, 5, 2);
	smtpc_tls_hook(c, 1);
	smtpc_begin(c, &txn);
	feed("220 mx.example ESMTP");
	take();
	is(feed("250 mx"), SMTPC_EV_TLS, "EV_TLS without STARTTLS advertised");
	is(smtpc_starttls(c), -1, "no STARTTLS to send");
	is(smtpc_defer(c, "4.7.4 TLS not available", 1), SMTPC_EV_DONE,
	    "defer ends the transaction");
	is(rc[0].status, 4, "recipient deferred");
	is(rc[0].reason, REASON_CONN, "as a connection failure");
	is_str(rc[1].text, "4.7.4 TLS not available", "with the caller's text");
	ok(smtpc_try_next(c), "the next host may be tried");
	is_str(take(), "QUIT\r\n", "QUIT");
	ok(!smtpc_reusable(c), "not reusable");

	/* EHLO refused: HELO, then EV_TLS with ehlo_rejected. */
	setup("s@y.example", 0, 5, 1);
	smtpc_tls_hook(c, 1);
	smtpc_begin(c, &txn);
	feed("220 mx.example ESMTP");
	take();
	feed("502 5.5.2 no EHLO");
	is_str(take(), "HELO gw.test\r\n", "HELO after a refused EHLO");
	is(feed("250 mx"), SMTPC_EV_TLS, "EV_TLS after HELO");
	is(smtpc_ehlo_rejected(c), 1, "and the engine says EHLO was refused");

	/* A failed handshake: no QUIT (the server cannot read it). */
	setup("s@y.example", 0, 5, 1);
	smtpc_tls_hook(c, 1);
	smtpc_begin(c, &txn);
	feed("220 mx.example ESMTP");
	take();
	feed("250-mx\n250 STARTTLS");
	smtpc_starttls(c);
	take();
	feed("220 go");
	is(smtpc_defer(c, "4.7.5 handshake failed", 0), SMTPC_EV_DONE, "defer after 220");
	is_str(take(), "", "nothing written after a failed handshake");
	is(rc[0].status, 4, "recipient deferred");
}


/* Hostile or broken servers the fuzzer found (t/fuzz/smtp_client.c). */
static void
test_fuzz_findings(void)
{
	/* 250 to DATA: no message went out, so nothing is delivered. */
	setup("s@y.example", 0, 5, 2);
	smtpc_begin(c, &txn);
	greet("250-mx\n250 PIPELINING");
	is(feed("250 ok\n250 ok\n250 ok\n250 2.0.0 oops, I skipped 354"), SMTPC_EV_DONE,
	    "a 2xx to DATA ends the transaction");
	is(rc[0].status, 4, "accepted recipient deferred, not delivered");
	is(rc[1].status, 4, "both of them");
	ok(!smtpc_reusable(c), "and the connection is not reused");

	/* A body ending without CRLF gets one before the dot. */
	setup("s@y.example", 0, 5, 1);
	smtpc_begin(c, &txn);
	greet("250-mx\n250 PIPELINING");
	feed("250 ok\n250 ok\n354 go");
	take();
	smtpc_body(c, "line\n", 5);
	smtpc_body_end(c);
	is_str(take(), "line\n\r\n.\r\n", "a bare LF at the end is not taken for CRLF");
	setup("s@y.example", 0, 5, 1);
	smtpc_begin(c, &txn);
	greet("250-mx\n250 PIPELINING");
	feed("250 ok\n250 ok\n354 go");
	take();
	smtpc_body(c, "line\r", 5);
	smtpc_body(c, "\n", 1);
	smtpc_body_end(c);
	is_str(take(), "line\r\n.\r\n", "a CRLF split over two chunks is one");

	/* 421 to the RSET of a reused connection: the engine lets go. */
	setup("s@y", 0, 9, 1);
	smtpc_begin(c, &txn);
	greet("250-mx\n250 PIPELINING");
	feed("250 ok\n250 ok\n354 go");
	smtpc_body_end(c);
	feed("250 ok");
	take();
	memset(rc, 0, sizeof rc);
	rc[0].addr = "z@x.example";
	rc[0].active = 1;
	smtpc_begin(c, &txn);
	take();
	is(feed("421 4.4.2 closing"), SMTPC_EV_RETRY, "421 to RSET: retry elsewhere");
	is(smtpc_fail(c, "4.4.2 lost"), SMTPC_EV_CLOSE,
	    "a later failure does not touch the retried transaction");
	is(rc[0].status, 0, "whose recipient stays undecided");

	/* A line while the TLS decision waits: the transaction is settled. */
	setup("s@y.example", 0, 5, 1);
	smtpc_tls_hook(c, 1);
	smtpc_begin(c, &txn);
	feed("220 mx");
	take();
	is(feed("250-mx\n250 STARTTLS"), SMTPC_EV_TLS, "EV_TLS (the caller waits for DANE)");
	is(feed("421 4.4.2 idle too long"), SMTPC_EV_DONE, "an unasked 421 ends the transaction");
	is(rc[0].status, 4, "its recipient deferred");

	/* QUIT while EHLO is pending: nothing more is sent, in clear or not. */
	setup("s@y.example", 0, 5, 1);
	smtpc_tls_hook(c, 1);
	smtpc_begin(c, &txn);
	feed("220 mx");
	take();
	smtpc_quit(c);
	is_str(take(), "QUIT\r\n", "QUIT behind EHLO");
	feed("250-mx\n250 STARTTLS");
	is_str(take(), "", "the EHLO answer after QUIT sends nothing (no MAIL in clear)");
	is(feed("221 bye"), SMTPC_EV_CLOSE, "then 221 closes");

	/* QUIT before the banner: no EHLO after it. */
	setup("s@y.example", 0, 5, 1);
	smtpc_quit(c);
	take();
	feed("220 mx");
	is_str(take(), "", "a banner after QUIT sends no EHLO");
}

int
main(void)
{
	log_open("test", "/dev/null");
	test_fuzz_findings();
	test_starttls();
	test_basic_no_pipelining();
	test_pipelining();
	test_banner_and_hello();
	test_mail_rcpt_data_failures();
	test_extensions();
	test_dot_stuffing();
	test_connection_loss();
	test_reuse();
	test_abandon();
	smtpc_free(c);
	return done_testing();
}
