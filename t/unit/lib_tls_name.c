/*
 * lib_tls_name - RFC 6125 name matching (wildcards, case, trailing dots,
 * A-labels), SAN/CN precedence on certificates built here, the hosted
 * rule, and chain verification against a trust store built here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls_cert.h"
#include "tls_name.h"
#include "tap.h"
#include "testcert.h"

static int
m(const char *pres, const char *ref)
{
	return tls_name_match(pres, strlen(pres), ref);
}

static int
check1(X509 *x, const char *name, enum tls_refid_kind kind,
    enum tls_name_rule rule, char *why, size_t len)
{
	struct tls_refid r = { name, kind };

	return tls_name_check(x, &r, 1, rule, why, len);
}

int
main(void)
{
	char why[TLS_NAME_WHY_MAX], dir[] = "/tmp/lib_tls_name.XXXXXX";
	char path[256], path2[256];
	EVP_PKEY *k, *cakey, *ikey;
	X509 *x, *ca, *inter, *leaf;
	X509_STORE *store;
	STACK_OF(X509) *untrusted;
	FILE *f;

	/* Plain names: case, trailing dots. */
	ok(m("mx.example.com", "mx.example.com"), "exact match");
	ok(m("MX.Example.COM", "mx.EXAMPLE.com"), "case-insensitive");
	ok(m("mx.example.com.", "mx.example.com"), "trailing dot on presented ignored");
	ok(m("mx.example.com", "mx.example.com."), "trailing dot on reference ignored");
	ok(!m("mx.example.com", "mx.example.co"), "different names do not match");
	ok(!m("mx.example.com", "x.example.com"), "a suffix is not a match");
	ok(!m("x.example.com", "mx.example.com"), "a shorter name is not a match");
	ok(!m("mx.example.com..", "mx.example.com"), "two trailing dots: malformed");
	ok(!m("mx..example.com", "mx..example.com"), "empty label never matches");
	ok(!m("", ""), "empty names never match");

	/* Wildcards: only the whole left-most label. */
	ok(m("*.example.com", "a.example.com"), "*.example.com matches a.example.com");
	ok(m("*.Example.com.", "A.EXAMPLE.COM"), "wildcard match is case-insensitive");
	ok(!m("*.example.com", "example.com"), "*.example.com does not match example.com");
	ok(!m("*.example.com", "a.b.example.com"), "*.example.com does not match a.b.example.com");
	ok(!m("*.example.com", ".example.com"), "wildcard does not match an empty label");
	ok(!m("f*o.example.com", "foo.example.com"), "f*o.example.com matches nothing");
	ok(!m("f*.example.com", "foo.example.com"), "partial wildcard f* matches nothing");
	ok(!m("*o.example.com", "foo.example.com"), "partial wildcard *o matches nothing");
	ok(!m("f*a.example.com", "b.a.example.com"), "partial wildcard is not read as a shorter pattern");
	ok(!m("a.*.example.com", "a.b.example.com"), "wildcard not left-most matches nothing");
	ok(!m("*.*.example.com", "a.b.example.com"), "two wildcards match nothing");
	ok(!m("*.com", "example.com"), "*.com (one label after the wildcard) matches nothing");
	ok(!m("*", "example"), "a bare * matches nothing");
	ok(!m("*.example.com", "*.example.com"), "a reference identity is never a wildcard");

	/* A-labels: plain ASCII; U-labels never match. */
	ok(m("xn--bcher-kva.example", "XN--BCHER-KVA.example"), "A-labels compared as ASCII");
	ok(m("*.xn--bcher-kva.example", "mx.xn--bcher-kva.example"), "wildcard over an A-label domain");
	ok(!m("xn--bcher-kva.example", "b\xc3\xbc" "cher.example"), "a U-label reference matches nothing");
	ok(!m("b\xc3\xbc" "cher.example", "b\xc3\xbc" "cher.example"), "non-ASCII presented names match nothing");

	/* Embedded NUL: the classic "good.example\0.evil.example". */
	ok(!tls_name_match("mx.example.com\0.evil.org", 24, "mx.example.com"),
	    "presented name with embedded NUL matches nothing");
	{
		char big[300];

		memset(big, 'a', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		ok(!m(big, big), "a name over 253 characters matches nothing");
	}

	/* Rule A: the CN counts next to SANs (spec 3.3 2a/2b); rule B:
	 * SANs first, the CN only without DNS SANs (RFC 6125 6.4.4). */
	k = test_key();
	x = test_cert(k, "mx.example.com", "DNS:other.example.net,DNS:*.example.org",
	    0, 30, 0, NULL, NULL);
	ok(check1(x, "mx.example.com", TLS_REFID_MX, TLS_NAME_VERIFY, why, sizeof why),
	    "CN matches the MX host next to DNS SANs (verify, rule A)");
	ok(strstr(why, "subject CN mx.example.com matches mx.example.com (MX host)") != NULL,
	    "success names the CN: %s", why);
	ok(!check1(x, "mx.example.com", TLS_REFID_DOMAIN, TLS_NAME_HOSTED, why, sizeof why),
	    "CN is ignored when DNS SANs exist (hosted, rule B)");
	ok(strstr(why, "other.example.net") && strstr(why, "*.example.org") &&
	    strstr(why, "mx.example.com (domain)"),
	    "failure says what was presented and wanted: %s", why);
	ok(!check1(x, "nope.example.com", TLS_REFID_MX, TLS_NAME_VERIFY, why, sizeof why),
	    "neither SAN nor CN matches (verify)");
	ok(strstr(why, "other.example.net") && strstr(why, "subject CN mx.example.com") &&
	    strstr(why, "nope.example.com (MX host)"),
	    "failure lists the SANs and the CN: %s", why);
	ok(check1(x, "a.example.org", TLS_REFID_DOMAIN, TLS_NAME_VERIFY, why, sizeof why),
	    "wildcard SAN matches the domain");
	ok(strstr(why, "*.example.org") && strstr(why, "a.example.org (domain)"),
	    "success says which name matched: %s", why);
	ok(check1(x, "OTHER.example.net.", TLS_REFID_MX, TLS_NAME_VERIFY, why, sizeof why),
	    "SAN matches the MX host under verify");
	X509_free(x);

	x = test_cert(k, "mx.example.com", NULL, 0, 30, 0, NULL, NULL);
	ok(check1(x, "mx.example.com", TLS_REFID_MX, TLS_NAME_VERIFY, why, sizeof why),
	    "CN used when there are no SANs");
	ok(!check1(x, "mx2.example.com", TLS_REFID_MX, TLS_NAME_VERIFY, why, sizeof why)
	    && strstr(why, "subject CN mx.example.com"),
	    "CN mismatch explained: %s", why);
	X509_free(x);

	/* A SAN with only an IP address is not a DNS-ID: CN still counts. */
	x = test_cert(k, "mx.example.com", "IP:192.0.2.1", 0, 30, 0, NULL, NULL);
	ok(check1(x, "mx.example.com", TLS_REFID_MX, TLS_NAME_VERIFY, why, sizeof why),
	    "CN used when the SANs hold no dNSName");
	X509_free(x);

	x = test_cert(k, "*.example.com", NULL, 0, 30, 0, NULL, NULL);
	ok(check1(x, "mx.example.com", TLS_REFID_MX, TLS_NAME_VERIFY, why, sizeof why),
	    "wildcard CN follows the same rules (matches)");
	ok(!check1(x, "example.com", TLS_REFID_DOMAIN, TLS_NAME_VERIFY, why, sizeof why),
	    "wildcard CN follows the same rules (no bare domain)");
	X509_free(x);

	x = test_cert(k, NULL, NULL, 0, 30, 0, NULL, NULL);
	ok(!check1(x, "mx.example.com", TLS_REFID_MX, TLS_NAME_VERIFY, why, sizeof why)
	    && strstr(why, "no subject CN"), "no SAN, no CN: no match: %s", why);
	X509_free(x);

	/* Hosted (rule B): SANs first, MX names from DNS do not count. */
	x = test_cert(k, "example.com", "DNS:mx.example.com", 0, 30, 0, NULL, NULL);
	{
		struct tls_refid refs[] = {
			{ "example.com", TLS_REFID_DOMAIN },
			{ "mx.example.com", TLS_REFID_MX },
		};
		ok(tls_name_check(x, refs, 2, TLS_NAME_VERIFY, why, sizeof why),
		    "verify: the SAN matches the MX host");
		ok(!tls_name_check(x, refs, 2, TLS_NAME_HOSTED, why, sizeof why),
		    "hosted: the MX host name is not a reference identity");
		ok(strstr(why, "example.com (domain)") &&
		    strstr(why, "MX host names are not trusted"),
		    "hosted: the failure says the MX name was not used: %s", why);
		ok(!tls_name_check(x, refs, 1, TLS_NAME_HOSTED, why, sizeof why),
		    "hosted: CN equal to the domain does not count next to a SAN");
		refs[1].kind = TLS_REFID_STATIC;
		ok(tls_name_check(x, refs, 2, TLS_NAME_HOSTED, why, sizeof why),
		    "hosted: a configured route host name counts");
		refs[0].kind = TLS_REFID_MX;
		refs[1].kind = TLS_REFID_MX;
		ok(!tls_name_check(x, refs, 2, TLS_NAME_HOSTED, why, sizeof why) &&
		    strstr(why, "MX lookups") != NULL,
		    "hosted with only MX names: refused with a reason: %s", why);
	}
	X509_free(x);
	x = test_cert(k, "example.com", "DNS:example.com", 0, 30, 0, NULL, NULL);
	ok(check1(x, "example.com", TLS_REFID_DOMAIN, TLS_NAME_HOSTED, why, sizeof why),
	    "hosted: SAN equal to the recipient domain matches");
	X509_free(x);
	ok(!check1(NULL, "example.com", TLS_REFID_DOMAIN, TLS_NAME_VERIFY, why, sizeof why),
	    "no certificate: no match");

	/* Chain verification. */
	cakey = test_key();
	ikey = test_key();
	ca = test_cert(cakey, "Test Root CA", NULL, -1, 365, 1, NULL, NULL);
	inter = test_cert(ikey, "Test Intermediate CA", NULL, -1, 365, 1, ca, cakey);
	leaf = test_cert(k, "mx.example.com", "DNS:mx.example.com", -1, 30, 0,
	    inter, ikey);
	untrusted = sk_X509_new_null();
	sk_X509_push(untrusted, inter);

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof path, "%s/custom.pem", dir);
	f = fopen(path, "w");
	PEM_write_X509(f, ca);
	fclose(f);
	snprintf(path2, sizeof path2, "%s/empty.pem", dir);
	f = fopen(path2, "w");
	fputs("not a certificate\n", f);
	fclose(f);

	store = tls_trust_store_new(0, NULL, path, why, sizeof why);
	ok(store != NULL, "custom CA list loads: %s", why);
	ok(tls_chain_verify(store, leaf, untrusted, why, sizeof why),
	    "leaf + intermediate chain to the custom root: %s", why);
	ok(!tls_chain_verify(store, leaf, NULL, why, sizeof why) &&
	    strstr(why, "local issuer") && strstr(why, "CN=mx.example.com"),
	    "missing intermediate: reason names the certificate: %s", why);
	X509_STORE_free(store);

	store = tls_trust_store_new(0, NULL, NULL, why, sizeof why);
	ok(store != NULL && !tls_chain_verify(store, leaf, untrusted, why, sizeof why),
	    "empty trust store (both lists disabled): not verified: %s", why);
	X509_STORE_free(store);

	store = tls_trust_store_new(1, "/nonexistent/bundle.pem", NULL, why, sizeof why);
	ok(store == NULL && strstr(why, "/nonexistent/bundle.pem"),
	    "unreadable system bundle: refused: %s", why);
	store = tls_trust_store_new(0, NULL, path2, why, sizeof why);
	ok(store == NULL && strstr(why, "no certificate"),
	    "custom list without certificates: refused: %s", why);
	store = tls_trust_store_new(1, path, path, why, sizeof why);
	ok(store != NULL && tls_chain_verify(store, leaf, untrusted, why, sizeof why),
	    "system bundle file and custom list together (duplicates fine): %s", why);
	X509_STORE_free(store);

	store = tls_trust_store_new(0, NULL, path, why, sizeof why);
	{
		X509 *old = test_cert(k, "mx.example.com", "DNS:mx.example.com",
		    -30, -1, 0, inter, ikey);
		X509 *bad_inter = test_cert(ikey, "Not A CA", NULL, -1, 365, 0,
		    ca, cakey);
		X509 *leaf2 = test_cert(k, "mx.example.com", "DNS:mx.example.com",
		    -1, 30, 0, bad_inter, ikey);
		STACK_OF(X509) *u2 = sk_X509_new_null();

		ok(!tls_chain_verify(store, old, untrusted, why, sizeof why) &&
		    strstr(why, "expired") && strstr(why, "depth 0"),
		    "expired leaf: %s", why);
		sk_X509_push(u2, bad_inter);
		ok(!tls_chain_verify(store, leaf2, u2, why, sizeof why) &&
		    strstr(why, "CN=Not A CA"),
		    "intermediate without CA:TRUE: %s", why);
		ok(!tls_chain_verify(NULL, leaf, untrusted, why, sizeof why),
		    "no store: not verified");
		sk_X509_free(u2);
		X509_free(old);
		X509_free(bad_inter);
		X509_free(leaf2);
	}
	X509_STORE_free(store);

	/* Spec 2.2.2: a peer's self-signed certificate (made by tls_cert)
	 * imported as the custom CA list verifies, name and chain. */
	{
		struct tls_cert peer;
		struct tls_cert_params p;
		char err[TLS_CERT_ERR_MAX];

		memset(&p, 0, sizeof p);
		p.cn = "gw2.example.net";
		p.days = 10;
		p.key_type = TLS_KEY_EC_P256;
		tls_cert_init(&peer);
		ok(tls_cert_generate(&peer, &p, err, sizeof err) == 0,
		    "peer self-signed certificate made: %s", err);
		f = fopen(path, "w");
		PEM_write_X509(f, peer.cert);
		fclose(f);
		store = tls_trust_store_new(0, NULL, path, why, sizeof why);
		ok(store && tls_chain_verify(store, peer.cert, NULL, why, sizeof why),
		    "self-signed peer certificate in the custom list verifies: %s", why);
		ok(check1(peer.cert, "gw2.example.net", TLS_REFID_STATIC,
		    TLS_NAME_HOSTED, why, sizeof why),
		    "and its name matches under the hosted rule: %s", why);
		X509_STORE_free(store);
		tls_cert_free(&peer);
	}

	unlink(path);
	unlink(path2);
	rmdir(dir);
	sk_X509_free(untrusted);
	X509_free(leaf);
	X509_free(inter);
	X509_free(ca);
	EVP_PKEY_free(k);
	EVP_PKEY_free(ikey);
	EVP_PKEY_free(cakey);
	return done_testing();
}
