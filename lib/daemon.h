/*
 * daemon - what every child of master does the same way.
 *
 * A child is started by master as "<prog> -s <slot>" with its master
 * channel on MASTER_CHANNEL_FD (and, for smtpd, listening sockets from
 * LISTENER_FD_BASE).  daemon_init() reads the first IMSG_CONFIG frame from
 * the channel (blocking: nothing else can happen before the config is
 * known), parses it, and opens <paths.log>/<name>.log.  The child then
 * opens what it needs, calls daemon_drop_privileges(), and daemon_start()
 * to serve on the libuv loop.  If master goes away, the child exits: it
 * must never outlive its supervisor.
 *
 * Not for: master itself, sallyctl.
 */
#ifndef SP_DAEMON_H
#define SP_DAEMON_H
#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "ipc_conn.h"

struct daemon {
	const char		*name;
	int			 slot;
	uv_loop_t		*loop;
	struct ipc_conn		*master;
	struct config		*cfg;
	struct config_source	*srcs;
	size_t			 nsrcs;
};

/* Parses argv (-s SLOT, -h/--help), reads and applies the config from
 * master, opens the log.  Exits with a message on any failure. */
void	daemon_init(struct daemon *d, const char *name, int argc, char **argv,
	    const char *usage);

/* As root: chroot to chroot_dir (NULL: none), then become user (from
 * struct passwd, with its primary group and no supplementary groups), and
 * check that root cannot be regained.  Not root: does nothing.  Exits on
 * failure: a daemon that cannot drop privileges must not serve. */
void	daemon_drop_privileges(struct daemon *d, const char *user, const char *chroot_dir);

/* Opens the master channel on the loop and sends IMSG_READY.  Frames from
 * master go to on_frame; IMSG_CONFIG is decoded here first and handed to
 * on_config (the new config; the old one is freed after the callback). */
typedef void daemon_frame_cb(struct daemon *d, const struct ipc_hdr *hdr,
    const unsigned char *payload);
typedef void daemon_config_cb(struct daemon *d, struct config *old_cfg);
void	daemon_start(struct daemon *d, daemon_frame_cb *on_frame, daemon_config_cb *on_config);

/* IMSG_CONFIG payload codec (master encodes, children decode). */
void	daemon_encode_config(struct buf *b, const struct config_source *srcs, size_t n);
int	daemon_decode_config(const unsigned char *payload, size_t len,
	    struct config_source **srcs, size_t *n, struct config **cfg,
	    char *err, size_t errlen);

/* The directory smtpd and deliver chroot into: <paths.run>/empty. */
char	*daemon_chroot_dir(const struct config *cfg);

#endif
