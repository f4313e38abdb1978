/*
 * tls_cert - certificate objects for `sallyctl certconfig` and for the
 * daemons that load them (spec tls-with-other-mtas.md 2.2, 3.7).
 *
 * A certificate object is a private key, its leaf certificate and the
 * intermediate certificates the server sends with it (the leaf's issuer
 * first).  Objects are created here (self-signed, with a CSR to send to a
 * CA), imported (PEM chain + key, or PKCS#12 with a passphrase), checked
 * (tls_cert_validate), described (tls_cert_info), exported (PEM or
 * PKCS#12) and stored by name in a directory:
 *	<dir>/<name>.crt	leaf and chain, PEM, mode 0644
 *	<dir>/<name>.key	private key, PKCS#8 PEM unencrypted, mode 0600
 * Names match ^[A-Za-z_][A-Za-z0-9_-]*$ (DESIGN.md 5), at most
 * TLS_CERT_NAME_MAX characters.  Each file is written to a temporary
 * file, synced and renamed into place.
 *
 * Every failing function fills err with what is wrong, in words an
 * operator can act on ("certificate 2 of the chain (CN=Foo CA) is not a CA
 * certificate").  Keys are generated with the OpenSSL 3 EVP interface.
 *
 * Not for: trust stores and peer verification (tls_name.h), TLS sessions,
 * privilege separation of key material (the daemons decide who loads a
 * key), the config schema that names certificates.
 */
#ifndef SP_TLS_CERT_H
#define SP_TLS_CERT_H
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "buf.h"

#define TLS_CERT_ERR_MAX	512
#define TLS_CERT_NAME_MAX	64
#define TLS_CERT_MAX_DAYS	36500
#define TLS_CERT_MAX_SANS	100

enum tls_key_type {
	TLS_KEY_RSA2048,
	TLS_KEY_RSA3072,
	TLS_KEY_RSA4096,
	TLS_KEY_EC_P256,
};

struct tls_cert {
	EVP_PKEY	*key;
	X509		*cert;	/* the leaf */
	STACK_OF(X509)	*chain;	/* intermediates, leaf's issuer first */
};

/* What a self-signed certificate says (spec 2.2.5's fields). */
struct tls_cert_params {
	enum tls_key_type	 key_type;
	const char		*cn;		/* required: the host's FQDN */
	const char *const	*san;		/* DNS names; the CN is added */
	size_t			 nsan;
	const char		*org, *unit, *locality, *state;	/* NULL: left out */
	const char		*country;	/* NULL, or two letters */
	unsigned		 days;		/* 1 .. TLS_CERT_MAX_DAYS */
};

struct tls_cert_info {
	char	subject[256];		/* RFC 2253 */
	char	issuer[256];
	char	sans[512];		/* DNS names, ", "-separated, cut with "..." */
	char	not_before[32];		/* "2026-11-23 12:00:00 UTC" */
	char	not_after[32];
	time_t	not_before_t, not_after_t;
	char	key[32];		/* "RSA 2048", "EC P-256" */
	char	sha256[100];		/* "AB:CD:..." fingerprint */
	int	is_ca;			/* basicConstraints CA:TRUE */
	int	self_signed;
	int	expired;		/* or not yet valid, at the time of the call */
};

void	tls_cert_init(struct tls_cert *c);
void	tls_cert_free(struct tls_cert *c);

/* A new key of the given type and a self-signed certificate for it.  The
 * certificate carries the CN in subjectAltName too (clients ignore the CN
 * when SANs exist, RFC 6125 6.4.4) and basicConstraints CA:TRUE, so a
 * peer can import it as a trust anchor (spec 2.2.2, 3.6). */
int	tls_cert_generate(struct tls_cert *c, const struct tls_cert_params *p,
	    char *err, size_t errlen);

/* A PKCS#10 request (PEM) for the object's key, with the leaf's subject and
 * subjectAltName, signed by the key (spec 2.2.6), appended to pem. */
int	tls_cert_csr(const struct tls_cert *c, struct buf *pem, char *err,
	    size_t errlen);

/* Imports a PEM text with the leaf first, then its intermediates, and the
 * key from key_pem (NULL: from the same text); pass opens an encrypted key
 * (NULL: none).  Validated as tls_cert_validate does. */
int	tls_cert_import_pem(struct tls_cert *c, const char *pem, size_t len,
	    const char *key_pem, size_t key_len, const char *pass, char *err,
	    size_t errlen);

/* Imports a PKCS#12 file's bytes with its passphrase (spec 2.2.8); the
 * chain is put in issuing order.  Validated as tls_cert_validate does. */
int	tls_cert_import_p12(struct tls_cert *c, const void *der, size_t len,
	    const char *pass, char *err, size_t errlen);

/* Replaces the leaf (and chain) of c by a CA-signed certificate that was
 * requested with c's key (spec 2.2.7: the key stays).  Validated; on
 * failure c is unchanged. */
int	tls_cert_replace_leaf(struct tls_cert *c, const char *pem, size_t len,
	    char *err, size_t errlen);

/* Checks: the key matches the leaf; RSA keys have at least 2048 bits; the
 * leaf is within its validity; each chain certificate is marked CA
 * (basicConstraints CA:TRUE), is within its validity and issued the one
 * before it.  0 if good, -1 with err set. */
int	tls_cert_validate(const struct tls_cert *c, char *err, size_t errlen);

/* Describes one certificate for a listing.  0, or -1 if x is NULL. */
int	tls_cert_info(X509 *x, struct tls_cert_info *info);

/* PEM of the leaf, the chain and, if with_key, the key; appended. */
int	tls_cert_export_pem(const struct tls_cert *c, int with_key,
	    struct buf *out);
/* PKCS#12 bytes protected by pass (spec 2.2.9), appended to out. */
int	tls_cert_export_p12(const struct tls_cert *c, const char *name,
	    const char *pass, struct buf *out, char *err, size_t errlen);

/*
 * Checks a custom CA list before it replaces the old one (spec 3.6): each
 * certificate must be marked CA (basicConstraints CA:TRUE) and be within
 * its validity; duplicates (same SHA-256) are dropped silently.  The
 * accepted certificates are appended to out as PEM, each after a
 * "# <subject> / <SHA-256>" line (spec 3.6's export format, still a valid
 * PEM file); each rejected one gets a line in report ("certificate 3 of
 * the list (CN=Foo) is not a CA certificate").  Returns the number
 * accepted, or -1 with err set if the text holds no certificate.
 */
int	tls_cert_ca_list_check(const char *pem, size_t len, struct buf *out,
	    struct buf *report, char *err, size_t errlen);

/* 1 if name may name a certificate object. */
int	tls_cert_name_valid(const char *name);
/* Writes <dir>/<name>.key (0600) and <dir>/<name>.crt (0644). */
int	tls_cert_save(const char *dir, const char *name,
	    const struct tls_cert *c, char *err, size_t errlen);
/* Reads them back.  Checks that the key matches the leaf, not the dates:
 * an expired certificate must still load to be listed. */
int	tls_cert_load(const char *dir, const char *name, struct tls_cert *c,
	    char *err, size_t errlen);
/* Removes both files; 0, or -1 with err set (absent files are fine). */
int	tls_cert_remove(const char *dir, const char *name, char *err,
	    size_t errlen);

#endif
