/*
 * rewrite - envelope rewriting stages (see rewrite.h).
 *
 * Map keys are compared ASCII case-insensitively with the domain; the
 * first entry that matches wins, as in every other table of the config.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "rewrite.h"
#include "xalloc.h"

/* "dom" matches domain exactly; ".dom" matches its subdomains.  An IDN
 * key is compared in A-labels, as the domain is. */
static int
domain_key_matches(const char *key, const char *domain)
{
	char ascii[ADDR_DOMAIN_MAX + 2];
	const unsigned char *p;
	size_t kn, dn = strlen(domain);

	for (p = (const unsigned char *)key; *p != '\0' && *p < 0x80; p++)
		;
	if (*p != '\0') {
		ascii[0] = '.';
		if (addr_domain_to_ascii(key[0] == '.' ? key + 1 : key,
		    ascii + (key[0] == '.'), sizeof ascii - 1) < 0)
			return 0;
		key = ascii;
	}
	kn = strlen(key);

	if (key[0] == '.')
		return dn > kn && strcasecmp(domain + dn - kn, key) == 0;
	return strcasecmp(key, domain) == 0;
}

char *
rewrite_default_domain(const struct cfg_listener *l, const char *local)
{
	char ascii[ADDR_DOMAIN_MAX + 1];

	if (l == NULL || l->default_domain == NULL || local == NULL || *local == '\0' ||
	    strchr(local, '@') != NULL ||
	    addr_domain_to_ascii(l->default_domain, ascii, sizeof ascii) < 0)
		return NULL;
	return xasprintf("%s@%s", local, ascii);
}

char *
rewrite_domain_map(const struct cfg_listener *l, const char *addr)
{
	char to[ADDR_DOMAIN_MAX + 1];
	const char *at;
	size_t i;

	if (l == NULL || addr == NULL || (at = strrchr(addr, '@')) == NULL)
		return NULL;
	for (i = 0; i < l->ndomain_map; i++) {
		if (!domain_key_matches(l->domain_map[i].from, at + 1))
			continue;
		if (addr_domain_to_ascii(l->domain_map[i].to, to, sizeof to) < 0)
			return NULL;	/* an IDN that does not convert: leave it */
		return xasprintf("%.*s@%s", (int)(at - addr), addr, to);
	}
	return NULL;
}

/* The target of a masquerade entry for local part local. */
static char *
masq_target(const char *to, const char *local, size_t llen)
{
	const char *at = strrchr(to, '@');

	if (at == NULL)
		return xasprintf("%.*s@%s", (int)llen, local, to);
	if (at == to)
		return xasprintf("%.*s%s", (int)llen, local, to);
	return xstrdup(to);
}

char *
rewrite_masquerade(const struct cfg_listener *l, const char *addr)
{
	const char *at, *key, *kat;
	size_t i, llen;

	if (l == NULL || addr == NULL || l->type != LISTENER_PRIVATE ||
	    (at = strrchr(addr, '@')) == NULL)
		return NULL;
	llen = (size_t)(at - addr);
	for (i = 0; i < l->nmasquerade; i++) {	/* whole addresses first */
		key = l->masquerade[i].from;
		if ((kat = strrchr(key, '@')) != NULL && kat != key &&
		    strcasecmp(key, addr) == 0)
			return masq_target(l->masquerade[i].to, addr, llen);
	}
	for (i = 0; i < l->nmasquerade; i++) {
		key = l->masquerade[i].from;
		kat = strrchr(key, '@');
		if (kat != NULL && kat != key)
			continue;
		if (domain_key_matches(kat != NULL ? kat + 1 : key, at + 1))
			return masq_target(l->masquerade[i].to, addr, llen);
	}
	return NULL;
}
