/*
 * lib_dns - DNS answers classified and ordered, without a network:
 * packets built here with ldns (NXDOMAIN, SERVFAIL, NODATA, null MX, MX
 * lists, implicit MX), a scripted query backend for the resolution
 * chain, the asynchronous layer (shared queries, cache, flush, cancel,
 * timeout) on a libuv loop, and -- when ldns-testns is installed -- the
 * real ldns resolver against a local test nameserver on 127.0.0.1.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "dns.h"
#include "tap.h"

/* ---- packets ---- */

static unsigned char *
mkpkt(size_t *len, int rcode, int tc, const char *const *answer, const char *const *authority)
{
	ldns_pkt *p = ldns_pkt_new();
	uint8_t *w = NULL;
	ldns_rr *rr;

	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rcode(p, (uint8_t)rcode);
	ldns_pkt_set_tc(p, tc ? true : false);
	for (; answer && *answer; answer++) {
		if (ldns_rr_new_frm_str(&rr, *answer, 300, NULL, NULL) != LDNS_STATUS_OK) {
			printf("# bad test RR '%s'\n", *answer);
			exit(1);
		}
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	}
	for (; authority && *authority; authority++) {
		if (ldns_rr_new_frm_str(&rr, *authority, 300, NULL, NULL) != LDNS_STATUS_OK)
			exit(1);
		ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, rr);
	}
	if (ldns_pkt2wire(&w, p, len) != LDNS_STATUS_OK)
		exit(1);
	ldns_pkt_free(p);
	return w;
}

#define RRS(...)	((const char *const[]){ __VA_ARGS__, NULL })

static const char *const soa[] = {
	"example.test. 3600 IN SOA ns.example.test. host.example.test. 1 7200 900 1209600 120",
	NULL
};

static void
test_parse_mx(void)
{
	struct dns_host *h;
	size_t n, len;
	uint32_t ttl;
	char err[DNS_ERR_MAX];
	unsigned char *w;
	int st;

	w = mkpkt(&len, LDNS_RCODE_NOERROR, 0, RRS(
	    "example.test. 600 IN MX 20 c.example.test.",
	    "example.test. 300 IN MX 10 b.example.test.",
	    "example.test. 900 IN MX 20 A.Example.Test.",
	    "example.test. 300 IN MX 10 d.example.test.",
	    "example.test. 300 IN MX 30 b.example.test."), NULL);
	st = dns_parse_mx(w, len, &h, &n, &ttl, err, sizeof err);
	is(st, DNS_OK, "MX list: OK");
	is(n, 4, "four distinct hosts (duplicate name folded)");
	is_str(h[0].name, "b.example.test", "pref 10 first, answer order kept");
	is_str(h[1].name, "d.example.test", "then the other pref 10");
	is_str(h[2].name, "c.example.test", "pref 20");
	is_str(h[3].name, "a.example.test", "lower-cased, trailing dot removed");
	is(h[0].pref, 10, "preference");
	is(h[3].pref, 20, "preference 20");
	is(ttl, 300, "TTL is the lowest");
	free(h);
	free(w);

	w = mkpkt(&len, LDNS_RCODE_NOERROR, 0, RRS("example.test. 300 IN MX 0 ."), NULL);
	st = dns_parse_mx(w, len, &h, &n, &ttl, err, sizeof err);
	is(st, DNS_NULLMX, "MX 0 . is a null MX");
	ok(h == NULL && n == 0, "no hosts");
	free(w);

	w = mkpkt(&len, LDNS_RCODE_NOERROR, 0, RRS("example.test. 300 IN MX 0 .",
	    "example.test. 300 IN MX 10 mx.example.test."), NULL);
	st = dns_parse_mx(w, len, &h, &n, &ttl, err, sizeof err);
	is(st, DNS_OK, "null MX beside a real one is ignored");
	ok(n == 1 && strcmp(h[0].name, "mx.example.test") == 0, "the real one stays");
	free(h);
	free(w);

	w = mkpkt(&len, LDNS_RCODE_NXDOMAIN, 0, NULL, soa);
	st = dns_parse_mx(w, len, &h, &n, &ttl, err, sizeof err);
	is(st, DNS_NXDOMAIN, "NXDOMAIN");
	is(ttl, 120, "negative TTL from the SOA minimum");
	free(w);

	w = mkpkt(&len, LDNS_RCODE_NXDOMAIN, 0, NULL, NULL);
	dns_parse_mx(w, len, &h, &n, &ttl, err, sizeof err);
	is(ttl, 300, "no SOA: default negative TTL");
	free(w);

	w = mkpkt(&len, LDNS_RCODE_SERVFAIL, 0, NULL, NULL);
	st = dns_parse_mx(w, len, &h, &n, &ttl, err, sizeof err);
	is(st, DNS_TEMPFAIL, "SERVFAIL is temporary");
	is_str(err, "SERVFAIL", "named in the error");
	free(w);

	w = mkpkt(&len, LDNS_RCODE_REFUSED, 0, NULL, NULL);
	is(dns_parse_mx(w, len, &h, &n, &ttl, err, sizeof err), DNS_TEMPFAIL, "REFUSED too");
	free(w);

	w = mkpkt(&len, LDNS_RCODE_NOERROR, 0, NULL, soa);
	is(dns_parse_mx(w, len, &h, &n, &ttl, err, sizeof err), DNS_NODATA, "no MX: NODATA");
	free(w);

	/* A CNAME only, no MX record in the answer. */
	w = mkpkt(&len, LDNS_RCODE_NOERROR, 0, RRS("example.test. 300 IN A 192.0.2.1"), NULL);
	is(dns_parse_mx(w, len, &h, &n, &ttl, err, sizeof err), DNS_NODATA,
	    "other types only: NODATA");
	free(w);

	w = mkpkt(&len, LDNS_RCODE_NOERROR, 1, NULL, NULL);
	is(dns_parse_mx(w, len, &h, &n, &ttl, err, sizeof err), DNS_TEMPFAIL,
	    "truncated and empty: temporary");
	free(w);

	is(dns_parse_mx("\x12\x34\x81", 3, &h, &n, &ttl, err, sizeof err), DNS_TEMPFAIL,
	    "garbage: temporary");
}

static void
test_parse_addrs(void)
{
	struct dns_host h;
	char names[4][DNS_NAME_MAX + 1], err[DNS_ERR_MAX];
	unsigned char *w;
	size_t len, n;
	uint32_t ttl;

	memset(&h, 0, sizeof h);
	w = mkpkt(&len, LDNS_RCODE_NOERROR, 0, RRS(
	    "www.example.test. 50 IN CNAME host.example.test.",
	    "host.example.test. 70 IN A 192.0.2.7",
	    "host.example.test. 70 IN A 192.0.2.8",
	    "host.example.test. 70 IN A 192.0.2.7"), NULL);
	is(dns_parse_addrs(w, len, 1, &h, &ttl, err, sizeof err), DNS_OK, "A through CNAME");
	is(h.naddrs, 2, "duplicate dropped");
	is_str(h.addrs[0].text, "192.0.2.7", "text form");
	is(h.addrs[0].family, AF_INET, "family");
	is(ttl, 70, "TTL of the A records");
	free(w);

	w = mkpkt(&len, LDNS_RCODE_NOERROR, 0, RRS("host.example.test. 70 IN AAAA 2001:db8::1"),
	    NULL);
	is(dns_parse_addrs(w, len, 28, &h, &ttl, err, sizeof err), DNS_OK, "AAAA");
	is(h.naddrs, 3, "appended after the IPv4 ones");
	is_str(h.addrs[2].text, "2001:db8::1", "IPv6 text");
	free(w);

	w = mkpkt(&len, LDNS_RCODE_NOERROR, 0, NULL, soa);
	is(dns_parse_addrs(w, len, 28, &h, &ttl, err, sizeof err), DNS_NODATA, "no AAAA: NODATA");
	free(w);

	w = mkpkt(&len, LDNS_RCODE_NOERROR, 0, RRS(
	    "1.2.0.192.in-addr.arpa. 300 IN PTR mail.example.test.",
	    "1.2.0.192.in-addr.arpa. 300 IN PTR other.example.test."), NULL);
	is(dns_parse_ptr(w, len, names, 4, &n, &ttl, err, sizeof err), DNS_OK, "PTR");
	ok(n == 2 && strcmp(names[0], "mail.example.test") == 0, "PTR names");
	free(w);
}

static uint32_t
rnd_last(uint32_t bound, void *arg)
{
	(void)arg;
	return bound - 1;
}

static uint32_t
rnd_first(uint32_t bound, void *arg)
{
	(void)arg;
	(void)bound;
	return 0;
}

static void
test_shuffle_and_reverse(void)
{
	struct dns_host h[5];
	char out[128];
	int seen_b_first = 0, seen_c_first = 0, order_ok = 1, i;

	memset(h, 0, sizeof h);
	snprintf(h[0].name, sizeof h[0].name, "a");
	h[0].pref = 5;
	snprintf(h[1].name, sizeof h[1].name, "b");
	h[1].pref = 10;
	snprintf(h[2].name, sizeof h[2].name, "c");
	h[2].pref = 10;
	snprintf(h[3].name, sizeof h[3].name, "d");
	h[3].pref = 10;
	snprintf(h[4].name, sizeof h[4].name, "e");
	h[4].pref = 20;
	dns_mx_shuffle(h, 5, rnd_last, NULL);
	ok(strcmp(h[0].name, "a") == 0 && strcmp(h[4].name, "e") == 0,
	    "different preferences never swap");
	ok(strcmp(h[1].name, "b") == 0 && strcmp(h[2].name, "c") == 0 &&
	    strcmp(h[3].name, "d") == 0, "rnd = bound-1 keeps the order");
	dns_mx_shuffle(h, 5, rnd_first, NULL);
	ok(strcmp(h[1].name, "c") == 0 && strcmp(h[2].name, "d") == 0 &&
	    strcmp(h[3].name, "b") == 0, "rnd = 0 rotates (Fisher-Yates)");
	for (i = 0; i < 200; i++) {
		dns_mx_shuffle(h, 5, NULL, NULL);
		if (strcmp(h[0].name, "a") != 0 || strcmp(h[4].name, "e") != 0 ||
		    h[1].pref != 10 || h[2].pref != 10 || h[3].pref != 10)
			order_ok = 0;
		seen_b_first |= strcmp(h[1].name, "b") == 0;
		seen_c_first |= strcmp(h[1].name, "c") == 0;
	}
	ok(order_ok, "random shuffles keep preference order");
	ok(seen_b_first && seen_c_first, "and do vary among equals");

	ok(dns_reverse_name("192.0.2.1", NULL, out, sizeof out) == 0 &&
	    strcmp(out, "1.2.0.192.in-addr.arpa") == 0, "IPv4 reverse name");
	ok(dns_reverse_name("192.0.2.1", "zen.example", out, sizeof out) == 0 &&
	    strcmp(out, "1.2.0.192.zen.example") == 0, "DNS list name");
	ok(dns_reverse_name("2001:db8::1", NULL, out, sizeof out) == 0 &&
	    strcmp(out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa")
	    == 0, "IPv6 nibbles: %s", out);
	ok(dns_reverse_name("nonsense", NULL, out, sizeof out) < 0, "not an address");
	ok(dns_reverse_name("192.0.2.1", NULL, out, 10) < 0, "too small a buffer");
}

/* ---- a scripted backend ---- */

struct canned {
	const char	*name;
	uint16_t	 qtype;
	int		 rcode;		/* -1: network failure */
	const char	*rrs[4];
};

static const struct canned script[] = {
	{ "mx.test", 15, 0, { "mx.test. 600 IN MX 20 b.mx.test.", "mx.test. 600 IN MX 10 a.mx.test.",
	    "mx.test. 600 IN MX 30 gone.mx.test." } },
	{ "a.mx.test", 1, 0, { "a.mx.test. 100 IN A 192.0.2.10", "a.mx.test. 100 IN A 192.0.2.11" } },
	{ "a.mx.test", 28, 0, { "a.mx.test. 200 IN AAAA 2001:db8::10" } },
	{ "b.mx.test", 1, 0, { "b.mx.test. 300 IN A 192.0.2.20" } },
	{ "b.mx.test", 28, 0, { NULL } },
	{ "gone.mx.test", 1, 3, { NULL } },
	{ "implicit.test", 15, 0, { NULL } },
	{ "implicit.test", 1, 0, { "implicit.test. 60 IN A 192.0.2.30" } },
	{ "implicit.test", 28, -1, { NULL } },
	{ "noaddr.test", 15, 0, { NULL } },
	{ "noaddr.test", 1, 0, { NULL } },
	{ "noaddr.test", 28, 0, { NULL } },
	{ "nx.test", 15, 3, { NULL } },
	{ "null.test", 15, 0, { "null.test. 300 IN MX 0 ." } },
	{ "sf.test", 15, 2, { NULL } },
	{ "net.test", 15, -1, { NULL } },
	{ "deadmx.test", 15, 0, { "deadmx.test. 300 IN MX 10 gone.mx.test." } },
	{ "tfmx.test", 15, 0, { "tfmx.test. 300 IN MX 10 tf.mx.test.",
	    "tfmx.test. 300 IN MX 20 gone.mx.test." } },
	{ "tf.mx.test", 1, 2, { NULL } },
	{ "tf.mx.test", 28, 2, { NULL } },
	{ "partial.test", 15, 0, { "partial.test. 300 IN MX 10 tf.mx.test.",
	    "partial.test. 300 IN MX 20 b.mx.test." } },
	{ "1.2.0.192.in-addr.arpa", 12, 0, { "1.2.0.192.in-addr.arpa. 300 IN PTR h.example.test." } },
	{ "slow.test", 15, 0, { "slow.test. 300 IN MX 10 b.mx.test." } },
};

static struct {
	pthread_mutex_t	lock;
	pthread_cond_t	cond;
	int		calls;
	int		slow_gate;	/* slow.test answers only when set */
} backend = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 1 };

static int
scripted(void *arg, const char *name, uint16_t qtype, unsigned char **wire, size_t *len,
    char *err, size_t errlen)
{
	size_t i;

	(void)arg;
	pthread_mutex_lock(&backend.lock);
	backend.calls++;
	if (strcmp(name, "slow.test") == 0)
		while (!backend.slow_gate)
			pthread_cond_wait(&backend.cond, &backend.lock);
	pthread_mutex_unlock(&backend.lock);
	for (i = 0; i < sizeof script / sizeof script[0]; i++) {
		const struct canned *c = &script[i];

		if (strcmp(c->name, name) != 0 || c->qtype != qtype)
			continue;
		if (c->rcode < 0) {
			snprintf(err, errlen, "timed out");
			return -1;
		}
		*wire = mkpkt(len, c->rcode, 0, c->rrs[0] ? c->rrs : NULL,
		    c->rcode == 3 ? soa : NULL);
		return 0;
	}
	*wire = mkpkt(len, LDNS_RCODE_NXDOMAIN, 0, NULL, NULL);
	return 0;
}

static void
test_resolve_chain(void)
{
	struct dns_resolver *r = dns_resolver_new_fn(scripted, NULL);
	struct dns_result res;

	dns_resolve(r, DNS_KIND_MX, "MX.test.", &res);
	is(res.status, DNS_OK, "MX chain OK");
	is_str(res.name, "mx.test", "name normalised");
	is(res.nhosts, 3, "three MX hosts");
	is_str(res.hosts[0].name, "a.mx.test", "by preference");
	is(res.hosts[0].naddrs, 3, "two A and one AAAA");
	is(res.hosts[0].addrs[0].family, AF_INET, "IPv4 first");
	is_str(res.hosts[0].addrs[2].text, "2001:db8::10", "IPv6 after");
	is(res.hosts[1].naddrs, 1, "b: one A, no AAAA");
	is(res.hosts[2].naddrs, 0, "gone: no address");
	is(res.hosts[2].status, DNS_NXDOMAIN, "gone: NXDOMAIN");
	is(res.ttl, 100, "TTL: the lowest of the chain");
	ok(!res.implicit_mx, "explicit MX");
	dns_result_clear(&res);

	dns_resolve(r, DNS_KIND_MX, "implicit.test", &res);
	is(res.status, DNS_OK, "no MX: implicit MX");
	ok(res.implicit_mx, "flagged implicit");
	ok(res.nhosts == 1 && strcmp(res.hosts[0].name, "implicit.test") == 0,
	    "the domain is the host");
	ok(res.hosts[0].naddrs == 1 && strcmp(res.hosts[0].addrs[0].text, "192.0.2.30") == 0,
	    "its A record (AAAA failing does not matter)");
	dns_result_clear(&res);

	dns_resolve(r, DNS_KIND_MX, "noaddr.test", &res);
	is(res.status, DNS_NODATA, "no MX, no address: NODATA");
	ok(strstr(res.error, "no MX and no address") != NULL, "error: %s", res.error);
	dns_result_clear(&res);

	dns_resolve(r, DNS_KIND_MX, "nx.test", &res);
	is(res.status, DNS_NXDOMAIN, "NXDOMAIN");
	ok(strstr(res.error, "does not exist") != NULL, "error: %s", res.error);
	is(res.ttl, 120, "negative TTL");
	dns_result_clear(&res);

	dns_resolve(r, DNS_KIND_MX, "null.test", &res);
	is(res.status, DNS_NULLMX, "null MX");
	ok(strstr(res.error, "null MX") != NULL, "error: %s", res.error);
	dns_result_clear(&res);

	dns_resolve(r, DNS_KIND_MX, "sf.test", &res);
	is(res.status, DNS_TEMPFAIL, "SERVFAIL: temporary");
	ok(strstr(res.error, "SERVFAIL") != NULL, "error: %s", res.error);
	is(res.ttl, 0, "never cached");
	dns_result_clear(&res);

	dns_resolve(r, DNS_KIND_MX, "net.test", &res);
	is(res.status, DNS_TEMPFAIL, "network failure: temporary");
	ok(strstr(res.error, "timed out") != NULL, "error: %s", res.error);
	dns_result_clear(&res);

	dns_resolve(r, DNS_KIND_MX, "deadmx.test", &res);
	is(res.status, DNS_NODATA, "the only MX host does not exist: permanent");
	dns_result_clear(&res);

	dns_resolve(r, DNS_KIND_MX, "tfmx.test", &res);
	is(res.status, DNS_TEMPFAIL, "MX host lookup SERVFAIL, the other NXDOMAIN: temporary");
	dns_result_clear(&res);

	dns_resolve(r, DNS_KIND_MX, "partial.test", &res);
	is(res.status, DNS_OK, "one MX host failing, the other fine: OK");
	is(res.hosts[0].naddrs, 0, "failed host has no address");
	is(res.hosts[0].status, DNS_TEMPFAIL, "and says why");
	is(res.hosts[1].naddrs, 1, "the other has one");
	ok(res.ttl <= 60, "answer with a failed part is kept only briefly");
	dns_result_clear(&res);

	dns_resolve(r, DNS_KIND_MX, "bad..name", &res);
	is(res.status, DNS_NXDOMAIN, "invalid name refused without a query");
	dns_result_clear(&res);

	dns_resolve(r, DNS_KIND_ADDR, "a.mx.test", &res);
	ok(res.status == DNS_OK && res.nhosts == 1 && res.hosts[0].naddrs == 3, "ADDR kind");
	dns_result_clear(&res);
	dns_resolve(r, DNS_KIND_A, "a.mx.test", &res);
	ok(res.status == DNS_OK && res.hosts[0].naddrs == 2, "A kind: no AAAA");
	dns_result_clear(&res);
	dns_resolve(r, DNS_KIND_ADDR, "nonexistent.test", &res);
	is(res.status, DNS_NXDOMAIN, "ADDR NXDOMAIN");
	dns_result_clear(&res);
	dns_resolve(r, DNS_KIND_PTR, "192.0.2.1", &res);
	ok(res.status == DNS_OK && res.nhosts == 1 &&
	    strcmp(res.hosts[0].name, "h.example.test") == 0, "PTR kind");
	dns_result_clear(&res);
	dns_resolve(r, DNS_KIND_PTR, "not-an-ip", &res);
	is(res.status, DNS_NXDOMAIN, "PTR of a non-address");
	dns_result_clear(&res);
	dns_resolver_free(r);
}

/* ---- the asynchronous layer ---- */

struct got {
	int		 n;
	enum dns_status	 status;
	size_t		 nhosts;
	char		 error[DNS_ERR_MAX];
};

static int in_lookup;

static void
got_cb(const struct dns_result *res, void *arg)
{
	struct got *g = arg;

	if (in_lookup)
		printf("# callback ran inside dns_lookup\n");
	g->n++;
	g->status = res->status;
	g->nhosts = res->nhosts;
	snprintf(g->error, sizeof g->error, "%s", res->error);
}

static struct dns_req *
lookup(struct dns_ctx *ctx, enum dns_kind k, const char *name, struct got *g)
{
	struct dns_req *r;

	in_lookup = 1;
	r = dns_lookup(ctx, k, name, got_cb, g);
	in_lookup = 0;
	return r;
}

static void
run_until(uv_loop_t *loop, const int *flag, int want)
{
	int i;

	for (i = 0; i < 5000 && *flag < want; i++) {
		uv_run(loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
}

static int
calls(void)
{
	int n;

	pthread_mutex_lock(&backend.lock);
	n = backend.calls;
	pthread_mutex_unlock(&backend.lock);
	return n;
}

static void
test_async(void)
{
	uv_loop_t loop;
	struct dns_resolver *r = dns_resolver_new_fn(scripted, NULL);
	struct dns_ctx *ctx;
	struct dns_stats st;
	struct got g1, g2, g3, g4;
	struct dns_req *req;
	int c0;

	uv_loop_init(&loop);
	ctx = dns_ctx_new(&loop, r, 1);

	/* Two lookups of one name while the query runs: one query. */
	memset(&g1, 0, sizeof g1);
	memset(&g2, 0, sizeof g2);
	pthread_mutex_lock(&backend.lock);
	backend.slow_gate = 0;
	pthread_mutex_unlock(&backend.lock);
	c0 = calls();
	lookup(ctx, DNS_KIND_MX, "slow.test", &g1);
	lookup(ctx, DNS_KIND_MX, "SLOW.test.", &g2);
	is(g1.n + g2.n, 0, "no callback inside dns_lookup");
	pthread_mutex_lock(&backend.lock);
	backend.slow_gate = 1;
	pthread_cond_broadcast(&backend.cond);
	pthread_mutex_unlock(&backend.lock);
	run_until(&loop, &g2.n, 1);
	ok(g1.n == 1 && g2.n == 1, "both answered once");
	ok(g1.status == DNS_OK && g2.status == DNS_OK && g2.nhosts == 1, "with the answer");
	is(calls() - c0, 3, "one resolution (MX + A + AAAA) for both");
	dns_get_stats(ctx, &st);
	is(st.shared, 1, "the second joined the first");
	is(st.queries, 1, "one query ran");

	/* Cached now: answered from the loop, later, without a query. */
	memset(&g3, 0, sizeof g3);
	c0 = calls();
	lookup(ctx, DNS_KIND_MX, "slow.test", &g3);
	is(g3.n, 0, "cache hit not answered inside dns_lookup");
	run_until(&loop, &g3.n, 1);
	is(g3.n, 1, "cache hit answered");
	is(calls(), c0, "without a query");
	dns_get_stats(ctx, &st);
	is(st.cache_hits, 1, "counted as a hit");

	/* Negative answers are cached, temporary failures are not. */
	memset(&g1, 0, sizeof g1);
	lookup(ctx, DNS_KIND_MX, "nx.test", &g1);
	run_until(&loop, &g1.n, 1);
	is(g1.status, DNS_NXDOMAIN, "NXDOMAIN through the loop");
	c0 = calls();
	memset(&g1, 0, sizeof g1);
	lookup(ctx, DNS_KIND_MX, "nx.test", &g1);
	run_until(&loop, &g1.n, 1);
	is(calls(), c0, "NXDOMAIN cached");
	memset(&g1, 0, sizeof g1);
	lookup(ctx, DNS_KIND_MX, "sf.test", &g1);
	run_until(&loop, &g1.n, 1);
	c0 = calls();
	memset(&g1, 0, sizeof g1);
	lookup(ctx, DNS_KIND_MX, "sf.test", &g1);
	run_until(&loop, &g1.n, 1);
	is(g1.status, DNS_TEMPFAIL, "SERVFAIL through the loop");
	is(calls() - c0, 1, "SERVFAIL not cached: asked again");

	/* Flush forgets a name (every kind), or everything. */
	dns_flush(ctx, "nx.test");
	c0 = calls();
	memset(&g1, 0, sizeof g1);
	lookup(ctx, DNS_KIND_MX, "nx.test", &g1);
	run_until(&loop, &g1.n, 1);
	is(calls() - c0, 1, "flushed name asked again");
	c0 = calls();
	memset(&g1, 0, sizeof g1);
	lookup(ctx, DNS_KIND_MX, "slow.test", &g1);
	run_until(&loop, &g1.n, 1);
	is(calls(), c0, "other names still cached");
	dns_flush(ctx, "");
	dns_get_stats(ctx, &st);
	is(st.cached, 0, "flush all empties the cache");

	/* Cancel: the callback never runs, from the cache or from a query. */
	memset(&g1, 0, sizeof g1);
	memset(&g2, 0, sizeof g2);
	req = lookup(ctx, DNS_KIND_MX, "mx.test", &g1);
	lookup(ctx, DNS_KIND_MX, "mx.test", &g2);
	dns_cancel(req);
	run_until(&loop, &g2.n, 1);
	ok(g1.n == 0 && g2.n == 1, "cancelled waiter silent, the other answered");
	memset(&g1, 0, sizeof g1);
	req = lookup(ctx, DNS_KIND_MX, "mx.test", &g1);
	dns_cancel(req);
	memset(&g2, 0, sizeof g2);
	lookup(ctx, DNS_KIND_MX, "mx.test", &g2);
	run_until(&loop, &g2.n, 1);
	is(g1.n, 0, "cancelled cache hit silent");

	/* Timeout: the resolver hangs, the lookup is answered anyway. */
	pthread_mutex_lock(&backend.lock);
	backend.slow_gate = 0;
	pthread_mutex_unlock(&backend.lock);
	dns_flush(ctx, NULL);
	memset(&g4, 0, sizeof g4);
	lookup(ctx, DNS_KIND_MX, "slow.test", &g4);
	run_until(&loop, &g4.n, 1);
	is(g4.status, DNS_TEMPFAIL, "timed out: temporary failure");
	ok(strstr(g4.error, "timed out") != NULL, "error: %s", g4.error);
	dns_get_stats(ctx, &st);
	is(st.timeouts, 1, "timeout counted");
	pthread_mutex_lock(&backend.lock);
	backend.slow_gate = 1;
	pthread_cond_broadcast(&backend.cond);
	pthread_mutex_unlock(&backend.lock);
	/* The late answer still lands in the cache. */
	{
		int i;

		for (i = 0; i < 2000; i++) {
			dns_get_stats(ctx, &st);
			if (st.cached > 0)
				break;
			uv_run(&loop, UV_RUN_NOWAIT);
			usleep(1000);
		}
		ok(st.cached > 0, "late answer cached");
	}

	/* Free with a query still on the pool and a request pending. */
	pthread_mutex_lock(&backend.lock);
	backend.slow_gate = 0;
	pthread_mutex_unlock(&backend.lock);
	dns_flush(ctx, NULL);
	memset(&g1, 0, sizeof g1);
	lookup(ctx, DNS_KIND_MX, "slow.test", &g1);
	dns_ctx_free(ctx);
	pthread_mutex_lock(&backend.lock);
	backend.slow_gate = 1;
	pthread_cond_broadcast(&backend.cond);
	pthread_mutex_unlock(&backend.lock);
	uv_run(&loop, UV_RUN_DEFAULT);
	is(g1.n, 0, "no callback after dns_ctx_free");
	is(uv_loop_close(&loop), 0, "loop closes clean");
	dns_resolver_free(r);
}

/* ---- the real resolver against ldns-testns on loopback ---- */

static const char testns_data[] =
    "ENTRY_BEGIN\nMATCH opcode qtype qname\nADJUST copy_id\nREPLY QR RD RA NOERROR\n"
    "SECTION QUESTION\nmail.test. IN MX\nSECTION ANSWER\n"
    "mail.test. 300 IN MX 10 mx1.mail.test.\nmail.test. 300 IN MX 5 mx0.mail.test.\n"
    "ENTRY_END\n"
    "ENTRY_BEGIN\nMATCH opcode qtype qname\nADJUST copy_id\nREPLY QR RD RA NOERROR\n"
    "SECTION QUESTION\nmx0.mail.test. IN A\nSECTION ANSWER\n"
    "mx0.mail.test. 300 IN A 127.0.0.2\nENTRY_END\n"
    "ENTRY_BEGIN\nMATCH opcode qtype qname\nADJUST copy_id\nREPLY QR RD RA NOERROR\n"
    "SECTION QUESTION\nmx1.mail.test. IN A\nSECTION ANSWER\n"
    "mx1.mail.test. 300 IN A 127.0.0.3\nENTRY_END\n"
    "ENTRY_BEGIN\nMATCH opcode qtype qname\nADJUST copy_id\nREPLY QR RD RA NXDOMAIN\n"
    "SECTION QUESTION\nnowhere.test. IN MX\nENTRY_END\n"
    "ENTRY_BEGIN\nMATCH opcode qtype qname\nADJUST copy_id\nREPLY QR RD RA SERVFAIL\n"
    "SECTION QUESTION\nbroken.test. IN MX\nENTRY_END\n"
    "ENTRY_BEGIN\nMATCH opcode qtype qname\nADJUST copy_id\nREPLY QR RD RA NOERROR\n"
    "SECTION QUESTION\nnull.test. IN MX\nSECTION ANSWER\nnull.test. 300 IN MX 0 .\n"
    "ENTRY_END\n"
    /* Everything else (AAAA queries): NOERROR, no data. */
    "ENTRY_BEGIN\nMATCH opcode\nADJUST copy_id copy_query\nREPLY QR RD RA NOERROR\n"
    "ENTRY_END\n";

static pid_t
start_testns(int *port)
{
	char path[] = "/tmp/sp-lib-dns-XXXXXX", line[256];
	int fd, pfd[2];
	pid_t pid;
	FILE *f;

	if ((fd = mkstemp(path)) < 0)
		return -1;
	if (write(fd, testns_data, sizeof testns_data - 1) != (ssize_t)(sizeof testns_data - 1)) {
		close(fd);
		return -1;
	}
	close(fd);
	if (pipe(pfd) < 0)
		return -1;
	if ((pid = fork()) == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		execlp("ldns-testns", "ldns-testns", "-r", path, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	*port = 0;
	if ((f = fdopen(pfd[0], "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "Listening on port %d", port) == 1)
			break;
	fclose(f);
	unlink(path);
	if (*port <= 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

static void
test_real_resolver(void)
{
	struct dns_options opt = { "127.0.0.1", 0, 2, 1, NULL, 0 };
	struct dns_resolver *r;
	struct dns_result res;
	char err[256];
	pid_t pid;
	int port;

	if (system("command -v ldns-testns >/dev/null 2>&1") != 0) {
		ok(1, "# SKIP ldns-testns is not installed (apt-get install ldnsutils)");
		return;
	}
	if ((pid = start_testns(&port)) < 0) {
		ok(1, "# SKIP ldns-testns did not start");
		return;
	}
	opt.port = (uint16_t)port;
	r = dns_resolver_new(&opt, err, sizeof err);
	ok(r != NULL, "resolver on 127.0.0.1:%d (%s)", port, r ? "" : err);
	if (r != NULL) {
		dns_resolve(r, DNS_KIND_MX, "mail.test", &res);
		is(res.status, DNS_OK, "MX over the wire: %s", res.error);
		ok(res.nhosts == 2 && strcmp(res.hosts[0].name, "mx0.mail.test") == 0,
		    "sorted by preference");
		ok(res.nhosts == 2 && res.hosts[0].naddrs == 1 &&
		    strcmp(res.hosts[0].addrs[0].text, "127.0.0.2") == 0, "with its address");
		dns_result_clear(&res);
		dns_resolve(r, DNS_KIND_MX, "nowhere.test", &res);
		is(res.status, DNS_NXDOMAIN, "NXDOMAIN over the wire");
		dns_result_clear(&res);
		dns_resolve(r, DNS_KIND_MX, "broken.test", &res);
		is(res.status, DNS_TEMPFAIL, "SERVFAIL over the wire");
		dns_result_clear(&res);
		dns_resolve(r, DNS_KIND_MX, "null.test", &res);
		is(res.status, DNS_NULLMX, "null MX over the wire");
		dns_result_clear(&res);
		dns_resolver_free(r);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);

	/* Nobody listening: a temporary failure, not a hang. */
	opt.port = (uint16_t)port;
	opt.timeout = 1;
	r = dns_resolver_new(&opt, err, sizeof err);
	dns_resolve(r, DNS_KIND_MX, "mail.test", &res);
	is(res.status, DNS_TEMPFAIL, "no server: temporary (%s)", res.error);
	dns_result_clear(&res);
	dns_resolver_free(r);

	opt.nameserver = "not-an-ip";
	ok(dns_resolver_new(&opt, err, sizeof err) == NULL, "nameserver must be an address");
}

/* The config's dns.servers list: every entry is used, one port for all. */
static void
test_server_list(void)
{
	char host[64], err[256];
	char *two[] = { "127.0.0.1:5353", "[::1]:5353" };
	char *ports[] = { "127.0.0.1:5353", "127.0.0.2:5354" };
	char *bad[] = { "127.0.0.1:5353", "nonsense:x:y" };
	struct dns_options opt = { NULL, 0, 1, 1, two, 2 };
	struct dns_resolver *r;
	uint16_t port;

	ok(dns_server_parse("192.0.2.1", host, sizeof host, &port) == 0 &&
	    strcmp(host, "192.0.2.1") == 0 && port == 0, "IP alone: port 0 (53)");
	ok(dns_server_parse("192.0.2.1:5353", host, sizeof host, &port) == 0 &&
	    strcmp(host, "192.0.2.1") == 0 && port == 5353, "IP:port");
	ok(dns_server_parse("[2001:db8::1]:53", host, sizeof host, &port) == 0 &&
	    strcmp(host, "2001:db8::1") == 0 && port == 53, "[IPv6]:port");
	ok(dns_server_parse("2001:db8::1", host, sizeof host, &port) == 0 &&
	    strcmp(host, "2001:db8::1") == 0 && port == 0, "bare IPv6");
	ok(dns_server_parse("192.0.2.1:", host, sizeof host, &port) < 0, "empty port refused");
	ok(dns_server_parse("192.0.2.1:70000", host, sizeof host, &port) < 0, "port over 65535 refused");
	ok(dns_server_parse("[::1]x", host, sizeof host, &port) < 0, "garbage after ] refused");
	ok(dns_server_parse(":53", host, sizeof host, &port) < 0, "no host refused");

	r = dns_resolver_new(&opt, err, sizeof err);
	ok(r != NULL, "two servers on one port accepted (%s)", r ? "" : err);
	if (r != NULL) {
		is(dns_resolver_nameservers(r), 2, "both servers are used");
		dns_resolver_free(r);
	}
	opt.servers = ports;
	ok(dns_resolver_new(&opt, err, sizeof err) == NULL && strstr(err, "same port") != NULL,
	    "servers on different ports refused: %s", err);
	opt.servers = bad;
	ok(dns_resolver_new(&opt, err, sizeof err) == NULL && strstr(err, "nonsense") != NULL,
	    "a malformed entry is named: %s", err);
}

int
main(void)
{
	test_parse_mx();
	test_parse_addrs();
	test_shuffle_and_reverse();
	test_resolve_chain();
	test_async();
	test_real_resolver();
	test_server_list();
	return done_testing();
}
