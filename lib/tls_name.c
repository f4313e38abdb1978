/*
 * tls_name - server identity checks (see tls_name.h for the rules).
 *
 * Names from a certificate are hostile input: they may hold NUL bytes,
 * be of any length, or be in any ASN.1 string type.  Every name is
 * checked for length and characters before it is compared, and compared
 * in bounded local buffers.  Nothing here allocates except what OpenSSL
 * returns, which is freed before return.
 *
 * Not for: policy (tls_policy.c), certificate storage (tls_cert.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls_name.h"

#define NAME_MAX_LEN	253	/* RFC 1035 2.3.4, without the trailing dot */
#define WHY_LIST_MAX	8	/* presented names shown in a failure */

/* Appends to a bounded, NUL-terminated message; cuts silently. */
static void
why_add(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	size_t used;

	if (why == NULL || whylen == 0)
		return;
	used = strnlen(why, whylen);
	if (used + 1 >= whylen)
		return;
	va_start(ap, fmt);
	vsnprintf(why + used, whylen - used, fmt, ap);
	va_end(ap);
}

/*
 * Copies a name into out (NAME_MAX_LEN + 1 bytes) without one trailing
 * dot and checks it: ASCII letters, digits, '-', '_', dots between
 * non-empty labels, and '*' where allow_star permits.  Returns the length,
 * or 0 if the name is unusable.
 */
static size_t
name_prepare(const char *in, size_t len, char *out, int allow_star)
{
	size_t i, label;

	if (len > 0 && in[len - 1] == '.')
		len--;
	if (len == 0 || len > NAME_MAX_LEN)
		return 0;
	label = 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '.') {
			if (label == 0)
				return 0;	/* empty label */
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    (c == '*' && allow_star))
			label++;
		else
			return 0;	/* NUL, non-ASCII, space, ... */
		out[i] = (char)c;
	}
	if (label == 0)
		return 0;
	out[len] = '\0';
	return len;
}

int
tls_name_match(const char *presented, size_t plen, const char *refid)
{
	char p[NAME_MAX_LEN + 2], r[NAME_MAX_LEN + 2];
	const char *rdot, *prest;

	if (presented == NULL || refid == NULL)
		return 0;
	if (name_prepare(presented, plen, p, 1) == 0 ||
	    name_prepare(refid, strlen(refid), r, 0) == 0)
		return 0;
	if (strchr(p, '*') == NULL)
		return strcasecmp(p, r) == 0;

	/* A wildcard: only "*.<two or more labels>", nothing else. */
	if (p[0] != '*' || p[1] != '.')
		return 0;
	prest = p + 2;
	if (strchr(prest, '*') != NULL || strchr(prest, '.') == NULL)
		return 0;
	/* "*" stands for exactly one whole, non-empty left-most label. */
	rdot = strchr(r, '.');
	if (rdot == NULL || rdot == r)
		return 0;
	return strcasecmp(rdot + 1, prest) == 0;
}

static const char *
kind_text(enum tls_refid_kind k)
{
	switch (k) {
	case TLS_REFID_DOMAIN:	return "domain";
	case TLS_REFID_MX:	return "MX host";
	case TLS_REFID_STATIC:	return "configured host";
	}
	return "?";
}

static int
refid_usable(const struct tls_refid *ref, enum tls_name_rule rule)
{
	if (ref->name == NULL || ref->name[0] == '\0')
		return 0;
	/* Rule B: a name from an insecure MX answer is the attacker's. */
	if (rule == TLS_NAME_HOSTED && ref->kind == TLS_REFID_MX)
		return 0;
	return 1;
}

/* Tries one presented name against every usable reference identity. */
static int
match_refs(const char *pres, size_t plen, const struct tls_refid *refs,
    size_t nrefs, enum tls_name_rule rule, const char *what, char *why,
    size_t whylen)
{
	size_t i;

	for (i = 0; i < nrefs; i++) {
		if (!refid_usable(&refs[i], rule))
			continue;
		if (tls_name_match(pres, plen, refs[i].name)) {
			if (why != NULL && whylen > 0) {
				why[0] = '\0';
				why_add(why, whylen, "%s %.*s matches %s (%s)",
				    what, (int)(plen > NAME_MAX_LEN + 1 ?
				    NAME_MAX_LEN + 1 : plen), pres,
				    refs[i].name, kind_text(refs[i].kind));
			}
			return 1;
		}
	}
	return 0;
}

/* Shows a presented name in a message without its NULs or controls. */
static void
why_add_shown(char *why, size_t whylen, const unsigned char *s, size_t len)
{
	char tmp[64];
	size_t i, n;

	n = len < sizeof tmp - 1 ? len : sizeof tmp - 1;
	for (i = 0; i < n; i++)
		tmp[i] = (s[i] < 0x20 || s[i] >= 0x7f) ? '?' : (char)s[i];
	tmp[n] = '\0';
	why_add(why, whylen, "%s%s", tmp, len > n ? "..." : "");
}

static void
why_add_wanted(char *why, size_t whylen, const struct tls_refid *refs,
    size_t nrefs, enum tls_name_rule rule)
{
	size_t i, skipped = 0;
	int first = 1;

	for (i = 0; i < nrefs; i++) {
		if (!refid_usable(&refs[i], rule)) {
			skipped += refs[i].kind == TLS_REFID_MX;
			continue;
		}
		why_add(why, whylen, "%s%s (%s)", first ? "" : ", ",
		    refs[i].name, kind_text(refs[i].kind));
		first = 0;
	}
	if (skipped > 0)
		why_add(why, whylen, "; MX host names are not trusted under "
		    "required-verify-hosted");
}

int
tls_name_check(X509 *cert, const struct tls_refid *refs, size_t nrefs,
    enum tls_name_rule rule, char *why, size_t whylen)
{
	GENERAL_NAMES *gens;
	X509_NAME *subj;
	size_t i, usable, ndns;
	int n, idx, matched = 0;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	for (i = 0, usable = 0; i < nrefs; i++)
		usable += (size_t)refid_usable(&refs[i], rule);
	if (usable == 0) {
		why_add(why, whylen, "no reference identity to check%s",
		    rule == TLS_NAME_HOSTED ? " (required-verify-hosted does "
		    "not trust host names from MX lookups)" : "");
		return 0;
	}
	if (cert == NULL) {
		why_add(why, whylen, "no server certificate");
		return 0;
	}

	/* DNS-IDs first (RFC 6125 6.4.4). */
	ndns = 0;
	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	n = gens != NULL ? sk_GENERAL_NAME_num(gens) : 0;
	for (idx = 0; idx < n && !matched; idx++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, idx);
		const unsigned char *s;

		if (g->type != GEN_DNS)
			continue;
		ndns++;
		s = ASN1_STRING_get0_data(g->d.dNSName);
		matched = match_refs((const char *)s,
		    (size_t)ASN1_STRING_length(g->d.dNSName), refs, nrefs,
		    rule, "subjectAltName DNS name", why, whylen);
	}
	if (!matched && ndns > 0) {
		why_add(why, whylen, "no subjectAltName DNS name (");
		for (idx = 0, i = 0; idx < n; idx++) {
			const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, idx);

			if (g->type != GEN_DNS)
				continue;
			if (i == WHY_LIST_MAX) {
				why_add(why, whylen, ", ...");
				break;
			}
			if (i++ > 0)
				why_add(why, whylen, ", ");
			why_add_shown(why, whylen,
			    ASN1_STRING_get0_data(g->d.dNSName),
			    (size_t)ASN1_STRING_length(g->d.dNSName));
		}
		why_add(why, whylen, ") matches ");
		why_add_wanted(why, whylen, refs, nrefs, rule);
	}
	GENERAL_NAMES_free(gens);
	if (matched || (ndns > 0 && rule == TLS_NAME_HOSTED))
		return matched;

	/* Rule B (RFC 6125 6.4.4): the subject CNs only without any DNS-ID.
	 * Rule A (spec 3.3, 2a-2b): the CN may match as well. */
	subj = X509_get_subject_name(cert);
	idx = -1;
	i = 0;
	while (!matched &&
	    (idx = X509_NAME_get_index_by_NID(subj, NID_commonName, idx)) >= 0) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(subj, idx);
		unsigned char *u = NULL;
		int ulen;

		ulen = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e));
		if (ulen < 0)
			continue;
		i++;
		matched = match_refs((const char *)u, (size_t)ulen, refs,
		    nrefs, rule, ndns > 0 ? "subject CN" :
		    "subject CN (no subjectAltName DNS names)", why, whylen);
		if (!matched) {
			why_add(why, whylen, "%s", i > 1 ? ", " : ndns > 0 ?
			    "; subject CN " : "no subjectAltName DNS names and subject CN ");
			why_add_shown(why, whylen, u, (size_t)ulen);
		}
		OPENSSL_free(u);
	}
	if (!matched) {
		if (i == 0 && ndns > 0) {
			why_add(why, whylen, "; no subject CN");
			return 0;
		}
		if (i == 0)
			why_add(why, whylen, "no subjectAltName DNS names and "
			    "no subject CN");
		why_add(why, whylen, " does not match ");
		why_add_wanted(why, whylen, refs, nrefs, rule);
	}
	return matched;
}

int
tls_trust_add_pem(X509_STORE *store, BIO *bio)
{
	X509 *x;
	int n = 0;

	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error();	/* the PEM reader's end-of-data "error" */
	return n;
}

X509_STORE *
tls_trust_store_new(int use_system, const char *bundle,
    const char *custom_pem, char *why, size_t whylen)
{
	X509_STORE *store;
	BIO *bio;
	int count;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if ((store = X509_STORE_new()) == NULL) {
		why_add(why, whylen, "out of memory");
		return NULL;
	}
	if (use_system) {
		int rc = bundle != NULL ? X509_STORE_load_file(store, bundle) :
		    X509_STORE_set_default_paths(store);
		if (rc != 1) {
			why_add(why, whylen, "cannot load the system CA list%s%s",
			    bundle != NULL ? " " : "", bundle != NULL ? bundle : "");
			goto fail;
		}
	}
	if (custom_pem != NULL) {
		if ((bio = BIO_new_file(custom_pem, "r")) == NULL) {
			why_add(why, whylen, "cannot read the custom CA list %s",
			    custom_pem);
			goto fail;
		}
		count = tls_trust_add_pem(store, bio);
		BIO_free(bio);
		if (count == 0) {
			why_add(why, whylen, "no certificate in the custom CA list %s",
			    custom_pem);
			goto fail;
		}
	}
	ERR_clear_error();	/* the PEM reader's end-of-file "error" */
	return store;
fail:
	ERR_clear_error();
	X509_STORE_free(store);
	return NULL;
}

static void
why_add_subject(char *why, size_t whylen, X509 *x)
{
	X509_NAME *nm;
	int idx;
	char buf[256];
	BIO *bio;
	int len;

	if (x == NULL) {
		why_add(why, whylen, "no certificate");
		return;
	}
	nm = X509_get_subject_name(x);
	idx = X509_NAME_get_index_by_NID(nm, NID_commonName, -1);
	if (idx >= 0) {
		unsigned char *u = NULL;
		int ulen = ASN1_STRING_to_UTF8(&u,
		    X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, idx)));

		if (ulen >= 0) {
			why_add(why, whylen, "CN=");
			why_add_shown(why, whylen, u, (size_t)ulen);
			OPENSSL_free(u);
			return;
		}
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return;
	X509_NAME_print_ex(bio, nm, 0, XN_FLAG_RFC2253);
	len = BIO_read(bio, buf, (int)sizeof buf - 1);
	buf[len > 0 ? len : 0] = '\0';
	BIO_free(bio);
	why_add_shown(why, whylen, (const unsigned char *)buf, strlen(buf));
}

int
tls_chain_verify(X509_STORE *store, X509 *leaf, STACK_OF(X509) *untrusted,
    char *why, size_t whylen)
{
	X509_STORE_CTX *ctx;
	int rc, err;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (store == NULL || leaf == NULL) {
		why_add(why, whylen, store == NULL ? "no trust store" :
		    "no server certificate");
		return 0;
	}
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1 ||
	    X509_STORE_CTX_set_default(ctx, "ssl_server") != 1) {
		why_add(why, whylen, "cannot set up verification");
		X509_STORE_CTX_free(ctx);
		ERR_clear_error();
		return 0;
	}
	rc = X509_verify_cert(ctx);
	if (rc != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		why_add(why, whylen, "%s (depth %d, ",
		    X509_verify_cert_error_string(err),
		    X509_STORE_CTX_get_error_depth(ctx));
		why_add_subject(why, whylen, X509_STORE_CTX_get_current_cert(ctx));
		why_add(why, whylen, ")");
	}
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	return rc == 1;
}
