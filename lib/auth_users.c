/*
 * auth_users - the SMTP AUTH users file; see auth_users.h.
 */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth_users.h"
#include "xalloc.h"

#define AUTH_USER_MAX	255
#define AUTH_USERS_MAX	100000

struct auth_user {
	char	*name;
	char	*hash;
};

struct auth_users {
	struct auth_user	*v;
	size_t			 n;
};

/* A yescrypt hash of a random password: what an unknown user is checked
 * against, so that the answer takes as long as for a known one. */
static const char dummy_hash[] =
    "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7";

static int
hash_ok(const char *h)
{
	return strncmp(h, "$y$", 3) == 0 || strncmp(h, "$6$", 3) == 0;
}

static int
name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > AUTH_USER_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == ':' || s[i] == 0x7f)
			return 0;
	return 1;
}

struct auth_users *
auth_users_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct auth_users *u = xcalloc(1, sizeof *u);
	const char *p = text, *end = text + len, *nl, *colon;
	size_t lineno = 0, ll;
	char *line;

	while (p < end) {
		lineno++;
		nl = memchr(p, '\n', (size_t)(end - p));
		ll = (size_t)((nl != NULL ? nl : end) - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		line = xstrndup(p, ll);
		p = nl != NULL ? nl + 1 : end;
		if (line[0] == '\0' || line[0] == '#') {
			free(line);
			continue;
		}
		colon = strchr(line, ':');
		if (colon == NULL || !name_ok(line, (size_t)(colon - line))) {
			snprintf(err, errlen, "line %zu: expected user:hash", lineno);
			goto fail;
		}
		if (!hash_ok(colon + 1) || strchr(colon + 1, ':') != NULL) {
			snprintf(err, errlen, "line %zu: unsupported hash for '%.*s' (use "
			    "yescrypt $y$ or SHA-512 $6$, as made by mkpasswd)", lineno,
			    (int)(colon - line), line);
			goto fail;
		}
		if (u->n >= AUTH_USERS_MAX) {
			snprintf(err, errlen, "more than %d users", AUTH_USERS_MAX);
			goto fail;
		}
		u->v = xrealloc(u->v, (u->n + 1) * sizeof *u->v);
		u->v[u->n].name = xstrndup(line, (size_t)(colon - line));
		u->v[u->n].hash = xstrdup(colon + 1);
		u->n++;
		explicit_bzero(line, ll);
		free(line);
		continue;
fail:
		free(line);
		auth_users_free(u);
		return NULL;
	}
	return u;
}

void
auth_users_free(struct auth_users *u)
{
	size_t i;

	if (u == NULL)
		return;
	for (i = 0; i < u->n; i++) {
		free(u->v[i].name);
		explicit_bzero(u->v[i].hash, strlen(u->v[i].hash));
		free(u->v[i].hash);
	}
	free(u->v);
	free(u);
}

size_t
auth_users_count(const struct auth_users *u)
{
	return u != NULL ? u->n : 0;
}

int
auth_users_check(const struct auth_users *u, const char *user, const char *pass)
{
	struct crypt_data *cd = xcalloc(1, sizeof *cd);
	const char *hash = dummy_hash, *out;
	size_t i, n;
	int known = 0, rc;

	for (i = 0; u != NULL && i < u->n; i++)
		if (strcmp(u->v[i].name, user) == 0) {
			hash = u->v[i].hash;
			known = 1;
			break;
		}
	out = crypt_r(pass, hash, cd);
	if (out == NULL || out[0] == '*') {
		rc = -1;
	} else {
		n = strlen(hash);
		rc = known && strlen(out) == n && CRYPTO_memcmp(out, hash, n) == 0;
	}
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return rc;
}
