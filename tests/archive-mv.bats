#!/usr/bin/env bats
# archive-mv: dated archive, never overwriting, receipts verified, across
# filesystems. Every error path: exit status, message, and what is left
# on disk (nothing lost, nothing half-written).

load common

setup() {
	common_setup
	cd "$W"
	DAY=arch/2024/03/05
	MOUNTS=()
}

teardown() {
	local m
	for m in "${MOUNTS[@]}"; do
		umount "$m" 2>/dev/null || true
	done
}

# receipt FILE...: the rows a transfer program prints for FILEs
receipt() {
	local f
	echo "file,bytes,sha256,target"
	for f in "$@"; do
		printf '"%s",%s,%s,"sftp://iq@example.org/in/%s"\n' "$f" \
		    "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)" \
		    "${f##*/}"
	done
}

# tmpfs DIR [OPTIONS]: a real second filesystem (needs root to mount)
tmpfs() {
	[ "$(id -u)" = 0 ] || skip "mounting a tmpfs needs root"
	mkdir -p "$1"
	mount -t tmpfs -o "${2:-size=4m}" tmpfs "$1" ||
	    skip "cannot mount a tmpfs here"
	MOUNTS+=("$1")
}

# no_temporaries DIR: no .NAME.XXXXXX left behind
no_temporaries() {
	[ -z "$(find "$1" -name '.*' -type f)" ]
}

@test "an operand moves into DIR/YYYY/MM/DD with its contents and mode" {
	printf 'id,when\n1,2024-03-05\n' > feed.csv
	chmod 640 feed.csv
	touch -d '2024-03-05 05:00:00' feed.csv
	run archive-mv --to arch --date 2024-03-05 feed.csv
	[ "$status" -eq 0 ]
	[ "$output" = "$DAY/feed.csv" ]
	[ ! -e feed.csv ]
	[ "$(cat "$DAY/feed.csv")" = "$(printf 'id,when\n1,2024-03-05')" ]
	[ "$(file_mode "$DAY/feed.csv")" = 640 ]
	[ "$(stat -c %Y "$DAY/feed.csv")" = "$(date -d '2024-03-05 05:00:00' +%s)" ]
}

@test "short options -t and -d, a trailing slash on DIR, several operands" {
	echo a > a.csv
	mkdir sub && echo b > sub/b.csv
	run archive-mv -t arch/ -d 2024-03-05 a.csv sub/b.csv
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' "$DAY/a.csv" "$DAY/b.csv")" ]
	[ "$(cat "$DAY/a.csv")" = a ] && [ "$(cat "$DAY/b.csv")" = b ]
	[ ! -e a.csv ] && [ ! -e sub/b.csv ]
}

@test "without --date the directory is today's, in local time" {
	echo a > a.csv
	today=$(TZ=Pacific/Kiritimati date +%Y/%m/%d)
	TZ=Pacific/Kiritimati run archive-mv --to "$W/arch" a.csv
	[ "$status" -eq 0 ]
	[ "$output" = "$W/arch/$today/a.csv" ]
	[ "$(cat "arch/$today/a.csv")" = a ]
}

@test "new directories follow the umask (a job's 077 keeps them private)" {
	echo a > a.csv
	run sh -c 'umask 077 && archive-mv --to arch --date 2024-03-05 a.csv'
	[ "$status" -eq 0 ]
	[ "$(file_mode arch)" = 700 ]
	[ "$(file_mode "$DAY")" = 700 ]
	[ "$(file_mode "$DAY/a.csv")" = 644 ]
}

@test "never overwrites: name.1, name.2, and the earlier files stay as they were" {
	mkdir -p "$DAY"
	echo first > "$DAY/feed.csv"
	echo second > "$DAY/feed.csv.1"
	echo third > feed.csv
	run archive-mv --to arch --date 2024-03-05 feed.csv
	[ "$status" -eq 0 ]
	[ "$output" = "$DAY/feed.csv.2" ]
	[ "$(cat "$DAY/feed.csv")" = first ]
	[ "$(cat "$DAY/feed.csv.1")" = second ]
	[ "$(cat "$DAY/feed.csv.2")" = third ]
	echo fourth > feed.csv
	run archive-mv --to arch --date 2024-03-05 feed.csv
	[ "$output" = "$DAY/feed.csv.3" ]
}

@test "receipts on stdin: each file in the file column moves, once" {
	echo a > a.csv
	echo bb > 'b, quoted.csv'
	receipt a.csv 'b, quoted.csv' > receipts
	# the same file delivered to a second target is one move
	receipt a.csv | tail -n 1 | sed "s|sftp://[^\"]*|/mnt/share/a.csv|" >> receipts
	run archive-mv --to arch --date 2024-03-05 < receipts
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' "$DAY/a.csv" "$DAY/b, quoted.csv")" ]
	[ "$(cat "$DAY/a.csv")" = a ] && [ "$(cat "$DAY/b, quoted.csv")" = bb ]
	[ ! -e a.csv ] && [ ! -e 'b, quoted.csv' ]
}

@test "receipts: columns found by the header's names, CRLF accepted" {
	echo a > a.csv
	sum=$(sha256sum a.csv | cut -d' ' -f1)
	printf 'target,sha256,file,bytes\r\nx,%s,a.csv,2\r\n' "$sum" |
	    archive-mv --to arch --date 2024-03-05 > out
	[ "$(cat out)" = "$DAY/a.csv" ]
	[ "$(cat "$DAY/a.csv")" = a ]
}

@test "receipts: a header-only or empty stdin moves nothing" {
	run archive-mv --to arch --date 2024-03-05 < /dev/null
	[ "$status" -eq 0 ] && [ -z "$output" ]
	echo "file,bytes,sha256,target" > receipts
	run archive-mv --to arch --date 2024-03-05 < receipts
	[ "$status" -eq 0 ] && [ -z "$output" ]
	[ ! -e arch ]
}

@test "operand - reads receipts on stdin among the other operands" {
	echo a > a.csv
	echo b > b.csv
	receipt b.csv > receipts
	run archive-mv --to arch --date 2024-03-05 a.csv - < receipts
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' "$DAY/a.csv" "$DAY/b.csv")" ]
}

@test "a file whose size changed since delivery: 65, left in place" {
	echo original > feed.csv
	receipt feed.csv > receipts
	echo "row added later" >> feed.csv
	run archive-mv --to arch --date 2024-03-05 < receipts
	[ "$status" -eq 65 ]
	[ "$output" = "archive-mv: feed.csv: size differs from the receipt: changed since delivery, left in place" ]
	[ "$(cat feed.csv)" = "$(printf 'original\nrow added later')" ]
	[ ! -e "$DAY/feed.csv" ]
}

@test "a file whose contents changed (same size): 65, left in place" {
	echo original > feed.csv
	receipt feed.csv > receipts
	echo ORIGINAL > feed.csv
	run archive-mv --to arch --date 2024-03-05 < receipts
	[ "$status" -eq 65 ]
	[ "$output" = "archive-mv: feed.csv: SHA-256 differs from the receipt: changed since delivery, left in place" ]
	[ "$(cat feed.csv)" = ORIGINAL ]
	[ -z "$(ls "$DAY")" ]
}

@test "a missing source is 66 and the others still move" {
	echo a > a.csv
	echo b > b.csv
	run archive-mv --to arch --date 2024-03-05 a.csv gone.csv b.csv
	[ "$status" -eq 66 ]
	[ "${lines[0]}" = "$DAY/a.csv" ]
	[ "${lines[1]}" = "archive-mv: gone.csv: No such file or directory" ]
	[ "${lines[2]}" = "$DAY/b.csv" ]
	[ ! -e a.csv ] && [ ! -e b.csv ]
	[ "$(cat "$DAY/b.csv")" = b ]
}

@test "the exit status is the worst seen: 66 beats 65, in any order" {
	echo a > a.csv
	echo changed > b.csv
	{ receipt a.csv b.csv; printf 'gone.csv,1,%064d,x\n' 0; } > receipts
	echo "changed again" > b.csv
	run archive-mv --to arch --date 2024-03-05 < receipts
	[ "$status" -eq 66 ]
	[ "${lines[0]}" = "$DAY/a.csv" ]
	[ "${lines[1]}" = "archive-mv: b.csv: size differs from the receipt: changed since delivery, left in place" ]
	[ "${lines[2]}" = "archive-mv: gone.csv: No such file or directory" ]
	[ -e b.csv ]
}

@test "a directory or a symlink is not archived: 65" {
	mkdir adir
	echo a > a.csv
	ln -s a.csv link.csv
	run archive-mv --to arch --date 2024-03-05 adir link.csv
	[ "$status" -eq 65 ]
	[ "${lines[0]}" = "archive-mv: adir: not a regular file, left in place" ]
	[ "${lines[1]}" = "archive-mv: link.csv: not a regular file, left in place" ]
	[ -d adir ] && [ -L link.csv ] && [ -e a.csv ]
}

@test "receipts without a file column: 65, nothing moved" {
	echo a > a.csv
	printf 'path,bytes\na.csv,2\n' > receipts
	run archive-mv --to arch --date 2024-03-05 < receipts
	[ "$status" -eq 65 ]
	[ "$output" = "archive-mv: stdin: header has no file column" ]
	[ -e a.csv ] && [ ! -e arch ]
}

@test "bad receipt rows are 65 each (row and column named, no value) and the others still move" {
	echo a > a.csv
	echo b > b.csv
	echo c > c.csv
	echo d > d.csv
	{
		receipt a.csv
		printf 'b.csv,2\n'
		printf 'c.csv,two,%064d,x\n' 0
		printf 'd.csv,2,not-a-digest,x\n'
		printf ',2,%064d,x\n' 0
	} > receipts
	run archive-mv --to arch --date 2024-03-05 < receipts
	[ "$status" -eq 65 ]
	[ "${lines[0]}" = "$DAY/a.csv" ]
	[ "${lines[1]}" = "archive-mv: stdin: row 2: 2 fields, the header has 4" ]
	[ "${lines[2]}" = "archive-mv: stdin: row 3, column bytes: not a byte count" ]
	[ "${lines[3]}" = "archive-mv: stdin: row 4, column sha256: not a SHA-256" ]
	[ "${lines[4]}" = "archive-mv: stdin: row 5, column file: empty" ]
	[ "${#lines[@]}" -eq 5 ]
	[ -e b.csv ] && [ -e c.csv ] && [ -e d.csv ]
}

@test "malformed CSV on stdin: 65 naming the line, earlier rows moved" {
	echo a > a.csv
	echo b > b.csv
	{ receipt a.csv; printf 'b.csv,2,stray"quote,x\n'; } > receipts
	run archive-mv --to arch --date 2024-03-05 < receipts
	[ "$status" -eq 65 ]
	[ "${lines[0]}" = "$DAY/a.csv" ]
	[ "${lines[1]}" = "archive-mv: stdin: line 3: malformed CSV (error parsing data while strict checking enabled)" ]
	[ -e b.csv ]
}

@test "usage: no --to, an unknown option, an empty --to: 64" {
	echo a > a.csv
	run archive-mv a.csv
	[ "$status" -eq 64 ]
	[ "$output" = "usage: archive-mv --to DIR [--date YYYY-MM-DD] [file ...]" ]
	run archive-mv --to arch --bogus a.csv
	[ "$status" -eq 64 ]
	[ "${lines[1]}" = "usage: archive-mv --to DIR [--date YYYY-MM-DD] [file ...]" ]
	run archive-mv --to '' a.csv
	[ "$status" -eq 64 ]
	[ "$output" = "archive-mv: --to: empty directory name" ]
	[ -e a.csv ] && [ ! -e arch ]
}

@test "an invalid --date is 64 and nothing moves" {
	echo a > a.csv
	for d in 2023-02-29 2024-13-01 2024-3-5 03/05/2024 2024-03-05T10:00 \
	    yesterday ''; do
		run archive-mv --to arch --date "$d" a.csv
		[ "$status" -eq 64 ]
		[ "$output" = "archive-mv: --date: $d: not a date (YYYY-MM-DD)" ]
	done
	[ -e a.csv ] && [ ! -e arch ]
}

@test "an archive directory that cannot be made: 73, source in place" {
	echo a > a.csv
	echo "not a directory" > arch
	run archive-mv --to arch --date 2024-03-05 a.csv
	[ "$status" -eq 73 ]
	[ "$output" = "archive-mv: $DAY: cannot create: Not a directory" ]
	[ "$(cat a.csv)" = a ]
}

@test "a closed or full stdout is 74" {
	echo a > a.csv
	run sh -c 'archive-mv --to arch --date 2024-03-05 a.csv > /dev/full'
	[ "$status" -eq 74 ]
	[ "$output" = "archive-mv: write error on standard output: No space left on device" ]
}

@test "across filesystems: copied whole, mode and time kept, source removed" {
	tmpfs "$W/other"
	head -c 300000 /dev/urandom > other/big.bin
	chmod 604 other/big.bin
	touch -d '2024-03-05 05:00:00' other/big.bin
	sum=$(sha256sum other/big.bin | cut -d' ' -f1)
	[ "$(stat -c %d other)" != "$(stat -c %d .)" ]
	receipt other/big.bin > receipts
	run archive-mv --to arch --date 2024-03-05 < receipts
	[ "$status" -eq 0 ]
	[ "$output" = "$DAY/big.bin" ]
	[ ! -e other/big.bin ]
	[ "$(sha256sum "$DAY/big.bin" | cut -d' ' -f1)" = "$sum" ]
	[ "$(file_mode "$DAY/big.bin")" = 604 ]
	[ "$(stat -c %Y "$DAY/big.bin")" = "$(date -d '2024-03-05 05:00:00' +%s)" ]
	no_temporaries arch
}

@test "across filesystems: into a tmpfs archive, never overwriting" {
	tmpfs "$W/arch"
	mkdir -p "$DAY"
	echo old > "$DAY/feed.csv"
	echo new > feed.csv
	run archive-mv --to arch --date 2024-03-05 feed.csv
	[ "$status" -eq 0 ]
	[ "$output" = "$DAY/feed.csv.1" ]
	[ "$(cat "$DAY/feed.csv")" = old ]
	[ "$(cat "$DAY/feed.csv.1")" = new ]
	[ ! -e feed.csv ]
	no_temporaries arch
}

@test "across filesystems: changed contents are caught in the copy: 65, no copy left" {
	tmpfs "$W/other"
	echo original > other/feed.csv
	receipt other/feed.csv > receipts
	echo ORIGINAL > other/feed.csv
	run archive-mv --to arch --date 2024-03-05 < receipts
	[ "$status" -eq 65 ]
	[ "$output" = "archive-mv: other/feed.csv: SHA-256 differs from the receipt: changed since delivery, left in place" ]
	[ "$(cat other/feed.csv)" = ORIGINAL ]
	[ -z "$(ls -A "$DAY")" ]
}

@test "across filesystems: a full archive disk is 74, no half file, source kept" {
	tmpfs "$W/arch" size=64k
	head -c 200000 /dev/urandom > big.bin
	sum=$(sha256sum big.bin | cut -d' ' -f1)
	echo small > small.csv
	run archive-mv --to arch --date 2024-03-05 big.bin small.csv
	[ "$status" -eq 74 ]
	[ "${lines[0]}" = "archive-mv: big.bin: cannot copy to $DAY/big.bin: No space left on device" ]
	[ "${lines[1]}" = "$DAY/small.csv" ]
	[ "$(sha256sum big.bin | cut -d' ' -f1)" = "$sum" ]
	[ ! -e "$DAY/big.bin" ]
	no_temporaries arch
}

@test "a read-only archive is 73, source kept" {
	tmpfs "$W/arch"
	mkdir -p "$DAY"
	mount -o remount,ro "$W/arch"
	echo a > a.csv
	run archive-mv --to arch --date 2024-03-05 a.csv
	[ "$status" -eq 73 ]
	[ "$output" = "archive-mv: a.csv: cannot create a temporary for $DAY/a.csv: Read-only file system" ]
	[ "$(cat a.csv)" = a ]
}

@test "across filesystems: a source that cannot be removed is 74 and the copy is undone" {
	tmpfs "$W/other"
	echo a > other/a.csv
	mount -o remount,ro "$W/other"
	run archive-mv --to arch --date 2024-03-05 other/a.csv
	[ "$status" -eq 74 ]
	[ "$output" = "archive-mv: other/a.csv: cannot remove, left in place: Read-only file system" ]
	[ "$(cat other/a.csv)" = a ]
	[ -z "$(ls -A "$DAY")" ]
}

@test "a file already archived (gone, its copy in the day directory) is success: a killed run's archive step run again" {
	printf 'id\n1\n' > feed.csv
	receipt feed.csv > receipts.csv
	archive-mv --to arch --date 2024-03-05 < receipts.csv > /dev/null
	[ ! -e feed.csv ]
	run archive-mv --to arch --date 2024-03-05 < receipts.csv
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "archive-mv: feed.csv: not there; archived already as $DAY/feed.csv" ]
	[ "${lines[1]}" = "$DAY/feed.csv" ]
	# an operand too
	run archive-mv --to arch --date 2024-03-05 feed.csv
	[ "$status" -eq 0 ]
	[ "${lines[1]}" = "$DAY/feed.csv" ]
	[ "$(ls -A "$DAY")" = feed.csv ]
}

@test "a file gone whose receipt names other content than the day directory's copies is still 66" {
	printf 'id\n1\n' > feed.csv
	archive-mv --to arch --date 2024-03-05 feed.csv > /dev/null
	printf 'id\n2\n' > feed.csv
	receipt feed.csv > receipts.csv
	rm feed.csv
	run archive-mv --to arch --date 2024-03-05 < receipts.csv
	[ "$status" -eq 66 ]
	[ "$output" = "archive-mv: feed.csv: No such file or directory" ]
	# another day: nothing archived there
	run archive-mv --to arch --date 2024-03-06 feed.csv
	[ "$status" -eq 66 ]
}

@test "a NUL inside a receipt's file name is 65, naming the row; the truncated name is not archived" {
	printf 'a\n' > feed.csv
	printf 'file,bytes,sha256,target\n"feed.csv\0.evil",2,%s,sftp://h/in/x\n' \
	    "$(sha256sum feed.csv | cut -d' ' -f1)" > receipts.csv
	run archive-mv --to arch --date 2024-03-05 < receipts.csv
	[ "$status" -eq 65 ]
	[ "$output" = "archive-mv: stdin: row 1, column file: holds a NUL byte" ]
	[ -e feed.csv ]
	[ ! -e "$DAY/feed.csv" ]
}
