"""python-tds (Debian's python3-tds) against tdsd: each check prints one
line, "ok NAME" or "not ok NAME: why"; exits 1 when any failed. Run by
tests/peers/tdsd-clients.bats with PORT set to a tdsd over a copy of
tests/peers/schema.sql."""
import datetime
import decimal
import os
import sys
import time
import uuid

import pytds
from pytds import Column, tds_types

PORT = int(os.environ["PORT"])
passed = failed = 0
D = decimal.Decimal


def conn(**kw):
    args = dict(port=PORT, user="schedfeed", password="schedfeed",
                database="tdsd", autocommit=True, login_timeout=10)
    args.update(kw)
    return pytds.connect("127.0.0.1", **args)


def check(name):
    def wrap(fn):
        global passed, failed
        try:
            fn()
            passed += 1
            print("ok", name)
        except Exception as e:  # every failure is a line, not a traceback
            failed += 1
            print("not ok %s: %s: %s" % (name, type(e).__name__, str(e).replace("\n", " ")))
        return fn
    return wrap


def eq(got, want):
    if got != want:
        raise AssertionError("got %r, want %r" % (got, want))


def one(cur, sql, params=None):
    cur.execute(sql, params)
    return cur.fetchall()


c = conn()
cur = c.cursor()


@check("connect: SELECT 1, and the server's version")
def _():
    eq(one(cur, "SELECT 1 AS one"), [(1,)])
    eq([d[0] for d in cur.description], ["one"])


@check("connect: a wrong password is OperationalError 18456")
def _():
    try:
        conn(password="wrong")
    except pytds.OperationalError as e:
        eq((e.number, e.severity), (18456, 14))
        return
    raise AssertionError("logged in")


@check("columns: every type as its Python value")
def _():
    rows = one(cur, "SELECT i, big, small, tiny, flag, dec, cash, smallcash, f, r, d, dt, sdt, dt2,"
                    " t, nv, v, c, nc, nmax, vmax, vb, b, vbmax, g FROM kinds ORDER BY id")
    eq(rows[0], (42, 9000000000, -3, 255, True, D("12.50"), D("3.2500"), D("-1.5000"), 0.5, 0.25,
                 datetime.date(2024, 1, 5), datetime.datetime(2024, 1, 5, 8, 30),
                 datetime.datetime(2024, 1, 5, 8, 30), datetime.datetime(2024, 1, 5, 8, 30, 0, 123000),
                 datetime.time(8, 30), "Núñez 王", "José", "A1 ", "Ñ  ", "long", "text",
                 b"\x00\xff", b"\x01\x02\x00\x00", b"\xca\xfe",
                 uuid.UUID("6F9619FF-8B86-D011-B42D-00C04FC964FF")))
    eq(rows[1], (None,) * 25)


@check("columns: DATETIMEOFFSET keeps its offset")
def _():
    (v,), = one(cur, "SELECT dto FROM kinds WHERE id = 1")
    eq(v, datetime.datetime(2024, 1, 5, 8, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=1))))


@check("literals: N'...' and '...' round-trip; 1.5 is a Decimal")
def _():
    eq(one(cur, "SELECT N'Nguyễn 王', 'José', 1.5, -2"), [("Nguyễn 王", "José", D("1.5"), -2)])


@check("parameters: every Python type binds and comes back as itself")
def _():
    values = [42, 9000000000, 2.5, True, D("-12.05"), datetime.date(2024, 1, 5),
              datetime.datetime(2024, 1, 5, 8, 30, 0, 500000), datetime.time(8, 30),
              "Nguyễn 王 😀", pytds.Binary(b"\x00\x01"), uuid.UUID("6F9619FF-8B86-D011-B42D-00C04FC964FF")]
    for v in values:
        got = one(cur, "SELECT %s", (v,))[0][0]
        eq(got, v)


@check("parameters: typed NULLs")
def _():
    eq(one(cur, "SELECT %s, %s", (Column(type=tds_types.IntType(), value=None),
                                  Column(type=tds_types.NVarCharType(10), value=None))), [(None, None)])


@check("DECIMAL exact: 1.0005 -> 1.001, -2.5675 -> -2.568, 2.675 -> 2.68, -0.125 -> -0.13")
def _():
    cur.execute("INSERT INTO amounts(id, three, two) VALUES (1, 1.0005, 2.675), (2, -2.5675, -0.125)")
    eq(one(cur, "SELECT three, two FROM amounts ORDER BY id"),
       [(D("1.001"), D("2.68")), (D("-2.568"), D("-0.13"))])


@check("DECIMAL exact: a Decimal parameter keeps every digit; SUM and AVG are exact")
def _():
    cur.execute("INSERT INTO amounts(id, two) VALUES (10, %s), (11, %s)", (D("0.10"), D("0.20")))
    eq(one(cur, "SELECT SUM(two), AVG(two) FROM amounts WHERE id >= 10"), [(D("0.30"), D("0.150000"))])


@check("errors: a syntax error anywhere fails the batch before anything runs")
def _():
    try:
        cur.execute("INSERT INTO ward VALUES ('SX', 'x')\nSELEC 1")
    except pytds.ProgrammingError as e:
        eq(e.number, 102)
    else:
        raise AssertionError("no error")
    eq(one(cur, "SELECT COUNT(*) FROM ward WHERE code = 'SX'"), [(0,)])


@check("errors: 2627 ends its statement with INFO 3621; the next statement ran")
def _():
    try:
        cur.execute("INSERT INTO ward VALUES ('ICU', 'dup')\nINSERT INTO ward VALUES ('P1', 'after')")
        while cur.nextset():
            pass
    except pytds.IntegrityError as e:
        eq((e.number, e.severity), (2627, 14))
    else:
        raise AssertionError("no error")
    eq(one(cur, "SELECT name FROM ward WHERE code = 'P1'"), [("after",)])


@check("errors: 547 is an IntegrityError; the connection goes on")
def _():
    try:
        cur.execute("INSERT INTO bed(id, ward) VALUES (1, 'NOPE')")
    except pytds.IntegrityError as e:
        eq(e.number, 547)
    else:
        raise AssertionError("no error")
    eq(one(cur, "SELECT 2"), [(2,)])


@check("transactions: autocommit off, rollback and commit")
def _():
    with conn(autocommit=False) as c2, c2.cursor() as k:
        k.execute("INSERT INTO ward VALUES ('R1', 'rolled back')")
        c2.rollback()
        k.execute("INSERT INTO ward VALUES ('C1', 'committed')")
        c2.commit()
    eq(one(cur, "SELECT code FROM ward WHERE code IN ('R1', 'C1')"), [("C1",)])


@check("transactions: SAVE TRANSACTION and ROLLBACK TRANSACTION to it")
def _():
    cur.execute("BEGIN TRAN\nINSERT INTO ward VALUES ('V1', 'kept')\nSAVE TRAN sp\n"
                "INSERT INTO ward VALUES ('V2', 'undone')\nROLLBACK TRAN sp\nCOMMIT")
    eq(one(cur, "SELECT code FROM ward WHERE code IN ('V1', 'V2')"), [("V1",)])


@check("cancel: a query timeout is TimeoutError at once; the connection goes on")
def _():
    with conn(timeout=0.5) as c2, c2.cursor() as k:
        start = time.monotonic()
        try:
            k.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
                      " WHERE i < 300000000) SELECT COUNT(*) FROM n")
            k.fetchall()
        except pytds.TimeoutError:
            pass
        else:
            raise AssertionError("not cancelled")
        k.execute("SELECT 42")
        eq(k.fetchall(), [(42,)])
        if time.monotonic() - start > 5:
            raise AssertionError("took %.1f s" % (time.monotonic() - start))


@check("cancel: cursor.cancel() mid-result; the connection goes on")
def _():
    with conn() as c2, c2.cursor() as k:
        k.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
                  " WHERE i < 1000000) SELECT i FROM n")
        eq(k.fetchone(), (1,))
        k.cancel()
        k.execute("SELECT 43")
        eq(k.fetchall(), [(43,)])


@check("batches: several result sets, PRINT as a message")
def _():
    cur.execute("PRINT 'hi'\nSELECT 1 AS a\nSELECT 2 AS b")
    eq(cur.fetchall(), [(1,)])
    eq(cur.nextset(), True)
    eq(cur.fetchall(), [(2,)])
    eq([m[1].text for m in cur.messages], ["hi"])


c.close()
print("python-tds: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
