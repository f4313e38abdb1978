/*
 * sallyportd - the Sallyport supervisor (master).
 *
 * Parses and validates the config (refusing to start on an invalid one),
 * opens the listening sockets (so port 25 works while smtpd is
 * unprivileged), prepares the directories, spawns qmgr, smtpd and deliver
 * with a channel each (fd 3), wires smtpd/deliver to qmgr with socketpairs
 * it passes to both ends, restarts a dead child with backoff and logs why
 * it died, reloads on SIGHUP and `sallyctl commit` (a bad new config is
 * refused and the running one stays), stops gracefully on SIGTERM, and
 * serves the control socket for sallyctl, routing each command to the
 * process that owns the data.
 *
 * Not for: anything that touches mail; master never reads a message.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#ifdef __linux__
#include <linux/filter.h>
#endif
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <uv.h>

#include "auth_users.h"
#include "config.h"
#include "ctl.h"
#include "daemon.h"
#include "dane.h"
#include "ipc_conn.h"
#include "log.h"
#include "proto.h"
#include "statefile.h"
#include "tls_cert.h"
#include "tls_ctx.h"
#include "xalloc.h"

#define SALLYPORT_VERSION	"0.1.0"
#define BACKOFF_MAX_MS		60000
#define CTL_TIMEOUT_MS		10000
#define TLSVERIFY_TIMEOUT_MS	90000	/* connect, banner, EHLO, STARTTLS, handshake */

static const char usage[] =
    "usage: sallyportd [-f] [-c FILE] [-t]\n"
    "  -c FILE  configuration file (default: built-in configuration, see sallyportd(8))\n"
    "  -f       stay in the foreground, log to standard error too\n"
    "  -t       check the configuration and exit\n"
    "  -h       this help\n";

struct child {
	struct master	*ms;
	int		 kind;
	int		 slot;
	uv_process_t	 proc;
	int		 running;
	struct ipc_conn	*chan;
	uint64_t	 started_ms;
	uint32_t	 backoff_ms;
	uv_timer_t	 restart;
	int		 draining;
};

struct ctl_client;

/* A control request fanned out to children, answered when all replied. */
struct pending {
	struct ctl_client	*client;
	uint32_t		 client_reqid;
	char			*cmd;
	int			 outstanding;
	uint32_t		 id;
	struct ctl_reply	 reply;
	uint64_t		 inbound, outbound;
	uint64_t		 rescon;	/* the highest of the smtpds' */
	struct topin_peer	*peers;		/* topin: rows summed over smtpds */
	size_t			 npeers;
	uv_timer_t		 timer;
	struct pending		*next;
	int			 done;
};

struct topin_peer {
	char		*hostname, *ip, *listener;
	uint64_t	 conns;
};

#define TOPIN_ROWS	20	/* the spec's example shows the top 20 */

struct pending;
static void	topin_finish(struct pending *p);

struct ctl_client {
	struct master		*ms;
	struct ipc_conn		*conn;
	int			 alive;
	int			 refs;
};

struct master {
	uv_loop_t		*loop;
	char			*config_path;
	struct config		*cfg;
	struct config_source	*srcs;
	size_t			 nsrcs;
	char			*bindir;
	int			*listen_fds;	/* [listener * nsmtpd + slot] */
	uint32_t		 nsmtpd;
	int			*suspended;	/* per listener, kept in the state dir */
	size_t			 nlisten;
	struct child		*children;
	size_t			 nchildren;
	uv_pipe_t		 ctl_server;
	char			*ctl_path;
	uv_signal_t		 sigterm, sigint, sighup;
	int			 stopping;
	uv_timer_t		 stop_timer;
	struct pending		*pendings;
	uint32_t		 next_reqid;
	time_t			 started;
	uint64_t		 cpu_prev_ticks[PROC_CLI];	/* status detail: CPU by */
	uint64_t		 cpu_prev_ms;			/* daemon kind, since last asked */
};

static struct master master;

static const char *
kind_name(int kind)
{
	switch (kind) {
	case PROC_SMTPD:	return "smtpd";
	case PROC_QMGR:		return "qmgr";
	case PROC_DELIVER:	return "deliver";
	default:		return "?";
	}
}

/* ---- configuration ---- */

/*
 * A listener that offers TLS without naming a certificate uses "default";
 * the first time, a self-signed one is made for the host name (the spec's
 * advice instead of a shared demo key).  It should be replaced by a real
 * one with `sallyctl certconfig`.
 */
static int
default_certificate(const struct config *cfg, char *err, size_t errlen)
{
	const struct cfg_certificate *c = config_certificate(cfg, "default");
	struct tls_cert_params p;
	struct tls_cert tc;
	char *dir, e[TLS_CERT_ERR_MAX];
	int rc = 0;

	if (c == NULL || access(c->cert, F_OK) == 0 || errno != ENOENT)
		return 0;
	dir = xasprintf("%s/certs", cfg->paths.state);
	if (strncmp(c->cert, dir, strlen(dir)) != 0 || strcmp(c->cert + strlen(dir),
	    "/default.crt") != 0) {
		free(dir);
		return 0;	/* files the operator named: missing is an error later */
	}
	if ((mkdir(cfg->paths.state, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(dir, 0755) < 0 && errno != EEXIST)) {
		snprintf(err, errlen, "certificate 'default': cannot create %s: %s", dir,
		    strerror(errno));
		free(dir);
		return -1;
	}
	memset(&p, 0, sizeof p);
	p.key_type = TLS_KEY_EC_P256;
	p.cn = cfg->hostname;	/* also its subjectAltName (tls_cert_generate) */
	p.days = 825;
	tls_cert_init(&tc);
	if (tls_cert_generate(&tc, &p, e, sizeof e) < 0 ||
	    tls_cert_save(dir, "default", &tc, e, sizeof e) < 0) {
		snprintf(err, errlen, "certificate 'default': %s", e);
		rc = -1;
	} else
		log_warning("generated a self-signed certificate 'default' for %s in %s: "
		    "replace it with 'sallyctl certconfig' (see sallyctl(8))", cfg->hostname,
		    dir);
	tls_cert_free(&tc);
	free(dir);
	return rc;
}

/* Builds every TLS context the children will build, so that a bad
 * certificate, key, CA list or cipher setting refuses the config here. */
static int
check_tls(const struct config *cfg, char *err, size_t errlen)
{
	const struct cfg_listener *l;
	SSL_CTX *ctx;
	size_t i;
	char e[768];

	for (i = 0; i < cfg->nlisteners; i++) {
		l = &cfg->listeners[i];
		if (l->certificate == NULL && !config_listener_tls(cfg, l))
			continue;
		if ((ctx = tls_ctx_server(cfg, config_listener_certificate(l), e,
		    sizeof e)) == NULL) {
			snprintf(err, errlen, "listener '%s': %s", l->name, e);
			return -1;
		}
		SSL_CTX_free(ctx);
	}
	if (cfg->auth.users_file != NULL) {
		const struct cfg_file *f = config_file(cfg, cfg->auth.users_file);
		struct auth_users *u = f ? auth_users_parse(f->data, f->len, e, sizeof e) : NULL;

		if (u == NULL) {
			snprintf(err, errlen, "auth.users_file: %s: %s", cfg->auth.users_file,
			    f ? e : "not loaded");
			return -1;
		}
		auth_users_free(u);
	}
	if (cfg->dns.trust_anchors != NULL) {
		const struct cfg_file *f = config_file(cfg, cfg->dns.trust_anchors);
		struct dane_anchors *ta = f ? dane_anchors_load(f->data, f->len, e, sizeof e) :
		    NULL;

		if (ta == NULL) {
			snprintf(err, errlen, "dns.trust_anchors: %s: %s", cfg->dns.trust_anchors,
			    f ? e : "not loaded");
			return -1;
		}
		dane_anchors_free(ta);
	}
	if ((ctx = tls_ctx_client(cfg, cfg->tls.outbound.certificate, e, sizeof e)) == NULL) {
		snprintf(err, errlen, "outbound TLS: %s", e);
		return -1;
	}
	SSL_CTX_free(ctx);
	for (i = 0; i < cfg->ndestinations; i++) {
		if (cfg->destinations[i].certificate == NULL)
			continue;
		if ((ctx = tls_ctx_client(cfg, cfg->destinations[i].certificate, e,
		    sizeof e)) == NULL) {
			snprintf(err, errlen, "destination '%s': %s",
			    cfg->destinations[i].domain, e);
			return -1;
		}
		SSL_CTX_free(ctx);
	}
	return 0;
}

static int
load_config(struct master *ms, struct config **cfgp, struct config_source **srcsp, size_t *np,
    char *err, size_t errlen)
{
	struct config_source *srcs;
	size_t n;

	if (ms->config_path != NULL) {
		if (config_read_sources(ms->config_path, &srcs, &n, err, errlen) < 0)
			return -1;
	} else {
		n = 1;
		srcs = xcalloc(1, sizeof *srcs);
		srcs[0].path = xstrdup("<built-in>");
		srcs[0].text = xstrdup(config_builtin_yaml());
		srcs[0].len = strlen(srcs[0].text);
	}
	if (config_parse_sources(srcs, n, cfgp, err, errlen) < 0) {
		config_free_sources(srcs, n);
		return -1;
	}
	if (default_certificate(*cfgp, err, errlen) < 0 ||
	    config_attach_files(*cfgp, &srcs, &n, err, errlen) < 0 ||
	    check_tls(*cfgp, err, errlen) < 0) {
		config_free(*cfgp);
		*cfgp = NULL;
		config_free_sources(srcs, n);
		return -1;
	}
	*srcsp = srcs;
	*np = n;
	return 0;
}

/* ---- directories and sockets ---- */

static void
ensure_dir(const char *path, mode_t mode, const char *owner)
{
	struct passwd *pw;

	if (mkdir(path, mode) < 0 && errno != EEXIST)
		log_fatal("cannot create directory %s: %s", path, strerror(errno));
	if (geteuid() == 0 && owner != NULL) {
		if ((pw = getpwnam(owner)) == NULL)
			log_fatal("user '%s' does not exist (create it with 'make deps', or set "
			    "users: in the config)", owner);
		if (chown(path, pw->pw_uid, pw->pw_gid) < 0)
			log_fatal("cannot chown %s to %s: %s", path, owner, strerror(errno));
	}
}

static void
prepare_dirs(struct master *ms)
{
	char *empty = daemon_chroot_dir(ms->cfg);

	ensure_dir(ms->cfg->paths.log, 0755, NULL);
	ensure_dir(ms->cfg->paths.run, 0755, NULL);
	ensure_dir(ms->cfg->paths.spool, 0750, ms->cfg->users.queue);
	ensure_dir(ms->cfg->paths.state, 0750, ms->cfg->users.queue);
	ensure_dir(empty, 0555, NULL);
	free(empty);
}

/*
 * Per-IP limits (connections, hourly recipients, DHAP) are counted in
 * each smtpd without shared state, so every connection from one client
 * address must reach the same smtpd.  Each listener therefore gets one
 * SO_REUSEPORT socket per smtpd slot, and a classic BPF program makes the
 * kernel pick the socket (slot) from the client's source address: the
 * last 32 bits of it, modulo the number of slots.  Where that is not
 * available (not Linux), one socket is shared by every smtpd and the
 * limits are per process, which is logged.
 */
static int
steer_by_source(int fd, int family, uint32_t nslots)
{
#ifdef SO_ATTACH_REUSEPORT_CBPF
	struct sock_filter code[] = {
		/* A = source address (IPv4) or its last word (IPv6) */
		{ BPF_LD | BPF_W | BPF_ABS, 0, 0,
		    (uint32_t)(SKF_NET_OFF + (family == AF_INET ? 12 : 20)) },
		{ BPF_ALU | BPF_MOD | BPF_K, 0, 0, nslots },
		{ BPF_RET | BPF_A, 0, 0, 0 },
	};
	struct sock_fprog prog = { .len = sizeof code / sizeof code[0], .filter = code };

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog);
#else
	(void)fd;
	(void)family;
	(void)nslots;
	errno = ENOTSUP;
	return -1;
#endif
}

static int
listen_socket(const struct sockaddr_storage *ss, socklen_t sslen, int reuseport)
{
	int fd, one = 1;

	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
	    bind(fd, (const struct sockaddr *)ss, sslen) < 0 || listen(fd, 1024) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int *
listener_fds(struct master *ms, size_t i)
{
	return &ms->listen_fds[i * ms->nsmtpd];
}

static void
close_listener(struct master *ms, size_t i)
{
	int *fds = listener_fds(ms, i);
	uint32_t k;

	for (k = 0; k < ms->nsmtpd; k++) {
		if (fds[k] >= 0 && (k == 0 || fds[k] != fds[0]))
			close(fds[k]);
		fds[k] = -1;
	}
}

/* Opens listener i's socket(s); 0, or -1 with err set. */
static int
open_listener(struct master *ms, size_t i, char *err, size_t errlen)
{
	const struct cfg_listener *l = &ms->cfg->listeners[i];
	struct sockaddr_storage ss;
	socklen_t sslen;
	int *fds = listener_fds(ms, i);
	uint32_t k;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, l->address, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(l->port);
		sslen = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, l->address, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(l->port);
		sslen = sizeof(struct sockaddr_in6);
	} else {
		snprintf(err, errlen, "listener %s: address '%s' is not an IP address", l->name,
		    l->address);
		return -1;
	}
	for (k = 0; k < ms->nsmtpd; k++)
		fds[k] = -1;
	if (ms->nsmtpd > 1) {
		/* The sockets join the group in slot order: index k is slot k. */
		for (k = 0; k < ms->nsmtpd; k++)
			if ((fds[k] = listen_socket(&ss, sslen, 1)) < 0)
				break;
		if (k == ms->nsmtpd && steer_by_source(fds[0], ss.ss_family, ms->nsmtpd) == 0)
			return 0;
		log_warning("listener %s: cannot steer clients to smtpd processes by address (%s); "
		    "per-IP limits are counted per smtpd process", l->name, strerror(errno));
		close_listener(ms, i);
	}
	if ((fds[0] = listen_socket(&ss, sslen, 0)) < 0) {
		snprintf(err, errlen, "listener %s: cannot listen on %s port %u: %s", l->name,
		    l->address, l->port, strerror(errno));
		return -1;
	}
	for (k = 1; k < ms->nsmtpd; k++)
		fds[k] = fds[0];
	return 0;
}

/* ---- listener suspension (state, not config: survives restarts) ---- */

static char *
suspend_state_path(struct master *ms)
{
	return xasprintf("%s/listeners-suspended", ms->cfg->paths.state);
}

static void
load_listener_state(struct master *ms)
{
	char *path = suspend_state_path(ms), **lines;
	size_t i, k, n;

	if (statefile_read(path, &lines, &n) < 0)
		log_crit("cannot read %s: %s", path, strerror(errno));
	for (k = 0; k < n; k++)
		for (i = 0; i < ms->nlisten; i++)
			if (strcmp(ms->cfg->listeners[i].name, lines[k]) == 0)
				ms->suspended[i] = 1;
	statefile_free(lines, n);
	free(path);
}

static int
save_listener_state(struct master *ms)
{
	char *path = suspend_state_path(ms), **names = xcalloc(ms->nlisten + 1, sizeof *names);
	size_t i, n = 0;
	int r;

	for (i = 0; i < ms->nlisten; i++)
		if (ms->suspended[i])
			names[n++] = ms->cfg->listeners[i].name;
	if ((r = statefile_write(path, names, n)) < 0)
		log_crit("cannot save listener state in %s: %s", path, strerror(errno));
	free(names);
	free(path);
	return r;
}

/* Which listeners argv names (none, or "all": every one); -1 if a name is
 * unknown, with err set. */
static int
select_listeners(struct master *ms, int argc, char **argv, int *sel, char *err, size_t errlen)
{
	size_t i;
	int k, found;

	for (i = 0; i < ms->nlisten; i++)
		sel[i] = argc <= 1;
	for (k = 1; k < argc; k++) {
		if (strcasecmp(argv[k], "all") == 0) {
			for (i = 0; i < ms->nlisten; i++)
				sel[i] = 1;
			continue;
		}
		found = 0;
		for (i = 0; i < ms->nlisten; i++) {
			if (strcmp(ms->cfg->listeners[i].name, argv[k]) == 0) {
				sel[i] = 1;
				found = 1;
			}
		}
		if (!found) {
			snprintf(err, errlen, "no listener named '%s'", argv[k]);
			return -1;
		}
	}
	return 0;
}

/* ---- children ---- */

/* smtpd processes: the config's count, 0 meaning one per core. */
static uint32_t
smtpd_count(const struct config *cfg)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (cfg->processes.smtpd != 0)
		return cfg->processes.smtpd;
	return ncpu > 0 ? (uint32_t)ncpu : 1;
}

static struct child *find_qmgr(struct master *ms);
static void spawn_child(struct child *c);
static void check_stopped(struct master *ms);

static void
send_config(struct master *ms, struct child *c)
{
	struct buf b;

	buf_init(&b, 0);
	daemon_encode_config(&b, ms->srcs, ms->nsrcs);
	ipc_conn_send(c->chan, &b);
	buf_free(&b);
}

/* Gives qmgr and the other child the two ends of a fresh socketpair. */
static void
wire_to_qmgr(struct master *ms, struct child *c)
{
	struct child *q = find_qmgr(ms);
	struct buf b;
	size_t start;
	int sv[2];

	if (q == NULL || !q->running || q->chan == NULL || !c->running || c->chan == NULL)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_crit("socketpair: %s", strerror(errno));
		return;
	}
	buf_init(&b, 0);
	start = ipc_msg_begin(&b, IMSG_PEER, 0);
	ipc_put_u32(&b, (uint32_t)c->kind);
	ipc_put_u32(&b, (uint32_t)c->slot);
	ipc_msg_end(&b, start);
	ipc_conn_send_fd(q->chan, &b, sv[0]);
	start = ipc_msg_begin(&b, IMSG_PEER, 0);
	ipc_put_u32(&b, PROC_QMGR);
	ipc_put_u32(&b, 0);
	ipc_msg_end(&b, start);
	ipc_conn_send_fd(c->chan, &b, sv[1]);
	buf_free(&b);
}

static struct child *
find_qmgr(struct master *ms)
{
	size_t i;

	for (i = 0; i < ms->nchildren; i++)
		if (ms->children[i].kind == PROC_QMGR)
			return &ms->children[i];
	return NULL;
}

static struct pending *pending_find(struct master *ms, uint32_t id);
static void pending_child_reply(struct pending *p, struct child *c, const unsigned char *pl, size_t len);

static void
child_frame(struct ipc_conn *conn, const struct ipc_hdr *hdr, const unsigned char *pl, void *arg)
{
	struct child *c = arg;
	struct pending *p;

	(void)conn;
	switch (hdr->type) {
	case IMSG_READY:
		log_info("%s %d ready (pid %d)", kind_name(c->kind), c->slot, c->proc.pid);
		break;
	case IMSG_CTL_REPLY:
		if ((p = pending_find(c->ms, hdr->reqid)) != NULL)
			pending_child_reply(p, c, pl, hdr->len);
		break;
	default:
		log_warning("unexpected message %u from %s %d", hdr->type, kind_name(c->kind), c->slot);
	}
}

static void
child_chan_closed(struct ipc_conn *conn, void *arg)
{
	struct child *c = arg;

	(void)conn;
	c->chan = NULL;
}

static void
restart_cb(uv_timer_t *t)
{
	struct child *c = t->data;

	if (!c->ms->stopping)
		spawn_child(c);
}

static void
child_exited(uv_process_t *proc, int64_t status, int signo)
{
	struct child *c = proc->data;
	struct master *ms = c->ms;
	uint64_t lived = uv_now(ms->loop) - c->started_ms;

	c->running = 0;
	if (c->chan)
		ipc_conn_close(c->chan);
	uv_close((uv_handle_t *)proc, NULL);
	if (ms->stopping) {
		log_info("%s %d (pid %d) stopped%s", kind_name(c->kind), c->slot, proc->pid,
		    status == 0 && signo == 0 ? "" : " abnormally");
		check_stopped(ms);
		return;
	}
	if (c->draining && status == 0 && signo == 0) {
		/* Asked to finish and go (resumelistener): replace it now. */
		log_info("%s %d (pid %d) finished draining; starting a fresh one",
		    kind_name(c->kind), c->slot, proc->pid);
		uv_timer_start(&c->restart, restart_cb, 0, 0);
		return;
	}
	/* Backoff grows while a child keeps dying young, and resets once it
	 * has stayed up for a minute. */
	if (lived > 60000)
		c->backoff_ms = 0;
	c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 500;
	if (c->backoff_ms > BACKOFF_MAX_MS)
		c->backoff_ms = BACKOFF_MAX_MS;
	if (signo)
		log_crit("%s %d (pid %d) killed by signal %d (%s); restarting in %.1f s",
		    kind_name(c->kind), c->slot, proc->pid, signo, strsignal(signo),
		    c->backoff_ms / 1000.0);
	else
		log_crit("%s %d (pid %d) exited with status %lld; restarting in %.1f s (see %s/%s.log)",
		    kind_name(c->kind), c->slot, proc->pid, (long long)status,
		    c->backoff_ms / 1000.0, ms->cfg->paths.log, kind_name(c->kind));
	uv_timer_start(&c->restart, restart_cb, c->backoff_ms, 0);
}

static void
spawn_child(struct child *c)
{
	struct master *ms = c->ms;
	uv_process_options_t opts;
	uv_stdio_container_t *stdio;
	char *path, slot[16], *args[4];
	int sv[2], nstdio, r;
	size_t i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		log_crit("socketpair: %s", strerror(errno));
		uv_timer_start(&c->restart, restart_cb, 1000, 0);
		return;
	}
	nstdio = LISTENER_FD_BASE + (c->kind == PROC_SMTPD ? (int)ms->nlisten : 0);
	stdio = xcalloc((size_t)nstdio, sizeof *stdio);
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = 1;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = 2;
	stdio[MASTER_CHANNEL_FD].flags = UV_INHERIT_FD;
	stdio[MASTER_CHANNEL_FD].data.fd = sv[1];
	if (c->kind == PROC_SMTPD) {
		for (i = 0; i < ms->nlisten; i++) {
			int fd = listener_fds(ms, i)[c->slot];

			stdio[LISTENER_FD_BASE + i].flags = fd >= 0 ? UV_INHERIT_FD : UV_IGNORE;
			stdio[LISTENER_FD_BASE + i].data.fd = fd;
		}
	}
	path = xasprintf("%s/%s", ms->bindir, kind_name(c->kind));
	snprintf(slot, sizeof slot, "%d", c->slot);
	args[0] = path;
	args[1] = "-s";
	args[2] = slot;
	args[3] = NULL;
	memset(&opts, 0, sizeof opts);
	opts.file = path;
	opts.args = args;
	opts.exit_cb = child_exited;
	/* A session of its own: Ctrl-C or a signal to master's process group
	 * must not reach the children, which master drains in order.  A child
	 * whose master dies exits when its channel closes. */
	opts.flags = UV_PROCESS_DETACHED;
	opts.stdio = stdio;
	opts.stdio_count = nstdio;
	c->proc.data = c;
	r = uv_spawn(ms->loop, &c->proc, &opts);
	close(sv[1]);
	free(stdio);
	if (r != 0) {
		log_crit("cannot start %s: %s", path, uv_strerror(r));
		close(sv[0]);
		free(path);
		c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : 1000;
		if (c->backoff_ms > BACKOFF_MAX_MS)
			c->backoff_ms = BACKOFF_MAX_MS;
		uv_timer_start(&c->restart, restart_cb, c->backoff_ms, 0);
		return;
	}
	free(path);
	c->running = 1;
	c->draining = 0;
	c->started_ms = uv_now(ms->loop);
	c->chan = ipc_conn_open(ms->loop, sv[0], child_frame, child_chan_closed, c);
	log_info("started %s %d (pid %d)", kind_name(c->kind), c->slot, c->proc.pid);
	send_config(ms, c);
	if (c->kind == PROC_QMGR) {
		for (i = 0; i < ms->nchildren; i++)
			if (ms->children[i].kind != PROC_QMGR)
				wire_to_qmgr(ms, &ms->children[i]);
	} else
		wire_to_qmgr(ms, c);
}

static void
create_children(struct master *ms)
{
	uint32_t nsmtpd = ms->nsmtpd, ndeliver = ms->cfg->processes.deliver;
	size_t i = 0, k;

	if (ndeliver == 0)
		ndeliver = 1;
	ms->nchildren = 1 + nsmtpd + ndeliver;
	ms->children = xcalloc(ms->nchildren, sizeof *ms->children);
	ms->children[i++].kind = PROC_QMGR;
	for (k = 0; k < nsmtpd; k++, i++) {
		ms->children[i].kind = PROC_SMTPD;
		ms->children[i].slot = (int)k;
	}
	for (k = 0; k < ndeliver; k++, i++) {
		ms->children[i].kind = PROC_DELIVER;
		ms->children[i].slot = (int)k;
	}
	for (i = 0; i < ms->nchildren; i++) {
		ms->children[i].ms = ms;
		uv_timer_init(ms->loop, &ms->children[i].restart);
		ms->children[i].restart.data = &ms->children[i];
	}
	for (i = 0; i < ms->nchildren; i++)
		spawn_child(&ms->children[i]);
}

/* ---- reload ---- */

static int
listeners_equal(const struct config *a, const struct config *b)
{
	size_t i;

	if (a->nlisteners != b->nlisteners)
		return 0;
	for (i = 0; i < a->nlisteners; i++)
		if (strcmp(a->listeners[i].name, b->listeners[i].name) != 0 ||
		    strcmp(a->listeners[i].address, b->listeners[i].address) != 0 ||
		    a->listeners[i].port != b->listeners[i].port)
			return 0;
	return 1;
}

/* Returns 0, or -1 with the reason in err; the running config stays. */
static int
reload(struct master *ms, char *err, size_t errlen)
{
	struct config *cfg;
	struct config_source *srcs;
	size_t n, i;

	if (load_config(ms, &cfg, &srcs, &n, err, errlen) < 0) {
		log_crit("reload refused, running configuration kept: %s", err);
		return -1;
	}
	if (!listeners_equal(ms->cfg, cfg))
		log_warning("listener addresses changed: they take effect when sallyportd restarts");
	config_free(ms->cfg);
	config_free_sources(ms->srcs, ms->nsrcs);
	ms->cfg = cfg;
	ms->srcs = srcs;
	ms->nsrcs = n;
	for (i = 0; i < ms->nchildren; i++)
		if (ms->children[i].running && ms->children[i].chan)
			send_config(ms, &ms->children[i]);
	log_info("configuration reloaded from %s", ms->config_path ? ms->config_path : "<built-in>");
	return 0;
}

/* ---- stopping ---- */

static void
send_drain(struct child *c, uint32_t seconds)
{
	struct buf b;
	size_t start;

	if (!c->running || c->chan == NULL || c->draining)
		return;
	c->draining = 1;
	buf_init(&b, 0);
	start = ipc_msg_begin(&b, IMSG_DRAIN, 0);
	ipc_put_u32(&b, seconds);
	ipc_msg_end(&b, start);
	ipc_conn_send(c->chan, &b);
	buf_free(&b);
}

static void
check_stopped(struct master *ms)
{
	size_t i;
	int others = 0;
	struct child *q = find_qmgr(ms);

	for (i = 0; i < ms->nchildren; i++)
		if (ms->children[i].running && ms->children[i].kind != PROC_QMGR)
			others = 1;
	/* qmgr goes last: it must commit what smtpd is still receiving. */
	if (!others && q && q->running)
		send_drain(q, 5);
	if (!others && (q == NULL || !q->running)) {
		log_info("all processes stopped; sallyportd exits");
		unlink(ms->ctl_path);
		uv_stop(ms->loop);
	}
}

static void
stop_timeout(uv_timer_t *t)
{
	struct master *ms = t->data;
	size_t i;

	for (i = 0; i < ms->nchildren; i++) {
		if (ms->children[i].running) {
			log_warning("%s %d did not stop in time; killing it",
			    kind_name(ms->children[i].kind), ms->children[i].slot);
			uv_process_kill(&ms->children[i].proc, SIGKILL);
		}
	}
}

static void
begin_stop(struct master *ms, const char *why)
{
	size_t i;

	if (ms->stopping)
		return;
	ms->stopping = 1;
	log_info("%s: stopping (drain delay %u s)", why, ms->cfg->drain_delay);
	for (i = 0; i < ms->nlisten; i++)
		close_listener(ms, i);
	uv_close((uv_handle_t *)&ms->ctl_server, NULL);
	for (i = 0; i < ms->nchildren; i++) {
		uv_timer_stop(&ms->children[i].restart);
		if (ms->children[i].kind != PROC_QMGR)
			send_drain(&ms->children[i], ms->cfg->drain_delay);
	}
	uv_timer_init(ms->loop, &ms->stop_timer);
	ms->stop_timer.data = ms;
	uv_timer_start(&ms->stop_timer, stop_timeout, (uint64_t)(ms->cfg->drain_delay + 15) * 1000, 0);
	check_stopped(ms);
}

static void
signal_cb(uv_signal_t *s, int signo)
{
	struct master *ms = s->data;
	char err[1024];

	if (signo == SIGHUP)
		reload(ms, err, sizeof err);
	else
		begin_stop(ms, signo == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---- control socket ---- */

static void
client_unref(struct ctl_client *cl)
{
	if (--cl->refs == 0)
		free(cl);
}

static void
client_reply(struct ctl_client *cl, uint32_t reqid, struct ctl_reply *r)
{
	if (cl->alive && cl->conn)
		ctl_reply_send(r, cl->conn, reqid);
	else
		ctl_reply_free(r);
}

static struct pending *
pending_find(struct master *ms, uint32_t id)
{
	struct pending *p;

	for (p = ms->pendings; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

static void
pending_timer_closed(uv_handle_t *h)
{
	struct pending *p = h->data;

	free(p->cmd);
	free(p);
}


/* ---- system gauges (status detail) ---- */

/* utime + stime of a process in clock ticks (Linux /proc; else 0). */
static uint64_t
proc_ticks(int pid)
{
	char path[64], line[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *fp;
	int i;

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof line, fp) == NULL) {
		fclose(fp);
		return 0;
	}
	fclose(fp);
	/* Fields after the command name, which may hold spaces: 3 is state,
	 * 14 utime, 15 stime. */
	if ((p = strrchr(line, ')')) == NULL)
		return 0;
	for (i = 2; i < 14 && p; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %llu %llu", &ut, &st) != 2)
		return 0;
	return ut + st;
}

static int
read_u64_file(const char *path, uint64_t *v)
{
	FILE *fp = fopen(path, "r");
	unsigned long long x;
	int r = -1;

	if (fp == NULL)
		return -1;
	if (fscanf(fp, "%llu", &x) == 1) {
		*v = x;
		r = 0;
	}
	fclose(fp);
	return r;
}

/* RAM in use, percent: the cgroup's limit when there is one (cgroup v2),
 * else the machine's (MemTotal - MemAvailable). */
static unsigned
ram_percent(void)
{
	uint64_t cur, max, total = 0, avail = 0;
	char line[256];
	FILE *fp;

	if (read_u64_file("/sys/fs/cgroup/memory.current", &cur) == 0 &&
	    read_u64_file("/sys/fs/cgroup/memory.max", &max) == 0 && max > 0)
		return (unsigned)(cur * 100 / max);
	if ((fp = fopen("/proc/meminfo", "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, fp) != NULL) {
		unsigned long long v;
		if (sscanf(line, "MemTotal: %llu", &v) == 1)
			total = v;
		else if (sscanf(line, "MemAvailable: %llu", &v) == 1)
			avail = v;
	}
	fclose(fp);
	return total ? (unsigned)((total - (avail < total ? avail : total)) * 100 / total) : 0;
}


/* Disk Utilization: Logs ("LogUsd"): the log files, percent of the
 * file system that holds them. */
static unsigned
log_disk_percent(const char *dir)
{
	struct statvfs vfs;
	struct dirent *de;
	struct stat st;
	uint64_t used = 0, size;
	char path[PATH_MAX];
	DIR *d;

	if (statvfs(dir, &vfs) < 0 || (d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
			used += (uint64_t)st.st_blocks * 512;
	}
	closedir(d);
	size = (uint64_t)vfs.f_blocks * vfs.f_frsize;
	return size ? (unsigned)(used * 100 / size) : 0;
}

static uint64_t
cpu_percent(uint64_t ticks, uint64_t prev, uint64_t ms, long hz, long ncpu)
{
	uint64_t pct;

	if (ms == 0 || ticks < prev)
		return 0;
	pct = (ticks - prev) * 1000 * 100 / (uint64_t)hz / ms / (uint64_t)ncpu;
	return pct > 100 ? 100 : pct;
}

/* CPU of the mail daemons (master and its children: the spec's "MGA"),
 * percent of the machine since the previous status (or since start), in
 * all and by daemon kind (JSON; the text shows the spec's classes). */
static void
system_gauges(struct master *ms, struct ctl_reply *r)
{
	static const char *const names[PROC_CLI] = { "CPU Utilization sallyportd",
	    "CPU Utilization smtpd", "CPU Utilization qmgr", "CPU Utilization deliver" };
	uint64_t ticks[PROC_CLI] = { 0 }, total = 0, prev = 0, now = uv_hrtime() / 1000000, span;
	long hz = sysconf(_SC_CLK_TCK), ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t i;
	int k;

	ticks[PROC_MASTER] = proc_ticks((int)getpid());
	for (i = 0; i < ms->nchildren; i++)
		if (ms->children[i].running && ms->children[i].kind < PROC_CLI)
			ticks[ms->children[i].kind] += proc_ticks(ms->children[i].proc.pid);
	if (hz <= 0)
		hz = 100;
	if (ncpu <= 0)
		ncpu = 1;
	/* The first time: since the gateway started. */
	span = ms->cpu_prev_ms ? now - ms->cpu_prev_ms :
	    (uint64_t)(time(NULL) - ms->started) * 1000;
	ctl_rec_gauge(r, "RAM Utilization", ram_percent());
	ctl_rec_gauge(r, "Disk Utilization: Logs", log_disk_percent(ms->cfg->paths.log));
	for (k = 0; k < PROC_CLI; k++) {
		total += ticks[k];
		prev += ms->cpu_prev_ticks[k];
	}
	ctl_rec_gauge(r, "CPU Utilization MGA", cpu_percent(total, prev, span, hz, ncpu));
	/* No anti-spam or anti-virus engine runs yet. */
	ctl_rec_gauge(r, "CPU Utilization AntiSpam", 0);
	ctl_rec_gauge(r, "CPU Utilization AntiVirus", 0);
	for (k = 0; k < PROC_CLI; k++) {
		ctl_rec_gauge(r, names[k], cpu_percent(ticks[k], ms->cpu_prev_ticks[k], span, hz, ncpu));
		ms->cpu_prev_ticks[k] = ticks[k];
	}
	ms->cpu_prev_ms = now;
}

/* Who a daemon runs as: its configured user as root, else ours. */
static const char *
run_user(const char *as_root)
{
	struct passwd *pw;

	if (getuid() == 0)
		return as_root ? as_root : "root";
	pw = getpwuid(getuid());
	return pw ? pw->pw_name : "?";
}

/* tcpservices: the gateway's listening sockets and who serves them. */
static void
tcpservices(struct master *ms, struct ctl_reply *r)
{
	size_t i, k;
	int smtpd_pid = 0;

	for (i = 0; i < ms->nchildren; i++)
		if (ms->children[i].kind == PROC_SMTPD && ms->children[i].running) {
			smtpd_pid = ms->children[i].proc.pid;
			break;
		}
	for (k = 0; k < ms->nlisten; k++) {
		const struct cfg_listener *l = &ms->cfg->listeners[k];
		ctl_rec_begin(r);
		ctl_rec_add(r, "section", "service");
		ctl_rec_add(r, "process", "smtpd");
		ctl_rec_add(r, "pid", "%d", smtpd_pid);
		ctl_rec_add(r, "user", "%s", run_user(ms->cfg->users.net));
		ctl_rec_add(r, "proto", "%s", strchr(l->address, ':') ? "tcp6" : "tcp");
		ctl_rec_add(r, "address", "%s%s%s:%u%s", strchr(l->address, ':') ? "[" : "",
		    l->address, strchr(l->address, ':') ? "]" : "", l->port,
		    ms->suspended[k] ? " (suspended)" : "");
		ctl_rec_add(r, "listener", "%s", l->name);
		ctl_rec_end(r);
	}
	ctl_rec_begin(r);
	ctl_rec_add(r, "section", "service");
	ctl_rec_add(r, "process", "sallyportd");
	ctl_rec_add(r, "pid", "%d", (int)getpid());
	ctl_rec_add(r, "user", "%s", run_user("root"));
	ctl_rec_add(r, "proto", "unix");
	ctl_rec_add(r, "address", "%s", ms->ctl_path ? ms->ctl_path : "");
	ctl_rec_end(r);
}

static void
pending_finish(struct pending *p)
{
	struct master *ms = &master;
	struct pending **pp;

	if (p->done)
		return;
	p->done = 1;
	if (strcmp(p->cmd, "topin") == 0)
		topin_finish(p);
	if (strcmp(p->cmd, "status") == 0) {
		ctl_rec_begin(&p->reply);
		ctl_rec_add(&p->reply, "section", "gauge");
		ctl_rec_add(&p->reply, "name", "Current Inbound Conn.");
		ctl_rec_add(&p->reply, "current", "%llu", (unsigned long long)p->inbound);
		ctl_rec_end(&p->reply);
		ctl_rec_begin(&p->reply);
		ctl_rec_add(&p->reply, "section", "gauge");
		ctl_rec_add(&p->reply, "name", "Current Outbound Conn.");
		ctl_rec_add(&p->reply, "current", "%llu", (unsigned long long)p->outbound);
		ctl_rec_end(&p->reply);
		ctl_rec_info(&p->reply, "Status as of", "%lld", (long long)time(NULL));
		ctl_rec_info(&p->reply, "Up since", "%lld", (long long)ms->started);
		ctl_rec_info(&p->reply, "Hostname", "%s", ms->cfg->hostname);
		system_gauges(ms, &p->reply);
		/* Each smtpd throttles on its own; the system reports the most. */
		ctl_rec_gauge(&p->reply, "Resource Conservation", p->rescon);
		{
			size_t i, nsusp = 0;
			for (i = 0; i < ms->nlisten; i++)
				nsusp += ms->suspended[i] ? 1 : 0;
			ctl_rec_info(&p->reply, "Receiving suspended", "%s", nsusp == 0 ? "no" :
			    nsusp == ms->nlisten ? "all" : "some");
		}
	}
	client_reply(p->client, p->client_reqid, &p->reply);
	client_unref(p->client);
	for (pp = &ms->pendings; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	uv_timer_stop(&p->timer);
	uv_close((uv_handle_t *)&p->timer, pending_timer_closed);
}

/* Sums a row from one smtpd into the rows of the others. */
static void
topin_add(struct pending *p, const struct ctl_record *rec)
{
	const char *host = ctl_record_get(rec, "hostname"), *ip = ctl_record_get(rec, "ip");
	const char *lst = ctl_record_get(rec, "listener"), *n = ctl_record_get(rec, "conns");
	size_t i;

	if (host == NULL || ip == NULL || lst == NULL || n == NULL)
		return;
	for (i = 0; i < p->npeers; i++)
		if (strcmp(p->peers[i].ip, ip) == 0 && strcmp(p->peers[i].listener, lst) == 0)
			break;
	if (i == p->npeers) {
		p->peers = xrealloc(p->peers, (p->npeers + 1) * sizeof *p->peers);
		p->peers[i].hostname = xstrdup(host);
		p->peers[i].ip = xstrdup(ip);
		p->peers[i].listener = xstrdup(lst);
		p->peers[i].conns = 0;
		p->npeers++;
	}
	p->peers[i].conns += strtoull(n, NULL, 10);
}

static int
topin_cmp(const void *a, const void *b)
{
	const struct topin_peer *x = a, *y = b;
	int r;

	if (x->conns != y->conns)
		return x->conns < y->conns ? 1 : -1;
	if ((r = strcmp(x->ip, y->ip)) != 0)
		return r;
	return strcmp(x->listener, y->listener);
}

static void
topin_finish(struct pending *p)
{
	size_t i;

	if (p->npeers > 1)
		qsort(p->peers, p->npeers, sizeof *p->peers, topin_cmp);
	ctl_rec_info(&p->reply, "Status as of", "%lld", (long long)time(NULL));
	for (i = 0; i < p->npeers; i++) {
		if (i < TOPIN_ROWS) {
			ctl_rec_begin(&p->reply);
			ctl_rec_add(&p->reply, "section", "peer");
			ctl_rec_add(&p->reply, "hostname", "%s", p->peers[i].hostname);
			ctl_rec_add(&p->reply, "ip", "%s", p->peers[i].ip);
			ctl_rec_add(&p->reply, "listener", "%s", p->peers[i].listener);
			ctl_rec_add(&p->reply, "conns", "%llu", (unsigned long long)p->peers[i].conns);
			ctl_rec_end(&p->reply);
		}
		free(p->peers[i].hostname);
		free(p->peers[i].ip);
		free(p->peers[i].listener);
	}
	free(p->peers);
	p->peers = NULL;
	p->npeers = 0;
}

static void
pending_child_reply(struct pending *p, struct child *c, const unsigned char *pl, size_t len)
{
	struct ctl_result res;
	size_t i;

	if (ctl_result_decode(pl, len, &res) < 0) {
		ctl_reply_error(&p->reply, "malformed reply from %s", kind_name(c->kind));
	} else {
		if (res.status != 0)
			ctl_reply_error(&p->reply, "%s", res.message);
		else if (res.message && res.message[0] && p->reply.message.len == 0)
			ctl_reply_message(&p->reply, "%s", res.message);
		for (i = 0; i < res.nrec; i++) {
			const char *name = ctl_record_get(&res.recs[i], "name");
			const char *cur = ctl_record_get(&res.recs[i], "current");
			if (c->kind == PROC_SMTPD && name && cur &&
			    strcmp(name, "Current Inbound Conn.") == 0)
				p->inbound += strtoull(cur, NULL, 10);
			else if (c->kind == PROC_DELIVER && name && cur &&
			    strcmp(name, "Current Outbound Conn.") == 0)
				p->outbound += strtoull(cur, NULL, 10);
			else if (c->kind == PROC_SMTPD && strcmp(p->cmd, "topin") == 0)
				topin_add(p, &res.recs[i]);
			else if (c->kind == PROC_SMTPD && name && cur &&
			    strcmp(name, "Resource Conservation") == 0) {
				if (strtoull(cur, NULL, 10) > p->rescon)
					p->rescon = strtoull(cur, NULL, 10);
			}
			else
				ctl_rec_copy(&p->reply, &res.recs[i]);
		}
		ctl_result_free(&res);
	}
	if (--p->outstanding <= 0)
		pending_finish(p);
}

static void
pending_timeout(uv_timer_t *t)
{
	struct pending *p = t->data;

	if (p->reply.status == 0)
		ctl_reply_error(&p->reply, "no answer from every process in time (see the logs)");
	pending_finish(p);
}

/* Sends argv to every running child of the given kinds (bitmask by
 * 1 << kind) and answers the client when all have replied. */
static void fan_out_ex(struct master *, struct ctl_client *, uint32_t, char **, unsigned,
    char *const *, int, uint64_t, int);

static void
fan_out(struct master *ms, struct ctl_client *cl, uint32_t reqid, int argc, char **argv,
    unsigned kinds, char *const *child_argv, int child_argc)
{
	(void)argc;
	fan_out_ex(ms, cl, reqid, argv, kinds, child_argv, child_argc, CTL_TIMEOUT_MS, 0);
}

/* fan_out with a deadline, to at most max children (0: all). */
static void
fan_out_ex(struct master *ms, struct ctl_client *cl, uint32_t reqid, char **argv,
    unsigned kinds, char *const *child_argv, int child_argc, uint64_t timeout_ms, int max)
{
	struct pending *p = xcalloc(1, sizeof *p);
	struct buf b;
	size_t i;

	p->client = cl;
	cl->refs++;
	p->client_reqid = reqid;
	p->cmd = xstrdup(argv[0]);
	p->id = ++ms->next_reqid;
	ctl_reply_init(&p->reply);
	p->next = ms->pendings;
	ms->pendings = p;
	uv_timer_init(ms->loop, &p->timer);
	p->timer.data = p;
	uv_timer_start(&p->timer, pending_timeout, timeout_ms, 0);
	buf_init(&b, 0);
	for (i = 0; i < ms->nchildren; i++) {
		struct child *c = &ms->children[i];
		if (!(kinds & (1u << c->kind)) || !c->running || c->chan == NULL)
			continue;
		ctl_encode_request(&b, p->id, child_argc, child_argv);
		ipc_conn_send(c->chan, &b);
		if (++p->outstanding == max)
			break;
	}
	buf_free(&b);
	if (p->outstanding == 0) {
		if (kinds & (1u << PROC_QMGR))
			ctl_reply_error(&p->reply, "the queue manager is not running (restarting?)");
		else if (kinds == (1u << PROC_DELIVER))
			ctl_reply_error(&p->reply, "no delivery process is running (restarting?)");
		pending_finish(p);
	}
}

static void
ctl_request(struct ctl_client *cl, uint32_t reqid, int argc, char **argv)
{
	struct master *ms = cl->ms;
	struct ctl_reply r;
	char err[1024];
	const char *cmd = argv[0];
	static char *const conn_argv[] = { "connections" };

	ctl_reply_init(&r);
	if (strcmp(cmd, "version") == 0) {
		ctl_reply_message(&r, "Sallyport %s", SALLYPORT_VERSION);
		ctl_rec_begin(&r);
		ctl_rec_add(&r, "version", "%s", SALLYPORT_VERSION);
		ctl_rec_add(&r, "libuv", "%s", uv_version_string());
		ctl_rec_end(&r);
	} else if (strcmp(cmd, "commit") == 0) {
		if (reload(ms, err, sizeof err) < 0)
			ctl_reply_error(&r, "configuration refused, running configuration kept: %s", err);
		else
			ctl_reply_message(&r, "Changes committed.");
	} else if (strcmp(cmd, "status") == 0) {
		static char *const st_argv[] = { "status" };
		ctl_reply_free(&r);
		/* qmgr's counters and queue, plus each smtpd's and deliver's
		 * connection count. */
		fan_out(ms, cl, reqid, argc, argv, 1u << PROC_QMGR, st_argv, 1);
		{
			struct pending *p = ms->pendings;
			struct buf b;
			size_t i;

			buf_init(&b, 0);
			for (i = 0; p && i < ms->nchildren; i++) {
				struct child *c = &ms->children[i];
				if (c->kind == PROC_QMGR || !c->running || c->chan == NULL || p->done)
					continue;
				ctl_encode_request(&b, p->id, 1, conn_argv);
				ipc_conn_send(c->chan, &b);
				p->outstanding++;
			}
			buf_free(&b);
		}
		return;
	} else if (strcmp(cmd, "showrecipients") == 0 || strcmp(cmd, "delivernow") == 0 ||
	    strcmp(cmd, "suspenddel") == 0 || strcmp(cmd, "resumedel") == 0 ||
	    strcmp(cmd, "abortdeliveries") == 0 || strcmp(cmd, "tophosts") == 0 || strcmp(cmd, "deleterecipients") == 0 ||
	    strcmp(cmd, "bouncerecipients") == 0 || strcmp(cmd, "redirectrecipients") == 0 ||
	    strcmp(cmd, "showmessage") == 0 || strcmp(cmd, "oldmessage") == 0 ||
	    strcmp(cmd, "removemessage") == 0 || strcmp(cmd, "archivemessage") == 0 ||
	    strcmp(cmd, "workqueue") == 0 || strcmp(cmd, "dnsstatus") == 0) {
		ctl_reply_free(&r);
		fan_out(ms, cl, reqid, argc, argv, 1u << PROC_QMGR, argv, argc);
		return;
	} else if (strcmp(cmd, "resetcounters") == 0) {
		/* Every counter lives in qmgr (deliver reports DNS ones). */
		ctl_reply_free(&r);
		fan_out(ms, cl, reqid, argc, argv, 1u << PROC_QMGR, argv, argc);
		return;
	} else if (strcmp(cmd, "hoststatus") == 0 || strcmp(cmd, "dnsflush") == 0) {
		struct pending *p;
		struct buf b;
		size_t i;

		if (strcmp(cmd, "hoststatus") == 0 && argc < 2) {
			ctl_reply_error(&r, "hoststatus: which recipient host?");
			client_reply(cl, reqid, &r);
			return;
		}
		ctl_reply_free(&r);
		/* hoststatus: qmgr's queue and counters, and the DNS cache of
		 * one deliver (they each keep their own); dnsflush: every
		 * deliver. */
		if (cmd[0] != 'h') {
			fan_out(ms, cl, reqid, argc, argv, 1u << PROC_DELIVER, argv, argc);
			if (ms->pendings && !ms->pendings->done && ms->pendings->outstanding == 0)
				pending_finish(ms->pendings);
			return;
		}
		fan_out(ms, cl, reqid, argc, argv, 1u << PROC_QMGR, argv, argc);
		p = ms->pendings;
		buf_init(&b, 0);
		for (i = 0; p && !p->done && i < ms->nchildren; i++) {
			struct child *c = &ms->children[i];
			if (c->kind != PROC_DELIVER || !c->running || c->chan == NULL)
				continue;
			ctl_encode_request(&b, p->id, argc, argv);
			ipc_conn_send(c->chan, &b);
			p->outstanding++;
			break;
		}
		buf_free(&b);
		return;
	} else if (strcmp(cmd, "tlsverify") == 0) {
		/* One deliver connects as delivery would; it answers when done. */
		ctl_reply_free(&r);
		fan_out_ex(ms, cl, reqid, argv, 1u << PROC_DELIVER, argv, argc,
		    TLSVERIFY_TIMEOUT_MS, 1);
		return;
	} else if (strcmp(cmd, "tcpservices") == 0) {
		tcpservices(ms, &r);
	} else if (strcmp(cmd, "topin") == 0) {
		static char *const topin_argv[] = { "topin" };
		ctl_reply_free(&r);
		fan_out(ms, cl, reqid, argc, argv, 1u << PROC_SMTPD, topin_argv, 1);
		return;
	} else if (strcmp(cmd, "suspendlistener") == 0 || strcmp(cmd, "resumelistener") == 0 ||
	    strcmp(cmd, "resumelister") == 0) {
		int *sel = xcalloc(ms->nlisten ? ms->nlisten : 1, sizeof *sel);
		int suspend = cmd[0] == 's', changed = 0;
		size_t i;

		if (select_listeners(ms, argc, argv, sel, err, sizeof err) < 0) {
			ctl_reply_error(&r, "%s", err);
			free(sel);
			client_reply(cl, reqid, &r);
			return;
		}
		for (i = 0; i < ms->nlisten; i++) {
			if (!sel[i] || ms->suspended[i] == suspend)
				continue;
			if (suspend) {
				/* smtpd closes its copy below; once master's is
				 * closed too, the kernel refuses connections. */
				close_listener(ms, i);
			} else if (open_listener(ms, i, err, sizeof err) < 0) {
				ctl_reply_error(&r, "%s", err);
				log_crit("resumelistener: %s", err);
				continue;
			}
			ms->suspended[i] = suspend;
			changed = 1;
			log_info("listener %s %s", ms->cfg->listeners[i].name,
			    suspend ? "suspended: not accepting connections" : "resumed");
		}
		if (changed && save_listener_state(ms) < 0)
			ctl_reply_error(&r, "listener state not saved (see sallyportd.log)");
		if (r.status == 0)
			ctl_reply_message(&r, suspend ? "Receiving suspended." : "Receiving resumed.");
		if (changed && suspend) {
			/* Tell every smtpd to close the suspended listeners. */
			char **names = xcalloc(ms->nlisten + 2, sizeof *names);
			int n = 1;
			struct buf b;

			names[0] = "suspendlistener";
			for (i = 0; i < ms->nlisten; i++)
				if (ms->suspended[i])
					names[n++] = ms->cfg->listeners[i].name;
			buf_init(&b, 0);
			for (i = 0; i < ms->nchildren; i++) {
				struct child *c = &ms->children[i];
				if (c->kind == PROC_SMTPD && c->running && c->chan) {
					ctl_encode_request(&b, 0, n, names);
					ipc_conn_send(c->chan, &b);
				}
			}
			buf_free(&b);
			free(names);
		} else if (changed) {
			/* smtpd cannot get a socket back: replace each one, after
			 * its sessions finish, with one that inherits them all. */
			for (i = 0; i < ms->nchildren; i++)
				if (ms->children[i].kind == PROC_SMTPD && ms->children[i].running)
					send_drain(&ms->children[i], ms->cfg->drain_delay);
		}
		free(sel);
	} else {
		ctl_reply_error(&r, "unknown command '%s' (try 'sallyctl --help')", cmd);
	}
	client_reply(cl, reqid, &r);
}

static void
ctl_frame(struct ipc_conn *conn, const struct ipc_hdr *hdr, const unsigned char *pl, void *arg)
{
	struct ctl_client *cl = arg;
	struct ctl_reply r;
	char **argv;
	int argc;

	(void)conn;
	if (hdr->type != IMSG_CTL || ctl_decode_request(pl, hdr->len, &argc, &argv) < 0) {
		ctl_reply_init(&r);
		ctl_reply_error(&r, "malformed control request");
		client_reply(cl, hdr->reqid, &r);
		return;
	}
	ctl_request(cl, hdr->reqid, argc, argv);
	ctl_free_argv(argc, argv);
}

static void
ctl_closed(struct ipc_conn *conn, void *arg)
{
	struct ctl_client *cl = arg;

	(void)conn;
	cl->alive = 0;
	cl->conn = NULL;
	client_unref(cl);
}

static void
ctl_accept(uv_stream_t *server, int status)
{
	struct master *ms = server->data;
	struct ctl_client *cl;
	uv_pipe_t *tmp;
	uv_os_fd_t fd;
	int dupfd;

	if (status < 0)
		return;
	tmp = xcalloc(1, sizeof *tmp);
	uv_pipe_init(ms->loop, tmp, 0);
	if (uv_accept(server, (uv_stream_t *)tmp) != 0 || uv_fileno((uv_handle_t *)tmp, &fd) != 0 ||
	    (dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
		uv_close((uv_handle_t *)tmp, (uv_close_cb)free);
		return;
	}
	uv_close((uv_handle_t *)tmp, (uv_close_cb)free);
	cl = xcalloc(1, sizeof *cl);
	cl->ms = ms;
	cl->alive = 1;
	cl->refs = 1;
	cl->conn = ipc_conn_open(ms->loop, dupfd, ctl_frame, ctl_closed, cl);
	if (cl->conn == NULL) {
		close(dupfd);
		free(cl);
	}
}

static void
open_control_socket(struct master *ms)
{
	struct group *gr;
	int r;

	ms->ctl_path = xasprintf("%s/control.sock", ms->cfg->paths.run);
	unlink(ms->ctl_path);
	uv_pipe_init(ms->loop, &ms->ctl_server, 0);
	ms->ctl_server.data = ms;
	if ((r = uv_pipe_bind(&ms->ctl_server, ms->ctl_path)) != 0 ||
	    (r = uv_listen((uv_stream_t *)&ms->ctl_server, 64, ctl_accept)) != 0)
		log_fatal("cannot open control socket %s: %s", ms->ctl_path, uv_strerror(r));
	chmod(ms->ctl_path, 0660);
	if (geteuid() == 0 && (gr = getgrnam("sallyport-admin")) != NULL)
		(void)!chown(ms->ctl_path, 0, gr->gr_gid);
}

/* ---- main ---- */

static char *
own_dir(const char *argv0)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	char *slash;

	if (n > 0)
		buf[n] = '\0';
	else if (realpath(argv0, buf) == NULL)
		snprintf(buf, sizeof buf, "%s", argv0);
	if ((slash = strrchr(buf, '/')) != NULL)
		*slash = '\0';
	/* Built tree: the daemons are beside sallyportd.  Installed: they are
	 * in libexecdir/sallyport. */
	slash = xasprintf("%s/qmgr", buf);
	n = access(slash, X_OK);
	free(slash);
#ifdef SP_LIBEXECDIR
	if (n != 0 && access(SP_LIBEXECDIR "/qmgr", X_OK) == 0)
		return xstrdup(SP_LIBEXECDIR);
#endif
	return xstrdup(buf);
}

int
main(int argc, char **argv)
{
	struct master *ms = &master;
	char err[1024], *logpath;
	int foreground = 0, check_only = 0, opt;
	size_t i;

	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		printf("%s", usage);
		return 0;
	}
	while ((opt = getopt(argc, argv, "c:fth")) != -1) {
		switch (opt) {
		case 'c':
			ms->config_path = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 't':
			check_only = 1;
			break;
		case 'h':
			printf("%s", usage);
			return 0;
		default:
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	log_open("sallyportd", NULL);
	if (load_config(ms, &ms->cfg, &ms->srcs, &ms->nsrcs, err, sizeof err) < 0) {
		fprintf(stderr, "sallyportd: invalid configuration: %s\n", err);
		return 1;
	}
	if (check_only) {
		printf("configuration OK: %s\n", ms->config_path ? ms->config_path : "<built-in>");
		return 0;
	}
	if (!foreground && daemon(0, 0) < 0) {
		fprintf(stderr, "sallyportd: cannot detach: %s\n", strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	ms->loop = uv_default_loop();
	ms->bindir = own_dir(argv[0]);
	ms->started = time(NULL);
	prepare_dirs(ms);
	logpath = xasprintf("%s/sallyportd.log", ms->cfg->paths.log);
	if (log_open("sallyportd", logpath) < 0) {
		fprintf(stderr, "sallyportd: cannot open %s: %s\n", logpath, strerror(errno));
		return 1;
	}
	free(logpath);
	log_also_stderr(foreground);
	ms->nlisten = ms->cfg->nlisteners;
	ms->nsmtpd = smtpd_count(ms->cfg);
	ms->listen_fds = xcalloc((ms->nlisten ? ms->nlisten : 1) * ms->nsmtpd,
	    sizeof *ms->listen_fds);
	ms->suspended = xcalloc(ms->nlisten ? ms->nlisten : 1, sizeof *ms->suspended);
	load_listener_state(ms);
	for (i = 0; i < ms->nlisten; i++) {
		if (ms->suspended[i]) {
			close_listener(ms, i);
			log_info("listener %s suspended (kept across restarts; 'sallyctl "
			    "resumelistener' resumes it)", ms->cfg->listeners[i].name);
			continue;
		}
		if (open_listener(ms, i, err, sizeof err) < 0)
			log_fatal("%s", err);
		log_info("listener %s on %s port %u (%s)", ms->cfg->listeners[i].name,
		    ms->cfg->listeners[i].address, ms->cfg->listeners[i].port,
		    ms->cfg->listeners[i].type == LISTENER_PUBLIC ? "public" :
		    ms->cfg->listeners[i].type == LISTENER_PRIVATE ? "private" : "sinkhole");
	}
	open_control_socket(ms);
	uv_signal_init(ms->loop, &ms->sigterm);
	uv_signal_init(ms->loop, &ms->sigint);
	uv_signal_init(ms->loop, &ms->sighup);
	ms->sigterm.data = ms->sigint.data = ms->sighup.data = ms;
	uv_signal_start(&ms->sigterm, signal_cb, SIGTERM);
	uv_signal_start(&ms->sigint, signal_cb, SIGINT);
	uv_signal_start(&ms->sighup, signal_cb, SIGHUP);
	log_info("Sallyport %s starting (config %s, pid %d)", SALLYPORT_VERSION,
	    ms->config_path ? ms->config_path : "<built-in>", (int)getpid());
	create_children(ms);
	uv_run(ms->loop, UV_RUN_DEFAULT);
	return 0;
}
