/*
 * rat - Recipient Access Table matching (see rat.h).
 *
 * The entry side is normalised the same way addr.c normalises the
 * recipient (addr_domain_to_ascii), so the two can be compared with
 * strcmp: no second, subtly different idea of what a domain is.
 */
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "rat.h"

/*
 * Domain part of an entry ("example.com", ".example.com", "[192.0.2.1]",
 * U-labels allowed) against a recipient domain in A-label form.
 */
static int
rat_domain_matches(const char *pat, size_t patlen, const char *domain_ascii)
{
	char raw[ADDR_DOMAIN_MAX + 2], norm[ADDR_DOMAIN_MAX + 1];
	size_t n, dn;
	int subdomains = 0;

	if (patlen > 0 && pat[0] == '.') {
		subdomains = 1;
		pat++;
		patlen--;
	}
	if (patlen == 0 || patlen >= sizeof raw)
		return 0;
	memcpy(raw, pat, patlen);
	raw[patlen] = '\0';
	if (addr_domain_to_ascii(raw, norm, sizeof norm) < 0)
		return 0;
	n = strlen(norm);
	dn = strlen(domain_ascii);
	if (!subdomains)
		return dn == n && memcmp(norm, domain_ascii, n) == 0;
	if (norm[0] == '[')
		return 0;	/* an address literal has no subdomains */
	return dn > n + 1 && domain_ascii[dn - n - 1] == '.' &&
	    memcmp(domain_ascii + dn - n, norm, n) == 0;
}

int
rat_pattern_matches(const char *pattern, const char *local, const char *domain_ascii)
{
	const char *at;
	size_t llen;

	if (pattern == NULL || local == NULL || domain_ascii == NULL)
		return 0;
	if (strcasecmp(pattern, "ALL") == 0)
		return 1;
	/* The last '@' separates the domain: a quoted local part may hold one. */
	if ((at = strrchr(pattern, '@')) == NULL)
		return rat_domain_matches(pattern, strlen(pattern), domain_ascii);
	llen = (size_t)(at - pattern);
	if (llen > 0 && (strlen(local) != llen || strncasecmp(pattern, local, llen) != 0))
		return 0;
	if (at[1] == '\0')
		return llen > 0;	/* "joe@": any domain; a lone "@" is nothing */
	return rat_domain_matches(at + 1, strlen(at + 1), domain_ascii);
}

const struct cfg_rat_entry *
rat_match_recipient(const struct cfg_rat_entry *rat, size_t nrat, const char *local,
    const char *domain_ascii, size_t *index)
{
	size_t i;

	for (i = 0; i < nrat; i++) {
		if (rat_pattern_matches(rat[i].match, local, domain_ascii)) {
			if (index != NULL)
				*index = i;
			return &rat[i];
		}
	}
	return NULL;
}

int
rat_accepts(const struct cfg_rat_entry *rat, size_t nrat, const char *local,
    const char *domain_ascii)
{
	const struct cfg_rat_entry *e = rat_match_recipient(rat, nrat, local, domain_ascii, NULL);

	return e != NULL && e->action == ACTION_ACCEPT;
}
