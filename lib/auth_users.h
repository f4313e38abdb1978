/*
 * auth_users - SMTP AUTH credentials: the users file (auth.users_file)
 * and the password check.
 *
 * The file has one "user:hash" per line, hash in crypt(3) form as in
 * /etc/shadow: yescrypt ("$y$...") or SHA-512 ("$6$..."); other methods
 * are refused at load, because the weak ones (DES, MD5) must not guard a
 * relay.  Blank lines and lines starting with '#' are skipped.  A user
 * name is 1-255 printable characters without ':' or spaces.  Make hashes
 * with mkpasswd(1) (Debian's whois package) or `openssl passwd -6`.
 *
 * auth_users_check() is slow on purpose (that is what yescrypt is for):
 * smtpd runs it on the libuv thread pool.  An unknown user costs the same
 * time as a known one (a dummy hash is checked), so timing does not tell
 * which users exist.
 *
 * Not for: counting failures (session.c), AUTH by forwarding to another
 * server (auth_forward), the SMTP exchange (session.c).
 */
#ifndef SP_AUTH_USERS_H
#define SP_AUTH_USERS_H
#include <stddef.h>

struct auth_users;

/* Parses the file's text; NULL with err ("users: line 3: unsupported hash
 * method (use yescrypt $y$ or SHA-512 $6$)"). */
struct auth_users	*auth_users_parse(const char *text, size_t len, char *err,
			    size_t errlen);
void			 auth_users_free(struct auth_users *u);
size_t			 auth_users_count(const struct auth_users *u);
/* 1: the password is right; 0: wrong or no such user; -1: crypt failed. */
int			 auth_users_check(const struct auth_users *u, const char *user,
			    const char *pass);

#endif
