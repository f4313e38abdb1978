/*
 * lib_base64 - strict RFC 4648 base64 (lib/base64.c): the RFC's test
 * vectors, round trips of every length 0-300 with every byte value, and
 * what the decoder must refuse because SMTP AUTH input is hostile: bad
 * length, characters outside the alphabet (whitespace, URL-safe '-' and
 * '_'), padding anywhere but the end or more than the length needs,
 * non-zero bits under the padding, and output that does not fit.
 */
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "tap.h"

static const struct {
	const char *plain, *enc;
} vectors[] = {		/* RFC 4648 section 10 */
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

/* Decodes text (its whole length) into a buffer of cap bytes. */
static long
dec(const char *text, unsigned char *out, size_t cap)
{
	return base64_decode(text, strlen(text), out, cap);
}

static void
test_vectors(void)
{
	char enc[64];
	unsigned char out[64];
	size_t i, n;
	long len;

	for (i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
		n = strlen(vectors[i].plain);
		is(base64_encode(vectors[i].plain, n, enc), strlen(vectors[i].enc),
		    "encode '%s': length", vectors[i].plain);
		is_str(enc, vectors[i].enc, "encode '%s'", vectors[i].plain);
		memset(out, 'X', sizeof out);
		len = dec(vectors[i].enc, out, sizeof out);
		is(len, (long)n, "decode '%s': length", vectors[i].enc);
		ok(memcmp(out, vectors[i].plain, n) == 0 && out[n] == '\0',
		    "decode '%s': bytes, NUL after them", vectors[i].enc);
	}
	/* All 64 characters of the alphabet. */
	len = dec("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4v"
	    "+/+/", out, sizeof out);
	is(len, 51, "the whole alphabet decodes");
	ok(out[0] == 0 && out[47] == 47 && out[48] == 0xfb && out[49] == 0xff && out[50] == 0xbf,
	    "to the expected bytes");
}

static void
test_round_trips(void)
{
	unsigned char in[300], out[320];
	char enc[BASE64_ENCODED_LEN(300)];
	size_t n, i, bad_len = 0, bad_rt = 0, bad_exact = 0, bad_small = 0;
	long len;

	for (n = 0; n <= 300; n++) {
		for (i = 0; i < n; i++)
			in[i] = (unsigned char)(i * 7 + n * 13);
		if (base64_encode(in, n, enc) != BASE64_ENCODED_LEN(n) - 1 ||
		    strlen(enc) != BASE64_ENCODED_LEN(n) - 1)
			bad_len++;
		len = base64_decode(enc, strlen(enc), out, sizeof out);
		if (len != (long)n || memcmp(in, out, n) != 0)
			bad_rt++;
		/* Exactly enough room (no NUL then), and one byte too little. */
		len = base64_decode(enc, strlen(enc), out, n);
		if (len != (long)n || memcmp(in, out, n) != 0)
			bad_exact++;
		if (n > 0 && base64_decode(enc, strlen(enc), out, n - 1) != -1)
			bad_small++;
	}
	is(bad_len, 0, "encoded length is BASE64_ENCODED_LEN - 1 for 0-300 bytes");
	is(bad_rt, 0, "decode(encode(x)) == x for 0-300 bytes");
	is(bad_exact, 0, "an output of exactly the decoded size is enough");
	is(bad_small, 0, "one byte too small an output is refused");
}

/* text with control and non-ASCII bytes as \xNN, for test names. */
static const char *
shown(const char *text)
{
	static char out[128];
	size_t o = 0;

	for (; *text != '\0' && o + 5 < sizeof out; text++) {
		unsigned char c = (unsigned char)*text;

		if (c < 0x21 || c > 0x7e)
			o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}

static void
test_refusals(void)
{
	static const char *const bad[] = {
		"Zg=", "Zg", "Z", "Zm9vY", "Zm9vYmF",		/* length */
		"Zg===", "====", "A===", "Zm9v====",		/* too much padding */
		"Z===",
		"Zg=a", "Z=g=", "=Zg=", "Zm=v", "Zg==Zm8=",	/* '=' not at the end */
		"Zm8=Zm8=",
		"Zm9v Yg==", " Zm9v", "Zm9v\r\n", "Zm\t9v",	/* whitespace */
		"Zm9-", "Zm9_", "Zm9v!g==", "Zm9\x80", "Zm9\xff",	/* outside the alphabet */
		"Zh==", "Zm9=", "Zm+=", "Zm/=", "AB==", "AAB=",	/* bits under the padding */
	};
	unsigned char out[64];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		is(dec(bad[i], out, sizeof out), -1, "refused: '%s'", shown(bad[i]));
	/* A NUL inside the counted length is not base64 either. */
	is(base64_decode("Zm\0v", 4, out, sizeof out), -1, "refused: NUL inside");
	/* Only len characters are read: the same text, shorter length. */
	is(base64_decode("Zm9vYmFy", 4, out, sizeof out), 3, "only len characters read");
	is(dec("Zm9vYmFy", out, 5), -1, "6 bytes into 5: refused");
	is(dec("Zm9vYmE=", out, 5), 5, "5 bytes into 5: fits");
	is(dec("", out, 0), 0, "empty into nothing: 0");
	is(dec("Zg==", out, 0), -1, "1 byte into nothing: refused");
	/* Accepted neighbours of the refused ones. */
	is(dec("Zg==", out, sizeof out), 1, "Zg== accepted");
	is(dec("AA==", out, sizeof out), 1, "AA== accepted");
	is(dec("AAA=", out, sizeof out), 2, "AAA= accepted");
}

int
main(void)
{
	test_vectors();
	test_round_trips();
	test_refusals();
	return done_testing();
}
