/*
 * cli_findevent - message tracking over log files written by the test:
 * search by sender, recipient, subject (regular expressions) and MID,
 * current or all (rotated) logs, following a DSN to its parent's search,
 * the inbound connection's lines, time order across daemons' files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "findevent.h"
#include "tap.h"

static char dir[] = "/tmp/cli_findevent.XXXXXX";

static void
put(const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fp = fopen(path, "w");
	fputs(text, fp);
	fclose(fp);
}

static char *
run(const char *type, const char *pattern, int all, int json, int *rc)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	*rc = findevent_run(fp, dir, type, pattern, all, json);
	fclose(fp);
	return out;
}

int
main(void)
{
	char *out, path[256];
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	put("smtpd.log",
	    "2026-01-01T10:00:00.000Z smtpd[1] Info: New SMTP ICID 7 interface Outbound (127.0.0.1) address 127.0.0.1\n"
	    "2026-01-01T10:00:01.000Z smtpd[1] Info: Start MID 4 ICID 7\n"
	    "2026-01-01T10:00:01.000Z smtpd[1] Info: MID 4 ICID 7 From: <alice@example.org>\n"
	    "2026-01-01T10:00:01.000Z smtpd[1] Info: MID 4 ICID 7 RID 0 To: <bob@example.com>\n"
	    "2026-01-01T10:00:01.100Z smtpd[1] Info: MID 4 Subject 'sales: confidential'\n"
	    "2026-01-01T10:00:02.000Z smtpd[1] Info: Start MID 40 ICID 7\n"
	    "2026-01-01T10:00:02.000Z smtpd[1] Info: MID 40 ICID 7 From: <>\n"
	    "2026-01-01T10:00:02.000Z smtpd[1] Info: MID 40 ICID 7 RID 0 To: <carol@example.net>\n"
	    "2026-01-01T10:00:02.100Z smtpd[1] Info: MID 40 Subject 'lunch'\n"
	    "2026-01-01T10:00:03.000Z smtpd[1] Info: ICID 7 close\n");
	put("qmgr.log",
	    "2026-01-01T10:00:01.200Z qmgr[2] Info: MID 4 queued for delivery\n"
	    "2026-01-01T10:00:05.000Z qmgr[2] Info: MID 4 RID [0] to <bob@example.com> hard bounced: 550 no\n"
	    "2026-01-01T10:00:05.000Z qmgr[2] Info: MID 4 generated DSN MID 41 to <alice@example.org> for 1 recipient(s)\n"
	    "2026-01-01T10:00:05.100Z qmgr[2] Info: MID 41 queued for delivery (DSN)\n"
	    "2026-01-01T10:00:06.000Z qmgr[2] Info: Message finished MID 41 done\n"
	    "2026-01-01T10:00:06.000Z qmgr[2] Info: MID 400 queued for delivery\n");
	put("qmgr.log.1",
	    "2025-12-31T09:00:00.000Z qmgr[2] Info: MID 4 queued for delivery (an older MID 4)\n");
	put("deliver.log",
	    "2026-01-01T10:00:04.000Z deliver[3] Info: Delivery start DCID 9 MID 4 to RID [0]\n"
	    "2026-01-01T10:00:05.500Z deliver[3] Info: Message done DCID 10 MID 41 to RID [0]\n");

	out = run("subject", "CONFIDENTIAL", 0, 0, &rc);
	is(rc, 0, "subject search finds something");
	ok(strstr(out, "The following matching message IDs were found.\n1. MID 4 "
	    "(2026-01-01T10:00:01.000Z) sales: confidential\n") != NULL,
	    "match list as in the spec (case-insensitive regex)");
	ok(strstr(out, "Delivery start DCID 9 MID 4 to RID [0]") != NULL, "deliver's lines");
	ok(strstr(out, "Message done DCID 10 MID 41") != NULL, "the DSN (child MID) is followed");
	ok(strstr(out, "New SMTP ICID 7 ") != NULL && strstr(out, "ICID 7 close") != NULL,
	    "the inbound connection's lines");
	ok(strstr(out, "MID 40 ") == NULL && strstr(out, "MID 400 ") == NULL,
	    "MID 40 and 400 are not MID 4");
	ok(strstr(out, "older MID 4") == NULL, "rotated logs only when asked");
	ok(strstr(out, "Delivery start") > strstr(out, "Start MID 4") &&
	    strstr(out, "hard bounced") > strstr(out, "Delivery start"),
	    "lines of all daemons in time order");
	free(out);

	out = run("subject", "confidential", 1, 0, &rc);
	ok(strstr(out, "older MID 4") != NULL, "all log files include the rotated ones");
	ok(strstr(out, "older MID 4") < strstr(out, "New SMTP ICID 7"), "older lines first");
	free(out);

	out = run("from", "^alice@", 0, 1, &rc);
	ok(strstr(out, "\"matches\": [{\"mid\": 4, ") != NULL, "search by sender, JSON");
	ok(strstr(out, "\"mids\": [4, 41]") != NULL, "JSON lists the MIDs followed");
	free(out);

	out = run("from", "^$", 0, 1, &rc);
	ok(strstr(out, "\"matches\": [{\"mid\": 40, ") != NULL, "the null sender matches ^$");
	free(out);

	out = run("to", "carol@", 0, 1, &rc);
	ok(strstr(out, "\"matches\": [{\"mid\": 40, ") != NULL, "search by recipient");
	ok(strstr(out, "\"subject\": \"lunch\"") != NULL, "with its subject");
	free(out);

	out = run("mid", "41", 0, 0, &rc);
	is(rc, 0, "search by MID");
	ok(strstr(out, "Message finished MID 41 done") != NULL, "the MID's lines");
	free(out);

	out = run("subject", "nothing like this", 0, 0, &rc);
	is(rc, 1, "no match: status 1");
	is_str(out, "No matching message IDs were found.\n", "and says so");
	free(out);

	out = run("subject", "(", 0, 0, &rc);
	is(rc, 1, "a bad regular expression is an error");
	free(out);
	out = run("mid", "4x", 0, 0, &rc);
	is(rc, 1, "a MID must be a number");
	free(out);
	out = run("sender", "x", 0, 0, &rc);
	is(rc, 1, "an unknown search type is an error");
	free(out);

	/* Over-long lines are cut, not a crash. */
	{
		char *big = malloc(20000);
		memset(big, 'x', 19998);
		big[19998] = '\n';
		big[19999] = '\0';
		put("smtpd.log.2", big);
		free(big);
		out = run("mid", "4", 1, 0, &rc);
		is(rc, 0, "an over-long line does not stop the search");
		free(out);
	}

	snprintf(path, sizeof path, "rm -rf %s", dir);
	if (system(path) != 0)
		return 1;
	return done_testing();
}
