/*
 * smtpd_data_parser - the DATA phase parser: end marker, dot-unstuffing,
 * bare CR/LF (fatal), long lines, NUL, size, Subject capture, and that
 * the way the input is chunked never changes the result.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"
#include "../../smtpd/data_parser.h"

struct result {
	enum data_status	 st;
	enum data_error		 err;
	size_t			 consumed;
	uint64_t		 size;
	struct buf		 out;
	char			 subject[DATA_SUBJECT_MAX + 1];
	int			 has_subject;
	size_t			 max_out;	/* largest out->len seen */
};

enum { CHUNK_ONE = 0, CHUNK_BYTE = 1, CHUNK_RANDOM = 2 };

static uint32_t rng = 12345;

static uint32_t
next_rand(void)
{
	rng = rng * 1103515245u + 12345u;
	return rng >> 8;
}

/*
 * Feeds in to a fresh parser as the given chunking, shipping out whenever
 * it reaches out_limit (as session.c does), until DONE or FATAL.
 */
static void
run(struct result *r, const char *in, size_t n, int chunking, uint64_t max,
    size_t out_limit)
{
	struct data_parser p;
	struct buf out;
	size_t off = 0, len, used;
	const char *subj;

	memset(r, 0, sizeof *r);
	buf_init(&r->out, 0);
	buf_init(&out, 0);
	data_parser_init(&p, max, out_limit);
	r->st = DATA_MORE;
	while (off < n && r->st == DATA_MORE) {
		len = n - off;
		if (chunking == CHUNK_BYTE)
			len = 1;
		else if (chunking == CHUNK_RANDOM && len > 1)
			len = 1 + next_rand() % (len < 40 ? len : 40);
		r->st = data_parser_feed(&p, in + off, len, &used, &out);
		off += used;
		if (out.len > r->max_out)
			r->max_out = out.len;
		if (out_limit == 0 || out.len + 2 > out_limit || r->st != DATA_MORE) {
			buf_append(&r->out, out.data ? out.data : "", out.len);
			buf_reset(&out);
		}
		if (used == 0 && r->st == DATA_MORE && out.len == 0 && len > 0)
			break;	/* no progress: a bug; the test will show it */
	}
	buf_append(&r->out, out.data ? out.data : "", out.len);
	buf_free(&out);
	r->consumed = off;
	r->err = p.error;
	r->size = p.size;
	if ((subj = data_parser_subject(&p)) != NULL) {
		r->has_subject = 1;
		snprintf(r->subject, sizeof r->subject, "%s", subj);
	}
}

static const char *
outstr(struct result *r)
{
	return r->out.data ? r->out.data : "";
}

/* One chunk, byte by byte and random chunks agree on everything. */
static int
same_all_ways(const char *in, size_t n, uint64_t max, size_t out_limit)
{
	struct result a, b;
	int k, same = 1;

	run(&a, in, n, CHUNK_ONE, max, out_limit);
	for (k = CHUNK_BYTE; k <= CHUNK_RANDOM; k++) {
		run(&b, in, n, k, max, out_limit);
		if (a.st != b.st || a.err != b.err || a.consumed != b.consumed ||
		    a.size != b.size || a.out.len != b.out.len ||
		    (a.out.len && memcmp(a.out.data, b.out.data, a.out.len) != 0) ||
		    a.has_subject != b.has_subject || strcmp(a.subject, b.subject) != 0) {
			same = 0;
			printf("# chunking %d differs: st %d/%d err %d/%d consumed %zu/%zu "
			    "size %llu/%llu\n", k, a.st, b.st, a.err, b.err, a.consumed,
			    b.consumed, (unsigned long long)a.size, (unsigned long long)b.size);
		}
		buf_free(&b.out);
	}
	buf_free(&a.out);
	return same;
}

#define S(lit)	lit, sizeof(lit) - 1

static void
test_basics(void)
{
	struct result r;
	const char *m;

	m = "Subject: hello\r\nFrom: a@b\r\n\r\nbody line\r\n.\r\n";
	run(&r, m, strlen(m), CHUNK_ONE, 0, 0);
	is(r.st, DATA_DONE, "simple message ends");
	is(r.err, DATA_OK, "no error");
	is_str(outstr(&r), "Subject: hello\r\nFrom: a@b\r\n\r\nbody line\r\n",
	    "stored without the end marker");
	is(r.consumed, strlen(m), "everything consumed");
	is(r.size, strlen(m) - 3, "size counts stored octets");
	is_str(r.subject, "hello", "subject captured");
	buf_free(&r.out);

	run(&r, S(".\r\n"), CHUNK_ONE, 0, 0);
	is(r.st, DATA_DONE, "empty message: '.' at once");
	is(r.out.len, 0, "nothing stored");
	ok(!r.has_subject, "no subject");
	buf_free(&r.out);

	run(&r, S("a\r\n.\r\nQUIT\r\n"), CHUNK_ONE, 0, 0);
	is(r.st, DATA_DONE, "end found");
	is(r.consumed, 6, "bytes after the end marker are left for commands");
	buf_free(&r.out);

	run(&r, S("..dot\r\n.x\r\n...\r\n. \r\n.\r\n"), CHUNK_ONE, 0, 0);
	is_str(outstr(&r), ".dot\r\nx\r\n..\r\n \r\n", "dot-unstuffing");
	buf_free(&r.out);

	run(&r, S("a\r\n.\r\n"), CHUNK_ONE, 0, 0);
	{
		struct data_parser p;
		size_t used;

		data_parser_init(&p, 0, 0);
		data_parser_feed(&p, S(".\r\n"), &used, NULL);
		is(data_parser_feed(&p, S("more"), &used, NULL), DATA_DONE,
		    "after the end it stays done");
		is(used, 0, "and consumes nothing");
	}
	buf_free(&r.out);

	run(&r, S("no end\r\n.\r"), CHUNK_ONE, 0, 0);
	is(r.st, DATA_MORE, "'.\\r' at the end of input waits for more");
	buf_free(&r.out);

	run(&r, S("x\r\n .\r\nstill\r\n.\r\n"), CHUNK_ONE, 0, 0);
	is_str(outstr(&r), "x\r\n .\r\nstill\r\n", "' .' is not an end marker");
	buf_free(&r.out);
}

static void
test_bare(void)
{
	struct result r;

	run(&r, S("abc\ndef\r\n.\r\n"), CHUNK_ONE, 0, 0);
	is(r.st, DATA_FATAL, "bare LF is fatal");
	is(r.err, DATA_ERR_BARE_LF, "reported as bare LF");
	is(r.consumed, 4, "stops right at it");
	buf_free(&r.out);

	run(&r, S("abc\rdef\r\n.\r\n"), CHUNK_ONE, 0, 0);
	is(r.st, DATA_FATAL, "bare CR is fatal");
	is(r.err, DATA_ERR_BARE_CR, "reported as bare CR");
	buf_free(&r.out);

	run(&r, S("hello\r\n\n.\n"), CHUNK_ONE, 0, 0);
	is(r.st, DATA_FATAL, "<LF>.<LF> smuggling: fatal, not an end");
	buf_free(&r.out);

	run(&r, S("hello\r\n.\n"), CHUNK_ONE, 0, 0);
	is(r.err, DATA_ERR_BARE_LF, "<CRLF>.<LF>: fatal, not an end");
	buf_free(&r.out);

	run(&r, S("hello\r\n.\rX\r\n.\r\n"), CHUNK_ONE, 0, 0);
	is(r.err, DATA_ERR_BARE_CR, "<CRLF>.<CR>X: bare CR");
	buf_free(&r.out);

	run(&r, S("hello\r.\r\n"), CHUNK_ONE, 0, 0);
	is(r.err, DATA_ERR_BARE_CR, "<CR>.<CRLF>: bare CR");
	buf_free(&r.out);

	run(&r, S("\r\r\n.\r\n"), CHUNK_ONE, 0, 0);
	is(r.err, DATA_ERR_BARE_CR, "CR CR LF: the first CR is bare");
	buf_free(&r.out);

	/* Even after another error the bare byte is still fatal. */
	run(&r, S("a\0b\r\nx\ny\r\n.\r\n"), CHUNK_ONE, 0, 0);
	is(r.st, DATA_FATAL, "bare LF after a NUL is still fatal");
	is(r.err, DATA_ERR_BARE_LF, "and wins over the NUL");
	buf_free(&r.out);
}

static void
test_limits(void)
{
	struct result r;
	char *m;
	size_t n;

	m = malloc(2000);
	memset(m, 'x', 998);
	memcpy(m + 998, "\r\n.\r\n", 5);
	run(&r, m, 1003, CHUNK_ONE, 0, 0);
	is(r.err, DATA_OK, "998 octets is allowed");
	is(r.out.len, 1000, "stored");
	buf_free(&r.out);

	memset(m, 'x', 999);
	memcpy(m + 999, "\r\nafter\r\n.\r\n", 12);
	run(&r, m, 1011, CHUNK_ONE, 0, 0);
	is(r.st, DATA_DONE, "999 octets: consumed to the end marker");
	is(r.err, DATA_ERR_LINE_TOO_LONG, "reported as too long");
	is(r.out.len, 998, "nothing stored from the 999th octet on");
	is(r.consumed, 1011, "all consumed");
	buf_free(&r.out);

	m[0] = '.';
	memset(m + 1, 'x', 998);
	memcpy(m + 999, "\r\n.\r\n", 5);
	run(&r, m, 1004, CHUNK_ONE, 0, 0);
	is(r.err, DATA_OK, "a stuffed dot does not count towards the limit");
	buf_free(&r.out);
	free(m);

	run(&r, S("a\0b\r\n.\r\n"), CHUNK_ONE, 0, 0);
	is(r.st, DATA_DONE, "NUL: read to the end");
	is(r.err, DATA_ERR_NUL, "NUL reported");
	is_str(outstr(&r), "a", "storing stops at the NUL");
	buf_free(&r.out);

	run(&r, S("a\0b\r\n.\r\n"), CHUNK_BYTE, 0, 0);
	is(r.err, DATA_ERR_NUL, "NUL byte at a time");
	buf_free(&r.out);

	m = malloc(2000);
	memset(m, 'y', 1500);
	m[10] = '\0';
	memcpy(m + 1500, "\r\n.\r\n", 5);
	run(&r, m, 1505, CHUNK_ONE, 0, 0);
	is(r.err, DATA_ERR_NUL, "first error wins (NUL before the long line)");
	buf_free(&r.out);
	free(m);

	run(&r, S("12345678\r\n.\r\n"), CHUNK_ONE, 10, 0);
	is(r.err, DATA_OK, "exactly max_size is allowed");
	is(r.size, 10, "size includes CRLF");
	buf_free(&r.out);

	run(&r, S("123456789\r\nmore\r\n.\r\n"), CHUNK_ONE, 10, 0);
	is(r.st, DATA_DONE, "over max: read to the end");
	is(r.err, DATA_ERR_SIZE, "size error");
	ok(r.size <= 10, "never stores past max");
	buf_free(&r.out);

	n = 300000;
	m = malloc(n + 8);
	{
		size_t i;

		for (i = 0; i < n; i++)
			m[i] = (i % 80 == 78) ? '\r' : (i % 80 == 79) ? '\n' : 'a' + (char)(i % 26);
	}
	memcpy(m + n, ".\r\n", 3);
	run(&r, m, n + 3, CHUNK_ONE, 0, 65536);
	is(r.st, DATA_DONE, "large message with an output limit");
	is(r.out.len, n, "all of it came out");
	ok(r.max_out <= 65536, "out never passed the limit (%zu)", r.max_out);
	ok(memcmp(r.out.data, m, n) == 0, "and it is the same bytes");
	buf_free(&r.out);
	ok(same_all_ways(m, n + 3, 0, 65536), "large message: chunking does not matter");
	ok(same_all_ways(m, n + 3, 100000, 1000), "large message over the size limit, "
	    "small frames");
	free(m);
}

static void
test_subject(void)
{
	struct result r;
	char big[1200];

	run(&r, S("From: x\r\nSubject: one\r\n two\r\n\tthree\r\nTo: y\r\n\r\n.\r\n"),
	    CHUNK_ONE, 0, 0);
	is_str(r.subject, "one two three", "folded subject is unfolded");
	buf_free(&r.out);

	run(&r, S("SUBJECT:    spaced  \r\n\r\n.\r\n"), CHUNK_ONE, 0, 0);
	is_str(r.subject, "spaced  ", "case-insensitive name, leading blanks skipped");
	buf_free(&r.out);

	run(&r, S("Subject: first\r\nSubject: second\r\n\r\n.\r\n"), CHUNK_ONE, 0, 0);
	is_str(r.subject, "first", "first Subject wins");
	buf_free(&r.out);

	run(&r, S("X: y\r\n\r\nSubject: body\r\n.\r\n"), CHUNK_ONE, 0, 0);
	ok(!r.has_subject, "Subject in the body is not a header");
	buf_free(&r.out);

	run(&r, S("not a header\r\nSubject: late\r\n.\r\n"), CHUNK_ONE, 0, 0);
	ok(!r.has_subject, "a non-header line ends the header section");
	buf_free(&r.out);

	run(&r, S("Subjectx: no\r\nX-Subject: no\r\n\r\n.\r\n"), CHUNK_ONE, 0, 0);
	ok(!r.has_subject, "only the Subject field itself");
	buf_free(&r.out);

	run(&r, S("Subject:\r\n\r\n.\r\n"), CHUNK_ONE, 0, 0);
	ok(r.has_subject, "empty subject is still a subject");
	is_str(r.subject, "", "and empty");
	buf_free(&r.out);

	memcpy(big, "Subject: ", 9);
	memset(big + 9, 's', 900);
	memcpy(big + 909, "\r\n\r\n.\r\n", 7);
	run(&r, big, 916, CHUNK_ONE, 0, 0);
	is(strlen(r.subject), DATA_SUBJECT_MAX, "subject bounded");
	is(r.out.len, 913, "message itself is intact");
	buf_free(&r.out);

	run(&r, S("Subject: a\r\n..dot\r\n.\r\n"), CHUNK_ONE, 0, 0);
	ok(!r.has_subject || strcmp(r.subject, "a") == 0, "unstuffed header line");
	buf_free(&r.out);
}

static void
test_chunking(void)
{
	static const char *const msgs[] = {
		"Subject: hello\r\n world\r\n\r\nbody\r\n..x\r\n.\r\n",
		".\r\n",
		"a\r\nb\nc\r\n.\r\n",
		"a\r\nb\rc\r\n.\r\n",
		"line\0nul\r\n.\r\n",
		"\r\n\r\n\r\n.\r\n",
		"x\r\n.\r",
		"Subject:\r\n\t\r\n.\r\n",
	};
	char alpha[] = { 'a', '.', '\r', '\n', '\0', ' ', ':', 'S', '\t' };
	char buf[600];
	size_t i, j, n;
	int all = 1;

	for (i = 0; i < sizeof msgs / sizeof msgs[0]; i++)
		ok(same_all_ways(msgs[i], strlen(msgs[i]) + (i == 4 ? 9 : 0), 0, 0),
		    "chunking invariance, case %zu", i);
	/* Random inputs, biased towards CR, LF and dots at line starts. */
	for (i = 0; i < 2000; i++) {
		n = next_rand() % sizeof buf;
		for (j = 0; j < n; j++) {
			uint32_t r = next_rand() % 20;

			if (r < 3 && j + 1 < n) {
				buf[j++] = '\r';
				buf[j] = '\n';
			} else if (r < 12)
				buf[j] = 'a' + (char)(r % 5);
			else
				buf[j] = alpha[next_rand() % sizeof alpha];
		}
		if (!same_all_ways(buf, n, 1 + next_rand() % 700, next_rand() % 2 ? 0 :
		    2 + next_rand() % 50)) {
			all = 0;
			break;
		}
	}
	ok(all, "2000 random inputs give the same result however they are chunked");
}

int
main(void)
{
	test_basics();
	test_bare();
	test_limits();
	test_subject();
	test_chunking();
	return done_testing();
}
