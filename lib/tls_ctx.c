/*
 * tls_ctx - OpenSSL contexts from the configuration; see tls_ctx.h.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config.h"
#include "tls_ctx.h"
#include "tls_name.h"

void
tls_ctx_errors(char *out, size_t outlen)
{
	unsigned long e;
	size_t n = 0;
	char one[256];

	if (outlen == 0)
		return;
	out[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, one, sizeof one);
		if (n < outlen)
			n += (size_t)snprintf(out + n, outlen - n, "%s%s", n ? "; " : "", one);
	}
	if (out[0] == '\0')
		snprintf(out, outlen, "unknown TLS library error");
}

static const struct cfg_file *
attached(const struct config *cfg, const char *what, const char *path, char *err,
    size_t errlen)
{
	const struct cfg_file *f = config_file(cfg, path);

	if (f == NULL)
		snprintf(err, errlen, "%s: %s was not loaded with the configuration", what,
		    path);
	return f;
}

/* Adds the certificates of a PEM text to store; returns how many. */
static int
store_add_pem(X509_STORE *store, const struct cfg_file *f)
{
	BIO *bio = BIO_new_mem_buf(f->data, (int)f->len);
	int n;

	if (bio == NULL)
		return 0;
	n = tls_trust_add_pem(store, bio);
	BIO_free(bio);
	return n;
}

X509_STORE *
tls_ctx_trust(const struct config *cfg, size_t *count, char *err, size_t errlen)
{
	X509_STORE *store = X509_STORE_new();
	const struct cfg_file *f;
	int n;

	*count = 0;
	if (store == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* A missing system bundle was not attached (config_attach_files):
	 * the system list is then empty. */
	if (cfg->tls.trust.system &&
	    (f = config_file(cfg, cfg->tls.trust.system_file)) != NULL) {
		if ((n = store_add_pem(store, f)) == 0) {
			snprintf(err, errlen, "tls.trust.system_file: no certificate in %s",
			    f->path);
			goto fail;
		}
		*count += (size_t)n;
	}
	if (cfg->tls.trust.custom) {
		if ((f = attached(cfg, "tls.trust.custom_file", cfg->tls.trust.custom_file, err,
		    errlen)) == NULL)
			goto fail;
		if ((n = store_add_pem(store, f)) == 0) {
			snprintf(err, errlen, "tls.trust.custom_file: no certificate in %s "
			    "(import one with 'sallyctl certconfig certauthority import')",
			    f->path);
			goto fail;
		}
		*count += (size_t)n;
	}
	return store;
fail:
	X509_STORE_free(store);
	return NULL;
}

static int
apply_role(SSL_CTX *ctx, const struct cfg_tls_role *r, const char *role, char *err,
    size_t errlen)
{
	int v = config_tls_version(r->min_version);

	if (v < 0 || SSL_CTX_set_min_proto_version(ctx, v) != 1) {
		snprintf(err, errlen, "tls.%s.min_version: '%s' is not usable", role,
		    r->min_version);
		return -1;
	}
	if (r->ciphers != NULL && SSL_CTX_set_cipher_list(ctx, r->ciphers) != 1) {
		snprintf(err, errlen, "tls.%s.ciphers: no usable cipher in '%s'", role,
		    r->ciphers);
		return -1;
	}
	if (r->ciphersuites != NULL && SSL_CTX_set_ciphersuites(ctx, r->ciphersuites) != 1) {
		snprintf(err, errlen, "tls.%s.ciphersuites: no usable suite in '%s'", role,
		    r->ciphersuites);
		return -1;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	return 0;
}

/* Loads the certificate object `name` (chain and key) into ctx. */
static int
use_certificate(SSL_CTX *ctx, const struct config *cfg, const char *name, char *err,
    size_t errlen)
{
	const struct cfg_certificate *c = config_certificate(cfg, name);
	const struct cfg_file *cf, *kf;
	char what[128], e[512];
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	BIO *bio = NULL;
	int rc = -1;

	snprintf(what, sizeof what, "certificate '%s'", name);
	if (c == NULL) {
		snprintf(err, errlen, "%s is not in the configuration", what);
		return -1;
	}
	if ((cf = attached(cfg, what, c->cert, err, errlen)) == NULL ||
	    (kf = attached(cfg, what, c->key, err, errlen)) == NULL)
		return -1;
	if ((bio = BIO_new_mem_buf(cf->data, (int)cf->len)) == NULL ||
	    (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		tls_ctx_errors(e, sizeof e);
		snprintf(err, errlen, "%s: %s holds no PEM certificate (%s)", what, c->cert, e);
		goto out;
	}
	if (SSL_CTX_use_certificate(ctx, x) != 1) {
		tls_ctx_errors(e, sizeof e);
		snprintf(err, errlen, "%s: %s: %s", what, c->cert, e);
		goto out;
	}
	SSL_CTX_clear_chain_certs(ctx);
	for (;;) {
		X509 *ca = PEM_read_bio_X509(bio, NULL, NULL, NULL);

		if (ca == NULL)
			break;
		if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
			X509_free(ca);
			tls_ctx_errors(e, sizeof e);
			snprintf(err, errlen, "%s: %s: chain: %s", what, c->cert, e);
			goto out;
		}
	}
	ERR_clear_error();
	BIO_free(bio);
	if ((bio = BIO_new_mem_buf(kf->data, (int)kf->len)) == NULL ||
	    (key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)) == NULL) {
		tls_ctx_errors(e, sizeof e);
		snprintf(err, errlen, "%s: %s holds no unencrypted PEM private key (%s)", what,
		    c->key, e);
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "%s: the key in %s does not match the certificate in %s",
		    what, c->key, c->cert);
		goto out;
	}
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	BIO_free(bio);
	return rc;
}

/* The chain of a client certificate is not judged here (inbound TLS has
 * no verify mode); it is only logged. */
static int
accept_any_client(X509_STORE_CTX *xs, void *arg)
{
	(void)xs;
	(void)arg;
	return 1;
}

SSL_CTX *
tls_ctx_server(const struct config *cfg, const char *name, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	static const unsigned char sid[] = "sallyport-smtpd";

	if (ctx == NULL) {
		snprintf(err, errlen, "cannot create a TLS context");
		return NULL;
	}
	if (apply_role(ctx, &cfg->tls.inbound, "inbound", err, errlen) < 0 ||
	    use_certificate(ctx, cfg, name, err, errlen) < 0) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
	if (cfg->tls.inbound.session_cache) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
		SSL_CTX_sess_set_cache_size(ctx, 20000);
		SSL_CTX_set_timeout(ctx, 3600);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
	}
	/* Client certificates are asked for, never required: the spec's
	 * inbound modes do not depend on them; they are logged. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, accept_any_client, NULL);
	return ctx;
}

SSL_CTX *
tls_ctx_client(const struct config *cfg, const char *name, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	X509_STORE *store;
	size_t n;

	if (ctx == NULL) {
		snprintf(err, errlen, "cannot create a TLS context");
		return NULL;
	}
	if (apply_role(ctx, &cfg->tls.outbound, "outbound", err, errlen) < 0 ||
	    (name != NULL && use_certificate(ctx, cfg, name, err, errlen) < 0) ||
	    (store = tls_ctx_trust(cfg, &n, err, errlen)) == NULL) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_cert_store(ctx, store);
	/* The handshake never fails on verification: the destination's mode
	 * decides what a failed verification means (tls_policy.h). */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	return ctx;
}

void
tls_ctx_describe(SSL *ssl, char *version, size_t vlen, char *cipher, size_t clen,
    char *peer, size_t plen)
{
	X509 *x;
	BIO *bio;
	int n;

	snprintf(version, vlen, "%s", SSL_get_version(ssl));
	snprintf(cipher, clen, "%s", SSL_get_cipher_name(ssl));
	if (plen == 0)
		return;
	peer[0] = '\0';
	if ((x = SSL_get1_peer_certificate(ssl)) == NULL)
		return;
	if ((bio = BIO_new(BIO_s_mem())) != NULL) {
		X509_NAME_print_ex(bio, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
		n = BIO_read(bio, peer, (int)plen - 1);
		peer[n > 0 ? n : 0] = '\0';
		BIO_free(bio);
	}
	X509_free(x);
}
