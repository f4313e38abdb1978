/*
 * deliver_route - where a domain is delivered: address literals,
 * smtp_routes (IPs used as is, names left for a lookup, ports, ALL), MX
 * answers turned into host lists with equal preferences shuffled.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "deliver.h"
#include "tap.h"

static uint32_t
rnd_zero(uint32_t bound, void *arg)
{
	(void)bound;
	(void)arg;
	return 0;
}

static uint32_t
rnd_top(uint32_t bound, void *arg)
{
	(void)arg;
	return bound - 1;
}

static struct config *
load(const char *yaml)
{
	struct config_source src = { "route.yaml", (char *)yaml, strlen(yaml) };
	struct config *cfg;
	char err[256];

	if (config_parse_sources(&src, 1, &cfg, err, sizeof err) < 0) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	return cfg;
}

static void
test_literal(void)
{
	struct target_host h;

	memset(&h, 0, sizeof h);
	ok(route_literal("[192.0.2.1]", &h) == 0, "IPv4 literal");
	ok(h.naddrs == 1 && h.resolved && h.addrs[0].family == AF_INET &&
	    strcmp(h.addrs[0].text, "192.0.2.1") == 0, "parsed");
	memset(&h, 0, sizeof h);
	ok(route_literal("[IPv6:2001:DB8::1]", &h) == 0, "IPv6 literal");
	ok(h.addrs[0].family == AF_INET6 && strcmp(h.addrs[0].text, "2001:db8::1") == 0,
	    "parsed, canonical text");
	memset(&h, 0, sizeof h);
	ok(route_literal("10.0.0.5", &h) == 0, "bare IPv4");
	ok(route_literal("::1", &h) == 0 && h.addrs[0].family == AF_INET6, "bare IPv6");
	memset(&h, 0, sizeof h);
	ok(route_literal("mx.example", &h) < 0 && !h.resolved, "a name is not a literal");
	ok(route_literal("[300.1.1.1]", &h) < 0, "bad IPv4");
	ok(route_literal("[IPv6:zz]", &h) < 0, "bad IPv6");
}

static void
test_static(void)
{
	struct config *cfg = load(
	    "smtp_routes:\n"
	    "  example.com: [\"10.0.0.5\", \"relay.example.net:2525\", \"[2001:db8::25]:26\"]\n"
	    "  Other.Example: [\"10.0.0.6\"]\n");
	struct config *all = load("smtp_routes:\n  ALL: [\"smarthost.example:587\"]\n");
	struct target_host *h;
	char err[128];
	size_t n;

	is(route_static(cfg, "example.com", &h, &n, err, sizeof err), 1, "routed domain");
	is(n, 3, "three hosts");
	ok(h[0].resolved && h[0].naddrs == 1 && strcmp(h[0].addrs[0].text, "10.0.0.5") == 0,
	    "an IP needs no lookup");
	is(h[0].port, 25, "default port 25");
	ok(!h[1].resolved && strcmp(h[1].name, "relay.example.net") == 0, "a name waits for DNS");
	is(h[1].port, 2525, "its port");
	ok(h[2].resolved && h[2].addrs[0].family == AF_INET6, "IPv6 route host");
	is(h[2].port, 26, "IPv6 port");
	ok(h[0].pref < h[1].pref && h[1].pref < h[2].pref, "kept in the configured order");
	free(h);

	is(route_static(cfg, "other.example", &h, &n, err, sizeof err), 1,
	    "route match ignores case");
	free(h);
	is(route_static(cfg, "unrouted.example", &h, &n, err, sizeof err), 0,
	    "no route: MX lookup needed");
	ok(h == NULL && n == 0, "nothing returned");

	is(route_static(all, "anything.example", &h, &n, err, sizeof err), 1, "ALL route");
	ok(n == 1 && strcmp(h[0].name, "smarthost.example") == 0 && h[0].port == 587,
	    "to the smarthost");
	free(h);

	is(route_static(cfg, "[192.0.2.9]", &h, &n, err, sizeof err), 1, "literal domain");
	ok(n == 1 && h[0].port == 25 && strcmp(h[0].addrs[0].text, "192.0.2.9") == 0,
	    "delivered to the literal, port 25");
	free(h);
	is(route_static(all, "[192.0.2.9]", &h, &n, err, sizeof err), 1,
	    "a literal wins over ALL");
	free(h);
	is(route_static(cfg, "[bogus]", &h, &n, err, sizeof err), -1, "bad literal refused");
	ok(strncmp(err, "5.1.2 ", 6) == 0, "with 5.1.2: %s", err);
	config_free(cfg);
	config_free(all);
}

static void
test_mx(void)
{
	struct dns_result res;
	struct dns_host hosts[4];
	struct target_host *t, h;
	size_t n;

	memset(&res, 0, sizeof res);
	memset(hosts, 0, sizeof hosts);
	res.kind = DNS_KIND_MX;
	res.status = DNS_OK;
	res.hosts = hosts;
	res.nhosts = 4;
	snprintf(hosts[0].name, sizeof hosts[0].name, "a.mx");
	hosts[0].pref = 5;
	hosts[0].naddrs = 2;
	snprintf(hosts[0].addrs[0].text, sizeof hosts[0].addrs[0].text, "192.0.2.1");
	snprintf(hosts[0].addrs[1].text, sizeof hosts[0].addrs[1].text, "2001:db8::1");
	snprintf(hosts[1].name, sizeof hosts[1].name, "b.mx");
	hosts[1].pref = 10;
	hosts[1].naddrs = 1;
	snprintf(hosts[2].name, sizeof hosts[2].name, "c.mx");
	hosts[2].pref = 10;
	hosts[2].naddrs = 1;
	snprintf(hosts[3].name, sizeof hosts[3].name, "d.mx");
	hosts[3].pref = 20;
	hosts[3].status = DNS_NXDOMAIN;

	route_from_mx(&res, 2525, rnd_top, NULL, &t, &n);
	is(n, 4, "every MX host listed");
	ok(strcmp(t[0].name, "a.mx") == 0 && strcmp(t[1].name, "b.mx") == 0 &&
	    strcmp(t[2].name, "c.mx") == 0 && strcmp(t[3].name, "d.mx") == 0, "order kept");
	ok(t[0].resolved && t[0].naddrs == 2 && strcmp(t[0].addrs[1].text, "2001:db8::1") == 0,
	    "addresses copied");
	is(t[0].port, 2525, "port given");
	ok(t[3].resolved && t[3].naddrs == 0 && t[3].status == DNS_NXDOMAIN,
	    "host without address kept, marked");
	free(t);
	route_from_mx(&res, 25, rnd_zero, NULL, &t, &n);
	ok(strcmp(t[0].name, "a.mx") == 0 && strcmp(t[1].name, "c.mx") == 0 &&
	    strcmp(t[2].name, "b.mx") == 0 && strcmp(t[3].name, "d.mx") == 0,
	    "equal preferences reordered, others not");
	ok(strcmp(hosts[1].name, "b.mx") == 0, "the cached answer itself is untouched");
	free(t);

	res.status = DNS_TEMPFAIL;
	route_from_mx(&res, 25, NULL, NULL, &t, &n);
	ok(t == NULL && n == 0, "no hosts from a failed answer");

	memset(&h, 0, sizeof h);
	res.kind = DNS_KIND_ADDR;
	res.status = DNS_OK;
	res.nhosts = 1;
	route_set_addrs(&h, &res);
	ok(h.resolved && h.naddrs == 2 && h.status == DNS_OK, "A/AAAA answer fills a route host");
	res.status = DNS_NXDOMAIN;
	route_set_addrs(&h, &res);
	ok(h.resolved && h.naddrs == 0 && h.status == DNS_NXDOMAIN, "failed lookup: no address");
}

int
main(void)
{
	test_literal();
	test_static();
	test_mx();
	return done_testing();
}
