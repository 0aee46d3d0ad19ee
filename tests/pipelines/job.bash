# Helpers for the suites of jobs built on pipelines/lib/job.sh.
# Load after common:   load ../common; load job

# log_of TEXT: TEXT with each line's time stamp cut off (lines without one
# stay as they are)
log_of() {
	printf '%s\n' "$1" |
	    sed -E 's/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{4} //'
}

# ledger_rows: date, key, sha256, target and kind of each delivery in
# $LEDGER (comments, intents, the time and detail columns left out)
ledger_rows() {
	grep -v '^#' "$LEDGER" | awk -F '\t' '$6 != "intent"' | cut -f2-6
}

# ledger_intents: date, key, sha256, target and detail of each intent
ledger_intents() {
	grep -v '^#' "$LEDGER" | awk -F '\t' '$6 == "intent"' | cut -f2-5,7
}

# sha FILE: its SHA-256 in hex
sha() {
	sha256sum < "$1" | cut -d' ' -f1
}
