/*
 * cli_format - sallyctl's text layouts against the spec's examples.
 *
 * Each test builds the records a daemon would send (through the real
 * reply codec), formats them, and compares the text byte for byte with
 * t/golden/<command>.txt, which holds the example of
 * spec/cli-monitoring-queue-snmp.md.  Also: thousands separators, ages,
 * and that --json parses into the same numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "format.h"
#include "ipc.h"
#include "tap.h"

/* Records as "section|name|key=value|key=value..." ("-" = no section). */
static void
build(struct ctl_result *res, const char *const *spec, size_t n)
{
	struct ctl_reply r;
	struct buf b;
	size_t i;

	ctl_reply_init(&r);
	for (i = 0; i < n; i++) {
		char *copy = strdup(spec[i]), *save = NULL, *tok;
		int field = 0;

		ctl_rec_begin(&r);
		for (tok = strtok_r(copy, "|", &save); tok; tok = strtok_r(NULL, "|", &save), field++) {
			char *eq;
			if (field == 0) {
				if (strcmp(tok, "-") != 0)
					ctl_rec_add(&r, "section", "%s", tok);
			} else if (field == 1 && strchr(tok, '=') == NULL) {
				ctl_rec_add(&r, "name", "%s", tok);
			} else if ((eq = strchr(tok, '=')) != NULL) {
				*eq = '\0';
				ctl_rec_add(&r, tok, "%s", eq + 1);
			}
		}
		ctl_rec_end(&r);
		free(copy);
	}
	buf_init(&b, 0);
	ctl_reply_encode(&r, &b, 1);
	if (ctl_result_decode((unsigned char *)b.data + IPC_HDR_LEN, b.len - IPC_HDR_LEN, res) < 0)
		abort();
	buf_free(&b);
	ctl_reply_free(&r);
}

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *s;
	long n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	s = calloc(1, (size_t)n + 1);
	if (fread(s, 1, (size_t)n, fp) != (size_t)n)
		n = 0;
	s[n] = '\0';
	fclose(fp);
	return s;
}

static time_t
at(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

static void
set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* Compares line by line, so a failure names the first differing line. */
static void
golden(const char *name, void (*fn)(FILE *, const struct ctl_result *, int), void (*fn2)(FILE *,
    const struct ctl_result *), const struct ctl_result *res, int arg)
{
	char path[256], *want, *got = NULL;
	size_t gotlen = 0, line = 1;
	FILE *fp = open_memstream(&got, &gotlen);
	const char *a, *b;

	if (fn)
		fn(fp, res, arg);
	else
		fn2(fp, res);
	fclose(fp);
	snprintf(path, sizeof path, "t/golden/%s.txt", name);
	want = slurp(path);
	ok(want != NULL, "%s: golden file %s readable", name, path);
	if (want == NULL) {
		free(got);
		return;
	}
	for (a = got, b = want; *a && *b && *a == *b; a++, b++)
		if (*a == '\n')
			line++;
	ok(*a == '\0' && *b == '\0', "%s: text layout is the spec's, byte for byte", name);
	if (*a || *b) {
		const char *ga = a, *gb = b;
		while (ga > got && ga[-1] != '\n')
			ga--;
		while (gb > want && gb[-1] != '\n')
			gb--;
		printf("#   first difference on line %zu\n#   got:      '%.*s'\n#   expected: '%.*s'\n",
		    line, (int)strcspn(ga, "\n"), ga, (int)strcspn(gb, "\n"), gb);
	}
	free(want);
	free(got);
}

static void
status_plain(FILE *fp, const struct ctl_result *res, int detail)
{
	fmt_status(fp, res, detail);
}

static void
test_status(void)
{
	struct ctl_result res;
	char up[64], now[64];
	const char *spec[] = {
		"counter|Messages Received|reset=62049822|uptime=290920|lifetime=62049822",
		"counter|Recipients Received|reset=62049823|uptime=290920|lifetime=62049823",
		"counter|Gen. Bounce Recipients|reset=5|uptime=5|lifetime=5",
		"counter|Rejected Recipients|reset=3949663|uptime=11921|lifetime=3949663",
		"counter|Dropped Messages|reset=11606037|uptime=219|lifetime=11606037",
		"counter|Soft Bounced Events|reset=2334552|uptime=13598|lifetime=2334552",
		"counter|Completed Recipients|reset=50441741|uptime=332625|lifetime=50441741",
		"id|Message ID (MID)|value=99524480",
		"id|Injection Conn. ID (ICID)|value=51180368",
		"id|Delivery Conn. ID (DCID)|value=17550674",
		"gauge|Current Inbound Conn.|current=0",
		"gauge|Current Outbound Conn.|current=14",
		"gauge|Active Recipients|current=7166",
		"gauge|Messages In Work Queue|current=0",
		"gauge|Messages In Quarantine|current=16248",
		"gauge|Kilobytes Used|current=387143",
		"gauge|Kilobytes In Quarantine|current=338206",
		"gauge|Kilobytes Free|current=39458745",
		"info|Oldest Message|value=2422013",
		"info|Queued Messages|value=1",
		"info|Last counter reset|value=0",
		"info|Delivery suspended|value=no",
		"info|Receiving suspended|value=no",
		up, now,
	};

	set_tz("PST8PDT,M4.1.0,M10.5.0");
	snprintf(now, sizeof now, "info|Status as of|value=%lld",
	    (long long)at(2004, 10, 21, 14, 33, 27));
	snprintf(up, sizeof up, "info|Up since|value=%lld", (long long)at(2004, 10, 20, 15, 47, 58));
	build(&res, spec, sizeof spec / sizeof spec[0]);
	golden("status", status_plain, NULL, &res, 0);
	ctl_result_free(&res);
}

static void
test_status_detail(void)
{
	struct ctl_result res;
	char up[64], now[64], reset[64];
	const char *spec[] = {
		"counter|Messages Received|reset=2571967|uptime=24760|lifetime=3113176",
		"counter|Recipients Received|reset=2914875|uptime=25450|lifetime=3468024",
		"counter|Gen. Bounce Recipients|reset=2165|uptime=0|lifetime=7451",
		"counter|Rejected Recipients|reset=1019453|uptime=792|lifetime=1740603",
		"counter|Dropped Messages|reset=1209001|uptime=66|lifetime=1209028",
		"counter|Soft Bounced Events|reset=11236|uptime=0|lifetime=11405",
		"counter|Completed Recipients|reset=2591740|uptime=49095|lifetime=3145002",
		"counter|Hard Bounced Recipients|reset=2469|uptime=0|lifetime=7875",
		"counter|DNS Hard Bounces|reset=199|uptime=0|lifetime=3235",
		"counter|5XX Hard Bounces|reset=2151|uptime=0|lifetime=4520",
		"counter|Expired Hard Bounces|reset=119|uptime=0|lifetime=120",
		"counter|Filter Hard Bounces|reset=0|uptime=0|lifetime=0",
		"counter|Other Hard Bounces|reset=0|uptime=0|lifetime=0",
		"counter|Delivered Recipients|reset=2589270|uptime=49095|lifetime=3137126",
		"counter|Deleted Recipients|reset=1|uptime=0|lifetime=1",
		"counter|Global Unsub. Hits|reset=0|uptime=0|lifetime=0",
		"counter|DomainKeys Signed Msgs|reset=10|uptime=9|lifetime=10",
		"id|Message ID (MID)|value=7615199",
		"id|Injection Conn. ID (ICID)|value=3263654",
		"id|Delivery Conn. ID (DCID)|value=1988479",
		"rate|Messages Received|m1=180|m5=300|m15=188",
		"rate|Recipients Received|m1=180|m5=300|m15=188",
		"rate|Soft Bounced Events|m1=0|m5=0|m15=0",
		"rate|Completed Recipients|m1=360|m5=600|m15=368",
		"rate|Hard Bounced Recipients|m1=0|m5=0|m15=0",
		"rate|Delivered Recipients|m1=360|m5=600|m15=368",
		"gauge|RAM Utilization|current=1",
		"gauge|CPU Utilization MGA|current=0",
		"gauge|CPU Utilization AntiSpam|current=0",
		"gauge|CPU Utilization AntiVirus|current=0",
		"gauge|Disk I/O Utilization|current=0",
		"gauge|Resource Conservation|current=0",
		"gauge|Current Inbound Conn.|current=0",
		"gauge|Current Outbound Conn.|current=0",
		"gauge|Active Recipients|current=0",
		"gauge|Unattempted Recipients|current=0",
		"gauge|Attempted Recipients|current=0",
		"gauge|Messages In Work Queue|current=0",
		"gauge|Messages In Quarantine|current=19",
		"gauge|Destinations In Memory|current=3",
		"gauge|Kilobytes Used|current=473",
		"gauge|Kilobytes In Quarantine|current=473",
		"gauge|Kilobytes Free|current=39845415",
		"feature|IronPort Anti-Spam|value=17 days",
		"feature|Sophos|value=Dormant/Perpetual",
		"feature|Outbreak Filters|value=Dormant/Perpetual",
		"feature|Central Mgmt|value=Dormant/Perpetual",
		"info|Oldest Message|value=0",
		"info|Queued Messages|value=0",
		up, now, reset,
	};

	set_tz("PST8PDT,M4.1.0,M10.5.0");
	snprintf(now, sizeof now, "info|Status as of|value=%lld",
	    (long long)at(2005, 6, 30, 13, 9, 18));
	snprintf(up, sizeof up, "info|Up since|value=%lld", (long long)at(2005, 6, 23, 22, 21, 14));
	snprintf(reset, sizeof reset, "info|Last counter reset|value=%lld",
	    (long long)at(2004, 6, 29, 19, 30, 42));
	build(&res, spec, sizeof spec / sizeof spec[0]);
	golden("status_detail", status_plain, NULL, &res, 1);
	ctl_result_free(&res);
}

static void
test_hoststatus(void)
{
	static const char *const ips[] = {
		"64.12.137.121", "64.12.138.89", "64.12.138.120", "64.12.137.89", "64.12.138.152",
		"152.163.224.122", "64.12.137.184", "64.12.137.89", "64.12.136.57", "64.12.138.57",
		"64.12.136.153", "205.188.156.122", "64.12.138.57", "64.12.137.152", "64.12.136.89",
		"64.12.138.89", "205.188.156.154", "64.12.138.152", "64.12.136.121", "152.163.224.26",
		"64.12.137.184", "64.12.138.120", "64.12.137.152", "64.12.137.121",
	};
	const char *spec[64];
	char bufs[40][160];
	struct ctl_result res;
	time_t t;
	size_t n = 0, i;

	set_tz("UTC0");
	t = at(2010, 3, 2, 15, 17, 32);
	spec[n++] = "info|Host|value=aol.com";
	snprintf(bufs[0], sizeof bufs[0], "info|Status as of|value=%lld", (long long)t);
	spec[n++] = bufs[0];
	spec[n++] = "info|Host up/down|value=up";
	snprintf(bufs[1], sizeof bufs[1], "info|Last Activity|value=%lld", (long long)t);
	spec[n++] = bufs[1];
	snprintf(bufs[2], sizeof bufs[2], "info|IP expiry|value=%lld", (long long)t + 3600);
	spec[n++] = bufs[2];
	spec[n++] = "counter|Soft Bounced Events|reset=0";
	spec[n++] = "counter|Completed Recipients|reset=1";
	spec[n++] = "counter|Hard Bounced Recipients|reset=1";
	spec[n++] = "counter|DNS Hard Bounces|reset=0";
	spec[n++] = "counter|5XX Hard Bounces|reset=1";
	spec[n++] = "counter|Delivered Recipients|reset=0";
	spec[n++] = "gauge|Active Recipients|current=0";
	for (i = 0; i < sizeof ips / sizeof ips[0]; i++) {
		snprintf(bufs[3 + i], sizeof bufs[3 + i], "ip|pref=15|addr=%s", ips[i]);
		spec[n++] = bufs[3 + i];
	}
	spec[n++] = "mx|pref=15|ttl=52m24s|host=mailin-01.mx.aol.com";
	spec[n++] = "mx|pref=15|ttl=52m24s|host=mailin-02.mx.aol.com";
	spec[n++] = "mx|pref=15|ttl=52m24s|host=mailin-03.mx.aol.com";
	spec[n++] = "mx|pref=15|ttl=52m24s|host=mailin-04.mx.aol.com";
	snprintf(bufs[30], sizeof bufs[30], "error|Last 5XX Error|text=550 REQUESTED ACTION NOT "
	    "TAKEN: DNS FAILURE|time=%lld|ip=10.10.10.10", (long long)t);
	spec[n++] = bufs[30];
	snprintf(bufs[31], sizeof bufs[31], "error|Last TLS Error|text=TLS required, STARTTLS "
	    "unavailable|time=%lld|ip=10.10.10.10|mode=Required - Verify", (long long)t);
	spec[n++] = bufs[31];
	build(&res, spec, n);
	golden("hoststatus", NULL, fmt_hoststatus, &res, 0);
	ctl_result_free(&res);
}

static void
test_lists(void)
{
	struct ctl_result res;
	char now[40];
	const char *top[] = {
		"host|host=aol.com|active=365|conn_out=10|delivered=255|soft=21|hard=8",
		"host|host=hotmail.com|active=290|conn_out=7|delivered=198|soft=28|hard=13",
		"host|host=yahoo.com|active=134|conn_out=6|delivered=123|soft=11|hard=19",
		"host|host=excite.com|active=98|conn_out=3|delivered=84|soft=9|hard=4",
		"host|host=msn.com|active=84|conn_out=2|delivered=76|soft=33|hard=29",
		now,
	};
	const char *dns[] = {
		"counter|DNS Requests|reset=211735710|uptime=8269306|lifetime=252177342",
		"counter|Network Requests|reset=182026818|uptime=6858332|lifetime=206963542",
		"counter|Cache Hits|reset=474675247|uptime=17934227|lifetime=541605545",
		"counter|Cache Misses|reset=624023089|uptime=24072819|lifetime=704767877",
		"counter|Cache Exceptions|reset=35246211|uptime=1568005|lifetime=51445744",
		"counter|Cache Expired|reset=418369|uptime=7800|lifetime=429015",
		now,
	};
	static const char *const rcpts[] = { "9554", "3059", "7284", "8243", "1820", "9595", "8778",
	    "1703", "3052", "511" };
	static const char *const mids[] = { "1527", "1522", "1529", "1530", "1532", "1531", "1518",
	    "1535", "1533", "1536" };
	const char *sr[10], *tin[20];
	char srb[10][160], tinb[20][256];
	size_t i;

	set_tz("UTC0");
	snprintf(now, sizeof now, "info|Status as of|value=%lld", (long long)at(2003, 11, 18, 22, 22, 23));
	build(&res, top, sizeof top / sizeof top[0]);
	golden("tophosts", NULL, fmt_tophosts, &res, 0);
	ctl_result_free(&res);

	snprintf(now, sizeof now, "info|Status as of|value=%lld", (long long)at(2003, 8, 23, 21, 57, 28));
	build(&res, dns, sizeof dns / sizeof dns[0]);
	golden("dnsstatus", NULL, fmt_dnsstatus, &res, 0);
	ctl_result_free(&res);

	for (i = 0; i < 10; i++) {
		snprintf(srb[i], sizeof srb[i], "-|mid=%s|bytes=1230|sender=user123456@ironport.com|"
		    "subject=Testing|rid=0|attempts=0|recipient=%s@example.com", mids[i], rcpts[i]);
		sr[i] = srb[i];
	}
	build(&res, sr, 10);
	golden("showrecipients", NULL, fmt_showrecipients, &res, 0);
	ctl_result_free(&res);

	/* topin: the rows of the spec's example, as smtpd would send them. */
	{
		char *g = slurp("t/golden/topin.txt"), *line, *save = NULL;
		const char *all[21];
		size_t n = 0;

		for (line = g ? strtok_r(g, "\n", &save) : NULL; line && n < 20;
		    line = strtok_r(NULL, "\n", &save)) {
			char h[64], ip[32], l[32], c[16];
			int idx;
			if (sscanf(line, "%d %63s %31s %31s %15s", &idx, h, ip, l, c) != 5)
				continue;
			snprintf(tinb[n], sizeof tinb[n], "peer|hostname=%s|ip=%s|listener=%s|conns=%s",
			    h, ip, l, c);
			tin[n] = tinb[n];
			all[n] = tin[n];
			n++;
		}
		free(g);
		snprintf(now, sizeof now, "info|Status as of|value=%lld",
		    (long long)at(2003, 8, 23, 21, 50, 54));
		all[n] = now;
		build(&res, all, n + 1);
	}
	golden("topin", NULL, fmt_topin, &res, 0);
	ctl_result_free(&res);
}

static void
test_helpers(void)
{
	char b[64];
	struct ctl_result res;
	char *out = NULL;
	size_t len = 0;
	FILE *fp;
	const char *spec[] = {
		"counter|Messages Received|reset=1234|uptime=12|lifetime=1234567",
		"gauge|Active Recipients|current=3",
		"-|mid=7|recipient=a\"b@example.com",
	};

	is_str(fmt_commas("62049822", b, sizeof b), "62,049,822", "thousands separators");
	is_str(fmt_commas("999", b, sizeof b), "999", "no separator under 1,000");
	is_str(fmt_commas("1000", b, sizeof b), "1,000", "1,000");
	fmt_age(4 * 604800 + 46 * 60 + 53, b, sizeof b);
	is_str(b, "4 weeks 46 mins 53 secs", "age as in the spec (zero units left out)");
	fmt_age(3600 + 5 * 60 + 35, b, sizeof b);
	is_str(b, "1 hour 5 mins 35 secs", "oldmessage age");
	fmt_uptime(6 * 86400 + 14 * 3600 + 48 * 60 + 4, b, sizeof b);
	is_str(b, "6d 14h 48m 4s", "uptime with days");

	build(&res, spec, 3);
	fp = open_memstream(&out, &len);
	fmt_json(fp, "status", &res);
	fclose(fp);
	ok(strstr(out, "\"counters\": {\"Messages Received\": {\"reset\": 1234, \"uptime\": 12, "
	    "\"lifetime\": 1234567}}") != NULL, "JSON: counters keyed by label with numbers");
	ok(strstr(out, "\"gauges\": {\"Active Recipients\": 3}") != NULL, "JSON: gauges by label");
	ok(strstr(out, "\"recipient\": \"a\\\"b@example.com\"") != NULL, "JSON: strings escaped");
	free(out);
	ctl_result_free(&res);
}

int
main(void)
{
	test_helpers();
	test_status();
	test_status_detail();
	test_hoststatus();
	test_lists();
	return done_testing();
}
