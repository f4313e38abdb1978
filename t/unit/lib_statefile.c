/*
 * lib_statefile - the durable state files: absent means empty, lines
 * round-trip, empty lines are skipped, an over-long line is cut (and its
 * rest does not become a line of its own), an empty list removes the
 * file, a file that cannot be read or written is an error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "statefile.h"
#include "tap.h"

int
main(void)
{
	char dir[] = "/tmp/lib_statefile.XXXXXX", path[256], **lines;
	char *in[3] = { "example.com", "Inbound Mail", "x" };
	char long_line[STATEFILE_LINE_MAX + 100];
	size_t n;
	struct stat st;
	FILE *fp;

	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	snprintf(path, sizeof path, "%s/state", dir);
	is(statefile_read(path, &lines, &n), 0, "a missing file: 0");
	ok(lines == NULL && n == 0, "and no lines");
	is(statefile_write(path, in, 3), 0, "three lines written");
	ok(stat(path, &st) == 0, "the file exists");
	snprintf(long_line, sizeof long_line, "%s.tmp", path);
	ok(access(long_line, F_OK) < 0, "no temporary file is left");
	is(statefile_read(path, &lines, &n), 1, "read back: 1");
	ok(n == 3 && strcmp(lines[0], "example.com") == 0 && strcmp(lines[1], "Inbound Mail") == 0 &&
	    strcmp(lines[2], "x") == 0, "the same lines, spaces kept");
	statefile_free(lines, n);

	fp = fopen(path, "w");
	memset(long_line, 'a', sizeof long_line - 1);
	long_line[sizeof long_line - 1] = '\0';
	fprintf(fp, "\n\r\nfirst\r\n\n%s\nlast", long_line);
	fclose(fp);
	is(statefile_read(path, &lines, &n), 1, "a file with blank, CRLF and long lines");
	is(n, 3, "blank lines are skipped, the long line's rest is dropped");
	if (n == 3) {
		is_str(lines[0], "first", "CRLF line ends are taken off");
		is(strlen(lines[1]), STATEFILE_LINE_MAX, "the long line is cut at the limit");
		is_str(lines[2], "last", "a last line without a line end counts");
	}
	statefile_free(lines, n);

	is(statefile_write(path, NULL, 0), 0, "an empty list");
	ok(stat(path, &st) < 0 && errno == ENOENT, "removes the file");
	is(statefile_write(path, NULL, 0), 0, "removing a missing file is fine");
	is(statefile_read(dir, &lines, &n), -1, "a directory cannot be read: -1");
	ok(lines == NULL && n == 0, "and no lines");
	snprintf(path, sizeof path, "%s/no/such/dir/state", dir);
	is(statefile_write(path, in, 1), -1, "an unwritable place: -1");
	is(errno, ENOENT, "with errno");
	snprintf(path, sizeof path, "%s/state", dir);
	rmdir(dir);
	return done_testing();
}
