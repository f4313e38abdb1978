/*
 * daemon - child bootstrap shared by smtpd, qmgr and deliver (see
 * daemon.h).  Privilege is explicit: after daemon_drop_privileges() a
 * chrooted daemon can open no file and cannot become root again.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "proto.h"
#include "xalloc.h"

#define CONFIG_MAX_FILES	256

static struct {
	struct daemon		*d;
	daemon_frame_cb		*on_frame;
	daemon_config_cb	*on_config;
} boot;

char *
daemon_chroot_dir(const struct config *cfg)
{
	return xasprintf("%s/empty", cfg->paths.run);
}

void
daemon_encode_config(struct buf *b, const struct config_source *srcs, size_t n)
{
	size_t start = ipc_msg_begin(b, IMSG_CONFIG, 0), i;

	ipc_put_u32(b, (uint32_t)n);
	for (i = 0; i < n; i++) {
		ipc_put_str(b, srcs[i].path);
		ipc_put_bytes(b, srcs[i].text, srcs[i].len);
	}
	ipc_msg_end(b, start);
}

int
daemon_decode_config(const unsigned char *payload, size_t len, struct config_source **srcsp,
    size_t *np, struct config **cfgp, char *err, size_t errlen)
{
	struct config_source *srcs;
	struct ipc_rd rd;
	uint32_t n, i;

	ipc_rd_init(&rd, payload, len);
	n = ipc_get_u32(&rd);
	if (!ipc_rd_ok(&rd) || n == 0 || n > CONFIG_MAX_FILES) {
		snprintf(err, errlen, "malformed config message");
		return -1;
	}
	srcs = xcalloc(n, sizeof *srcs);
	for (i = 0; i < n; i++) {
		const char *t;

		srcs[i].path = ipc_get_strdup(&rd, 4096);
		t = ipc_get_bytes(&rd, &srcs[i].len);
		if (srcs[i].path == NULL || t == NULL) {
			config_free_sources(srcs, i + 1);
			snprintf(err, errlen, "malformed config message");
			return -1;
		}
		srcs[i].text = xstrndup(t, srcs[i].len);
	}
	if (config_parse_sources(srcs, n, cfgp, err, errlen) < 0) {
		config_free_sources(srcs, n);
		return -1;
	}
	*srcsp = srcs;
	*np = n;
	return 0;
}

void
daemon_init(struct daemon *d, const char *name, int argc, char **argv, const char *usage)
{
	struct ipc_hdr hdr;
	unsigned char *payload;
	char err[1024], *logpath;
	int i;

	memset(d, 0, sizeof *d);
	d->name = name;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("%s", usage);
			exit(0);
		} else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
			d->slot = atoi(argv[++i]);
		} else {
			fprintf(stderr, "%s: unknown argument '%s'\n%s", name, argv[i], usage);
			exit(2);
		}
	}
	log_open(name, NULL);
	if (fcntl(MASTER_CHANNEL_FD, F_GETFD) < 0) {
		fprintf(stderr, "%s: no master channel on fd %d: this program is started by "
		    "sallyportd, not by hand\n%s", name, MASTER_CHANNEL_FD, usage);
		exit(2);
	}
	if (ipc_read_frame(MASTER_CHANNEL_FD, &hdr, &payload) < 0 || hdr.type != IMSG_CONFIG)
		log_fatal("no configuration from master");
	if (daemon_decode_config(payload, hdr.len, &d->srcs, &d->nsrcs, &d->cfg, err, sizeof err) < 0)
		log_fatal("configuration from master refused: %s", err);
	free(payload);
	logpath = xasprintf("%s/%s.log", d->cfg->paths.log, name);
	if (log_open(name, logpath) < 0)
		log_fatal("cannot open log file %s: %s", logpath, strerror(errno));
	free(logpath);
	d->loop = uv_default_loop();
}

void
daemon_drop_privileges(struct daemon *d, const char *user, const char *chroot_dir)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	if (geteuid() != 0) {
		log_debug("not root: running as uid %d without chroot", (int)geteuid());
		return;
	}
	if ((pw = getpwnam(user)) == NULL)
		log_fatal("user '%s' does not exist (create it with 'make deps', or set users: in "
		    "the config)", user);
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0)
		log_fatal("user '%s' is root: refusing to run %s as root", user, d->name);
	if (chroot_dir != NULL) {
		if (chroot(chroot_dir) < 0 || chdir("/") < 0)
			log_fatal("chroot %s: %s", chroot_dir, strerror(errno));
	}
	if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		log_fatal("cannot become %s: %s", user, strerror(errno));
	if (setuid(0) == 0 || seteuid(0) == 0)
		log_fatal("could regain root after dropping privileges");
	log_info("running as %s (uid %d)%s%s", user, (int)uid,
	    chroot_dir ? " chrooted in " : "", chroot_dir ? chroot_dir : "");
}

static void
daemon_master_frame(struct ipc_conn *c, const struct ipc_hdr *hdr, const unsigned char *p, void *arg)
{
	struct daemon *d = arg;
	struct config_source *srcs;
	struct config *cfg, *old;
	size_t n;
	char err[1024];

	(void)c;
	if (hdr->type != IMSG_CONFIG) {
		boot.on_frame(d, hdr, p);
		return;
	}
	if (daemon_decode_config(p, hdr->len, &srcs, &n, &cfg, err, sizeof err) < 0) {
		log_warning("new configuration refused, keeping the running one: %s", err);
		return;
	}
	old = d->cfg;
	config_free_sources(d->srcs, d->nsrcs);
	d->cfg = cfg;
	d->srcs = srcs;
	d->nsrcs = n;
	if (boot.on_config)
		boot.on_config(d, old);
	config_free(old);
	log_info("configuration reloaded");
}

static void
daemon_master_closed(struct ipc_conn *c, void *arg)
{
	struct daemon *d = arg;

	(void)c;
	log_info("master went away; %s exits", d->name);
	exit(0);
}

void
daemon_start(struct daemon *d, daemon_frame_cb *on_frame, daemon_config_cb *on_config)
{
	struct buf b;
	size_t start;

	boot.d = d;
	boot.on_frame = on_frame;
	boot.on_config = on_config;
	d->master = ipc_conn_open(d->loop, MASTER_CHANNEL_FD, daemon_master_frame,
	    daemon_master_closed, d);
	if (d->master == NULL)
		log_fatal("cannot open the master channel");
	buf_init(&b, 0);
	start = ipc_msg_begin(&b, IMSG_READY, 0);
	ipc_msg_end(&b, start);
	ipc_conn_send(d->master, &b);
	buf_free(&b);
}
