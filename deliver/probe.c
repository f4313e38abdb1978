/*
 * probe - `sallyctl tlsverify DOMAIN [HOST[:PORT]]` (spec
 * testing-trace-troubleshooting.md 2.5): one connection made the way
 * delivery makes it -- smtp_routes, else MX, the same session, engine,
 * TLS contexts, trust store and name rules -- checked against the
 * required-verify settings, with each step as a line of the answer.
 *
 * Without HOST the destination's first host is used (its route, else its
 * best MX, else the domain's own address); HOST may be a name (resolved
 * through deliver's DNS cache) or an address, with an optional :PORT
 * (default 25).  The transcript goes back to master as records
 * {section: line, text}; the last record {section: result, ok: 0|1}.
 *
 * Not for: delivering anything (no MAIL FROM is sent), other modes than
 * required-verify (the spec's choice for this command).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "deliver.h"
#include "log.h"
#include "xalloc.h"

struct probe {
	struct deliver		*dl;
	uint32_t		 reqid;
	struct ctl_reply	 r;
	char			 domain[DNS_NAME_MAX + 1];
	struct target_host	*hosts;
	size_t			 nhosts;
	int			 explicit_host;
	struct dns_req		*dnsreq;
};

void
probe_line(struct probe *p, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	ctl_rec_begin(&p->r);
	ctl_rec_add(&p->r, "section", "line");
	ctl_rec_add(&p->r, "text", "%s", text);
	ctl_rec_end(&p->r);
}

void
probe_done(struct probe *p, int ok)
{
	struct deliver *dl = p->dl;

	ctl_rec_begin(&p->r);
	ctl_rec_add(&p->r, "section", "result");
	ctl_rec_add(&p->r, "ok", "%d", ok);
	ctl_rec_end(&p->r);
	log_info("tlsverify %s: %s", p->domain, ok ? "verified" : "failed");
	if (dl->master != NULL)
		ctl_reply_send(&p->r, dl->master, p->reqid);
	else
		ctl_reply_free(&p->r);
	free(p->hosts);
	free(p);
}

static void
probe_fail(struct probe *p, const char *fmt, const char *arg)
{
	probe_line(p, fmt, arg);
	probe_line(p, "TLS verification failed.");
	probe_done(p, 0);
}

/* The first host has its addresses: connect to the first one. */
static void
probe_connect(struct probe *p)
{
	struct target_host *h = &p->hosts[0];
	char err[256];

	if (h->naddrs == 0) {
		probe_fail(p, "No address for %s.", h->name);
		return;
	}
	h->configured = h->configured || p->explicit_host;
	probe_line(p, "Connecting to %s on port %u.", h->addrs[0].text, (unsigned)h->port);
	if (session_probe(p->dl, p, p->domain, h, &h->addrs[0], err, sizeof err) == NULL)
		probe_fail(p, "Cannot connect: %s.", err);
}

static void
probe_host_done(const struct dns_result *res, void *arg)
{
	struct probe *p = arg;

	p->dnsreq = NULL;
	route_set_addrs(&p->hosts[0], res);
	if (res->status != DNS_OK) {
		probe_fail(p, "Cannot resolve the host: %s.", res->error);
		return;
	}
	probe_connect(p);
}

static void
probe_resolve_first(struct probe *p)
{
	struct target_host *h = &p->hosts[0];

	if (h->resolved) {
		probe_connect(p);
		return;
	}
	if ((p->dnsreq = dns_lookup(p->dl->dns, DNS_KIND_ADDR, h->name, probe_host_done,
	    p)) == NULL)
		probe_fail(p, "Cannot resolve %s.", h->name);
}

static void
probe_mx_done(const struct dns_result *res, void *arg)
{
	struct probe *p = arg;

	p->dnsreq = NULL;
	if (res->status != DNS_OK) {
		probe_fail(p, "No mail host for the domain: %s.", res->error);
		return;
	}
	route_from_mx(res, p->dl->smtp_port, NULL, NULL, &p->hosts, &p->nhosts);
	if (p->nhosts == 0) {
		probe_fail(p, "No mail host for %s.", p->domain);
		return;
	}
	probe_line(p, "Using mail exchanger %s.", p->hosts[0].name);
	probe_connect(p);
}

/* HOST[:PORT] given by the administrator. */
static int
probe_parse_host(struct probe *p, const char *arg)
{
	struct target_host *h = xcalloc(1, sizeof *h);
	const char *colon = strrchr(arg, ':');
	char name[DNS_NAME_MAX + 1];
	unsigned long port = 25;
	size_t n = strlen(arg);

	if (arg[0] == '[') {
		const char *rb = strchr(arg, ']');

		if (rb == NULL || (rb[1] != '\0' && rb[1] != ':'))
			goto bad;
		n = (size_t)(rb - arg + 1);
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else if (colon != NULL && strchr(arg, ':') != colon)
		colon = NULL;	/* a bare IPv6 address */
	else if (colon != NULL)
		n = (size_t)(colon - arg);
	if (colon != NULL) {
		char *end;

		port = strtoul(colon + 1, &end, 10);
		if (*end != '\0' || port == 0 || port > 65535)
			goto bad;
	}
	if (n == 0 || n >= sizeof name)
		goto bad;
	memcpy(name, arg, n);
	name[n] = '\0';
	snprintf(h->name, sizeof h->name, "%s", name);
	h->port = (uint16_t)port;
	h->configured = 1;
	(void)route_literal(name, h);
	p->hosts = h;
	p->nhosts = 1;
	p->explicit_host = 1;
	return 0;
bad:
	free(h);
	return -1;
}

void
probe_start(struct deliver *dl, uint32_t reqid, int argc, char **argv)
{
	struct probe *p = xcalloc(1, sizeof *p);
	char err[256];
	int r;

	p->dl = dl;
	p->reqid = reqid;
	ctl_reply_init(&p->r);
	if (argc < 2 || argv[1][0] == '\0' || strlen(argv[1]) > DNS_NAME_MAX) {
		ctl_reply_error(&p->r, "tlsverify: which domain?");
		probe_done(p, 0);
		return;
	}
	snprintf(p->domain, sizeof p->domain, "%s", argv[1]);
	log_info("tlsverify %s%s%s requested", p->domain, argc > 2 ? " host " : "",
	    argc > 2 ? argv[2] : "");
	if (argc > 2) {
		if (probe_parse_host(p, argv[2]) < 0) {
			ctl_reply_error(&p->r, "tlsverify: '%s' is not HOST or HOST:PORT", argv[2]);
			probe_done(p, 0);
			return;
		}
		probe_resolve_first(p);
		return;
	}
	r = route_static(dl->cfg, p->domain, &p->hosts, &p->nhosts, err, sizeof err);
	if (r < 0) {
		probe_fail(p, "%s", err);
		return;
	}
	if (r > 0) {
		probe_line(p, "Using the SMTP route %s.", p->hosts[0].name);
		probe_resolve_first(p);
		return;
	}
	if ((p->dnsreq = dns_lookup(dl->dns, DNS_KIND_MX, p->domain, probe_mx_done, p)) == NULL)
		probe_fail(p, "Cannot look up the MX of %s.", p->domain);
}
