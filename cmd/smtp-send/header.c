/* header.c: header text for smtp-send; curl writes custom headers verbatim */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "err.h"
#include "header.h"
#include "mem.h"
#include "utf8.h"

/* RFC 5322 says lines SHOULD stay within 78 characters. */
#define LINE_SOFT_MAX 78
/*
 * Bytes of text per encoded word: 42 bytes are 56 base64 characters, and
 * "=?UTF-8?B?" + 56 + "?=" is 68, so even the first line, after
 * "Subject: ", stays within 78 columns.
 */
#define WORD_TEXT_MAX 42

struct buf {
	char *s;
	size_t len, cap;
};

static void
buf_add(struct buf *b, const char *s, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		b->cap = (b->len + len + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, len);
	b->len += len;
	b->s[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

int
address_plain(const char *s)
{
	const char *at = strchr(s, '@');
	size_t len = strlen(s);

	if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@'))
		return 0;
	if (len > 254)
		return 0;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c >= 0x7f || strchr("<>()[],;:\\\"", c))
			return 0;
	}
	return 1;
}

char *
header_address_list(const char *name, char *const *addr, size_t count)
{
	struct buf b = { 0 };
	size_t column;

	buf_str(&b, name);
	buf_str(&b, ":");
	column = b.len;
	for (size_t i = 0; i < count; i++) {
		size_t len = strlen(addr[i]);

		if (i > 0) {
			buf_str(&b, ",");
			column++;
		}
		if (i > 0 && column + 1 + len + 1 > LINE_SOFT_MAX) {
			buf_str(&b, "\r\n");
			column = 0;
		}
		buf_str(&b, " ");
		buf_add(&b, addr[i], len);
		column += 1 + len;
	}
	return b.s;
}

/* Length of the UTF-8 sequence that starts with byte c (input is valid). */
static size_t
utf8_seq_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c < 0xE0)
		return 2;
	if (c < 0xF0)
		return 3;
	return 4;
}

static int
needs_encoding(const char *text, size_t name_len)
{
	const unsigned char *p = (const unsigned char *)text;

	if (name_len + 2 + strlen(text) > LINE_SOFT_MAX)
		return 1;
	/* Text that looks like an encoded word would be decoded by readers. */
	if (strstr(text, "=?") != NULL)
		return 1;
	for (; *p != '\0'; p++)
		if (*p < ' ' || *p >= 0x7f)
			return 1;
	return 0;
}

char *
header_unstructured(const char *name, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t len = strlen(text), pos = 0;
	struct buf b = { 0 };

	if (!utf8_valid(p, len))
		return NULL;
	for (size_t i = 0; i < len; i++)
		if (p[i] < ' ' || p[i] == 0x7f)
			return NULL;
	buf_str(&b, name);
	buf_str(&b, ":");
	if (!needs_encoding(text, strlen(name))) {
		buf_str(&b, " ");
		buf_str(&b, text);
		return b.s;
	}
	while (pos < len) {
		unsigned char out[4 * WORD_TEXT_MAX / 3 + 4];
		size_t take = 0;
		int n;

		/* Whole characters only: a word must decode on its own. */
		while (pos + take < len) {
			size_t seq = utf8_seq_len(p[pos + take]);

			if (take + seq > WORD_TEXT_MAX)
				break;
			take += seq;
		}
		n = EVP_EncodeBlock(out, p + pos, (int)take);
		buf_str(&b, pos == 0 ? " =?UTF-8?B?" : "\r\n =?UTF-8?B?");
		buf_add(&b, (const char *)out, (size_t)n);
		buf_str(&b, "?=");
		pos += take;
	}
	return b.s;
}

char *
header_date(void)
{
	char stamp[64];
	time_t now = time(NULL);
	struct tm tm;

	/* The program never calls setlocale, so names are the C locale's. */
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof stamp, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
		die(EX_SOFTWARE, "cannot format the date");
	return xasprintf("Date: %s", stamp);
}

char *
message_id_new(const char *domain)
{
	unsigned char raw[16];
	char hex[2 * sizeof raw + 1];

	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		die(EX_OSERR, "cannot read random bytes for the Message-ID:");
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	return xasprintf("<%s@%s>", hex, domain);
}

static int
unreserved(unsigned char c, const char *extra)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr(extra, c) != NULL);
}

static char *
percent_encode(const char *s, const char *extra)
{
	struct buf b = { 0 };

	buf_str(&b, "");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[4];

		if (unreserved(*p, extra)) {
			buf_add(&b, (const char *)p, 1);
			continue;
		}
		snprintf(esc, sizeof esc, "%%%02X", *p);
		buf_add(&b, esc, 3);
	}
	return b.s;
}

char *
header_disposition_2231(const char *name)
{
	char *value, *header;

	if (!utf8_valid((const unsigned char *)name, strlen(name)))
		return NULL;
	/* RFC 2231 attribute-char: no specials, no '*', '\'' or '%'. */
	value = percent_encode(name, "!#$&+-.^_`|~");
	header = xasprintf("Content-Disposition: attachment; "
	    "filename*=UTF-8''%s", value);
	free(value);
	return header;
}

int
filename_plain(const char *name)
{
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p < ' ' || *p >= 0x7f || *p == '"' || *p == '\\')
			return 0;
	return 1;
}

char *
uri_escape(const char *s)
{
	return percent_encode(s, "@._+-");
}
