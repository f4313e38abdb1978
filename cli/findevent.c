/*
 * findevent - message tracking over the log files (see findevent.h).
 *
 * Two passes over the selected files: the first finds the matching MIDs,
 * their ICIDs, their first time and Subject, and the parent -> child MID
 * links ("MID p generated DSN MID c"); the second collects every line that
 * names one of those MIDs or ICIDs.  Lines are read bounded (longer lines
 * are cut), and at most FE_MAX_LINES lines are shown.
 */
#include <dirent.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "findevent.h"
#include "format.h"
#include "xalloc.h"

#define FE_LINE_MAX	4096
#define FE_MAX_LINES	100000
#define FE_MAX_IDS	100000

struct idset {
	uint32_t	*v;
	size_t		 n, cap;
};

struct match {
	uint32_t	 mid;
	char		 time[40];
	char		 subject[256];
};

struct fe {
	regex_t		 re;
	const char	*type;
	uint32_t	 want_mid;
	struct idset	 mids, icids;
	struct match	*matches;
	size_t		 nmatches;
	uint32_t	(*links)[2];	/* parent, child */
	size_t		 nlinks;
	char		**lines;
	size_t		 nlines;
	char		**files;
	size_t		 nfiles;
};

static int
idset_has(const struct idset *s, uint32_t id)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == id)
			return 1;
	return 0;
}

static int
idset_add(struct idset *s, uint32_t id)
{
	if (idset_has(s, id) || s->n >= FE_MAX_IDS)
		return 0;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	s->v[s->n++] = id;
	return 1;
}

/* The text after "Level: ", or the whole line. */
static const char *
event_text(const char *line)
{
	const char *p = strstr(line, ": ");

	return p ? p + 2 : line;
}

/* Every "MID <n>" in the line (n followed by a non-digit). */
static int
line_mentions(const char *line, const char *word, const struct idset *s)
{
	size_t wl = strlen(word);
	const char *p = line;

	while ((p = strstr(p, word)) != NULL) {
		char *end;
		unsigned long v;

		p += wl;
		if (*p < '0' || *p > '9')
			continue;
		v = strtoul(p, &end, 10);
		if (idset_has(s, (uint32_t)v))
			return 1;
		p = end;
	}
	return 0;
}

static void
scan_first(struct fe *f, const char *line)
{
	const char *t = event_text(line);
	unsigned mid, icid, child;
	char val[FE_LINE_MAX];
	int hit = 0, n = 0;
	size_t i;

	if (sscanf(t, "MID %u generated DSN MID %u", &mid, &child) == 2) {
		f->links = xrealloc(f->links, (f->nlinks + 1) * sizeof *f->links);
		f->links[f->nlinks][0] = mid;
		f->links[f->nlinks][1] = child;
		f->nlinks++;
		return;
	}
	if (sscanf(t, "MID %u ICID %u From: %n", &mid, &icid, &n) == 2 && n > 0) {
		/* "From: <addr>" or "From: <>" (the null sender) */
		if (sscanf(t + n, "<%4000[^>]>", val) != 1)
			val[0] = '\0';
		hit = strcmp(f->type, "from") == 0 && regexec(&f->re, val, 0, NULL, 0) == 0;
	} else if (sscanf(t, "MID %u ICID %u RID %*u To: <%4000[^>]>", &mid, &icid, val) == 3) {
		hit = strcmp(f->type, "to") == 0 && regexec(&f->re, val, 0, NULL, 0) == 0;
	} else if (sscanf(t, "MID %u Subject '%4000[^\n]", &mid, val) == 2) {
		size_t l = strlen(val);
		if (l && val[l - 1] == '\'')
			val[l - 1] = '\0';
		for (i = 0; i < f->nmatches; i++)
			if (f->matches[i].mid == mid && f->matches[i].subject[0] == '\0')
				snprintf(f->matches[i].subject, sizeof f->matches[i].subject, "%s", val);
		if (strcmp(f->type, "subject") == 0 && regexec(&f->re, val, 0, NULL, 0) == 0)
			hit = 1;
		else
			return;
		icid = 0;
	} else if (sscanf(t, "Start MID %u ICID %u", &mid, &icid) == 2) {
		hit = strcmp(f->type, "mid") == 0 && mid == f->want_mid;
	} else
		return;
	if (!hit)
		return;
	if (idset_add(&f->mids, mid)) {
		struct match *m;
		f->matches = xrealloc(f->matches, (f->nmatches + 1) * sizeof *f->matches);
		m = &f->matches[f->nmatches++];
		memset(m, 0, sizeof *m);
		m->mid = mid;
		snprintf(m->time, sizeof m->time, "%.*s", (int)strcspn(line, " "), line);
		if (strcmp(f->type, "subject") == 0)
			snprintf(m->subject, sizeof m->subject, "%s", val);
	}
	if (icid)
		idset_add(&f->icids, icid);
}

static void
scan_second(struct fe *f, const char *line)
{
	const char *t = event_text(line);
	unsigned mid, icid;

	/* An ICID of ours: note it from the From line of a followed MID. */
	if (sscanf(t, "MID %u ICID %u", &mid, &icid) == 2 && idset_has(&f->mids, mid))
		idset_add(&f->icids, icid);
}

/* Names any MID at all. */
static int
names_a_mid(const char *line)
{
	const char *p = line;

	while ((p = strstr(p, "MID ")) != NULL) {
		p += 4;
		if (*p >= '0' && *p <= '9')
			return 1;
	}
	return 0;
}

/* A line of ours: it names one of our MIDs, or one of our connections
 * and no other message (a connection may carry several). */
static void
scan_collect(struct fe *f, const char *line)
{
	if (f->nlines >= FE_MAX_LINES)
		return;
	if (line_mentions(line, "MID ", &f->mids) ||
	    (line_mentions(line, "ICID ", &f->icids) && !names_a_mid(line))) {
		f->lines = xrealloc(f->lines, (f->nlines + 1) * sizeof *f->lines);
		f->lines[f->nlines++] = xstrdup(line);
	}
}

static void
each_line(struct fe *f, void (*fn)(struct fe *, const char *))
{
	char line[FE_LINE_MAX];
	size_t i;

	for (i = 0; i < f->nfiles; i++) {
		FILE *fp = fopen(f->files[i], "r");
		if (fp == NULL)
			continue;
		while (fgets(line, sizeof line, fp) != NULL) {
			size_t n = strcspn(line, "\n");
			if (line[n] != '\n' && !feof(fp)) {
				int ch;		/* cut an over-long line */
				while ((ch = fgetc(fp)) != EOF && ch != '\n')
					;
			}
			line[n] = '\0';
			fn(f, line);
		}
		fclose(fp);
	}
}

static int
cmp_line(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t lx = strcspn(x, " "), ly = strcspn(y, " ");
	int c = strncmp(x, y, lx < ly ? lx : ly);

	return c ? c : (lx > ly) - (lx < ly);
}

static int
list_files(struct fe *f, const char *dir, int all)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL) {
		fprintf(stderr, "sallyctl: findevent: cannot read the log directory %s\n", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name, *dot = strstr(n, ".log");
		if (dot == NULL || n[0] == '.')
			continue;
		if (strcmp(dot, ".log") != 0 && !(all && dot[4] == '.' && strstr(dot, ".gz") == NULL))
			continue;
		f->files = xrealloc(f->files, (f->nfiles + 1) * sizeof *f->files);
		f->files[f->nfiles++] = xasprintf("%s/%s", dir, n);
	}
	closedir(d);
	return 0;
}

int
findevent_run(FILE *out, const char *logdir, const char *type, const char *pattern,
    int all_files, int json)
{
	struct fe f;
	size_t i, before;
	int rc;

	memset(&f, 0, sizeof f);
	f.type = type;
	if (strcmp(type, "mid") == 0) {
		char *end;
		f.want_mid = (uint32_t)strtoul(pattern, &end, 10);
		if (*pattern == '\0' || *end != '\0') {
			fprintf(stderr, "sallyctl: findevent mid: give a number\n");
			return 1;
		}
	} else if (strcmp(type, "from") != 0 && strcmp(type, "to") != 0 &&
	    strcmp(type, "subject") != 0) {
		fprintf(stderr, "sallyctl: findevent: search by from, to, subject or mid\n");
		return 1;
	} else if (regcomp(&f.re, pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB) != 0) {
		fprintf(stderr, "sallyctl: findevent: bad regular expression '%s'\n", pattern);
		return 1;
	}
	if (list_files(&f, logdir, all_files) < 0) {
		rc = 1;
		goto out;
	}
	each_line(&f, scan_first);
	if (strcmp(type, "mid") == 0 && f.nmatches == 0)
		idset_add(&f.mids, f.want_mid);
	/* Follow generated messages (and theirs) to a fixed point. */
	do {
		before = f.mids.n;
		for (i = 0; i < f.nlinks; i++)
			if (idset_has(&f.mids, f.links[i][0]))
				idset_add(&f.mids, f.links[i][1]);
	} while (f.mids.n != before);
	each_line(&f, scan_second);
	each_line(&f, scan_collect);
	/* Keeps each file's order for lines of the same second. */
	if (f.nlines > 1)
		qsort(f.lines, f.nlines, sizeof *f.lines, cmp_line);
	/* A match is shown with the time of its first line. */
	for (i = 0; i < f.nmatches; i++) {
		struct idset one = { &f.matches[i].mid, 1, 1 };
		size_t k;

		for (k = 0; k < f.nlines; k++) {
			if (line_mentions(f.lines[k], "MID ", &one)) {
				snprintf(f.matches[i].time, sizeof f.matches[i].time, "%.*s",
				    (int)strcspn(f.lines[k], " "), f.lines[k]);
				break;
			}
		}
	}
	rc = f.nlines ? 0 : 1;
	if (json) {
		fputs("{\"command\": \"findevent\", \"ok\": true, \"matches\": [", out);
		for (i = 0; i < f.nmatches; i++) {
			fprintf(out, "%s{\"mid\": %u, \"time\": ", i ? ", " : "", f.matches[i].mid);
			fmt_json_str(out, f.matches[i].time);
			fputs(", \"subject\": ", out);
			fmt_json_str(out, f.matches[i].subject);
			fputc('}', out);
		}
		fputs("], \"mids\": [", out);
		for (i = 0; i < f.mids.n; i++)
			fprintf(out, "%s%u", i ? ", " : "", f.mids.v[i]);
		fputs("], \"lines\": [", out);
		for (i = 0; i < f.nlines; i++) {
			fputs(i ? ", " : "", out);
			fmt_json_str(out, f.lines[i]);
		}
		fputs("]}\n", out);
	} else if (f.nlines == 0) {
		fprintf(out, "No matching message IDs were found.\n");
	} else {
		if (f.nmatches) {
			fprintf(out, "The following matching message IDs were found.\n");
			for (i = 0; i < f.nmatches; i++)
				fprintf(out, "%zu. MID %u (%s) %s\n", i + 1, f.matches[i].mid,
				    f.matches[i].time, f.matches[i].subject);
		}
		for (i = 0; i < f.nlines; i++)
			fprintf(out, "%s\n", f.lines[i]);
	}
out:
	if (strcmp(type, "mid") != 0)
		regfree(&f.re);
	for (i = 0; i < f.nlines; i++)
		free(f.lines[i]);
	for (i = 0; i < f.nfiles; i++)
		free(f.files[i]);
	free(f.lines);
	free(f.files);
	free(f.matches);
	free(f.links);
	free(f.mids.v);
	free(f.icids.v);
	return rc;
}
