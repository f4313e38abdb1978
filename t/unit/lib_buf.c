/*
 * lib_buf - bounded buffers refuse to grow past their limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "buf.h"
#include "tap.h"

/* buf_read_file: whole files, within the bound, clear errors. */
static void
test_read_file(void)
{
	char path[] = "/tmp/sp-lib-buf-XXXXXX", err[256];
	struct buf b;
	FILE *f;
	int fd = mkstemp(path), i;

	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		printf("Bail out! mkstemp\n");
		exit(1);
	}
	for (i = 0; i < 3000; i++)
		fputs("0123456789", f);
	fclose(f);
	buf_init(&b, 0);
	ok(buf_read_file(&b, path, err, sizeof err) == 0 && b.len == 30000,
	    "a 30000-byte file is read whole (chunks of 8 KiB)");
	ok(memcmp(b.data + 29990, "0123456789", 10) == 0, "up to its last byte");
	buf_free(&b);
	buf_init(&b, 1000);
	ok(buf_read_file(&b, path, err, sizeof err) < 0, "a file over the bound is refused");
	ok(strstr(err, "is too large (at most 1000 bytes)") != NULL, "saying so: %s", err);
	buf_free(&b);
	unlink(path);
	buf_init(&b, 0);
	ok(buf_read_file(&b, path, err, sizeof err) < 0, "a missing file");
	ok(strstr(err, "cannot read /tmp/sp-lib-buf-") != NULL &&
	    strstr(err, "No such file or directory") != NULL, "names it and the reason: %s", err);
	ok(buf_read_file(&b, "/", err, sizeof err) < 0, "a directory cannot be read: %s", err);
	buf_free(&b);
}

int
main(void)
{
	test_read_file();
	struct buf b;
	char *s;

	buf_init(&b, 10);
	ok(buf_append(&b, "12345", 5) == 0, "append within bound");
	ok(buf_append(&b, "678901", 6) < 0, "append past bound fails");
	is(b.len, 5, "failed append leaves buffer unchanged");
	is_str(b.data, "12345", "content intact");
	ok(buf_printf(&b, "%d", 67890) == 0, "printf up to the bound");
	ok(buf_printf(&b, "x") < 0, "printf past the bound fails");
	buf_consume(&b, 3);
	is_str(b.data, "4567890", "consume shifts");
	buf_consume(&b, 100);
	is(b.len, 0, "over-consume empties");
	ok(buf_reserve(&b, (size_t)-1) < 0, "absurd reserve refused");
	buf_puts(&b, "abc");
	s = buf_steal(&b);
	is_str(s, "abc", "steal hands over");
	is(b.len, 0, "steal leaves it empty");
	free(s);
	buf_free(&b);
	return done_testing();
}
