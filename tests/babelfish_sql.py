"""T-SQL batches on a TDS server, for the suite's fixtures (babelfish_sql).

usage: babelfish_sql.py HOST PORT USER DATABASE [FILE]
The password is in $BBF_SQL_PASSWORD (never argv). Batches are separated
by lines holding only GO. Rows of every result set go to stdout, columns
separated by a tab, NULL as NULL, binary as 0x... hex. The first error
stops the run: "Msg N, Level L: text" on stderr, exit status 1.
"""
import os
import re
import sys

import pytds


def cell(value):
    if value is None:
        return "NULL"
    if isinstance(value, (bytes, bytearray)):
        return "0x" + value.hex().upper()
    return str(value)


def main():
    host, port, user, database = sys.argv[1:5]
    text = open(sys.argv[5], encoding="utf-8").read() if len(sys.argv) > 5 \
        else sys.stdin.read()
    batches = [b for b in re.split(r"(?im)^[ \t]*GO[ \t]*\r?$", text)
               if b.strip()]
    conn = pytds.connect(server=host, port=int(port), user=user,
                         password=os.environ["BBF_SQL_PASSWORD"],
                         database=database, autocommit=True,
                         login_timeout=60, timeout=600)
    cur = conn.cursor()
    for batch in batches:
        try:
            cur.execute(batch)
            while True:
                if cur.description is not None:
                    for row in cur.fetchall():
                        print("\t".join(cell(v) for v in row))
                if not cur.nextset():
                    break
        except pytds.Error as e:
            print("Msg %s, Level %s: %s" % (getattr(e, "msg_no", "?"),
                  getattr(e, "severity", "?"), e), file=sys.stderr)
            return 1
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
