/*
 * dns - name resolution through ldns for the mail daemons: MX routing
 * (deliver), addresses, reverse DNS and DNS lists (smtpd).
 *
 * Three layers:
 *
 *  1. Pure answer parsing (dns_parse_*): a DNS answer in wire format in,
 *     a classified result out.  No network; tested with packets built in
 *     the test and fuzzable.
 *
 *  2. Blocking resolution (dns_resolve): MX -> sorted hosts -> their
 *     A/AAAA (or the implicit MX), A+AAAA, A, PTR.  Runs ldns queries and
 *     may take seconds, so it is only ever called from the libuv thread
 *     pool (or a test).  Each call borrows its own ldns resolver from a
 *     pool of clones, so calls in several threads do not share state.
 *     The resolver is set up from /etc/resolv.conf -- or from an explicit
 *     nameserver address and port, for tests against a local server --
 *     before the daemon chroots.
 *
 *  3. Asynchronous lookups on a libuv loop (dns_lookup): the blocking
 *     resolution runs with uv_queue_work, never on the loop; answers are
 *     kept in a TTL cache that lives on the loop thread; concurrent lookups
 *     of the same name and kind share one query; every lookup is answered
 *     within the configured timeout (a TEMPFAIL result when the resolver
 *     is slower).  Callbacks always run later from the loop, never inside
 *     dns_lookup().
 *
 * Classification (what the callers turn into SMTP decisions):
 *   DNS_OK        records found (for MX: at least one usable address)
 *   DNS_NXDOMAIN  the name does not exist                  -> permanent
 *   DNS_NODATA    the name exists without such records     -> permanent
 *                 (for MX: no MX and no address, or no MX host has one)
 *   DNS_NULLMX    the domain publishes "MX 0 ." (RFC 7505) -> permanent
 *   DNS_TEMPFAIL  SERVFAIL, REFUSED, timeout, network error -> retry later
 *
 * Not for: DNSSEC validation, DANE/TLSA (a later TLS policy module), or
 * serving DNS.
 */
#ifndef SP_DNS_H
#define SP_DNS_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define DNS_NAME_MAX	255	/* text form, no trailing dot */
#define DNS_MAX_HOSTS	16	/* MX hosts (or PTR names) kept per answer */
#define DNS_MAX_ADDRS	8	/* addresses kept per host */
#define DNS_ADDR_TEXT	46	/* INET6_ADDRSTRLEN */
#define DNS_ERR_MAX	192
#define DNS_TTL_MAX	86400	/* positive answers are cached at most this long */
#define DNS_NEG_TTL_MAX	900	/* negative answers (NXDOMAIN, NODATA, null MX) */
#define DNS_CACHE_MAX	4096	/* entries */

enum dns_status {
	DNS_OK = 0,
	DNS_NXDOMAIN,
	DNS_NODATA,
	DNS_NULLMX,
	DNS_TEMPFAIL,
};

enum dns_kind {
	DNS_KIND_MX = 1,	/* mail routing: MX hosts with addresses */
	DNS_KIND_ADDR,		/* A and AAAA of a name */
	DNS_KIND_A,		/* A only (DNS lists) */
	DNS_KIND_PTR,		/* name = an IPv4/IPv6 address in text form */
};

struct dns_addr {
	int	family;			/* AF_INET or AF_INET6 */
	unsigned char bytes[16];	/* network order; 4 used for AF_INET */
	char	text[DNS_ADDR_TEXT];
};

struct dns_host {
	char		 name[DNS_NAME_MAX + 1];	/* lower case, no trailing dot */
	uint16_t	 pref;				/* MX preference */
	enum dns_status	 status;			/* of its address lookups */
	struct dns_addr	 addrs[DNS_MAX_ADDRS];		/* IPv4 first, then IPv6 */
	size_t		 naddrs;
};

struct dns_result {
	enum dns_kind	 kind;
	enum dns_status	 status;
	int		 implicit_mx;	/* MX: no MX records; hosts[0] is the domain */
	uint32_t	 ttl;		/* seconds this answer may be cached */
	char		 name[DNS_NAME_MAX + 1];
	char		 error[DNS_ERR_MAX];	/* why, when status != DNS_OK */
	struct dns_host	*hosts;		/* MX: by preference; ADDR/A: one host;
					 * PTR: one host per name, no addrs */
	size_t		 nhosts;
};

/* ---- 1. parsing answers (wire format) ---- */

/* MX answer -> hosts sorted by preference (stable; addresses left empty).
 * A lone "MX 0 ." is DNS_NULLMX; a "." among real MX hosts is ignored.
 * *hosts is allocated (free()) when DNS_OK, else NULL. */
enum dns_status	dns_parse_mx(const void *wire, size_t len, struct dns_host **hosts,
		    size_t *nhosts, uint32_t *ttl, char *err, size_t errlen);
/* A (qtype 1) or AAAA (qtype 28) answer -> addresses appended to host
 * (up to DNS_MAX_ADDRS in all). */
enum dns_status	dns_parse_addrs(const void *wire, size_t len, uint16_t qtype,
		    struct dns_host *host, uint32_t *ttl, char *err, size_t errlen);
/* PTR answer -> names (up to max). */
enum dns_status	dns_parse_ptr(const void *wire, size_t len, char (*names)[DNS_NAME_MAX + 1],
		    size_t max, size_t *n, uint32_t *ttl, char *err, size_t errlen);

/* Random order among hosts of equal preference (hosts already sorted by
 * preference), as RFC 5321 5.1 asks.  rnd(bound) returns 0..bound-1;
 * NULL uses arc4random_uniform. */
typedef uint32_t dns_rnd_fn(uint32_t bound, void *arg);
void		dns_mx_shuffle(struct dns_host *hosts, size_t n, dns_rnd_fn *rnd, void *arg);

/* "192.0.2.1" -> "1.2.0.192.<zone>" (zone NULL: in-addr.arpa / ip6.arpa,
 * IPv6 in nibbles).  0, or -1 when ip is not an address or out is short. */
int		dns_reverse_name(const char *ip, const char *zone, char *out, size_t outlen);

const char	*dns_status_str(enum dns_status st);

/* ---- 2. blocking resolution ---- */

struct dns_options {
	const char	*nameserver;	/* NULL: /etc/resolv.conf */
	uint16_t	 port;		/* 0: 53 */
	unsigned	 timeout;	/* seconds per try, 0: 5 */
	unsigned	 retries;	/* tries per nameserver, 0: 2 */
	/* The config's dns.servers ("IP", "IP:port", "[IPv6]:port"); when
	 * given they replace nameserver/port.  ldns has one port for all its
	 * servers, so every entry must name the same port. */
	char *const	*servers;
	size_t		 nservers;
};

/* "IP", "IP:port" or "[IPv6]:port" -> host and port (0 when absent).
 * 0, or -1 when it is none of those. */
int		dns_server_parse(const char *s, char *host, size_t hostlen, uint16_t *port);

/* A query backend: answers (name, qtype) with a wire-format packet in
 * fresh memory (*wire, freed by the caller), or -1 and err on a network
 * failure or timeout.  Called from thread-pool threads.  Tests use it to
 * script answers; dns_resolver_new() uses ldns. */
typedef int dns_query_fn(void *arg, const char *name, uint16_t qtype, unsigned char **wire,
    size_t *len, char *err, size_t errlen);

struct dns_resolver;

/* Reads /etc/resolv.conf (or uses opt->nameserver); call before chroot. */
struct dns_resolver	*dns_resolver_new(const struct dns_options *opt, char *err, size_t errlen);
struct dns_resolver	*dns_resolver_new_fn(dns_query_fn *fn, void *arg);
void			 dns_resolver_free(struct dns_resolver *r);
/* 1 if name is one we send in a query: 1..253 printable octets in labels
 * of 1..63 (one trailing dot allowed), no character ldns's text form
 * treats specially. */
int			 dns_name_valid(const char *name);
/* The ldns resolver a dns_resolver_new() resolver clones its workers
 * from (for lib/dane, which clones it too), or NULL for a script
 * backend.  Read-only: never query or change it. */
struct ldns_struct_resolver *dns_resolver_ldns(struct dns_resolver *r);
/* Servers the resolver asks (0 for a scripted backend). */
size_t			 dns_resolver_nameservers(const struct dns_resolver *r);

/* Fills out (release with dns_result_clear).  name: a domain (MX, ADDR,
 * A) or an address (PTR).  Thread-safe. */
void	dns_resolve(struct dns_resolver *r, enum dns_kind kind, const char *name,
	    struct dns_result *out);
void	dns_result_clear(struct dns_result *res);
/* Deep copy (dst is overwritten). */
void	dns_result_copy(struct dns_result *dst, const struct dns_result *src);

/* ---- 3. asynchronous lookups with cache ---- */

struct dns_ctx;
struct dns_req;
/* res is valid during the callback only. */
typedef void dns_cb(const struct dns_result *res, void *arg);

struct dns_stats {
	uint64_t	lookups;	/* dns_lookup calls */
	uint64_t	cache_hits;
	uint64_t	shared;		/* joined a query already in flight */
	uint64_t	queries;	/* resolutions run on the thread pool */
	uint64_t	timeouts;
	/* dnsstatus (spec 2.12), per cache lookup: */
	uint64_t	cache_misses;	/* no usable entry (absent or expired) */
	uint64_t	cache_negative;	/* hit on an NXDOMAIN/NODATA/null MX entry */
	uint64_t	cache_expired;	/* entry found past its TTL */
	size_t		cached;		/* entries now */
	size_t		in_flight;
};

/* The resolver is borrowed (free it after dns_ctx_free). */
struct dns_ctx	*dns_ctx_new(uv_loop_t *loop, struct dns_resolver *r, uint32_t timeout_sec);
void		 dns_ctx_set_timeout(struct dns_ctx *ctx, uint32_t timeout_sec);
/* Never calls cb before returning.  The request is owned by ctx and is
 * gone after cb returns or dns_cancel(). */
struct dns_req	*dns_lookup(struct dns_ctx *ctx, enum dns_kind kind, const char *name,
		    dns_cb *cb, void *arg);
/* The callback will not be called. */
void		 dns_cancel(struct dns_req *req);
/* Forgets cached answers for name, every kind (NULL or "": everything). */
void		 dns_flush(struct dns_ctx *ctx, const char *name);
void		 dns_get_stats(const struct dns_ctx *ctx, struct dns_stats *st);
/* A copy of the cached answer for (kind, name), expired or not, without
 * counting it as a lookup (hoststatus).  0 and *out (dns_result_clear it)
 * with the milliseconds it has left (0 when expired), or -1. */
int		 dns_cache_peek(struct dns_ctx *ctx, enum dns_kind kind, const char *name,
		    struct dns_result *out, uint64_t *ms_left);
/* Cancels every request and closes the loop handles; queries still on
 * the thread pool finish in the background (run the loop until it is
 * empty before uv_loop_close). */
void		 dns_ctx_free(struct dns_ctx *ctx);

#endif
