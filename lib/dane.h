/*
 * dane - DANE for outbound SMTP (RFC 7672, RFC 6698/7671): TLSA records
 * of an MX host, validated with DNSSEC by us, and applied to an OpenSSL
 * client connection.
 *
 * Three parts:
 *
 *  1. Trust anchors (dane_anchors_load): DS and/or DNSKEY records in
 *     zone-file text, like unbound's trust-anchor file.  The text comes
 *     from memory: the daemons chroot and get file contents over IPC.
 *
 *  2. Validated lookups (dane_lookup, dane_lookup_mx_secure): blocking,
 *     so only ever called from the libuv thread pool (or a test).  The
 *     caller's ldns resolver (dns.c's, set up before the chroot) is cloned
 *     for each call, so calls in several threads share nothing; the clone
 *     asks with the DO bit and the CD bit (a validating upstream resolver
 *     must hand us bogus data rather than SERVFAIL, so that we can tell
 *     bogus from unreachable).  The answer is validated here, from the
 *     closest trust anchor above the name down to the name, with ldns's
 *     own verification functions (see dane.c): every signature, key and
 *     denial of existence checked by ldns_verify,
 *     ldns_dnssec_verify_denial and ldns_dnssec_verify_denial_nsec3.
 *     One CNAME chain of up to DANE_MAX_CNAME links is followed, each
 *     link validated.  Wildcard answers are accepted only with an NSEC
 *     proof that the name itself does not exist (not with NSEC3).  NSEC3
 *     opt-out spans cannot prove an insecure delegation: such names come
 *     out DANE_BOGUS rather than DANE_INSECURE.
 *
 *  3. Applying records (dane_apply) to an SSL object with OpenSSL's own
 *     DANE support: SSL_dane_enable and SSL_dane_tlsa_add.  Only DANE-TA(2)
 *     and DANE-EE(3) records are usable for SMTP (RFC 7672 3.1); PKIX-TA(0)
 *     and PKIX-EE(1) are counted as unusable.  Names are not checked for
 *     DANE-EE(3) (RFC 7672 3.1.1).
 *
 * After the handshake, SSL_get_verify_result() is X509_V_OK and
 * SSL_get0_dane_authority() >= 0 when the peer matched a TLSA record.
 * dane_apply does not change the verify mode: with SSL_VERIFY_PEER a
 * mismatch fails the handshake, with SSL_VERIFY_NONE it completes and the
 * two calls above tell.
 *
 * Classification (what tls_policy.h's enum tls_dane_fact is made of):
 *   DANE_SECURE_TLSA  validated TLSA records (some may be unusable)
 *   DANE_SECURE_NONE  validated denial: no TLSA records / no such name
 *   DANE_INSECURE     no trust anchor above the name, or a validated
 *                     insecure delegation (unsigned zone): no DANE
 *   DANE_BOGUS        signatures, keys or denial proofs that fail
 *   DANE_TEMPFAIL     SERVFAIL, REFUSED, timeout, network error
 *
 * Not for: the TLS policy decision (tls_policy.h), certificate name
 * checks for non-DANE connections (tls_name.h), caching (callers cache
 * by the records' TTL if they want), or DNSSEC for other lookups.
 */
#ifndef SP_DANE_H
#define SP_DANE_H
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>
#include <openssl/ssl.h>

#define DANE_TLSA_DATA_MAX	2048	/* larger records are skipped (counted) */
#define DANE_TLSA_MAX		16	/* records kept per answer */
#define DANE_ERR_MAX		256
#define DANE_NAME_MAX		255	/* text form, no trailing dot */
#define DANE_ANCHORS_TEXT_MAX	65536	/* anchor text, bytes */
#define DANE_ANCHORS_MAX	64	/* records in an anchor set */
#define DANE_MAX_QUERIES	48	/* DNS queries per lookup, chain included */
#define DANE_MAX_CNAME		4

enum dane_status {
	DANE_SECURE_TLSA = 0,
	DANE_SECURE_NONE,
	DANE_INSECURE,
	DANE_BOGUS,
	DANE_TEMPFAIL,
};

struct dane_tlsa {
	uint8_t		usage, selector, mtype;
	size_t		len;
	unsigned char	data[DANE_TLSA_DATA_MAX];
};

struct dane_result {
	enum dane_status status;
	char		 name[DANE_NAME_MAX + 1];	/* "_25._tcp.mx.example" */
	uint32_t	 ttl;			/* lowest TTL of the TLSA RRset */
	size_t		 ntlsa;
	size_t		 skipped;		/* records over a bound or malformed */
	struct dane_tlsa tlsa[DANE_TLSA_MAX];
	char		 error[DANE_ERR_MAX];	/* why, for the log; "" when all is well */
};

struct dane_anchors;

/* DS and DNSKEY records (class IN) in zone-file text: $ORIGIN, $TTL,
 * comments and parentheses allowed, any other record type is an error.
 * NULL with err when the text is empty, holds no anchor, has a syntax
 * error, or is over the bounds above. */
struct dane_anchors	*dane_anchors_load(const char *text, size_t len, char *err,
			    size_t errlen);
void			 dane_anchors_free(struct dane_anchors *ta);
size_t			 dane_anchors_count(const struct dane_anchors *ta);

/* TLSA records of _<port>._tcp.<host>, validated; out->status says what
 * was found.  0, or -1 for an unusable host name (out->status is then
 * DANE_TEMPFAIL with the reason).  res is only cloned, never changed.
 * Blocking: thread pool only.  out is large (~33 KiB): do not put it on
 * a small stack. */
int	dane_lookup(ldns_resolver *res, const struct dane_anchors *ta, const char *host,
	    uint16_t port, struct dane_result *out);

/* Whether domain's MX RRset validates (RFC 7672 2.2.1: DANE applies only
 * to MX hosts from a secure MX lookup).  Returns the status of the MX
 * lookup (DANE_SECURE_TLSA here means: validated MX records); *secure is
 * 1 only for that.  A validated denial (DANE_SECURE_NONE) is secure too,
 * but then there are no MX hosts to speak of: *secure is 0. */
enum dane_status dane_lookup_mx_secure(ldns_resolver *res, const struct dane_anchors *ta,
		    const char *domain, int *secure, char *err, size_t errlen);

const char	*dane_status_str(enum dane_status st);

/* SSL_CTX_dane_enable(): call once on every client SSL_CTX whose
 * connections may use dane_apply.  0, or -1. */
int	dane_ctx_enable(SSL_CTX *ctx);

/* Before the handshake: when r is DANE_SECURE_TLSA, enables DANE on ssl
 * with base_domain as the reference name (the MX host; also the SNI
 * name) and adds every usable record.  Returns how many were usable
 * (0: none, DANE left off, err says why), or -1 with err on an OpenSSL
 * failure (e.g. the SSL_CTX was not dane_ctx_enable()d). */
int	dane_apply(SSL *ssl, const char *base_domain, const struct dane_result *r, char *err,
	    size_t errlen);

#endif
