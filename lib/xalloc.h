/*
 * xalloc - allocation that never returns NULL.
 *
 * Out of memory in a mail daemon is not recoverable locally: the process
 * logs and exits, and master restarts it.  Nothing acknowledged is lost
 * because acknowledgement waits for the durable queue commit.
 */
#ifndef SP_XALLOC_H
#define SP_XALLOC_H
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
