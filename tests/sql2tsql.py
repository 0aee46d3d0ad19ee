"""The T-SQL form of one of the suite's SQLite fixture scripts.

usage: sql2tsql.py [FILE]      (stdin without FILE; the T-SQL on stdout)

The suite's test databases (tests/fixtures/demo-db.sql, tests/fixtures/
tdsd/schema.sql, tests/fixtures/sched-query/*.sql) are written once, in
the SQL that sqlite3 loads for tdsd, with the SQL Server column types and
lengths a site's tables have. This prints the same script for a real
T-SQL engine (Babelfish in the tests), so the two databases never drift:

- every statement becomes its own batch (a GO line after it), so CREATE
  VIEW stands alone as T-SQL wants; comments are left out;
- PRAGMA, BEGIN and COMMIT are left out (each batch commits);
- string literals holding anything beyond ASCII become N'...' (Unicode:
  the names are not Latin-1), and SQLite's blob literals X'0A0B' become
  0x0A0B;
- the || operator becomes +;
- a type SQLite cannot parse, written quoted ("NVARCHAR(MAX)"), is
  unquoted.

Anything else is copied as it is: the fixtures keep to SQL both engines
read the same way.
"""
import re
import sys

DROPPED = re.compile(r"(?is)^\s*(PRAGMA\b|BEGIN(\s+TRANSACTION)?\s*$|"
                     r"COMMIT(\s+TRANSACTION)?\s*$|END(\s+TRANSACTION)?\s*$)")
QUOTED_TYPE = re.compile(r'(?i)^"((N?VAR)?(CHAR|BINARY)\(MAX\))"$')


def statements(text):
    """Yields each statement's T-SQL text (without its ;)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "'":
            j = i + 1
            while True:
                j = text.index("'", j)
                if text.startswith("''", j):
                    j += 2
                    continue
                break
            literal = text[i:j + 1]
            prev = out[-1] if out else ""
            if prev in ("X", "x") and not (len(out) > 1 and
                                           re.match(r"\w", out[-2][-1:])):
                out[-1] = "0x" + literal[1:-1].upper()
            elif prev in ("N", "n"):
                out.append(literal)
            elif literal.isascii():
                # varchar: converts implicitly to every type (Babelfish
                # converts nvarchar to datetimeoffset only explicitly)
                out.append(literal)
            else:
                out.append("N" + literal)
            i = j + 1
        elif c == '"':
            j = text.index('"', i + 1)
            word = text[i:j + 1]
            m = QUOTED_TYPE.match(word)
            out.append(m.group(1).upper() if m else word)
            i = j + 1
        elif text.startswith("||", i):
            out.append("+")
            i += 2
        elif c == ";":
            yield "".join(out)
            out = []
            i += 1
        else:
            # one character at a time, but whole words at once, so that
            # X and N before a quote are seen as the word they are
            m = re.match(r"\w+|\s+|.", text[i:i + 200], re.S)
            out.append(m.group(0))
            i += len(m.group(0))
    if "".join(out).strip():
        yield "".join(out)


def main():
    text = open(sys.argv[1], encoding="utf-8").read() if len(sys.argv) > 1 \
        else sys.stdin.read()
    for stmt in statements(text):
        if not stmt.strip() or DROPPED.match(stmt):
            continue
        sys.stdout.write(stmt.strip() + "\nGO\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
