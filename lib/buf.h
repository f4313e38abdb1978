/*
 * buf - growable byte buffer with a hard upper bound.
 *
 * Every buffer that network input fills is a struct buf with a max: an
 * append that would pass it fails (returns -1) and leaves the buffer as it
 * was, so the caller can answer with the right SMTP reply instead of
 * growing without limit.  Data is always NUL-terminated for convenience;
 * the terminator is not counted in len.
 */
#ifndef SP_BUF_H
#define SP_BUF_H
#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;	/* 0: unbounded (only for data we generate ourselves) */
};

void	buf_init(struct buf *b, size_t max);
void	buf_free(struct buf *b);
void	buf_reset(struct buf *b);
int	buf_reserve(struct buf *b, size_t extra);
int	buf_append(struct buf *b, const void *p, size_t n);
int	buf_puts(struct buf *b, const char *s);
int	buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int	buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void	buf_consume(struct buf *b, size_t n);
/* Appends the whole file at path ("-": standard input) to b, within b's
 * bound.  0, or -1 with err ("cannot read F: why", "F is too large (at
 * most N bytes)"); b then holds what was read so far. */
int	buf_read_file(struct buf *b, const char *path, char *err, size_t errlen);
/* Hands the storage to the caller (who frees it); the buffer is left empty. */
char	*buf_steal(struct buf *b);

#endif
