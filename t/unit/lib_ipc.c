/*
 * lib_ipc - the frame codec: round trips, truncation, lying lengths.
 */
#include <stdint.h>
#include <stdlib.h>

#include "buf.h"
#include "ipc.h"
#include "tap.h"

int
main(void)
{
	struct buf b;
	struct ipc_hdr h;
	struct ipc_rd rd;
	size_t start, n;
	char s[16];
	const char *p;
	char *dup;

	buf_init(&b, 0);
	start = ipc_msg_begin(&b, 22, 7);
	ipc_put_u32(&b, 42);
	ipc_put_u64(&b, 1ULL << 40 | 5);
	ipc_put_str(&b, "hello");
	ipc_put_bytes(&b, "a\0b", 3);
	ok(ipc_msg_end(&b, start) == 0, "frame built");
	is(ipc_frame_parse(b.data, b.len, &h), 1, "whole frame parses");
	is(h.type, 22, "type");
	is(h.reqid, 7, "reqid");
	is(h.len, b.len - IPC_HDR_LEN, "length");
	is(ipc_frame_parse(b.data, b.len - 1, &h), 0, "one byte short: need more");
	is(ipc_frame_parse(b.data, 5, &h), 0, "partial header: need more");

	ipc_rd_init(&rd, b.data + IPC_HDR_LEN, h.len);
	is(ipc_get_u32(&rd), 42, "u32");
	ok(ipc_get_u64(&rd) == (1ULL << 40 | 5), "u64");
	ok(ipc_get_strbuf(&rd, s, sizeof s) == 0 && strcmp(s, "hello") == 0, "string");
	p = ipc_get_bytes(&rd, &n);
	ok(p && n == 3 && memcmp(p, "a\0b", 3) == 0, "bytes with NUL");
	ok(ipc_rd_done(&rd), "all consumed");
	is(ipc_get_u32(&rd), 0, "read past end gives 0");
	ok(!ipc_rd_ok(&rd), "and sets the error");

	/* A string field with an embedded NUL is refused as a string. */
	ipc_rd_init(&rd, b.data + IPC_HDR_LEN, h.len);
	ipc_get_u32(&rd);
	ipc_get_u64(&rd);
	ipc_get_u32(&rd);	/* skip "hello" length by hand: misalign */
	ok(ipc_get_strbuf(&rd, s, sizeof s) < 0, "misaligned read fails cleanly");

	ipc_rd_init(&rd, b.data + IPC_HDR_LEN + 12 + 9, 7);
	dup = ipc_get_strdup(&rd, 100);
	ok(dup == NULL, "bytes with NUL refused by strdup");
	free(dup);

	/* Too small a destination for the string. */
	ipc_rd_init(&rd, b.data + IPC_HDR_LEN + 12, 9);
	ok(ipc_get_strbuf(&rd, s, 5) < 0, "string longer than buffer refused");

	/* A length field that lies about the remaining payload. */
	{
		unsigned char lie[8] = { 0, 0, 0, 200, 'x', 'y', 'z', 'w' };
		ipc_rd_init(&rd, lie, sizeof lie);
		ok(ipc_get_bytes(&rd, &n) == NULL && n == 0, "length beyond payload refused");
	}
	/* An oversized frame header is invalid, not "need more". */
	{
		unsigned char big[IPC_HDR_LEN] = { 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1 };
		is(ipc_frame_parse(big, sizeof big, &h), -1, "oversized length rejected");
	}
	/* Two frames in one buffer. */
	start = ipc_msg_begin(&b, 23, 8);
	ipc_put_u32(&b, 1);
	ipc_msg_end(&b, start);
	ipc_frame_parse(b.data, b.len, &h);
	n = IPC_HDR_LEN + h.len;
	is(ipc_frame_parse(b.data + n, b.len - n, &h), 1, "second frame parses");
	is(h.type, 23, "second frame type");

	buf_free(&b);
	return done_testing();
}
