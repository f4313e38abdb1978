/*
 * smtp_data - libFuzzer target for smtpd/data_parser.c (the DATA phase).
 *
 * Input: byte 0 picks the size limit, byte 1 the output limit, byte 2 the
 * chunking seed; the rest is what a client sends after DATA.  The message
 * is parsed three ways (one chunk, byte by byte, chunks from the seed) and
 * the results must agree.  Every result is checked against the contract
 * in data_parser.h: output only CRLF line ends, no bare CR/LF, no NUL, no
 * line over 998 octets, size equal to the bytes stored and within the
 * limit, out never past out_limit, nothing consumed after the end marker,
 * a bounded, NUL-terminated Subject.
 *
 * Not for: the session around it (smtp_session.c); any violation aborts
 * with __builtin_trap.  make fuzz compiles only lib/ sources with this file, so
 * the parser is included here directly.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../smtpd/data_parser.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

struct outcome {
	enum data_status	st;
	enum data_error		err;
	size_t			consumed;
	uint64_t		size;
	struct buf		out;
	int			has_subject;
	char			subject[DATA_SUBJECT_MAX + 1];
};

static void
check_stored(const struct outcome *o, uint64_t max)
{
	const char *p = o->out.data ? o->out.data : "";
	size_t i, line = 0;

	CHECK(o->size == o->out.len);
	CHECK(max == 0 || o->size <= max);
	for (i = 0; i < o->out.len; i++) {
		CHECK(p[i] != '\0');
		if (p[i] == '\r') {
			CHECK(i + 1 < o->out.len && p[i + 1] == '\n');
			line = 0;
			i++;
			continue;
		}
		CHECK(p[i] != '\n');
		CHECK(++line <= DATA_LINE_MAX);
	}
	/* A complete message ends with a complete line. */
	if (o->st == DATA_DONE && o->err == DATA_OK && o->out.len > 0)
		CHECK(o->out.len >= 2 && p[o->out.len - 2] == '\r' && p[o->out.len - 1] == '\n');
}

static void
parse(struct outcome *o, const char *in, size_t n, int mode, uint32_t seed, uint64_t max,
    size_t out_limit)
{
	struct data_parser p;
	struct buf out;
	size_t off = 0, len, used;
	const char *subj;

	memset(o, 0, sizeof *o);
	buf_init(&o->out, 0);
	buf_init(&out, 0);
	data_parser_init(&p, max, out_limit);
	o->st = DATA_MORE;
	while (off < n && o->st == DATA_MORE) {
		len = n - off;
		if (mode == 1)
			len = 1;
		else if (mode == 2) {
			seed = seed * 1103515245u + 12345u;
			len = 1 + (seed >> 8) % (len < 97 ? len : 97);
		}
		o->st = data_parser_feed(&p, in + off, len, &used, &out);
		CHECK(used <= len);
		CHECK(out_limit == 0 || out.len <= out_limit);
		off += used;
		if (o->st == DATA_MORE && used < len)
			CHECK(out_limit != 0 && out.len + 2 > out_limit);
		if (out_limit == 0 || out.len + 2 > out_limit || o->st != DATA_MORE) {
			buf_append(&o->out, out.data ? out.data : "", out.len);
			buf_reset(&out);
		}
	}
	buf_append(&o->out, out.data ? out.data : "", out.len);
	buf_free(&out);
	o->consumed = off;
	o->err = p.error;
	o->size = p.size;
	if (o->st == DATA_FATAL)
		CHECK(o->err == DATA_ERR_BARE_CR || o->err == DATA_ERR_BARE_LF);
	else
		CHECK(o->err != DATA_ERR_BARE_CR && o->err != DATA_ERR_BARE_LF);
	if (o->st == DATA_DONE) {
		CHECK(o->consumed >= 3);
		CHECK(memcmp(in + o->consumed - 3, ".\r\n", 3) == 0);
		CHECK(o->consumed == 3 || in[o->consumed - 4] == '\n');
	}
	if ((subj = data_parser_subject(&p)) != NULL) {
		CHECK(strlen(subj) <= DATA_SUBJECT_MAX);
		o->has_subject = 1;
		memcpy(o->subject, subj, strlen(subj) + 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome a, b;
	uint64_t max;
	size_t out_limit;
	uint32_t seed;
	int mode;

	if (size < 3)
		return 0;
	max = data[0] == 0 ? 0 : (uint64_t)data[0] * 7;
	out_limit = data[1] < 128 ? 0 : 2 + (size_t)(data[1] - 128);
	seed = data[2];
	data += 3;
	size -= 3;

	parse(&a, (const char *)data, size, 0, seed, max, out_limit);
	check_stored(&a, max);
	for (mode = 1; mode <= 2; mode++) {
		parse(&b, (const char *)data, size, mode, seed, max, out_limit);
		check_stored(&b, max);
		CHECK(a.st == b.st && a.err == b.err && a.consumed == b.consumed);
		CHECK(a.size == b.size && a.out.len == b.out.len);
		CHECK(a.out.len == 0 || memcmp(a.out.data, b.out.data, a.out.len) == 0);
		CHECK(a.has_subject == b.has_subject && strcmp(a.subject, b.subject) == 0);
		buf_free(&b.out);
	}
	buf_free(&a.out);
	return 0;
}
