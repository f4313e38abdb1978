/*
 * ipc - frame codec (see ipc.h).  Bounded and allocation-free on the read
 * side except for ipc_get_strdup.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "xalloc.h"

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t
get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t
ipc_msg_begin(struct buf *b, uint32_t type, uint32_t reqid)
{
	unsigned char h[IPC_HDR_LEN];
	size_t start = b->len;

	put_be32(h, type);
	put_be32(h + 4, 0);
	put_be32(h + 8, reqid);
	buf_append(b, h, sizeof h);
	return start;
}

void
ipc_put_u32(struct buf *b, uint32_t v)
{
	unsigned char p[4];

	put_be32(p, v);
	buf_append(b, p, 4);
}

void
ipc_put_u64(struct buf *b, uint64_t v)
{
	ipc_put_u32(b, (uint32_t)(v >> 32));
	ipc_put_u32(b, (uint32_t)v);
}

void
ipc_put_bytes(struct buf *b, const void *p, size_t n)
{
	ipc_put_u32(b, (uint32_t)n);
	buf_append(b, p, n);
}

void
ipc_put_str(struct buf *b, const char *s)
{
	ipc_put_bytes(b, s ? s : "", s ? strlen(s) : 0);
}

int
ipc_msg_end(struct buf *b, size_t start)
{
	size_t plen = b->len - start - IPC_HDR_LEN;

	if (plen > IPC_MAX_PAYLOAD) {
		b->len = start;
		return -1;
	}
	put_be32((unsigned char *)b->data + start + 4, (uint32_t)plen);
	return 0;
}

int
ipc_frame_parse(const void *data, size_t len, struct ipc_hdr *hdr)
{
	const unsigned char *p = data;

	if (len < IPC_HDR_LEN)
		return 0;
	hdr->type = get_be32(p);
	hdr->len = get_be32(p + 4);
	hdr->reqid = get_be32(p + 8);
	if (hdr->len > IPC_MAX_PAYLOAD)
		return -1;
	return len - IPC_HDR_LEN >= hdr->len ? 1 : 0;
}

void
ipc_rd_init(struct ipc_rd *rd, const void *payload, size_t len)
{
	rd->p = payload;
	rd->left = len;
	rd->err = 0;
}

uint32_t
ipc_get_u32(struct ipc_rd *rd)
{
	uint32_t v;

	if (rd->err || rd->left < 4) {
		rd->err = 1;
		return 0;
	}
	v = get_be32(rd->p);
	rd->p += 4;
	rd->left -= 4;
	return v;
}

uint64_t
ipc_get_u64(struct ipc_rd *rd)
{
	uint64_t hi = ipc_get_u32(rd);
	uint64_t lo = ipc_get_u32(rd);

	return rd->err ? 0 : hi << 32 | lo;
}

const void *
ipc_get_bytes(struct ipc_rd *rd, size_t *len)
{
	const unsigned char *p;
	uint32_t n = ipc_get_u32(rd);

	if (rd->err || n > rd->left) {
		rd->err = 1;
		*len = 0;
		return NULL;
	}
	p = rd->p;
	rd->p += n;
	rd->left -= n;
	*len = n;
	return p;
}

int
ipc_get_strbuf(struct ipc_rd *rd, char *out, size_t outsz)
{
	size_t n;
	const char *p = ipc_get_bytes(rd, &n);

	if (outsz)
		out[0] = '\0';
	if (p == NULL || n >= outsz || memchr(p, '\0', n) != NULL) {
		rd->err = 1;
		return -1;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

char *
ipc_get_strdup(struct ipc_rd *rd, size_t max)
{
	size_t n;
	const char *p = ipc_get_bytes(rd, &n);

	if (p == NULL || n > max || memchr(p, '\0', n) != NULL) {
		rd->err = 1;
		return NULL;
	}
	return xstrndup(p, n);
}

int
ipc_rd_ok(const struct ipc_rd *rd)
{
	return !rd->err;
}

int
ipc_rd_done(const struct ipc_rd *rd)
{
	return !rd->err && rd->left == 0;
}

/* Reads exactly n bytes from a blocking descriptor. */
static int
read_full(int fd, void *p, size_t n)
{
	unsigned char *q = p;

	while (n > 0) {
		ssize_t r = read(fd, q, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		q += r;
		n -= (size_t)r;
	}
	return 0;
}

int
ipc_read_frame(int fd, struct ipc_hdr *hdr, unsigned char **payload)
{
	unsigned char h[IPC_HDR_LEN];

	*payload = NULL;
	if (read_full(fd, h, sizeof h) < 0 || ipc_frame_parse(h, sizeof h, hdr) < 0)
		return -1;
	*payload = xmalloc(hdr->len ? hdr->len : 1);
	if (read_full(fd, *payload, hdr->len) < 0) {
		free(*payload);
		*payload = NULL;
		return -1;
	}
	return 0;
}
