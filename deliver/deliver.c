/*
 * deliver - the SMTP client daemon of Sallyport (DESIGN.md section 2).
 *
 * Started by master as "deliver -s SLOT".  Takes delivery jobs from qmgr,
 * resolves where they go (smtp_routes, MX through ldns), delivers them
 * over SMTP with pipelining and connection reuse, and answers each job
 * with one result.  Privilege: after start-up it runs as the net user,
 * chrooted in <paths.run>/empty, and opens no file; the resolver is set up
 * from dns.servers or /etc/resolv.conf before the chroot, the log file is
 * already open.
 *
 * This file is only the bootstrap; see deliver.h for the rest.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "deliver.h"
#include "dns.h"
#include "log.h"
#include "xalloc.h"

static const char usage[] =
    "usage: deliver -s SLOT\n"
    "  Sallyport's SMTP delivery daemon.  It is started by sallyportd, which\n"
    "  passes its configuration and its channels; it is not run by hand.\n";

static struct {
	struct daemon	d;
	struct deliver	dl;
} deliverd;

/* A resolver that cannot resolve: routes by smtp_routes still work, MX
 * lookups fail temporarily (the messages wait in the queue). */
static int
no_resolver(void *arg, const char *name, uint16_t qtype, unsigned char **wire, size_t *len,
    char *err, size_t errlen)
{
	(void)arg;
	(void)name;
	(void)qtype;
	(void)wire;
	(void)len;
	snprintf(err, errlen, "no DNS resolver configured");
	return -1;
}

static void
on_master_frame(struct daemon *d, const struct ipc_hdr *hdr, const unsigned char *p)
{
	(void)d;
	deliver_master_frame(&deliverd.dl, hdr, p);
}

static void
on_config(struct daemon *d, struct config *old_cfg)
{
	(void)old_cfg;
	deliver_apply_config(&deliverd.dl, d->cfg);
	log_info("routes and timeouts of the new configuration apply to new jobs");
}

static void
on_drained(struct deliver *dl)
{
	(void)dl;
	exit(0);
}

int
main(int argc, char **argv)
{
	struct daemon *d = &deliverd.d;
	struct dns_options opt = { NULL, 0, 0, 2, NULL, 0 };
	struct dns_resolver *r;
	char err[256], *chroot_dir;

	/* Lookups run on the libuv thread pool: room for slow ones before
	 * the pool is first used. */
	setenv("UV_THREADPOOL_SIZE", "16", 0);
	/* A server that hangs up is an error return, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	daemon_init(d, "deliver", argc, argv, usage);
	/* Per try; the whole lookup is bounded by dns_timeout on the loop. */
	opt.timeout = d->cfg->deliver.dns_timeout / 4 ? d->cfg->deliver.dns_timeout / 4 : 1;
	/* dns.servers, else resolv.conf. */
	opt.servers = d->cfg->dns.servers;
	opt.nservers = d->cfg->dns.nservers;
	if ((r = dns_resolver_new(&opt, err, sizeof err)) == NULL) {
		log_warning("DNS resolver: %s; MX delivery will fail until it is fixed", err);
		r = dns_resolver_new_fn(no_resolver, NULL);
	}
	tzset();
	chroot_dir = daemon_chroot_dir(d->cfg);
	daemon_drop_privileges(d, d->cfg->users.net, chroot_dir);
	free(chroot_dir);
	deliver_init(&deliverd.dl, d->loop, d->cfg, r);
	deliverd.dl.on_drained = on_drained;
	daemon_start(d, on_master_frame, on_config);
	deliverd.dl.master = d->master;
	log_info("deliver %d ready (hostname %s)", d->slot, deliverd.dl.hostname);
	uv_run(d->loop, UV_RUN_DEFAULT);
	return 0;
}
