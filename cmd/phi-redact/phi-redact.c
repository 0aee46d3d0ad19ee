/* phi-redact: de-identify a CSV stream by a column policy, default deny */
/* SHA256_Init, SHA256_Transform and friends, deprecated in OpenSSL 3.0 but
 * kept by it: the one interface that lets an HMAC start from a precomputed
 * state without a heap copy (see hmac_init and hmac_words). */
#define OPENSSL_API_COMPAT 0x10101000L

#include <endian.h>
#include <getopt.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csvio.h"
#include "date.h"
#include "err.h"
#include "mem.h"
#include "opt.h"
#include "policy.h"
#include "secret.h"

#define KEY_MIN 32
#define HMAC_LEN 32
#define TOKEN_PREFIX "h1_"
/*
 * A token keeps the first 128 bits of the HMAC (RFC 2104 allows truncation
 * to half the output; RFC 4231 test case 5 is one): colliding tokens stay
 * out of reach (about 1e-21 for a billion distinct values), cells stay short
 * enough for a partner's 40-character identifier column, and each costs
 * half the bytes of the full 64 hex digits.
 */
#define TOKEN_MAC_BYTES 16
#define TOKEN_LEN (sizeof TOKEN_PREFIX - 1 + 2 * TOKEN_MAC_BYTES)
/* Room for any one transformed cell: a token, or a date and its time. */
#define CELL_MAX 96
#define SHIFT_DAYS_DEFAULT 365
#define MASK_TEXT_DEFAULT "REDACTED"
/* The shift offsets come from a key of their own, so that a token (the
 * HMAC of the same subject under the main key) says nothing about them. */
#define SHIFT_KEY_LABEL "phi-redact date shift v1"

struct hmac {
	SHA256_CTX inner, outer;	/* after the key's padded blocks */
};

struct column {
	char *label;		/* the header name, or "#N" when it is empty */
	enum rule rule;
};

/*
 * The redactor: settled once, then read only, except the row's working
 * space (arena, out, out_len, masked, writer), which each worker of
 * csv_read_chunks has a copy of (redactor_fork).
 */
struct redactor {
	struct redactor *parent;	/* a worker's copy: whose it is */
	const struct policy *policy;
	const char *input_name;
	struct column *column;
	size_t column_count;
	int uses_shift;
	size_t subject;		/* index of the --subject column */
	struct hmac token_mac, shift_mac;
	long shift_days;
	int as_of_year, as_of_month, as_of_day;
	int mask_errors;
	const char *mask_text;
	size_t mask_len;
	int have_header;	/* the columns are planned */
	char *arena;		/* CELL_MAX bytes per column */
	const char **out;	/* each output cell: a field, the arena or */
	size_t *out_len;	/* the mask text */
	unsigned char *plain;	/* per cell: made here of bytes the writer
				 * never quotes (tokens_plain, digits_plain) */
	int tokens_plain, digits_plain;
	unsigned long *masked;	/* per column: unreadable cells masked */
	struct csv_writer writer;
};

/* "000102...feff": each byte's two hex digits, at twice its value */
#define HEX_ROW(h) h "0" h "1" h "2" h "3" h "4" h "5" h "6" h "7" \
	h "8" h "9" h "a" h "b" h "c" h "d" h "e" h "f"
static const char hex_pairs[] = HEX_ROW("0") HEX_ROW("1") HEX_ROW("2")
    HEX_ROW("3") HEX_ROW("4") HEX_ROW("5") HEX_ROW("6") HEX_ROW("7")
    HEX_ROW("8") HEX_ROW("9") HEX_ROW("a") HEX_ROW("b") HEX_ROW("c")
    HEX_ROW("d") HEX_ROW("e") HEX_ROW("f");

/* Safe Harbor's three-digit ZIP prefixes of 20,000 people or fewer */
static const unsigned short zip3_restricted[] = {
	36, 59, 63, 102, 203, 556, 692, 790, 821, 823, 830, 831, 878, 879,
	884, 890, 893,
};

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: %s [-p policy] [--profile safe-harbor] "
	    "[--keep|--drop|--hash|--mask|--year|--shift|--zip3|--age cols]\n"
	    "\t[--subject col] [--shift-days n] [--as-of yyyy-mm-dd] "
	    "[--on-error stop|mask]\n"
	    "\t[--mask-text text] [--pass-unknown] [--max-record bytes] [file]\n",
	    progname);
	exit(EX_USAGE);
}

/*
 * HMAC-SHA256 (RFC 2104) over OpenSSL's SHA-256, with the key's inner and
 * outer blocks hashed once: each HMAC then costs two SHA-256 blocks and two
 * struct copies. OpenSSL 3's EVP_MAC does the same work but duplicates its
 * digest contexts on the heap for every message: with it the benchmark ran
 * at 62 MB/s, with this at 85 (single-threaded, before other changes).
 * The tests check this against RFC 4231 and `openssl dgst -mac HMAC`.
 */
static void
hmac_init(struct hmac *h, const unsigned char *key, size_t key_len)
{
	unsigned char block[SHA256_CBLOCK], pad[SHA256_CBLOCK];

	memset(block, 0, sizeof block);
	if (key_len > sizeof block)
		SHA256(key, key_len, block);
	else
		memcpy(block, key, key_len);
	for (size_t i = 0; i < sizeof block; i++)
		pad[i] = block[i] ^ 0x36;
	SHA256_Init(&h->inner);
	SHA256_Update(&h->inner, pad, sizeof pad);
	for (size_t i = 0; i < sizeof block; i++)
		pad[i] = block[i] ^ 0x5c;
	SHA256_Init(&h->outer);
	SHA256_Update(&h->outer, pad, sizeof pad);
	explicit_bzero(block, sizeof block);
	explicit_bzero(pad, sizeof pad);
}

/*
 * A message of at most SHORT_MAX bytes fits, with SHA-256's padding (0x80,
 * zeros, the bit length in 64 bits), in the one block after the key's:
 * that block is built here and given to SHA256_Transform, OpenSSL's
 * compression function, and so is the outer block (the 32-byte inner
 * digest, padded). This skips SHA256_Update's buffering and
 * SHA256_Final's padding and OPENSSL_cleanse, a fifth of the hashing time
 * on bench/phi-redact.sh. Longer messages take SHA256_Update and _Final.
 * The tests compare both paths, every length from 1 to 130, with
 * `openssl dgst -mac HMAC`.
 */
#define SHORT_MAX (SHA256_CBLOCK - 1 - 8)

/* The digest held in a context's state words, big-endian as SHA-256's. */
static void
state_digest(const SHA_LONG *h, unsigned char *out)
{
	for (int i = 0; i < 8; i++) {
		uint32_t be = htobe32(h[i]);

		memcpy(out + 4 * i, &be, 4);
	}
}

/* The end of SHA-256's padding: the message's length in bits, counting
 * the key block before it, in the block's last 8 bytes. */
static void
put_length(unsigned char *block, size_t len)
{
	uint64_t be = htobe64((uint64_t)(SHA256_CBLOCK + len) * 8);

	memcpy(block + SHA256_CBLOCK - 8, &be, 8);
}

/*
 * HMAC-SHA256 of data under h, as the eight 32-bit words of the digest
 * (its bytes are each word's, most significant first): tokens and
 * offsets take their bits from the words, not from bytes stored and
 * loaded again.
 */
static void
hmac_words(const struct hmac *h, const void *data, size_t len,
    SHA_LONG out[8])
{
	SHA256_CTX ctx;
	unsigned char block[SHA256_CBLOCK];

	if (len <= SHORT_MAX) {
		memcpy(ctx.h, h->inner.h, sizeof ctx.h);
		memset(block, 0, sizeof block);
		memcpy(block, data, len);
		block[len] = 0x80;
		put_length(block, len);
		SHA256_Transform(&ctx, block);
		state_digest(ctx.h, block);
	} else {
		ctx = h->inner;
		SHA256_Update(&ctx, data, len);
		SHA256_Final(block, &ctx);
	}
	/* the outer hash of the inner digest, now at the start of block */
	block[HMAC_LEN] = 0x80;
	memset(block + HMAC_LEN + 1, 0, SHA256_CBLOCK - 8 - HMAC_LEN - 1);
	put_length(block, HMAC_LEN);
	memcpy(ctx.h, h->outer.h, sizeof ctx.h);
	SHA256_Transform(&ctx, block);
	memcpy(out, ctx.h, 8 * sizeof *out);
}

static void
hmac_sha256(const struct hmac *h, const void *data, size_t len,
    unsigned char out[HMAC_LEN])
{
	SHA_LONG words[8];

	hmac_words(h, data, len, words);
	state_digest(words, out);
}

static void
hmac_free(struct hmac *h)
{
	explicit_bzero(h, sizeof *h);
}

static void
load_key(struct redactor *r)
{
	char *key = secret_get("PHI_REDACT_KEY");
	unsigned char shift_key[HMAC_LEN];
	size_t key_len;

	if (key == NULL)
		die(EX_CONFIG, "hash and shift rules need a key: set "
		    "PHI_REDACT_KEY or PHI_REDACT_KEY_FILE");
	key_len = strlen(key);
	if (key_len < KEY_MIN)
		die(EX_CONFIG, "the key in PHI_REDACT_KEY or PHI_REDACT_KEY_FILE "
		    "is shorter than %d bytes", KEY_MIN);
	hmac_init(&r->token_mac, (unsigned char *)key, key_len);
	hmac_sha256(&r->token_mac, SHIFT_KEY_LABEL, strlen(SHIFT_KEY_LABEL),
	    shift_key);
	hmac_init(&r->shift_mac, shift_key, sizeof shift_key);
	explicit_bzero(shift_key, sizeof shift_key);
	secret_free(key);
}

static size_t
rule_hash(struct redactor *r, const char *s, size_t len, char *out)
{
	SHA_LONG mac[8];
	char *p = out + sizeof TOKEN_PREFIX - 1;

	hmac_words(&r->token_mac, s, len, mac);
	memcpy(out, TOKEN_PREFIX, sizeof TOKEN_PREFIX - 1);
	for (size_t i = 0; i < TOKEN_MAC_BYTES / 4; i++) {
		for (int shift = 24; shift >= 0; shift -= 8) {
			memcpy(p, hex_pairs + 2 * ((mac[i] >> shift) & 0xff), 2);
			p += 2;
		}
	}
	return TOKEN_LEN;
}

static size_t
rule_year(const char *s, size_t len, char *out)
{
	struct date_text dt;

	if (date_parse(s, len, &dt) != 0)
		return 0;
	return date_format_year(dt.year, out);
}

/* 1..shift_days days, either way, from the HMAC of the subject. */
static long
shift_offset(struct redactor *r, const char *subject, size_t len)
{
	SHA_LONG mac[8];
	uint64_t bits;
	long days;

	/* the digest's first 8 bytes, big-endian; its 9th decides the sign */
	hmac_words(&r->shift_mac, subject, len, mac);
	bits = (uint64_t)mac[0] << 32 | mac[1];
	days = 1 + (long)(bits % (uint64_t)r->shift_days);
	return (mac[2] >> 24 & 1) ? -days : days;
}

static size_t
rule_shift(long offset, const char *s, size_t len, char *out)
{
	struct date_text dt;
	int year, month, day;
	size_t date_len, time_len;

	if (date_parse(s, len, &dt) != 0)
		return 0;
	date_from_days(date_to_days(dt.year, dt.month, dt.day) + offset,
	    &year, &month, &day);
	if ((date_len = date_format(&dt, year, month, day, out)) == 0)
		return 0;
	time_len = len - dt.date_len;
	if (date_len + time_len > CELL_MAX)
		return 0;
	memcpy(out + date_len, s + dt.date_len, time_len);
	return date_len + time_len;
}

static size_t
rule_zip3(const char *s, size_t len, char *out)
{
	size_t digit_count = 0;
	unsigned prefix;

	for (size_t i = 0; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			digit_count++;
		else if (!(s[i] == '-' && i == 5))
			return 0;
	}
	/* 12345, 12345-6789 or 123456789 */
	if (!((len == 5 && digit_count == 5) ||
	    (len == 10 && digit_count == 9 && s[5] == '-') ||
	    (len == 9 && digit_count == 9)))
		return 0;
	prefix = (unsigned)(s[0] - '0') * 100 + (unsigned)(s[1] - '0') * 10 +
	    (unsigned)(s[2] - '0');
	memcpy(out, s, 3);
	for (size_t i = 0; i < sizeof zip3_restricted / sizeof *zip3_restricted;
	    i++)
		if (prefix == zip3_restricted[i]) {
			memcpy(out, "000", 3);
			break;
		}
	return 3;
}

/* An age in years, or a date of birth taken at --as-of. */
static size_t
rule_age(struct redactor *r, const char *s, size_t len, char *out)
{
	struct date_text dt;
	int age = 0;
	size_t i;

	for (i = 0; i < len && i < 3 && s[i] >= '0' && s[i] <= '9'; i++)
		age = age * 10 + (s[i] - '0');
	if (i == len) {
		if (age > 89) {
			memcpy(out, "90+", 3);
			return 3;
		}
		memcpy(out, s, len);
		return len;
	}
	if (date_parse(s, len, &dt) != 0)
		return 0;
	if (date_age(dt.year, dt.month, dt.day, r->as_of_year, r->as_of_month,
	    r->as_of_day) > 89) {
		memcpy(out, "90+", 3);
		return 3;
	}
	return date_format_year(dt.year, out);
}

static const char *
unreadable_reason(enum rule rule)
{
	switch (rule) {
	case RULE_YEAR:
	case RULE_SHIFT:
		return "not a date";
	case RULE_ZIP3:
		return "not a ZIP code";
	case RULE_AGE:
		return "neither an age nor a date";
	default:
		return "unreadable";
	}
}

/* Writes the cells of every column not dropped. */
static void
write_row(struct redactor *r, const char *const *cell, const size_t *len,
    const unsigned char *plain)
{
	for (size_t i = 0; i < r->column_count; i++) {
		if (r->column[i].rule == RULE_DROP)
			continue;
		if (plain != NULL && plain[i])
			csv_write_plain(&r->writer, cell[i], len[i]);
		else
			csv_write_field(&r->writer, cell[i], len[i]);
	}
	csv_write_end(&r->writer);
}

/* A row's working space, for the columns of the header. */
static void
redactor_space(struct redactor *r)
{
	r->arena = xmalloc(r->column_count * CELL_MAX);
	r->out = xcalloc(r->column_count, sizeof *r->out);
	r->out_len = xcalloc(r->column_count, sizeof *r->out_len);
	r->masked = xcalloc(r->column_count, sizeof *r->masked);
	r->plain = xcalloc(r->column_count, sizeof *r->plain);
}

static void
redactor_space_free(struct redactor *r)
{
	free(r->arena);
	free(r->out);
	free(r->out_len);
	free(r->masked);
	free(r->plain);
}

static int
take_header(struct redactor *r, struct csv_row *row)
{
	const struct settings *set = &r->policy->merged;
	size_t unknown = 0;

	r->column_count = row->count;
	r->column = xcalloc(row->count, sizeof *r->column);
	for (size_t i = 0; i < row->count; i++) {
		struct column *c = &r->column[i];
		const char *origin;

		c->label = row->len[i] > 0 ? xstrdup(row->field[i]) :
		    xasprintf("#%zu", i + 1);
		c->rule = policy_rule(r->policy, row->field[i], &origin);
		if (c->rule != RULE_NONE)
			continue;
		if (set->pass_unknown) {
			warn("%s: column %s has no rule; passed unchanged "
			    "(--pass-unknown)", r->input_name, c->label);
			c->rule = RULE_KEEP;
			continue;
		}
		warn("%s: column %s has no rule", r->input_name, c->label);
		unknown++;
	}
	if (unknown > 0) {
		warn("%s: %zu column%s without a rule: nothing written "
		    "(default deny; give each a rule, or --drop it)",
		    r->input_name, unknown, unknown == 1 ? "" : "s");
		return EX_DATAERR;
	}
	for (size_t i = 0; i < row->count; i++)
		if (r->column[i].rule == RULE_SHIFT)
			r->uses_shift = 1;
	if (r->uses_shift) {
		for (r->subject = 0; r->subject < row->count; r->subject++)
			if (strcmp(row->field[r->subject], set->subject) == 0)
				break;
		if (r->subject == row->count) {
			warn("%s: the subject column %s is not in the header",
			    r->input_name, set->subject);
			return EX_DATAERR;
		}
	}
	redactor_space(r);
	r->have_header = 1;
	write_row(r, (const char *const *)row->field, row->len, NULL);
	return 0;
}

/*
 * Every record, the header first; in input order within a chunk, on the
 * chunk's worker, with that worker's copy of the redactor.
 */
static int
redact_row(struct csv_row *row, void *ctx)
{
	struct redactor *r = ctx;
	long offset = 0;
	int have_offset = 0;

	if (!r->have_header)
		return take_header(r, row);
	if (row->count != r->column_count) {
		csv_row_warn(row, 0, ": %zu fields where the header has %zu",
		    row->count, r->column_count);
		return EX_DATAERR;
	}
	/* Transform the whole row first: a row is written whole or not. */
	for (size_t i = 0; i < row->count; i++) {
		struct column *c = &r->column[i];
		const char *s = row->field[i];
		size_t len = row->len[i], out_len = 0;
		char *cell = r->arena + i * CELL_MAX;
		const char *reason;

		r->out[i] = cell;
		r->plain[i] = 0;
		if (len == 0 || c->rule == RULE_KEEP || c->rule == RULE_DROP) {
			r->out[i] = s;
			r->out_len[i] = len;
			continue;
		}
		switch (c->rule) {
		case RULE_HASH:
			out_len = rule_hash(r, s, len, cell);
			r->plain[i] = (unsigned char)r->tokens_plain;
			break;
		case RULE_MASK:
			r->out[i] = r->mask_text;
			out_len = r->mask_len;
			break;
		case RULE_YEAR:
			out_len = rule_year(s, len, cell);
			break;
		case RULE_SHIFT:
			if (!have_offset && row->len[r->subject] > 0) {
				offset = shift_offset(r, row->field[r->subject],
				    row->len[r->subject]);
				have_offset = 1;
			}
			if (have_offset)
				out_len = rule_shift(offset, s, len, cell);
			break;
		case RULE_ZIP3:
			out_len = rule_zip3(s, len, cell);
			r->plain[i] = (unsigned char)r->digits_plain;
			break;
		case RULE_AGE:
			out_len = rule_age(r, s, len, cell);
			break;
		default:
			die(EX_SOFTWARE, "column %s: no rule", c->label);
		}
		r->out_len[i] = out_len;
		if (out_len > 0 || c->rule == RULE_MASK)
			continue;
		if (r->mask_errors) {
			r->plain[i] = 0;
			r->masked[i]++;
			r->out[i] = r->mask_text;
			r->out_len[i] = r->mask_len;
			continue;
		}
		if (c->rule == RULE_SHIFT && !have_offset)
			csv_row_warn(row, 0, ", column %s: the subject column "
			    "%s is empty, so there is no offset to shift by",
			    c->label, r->column[r->subject].label);
		else {
			reason = unreadable_reason(c->rule);
			csv_row_warn(row, 0, ", column %s: %s (--on-error mask "
			    "would mask it)", c->label, reason);
		}
		return EX_DATAERR;
	}
	write_row(r, r->out, r->out_len, r->plain);
	return 0;
}

/* csv_read_chunks' hooks: where rows write, and a copy per worker. */
static void
redact_output(void *ctx, FILE *fp)
{
	struct redactor *r = ctx;

	if (fp == NULL) {
		csv_writer_flush(&r->writer);
		return;
	}
	r->writer.fp = fp;
	r->writer.fields_in_row = 0;
}

static int
redact_ready(void *ctx)
{
	return ((struct redactor *)ctx)->have_header;
}

/* The columns, keys and settings are shared and read only. */
static void *
redactor_fork(void *ctx)
{
	struct redactor *r = ctx, *w = xmalloc(sizeof *w);

	*w = *r;
	w->parent = r;
	redactor_space(w);
	return w;
}

/* A worker's counts go back to the redactor it was forked from. */
static void
redactor_unfork(void *ctx)
{
	struct redactor *w = ctx;

	for (size_t i = 0; i < w->column_count; i++)
		w->parent->masked[i] += w->masked[i];
	redactor_space_free(w);
	free(w);
}

static void
redactor_free(struct redactor *r)
{
	hmac_free(&r->token_mac);
	hmac_free(&r->shift_mac);
	for (size_t i = 0; i < r->column_count; i++)
		free(r->column[i].label);
	free(r->column);
	redactor_space_free(r);
}

static void
today(int *year, int *month, int *day)
{
	time_t now = time(NULL);
	struct tm tm;

	if (localtime_r(&now, &tm) == NULL)
		die(EX_SOFTWARE, "cannot tell today's date:");
	*year = tm.tm_year + 1900;
	*month = tm.tm_mon + 1;
	*day = tm.tm_mday;
}

static void
settle(struct redactor *r, const struct policy *policy)
{
	const struct settings *set = &policy->merged;

	r->policy = policy;
	if (policy_uses(policy, RULE_SHIFT) && set->subject == NULL)
		die(EX_USAGE, "shift rules need --subject (or a subject line "
		    "in the policy): the column that says whose row it is");
	r->shift_days = set->shift_days ? set->shift_days : SHIFT_DAYS_DEFAULT;
	if (set->as_of_set) {
		r->as_of_year = set->as_of_year;
		r->as_of_month = set->as_of_month;
		r->as_of_day = set->as_of_day;
	} else
		today(&r->as_of_year, &r->as_of_month, &r->as_of_day);
	r->mask_errors = set->on_error == ON_ERROR_MASK;
	r->mask_text = set->mask_text ? set->mask_text : MASK_TEXT_DEFAULT;
	r->mask_len = strlen(r->mask_text);
	if (set->pass_unknown)
		warn("warning: --pass-unknown: columns without a rule pass "
		    "unchanged, identifiers included");
	if (policy_uses(policy, RULE_HASH) || policy_uses(policy, RULE_SHIFT))
		load_key(r);
}

static const struct option long_options[] = {
	{ "keep", required_argument, NULL, 0 },
	{ "drop", required_argument, NULL, 0 },
	{ "hash", required_argument, NULL, 0 },
	{ "mask", required_argument, NULL, 0 },
	{ "year", required_argument, NULL, 0 },
	{ "shift", required_argument, NULL, 0 },
	{ "zip3", required_argument, NULL, 0 },
	{ "age", required_argument, NULL, 0 },
	{ "profile", required_argument, NULL, 0 },
	{ "subject", required_argument, NULL, 0 },
	{ "shift-days", required_argument, NULL, 0 },
	{ "as-of", required_argument, NULL, 0 },
	{ "on-error", required_argument, NULL, 0 },
	{ "mask-text", required_argument, NULL, 0 },
	{ "pass-unknown", no_argument, NULL, 0 },
	{ "key", optional_argument, NULL, 'K' },
	{ "policy", required_argument, NULL, 'p' },
	{ "max-record", required_argument, NULL, 'M' },
	{ NULL, 0, NULL, 0 },
};

int
main(int argc, char *argv[])
{
	static const struct csv_chunk_ops ops = {
		.row = redact_row,
		.output = redact_output,
		.ready = redact_ready,
		.fork = redactor_fork,
		.unfork = redactor_unfork,
	};
	static struct policy policy;
	struct redactor r = { 0 };
	struct csv_chunks_opts read_opts = {
		.read.has_header = 1,
	};
	unsigned long counted;
	const char **policy_files = xcalloc((size_t)argc, sizeof *policy_files);
	size_t policy_file_count = 0;
	FILE *in = stdin;
	int ch, index, status;

	setprogname(argv[0]);
	while ((ch = opt_next(argc, argv, "+p:", long_options, &index)) !=
	    -1) {
		switch (ch) {
		case 0: {
			char *where = xasprintf("--%s",
			    long_options[index].name);

			policy_word(&policy, LAYER_OPTION,
			    long_options[index].name, optarg, where);
			free(where);
			break;
		}
		case 'p':
			policy_files[policy_file_count++] = optarg;
			break;
		case 'M':
			read_opts.read.max_record = opt_size("--max-record", optarg,
			    OPT_RECORD_MIN, OPT_RECORD_MAX);
			break;
		case 'K':
			secret_refuse_option("--key", "PHI_REDACT_KEY");
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		usage();

	for (size_t i = 0; i < policy_file_count; i++)
		policy_load(&policy, policy_files[i]);
	free(policy_files);
	policy_finish(&policy);
	settle(&r, &policy);

	r.input_name = "stdin";
	if (argc == 1 && strcmp(argv[0], "-") != 0) {
		r.input_name = argv[0];
		if ((in = fopen(argv[0], "re")) == NULL)
			die(EX_NOINPUT, "%s:", argv[0]);
	}
	read_opts.workers = csv_workers();
	setvbuf(stdout, NULL, _IOFBF, 64 * 1024);
	csv_writer_init(&r.writer, stdout);
	r.writer.hold = 1;	/* each chunk's rows, flushed at its end */
	r.tokens_plain = !csv_writer_quotes_any(&r.writer,
	    TOKEN_PREFIX "0123456789abcdef");
	r.digits_plain = !csv_writer_quotes_any(&r.writer, "0123456789");
	status = csv_read_chunks(in, r.input_name, stdout, &read_opts, &ops,
	    &r, &counted);
	if (in != stdin)
		fclose(in);
	r.writer.fp = stdout;
	csv_writer_flush(&r.writer);
	/* One rule with csv-shape (schedfeed(7)): no header is bad input. */
	if (status == 0 && !r.have_header) {
		warn("%s: no header row", r.input_name);
		status = EX_DATAERR;
	}
	for (size_t i = 0; i < r.column_count && r.masked != NULL; i++)
		if (r.masked[i] > 0)
			warn("%s: column %s: %lu unreadable cell%s masked "
			    "(--on-error mask)", r.input_name, r.column[i].label,
			    r.masked[i], r.masked[i] == 1 ? "" : "s");
	redactor_free(&r);
	finish_stdout();
	return status;
}
