/*
 * base64 - RFC 4648 base64 for SMTP AUTH (RFC 4954) exchanges.
 *
 * Strict decoding: the alphabet, '=' padding only at the end and only as
 * much as the length needs, no whitespace, length a multiple of four.
 * Anything else is refused rather than guessed at, because the input
 * comes from the network.
 *
 * Not for: MIME bodies (line breaks, lenient decoding).
 */
#ifndef SP_BASE64_H
#define SP_BASE64_H
#include <stddef.h>

/* Bytes needed to encode n bytes, NUL included. */
#define BASE64_ENCODED_LEN(n)	((((n) + 2) / 3) * 4 + 1)

/* Encodes n bytes of in into out (BASE64_ENCODED_LEN(n) bytes, NUL
 * terminated); returns the length without the NUL. */
size_t	base64_encode(const void *in, size_t n, char *out);
/* Decodes len characters of in into out (room for outcap bytes; a NUL is
 * added after the data if room allows).  Returns the decoded length, or
 * -1 if in is not strict base64 or the result does not fit. */
long	base64_decode(const char *in, size_t len, unsigned char *out,
	    size_t outcap);

#endif
