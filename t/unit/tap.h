/*
 * tap - a minimal TAP producer for the C unit tests (run by prove).
 *
 *   ok(cond, "name", ...)   is(a, b, ...)   is_str(a, b, ...)   done_testing()
 * Each failure prints the file, line and the two values compared.
 */
#ifndef SP_TAP_H
#define SP_TAP_H
#include <stdio.h>
#include <string.h>

static int tap_n, tap_fail;

#define ok(cond, ...) do {						\
	int tap_c_ = (cond) ? 1 : 0;					\
	printf("%sok %d - ", tap_c_ ? "" : "not ", ++tap_n);		\
	printf(__VA_ARGS__); printf("\n");				\
	if (!tap_c_) { tap_fail++;					\
		printf("#   failed at %s line %d: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define is(a, b, ...) do {						\
	long long tap_a_ = (long long)(a), tap_b_ = (long long)(b);	\
	ok(tap_a_ == tap_b_, __VA_ARGS__);				\
	if (tap_a_ != tap_b_)						\
		printf("#   got: %lld\n#   expected: %lld\n", tap_a_, tap_b_); \
} while (0)

#define is_str(a, b, ...) do {						\
	const char *tap_a_ = (a), *tap_b_ = (b);			\
	int tap_e_ = tap_a_ && tap_b_ && strcmp(tap_a_, tap_b_) == 0;	\
	ok(tap_e_, __VA_ARGS__);					\
	if (!tap_e_)							\
		printf("#   got: '%s'\n#   expected: '%s'\n",		\
		    tap_a_ ? tap_a_ : "(null)", tap_b_ ? tap_b_ : "(null)"); \
} while (0)

#define done_testing() (printf("1..%d\n", tap_n), tap_fail ? 1 : 0)

#endif
