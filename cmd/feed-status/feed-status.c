/*
 * feed-status: did every feed go out? One row per job from the state the
 * jobs keep under SCHEDFEED_STATE_DIR (pipelines/lib/job.sh): the log says
 * when each run started and how it ended, the lock whether one is running
 * now, steps/ what a failed run leaves to resume, the ledger what was
 * delivered. Only names, times, counts and statuses are printed: the log
 * and the ledger hold no patient data, and nothing else is read.
 *
 * The state is only read: the lock is looked up in /proc/locks, never
 * taken, so that a check can never make a starting job exit 75.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "csvio.h"
#include "err.h"
#include "mem.h"
#include "opt.h"

#define DEFAULT_STATE_DIR "/var/lib/schedfeed"

/* What the log says about a job's last run, and its last success. */
struct job_status {
	char *name;
	char *date;		/* the last run's date, "" when never run */
	char *start, *end;	/* log times, "" when unknown */
	const char *outcome;	/* ok, failed, running, never */
	char *failed_step;	/* "" when none */
	char *exit_status;	/* "" when none */
	long sent, correction, resent, already;
	long steps_done;	/* of the last run's date, left to resume */
	char *last_success;	/* time of the last "done", "" when none */
	time_t last_success_epoch;	/* 0 when none */
};

/* --late NAME=HH:MM */
struct deadline {
	char *job;
	int minutes;		/* after local midnight */
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: %s [--job NAME] [--late NAME=HH:MM[,...]]\n"
	    "       %s --deliveries [--job NAME] [--date YYYY-MM-DD]\n",
	    progname, progname);
	exit(EX_USAGE);
}

static int
job_name_ok(const char *name)
{
	if (*name == '\0')
		return 0;
	return name[strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_-")] == '\0';
}

static void
set_text(char **field, const char *s, size_t len)
{
	free(*field);
	*field = xstrndup(s, len);
}

/*
 * A log or ledger time, YYYY-MM-DDTHH:MM:SS+ZZZZ, as seconds since the
 * epoch; -1 when it is not one.
 */
static time_t
parse_log_time(const char *s)
{
	int year, mon, day, hour, min, sec, zone_h, zone_m, used = 0;
	char sign;
	struct tm tm = { 0 };
	time_t t;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c%2d%2d%n", &year, &mon, &day,
	    &hour, &min, &sec, &sign, &zone_h, &zone_m, &used) != 9 ||
	    used != 24 || (sign != '+' && sign != '-'))
		return -1;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == -1)
		return -1;
	return sign == '+' ? t - (zone_h * 3600 + zone_m * 60) :
	    t + (zone_h * 3600 + zone_m * 60);
}

/* Whether text ends with suffix; sets *stem_len to what comes before. */
static int
ends_with(const char *text, size_t len, const char *suffix, size_t *stem_len)
{
	size_t suffix_len = strlen(suffix);

	if (len < suffix_len || memcmp(text + len - suffix_len, suffix,
	    suffix_len) != 0)
		return 0;
	*stem_len = len - suffix_len;
	return 1;
}

/* "... (status N)" at the end of text: N, with *stem_len before it. */
static const char *
status_suffix(const char *text, size_t len, const char *word,
    size_t *stem_len, size_t *status_len)
{
	char prefix[32];
	const char *p;
	size_t prefix_len, digits;

	if (len == 0 || text[len - 1] != ')')
		return NULL;
	prefix_len = (size_t)snprintf(prefix, sizeof prefix, "%s (status ",
	    word);
	for (digits = 0; digits < len - 1 && text[len - 2 - digits] >= '0' &&
	    text[len - 2 - digits] <= '9'; digits++)
		;
	if (digits == 0 || len < prefix_len + digits + 1)
		return NULL;
	p = text + len - 1 - digits - prefix_len;
	if (memcmp(p, prefix, prefix_len) != 0)
		return NULL;
	*stem_len = (size_t)(p - text);
	*status_len = digits;
	return p + prefix_len;
}

static void
begin_run(struct job_status *js, const char *time, const char *date)
{
	set_text(&js->date, date, strlen(date));
	set_text(&js->start, time, strlen(time));
	set_text(&js->end, "", 0);
	set_text(&js->failed_step, "", 0);
	set_text(&js->exit_status, "", 0);
	js->outcome = NULL;	/* unfinished so far */
	js->sent = js->correction = js->resent = js->already = 0;
}

/*
 * One log line, "TIME JOB DATE TEXT" (job_log). Anything else (a torn
 * line, a line a later job.sh writes that this one does not know) is
 * passed over.
 */
static void
read_log_line(struct job_status *js, char *line)
{
	char *time = line, *job, *date, *text, *status;
	size_t len, stem, status_len;

	if ((job = strchr(time, ' ')) == NULL)
		return;
	*job++ = '\0';
	if ((date = strchr(job, ' ')) == NULL)
		return;
	*date++ = '\0';
	if ((text = strchr(date, ' ')) == NULL)
		return;
	*text++ = '\0';
	if (parse_log_time(time) == -1)
		return;
	len = strlen(text);
	if (strcmp(text, "start") == 0 || strcmp(text, "start (--force)") == 0) {
		begin_run(js, time, date);
		return;
	}
	if (js->start == NULL || *js->start == '\0')
		return;		/* lines before the first start */
	if (js->outcome == NULL)
		set_text(&js->end, time, strlen(time));
	if (strcmp(text, "done") == 0) {
		js->outcome = "ok";
		set_text(&js->last_success, time, strlen(time));
		js->last_success_epoch = parse_log_time(time);
	} else if ((status = (char *)status_suffix(text, len, "failed", &stem,
	    &status_len)) != NULL && stem > 1 && text[stem - 1] == ' ' &&
	    memchr(text, ' ', stem - 1) == NULL) {
		/* "STEP failed (status N)" */
		if (js->outcome == NULL) {
			js->outcome = "failed";
			set_text(&js->failed_step, text, stem - 1);
			set_text(&js->exit_status, status, status_len);
		}
	} else if ((status = (char *)status_suffix(text, len, "stopped",
	    &stem, &status_len)) != NULL && stem == 0) {
		/* a signal between steps; in a step, "STEP failed" came first */
		if (js->outcome == NULL) {
			js->outcome = "failed";
			set_text(&js->exit_status, status, status_len);
		}
	} else if (ends_with(text, len, " ok (sent)", &stem)) {
		js->sent++;
	} else if (ends_with(text, len, " ok (correction)", &stem)) {
		js->correction++;
	} else if (ends_with(text, len, " ok (resent)", &stem)) {
		js->resent++;
	} else if (ends_with(text, len, ", nothing sent", &stem) &&
	    strstr(text, " already delivered to ") != NULL) {
		js->already++;
	}
}

static void
read_log(struct job_status *js, const char *path)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	if ((fp = fopen(path, "r")) == NULL) {
		if (errno != ENOENT)
			die(EX_NOINPUT, "%s: cannot read:", path);
		return;
	}
	while ((len = getline(&line, &cap, fp)) != -1) {
		/* a line torn by a crash mid-write has no newline */
		if (len == 0 || line[len - 1] != '\n')
			break;
		line[len - 1] = '\0';
		read_log_line(js, line);
	}
	if (ferror(fp))
		die(EX_IOERR, "%s: read error:", path);
	free(line);
	fclose(fp);
}

/*
 * Whether a process holds the flock(2) lock on path, from /proc/locks:
 * "ID: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE START END", the device
 * numbers in hex. Waiters ("ID: -> FLOCK ...") hold nothing.
 */
static int
lock_held(const char *path)
{
	struct stat st;
	FILE *fp;
	char line[256], kind[16];
	unsigned int maj, min;
	unsigned long inode;
	int held = 0;

	if (stat(path, &st) != 0)
		return 0;
	if ((fp = fopen("/proc/locks", "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, fp) != NULL) {
		if (sscanf(line, "%*d: %15s %*s %*s %*d %x:%x:%lu", kind,
		    &maj, &min, &inode) != 4 || strcmp(kind, "FLOCK") != 0)
			continue;
		if (maj == major(st.st_dev) && min == minor(st.st_dev) &&
		    inode == st.st_ino) {
			held = 1;
			break;
		}
	}
	fclose(fp);
	return held;
}

static long
count_entries(const char *dir)
{
	DIR *d;
	struct dirent *de;
	long count = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			count++;
	closedir(d);
	return count;
}

static void
job_status_read(struct job_status *js, const char *state_dir, const char *name)
{
	char *path;

	memset(js, 0, sizeof *js);
	js->name = xstrdup(name);
	begin_run(js, "", "");
	js->last_success = xstrdup("");
	path = xasprintf("%s/%s/log", state_dir, name);
	read_log(js, path);
	free(path);
	if (*js->start == '\0')
		js->outcome = "never";
	path = xasprintf("%s/%s/lock", state_dir, name);
	if (lock_held(path)) {
		js->outcome = "running";
		set_text(&js->end, "", 0);
	} else if (js->outcome == NULL) {
		/*
		 * No end and no lock: the run was killed (kill -9, a power
		 * cut); the next run resumes it. Failed, step unknown; the
		 * end is its last line.
		 */
		js->outcome = "failed";
	}
	free(path);
	if (*js->date != '\0') {
		path = xasprintf("%s/%s/steps/%s", state_dir, name, js->date);
		js->steps_done = count_entries(path);
		free(path);
	}
}

static void
job_status_free(struct job_status *js)
{
	free(js->name);
	free(js->date);
	free(js->start);
	free(js->end);
	free(js->failed_step);
	free(js->exit_status);
	free(js->last_success);
}

static void
write_long(struct csv_writer *w, long value)
{
	char buf[32];

	snprintf(buf, sizeof buf, "%ld", value);
	csv_write_str(w, buf);
}

static void
write_status_row(struct csv_writer *w, const struct job_status *js)
{
	csv_write_str(w, js->name);
	csv_write_str(w, js->date);
	csv_write_str(w, js->start);
	csv_write_str(w, js->end);
	csv_write_str(w, js->outcome);
	csv_write_str(w, js->failed_step);
	csv_write_str(w, js->exit_status);
	write_long(w, js->sent);
	write_long(w, js->correction);
	write_long(w, js->resent);
	write_long(w, js->already);
	write_long(w, js->steps_done);
	csv_write_str(w, js->last_success);
	csv_write_end(w);
}

/* A job's directory holds its lock (made by every run), log or ledger. */
static int
is_job_dir(const char *state_dir, const char *name)
{
	static const char *const marks[] = { "lock", "log", "ledger" };
	struct stat st;
	char *path;
	int found = 0;

	if (!job_name_ok(name))
		return 0;
	for (size_t i = 0; !found && i < sizeof marks / sizeof marks[0]; i++) {
		path = xasprintf("%s/%s/%s", state_dir, name, marks[i]);
		found = stat(path, &st) == 0;
		free(path);
	}
	return found;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The jobs under state_dir, sorted, plus extra names not among them. */
static char **
list_jobs(const char *state_dir, char **extra, size_t extra_count,
    size_t *count)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t used = 0, cap = 0;

	if ((d = opendir(state_dir)) == NULL)
		die(EX_NOINPUT, "%s: cannot read:", state_dir);
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (!is_job_dir(state_dir, de->d_name))
			continue;
		if (used == cap) {
			cap = cap ? 2 * cap : 16;
			names = xreallocarray(names, cap, sizeof *names);
		}
		names[used++] = xstrdup(de->d_name);
	}
	if (errno != 0)
		die(EX_IOERR, "%s: read error:", state_dir);
	closedir(d);
	for (size_t i = 0; i < extra_count; i++) {
		size_t j;

		for (j = 0; j < used && strcmp(names[j], extra[i]) != 0; j++)
			;
		if (j < used)
			continue;
		if (used == cap) {
			cap = cap ? 2 * cap : 16;
			names = xreallocarray(names, cap, sizeof *names);
		}
		names[used++] = xstrdup(extra[i]);
	}
	if (used > 0)
		qsort(names, used, sizeof *names, compare_names);
	*count = used;
	return names;
}

/*
 * --late NAME=HH:MM[,NAME=HH:MM...], appended to *deadlines.
 */
static void
parse_deadlines(const char *arg, struct deadline **deadlines, size_t *count)
{
	char *copy = xstrdup(arg), *item, *save = NULL;

	for (item = strtok_r(copy, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		int hour, min, used = 0;

		if (eq == NULL)
			die(EX_USAGE, "--late: %s: want NAME=HH:MM", item);
		*eq = '\0';
		if (!job_name_ok(item))
			die(EX_USAGE, "--late: %s: not a job name", item);
		if (sscanf(eq + 1, "%2d:%2d%n", &hour, &min, &used) != 2 ||
		    eq[used + 1] != '\0' || strlen(eq + 1) != 5 ||
		    hour < 0 || hour > 23 || min < 0 || min > 59)
			die(EX_USAGE, "--late: %s: want a time HH:MM", eq + 1);
		*deadlines = xreallocarray(*deadlines, *count + 1,
		    sizeof **deadlines);
		(*deadlines)[*count].job = xstrdup(item);
		(*deadlines)[*count].minutes = hour * 60 + min;
		(*count)++;
	}
	if (*count == 0)
		die(EX_USAGE, "--late: want NAME=HH:MM[,...]");
	free(copy);
}

/*
 * Late: the deadline has passed today (local time) and the job has not
 * ended a run with success since local midnight. Says so on stderr.
 */
static int
check_late(const struct job_status *js, const struct deadline *dl,
    time_t now)
{
	struct tm today;
	time_t midnight;

	if (localtime_r(&now, &today) == NULL)
		die(EX_SOFTWARE, "localtime:");
	if (today.tm_hour * 60 + today.tm_min < dl->minutes)
		return 0;
	today.tm_hour = today.tm_min = today.tm_sec = 0;
	today.tm_isdst = -1;
	midnight = mktime(&today);
	if (js->last_success_epoch != 0 && js->last_success_epoch >= midnight)
		return 0;
	if (strcmp(js->outcome, "failed") == 0 && *js->failed_step != '\0')
		warn("%s: no success today by %02d:%02d (last run %s failed "
		    "at step %s with status %s)", js->name, dl->minutes / 60,
		    dl->minutes % 60, js->date, js->failed_step,
		    js->exit_status);
	else if (strcmp(js->outcome, "never") == 0)
		warn("%s: no success today by %02d:%02d (never run)",
		    js->name, dl->minutes / 60, dl->minutes % 60);
	else
		warn("%s: no success today by %02d:%02d (last run %s %s)",
		    js->name, dl->minutes / 60, dl->minutes % 60, js->date,
		    js->outcome);
	return 1;
}

/* A ledger date matches --date D when it is D or an hour of D. */
static int
date_matches(const char *date, const char *want)
{
	size_t len = strlen(want);

	return strncmp(date, want, len) == 0 &&
	    (date[len] == '\0' || date[len] == 'T');
}

static int
is_sha256(const char *s)
{
	return strlen(s) == 64 && s[strspn(s, "0123456789abcdef")] == '\0';
}

/*
 * The ledger: '#' comments, then tab-separated lines whose first six
 * fields are time, date, key, sha256, target, kind. Fields after the
 * sixth are not read; lines of another kind than the three deliveries
 * (sent, correction, resent) are passed over, and so is a torn last line.
 */
static void
write_deliveries(struct csv_writer *w, const char *state_dir,
    const char *name, const char *want_date)
{
	char *path = xasprintf("%s/%s/ledger", state_dir, name);
	char *line = NULL, *field[6];
	size_t cap = 0;
	ssize_t len;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		if (errno != ENOENT)
			die(EX_NOINPUT, "%s: cannot read:", path);
		free(path);
		return;
	}
	while ((len = getline(&line, &cap, fp)) != -1) {
		char *p = line, *tab;
		int nfields = 0;

		if (line[len - 1] != '\n')
			break;
		line[len - 1] = '\0';
		if (line[0] == '#')
			continue;
		while (nfields < 6) {
			field[nfields++] = p;
			if ((tab = strchr(p, '\t')) == NULL)
				break;
			*tab = '\0';
			p = tab + 1;
		}
		if (nfields < 6 || parse_log_time(field[0]) == -1 ||
		    !is_sha256(field[3]))
			continue;
		if (strcmp(field[5], "sent") != 0 &&
		    strcmp(field[5], "correction") != 0 &&
		    strcmp(field[5], "resent") != 0)
			continue;
		if (want_date != NULL && !date_matches(field[1], want_date))
			continue;
		csv_write_str(w, name);
		for (int i = 0; i < 6; i++)
			csv_write_str(w, field[i]);
		csv_write_end(w);
	}
	if (ferror(fp))
		die(EX_IOERR, "%s: read error:", path);
	free(line);
	fclose(fp);
	free(path);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "job", required_argument, NULL, 'j' },
		{ "late", required_argument, NULL, 'l' },
		{ "deliveries", no_argument, NULL, 'D' },
		{ "date", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *state_dir, *job = NULL, *want_date = NULL;
	struct deadline *deadlines = NULL;
	size_t deadline_count = 0, job_count = 0;
	char **jobs, **extra;
	int deliveries = 0, opt, late = 0;
	struct csv_writer w;
	time_t now = time(NULL);

	setprogname(argv[0]);
	while ((opt = opt_next(argc, argv, "+j:l:Dd:h", longopts, NULL)) !=
	    -1) {
		switch (opt) {
		case 'j':
			if (!job_name_ok(optarg))
				die(EX_USAGE, "--job: %s: not a job name "
				    "(letters, digits, _ and -)", optarg);
			job = optarg;
			break;
		case 'l':
			parse_deadlines(optarg, &deadlines, &deadline_count);
			break;
		case 'D':
			deliveries = 1;
			break;
		case 'd':
			want_date = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage();
	if (want_date != NULL) {
		int y, m, d, used = 0;

		if (!deliveries)
			die(EX_USAGE, "--date goes with --deliveries");
		if (sscanf(want_date, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3 ||
		    used != 10 || want_date[10] != '\0')
			die(EX_USAGE, "--date: %s: want YYYY-MM-DD", want_date);
	}
	if (deliveries && deadline_count > 0)
		die(EX_USAGE, "--late does not go with --deliveries");
	for (size_t i = 0; job != NULL && i < deadline_count; i++)
		if (strcmp(deadlines[i].job, job) != 0)
			die(EX_USAGE, "--late %s: not the job of --job %s",
			    deadlines[i].job, job);

	state_dir = getenv("SCHEDFEED_STATE_DIR");
	if (state_dir == NULL || *state_dir == '\0')
		state_dir = DEFAULT_STATE_DIR;

	csv_writer_init(&w, stdout);
	if (job != NULL) {
		/* the one job, even when it has never run */
		jobs = xmalloc(sizeof *jobs);
		jobs[0] = xstrdup(job);
		job_count = 1;
	} else {
		/* every job, and every job named by --late */
		extra = xcalloc(deadline_count + 1, sizeof *extra);
		for (size_t i = 0; i < deadline_count; i++)
			extra[i] = deadlines[i].job;
		jobs = list_jobs(state_dir, extra, deadline_count, &job_count);
		free(extra);
	}

	if (deliveries) {
		csv_write_str(&w, "job");
		csv_write_str(&w, "time");
		csv_write_str(&w, "date");
		csv_write_str(&w, "file");
		csv_write_str(&w, "sha256");
		csv_write_str(&w, "target");
		csv_write_str(&w, "kind");
		csv_write_end(&w);
		for (size_t i = 0; i < job_count; i++)
			write_deliveries(&w, state_dir, jobs[i], want_date);
	} else {
		static const char *const header[] = {
			"job", "date", "start", "end", "outcome",
			"failed_step", "status", "sent", "correction",
			"resent", "already_delivered", "steps_done",
			"last_success"
		};

		for (size_t i = 0; i < sizeof header / sizeof header[0]; i++)
			csv_write_str(&w, header[i]);
		csv_write_end(&w);
		for (size_t i = 0; i < job_count; i++) {
			struct job_status js;

			job_status_read(&js, state_dir, jobs[i]);
			write_status_row(&w, &js);
			/* the rows first, then what is late */
			csv_writer_flush(&w);
			fflush(stdout);
			for (size_t k = 0; k < deadline_count; k++)
				if (strcmp(deadlines[k].job, js.name) == 0)
					late |= check_late(&js, &deadlines[k],
					    now);
			job_status_free(&js);
		}
	}
	csv_writer_flush(&w);
	for (size_t i = 0; i < job_count; i++)
		free(jobs[i]);
	free(jobs);
	for (size_t i = 0; i < deadline_count; i++)
		free(deadlines[i].job);
	free(deadlines);
	finish_stdout();
	return late ? 1 : 0;
}
