/* header.h: smtp-send's message header text (addresses, RFC 2047, dates) */
#ifndef SMTP_SEND_HEADER_H
#define SMTP_SEND_HEADER_H

#include <stddef.h>

/*
 * Returns 1 when s is a plain addr-spec local@domain that is safe in a
 * header and an SMTP command: printable ASCII, no spaces, no specials
 * ("<>()[],;:\), exactly one '@' with text on both sides.
 */
int address_plain(const char *s);

/*
 * Appends "Name: a, b, c" as one header line, folded before an address
 * that would take the line past 78 columns.
 */
char *header_address_list(const char *name, char *const *addr, size_t count);

/*
 * "Subject: TEXT": TEXT as is when it is short printable ASCII, otherwise
 * as RFC 2047 encoded words (UTF-8, base64) that never split a character,
 * folded one word a line. Returns NULL when text is not valid UTF-8 or
 * holds a line break or other control character.
 */
char *header_unstructured(const char *name, const char *text);

/* "Date: Tue, 07 May 2024 17:00:00 +0000" for now, in local time. */
char *header_date(void);

/* "<32 hex digits@domain>" from the kernel's random source. */
char *message_id_new(const char *domain);

/*
 * Content-Disposition for an attachment named name (a base name) when curl
 * cannot write it itself: "attachment; filename*=UTF-8''percent-encoded"
 * (RFC 2231). Returns NULL when name is not valid UTF-8.
 */
char *header_disposition_2231(const char *name);

/* Whether curl may quote name itself: printable ASCII without '"' or '\'. */
int filename_plain(const char *name);

/* Percent-encodes everything but letters, digits and "@._+-". */
char *uri_escape(const char *s);

#endif
