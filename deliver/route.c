/*
 * route - which hosts a destination domain is delivered to, in order.
 *
 *   [192.0.2.1] / [IPv6:2001:db8::1]   the address literal itself, port 25
 *   [192.0.2.1]:2525                   the same on another port (the routing
 *                                      domain redirectrecipients gives)
 *   smtp_routes: domain (or ALL)       its host[:port] list in order; an
 *                                      IP is used as is, a name gets an
 *                                      A/AAAA lookup when its turn comes
 *   otherwise                          the MX answer (lib/dns): hosts by
 *                                      preference, random among equals,
 *                                      with their addresses; the implicit
 *                                      MX is the domain itself
 *
 * Not for: DNS queries (job.c starts them), connecting (session.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "deliver.h"
#include "xalloc.h"

int
route_literal(const char *text, struct target_host *h)
{
	char tmp[DNS_ADDR_TEXT + 8];
	size_t n = strlen(text);
	struct dns_addr *a = &h->addrs[0];

	if (n >= sizeof tmp)
		return -1;
	if (text[0] == '[' && n >= 2 && text[n - 1] == ']') {
		text++;
		n -= 2;
		if (n > 5 && strncasecmp(text, "IPv6:", 5) == 0) {
			text += 5;
			n -= 5;
		}
	}
	memcpy(tmp, text, n);
	tmp[n] = '\0';
	memset(a, 0, sizeof *a);
	if (inet_pton(AF_INET, tmp, a->bytes) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, tmp, a->bytes) == 1)
		a->family = AF_INET6;
	else
		return -1;
	inet_ntop(a->family, a->bytes, a->text, sizeof a->text);
	h->naddrs = 1;
	h->resolved = 1;
	h->status = DNS_OK;
	return 0;
}

int
route_static(const struct config *cfg, const char *domain, struct target_host **hostsp,
    size_t *np, char *err, size_t errlen)
{
	const struct cfg_route *rt;
	struct target_host *hosts;
	size_t i;

	*hostsp = NULL;
	*np = 0;
	if (domain[0] == '[') {
		/* "[addr]" or, after redirectrecipients, "[addr]:port". */
		const char *rb = strchr(domain, ']');
		char lit[DNS_ADDR_TEXT + 16];
		unsigned long port = 25;

		if (rb && rb[1] == ':') {
			char *end;
			port = strtoul(rb + 2, &end, 10);
			if (*end != '\0' || port == 0 || port > 65535)
				port = 0;
		} else if (rb && rb[1] != '\0')
			port = 0;
		snprintf(lit, sizeof lit, "%.*s", rb ? (int)(rb - domain + 1) : 0, domain);
		hosts = xcalloc(1, sizeof *hosts);
		snprintf(hosts[0].name, sizeof hosts[0].name, "%s", lit);
		hosts[0].port = (uint16_t)port;
		hosts[0].configured = 1;
		if (port == 0 || route_literal(lit, &hosts[0]) < 0) {
			free(hosts);
			snprintf(err, errlen, "5.1.2 bad address literal");
			return -1;
		}
		*hostsp = hosts;
		*np = 1;
		return 1;
	}
	if ((rt = config_route(cfg, domain)) == NULL || rt->nhosts == 0)
		return 0;
	hosts = xcalloc(rt->nhosts, sizeof *hosts);
	for (i = 0; i < rt->nhosts; i++) {
		struct target_host *h = &hosts[i];

		snprintf(h->name, sizeof h->name, "%s", rt->hosts[i].host);
		h->port = rt->hosts[i].port ? rt->hosts[i].port : 25;
		h->pref = (uint16_t)i;
		h->configured = 1;
		/* An IP needs no lookup; a name is resolved when reached. */
		(void)route_literal(rt->hosts[i].host, h);
	}
	*hostsp = hosts;
	*np = rt->nhosts;
	return 1;
}

void
route_set_addrs(struct target_host *h, const struct dns_result *res)
{
	size_t i;

	h->resolved = 1;
	h->status = res->status;
	h->naddrs = 0;
	if (res->status != DNS_OK || res->nhosts == 0)
		return;
	for (i = 0; i < res->hosts[0].naddrs && i < DNS_MAX_ADDRS; i++)
		h->addrs[h->naddrs++] = res->hosts[0].addrs[i];
}

void
route_from_mx(const struct dns_result *res, uint16_t port, dns_rnd_fn *rnd, void *arg,
    struct target_host **hostsp, size_t *np)
{
	struct dns_host *copy;
	struct target_host *hosts;
	size_t i, k;

	*hostsp = NULL;
	*np = 0;
	if (res->status != DNS_OK || res->nhosts == 0)
		return;
	copy = xcalloc(res->nhosts, sizeof *copy);
	memcpy(copy, res->hosts, res->nhosts * sizeof *copy);
	/* The cached answer keeps preference order; every delivery draws
	 * its own order among equals (RFC 5321 5.1). */
	dns_mx_shuffle(copy, res->nhosts, rnd, arg);
	hosts = xcalloc(res->nhosts, sizeof *hosts);
	for (i = 0; i < res->nhosts; i++) {
		struct target_host *h = &hosts[i];

		snprintf(h->name, sizeof h->name, "%s", copy[i].name);
		h->port = port;
		h->pref = copy[i].pref;
		h->resolved = 1;
		h->status = copy[i].status;
		for (k = 0; k < copy[i].naddrs && k < DNS_MAX_ADDRS; k++)
			h->addrs[h->naddrs++] = copy[i].addrs[k];
	}
	free(copy);
	*hostsp = hosts;
	*np = res->nhosts;
}
