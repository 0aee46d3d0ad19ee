#!/usr/bin/env bats
# phi-redact: rules, tokens, shifts, Safe Harbor, default deny, every error.

load common
bats_require_minimum_version 1.5.0

FIX="$TOP/tests/fixtures/phi-redact"
TEST_KEY='phi-redact test key, not a secret: 0123456789'

setup() {
	common_setup
	export PHI_REDACT_KEY="$TEST_KEY"
	unset PHI_REDACT_KEY_FILE
}

# hmac_hex KEY VALUE: HMAC-SHA256 of VALUE under KEY, by openssl's own code
hmac_hex() {
	printf %s "$2" | openssl dgst -sha256 -mac HMAC -macopt "key:$1" |
	    sed 's/^.*= //'
}

# token KEY VALUE: what phi-redact must write: h1_ and the first 128 bits
token() {
	local mac
	mac=$(hmac_hex "$1" "$2")
	echo "h1_${mac:0:32}"
}

# fails STATUS MESSAGE COMMAND...: exits STATUS, says MESSAGE, writes nothing
fails() {
	local want_status=$1 want_stderr=$2
	shift 2
	run --separate-stderr "$@"
	[ "$status" -eq "$want_status" ]
	[ "$stderr" = "$want_stderr" ]
	[ "$output" = "" ]
}

# cell ROW COLUMN: one cell of $output (CSV without quoted commas)
cell() {
	printf '%s\n' "$output" | sed -n "$(($1 + 1))p" | cut -d, -f"$2"
}

# --- HMAC and tokens -------------------------------------------------------

@test "hash: RFC 4231 test cases 6 and 7 through phi-redact itself" {
	# The two RFC 4231 cases whose 131-byte key passes the 32-byte minimum.
	# The RFC's HMAC-SHA-256 outputs, of which a token keeps 128 bits:
	# 60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54
	# 9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2
	head -c 131 /dev/zero | tr '\0' '\252' >"$W/rfc4231.key"
	unset PHI_REDACT_KEY
	export PHI_REDACT_KEY_FILE="$W/rfc4231.key"
	printf '%s\n' data \
	    'Test Using Larger Than Block-Size Key - Hash Key First' \
	    'This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.' \
	    >"$W/in.csv"
	run phi-redact --hash data "$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "data
h1_60e431591ee0b67f0d8a26aacbf5b77f
h1_9b09ffa71b942fcb27635fbcd5b0e944" ]
}

@test "hash: RFC 4231 cases 1 to 4 through openssl, whose output the token formats" {
	# The same command the token test below trusts, on the RFC's own keys.
	run sh -c "printf 'Hi There' | openssl dgst -sha256 -mac HMAC -macopt hexkey:0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"
	[ "${output##*= }" = b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7 ]
	[ "$(hmac_hex Jefe 'what do ya want for nothing?')" = \
	    5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843 ]
	run sh -c "head -c 50 /dev/zero | tr '\0' '\335' | openssl dgst -sha256 -mac HMAC -macopt hexkey:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	[ "${output##*= }" = 773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe ]
	run sh -c "head -c 50 /dev/zero | tr '\0' '\315' | openssl dgst -sha256 -mac HMAC -macopt hexkey:0102030405060708090a0b0c0d0e0f10111213141516171819"
	[ "${output##*= }" = 82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b ]
}

@test "hash: every cell length from 1 to 130 bytes, both sides of the one-block path, as openssl computes it" {
	# phi-redact pads a cell of up to 55 bytes into one block itself and
	# hands longer ones to SHA256_Update: 55, 56, 64 and 119/120 are the
	# edges (the padding, the block, the second block's padding).
	"$PY" -c '
import sys
alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_. "
print("v")
for n in range(1, 131):
    print("".join(alphabet[(n * 7 + i * 13) % len(alphabet)] for i in range(n)))
' >"$W/in.csv"
	run phi-redact --hash v "$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | wc -l)" -eq 131 ]
	n=0
	while IFS= read -r value; do
		n=$((n + 1))
		[ "$n" -gt 1 ] || continue
		want=$(token "$TEST_KEY" "$value")
		got=$(printf '%s\n' "$output" | sed -n "${n}p")
		[ "$got" = "$want" ] || { echo "length ${#value}: $got, want $want"; return 1; }
	done <"$W/in.csv"
}

@test "hash: the token is h1_ and the HMAC-SHA256 of the exact cell bytes, 128 bits in hex" {
	printf '%s\n' 'id' 'MRN0001' '"Doe, Jane"' 'Núñez' ' spaced ' >"$W/in.csv"
	run phi-redact --hash id "$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "id
$(token "$TEST_KEY" MRN0001)
$(token "$TEST_KEY" 'Doe, Jane')
$(token "$TEST_KEY" 'Núñez')
$(token "$TEST_KEY" ' spaced ')" ]
}

@test "hash: tokens are stable across runs, files and columns; they differ across keys" {
	printf 'mrn,x\nA1,1\nB2,2\n' >"$W/one.csv"
	printf 'other,patient_id\n9,B2\n8,A1\n' >"$W/two.csv"
	run phi-redact --hash mrn --keep x "$W/one.csv"
	first=$output
	run phi-redact --hash mrn --keep x "$W/one.csv"
	[ "$output" = "$first" ]
	a1=$(cell 1 1)
	b2=$(cell 2 1)
	run phi-redact --keep other --hash patient_id "$W/two.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "other,patient_id
9,$b2
8,$a1" ]
	export PHI_REDACT_KEY='a different key, also 32 bytes or more'
	run phi-redact --hash mrn --keep x "$W/one.csv"
	[ "$status" -eq 0 ]
	[ "$(cell 1 1)" != "$a1" ]
	[ "$(cell 1 1)" = "$(token "$PHI_REDACT_KEY" A1)" ]
	[ "$a1" != "$b2" ]
}

@test "hash: the key may come from PHI_REDACT_KEY_FILE, one trailing newline dropped" {
	printf '%s\n' "$TEST_KEY" >"$W/key"
	unset PHI_REDACT_KEY
	export PHI_REDACT_KEY_FILE="$W/key"
	printf 'mrn\nA1\n' >"$W/in.csv"
	run phi-redact --hash mrn "$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "mrn
$(token "$TEST_KEY" A1)" ]
}

# --- shift -----------------------------------------------------------------

days() { echo $(( $(date -u -d "$1" +%s) / 86400 )); }

@test "shift: intervals within a patient survive, patients differ, formats kept" {
	{
		echo mrn,appt,dob
		for p in $(seq 1 20); do
			echo "P$p,2026-03-01 09:30:00,1970-01-15"
			echo "P$p,2026-03-15 14:00:00,1970-01-15"
		done
	} >"$W/in.csv"
	run phi-redact --hash mrn --shift appt,dob --subject mrn "$W/in.csv"
	[ "$status" -eq 0 ]
	offsets=""
	for p in $(seq 1 20); do
		a=$(cell $((2 * p - 1)) 2)
		b=$(cell $((2 * p)) 2)
		dob=$(cell $((2 * p - 1)) 3)
		[ "${a#* }" = 09:30:00 ]
		[ "${b#* }" = 14:00:00 ]
		# 14 days apart, before and after
		[ $(( $(days "${b% *}") - $(days "${a% *}") )) -eq 14 ]
		off=$(( $(days "${a% *}") - $(days 2026-03-01) ))
		[ $(( $(days "$dob") - $(days 1970-01-15) )) -eq "$off" ]
		[ "$off" -ne 0 ]
		[ "$off" -ge -365 ]
		[ "$off" -le 365 ]
		offsets="$offsets $off"
	done
	# 20 patients, offsets from 730 values: nearly all distinct
	[ "$(echo $offsets | tr ' ' '\n' | sort -u | wc -l)" -ge 15 ]
	# both signs occur
	case "$offsets" in *-*) ;; *) false ;; esac
	echo "$offsets" | tr ' ' '\n' | grep -q '^[1-9]'
}

@test "shift: the same patient moves alike in every run and file; US and ISO-T layouts" {
	printf 'appt,mrn\n2026-01-06T10:00Z,A1\n' >"$W/one.csv"
	printf 'mrn,visit\nA1,01/06/2026\nA1,1/6/2026 9:05 AM\n' >"$W/two.csv"
	run phi-redact --shift appt --hash mrn --subject mrn --shift-days 30 "$W/one.csv"
	[ "$status" -eq 0 ]
	iso=$(cell 1 1)
	[ "${iso#*T}" = 10:00Z ]
	off=$(( $(days "${iso%T*}") - $(days 2026-01-06) ))
	[ "$off" -ne 0 ]
	[ "$off" -ge -30 ]
	[ "$off" -le 30 ]
	run phi-redact --shift visit --hash mrn --subject mrn --shift-days 30 "$W/two.csv"
	[ "$status" -eq 0 ]
	expect=$(date -u -d "2026-01-06 $off days" +%m/%d/%Y)
	[ "$(cell 1 2)" = "$expect" ]
	bare=$(date -u -d "2026-01-06 $off days" +%-m/%-d/%Y)
	[ "$(cell 2 2)" = "$bare 9:05 AM" ]
}

@test "shift: --shift-days 1 moves every date by exactly one day" {
	printf 'mrn,d\nA1,2024-02-28\nB2,2024-02-28\nC3,2024-02-28\nD4,2024-02-28\n' >"$W/in.csv"
	run phi-redact --drop mrn --shift d --subject mrn --shift-days 1 "$W/in.csv"
	[ "$status" -eq 0 ]
	for r in 2 3 4 5; do
		line=$(printf '%s\n' "$output" | sed -n "${r}p")
		[ "$line" = 2024-02-27 ] || [ "$line" = 2024-02-29 ]
	done
}

@test "shift: the offset is the documented derivation, not the subject's token" {
	# offset = 1 + (first 8 bytes of HMAC(K', subject) mod N), negative when
	# byte 9 is odd, K' = HMAC(key, "phi-redact date shift v1"): a partner
	# holding the token HMAC(key, subject) cannot compute it.
	printf 'mrn,d\nA1,2026-01-01\n' >"$W/in.csv"
	run phi-redact --hash mrn --shift d --subject mrn --shift-days 3650 "$W/in.csv"
	[ "$status" -eq 0 ]
	shift_key=$(hmac_hex "$TEST_KEY" 'phi-redact date shift v1')
	mac=$(printf A1 | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$shift_key" | sed 's/^.*= //')
	magnitude=$(( 1 + $("$PY" -c "print(int('${mac:0:16}', 16) % 3650)") ))
	sign=$(( 0x${mac:16:2} & 1 ))
	if [ "$sign" -eq 1 ]; then magnitude=$(( -magnitude )); fi
	[ "$(cell 1 2)" = "$(date -u -d "2026-01-01 $magnitude days" +%F)" ]
}

# --- zip3, age, year, mask, keep, drop --------------------------------------

@test "zip3: every Safe Harbor restricted prefix becomes 000, others keep 3 digits" {
	{
		echo zip
		for p in 036 059 063 102 203 556 692 790 821 823 830 831 878 879 884 890 893; do
			echo "${p}12"
		done
		echo 48234
		echo 48234-1234
		echo 100019999
		echo 03700
	} >"$W/in.csv"
	run phi-redact --zip3 zip "$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "zip
000
000
000
000
000
000
000
000
000
000
000
000
000
000
000
000
000
482
482
100
037" ]
}

@test "age: 89 stays, 90 becomes 90+, and a date of birth by its age at --as-of" {
	printf '%s\n' age,dob 89,1936-11-24 90,1936-11-23 100,2000-02-29 \
	    0,1935-01-01 ,1960-05-21 >"$W/in.csv"
	run phi-redact --age age,dob --as-of 2026-11-23 "$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "age,dob
89,1936
90+,90+
90+,2000
0,90+
,1960" ]
}

@test "age: a 29 February birthday counts from 1 March in other years" {
	printf 'dob\n1932-02-29\n' >"$W/in.csv"
	run phi-redact --age dob --as-of 2022-02-28 "$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "dob
1932" ]
	run phi-redact --age dob --as-of 2022-03-01 "$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "dob
90+" ]
}

@test "year, mask, keep, drop; empty cells stay empty" {
	printf '%s\n' 'seen,ssn,note,name,keep me' \
	    '2020-05-06 20:00:52,123-45-6789,"a, b",Doe,"x,y"' \
	    '12/31/1999,,,,' >"$W/in.csv"
	run phi-redact --year seen --mask ssn,note --drop name --keep 'keep me' "$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$output" = 'seen,ssn,note,keep me
2020,REDACTED,REDACTED,"x,y"
1999,,,' ]
	run phi-redact --year seen --mask ssn,note --drop name --keep 'keep me' \
	    --mask-text '*' "$W/in.csv"
	[ "$(cell 1 2)" = '*' ]
}

# --- default deny and the policy -------------------------------------------

@test "default deny: an unlisted column stops before any row, named, exit 65" {
	printf 'mrn,dob,secret\nA1,1950-01-01,x\n' >"$W/in.csv"
	run --separate-stderr phi-redact --hash mrn "$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$output" = "" ]
	[ "$stderr" = "phi-redact: $W/in.csv: column dob has no rule
phi-redact: $W/in.csv: column secret has no rule
phi-redact: $W/in.csv: 2 columns without a rule: nothing written (default deny; give each a rule, or --drop it)" ]
}

@test "--pass-unknown passes unlisted columns, warning for each" {
	printf 'mrn,gender\nA1,f\n' >"$W/in.csv"
	run --separate-stderr phi-redact --drop mrn --pass-unknown "$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "gender
f" ]
	[ "$stderr" = "phi-redact: warning: --pass-unknown: columns without a rule pass unchanged, identifiers included
phi-redact: $W/in.csv: column gender has no rule; passed unchanged (--pass-unknown)" ]
}

@test "profile: the Safe Harbor sample, cell by cell" {
	run --separate-stderr phi-redact -p "$FIX/vendor.policy" \
	    "$FIX/patients_form_print.sample.csv"
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "$(cat "$FIX/patients_form_print.redacted.csv")" ]
	# the tokens are openssl's HMACs of patient_id and ereqnumber
	[ "$(cell 1 11)" = "$(token "$TEST_KEY" 200507401600)" ]
	[ "$(cell 1 29)" = "$(token "$TEST_KEY" 258338BW)" ]
	[ "$(cell 2 11)" = "$(token "$TEST_KEY" 200507478534)" ]
	[ "$(cell 2 29)" = "$(token "$TEST_KEY" 156365WA)" ]
	# nothing that names or locates a person is left
	for v in John Jane Doe joe@joe.com 000-000-0000 '1000 1 Mile E' \
	    Detroit 48234 1940-05-21 200507401600 258338BW Ba Wh Thursday; do
		[[ "$output" != *"$v"* ]]
	done
}

@test "profile: alone on the sample it names every column it has no rule for" {
	run --separate-stderr phi-redact --profile safe-harbor \
	    "$FIX/patients_form_print.sample.csv"
	[ "$status" -eq 65 ]
	[ "$output" = "" ]
	f="$FIX/patients_form_print.sample.csv"
	want=""
	for c in car_number notes state id_roles gender language_pref \
	    language_pref_other patient_contact_pref patient_consent \
	    patient_consent_sms patient_pui patient_pui_reason_1 \
	    patient_pui_reason_2 patient_pui_reason_3 patient_pui_reason_4 \
	    patient_pui_reason_5 patient_pui_reason_6 doctor_first_name \
	    doctor_last_name doctor_npi doctor_address doctor_city doctor_state \
	    doctor_zip_code doctor_provider doctor_provider_other \
	    doctor_phone_number caller prescription_content first_responder \
	    pediatric_swab patient_pui_reason_7; do
		want="${want}phi-redact: $f: column $c has no rule
"
	done
	want="${want}phi-redact: $f: 32 columns without a rule: nothing written (default deny; give each a rule, or --drop it)"
	[ "$stderr" = "$want" ]
}

@test "policy files: several, and pass-unknown among their words" {
	printf 'hash mrn\n' >"$W/a.policy"
	printf 'pass-unknown\n' >"$W/b.policy"
	printf 'mrn,x\nA1,1\n' >"$W/in.csv"
	run --separate-stderr phi-redact -p "$W/a.policy" --policy="$W/b.policy" "$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "mrn,x
$(token "$TEST_KEY" A1),1" ]
	[ "$stderr" = "phi-redact: warning: --pass-unknown: columns without a rule pass unchanged, identifiers included
phi-redact: $W/in.csv: column x has no rule; passed unchanged (--pass-unknown)" ]
}

@test "profile: explicit rules override it; names match whatever their case" {
	printf 'Patient ID,ZIP_Code,DOB\nA1,48234,1950-03-04\n' >"$W/in.csv"
	run phi-redact --profile safe-harbor --as-of 2026-11-23 "$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "Patient ID,ZIP_Code,DOB
$(token "$TEST_KEY" A1),482,1950" ]
	run phi-redact --profile safe-harbor --drop ZIP_Code --mask DOB "$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "Patient ID,DOB
$(token "$TEST_KEY" A1),REDACTED" ]
}

@test "policy file: rules and settings; options override it" {
	cat >"$W/p.policy" <<-'EOF'
	# comment
	hash mrn
	  shift   appt
	subject mrn
	shift-days 1
	keep note
	on-error mask
	mask-text gone
	EOF
	printf 'mrn,appt,note\nA1,2026-01-01,x\nA1,bad,y\n' >"$W/in.csv"
	run --separate-stderr phi-redact -p "$W/p.policy" "$W/in.csv"
	[ "$status" -eq 0 ]
	d=$(cell 1 2)
	[ "$d" = 2025-12-31 ] || [ "$d" = 2026-01-02 ]
	[ "$(cell 2 2)" = gone ]
	[ "$stderr" = "phi-redact: $W/in.csv: column appt: 1 unreadable cell masked (--on-error mask)" ]
	run --separate-stderr phi-redact -p "$W/p.policy" --drop note \
	    --on-error stop "$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$output" = "mrn,appt
$(token "$TEST_KEY" A1),$d" ]
	[ "$stderr" = "phi-redact: $W/in.csv: row 2, column appt: not a date (--on-error mask would mask it)" ]
}

# --- unreadable cells ------------------------------------------------------

@test "unreadable cells: exit 65 naming row and column, never the value" {
	printf 'zip,d,age\n48234,2020-01-01,40\nAB123,2020-01-01,40\n' >"$W/in.csv"
	run --separate-stderr phi-redact --zip3 zip --year d --age age "$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$output" = "zip,d,age
482,2020,40" ]
	[ "$stderr" = "phi-redact: $W/in.csv: row 2, column zip: not a ZIP code (--on-error mask would mask it)" ]
	printf 'd\n2021-02-29\n' >"$W/in.csv"
	run --separate-stderr phi-redact --year d "$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$stderr" = "phi-redact: $W/in.csv: row 1, column d: not a date (--on-error mask would mask it)" ]
	printf 'a\nforty\n' >"$W/in.csv"
	run --separate-stderr phi-redact --age a "$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$stderr" = "phi-redact: $W/in.csv: row 1, column a: neither an age nor a date (--on-error mask would mask it)" ]
	[[ "$stderr" != *forty* ]]
}

@test "--on-error mask masks unreadable cells and counts them per column" {
	printf 'zip,d\nAB123,May 07 05:00AM\n48234,x\n1234,2020-01-01\n' >"$W/in.csv"
	run --separate-stderr phi-redact --zip3 zip --year d --on-error mask "$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "zip,d
REDACTED,REDACTED
482,REDACTED
REDACTED,2020" ]
	[ "$stderr" = "phi-redact: $W/in.csv: column zip: 2 unreadable cells masked (--on-error mask)
phi-redact: $W/in.csv: column d: 2 unreadable cells masked (--on-error mask)" ]
}

@test "shift: an empty subject stops the row, or masks with --on-error mask" {
	printf 'mrn,d\n,2026-01-01\n' >"$W/in.csv"
	run --separate-stderr phi-redact --hash mrn --shift d --subject mrn "$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$output" = "mrn,d" ]
	[ "$stderr" = "phi-redact: $W/in.csv: row 1, column d: the subject column mrn is empty, so there is no offset to shift by" ]
	run --separate-stderr phi-redact --hash mrn --shift d --subject mrn --on-error mask "$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "mrn,d
,REDACTED" ]
}

@test "a row with the wrong number of fields, malformed CSV: exit 65" {
	printf 'a,b\n1,2\n3\n' >"$W/in.csv"
	run --separate-stderr phi-redact --keep a,b "$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$output" = "a,b
1,2" ]
	[ "$stderr" = "phi-redact: $W/in.csv: row 2: 1 fields where the header has 2" ]
	printf 'a\n"open\n' >"$W/in.csv"
	run --separate-stderr phi-redact --keep a "$W/in.csv"
	[ "$status" -eq 65 ]
	[[ "$stderr" = "phi-redact: $W/in.csv: line 2: malformed CSV"* ]]
}

# --- configuration and usage errors -----------------------------------------

@test "key missing, short, unreadable or on argv: refused before reading input" {
	unset PHI_REDACT_KEY
	# the input does not exist: a key check that came later would say 66
	run --separate-stderr phi-redact --hash mrn "$W/absent.csv"
	[ "$status" -eq 78 ]
	[ "$output" = "" ]
	[ "$stderr" = "phi-redact: hash and shift rules need a key: set PHI_REDACT_KEY or PHI_REDACT_KEY_FILE" ]
	# RFC 4231 case 1's 20-byte key is too short for us
	export PHI_REDACT_KEY=$(head -c 20 /dev/zero | tr '\0' '\013')
	run --separate-stderr phi-redact --hash mrn "$W/absent.csv"
	[ "$status" -eq 78 ]
	[ "$stderr" = "phi-redact: the key in PHI_REDACT_KEY or PHI_REDACT_KEY_FILE is shorter than 32 bytes" ]
	# 31 bytes, for a shift rule
	export PHI_REDACT_KEY=0123456789012345678901234567890
	fails 78 "phi-redact: the key in PHI_REDACT_KEY or PHI_REDACT_KEY_FILE is shorter than 32 bytes" \
	    phi-redact --shift d --subject mrn "$W/absent.csv"
	# both set
	export PHI_REDACT_KEY="$TEST_KEY" PHI_REDACT_KEY_FILE="$W/key"
	fails 78 "phi-redact: both PHI_REDACT_KEY and PHI_REDACT_KEY_FILE are set; set one" \
	    phi-redact --hash mrn "$W/absent.csv"
	unset PHI_REDACT_KEY
	export PHI_REDACT_KEY_FILE="$W/no-such-key"
	run --separate-stderr phi-redact --hash mrn "$W/absent.csv"
	[ "$status" -eq 78 ]
	[ "$stderr" = "phi-redact: $W/no-such-key: cannot read the secret file named by PHI_REDACT_KEY_FILE: No such file or directory" ]
	unset PHI_REDACT_KEY_FILE
	run --separate-stderr phi-redact --key="$TEST_KEY" --hash mrn "$W/absent.csv"
	[ "$status" -eq 64 ]
	[ "$stderr" = "phi-redact: --key: secrets are not accepted on the command line; set PHI_REDACT_KEY or PHI_REDACT_KEY_FILE" ]
	[[ "$stderr" != *"$TEST_KEY"* ]]
}

@test "no key is needed when no rule hashes or shifts" {
	unset PHI_REDACT_KEY
	printf 'a,b\n1,48234\n' >"$W/in.csv"
	run phi-redact --keep a --zip3 b "$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "a,b
1,482" ]
}

@test "usage errors: exit 64 with the reason" {
	fails 64 "phi-redact: --keep: empty column name in the list" \
	    phi-redact --keep a,,b
	fails 64 "phi-redact: --hash: column a has two rules: keep (--keep) and hash" \
	    phi-redact --keep a --hash a
	fails 64 "phi-redact: shift rules need --subject (or a subject line in the policy): the column that says whose row it is" \
	    phi-redact --shift d
	fails 64 "phi-redact: --shift-days: want a number of days from 1 to 3650" \
	    phi-redact --shift-days 0
	fails 64 "phi-redact: --as-of: want a date as YYYY-MM-DD" \
	    phi-redact --as-of 2026-02-30
	fails 64 "phi-redact: --on-error: want stop or mask" \
	    phi-redact --on-error ignore
	fails 64 "phi-redact: --profile: unknown profile (the one built in is safe-harbor)" \
	    phi-redact --profile expert
	run --separate-stderr phi-redact --keep a one.csv two.csv
	[ "$status" -eq 64 ]
	[[ "$stderr" = "usage: phi-redact "* ]]
	run --separate-stderr phi-redact --bogus
	[ "$status" -eq 64 ]
	[[ "$stderr" = "phi-redact: --bogus: unknown option"*"usage: phi-redact "* ]]
}

@test "policy file errors: missing 66, bad lines 78 with file and line" {
	fails 66 "phi-redact: $W/none.policy: No such file or directory" \
	    phi-redact -p "$W/none.policy"
	printf '# x\nhash mrn\nredact ssn\n' >"$W/p.policy"
	fails 78 "phi-redact: $W/p.policy:3: unknown word redact" \
	    phi-redact -p "$W/p.policy"
	printf 'keep\n' >"$W/p.policy"
	fails 78 "phi-redact: $W/p.policy:1: keep needs a value" \
	    phi-redact -p "$W/p.policy"
	printf 'keep a\ndrop a\n' >"$W/p.policy"
	fails 78 "phi-redact: $W/p.policy:2: column a has two rules: keep ($W/p.policy:1) and drop" \
	    phi-redact -p "$W/p.policy"
	printf 'key 0123456789012345678901234567890123\n' >"$W/p.policy"
	fails 78 "phi-redact: $W/p.policy:1: keys are not accepted here; set PHI_REDACT_KEY or PHI_REDACT_KEY_FILE" \
	    phi-redact -p "$W/p.policy"
}

@test "input errors: missing file 66, absent subject column 65, stdout full 74" {
	run --separate-stderr phi-redact --keep a "$W/absent.csv"
	[ "$status" -eq 66 ]
	[ "$stderr" = "phi-redact: $W/absent.csv: No such file or directory" ]
	printf 'd\n2026-01-01\n' >"$W/in.csv"
	run --separate-stderr phi-redact --shift d --subject mrn "$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$output" = "" ]
	[ "$stderr" = "phi-redact: $W/in.csv: the subject column mrn is not in the header" ]
	run --separate-stderr sh -c 'phi-redact --keep d <"$1" >/dev/full' sh "$W/in.csv"
	[ "$status" -eq 74 ]
	[ "$stderr" = "phi-redact: write error on standard output: No space left on device" ]
}

@test "stdin, '-' and an empty input" {
	run sh -c "printf 'a\n1\n' | phi-redact --keep a -"
	[ "$status" -eq 0 ]
	[ "$output" = "a
1" ]
	# no header at all: bad input, as csv-shape says (schedfeed(7))
	run sh -c ": | phi-redact --keep a"
	[ "$status" -eq 65 ]
	[ "$output" = "phi-redact: stdin: no header row" ]
}

@test "many rows: a bad cell deep in the stream stops there, the rows before it all written" {
	"$PY" -c '
import sys
print("mrn,d")
for i in range(1, 30001):
    print("M%d,%s" % (i, "bad" if i == 25000 else "2026-01-02"))
' >"$W/in.csv"
	run --separate-stderr phi-redact --hash mrn --year d "$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$stderr" = "phi-redact: $W/in.csv: row 25000, column d: not a date (--on-error mask would mask it)" ]
	[ "$(printf '%s\n' "$output" | wc -l)" -eq 25000 ]
	[ "$(printf '%s\n' "$output" | tail -n 1)" = "$(token "$TEST_KEY" M24999),2026" ]
	[ "$(printf '%s\n' "$output" | sed -n 2p)" = "$(token "$TEST_KEY" M1),2026" ]
}

@test "a cell larger than a batch passes whole" {
	big=$(head -c 600000 /dev/zero | tr '\0' x)
	printf 'a,b\n1,%s\n2,y\n' "$big" >"$W/in.csv"
	run phi-redact --keep a,b "$W/in.csv"
	[ "$status" -eq 0 ]
	[ "$output" = "a,b
1,$big
2,y" ]
}

@test "a bad cell before malformed CSV: only the cell's message, every time" {
	printf 'mrn,zip\n1,abc\n2,"x\n' >"$W/in.csv"
	for _ in 1 2 3 4 5; do
		run --separate-stderr phi-redact --hash mrn --zip3 zip "$W/in.csv"
		[ "$status" -eq 65 ]
		[ "$stderr" = "phi-redact: $W/in.csv: row 1, column zip: not a ZIP code (--on-error mask would mask it)" ]
	done
}

# ---- every core: lib/csvio's chunks, as csv-shape reads them ----

# many_chunks FILE [BAD_EVERY]: about 4 MB (16 chunks of 256 KiB) of
# patients with quoted commas, quotes and newlines inside cells; with
# BAD_EVERY, every BAD_EVERY-th date is not a date.
many_chunks() {
	"$PY" - "$1" "${2:-0}" <<'PYEOF'
import sys
path, bad = sys.argv[1], int(sys.argv[2])
with open(path, "w", newline="") as out:
    out.write("mrn,name,dob,zip,note\n")
    for i in range(1, 60001):
        dob = "x%d" % i if bad and i % bad == 0 else \
            "19%02d-%02d-%02d" % (40 + i % 60, 1 + i % 12, 1 + i % 28)
        note = '"line one, ""quoted""\nline two %d"' % i if i % 7 == 0 \
            else "plain %d" % i
        out.write('M%06d,"Doe, Jane %d",%s,%05d,%s\n'
                  % (i, i, dob, 48000 + i % 999, note))
PYEOF
}

@test "every core: tokens, shifts and bytes as on one thread, over many chunks" {
	many_chunks "$W/in.csv"
	[ "$(stat -c %s "$W/in.csv")" -gt 3000000 ]
	rules="--hash mrn --shift dob --subject mrn --zip3 zip --drop name --keep note"
	# shellcheck disable=SC2086
	SCHEDFEED_THREADS=1 phi-redact $rules "$W/in.csv" >"$W/one.csv"
	for threads in 2 4; do
		# shellcheck disable=SC2086
		SCHEDFEED_THREADS=$threads phi-redact $rules "$W/in.csv" \
		    >"$W/many.csv"
		cmp "$W/one.csv" "$W/many.csv"
	done
	# and the bytes are the right ones: every row, the first and last tokens
	[ "$("$PY" -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1]))))' "$W/one.csv")" -eq 60001 ]
	[ "$(sed -n 2p "$W/one.csv" | cut -d, -f1)" = "$(token "$TEST_KEY" M000001)" ]
	last=$("$PY" -c 'import csv,sys; print(list(csv.reader(open(sys.argv[1])))[-1][0])' "$W/one.csv")
	[ "$last" = "$(token "$TEST_KEY" M060000)" ]
}

@test "every core: the first bad cell stops there with its own message, as on one thread" {
	many_chunks "$W/in.csv" 31111
	for threads in 1 2 4; do
		SCHEDFEED_THREADS=$threads run --separate-stderr phi-redact \
		    --hash mrn --year dob --drop name,zip,note "$W/in.csv"
		[ "$status" -eq 65 ]
		[ "$stderr" = "phi-redact: $W/in.csv: row 31111, column dob: not a date (--on-error mask would mask it)" ]
		# every row before it written, in order, none after
		[ "$(printf '%s\n' "$output" | wc -l)" -eq 31111 ]
		[ "$(printf '%s\n' "$output" | tail -n 1 | cut -d, -f1)" = "$(token "$TEST_KEY" M031110)" ]
	done
}

@test "every core: cells masked on every worker are counted together" {
	many_chunks "$W/in.csv" 4000
	for threads in 1 2 4; do
		SCHEDFEED_THREADS=$threads run --separate-stderr phi-redact \
		    --on-error mask --hash mrn --year dob --drop name,zip,note \
		    "$W/in.csv"
		[ "$status" -eq 0 ]
		[ "$stderr" = "phi-redact: $W/in.csv: column dob: 15 unreadable cells masked (--on-error mask)" ]
		[ "$(printf '%s\n' "$output" | grep -c ',REDACTED$')" -eq 15 ]
	done
}

@test "every core: the rows run on worker threads; SCHEDFEED_THREADS=1 keeps one" {
	many_chunks "$W/in.csv"
	for threads in 1 2; do
		rm -f "$W/fifo"
		mkfifo "$W/fifo"
		SCHEDFEED_THREADS=$threads phi-redact --keep mrn,name,dob,zip,note \
		    <"$W/fifo" >/dev/null 2>&1 &
		pid=$!
		# a megabyte in, the pipe then kept open: the workers are up
		exec 7>"$W/fifo"
		head -c 1000000 "$W/in.csv" >&7
		for _ in $(seq 100); do
			got=$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status")
			[ "$got" -lt $((threads + 1)) ] || break
			sleep 0.1
		done
		exec 7>&-
		wait "$pid" || true
		# the reader, and one worker per thread asked for
		[ "$got" -eq $((threads + 1)) ]
	done
	SCHEDFEED_THREADS=lots run --separate-stderr phi-redact --keep mrn <<<'mrn
1'
	[ "$status" -eq 0 ]
	[ "$stderr" = "phi-redact: SCHEDFEED_THREADS=lots is not a number from 1 to 64; ignored" ]
	[ "$output" = "mrn
1" ]
}

@test "a mistyped option's value is never echoed: --ke=SECRET names --ke and what it may mean" {
	run phi-redact --ke=SECRET-MRN-123456 <<<'a'
	[ "$status" -eq 64 ]
	[[ "$output" != *SECRET* ]]
	[ "${lines[0]}" = "phi-redact: --ke: ambiguous option (--keep, --key)" ]
	run phi-redact --passwd=SECRET-MRN-123456 <<<'a'
	[ "$status" -eq 64 ]
	[[ "$output" != *SECRET* ]]
	[ "${lines[0]}" = "phi-redact: --passwd: unknown option" ]
	run phi-redact --pass-unknown=SECRET-MRN-123456 <<<'a'
	[ "$status" -eq 64 ]
	[ "${lines[0]}" = "phi-redact: --pass-unknown: takes no value" ]
}

@test "a record over --max-record (16 MiB by default) is 65 naming the row, memory bounded; the option raises it" {
	"$PY" -c 'import sys; sys.stdout.write("a,b\n1,2\n3," + "x" * (17 << 20) + "\n5,6\n")' >"$W/in.csv"
	run --separate-stderr /usr/bin/time -f %M -o "$W/rss" phi-redact --keep a,b "$W/in.csv"
	[ "$status" -eq 65 ]
	[ "$stderr" = "phi-redact: $W/in.csv: row 2: a record longer than 16777216 bytes, the limit (--max-record raises it)" ]
	[[ "$output" != *xxxx* ]]
	ldd "$(command -v phi-redact)" | grep -q libasan ||
		[ "$(tail -n 1 "$W/rss")" -lt 65536 ]
	phi-redact --max-record 20M --keep a,b "$W/in.csv" >"$W/out.csv"
	cmp "$W/in.csv" "$W/out.csv"
	run phi-redact --max-record lots --keep a "$W/in.csv"
	[ "$status" -eq 64 ]
	[ "${lines[0]}" = "phi-redact: --max-record: want a size from 1024 to 4294967296 bytes (K, M or G may follow)" ]
}

@test "an empty input (no bytes, or a BOM alone) has no header: 65, as in csv-shape; a header alone is a valid empty table" {
	run --separate-stderr phi-redact --keep a </dev/null
	[ "$status" -eq 65 ]
	[ "$output" = "" ]
	[ "$stderr" = "phi-redact: stdin: no header row" ]
	printf '\357\273\277' >"$W/bom.csv"
	run --separate-stderr phi-redact --keep a "$W/bom.csv"
	[ "$status" -eq 65 ]
	[ "$stderr" = "phi-redact: $W/bom.csv: no header row" ]
	run --separate-stderr phi-redact --keep a <<<'a'
	[ "$status" -eq 0 ]
	[ "$output" = "a" ]
}
