/*
 * ipc_conn - libuv transport for ipc frames (see ipc_conn.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc_conn.h"
#include "log.h"
#include "xalloc.h"

#define IPC_MAX_PENDING_FDS	64

struct ipc_conn {
	uv_pipe_t	 pipe;
	struct buf	 rbuf;
	ipc_frame_cb	*on_frame;
	ipc_close_cb	*on_close;
	void		*arg;
	int		 fds[IPC_MAX_PENDING_FDS];
	int		 nfds;
	int		 closing;
	int		 in_dispatch;
};

struct ipc_write {
	uv_write_t	 req;
	char		*data;
	uv_pipe_t	*fdpipe;	/* handle passed with this write, if any */
};

static void
ipc_conn_handle_closed(uv_handle_t *h)
{
	struct ipc_conn *c = h->data;
	int i;

	for (i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	buf_free(&c->rbuf);
	if (c->on_close)
		c->on_close(c, c->arg);
	free(c);
}

void
ipc_conn_close(struct ipc_conn *c)
{
	if (c == NULL || c->closing)
		return;
	c->closing = 1;
	uv_read_stop((uv_stream_t *)&c->pipe);
	uv_close((uv_handle_t *)&c->pipe, ipc_conn_handle_closed);
}

static void
ipc_alloc(uv_handle_t *h, size_t hint, uv_buf_t *ub)
{
	struct ipc_conn *c = h->data;

	(void)hint;
	if (buf_reserve(&c->rbuf, 65536) < 0) {
		/* Cannot happen with a sane peer: rbuf holds at most one frame. */
		ub->base = NULL;
		ub->len = 0;
		return;
	}
	ub->base = c->rbuf.data + c->rbuf.len;
	ub->len = c->rbuf.cap - c->rbuf.len - 1;
}

static void
ipc_fdpipe_closed(uv_handle_t *h)
{
	free(h);
}

static void
ipc_collect_fds(struct ipc_conn *c)
{
	while (uv_pipe_pending_count(&c->pipe) > 0) {
		uv_pipe_t *tmp = xcalloc(1, sizeof *tmp);
		uv_os_fd_t fd;
		int dupfd = -1;

		uv_pipe_init(c->pipe.loop, tmp, 0);
		if (uv_accept((uv_stream_t *)&c->pipe, (uv_stream_t *)tmp) == 0 &&
		    uv_fileno((uv_handle_t *)tmp, &fd) == 0)
			dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		uv_close((uv_handle_t *)tmp, ipc_fdpipe_closed);
		if (dupfd < 0)
			continue;
		if (c->nfds == IPC_MAX_PENDING_FDS) {
			close(dupfd);
			continue;
		}
		c->fds[c->nfds++] = dupfd;
	}
}

static void
ipc_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *ub)
{
	struct ipc_conn *c = s->data;
	struct ipc_hdr hdr;
	size_t off = 0;
	int r;

	(void)ub;
	if (nread < 0) {
		ipc_conn_close(c);
		return;
	}
	c->rbuf.len += (size_t)nread;
	ipc_collect_fds(c);
	c->in_dispatch = 1;
	while (!c->closing &&
	    (r = ipc_frame_parse(c->rbuf.data + off, c->rbuf.len - off, &hdr)) != 0) {
		if (r < 0) {
			log_warning("ipc: invalid frame header (type %u, length %u); closing",
			    hdr.type, hdr.len);
			ipc_conn_close(c);
			break;
		}
		c->on_frame(c, &hdr, (const unsigned char *)c->rbuf.data + off + IPC_HDR_LEN, c->arg);
		off += IPC_HDR_LEN + hdr.len;
	}
	c->in_dispatch = 0;
	if (!c->closing)
		buf_consume(&c->rbuf, off);
}

struct ipc_conn *
ipc_conn_open(uv_loop_t *loop, int fd, ipc_frame_cb *on_frame, ipc_close_cb *on_close, void *arg)
{
	struct ipc_conn *c = xcalloc(1, sizeof *c);

	buf_init(&c->rbuf, IPC_HDR_LEN + IPC_MAX_PAYLOAD + 65536);
	c->on_frame = on_frame;
	c->on_close = on_close;
	c->arg = arg;
	uv_pipe_init(loop, &c->pipe, 1);
	c->pipe.data = c;
	if (uv_pipe_open(&c->pipe, fd) != 0 ||
	    uv_read_start((uv_stream_t *)&c->pipe, ipc_alloc, ipc_read) != 0) {
		uv_close((uv_handle_t *)&c->pipe, NULL);
		buf_free(&c->rbuf);
		free(c);
		return NULL;
	}
	return c;
}

static void
ipc_written(uv_write_t *req, int status)
{
	struct ipc_write *w = (struct ipc_write *)req;

	(void)status;
	if (w->fdpipe)
		uv_close((uv_handle_t *)w->fdpipe, ipc_fdpipe_closed);
	free(w->data);
	free(w);
}

static int
ipc_conn_write(struct ipc_conn *c, struct buf *msg, int fd)
{
	struct ipc_write *w;
	uv_buf_t ub;
	int r;

	if (c->closing || msg->len == 0) {
		buf_reset(msg);
		if (fd >= 0)
			close(fd);
		return c->closing ? -1 : 0;
	}
	w = xcalloc(1, sizeof *w);
	ub.len = msg->len;
	w->data = buf_steal(msg);
	ub.base = w->data;	/* libuv copies the uv_buf_t array into the request */
	if (fd >= 0) {
		w->fdpipe = xcalloc(1, sizeof *w->fdpipe);
		uv_pipe_init(c->pipe.loop, w->fdpipe, 0);
		if (uv_pipe_open(w->fdpipe, fd) != 0) {
			close(fd);
			uv_close((uv_handle_t *)w->fdpipe, ipc_fdpipe_closed);
			w->fdpipe = NULL;
		}
		r = uv_write2(&w->req, (uv_stream_t *)&c->pipe, &ub, 1,
		    (uv_stream_t *)w->fdpipe, ipc_written);
	} else
		r = uv_write(&w->req, (uv_stream_t *)&c->pipe, &ub, 1, ipc_written);
	if (r != 0) {
		if (w->fdpipe)
			uv_close((uv_handle_t *)w->fdpipe, ipc_fdpipe_closed);
		free(w->data);
		free(w);
		return -1;
	}
	return 0;
}

int
ipc_conn_send(struct ipc_conn *c, struct buf *msg)
{
	return ipc_conn_write(c, msg, -1);
}

int
ipc_conn_send_fd(struct ipc_conn *c, struct buf *msg, int fd)
{
	return ipc_conn_write(c, msg, fd);
}

int
ipc_conn_send_raw(struct ipc_conn *c, uint32_t type, uint32_t reqid, const void *p, size_t n)
{
	struct buf b;
	size_t start;

	buf_init(&b, 0);
	start = ipc_msg_begin(&b, type, reqid);
	buf_append(&b, p, n);
	if (ipc_msg_end(&b, start) < 0) {
		buf_free(&b);
		return -1;
	}
	return ipc_conn_send(c, &b);
}

int
ipc_conn_take_fd(struct ipc_conn *c)
{
	int fd;

	if (c->nfds == 0)
		return -1;
	fd = c->fds[0];
	memmove(c->fds, c->fds + 1, (size_t)--c->nfds * sizeof c->fds[0]);
	return fd;
}

size_t
ipc_conn_write_queue(const struct ipc_conn *c)
{
	return uv_stream_get_write_queue_size((const uv_stream_t *)&c->pipe);
}

void
ipc_conn_set_arg(struct ipc_conn *c, void *arg)
{
	c->arg = arg;
}
