/*
 * qmgr_bounce - DSN pieces: status codes from replies, header extraction,
 * and a report that has the parts RFC 3464 requires.
 */
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "qmsg.h"
#include "tap.h"

int
main(void)
{
	char code[16];
	struct qmsg m;
	struct qrcpt r[2];
	struct buf out;
	uint32_t rids[2] = { 0, 1 };
	const char *hdrs = "From: a@x\r\nSubject: hi\r\n\r\n";

	bounce_status_code("550 5.1.1 no such user", code);
	is_str(code, "5.1.1", "enhanced code taken from the reply");
	bounce_status_code("554 rejected", code);
	is_str(code, "5.0.0", "5xx without enhanced code");
	bounce_status_code("451 4.3.0 later (expired)", code);
	is_str(code, "4.3.0", "4xx code kept");
	bounce_status_code("DNS: no such domain", code);
	is_str(code, "5.0.0", "non-SMTP text: 5.0.0");
	bounce_status_code(NULL, code);
	is_str(code, "5.0.0", "no reply at all");
	bounce_status_code("550 5.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1", code);
	is_str(code, "5.0.0", "absurd code not copied");

	is(bounce_header_len("A: b\r\n\r\nbody", 12), 8, "header length up to the blank line");
	is(bounce_header_len("A: b\r\nno blank", 15), 15, "no blank line: all of it");

	memset(&m, 0, sizeof m);
	memset(r, 0, sizeof r);
	m.mid = 42;
	m.sender = "sender@example.org";
	m.received = 1700000000;
	m.rcpts = r;
	m.nrcpt = 2;
	r[0].addr = "one@example.com";
	r[0].last_reply = "550 5.1.1 no such user";
	r[1].addr = "two@example.com";
	r[1].last_reply = "451 4.2.0 try later\r\ninjected: header (expired after 5 attempt(s))";
	buf_init(&out, 0);
	bounce_build(&out, "mx.test", &m, rids, 2, hdrs, strlen(hdrs), 43, 1700000100);
	ok(strstr(out.data, "To: <sender@example.org>\r\n") != NULL, "addressed to the sender");
	ok(strstr(out.data, "multipart/report; report-type=delivery-status") != NULL, "multipart/report");
	ok(strstr(out.data, "Content-Type: message/delivery-status") != NULL, "delivery-status part");
	ok(strstr(out.data, "Reporting-MTA: dns; mx.test") != NULL, "Reporting-MTA");
	ok(strstr(out.data, "Final-Recipient: rfc822; one@example.com\r\nAction: failed\r\n"
	    "Status: 5.1.1\r\n") != NULL, "first recipient's fields");
	ok(strstr(out.data, "Final-Recipient: rfc822; two@example.com") != NULL, "second recipient");
	ok(strstr(out.data, "Diagnostic-Code: smtp; 550 5.1.1 no such user") != NULL, "diagnostic");
	ok(strstr(out.data, "\r\ninjected: header") == NULL, "CR/LF in remote text cannot inject lines");
	ok(strstr(out.data, "Content-Type: text/rfc822-headers\r\n\r\nFrom: a@x\r\nSubject: hi") != NULL,
	    "original headers returned");
	ok(strstr(out.data, "--43/mx.test--\r\n") != NULL, "closing boundary");
	buf_free(&out);
	return done_testing();
}
