/*
 * ipc_conn - frames over a UNIX stream socket on a libuv loop.
 *
 * Wraps one connected socket (a socketpair end from master) in a uv_pipe
 * opened for handle passing.  Incoming bytes are deframed with ipc.h and
 * each whole frame is handed to the frame callback; a file descriptor that
 * arrived with a frame is kept in a FIFO and taken with ipc_conn_take_fd()
 * by the handler of a message type that carries one.  A malformed header
 * or an oversized frame closes the connection: peers are trusted to speak
 * the protocol, not trusted to be bug-free.
 *
 * The close callback runs once, when the peer goes away or after
 * ipc_conn_close(); the struct is freed after it returns.
 */
#ifndef SP_IPC_CONN_H
#define SP_IPC_CONN_H
#include <uv.h>

#include "buf.h"
#include "ipc.h"

struct ipc_conn;
typedef void ipc_frame_cb(struct ipc_conn *c, const struct ipc_hdr *hdr,
    const unsigned char *payload, void *arg);
typedef void ipc_close_cb(struct ipc_conn *c, void *arg);

struct ipc_conn	*ipc_conn_open(uv_loop_t *loop, int fd, ipc_frame_cb *on_frame,
		    ipc_close_cb *on_close, void *arg);
/* Queues the frames in msg (built with ipc_msg_begin/end); msg is reset. */
int		 ipc_conn_send(struct ipc_conn *c, struct buf *msg);
/* Same, passing fd along with the frames; fd is closed here after sending. */
int		 ipc_conn_send_fd(struct ipc_conn *c, struct buf *msg, int fd);
/* The oldest descriptor received and not yet taken, or -1. */
int		 ipc_conn_take_fd(struct ipc_conn *c);
size_t		 ipc_conn_write_queue(const struct ipc_conn *c);
void		 ipc_conn_set_arg(struct ipc_conn *c, void *arg);
void		 ipc_conn_close(struct ipc_conn *c);

/* Convenience: build and send a frame whose payload is already in p. */
int		 ipc_conn_send_raw(struct ipc_conn *c, uint32_t type, uint32_t reqid,
		    const void *p, size_t n);

#endif
