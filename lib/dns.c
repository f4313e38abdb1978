/*
 * dns - resolution through ldns with a cache on the loop (see dns.h).
 *
 * Threads: dns_resolve() and the query backends run on thread-pool
 * threads and touch only their own struct dns_result and a borrowed ldns
 * resolver.  Everything else here -- the cache, the in-flight table, the
 * requests -- belongs to the loop thread and is never touched by a worker.
 *
 * Not for: policy (what a failure means for a message is the caller's
 * decision), DNSSEC.
 */
#include <sys/queue.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdarg.h>
#include <pthread.h>

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dns.h"
#include "xalloc.h"

#define DNS_QTYPE_A	1
#define DNS_QTYPE_MX	15
#define DNS_QTYPE_PTR	12
#define DNS_QTYPE_AAAA	28
#define DNS_DEFAULT_NEG_TTL	300
#define DNS_CACHE_BUCKETS	1024

/* ------------------------------------------------------------------ */
/* 1. parsing                                                          */
/* ------------------------------------------------------------------ */

const char *
dns_status_str(enum dns_status st)
{
	switch (st) {
	case DNS_OK:		return "OK";
	case DNS_NXDOMAIN:	return "NXDOMAIN";
	case DNS_NODATA:	return "NODATA";
	case DNS_NULLMX:	return "null MX";
	case DNS_TEMPFAIL:	return "temporary failure";
	}
	return "?";
}

/* Error texts are for logs and DSNs: cut short rather than fail. */
static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint32_t
min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* Lower case, no trailing dot; "" for the root.  -1 if it does not fit. */
static int
name_normalize(const char *in, char *out, size_t outlen)
{
	size_t n = strlen(in), i;

	if (n > 0 && in[n - 1] == '.')
		n--;
	if (n + 1 > outlen)
		return -1;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[n] = '\0';
	return 0;
}

/* A name we are willing to send: 1..253 printable, non-space octets in
 * labels of 1..63, one trailing dot allowed; none of the characters that
 * ldns's text form treats specially. */
int
dns_name_valid(const char *name)
{
	size_t n = strlen(name), label = 0, i;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '(' || c == ')' || c == ';' ||
		    c == '"' || c == '$' || c == '@')
			return 0;
		if (++label > 63)
			return 0;
	}
	return 1;
}

static int
dname_text(const ldns_rdf *rdf, char *out, size_t outlen)
{
	char *s;
	int r;

	if (rdf == NULL || ldns_rdf_get_type(rdf) != LDNS_RDF_TYPE_DNAME)
		return -1;
	if ((s = ldns_rdf2str(rdf)) == NULL)
		return -1;
	r = name_normalize(s, out, outlen);
	free(s);
	return r;
}

static enum dns_status
pkt_from_wire(const void *wire, size_t len, ldns_pkt **p, char *err, size_t errlen)
{
	if (ldns_wire2pkt(p, wire, len) != LDNS_STATUS_OK || *p == NULL) {
		*p = NULL;
		errf(err, errlen, "malformed DNS answer");
		return DNS_TEMPFAIL;
	}
	return DNS_OK;
}

/* The TTL of a negative answer: the SOA in the authority section
 * (RFC 2308: the smaller of its TTL and its MINIMUM field). */
static uint32_t
negative_ttl(const ldns_pkt *p)
{
	ldns_rr_list *auth = ldns_pkt_authority(p);
	size_t i;

	for (i = 0; auth && i < ldns_rr_list_rr_count(auth); i++) {
		ldns_rr *rr = ldns_rr_list_rr(auth, i);
		ldns_rdf *minimum;

		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA || ldns_rr_rd_count(rr) < 7)
			continue;
		minimum = ldns_rr_rdf(rr, 6);
		return min_u32(min_u32(ldns_rr_ttl(rr), ldns_rdf2native_int32(minimum)),
		    DNS_NEG_TTL_MAX);
	}
	return DNS_DEFAULT_NEG_TTL;
}

/* rcode and answer section -> status.  On DNS_OK *rrs holds the records
 * of type t (free with ldns_rr_list_deep_free) and *ttl their lowest TTL. */
static enum dns_status
classify(const ldns_pkt *p, ldns_rr_type t, ldns_rr_list **rrs, uint32_t *ttl, char *err,
    size_t errlen)
{
	ldns_pkt_rcode rc = ldns_pkt_get_rcode(p);
	ldns_rr_list *l;
	size_t i;

	*rrs = NULL;
	*ttl = 0;
	if (rc == LDNS_RCODE_NXDOMAIN) {
		*ttl = negative_ttl(p);
		errf(err, errlen, "NXDOMAIN");
		return DNS_NXDOMAIN;
	}
	if (rc != LDNS_RCODE_NOERROR) {
		ldns_lookup_table *lt = ldns_lookup_by_id(ldns_rcodes, (int)rc);

		errf(err, errlen, "%s", lt && lt->name ? lt->name : "bad rcode");
		return DNS_TEMPFAIL;
	}
	l = ldns_pkt_rr_list_by_type(p, t, LDNS_SECTION_ANSWER);
	if (l == NULL || ldns_rr_list_rr_count(l) == 0) {
		ldns_rr_list_deep_free(l);
		if (ldns_pkt_tc(p)) {
			errf(err, errlen, "truncated answer");
			return DNS_TEMPFAIL;
		}
		*ttl = negative_ttl(p);
		errf(err, errlen, "no records");
		return DNS_NODATA;
	}
	*ttl = DNS_TTL_MAX;
	for (i = 0; i < ldns_rr_list_rr_count(l); i++)
		*ttl = min_u32(*ttl, ldns_rr_ttl(ldns_rr_list_rr(l, i)));
	*rrs = l;
	return DNS_OK;
}

enum dns_status
dns_parse_mx(const void *wire, size_t len, struct dns_host **hostsp, size_t *np, uint32_t *ttl,
    char *err, size_t errlen)
{
	struct dns_host *hosts = NULL;
	ldns_rr_list *rrs;
	ldns_pkt *p;
	enum dns_status st;
	size_t i, j, n = 0, nnull = 0, count;

	*hostsp = NULL;
	*np = 0;
	*ttl = 0;
	if ((st = pkt_from_wire(wire, len, &p, err, errlen)) != DNS_OK)
		return st;
	st = classify(p, LDNS_RR_TYPE_MX, &rrs, ttl, err, errlen);
	if (st != DNS_OK) {
		ldns_pkt_free(p);
		return st;
	}
	count = ldns_rr_list_rr_count(rrs);
	hosts = xcalloc(count, sizeof *hosts);
	for (i = 0; i < count; i++) {
		ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		struct dns_host h;

		memset(&h, 0, sizeof h);
		if (ldns_rr_rd_count(rr) < 2 || ldns_rdf_size(ldns_rr_rdf(rr, 0)) != 2 ||
		    dname_text(ldns_rr_rdf(rr, 1), h.name, sizeof h.name) < 0)
			continue;
		h.pref = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
		if (h.name[0] == '\0') {
			nnull++;
			continue;
		}
		for (j = 0; j < n; j++)
			if (strcmp(hosts[j].name, h.name) == 0)
				break;
		if (j < n) {	/* same host twice: keep the better preference */
			if (h.pref < hosts[j].pref)
				hosts[j].pref = h.pref;
			continue;
		}
		/* Insertion keeps equal preferences in answer order (stable). */
		for (j = n; j > 0 && hosts[j - 1].pref > h.pref; j--)
			hosts[j] = hosts[j - 1];
		hosts[j] = h;
		n++;
	}
	ldns_rr_list_deep_free(rrs);
	ldns_pkt_free(p);
	if (n == 0) {
		free(hosts);
		if (nnull > 0) {
			errf(err, errlen, "null MX");
			return DNS_NULLMX;
		}
		errf(err, errlen, "no usable MX records");
		return DNS_NODATA;
	}
	if (n > DNS_MAX_HOSTS)
		n = DNS_MAX_HOSTS;
	*hostsp = hosts;
	*np = n;
	return DNS_OK;
}

static void
host_add_addr(struct dns_host *h, int family, const unsigned char *bytes)
{
	struct dns_addr *a;
	size_t i, blen = family == AF_INET ? 4 : 16;

	if (h->naddrs >= DNS_MAX_ADDRS)
		return;
	for (i = 0; i < h->naddrs; i++)
		if (h->addrs[i].family == family && memcmp(h->addrs[i].bytes, bytes, blen) == 0)
			return;
	a = &h->addrs[h->naddrs];
	memset(a, 0, sizeof *a);
	a->family = family;
	memcpy(a->bytes, bytes, blen);
	if (inet_ntop(family, bytes, a->text, sizeof a->text) == NULL)
		return;
	h->naddrs++;
}

enum dns_status
dns_parse_addrs(const void *wire, size_t len, uint16_t qtype, struct dns_host *host,
    uint32_t *ttl, char *err, size_t errlen)
{
	ldns_rr_list *rrs;
	ldns_pkt *p;
	enum dns_status st;
	size_t i, before = host->naddrs;
	int family = qtype == DNS_QTYPE_AAAA ? AF_INET6 : AF_INET;
	size_t want = family == AF_INET ? 4 : 16;

	*ttl = 0;
	if ((st = pkt_from_wire(wire, len, &p, err, errlen)) != DNS_OK)
		return st;
	st = classify(p, (ldns_rr_type)qtype, &rrs, ttl, err, errlen);
	if (st == DNS_OK) {
		for (i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
			ldns_rr *rr = ldns_rr_list_rr(rrs, i);
			ldns_rdf *rd = ldns_rr_rd_count(rr) ? ldns_rr_rdf(rr, 0) : NULL;

			if (rd != NULL && ldns_rdf_size(rd) == want)
				host_add_addr(host, family, ldns_rdf_data(rd));
		}
		ldns_rr_list_deep_free(rrs);
		if (host->naddrs == before && host->naddrs < DNS_MAX_ADDRS) {
			errf(err, errlen, "no usable address records");
			st = DNS_NODATA;
		}
	}
	ldns_pkt_free(p);
	return st;
}

enum dns_status
dns_parse_ptr(const void *wire, size_t len, char (*names)[DNS_NAME_MAX + 1], size_t max,
    size_t *np, uint32_t *ttl, char *err, size_t errlen)
{
	ldns_rr_list *rrs;
	ldns_pkt *p;
	enum dns_status st;
	size_t i;

	*np = 0;
	*ttl = 0;
	if ((st = pkt_from_wire(wire, len, &p, err, errlen)) != DNS_OK)
		return st;
	st = classify(p, LDNS_RR_TYPE_PTR, &rrs, ttl, err, errlen);
	if (st == DNS_OK) {
		for (i = 0; i < ldns_rr_list_rr_count(rrs) && *np < max; i++) {
			ldns_rr *rr = ldns_rr_list_rr(rrs, i);

			if (ldns_rr_rd_count(rr) >= 1 &&
			    dname_text(ldns_rr_rdf(rr, 0), names[*np], DNS_NAME_MAX + 1) == 0 &&
			    names[*np][0] != '\0')
				(*np)++;
		}
		ldns_rr_list_deep_free(rrs);
		if (*np == 0) {
			errf(err, errlen, "no usable PTR records");
			st = DNS_NODATA;
		}
	}
	ldns_pkt_free(p);
	return st;
}

static uint32_t
default_rnd(uint32_t bound, void *arg)
{
	(void)arg;
	return arc4random_uniform(bound);
}

void
dns_mx_shuffle(struct dns_host *hosts, size_t n, dns_rnd_fn *rnd, void *arg)
{
	size_t start = 0, end, i;

	if (rnd == NULL)
		rnd = default_rnd;
	while (start < n) {
		for (end = start + 1; end < n && hosts[end].pref == hosts[start].pref; end++)
			;
		/* Fisher-Yates over [start, end). */
		for (i = end - 1; i > start; i--) {
			size_t j = start + rnd((uint32_t)(i - start + 1), arg);
			struct dns_host tmp;

			if (j == i)
				continue;
			tmp = hosts[i];
			hosts[i] = hosts[j];
			hosts[j] = tmp;
		}
		start = end;
	}
}

int
dns_reverse_name(const char *ip, const char *zone, char *out, size_t outlen)
{
	unsigned char b[16];
	size_t o = 0;
	int i, r;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	if (inet_pton(AF_INET, ip, b) == 1) {
		r = snprintf(out, outlen, "%u.%u.%u.%u.%s", b[3], b[2], b[1], b[0],
		    zone ? zone : "in-addr.arpa");
		return r < 0 || (size_t)r >= outlen ? -1 : 0;
	}
	if (inet_pton(AF_INET6, ip, b) != 1)
		return -1;
	for (i = 15; i >= 0; i--) {
		r = snprintf(out + o, outlen - o, "%x.%x.", b[i] & 0xf, b[i] >> 4);
		if (r < 0 || (size_t)r >= outlen - o)
			return -1;
		o += (size_t)r;
	}
	r = snprintf(out + o, outlen - o, "%s", zone ? zone : "ip6.arpa");
	return r < 0 || (size_t)r >= outlen - o ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* 2. blocking resolution                                              */
/* ------------------------------------------------------------------ */

struct dns_resolver {
	dns_query_fn	 *fn;
	void		 *arg;
	ldns_resolver	 *tmpl;		/* ldns backend: cloned, never queried */
	pthread_mutex_t	  lock;
	ldns_resolver	**pool;		/* idle clones */
	size_t		  npool;
	size_t		  cap;
};

static int ldns_backend_query(void *, const char *, uint16_t, unsigned char **, size_t *,
    char *, size_t);

ldns_resolver *
dns_resolver_ldns(struct dns_resolver *r)
{
	return r != NULL && r->fn == ldns_backend_query ? r->tmpl : NULL;
}

static ldns_resolver *
resolver_borrow(struct dns_resolver *r)
{
	ldns_resolver *lr;

	pthread_mutex_lock(&r->lock);
	if (r->npool > 0)
		lr = r->pool[--r->npool];
	else
		lr = ldns_resolver_clone(r->tmpl);
	pthread_mutex_unlock(&r->lock);
	return lr;
}

static void
resolver_giveback(struct dns_resolver *r, ldns_resolver *lr)
{
	pthread_mutex_lock(&r->lock);
	if (r->npool == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 8;
		r->pool = xrealloc(r->pool, r->cap * sizeof *r->pool);
	}
	r->pool[r->npool++] = lr;
	pthread_mutex_unlock(&r->lock);
}

static int
ldns_backend_query(void *arg, const char *name, uint16_t qtype, unsigned char **wire,
    size_t *len, char *err, size_t errlen)
{
	struct dns_resolver *r = arg;
	ldns_resolver *lr;
	ldns_rdf *dn;
	ldns_pkt *ans = NULL;
	ldns_status st;
	char *abs;
	uint8_t *w = NULL;

	if ((lr = resolver_borrow(r)) == NULL) {
		errf(err, errlen, "out of resolvers");
		return -1;
	}
	abs = xasprintf("%s.", name);
	dn = ldns_dname_new_frm_str(abs);
	free(abs);
	if (dn == NULL) {
		resolver_giveback(r, lr);
		errf(err, errlen, "invalid name");
		return -1;
	}
	st = ldns_resolver_send(&ans, lr, dn, (ldns_rr_type)qtype, LDNS_RR_CLASS_IN, LDNS_RD);
	ldns_rdf_deep_free(dn);
	resolver_giveback(r, lr);
	if (st != LDNS_STATUS_OK || ans == NULL) {
		errf(err, errlen, "%s", st != LDNS_STATUS_OK ? ldns_get_errorstr_by_id(st) :
		    "no answer");
		ldns_pkt_free(ans);
		return -1;
	}
	st = ldns_pkt2wire(&w, ans, len);
	ldns_pkt_free(ans);
	if (st != LDNS_STATUS_OK) {
		free(w);
		errf(err, errlen, "%s", ldns_get_errorstr_by_id(st));
		return -1;
	}
	*wire = w;
	return 0;
}

size_t
dns_resolver_nameservers(const struct dns_resolver *r)
{
	return r->tmpl ? ldns_resolver_nameserver_count(r->tmpl) : 0;
}

int
dns_server_parse(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon;
	unsigned long p = 0;
	size_t n;

	if (s[0] == '[') {
		if ((colon = strchr(s, ']')) == NULL || (colon[1] != '\0' && colon[1] != ':'))
			return -1;
		n = (size_t)(colon - s - 1);
		s++;
		colon = colon[1] == ':' ? colon + 1 : NULL;
	} else if ((colon = strchr(s, ':')) != NULL && strchr(colon + 1, ':') == NULL)
		n = (size_t)(colon - s);
	else {
		n = strlen(s);
		colon = NULL;
	}
	if (n == 0 || n >= hostlen)
		return -1;
	if (colon != NULL) {
		char *end;

		p = strtoul(colon + 1, &end, 10);
		if (colon[1] == '\0' || *end != '\0' || p == 0 || p > 65535)
			return -1;
	}
	memcpy(host, s, n);
	host[n] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static int
push_nameserver(ldns_resolver *lr, const char *host, char *err, size_t errlen)
{
	ldns_rdf *ns;
	ldns_status st;

	ns = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, host);
	if (ns == NULL)
		ns = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_AAAA, host);
	if (ns == NULL) {
		errf(err, errlen, "nameserver '%s' is not an IP address", host);
		return -1;
	}
	st = ldns_resolver_push_nameserver(lr, ns);
	ldns_rdf_deep_free(ns);
	if (st != LDNS_STATUS_OK) {
		errf(err, errlen, "nameserver: %s", ldns_get_errorstr_by_id(st));
		return -1;
	}
	return 0;
}

struct dns_resolver *
dns_resolver_new(const struct dns_options *opt, char *err, size_t errlen)
{
	struct dns_options defaults = { NULL, 0, 0, 0, NULL, 0 };
	uint16_t port;
	size_t i;
	struct dns_resolver *r;
	ldns_resolver *lr = NULL;
	struct timeval tv;
	ldns_status st;

	if (opt == NULL)
		opt = &defaults;
	port = opt->port;
	if (opt->nservers > 0 || opt->nameserver != NULL) {
		lr = ldns_resolver_new();
		for (i = 0; i < (opt->nservers > 0 ? opt->nservers : 1); i++) {
			char host[DNS_ADDR_TEXT + 2];
			uint16_t p = opt->port;

			if (opt->nservers == 0)
				snprintf(host, sizeof host, "%s", opt->nameserver);
			else if (dns_server_parse(opt->servers[i], host, sizeof host, &p) < 0) {
				ldns_resolver_deep_free(lr);
				errf(err, errlen, "dns server '%s' is not IP, IP:port or [IPv6]:port",
				    opt->servers[i]);
				return NULL;
			}
			if (push_nameserver(lr, host, err, errlen) < 0) {
				ldns_resolver_deep_free(lr);
				return NULL;
			}
			if (i == 0)
				port = p;
			else if (p != port) {
				ldns_resolver_deep_free(lr);
				errf(err, errlen, "dns servers must all use the same port (%u and %u "
				    "given)", port ? port : 53, p ? p : 53);
				return NULL;
			}
		}
	} else if ((st = ldns_resolver_new_frm_file(&lr, NULL)) != LDNS_STATUS_OK) {
		errf(err, errlen, "cannot read /etc/resolv.conf: %s",
		    ldns_get_errorstr_by_id(st));
		return NULL;
	}
	if (ldns_resolver_nameserver_count(lr) == 0) {
		ldns_resolver_deep_free(lr);
		errf(err, errlen, "no nameserver configured");
		return NULL;
	}
	ldns_resolver_set_port(lr, port ? port : 53);
	tv.tv_sec = opt->timeout ? (time_t)opt->timeout : 5;
	tv.tv_usec = 0;
	ldns_resolver_set_timeout(lr, tv);
	ldns_resolver_set_retry(lr, (uint8_t)(opt->retries ? opt->retries : 2));
	ldns_resolver_set_recursive(lr, true);
	ldns_resolver_set_defnames(lr, false);
	ldns_resolver_set_dnsrch(lr, false);
	ldns_resolver_set_fallback(lr, true);

	r = xcalloc(1, sizeof *r);
	r->fn = ldns_backend_query;
	r->arg = r;
	r->tmpl = lr;
	pthread_mutex_init(&r->lock, NULL);
	return r;
}

struct dns_resolver *
dns_resolver_new_fn(dns_query_fn *fn, void *arg)
{
	struct dns_resolver *r = xcalloc(1, sizeof *r);

	r->fn = fn;
	r->arg = arg;
	pthread_mutex_init(&r->lock, NULL);
	return r;
}

void
dns_resolver_free(struct dns_resolver *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->npool; i++)
		ldns_resolver_deep_free(r->pool[i]);
	free(r->pool);
	if (r->tmpl)
		ldns_resolver_deep_free(r->tmpl);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static const char *
qtype_name(uint16_t qtype)
{
	switch (qtype) {
	case DNS_QTYPE_A:	return "A";
	case DNS_QTYPE_AAAA:	return "AAAA";
	case DNS_QTYPE_MX:	return "MX";
	case DNS_QTYPE_PTR:	return "PTR";
	}
	return "?";
}

/* Runs one query; on a backend failure the status is DNS_TEMPFAIL. */
static enum dns_status
run_query(struct dns_resolver *r, const char *name, uint16_t qtype, unsigned char **wire,
    size_t *len, char *err, size_t errlen)
{
	char why[128];

	*wire = NULL;
	*len = 0;
	why[0] = '\0';
	if (r->fn(r->arg, name, qtype, wire, len, why, sizeof why) < 0) {
		free(*wire);
		*wire = NULL;
		errf(err, errlen, "%s lookup of %s failed: %s", qtype_name(qtype), name,
		    why[0] ? why : "error");
		return DNS_TEMPFAIL;
	}
	return DNS_OK;
}

static void
set_error(char *err, size_t errlen, const char *what, uint16_t qtype, const char *name,
    const char *why)
{
	errf(err, errlen, "%s %s lookup of %s: %s", what, qtype_name(qtype), name, why);
}

static enum dns_status
query_addrs(struct dns_resolver *r, const char *name, uint16_t qtype, struct dns_host *h,
    uint32_t *ttl, char *err, size_t errlen)
{
	unsigned char *wire;
	size_t len;
	enum dns_status st;
	char why[DNS_ERR_MAX];

	if (run_query(r, name, qtype, &wire, &len, err, errlen) != DNS_OK)
		return DNS_TEMPFAIL;
	why[0] = '\0';
	st = dns_parse_addrs(wire, len, qtype, h, ttl, why, sizeof why);
	free(wire);
	if (st != DNS_OK)
		set_error(err, errlen, st == DNS_TEMPFAIL ? "failed" : "no answer to",
		    qtype, name, why);
	return st;
}

/* A (and AAAA) of name into h: OK if any address, else TEMPFAIL if a query
 * failed, else NXDOMAIN or NODATA. */
static enum dns_status
resolve_addrs(struct dns_resolver *r, const char *name, int want_aaaa, struct dns_host *h,
    uint32_t *ttl, char *err, size_t errlen)
{
	enum dns_status s4, s6 = DNS_NODATA;
	uint32_t t4 = 0, t6 = 0;
	char err6[DNS_ERR_MAX];

	s4 = query_addrs(r, name, DNS_QTYPE_A, h, &t4, err, errlen);
	if (want_aaaa && s4 != DNS_NXDOMAIN) {
		err6[0] = '\0';
		s6 = query_addrs(r, name, DNS_QTYPE_AAAA, h, &t6, err6, sizeof err6);
		if (s4 != DNS_TEMPFAIL && s6 == DNS_TEMPFAIL)
			errf(err, errlen, "%s", err6);
	}
	if (s4 == DNS_OK || s6 == DNS_OK) {
		*ttl = s4 == DNS_OK && s6 == DNS_OK ? min_u32(t4, t6) : s4 == DNS_OK ? t4 : t6;
		return DNS_OK;
	}
	if (s4 == DNS_TEMPFAIL || s6 == DNS_TEMPFAIL) {
		*ttl = 0;
		return DNS_TEMPFAIL;
	}
	*ttl = want_aaaa && s4 != DNS_NXDOMAIN ? min_u32(t4, t6) : t4;
	return s4 == DNS_NXDOMAIN ? DNS_NXDOMAIN : DNS_NODATA;
}

static void
resolve_mx(struct dns_resolver *r, struct dns_result *out)
{
	const char *name = out->name;
	unsigned char *wire;
	size_t len, i, naddrs = 0;
	enum dns_status st;
	uint32_t ttl, t;
	int tempfail = 0;
	char why[DNS_ERR_MAX];

	if (run_query(r, name, DNS_QTYPE_MX, &wire, &len, out->error, sizeof out->error) != DNS_OK) {
		out->status = DNS_TEMPFAIL;
		return;
	}
	why[0] = '\0';
	st = dns_parse_mx(wire, len, &out->hosts, &out->nhosts, &ttl, why, sizeof why);
	free(wire);
	switch (st) {
	case DNS_TEMPFAIL:
		set_error(out->error, sizeof out->error, "failed", DNS_QTYPE_MX, name, why);
		out->status = DNS_TEMPFAIL;
		return;
	case DNS_NXDOMAIN:
		errf(out->error, sizeof out->error, "domain %s does not exist (NXDOMAIN)",
		    name);
		out->status = DNS_NXDOMAIN;
		out->ttl = ttl;
		return;
	case DNS_NULLMX:
		errf(out->error, sizeof out->error,
		    "domain %s does not accept mail (null MX, RFC 7505)", name);
		out->status = DNS_NULLMX;
		out->ttl = ttl;
		return;
	case DNS_NODATA:
		/* RFC 5321 5.1: no MX, so the domain itself is the host. */
		out->implicit_mx = 1;
		out->hosts = xcalloc(1, sizeof *out->hosts);
		out->nhosts = 1;
		snprintf(out->hosts[0].name, sizeof out->hosts[0].name, "%s", name);
		st = resolve_addrs(r, name, 1, &out->hosts[0], &t, out->error,
		    sizeof out->error);
		out->hosts[0].status = st;
		out->status = st;
		out->ttl = st == DNS_TEMPFAIL ? 0 : min_u32(ttl, t);
		if (st == DNS_NODATA)
			errf(out->error, sizeof out->error,
			    "domain %s has no MX and no address record", name);
		else if (st == DNS_NXDOMAIN)
			errf(out->error, sizeof out->error,
			    "domain %s does not exist (NXDOMAIN)", name);
		return;
	case DNS_OK:
		break;
	}
	for (i = 0; i < out->nhosts; i++) {
		struct dns_host *h = &out->hosts[i];
		char herr[DNS_ERR_MAX];

		herr[0] = '\0';
		h->status = resolve_addrs(r, h->name, 1, h, &t, herr, sizeof herr);
		if (h->status == DNS_TEMPFAIL) {
			if (!tempfail)
				snprintf(why, sizeof why, "%s", herr);
			tempfail = 1;
		} else
			ttl = min_u32(ttl, t);
		naddrs += h->naddrs;
	}
	if (naddrs > 0) {
		out->status = DNS_OK;
		out->ttl = tempfail ? min_u32(ttl, 60) : ttl;
	} else if (tempfail) {
		out->status = DNS_TEMPFAIL;
		errf(out->error, sizeof out->error, "no address for the MX hosts of %s: %s",
		    name, why);
	} else {
		out->status = DNS_NODATA;
		out->ttl = min_u32(ttl, DNS_NEG_TTL_MAX);
		errf(out->error, sizeof out->error, "no MX host of %s has an address", name);
	}
}

static void
resolve_ptr(struct dns_resolver *r, struct dns_result *out)
{
	char rev[DNS_NAME_MAX + 1], why[DNS_ERR_MAX];
	char (*names)[DNS_NAME_MAX + 1];
	unsigned char *wire;
	size_t len, n, i;
	enum dns_status st;
	uint32_t ttl;

	if (dns_reverse_name(out->name, NULL, rev, sizeof rev) < 0) {
		out->status = DNS_NXDOMAIN;
		errf(out->error, sizeof out->error, "'%s' is not an IP address", out->name);
		return;
	}
	if (run_query(r, rev, DNS_QTYPE_PTR, &wire, &len, out->error, sizeof out->error) != DNS_OK) {
		out->status = DNS_TEMPFAIL;
		return;
	}
	names = xcalloc(DNS_MAX_HOSTS, sizeof *names);
	why[0] = '\0';
	st = dns_parse_ptr(wire, len, names, DNS_MAX_HOSTS, &n, &ttl, why, sizeof why);
	free(wire);
	out->status = st;
	out->ttl = st == DNS_TEMPFAIL ? 0 : ttl;
	if (st == DNS_OK) {
		out->hosts = xcalloc(n, sizeof *out->hosts);
		out->nhosts = n;
		for (i = 0; i < n; i++) {
			snprintf(out->hosts[i].name, sizeof out->hosts[i].name, "%s", names[i]);
			out->hosts[i].status = DNS_OK;
		}
	} else
		set_error(out->error, sizeof out->error,
		    st == DNS_TEMPFAIL ? "failed" : "no answer to", DNS_QTYPE_PTR, rev, why);
	free(names);
}

void
dns_resolve(struct dns_resolver *r, enum dns_kind kind, const char *name, struct dns_result *out)
{
	uint32_t ttl = 0;

	memset(out, 0, sizeof *out);
	out->kind = kind;
	if (name_normalize(name, out->name, sizeof out->name) < 0 ||
	    (kind != DNS_KIND_PTR && !dns_name_valid(out->name))) {
		out->status = DNS_NXDOMAIN;
		errf(out->error, sizeof out->error, "invalid domain name");
		return;
	}
	switch (kind) {
	case DNS_KIND_MX:
		resolve_mx(r, out);
		break;
	case DNS_KIND_ADDR:
	case DNS_KIND_A:
		out->hosts = xcalloc(1, sizeof *out->hosts);
		out->nhosts = 1;
		snprintf(out->hosts[0].name, sizeof out->hosts[0].name, "%s", out->name);
		out->status = resolve_addrs(r, out->name, kind == DNS_KIND_ADDR, &out->hosts[0],
		    &ttl, out->error, sizeof out->error);
		out->hosts[0].status = out->status;
		out->ttl = ttl;
		break;
	case DNS_KIND_PTR:
		resolve_ptr(r, out);
		break;
	default:
		out->status = DNS_TEMPFAIL;
		errf(out->error, sizeof out->error, "unknown lookup kind");
		break;
	}
	if (out->status == DNS_OK)
		out->error[0] = '\0';
	if (out->ttl > DNS_TTL_MAX)
		out->ttl = DNS_TTL_MAX;
	if (out->status != DNS_OK && out->ttl > DNS_NEG_TTL_MAX)
		out->ttl = DNS_NEG_TTL_MAX;
}

void
dns_result_clear(struct dns_result *res)
{
	free(res->hosts);
	res->hosts = NULL;
	res->nhosts = 0;
}

void
dns_result_copy(struct dns_result *dst, const struct dns_result *src)
{
	*dst = *src;
	dst->hosts = NULL;
	if (src->nhosts > 0) {
		dst->hosts = xcalloc(src->nhosts, sizeof *dst->hosts);
		memcpy(dst->hosts, src->hosts, src->nhosts * sizeof *dst->hosts);
	}
}

/* ------------------------------------------------------------------ */
/* 3. asynchronous lookups, cache                                      */
/* ------------------------------------------------------------------ */

/* A result shared by the cache and the requests it answers. */
struct dns_entry {
	int			refs;
	struct dns_result	res;
};

struct dns_query;

struct dns_req {
	TAILQ_ENTRY(dns_req)	 entry;		/* query's waiters, or ctx->ready */
	struct dns_ctx		*ctx;
	struct dns_query	*q;		/* waiting on it; NULL when ready */
	struct dns_entry	*ent;		/* when ready */
	dns_cb			*cb;
	void			*arg;
};
TAILQ_HEAD(dns_req_list, dns_req);

struct dns_query {
	TAILQ_ENTRY(dns_query)	 entry;		/* ctx->inflight unless detached */
	uv_work_t		 work;
	struct dns_ctx		*ctx;
	enum dns_kind		 kind;
	char			 name[DNS_NAME_MAX + 1];
	uint64_t		 deadline;	/* uv_now() ms */
	int			 detached;	/* answered by timeout, or ctx freed */
	struct dns_result	 res;		/* written by the worker */
	struct dns_req_list	 waiters;
};

struct dns_cent {
	struct dns_cent		*hnext;
	TAILQ_ENTRY(dns_cent)	 lru;
	unsigned		 bucket;
	uint64_t		 expires;	/* uv_now() ms */
	struct dns_entry	*ent;
};

struct dns_ctx {
	uv_loop_t			*loop;
	struct dns_resolver		*r;
	uint64_t			 timeout_ms;
	uv_timer_t			 deadline_timer;
	uv_timer_t			 ready_timer;
	int				 handles;	/* open uv handles */
	size_t				 working;	/* uv_queue_work not yet done */
	int				 freeing;
	TAILQ_HEAD(, dns_query)		 inflight;
	struct dns_req_list		 ready;
	struct dns_cent			*buckets[DNS_CACHE_BUCKETS];
	TAILQ_HEAD(, dns_cent)		 lru;
	size_t				 ncached;
	struct dns_stats		 stats;
};

static void
entry_unref(struct dns_entry *e)
{
	if (e != NULL && --e->refs == 0) {
		dns_result_clear(&e->res);
		free(e);
	}
}

static unsigned
cache_hash(enum dns_kind kind, const char *name)
{
	uint32_t h = 2166136261u ^ (uint32_t)kind;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h % DNS_CACHE_BUCKETS;
}

static void
cache_remove(struct dns_ctx *ctx, struct dns_cent *c)
{
	struct dns_cent **pp;

	for (pp = &ctx->buckets[c->bucket]; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	TAILQ_REMOVE(&ctx->lru, c, lru);
	entry_unref(c->ent);
	free(c);
	ctx->ncached--;
}

static struct dns_cent *
cache_find(struct dns_ctx *ctx, enum dns_kind kind, const char *name)
{
	struct dns_cent *c;

	for (c = ctx->buckets[cache_hash(kind, name)]; c != NULL; c = c->hnext)
		if (c->ent->res.kind == kind && strcmp(c->ent->res.name, name) == 0)
			return c;
	return NULL;
}

static void
cache_put(struct dns_ctx *ctx, struct dns_entry *e)
{
	struct dns_cent *c;

	if (e->res.status == DNS_TEMPFAIL || e->res.ttl == 0 || ctx->freeing)
		return;
	if ((c = cache_find(ctx, e->res.kind, e->res.name)) != NULL)
		cache_remove(ctx, c);
	while (ctx->ncached >= DNS_CACHE_MAX)
		cache_remove(ctx, TAILQ_FIRST(&ctx->lru));
	c = xcalloc(1, sizeof *c);
	c->bucket = cache_hash(e->res.kind, e->res.name);
	c->expires = uv_now(ctx->loop) + (uint64_t)e->res.ttl * 1000;
	c->ent = e;
	e->refs++;
	c->hnext = ctx->buckets[c->bucket];
	ctx->buckets[c->bucket] = c;
	TAILQ_INSERT_TAIL(&ctx->lru, c, lru);
	ctx->ncached++;
}

static void
ctx_maybe_free(struct dns_ctx *ctx)
{
	if (ctx->freeing && ctx->handles == 0 && ctx->working == 0)
		free(ctx);
}

static void
ctx_handle_closed(uv_handle_t *h)
{
	struct dns_ctx *ctx = h->data;

	ctx->handles--;
	ctx_maybe_free(ctx);
}

static void
ready_run(uv_timer_t *t)
{
	struct dns_ctx *ctx = t->data;
	struct dns_req *req;

	while ((req = TAILQ_FIRST(&ctx->ready)) != NULL) {
		struct dns_entry *e = req->ent;

		TAILQ_REMOVE(&ctx->ready, req, entry);
		req->cb(&e->res, req->arg);
		entry_unref(e);
		free(req);
	}
}

static void
ready_add(struct dns_ctx *ctx, struct dns_req *req, struct dns_entry *e)
{
	req->q = NULL;
	req->ent = e;
	e->refs++;
	TAILQ_INSERT_TAIL(&ctx->ready, req, entry);
	if (!uv_is_active((uv_handle_t *)&ctx->ready_timer))
		uv_timer_start(&ctx->ready_timer, ready_run, 0, 0);
}

/* Answers every waiter of q with e (callbacks may start new lookups). */
static void
query_dispatch(struct dns_query *q, struct dns_entry *e)
{
	struct dns_req *req;

	e->refs++;
	while ((req = TAILQ_FIRST(&q->waiters)) != NULL) {
		TAILQ_REMOVE(&q->waiters, req, entry);
		req->q = NULL;
		req->cb(&e->res, req->arg);
		free(req);
	}
	entry_unref(e);
}

static void deadline_arm(struct dns_ctx *ctx);

static void
deadline_run(uv_timer_t *t)
{
	struct dns_ctx *ctx = t->data;
	struct dns_query *q;
	uint64_t now = uv_now(ctx->loop);

again:
	TAILQ_FOREACH(q, &ctx->inflight, entry) {
		struct dns_entry *e;

		if (q->deadline > now)
			continue;
		TAILQ_REMOVE(&ctx->inflight, q, entry);
		q->detached = 1;
		ctx->stats.timeouts++;
		e = xcalloc(1, sizeof *e);
		e->refs = 1;
		e->res.kind = q->kind;
		e->res.status = DNS_TEMPFAIL;
		snprintf(e->res.name, sizeof e->res.name, "%s", q->name);
		errf(e->res.error, sizeof e->res.error, "DNS lookup of %s timed out after %us",
		    q->name, (unsigned)(ctx->timeout_ms / 1000));
		query_dispatch(q, e);
		entry_unref(e);
		goto again;	/* callbacks may have changed the list */
	}
	deadline_arm(ctx);
}

static void
deadline_arm(struct dns_ctx *ctx)
{
	struct dns_query *q;
	uint64_t first = UINT64_MAX, now;

	if (ctx->freeing)
		return;
	TAILQ_FOREACH(q, &ctx->inflight, entry)
		if (q->deadline < first)
			first = q->deadline;
	if (first == UINT64_MAX) {
		uv_timer_stop(&ctx->deadline_timer);
		return;
	}
	now = uv_now(ctx->loop);
	uv_timer_start(&ctx->deadline_timer, deadline_run, first > now ? first - now : 0, 0);
}

static void
query_work(uv_work_t *w)
{
	struct dns_query *q = w->data;

	dns_resolve(q->ctx->r, q->kind, q->name, &q->res);
	/* ldns draws query IDs from OpenSSL's RNG, whose per-thread state
	 * nobody frees in a pool thread that lives as long as the process:
	 * free it after every job (it is rebuilt cheaply when needed). */
	OPENSSL_thread_stop();
}

static void
query_done(uv_work_t *w, int status)
{
	struct dns_query *q = w->data;
	struct dns_ctx *ctx = q->ctx;
	struct dns_entry *e;

	(void)status;
	ctx->working--;
	e = xcalloc(1, sizeof *e);
	e->refs = 1;
	e->res = q->res;	/* takes the hosts */
	if (!q->detached) {
		TAILQ_REMOVE(&ctx->inflight, q, entry);
		cache_put(ctx, e);
		query_dispatch(q, e);
		deadline_arm(ctx);
	} else
		cache_put(ctx, e);	/* a late answer still serves the next lookup */
	entry_unref(e);
	free(q);
	ctx_maybe_free(ctx);
}

struct dns_ctx *
dns_ctx_new(uv_loop_t *loop, struct dns_resolver *r, uint32_t timeout_sec)
{
	struct dns_ctx *ctx = xcalloc(1, sizeof *ctx);

	ctx->loop = loop;
	ctx->r = r;
	ctx->timeout_ms = (uint64_t)(timeout_sec ? timeout_sec : 20) * 1000;
	uv_timer_init(loop, &ctx->deadline_timer);
	uv_timer_init(loop, &ctx->ready_timer);
	ctx->deadline_timer.data = ctx;
	ctx->ready_timer.data = ctx;
	ctx->handles = 2;
	TAILQ_INIT(&ctx->inflight);
	TAILQ_INIT(&ctx->ready);
	TAILQ_INIT(&ctx->lru);
	return ctx;
}

void
dns_ctx_set_timeout(struct dns_ctx *ctx, uint32_t timeout_sec)
{
	ctx->timeout_ms = (uint64_t)(timeout_sec ? timeout_sec : 20) * 1000;
}

struct dns_req *
dns_lookup(struct dns_ctx *ctx, enum dns_kind kind, const char *name, dns_cb *cb, void *arg)
{
	struct dns_req *req = xcalloc(1, sizeof *req);
	char key[DNS_NAME_MAX + 1];
	struct dns_query *q;
	struct dns_cent *c;

	req->ctx = ctx;
	req->cb = cb;
	req->arg = arg;
	ctx->stats.lookups++;
	if (name_normalize(name, key, sizeof key) < 0) {
		struct dns_entry *e = xcalloc(1, sizeof *e);

		e->refs = 1;
		e->res.kind = kind;
		e->res.status = DNS_NXDOMAIN;
		errf(e->res.error, sizeof e->res.error, "invalid domain name");
		ready_add(ctx, req, e);
		entry_unref(e);
		return req;
	}
	if ((c = cache_find(ctx, kind, key)) != NULL) {
		if (c->expires > uv_now(ctx->loop)) {
			ctx->stats.cache_hits++;
			if (c->ent->res.status == DNS_NXDOMAIN || c->ent->res.status == DNS_NODATA ||
			    c->ent->res.status == DNS_NULLMX)
				ctx->stats.cache_negative++;
			TAILQ_REMOVE(&ctx->lru, c, lru);
			TAILQ_INSERT_TAIL(&ctx->lru, c, lru);
			ready_add(ctx, req, c->ent);
			return req;
		}
		ctx->stats.cache_expired++;
		cache_remove(ctx, c);
	}
	ctx->stats.cache_misses++;
	TAILQ_FOREACH(q, &ctx->inflight, entry)
		if (q->kind == kind && strcmp(q->name, key) == 0)
			break;
	if (q != NULL) {
		ctx->stats.shared++;
	} else {
		q = xcalloc(1, sizeof *q);
		q->ctx = ctx;
		q->kind = kind;
		snprintf(q->name, sizeof q->name, "%s", key);
		q->deadline = uv_now(ctx->loop) + ctx->timeout_ms;
		q->work.data = q;
		TAILQ_INIT(&q->waiters);
		if (uv_queue_work(ctx->loop, &q->work, query_work, query_done) != 0) {
			struct dns_entry *e = xcalloc(1, sizeof *e);

			free(q);
			e->refs = 1;
			e->res.kind = kind;
			e->res.status = DNS_TEMPFAIL;
			snprintf(e->res.name, sizeof e->res.name, "%s", key);
			errf(e->res.error, sizeof e->res.error, "cannot start DNS lookup");
			ready_add(ctx, req, e);
			entry_unref(e);
			return req;
		}
		ctx->working++;
		ctx->stats.queries++;
		TAILQ_INSERT_TAIL(&ctx->inflight, q, entry);
		deadline_arm(ctx);
	}
	req->q = q;
	TAILQ_INSERT_TAIL(&q->waiters, req, entry);
	return req;
}

void
dns_cancel(struct dns_req *req)
{
	if (req == NULL)
		return;
	if (req->q != NULL)
		TAILQ_REMOVE(&req->q->waiters, req, entry);
	else {
		TAILQ_REMOVE(&req->ctx->ready, req, entry);
		entry_unref(req->ent);
	}
	free(req);
}

void
dns_flush(struct dns_ctx *ctx, const char *name)
{
	struct dns_cent *c, *next;
	char key[DNS_NAME_MAX + 1];

	if (name != NULL && *name != '\0' && name_normalize(name, key, sizeof key) < 0)
		return;
	for (c = TAILQ_FIRST(&ctx->lru); c != NULL; c = next) {
		next = TAILQ_NEXT(c, lru);
		if (name == NULL || *name == '\0' || strcmp(c->ent->res.name, key) == 0)
			cache_remove(ctx, c);
	}
}

int
dns_cache_peek(struct dns_ctx *ctx, enum dns_kind kind, const char *name, struct dns_result *out,
    uint64_t *ms_left)
{
	char key[DNS_NAME_MAX + 1];
	struct dns_cent *c;
	uint64_t now = uv_now(ctx->loop);

	if (name_normalize(name, key, sizeof key) < 0 || (c = cache_find(ctx, kind, key)) == NULL)
		return -1;
	memset(out, 0, sizeof *out);
	dns_result_copy(out, &c->ent->res);
	*ms_left = c->expires > now ? c->expires - now : 0;
	return 0;
}

void
dns_get_stats(const struct dns_ctx *ctx, struct dns_stats *st)
{
	const struct dns_query *q;

	*st = ctx->stats;
	st->cached = ctx->ncached;
	st->in_flight = 0;
	TAILQ_FOREACH(q, &ctx->inflight, entry)
		st->in_flight++;
}

void
dns_ctx_free(struct dns_ctx *ctx)
{
	struct dns_query *q;
	struct dns_req *req;

	if (ctx == NULL)
		return;
	ctx->freeing = 1;
	while ((req = TAILQ_FIRST(&ctx->ready)) != NULL)
		dns_cancel(req);
	while ((q = TAILQ_FIRST(&ctx->inflight)) != NULL) {
		TAILQ_REMOVE(&ctx->inflight, q, entry);
		q->detached = 1;
		while ((req = TAILQ_FIRST(&q->waiters)) != NULL)
			dns_cancel(req);
	}
	while (!TAILQ_EMPTY(&ctx->lru))
		cache_remove(ctx, TAILQ_FIRST(&ctx->lru));
	uv_close((uv_handle_t *)&ctx->deadline_timer, ctx_handle_closed);
	uv_close((uv_handle_t *)&ctx->ready_timer, ctx_handle_closed);
}
