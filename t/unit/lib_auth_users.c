/*
 * lib_auth_users - the SMTP AUTH users file (lib/auth_users.c): parsing (comments,
 * blank lines, CRLF, errors with their line numbers, names with spaces or
 * ':' refused), hash methods (yescrypt and SHA-512 accepted; DES, MD5,
 * bcrypt, plain text, empty refused), and password checks against hashes
 * made here with crypt_gensalt_rn/crypt_r and fixed known ones (as made by
 * `openssl passwd -6` and mkpasswd), an unknown user, a user whose hash
 * belongs to another.
 */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "auth_users.h"

/* A fresh crypt(3) hash of pass with the method prefix ("$y$", "$6$"). */
static char *
make_hash(const char *prefix, const char *pass)
{
	static char out[4][CRYPT_OUTPUT_SIZE];
	static int k;
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	const char *h;

	k = (k + 1) % 4;
	memset(&cd, 0, sizeof cd);
	if (crypt_gensalt_rn(prefix, 0, NULL, 0, salt, sizeof salt) == NULL ||
	    (h = crypt_r(pass, salt, &cd)) == NULL || h[0] == '*')
		return NULL;
	snprintf(out[k], sizeof out[k], "%s", h);
	return out[k];
}

static struct auth_users *
parse(const char *text, char *err, size_t errlen)
{
	err[0] = '\0';
	return auth_users_parse(text, strlen(text), err, errlen);
}

static void
test_parse(void)
{
	struct auth_users *u;
	char err[512];
	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "alice\n", "line 1: expected user:hash" },
		{ "# c\n\nalice:$6$abc$def\nbob $6$x$y\n", "line 4: expected user:hash" },
		{ ":$6$abc$def\n", "line 1: expected user:hash" },
		{ "a b:$6$abc$def\n", "line 1: expected user:hash" },
		{ "a\tb:$6$abc$def\n", "line 1: expected user:hash" },
		{ "ok:$6$a$b\r\n\r\nbob:abc123\r\n", "line 3: unsupported hash for 'bob'" },
		{ "carol:$1$salt$hash\n", "line 1: unsupported hash for 'carol'" },
		{ "dave:abJnggxhB/yWI\n", "line 1: unsupported hash for 'dave'" },
		{ "erin:$2b$10$abcdefghijklmnopqrstuu\n", "line 1: unsupported hash for 'erin'" },
		{ "frank:$5$salt$hash\n", "line 1: unsupported hash for 'frank'" },
		{ "gina:\n", "line 1: unsupported hash for 'gina'" },
		{ "hank:$6$a$b:extra\n", "line 1: unsupported hash for 'hank'" },
		{ "\n\n\n\nivy:*\n", "line 5: unsupported hash for 'ivy'" },
	};
	size_t i;
	char longname[300];

	u = parse("", err, sizeof err);
	ok(u != NULL && auth_users_count(u) == 0, "empty file: no users");
	auth_users_free(u);
	u = parse("# users\n\nalice:$6$abc$def\r\n#bob:$6$x$y\nbob:$y$j9T$abc$def", err,
	    sizeof err);
	ok(u != NULL, "comments, blank lines, CRLF, no final newline");
	is(auth_users_count(u), 2, "two users");
	auth_users_free(u);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		u = parse(bad[i].text, err, sizeof err);
		ok(u == NULL, "refused: %s", bad[i].err);
		ok(strncmp(err, bad[i].err, strlen(bad[i].err)) == 0, "error names the line: %s",
		    bad[i].err);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
			printf("#   got: '%s'\n", err);
		auth_users_free(u);
	}
	u = parse("carol:$1$salt$hash\n", err, sizeof err);
	ok(strstr(err, "yescrypt") != NULL && strstr(err, "SHA-512") != NULL,
	    "the error says which methods to use");
	auth_users_free(u);
	memset(longname, 'n', 256);
	snprintf(longname + 256, sizeof longname - 256, ":$6$a$b\n");
	u = parse(longname, err, sizeof err);
	ok(u == NULL && strncmp(err, "line 1:", 7) == 0, "a 256-character name is refused");
	auth_users_free(u);
	memset(longname, 'n', 255);
	snprintf(longname + 255, sizeof longname - 255, ":$6$a$b\n");
	u = parse(longname, err, sizeof err);
	ok(u != NULL && auth_users_count(u) == 1, "a 255-character name is accepted");
	auth_users_free(u);
	auth_users_free(NULL);
	is(auth_users_count(NULL), 0, "no users file: 0 users");
}

static void
test_check(void)
{
	/* openssl passwd -6 -salt saltsalt 'test pass' */
	static const char sha_known[] = "$6$saltsalt$Wl3gZAzLbaFdKuWICZ5PmrYPE5zUAnwa/u4oF"
	    "kV6yqHscrr2t2EcOc03OiGU3nwUNGunP74InAPrlrCrlCWVm1";
	char text[2048], err[512];
	const char *y, *s6, *y2;
	struct auth_users *u;
	struct crypt_data cd;
	const char *h;

	y = make_hash("$y$", "yes-Pass-1");
	s6 = make_hash("$6$", "sha-Pass-2");
	y2 = make_hash("$y$", "other-3");
	ok(y != NULL && strncmp(y, "$y$", 3) == 0, "a yescrypt hash was made");
	ok(s6 != NULL && strncmp(s6, "$6$", 3) == 0, "a SHA-512 hash was made");
	if (y == NULL || s6 == NULL || y2 == NULL)
		return;
	/* The fixed SHA-512 vector is what crypt_r computes too. */
	memset(&cd, 0, sizeof cd);
	h = crypt_r("test pass", "$6$saltsalt$", &cd);
	ok(h != NULL && strcmp(h, sha_known) == 0, "the fixed SHA-512 hash is right");
	snprintf(text, sizeof text, "yuser:%s\nsuser:%s\nknown:%s\nother:%s\n", y, s6, sha_known,
	    y2);
	u = auth_users_parse(text, strlen(text), err, sizeof err);
	ok(u != NULL, "generated hashes parse");
	if (u == NULL) {
		printf("#   %s\n", err);
		return;
	}
	is(auth_users_check(u, "yuser", "yes-Pass-1"), 1, "yescrypt: right password");
	is(auth_users_check(u, "yuser", "yes-Pass-2"), 0, "yescrypt: wrong password");
	is(auth_users_check(u, "yuser", ""), 0, "yescrypt: empty password");
	is(auth_users_check(u, "suser", "sha-Pass-2"), 1, "SHA-512: right password");
	is(auth_users_check(u, "suser", "sha-pass-2"), 0, "SHA-512: case matters");
	is(auth_users_check(u, "known", "test pass"), 1, "fixed SHA-512 hash: right password");
	is(auth_users_check(u, "known", "test pass "), 0, "fixed SHA-512 hash: wrong password");
	is(auth_users_check(u, "yuser", "sha-Pass-2"), 0, "another user's password fails");
	is(auth_users_check(u, "other", "yes-Pass-1"), 0, "and the other way round");
	is(auth_users_check(u, "nobody", "yes-Pass-1"), 0, "unknown user fails");
	is(auth_users_check(u, "nobody", ""), 0, "unknown user, empty password fails");
	is(auth_users_check(u, "YUSER", "yes-Pass-1"), 0, "user names are case-sensitive");
	is(auth_users_check(NULL, "yuser", "yes-Pass-1"), 0, "no users: fails");
	auth_users_free(u);

	/* A hash crypt cannot use: the check fails, never succeeds. */
	u = auth_users_parse("broken:$6$\n", 11, err, sizeof err);
	ok(u != NULL, "a truncated SHA-512 hash parses (crypt judges it)");
	ok(auth_users_check(u, "broken", "") != 1, "and never matches");
	auth_users_free(u);
}

int
main(void)
{
	test_parse();
	test_check();
	return done_testing();
}
