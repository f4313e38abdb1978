/*
 * lib_buf - bounded buffers refuse to grow past their limit.
 */
#include <stdlib.h>

#include "buf.h"
#include "tap.h"

int
main(void)
{
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
