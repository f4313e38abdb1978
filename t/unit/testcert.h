/*
 * testcert - X.509 test certificates built in memory for the TLS unit
 * tests (lib_tls_cert, lib_tls_name): an EC key, and a certificate with
 * any subject CN, subjectAltName, validity window (days around now, past
 * or future), CA flag and issuer.
 *
 * Not for: integration tests (t/lib/testpki.py makes files with the
 * openssl command), anything a test does not need.
 */
#ifndef SP_TESTCERT_H
#define SP_TESTCERT_H
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static EVP_PKEY *
test_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	if (k == NULL)
		abort();
	return k;
}

static void
test_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *e;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		abort();
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
}

/*
 * A certificate for key with subject CN cn (NULL: no CN, the subject is
 * then O=Sallyport Test), subjectAltName san (an OpenSSL string such as
 * "DNS:a.example,DNS:b.example"; NULL: none), valid from days_from to
 * days_to around now (negative: in the past), a CA (basicConstraints
 * CA:TRUE, keyCertSign) or not, signed by issuer/ikey (NULL: self-signed).
 */
static X509 *
test_cert(EVP_PKEY *key, const char *cn, const char *san, long days_from, long days_to,
    int ca, X509 *issuer, EVP_PKEY *ikey)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_NAME *nm;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), days_from * 86400);
	X509_gmtime_adj(X509_getm_notAfter(x), days_to * 86400);
	X509_set_pubkey(x, key);
	nm = X509_get_subject_name(x);
	if (cn != NULL)
		X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
		    -1, -1, 0);
	else
		X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_UTF8,
		    (const unsigned char *)"Sallyport Test", -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : nm);
	test_add_ext(x, issuer ? issuer : x, NID_basic_constraints,
	    ca ? "critical,CA:TRUE" : "CA:FALSE");
	test_add_ext(x, x, NID_subject_key_identifier, "hash");
	if (issuer != NULL)
		test_add_ext(x, issuer, NID_authority_key_identifier, "keyid");
	if (ca)
		test_add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (san != NULL)
		test_add_ext(x, x, NID_subject_alt_name, san);
	if (X509_sign(x, ikey ? ikey : key, EVP_sha256()) == 0)
		abort();
	return x;
}

#endif
