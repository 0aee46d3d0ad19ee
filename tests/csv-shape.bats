#!/usr/bin/env bats
# csv-shape: every option, every error path (exit status, message and
# output), strict parsing through lib/csvio, and the Mass Testing
# Platform's published samples re-shaped byte for byte.

load common

bats_require_minimum_version 1.5.0

setup() {
	common_setup
	F="$TOP/tests/fixtures/csv-shape"
	cd "$W"
}

# input TEXT: what csv-shape reads on stdin (printf %b escapes allowed)
input() {
	printf '%b' "$1" >"$W/in"
}

# shape ARGS...: csv-shape on $W/in, stdout to $W/out, stderr to $W/err
shape() {
	csv-shape "$@" <"$W/in" >"$W/out" 2>"$W/err"
}

# expect_out TEXT / expect_err TEXT: the exact bytes (printf %b escapes)
expect_out() {
	diff -u <(printf '%b' "$1") "$W/out"
}

expect_err() {
	diff -u <(printf '%b' "$1") "$W/err"
}

# expect_usage MESSAGE: exit 64, MESSAGE (if any), the synopsis, no output
expect_usage() {
	[ "$status" -eq 64 ]
	if [ -n "$1" ]; then
		[ "$(head -n 1 "$W/err")" = "csv-shape: $1" ]
		sed -n 2p "$W/err" | grep -q '^usage: csv-shape '
	else
		head -n 1 "$W/err" | grep -q '^usage: csv-shape '
	fi
	[ ! -s "$W/out" ]
}

# ---- the pipe dialect and strict parsing (lib/csvio) ----

@test "pass-through: embedded commas, quotes and newlines round-trip" {
	input 'id,note\n1,"a, b"\n2,"say ""hi"""\n3,"two\nlines"\n4,plain\n'
	run shape
	[ "$status" -eq 0 ]
	expect_out 'id,note\n1,"a, b"\n2,"say ""hi"""\n3,"two\nlines"\n4,plain\n'
	expect_err ''
}

@test "leading and trailing spaces are data; quotes only where needed" {
	input 'a,b\n  x , y \n"plain","with space"\n'
	run shape
	[ "$status" -eq 0 ]
	expect_out 'a,b\n  x , y \nplain,with space\n'
	# so a quote after a space is a stray quote, not an opening one
	input 'a,b\n1, "y"\n'
	run shape
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: line 2: malformed CSV (error parsing data while strict checking enabled)\n'
}

@test "CRLF and a UTF-8 BOM are accepted and removed; last LF optional" {
	input '\xef\xbb\xbfname,city\r\nN\xc3\xba\xc3\xb1ez,"Det\r\nroit"\r\nZo\xc3\xab,Flint'
	run shape
	[ "$status" -eq 0 ]
	expect_out 'name,city\nN\xc3\xba\xc3\xb1ez,"Det\r\nroit"\nZo\xc3\xab,Flint\n'
	expect_err ''
}

@test "an unterminated quote is 65 naming the line where it opened" {
	input 'a,b\n1,2\n3,"open\nmore\n'
	run shape
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: line 3: malformed CSV (unterminated quoted field)\n'
	expect_out 'a,b\n1,2\n'
}

@test "a stray quote inside an unquoted field is 65 naming the line" {
	input 'a,b\n1,2\n3,SECRET"x\n4,5\n'
	run shape
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: line 3: malformed CSV (error parsing data while strict checking enabled)\n'
	expect_out 'a,b\n1,2\n'
}

@test "text after a closing quote is 65 naming the line" {
	input 'a,b\n"1"x,2\n'
	run shape
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: line 2: malformed CSV (error parsing data while strict checking enabled)\n'
	expect_out 'a,b\n'
}

@test "invalid UTF-8 is 65 naming row and column, never the value" {
	input 'a,b,c\nok,fine,x\nSECRET,good,bad\xff\n'
	run shape
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: row 2, column 3: invalid UTF-8\n'
	expect_out 'a,b,c\nok,fine,x\n'
}

@test "invalid UTF-8 in the header names the header" {
	input 'a,\xc3(\n1,2\n'
	run shape
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: header, column 2: invalid UTF-8\n'
	expect_out ''
}

@test "an overlong UTF-8 sequence is refused" {
	input 'a\n\xc0\xaf\n'
	run shape
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: row 1, column 1: invalid UTF-8\n'
}

# ---- input options ----

@test "-d reads another delimiter; \\\\t and tab mean TAB" {
	input 'a;b\n1;x,y\n'
	run shape -d ';'
	[ "$status" -eq 0 ]
	expect_out 'a,b\n1,"x,y"\n'
	input 'a\tb\n1\t2\n'
	run shape -d '\t'
	[ "$status" -eq 0 ]
	expect_out 'a,b\n1,2\n'
	run shape --delimiter tab
	[ "$status" -eq 0 ]
	expect_out 'a,b\n1,2\n'
}

@test "-d refuses a quote or a word" {
	input 'a\n'
	run shape -d '"'
	expect_usage '-d: not a delimiter'
	run shape -d ab
	expect_usage '-d: not a delimiter'
}

@test "--no-header with --names names the columns" {
	input '1,Doe\n2,Roe\n'
	run shape --no-header --names id,last -c last,id
	[ "$status" -eq 0 ]
	expect_out 'last,id\nDoe,1\nRoe,2\n'
}

@test "--no-header alone names columns by number" {
	input '1,Doe\n2,Roe\n'
	run shape --no-header -c 2 --no-header-out
	[ "$status" -eq 0 ]
	expect_out 'Doe\nRoe\n'
	run shape --no-header
	expect_out '1,2\n1,Doe\n2,Roe\n'
}

@test "--no-header numbers rows from the first record" {
	input '1,Doe\n2\n'
	run shape --no-header --names id,last
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: row 2: 1 fields, the header has 2\n'
	expect_out 'id,last\n1,Doe\n'
}

@test "--no-header --names on empty input writes just the header" {
	input ''
	run shape --no-header --names a,b
	[ "$status" -eq 0 ]
	expect_out 'a,b\n'
}

@test "--names without --no-header is a usage error" {
	input 'a\n1\n'
	run shape --names x
	expect_usage '--names needs --no-header'
}

@test "--skip-empty drops spreadsheet padding rows" {
	input 'a,b\n1,2\n,\n3,4\n,\n,\n'
	run shape --skip-empty
	[ "$status" -eq 0 ]
	expect_out 'a,b\n1,2\n3,4\n'
	run shape
	expect_out 'a,b\n1,2\n,\n3,4\n,\n,\n'
}

@test "--trim trims spaces and tabs around values and names" {
	input ' a ,b\t\n  1 ,"  two words  "\n'
	run shape --trim
	[ "$status" -eq 0 ]
	expect_out 'a,b\n1,two words\n'
}

@test "--trim and --skip-empty: rows of blanks are padding too" {
	input 'a,b\n1,2\n  ,\t\n'
	run shape --trim --skip-empty
	[ "$status" -eq 0 ]
	expect_out 'a,b\n1,2\n'
}

@test "a short row is 65 naming the row, unless --pad" {
	input 'a,b,c\n1,2,3\n4,5\n'
	run shape
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: row 2: 2 fields, the header has 3\n'
	expect_out 'a,b,c\n1,2,3\n'
	run shape --pad
	[ "$status" -eq 0 ]
	expect_out 'a,b,c\n1,2,3\n4,5,\n'
	run shape --truncate
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: row 2: 2 fields, the header has 3\n'
}

@test "a long row is 65 naming the row, unless --truncate" {
	input 'a,b\n1,2,,\n'
	run shape
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: row 1: 4 fields, the header has 2\n'
	expect_out 'a,b\n'
	run shape --truncate
	[ "$status" -eq 0 ]
	expect_out 'a,b\n1,2\n'
	run shape --pad
	[ "$status" -eq 65 ]
}

# ---- columns ----

@test "-c selects and reorders by name or 1-based number" {
	input 'a,b,c\n1,2,3\n'
	run shape -c c,a
	[ "$status" -eq 0 ]
	expect_out 'c,a\n3,1\n'
	run shape --columns 3,b,1,3
	[ "$status" -eq 0 ]
	expect_out 'c,b,a,c\n3,2,1,3\n'
}

@test "-c: a column named like a number wins over the position" {
	input '2,x\n10,20\n'
	run shape -c 2
	[ "$status" -eq 0 ]
	expect_out '2\n10\n'
	run shape -c 2,1
	expect_out '2,2\n10,10\n'
}

@test "-c names a missing column: 65, nothing written" {
	input 'a,b\n1,2\n'
	run shape -c a,nope,9
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: no column nope\ncsv-shape: stdin: no column 9\n'
	expect_out ''
	run shape -c a,,b
	expect_usage '-c: empty column name'
}

@test "-r renames (repeatable, by name or number) before -c" {
	input 'Pat_ID1,x,y\n7,8,9\n'
	run shape -r Pat_ID1=Internal_Patient_ID --rename 3=why \
	    -c why,Internal_Patient_ID
	[ "$status" -eq 0 ]
	expect_out 'why,Internal_Patient_ID\n9,7\n'
}

@test "-r of a missing column is 65; a bad -r is a usage error" {
	input 'a\n1\n'
	run shape -r zz=b
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: no column zz to rename\n'
	expect_out ''
	run shape -r a
	expect_usage '-r: expected old=new'
	run shape -r a=
	expect_usage '-r: expected old=new'
	run shape -r =b
	expect_usage '-r: expected old=new'
}

@test "--set appends constants, overwrites a column it names" {
	input 'a,Unit\n1,x\n2,y\n'
	run shape --set 'Visit_Type=Infusion' --set 'Unit=4th Floor Infusion' \
	    --set empty=
	[ "$status" -eq 0 ]
	expect_out 'a,Unit,Visit_Type,empty\n1,4th Floor Infusion,Infusion,\n2,4th Floor Infusion,Infusion,\n'
}

@test "--set columns can be placed with -c; a bad --set is a usage error" {
	input 'a\n1\n'
	run shape --set 'k=v=w' -c k,a
	[ "$status" -eq 0 ]
	expect_out 'k,a\nv=w,1\n'
	run shape --set novalue
	expect_usage '--set: expected name=value'
}

@test "--row-number counts output rows from 1, after --skip-empty" {
	input 'name\nx\n\n,\ny\n'
	input 'name,z\nx,1\n,\ny,2\n'
	run shape --skip-empty --row-number car_number -c car_number,name
	[ "$status" -eq 0 ]
	expect_out 'car_number,name\n1,x\n2,y\n'
	run shape --row-number ''
	expect_usage '--row-number: empty column name'
}

@test "--row-number overwrites an existing column in place" {
	input 'car_number,name\n9,x\n9,y\n'
	run shape --row-number car_number
	[ "$status" -eq 0 ]
	expect_out 'car_number,name\n1,x\n2,y\n'
}

@test "--date reformats ISO dates and date-times with strftime" {
	input 'd,at\n2020-05-07,2020-05-07 17:05\n1960-02-29,2020-05-07T05:00:59.123\n,\n'
	run shape --date 'd=%m/%d/%Y' --date 'at=%b %d %I:%M%p (%A)'
	[ "$status" -eq 0 ]
	expect_out 'd,at\n05/07/2020,May 07 05:05PM (Thursday)\n02/29/1960,May 07 05:00AM (Thursday)\n,\n'
	expect_err ''
}

@test "--date on a bad date is 65 per row and column, never the value" {
	input 'id,dob\n1,2021-02-29\n2,1999-12-31\n3,SECRET\n4,2020-05-07 25:00\n'
	run shape --date 'dob=%Y%m%d'
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: row 1, column dob: not an ISO 8601 date\ncsv-shape: stdin: row 3, column dob: not an ISO 8601 date\ncsv-shape: stdin: row 4, column dob: not an ISO 8601 date\n'
	expect_out 'id,dob\n1,2021-02-29\n2,19991231\n3,SECRET\n4,2020-05-07 25:00\n'
}

@test "--date-in reads another layout" {
	input 'created\n5/7/2020 17:05\n12/31/1999 0:00\n2020-05-07\n'
	run shape --date-in '%m/%d/%Y %H:%M' --date 'created=%Y-%m-%d %H:%M:%S'
	[ "$status" -eq 65 ]
	expect_out 'created\n2020-05-07 17:05:00\n1999-12-31 00:00:00\n2020-05-07\n'
	expect_err 'csv-shape: stdin: row 3, column created: does not match --date-in\n'
}

@test "--date of a missing column is 65; bad --date values are usage errors" {
	input 'a\n1\n'
	run shape --date 'b=%Y'
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: no column b for --date\n'
	expect_out ''
	run shape --date 'a'
	expect_usage '--date: expected column=format'
	run shape --date 'a='
	expect_usage '--date: expected column=format'
	run shape --date-in ''
	expect_usage '--date-in: empty format'
}

@test "order: rename, add, date, select" {
	input 'Pat_ID1,App_DtTm,junk\n42,2024-03-05 08:30:00,x\n'
	run shape -r App_DtTm=Appt_DtTm -r Pat_ID1=Internal_Patient_ID \
	    --set Rec_Type=Future --set 'Visit_Type=Infusion' \
	    --date 'Appt_DtTm=%m/%d/%Y %H:%M' \
	    -c Rec_Type,Visit_Type,Internal_Patient_ID,Appt_DtTm
	[ "$status" -eq 0 ]
	expect_out 'Rec_Type,Visit_Type,Internal_Patient_ID,Appt_DtTm\nFuture,Infusion,42,03/05/2024 08:30\n'
}

# ---- output options ----

@test "-o, --crlf, --bom, --quote all: a partner dialect" {
	input 'a,b\n1,"x;y"\n2,"q""z"\n'
	run shape -o ';' --crlf --bom
	[ "$status" -eq 0 ]
	expect_out '\xef\xbb\xbfa;b\r\n1;"x;y"\r\n2;"q""z"\r\n'
	run shape --output-delimiter '\t' --quote all
	[ "$status" -eq 0 ]
	expect_out '"a"\t"b"\n"1"\t"x;y"\n"2"\t"q""z"\n'
	run shape --quote minimal -o '|'
	expect_out 'a|b\n1|x;y\n2|"q""z"\n'
}

@test "--quote and -o refuse bad values" {
	input 'a\n'
	run shape --quote some
	expect_usage '--quote: expected minimal or all'
	run shape -o ''
	expect_usage '-o: not a delimiter'
}

@test "--no-header-out leaves the header out" {
	input 'a,b\n1,2\n'
	run shape --no-header-out -c b
	[ "$status" -eq 0 ]
	expect_out '2\n'
}

@test "--excel-safe defuses formula cells (OWASP CSV injection)" {
	input 'n,v\n1,"=HYPERLINK(""x"")"\n2,+1\n3,-2\n4,@SUM(A1)\n5,"\tx"\n6,"\rx"\n7,a=b\n8,\n'
	run shape --excel-safe
	[ "$status" -eq 0 ]
	expect_out "n,v\n1,\"'=HYPERLINK(\"\"x\"\")\"\n2,'+1\n3,'-2\n4,'@SUM(A1)\n5,'\tx\n6,\"'\rx\"\n7,a=b\n8,\n"
	run shape
	expect_out 'n,v\n1,"=HYPERLINK(""x"")"\n2,+1\n3,-2\n4,@SUM(A1)\n5,\tx\n6,"\rx"\n7,a=b\n8,\n'
}

@test "-w writes the output atomically, mode 600" {
	input 'a,b\n1,2\n'
	run shape -w "$W/feed.csv" -c b
	[ "$status" -eq 0 ]
	expect_out ''
	[ "$(cat "$W/feed.csv")" = "$(printf 'b\n2')" ]
	[ "$(file_mode "$W/feed.csv")" = 600 ]
	[ "$(ls -A "$W" | grep -c '^\.feed')" = 0 ]
}

@test "-w on failure leaves no file and no temporary" {
	input 'a,b\n1,2\n3\n'
	echo old >"$W/feed.csv"
	run shape --write "$W/feed.csv"
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: row 2: 1 fields, the header has 2\n'
	[ "$(cat "$W/feed.csv")" = old ]
	[ "$(ls -A "$W" | grep -c '^\.feed')" = 0 ]
	run shape -w "$W/no/such/dir/feed.csv"
	[ "$status" -eq 73 ]
	expect_err "csv-shape: $W/no/such/dir/feed.csv: No such file or directory\n"
}

@test "a full disk on stdout is 74" {
	input 'a\n1\n'
	full() {
		csv-shape <"$W/in" >/dev/full 2>"$W/err"
	}
	run full
	[ "$status" -eq 74 ]
	expect_err 'csv-shape: write error on standard output: No space left on device\n'
}

# ---- schema ----

@test "--schema: a valid file passes and is written" {
	input 'approved_confirm,slots_approved,business_code,hash\nY,10,AB12,ff00\n,,CD34,ee11\n'
	run shape --schema "$F/city.schema"
	[ "$status" -eq 0 ]
	expect_out 'approved_confirm,slots_approved,business_code,hash\nY,10,AB12,ff00\n,,CD34,ee11\n'
	expect_err ''
}

@test "--schema: every failure as row and column, never the value" {
	input 'n,d,day,at,t,us,e,re,name\n1,-2.5,2020-05-07,2020-05-07 05:00,23:59:59,05/07/2020,Y,ab-cd,abc\nx1,1.,2021-02-29,2020-05-07,24:00,2020-05-07,SECRET,Ab,abcd\n+3,.5,,,,,,,\n'
	run shape --schema "$F/types.schema"
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: row 2, column n: not an integer
csv-shape: stdin: row 2, column d: not a decimal number
csv-shape: stdin: row 2, column day: not a date
csv-shape: stdin: row 2, column at: not a date-time
csv-shape: stdin: row 2, column t: not a time
csv-shape: stdin: row 2, column us: not a date
csv-shape: stdin: row 2, column e: not one of the allowed values
csv-shape: stdin: row 2, column re: does not match the pattern
csv-shape: stdin: row 2, column name: longer than max_length
csv-shape: stdin: row 3, column name: empty\n'
	! grep -q SECRET "$W/err"
	# rows flow on; with -w nothing would be kept
	[ "$(wc -l <"$W/out")" -eq 4 ]
}

@test "--schema: max_length counts characters, not bytes" {
	input 'n,d,day,at,t,us,e,re,name\n,,,,,,,,N\xc3\xba\xc3\xb1\n'
	run shape --schema "$F/types.schema"
	[ "$status" -eq 0 ]
	expect_err ''
}

@test "--schema: a missing required column is 65 before any row" {
	input 'approved_confirm,business_code\nY,AB\n'
	run shape --schema "$F/city.schema"
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: no column slots_approved (required by the schema)\ncsv-shape: stdin: no column hash (required by the schema)\n'
	expect_out ''
}

@test "--schema names columns after renaming; rows are data rows" {
	input 'ok,code,h\nY,AB,\n\nN,,x\n'
	run shape -r code=business_code -r h=hash --set slots_approved= \
	    -r ok=approved_confirm --schema "$F/city.schema"
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: row 1, column hash: empty\ncsv-shape: stdin: row 2, column business_code: empty\n'
}

@test "--max-errors limits the list; the status stays 65" {
	input 'approved_confirm,slots_approved,business_code,hash\nQ,1,A,B\nQ,1,A,B\nQ,1,A,B\nQ,1,A,B\n'
	run shape --schema "$F/city.schema" --max-errors 2
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: row 1, column approved_confirm: not one of the allowed values\ncsv-shape: stdin: row 2, column approved_confirm: not one of the allowed values\ncsv-shape: stdin: 2 more errors not shown\n'
	run shape --schema "$F/city.schema" --max-errors 0
	[ "$status" -eq 65 ]
	[ "$(wc -l <"$W/err")" -eq 4 ]
	run shape --max-errors x
	expect_usage '--max-errors: not a number'
}

@test "--schema: a bad schema file is 78, a missing one 66" {
	input 'a\n1\n'
	printf 'column,kind\na,int\n' >"$W/s1"
	run shape --schema "$W/s1"
	[ "$status" -eq 78 ]
	expect_err "csv-shape: $W/s1: header: unknown column kind (column, type, arg, required, not_empty, max_length)\n"
	printf 'column,type\na,float\n' >"$W/s2"
	run shape --schema "$W/s2"
	[ "$status" -eq 78 ]
	expect_err "csv-shape: $W/s2: row 1: unknown type float\n"
	printf 'column,type,arg\na,regex,(\n' >"$W/s3"
	run shape --schema "$W/s3"
	[ "$status" -eq 78 ]
	grep -q "^csv-shape: $W/s3: row 1: bad regex: " "$W/err"
	printf 'column,required\na,maybe\n' >"$W/s4"
	run shape --schema "$W/s4"
	[ "$status" -eq 78 ]
	expect_err "csv-shape: $W/s4: row 1: required is not yes or no\n"
	printf 'column,max_length\na,-1\n' >"$W/s5"
	run shape --schema "$W/s5"
	[ "$status" -eq 78 ]
	expect_err "csv-shape: $W/s5: row 1: max_length is not a positive number\n"
	printf 'column,type,arg\na,int,5\n' >"$W/s6"
	run shape --schema "$W/s6"
	[ "$status" -eq 78 ]
	expect_err "csv-shape: $W/s6: row 1: arg given for type int\n"
	printf 'column,"type\n' >"$W/s7"
	run shape --schema "$W/s7"
	[ "$status" -eq 78 ]
	expect_err "csv-shape: $W/s7: line 1: malformed CSV (unterminated quoted field)\ncsv-shape: $W/s7: unusable schema\n"
	: >"$W/s8"
	run shape --schema "$W/s8"
	[ "$status" -eq 78 ]
	expect_err "csv-shape: $W/s8: empty schema\n"
	run shape --schema "$W/none"
	[ "$status" -eq 66 ]
	expect_err "csv-shape: $W/none: No such file or directory\n"
	expect_out ''
}

# ---- profiles ----

@test "-F reads options from a profile; values keep their spaces" {
	input ''
	run shape -F "$F/printer.shape" "$F/patients_form_print.sample.csv"
	[ "$status" -eq 0 ]
	cmp "$F/printer.expected.csv" "$W/out"
	expect_err ''
}

@test "-F: later command-line options override the profile" {
	run csv-shape -F "$F/printer.shape" -o , --no-header-out \
	    "$F/patients_form_print.sample.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '1,Doe,John,05/21/1940,"Thursday 7th, May 2020 05:00 AM",258338BW,Drive Thru #1\r\n2,Doe,Jane,06/18/1996,"Thursday 7th, May 2020 05:00 PM",156365WA,Drive Thru #1\r')" ]
}

@test "-F: --long=value, blank lines, comments, schema beside the profile" {
	mkdir -p "$W/shapes"
	cp "$F/city.schema" "$W/shapes/"
	printf '# city\n\n  --schema=city.schema\n--trim\r\n-c hash\n' >"$W/shapes/city.shape"
	input 'approved_confirm,slots_approved,business_code,hash\n Y , 3 , AB1 , ff \n'
	run shape -F "$W/shapes/city.shape"
	[ "$status" -eq 0 ]
	expect_out 'hash\nff\n'
}

@test "-F: profile errors are 78 naming file and line; missing is 66" {
	input 'a\n1\n'
	printf -- '--trim\n--frobnicate\n' >"$W/p1"
	run shape -F "$W/p1"
	[ "$status" -eq 78 ]
	expect_err "csv-shape: $W/p1:2: unknown option --frobnicate\n"
	printf -- '-c\n' >"$W/p2"
	run shape -F "$W/p2"
	[ "$status" -eq 78 ]
	expect_err "csv-shape: $W/p2:1: -c needs a value\n"
	printf -- '--trim yes\n' >"$W/p3"
	run shape -F "$W/p3"
	[ "$status" -eq 78 ]
	expect_err "csv-shape: $W/p3:1: --trim takes no value\n"
	printf -- '-r a\n' >"$W/p4"
	run shape -F "$W/p4"
	[ "$status" -eq 78 ]
	expect_err "csv-shape: $W/p4:1: -r: expected old=new\n"
	printf -- '-F other\n' >"$W/p5"
	run shape -F "$W/p5"
	[ "$status" -eq 78 ]
	expect_err "csv-shape: $W/p5:1: -F: not allowed in a profile\n"
	printf -- 'trim\n' >"$W/p6"
	run shape -F "$W/p6"
	[ "$status" -eq 78 ]
	expect_err "csv-shape: $W/p6:1: unknown option trim\n"
	run shape -F "$W/none"
	[ "$status" -eq 66 ]
	expect_err "csv-shape: $W/none: No such file or directory\n"
	expect_out ''
}

# ---- the published samples ----

@test "sample: patient_appointments in the pipe dialect, byte for byte" {
	run csv-shape "$F/patient_appointments.sample.csv"
	[ "$status" -eq 0 ]
	diff -u "$F/patient_appointments.pipe.csv" <(printf '%s\n' "$output")
	cmp "$F/patient_appointments.pipe.csv" \
	    <(csv-shape <"$F/patient_appointments.sample.csv")
}

@test "sample: both files round-trip through a partner dialect" {
	local f
	for f in patient_appointments patients_form_print; do
		csv-shape -o ';' --crlf --bom --quote all \
		    "$F/$f.sample.csv" >"$W/$f.partner"
		head -c 3 "$W/$f.partner" | cmp - <(printf '\xef\xbb\xbf')
		csv-shape -d ';' <"$W/$f.partner" >"$W/$f.back"
		cmp "$F/$f.pipe.csv" "$W/$f.back"
		# and the pipe dialect is a fixed point
		csv-shape <"$F/$f.pipe.csv" | cmp "$F/$f.pipe.csv" -
	done
}

@test "sample: printer file columns picked, renamed and reformatted" {
	run csv-shape -r ereqnumber=requisition -r app_start=appointment \
	    -c car_number,last_name,first_name,dob,appointment,requisition \
	    --date 'dob=%m/%d/%Y' "$F/patients_form_print.sample.csv"
	[ "$status" -eq 0 ]
	[ "$output" = 'car_number,last_name,first_name,dob,appointment,requisition
1,Doe,John,05/21/1940,"Thursday 7th, May 2020 05:00 AM",258338BW
2,Doe,Jane,06/18/1996,"Thursday 7th, May 2020 05:00 PM",156365WA' ]
}

# ---- arguments ----

@test "a missing input file is 66; two files or an unknown option are 64" {
	run csv-shape "$W/none.csv"
	[ "$status" -eq 66 ]
	[ "$output" = "csv-shape: $W/none.csv: No such file or directory" ]
	input 'a\n'
	run shape a b
	expect_usage ''
	run shape --bogus
	[ "$status" -eq 64 ]
	grep -q '^usage: csv-shape ' "$W/err"
	[ ! -s "$W/out" ]
}

@test "- reads stdin; empty input has no header row: 65" {
	input 'a\n1\n'
	run shape -
	[ "$status" -eq 0 ]
	expect_out 'a\n1\n'
	input ''
	run shape
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: no header row\n'
	expect_out ''
	input '\xef\xbb\xbf\n\n'
	run shape
	[ "$status" -eq 65 ]
	expect_err 'csv-shape: stdin: no header row\n'
}

# ---- large inputs: chunks parsed on several threads (lib/csvio) ----

# big ARGS...: tests/fixtures/csv-shape/bigcsv.py gen $W/big.csv ARGS...;
# what it prints (KIND ROW LINE for each --bad) is in $W/marks
big() {
	"$PY" "$F/bigcsv.py" gen "$W/big.csv" "$@" >"$W/marks"
}

# mark KIND: "ROW LINE" of the first --bad of that kind
mark() {
	awk -v k="$1" '$1 == k { print $2, $3; exit }' "$W/marks"
}

# reference [--upto N]: what Python's csv module makes of columns c,a,b
reference() {
	"$PY" "$F/bigcsv.py" cut "$W/big.csv" "$W/expect" c a b "$@"
}

# stops_at ROW MESSAGE: csv-shape -c c,a,b on stdin stops with 65 and
# MESSAGE alone, having written every row before ROW and nothing more
stops_at() {
	reference --upto $(($1 - 1))
	status=0
	csv-shape -c c,a,b <"$W/big.csv" >"$W/out" 2>"$W/err" || status=$?
	[ "$status" -eq 65 ]
	[ "$(cat "$W/err")" = "csv-shape: stdin: $2" ]
	cmp "$W/expect" "$W/out"
}

@test "chunks: 3 MB with quoted newlines across chunk ends, as Python's csv reads it" {
	big 30000
	[ "$(wc -c <"$W/big.csv")" -gt 3000000 ]
	grep -q 'second, ""two""' "$W/big.csv"	# quoted LF and CRLF inside
	reference
	csv-shape -c c,a,b "$W/big.csv" >"$W/out"
	cmp "$W/expect" "$W/out"
	# the same from a pipe, and numbered: one running count across chunks
	csv-shape -c n,c --row-number n <"$W/big.csv" >"$W/out"
	[ "$(head -n 1 "$W/out")" = n,c ]
	cmp <(seq 1 30000) <(tail -n +2 "$W/out" | cut -d, -f1)
	cmp <(seq 7 7 210000) <(tail -n +2 "$W/out" | cut -d, -f2)
}

@test "writer: a byte that forces quoting, at every place in fields of 0 to 40 bytes" {
	for delim in , ';'; do
		python3 "$F/bigcsv.py" edges "$W/in" "$W/expect" "$delim"
		[ "$(wc -l <"$W/expect")" -gt 4000 ]
		shape -o "$delim"
		cmp "$W/expect" "$W/out"
	done
}

@test "chunks: errors deep in the input name their row, in order; counted ones all" {
	big 30000 --bad date@7 --bad date@25000 --bad fields@28000
	[ "$(mark date)" = "7 8" ]
	d2=$(awk '$1 == "date" { r = $2 } END { print r }' "$W/marks")
	read -r f1 _ <<<"$(mark fields)"
	reference --upto $((f1 - 1))
	status=0
	csv-shape -c c,a,b --date when=%d/%m/%Y --max-errors 0 "$W/big.csv" \
	    >"$W/out" 2>"$W/err" || status=$?
	[ "$status" -eq 65 ]
	printf '%s\n' \
	    "csv-shape: $W/big.csv: row 7, column when: not an ISO 8601 date" \
	    "csv-shape: $W/big.csv: row $d2, column when: not an ISO 8601 date" \
	    "csv-shape: $W/big.csv: row $f1: 5 fields, the header has 6" |
	    diff -u - "$W/err"
	# every row before the short one, and nothing after it
	cmp "$W/expect" "$W/out"
	# --max-errors counts across chunks
	status=0
	csv-shape -c c --date when=%d/%m/%Y --max-errors 1 "$W/big.csv" \
	    >/dev/null 2>"$W/err" || status=$?
	[ "$status" -eq 65 ]
	printf '%s\n' \
	    "csv-shape: $W/big.csv: row 7, column when: not an ISO 8601 date" \
	    "csv-shape: $W/big.csv: row $f1: 5 fields, the header has 6" \
	    "csv-shape: $W/big.csv: 1 more errors not shown" |
	    diff -u - "$W/err"
}

@test "chunks: bad UTF-8 and a stray quote deep in the input: row, line, output up to there" {
	big 30000 --bad utf8@21000
	read -r row _ <<<"$(mark utf8)"
	stops_at "$row" "row $row, column 2: invalid UTF-8"

	big 30000 --bad quote@17000
	read -r row line <<<"$(mark quote)"
	[ "$line" -gt "$row" ]	# quoted newlines before it
	stops_at "$row" "line $line: malformed CSV (error parsing data while strict checking enabled)"
}

@test "chunks: a 9 MB field, then the rest on one thread; CR-only line ends too" {
	big 20000 --huge 5000 --bad utf8@15000
	read -r row _ <<<"$(mark utf8)"
	stops_at "$row" "row $row, column 2: invalid UTF-8"
	[ "$(grep -c '^huge ' "$W/out")" -gt 300000 ]
	# the bad byte in a record that ends chunks later
	big 5000 --huge 5000 --bad utf8@5000
	stops_at 5000 "row 5000, column 2: invalid UTF-8"

	big 30000 --cr
	[ "$(tr -cd '\n' <"$W/big.csv" | wc -c)" -eq 0 ]
	reference
	csv-shape -c c,a,b <"$W/big.csv" >"$W/out"
	cmp "$W/expect" "$W/out"
}

@test "memory stays flat on a large input" {
	if ldd "$(command -v csv-shape)" | grep -q libasan; then
		skip "resident size means nothing under AddressSanitizer"
	fi
	"$PY" -c '
import sys
w = sys.stdout.write
w("a,b,c,d\n")
for i in range(300000):
    w("%d,\"x, \"\"%d\"\"\",%s,end\n" % (i, i, "y" * (i % 50)))
' >"$W/big.csv"
	/usr/bin/time -f %M -o "$W/rss" csv-shape -c d,a <"$W/big.csv" >"$W/out"
	[ "$(wc -l <"$W/out")" -eq 300001 ]
	[ "$(cat "$W/rss")" -lt 8192 ]
}

# long_cell BYTES [quoted]: $W/in holds a header, row 1, then row 2 with a
# cell of BYTES x's (quoted: lines of "x\n"), then row 3
long_cell() {
	"$PY" -c '
import sys
n, quoted = int(sys.argv[1]), len(sys.argv) > 2
cell = "\"" + "x\n" * (n // 2) + "\"" if quoted else "x" * n
sys.stdout.write("a,b\n1,2\n3," + cell + "\n5,6\n")
' "$@" >"$W/in"
}

@test "a record over --max-record (16 MiB by default) is 65 naming the row, memory bounded; the option raises it" {
	asan=0
	ldd "$(command -v csv-shape)" | grep -q libasan && asan=1
	long_cell $((17 << 20))
	run --separate-stderr /usr/bin/time -f %M -o "$W/rss" csv-shape -c b,a <"$W/in"
	[ "$status" -eq 65 ]
	[ "$output" = $'b,a\n2,1' ]
	[ "$stderr" = "csv-shape: stdin: row 2: a record longer than 16777216 bytes, the limit (--max-record raises it)" ]
	# a 17 MiB cell never becomes a 100 MB process (it was 164 MB for 50 MB)
	[ "$asan" -eq 1 ] || [ "$(tail -n 1 "$W/rss")" -lt 65536 ]
	# quoted across many lines: the record is cut off all the same
	long_cell $((17 << 20)) quoted
	run --separate-stderr csv-shape <"$W/in"
	[ "$status" -eq 65 ]
	[ "$output" = $'a,b\n1,2' ]
	[ "$stderr" = "csv-shape: stdin: row 2: a record longer than 16777216 bytes, the limit (--max-record raises it)" ]
	# raised, on the command line or in a profile
	long_cell $((17 << 20))
	shape --max-record 32M
	cmp "$W/in" "$W/out"
	printf -- '--max-record 32M\n' >"$W/big.shape"
	csv-shape -F "$W/big.shape" <"$W/in" >"$W/out"
	cmp "$W/in" "$W/out"
}

@test "--max-record counts the whole record, the header too; bad values are refused" {
	"$PY" -c 'import sys; sys.stdout.write("a\n" + "x," * 700 + "x\n")' >"$W/in"
	run --separate-stderr csv-shape --max-record 1K <"$W/in"
	[ "$status" -eq 65 ]
	[ "$stderr" = "csv-shape: stdin: row 1: a record longer than 1024 bytes, the limit (--max-record raises it)" ]
	"$PY" -c 'import sys; sys.stdout.write(",".join("c%d" % i for i in range(400)) + "\n")' >"$W/in"
	run csv-shape --max-record 1K <"$W/in"
	[ "$status" -eq 65 ]
	[ "$output" = "csv-shape: stdin: header: a record longer than 1024 bytes, the limit (--max-record raises it)" ]
	run csv-shape --max-record 12Q <"$W/in"
	[ "$status" -eq 64 ]
	[ "${lines[0]}" = "csv-shape: --max-record: want a size in bytes from 1K to 4G (K, M or G may follow)" ]
	printf -- '--max-record 100\n' >"$W/bad.shape"
	run csv-shape -F "$W/bad.shape" <"$W/in"
	[ "$status" -eq 78 ]
	[ "$output" = "csv-shape: $W/bad.shape:1: --max-record: want a size in bytes from 1K to 4G (K, M or G may follow)" ]
}

@test "an empty input (no bytes, or a BOM alone) has no header: 65, as in phi-redact; a header alone is a valid empty table" {
	: >"$W/in"
	run csv-shape <"$W/in"
	[ "$status" -eq 65 ]
	[ "$output" = "csv-shape: stdin: no header row" ]
	printf '\357\273\277' >"$W/in"
	run csv-shape <"$W/in"
	[ "$status" -eq 65 ]
	[ "$output" = "csv-shape: stdin: no header row" ]
	printf 'a,b\n' >"$W/in"
	run csv-shape -c b <"$W/in"
	[ "$status" -eq 0 ]
	[ "$output" = "b" ]
}
