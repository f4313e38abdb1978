/*
 * dane - TLSA lookups validated with DNSSEC, and OpenSSL DANE (see dane.h).
 *
 * Validation, for a name N and a type T:
 *   1. the anchor zone A: the deepest trust-anchor owner at or above N
 *      (none: DANE_INSECURE);
 *   2. the question N/T, with DO and CD;
 *   3. the chain of trust from A down to N (walk()): A's DNSKEY RRset must
 *      contain a key matching an anchor (ldns_rr_compare_ds) and be signed
 *      by it (ldns_verify); then, label by label below A, a DS query: a DS
 *      RRset signed by the current zone's keys is a zone cut (its DNSKEY
 *      RRset must hold a key matching a DS and be signed by it, and becomes
 *      the current zone); a validated NSEC/NSEC3 denial of the DS
 *      (ldns_dnssec_verify_denial, ldns_dnssec_verify_denial_nsec3_match)
 *      at a name with NS and without SOA is an insecure delegation
 *      (DANE_INSECURE); any other validated denial means "no cut here";
 *      anything unproven is DANE_BOGUS;
 *   4. the answer against the keys of the zone that holds N (the deepest
 *      zone the walk reached): the RRset's RRSIGs by that zone
 *      (ldns_verify, which also checks the validity period), or the
 *      NSEC/NSEC3 records (each verified with ldns_verify, all signed by
 *      that zone, so that a parent-side NSEC cannot deny names below a
 *      cut) proving that N/T does not exist.
 *
 * Why not ldns_verify_trusted / ldns_fetch_valid_domain_keys: they cannot
 * tell a network failure from a bogus chain, do not prove insecure
 * delegations, do not check that the signer is the zone holding the name,
 * and walk past the anchor towards the root when a key set fails.  The
 * walk here uses the same ldns primitives they do.
 *
 * Not for: caching, iterative resolution (the resolver must be
 * recursive), DLV, NSEC3 opt-out.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldns/ldns.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "dane.h"
#include "dns.h"

struct dane_anchors {
	ldns_rr_list	*rrs;	/* DS and DNSKEY, class IN */
};

struct vctx {
	ldns_resolver			*res;	/* our clone: DO, CD */
	const struct dane_anchors	*ta;
	unsigned			 queries;
	char				 err[DANE_ERR_MAX];
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *
dane_status_str(enum dane_status st)
{
	switch (st) {
	case DANE_SECURE_TLSA:	return "secure";
	case DANE_SECURE_NONE:	return "secure-none";
	case DANE_INSECURE:	return "insecure";
	case DANE_BOGUS:	return "bogus";
	case DANE_TEMPFAIL:	return "tempfail";
	}
	return "?";
}

/* ------------------------------------------------------------------ */
/* trust anchors                                                       */
/* ------------------------------------------------------------------ */

struct dane_anchors *
dane_anchors_load(const char *text, size_t len, char *err, size_t errlen)
{
	struct dane_anchors *ta;
	ldns_rdf *origin = NULL, *prev = NULL;
	uint32_t ttl = 3600;
	int line = 1;
	FILE *fp;

	if (text == NULL || len == 0) {
		errf(err, errlen, "no trust anchors (empty text)");
		return NULL;
	}
	if (len > DANE_ANCHORS_TEXT_MAX) {
		errf(err, errlen, "trust anchor text over %d bytes", DANE_ANCHORS_TEXT_MAX);
		return NULL;
	}
	if (memchr(text, '\0', len) != NULL) {
		errf(err, errlen, "trust anchor text holds a NUL byte");
		return NULL;
	}
	if ((fp = fmemopen((void *)(uintptr_t)text, len, "r")) == NULL) {
		errf(err, errlen, "fmemopen failed");
		return NULL;
	}
	if ((ta = calloc(1, sizeof *ta)) == NULL || (ta->rrs = ldns_rr_list_new()) == NULL) {
		free(ta);
		fclose(fp);
		errf(err, errlen, "out of memory");
		return NULL;
	}
	for (;;) {
		ldns_rr *rr = NULL;
		ldns_status st;
		int at = line;

		if (feof(fp))
			break;
		st = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin, &prev, &line);
		if (st == LDNS_STATUS_SYNTAX_EMPTY || st == LDNS_STATUS_SYNTAX_TTL ||
		    st == LDNS_STATUS_SYNTAX_ORIGIN) {
			ldns_rr_free(rr);
			continue;
		}
		if (st != LDNS_STATUS_OK) {
			ldns_rr_free(rr);
			errf(err, errlen, "trust anchors, line %d: %s", at,
			    ldns_get_errorstr_by_id(st));
			goto fail;
		}
		if ((ldns_rr_get_type(rr) != LDNS_RR_TYPE_DS &&
		    ldns_rr_get_type(rr) != LDNS_RR_TYPE_DNSKEY) ||
		    ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
			char *t = ldns_rr_type2str(ldns_rr_get_type(rr));

			errf(err, errlen, "trust anchors, line %d: %s is not a DS or DNSKEY record",
			    at, t ? t : "?");
			free(t);
			ldns_rr_free(rr);
			goto fail;
		}
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY &&
		    (ldns_rr_rd_count(rr) < 4 ||
		    (ldns_rdf2native_int16(ldns_rr_rdf(rr, 0)) & LDNS_KEY_ZONE_KEY) == 0)) {
			errf(err, errlen, "trust anchors, line %d: DNSKEY is not a zone key", at);
			ldns_rr_free(rr);
			goto fail;
		}
		if (ldns_rr_list_rr_count(ta->rrs) >= DANE_ANCHORS_MAX) {
			errf(err, errlen, "more than %d trust anchors", DANE_ANCHORS_MAX);
			ldns_rr_free(rr);
			goto fail;
		}
		ldns_rr_list_push_rr(ta->rrs, rr);
	}
	fclose(fp);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	if (ldns_rr_list_rr_count(ta->rrs) == 0) {
		errf(err, errlen, "no trust anchors (no DS or DNSKEY record)");
		dane_anchors_free(ta);
		return NULL;
	}
	return ta;
fail:
	fclose(fp);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	dane_anchors_free(ta);
	return NULL;
}

void
dane_anchors_free(struct dane_anchors *ta)
{
	if (ta == NULL)
		return;
	ldns_rr_list_deep_free(ta->rrs);
	free(ta);
}

size_t
dane_anchors_count(const struct dane_anchors *ta)
{
	return ta ? ldns_rr_list_rr_count(ta->rrs) : 0;
}

/* ------------------------------------------------------------------ */
/* names and packets                                                   */
/* ------------------------------------------------------------------ */

static int
name_eq(const ldns_rdf *a, const ldns_rdf *b)
{
	return ldns_dname_compare(a, b) == 0;
}

/* n is z or below it. */
static int
name_at_or_below(const ldns_rdf *n, const ldns_rdf *z)
{
	return name_eq(n, z) || ldns_dname_is_subdomain(n, z);
}


static void
name_text(const ldns_rdf *n, char *out, size_t outlen)
{
	char *s = ldns_rdf2str(n);
	size_t l;

	snprintf(out, outlen, "%s", s ? s : "?");
	free(s);
	l = strlen(out);
	if (l > 1 && out[l - 1] == '.')
		out[l - 1] = '\0';
}

static const char *
type_text(ldns_rr_type t, char *buf, size_t len)
{
	char *s = ldns_rr_type2str(t);

	snprintf(buf, len, "%s", s ? s : "?");
	free(s);
	return buf;
}

/* Records of a section with this owner (NULL: any) and type, cloned. */
static ldns_rr_list *
section_rrs(const ldns_pkt *p, ldns_pkt_section sec, const ldns_rdf *owner, ldns_rr_type t)
{
	ldns_rr_list *in = ldns_pkt_get_section_clone(p, sec), *out = ldns_rr_list_new();
	size_t i;

	for (i = 0; in && i < ldns_rr_list_rr_count(in); i++) {
		ldns_rr *rr = ldns_rr_list_rr(in, i);

		if (ldns_rr_get_type(rr) == t && ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
		    (owner == NULL || name_eq(ldns_rr_owner(rr), owner)))
			ldns_rr_list_push_rr(out, ldns_rr_clone(rr));
	}
	ldns_rr_list_deep_free(in);
	return out;
}

/* RRSIGs of a section over (owner, covered) made by signer (NULL: any). */
static ldns_rr_list *
section_sigs(const ldns_pkt *p, ldns_pkt_section sec, const ldns_rdf *owner,
    ldns_rr_type covered, const ldns_rdf *signer)
{
	ldns_rr_list *all = section_rrs(p, sec, owner, LDNS_RR_TYPE_RRSIG), *out = ldns_rr_list_new();
	size_t i;

	for (i = 0; i < ldns_rr_list_rr_count(all); i++) {
		ldns_rr *s = ldns_rr_list_rr(all, i);

		if (ldns_rr_rd_count(s) < 9 || ldns_rdf2rr_type(ldns_rr_rrsig_typecovered(s)) != covered)
			continue;
		if (signer != NULL && !name_eq(ldns_rr_rrsig_signame(s), signer))
			continue;
		ldns_rr_list_push_rr(out, ldns_rr_clone(s));
	}
	ldns_rr_list_deep_free(all);
	return out;
}

/* One question.  0 with *out (NOERROR or NXDOMAIN), or -1 with v->err. */
static int
query(struct vctx *v, const ldns_rdf *name, ldns_rr_type t, ldns_pkt **out)
{
	char n[DANE_NAME_MAX + 1], ty[16];
	ldns_pkt *p = NULL;
	ldns_status st;
	ldns_pkt_rcode rc;

	*out = NULL;
	name_text(name, n, sizeof n);
	type_text(t, ty, sizeof ty);
	if (++v->queries > DANE_MAX_QUERIES) {
		errf(v->err, sizeof v->err, "more than %d DNS queries", DANE_MAX_QUERIES);
		return -1;
	}
	st = ldns_resolver_send(&p, v->res, name, t, LDNS_RR_CLASS_IN, LDNS_RD);
	if (st != LDNS_STATUS_OK || p == NULL) {
		ldns_pkt_free(p);
		errf(v->err, sizeof v->err, "%s %s: %s", ty, n,
		    st != LDNS_STATUS_OK ? ldns_get_errorstr_by_id(st) : "no answer");
		return -1;
	}
	rc = ldns_pkt_get_rcode(p);
	if (rc != LDNS_RCODE_NOERROR && rc != LDNS_RCODE_NXDOMAIN) {
		ldns_lookup_table *lt = ldns_lookup_by_id(ldns_rcodes, (int)rc);

		errf(v->err, sizeof v->err, "%s %s: %s", ty, n, lt && lt->name ? lt->name : "bad rcode");
		ldns_pkt_free(p);
		return -1;
	}
	if (ldns_pkt_tc(p)) {
		errf(v->err, sizeof v->err, "%s %s: truncated answer", ty, n);
		ldns_pkt_free(p);
		return -1;
	}
	*out = p;
	return 0;
}

/* ------------------------------------------------------------------ */
/* validation                                                          */
/* ------------------------------------------------------------------ */

/* rrset signed by keys (ldns_verify: signature and validity period). */
static enum dane_status
verify_rrset(struct vctx *v, ldns_rr_list *rrset, ldns_rr_list *sigs, ldns_rr_list *keys,
    const char *what, const ldns_rdf *name)
{
	char n[DANE_NAME_MAX + 1];
	ldns_status st;

	if (ldns_rr_list_rr_count(sigs) == 0)
		st = LDNS_STATUS_CRYPTO_NO_RRSIG;
	else
		st = ldns_verify(rrset, sigs, keys, NULL);
	if (st == LDNS_STATUS_OK)
		return DANE_SECURE_TLSA;
	name_text(name, n, sizeof n);
	errf(v->err, sizeof v->err, "%s %s: %s", what, n, ldns_get_errorstr_by_id(st));
	return DANE_BOGUS;
}

/* The DNSKEY RRset of zone, trusted through one of `trusted` (DS or
 * DNSKEY records owned by zone).  DANE_SECURE_TLSA with *keys. */
static enum dane_status
zone_keys(struct vctx *v, const ldns_rdf *zone, const ldns_rr_list *trusted, ldns_rr_list **keys)
{
	ldns_rr_list *dnskeys, *sigs, *sep;
	enum dane_status st;
	ldns_pkt *p;
	size_t i, j;

	*keys = NULL;
	if (query(v, zone, LDNS_RR_TYPE_DNSKEY, &p) < 0)
		return DANE_TEMPFAIL;
	dnskeys = section_rrs(p, LDNS_SECTION_ANSWER, zone, LDNS_RR_TYPE_DNSKEY);
	sigs = section_sigs(p, LDNS_SECTION_ANSWER, zone, LDNS_RR_TYPE_DNSKEY, zone);
	ldns_pkt_free(p);
	sep = ldns_rr_list_new();
	for (i = 0; i < ldns_rr_list_rr_count(dnskeys); i++) {
		ldns_rr *k = ldns_rr_list_rr(dnskeys, i);

		if (ldns_rr_rd_count(k) < 4 ||
		    (ldns_rdf2native_int16(ldns_rr_rdf(k, 0)) & LDNS_KEY_ZONE_KEY) == 0)
			continue;
		for (j = 0; j < ldns_rr_list_rr_count(trusted); j++) {
			const ldns_rr *t = ldns_rr_list_rr(trusted, j);

			if (name_eq(ldns_rr_owner(t), zone) && ldns_rr_compare_ds(t, k)) {
				ldns_rr_list_push_rr(sep, ldns_rr_clone(k));
				break;
			}
		}
	}
	if (ldns_rr_list_rr_count(sep) == 0) {
		char n[DANE_NAME_MAX + 1];

		name_text(zone, n, sizeof n);
		errf(v->err, sizeof v->err, "DNSKEY %s: %s", n,
		    ldns_rr_list_rr_count(dnskeys) ? "no key matches the DS or trust anchor" :
		    "no DNSKEY records");
		st = DANE_BOGUS;
	} else
		st = verify_rrset(v, dnskeys, sigs, sep, "DNSKEY", zone);
	ldns_rr_list_deep_free(sep);
	ldns_rr_list_deep_free(sigs);
	if (st == DANE_SECURE_TLSA)
		*keys = dnskeys;
	else
		ldns_rr_list_deep_free(dnskeys);
	return st;
}

static ldns_rr *
question_rr(const ldns_rdf *name, ldns_rr_type t)
{
	ldns_rr *q = ldns_rr_new();

	ldns_rr_set_owner(q, ldns_rdf_clone(name));
	ldns_rr_set_type(q, t);
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	ldns_rr_set_question(q, true);
	return q;
}

/* The NSEC or NSEC3 records of p's authority section, each signed by
 * zone's keys, prove that name/t does not exist.  *match (may be NULL):
 * a clone of the record at name itself, when there is one. */
static enum dane_status
denial(struct vctx *v, const ldns_pkt *p, const ldns_rdf *name, ldns_rr_type t,
    const ldns_rdf *zone, ldns_rr_list *keys, ldns_rr **match)
{
	char n[DANE_NAME_MAX + 1], ty[16];
	ldns_rr_list *nsecs = section_rrs(p, LDNS_SECTION_AUTHORITY, NULL, LDNS_RR_TYPE_NSEC);
	ldns_rr_list *nsec3s = section_rrs(p, LDNS_SECTION_AUTHORITY, NULL, LDNS_RR_TYPE_NSEC3);
	ldns_rr_list *use = ldns_rr_list_rr_count(nsecs) ? nsecs : nsec3s;
	ldns_rr_type nt = use == nsecs ? LDNS_RR_TYPE_NSEC : LDNS_RR_TYPE_NSEC3;
	ldns_rr_list *allsigs = ldns_rr_list_new();
	enum dane_status st = DANE_SECURE_NONE;
	ldns_rr *q = NULL, *m = NULL;
	ldns_status ls;
	size_t i;

	if (match)
		*match = NULL;
	name_text(name, n, sizeof n);
	type_text(t, ty, sizeof ty);
	if (ldns_rr_list_rr_count(use) == 0) {
		errf(v->err, sizeof v->err, "%s %s: no records and no NSEC/NSEC3 proof", ty, n);
		st = DANE_BOGUS;
		goto out;
	}
	for (i = 0; i < ldns_rr_list_rr_count(use) && st == DANE_SECURE_NONE; i++) {
		ldns_rr *rr = ldns_rr_list_rr(use, i);
		ldns_rr_list *one = ldns_rr_list_new(), *sigs;

		ldns_rr_list_push_rr(one, ldns_rr_clone(rr));
		sigs = section_sigs(p, LDNS_SECTION_AUTHORITY, ldns_rr_owner(rr), nt, zone);
		if (verify_rrset(v, one, sigs, keys, nt == LDNS_RR_TYPE_NSEC ? "NSEC" : "NSEC3",
		    ldns_rr_owner(rr)) != DANE_SECURE_TLSA)
			st = DANE_BOGUS;
		ldns_rr_list_cat(allsigs, sigs);
		ldns_rr_list_free(sigs);
		ldns_rr_list_deep_free(one);
	}
	if (st != DANE_SECURE_NONE)
		goto out;
	q = question_rr(name, t);
	if (nt == LDNS_RR_TYPE_NSEC) {
		ls = ldns_dnssec_verify_denial(q, use, allsigs);
		for (i = 0; i < ldns_rr_list_rr_count(use); i++)
			if (name_eq(ldns_rr_owner(ldns_rr_list_rr(use, i)), name))
				m = ldns_rr_list_rr(use, i);
	} else {
		ls = ldns_dnssec_verify_denial_nsec3_match(q, use, allsigs, ldns_pkt_get_rcode(p), t,
		    ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR, &m);
		if (ldns_pkt_get_rcode(p) != LDNS_RCODE_NOERROR)
			m = NULL;	/* the wildcard's, not the name's */
	}
	if (ls != LDNS_STATUS_OK) {
		errf(v->err, sizeof v->err, "%s %s: denial of existence not proven: %s", ty, n,
		    ldns_get_errorstr_by_id(ls));
		st = DANE_BOGUS;
	} else if (match && m)
		*match = ldns_rr_clone(m);
out:
	ldns_rr_free(q);
	ldns_rr_list_deep_free(allsigs);
	ldns_rr_list_deep_free(nsecs);
	ldns_rr_list_deep_free(nsec3s);
	return st;
}

static int
bitmap_has(const ldns_rr *nsec, ldns_rr_type t)
{
	ldns_rdf *bm = ldns_rr_get_type(nsec) == LDNS_RR_TYPE_NSEC3 ? ldns_nsec3_bitmap(nsec) :
	    ldns_nsec_get_bitmap(nsec);

	return bm != NULL && ldns_nsec_bitmap_covers_type(bm, t);
}

/* The deepest trust-anchor owner at or above name, or NULL. */
static const ldns_rdf *
anchor_zone(const struct dane_anchors *ta, const ldns_rdf *name)
{
	const ldns_rdf *best = NULL;
	size_t i;

	for (i = 0; ta && i < ldns_rr_list_rr_count(ta->rrs); i++) {
		const ldns_rdf *o = ldns_rr_owner(ldns_rr_list_rr(ta->rrs, i));

		if (name_at_or_below(name, o) &&
		    (best == NULL || ldns_dname_label_count(o) > ldns_dname_label_count(best)))
			best = o;
	}
	return best;
}

/* The chain of trust from anchor zone a down to target.  DANE_SECURE_TLSA
 * with *zone (the deepest zone at or above target) and its *keys;
 * DANE_INSECURE at a proven insecure delegation; else BOGUS/TEMPFAIL. */
static enum dane_status
walk(struct vctx *v, const ldns_rdf *a, const ldns_rdf *target, ldns_rdf **zone,
    ldns_rr_list **keys)
{
	ldns_rr_list *anchors = ldns_rr_list_new(), *cur_keys = NULL;
	ldns_rdf *cur = ldns_rdf_clone(a);
	enum dane_status st;
	size_t i;
	int depth;

	*zone = NULL;
	*keys = NULL;
	for (i = 0; i < ldns_rr_list_rr_count(v->ta->rrs); i++)
		if (name_eq(ldns_rr_owner(ldns_rr_list_rr(v->ta->rrs, i)), a))
			ldns_rr_list_push_rr(anchors, ldns_rr_clone(ldns_rr_list_rr(v->ta->rrs, i)));
	st = zone_keys(v, a, anchors, &cur_keys);
	ldns_rr_list_deep_free(anchors);
	depth = (int)ldns_dname_label_count(target) - (int)ldns_dname_label_count(a);
	while (st == DANE_SECURE_TLSA && --depth >= 0) {
		ldns_rdf *n = ldns_dname_clone_from(target, (uint16_t)depth);
		ldns_rr_list *ds, *sigs, *child_keys;
		ldns_rr *m = NULL;
		ldns_pkt *p;

		if (n == NULL) {
			errf(v->err, sizeof v->err, "out of memory");
			st = DANE_TEMPFAIL;
			break;
		}
		if (query(v, n, LDNS_RR_TYPE_DS, &p) < 0) {
			ldns_rdf_deep_free(n);
			st = DANE_TEMPFAIL;
			break;
		}
		ds = section_rrs(p, LDNS_SECTION_ANSWER, n, LDNS_RR_TYPE_DS);
		if (ldns_rr_list_rr_count(ds) > 0) {
			sigs = section_sigs(p, LDNS_SECTION_ANSWER, n, LDNS_RR_TYPE_DS, cur);
			st = verify_rrset(v, ds, sigs, cur_keys, "DS", n);
			ldns_rr_list_deep_free(sigs);
			if (st == DANE_SECURE_TLSA)
				st = zone_keys(v, n, ds, &child_keys);
			if (st == DANE_SECURE_TLSA) {
				ldns_rr_list_deep_free(cur_keys);
				cur_keys = child_keys;
				ldns_rdf_deep_free(cur);
				cur = ldns_rdf_clone(n);
			}
		} else {
			st = denial(v, p, n, LDNS_RR_TYPE_DS, cur, cur_keys, &m);
			if (st == DANE_SECURE_NONE) {
				st = DANE_SECURE_TLSA;
				if (m && bitmap_has(m, LDNS_RR_TYPE_NS) &&
				    !bitmap_has(m, LDNS_RR_TYPE_SOA)) {
					char nt[DANE_NAME_MAX + 1];

					name_text(n, nt, sizeof nt);
					errf(v->err, sizeof v->err, "%s is an insecure delegation", nt);
					st = DANE_INSECURE;
				}
			}
			ldns_rr_free(m);
		}
		ldns_rr_list_deep_free(ds);
		ldns_pkt_free(p);
		ldns_rdf_deep_free(n);
	}
	if (st == DANE_SECURE_TLSA) {
		*zone = cur;
		*keys = cur_keys;
		return st;
	}
	ldns_rdf_deep_free(cur);
	ldns_rr_list_deep_free(cur_keys);
	return st;
}

/* A wildcard-expanded RRset (its RRSIG has fewer labels than the owner)
 * needs proof that the name itself does not exist: an NSEC, signed by
 * zone, covering the name (RFC 4035 5.3.4).  NSEC3 is not supported. */
static enum dane_status
wildcard_proof(struct vctx *v, const ldns_pkt *p, const ldns_rdf *name, ldns_rr_list *sigs,
    const ldns_rdf *zone, ldns_rr_list *keys)
{
	ldns_rr_list *nsecs;
	enum dane_status st = DANE_BOGUS;
	size_t i;
	int wild = 0;

	for (i = 0; i < ldns_rr_list_rr_count(sigs); i++)
		if (ldns_rdf2native_int8(ldns_rr_rrsig_labels(ldns_rr_list_rr(sigs, i))) <
		    ldns_dname_label_count(name))
			wild = 1;
	if (!wild)
		return DANE_SECURE_TLSA;
	nsecs = section_rrs(p, LDNS_SECTION_AUTHORITY, NULL, LDNS_RR_TYPE_NSEC);
	for (i = 0; i < ldns_rr_list_rr_count(nsecs) && st == DANE_BOGUS; i++) {
		ldns_rr *rr = ldns_rr_list_rr(nsecs, i);
		ldns_rr_list *one, *s;

		if (name_eq(ldns_rr_owner(rr), name) || !ldns_nsec_covers_name(rr, name))
			continue;
		one = ldns_rr_list_new();
		ldns_rr_list_push_rr(one, ldns_rr_clone(rr));
		s = section_sigs(p, LDNS_SECTION_AUTHORITY, ldns_rr_owner(rr), LDNS_RR_TYPE_NSEC, zone);
		if (verify_rrset(v, one, s, keys, "NSEC", ldns_rr_owner(rr)) == DANE_SECURE_TLSA)
			st = DANE_SECURE_TLSA;
		ldns_rr_list_deep_free(s);
		ldns_rr_list_deep_free(one);
	}
	ldns_rr_list_deep_free(nsecs);
	if (st != DANE_SECURE_TLSA) {
		char n[DANE_NAME_MAX + 1];

		name_text(name, n, sizeof n);
		errf(v->err, sizeof v->err, "%s: wildcard answer without an NSEC proof", n);
	}
	return st;
}

/* name/t validated.  DANE_SECURE_TLSA with *rrs (the RRset, after any
 * CNAMEs), DANE_SECURE_NONE, or the failure, with v->err. */
static enum dane_status
lookup(struct vctx *v, const char *qname, ldns_rr_type t, ldns_rr_list **rrs)
{
	ldns_rdf *name = ldns_dname_new_frm_str(qname);
	enum dane_status st = DANE_BOGUS;
	int hop;

	*rrs = NULL;
	if (name == NULL) {
		errf(v->err, sizeof v->err, "invalid name");
		return DANE_TEMPFAIL;
	}
	for (hop = 0; hop <= DANE_MAX_CNAME; hop++) {
		const ldns_rdf *a = anchor_zone(v->ta, name);
		ldns_rr_list *keys = NULL, *set, *sigs;
		ldns_rdf *zone = NULL, *next = NULL;
		ldns_rr_type got = t;
		ldns_pkt *p;

		if (a == NULL) {
			char n[DANE_NAME_MAX + 1];

			name_text(name, n, sizeof n);
			errf(v->err, sizeof v->err, "no trust anchor covers %s", n);
			st = DANE_INSECURE;
			break;
		}
		if (query(v, name, t, &p) < 0) {
			st = DANE_TEMPFAIL;
			break;
		}
		if ((st = walk(v, a, name, &zone, &keys)) != DANE_SECURE_TLSA) {
			ldns_pkt_free(p);
			break;
		}
		set = section_rrs(p, LDNS_SECTION_ANSWER, name, t);
		if (ldns_rr_list_rr_count(set) == 0 && t != LDNS_RR_TYPE_CNAME) {
			ldns_rr_list_deep_free(set);
			set = section_rrs(p, LDNS_SECTION_ANSWER, name, LDNS_RR_TYPE_CNAME);
			got = LDNS_RR_TYPE_CNAME;
		}
		if (ldns_rr_list_rr_count(set) > 0) {
			char ty[16];

			sigs = section_sigs(p, LDNS_SECTION_ANSWER, name, got, zone);
			st = verify_rrset(v, set, sigs, keys, type_text(got, ty, sizeof ty), name);
			if (st == DANE_SECURE_TLSA)
				st = wildcard_proof(v, p, name, sigs, zone, keys);
			ldns_rr_list_deep_free(sigs);
			if (st == DANE_SECURE_TLSA && got == LDNS_RR_TYPE_CNAME) {
				ldns_rr *c = ldns_rr_list_rr(set, 0);

				if (ldns_rr_list_rr_count(set) != 1 || ldns_rr_rd_count(c) < 1) {
					errf(v->err, sizeof v->err, "malformed CNAME");
					st = DANE_BOGUS;
				} else
					next = ldns_rdf_clone(ldns_rr_rdf(c, 0));
				ldns_rr_list_deep_free(set);
				set = NULL;
			}
			if (st == DANE_SECURE_TLSA && set != NULL)
				*rrs = set;
			else
				ldns_rr_list_deep_free(set);
		} else {
			ldns_rr_list_deep_free(set);
			st = denial(v, p, name, t, zone, keys, NULL);
		}
		ldns_pkt_free(p);
		ldns_rdf_deep_free(zone);
		ldns_rr_list_deep_free(keys);
		if (next == NULL)
			break;
		ldns_rdf_deep_free(name);
		name = next;
		st = DANE_BOGUS;
		errf(v->err, sizeof v->err, "CNAME chain longer than %d", DANE_MAX_CNAME);
	}
	ldns_rdf_deep_free(name);
	return st;
}

/* "TLSA <name>: <detail>", without saying "TLSA <name>" twice. */
static void
error_for(char *err, size_t errlen, const char *type, const char *name, const char *detail)
{
	char head[DANE_NAME_MAX + 16];

	snprintf(head, sizeof head, "%s %s", type, name);
	if (strncasecmp(detail, head, strlen(head)) == 0)
		errf(err, errlen, "%s", detail);
	else
		errf(err, errlen, "%s: %s", head, detail);
}

static int
vctx_init(struct vctx *v, ldns_resolver *res, const struct dane_anchors *ta)
{
	memset(v, 0, sizeof *v);
	v->ta = ta;
	if (res == NULL || ta == NULL || (v->res = ldns_resolver_clone(res)) == NULL)
		return -1;
	ldns_resolver_set_dnssec(v->res, true);
	ldns_resolver_set_dnssec_cd(v->res, true);
	ldns_resolver_set_recursive(v->res, true);
	ldns_resolver_set_defnames(v->res, false);
	ldns_resolver_set_dnsrch(v->res, false);
	ldns_resolver_set_fallback(v->res, true);
	if (ldns_resolver_edns_udp_size(v->res) == 0)
		ldns_resolver_set_edns_udp_size(v->res, 1232);
	return 0;
}

static void
parse_tlsa(const ldns_rr_list *rrs, struct dane_result *out)
{
	size_t i;

	out->ttl = UINT32_MAX;
	for (i = 0; i < ldns_rr_list_rr_count(rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		struct dane_tlsa *t;
		const ldns_rdf *d;

		if (ldns_rr_ttl(rr) < out->ttl)
			out->ttl = ldns_rr_ttl(rr);
		if (ldns_rr_rd_count(rr) != 4 || ldns_rdf_size(ldns_rr_rdf(rr, 0)) != 1 ||
		    ldns_rdf_size(ldns_rr_rdf(rr, 1)) != 1 || ldns_rdf_size(ldns_rr_rdf(rr, 2)) != 1 ||
		    ldns_rdf_size(ldns_rr_rdf(rr, 3)) == 0 ||
		    ldns_rdf_size(ldns_rr_rdf(rr, 3)) > DANE_TLSA_DATA_MAX ||
		    out->ntlsa >= DANE_TLSA_MAX) {
			out->skipped++;
			continue;
		}
		t = &out->tlsa[out->ntlsa++];
		t->usage = ldns_rdf2native_int8(ldns_rr_rdf(rr, 0));
		t->selector = ldns_rdf2native_int8(ldns_rr_rdf(rr, 1));
		t->mtype = ldns_rdf2native_int8(ldns_rr_rdf(rr, 2));
		d = ldns_rr_rdf(rr, 3);
		t->len = ldns_rdf_size(d);
		memcpy(t->data, ldns_rdf_data(d), t->len);
	}
	if (out->ttl == UINT32_MAX)
		out->ttl = 0;
}

int
dane_lookup(ldns_resolver *res, const struct dane_anchors *ta, const char *host, uint16_t port,
    struct dane_result *out)
{
	struct vctx v;
	ldns_rr_list *rrs = NULL;
	size_t hl;
	int n;

	memset(out, 0, sizeof *out);
	out->status = DANE_TEMPFAIL;
	if (host == NULL || !dns_name_valid(host)) {
		errf(out->error, sizeof out->error, "TLSA: invalid host name");
		return -1;
	}
	hl = strlen(host);
	if (host[hl - 1] == '.')
		hl--;
	n = snprintf(out->name, sizeof out->name, "_%u._tcp.%.*s", (unsigned)port, (int)hl, host);
	if (n < 0 || (size_t)n >= sizeof out->name || n > 253) {
		errf(out->error, sizeof out->error, "TLSA: host name too long");
		out->name[0] = '\0';
		return -1;
	}
	for (n = 0; out->name[n]; n++)
		out->name[n] = (char)tolower((unsigned char)out->name[n]);
	if (vctx_init(&v, res, ta) < 0) {
		errf(out->error, sizeof out->error, "TLSA %s: no resolver or trust anchors", out->name);
		return -1;
	}
	out->status = lookup(&v, out->name, LDNS_RR_TYPE_TLSA, &rrs);
	if (out->status == DANE_SECURE_TLSA)
		parse_tlsa(rrs, out);
	else if (out->status != DANE_SECURE_NONE)
		error_for(out->error, sizeof out->error, "TLSA", out->name, v.err);
	ldns_rr_list_deep_free(rrs);
	ldns_resolver_deep_free(v.res);
	return 0;
}

enum dane_status
dane_lookup_mx_secure(ldns_resolver *res, const struct dane_anchors *ta, const char *domain,
    int *secure, char *err, size_t errlen)
{
	struct vctx v;
	ldns_rr_list *rrs = NULL;
	enum dane_status st;

	*secure = 0;
	errf(err, errlen, "%s", "");
	if (domain == NULL || !dns_name_valid(domain)) {
		errf(err, errlen, "MX: invalid domain");
		return DANE_TEMPFAIL;
	}
	if (vctx_init(&v, res, ta) < 0) {
		errf(err, errlen, "MX %s: no resolver or trust anchors", domain);
		return DANE_TEMPFAIL;
	}
	st = lookup(&v, domain, LDNS_RR_TYPE_MX, &rrs);
	if (st == DANE_SECURE_TLSA)
		*secure = 1;
	else if (st != DANE_SECURE_NONE)
		error_for(err, errlen, "MX", domain, v.err);
	else
		errf(err, errlen, "MX %s: no MX records (validated denial)", domain);
	ldns_rr_list_deep_free(rrs);
	ldns_resolver_deep_free(v.res);
	return st;
}

/* ------------------------------------------------------------------ */
/* OpenSSL                                                             */
/* ------------------------------------------------------------------ */

int
dane_ctx_enable(SSL_CTX *ctx)
{
	return SSL_CTX_dane_enable(ctx) > 0 ? 0 : -1;
}

static void
ssl_errf(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[160];

	ERR_error_string_n(e, buf, sizeof buf);
	errf(err, errlen, "%s: %s", what, e ? buf : "failed");
	ERR_clear_error();
}

int
dane_apply(SSL *ssl, const char *base_domain, const struct dane_result *r, char *err,
    size_t errlen)
{
	size_t i, candidates = 0;
	int usable = 0;

	errf(err, errlen, "%s", "");
	if (r->status != DANE_SECURE_TLSA) {
		errf(err, errlen, "no validated TLSA records (%s)", dane_status_str(r->status));
		return 0;
	}
	for (i = 0; i < r->ntlsa && i < DANE_TLSA_MAX; i++)
		if (r->tlsa[i].usage == 2 || r->tlsa[i].usage == 3)
			candidates++;
	if (candidates == 0) {
		errf(err, errlen, "%zu TLSA records, none usable for SMTP (only DANE-TA(2) and "
		    "DANE-EE(3) are)", r->ntlsa);
		return 0;
	}
	if (SSL_dane_enable(ssl, base_domain) <= 0) {
		ssl_errf(err, errlen, "SSL_dane_enable");
		return -1;
	}
	/* RFC 7672 3.1.1: DANE-EE(3) ignores the names in the certificate. */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	for (i = 0; i < r->ntlsa && i < DANE_TLSA_MAX; i++) {
		const struct dane_tlsa *t = &r->tlsa[i];
		int rc;

		if (t->usage != 2 && t->usage != 3)
			continue;
		rc = SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype, t->data, t->len);
		if (rc > 0)
			usable++;
		else if (rc < 0) {
			ssl_errf(err, errlen, "SSL_dane_tlsa_add");
			return -1;
		}
	}
	ERR_clear_error();	/* unusable records leave errors behind */
	if (usable == 0)
		errf(err, errlen, "%zu TLSA records, none usable (unsupported selector, "
		    "matching type or digest length)", r->ntlsa);
	return usable;
}
