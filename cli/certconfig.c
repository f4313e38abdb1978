/*
 * certconfig - `sallyctl certconfig`: certificate objects and CA lists.
 *
 * SUMMARY
 *	certconfig [list]			(alias: print)
 *	certconfig show NAME
 *	certconfig generate NAME --cn HOST [--san NAME ...] [--key TYPE]
 *	    [--days N] [--org O] [--unit U] [--locality L] [--state S]
 *	    [--country CC] [--force]
 *	certconfig csr NAME [--out FILE]
 *	certconfig upload NAME FILE
 *	certconfig import NAME FILE [--key KEYFILE] [--passphrase-file F]
 *	    [--force]
 *	certconfig export NAME [--format pem|p12] [--out FILE] [--with-key]
 *	    [--passphrase-file F]
 *	certconfig delete NAME
 *	certconfig certauthority status | show system|custom |
 *	    import FILE | export system|custom [--out FILE]
 *
 * What it does: the operator's side of spec tls-with-other-mtas.md 2.2
 * (create a self-signed certificate and a CSR, upload the CA-signed
 * certificate over the self-signed one, import and export PEM and
 * PKCS#12) and 3.6 (view, import and export the CA lists).  Certificate
 * objects are <paths.state>/certs/<name>.crt and .key (lib/tls_cert.h
 * does the cryptography and the storage); the custom CA list is
 * tls.trust.custom_file, the system one tls.trust.system_file.
 *
 * What it expects: the loaded config (sallyctl -c), to say which
 * listeners, destinations and tls.outbound use a certificate; the
 * certificate directory writable by the caller.  Every change is a file
 * that replaces the old one atomically; the daemons read the files on
 * `sallyctl commit`, so nothing here talks to them.
 *
 * What it does not do: edit the config (which listener uses which
 * certificate, whether a CA list is enabled: those are config keys), keep
 * a history of replaced certificates, or fetch anything from the network.
 * A passphrase comes from --passphrase-file or the terminal, never from
 * the command line (other users can read that in ps).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "certconfig.h"
#include "config.h"
#include "format.h"
#include "tls_cert.h"
#include "xalloc.h"

#define CC_FILE_MAX	(1024 * 1024)		/* certificate, key, PKCS#12 */
#define CC_CALIST_MAX	(16 * 1024 * 1024)	/* a CA list (Mozilla's: ~200k) */
#define CC_PASS_MAX	1024
#define CC_MAX_POS	4

static const char reminder[] = "Run 'sallyctl commit' to apply.\n";

static const char cc_usage[] =
    "usage: sallyctl certconfig [list | print]\n"
    "       sallyctl certconfig show NAME\n"
    "       sallyctl certconfig generate NAME --cn HOST [--san NAME[,NAME...] ...]\n"
    "           [--key rsa2048|rsa3072|rsa4096|ec-p256] [--days N] [--org O] [--unit U]\n"
    "           [--locality L] [--state S] [--country CC] [--force]\n"
    "       sallyctl certconfig csr NAME [--out FILE]\n"
    "       sallyctl certconfig upload NAME FILE\n"
    "       sallyctl certconfig import NAME FILE [--key KEYFILE] [--passphrase-file F]\n"
    "           [--force]\n"
    "       sallyctl certconfig export NAME [--format pem|p12] [--out FILE] [--with-key]\n"
    "           [--passphrase-file F]\n"
    "       sallyctl certconfig delete NAME\n"
    "       sallyctl certconfig certauthority status | show system|custom |\n"
    "           import FILE | export system|custom [--out FILE]\n";

/* One run: the config, where the objects are, how to answer. */
struct cc {
	const struct config	*cfg;
	char			*dir;		/* <paths.state>/certs */
	int			 json;
	int			 yes;
	int			 tty;		/* stdin is a terminal */
};

/* The arguments of one subcommand. */
struct cc_args {
	char		*pos[CC_MAX_POS];
	int		 npos;
	const char	*out, *key, *passfile, *format;
	const char	*cn, *keytype, *days, *org, *unit, *locality, *state, *country;
	char		**san;
	size_t		 nsan;
	int		 force, with_key;
};

/* Who uses a certificate: a listener, a destination or tls.outbound. */
struct cc_user {
	const char	*kind;
	const char	*name;		/* NULL for tls.outbound */
};

static int
cc_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
cc_fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("sallyctl: certconfig: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* ---- arguments ---- */

static const char *const opts_with_value[] = {
	"out", "key", "passphrase-file", "format", "cn", "san", "days", "org",
	"unit", "locality", "state", "country", NULL
};

static int
word_in(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
	return 0;
}

static void
add_sans(struct cc_args *a, const char *v)
{
	char *copy = xstrdup(v), *tok, *save = NULL;

	for (tok = strtok_r(copy, ", ", &save); tok != NULL;
	    tok = strtok_r(NULL, ", ", &save)) {
		a->san = xrealloc(a->san, (a->nsan + 1) * sizeof *a->san);
		a->san[a->nsan++] = xstrdup(tok);
	}
	free(copy);
}

static void
args_free(struct cc_args *a)
{
	size_t i;

	for (i = 0; i < a->nsan; i++)
		free(a->san[i]);
	free(a->san);
}

/*
 * Splits argv (after the subcommand) into positional arguments and the
 * options named in allowed (space-separated, without "--").  --json and
 * --yes are accepted anywhere.  0, or 1 after an error message.
 */
static int
parse_args(struct cc *cc, const char *sub, const char *allowed, int argc,
    char **argv, struct cc_args *a)
{
	int i, only_pos = 0;

	memset(a, 0, sizeof *a);
	for (i = 0; i < argc; i++) {
		char *s = argv[i], name[32];
		const char *val = NULL, *eq;
		size_t n, k;
		int takes = 0;

		if (!only_pos && strcmp(s, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (only_pos || strncmp(s, "--", 2) != 0 || s[2] == '\0') {
			if (a->npos == CC_MAX_POS)
				return cc_fail("%s: too many arguments (%s)", sub, s);
			a->pos[a->npos++] = s;
			continue;
		}
		if (strcmp(s, "--json") == 0) {
			cc->json = 1;
			continue;
		}
		if (strcmp(s, "--yes") == 0) {
			cc->yes = 1;
			continue;
		}
		eq = strchr(s, '=');
		n = eq != NULL ? (size_t)(eq - s - 2) : strlen(s + 2);
		if (n >= sizeof name)
			return cc_fail("%s: unknown option %s", sub, s);
		memcpy(name, s + 2, n);
		name[n] = '\0';
		if (!word_in(allowed, name))
			return cc_fail("%s: unknown option --%s (see 'sallyctl certconfig "
			    "help')", sub, name);
		for (k = 0; opts_with_value[k] != NULL; k++)
			if (strcmp(opts_with_value[k], name) == 0)
				takes = 1;
		if (takes) {
			if (eq != NULL)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return cc_fail("%s: --%s needs a value", sub, name);
		} else if (eq != NULL)
			return cc_fail("%s: --%s takes no value", sub, name);

		if (strcmp(name, "out") == 0)
			a->out = val;
		else if (strcmp(name, "key") == 0)
			a->key = a->keytype = val;	/* KEYFILE or key type */
		else if (strcmp(name, "passphrase-file") == 0)
			a->passfile = val;
		else if (strcmp(name, "format") == 0)
			a->format = val;
		else if (strcmp(name, "cn") == 0)
			a->cn = val;
		else if (strcmp(name, "san") == 0)
			add_sans(a, val);
		else if (strcmp(name, "days") == 0)
			a->days = val;
		else if (strcmp(name, "org") == 0)
			a->org = val;
		else if (strcmp(name, "unit") == 0)
			a->unit = val;
		else if (strcmp(name, "locality") == 0)
			a->locality = val;
		else if (strcmp(name, "state") == 0)
			a->state = val;
		else if (strcmp(name, "country") == 0)
			a->country = val;
		else if (strcmp(name, "force") == 0)
			a->force = 1;
		else if (strcmp(name, "with-key") == 0)
			a->with_key = 1;
	}
	return 0;
}

/* Exactly npos positional arguments, named in what ("NAME FILE"). */
static int
want_pos(const char *sub, const struct cc_args *a, int npos, const char *what)
{
	if (a->npos < npos)
		return cc_fail("%s: give %s (usage: certconfig %s %s)", sub, what,
		    sub, what);
	if (a->npos > npos)
		return cc_fail("%s: unexpected argument '%s'", sub, a->pos[npos]);
	return 0;
}

static int
want_name(const char *sub, const struct cc_args *a, int npos, const char *what)
{
	if (want_pos(sub, a, npos, what) != 0)
		return 1;
	if (!tls_cert_name_valid(a->pos[0]))
		return cc_fail("%s: invalid certificate name '%.64s': use letters, "
		    "digits, '_' and '-', not starting with a digit or '-', at most "
		    "%d characters", sub, a->pos[0], TLS_CERT_NAME_MAX);
	return 0;
}

/* ---- files ---- */

/* Reads a whole file ("-": standard input) into out, at most max bytes. */
static int
read_path(const char *path, size_t max, struct buf *out, char *err, size_t errlen)
{
	buf_init(out, max);
	if (buf_read_file(out, path, err, errlen) < 0) {
		buf_free(out);
		return -1;
	}
	return 0;
}

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Writes an answer to path, or to standard output when path is NULL.  A
 * secret (a key inside) is created, or set, mode 0600 before a byte of it
 * is written; anything else is created 0644.
 */
static int
write_output(const char *path, const void *data, size_t len, int secret)
{
	int fd;

	if (path == NULL || strcmp(path, "-") == 0) {
		fflush(stdout);
		if (write_all(1, data, len) < 0)
			return cc_fail("cannot write to standard output: %s",
			    strerror(errno));
		return 0;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    secret ? 0600 : 0644);
	if (fd < 0)
		return cc_fail("cannot create %s: %s", path, strerror(errno));
	if ((secret && fchmod(fd, 0600) < 0) || write_all(fd, data, len) < 0 ||
	    fsync(fd) < 0) {
		int saved = errno;

		close(fd);
		return cc_fail("cannot write %s: %s", path, strerror(saved));
	}
	if (close(fd) < 0)
		return cc_fail("cannot write %s: %s", path, strerror(errno));
	return 0;
}

/* Replaces path by data through a temporary file in the same directory
 * (synced, renamed), mode exactly mode. */
static int
write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp, *dir, *slash;
	int fd, saved;

	tmp = xasprintf("%s.tmp%ld", path, (long)getpid());
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		saved = errno;
		free(tmp);
		return cc_fail("cannot create a file next to %s: %s", path,
		    strerror(saved));
	}
	if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		goto fail;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		saved = errno;
		goto fail;
	}
	free(tmp);
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*(slash == dir ? slash + 1 : slash) = '\0';
		if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			(void)fsync(fd);
			close(fd);
		}
	}
	free(dir);
	return 0;
fail:
	(void)unlink(tmp);
	free(tmp);
	return cc_fail("cannot write %s: %s", path, strerror(saved));
}

/* mkdir -p for the directory that holds the objects (or a CA list). */
static int
make_dir(const char *path)
{
	char *p = xstrdup(path), *s;
	struct stat st;

	for (s = p + 1; ; s++) {
		char ch = *s;

		if (ch != '/' && ch != '\0')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			int saved = errno;

			cc_fail("cannot create %s: %s", p, strerror(saved));
			free(p);
			return -1;
		}
		*s = ch;
		if (ch == '\0')
			break;
	}
	if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) {
		cc_fail("%s is not a directory", p);
		free(p);
		return -1;
	}
	free(p);
	return 0;
}

static int
object_file_exists(const struct cc *cc, const char *name, const char *suffix)
{
	char *p = xasprintf("%s/%s%s", cc->dir, name, suffix);
	int r = access(p, F_OK) == 0;

	free(p);
	return r;
}

static int
object_exists(const struct cc *cc, const char *name)
{
	return object_file_exists(cc, name, ".crt") || object_file_exists(cc, name, ".key");
}

static int
load_object(const struct cc *cc, const char *name, struct tls_cert *c)
{
	char err[TLS_CERT_ERR_MAX];

	if (!object_exists(cc, name))
		return cc_fail("no certificate '%s' (in %s)", name, cc->dir);
	if (tls_cert_load(cc->dir, name, c, err, sizeof err) < 0)
		return cc_fail("certificate '%s': %s", name, err);
	return 0;
}

/* ---- passphrases ---- */

static struct termios saved_termios;
static volatile sig_atomic_t termios_changed;

static void
restore_tty(int sig)
{
	if (termios_changed)
		(void)tcsetattr(0, TCSANOW, &saved_termios);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Asks on the terminal (stdin) with echo off; the prompt goes to stderr,
 * as standard output may be the exported file.  0, or -1 at EOF. */
static int
ask_secret(const char *prompt, char *out, size_t outlen)
{
	struct sigaction sa, oint, oterm;
	struct termios noecho;
	size_t n;
	int rc = 0;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = restore_tty;
	sigaction(SIGINT, &sa, &oint);
	sigaction(SIGTERM, &sa, &oterm);
	/* Echo off before the prompt, and TCSANOW: an answer typed (or sent
	 * by a script) as soon as the prompt shows must not be dropped. */
	if (tcgetattr(0, &saved_termios) == 0) {
		noecho = saved_termios;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		if (tcsetattr(0, TCSANOW, &noecho) == 0)
			termios_changed = 1;
	}
	fflush(stdout);
	fputs(prompt, stderr);
	fflush(stderr);
	if (fgets(out, (int)outlen, stdin) == NULL)
		rc = -1;
	if (termios_changed) {
		(void)tcsetattr(0, TCSANOW, &saved_termios);
		termios_changed = 0;
	}
	sigaction(SIGINT, &oint, NULL);
	sigaction(SIGTERM, &oterm, NULL);
	fputc('\n', stderr);
	if (rc < 0) {
		out[0] = '\0';
		return -1;
	}
	n = strcspn(out, "\r\n");
	if (out[n] == '\0' && n == outlen - 1) {
		int ch;

		while ((ch = getchar()) != EOF && ch != '\n')
			;
	}
	out[n] = '\0';
	return 0;
}

/* The first line of a passphrase file. */
static int
read_passfile(const char *path, char *out, size_t outlen)
{
	char err[PATH_MAX + 100];
	struct buf b;
	size_t n;

	if (read_path(path, CC_PASS_MAX * 4, &b, err, sizeof err) < 0)
		return cc_fail("passphrase file: %s", err);
	n = b.len > 0 ? strcspn(b.data, "\r\n") : 0;
	if (n >= outlen) {
		OPENSSL_cleanse(b.data, b.len);
		buf_free(&b);
		return cc_fail("passphrase file %s: the passphrase is longer than %zu "
		    "characters", path, outlen - 1);
	}
	memcpy(out, b.len > 0 ? b.data : "", n);
	out[n] = '\0';
	if (b.data != NULL)
		OPENSSL_cleanse(b.data, b.len);
	buf_free(&b);
	return 0;
}

/* ---- who uses what ---- */

static size_t
users_of(const struct config *cfg, const char *name, struct cc_user *u, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < cfg->nlisteners; i++) {
		const struct cfg_listener *l = &cfg->listeners[i];

		if ((l->certificate != NULL || config_listener_tls(cfg, l)) &&
		    strcmp(config_listener_certificate(l), name) == 0 && n < max) {
			u[n].kind = "listener";
			u[n++].name = l->name;
		}
	}
	for (i = 0; i < cfg->ndestinations; i++) {
		const struct cfg_destination *d = &cfg->destinations[i];

		if (d->certificate != NULL && strcmp(d->certificate, name) == 0 && n < max) {
			u[n].kind = "destination";
			u[n++].name = d->domain;
		}
	}
	if (cfg->tls.outbound.certificate != NULL &&
	    strcmp(cfg->tls.outbound.certificate, name) == 0 && n < max) {
		u[n].kind = "tls.outbound";
		u[n++].name = NULL;
	}
	return n;
}

static void
print_users(FILE *fp, const struct cc_user *u, size_t n)
{
	size_t i;

	if (n == 0)
		fputs("(not used)", fp);
	for (i = 0; i < n; i++) {
		if (u[i].name != NULL)
			fprintf(fp, "%s%s %s", i ? ", " : "", u[i].kind, u[i].name);
		else
			fprintf(fp, "%s%s", i ? ", " : "", u[i].kind);
	}
}

/* ---- JSON pieces ---- */

static void
jkey(FILE *fp, int *n, const char *key)
{
	if ((*n)++)
		fputs(", ", fp);
	fmt_json_str(fp, key);
	fputs(": ", fp);
}

static void
jstr(FILE *fp, int *n, const char *key, const char *v)
{
	jkey(fp, n, key);
	if (v != NULL)
		fmt_json_str(fp, v);
	else
		fputs("null", fp);
}

static void
jnum(FILE *fp, int *n, const char *key, long long v)
{
	jkey(fp, n, key);
	fprintf(fp, "%lld", v);
}

static void
jbool(FILE *fp, int *n, const char *key, int v)
{
	jkey(fp, n, key);
	fputs(v ? "true" : "false", fp);
}

static void
json_users(FILE *fp, int *n, const struct cc_user *u, size_t nu)
{
	size_t i;

	jkey(fp, n, "used_by");
	fputc('[', fp);
	for (i = 0; i < nu; i++) {
		int m = 0;

		fputs(i ? ", {" : "{", fp);
		jstr(fp, &m, "type", u[i].kind);
		if (u[i].name != NULL)
			jstr(fp, &m, "name", u[i].name);
		fputc('}', fp);
	}
	fputc(']', fp);
}

/* ---- describing certificates ---- */

/* Every DNS name and IP address of the subjectAltName, each cleaned of
 * control characters (it is text from outside). */
static size_t
cert_sans(X509 *x, char ***out)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t n = 0;
	int i;

	*out = NULL;
	for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char text[INET6_ADDRSTRLEN + 1], *s = NULL;
		size_t k;

		if (g->type == GEN_DNS) {
			const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
			int len = ASN1_STRING_length(g->d.dNSName);

			s = xstrndup((const char *)d, len > 0 ? (size_t)len : 0);
		} else if (g->type == GEN_IPADD) {
			int len = ASN1_STRING_length(g->d.iPAddress);
			const unsigned char *d = ASN1_STRING_get0_data(g->d.iPAddress);

			if ((len == 4 && inet_ntop(AF_INET, d, text, sizeof text)) ||
			    (len == 16 && inet_ntop(AF_INET6, d, text, sizeof text)))
				s = xstrdup(text);
		}
		if (s == NULL)
			continue;
		for (k = 0; s[k] != '\0'; k++)
			if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f)
				s[k] = '?';
		*out = xrealloc(*out, (n + 1) * sizeof **out);
		(*out)[n++] = s;
	}
	GENERAL_NAMES_free(gens);
	return n;
}

static void
free_strs(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Whole days left, rounded up (a 365-day certificate shows 365 when it is
 * made); negative when expired. */
static long long
days_left(const struct tls_cert_info *info, time_t now)
{
	long long s = (long long)info->not_after_t - (long long)now;

	return s >= 0 ? (s + 86399) / 86400 : -((-s + 86399) / 86400);
}

/* "2027-05-02 10:00:00 UTC (365 days)", "(EXPIRED)" or "(not yet valid)". */
static void
expiry_text(const struct tls_cert_info *info, time_t now, char *out, size_t len)
{
	long long d = days_left(info, now);

	if (info->not_after_t < now)
		snprintf(out, len, "%s (EXPIRED)", info->not_after);
	else if (info->not_before_t > now)
		snprintf(out, len, "%s (not yet valid: from %s)", info->not_after,
		    info->not_before);
	else
		snprintf(out, len, "%s (%lld day%s)", info->not_after, d, d == 1 ? "" : "s");
}

/* The fields of one certificate, JSON members (no braces). */
static void
json_cert_fields(FILE *fp, int *m, X509 *x, const struct tls_cert_info *info, time_t now,
    int full)
{
	char **sans;
	size_t nsans, i;

	jstr(fp, m, "subject", info->subject);
	nsans = cert_sans(x, &sans);
	jkey(fp, m, "sans");
	fputc('[', fp);
	for (i = 0; i < nsans; i++) {
		if (i)
			fputs(", ", fp);
		fmt_json_str(fp, sans[i]);
	}
	fputc(']', fp);
	free_strs(sans, nsans);
	jstr(fp, m, "issuer", info->issuer);
	jstr(fp, m, "key", info->key);
	if (full)
		jstr(fp, m, "not_before", info->not_before);
	jstr(fp, m, "not_after", info->not_after);
	jnum(fp, m, "not_after_unix", (long long)info->not_after_t);
	jnum(fp, m, "days_left", days_left(info, now));
	jbool(fp, m, "expired", info->not_after_t < now);
	jbool(fp, m, "self_signed", info->self_signed);
	if (full) {
		jnum(fp, m, "not_before_unix", (long long)info->not_before_t);
		jbool(fp, m, "not_yet_valid", info->not_before_t > now);
		jstr(fp, m, "sha256", info->sha256);
		jbool(fp, m, "ca", info->is_ca);
	}
}

static void
text_sans(FILE *fp, X509 *x)
{
	char **sans;
	size_t nsans, i;

	nsans = cert_sans(x, &sans);
	if (nsans == 0)
		fputs("(none)", fp);
	for (i = 0; i < nsans; i++)
		fprintf(fp, "%s%s", i ? ", " : "", sans[i]);
	free_strs(sans, nsans);
}

/* One object as `list` shows it; c NULL (with err) if it does not load.
 * first counts the entries of a JSON array; NULL: a JSON object alone. */
static void
print_summary(const struct cc *cc, const char *name, const struct tls_cert *c,
    const char *err, int *first)
{
	struct cc_user u[64];
	size_t nu = users_of(cc->cfg, name, u, 64);
	struct tls_cert_info info;
	time_t now = time(NULL);
	char exp[128];

	if (cc->json) {
		int m = 0;

		if (first == NULL)
			fputc('{', stdout);
		else
			fputs((*first)++ ? ",\n  {" : "\n  {", stdout);
		jstr(stdout, &m, "name", name);
		if (c != NULL) {
			tls_cert_info(c->cert, &info);
			json_cert_fields(stdout, &m, c->cert, &info, now, 0);
			jnum(stdout, &m, "chain", sk_X509_num(c->chain));
		} else
			jstr(stdout, &m, "error", err);
		json_users(stdout, &m, u, nu);
		fputs(first == NULL ? "}\n" : "}", stdout);
		return;
	}
	if (first != NULL && (*first)++)
		putchar('\n');
	printf("%s\n", name);
	if (c == NULL) {
		printf("    Error:      %s\n", err);
	} else {
		tls_cert_info(c->cert, &info);
		expiry_text(&info, now, exp, sizeof exp);
		printf("    Subject:    %s\n", info.subject);
		printf("    Names:      ");
		text_sans(stdout, c->cert);
		printf("\n    Issuer:     %s%s\n", info.issuer,
		    info.self_signed ? " (self-signed)" : "");
		printf("    Key:        %s\n", info.key);
		printf("    Expires:    %s\n", exp);
	}
	printf("    Used by:    ");
	print_users(stdout, u, nu);
	putchar('\n');
}

/* ---- list, show ---- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The object names in the directory (from .crt and .key files), sorted. */
static size_t
object_names(const struct cc *cc, char ***out, int *missing_dir)
{
	DIR *d;
	struct dirent *e;
	size_t n = 0, i, k;

	*out = NULL;
	*missing_dir = 0;
	if ((d = opendir(cc->dir)) == NULL) {
		*missing_dir = 1;
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		char *name;

		if (len < 5 || (strcmp(e->d_name + len - 4, ".crt") != 0 &&
		    strcmp(e->d_name + len - 4, ".key") != 0))
			continue;
		name = xstrndup(e->d_name, len - 4);
		if (!tls_cert_name_valid(name)) {
			free(name);
			continue;
		}
		*out = xrealloc(*out, (n + 1) * sizeof **out);
		(*out)[n++] = name;
	}
	closedir(d);
	if (n > 0)
		qsort(*out, n, sizeof **out, cmp_str);
	for (i = k = 0; i < n; i++) {	/* mx.crt and mx.key: one object */
		if (k > 0 && strcmp((*out)[k - 1], (*out)[i]) == 0)
			free((*out)[i]);
		else
			(*out)[k++] = (*out)[i];
	}
	return k;
}

/* Certificates the config uses whose files are not there: the daemons
 * would refuse the config on commit, so say it now. */
static void
warn_missing(const struct cc *cc)
{
	const struct config *cfg = cc->cfg;
	size_t i;

	for (i = 0; i < cfg->ncertificates; i++) {
		const struct cfg_certificate *c = &cfg->certificates[i];
		struct cc_user u[64];
		size_t nu = users_of(cfg, c->name, u, 64);
		char *crt = c->cert != NULL ? xstrdup(c->cert) :
		    xasprintf("%s/%s.crt", cc->dir, c->name);

		if (nu > 0 && access(crt, F_OK) < 0) {
			fflush(stdout);
			fprintf(stderr, "sallyctl: certconfig: warning: %s%s%s uses "
			    "certificate '%s', but %s does not exist\n", u[0].kind,
			    u[0].name ? " " : "", u[0].name ? u[0].name : "", c->name, crt);
		}
		free(crt);
	}
}

static int
cmd_list(struct cc *cc, int argc, char **argv)
{
	struct cc_args a;
	char **names, err[TLS_CERT_ERR_MAX];
	size_t n, i;
	int first = 0, nodir;

	if (parse_args(cc, "list", "", argc, argv, &a) != 0 || want_pos("list", &a, 0, "") != 0) {
		args_free(&a);
		return 1;
	}
	args_free(&a);
	n = object_names(cc, &names, &nodir);
	if (cc->json)
		fputc('[', stdout);
	else if (n == 0)
		printf("No certificates in %s.\n", cc->dir);
	for (i = 0; i < n; i++) {
		struct tls_cert c;

		tls_cert_init(&c);
		if (tls_cert_load(cc->dir, names[i], &c, err, sizeof err) < 0)
			print_summary(cc, names[i], NULL, err, &first);
		else
			print_summary(cc, names[i], &c, NULL, &first);
		tls_cert_free(&c);
	}
	if (cc->json)
		fputs(n ? "\n]\n" : "]\n", stdout);
	free_strs(names, n);
	warn_missing(cc);
	return 0;
}

static void
print_cert_block(const char *title, X509 *x, time_t now)
{
	struct tls_cert_info info;
	char exp[128];

	tls_cert_info(x, &info);
	expiry_text(&info, now, exp, sizeof exp);
	printf("%s\n", title);
	printf("    Subject:      %s\n", info.subject);
	printf("    Names:        ");
	text_sans(stdout, x);
	printf("\n    Issuer:       %s\n", info.issuer);
	printf("    Key:          %s\n", info.key);
	printf("    Not before:   %s\n", info.not_before);
	printf("    Not after:    %s\n", exp);
	printf("    SHA-256:      %s\n", info.sha256);
	printf("    CA:           %s%s\n", info.is_ca ? "yes" : "no",
	    info.self_signed ? " (self-signed)" : "");
}

static int
cmd_show(struct cc *cc, int argc, char **argv)
{
	struct cc_args a;
	struct tls_cert c;
	struct tls_cert_info info;
	struct cc_user u[64];
	char err[TLS_CERT_ERR_MAX], title[64];
	char *crt, *key;
	const char *name;
	time_t now = time(NULL);
	struct stat st;
	size_t nu;
	int i, valid, m = 0;

	if (parse_args(cc, "show", "", argc, argv, &a) != 0 ||
	    want_name("show", &a, 1, "NAME") != 0) {
		args_free(&a);
		return 1;
	}
	name = a.pos[0];
	tls_cert_init(&c);
	if (load_object(cc, name, &c) != 0) {
		args_free(&a);
		return 1;
	}
	nu = users_of(cc->cfg, name, u, 64);
	valid = tls_cert_validate(&c, err, sizeof err) == 0;
	crt = xasprintf("%s/%s.crt", cc->dir, name);
	key = xasprintf("%s/%s.key", cc->dir, name);
	if (stat(key, &st) < 0)
		st.st_mode = 0;
	if (cc->json) {
		fputc('{', stdout);
		jstr(stdout, &m, "name", name);
		jstr(stdout, &m, "certificate_file", crt);
		jstr(stdout, &m, "key_file", key);
		jkey(stdout, &m, "key_file_mode");
		printf("\"%04o\"", (unsigned)(st.st_mode & 07777));
		jbool(stdout, &m, "valid", valid);
		if (!valid)
			jstr(stdout, &m, "problem", err);
		json_users(stdout, &m, u, nu);
		jkey(stdout, &m, "leaf");
		fputc('{', stdout);
		i = 0;
		tls_cert_info(c.cert, &info);
		json_cert_fields(stdout, &i, c.cert, &info, now, 1);
		fputc('}', stdout);
		jkey(stdout, &m, "chain");
		fputc('[', stdout);
		for (i = 0; i < sk_X509_num(c.chain); i++) {
			X509 *x = sk_X509_value(c.chain, i);
			int k = 0;

			fputs(i ? ", {" : "{", stdout);
			tls_cert_info(x, &info);
			json_cert_fields(stdout, &k, x, &info, now, 1);
			fputc('}', stdout);
		}
		fputs("]}\n", stdout);
	} else {
		printf("Certificate '%s'\n", name);
		printf("    Files:        %s\n                  %s (mode %04o)\n", crt, key,
		    (unsigned)(st.st_mode & 07777));
		printf("    Used by:      ");
		print_users(stdout, u, nu);
		printf("\n    Status:       %s%s\n", valid ? "valid" : "NOT VALID: ",
		    valid ? "" : err);
		print_cert_block("Certificate:", c.cert, now);
		for (i = 0; i < sk_X509_num(c.chain); i++) {
			snprintf(title, sizeof title, "Chain certificate %d:", i + 1);
			print_cert_block(title, sk_X509_value(c.chain, i), now);
		}
	}
	free(crt);
	free(key);
	tls_cert_free(&c);
	args_free(&a);
	return 0;
}

/* ---- changing objects ---- */

/* After a change: what the object is now, and the reminder. */
static void
report_change(const struct cc *cc, const char *name, const struct tls_cert *c,
    const char *what)
{
	if (!cc->json)
		printf("Certificate '%s' %s.\n", name, what);
	print_summary(cc, name, c, NULL, NULL);
	if (!cc->json)
		fputs(reminder, stdout);
}

static int
save_object(const struct cc *cc, const char *name, const struct tls_cert *c)
{
	char err[TLS_CERT_ERR_MAX];

	if (make_dir(cc->dir) < 0)
		return 1;
	if (tls_cert_save(cc->dir, name, c, err, sizeof err) < 0)
		return cc_fail("certificate '%s': %s", name, err);
	return 0;
}

static int
parse_key_type(const char *s, enum tls_key_type *t)
{
	static const struct {
		const char		*name;
		enum tls_key_type	 type;
	} types[] = {
		{ "rsa2048", TLS_KEY_RSA2048 }, { "rsa3072", TLS_KEY_RSA3072 },
		{ "rsa4096", TLS_KEY_RSA4096 }, { "ec-p256", TLS_KEY_EC_P256 },
	};
	size_t i;

	for (i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcmp(s, types[i].name) == 0) {
			*t = types[i].type;
			return 0;
		}
	return -1;
}

static int
cmd_generate(struct cc *cc, int argc, char **argv)
{
	struct tls_cert_params p;
	struct tls_cert c;
	struct cc_args a;
	char err[TLS_CERT_ERR_MAX], *end;
	const char *name;
	unsigned long days = 365;
	int rc = 1;

	tls_cert_init(&c);
	if (parse_args(cc, "generate", "cn san key days org unit locality state country "
	    "force", argc, argv, &a) != 0 || want_name("generate", &a, 1, "NAME") != 0)
		goto out;
	name = a.pos[0];
	memset(&p, 0, sizeof p);
	p.key_type = TLS_KEY_RSA2048;
	if (a.cn == NULL || a.cn[0] == '\0') {
		cc_fail("generate: give --cn HOST (the fully qualified name of the host)");
		goto out;
	}
	if (a.keytype != NULL && parse_key_type(a.keytype, &p.key_type) < 0) {
		cc_fail("generate: unknown key type '%s' (rsa2048, rsa3072, rsa4096 or ec-p256)",
		    a.keytype);
		goto out;
	}
	if (a.days != NULL) {
		errno = 0;
		days = strtoul(a.days, &end, 10);
		if (a.days[0] < '0' || a.days[0] > '9' || *end != '\0' || errno != 0 ||
		    days < 1 || days > TLS_CERT_MAX_DAYS) {
			cc_fail("generate: --days is a number of days, 1 to %d", TLS_CERT_MAX_DAYS);
			goto out;
		}
	}
	if (object_exists(cc, name) && !a.force) {
		cc_fail("certificate '%s' exists (--force replaces it)", name);
		goto out;
	}
	p.cn = a.cn;
	p.san = (const char *const *)a.san;
	p.nsan = a.nsan;
	p.org = a.org;
	p.unit = a.unit;
	p.locality = a.locality;
	p.state = a.state;
	p.country = a.country;
	p.days = (unsigned)days;
	if (tls_cert_generate(&c, &p, err, sizeof err) < 0) {
		cc_fail("generate: %s", err);
		goto out;
	}
	if (save_object(cc, name, &c) != 0)
		goto out;
	report_change(cc, name, &c, "generated (self-signed)");
	rc = 0;
out:
	tls_cert_free(&c);
	args_free(&a);
	return rc;
}

static int
cmd_csr(struct cc *cc, int argc, char **argv)
{
	struct tls_cert c;
	struct cc_args a;
	struct buf pem;
	char err[TLS_CERT_ERR_MAX];
	int rc = 1;

	tls_cert_init(&c);
	buf_init(&pem, 0);
	if (parse_args(cc, "csr", "out", argc, argv, &a) != 0 ||
	    want_name("csr", &a, 1, "NAME") != 0 || load_object(cc, a.pos[0], &c) != 0)
		goto out;
	if (tls_cert_csr(&c, &pem, err, sizeof err) < 0) {
		cc_fail("csr: certificate '%s': %s", a.pos[0], err);
		goto out;
	}
	if (cc->json) {
		int m = 0;

		if (a.out != NULL && write_output(a.out, pem.data, pem.len, 0) != 0)
			goto out;
		fputc('{', stdout);
		jstr(stdout, &m, "name", a.pos[0]);
		if (a.out != NULL)
			jstr(stdout, &m, "file", a.out);
		else
			jstr(stdout, &m, "csr", pem.data);
		fputs("}\n", stdout);
	} else {
		if (write_output(a.out, pem.data, pem.len, 0) != 0)
			goto out;
		if (a.out != NULL)
			printf("Certificate signing request for '%s' written to %s.\n"
			    "Send it to the CA, then: sallyctl certconfig upload %s FILE\n",
			    a.pos[0], a.out, a.pos[0]);
	}
	rc = 0;
out:
	buf_free(&pem);
	tls_cert_free(&c);
	args_free(&a);
	return rc;
}

static int
has_pem(const struct buf *b)
{
	return b->len > 0 && memchr(b->data, '\0', b->len) == NULL &&
	    strstr(b->data, "-----BEGIN") != NULL;
}

static int
cmd_upload(struct cc *cc, int argc, char **argv)
{
	struct tls_cert c;
	struct cc_args a;
	struct buf pem;
	char err[PATH_MAX + TLS_CERT_ERR_MAX];
	int rc = 1;

	tls_cert_init(&c);
	pem.data = NULL;
	if (parse_args(cc, "upload", "", argc, argv, &a) != 0 ||
	    want_name("upload", &a, 2, "NAME FILE") != 0 || load_object(cc, a.pos[0], &c) != 0)
		goto out;
	if (read_path(a.pos[1], CC_FILE_MAX, &pem, err, sizeof err) < 0) {
		cc_fail("upload: %s", err);
		goto out;
	}
	if (!has_pem(&pem)) {
		cc_fail("upload: %s is not a PEM file (convert it first: openssl x509 "
		    "-inform der -in %s -out %s.pem)", a.pos[1], a.pos[1], a.pos[1]);
		goto out;
	}
	if (tls_cert_replace_leaf(&c, pem.data, pem.len, err, sizeof err) < 0) {
		cc_fail("upload: %s does not fit certificate '%s': %s", a.pos[1], a.pos[0], err);
		goto out;
	}
	if (save_object(cc, a.pos[0], &c) != 0)
		goto out;
	report_change(cc, a.pos[0], &c, "now holds the uploaded certificate");
	rc = 0;
out:
	if (pem.data != NULL)
		buf_free(&pem);
	tls_cert_free(&c);
	args_free(&a);
	return rc;
}

/* A passphrase: from the file, else asked on a terminal, else empty. */
static int
get_passphrase(const struct cc *cc, const char *file, const char *prompt, char *out,
    size_t outlen)
{
	out[0] = '\0';
	if (file != NULL)
		return read_passfile(file, out, outlen);
	if (cc->tty && ask_secret(prompt, out, outlen) < 0)
		return cc_fail("no passphrase given");
	return 0;
}

static int
cmd_import(struct cc *cc, int argc, char **argv)
{
	struct tls_cert c;
	struct cc_args a;
	struct buf data, key;
	char err[PATH_MAX + TLS_CERT_ERR_MAX], pass[CC_PASS_MAX], prompt[PATH_MAX + 64];
	const char *name, *file;
	int rc = 1, got_pass = 0;

	tls_cert_init(&c);
	data.data = key.data = NULL;
	pass[0] = '\0';
	if (parse_args(cc, "import", "key passphrase-file force", argc, argv, &a) != 0 ||
	    want_name("import", &a, 2, "NAME FILE") != 0)
		goto out;
	name = a.pos[0];
	file = a.pos[1];
	if (object_exists(cc, name) && !a.force) {
		cc_fail("certificate '%s' exists (--force replaces it)", name);
		goto out;
	}
	if (read_path(file, CC_FILE_MAX, &data, err, sizeof err) < 0) {
		cc_fail("import: %s", err);
		goto out;
	}
	if (data.len == 0) {
		cc_fail("import: %s is empty", file);
		goto out;
	}
	if (has_pem(&data)) {
		const struct buf *kb = &data;

		if (a.key != NULL) {
			if (read_path(a.key, CC_FILE_MAX, &key, err, sizeof err) < 0) {
				cc_fail("import: %s", err);
				goto out;
			}
			kb = &key;
		}
		/* An encrypted key needs its passphrase; a plain one none. */
		if (a.passfile != NULL || (cc->tty && kb->len > 0 &&
		    strstr(kb->data, "ENCRYPTED") != NULL)) {
			snprintf(prompt, sizeof prompt, "Passphrase of the private key in %s: ",
			    a.key != NULL ? a.key : file);
			if (get_passphrase(cc, a.passfile, prompt, pass, sizeof pass) != 0)
				goto out;
			got_pass = 1;
		}
		if (tls_cert_import_pem(&c, data.data, data.len, a.key ? key.data : NULL,
		    a.key ? key.len : 0, got_pass ? pass : NULL, err, sizeof err) < 0) {
			cc_fail("cannot import %s: %s", file, err);
			goto out;
		}
	} else {
		if (a.key != NULL) {
			cc_fail("import: %s is not PEM, so it is read as PKCS#12, which holds "
			    "its own key: leave out --key", file);
			goto out;
		}
		snprintf(prompt, sizeof prompt, "Passphrase of %s: ", file);
		if (get_passphrase(cc, a.passfile, prompt, pass, sizeof pass) != 0)
			goto out;
		if (tls_cert_import_p12(&c, data.data, data.len, pass, err, sizeof err) < 0) {
			cc_fail("cannot import %s: %s", file, err);
			goto out;
		}
	}
	if (save_object(cc, name, &c) != 0)
		goto out;
	report_change(cc, name, &c, "imported");
	rc = 0;
out:
	OPENSSL_cleanse(pass, sizeof pass);
	if (data.data != NULL) {
		OPENSSL_cleanse(data.data, data.len);
		buf_free(&data);
	}
	if (key.data != NULL) {
		OPENSSL_cleanse(key.data, key.len);
		buf_free(&key);
	}
	tls_cert_free(&c);
	args_free(&a);
	return rc;
}

/* The PKCS#12 passphrase: from the file, else asked twice on a terminal. */
static int
export_passphrase(const struct cc *cc, const char *file, char *out, size_t outlen)
{
	char again[CC_PASS_MAX];

	if (file != NULL) {
		if (read_passfile(file, out, outlen) != 0)
			return 1;
	} else if (!cc->tty)
		return cc_fail("export: a PKCS#12 file needs a passphrase: give "
		    "--passphrase-file F, or run on a terminal to be asked");
	else {
		if (ask_secret("Passphrase for the PKCS#12 file: ", out, outlen) < 0 ||
		    ask_secret("Enter it again: ", again, sizeof again) < 0)
			return cc_fail("export: no passphrase given");
		if (strcmp(out, again) != 0) {
			OPENSSL_cleanse(again, sizeof again);
			return cc_fail("export: the two passphrases differ");
		}
		OPENSSL_cleanse(again, sizeof again);
	}
	if (out[0] == '\0')
		return cc_fail("export: refusing an empty passphrase (the PKCS#12 file "
		    "holds the private key)");
	return 0;
}

static int
cmd_export(struct cc *cc, int argc, char **argv)
{
	struct tls_cert c;
	struct cc_args a;
	struct buf out;
	char err[TLS_CERT_ERR_MAX], pass[CC_PASS_MAX];
	int rc = 1, p12 = 0, secret;

	tls_cert_init(&c);
	buf_init(&out, 0);
	pass[0] = '\0';
	if (parse_args(cc, "export", "format out with-key passphrase-file", argc, argv,
	    &a) != 0 || want_name("export", &a, 1, "NAME") != 0)
		goto out;
	if (a.format != NULL && strcmp(a.format, "p12") != 0 &&
	    strcmp(a.format, "pkcs12") != 0 && strcmp(a.format, "pem") != 0) {
		cc_fail("export: --format is pem or p12");
		goto out;
	}
	p12 = a.format != NULL && strcmp(a.format, "pem") != 0;
	if (!p12 && a.passfile != NULL) {
		cc_fail("export: --passphrase-file is for --format p12 (a PEM export "
		    "writes the key unencrypted)");
		goto out;
	}
	if (p12 && a.out == NULL && !cc->json && isatty(1)) {
		cc_fail("export: a PKCS#12 file is binary: give --out FILE");
		goto out;
	}
	if (load_object(cc, a.pos[0], &c) != 0)
		goto out;
	secret = p12 || a.with_key;
	if (p12) {
		if (export_passphrase(cc, a.passfile, pass, sizeof pass) != 0)
			goto out;
		if (tls_cert_export_p12(&c, a.pos[0], pass, &out, err, sizeof err) < 0) {
			cc_fail("export: certificate '%s': %s", a.pos[0], err);
			goto out;
		}
	} else if (tls_cert_export_pem(&c, a.with_key, &out) < 0) {
		cc_fail("export: certificate '%s': cannot encode it", a.pos[0]);
		goto out;
	}
	if (a.out != NULL && write_output(a.out, out.data, out.len, secret) != 0)
		goto out;
	if (cc->json) {
		int m = 0;

		fputc('{', stdout);
		jstr(stdout, &m, "name", a.pos[0]);
		jstr(stdout, &m, "format", p12 ? "p12" : "pem");
		jbool(stdout, &m, "with_key", secret);
		if (a.out != NULL) {
			jstr(stdout, &m, "file", a.out);
			jnum(stdout, &m, "bytes", (long long)out.len);
		} else if (!p12)
			jstr(stdout, &m, "pem", out.data);
		else {
			unsigned char *b64 = xmalloc(4 * ((out.len + 2) / 3) + 1);

			EVP_EncodeBlock(b64, (const unsigned char *)out.data, (int)out.len);
			jstr(stdout, &m, "p12_base64", (const char *)b64);
			free(b64);
		}
		fputs("}\n", stdout);
	} else if (a.out == NULL) {
		if (write_output(NULL, out.data, out.len, secret) != 0)
			goto out;
	} else
		printf("Certificate '%s' exported to %s (%s%s).\n", a.pos[0], a.out,
		    p12 ? "PKCS#12" : "PEM", secret ? ", with the private key, mode 0600" : "");
	rc = 0;
out:
	OPENSSL_cleanse(pass, sizeof pass);
	if (out.data != NULL)
		OPENSSL_cleanse(out.data, out.len);
	buf_free(&out);
	tls_cert_free(&c);
	args_free(&a);
	return rc;
}

/* Confirmation: --yes, else a line from stdin (a terminal, or a script's
 * "y"); the default, and end of file, is No. */
static int
confirm(const struct cc *cc, const char *question)
{
	FILE *fp = cc->json ? stderr : stdout;
	char line[64];

	if (cc->yes)
		return 1;
	fputs(question, fp);
	fflush(fp);
	if (fgets(line, sizeof line, stdin) == NULL) {
		fputc('\n', fp);
		return 0;
	}
	return line[0] == 'y' || line[0] == 'Y';
}

static int
cmd_delete(struct cc *cc, int argc, char **argv)
{
	struct cc_args a;
	struct cc_user u[64];
	char err[TLS_CERT_ERR_MAX], q[200];
	const char *name;
	size_t nu, i;
	int rc = 1;

	if (parse_args(cc, "delete", "", argc, argv, &a) != 0 ||
	    want_name("delete", &a, 1, "NAME") != 0)
		goto out;
	name = a.pos[0];
	if (!object_exists(cc, name)) {
		cc_fail("no certificate '%s' (in %s)", name, cc->dir);
		goto out;
	}
	if ((nu = users_of(cc->cfg, name, u, 64)) > 0) {
		fflush(stdout);
		fprintf(stderr, "sallyctl: certconfig: certificate '%s' is used by ", name);
		for (i = 0; i < nu; i++) {
			if (u[i].name != NULL)
				fprintf(stderr, "%s%s '%s'", i ? ", " : "", u[i].kind, u[i].name);
			else
				fprintf(stderr, "%s%s", i ? ", " : "", u[i].kind);
		}
		fputc('\n', stderr);
		goto out;
	}
	snprintf(q, sizeof q, "Delete certificate '%s' and its private key? [N]> ", name);
	if (!confirm(cc, q)) {
		cc_fail("delete: not confirmed; certificate '%s' kept (--yes answers yes)", name);
		goto out;
	}
	if (tls_cert_remove(cc->dir, name, err, sizeof err) < 0) {
		cc_fail("delete: %s", err);
		goto out;
	}
	if (cc->json) {
		int m = 0;

		fputc('{', stdout);
		jstr(stdout, &m, "name", name);
		jbool(stdout, &m, "deleted", 1);
		fputs("}\n", stdout);
	} else
		printf("Certificate '%s' deleted.\n%s", name, reminder);
	rc = 0;
out:
	args_free(&a);
	return rc;
}

/* ---- CA lists ---- */

struct ca_list {
	const char	*which;		/* "system", "custom" */
	const char	*title;		/* "System CA list" */
	const char	*key;		/* its config key */
	const char	*file;
	int		 enabled;
};

static void
ca_lists(const struct cc *cc, struct ca_list *sys, struct ca_list *cus, char **custom_default)
{
	const struct config *cfg = cc->cfg;

	*custom_default = xasprintf("%s/custom-ca.pem", cc->dir);
	sys->which = "system";
	sys->title = "System CA list";
	sys->key = "tls.trust.system";
	sys->file = cfg->tls.trust.system_file != NULL ? cfg->tls.trust.system_file :
	    "/etc/ssl/certs/ca-certificates.crt";
	sys->enabled = cfg->tls.trust.system;
	cus->which = "custom";
	cus->title = "Custom CA list";
	cus->key = "tls.trust.custom";
	cus->file = cfg->tls.trust.custom_file != NULL ? cfg->tls.trust.custom_file :
	    *custom_default;
	cus->enabled = cfg->tls.trust.custom;
}

/* Every certificate in a PEM file; NULL with err when it cannot be read. */
static STACK_OF(X509) *
read_ca_file(const char *path, char *err, size_t errlen)
{
	STACK_OF(X509) *sk;
	struct buf b;
	BIO *bio;
	X509 *x;

	if (read_path(path, CC_CALIST_MAX, &b, err, errlen) < 0)
		return NULL;
	if ((sk = sk_X509_new_null()) == NULL ||
	    (bio = BIO_new_mem_buf(b.data != NULL ? b.data : "", (int)b.len)) == NULL) {
		sk_X509_free(sk);
		buf_free(&b);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		if (sk_X509_push(sk, x) <= 0) {
			X509_free(x);
			break;
		}
	ERR_clear_error();
	BIO_free(bio);
	buf_free(&b);
	return sk;
}

static const struct ca_list *
pick_list(const char *sub, const char *which, const struct ca_list *sys,
    const struct ca_list *cus)
{
	if (which != NULL && strcmp(which, "system") == 0)
		return sys;
	if (which != NULL && strcmp(which, "custom") == 0)
		return cus;
	cc_fail("certauthority %s: say which list: system or custom", sub);
	return NULL;
}

static int
ca_status(const struct cc *cc, const struct ca_list *lists)
{
	char err[PATH_MAX + 100];
	int i, m = 0, usable = 0;

	if (cc->json)
		fputc('{', stdout);
	for (i = 0; i < 2; i++) {
		const struct ca_list *l = &lists[i];
		STACK_OF(X509) *sk = read_ca_file(l->file, err, sizeof err);
		int n = sk != NULL ? sk_X509_num(sk) : 0;

		if (l->enabled && n > 0)
			usable = 1;
		if (cc->json) {
			int k = 0;

			jkey(stdout, &m, l->which);
			fputc('{', stdout);
			jbool(stdout, &k, "enabled", l->enabled);
			jstr(stdout, &k, "config_key", l->key);
			jstr(stdout, &k, "file", l->file);
			jnum(stdout, &k, "certificates", n);
			if (sk == NULL)
				jstr(stdout, &k, "error", err);
			fputc('}', stdout);
		} else {
			printf("%s:%*s%s (%s: %s)\n", l->title, 16 - (int)strlen(l->title), "",
			    l->enabled ? "enabled" : "disabled", l->key,
			    l->enabled ? "true" : "false");
			printf("    File:          %s\n", l->file);
			if (sk == NULL)
				printf("    Certificates:  none (%s)\n", err);
			else
				printf("    Certificates:  %d\n", n);
		}
		sk_X509_pop_free(sk, X509_free);
	}
	if (cc->json) {
		jbool(stdout, &m, "usable", usable);
		fputs("}\n", stdout);
		return 0;
	}
	if (!usable)
		printf("No enabled list holds a certificate: every delivery that verifies "
		    "certificates\nwill fail.\n");
	printf("To enable or disable a list, set tls.trust.system or tls.trust.custom "
	    "(true or\nfalse) in the configuration file, then run 'sallyctl commit'.\n");
	return 0;
}

static int
ca_show(const struct cc *cc, const struct ca_list *l)
{
	char err[PATH_MAX + 100];
	STACK_OF(X509) *sk = read_ca_file(l->file, err, sizeof err);
	time_t now = time(NULL);
	int i;

	if (sk == NULL)
		return cc_fail("certauthority show %s: %s", l->which, err);
	if (cc->json)
		fputc('[', stdout);
	else
		printf("%s (%s, %s): %d certificate%s\n", l->title, l->file,
		    l->enabled ? "enabled" : "disabled", sk_X509_num(sk),
		    sk_X509_num(sk) == 1 ? "" : "s");
	if (!cc->json && sk_X509_num(sk) > 0)
		printf("%-10s  %6s  %s\n", "Expires", "Days", "Subject");
	for (i = 0; i < sk_X509_num(sk); i++) {
		struct tls_cert_info info;

		tls_cert_info(sk_X509_value(sk, i), &info);
		if (cc->json) {
			int m = 0;

			fputs(i ? ",\n  {" : "\n  {", stdout);
			jstr(stdout, &m, "subject", info.subject);
			jstr(stdout, &m, "not_after", info.not_after);
			jnum(stdout, &m, "not_after_unix", (long long)info.not_after_t);
			jnum(stdout, &m, "days_left", days_left(&info, now));
			jbool(stdout, &m, "expired", info.not_after_t < now);
			jbool(stdout, &m, "ca", info.is_ca);
			jstr(stdout, &m, "sha256", info.sha256);
			fputc('}', stdout);
		} else if (info.not_after_t < now)
			printf("%-10.10s  %6s  %s\n", info.not_after, "EXPIRED", info.subject);
		else
			printf("%-10.10s  %6lld  %s\n", info.not_after, days_left(&info, now),
			    info.subject);
	}
	if (cc->json)
		fputs(sk_X509_num(sk) ? "\n]\n" : "]\n", stdout);
	sk_X509_pop_free(sk, X509_free);
	return 0;
}

static int
ca_import(const struct cc *cc, const char *file, const struct ca_list *l)
{
	char err[PATH_MAX + TLS_CERT_ERR_MAX], *dir, *slash;
	struct buf pem, out, report;
	int n, rc = 1;

	buf_init(&out, 0);
	buf_init(&report, 0);
	pem.data = NULL;
	if (read_path(file, CC_CALIST_MAX, &pem, err, sizeof err) < 0) {
		cc_fail("certauthority import: %s", err);
		goto out;
	}
	n = tls_cert_ca_list_check(pem.data != NULL ? pem.data : "", pem.len, &out, &report,
	    err, sizeof err);
	if (n < 0) {
		cc_fail("certauthority import: %s: %s", file, err);
		goto out;
	}
	if (n == 0) {
		fflush(stdout);
		if (report.len > 0)
			fputs(report.data, stderr);
		cc_fail("certauthority import: %s holds no usable CA certificate; the "
		    "custom CA list is unchanged", file);
		goto out;
	}
	dir = xstrdup(l->file);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (make_dir(dir) < 0) {
			free(dir);
			goto out;
		}
	}
	free(dir);
	if (write_atomic(l->file, out.data, out.len, 0644) != 0)
		goto out;
	if (cc->json) {
		char *line, *save = NULL;
		int m = 0, k = 0;

		fputc('{', stdout);
		jstr(stdout, &m, "list", "custom");
		jstr(stdout, &m, "file", l->file);
		jnum(stdout, &m, "accepted", n);
		jkey(stdout, &m, "rejected");
		fputc('[', stdout);
		for (line = strtok_r(report.data, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save)) {
			fputs(k++ ? ", " : "", stdout);
			fmt_json_str(stdout, line);
		}
		fputc(']', stdout);
		jbool(stdout, &m, "enabled", l->enabled);
		fputs("}\n", stdout);
	} else {
		char *line, *save = NULL;
		int rejected = 0;
		size_t i;

		for (i = 0; i < report.len; i++)
			rejected += report.data[i] == '\n';
		printf("Imported %d CA certificate%s into %s (the custom CA list was "
		    "replaced).\n", n, n == 1 ? "" : "s", l->file);
		if (rejected > 0)
			printf("Rejected %d:\n", rejected);
		for (line = strtok_r(report.data, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			printf("    %s\n", line);
		if (!l->enabled)
			printf("The custom CA list is disabled: set tls.trust.custom: true in "
			    "the configuration\nfile to use it.\n");
		fputs(reminder, stdout);
	}
	rc = 0;
out:
	if (pem.data != NULL)
		buf_free(&pem);
	buf_free(&out);
	buf_free(&report);
	return rc;
}

/* The list as PEM, each certificate after a "# subject / SHA-256" line
 * (spec 3.6), so that it can be edited and imported as the custom list. */
static int
ca_export(const struct cc *cc, const struct ca_list *l, const char *outpath)
{
	char err[PATH_MAX + 100];
	STACK_OF(X509) *sk = read_ca_file(l->file, err, sizeof err);
	struct buf text;
	BIO *bio;
	int i, rc = 1;

	if (sk == NULL)
		return cc_fail("certauthority export %s: %s", l->which, err);
	buf_init(&text, 0);
	if (sk_X509_num(sk) == 0) {
		cc_fail("certauthority export %s: %s holds no certificate", l->which, l->file);
		goto out;
	}
	for (i = 0; i < sk_X509_num(sk); i++) {
		struct tls_cert_info info;
		char *mem;
		long len;

		tls_cert_info(sk_X509_value(sk, i), &info);
		buf_printf(&text, "# %s / %s\n", info.subject, info.sha256);
		if ((bio = BIO_new(BIO_s_mem())) == NULL ||
		    PEM_write_bio_X509(bio, sk_X509_value(sk, i)) != 1) {
			BIO_free(bio);
			cc_fail("certauthority export: cannot encode certificate %d", i + 1);
			goto out;
		}
		len = BIO_get_mem_data(bio, &mem);
		buf_append(&text, mem, (size_t)len);
		BIO_free(bio);
	}
	/* With --json and no --out, the text goes inside the JSON object. */
	if ((outpath != NULL || !cc->json) &&
	    write_output(outpath, text.data, text.len, 0) != 0)
		goto out;
	if (cc->json) {
		int m = 0;

		fputc('{', stdout);
		jstr(stdout, &m, "list", l->which);
		jstr(stdout, &m, "source", l->file);
		jnum(stdout, &m, "certificates", sk_X509_num(sk));
		if (outpath != NULL)
			jstr(stdout, &m, "file", outpath);
		else
			jstr(stdout, &m, "pem", text.data);
		fputs("}\n", stdout);
	} else if (outpath != NULL)
		printf("Exported %d certificate%s of the %s CA list to %s.\n", sk_X509_num(sk),
		    sk_X509_num(sk) == 1 ? "" : "s", l->which, outpath);
	rc = 0;
out:
	buf_free(&text);
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

static int
cmd_certauthority(struct cc *cc, int argc, char **argv)
{
	struct ca_list lists[2];
	const struct ca_list *l;
	struct cc_args a;
	char *custom_default;
	const char *sub;
	int rc = 1;

	ca_lists(cc, &lists[0], &lists[1], &custom_default);
	if (parse_args(cc, "certauthority", "out", argc, argv, &a) != 0)
		goto out;
	sub = a.npos > 0 ? a.pos[0] : "status";
	if (a.out != NULL && strcmp(sub, "export") != 0) {
		cc_fail("certauthority %s: --out is for export", sub);
		goto out;
	}
	if (strcmp(sub, "status") == 0) {
		if (want_pos("certauthority", &a, a.npos > 0 ? 1 : 0, "status") == 0)
			rc = ca_status(cc, lists);
	} else if (strcmp(sub, "show") == 0) {
		if (a.npos > 2)
			cc_fail("certauthority show: unexpected argument '%s'", a.pos[2]);
		else if ((l = pick_list("show", a.npos > 1 ? a.pos[1] : NULL, &lists[0],
		    &lists[1])) != NULL)
			rc = ca_show(cc, l);
	} else if (strcmp(sub, "import") == 0) {
		if (a.npos != 2)
			cc_fail("certauthority import: give one FILE (PEM, CA certificates)");
		else
			rc = ca_import(cc, a.pos[1], &lists[1]);
	} else if (strcmp(sub, "export") == 0) {
		if (a.npos > 2)
			cc_fail("certauthority export: unexpected argument '%s'", a.pos[2]);
		else if ((l = pick_list("export", a.npos > 1 ? a.pos[1] : NULL, &lists[0],
		    &lists[1])) != NULL)
			rc = ca_export(cc, l, a.out);
	} else
		cc_fail("certauthority: unknown subcommand '%s' (status, show, import, "
		    "export)", sub);
out:
	free(custom_default);
	args_free(&a);
	return rc;
}

/* ---- entry ---- */

int
certconfig_run(const struct config *cfg, int argc, char **argv, int json, int yes)
{
	static const struct {
		const char	*name;
		int		(*fn)(struct cc *, int, char **);
	} subs[] = {
		{ "list", cmd_list }, { "print", cmd_list }, { "show", cmd_show },
		{ "generate", cmd_generate }, { "csr", cmd_csr }, { "upload", cmd_upload },
		{ "import", cmd_import }, { "export", cmd_export }, { "delete", cmd_delete },
		{ "certauthority", cmd_certauthority },
	};
	struct cc cc;
	const char *sub = "list";
	size_t i;
	int first = 1, rc = -1;

	memset(&cc, 0, sizeof cc);
	cc.cfg = cfg;
	cc.json = json;
	cc.yes = yes;
	cc.tty = isatty(0);
	/* Options may come before the subcommand too. */
	while (first < argc && (strcmp(argv[first], "--json") == 0 ||
	    strcmp(argv[first], "--yes") == 0)) {
		if (argv[first][2] == 'j')
			cc.json = 1;
		else
			cc.yes = 1;
		first++;
	}
	if (first < argc)
		sub = argv[first++];
	if (strcmp(sub, "help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(cc_usage, stdout);
		return 0;
	}
	cc.dir = xasprintf("%s/certs", cfg->paths.state);
	for (i = 0; i < sizeof subs / sizeof subs[0]; i++)
		if (strcmp(sub, subs[i].name) == 0)
			rc = subs[i].fn(&cc, argc - first, argv + first);
	if (rc < 0)
		rc = cc_fail("unknown subcommand '%s' (list, show, generate, csr, upload, "
		    "import, export, delete, certauthority; 'certconfig help' shows how)", sub);
	ERR_clear_error();
	free(cc.dir);
	fflush(stdout);
	return rc;
}
