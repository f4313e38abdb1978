/*
 * tls_name - is the server we talk to the one we meant?  Server identity
 * checks for deliver's verify modes (spec tls-with-other-mtas.md 3.3):
 * RFC 6125 name matching of reference identities against a certificate,
 * and chain verification against a trust store.
 *
 * Presented identities: the certificate's subjectAltName dNSName entries
 * (DNS-IDs) and its subject CNs.  Rule A (the spec's "Verify") accepts a
 * match of either, CN next to SANs included (spec 3.3 2a/2b: the CN may
 * name the MX host or the recipient domain), and a SAN may match either
 * reference identity (the spec's own recommendation over its literal
 * text).  Rule B ("Verify Hosted Domains") is RFC 6125 6.4.4: DNS-IDs
 * only, the CN looked at only when the certificate has no dNSName at all,
 * so a CN never rescues a certificate whose SANs list other names.
 *
 * Matching (RFC 6125 6.4.1, 6.4.3): ASCII case-insensitive, one trailing
 * dot ignored on either side, a wildcard only as the whole left-most
 * label of a presented name with at least two labels after it
 * ("*.example.com" matches "a.example.com", never "example.com",
 * "a.b.example.com"; "f*o.example.com", "*.com" and "a.*.example.com"
 * match nothing; no public suffix list is consulted, so "*.co.uk" is
 * taken as written).  Internationalised names are compared in A-label
 * ("xn--") form as plain ASCII; the caller converts U-labels first (a
 * reference identity with non-ASCII bytes matches nothing).  IP-IDs are
 * not handled: SMTP verification is by name.
 *
 * Rules (spec 3.3):
 *   TLS_NAME_VERIFY  rule A (preferred-verify, required-verify): any
 *                    reference identity may match a SAN or a CN.
 *   TLS_NAME_HOSTED  rule B (required-verify-hosted): SANs first as
 *                    above, and only reference identities that an attacker
 *                    on the DNS path cannot choose count: the recipient
 *                    domain and host names from the operator's config;
 *                    an MX host name from an insecure lookup is ignored.
 *
 * Not for: loading certificates from disk (tls_cert.h), deciding what to
 * do with the result (tls_policy.h), DANE TLSA matching.
 */
#ifndef SP_TLS_NAME_H
#define SP_TLS_NAME_H
#include <stddef.h>

#include <openssl/x509.h>

#define TLS_NAME_WHY_MAX	512

enum tls_refid_kind {
	TLS_REFID_DOMAIN,	/* the recipient (destination) domain */
	TLS_REFID_MX,		/* a host name learned from an MX lookup */
	TLS_REFID_STATIC,	/* a host name the operator configured (smtp_routes) */
};

struct tls_refid {
	const char		*name;
	enum tls_refid_kind	 kind;
};

enum tls_name_rule {
	TLS_NAME_VERIFY,	/* spec 3.3 rule A */
	TLS_NAME_HOSTED,	/* spec 3.3 rule B */
};

/* 1 if the presented name (a DNS-ID or CN, possibly a wildcard) matches
 * the reference identity, else 0.  Lengths are explicit because
 * certificate strings may hold NUL bytes (which never match). */
int	tls_name_match(const char *presented, size_t plen, const char *refid);

/* Checks the certificate against the reference identities under a rule.
 * Returns 1 on a match (why: which name matched which identity), 0 if
 * none matches (why: what was presented and what was wanted). */
int	tls_name_check(X509 *cert, const struct tls_refid *refs, size_t nrefs,
	    enum tls_name_rule rule, char *why, size_t whylen);

/* A trust store: the system list (use_system; bundle is a PEM file, NULL
 * for OpenSSL's default paths) and/or a custom PEM list of CA
 * certificates (custom_pem, NULL for none).  NULL with why set if a file
 * cannot be read or the custom list holds no certificate. */
/* Adds every PEM certificate bio holds to store; returns how many. */
int	tls_trust_add_pem(X509_STORE *store, BIO *bio);
X509_STORE *tls_trust_store_new(int use_system, const char *bundle,
	    const char *custom_pem, char *why, size_t whylen);

/* Verifies leaf with the untrusted intermediates the server sent (may be
 * NULL) against store, with the checks of a TLS client (purpose
 * "ssl_server": dates, CA:TRUE on issuers, path length, key usage).
 * Returns 1 if the chain leads to a trusted CA, 0 with why set ("certificate
 * has expired (depth 1, CN=Example CA)") if not. */
int	tls_chain_verify(X509_STORE *store, X509 *leaf,
	    STACK_OF(X509) *untrusted, char *why, size_t whylen);

#endif
