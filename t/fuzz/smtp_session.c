/*
 * smtp_session - libFuzzer target for smtpd/session.c driven by a fake
 * queue manager.
 *
 * Input: byte 0 picks the listener and client address (so HAT actions and
 * relay paths are all reached) and whether a canned EHLO/MAIL/RCPT/DATA
 * prefix goes first; byte 1 seeds the chunking and the fake qmgr's
 * behaviour (commit ok or failure, channel loss, timeouts) and whether the
 * listener has a certificate and credentials (STARTTLS and AUTH: the
 * handshake and the password check answer at random); the rest is what
 * the client sends.  It is fed the way smtpd.c feeds it: only as much
 * as smtp_session_input_room() allows, replies taken out when the session
 * stops, smtp_session_process() again while it is runnable.
 *
 * Checks: the ops protocol (data only inside begin..end/abort, frames of
 * at most SMTP_DATA_FRAME, at most one open transaction), bounded input
 * and reply buffers, replies that are well-formed SMTP lines ("ddd" then
 * ' ' or '-', CRLF, at most 512 octets), and no reply at all while the
 * session waits for a commit or a password check; STARTTLS leaves no
 * unprocessed input behind (pipelined bytes are discarded) and TLS is
 * active only after smtp_session_tls_started; auth_check gets a user of
 * 1-255 bytes and is asked only when credentials were offered.
 *
 * Not for: the DATA parser's own contract (smtp_data.c).  make fuzz
 * compiles only lib/ sources with this file, so the smtpd sources are included
 * here directly.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "../../smtpd/data_parser.c"
#include "../../smtpd/rates.c"
#include "../../smtpd/rewrite.c"
#include "../../smtpd/session.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static const char fuzz_yaml[] =
    "hostname: mx.fuzz\n"
    "smtpd: { max_errors: 30 }\n"
    "auth: { max_failures: 4, max_failures_per_ip: 9 }\n"
    "aliases: { team@example.com: [a@example.com, b@example.net], void@: /dev/null }\n"
    "listeners:\n"
    "  - name: In\n"
    "    type: public\n"
    "    port: 25\n"
    "    default_policy: LIMITS\n"
    "    default_domain: example.com\n"
    "    domain_map: { old.example: example.com, .old.example: example.com }\n"
    "    hat:\n"
    "      - { group: BLOCKED, match: [\"10.9.0.0/16\"], policy: BLOCKED }\n"
    "      - { group: REFUSED, match: [\"10.8.0.1\"], policy: REFUSE }\n"
    "      - { group: RELAYLIST, match: [\"192.0.2.10\", \"2001:db8::10\"], policy: RELAYED }\n"
    "      - { group: SMALL, match: [\"192.0.2.20\"], policy: SMALL }\n"
    "      - { group: ALL, match: [ALL], policy: ACCEPTED }\n"
    "    rat:\n"
    "      - { match: spam@example.com, action: reject, reply: \"550 5.1.1 no\" }\n"
    "      - { match: vip.example, action: accept, bypass_rate_limit: true, reply: \"250 2.1.5 hi\" }\n"
    "      - { match: example.com, action: accept }\n"
    "      - { match: .sub.example.net, action: accept }\n"
    "      - { match: \"bücher.example\", action: accept }\n"
    "      - { match: ALL, action: reject }\n"
    "  - name: Out\n"
    "    type: private\n"
    "    port: 587\n"
    "    masquerade: { \"@int.example\": \"@example.com\", \"x@int.example\": \"y@example.com\" }\n"
    "    hat:\n"
    "      - { group: RELAYLIST, match: [\"127.0.0.0/8\"], policy: RELAYED }\n"
    "      - { group: ALL, match: [ALL], policy: ACCEPTED }\n"
    "  - name: Sink\n"
    "    type: sinkhole\n"
    "    port: 2525\n"
    "    hat:\n"
    "      - { group: ALL, match: [ALL], policy: ACCEPTED }\n"
    "  - name: Tls\n"
    "    type: public\n"
    "    port: 2526\n"
    "    hat:\n"
    "      - { group: REQ, match: [\"192.0.2.20\", \"10.9.0.0/16\"], policy: TLSREQ }\n"
    "      - { group: CLEAR, match: [\"127.0.0.1\"], policy: AUTHCLEAR }\n"
    "      - { group: ALL, match: [ALL], policy: TLSPREF }\n"
    "    rat:\n"
    "      - { match: example.com, action: accept }\n"
    "      - { match: ALL, action: reject }\n"
    "  - name: Sub\n"
    "    type: private\n"
    "    port: 2527\n"
    "    hat:\n"
    "      - { group: ALL, match: [ALL], policy: TLSPREF }\n"
    "policies:\n"
    "  ACCEPTED: { action: accept, max_message_size: 2k, max_rcpts_per_msg: 4 }\n"
    "  SMALL: { action: accept, max_message_size: 60, max_rcpts_per_msg: 2 }\n"
    "  RELAYED: { action: relay }\n"
    "  BLOCKED: { action: reject }\n"
    "  REFUSE: { action: tcprefuse }\n"
    "  LIMITS: { max_rcpts_per_hour: 6, dhap_max_invalid_rcpts_per_hour: 5, max_msgs_per_conn: 3 }\n"
    "  TLSPREF: { action: accept, tls: preferred, auth: preferred, max_message_size: 2k }\n"
    "  TLSREQ: { action: accept, tls: required, auth: required }\n"
    "  AUTHCLEAR: { action: accept, tls: preferred, auth: required,\n"
    "    auth_requires_tls: false }\n";

static const char prefix[] =
    "EHLO fuzz.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n";

static const char *const clients[] = {
	"192.0.2.1", "10.9.1.1", "10.8.0.1", "192.0.2.10", "192.0.2.20", "127.0.0.1",
	"2001:db8::10", "::ffff:192.0.2.20",
};
static const char *const listeners[] = { "In", "Out", "Sink", "Tls", "Sub" };

struct fz {
	int		ready;
	int		open;
	uint32_t	next_mid;
	uint32_t	rnd;
	int		auth_pending;	/* auth_check called, not answered */
	int		auth_offered;	/* params.auth_available */
};

static struct config *fuzz_cfg;
static struct rate_table *fz_rates;	/* shared by every input, like smtpd's */
static struct fz fz;

static uint32_t
fz_rand(void)
{
	fz.rnd = fz.rnd * 1103515245u + 12345u;
	return fz.rnd >> 8;
}

static int
fz_ready(void *arg)
{
	(void)arg;
	return fz.ready;
}

static int
fz_take_mid(void *arg, uint32_t *mid)
{
	(void)arg;
	switch (fz_rand() % 16) {
	case 0:
		return -1;
	case 1:
		return 1;	/* none yet: the session waits */
	default:
		*mid = fz.next_mid++;
		return 0;
	}
}

static int
fz_begin(void *arg, const struct smtp_txn *t)
{
	size_t i;

	(void)arg;
	CHECK(!fz.open);
	CHECK(t->nrcpt > 0 && t->sender != NULL && t->helo != NULL);
	for (i = 0; i < t->nrcpt; i++)
		CHECK(t->rcpts[i] != NULL && strlen(t->rcpts[i]) < 2048);
	if (fz_rand() % 16 == 0)
		return -1;
	fz.open = 1;
	return 0;
}

static void
fz_data(void *arg, const void *p, size_t n)
{
	(void)arg;
	(void)p;
	CHECK(fz.open);
	CHECK(n > 0 && n <= SMTP_DATA_FRAME);
}

static void
fz_end(void *arg, uint64_t size)
{
	(void)arg;
	(void)size;
	CHECK(fz.open);
	fz.open = 0;
}

static void
fz_abort(void *arg)
{
	(void)arg;
	CHECK(fz.open);
	fz.open = 0;
}

static void
fz_counter(void *arg, const char *name, uint64_t delta)
{
	(void)arg;
	CHECK((strcmp(name, SMTP_COUNTER_REJECTED_RCPTS) == 0 ||
	    strcmp(name, SMTP_COUNTER_DROPPED_MSGS) == 0 ||
	    strcmp(name, SMTP_COUNTER_DHAP_HITS) == 0 ||
	    strcmp(name, SMTP_COUNTER_RATE_LIMIT_HITS) == 0) && delta == 1);
}

static void
fz_auth_check(void *arg, const char *user, const char *pass)
{
	size_t n = strlen(user);

	(void)arg;
	CHECK(fz.auth_offered && !fz.auth_pending);
	CHECK(n > 0 && n < 256);
	CHECK(strlen(pass) < SMTP_LINE_MAX);
	fz.auth_pending = 1;
}

static const struct smtp_session_ops fz_ops = {
	.qmgr_ready = fz_ready,
	.take_mid = fz_take_mid,
	.begin = fz_begin,
	.data = fz_data,
	.end = fz_end,
	.abort = fz_abort,
	.counter = fz_counter,
	.auth_check = fz_auth_check,
};

static void
setup(void)
{
	struct config_source src;
	char err[512];

	log_open("smtpd", "/dev/null");
	src.path = "fuzz.yaml";
	src.text = (char *)fuzz_yaml;
	src.len = sizeof fuzz_yaml - 1;
	if (config_parse_sources(&src, 1, &fuzz_cfg, err, sizeof err) < 0) {
		fprintf(stderr, "fuzz config: %s\n", err);
		abort();
	}
	fz_rates = rate_table_new(64);
}

/* Replies are whole SMTP lines; takes them out like a socket write. */
static void
drain_output(struct smtp_session *s)
{
	struct buf *out = smtp_session_output(s);
	const char *p = out->data, *end, *eol;

	CHECK(out->len < SMTP_OUT_HIGH + 2048);
	if (out->len == 0)
		return;
	end = p + out->len;
	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		CHECK(eol != NULL && eol > p && eol[-1] == '\r');
		CHECK(eol - p + 1 <= SMTP_LINE_MAX);
		CHECK(eol - p >= 5);
		CHECK(p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' &&
		    p[2] >= '0' && p[2] <= '9' && (p[3] == ' ' || p[3] == '-'));
		CHECK(memchr(p, '\0', (size_t)(eol - p)) == NULL);
		p = eol + 1;
	}
	buf_reset(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_session_params sp;
	struct smtp_session *s;
	struct buf in;
	size_t off = 0, n, room;
	uint8_t mode;
	int steps = 0;

	if (fuzz_cfg == NULL)
		setup();
	if (size < 2)
		return 0;
	mode = data[0];
	memset(&fz, 0, sizeof fz);
	fz.ready = (mode & 0x80) == 0 || (data[1] & 1);
	fz.next_mid = 1;
	fz.rnd = data[1];
	buf_init(&in, 0);
	if (mode & 0x40)
		buf_append(&in, prefix, sizeof prefix - 1);
	buf_append(&in, data + 2, size - 2);

	memset(&sp, 0, sizeof sp);
	sp.cfg = fuzz_cfg;
	sp.listener = config_listener(fuzz_cfg, listeners[((mode >> 3) & 7) % 5]);
	sp.local_ip = "192.0.2.254";
	sp.client_ip = clients[mode & 7];
	sp.icid = 1;
	sp.rates = fz_rates;
	sp.tls_available = (data[1] & 0x10) == 0;
	sp.auth_available = fz.auth_offered = (data[1] & 0x20) == 0;
	s = smtp_session_new(&sp, &fz_ops, NULL);
	smtp_session_start(s);

	while (steps++ < 100000) {
		enum smtp_state st;

		drain_output(s);
		CHECK(s->in.len <= SMTP_IN_MAX);
		st = smtp_session_state(s);
		if (st == SMTP_CLOSED)
			break;
		if (st == SMTP_WAIT_COMMIT) {
			uint32_t r = fz_rand() % 8;

			CHECK(smtp_session_input_room(s) == 0);
			if (r == 0) {
				/* As smtpd.c: the channel is gone before sessions hear it. */
				fz.open = 0;
				fz.ready = 0;
				smtp_session_qmgr_lost(s);
			} else if (r == 1)
				smtp_session_committed(s, COMMIT_TEMPFAIL,
				    "452 4.3.1 Insufficient system storage");
			else if (r == 2)
				smtp_session_committed(s, COMMIT_PERMFAIL, "bogus\r\n");
			else if (r == 3)
				smtp_session_shutdown(s);
			else
				smtp_session_committed(s, COMMIT_OK, "");
			continue;
		}
		if (st == SMTP_STARTTLS) {
			uint32_t r = fz_rand() % 8;

			CHECK(smtp_session_input_room(s) == 0);
			CHECK(s->in.len == s->in_off);	/* nothing pipelined survives */
			CHECK(!smtp_session_tls_active(s));
			if (r == 0)
				smtp_session_tls_failed(s, "handshake: fuzz");
			else if (r == 1)
				smtp_session_timeout(s, SMTP_TIMEOUT_IDLE);
			else {
				smtp_session_tls_started(s, "TLSv1.3", "TLS_AES_128_GCM_SHA256",
				    r == 2 ? "CN=fuzz\n\x01" : NULL);
				CHECK(smtp_session_state(s) == SMTP_CMD);
				CHECK(smtp_session_tls_active(s));
				CHECK(s->in.len == 0 && s->greeted == GREET_NONE && !s->in_txn);
			}
			continue;
		}
		if (st == SMTP_WAIT_AUTH) {
			uint32_t r = fz_rand() % 8;

			CHECK(smtp_session_input_room(s) == 0);
			CHECK(fz.auth_pending);
			fz.auth_pending = 0;
			if (r == 0)
				smtp_session_lost(s);
			else
				smtp_session_auth_result(s, r < 3 ? SMTP_AUTH_OK : r == 3 ?
				    SMTP_AUTH_TEMPFAIL : SMTP_AUTH_FAIL);
			continue;
		}
		CHECK(!fz.auth_pending);
		if (st == SMTP_WAIT_MID) {
			CHECK(smtp_session_input_room(s) == 0);
			if (fz_rand() % 4 == 0) {
				fz.ready = 0;
				smtp_session_qmgr_lost(s);
			} else
				smtp_session_mid_ready(s);
			continue;
		}
		if (smtp_session_runnable(s)) {
			smtp_session_process(s);
			continue;
		}
		if (off == in.len) {
			if (fz_rand() % 2)
				smtp_session_eof(s);
			else
				smtp_session_timeout(s, SMTP_TIMEOUT_IDLE);
			continue;
		}
		if (fz_rand() % 64 == 0 && smtp_session_state(s) == SMTP_DATA) {
			fz.open = 0;
			fz.ready = 0;
			smtp_session_qmgr_lost(s);
		}
		room = smtp_session_input_room(s);
		CHECK(room > 0);
		n = in.len - off;
		if (n > room)
			n = room;
		if (n > 1)
			n = 1 + fz_rand() % (n < 300 ? n : 300);
		smtp_session_input(s, in.data + off, n);
		off += n;
	}
	CHECK(smtp_session_state(s) == SMTP_CLOSED);
	smtp_session_free(s);
	CHECK(!fz.open);
	buf_free(&in);
	return 0;
}
