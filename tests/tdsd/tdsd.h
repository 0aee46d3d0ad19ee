/* tdsd.h: a TDS 7.4 server over SQLite, for the tests (not installed) */
#ifndef TDSD_H
#define TDSD_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* Packet types (MS-TDS 2.2.3.1.1) */
enum {
	PKT_BATCH = 0x01,
	PKT_RPC = 0x03,
	PKT_REPLY = 0x04,
	PKT_ATTENTION = 0x06,
	PKT_BULK = 0x07,
	PKT_TRANSACTION = 0x0e,
	PKT_LOGIN7 = 0x10,
	PKT_PRELOGIN = 0x12
};

/* Tokens (MS-TDS 2.2.7) */
enum {
	TOK_RETURNSTATUS = 0x79,
	TOK_COLMETADATA = 0x81,
	TOK_ERROR = 0xaa,
	TOK_INFO = 0xab,
	TOK_LOGINACK = 0xad,
	TOK_ROW = 0xd1,
	TOK_ENVCHANGE = 0xe3,
	TOK_DONE = 0xfd,
	TOK_DONEPROC = 0xfe,
	TOK_DONEINPROC = 0xff
};

/* DONE status bits */
enum {
	DONE_MORE = 0x0001,
	DONE_ERROR = 0x0002,
	DONE_INXACT = 0x0004,
	DONE_COUNT = 0x0010,
	DONE_ATTN = 0x0020
};

/* ENVCHANGE types */
enum {
	ENV_DATABASE = 1,
	ENV_LANGUAGE = 2,
	ENV_PACKETSIZE = 4,
	ENV_COLLATION = 7,
	ENV_BEGINTRAN = 8,
	ENV_COMMITTRAN = 9,
	ENV_ROLLBACKTRAN = 10
};

#define PACKET_HEADER 8

#define TDS72 0x72090002u
#define TDS73 0x730b0003u
#define TDS74 0x74000004u

struct options {
	const char *db_path;
	const char *user;
	const char *password;
	long drop_after_rows;	/* 0: never */
	long row_delay_ms;	/* 0: none */
	int refuse_logins;
	int verbose;
};

/* A growable byte buffer, for building tokens and rows. */
struct buf {
	unsigned char *data;
	size_t len;
	size_t cap;
};

/* A bounds-checked reader over a received message. */
struct rd {
	const unsigned char *data;
	size_t len;
	size_t pos;
	int bad;	/* set when a read ran past the end */
};

/* An error or message to send as an ERROR or INFO token. */
struct sqlmsg {
	int number;
	int severity;
	char text[512];
};

/* One connection; owned by its thread. */
struct conn {
	const struct options *opt;
	int fd;
	unsigned spid;
	uint32_t tds_version;
	sqlite3 *db;
	char *user;
	char *database;

	/* the message being received */
	unsigned char *in;
	size_t in_len;
	size_t in_cap;

	/* the reply being sent: one packet, sent when full */
	unsigned char *out;
	size_t out_len;
	size_t packet_size;
	unsigned char packet_id;
	int broken;		/* the socket is gone: write nothing more */
	int attention;		/* the client asked to cancel */
	unsigned rows_since_poll;

	struct buf tok;		/* scratch for one token or row */

	int trancount;		/* BEGIN TRAN nesting, as @@TRANCOUNT */
	uint64_t tran_id;	/* the transaction descriptor we handed out */
	char tran_name[128];	/* BEGIN TRAN name: ROLLBACK TRAN name is all */
	int fmtonly;		/* SET FMTONLY ON: metadata only */
	int parseonly;		/* SET PARSEONLY ON: prepare, run nothing */
	char *bulk_table;	/* INSERT BULK's table: a bulk load follows */
	int schema_version;	/* the schema store.c's triggers were made for */
};

/* SQL Server types of result columns and parameters (types.c) */
enum coltype {
	CT_INT1, CT_INT2, CT_INT4, CT_INT8, CT_BIT, CT_DECIMAL, CT_MONEY,
	CT_SMALLMONEY, CT_FLOAT, CT_REAL, CT_DATE, CT_DATETIME,
	CT_SMALLDATETIME, CT_DATETIME2, CT_DATETIMEOFFSET, CT_TIME, CT_GUID,
	CT_NVARCHAR, CT_NCHAR, CT_NVARCHAR_MAX, CT_VARCHAR, CT_CHAR,
	CT_VARCHAR_MAX, CT_VARBINARY, CT_BINARY, CT_VARBINARY_MAX
};
struct column {
	enum coltype type;
	int size;	/* characters (n types), bytes (varchar, varbinary) */
	int precision;
	int scale;
	int numeric;	/* DECIMAL sent as NUMERICN, as SQL Server does for
			 * NUMERIC and numeric literals */
};

/* A parameter of sp_executesql, converted for sqlite3_bind_*. */
struct param {
	char *name;		/* "@name", or "" when positional */
	int type;		/* SQLITE_INTEGER, _FLOAT, _TEXT, _BLOB, _NULL */
	sqlite3_int64 i;
	double d;
	char *bytes;		/* text (UTF-8) or blob */
	size_t len;
	int typed;		/* col is the type the client sent */
	struct column col;	/* what SELECT @name gives back */
};

/* The type of a value a client sends: an RPC parameter, a bulk row's
 * column (rpc.c) */
enum kind {
	K_NULL, K_INT, K_UINT8, K_FLOAT, K_MONEY, K_DATETIME, K_DECIMAL,
	K_DATE, K_TIME, K_DATETIME2, K_DATETIMEOFFSET, K_GUID, K_NCHAR,
	K_CHAR, K_BINARY
};

struct typeinfo {
	enum kind kind;
	int length_size;	/* 0 fixed, 1, 2, 4 bytes; 8 PLP */
	size_t fixed;		/* the size of a fixed-length type */
	int precision;
	int scale;
	uint32_t max;		/* the declared size, bytes; 0xffff: MAX */
};

/* proto.c: buffers, packets, tokens */
void buf_free(struct buf *b);
void buf_put(struct buf *b, const void *p, size_t n);
void buf_u8(struct buf *b, unsigned v);
void buf_u16(struct buf *b, unsigned v);
void buf_u32(struct buf *b, uint32_t v);
void buf_u64(struct buf *b, uint64_t v);
size_t buf_ucs2(struct buf *b, const char *utf8, size_t len);
size_t buf_cp1252(struct buf *b, const char *utf8, size_t len);
void buf_bvarchar(struct buf *b, const char *utf8);
void buf_usvarchar(struct buf *b, const char *utf8);

unsigned rd_u8(struct rd *r);
unsigned rd_u16(struct rd *r);
uint32_t rd_u32(struct rd *r);
uint64_t rd_u64(struct rd *r);
const unsigned char *rd_bytes(struct rd *r, size_t n);
char *rd_ucs2(struct rd *r, size_t chars);
char *ucs2_to_utf8(const unsigned char *p, size_t bytes);
char *latin1_to_utf8(const unsigned char *p, size_t bytes);

int read_message(struct conn *c);
int poll_attention(struct conn *c, long timeout_ms);
void out_put(struct conn *c, const void *p, size_t n);
void out_token(struct conn *c);
void out_end(struct conn *c);
void out_abort(struct conn *c);

void tok_envchange(struct conn *c, int type, const char *new_value,
    const char *old_value);
void tok_envchange_tran(struct conn *c, int type, uint64_t tran_id);
void tok_message(struct conn *c, int token, const struct sqlmsg *m,
    unsigned line);
void tok_done(struct conn *c, int token, unsigned status, unsigned curcmd,
    uint64_t count);
extern const unsigned char collation[5];

/* login.c */
int serve_prelogin(struct conn *c);
int serve_login(struct conn *c);

/* sql.c: running a batch of statements */
struct batch;
struct batch *batch_begin(struct conn *c, int in_proc);
int batch_run(struct batch *bt, const char *sql, const struct param *params,
    size_t param_count);
void batch_fail(struct batch *bt, const struct sqlmsg *m);
void batch_end(struct batch *bt, int more);
void batch_sqlite_error(struct batch *bt);
void batch_done(struct batch *bt, unsigned status, uint64_t count);
int batch_checking(const struct batch *bt);
struct conn *batch_conn(const struct batch *bt);
int bind_value(sqlite3_stmt *stmt, int i, const struct param *p);
void reply_end(struct conn *c);
size_t skip_all_headers(const struct conn *c);
void serve_sql_batch(struct conn *c);
void serve_transaction(struct conn *c);
void sqlmsg_set(struct sqlmsg *m, int number, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* sum.c: exact SUM and AVG; their decimal results carry this subtype,
 * or'ed with the scale */
#define DECIMAL_SUBTYPE 0xc0u
void register_sum(sqlite3 *db);

/* rpc.c */
void serve_rpc(struct conn *c);
int read_typeinfo(struct rd *r, int type, struct typeinfo *ti);
int read_value(struct rd *r, int type, const struct typeinfo *ti,
    struct param *p);

/* bulk.c: INSERT BULK and the bulk load that follows */
long run_insert_bulk(struct batch *bt, const char *sql, size_t after);
void serve_bulk(struct conn *c);

/* types.c: SQL Server types of result columns and parameters */
int column_from_decltype(const char *decltype, struct column *col);
void column_from_value(int storage_class, struct column *col);
int decimal_from_double(double d, char *out, size_t size);
int decimal_parse(const char *s, int scale, int *negative,
    unsigned __int128 *magnitude);
void decimal_format(int negative, unsigned __int128 mag, int scale,
    char *out, size_t size);
void column_downgrade(struct column *col, uint32_t tds_version);
void put_type_info(struct buf *b, const struct column *col);
int put_value(struct buf *b, const struct column *col, sqlite3_stmt *stmt,
    int index, struct sqlmsg *err);
char *format_date(int64_t days_since_0001);
char *format_datetime(int64_t days_since_0001, uint64_t frac_100ns_of_day,
    int with_date);
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);

/* store.c: DECIMAL and MONEY columns rounded to their scale when stored */
void store_open(struct conn *c);
void store_check_schema(struct conn *c);

#endif
