/*
 * lib_smtp_reply - the SMTP reply parser: single and multi-line replies,
 * enhanced codes, EHLO extension lookup, and hostile servers (code change
 * mid-reply, overlong lines, endless continuation, NUL/CR/LF).
 */
#include <stdio.h>
#include <string.h>

#include "smtp_reply.h"
#include "tap.h"

static enum smtp_reply_status
feed(struct smtp_reply *r, const char *line)
{
	return smtp_reply_feed(r, line, strlen(line));
}

static size_t
count_char(const char *s, char c)
{
	size_t n = 0;

	for (; *s; s++)
		if (*s == c)
			n++;
	return n;
}

static void
test_single(void)
{
	struct smtp_reply r;
	char one[128];

	smtp_reply_init(&r);
	is(feed(&r, "250 OK"), SMTP_REPLY_DONE, "one-line reply done");
	is(r.code, 250, "code");
	is_str(r.text, "OK", "text");
	is_str(r.enhanced, "", "no enhanced code");
	is(r.nlines, 1, "one line");
	ok(r.done, "done flag");
	is_str(smtp_reply_oneline(&r, one, sizeof one), "250 OK", "oneline");

	smtp_reply_init(&r);
	is(feed(&r, "250 2.1.0 Sender ok"), SMTP_REPLY_DONE, "enhanced reply");
	is_str(r.enhanced, "2.1.0", "enhanced code");
	is_str(r.text, "Sender ok", "enhanced code not in text");
	is_str(smtp_reply_oneline(&r, one, sizeof one), "250 2.1.0 Sender ok", "oneline with enhanced");

	smtp_reply_init(&r);
	is(feed(&r, "250 5.1.1 odd"), SMTP_REPLY_DONE, "class mismatch");
	is_str(r.enhanced, "", "mismatched class not taken as enhanced");
	is_str(r.text, "5.1.1 odd", "left in the text");

	smtp_reply_init(&r);
	is(feed(&r, "550 5.7.1"), SMTP_REPLY_DONE, "enhanced code only");
	is_str(r.enhanced, "5.7.1", "enhanced");
	is_str(r.text, "", "empty text");
	is_str(smtp_reply_oneline(&r, one, sizeof one), "550 5.7.1", "oneline without text");

	smtp_reply_init(&r);
	feed(&r, "451 4.123.456 x");
	is_str(r.enhanced, "4.123.456", "three-digit subject and detail");
	smtp_reply_init(&r);
	feed(&r, "451 4.1234.5 x");
	is_str(r.enhanced, "", "four-digit subject is not enhanced");
	smtp_reply_init(&r);
	feed(&r, "451 4.1.2x");
	is_str(r.enhanced, "", "junk right after detail");
	smtp_reply_init(&r);
	feed(&r, "451 4..2 x");
	is_str(r.enhanced, "", "empty subject");

	smtp_reply_init(&r);
	is(feed(&r, "220"), SMTP_REPLY_DONE, "bare code is a last line");
	is_str(r.text, "", "bare code: no text");
	is_str(smtp_reply_oneline(&r, one, sizeof one), "220", "bare code oneline");
}

static void
test_multi(void)
{
	struct smtp_reply r;
	const char *param;
	size_t plen;
	char one[256];

	smtp_reply_init(&r);
	is(feed(&r, "250-mx.example.com Hello"), SMTP_REPLY_MORE, "first EHLO line");
	is(feed(&r, "250-PIPELINING"), SMTP_REPLY_MORE, "more");
	is(feed(&r, "250-SIZE 10240000"), SMTP_REPLY_MORE, "more");
	is(feed(&r, "250-8BITMIME"), SMTP_REPLY_MORE, "8BITMIME is not an enhanced code");
	is(feed(&r, "250-AUTH=LOGIN"), SMTP_REPLY_MORE, "old-style AUTH=");
	is(feed(&r, "250-STARTTLS"), SMTP_REPLY_MORE, "more");
	is(feed(&r, "250 auth PLAIN LOGIN"), SMTP_REPLY_DONE, "last EHLO line");
	is(r.nlines, 7, "seven lines");
	is_str(r.text, "mx.example.com Hello\nPIPELINING\nSIZE 10240000\n8BITMIME\n"
	    "AUTH=LOGIN\nSTARTTLS\nauth PLAIN LOGIN", "joined text");
	is_str(r.enhanced, "", "no enhanced in EHLO");

	ok(smtp_reply_has_ext(&r, "size", &param, &plen), "SIZE advertised (any case)");
	ok(param && plen == 8 && memcmp(param, "10240000", 8) == 0, "SIZE parameter");
	ok(smtp_reply_has_ext(&r, "PIPELINING", &param, &plen), "PIPELINING");
	ok(param == NULL && plen == 0, "PIPELINING has no parameter");
	ok(smtp_reply_has_ext(&r, "AUTH", &param, &plen), "AUTH");
	ok(param && plen == 5 && memcmp(param, "LOGIN", 5) == 0,
	    "AUTH=LOGIN line found first");
	ok(smtp_reply_has_ext(&r, "8BITMIME", NULL, NULL), "NULL param pointers fine");
	ok(smtp_reply_has_ext(&r, "STARTTLS", NULL, NULL), "STARTTLS");
	ok(!smtp_reply_has_ext(&r, "SMTPUTF8", NULL, NULL), "SMTPUTF8 not advertised");
	ok(!smtp_reply_has_ext(&r, "SIZ", NULL, NULL), "prefix does not match");
	ok(!smtp_reply_has_ext(&r, "SIZE 1", NULL, NULL), "keyword with space no match");
	ok(!smtp_reply_has_ext(&r, "mx.example.com", NULL, NULL), "greeting line is not an extension");
	ok(!smtp_reply_has_ext(&r, "", NULL, NULL), "empty keyword");

	smtp_reply_init(&r);
	feed(&r, "550-5.1.1 The email account that you tried to reach");
	is(feed(&r, "550-5.1.1 does not exist."), SMTP_REPLY_MORE, "repeated enhanced");
	is(feed(&r, "550 5.1.1 https://support.example/x - gsmtp"), SMTP_REPLY_DONE, "done");
	is_str(r.enhanced, "5.1.1", "enhanced from first line");
	is_str(r.text, "The email account that you tried to reach\ndoes not exist.\n"
	    "https://support.example/x - gsmtp", "repeated enhanced stripped");
	is_str(smtp_reply_oneline(&r, one, sizeof one),
	    "550 5.1.1 The email account that you tried to reach does not exist. "
	    "https://support.example/x - gsmtp", "oneline joins with spaces");
	ok(!smtp_reply_has_ext(&r, "does", NULL, NULL), "no extensions in a 550");

	smtp_reply_init(&r);
	feed(&r, "250-");
	is(feed(&r, "250"), SMTP_REPLY_DONE, "empty lines");
	is_str(r.text, "\n", "two empty lines");

	smtp_reply_init(&r);
	feed(&r, "250-mx");
	ok(!smtp_reply_has_ext(&r, "mx", NULL, NULL), "has_ext on unfinished reply");
}

static void
test_errors(void)
{
	struct smtp_reply r, copy;
	char line[600];

	smtp_reply_init(&r);
	feed(&r, "250-first");
	is(feed(&r, "251 second"), SMTP_REPLY_ERROR, "code change mid reply");
	is(feed(&r, "250 third"), SMTP_REPLY_ERROR, "error is sticky");
	ok(!r.done, "not done after error");
	ok(!smtp_reply_has_ext(&r, "third", NULL, NULL), "no lookups after error");

	smtp_reply_init(&r);
	feed(&r, "250-first");
	is(feed(&r, "450 second"), SMTP_REPLY_ERROR, "class change mid reply");

	smtp_reply_init(&r);
	is(feed(&r, "250 ok"), SMTP_REPLY_DONE, "done");
	copy = r;
	is(feed(&r, "250 again"), SMTP_REPLY_ERROR, "feed after done");
	ok(memcmp(&r, &copy, sizeof r) == 0, "completed reply untouched");

	memset(line, 'x', sizeof line);
	memcpy(line, "250 ", 4);
	smtp_reply_init(&r);
	is(smtp_reply_feed(&r, line, 512), SMTP_REPLY_DONE, "line of 512");
	is(strlen(r.text), 508, "all of it kept");
	smtp_reply_init(&r);
	is(smtp_reply_feed(&r, line, 513), SMTP_REPLY_ERROR, "line of 513");
	smtp_reply_init(&r);
	is(smtp_reply_feed(&r, line, sizeof line), SMTP_REPLY_ERROR, "line of 600");
	memcpy(line, "250-", 4);
	smtp_reply_init(&r);
	feed(&r, "250-a");
	is(smtp_reply_feed(&r, line, 513), SMTP_REPLY_ERROR, "long continuation line");

	smtp_reply_init(&r);
	is(feed(&r, "199 x"), SMTP_REPLY_ERROR, "1xx");
	smtp_reply_init(&r);
	is(feed(&r, "600 x"), SMTP_REPLY_ERROR, "6xx");
	smtp_reply_init(&r);
	is(feed(&r, "099 x"), SMTP_REPLY_ERROR, "0xx");
	smtp_reply_init(&r);
	is(feed(&r, "2x0 x"), SMTP_REPLY_ERROR, "letter in code");
	smtp_reply_init(&r);
	is(feed(&r, "25"), SMTP_REPLY_ERROR, "short code");
	smtp_reply_init(&r);
	is(feed(&r, ""), SMTP_REPLY_ERROR, "empty line");
	smtp_reply_init(&r);
	is(feed(&r, "250x ok"), SMTP_REPLY_ERROR, "bad separator");
	smtp_reply_init(&r);
	is(feed(&r, "2500 ok"), SMTP_REPLY_ERROR, "four-digit code");
	smtp_reply_init(&r);
	is(feed(&r, " 250 ok"), SMTP_REPLY_ERROR, "leading space");
	smtp_reply_init(&r);
	is(smtp_reply_feed(&r, "250 o\0k", 7), SMTP_REPLY_ERROR, "NUL in line");
	smtp_reply_init(&r);
	is(feed(&r, "250 ok\r"), SMTP_REPLY_ERROR, "CR in line");
	smtp_reply_init(&r);
	is(feed(&r, "250-ok\n250 smuggled"), SMTP_REPLY_ERROR, "LF in line");
	smtp_reply_init(&r);
	is(smtp_reply_feed(&r, NULL, 0), SMTP_REPLY_ERROR, "NULL line");
}

static void
test_bounds(void)
{
	struct smtp_reply r;
	char line[600], one[64], tiny[8];
	size_t i;
	int st = SMTP_REPLY_MORE;

	/* Too many lines: counted, not stored; nothing breaks. */
	smtp_reply_init(&r);
	for (i = 0; i < 150 && st == SMTP_REPLY_MORE; i++) {
		snprintf(line, sizeof line, "250-line%zu", i);
		st = feed(&r, line);
	}
	is(st, SMTP_REPLY_MORE, "150 continuation lines accepted");
	is(feed(&r, "250 LAST"), SMTP_REPLY_DONE, "then the last line");
	is(r.nlines, 151, "all lines counted");
	is(count_char(r.text, '\n') + 1, SMTP_REPLY_MAX_LINES, "only MAX_LINES kept");
	ok(strstr(r.text, "line99") != NULL && strstr(r.text, "line100") == NULL,
	    "kept lines are the first ones");
	ok(!smtp_reply_has_ext(&r, "LAST", NULL, NULL), "dropped line not found");

	/* Too much text: whole lines only, always a prefix. */
	smtp_reply_init(&r);
	memset(line, 'y', sizeof line);
	memcpy(line, "250-", 4);
	for (i = 0; i < 20; i++)
		smtp_reply_feed(&r, line, 500);
	is(feed(&r, "250-SIZE 100"), SMTP_REPLY_MORE, "short line after the text is full");
	is(feed(&r, "250 end"), SMTP_REPLY_DONE, "done");
	ok(strlen(r.text) < SMTP_REPLY_MAX_TEXT, "text within bound");
	is(count_char(r.text, '\n') + 1, 8, "8 whole lines of 496 kept");
	is((strlen(r.text) + 1) % 497, 0, "no partial line");
	ok(!smtp_reply_has_ext(&r, "SIZE", NULL, NULL), "line after a dropped one not kept");
	is(r.nlines, 22, "all counted");

	smtp_reply_oneline(&r, one, sizeof one);
	is(strlen(one), sizeof one - 1, "oneline truncated to the buffer");
	ok(strncmp(one, "250 yyy", 7) == 0, "oneline starts right");

	smtp_reply_init(&r);
	feed(&r, "550 5.1.1 no such user");
	is_str(smtp_reply_oneline(&r, tiny, sizeof tiny), "550 5.1", "oneline into 8 bytes");
	is_str(smtp_reply_oneline(&r, tiny, 1), "", "oneline into 1 byte");
	ok(smtp_reply_oneline(&r, tiny, 0) == tiny, "oneline into 0 bytes");

	smtp_reply_init(&r);
	feed(&r, "250 a\x1b[31mb\x7f");
	is_str(smtp_reply_oneline(&r, one, sizeof one), "250 a?[31mb?", "controls masked in oneline");
	smtp_reply_init(&r);
	feed(&r, "250 x");
	feed(&r, "250 y");
	smtp_reply_init(&r);
	is_str(smtp_reply_oneline(&r, one, sizeof one), "(invalid reply)", "oneline of empty reply");
}

int
main(void)
{
	test_single();
	test_multi();
	test_errors();
	test_bounds();
	return done_testing();
}
