/*
 * lib_tls_io - TLS contexts from the configuration (tls_ctx) and TLS over
 * memory buffers (tls_io): a server and a client built from a config with
 * attached certificate files shake hands through byte copies, verify,
 * exchange data in both directions, resume a session, and fail the ways
 * a broken peer or a bad configuration makes them fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "buf.h"
#include "config.h"
#include "tap.h"
#include "tls_cert.h"
#include "tls_ctx.h"
#include "tls_io.h"
#include "xalloc.h"

/* A self-signed certificate object as PEM (chain then key). */
static char *
make_pem(const char *cn)
{
	struct tls_cert_params p;
	struct tls_cert c;
	struct buf out;
	char err[TLS_CERT_ERR_MAX], *s;

	memset(&p, 0, sizeof p);
	p.key_type = TLS_KEY_EC_P256;
	p.cn = cn;
	p.days = 30;
	tls_cert_init(&c);
	if (tls_cert_generate(&c, &p, err, sizeof err) < 0) {
		printf("Bail out! %s\n", err);
		exit(1);
	}
	buf_init(&out, 0);
	tls_cert_export_pem(&c, 1, &out);
	buf_append(&out, "", 1);
	s = xstrdup(out.data);
	buf_free(&out);
	tls_cert_free(&c);
	return s;
}

/* A config from yaml plus attached files (path, text pairs). */
static struct config *
config_with(const char *yaml, const char *const *files, size_t nfiles, char *err,
    size_t errlen)
{
	struct config_source *srcs = xcalloc(1 + nfiles, sizeof *srcs);
	struct config *cfg = NULL;
	size_t i;

	srcs[0].path = xstrdup("t.yaml");
	srcs[0].text = xstrdup(yaml);
	srcs[0].len = strlen(yaml);
	for (i = 0; i < nfiles; i++) {
		srcs[1 + i].path = xasprintf("%c%s", CONFIG_ATTACH_MARK, files[2 * i]);
		srcs[1 + i].text = xstrdup(files[2 * i + 1]);
		srcs[1 + i].len = strlen(files[2 * i + 1]);
	}
	if (config_parse_sources(srcs, 1 + nfiles, &cfg, err, errlen) < 0)
		cfg = NULL;
	config_free_sources(srcs, 1 + nfiles);
	return cfg;
}

/* Moves what each side has for the network to the other; 1 if anything
 * moved. */
static int
shuttle(struct tls_io *a, struct tls_io *b)
{
	size_t n;
	char *p;
	int moved = 0;

	if ((p = tls_io_take_output(a, &n)) != NULL) {
		tls_io_feed(b, p, n);
		free(p);
		moved = 1;
	}
	if ((p = tls_io_take_output(b, &n)) != NULL) {
		tls_io_feed(a, p, n);
		free(p);
		moved = 1;
	}
	return moved;
}

/* Runs both handshakes to the end; 1 if both finished. */
static int
handshake(struct tls_io *srv, struct tls_io *cli, int *rs, int *rc)
{
	int i;

	*rs = *rc = TLS_IO_WANT;
	for (i = 0; i < 20; i++) {
		if (*rc == TLS_IO_WANT)
			*rc = tls_io_handshake(cli);
		shuttle(srv, cli);
		if (*rs == TLS_IO_WANT)
			*rs = tls_io_handshake(srv);
		shuttle(srv, cli);
		if (*rs != TLS_IO_WANT && *rc != TLS_IO_WANT)
			break;
	}
	return *rs == TLS_IO_DONE && *rc == TLS_IO_DONE;
}

int
main(void)
{
	char *srv_pem = make_pem("mx.example.test"), *other_pem = make_pem("other.test");
	const char *files[] = {
		"/t/srv.pem", srv_pem,
		"/t/other.pem", other_pem,
		"/t/ca.pem", srv_pem,
	};
	char yaml[2048], err[1024], buf[64], version[32], cipher[96], peer[256];
	struct config *cfg;
	SSL_CTX *sctx, *cctx;
	struct tls_io *srv, *cli;
	SSL_SESSION *sess;
	size_t count;
	ssize_t n;
	int rs, rc, i;

	snprintf(yaml, sizeof yaml,
	    "certificates:\n"
	    "  srv: { cert: /t/srv.pem, key: /t/srv.pem }\n"
	    "  mismatched: { cert: /t/srv.pem, key: /t/other.pem }\n"
	    "  absent: { cert: /t/none.pem, key: /t/none.pem }\n"
	    "tls:\n"
	    "  trust: { system: false, custom: true, custom_file: /t/ca.pem }\n");
	cfg = config_with(yaml, files, 3, err, sizeof err);
	ok(cfg != NULL, "a config with attached certificate files");
	if (cfg == NULL) {
		printf("Bail out! %s\n", err);
		return 1;
	}

	/* Contexts. */
	sctx = tls_ctx_server(cfg, "srv", err, sizeof err);
	ok(sctx != NULL, "server context for 'srv'");
	ok(tls_ctx_server(cfg, "mismatched", err, sizeof err) == NULL &&
	    strstr(err, "does not match the certificate") != NULL,
	    "a key that is not the certificate's is refused: %s", err);
	ok(tls_ctx_server(cfg, "absent", err, sizeof err) == NULL &&
	    strstr(err, "was not loaded with the configuration") != NULL,
	    "a file that was not attached is named: %s", err);
	ok(tls_ctx_server(cfg, "nosuch", err, sizeof err) == NULL &&
	    strstr(err, "not in the configuration") != NULL, "an unknown certificate name");
	cctx = tls_ctx_client(cfg, NULL, err, sizeof err);
	ok(cctx != NULL, "client context with the custom CA list");
	{
		X509_STORE *st = tls_ctx_trust(cfg, &count, err, sizeof err);

		ok(st != NULL && count == 1, "the trust store holds the custom list's one CA");
		X509_STORE_free(st);
	}
	if (sctx == NULL || cctx == NULL)
		return done_testing();

	/* A handshake through byte copies, then data both ways. */
	srv = tls_io_new(sctx, 1, NULL);
	cli = tls_io_new(cctx, 0, "mx.example.test");
	ok(handshake(srv, cli, &rs, &rc), "handshake completes on both sides");
	tls_ctx_describe(tls_io_ssl(cli), version, sizeof version, cipher, sizeof cipher, peer,
	    sizeof peer);
	is_str(version, "TLSv1.3", "TLS 1.3 by default");
	ok(cipher[0] != '\0', "a cipher is reported (%s)", cipher);
	is_str(peer, "CN=mx.example.test", "the client sees the server's subject");
	is(SSL_get_verify_result(tls_io_ssl(cli)), X509_V_OK,
	    "the chain verifies against the custom CA list");
	ok(tls_io_write(cli, "EHLO a\r\n", 8) == 0, "client writes");
	shuttle(srv, cli);
	ok(tls_io_pending(srv), "the server holds undecrypted input");
	n = tls_io_read(srv, buf, 4);
	ok(n == 4 && memcmp(buf, "EHLO", 4) == 0, "the server reads at most what it has room for");
	ok(tls_io_pending(srv), "the rest stays buffered inside");
	n = tls_io_read(srv, buf, sizeof buf);
	ok(n == 4 && memcmp(buf, " a\r\n", 4) == 0, "and comes with the next read");
	is(tls_io_read(srv, buf, sizeof buf), TLS_IO_WANT, "then nothing: WANT");
	ok(tls_io_write(srv, "250 ok\r\n", 8) == 0, "server writes");
	shuttle(srv, cli);
	for (i = 0, n = 0; i < 3 && n <= 0; i++)
		n = tls_io_read(cli, buf, sizeof buf);	/* TLS 1.3 tickets come first */
	ok(n == 8 && memcmp(buf, "250 ok\r\n", 8) == 0, "the client reads the reply");
	tls_io_shutdown(cli);
	shuttle(srv, cli);
	is(tls_io_read(srv, buf, sizeof buf), TLS_IO_CLOSED, "close_notify reads as CLOSED");
	sess = SSL_get1_session(tls_io_ssl(cli));
	tls_io_free(srv);
	tls_io_free(cli);

	/* Resumption with the server's cache (tls.inbound.session_cache). */
	srv = tls_io_new(sctx, 1, NULL);
	cli = tls_io_new(cctx, 0, "mx.example.test");
	SSL_set_session(tls_io_ssl(cli), sess);
	ok(handshake(srv, cli, &rs, &rc), "a second handshake with the saved session");
	ok(SSL_session_reused(tls_io_ssl(cli)), "the session was resumed");
	SSL_SESSION_free(sess);
	tls_io_free(srv);
	tls_io_free(cli);

	/* Garbage instead of a ClientHello. */
	srv = tls_io_new(sctx, 1, NULL);
	tls_io_feed(srv, "EHLO attacker\r\nRSET\r\n", 21);
	is(tls_io_handshake(srv), TLS_IO_ERROR, "plaintext where TLS should be fails the handshake");
	ok(strncmp(tls_io_error(srv), "handshake: ", 11) == 0, "with a reason: %s",
	    tls_io_error(srv));
	tls_io_free(srv);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	config_free(cfg);

	/* Versions: a server at TLS 1.3 only and a client at most TLS 1.2. */
	cfg = config_with("certificates: { srv: { cert: /t/srv.pem, key: /t/srv.pem } }\n"
	    "tls: { inbound: { min_version: TLSv1.3, session_cache: false }, trust: { system: "
	    "false } }\n", files, 1, err, sizeof err);
	ok(cfg != NULL, "a config with min_version TLSv1.3");
	if (cfg != NULL) {
		sctx = tls_ctx_server(cfg, "srv", err, sizeof err);
		cctx = tls_ctx_client(cfg, NULL, err, sizeof err);
		ok(sctx != NULL && cctx != NULL, "contexts with an empty trust store");
		SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION);
		srv = tls_io_new(sctx, 1, NULL);
		cli = tls_io_new(cctx, 0, NULL);
		ok(!handshake(srv, cli, &rs, &rc) && rs == TLS_IO_ERROR,
		    "a TLS 1.2 client cannot reach a TLS 1.3 server: %s", tls_io_error(srv));
		tls_io_free(srv);
		tls_io_free(cli);
		/* Verification against an empty store fails, the handshake does not. */
		SSL_CTX_set_max_proto_version(cctx, 0);
		srv = tls_io_new(sctx, 1, NULL);
		cli = tls_io_new(cctx, 0, NULL);
		ok(handshake(srv, cli, &rs, &rc), "with no trusted CA the handshake still works");
		ok(SSL_get_verify_result(tls_io_ssl(cli)) != X509_V_OK,
		    "but the certificate is not verified (the policy decides)");
		ok(SSL_session_reused(tls_io_ssl(cli)) == 0, "no resumption without a cache");
		tls_io_free(srv);
		tls_io_free(cli);
		SSL_CTX_free(sctx);
		SSL_CTX_free(cctx);
		config_free(cfg);
	}
	free(srv_pem);
	free(other_pem);
	return done_testing();
}
