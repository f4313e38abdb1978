/*
 * qmgr_qmsg - envelope records round-trip, and damaged records are
 * refused rather than half-read.
 */
#include <stdlib.h>
#include <string.h>

#include "qmsg.h"
#include "tap.h"
#include "xalloc.h"

int
main(void)
{
	struct qmsg m, *d;
	struct qrcpt r[2];
	struct buf b;
	size_t cut;
	int all_refused = 1;

	memset(&m, 0, sizeof m);
	memset(r, 0, sizeof r);
	m.mid = 99;
	m.icid = 5;
	m.received = 1700000000;
	m.flags = 3;
	m.sender = "s@example.org";
	m.listener = "Out";
	m.client_ip = "127.0.0.2";
	m.subject = "Hello";
	m.size = 4096;
	m.body_in_file = 1;
	m.nrcpt = 2;
	m.rcpts = r;
	r[0].addr = "a@Example.COM";
	r[0].state = RCPT_DONE;
	r[0].last_reply = "250 ok";
	r[1].addr = "b@b\xc3\xbc" "cher.example";
	r[1].attempts = 3;
	r[1].next_try = 1700000500;
	r[1].last_reply = "";
	buf_init(&b, 0);
	qmsg_encode(&m, &b);
	d = qmsg_decode(99, b.data, b.len);
	ok(d != NULL, "record decodes");
	if (d) {
		is(d->icid, 5, "icid");
		is(d->received, 1700000000, "received");
		is(d->flags, 3, "flags");
		is_str(d->sender, "s@example.org", "sender");
		is_str(d->subject, "Hello", "subject");
		is(d->size, 4096, "size");
		is(d->body_in_file, 1, "body location");
		is(d->nrcpt, 2, "recipients");
		is(d->pending, 1, "pending counts recipients not done");
		is(d->rcpts[1].attempts, 3, "attempts");
		is(d->rcpts[1].next_try, 1700000500, "next try");
		is_str(d->rcpts[0].domain, "example.com", "routing domain lower-cased");
		is_str(d->rcpts[1].domain, "xn--bcher-kva.example", "IDN routing domain in A-labels");
		qmsg_free(d);
	}
	for (cut = 0; cut < b.len; cut++) {
		d = qmsg_decode(99, b.data, cut);
		if (d != NULL) {
			all_refused = 0;
			qmsg_free(d);
		}
	}
	ok(all_refused, "every truncation of the record is refused");
	b.data[3] = 9;
	ok(qmsg_decode(99, b.data, b.len) == NULL, "unknown record version refused");

	/* A redirected recipient keeps its routing domain (optional section). */
	{
		size_t plain = b.len;

		r[1].domain = "[127.0.0.1]:2525";
		r[1].rerouted = 1;
		buf_reset(&b);
		qmsg_encode(&m, &b);
		ok(b.len > plain, "a redirected recipient adds a section");
		d = qmsg_decode(99, b.data, b.len);
		ok(d != NULL, "record with a redirected recipient decodes");
		if (d) {
			is_str(d->rcpts[1].domain, "[127.0.0.1]:2525", "redirected routing domain kept");
			is(d->rcpts[1].rerouted, 1, "and marked");
			is_str(d->rcpts[0].domain, "example.com", "the other one routes by its address");
			is(d->rcpts[0].rerouted, 0, "unmarked");
			qmsg_free(d);
		}
		all_refused = 1;
		for (cut = plain + 1; cut < b.len; cut++) {
			d = qmsg_decode(99, b.data, cut);
			if (d != NULL) {
				all_refused = 0;
				qmsg_free(d);
			}
		}
		ok(all_refused, "every truncation inside the section is refused");
		b.data[plain + 3] = 9;	/* count 9 > 2 recipients */
		ok(qmsg_decode(99, b.data, b.len) == NULL, "a section naming too many recipients is refused");
	}
	buf_free(&b);
	return done_testing();
}
