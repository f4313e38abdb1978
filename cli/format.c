/*
 * format - sallyctl's text layouts and JSON (see format.h).
 *
 * Column positions are those of the spec's examples: a value is right
 * aligned so that it ends on the example's column, and a label too long
 * for its column pushes only its own row.  Counts get thousands
 * separators, IDs and the rate/hostrate columns do not (as in the spec).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format.h"

/* ---- helpers ---- */

const char *
fmt_commas(const char *digits, char *out, size_t outlen)
{
	size_t n = strlen(digits), i, o = 0;

	for (i = 0; i < n && o + 2 < outlen; i++) {
		if (i > 0 && (n - i) % 3 == 0 && digits[i - 1] >= '0' && digits[i - 1] <= '9')
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	return out;
}

const struct ctl_record *
fmt_find(const struct ctl_result *res, const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < res->nrec; i++) {
		const char *s = ctl_record_get(&res->recs[i], "section");
		const char *n = ctl_record_get(&res->recs[i], "name");
		if (s && n && strcmp(s, section) == 0 && strcmp(n, name) == 0)
			return &res->recs[i];
	}
	return NULL;
}

const char *
fmt_val(const struct ctl_result *res, const char *section, const char *name, const char *key)
{
	const struct ctl_record *r = fmt_find(res, section, name);
	const char *v = r ? ctl_record_get(r, key) : NULL;

	return v ? v : "0";
}

static unsigned long long
num(const struct ctl_result *res, const char *section, const char *name, const char *key)
{
	return strtoull(fmt_val(res, section, name, key), NULL, 10);
}

static void
fmt_time(time_t t, char *out, size_t len, int zone)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, len, zone ? "%a %b %d %H:%M:%S %Y %Z" : "%a %b %d %H:%M:%S %Y", &tm);
}

static void
fmt_gmtime(time_t t, char *out, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%a %b %d %H:%M:%S %Y GMT", &tm);
}

void
fmt_uptime(unsigned long long s, char *out, size_t len)
{
	unsigned long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;

	if (d)
		snprintf(out, len, "%llud %lluh %llum %llus", d, h, m, sec);
	else
		snprintf(out, len, "%lluh %llum %llus", h, m, sec);
}

void
fmt_age(unsigned long long s, char *out, size_t len)
{
	static const struct { unsigned long long secs; const char *one, *many; } units[] = {
		{ 604800, "week", "weeks" }, { 86400, "day", "days" }, { 3600, "hour", "hours" },
		{ 60, "min", "mins" }, { 1, "sec", "secs" },
	};
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		unsigned long long n = s / units[i].secs;
		int w;

		if (n == 0)
			continue;
		s %= units[i].secs;
		w = snprintf(out + o, len - o, "%s%llu %s", o ? " " : "", n,
		    n == 1 ? units[i].one : units[i].many);
		if (w < 0 || (size_t)w >= len - o)
			break;
		o += (size_t)w;
	}
	if (out[0] == '\0')
		snprintf(out, len, "0 secs");
}

/* "    label" then v right-aligned to end on column end. */
static void
row(FILE *fp, int indent, const char *label, const char *v, int end)
{
	int used = indent + (int)strlen(label), pad = end - used;

	if (pad < (int)strlen(v) + 1)
		pad = (int)strlen(v) + 1;
	fprintf(fp, "%*s%s%*s", indent, "", label, pad, v);
}

/* ---- status, status detail ---- */

struct layout {
	int	hdr;		/* width of the "Status as of:" labels */
	int	c1, cw;		/* end of the first counter column, column width */
	int	idend;		/* end of the Current IDs values */
	int	gend;		/* end of the gauge values */
};

static void
counter_row(FILE *fp, const struct ctl_result *res, const struct layout *L, int indent,
    const char *label, int optional)
{
	const struct ctl_record *r = fmt_find(res, "counter", label);
	char a[40], b[40], c[40];

	if (r == NULL && optional)
		return;
	fmt_commas(fmt_val(res, "counter", label, "reset"), a, sizeof a);
	row(fp, indent, label, a, L->c1);
	fprintf(fp, "%*s%*s\n", L->cw, fmt_commas(fmt_val(res, "counter", label, "uptime"), b,
	    sizeof b), L->cw, fmt_commas(fmt_val(res, "counter", label, "lifetime"), c, sizeof c));
}

static void
rate_row(FILE *fp, const struct ctl_result *res, const struct layout *L, const char *label)
{
	char a[40], b[40], c[40];

	fmt_commas(fmt_val(res, "rate", label, "m1"), a, sizeof a);
	row(fp, 4, label, a, L->c1);
	fprintf(fp, "%*s%*s\n", L->cw, fmt_commas(fmt_val(res, "rate", label, "m5"), b, sizeof b),
	    L->cw, fmt_commas(fmt_val(res, "rate", label, "m15"), c, sizeof c));
}

static void
id_row(FILE *fp, const struct ctl_result *res, const struct layout *L, const char *label)
{
	row(fp, 4, label, fmt_val(res, "id", label, "value"), L->idend);
	fputc('\n', fp);
}

static void
gauge_row(FILE *fp, const struct ctl_result *res, const struct layout *L, int indent,
    const char *label, const char *name, int percent)
{
	char v[48];

	if (percent)
		snprintf(v, sizeof v, "%s%%", fmt_val(res, "gauge", name, "current"));
	else
		fmt_commas(fmt_val(res, "gauge", name, "current"), v, sizeof v);
	row(fp, indent, label, v, L->gend);
	fputc('\n', fp);
}

static void
header_line(FILE *fp, const struct layout *L, const char *label, const char *value)
{
	fprintf(fp, "%-*s%s\n", L->hdr, label, value);
}

void
fmt_status(FILE *fp, const struct ctl_result *res, int detail)
{
	static const struct layout plain = { 23, 39, 14, 67, 35 };
	static const struct layout det = { 31, 40, 13, 65, 40 };
	const struct layout *L = detail ? &det : &plain;
	char t[64], u[64], age[128], line[160];
	time_t now = (time_t)strtoll(fmt_val(res, "info", "Status as of", "value"), NULL, 10);
	time_t up = (time_t)strtoll(fmt_val(res, "info", "Up since", "value"), NULL, 10);
	time_t reset = (time_t)strtoll(fmt_val(res, "info", "Last counter reset", "value"), NULL, 10);
	unsigned long long oldest = num(res, "info", "Oldest Message", "value");
	unsigned long long queued = num(res, "info", "Queued Messages", "value");
	const char *rsusp = fmt_val(res, "info", "Receiving suspended", "value");
	const char *dsusp = fmt_val(res, "info", "Delivery suspended", "value");
	int rs = strcmp(rsusp, "all") == 0, ds = strcmp(dsusp, "all") == 0;
	size_t i;

	fputc('\n', fp);
	fmt_time(now, t, sizeof t, 1);
	header_line(fp, L, "Status as of:", t);
	fmt_time(up, t, sizeof t, 1);
	fmt_uptime((unsigned long long)(now > up ? now - up : 0), u, sizeof u);
	snprintf(line, sizeof line, "%s (%s)", t, u);
	header_line(fp, L, "Up since:", line);
	if (reset)
		fmt_time(reset, t, sizeof t, 1);
	header_line(fp, L, "Last counter reset:", reset ? t : "Never");
	/* Receiving counts as suspended only when every listener is. */
	header_line(fp, L, "System status:", rs && ds ? "Offline" : rs ? "Receiving Suspended" :
	    ds ? "Delivery Suspended" : "Online");
	if (queued)
		fmt_age(oldest, age, sizeof age);
	header_line(fp, L, "Oldest Message:", queued ? age : "No Messages");
	for (i = 0; detail && i < res->nrec; i++) {
		const char *s = ctl_record_get(&res->recs[i], "section");
		const char *n = ctl_record_get(&res->recs[i], "name");
		const char *v = ctl_record_get(&res->recs[i], "value");
		if (s && n && v && strcmp(s, "feature") == 0) {
			snprintf(line, sizeof line, "Feature - %s:", n);
			header_line(fp, L, line, v);
		}
	}
	fprintf(fp, "\n%-*s%s%*s%*s\n", L->c1 - 5, "Counters:", "Reset", L->cw, "Uptime", L->cw,
	    "Lifetime");
	fprintf(fp, "  Receiving\n");
	counter_row(fp, res, L, 4, "Messages Received", 0);
	counter_row(fp, res, L, 4, "Recipients Received", 0);
	if (detail)
		counter_row(fp, res, L, 4, "Gen. Bounce Recipients", 0);
	fprintf(fp, "  Rejection\n");
	counter_row(fp, res, L, 4, "Rejected Recipients", 0);
	counter_row(fp, res, L, 4, "Dropped Messages", 0);
	fprintf(fp, "  Queue\n");
	counter_row(fp, res, L, 4, "Soft Bounced Events", 0);
	fprintf(fp, "  Completion\n");
	counter_row(fp, res, L, 4, "Completed Recipients", 0);
	if (detail) {
		counter_row(fp, res, L, 4, "Hard Bounced Recipients", 0);
		counter_row(fp, res, L, 6, "DNS Hard Bounces", 0);
		counter_row(fp, res, L, 6, "5XX Hard Bounces", 0);
		counter_row(fp, res, L, 6, "Expired Hard Bounces", 0);
		counter_row(fp, res, L, 6, "Filter Hard Bounces", 0);
		counter_row(fp, res, L, 6, "Other Hard Bounces", 0);
		counter_row(fp, res, L, 4, "Delivered Recipients", 0);
		counter_row(fp, res, L, 4, "Deleted Recipients", 0);
		counter_row(fp, res, L, 6, "Global Unsub. Hits", 0);
		counter_row(fp, res, L, 4, "DomainKeys Signed Msgs", 1);
	}
	fprintf(fp, "  Current IDs\n");
	id_row(fp, res, L, "Message ID (MID)");
	id_row(fp, res, L, "Injection Conn. ID (ICID)");
	id_row(fp, res, L, "Delivery Conn. ID (DCID)");
	if (detail) {
		fprintf(fp, "\n%-*s%s%*s%*s\n", L->c1 - 8, "Rates (Events Per Hour):", "1-Minute",
		    L->cw, "5-Minutes", L->cw, "15-Minutes");
		fprintf(fp, "  Receiving\n");
		rate_row(fp, res, L, "Messages Received");
		rate_row(fp, res, L, "Recipients Received");
		fprintf(fp, "  Queue\n");
		rate_row(fp, res, L, "Soft Bounced Events");
		fprintf(fp, "  Completion\n");
		rate_row(fp, res, L, "Completed Recipients");
		rate_row(fp, res, L, "Hard Bounced Recipients");
		rate_row(fp, res, L, "Delivered Recipients");
	}
	fprintf(fp, "\n%-*s%s\n", L->gend - 7, "Gauges:", "Current");
	if (detail) {
		fprintf(fp, "  System\n");
		gauge_row(fp, res, L, 4, "RAM Utilization", "RAM Utilization", 1);
		fprintf(fp, "    CPU Utilization\n");
		gauge_row(fp, res, L, 6, "MGA", "CPU Utilization MGA", 1);
		gauge_row(fp, res, L, 6, "AntiSpam", "CPU Utilization AntiSpam", 1);
		gauge_row(fp, res, L, 6, "AntiVirus", "CPU Utilization AntiVirus", 1);
		gauge_row(fp, res, L, 4, "Disk I/O Utilization", "Disk I/O Utilization", 1);
		gauge_row(fp, res, L, 4, "Resource Conservation", "Resource Conservation", 0);
	}
	fprintf(fp, "  Connections\n");
	gauge_row(fp, res, L, 4, "Current Inbound Conn.", "Current Inbound Conn.", 0);
	gauge_row(fp, res, L, 4, "Current Outbound Conn.", "Current Outbound Conn.", 0);
	fprintf(fp, "  Queue\n");
	gauge_row(fp, res, L, 4, "Active Recipients", "Active Recipients", 0);
	if (detail) {
		gauge_row(fp, res, L, 4, "Unattempted Recipients", "Unattempted Recipients", 0);
		gauge_row(fp, res, L, 4, "Attempted Recipients", "Attempted Recipients", 0);
	}
	gauge_row(fp, res, L, 4, "Messages In Work Queue", "Messages In Work Queue", 0);
	gauge_row(fp, res, L, 4, "Messages In Quarantine", "Messages In Quarantine", 0);
	if (detail)
		gauge_row(fp, res, L, 4, "Destinations In Memory", "Destinations In Memory", 0);
	gauge_row(fp, res, L, 4, "Kilobytes Used", "Kilobytes Used", 0);
	gauge_row(fp, res, L, 4, "Kilobytes In Quarantine", "Kilobytes In Quarantine", 0);
	gauge_row(fp, res, L, 4, "Kilobytes Free", "Kilobytes Free", 0);
}

/* ---- hoststatus ---- */

static void
host_counter(FILE *fp, const struct ctl_result *res, int indent, const char *label)
{
	char v[40];

	fmt_commas(fmt_val(res, "counter", label, "reset"), v, sizeof v);
	row(fp, indent, label, v, 41);
	fputc('\n', fp);
}

static void
host_gauge(FILE *fp, const struct ctl_result *res, const char *label)
{
	char v[40];

	fmt_commas(fmt_val(res, "gauge", label, "current"), v, sizeof v);
	row(fp, 4, label, v, 41);
	fputc('\n', fp);
}

static void
error_block(FILE *fp, const struct ctl_result *res, const char *name)
{
	const struct ctl_record *r = fmt_find(res, "error", name);
	const char *mode, *ip;
	char t[64], label[64];

	if (r == NULL)
		return;
	mode = ctl_record_get(r, "mode");
	ip = ctl_record_get(r, "ip");
	snprintf(label, sizeof label, "%s:", name);
	if (mode && *mode)
		fprintf(fp, "\n%-31s%s\n", label, mode);
	else
		fprintf(fp, "\n%s\n", label);
	fmt_gmtime((time_t)strtoll(ctl_record_get(r, "time") ? ctl_record_get(r, "time") : "0",
	    NULL, 10), t, sizeof t);
	fprintf(fp, "-----\n%s\n(at %s) IP: %s\n-----\n",
	    ctl_record_get(r, "text") ? ctl_record_get(r, "text") : "", t, ip && *ip ? ip : "-");
}

void
fmt_hoststatus(FILE *fp, const struct ctl_result *res)
{
	char t[64], age[128];
	time_t now = (time_t)strtoll(fmt_val(res, "info", "Status as of", "value"), NULL, 10);
	time_t last = (time_t)strtoll(fmt_val(res, "info", "Last Activity", "value"), NULL, 10);
	const struct ctl_record *oldest = fmt_find(res, "info", "Oldest Message");
	const char *exp = fmt_val(res, "info", "IP expiry", "value");
	size_t i, n;
	const char *pref = NULL, *prev = "";

	fprintf(fp, "\nHost mail status for: '%s'\n", fmt_val(res, "info", "Host", "value"));
	fmt_time(now, t, sizeof t, 0);
	fprintf(fp, "%-19s%s\n", "Status as of:", t);
	fprintf(fp, "%-19s%s\n", "Host up/down:", fmt_val(res, "info", "Host up/down", "value"));
	fprintf(fp, "\nCounters:\n  Queue\n");
	host_counter(fp, res, 4, "Soft Bounced Events");
	fprintf(fp, "  Completion\n");
	host_counter(fp, res, 4, "Completed Recipients");
	host_counter(fp, res, 4, "Hard Bounced Recipients");
	host_counter(fp, res, 6, "DNS Hard Bounces");
	host_counter(fp, res, 6, "5XX Hard Bounces");
	host_counter(fp, res, 6, "Filter Hard Bounces");
	host_counter(fp, res, 6, "Expired Hard Bounces");
	host_counter(fp, res, 6, "Other Hard Bounces");
	host_counter(fp, res, 4, "Delivered Recipients");
	host_counter(fp, res, 4, "Deleted Recipients");
	fprintf(fp, "\nGauges:\n  Queue\n");
	host_gauge(fp, res, "Active Recipients");
	host_gauge(fp, res, "Unattempted Recipients");
	host_gauge(fp, res, "Attempted Recipients");
	fprintf(fp, "  Connections\n");
	host_gauge(fp, res, "Current Outbound Connections");
	host_gauge(fp, res, "Pending Outbound Connections");
	if (oldest && ctl_record_get(oldest, "value") && *ctl_record_get(oldest, "value"))
		fmt_age(strtoull(ctl_record_get(oldest, "value"), NULL, 10), age, sizeof age);
	else
		snprintf(age, sizeof age, "No Messages");
	fprintf(fp, "\n%-22s%s\n", "Oldest Message", age);
	if (last)
		fmt_time(last, t, sizeof t, 0);
	fprintf(fp, "%-22s%s\n", "Last Activity", last ? t : "Never");

	/* Cached addresses, grouped by MX preference, three to a row. */
	for (i = 0, n = 0; i < res->nrec; i++) {
		const struct ctl_record *r = &res->recs[i];
		const char *s = ctl_record_get(r, "section"), *p, *a;

		if (s == NULL || strcmp(s, "ip") != 0)
			continue;
		p = ctl_record_get(r, "pref");
		a = ctl_record_get(r, "addr");
		if (p == NULL || a == NULL)
			continue;
		if (pref == NULL) {
			fmt_time((time_t)strtoll(exp, NULL, 10), t, sizeof t, 0);
			fprintf(fp, "\nOrdered IP addresses: (expiring at %s)\n  Preference  IPs", t);
		}
		if (pref == NULL || strcmp(pref, p) != 0 || n == 3) {
			fprintf(fp, "\n  %-12s%s", p, a);
			n = 0;
		} else	/* pad the previous address to its column */
			fprintf(fp, "%*s%s", (n == 1 ? 15 : 16) - (int)strlen(prev), "", a);
		pref = p;
		prev = a;
		n++;
	}
	if (pref)
		fputc('\n', fp);
	for (i = 0, n = 0; i < res->nrec; i++) {
		const struct ctl_record *r = &res->recs[i];
		const char *s = ctl_record_get(r, "section");

		if (s == NULL || strcmp(s, "mx") != 0)
			continue;
		if (n++ == 0)
			fprintf(fp, "\nMX Records:\n  Preference  TTL      Hostname\n");
		fprintf(fp, "  %-12s%-9s%s\n", ctl_record_get(r, "pref") ? ctl_record_get(r, "pref") : "",
		    ctl_record_get(r, "ttl") ? ctl_record_get(r, "ttl") : "",
		    ctl_record_get(r, "host") ? ctl_record_get(r, "host") : "");
	}
	for (i = 0, n = 0; i < res->nrec; i++) {
		const struct ctl_record *r = &res->recs[i];
		const char *s = ctl_record_get(r, "section");

		if (s == NULL || strcmp(s, "route") != 0)
			continue;
		if (n++ == 0)
			fprintf(fp, "\nSMTP Routes for this host:\n");
		fprintf(fp, "  %s\n", ctl_record_get(r, "host") ? ctl_record_get(r, "host") : "");
	}
	error_block(fp, res, "Last 5XX Error");
	error_block(fp, res, "Last TLS Error");
}

/* ---- tophosts, dnsstatus, showrecipients, topin, tcpservices ---- */

void
fmt_tophosts(FILE *fp, const struct ctl_result *res)
{
	char t[64], a[5][40];
	size_t i, n = 0;

	fmt_time((time_t)strtoll(fmt_val(res, "info", "Status as of", "value"), NULL, 10), t,
	    sizeof t, 0);
	fprintf(fp, "\n%-23s%s\n", "Status as of:", t);
	fprintf(fp, "%22s%-9s%-8s%-9s%-10s%s\n", "", "Active", "Conn.", "Deliv.", "Soft", "Hard");
	fprintf(fp, "%-3s%-19s%-9s%-8s%-9s%-10s%s\n", "#", "Recipient Host", "Recip", "Out",
	    "Recip.", "Bounced", "Bounced");
	for (i = 0; i < res->nrec; i++) {
		const struct ctl_record *r = &res->recs[i];
		const char *s = ctl_record_get(r, "section");
		char idx[16];

		if (s == NULL || strcmp(s, "host") != 0)
			continue;
		snprintf(idx, sizeof idx, "%zu", ++n);
		fmt_commas(ctl_record_get(r, "active") ? ctl_record_get(r, "active") : "0", a[0], 40);
		fmt_commas(ctl_record_get(r, "conn_out") ? ctl_record_get(r, "conn_out") : "0", a[1], 40);
		fmt_commas(ctl_record_get(r, "delivered") ? ctl_record_get(r, "delivered") : "0", a[2], 40);
		fmt_commas(ctl_record_get(r, "soft") ? ctl_record_get(r, "soft") : "0", a[3], 40);
		fmt_commas(ctl_record_get(r, "hard") ? ctl_record_get(r, "hard") : "0", a[4], 40);
		fprintf(fp, "%-3s%-19s%-9s%-8s%-9s%-10s%s\n", idx,
		    ctl_record_get(r, "host") ? ctl_record_get(r, "host") : "", a[0], a[1], a[2], a[3],
		    a[4]);
	}
}

void
fmt_dnsstatus(FILE *fp, const struct ctl_result *res)
{
	static const char *const names[] = { "DNS Requests", "Network Requests", "Cache Hits",
	    "Cache Misses", "Cache Exceptions", "Cache Expired" };
	char t[64], a[40], b[40], c[40];
	size_t i;

	fmt_time((time_t)strtoll(fmt_val(res, "info", "Status as of", "value"), NULL, 10), t,
	    sizeof t, 0);
	fprintf(fp, "Status as of: %s\n", t);
	fprintf(fp, "Counters:                Reset           Uptime        Lifetime\n");
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		fprintf(fp, "  %-16s%14s%17s%16s\n", names[i],
		    fmt_commas(fmt_val(res, "counter", names[i], "reset"), a, sizeof a),
		    fmt_commas(fmt_val(res, "counter", names[i], "uptime"), b, sizeof b),
		    fmt_commas(fmt_val(res, "counter", names[i], "lifetime"), c, sizeof c));
}

void
fmt_showrecipients(FILE *fp, const struct ctl_result *res)
{
	size_t i, n = 0;

	for (i = 0; i < res->nrec; i++) {
		const struct ctl_record *r = &res->recs[i];
		char rid[32], at[32];
		const char *s = ctl_record_get(r, "sender");

		if (ctl_record_get(r, "mid") == NULL)
			continue;
		if (n++ == 0) {
			fprintf(fp, "%-9s%-9s%-26s%s\n", "MID/", "Bytes/", "Sender/", "Subject");
			fprintf(fp, "%-9s%-9s%s\n", "[RID]", "[Atmps]", "Recipient");
		}
		fprintf(fp, "%-8s %-8s %-25s %s\n", ctl_record_get(r, "mid"),
		    ctl_record_get(r, "bytes") ? ctl_record_get(r, "bytes") : "",
		    s && *s ? s : "<>", ctl_record_get(r, "subject") ? ctl_record_get(r, "subject") : "");
		snprintf(rid, sizeof rid, "[%s]", ctl_record_get(r, "rid") ? ctl_record_get(r, "rid") : "");
		snprintf(at, sizeof at, "[%s]", ctl_record_get(r, "attempts") ?
		    ctl_record_get(r, "attempts") : "");
		fprintf(fp, "%-8s %-8s %s\n", rid, at,
		    ctl_record_get(r, "recipient") ? ctl_record_get(r, "recipient") : "");
	}
}

void
fmt_topin(FILE *fp, const struct ctl_result *res)
{
	char t[64], idx[16];
	size_t i, n = 0;

	fmt_time((time_t)strtoll(fmt_val(res, "info", "Status as of", "value"), NULL, 10), t,
	    sizeof t, 0);
	fprintf(fp, "\n%-39s%s\n", "Status as of:", t);
	fprintf(fp, "%-4s%-25s%-17s%-13s%s\n", "#", "Remote hostname", "Remote IP addr.", "listener",
	    "Conn. In");
	for (i = 0; i < res->nrec; i++) {
		const struct ctl_record *r = &res->recs[i];
		const char *s = ctl_record_get(r, "section");

		if (s == NULL || strcmp(s, "peer") != 0)
			continue;
		snprintf(idx, sizeof idx, "%zu", ++n);
		fprintf(fp, "%-4s%-25s%-17s%-13s%s\n", idx,
		    ctl_record_get(r, "hostname") ? ctl_record_get(r, "hostname") : "",
		    ctl_record_get(r, "ip") ? ctl_record_get(r, "ip") : "",
		    ctl_record_get(r, "listener") ? ctl_record_get(r, "listener") : "",
		    ctl_record_get(r, "conns") ? ctl_record_get(r, "conns") : "0");
	}
}

void
fmt_tcpservices(FILE *fp, const struct ctl_result *res)
{
	size_t i;

	fprintf(fp, "%-12s%-8s%-18s%-6s%s\n", "COMMAND", "PID", "USER", "PROTO", "ADDRESS");
	for (i = 0; i < res->nrec; i++) {
		const struct ctl_record *r = &res->recs[i];
		const char *s = ctl_record_get(r, "section");

		if (s == NULL || strcmp(s, "service") != 0)
			continue;
		fprintf(fp, "%-12s%-8s%-18s%-6s%s\n",
		    ctl_record_get(r, "process") ? ctl_record_get(r, "process") : "",
		    ctl_record_get(r, "pid") ? ctl_record_get(r, "pid") : "",
		    ctl_record_get(r, "user") ? ctl_record_get(r, "user") : "",
		    ctl_record_get(r, "proto") ? ctl_record_get(r, "proto") : "",
		    ctl_record_get(r, "address") ? ctl_record_get(r, "address") : "");
	}
}

void
fmt_workqueue(FILE *fp, const struct ctl_result *res)
{
	char t[64];
	struct tm tm;
	time_t now = (time_t)strtoll(fmt_val(res, "info", "Status as of", "value"), NULL, 10);

	gmtime_r(&now, &tm);
	strftime(t, sizeof t, "%a %b %d %H:%M:%S %Y GMT", &tm);
	fprintf(fp, "Status as of: %s\n", t);
	fprintf(fp, "Status: %s\n", fmt_val(res, "info", "Status", "value"));
	fprintf(fp, "Messages: %s\n", fmt_val(res, "info", "Messages", "value"));
	if (fmt_find(res, "rate", "Messages In") != NULL) {
		fprintf(fp, "\n%-26s%10s%12s%12s\n", "Rates (Events Per Hour):", "1-Minute",
		    "5-Minutes", "15-Minutes");
		fprintf(fp, "  %-24s%10s%12s%12s\n", "Messages In", fmt_val(res, "rate", "Messages In",
		    "m1"), fmt_val(res, "rate", "Messages In", "m5"),
		    fmt_val(res, "rate", "Messages In", "m15"));
		fprintf(fp, "  %-24s%10s%12s%12s\n", "Messages Out",
		    fmt_val(res, "rate", "Messages Out", "m1"), fmt_val(res, "rate", "Messages Out",
		    "m5"), fmt_val(res, "rate", "Messages Out", "m15"));
	}
}

void
fmt_oldmessage(FILE *fp, const struct ctl_result *res)
{
	char age[128];

	if (fmt_find(res, "info", "MID") == NULL)
		return;
	fmt_age(num(res, "info", "Age", "value"), age, sizeof age);
	fprintf(fp, "MID %s: %s old\n", fmt_val(res, "info", "MID", "value"), age);
	fputs(fmt_val(res, "info", "Headers", "value"), fp);
}

/* ---- rate, hostrate ---- */

void
fmt_rate_header(FILE *fp)
{
	fprintf(fp, "\nTime      Connections  Recipients          Recipients          Queue\n");
	fprintf(fp, "%14s%6s%13s%7s%13s%7s%9s\n", "In", "Out", "Received", "Delta", "Completed",
	    "Delta", "K-Used");
}

static unsigned long long
delta(const struct ctl_result *res, const struct ctl_result *prev, const char *section,
    const char *name, const char *key)
{
	unsigned long long a = num(res, section, name, key), b;

	if (prev == NULL)
		return 0;
	b = num(prev, section, name, key);
	return a >= b ? a - b : 0;
}

void
fmt_rate_row(FILE *fp, const struct ctl_result *res, const struct ctl_result *prev)
{
	time_t now = (time_t)strtoll(fmt_val(res, "info", "Status as of", "value"), NULL, 10);
	struct tm tm;
	char t[16];

	localtime_r(&now, &tm);
	strftime(t, sizeof t, "%H:%M:%S", &tm);
	fprintf(fp, "%-8s%6llu%6llu%13llu%7llu%13llu%7llu%9llu\n", t,
	    num(res, "gauge", "Current Inbound Conn.", "current"),
	    num(res, "gauge", "Current Outbound Conn.", "current"),
	    num(res, "counter", "Recipients Received", "lifetime"),
	    delta(res, prev, "counter", "Recipients Received", "lifetime"),
	    num(res, "counter", "Completed Recipients", "lifetime"),
	    delta(res, prev, "counter", "Completed Recipients", "lifetime"),
	    num(res, "gauge", "Kilobytes Used", "current"));
}

void
fmt_hostrate_header(FILE *fp)
{
	fprintf(fp, "    Time    Host  CrtCncOut  ActvRcp  ActvRcp  DlvRcp  HrdBncRcp  SftBncEvt\n");
	fprintf(fp, "          Status                        Delta   Delta      Delta      Delta\n");
}

void
fmt_hostrate_row(FILE *fp, const struct ctl_result *res, const struct ctl_result *prev)
{
	time_t now = (time_t)strtoll(fmt_val(res, "info", "Status as of", "value"), NULL, 10);
	unsigned long long act = num(res, "gauge", "Active Recipients", "current");
	long long dact = prev ? (long long)act -
	    (long long)num(prev, "gauge", "Active Recipients", "current") : 0;
	struct tm tm;
	char t[16];

	localtime_r(&now, &tm);
	strftime(t, sizeof t, "%H:%M:%S", &tm);
	fprintf(fp, "%-8s%8s%11llu%9llu%9lld%8llu%11llu%11llu\n", t,
	    fmt_val(res, "info", "Host up/down", "value"),
	    num(res, "gauge", "Current Outbound Connections", "current"), act, dact,
	    delta(res, prev, "counter", "Delivered Recipients", "reset"),
	    delta(res, prev, "counter", "Hard Bounced Recipients", "reset"),
	    delta(res, prev, "counter", "Soft Bounced Events", "reset"));
}

/* ---- JSON ---- */

void
fmt_json_str(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c < 0x20)
			fprintf(fp, "\\u%04x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

static int
is_number(const char *s)
{
	size_t n = strlen(s);

	/* No leading zeros (JSON), at most 19 digits (fits a u64). */
	return n > 0 && n < 20 && strspn(s, "0123456789") == n && (s[0] != '0' || n == 1);
}

static void
json_val(FILE *fp, const char *s)
{
	if (is_number(s))
		fputs(s, fp);
	else
		fmt_json_str(fp, s);
}

static int
seen_section(const struct ctl_result *res, size_t upto, const char *section)
{
	size_t i;

	for (i = 0; i < upto; i++) {
		const char *s = ctl_record_get(&res->recs[i], "section");
		if (s && strcmp(s, section) == 0)
			return 1;
	}
	return 0;
}

/* Every field but section and name, as a value (one field) or object. */
static void
json_fields(FILE *fp, const struct ctl_record *r)
{
	size_t j, n = 0, only = 0;

	for (j = 0; j < r->nfield; j++)
		if (strcmp(r->keys[j], "section") != 0 && strcmp(r->keys[j], "name") != 0) {
			n++;
			only = j;
		}
	if (n == 1 && ctl_record_get(r, "name") != NULL) {
		json_val(fp, r->vals[only]);
		return;
	}
	fputc('{', fp);
	for (j = 0, n = 0; j < r->nfield; j++) {
		if (strcmp(r->keys[j], "section") == 0 || strcmp(r->keys[j], "name") == 0)
			continue;
		fprintf(fp, "%s", n++ ? ", " : "");
		fmt_json_str(fp, r->keys[j]);
		fputs(": ", fp);
		json_val(fp, r->vals[j]);
	}
	fputc('}', fp);
}

void
fmt_json(FILE *fp, const char *cmd, const struct ctl_result *res)
{
	size_t i, j, k;

	fputs("{\"command\": ", fp);
	fmt_json_str(fp, cmd);
	fprintf(fp, ", \"ok\": %s, \"message\": ", res->status == 0 ? "true" : "false");
	fmt_json_str(fp, res->message);
	/* One object (records with a name) or list (without) per section. */
	for (i = 0; i < res->nrec; i++) {
		const char *sec = ctl_record_get(&res->recs[i], "section");
		int named = ctl_record_get(&res->recs[i], "name") != NULL;

		if (sec == NULL || seen_section(res, i, sec))
			continue;
		fputs(", ", fp);
		/* "counter" -> "counters", "info" stays "info". */
		{
			char key[64];
			size_t n = strlen(sec);
			snprintf(key, sizeof key, "%s%s", sec, strcmp(sec, "info") == 0 ||
			    (n && sec[n - 1] == 's') ? "" : "s");
			fmt_json_str(fp, key);
		}
		fputs(named ? ": {" : ": [", fp);
		for (j = i, k = 0; j < res->nrec; j++) {
			const struct ctl_record *r = &res->recs[j];
			const char *s = ctl_record_get(r, "section");
			if (s == NULL || strcmp(s, sec) != 0)
				continue;
			if (named && ctl_record_get(r, "name") == NULL)
				continue;
			fputs(k++ ? ", " : "", fp);
			if (named) {
				fmt_json_str(fp, ctl_record_get(r, "name"));
				fputs(": ", fp);
			}
			json_fields(fp, r);
		}
		fputs(named ? "}" : "]", fp);
	}
	fputs(", \"records\": [", fp);
	for (i = 0; i < res->nrec; i++) {
		fprintf(fp, "%s{", i ? ", " : "");
		for (j = 0; j < res->recs[i].nfield; j++) {
			fprintf(fp, "%s", j ? ", " : "");
			fmt_json_str(fp, res->recs[i].keys[j]);
			fputs(": ", fp);
			fmt_json_str(fp, res->recs[i].vals[j]);
		}
		fputc('}', fp);
	}
	fputs("]}\n", fp);
}
