/*
 * smtp_reply - libFuzzer target for lib/smtp_reply.c.
 *
 * The input is what a server might send: it is split on '\n' (a '\r'
 * before it is dropped) and fed line by line; after each complete or
 * failed reply the parser is reset and goes on with the next line, so
 * one input holds many replies.  Each reply is checked against the
 * bounds in smtp_reply.h, and the EHLO lookup and the one-line form are
 * exercised with small and large buffers.
 *
 * Not for: the network side; any violation aborts with __builtin_trap.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static void
check_reply(const struct smtp_reply *r)
{
	static const char *const kw[] = { "SIZE", "AUTH", "STARTTLS", "8BITMIME",
	    "PIPELINING", "SMTPUTF8", "X" };
	const char *param;
	char one[64], big[SMTP_REPLY_MAX_TEXT + 64];
	size_t i, plen, n;

	CHECK(r->done);
	CHECK(r->code >= 200 && r->code <= 599);
	CHECK(memchr(r->text, '\0', sizeof r->text) != NULL);
	CHECK(memchr(r->enhanced, '\0', sizeof r->enhanced) != NULL);
	CHECK(r->enhanced[0] == '\0' || r->enhanced[0] == '0' + r->code / 100);
	CHECK(r->nlines >= 1);
	for (i = 0; i < sizeof kw / sizeof kw[0]; i++) {
		if (smtp_reply_has_ext(r, kw[i], &param, &plen)) {
			CHECK(r->code == 250);
			if (param != NULL) {
				CHECK(param > r->text && param + plen <= r->text + strlen(r->text));
				CHECK(memchr(param, '\n', plen) == NULL);
			} else
				CHECK(plen == 0);
		}
	}
	smtp_reply_oneline(r, one, sizeof one);
	CHECK(strlen(one) < sizeof one);
	smtp_reply_oneline(r, big, sizeof big);
	n = strlen(big);
	CHECK(n < sizeof big && memchr(big, '\n', n) == NULL);
	smtp_reply_oneline(r, one, 1);
	CHECK(one[0] == '\0');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	struct smtp_reply r;
	enum smtp_reply_status st;
	size_t n;

	smtp_reply_init(&r);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		st = smtp_reply_feed(&r, p, n);
		if (st == SMTP_REPLY_DONE) {
			check_reply(&r);
			CHECK(smtp_reply_feed(&r, "250 x", 5) == SMTP_REPLY_ERROR);
			smtp_reply_init(&r);
		} else if (st == SMTP_REPLY_ERROR) {
			CHECK(smtp_reply_feed(&r, "250 x", 5) == SMTP_REPLY_ERROR);
			smtp_reply_init(&r);
		} else
			CHECK(!r.done && r.nlines >= 1 &&
			    memchr(r.text, '\0', sizeof r.text) != NULL);
		p = nl != NULL ? nl + 1 : end;
	}
	return 0;
}
