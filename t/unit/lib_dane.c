/*
 * lib_dane - trust-anchor text (DS, DNSKEY, multi-line records, $ORIGIN,
 * comments; garbage, empty, wrong types and the bounds refused), the
 * parts of dane_lookup that need no network (bad names, names no anchor
 * covers), and dane_apply against real TLS: an OpenSSL server with a
 * self-signed certificate made here and a client with DANE records over
 * a memory BIO pair -- a matching DANE-EE(3) or DANE-TA(2) record
 * authenticates the peer, a wrong digest fails verification, PKIX-TA(0)
 * and PKIX-EE(1) records are unusable for SMTP.  The validation itself
 * is tested against signed zones in t/integration/lib_dane.t.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dane.h"
#include "tls_cert.h"
#include "tap.h"
#include "testcert.h"

static const char ksk_dnskey[] =
    "dane.test.\tIN\tDNSKEY\t257 3 13 t+4mq/gEQZE5mj1y6Z6mpuVysnc6mWzK6UxwGyZ4f1sKWY6gRxq"
    "nJMkOFLwwQ11K37ypY62I0iEjZ8+6ze5clQ== ;{id = 31516 (ksk), size = 256b}\n";
static const char parent_ds[] =
    "test.\tIN\tDS\t19910 13 2 3d85687798736f4c0aa789b41690d83cc855504a685805874bb33a4a553e61cc\n";

static struct dane_anchors *
load(const char *text, char *err, size_t errlen)
{
	return dane_anchors_load(text, strlen(text), err, errlen);
}

static void
test_anchors(void)
{
	char err[256], text[2048], *big;
	struct dane_anchors *ta;
	size_t i, o;

	ta = load(parent_ds, err, sizeof err);
	ok(ta != NULL, "a DS anchor loads: %s", ta ? "" : err);
	is(dane_anchors_count(ta), 1, "one record");
	dane_anchors_free(ta);

	ta = load(ksk_dnskey, err, sizeof err);
	ok(ta != NULL, "a DNSKEY anchor (with a comment) loads: %s", ta ? "" : err);
	dane_anchors_free(ta);

	snprintf(text, sizeof text, "; unbound-style anchor file\n$TTL 3600\n$ORIGIN test.\n\n%s"
	    "dane IN DNSKEY ( 257 3 13\n  t+4mq/gEQZE5mj1y6Z6mpuVysnc6mWzK6UxwGyZ4f1sKWY6gRxq\n"
	    "  nJMkOFLwwQ11K37ypY62I0iEjZ8+6ze5clQ== ) ; ksk\n\n", parent_ds);
	ta = load(text, err, sizeof err);
	ok(ta != NULL, "DS + multi-line relative DNSKEY with $ORIGIN load: %s", ta ? "" : err);
	is(dane_anchors_count(ta), 2, "two records");
	dane_anchors_free(ta);

	snprintf(text, sizeof text, "%s\n  \n; trailing comment\n\n", parent_ds);
	ta = load(text, err, sizeof err);
	ok(ta != NULL, "trailing blank lines and comments are fine: %s", ta ? "" : err);
	dane_anchors_free(ta);
	snprintf(text, sizeof text, "%sgarbage at the end", parent_ds);
	ok(load(text, err, sizeof err) == NULL && strstr(err, "line 2"),
	    "garbage on a last line without newline refused: %s", err);
	snprintf(text, sizeof text, "%stest. IN DS 19910 13", parent_ds);
	ok(load(text, err, sizeof err) == NULL && strstr(err, "line 2"),
	    "a truncated last record refused: %s", err);

	ok(dane_anchors_load("", 0, err, sizeof err) == NULL && strstr(err, "empty"),
	    "empty text refused: %s", err);
	ok(load("; nothing but a comment\n\n", err, sizeof err) == NULL &&
	    strstr(err, "no trust anchors"), "comments only refused: %s", err);
	ok(load("this is not a zone file at all\n", err, sizeof err) == NULL &&
	    strstr(err, "line 1"), "garbage refused with its line: %s", err);
	snprintf(text, sizeof text, "%sdane.test. IN DS 1 13 2 zz-not-hex\n", parent_ds);
	ok(load(text, err, sizeof err) == NULL && strstr(err, "line 2"),
	    "a bad DS on line 2 refused: %s", err);
	ok(load("dane.test. 3600 IN A 192.0.2.1\n", err, sizeof err) == NULL &&
	    strstr(err, "not a DS or DNSKEY"), "an A record refused: %s", err);
	ok(load("dane.test. IN DNSKEY 0 3 13 t+4mq/gEQZE5mj1y6Z6mpuVysnc6mWzK6UxwGyZ4f1sKWY6g"
	    "RxqnJMkOFLwwQ11K37ypY62I0iEjZ8+6ze5clQ==\n", err, sizeof err) == NULL &&
	    strstr(err, "zone key"), "a DNSKEY without the zone-key flag refused: %s", err);
	ok(dane_anchors_load("test. IN DS 1 13 2 00\0x", 24, err, sizeof err) == NULL &&
	    strstr(err, "NUL"), "text with a NUL byte refused: %s", err);

	big = malloc(DANE_ANCHORS_TEXT_MAX + 2);
	for (i = 0, o = 0; i <= DANE_ANCHORS_MAX; i++)
		o += (size_t)snprintf(big + o, DANE_ANCHORS_TEXT_MAX + 2 - o,
		    "t%zu.test. IN DS %zu 13 2 3d85687798736f4c0aa789b41690d83cc855504a685805874bb33a"
		    "4a553e61cc\n", i, i + 1);
	ok(dane_anchors_load(big, o, err, sizeof err) == NULL && strstr(err, "more than"),
	    "%d records refused: %s", DANE_ANCHORS_MAX + 1, err);
	memset(big, ' ', DANE_ANCHORS_TEXT_MAX + 1);
	ok(dane_anchors_load(big, DANE_ANCHORS_TEXT_MAX + 1, err, sizeof err) == NULL &&
	    strstr(err, "over"), "text over the size bound refused: %s", err);
	free(big);
}

static void
test_lookup_offline(void)
{
	struct dane_result *r = calloc(1, sizeof *r);
	struct dane_anchors *ta;
	ldns_resolver *res = ldns_resolver_new();
	ldns_rdf *ns = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, "127.0.0.1");
	char err[256];
	char longname[300];
	int secure = 7;

	ldns_resolver_push_nameserver(res, ns);
	ldns_rdf_deep_free(ns);
	ldns_resolver_set_port(res, 1);
	ta = load(ksk_dnskey, err, sizeof err);

	is(dane_lookup(res, ta, "bad..name", 25, r), -1, "an empty label is refused");
	is(r->status, DANE_TEMPFAIL, "... as a temporary failure");
	ok(strstr(r->error, "invalid host") != NULL, "... saying why: %s", r->error);
	memset(longname, 'a', sizeof longname);
	longname[sizeof longname - 1] = '\0';
	is(dane_lookup(res, ta, longname, 25, r), -1, "a name over 253 octets is refused");

	/* No anchor covers mx.other.test: insecure, without asking anyone. */
	is(dane_lookup(res, ta, "MX.Other.Test.", 25, r), 0, "lookup outside the anchors");
	is(r->status, DANE_INSECURE, "... is insecure");
	is_str(r->name, "_25._tcp.mx.other.test", "... for the TLSA name, lower case");
	ok(strstr(r->error, "no trust anchor") != NULL, "... saying why: %s", r->error);
	is(dane_lookup_mx_secure(res, ta, "other.test", &secure, err, sizeof err), DANE_INSECURE,
	    "MX outside the anchors: insecure");
	is(secure, 0, "... not secure");
	is_str(dane_status_str(DANE_SECURE_TLSA), "secure", "status names");
	is_str(dane_status_str(DANE_BOGUS), "bogus", "status names");
	dane_anchors_free(ta);
	ldns_resolver_deep_free(res);
	free(r);
}

/* ---- TLS over a memory BIO pair ---- */

static struct tls_cert cert;
static unsigned char spki_sha256[32], cert_sha256[32];
static SSL_CTX *server_ctx, *ta_server_ctx, *client_ctx, *plain_client_ctx;
static X509 *leaf;
static EVP_PKEY *leaf_key;

/* A leaf for mx.dane.test issued by cert (the CA), for DANE-TA(2). */
static void
make_leaf(void)
{
	leaf_key = test_key();
	leaf = test_cert(leaf_key, "mx.dane.test", "DNS:mx.dane.test", -1, 1, 0, cert.cert,
	    cert.key);
	ta_server_ctx = SSL_CTX_new(TLS_server_method());
	if (SSL_CTX_use_certificate(ta_server_ctx, leaf) != 1 ||
	    SSL_CTX_use_PrivateKey(ta_server_ctx, leaf_key) != 1 ||
	    SSL_CTX_add1_chain_cert(ta_server_ctx, cert.cert) != 1)
		abort();
}

static void
setup_tls(void)
{
	struct tls_cert_params p;
	char err[TLS_CERT_ERR_MAX];
	unsigned char *der = NULL;
	unsigned int n;
	int len;

	memset(&p, 0, sizeof p);
	p.key_type = TLS_KEY_EC_P256;
	p.cn = "dane-test-ca.example";	/* DANE-EE(3) ignores names */
	p.days = 2;
	tls_cert_init(&cert);
	if (tls_cert_generate(&cert, &p, err, sizeof err) < 0) {
		printf("Bail out! tls_cert_generate: %s\n", err);
		exit(1);
	}
	len = i2d_PUBKEY(X509_get0_pubkey(cert.cert), &der);
	if (len <= 0 || !EVP_Digest(der, (size_t)len, spki_sha256, &n, EVP_sha256(), NULL))
		abort();
	OPENSSL_free(der);
	if (!X509_digest(cert.cert, EVP_sha256(), cert_sha256, &n))
		abort();

	server_ctx = SSL_CTX_new(TLS_server_method());
	if (SSL_CTX_use_certificate(server_ctx, cert.cert) != 1 ||
	    SSL_CTX_use_PrivateKey(server_ctx, cert.key) != 1)
		abort();
	client_ctx = SSL_CTX_new(TLS_client_method());
	is(dane_ctx_enable(client_ctx), 0, "dane_ctx_enable");
	plain_client_ctx = SSL_CTX_new(TLS_client_method());
	make_leaf();
}

static void
add_tlsa(struct dane_result *r, uint8_t u, uint8_t s, uint8_t m, const unsigned char *d,
    size_t len)
{
	struct dane_tlsa *t = &r->tlsa[r->ntlsa++];

	t->usage = u;
	t->selector = s;
	t->mtype = m;
	t->len = len;
	memcpy(t->data, d, len);
}

/* Runs the handshake; 1 if both sides completed it. */
static int
handshake(SSL *client, SSL *server)
{
	int cdone = 0, sdone = 0, i;

	for (i = 0; i < 100 && !(cdone && sdone); i++) {
		if (!cdone) {
			int rc = SSL_do_handshake(client);

			if (rc == 1)
				cdone = 1;
			else if (SSL_get_error(client, rc) != SSL_ERROR_WANT_READ &&
			    SSL_get_error(client, rc) != SSL_ERROR_WANT_WRITE)
				return 0;
		}
		if (!sdone) {
			int rc = SSL_do_handshake(server);

			if (rc == 1)
				sdone = 1;
			else if (SSL_get_error(server, rc) != SSL_ERROR_WANT_READ &&
			    SSL_get_error(server, rc) != SSL_ERROR_WANT_WRITE)
				return 0;
		}
	}
	return cdone && sdone;
}

struct conn {
	SSL	*client, *server;
};

static void
conn_new_with(struct conn *c, SSL_CTX *cctx, SSL_CTX *sctx, int verify_peer)
{
	BIO *a, *b;

	c->client = SSL_new(cctx);
	c->server = SSL_new(sctx);
	if (!BIO_new_bio_pair(&a, 0, &b, 0))
		abort();
	SSL_set_bio(c->client, a, a);
	SSL_set_bio(c->server, b, b);
	SSL_set_connect_state(c->client);
	SSL_set_accept_state(c->server);
	SSL_set_verify(c->client, verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
}

static void
conn_new(struct conn *c, SSL_CTX *cctx, int verify_peer)
{
	conn_new_with(c, cctx, server_ctx, verify_peer);
}

static void
conn_free(struct conn *c)
{
	SSL_free(c->client);
	SSL_free(c->server);
	ERR_clear_error();
}

static void
test_apply(void)
{
	struct dane_result *r = calloc(1, sizeof *r);
	unsigned char wrong[32];
	char err[DANE_ERR_MAX];
	struct conn c;
	uint8_t u, s, m;
	const unsigned char *data;
	size_t dlen;
	EVP_PKEY *mspki;

	memcpy(wrong, spki_sha256, sizeof wrong);
	wrong[0] ^= 0xff;

	/* 3 1 1, matching. */
	r->status = DANE_SECURE_TLSA;
	add_tlsa(r, 3, 1, 1, spki_sha256, 32);
	conn_new(&c, client_ctx, 1);
	is(dane_apply(c.client, "mx.dane.test", r, err, sizeof err), 1, "3 1 1: one usable record");
	ok(handshake(c.client, c.server), "3 1 1 matching: the handshake succeeds");
	is(SSL_get_verify_result(c.client), X509_V_OK, "... verified");
	mspki = NULL;
	is(SSL_get0_dane_authority(c.client, NULL, &mspki), 0,
	    "... SSL_get0_dane_authority: the leaf (depth 0) matched");
	ok(SSL_get0_dane_tlsa(c.client, &u, &s, &m, &data, &dlen) >= 0 && u == 3 && s == 1 &&
	    m == 1 && dlen == 32, "... by the DANE-EE(3) SPKI SHA-256 record");
	conn_free(&c);

	/* 3 1 1, wrong digest, SSL_VERIFY_PEER: the handshake fails. */
	memset(r, 0, sizeof *r);
	r->status = DANE_SECURE_TLSA;
	add_tlsa(r, 3, 1, 1, wrong, 32);
	conn_new(&c, client_ctx, 1);
	is(dane_apply(c.client, "mx.dane.test", r, err, sizeof err), 1, "wrong digest: usable");
	ok(!handshake(c.client, c.server), "3 1 1 not matching: the handshake fails");
	is(SSL_get_verify_result(c.client), X509_V_ERR_DANE_NO_MATCH, "... DANE no match");
	conn_free(&c);

	/* Same with SSL_VERIFY_NONE: completes, but not authenticated. */
	conn_new(&c, client_ctx, 0);
	is(dane_apply(c.client, "mx.dane.test", r, err, sizeof err), 1, "wrong digest, no verify");
	ok(handshake(c.client, c.server), "... the handshake completes under SSL_VERIFY_NONE");
	ok(SSL_get_verify_result(c.client) != X509_V_OK, "... but the peer is not verified");
	ok(SSL_get0_dane_authority(c.client, NULL, NULL) < 0, "... and no TLSA record matched");
	conn_free(&c);

	/* A wrong and a right record: the right one wins (3 0 1: full certificate). */
	memset(r, 0, sizeof *r);
	r->status = DANE_SECURE_TLSA;
	add_tlsa(r, 3, 1, 1, wrong, 32);
	add_tlsa(r, 3, 0, 1, cert_sha256, 32);
	conn_new(&c, client_ctx, 1);
	is(dane_apply(c.client, "mx.dane.test", r, err, sizeof err), 2, "two usable records");
	ok(handshake(c.client, c.server), "one of them matching (3 0 1): success");
	is(SSL_get_verify_result(c.client), X509_V_OK, "... verified");
	conn_free(&c);

	/* DANE-TA(2): a CA of ours as the trust anchor for a leaf it signed
	 * (the server sends both); the name is checked against the base
	 * domain. */
	memset(r, 0, sizeof *r);
	r->status = DANE_SECURE_TLSA;
	add_tlsa(r, 2, 0, 1, cert_sha256, 32);
	conn_new_with(&c, client_ctx, ta_server_ctx, 1);
	is(dane_apply(c.client, "mx.dane.test", r, err, sizeof err), 1, "2 0 1 usable");
	ok(handshake(c.client, c.server), "2 0 1 matching the issuer, right name: success");
	is(SSL_get_verify_result(c.client), X509_V_OK, "... verified");
	is(SSL_get0_dane_authority(c.client, NULL, NULL), 1, "... by the issuer (depth 1)");
	conn_free(&c);
	conn_new_with(&c, client_ctx, ta_server_ctx, 1);
	is(dane_apply(c.client, "other.dane.test", r, err, sizeof err), 1, "2 0 1, other name");
	ok(!handshake(c.client, c.server), "2 0 1 matching the issuer, wrong name: fails");
	is(SSL_get_verify_result(c.client), X509_V_ERR_HOSTNAME_MISMATCH, "... name mismatch");
	conn_free(&c);

	/* PKIX-TA(0) and PKIX-EE(1) are not for SMTP (RFC 7672 3.1.3). */
	memset(r, 0, sizeof *r);
	r->status = DANE_SECURE_TLSA;
	add_tlsa(r, 0, 0, 1, cert_sha256, 32);
	add_tlsa(r, 1, 1, 1, spki_sha256, 32);
	conn_new(&c, client_ctx, 1);
	is(dane_apply(c.client, "mx.dane.test", r, err, sizeof err), 0, "usages 0 and 1: none usable");
	ok(strstr(err, "none usable") != NULL, "... saying so: %s", err);
	conn_free(&c);
	add_tlsa(r, 3, 1, 1, spki_sha256, 32);
	conn_new(&c, client_ctx, 1);
	is(dane_apply(c.client, "mx.dane.test", r, err, sizeof err), 1,
	    "usages 0, 1 and 3: only the 3 counts");
	ok(handshake(c.client, c.server), "... and it authenticates the peer");
	conn_free(&c);

	/* A SHA-256 record with a digest of the wrong length is unusable. */
	memset(r, 0, sizeof *r);
	r->status = DANE_SECURE_TLSA;
	add_tlsa(r, 3, 1, 1, spki_sha256, 20);
	conn_new(&c, client_ctx, 1);
	is(dane_apply(c.client, "mx.dane.test", r, err, sizeof err), 0, "short digest: unusable");
	conn_free(&c);

	/* Records that did not validate are never applied. */
	memset(r, 0, sizeof *r);
	r->status = DANE_INSECURE;
	add_tlsa(r, 3, 1, 1, spki_sha256, 32);
	conn_new(&c, client_ctx, 1);
	is(dane_apply(c.client, "mx.dane.test", r, err, sizeof err), 0, "insecure records: none");
	ok(strstr(err, "insecure") != NULL, "... saying why: %s", err);
	conn_free(&c);

	/* A context without SSL_CTX_dane_enable. */
	r->status = DANE_SECURE_TLSA;
	conn_new(&c, plain_client_ctx, 1);
	is(dane_apply(c.client, "mx.dane.test", r, err, sizeof err), -1,
	    "SSL_CTX not DANE-enabled: an error");
	ok(err[0] != '\0', "... with a reason: %s", err);
	conn_free(&c);
	free(r);
}

int
main(void)
{
	test_anchors();
	test_lookup_offline();
	setup_tls();
	test_apply();
	SSL_CTX_free(server_ctx);
	SSL_CTX_free(ta_server_ctx);
	X509_free(leaf);
	EVP_PKEY_free(leaf_key);
	SSL_CTX_free(client_ctx);
	SSL_CTX_free(plain_client_ctx);
	tls_cert_free(&cert);
	return done_testing();
}
