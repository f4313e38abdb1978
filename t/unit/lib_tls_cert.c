/*
 * lib_tls_cert - certificate objects: generation of each key type with a
 * reload from a scratch directory, the CSR, import of a chain built here
 * with a test CA, every validation failure, PKCS#12 with right and wrong
 * passphrase, file modes, listing, export.  Every certificate is made
 * during the test.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "tls_cert.h"
#include "tap.h"
#include "testcert.h"

static char dir[] = "/tmp/lib_tls_cert.XXXXXX";

/* lib_tls_cert's certificates: every leaf names mx.example.com. */
static X509 *
mkcert(EVP_PKEY *key, const char *cn, long days_from, long days_to, int ca,
    X509 *issuer, EVP_PKEY *ikey)
{
	return test_cert(key, cn, ca ? NULL : "DNS:mx.example.com", days_from, days_to, ca,
	    issuer, ikey);
}

static void
pem_cert(struct buf *b, X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;

	PEM_write_bio_X509(bio, x);
	n = BIO_get_mem_data(bio, &p);
	buf_append(b, p, (size_t)n);
	BIO_free(bio);
}

static void
pem_key(struct buf *b, EVP_PKEY *k, const char *pass)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p;
	long n;

	PEM_write_bio_PrivateKey(bio, k, pass ? EVP_aes_256_cbc() : NULL,
	    NULL, 0, NULL, (void *)pass);
	n = BIO_get_mem_data(bio, &p);
	buf_append(b, p, (size_t)n);
	BIO_free(bio);
}

/* Imports leaf [+ c1 [+ c2]] with key; returns the result, err filled. */
static int
import(X509 *leaf, X509 *c1, X509 *c2, EVP_PKEY *key, char *err, size_t len)
{
	struct buf chain, kb;
	struct tls_cert c;
	int rc;

	buf_init(&chain, 0);
	buf_init(&kb, 0);
	pem_cert(&chain, leaf);
	if (c1)
		pem_cert(&chain, c1);
	if (c2)
		pem_cert(&chain, c2);
	pem_key(&kb, key, NULL);
	tls_cert_init(&c);
	rc = tls_cert_import_pem(&c, chain.data, chain.len, kb.data, kb.len,
	    NULL, err, len);
	tls_cert_free(&c);
	buf_free(&chain);
	buf_free(&kb);
	return rc;
}

static mode_t
file_mode(const char *name, const char *suffix)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s%s", dir, name, suffix);
	if (stat(path, &st) < 0)
		return (mode_t)-1;
	return st.st_mode & 07777;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay++;
	}
	return n;
}

static void
test_generate(void)
{
	static const struct { enum tls_key_type t; const char *key, *name; } kt[] = {
		{ TLS_KEY_RSA2048, "RSA 2048", "rsa2048" },
		{ TLS_KEY_RSA3072, "RSA 3072", "rsa3072" },
		{ TLS_KEY_RSA4096, "RSA 4096", "rsa4096" },
		{ TLS_KEY_EC_P256, "EC P-256", "ec_p256" },
	};
	const char *san[] = { "mail.example.com", "*.mx.example.com" };
	struct tls_cert_params p;
	struct tls_cert c, l;
	struct tls_cert_info info;
	char err[TLS_CERT_ERR_MAX];
	size_t i;
	time_t now = time(NULL);

	memset(&p, 0, sizeof p);
	p.cn = "mx.example.com";
	p.san = san;
	p.nsan = 2;
	p.org = "Example Inc";
	p.country = "US";
	p.days = 30;
	umask(0);	/* the key file must be 0600 whatever the umask */
	for (i = 0; i < sizeof kt / sizeof kt[0]; i++) {
		tls_cert_init(&c);
		tls_cert_init(&l);
		p.key_type = kt[i].t;
		ok(tls_cert_generate(&c, &p, err, sizeof err) == 0,
		    "%s: generated: %s", kt[i].key, err);
		tls_cert_info(c.cert, &info);
		is_str(info.key, kt[i].key, "%s: key type and size", kt[i].key);
		ok(tls_cert_validate(&c, err, sizeof err) == 0,
		    "%s: self-signed certificate validates: %s", kt[i].key, err);
		ok(tls_cert_save(dir, kt[i].name, &c, err, sizeof err) == 0,
		    "%s: saved: %s", kt[i].key, err);
		is(file_mode(kt[i].name, ".key"), 0600, "%s: key file mode 0600 (umask 0)", kt[i].key);
		is(file_mode(kt[i].name, ".crt"), 0644, "%s: certificate file mode 0644", kt[i].key);
		ok(tls_cert_load(dir, kt[i].name, &l, err, sizeof err) == 0,
		    "%s: reloaded: %s", kt[i].key, err);
		ok(l.key && EVP_PKEY_eq(l.key, c.key) == 1 &&
		    X509_cmp(l.cert, c.cert) == 0,
		    "%s: reloaded key and certificate are the ones saved", kt[i].key);
		tls_cert_free(&c);
		tls_cert_free(&l);
	}
	umask(077);	/* and the certificate 0644, readable by every daemon */
	tls_cert_init(&c);
	p.key_type = TLS_KEY_EC_P256;
	tls_cert_generate(&c, &p, err, sizeof err);
	tls_cert_save(dir, "umask", &c, err, sizeof err);
	ok(file_mode("umask", ".crt") == 0644 && file_mode("umask", ".key") == 0600,
	    "umask 077: modes are still 0644 and 0600");
	tls_cert_remove(dir, "umask", err, sizeof err);
	tls_cert_free(&c);
	umask(022);

	/* What the listing shows. */
	tls_cert_init(&c);
	p.key_type = TLS_KEY_EC_P256;
	tls_cert_generate(&c, &p, err, sizeof err);
	tls_cert_info(c.cert, &info);
	is_str(info.subject, "CN=mx.example.com,O=Example Inc,C=US", "subject");
	is_str(info.issuer, info.subject, "self-signed: issuer is the subject");
	is_str(info.sans, "mail.example.com, *.mx.example.com, mx.example.com",
	    "SANs listed, the CN added");
	ok(info.not_after_t - now > 29 * 86400 && info.not_after_t - now < 31 * 86400,
	    "valid for 30 days (%s .. %s)", info.not_before, info.not_after);
	ok(strlen(info.not_after) == 23 && strcmp(info.not_after + 20, "UTC") == 0,
	    "not_after printed with date, time and UTC: %s", info.not_after);
	ok(info.is_ca && info.self_signed && !info.expired,
	    "self-signed CA flags, not expired");
	is(strlen(info.sha256), 95, "SHA-256 fingerprint, colon-separated: %s", info.sha256);

	/* Bad parameters. */
	{
		struct tls_cert_params q = p;
		const char *bad[] = { "bad name.example" };

		q.cn = "";
		ok(tls_cert_generate(&c, &q, err, sizeof err) < 0 &&
		    strstr(err, "common name"), "empty CN refused: %s", err);
		q = p;
		q.san = bad;
		q.nsan = 1;
		ok(tls_cert_generate(&c, &q, err, sizeof err) < 0 &&
		    strstr(err, "not a DNS name"), "bad SAN refused: %s", err);
		q = p;
		q.country = "USA";
		ok(tls_cert_generate(&c, &q, err, sizeof err) < 0 &&
		    strstr(err, "two-letter"), "bad country refused: %s", err);
		q = p;
		q.days = 0;
		ok(tls_cert_generate(&c, &q, err, sizeof err) < 0 &&
		    strstr(err, "days"), "zero days refused: %s", err);
		ok(c.cert != NULL && tls_cert_validate(&c, err, sizeof err) == 0,
		    "a failed generation leaves the object as it was");
	}
	tls_cert_free(&c);
}

static void
test_csr(void)
{
	struct tls_cert_params p;
	struct tls_cert c;
	struct buf pem;
	char err[TLS_CERT_ERR_MAX];
	X509_REQ *req;
	BIO *bio;
	EVP_PKEY *other = test_key();
	STACK_OF(X509_EXTENSION) *exts;
	X509_NAME *nm;
	char cn[100] = "";

	memset(&p, 0, sizeof p);
	p.cn = "mx.example.com";
	p.days = 10;
	p.key_type = TLS_KEY_RSA2048;
	tls_cert_init(&c);
	tls_cert_generate(&c, &p, err, sizeof err);
	buf_init(&pem, 0);
	ok(tls_cert_csr(&c, &pem, err, sizeof err) == 0, "CSR made: %s", err);
	ok(pem.data && strncmp(pem.data, "-----BEGIN CERTIFICATE REQUEST-----", 35) == 0,
	    "CSR is PEM PKCS#10");
	bio = BIO_new_mem_buf(pem.data, (int)pem.len);
	req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ok(req != NULL, "CSR parses");
	ok(req && X509_REQ_verify(req, c.key) == 1, "CSR is signed by the object's key");
	ok(req && X509_REQ_verify(req, other) != 1, "and not by another key");
	nm = req ? X509_REQ_get_subject_name(req) : NULL;
	if (nm)
		X509_NAME_get_text_by_NID(nm, NID_commonName, cn, sizeof cn);
	is_str(cn, "mx.example.com", "CSR subject CN");
	exts = req ? X509_REQ_get_extensions(req) : NULL;
	ok(exts && X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1) >= 0,
	    "CSR requests the subjectAltName");
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	buf_free(&pem);
	tls_cert_free(&c);
	ERR_clear_error();

	/* The CA signs it; uploading the signed certificate keeps the key. */
	{
		EVP_PKEY *cakey = test_key();
		X509 *ca = mkcert(cakey, "Upload CA", -1, 100, 1, NULL, NULL);
		X509 *signed_leaf, *foreign;
		struct buf up;
		EVP_PKEY *keep;

		tls_cert_init(&c);
		p.key_type = TLS_KEY_EC_P256;
		tls_cert_generate(&c, &p, err, sizeof err);
		keep = c.key;
		signed_leaf = mkcert(c.key, "mx.example.com", -1, 50, 0, ca, cakey);
		foreign = mkcert(other, "mx.example.com", -1, 50, 0, ca, cakey);
		buf_init(&up, 0);
		pem_cert(&up, foreign);
		pem_cert(&up, ca);
		ok(tls_cert_replace_leaf(&c, up.data, up.len, err, sizeof err) < 0 &&
		    strstr(err, "does not match"),
		    "upload of a certificate for another key refused: %s", err);
		ok(X509_get_extension_flags(c.cert) & EXFLAG_SS,
		    "and the self-signed certificate is still there");
		buf_reset(&up);
		pem_cert(&up, signed_leaf);
		pem_cert(&up, ca);
		ok(tls_cert_replace_leaf(&c, up.data, up.len, err, sizeof err) == 0,
		    "upload of the CA-signed certificate: %s", err);
		ok(c.key == keep && X509_cmp(c.cert, signed_leaf) == 0 &&
		    sk_X509_num(c.chain) == 1, "leaf replaced, key kept, chain attached");
		buf_free(&up);
		X509_free(signed_leaf);
		X509_free(foreign);
		X509_free(ca);
		EVP_PKEY_free(cakey);
		tls_cert_free(&c);
	}
	EVP_PKEY_free(other);
}

static void
test_import(void)
{
	char err[TLS_CERT_ERR_MAX];
	EVP_PKEY *rootkey = test_key(), *ikey = test_key(), *key = test_key(),
	    *other = test_key(), *weak;
	X509 *root, *inter, *leaf, *nonca, *leaf_nonca, *oldca, *leaf_oldca,
	    *oldleaf, *futleaf;
	struct tls_cert c;
	struct buf b, kb;

	root = mkcert(rootkey, "Test Root CA", -1, 3650, 1, NULL, NULL);
	inter = mkcert(ikey, "Test Intermediate CA", -1, 365, 1, root, rootkey);
	leaf = mkcert(key, "mx.example.com", -1, 90, 0, inter, ikey);

	ok(import(leaf, inter, root, key, err, sizeof err) == 0,
	    "chain leaf + intermediate + root with matching key imports: %s", err);
	ok(import(leaf, inter, NULL, key, err, sizeof err) == 0,
	    "chain leaf + intermediate imports: %s", err);

	/* Key in the same PEM text, and an encrypted key. */
	buf_init(&b, 0);
	buf_init(&kb, 0);
	pem_cert(&b, leaf);
	pem_cert(&b, inter);
	pem_key(&b, key, NULL);
	tls_cert_init(&c);
	ok(tls_cert_import_pem(&c, b.data, b.len, NULL, 0, NULL, err, sizeof err) == 0 &&
	    sk_X509_num(c.chain) == 1 && EVP_PKEY_eq(c.key, key) == 1,
	    "key found in the same PEM text: %s", err);
	buf_reset(&b);
	pem_cert(&b, leaf);
	pem_key(&kb, key, "pem pass");
	ok(tls_cert_import_pem(&c, b.data, b.len, kb.data, kb.len, NULL, err, sizeof err) < 0 &&
	    strstr(err, "passphrase"),
	    "encrypted key without passphrase: refused, no prompt: %s", err);
	ok(tls_cert_import_pem(&c, b.data, b.len, kb.data, kb.len, "wrong", err, sizeof err) < 0,
	    "encrypted key with the wrong passphrase: refused: %s", err);
	ok(tls_cert_import_pem(&c, b.data, b.len, kb.data, kb.len, "pem pass", err, sizeof err) == 0,
	    "encrypted key with its passphrase: %s", err);
	ok(tls_cert_import_pem(&c, "junk", 4, kb.data, kb.len, "pem pass", err, sizeof err) < 0 &&
	    strstr(err, "no PEM certificate"), "text without a certificate: %s", err);
	tls_cert_free(&c);

	/* Each validation failure, with what is wrong. */
	ok(import(leaf, inter, NULL, other, err, sizeof err) < 0 &&
	    strstr(err, "private key does not match the certificate (CN=mx.example.com)"),
	    "mismatched key: %s", err);

	nonca = mkcert(ikey, "Foo CA", -1, 365, 0, root, rootkey);
	leaf_nonca = mkcert(key, "mx.example.com", -1, 90, 0, nonca, ikey);
	ok(import(leaf_nonca, nonca, root, key, err, sizeof err) < 0 &&
	    strstr(err, "certificate 2 of the chain (CN=Foo CA) is not a CA certificate"),
	    "non-CA intermediate: %s", err);
	ok(import(leaf, inter, nonca, key, err, sizeof err) < 0 &&
	    strstr(err, "certificate 3 of the chain (CN=Foo CA) is not a CA"),
	    "non-CA third certificate counted right: %s", err);

	oldca = mkcert(ikey, "Old CA", -400, -10, 1, root, rootkey);
	leaf_oldca = mkcert(key, "mx.example.com", -1, 90, 0, oldca, ikey);
	ok(import(leaf_oldca, oldca, root, key, err, sizeof err) < 0 &&
	    strstr(err, "certificate 2 of the chain (CN=Old CA) expired on "),
	    "expired CA: %s", err);

	oldleaf = mkcert(key, "mx.example.com", -60, -1, 0, inter, ikey);
	ok(import(oldleaf, inter, root, key, err, sizeof err) < 0 &&
	    strstr(err, "the certificate (CN=mx.example.com) expired on "),
	    "expired leaf: %s", err);
	futleaf = mkcert(key, "mx.example.com", 5, 60, 0, inter, ikey);
	ok(import(futleaf, inter, root, key, err, sizeof err) < 0 &&
	    strstr(err, "is not valid before"), "not yet valid leaf: %s", err);

	ok(import(leaf, root, inter, key, err, sizeof err) < 0 &&
	    strstr(err, "certificate 2 of the chain (CN=Test Root CA) did not issue "
	    "certificate 1 (CN=mx.example.com)"), "chain out of order: %s", err);

	weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	{
		X509 *wleaf = mkcert(weak, "mx.example.com", -1, 90, 0, inter, ikey);

		ok(import(wleaf, inter, NULL, weak, err, sizeof err) < 0 &&
		    strstr(err, "1024 bits"), "1024-bit RSA refused: %s", err);
		X509_free(wleaf);
	}

	/* A custom CA list (spec 3.6): CA:TRUE and unexpired only, no dups. */
	{
		struct buf list, out, report;

		buf_init(&list, 0);
		buf_init(&out, 0);
		buf_init(&report, 0);
		pem_cert(&list, root);
		pem_cert(&list, root);
		pem_cert(&list, nonca);
		pem_cert(&list, oldca);
		pem_cert(&list, inter);
		is(tls_cert_ca_list_check(list.data, list.len, &out, &report,
		    err, sizeof err), 2, "CA list: two of five accepted");
		ok(report.data && strstr(report.data,
		    "certificate 3 of the list (CN=Foo CA) is not a CA certificate") &&
		    strstr(report.data, "certificate 4 of the list (CN=Old CA) expired on "),
		    "CA list: each rejected entry reported with its subject and reason");
		is(count(report.data ? report.data : "", "\n"), 2,
		    "CA list: the duplicate is dropped silently");
		ok(out.data && count(out.data, "BEGIN CERTIFICATE") == 2 &&
		    strstr(out.data, "# CN=Test Root CA / ") &&
		    strstr(out.data, "# CN=Test Intermediate CA / "),
		    "CA list: accepted ones written with a subject / fingerprint line");
		buf_reset(&report);
		is(tls_cert_ca_list_check(out.data, out.len, NULL, &report, err,
		    sizeof err), 2, "CA list: its own output reads back whole");
		ok(report.len == 0, "CA list: and nothing in it is rejected");
		is(tls_cert_ca_list_check("# nothing\n", 10, NULL, NULL, err,
		    sizeof err), -1, "CA list: text without certificates refused: %s", err);
		buf_free(&list);
		buf_free(&out);
		buf_free(&report);
	}

	/* PKCS#12, built here with the chain in reverse order. */
	{
		STACK_OF(X509) *ca = sk_X509_new_null();
		PKCS12 *p12;
		unsigned char *der = NULL;
		int len;
		struct buf out;
		struct tls_cert_info info;

		sk_X509_push(ca, root);
		sk_X509_push(ca, inter);
		p12 = PKCS12_create("s3cret", "mx", key, leaf, ca, 0, 0, 0, 0, 0);
		len = i2d_PKCS12(p12, &der);
		ok(p12 != NULL && len > 0, "test PKCS#12 built");
		tls_cert_init(&c);
		ok(tls_cert_import_p12(&c, der, (size_t)len, "s3cret", err, sizeof err) == 0,
		    "PKCS#12 with the right passphrase: %s", err);
		ok(c.chain && sk_X509_num(c.chain) == 2 &&
		    X509_cmp(sk_X509_value(c.chain, 0), inter) == 0 &&
		    X509_cmp(sk_X509_value(c.chain, 1), root) == 0,
		    "PKCS#12 chain put in issuing order");
		ok(tls_cert_import_p12(&c, der, (size_t)len, "wrong", err, sizeof err) < 0 &&
		    strstr(err, "wrong passphrase"),
		    "PKCS#12 with a wrong passphrase: %s", err);
		ok(X509_cmp(c.cert, leaf) == 0, "a failed import leaves the object as it was");
		ok(tls_cert_import_p12(&c, "garbage", 7, "s3cret", err, sizeof err) < 0 &&
		    strstr(err, "not a PKCS#12"), "not PKCS#12: %s", err);
		OPENSSL_free(der);
		PKCS12_free(p12);
		der = NULL;
		p12 = PKCS12_create(NULL, "mx", key, leaf, NULL, 0, 0, 0, 0, 0);
		len = i2d_PKCS12(p12, &der);
		ok(tls_cert_import_p12(&c, der, (size_t)len, NULL, err, sizeof err) == 0,
		    "PKCS#12 without a passphrase, none given: %s", err);
		ok(tls_cert_import_p12(&c, der, (size_t)len, "x", err, sizeof err) < 0,
		    "PKCS#12 without a passphrase, one given: refused");
		OPENSSL_free(der);
		PKCS12_free(p12);
		{
			STACK_OF(X509) *ca2 = sk_X509_new_null();

			sk_X509_push(ca2, inter);
			sk_X509_push(ca2, root);
			p12 = PKCS12_create("s3cret", "mx", key, leaf, ca2, 0, 0, 0, 0, 0);
			der = NULL;
			len = i2d_PKCS12(p12, &der);
			ok(tls_cert_import_p12(&c, der, (size_t)len, "s3cret", err, sizeof err) == 0 &&
			    sk_X509_num(c.chain) == 2,
			    "PKCS#12 with the chain in order: %s", err);
			OPENSSL_free(der);
			PKCS12_free(p12);
			sk_X509_free(ca2);
		}

		/* Export and import back. */
		buf_init(&out, 0);
		ok(tls_cert_export_p12(&c, "mx", "exp pass", &out, err, sizeof err) == 0,
		    "PKCS#12 export: %s", err);
		{
			struct tls_cert d;

			tls_cert_init(&d);
			ok(tls_cert_import_p12(&d, out.data, out.len, "exp pass", err, sizeof err) == 0 &&
			    EVP_PKEY_eq(d.key, key) == 1 && sk_X509_num(d.chain) == 2,
			    "exported PKCS#12 imports back: %s", err);
			ok(tls_cert_import_p12(&d, out.data, out.len, "", err, sizeof err) < 0,
			    "exported PKCS#12 is protected by the passphrase");
			tls_cert_free(&d);
		}
		ok(tls_cert_export_p12(&c, "mx", "", &out, err, sizeof err) < 0,
		    "PKCS#12 export without a passphrase refused");
		buf_reset(&out);
		ok(tls_cert_export_pem(&c, 0, &out) == 0 &&
		    count(out.data, "BEGIN CERTIFICATE") == 3 &&
		    strstr(out.data, "PRIVATE KEY") == NULL,
		    "PEM export: leaf and chain, no key");
		buf_reset(&out);
		ok(tls_cert_export_pem(&c, 1, &out) == 0 &&
		    count(out.data, "BEGIN PRIVATE KEY") == 1,
		    "PEM export with the key");
		tls_cert_info(sk_X509_value(c.chain, 0), &info);
		ok(strstr(info.subject, "CN=Test Intermediate CA") &&
		    strstr(info.issuer, "CN=Test Root CA") && info.is_ca &&
		    !info.self_signed, "listing of the intermediate: %s / %s",
		    info.subject, info.issuer);
		tls_cert_info(oldleaf, &info);
		ok(info.expired, "listing marks an expired certificate");

		/* Stored, reloaded with its chain, removed. */
		ok(tls_cert_save(dir, "Imported-1", &c, err, sizeof err) == 0,
		    "imported object saved: %s", err);
		tls_cert_free(&c);
		ok(tls_cert_load(dir, "Imported-1", &c, err, sizeof err) == 0 &&
		    sk_X509_num(c.chain) == 2 && tls_cert_validate(&c, err, sizeof err) == 0,
		    "reloaded with its chain: %s", err);
		ok(tls_cert_remove(dir, "Imported-1", err, sizeof err) == 0 &&
		    file_mode("Imported-1", ".key") == (mode_t)-1 &&
		    file_mode("Imported-1", ".crt") == (mode_t)-1, "removed");
		ok(tls_cert_load(dir, "Imported-1", &c, err, sizeof err) < 0 &&
		    strstr(err, "cannot read"), "loading a removed object: %s", err);
		buf_free(&out);
		tls_cert_free(&c);
		sk_X509_free(ca);
	}

	/* A key file that does not belong to the certificate. */
	{
		struct tls_cert a, o;
		struct tls_cert_params p;
		char from[512], to[512];

		memset(&p, 0, sizeof p);
		p.cn = "a.example.com";
		p.days = 5;
		p.key_type = TLS_KEY_EC_P256;
		tls_cert_init(&a);
		tls_cert_init(&o);
		tls_cert_generate(&a, &p, err, sizeof err);
		tls_cert_save(dir, "a", &a, err, sizeof err);
		tls_cert_generate(&o, &p, err, sizeof err);
		tls_cert_save(dir, "o", &o, err, sizeof err);
		snprintf(from, sizeof from, "%s/o.key", dir);
		snprintf(to, sizeof to, "%s/a.key", dir);
		rename(from, to);
		tls_cert_free(&a);
		ok(tls_cert_load(dir, "a", &a, err, sizeof err) < 0 &&
		    strstr(err, "does not match"), "stored key of another certificate: %s", err);
		tls_cert_remove(dir, "a", err, sizeof err);
		tls_cert_remove(dir, "o", err, sizeof err);
		tls_cert_free(&a);
		tls_cert_free(&o);
	}

	buf_free(&b);
	buf_free(&kb);
	X509_free(root);
	X509_free(inter);
	X509_free(leaf);
	X509_free(nonca);
	X509_free(leaf_nonca);
	X509_free(oldca);
	X509_free(leaf_oldca);
	X509_free(oldleaf);
	X509_free(futleaf);
	EVP_PKEY_free(rootkey);
	EVP_PKEY_free(ikey);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	EVP_PKEY_free(weak);
}

static void
test_names(void)
{
	struct tls_cert c;
	char err[TLS_CERT_ERR_MAX], big[80];

	ok(tls_cert_name_valid("mx_cert") && tls_cert_name_valid("_a") &&
	    tls_cert_name_valid("A-1") && tls_cert_name_valid("x"),
	    "good names accepted");
	ok(!tls_cert_name_valid("1abc") && !tls_cert_name_valid("-a") &&
	    !tls_cert_name_valid("a.b") && !tls_cert_name_valid("a/b") &&
	    !tls_cert_name_valid("") && !tls_cert_name_valid("../x") &&
	    !tls_cert_name_valid(NULL) && !tls_cert_name_valid("a b"),
	    "bad names refused");
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ok(!tls_cert_name_valid(big), "a name over %d characters refused",
	    TLS_CERT_NAME_MAX);
	tls_cert_init(&c);
	ok(tls_cert_save(dir, "../evil", &c, err, sizeof err) < 0 &&
	    strstr(err, "invalid certificate name"), "save refuses a path name: %s", err);
	ok(tls_cert_load(dir, "a/b", &c, err, sizeof err) < 0,
	    "load refuses a path name");
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		abort();
	test_generate();
	test_csr();
	test_import();
	test_names();
	{
		static const char *const n[] = { "rsa2048", "rsa3072",
		    "rsa4096", "ec_p256" };
		char err[TLS_CERT_ERR_MAX];
		size_t i;

		for (i = 0; i < 4; i++)
			tls_cert_remove(dir, n[i], err, sizeof err);
	}
	ok(rmdir(dir) == 0, "scratch directory left empty (no temporary files)");
	return done_testing();
}
