/*
 * ipc_frame - libFuzzer target for the frame codec in lib/ipc.c.
 *
 * The input is a byte stream as a peer process could write it.  Frames
 * are cut from it with ipc_frame_parse until it asks for more or refuses
 * a header.  Each payload is decoded generically: the bytes after the
 * frames (or, without any, the frame's type) choose the sequence of gets
 * (u32, u64, bytes, strbuf with varying sizes, strdup with varying caps),
 * so the fuzzer explores every order of field reads.  What was decoded
 * successfully is encoded again with ipc_put_* and must equal the
 * payload bytes it was read from.
 *
 * Not for: the libuv transport (ipc_conn.c); any violation aborts with
 * __builtin_trap.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static void
decode(const unsigned char *payload, size_t len, const unsigned char *ops,
    size_t nops, uint32_t type)
{
	struct ipc_rd rd;
	struct buf re;
	const unsigned char *bp;
	unsigned char tbytes[4];
	char sbuf[40], *dup;
	size_t i, n, consumed, before, outsz, max;
	unsigned op;
	uint32_t v32;
	uint64_t v64;

	if (nops == 0) {
		tbytes[0] = (unsigned char)(type >> 24);
		tbytes[1] = (unsigned char)(type >> 16);
		tbytes[2] = (unsigned char)(type >> 8);
		tbytes[3] = (unsigned char)type;
		ops = tbytes;
		nops = 4;
	}
	if (nops > 64)
		nops = 64;
	buf_init(&re, 0);
	ipc_rd_init(&rd, payload, len);
	for (i = 0; i < nops; i++) {
		op = ops[i];
		before = rd.left;
		switch (op % 6) {
		case 0:
			v32 = ipc_get_u32(&rd);
			if (ipc_rd_ok(&rd))
				ipc_put_u32(&re, v32);
			else
				CHECK(v32 == 0);
			break;
		case 1:
			v64 = ipc_get_u64(&rd);
			if (ipc_rd_ok(&rd))
				ipc_put_u64(&re, v64);
			else
				CHECK(v64 == 0);
			break;
		case 2:
			bp = ipc_get_bytes(&rd, &n);
			if (bp != NULL) {
				CHECK(bp >= payload && bp + n <= payload + len);
				ipc_put_bytes(&re, bp, n);
			} else
				CHECK(n == 0 && !ipc_rd_ok(&rd));
			break;
		case 3:
			outsz = (op >> 3) % (sizeof sbuf + 1);
			if (ipc_get_strbuf(&rd, sbuf, outsz) == 0) {
				CHECK(outsz > 0 && strlen(sbuf) < outsz);
				ipc_put_str(&re, sbuf);
			} else {
				CHECK(!ipc_rd_ok(&rd));
				CHECK(outsz == 0 || sbuf[0] == '\0');
			}
			break;
		case 4:
			max = (op >> 3) * 8;
			dup = ipc_get_strdup(&rd, max);
			if (dup != NULL) {
				CHECK(strlen(dup) <= max);
				ipc_put_str(&re, dup);
				free(dup);
			} else
				CHECK(!ipc_rd_ok(&rd));
			break;
		default:
			(void)ipc_rd_done(&rd);
			break;
		}
		CHECK(rd.left <= before);
		if (!ipc_rd_ok(&rd))
			break;
	}
	/* A reader never moves past its payload, and what it read re-encodes
	 * to exactly the bytes it came from. */
	CHECK(rd.left <= len);
	consumed = len - rd.left;
	if (ipc_rd_ok(&rd)) {
		CHECK(rd.p == payload + consumed);
		CHECK(re.len == consumed);
		CHECK(consumed == 0 || memcmp(re.data, payload, consumed) == 0);
	}
	buf_free(&re);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_hdr h;
	size_t off = 0, frames = 0, flen, i;
	size_t starts[16], lens[16];
	uint32_t types[16];
	int r;

	/* Cut frames until the stream runs out or lies. */
	while (frames < 16) {
		r = ipc_frame_parse(data + off, size - off, &h);
		if (r == 0) {
			CHECK(size - off < IPC_HDR_LEN ||
			    size - off - IPC_HDR_LEN < h.len);
			break;
		}
		if (r < 0) {
			CHECK(h.len > IPC_MAX_PAYLOAD);
			break;
		}
		CHECK(r == 1 && h.len <= IPC_MAX_PAYLOAD);
		flen = IPC_HDR_LEN + (size_t)h.len;
		CHECK(flen <= size - off);
		starts[frames] = off + IPC_HDR_LEN;
		lens[frames] = h.len;
		types[frames] = h.type;
		frames++;
		off += flen;
	}
	for (i = 0; i < frames; i++)
		decode(data + starts[i], lens[i], data + off, size - off, types[i]);
	return 0;
}
