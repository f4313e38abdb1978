/*
 * statefile - small durable state files; see statefile.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "statefile.h"
#include "xalloc.h"

int
statefile_read(const char *path, char ***linesp, size_t *np)
{
	char line[STATEFILE_LINE_MAX + 1], **lines = NULL;
	size_t n = 0, len;
	int skipping = 0, failed, saved;
	FILE *fp;

	*linesp = NULL;
	*np = 0;
	if ((fp = fopen(path, "r")) == NULL)
		return errno == ENOENT ? 0 : -1;
	while (fgets(line, sizeof line, fp) != NULL && n < STATEFILE_LINES_MAX) {
		len = strcspn(line, "\r\n");
		if (skipping) {		/* the rest of an over-long line */
			skipping = line[len] == '\0';
			continue;
		}
		skipping = line[len] == '\0' && !feof(fp);
		line[len] = '\0';
		if (len == 0)
			continue;
		lines = xrealloc(lines, (n + 1) * sizeof *lines);
		lines[n++] = xstrdup(line);
	}
	failed = ferror(fp);
	saved = errno;
	fclose(fp);
	if (failed) {
		statefile_free(lines, n);
		errno = saved;
		return -1;
	}
	*linesp = lines;
	*np = n;
	return 1;
}

int
statefile_write(const char *path, char *const *lines, size_t n)
{
	char *tmp;
	FILE *fp;
	size_t i;
	int r = -1, saved;

	if (n == 0)
		return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
	tmp = xasprintf("%s.tmp", path);
	if ((fp = fopen(tmp, "w")) != NULL) {
		r = 0;
		for (i = 0; i < n && r == 0; i++)
			if (fprintf(fp, "%.*s\n", STATEFILE_LINE_MAX, lines[i]) < 0)
				r = -1;
		if (r == 0 && (fflush(fp) != 0 || fsync(fileno(fp)) != 0))
			r = -1;
		if (fclose(fp) != 0)
			r = -1;
		if (r == 0 && rename(tmp, path) < 0)
			r = -1;
		if (r < 0) {
			saved = errno;
			unlink(tmp);
			errno = saved;
		}
	}
	free(tmp);
	return r;
}

void
statefile_free(char **lines, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}
