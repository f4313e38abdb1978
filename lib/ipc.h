/*
 * ipc - the framing codec every Sallyport process speaks on its UNIX
 * domain sockets (DESIGN.md section 2).
 *
 * A frame is a 12-byte header (type, payload length, request id; all
 * big-endian u32) followed by the payload.  Payloads are sequences of
 * fields: u32, u64, and strings/byte runs as a u32 length then the bytes.
 * The reader never trusts a length: every get is checked against what is
 * left, and a failed get sets rd->err and returns zero/NULL, so a decoder
 * can read all its fields and check ipc_rd_ok() once at the end.
 *
 * This file is the pure codec (fuzzed in t/fuzz/ipc_frame.c); ipc_conn.h
 * moves frames over libuv pipes.
 */
#ifndef SP_IPC_H
#define SP_IPC_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define IPC_HDR_LEN	12
#define IPC_MAX_PAYLOAD	(1024 * 1024)

struct ipc_hdr {
	uint32_t	type;
	uint32_t	len;
	uint32_t	reqid;
};

/* Building: begin, put fields, end.  A buf may hold several frames. */
size_t	ipc_msg_begin(struct buf *b, uint32_t type, uint32_t reqid);
void	ipc_put_u32(struct buf *b, uint32_t v);
void	ipc_put_u64(struct buf *b, uint64_t v);
void	ipc_put_bytes(struct buf *b, const void *p, size_t n);
void	ipc_put_str(struct buf *b, const char *s);	/* NULL is sent as "" */
int	ipc_msg_end(struct buf *b, size_t start);	/* -1: payload too large */

/* Deframing: 1 and *hdr filled when a whole frame is at data, 0 when more
 * bytes are needed, -1 when the header is invalid (oversized payload). */
int	ipc_frame_parse(const void *data, size_t len, struct ipc_hdr *hdr);

/* Blocking read of one whole frame from fd (the two places that talk
 * before an event loop exists: a child waiting for its config, sallyctl).
 * 0 with *payload malloc'd (caller frees), -1 on EOF, error or a bad
 * header. */
int	ipc_read_frame(int fd, struct ipc_hdr *hdr, unsigned char **payload);

struct ipc_rd {
	const unsigned char	*p;
	size_t			 left;
	int			 err;
};

void		 ipc_rd_init(struct ipc_rd *rd, const void *payload, size_t len);
uint32_t	 ipc_get_u32(struct ipc_rd *rd);
uint64_t	 ipc_get_u64(struct ipc_rd *rd);
/* Points into the payload (not NUL-terminated); NULL on error. */
const void	*ipc_get_bytes(struct ipc_rd *rd, size_t *len);
/* Copies a string field into out (NUL-terminated); a field that is longer
 * than outsz-1 or holds a NUL byte is an error. */
int		 ipc_get_strbuf(struct ipc_rd *rd, char *out, size_t outsz);
/* Same, into fresh memory (caller frees); NULL on error. */
char		*ipc_get_strdup(struct ipc_rd *rd, size_t max);
int		 ipc_rd_ok(const struct ipc_rd *rd);	/* no error so far */
int		 ipc_rd_done(const struct ipc_rd *rd);	/* no error, nothing left */

#endif
