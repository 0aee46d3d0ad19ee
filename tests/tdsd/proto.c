/* proto.c: TDS packets and tokens: buffers, reading messages, sending
 * replies in whole packets, the tokens every part of the server sends */
#include <errno.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"
#include "tdsd.h"

/* Latin1_General_CI_AS: LCID 0x0409, sort flags, code page 1252 */
const unsigned char collation[5] = { 0x09, 0x04, 0xd0, 0x00, 0x34 };

/* The largest request we accept: a guard, not a protocol limit. */
#define MAX_MESSAGE (64u << 20)


void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static void
buf_reserve(struct buf *b, size_t n)
{
	size_t cap;

	if (b->cap - b->len >= n)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void
buf_put(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;		/* p may be NULL: SQLite's empty blob */
	buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
buf_u8(struct buf *b, unsigned v)
{
	buf_reserve(b, 1);
	b->data[b->len++] = v & 0xff;
}

void
buf_u16(struct buf *b, unsigned v)
{
	buf_reserve(b, 2);
	b->data[b->len++] = v & 0xff;
	b->data[b->len++] = (v >> 8) & 0xff;
}

void
buf_u32(struct buf *b, uint32_t v)
{
	buf_u16(b, v & 0xffff);
	buf_u16(b, v >> 16);
}

void
buf_u64(struct buf *b, uint64_t v)
{
	buf_u32(b, (uint32_t)v);
	buf_u32(b, (uint32_t)(v >> 32));
}

/*
 * Decodes one code point from s[0..len); malformed input yields U+FFFD
 * and consumes one byte, so any byte string converts.
 */
static uint32_t
utf8_next(const unsigned char *s, size_t len, size_t *used)
{
	uint32_t cp;
	size_t need, i;

	if (s[0] < 0x80) {
		*used = 1;
		return s[0];
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		cp = s[0] & 0x1f;
		need = 1;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		cp = s[0] & 0x0f;
		need = 2;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		cp = s[0] & 0x07;
		need = 3;
	} else {
		goto bad;
	}
	if (len < need + 1)
		goto bad;
	for (i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			goto bad;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		goto bad;
	*used = need + 1;
	return cp;
bad:
	*used = 1;
	return 0xfffd;
}

/* Appends UTF-16LE; returns the number of 16-bit code units written. */
size_t
buf_ucs2(struct buf *b, const char *utf8, size_t len)
{
	const unsigned char *s = (const unsigned char *)utf8;
	size_t units = 0, used, i = 0;
	unsigned char *o;
	uint32_t cp;

	buf_reserve(b, len * 2);
	while (i < len) {
		/* the ASCII run needs no decoding: the common case */
		if (s[i] < 0x80) {
			o = b->data + b->len;
			o[0] = s[i++];
			o[1] = 0;
			b->len += 2;
			units++;
			continue;
		}
		cp = utf8_next(s + i, len - i, &used);
		i += used;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			buf_u16(b, 0xd800 | (cp >> 10));
			buf_u16(b, 0xdc00 | (cp & 0x3ff));
			units += 2;
		} else {
			buf_u16(b, cp);
			units++;
		}
	}
	return units;
}

/* Windows-1252's 0x80-0x9f; U+FFFD where the code page has no character */
static const uint16_t cp1252_high[32] = {
	0x20ac, 0xfffd, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0xfffd, 0x017d, 0xfffd,
	0xfffd, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0xfffd, 0x017e, 0x0178
};

/*
 * Appends UTF-8 text in our collation's code page, Windows-1252, as SQL
 * Server keeps VARCHAR: a character the code page lacks becomes '?'.
 * Returns the number of bytes written.
 */
size_t
buf_cp1252(struct buf *b, const char *utf8, size_t len)
{
	const unsigned char *s = (const unsigned char *)utf8;
	size_t i = 0, used, start = b->len;
	uint32_t cp;
	int k;

	buf_reserve(b, len);
	while (i < len) {
		if (s[i] < 0x80) {
			b->data[b->len++] = s[i++];
			continue;
		}
		cp = utf8_next(s + i, len - i, &used);
		i += used;
		if (cp >= 0xa0 && cp <= 0xff) {
			b->data[b->len++] = (unsigned char)cp;
			continue;
		}
		for (k = 0; k < 32; k++)
			if (cp1252_high[k] == cp && cp != 0xfffd)
				break;
		b->data[b->len++] = k < 32 ? (unsigned char)(0x80 + k) : '?';
	}
	return b->len - start;
}

/* A length in characters, one or two bytes wide, then UTF-16LE. */
static void
buf_varchar(struct buf *b, const char *utf8, size_t width, size_t max)
{
	size_t at = b->len, units;

	buf_put(b, "\0\0", width);
	units = buf_ucs2(b, utf8, strlen(utf8));
	if (units > max) {
		units = max;
		b->len = at + width + 2 * units;
	}
	b->data[at] = units & 0xff;
	if (width == 2)
		b->data[at + 1] = units >> 8;
}

/* B_VARCHAR */
void
buf_bvarchar(struct buf *b, const char *utf8)
{
	buf_varchar(b, utf8, 1, 0xff);
}

/* US_VARCHAR */
void
buf_usvarchar(struct buf *b, const char *utf8)
{
	buf_varchar(b, utf8, 2, 0xfffe);
}

const unsigned char *
rd_bytes(struct rd *r, size_t n)
{
	const unsigned char *p;

	if (r->bad || r->len - r->pos < n) {
		r->bad = 1;
		return NULL;
	}
	p = r->data + r->pos;
	r->pos += n;
	return p;
}

unsigned
rd_u8(struct rd *r)
{
	const unsigned char *p = rd_bytes(r, 1);

	return p ? p[0] : 0;
}

unsigned
rd_u16(struct rd *r)
{
	const unsigned char *p = rd_bytes(r, 2);

	return p ? (unsigned)p[0] | (unsigned)p[1] << 8 : 0;
}

uint32_t
rd_u32(struct rd *r)
{
	uint32_t lo = rd_u16(r);

	return lo | (uint32_t)rd_u16(r) << 16;
}

uint64_t
rd_u64(struct rd *r)
{
	uint64_t lo = rd_u32(r);

	return lo | (uint64_t)rd_u32(r) << 32;
}

char *
rd_ucs2(struct rd *r, size_t chars)
{
	const unsigned char *p = rd_bytes(r, chars * 2);

	return p ? ucs2_to_utf8(p, chars * 2) : xstrdup("");
}

static size_t
put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = 0xc0 | cp >> 6;
		o[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = 0xe0 | cp >> 12;
		o[1] = 0x80 | ((cp >> 6) & 0x3f);
		o[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	o[0] = 0xf0 | cp >> 18;
	o[1] = 0x80 | ((cp >> 12) & 0x3f);
	o[2] = 0x80 | ((cp >> 6) & 0x3f);
	o[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* UTF-16LE to a fresh UTF-8 string; a lone surrogate becomes U+FFFD. */
char *
ucs2_to_utf8(const unsigned char *p, size_t bytes)
{
	size_t units = bytes / 2, i, o = 0;
	char *s = xmalloc(units * 3 + 1);
	uint32_t cp, lo;

	for (i = 0; i < units; i++) {
		cp = p[2 * i] | (uint32_t)p[2 * i + 1] << 8;
		if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < units) {
			lo = p[2 * i + 2] | (uint32_t)p[2 * i + 3] << 8;
			if (lo >= 0xdc00 && lo <= 0xdfff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i++;
			} else {
				cp = 0xfffd;
			}
		} else if (cp >= 0xd800 && cp <= 0xdfff) {
			cp = 0xfffd;
		}
		o += put_utf8(s + o, cp);
	}
	s[o] = '\0';
	return s;
}

/* Single-byte text in our collation's code page, Windows-1252. */
char *
latin1_to_utf8(const unsigned char *p, size_t bytes)
{
	char *s = xmalloc(bytes * 3 + 1);
	size_t i, o = 0;

	for (i = 0; i < bytes; i++) {
		if (p[i] >= 0x80 && p[i] < 0xa0)
			o += put_utf8(s + o, cp1252_high[p[i] - 0x80]);
		else
			o += put_utf8(s + o, p[i]);
	}
	s[o] = '\0';
	return s;
}

static int
read_full(int fd, unsigned char *p, size_t n)
{
	ssize_t got;

	while (n > 0) {
		got = read(fd, p, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		p += got;
		n -= got;
	}
	return 0;
}

static int
skip_body(int fd, size_t length)
{
	unsigned char scratch[512];
	size_t n;

	if (length < PACKET_HEADER)
		return -1;
	length -= PACKET_HEADER;
	while (length > 0) {
		n = length < sizeof scratch ? length : sizeof scratch;
		if (read_full(fd, scratch, n) < 0)
			return -1;
		length -= n;
	}
	return 0;
}

/* Reads one packet, appending its body to c->in; returns its header. */
static int
read_packet(struct conn *c, unsigned char header[PACKET_HEADER])
{
	size_t body;

	if (read_full(c->fd, header, PACKET_HEADER) < 0)
		return -1;
	body = (size_t)header[2] << 8 | header[3];
	if (body < PACKET_HEADER)
		return -1;
	body -= PACKET_HEADER;
	if (c->in_len + body > MAX_MESSAGE)
		return -1;
	if (body == 0)	/* an empty packet; c->in may be NULL still */
		return 0;
	if (c->in_len + body > c->in_cap) {
		c->in_cap = c->in_len + body + 4096;
		c->in = xrealloc(c->in, c->in_cap);
	}
	if (read_full(c->fd, c->in + c->in_len, body) < 0)
		return -1;
	c->in_len += body;
	return 0;
}

/*
 * Reads one whole message (packets up to end-of-message) into c->in;
 * returns its packet type, or -1 when the client went away or broke
 * the framing.
 */
int
read_message(struct conn *c)
{
	unsigned char header[PACKET_HEADER];
	int type = -1;

	c->in_len = 0;
	do {
		if (read_packet(c, header) < 0)
			return -1;
		if (type < 0)
			type = header[0];
	} while (!(header[1] & 0x01));
	return type;
}

/*
 * While a result streams, the client may send ATTENTION to cancel it.
 * Waits up to timeout_ms for it; returns 1 when the result must stop
 * (attention, or the client went away), else 0.
 */
int
poll_attention(struct conn *c, long timeout_ms)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	unsigned char header[PACKET_HEADER];
	int ready;

	if (c->broken || c->attention)
		return 1;
	do
		ready = poll(&pfd, 1, (int)timeout_ms);
	while (ready < 0 && errno == EINTR);
	if (ready <= 0)
		return 0;
	/* read it aside: c->in may still hold the request being served */
	if (read_full(c->fd, header, PACKET_HEADER) < 0 ||
	    skip_body(c->fd, ((size_t)header[2] << 8 | header[3]))) {
		c->broken = 1;
		return 1;
	}
	if (header[0] == PKT_ATTENTION) {
		c->attention = 1;
		return 1;
	}
	/* anything else mid-reply breaks the protocol */
	c->broken = 1;
	return 1;
}

static void
send_packet(struct conn *c, int last)
{
	size_t len = c->out_len, off = 0;
	ssize_t sent;

	if (c->broken)
		return;
	c->out[0] = PKT_REPLY;
	c->out[1] = last ? 0x01 : 0x00;
	c->out[2] = len >> 8;
	c->out[3] = len & 0xff;
	c->out[4] = c->spid >> 8;
	c->out[5] = c->spid & 0xff;
	c->out[6] = ++c->packet_id;
	c->out[7] = 0;
	while (off < len) {
		sent = send(c->fd, c->out + off, len - off, MSG_NOSIGNAL);
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent <= 0) {
			c->broken = 1;
			return;
		}
		off += sent;
	}
	c->out_len = PACKET_HEADER;
}

/* Appends to the reply, sending each packet as it fills. */
void
out_put(struct conn *c, const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t room;

	while (n > 0 && !c->broken) {
		room = c->packet_size - c->out_len;
		if (room == 0) {
			send_packet(c, 0);
			/* a full packet is a good moment to look for ATTENTION */
			c->rows_since_poll = 1u << 20;
			continue;
		}
		if (room > n)
			room = n;
		memcpy(c->out + c->out_len, s, room);
		c->out_len += room;
		s += room;
		n -= room;
	}
}

void
out_token(struct conn *c)
{
	out_put(c, c->tok.data, c->tok.len);
	c->tok.len = 0;
}

/* Sends the last packet of the reply. */
void
out_end(struct conn *c)
{
	send_packet(c, 1);
	c->packet_id = 0;
}

/*
 * --drop-after-rows: what is buffered goes out in a packet that does not
 * end the message, then the connection closes under the client.
 */
void
out_abort(struct conn *c)
{
	if (c->out_len > PACKET_HEADER)
		send_packet(c, 0);
	shutdown(c->fd, SHUT_RDWR);
	c->broken = 1;
}

void
tok_envchange(struct conn *c, int type, const char *new_value,
    const char *old_value)
{
	struct buf *b = &c->tok;
	size_t at;

	buf_u8(b, TOK_ENVCHANGE);
	at = b->len;
	buf_u16(b, 0);
	buf_u8(b, type);
	if (type == ENV_COLLATION) {
		buf_u8(b, sizeof collation);
		buf_put(b, collation, sizeof collation);
		buf_u8(b, 0);
	} else {
		buf_bvarchar(b, new_value);
		buf_bvarchar(b, old_value);
	}
	b->data[at] = (b->len - at - 2) & 0xff;
	b->data[at + 1] = (b->len - at - 2) >> 8;
	out_token(c);
}

/* BEGIN names the new descriptor; COMMIT and ROLLBACK name the old. */
void
tok_envchange_tran(struct conn *c, int type, uint64_t tran_id)
{
	struct buf *b = &c->tok;

	buf_u8(b, TOK_ENVCHANGE);
	buf_u16(b, 1 + 1 + 8 + 1);
	buf_u8(b, type);
	if (type == ENV_BEGINTRAN) {
		buf_u8(b, 8);
		buf_u64(b, tran_id);
		buf_u8(b, 0);
	} else {
		buf_u8(b, 0);
		buf_u8(b, 8);
		buf_u64(b, tran_id);
	}
	out_token(c);
}

/* ERROR or INFO: number, state, class, text, server, procedure, line */
void
tok_message(struct conn *c, int token, const struct sqlmsg *m, unsigned line)
{
	struct buf *b = &c->tok;
	size_t at;

	buf_u8(b, token);
	at = b->len;
	buf_u16(b, 0);
	buf_u32(b, (uint32_t)m->number);
	buf_u8(b, 1);
	buf_u8(b, m->severity);
	buf_usvarchar(b, m->text);
	buf_bvarchar(b, "tdsd");
	buf_bvarchar(b, "");
	if (c->tds_version >= TDS72)
		buf_u32(b, line);
	else
		buf_u16(b, line);
	b->data[at] = (b->len - at - 2) & 0xff;
	b->data[at + 1] = (b->len - at - 2) >> 8;
	out_token(c);
}

void
tok_done(struct conn *c, int token, unsigned status, unsigned curcmd,
    uint64_t count)
{
	struct buf *b = &c->tok;

	buf_u8(b, token);
	buf_u16(b, status);
	buf_u16(b, curcmd);
	if (c->tds_version >= TDS72)
		buf_u64(b, count);
	else
		buf_u32(b, (uint32_t)count);
	out_token(c);
}
