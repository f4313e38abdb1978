/*
 * tls_cert - certificate objects: generate, request, import, validate,
 * describe, export, store (see tls_cert.h).
 *
 * Everything an operator hands us (PEM text, PKCS#12 bytes, names) is
 * checked before use and every failure says what is wrong with which
 * certificate.  OpenSSL's error queue is cleared before each return so
 * that one failure here cannot surface as a stale error in a later TLS
 * call of the same process.  Private keys are only ever written to files
 * created with mode 0600.
 *
 * Not for: verifying peers (tls_name.c), TLS sessions, the config schema.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include "tls_cert.h"
#include "xalloc.h"

/* The leaf counts as certificate 1 of the chain in messages. */
#define CHAIN_NUMBER(i)	((i) + 2)

static int
fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	ERR_clear_error();
	return -1;
}

/* Public functions start with an empty message: on success it stays so. */
static void
err_clear(char *err, size_t errlen)
{
	if (err != NULL && errlen > 0)
		err[0] = '\0';
}

void
tls_cert_init(struct tls_cert *c)
{
	memset(c, 0, sizeof *c);
}

void
tls_cert_free(struct tls_cert *c)
{
	EVP_PKEY_free(c->key);
	X509_free(c->cert);
	sk_X509_pop_free(c->chain, X509_free);
	memset(c, 0, sizeof *c);
}

/* Printable, one-line copy of possibly hostile text. */
static void
copy_clean(char *out, size_t outlen, const unsigned char *s, size_t len)
{
	size_t i;

	if (outlen == 0)
		return;
	for (i = 0; i < len && i + 1 < outlen; i++)
		out[i] = (s[i] < 0x20 || s[i] == 0x7f) ? '?' : (char)s[i];
	out[i] = '\0';
}

static void
name_rfc2253(X509_NAME *nm, char *out, size_t outlen)
{
	BIO *bio;
	char tmp[512];
	int n;

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (nm == NULL || (bio = BIO_new(BIO_s_mem())) == NULL)
		return;
	X509_NAME_print_ex(bio, nm, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	n = BIO_read(bio, tmp, (int)sizeof tmp - 1);
	BIO_free(bio);
	copy_clean(out, outlen, (const unsigned char *)tmp, n > 0 ? (size_t)n : 0);
}

/* "CN=Foo CA" if there is a CN, else the whole subject. */
static const char *
who(X509 *x, char *out, size_t outlen)
{
	X509_NAME *nm = X509_get_subject_name(x);
	int idx = X509_NAME_get_index_by_NID(nm, NID_commonName, -1);
	unsigned char *u = NULL;
	int n;

	if (idx >= 0 && (n = ASN1_STRING_to_UTF8(&u,
	    X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, idx)))) >= 0) {
		char cn[200];

		copy_clean(cn, sizeof cn, u, (size_t)n);
		OPENSSL_free(u);
		snprintf(out, outlen, "CN=%s", cn);
	} else
		name_rfc2253(nm, out, outlen);
	if (out[0] == '\0')
		snprintf(out, outlen, "no subject");
	return out;
}

static void
time_text(const ASN1_TIME *t, char *out, size_t outlen, time_t *tt)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		snprintf(out, outlen, "(invalid time)");
		if (tt != NULL)
			*tt = 0;
		return;
	}
	strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm);
	if (tt != NULL)
		*tt = timegm(&tm);
}

/* 0 if x is valid now, else -1 with "<what> expired on ..." in err. */
static int
check_dates(X509 *x, const char *what, char *err, size_t errlen)
{
	char when[32];

	if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
		time_text(X509_get0_notAfter(x), when, sizeof when, NULL);
		return fail(err, errlen, "%s expired on %s", what, when);
	}
	if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0) {
		time_text(X509_get0_notBefore(x), when, sizeof when, NULL);
		return fail(err, errlen, "%s is not valid before %s", what, when);
	}
	return 0;
}

int
tls_cert_validate(const struct tls_cert *c, char *err, size_t errlen)
{
	char name[256], name2[256], what[300];
	X509 *prev, *x;
	int i, n;

	err_clear(err, errlen);
	if (c->cert == NULL)
		return fail(err, errlen, "no certificate");
	if (c->key == NULL)
		return fail(err, errlen, "no private key");
	if (EVP_PKEY_eq(X509_get0_pubkey(c->cert), c->key) != 1)
		return fail(err, errlen, "the private key does not match the "
		    "certificate (%s)", who(c->cert, name, sizeof name));
	if (EVP_PKEY_is_a(c->key, "RSA") && EVP_PKEY_get_bits(c->key) < 2048)
		return fail(err, errlen, "the RSA key has %d bits; at least "
		    "2048 are required", EVP_PKEY_get_bits(c->key));
	snprintf(what, sizeof what, "the certificate (%s)",
	    who(c->cert, name, sizeof name));
	if (check_dates(c->cert, what, err, errlen) < 0)
		return -1;

	prev = c->cert;
	n = c->chain != NULL ? sk_X509_num(c->chain) : 0;
	for (i = 0; i < n; i++) {
		x = sk_X509_value(c->chain, i);
		snprintf(what, sizeof what, "certificate %d of the chain (%s)",
		    CHAIN_NUMBER(i), who(x, name, sizeof name));
		if (!(X509_get_extension_flags(x) & EXFLAG_CA))
			return fail(err, errlen, "%s is not a CA certificate "
			    "(no basicConstraints CA:TRUE)", what);
		if (check_dates(x, what, err, errlen) < 0)
			return -1;
		if (X509_check_issued(x, prev) != X509_V_OK)
			return fail(err, errlen, "%s did not issue certificate "
			    "%d (%s): the chain must be in order, leaf first",
			    what, CHAIN_NUMBER(i) - 1, who(prev, name2,
			    sizeof name2));
		prev = x;
	}
	ERR_clear_error();
	return 0;
}

/* ---- generation ---- */

static int
dns_name_ok(const char *s)
{
	size_t i, len = strlen(s), label = 0;

	if (len == 0 || len > 253)
		return 0;
	if (s[0] == '*' && s[1] == '.')
		s += 2, len -= 2;	/* a left-most wildcard label */
	for (i = 0; i < len; i++) {
		char ch = s[i];

		if (ch == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_') {
			if (++label > 63)
				return 0;
		} else
			return 0;
	}
	return label > 0;
}

static int
add_entry(X509_NAME *nm, const char *field, const char *value)
{
	if (value == NULL || value[0] == '\0')
		return 0;
	return X509_NAME_add_entry_by_txt(nm, field, MBSTRING_UTF8,
	    (const unsigned char *)value, -1, -1, 0) == 1 ? 0 : -1;
}

static int
add_ext_conf(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *e;
	int rc;

	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if ((e = X509V3_EXT_conf_nid(NULL, &v3, nid, value)) == NULL)
		return -1;
	rc = X509_add_ext(x, e, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(e);
	return rc;
}

/* subjectAltName built from GENERAL_NAMEs, never from a config string, so
 * a name cannot smuggle in a second entry. */
static int
add_sans(X509 *x, const char *cn, const char *const *san, size_t nsan)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	size_t i;
	int rc = -1, have_cn = 0;

	if (gens == NULL)
		return -1;
	for (i = 0; i <= nsan; i++) {
		const char *dns = i < nsan ? san[i] : cn;
		GENERAL_NAME *g;
		ASN1_IA5STRING *s;

		if (i == nsan && (have_cn || !dns_name_ok(cn)))
			break;
		if (i < nsan && strcasecmp(dns, cn) == 0)
			have_cn = 1;
		if ((g = GENERAL_NAME_new()) == NULL ||
		    (s = ASN1_IA5STRING_new()) == NULL) {
			GENERAL_NAME_free(g);
			goto out;
		}
		if (ASN1_STRING_set(s, dns, (int)strlen(dns)) != 1) {
			ASN1_IA5STRING_free(s);
			GENERAL_NAME_free(g);
			goto out;
		}
		GENERAL_NAME_set0_value(g, GEN_DNS, s);
		if (sk_GENERAL_NAME_push(gens, g) <= 0) {
			GENERAL_NAME_free(g);
			goto out;
		}
	}
	rc = sk_GENERAL_NAME_num(gens) == 0 ? 0 :
	    X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0) == 1 ? 0 : -1;
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

static EVP_PKEY *
keygen(enum tls_key_type t)
{
	switch (t) {
	case TLS_KEY_RSA2048:
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	case TLS_KEY_RSA3072:
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	case TLS_KEY_RSA4096:
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	case TLS_KEY_EC_P256:
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	}
	return NULL;
}

static int
check_params(const struct tls_cert_params *p, char *err, size_t errlen)
{
	size_t i;

	if (p->cn == NULL || p->cn[0] == '\0')
		return fail(err, errlen, "a common name is required");
	if (strlen(p->cn) > 64)
		return fail(err, errlen, "the common name is longer than 64 "
		    "characters");
	if (p->nsan > TLS_CERT_MAX_SANS)
		return fail(err, errlen, "at most %d subjectAltName names",
		    TLS_CERT_MAX_SANS);
	for (i = 0; i < p->nsan; i++)
		if (p->san[i] == NULL || !dns_name_ok(p->san[i]))
			return fail(err, errlen, "subjectAltName %zu (%.64s) is "
			    "not a DNS name", i + 1, p->san[i] ? p->san[i] : "");
	if (p->country != NULL && p->country[0] != '\0' &&
	    (strlen(p->country) != 2 ||
	    !((p->country[0] >= 'A' && p->country[0] <= 'Z') &&
	    (p->country[1] >= 'A' && p->country[1] <= 'Z'))))
		return fail(err, errlen, "the country must be a two-letter ISO "
		    "code in capitals (\"US\")");
	if (p->days < 1 || p->days > TLS_CERT_MAX_DAYS)
		return fail(err, errlen, "the validity must be 1 to %d days",
		    TLS_CERT_MAX_DAYS);
	switch (p->key_type) {
	case TLS_KEY_RSA2048:
	case TLS_KEY_RSA3072:
	case TLS_KEY_RSA4096:
	case TLS_KEY_EC_P256:
		break;
	default:
		return fail(err, errlen, "unknown key type");
	}
	return 0;
}

int
tls_cert_generate(struct tls_cert *c, const struct tls_cert_params *p,
    char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	X509_NAME *nm;
	BIGNUM *bn = NULL;
	const char *ku;

	err_clear(err, errlen);
	if (check_params(p, err, errlen) < 0)
		return -1;
	if ((key = keygen(p->key_type)) == NULL)
		return fail(err, errlen, "key generation failed");
	if ((x = X509_new()) == NULL || (bn = BN_new()) == NULL)
		goto oom;
	/* A random 159-bit serial: positive, unique enough, RFC 5280 4.1.2.2. */
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    BN_rand(bn, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)p->days, 0, NULL) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto oom;
	nm = X509_get_subject_name(x);
	if (add_entry(nm, "C", p->country) < 0 ||
	    add_entry(nm, "ST", p->state) < 0 ||
	    add_entry(nm, "L", p->locality) < 0 ||
	    add_entry(nm, "O", p->org) < 0 ||
	    add_entry(nm, "OU", p->unit) < 0 ||
	    add_entry(nm, "CN", p->cn) < 0) {
		fail(err, errlen, "a subject field is not valid (too long?)");
		goto out;
	}
	ku = EVP_PKEY_is_a(key, "RSA") ?
	    "critical,digitalSignature,keyEncipherment,keyCertSign" :
	    "critical,digitalSignature,keyCertSign";
	if (X509_set_issuer_name(x, nm) != 1 ||
	    add_ext_conf(x, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
	    add_ext_conf(x, NID_key_usage, ku) < 0 ||
	    add_ext_conf(x, NID_ext_key_usage, "serverAuth,clientAuth") < 0 ||
	    add_ext_conf(x, NID_subject_key_identifier, "hash") < 0 ||
	    add_sans(x, p->cn, p->san, p->nsan) < 0)
		goto oom;
	if (X509_sign(x, key, EVP_sha256()) == 0) {
		fail(err, errlen, "signing the certificate failed");
		goto out;
	}
	BN_free(bn);
	tls_cert_free(c);
	c->key = key;
	c->cert = x;
	if ((c->chain = sk_X509_new_null()) == NULL) {
		tls_cert_free(c);
		return fail(err, errlen, "out of memory");
	}
	ERR_clear_error();
	return 0;
oom:
	fail(err, errlen, "building the certificate failed");
out:
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(key);
	return -1;
}

/* ---- CSR ---- */

static int
bio_to_buf(BIO *bio, struct buf *out)
{
	char *p;
	long n = BIO_get_mem_data(bio, &p);

	if (n < 0)
		return -1;
	return buf_append(out, p, (size_t)n);
}

int
tls_cert_csr(const struct tls_cert *c, struct buf *pem, char *err,
    size_t errlen)
{
	X509_REQ *req = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	BIO *bio = NULL;
	int idx, rc = -1;

	err_clear(err, errlen);
	if (c->key == NULL || c->cert == NULL)
		return fail(err, errlen, "a key and a certificate are needed "
		    "for a request");
	if ((req = X509_REQ_new()) == NULL ||
	    X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_subject_name(req, X509_get_subject_name(c->cert)) != 1 ||
	    X509_REQ_set_pubkey(req, c->key) != 1)
		goto out;
	idx = X509_get_ext_by_NID(c->cert, NID_subject_alt_name, -1);
	if (idx >= 0) {
		X509_EXTENSION *e = X509_EXTENSION_dup(X509_get_ext(c->cert, idx));

		if (e == NULL || (exts = sk_X509_EXTENSION_new_null()) == NULL ||
		    sk_X509_EXTENSION_push(exts, e) <= 0) {
			X509_EXTENSION_free(e);
			goto out;
		}
		if (X509_REQ_add_extensions(req, exts) != 1)
			goto out;
	}
	if (X509_REQ_sign(req, c->key, EVP_sha256()) == 0 ||
	    (bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509_REQ(bio, req) != 1 ||
	    bio_to_buf(bio, pem) < 0)
		goto out;
	rc = 0;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	BIO_free(bio);
	if (rc < 0)
		return fail(err, errlen, "building the certificate request failed");
	ERR_clear_error();
	return 0;
}

/* ---- import ---- */

/* Never let OpenSSL prompt on a terminal for a passphrase. */
static int
pass_cb(char *buf, int size, int rwflag, void *u)
{
	size_t len;

	(void)rwflag;
	if (u == NULL || size <= 0)
		return 0;
	len = strlen(u);
	if (len > (size_t)size)
		return 0;
	memcpy(buf, u, len);
	return (int)len;
}

/* Reads every certificate of a PEM text: the first is the leaf. */
static int
read_certs(const char *pem, size_t len, X509 **leaf, STACK_OF(X509) **chain,
    char *err, size_t errlen)
{
	BIO *bio;
	X509 *x;

	*leaf = NULL;
	if (len > INT_MAX)
		return fail(err, errlen, "the PEM text is too large");
	if ((*chain = sk_X509_new_null()) == NULL ||
	    (bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		sk_X509_free(*chain);
		*chain = NULL;
		return fail(err, errlen, "out of memory");
	}
	while ((x = PEM_read_bio_X509(bio, NULL, pass_cb, NULL)) != NULL) {
		if (*leaf == NULL)
			*leaf = x;
		else if (sk_X509_push(*chain, x) <= 0) {
			X509_free(x);
			break;
		}
	}
	BIO_free(bio);
	if (*leaf == NULL) {
		sk_X509_free(*chain);
		*chain = NULL;
		return fail(err, errlen, "no PEM certificate found");
	}
	ERR_clear_error();
	return 0;
}

static EVP_PKEY *
read_key(const char *pem, size_t len, const char *pass)
{
	BIO *bio;
	EVP_PKEY *k;

	if (len > INT_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return NULL;
	k = PEM_read_bio_PrivateKey(bio, NULL, pass_cb, (void *)pass);
	BIO_free(bio);
	return k;
}

/* Takes over key, leaf and chain if they validate; frees them if not. */
static int
adopt(struct tls_cert *c, EVP_PKEY *key, X509 *leaf, STACK_OF(X509) *chain,
    char *err, size_t errlen)
{
	struct tls_cert n = { key, leaf, chain };

	if (n.chain == NULL && (n.chain = sk_X509_new_null()) == NULL) {
		tls_cert_free(&n);
		return fail(err, errlen, "out of memory");
	}
	if (tls_cert_validate(&n, err, errlen) < 0) {
		tls_cert_free(&n);
		return -1;
	}
	tls_cert_free(c);
	*c = n;
	return 0;
}

int
tls_cert_import_pem(struct tls_cert *c, const char *pem, size_t len,
    const char *key_pem, size_t key_len, const char *pass, char *err,
    size_t errlen)
{
	X509 *leaf;
	STACK_OF(X509) *chain;
	EVP_PKEY *key;

	err_clear(err, errlen);
	if (read_certs(pem, len, &leaf, &chain, err, errlen) < 0)
		return -1;
	key = key_pem != NULL ? read_key(key_pem, key_len, pass) :
	    read_key(pem, len, pass);
	if (key == NULL) {
		X509_free(leaf);
		sk_X509_pop_free(chain, X509_free);
		return fail(err, errlen, "no usable private key found%s",
		    pass == NULL ? " (is it encrypted? give its passphrase)" :
		    " (or the passphrase is wrong)");
	}
	return adopt(c, key, leaf, chain, err, errlen);
}

/* Puts a chain in issuing order from the leaf; what issues nothing in
 * the chain goes last, in its old order (validation then reports it). */
static STACK_OF(X509) *
order_chain(X509 *leaf, STACK_OF(X509) *in)
{
	STACK_OF(X509) *out = sk_X509_new_null();
	X509 *prev = leaf;
	int i, found;

	if (out == NULL)
		return NULL;
	do {
		found = 0;
		for (i = 0; i < sk_X509_num(in); i++) {
			X509 *x = sk_X509_value(in, i);

			if (X509_cmp(x, prev) != 0 &&
			    X509_check_issued(x, prev) == X509_V_OK) {
				(void)sk_X509_delete(in, i);
				if (sk_X509_push(out, x) <= 0) {
					X509_free(x);
					break;
				}
				prev = x;
				found = 1;
				break;
			}
		}
	} while (found);
	while (sk_X509_num(in) > 0) {
		X509 *x = sk_X509_shift(in);

		if (sk_X509_push(out, x) <= 0)
			X509_free(x);
	}
	return out;
}

int
tls_cert_import_p12(struct tls_cert *c, const void *der, size_t len,
    const char *pass, char *err, size_t errlen)
{
	const unsigned char *p = der;
	PKCS12 *p12;
	EVP_PKEY *key = NULL;
	X509 *leaf = NULL;
	STACK_OF(X509) *ca = NULL, *chain;

	err_clear(err, errlen);
	if (len > LONG_MAX || (p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL)
		return fail(err, errlen, "not a PKCS#12 file");
	if (pass == NULL)
		pass = "";
	if (PKCS12_mac_present(p12) &&
	    PKCS12_verify_mac(p12, pass, -1) != 1) {
		/* An empty passphrase may also mean "none at all". */
		if (pass[0] != '\0' || PKCS12_verify_mac(p12, NULL, 0) != 1) {
			PKCS12_free(p12);
			return fail(err, errlen, "wrong passphrase for the "
			    "PKCS#12 file (integrity check failed)");
		}
		pass = NULL;
	}
	if (PKCS12_parse(p12, pass, &key, &leaf, &ca) != 1) {
		PKCS12_free(p12);
		return fail(err, errlen, "cannot read the PKCS#12 file (wrong "
		    "passphrase or unsupported encryption)");
	}
	PKCS12_free(p12);
	if (key == NULL || leaf == NULL) {
		EVP_PKEY_free(key);
		X509_free(leaf);
		sk_X509_pop_free(ca, X509_free);
		return fail(err, errlen, "the PKCS#12 file holds no %s",
		    key == NULL ? "private key" : "certificate for its key");
	}
	if (ca == NULL)
		chain = sk_X509_new_null();
	else {
		chain = order_chain(leaf, ca);
		sk_X509_pop_free(ca, X509_free);
	}
	return adopt(c, key, leaf, chain, err, errlen);
}

int
tls_cert_replace_leaf(struct tls_cert *c, const char *pem, size_t len,
    char *err, size_t errlen)
{
	X509 *leaf;
	STACK_OF(X509) *chain;

	err_clear(err, errlen);
	if (c->key == NULL)
		return fail(err, errlen, "no private key to attach the "
		    "certificate to");
	if (read_certs(pem, len, &leaf, &chain, err, errlen) < 0)
		return -1;
	if (!EVP_PKEY_up_ref(c->key)) {
		X509_free(leaf);
		sk_X509_pop_free(chain, X509_free);
		return fail(err, errlen, "out of memory");
	}
	return adopt(c, c->key, leaf, chain, err, errlen);
}

/* ---- description and export ---- */

int
tls_cert_info(X509 *x, struct tls_cert_info *info)
{
	GENERAL_NAMES *gens;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	EVP_PKEY *pk;
	size_t used;
	int n, j;

	memset(info, 0, sizeof *info);
	if (x == NULL)
		return -1;
	name_rfc2253(X509_get_subject_name(x), info->subject, sizeof info->subject);
	name_rfc2253(X509_get_issuer_name(x), info->issuer, sizeof info->issuer);
	time_text(X509_get0_notBefore(x), info->not_before,
	    sizeof info->not_before, &info->not_before_t);
	time_text(X509_get0_notAfter(x), info->not_after,
	    sizeof info->not_after, &info->not_after_t);
	info->expired = X509_cmp_current_time(X509_get0_notAfter(x)) <= 0 ||
	    X509_cmp_current_time(X509_get0_notBefore(x)) >= 0;
	info->is_ca = (X509_get_extension_flags(x) & EXFLAG_CA) != 0;
	info->self_signed = (X509_get_extension_flags(x) & EXFLAG_SS) != 0;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	n = gens != NULL ? sk_GENERAL_NAME_num(gens) : 0;
	for (j = 0, used = 0; j < n; j++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, j);
		char one[256];
		size_t olen;

		if (g->type != GEN_DNS)
			continue;
		copy_clean(one, sizeof one, ASN1_STRING_get0_data(g->d.dNSName),
		    (size_t)ASN1_STRING_length(g->d.dNSName));
		olen = strlen(one) + (used ? 2 : 0);
		if (used + olen + 6 >= sizeof info->sans) {
			memcpy(info->sans + used, used ? ", ..." : "...",
			    used ? 6 : 4);
			break;
		}
		snprintf(info->sans + used, sizeof info->sans - used, "%s%s",
		    used ? ", " : "", one);
		used += olen;
	}
	GENERAL_NAMES_free(gens);

	pk = X509_get0_pubkey(x);
	if (pk != NULL && EVP_PKEY_is_a(pk, "RSA"))
		snprintf(info->key, sizeof info->key, "RSA %d",
		    EVP_PKEY_get_bits(pk));
	else if (pk != NULL && EVP_PKEY_is_a(pk, "EC")) {
		char group[32] = "";

		EVP_PKEY_get_utf8_string_param(pk, "group", group,
		    sizeof group, NULL);
		snprintf(info->key, sizeof info->key, "EC %s",
		    strcmp(group, "prime256v1") == 0 ? "P-256" : group);
	} else if (pk != NULL)
		snprintf(info->key, sizeof info->key, "%s",
		    EVP_PKEY_get0_type_name(pk) ? EVP_PKEY_get0_type_name(pk) : "?");

	if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1)
		for (i = 0, used = 0; i < mdlen &&
		    used + 4 <= sizeof info->sha256; i++)
			used += (size_t)snprintf(info->sha256 + used,
			    sizeof info->sha256 - used, "%s%02X",
			    i ? ":" : "", md[i]);
	ERR_clear_error();
	return 0;
}

int
tls_cert_export_pem(const struct tls_cert *c, int with_key, struct buf *out)
{
	BIO *bio;
	int i, rc = -1;

	if (c->cert == NULL || (bio = BIO_new(BIO_s_mem())) == NULL)
		return -1;
	if (PEM_write_bio_X509(bio, c->cert) != 1)
		goto out;
	for (i = 0; c->chain != NULL && i < sk_X509_num(c->chain); i++)
		if (PEM_write_bio_X509(bio, sk_X509_value(c->chain, i)) != 1)
			goto out;
	if (with_key && (c->key == NULL ||
	    PEM_write_bio_PrivateKey(bio, c->key, NULL, NULL, 0, NULL, NULL) != 1))
		goto out;
	rc = bio_to_buf(bio, out);
out:
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

int
tls_cert_export_p12(const struct tls_cert *c, const char *name,
    const char *pass, struct buf *out, char *err, size_t errlen)
{
	PKCS12 *p12;
	BIO *bio;
	int rc;

	err_clear(err, errlen);
	if (c->cert == NULL || c->key == NULL)
		return fail(err, errlen, "a key and a certificate are needed");
	if (pass == NULL || pass[0] == '\0')
		return fail(err, errlen, "a passphrase is required");
	p12 = PKCS12_create(pass, name, c->key, c->cert, c->chain, 0, 0, 0, 0, 0);
	if (p12 == NULL)
		return fail(err, errlen, "building the PKCS#12 file failed");
	if ((bio = BIO_new(BIO_s_mem())) == NULL) {
		PKCS12_free(p12);
		return fail(err, errlen, "out of memory");
	}
	rc = i2d_PKCS12_bio(bio, p12) == 1 ? bio_to_buf(bio, out) : -1;
	BIO_free(bio);
	PKCS12_free(p12);
	if (rc < 0)
		return fail(err, errlen, "writing the PKCS#12 file failed");
	ERR_clear_error();
	return 0;
}

int
tls_cert_ca_list_check(const char *pem, size_t len, struct buf *out,
    struct buf *report, char *err, size_t errlen)
{
	X509 *first;
	STACK_OF(X509) *rest;
	struct tls_cert_info info;
	char name[256], what[300], why[TLS_CERT_ERR_MAX];
	char (*seen)[sizeof info.sha256] = NULL;
	int i, n, accepted = 0, nseen = 0;
	BIO *bio;

	err_clear(err, errlen);
	if (read_certs(pem, len, &first, &rest, err, errlen) < 0)
		return -1;
	if (sk_X509_insert(rest, first, 0) <= 0) {
		X509_free(first);
		sk_X509_pop_free(rest, X509_free);
		return fail(err, errlen, "out of memory");
	}
	n = sk_X509_num(rest);
	seen = xcalloc((size_t)n, sizeof *seen);
	if ((bio = BIO_new(BIO_s_mem())) == NULL) {
		free(seen);
		sk_X509_pop_free(rest, X509_free);
		return fail(err, errlen, "out of memory");
	}
	for (i = 0; i < n; i++) {
		X509 *x = sk_X509_value(rest, i);
		int j, dup = 0;

		tls_cert_info(x, &info);
		for (j = 0; j < nseen && !dup; j++)
			dup = strcmp(seen[j], info.sha256) == 0;
		if (dup)
			continue;
		snprintf(what, sizeof what, "certificate %d of the list (%s)",
		    i + 1, who(x, name, sizeof name));
		why[0] = '\0';
		if (!info.is_ca)
			snprintf(why, sizeof why, "%s is not a CA certificate "
			    "(no basicConstraints CA:TRUE)", what);
		else
			(void)check_dates(x, what, why, sizeof why);
		if (why[0] != '\0') {
			if (report != NULL)
				buf_printf(report, "%s\n", why);
			continue;
		}
		memcpy(seen[nseen++], info.sha256, sizeof info.sha256);
		BIO_printf(bio, "# %s / %s\n", info.subject, info.sha256);
		PEM_write_bio_X509(bio, x);
		accepted++;
	}
	if (out != NULL && bio_to_buf(bio, out) < 0)
		accepted = fail(err, errlen, "out of memory");
	BIO_free(bio);
	free(seen);
	sk_X509_pop_free(rest, X509_free);
	ERR_clear_error();
	return accepted;
}

/* ---- storage ---- */

int
tls_cert_name_valid(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0' ||
	    strlen(name) > TLS_CERT_NAME_MAX)
		return 0;
	for (i = 0; name[i] != '\0'; i++) {
		char ch = name[i];
		int alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    ch == '_';

		if (!alpha && (i == 0 || !((ch >= '0' && ch <= '9') || ch == '-')))
			return 0;
	}
	return 1;
}

static int
make_path(char *out, size_t outlen, const char *dir, const char *prefix,
    const char *name, const char *suffix)
{
	int n = snprintf(out, outlen, "%s/%s%s%s", dir, prefix, name, suffix);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Writes data to <path> through a temporary file created with mode. */
static int
write_file(const char *dir, const char *name, const char *suffix,
    mode_t mode, const struct buf *data, char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	size_t off;
	ssize_t n;
	int fd, saved;

	n = snprintf(tmp, sizeof tmp, "%s/.%s%s.tmp", dir, name, suffix);
	if (make_path(path, sizeof path, dir, "", name, suffix) < 0 ||
	    n < 0 || (size_t)n >= sizeof tmp)
		return fail(err, errlen, "path too long in %s", dir);
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd < 0)
		return fail(err, errlen, "cannot create %s: %s", tmp,
		    strerror(errno));
	/* The umask may have taken bits away, never added: set exactly. */
	if (fchmod(fd, mode) < 0)
		goto ioerr;
	for (off = 0; off < data->len; off += (size_t)n) {
		n = write(fd, data->data + off, data->len - off);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			goto ioerr;
	}
	if (fsync(fd) < 0)
		goto ioerr;
	if (close(fd) < 0) {
		fd = -1;
		goto ioerr;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto ioerr;
	/* The rename itself must survive a crash too. */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	return 0;
ioerr:
	saved = errno;
	if (fd >= 0)
		close(fd);
	(void)unlink(tmp);
	return fail(err, errlen, "cannot write %s: %s", path, strerror(saved));
}

int
tls_cert_save(const char *dir, const char *name, const struct tls_cert *c,
    char *err, size_t errlen)
{
	struct buf b;
	BIO *bio;
	int rc;

	err_clear(err, errlen);
	if (!tls_cert_name_valid(name))
		return fail(err, errlen, "invalid certificate name \"%.64s\": "
		    "use letters, digits, '_' and '-', not starting with a "
		    "digit or '-'", name != NULL ? name : "");
	if (c->key == NULL || c->cert == NULL)
		return fail(err, errlen, "a key and a certificate are needed");

	buf_init(&b, 0);
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, c->key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    bio_to_buf(bio, &b) < 0) {
		BIO_free(bio);
		buf_free(&b);
		return fail(err, errlen, "cannot encode the private key");
	}
	BIO_free(bio);
	rc = write_file(dir, name, ".key", 0600, &b, err, errlen);
	OPENSSL_cleanse(b.data, b.len);
	buf_reset(&b);
	if (rc == 0 && tls_cert_export_pem(c, 0, &b) < 0)
		rc = fail(err, errlen, "cannot encode the certificate");
	if (rc == 0)
		rc = write_file(dir, name, ".crt", 0644, &b, err, errlen);
	buf_free(&b);
	return rc;
}


/* Stored objects are ours, but a file over this is not a certificate. */
#define STORED_FILE_MAX	(1024 * 1024)

int
tls_cert_load(const char *dir, const char *name, struct tls_cert *c,
    char *err, size_t errlen)
{
	char path[PATH_MAX], name2[256];
	struct buf crt, key;
	struct tls_cert n;
	int rc = -1;

	err_clear(err, errlen);
	if (!tls_cert_name_valid(name))
		return fail(err, errlen, "invalid certificate name \"%.64s\"",
		    name != NULL ? name : "");
	buf_init(&crt, STORED_FILE_MAX);
	buf_init(&key, STORED_FILE_MAX);
	tls_cert_init(&n);
	if (make_path(path, sizeof path, dir, "", name, ".crt") < 0) {
		fail(err, errlen, "path too long in %s", dir);
		goto out;
	}
	if (buf_read_file(&crt, path, err, errlen) < 0 ||
	    read_certs(crt.data, crt.len, &n.cert, &n.chain, err, errlen) < 0)
		goto out;
	if (make_path(path, sizeof path, dir, "", name, ".key") < 0) {
		fail(err, errlen, "path too long in %s", dir);
		goto out;
	}
	if (buf_read_file(&key, path, err, errlen) < 0)
		goto out;
	if ((n.key = read_key(key.data, key.len, NULL)) == NULL) {
		fail(err, errlen, "no private key in %s", path);
		goto out;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(n.cert), n.key) != 1) {
		fail(err, errlen, "%s does not match the certificate (%s)",
		    path, who(n.cert, name2, sizeof name2));
		goto out;
	}
	tls_cert_free(c);
	*c = n;
	tls_cert_init(&n);
	rc = 0;
	ERR_clear_error();
out:
	tls_cert_free(&n);
	buf_free(&crt);
	if (key.data != NULL)
		OPENSSL_cleanse(key.data, key.len);
	buf_free(&key);
	return rc;
}

int
tls_cert_remove(const char *dir, const char *name, char *err, size_t errlen)
{
	static const char *const suffix[] = { ".key", ".crt" };
	char path[PATH_MAX];
	size_t i;

	err_clear(err, errlen);
	if (!tls_cert_name_valid(name))
		return fail(err, errlen, "invalid certificate name \"%.64s\"",
		    name != NULL ? name : "");
	for (i = 0; i < 2; i++) {
		if (make_path(path, sizeof path, dir, "", name, suffix[i]) < 0)
			return fail(err, errlen, "path too long in %s", dir);
		if (unlink(path) < 0 && errno != ENOENT)
			return fail(err, errlen, "cannot remove %s: %s", path,
			    strerror(errno));
	}
	return 0;
}
