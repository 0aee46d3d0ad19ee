/* login.c: PRELOGIN and LOGIN7 (MS-TDS 2.2.6.4, 2.2.6.5) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "tdsd.h"

enum {
	PRELOGIN_VERSION = 0,
	PRELOGIN_ENCRYPTION = 1,
	PRELOGIN_INSTOPT = 2,
	PRELOGIN_MARS = 4,
	PRELOGIN_END = 0xff,
	ENCRYPT_NOT_SUP = 2
};

/* Offsets in the fixed part of LOGIN7 */
enum {
	L7_TDSVERSION = 4,
	L7_PACKETSIZE = 8,
	L7_HOSTNAME = 36,
	L7_USERNAME = 40,
	L7_PASSWORD = 44,
	L7_APPNAME = 48,
	L7_DATABASE = 68,
	L7_FIXED = 86
};

#define DEFAULT_DATABASE "tdsd"

/*
 * Answers PRELOGIN: our version, and that we do not support encryption,
 * so clients that merely request it go on in the clear and clients that
 * require it give up.
 */
int
serve_prelogin(struct conn *c)
{
	static const unsigned char options[] = {
		PRELOGIN_VERSION, 0, 21, 0, 6,
		PRELOGIN_ENCRYPTION, 0, 27, 0, 1,
		PRELOGIN_INSTOPT, 0, 28, 0, 1,
		PRELOGIN_MARS, 0, 29, 0, 1,
		PRELOGIN_END,
		/* version 16.0.1000.0 */
		16, 0, 0x03, 0xe8, 0, 0,
		ENCRYPT_NOT_SUP,
		0,
		0
	};

	out_put(c, options, sizeof options);
	out_end(c);
	return c->broken ? -1 : 0;
}

/* A UCS-2 field of LOGIN7, by its offset/length pair. */
static char *
login_field(const struct conn *c, size_t at, int obfuscated)
{
	size_t offset, chars, i;
	unsigned char *copy;
	char *s;

	offset = c->in[at] | (size_t)c->in[at + 1] << 8;
	chars = c->in[at + 2] | (size_t)c->in[at + 3] << 8;
	if (offset > c->in_len || chars * 2 > c->in_len - offset)
		return NULL;
	if (!obfuscated)
		return ucs2_to_utf8(c->in + offset, chars * 2);
	/* the password: each byte XORed with 0xA5, nibbles swapped */
	copy = xmalloc(chars * 2 + 1);
	for (i = 0; i < chars * 2; i++) {
		unsigned char b = c->in[offset + i] ^ 0xa5;

		copy[i] = (unsigned char)(b >> 4 | b << 4);
	}
	s = ucs2_to_utf8(copy, chars * 2);
	explicit_bzero(copy, chars * 2);
	free(copy);
	return s;
}

static uint32_t
get_u32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
login_failed(struct conn *c, const char *user, const char *why)
{
	struct sqlmsg m;

	sqlmsg_set(&m, 18456, "Login failed for user '%s'.", user);
	m.severity = 14;
	tok_message(c, TOK_ERROR, &m, 1);
	tok_done(c, TOK_DONE, DONE_ERROR, 0, 0);
	out_end(c);
	if (c->opt->verbose)
		warn("connection %u: login failed for user '%s': %s", c->spid,
		    user, why);
}

static void
login_ack(struct conn *c)
{
	struct buf *b = &c->tok;
	size_t at;

	buf_u8(b, TOK_LOGINACK);
	at = b->len;
	buf_u16(b, 0);
	buf_u8(b, 1);	/* interface: SQL_TSQL */
	buf_u8(b, c->tds_version >> 24);
	buf_u8(b, c->tds_version >> 16);
	buf_u8(b, c->tds_version >> 8);
	buf_u8(b, c->tds_version);
	buf_bvarchar(b, "tdsd");
	buf_put(b, "\x10\x00\x03\xe8", 4);	/* 16.0.1000 */
	b->data[at] = (b->len - at - 2) & 0xff;
	b->data[at + 1] = (b->len - at - 2) >> 8;
	out_token(c);
}

/*
 * Checks LOGIN7 and answers it. Returns 0 when the client is logged in,
 * -1 when the connection must close.
 */
int
serve_login(struct conn *c)
{
	char *user = NULL, *password = NULL, *database = NULL;
	char *packet_text = NULL, old_packet[16];
	uint32_t version;
	size_t packet_size;
	int status = -1;

	if (c->in_len < L7_FIXED)
		return -1;
	version = get_u32(c->in + L7_TDSVERSION);
	packet_size = get_u32(c->in + L7_PACKETSIZE);
	user = login_field(c, L7_USERNAME, 0);
	password = login_field(c, L7_PASSWORD, 1);
	database = login_field(c, L7_DATABASE, 0);
	if (user == NULL || password == NULL || database == NULL)
		goto out;

	c->tds_version = version >= TDS74 ? TDS74 : version;
	if (version < TDS72) {
		login_failed(c, user, "TDS version before 7.2");
		goto out;
	}
	if (c->opt->refuse_logins) {
		login_failed(c, user, "--refuse-logins");
		goto out;
	}
	if (strcmp(user, c->opt->user) != 0 ||
	    strcmp(password, c->opt->password) != 0) {
		login_failed(c, user, "wrong user or password");
		goto out;
	}

	c->user = user;
	user = NULL;
	c->database = xstrdup(*database ? database : DEFAULT_DATABASE);
	if (packet_size < 512)
		packet_size = 4096;
	if (packet_size > 32767)
		packet_size = 32767;

	tok_envchange(c, ENV_DATABASE, c->database, "master");
	tok_envchange(c, ENV_COLLATION, NULL, NULL);
	tok_envchange(c, ENV_LANGUAGE, "us_english", "");
	login_ack(c);
	packet_text = xasprintf("%zu", packet_size);
	snprintf(old_packet, sizeof old_packet, "%zu", c->packet_size);
	tok_envchange(c, ENV_PACKETSIZE, packet_text, old_packet);
	tok_done(c, TOK_DONE, 0, 0, 0);
	out_end(c);
	/* the reply went out in the old size; what follows uses the new */
	c->packet_size = packet_size;
	c->out = xrealloc(c->out, packet_size);
	if (c->opt->verbose)
		warn("connection %u: user '%s' logged in, TDS %08x, packet %zu",
		    c->spid, c->user, (unsigned)c->tds_version, packet_size);
	status = c->broken ? -1 : 0;
out:
	free(user);
	if (password != NULL) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	free(database);
	free(packet_text);
	return status;
}
