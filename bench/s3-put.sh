#!/bin/sh
# bench/s3-put.sh: a benchmark, not a test. s3-put against the AWS SDK for
# JavaScript's own upload (@aws-sdk/lib-storage: parts of 100 MiB, 4 at
# once, as s3-put's defaults) of the same file, to the same store, in the
# same run: a Ceph RADOS Gateway on loopback (../shared/rgw/rgw.sh).
# RUNS runs of each, taking turns; prints each one's median time, MB/s,
# CPU seconds and peak RSS, and the ratio of the medians (s3-put / SDK).
#
#   sh bench/s3-put.sh                 (SIZE_MB=1024 RUNS=3)
#   SIZE_MB=256 RUNS=1 sh bench/s3-put.sh
#
# Peers: radosgw and ceph (Debian), node with the SDK in tests/node: as
# root the Debian ones are installed (bench/peers.sh), otherwise each is
# named and it exits 69.
set -eu
cd "$(dirname "$0")/.."
TOP=$(pwd)
SIZE_MB=${SIZE_MB:-1024}
RUNS=${RUNS:-3}
BUILD=${BUILD:-build-bench}
WORK=$TOP/bench/.work
RGW_SH=${SCHEDFEED_RGW:-$TOP/../shared/rgw/rgw.sh}
DATA=$WORK/s3-$SIZE_MB.bin

[ -f "$RGW_SH" ] || { echo "bench/s3-put.sh: needs $RGW_SH (../shared/rgw)" >&2; exit 69; }
# shellcheck source=bench/peers.sh
. bench/peers.sh
bench_need bench/s3-put.sh time:time bc:bc radosgw:radosgw ceph-mon:ceph-mon \
    ceph-osd:ceph-osd -:node
if [ ! -d tests/node/node_modules/@aws-sdk/lib-storage ]; then
	echo "bench/s3-put.sh: needs the AWS SDK in tests/node (make deps)" >&2
	exit 69
fi
mkdir -p "$WORK"
make -s BUILD="$BUILD" "$BUILD/bin/s3-put"
[ -s "$DATA" ] || head -c $((SIZE_MB * 1024 * 1024)) /dev/urandom >"$DATA"

RGW=$WORK/rgw
bash "$RGW_SH" stop "$RGW" 2>/dev/null || true
rm -rf "$RGW"
port=$(RGW_BUCKET=bench bash "$RGW_SH" start "$RGW" | awk '$1 == "port" { print $2 }')
trap 'bash "$RGW_SH" stop "$RGW" >/dev/null 2>&1' EXIT
export S3_ENDPOINT_URL=http://127.0.0.1:$port AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
export NODE_NO_WARNINGS=1

# timed NAME CMD...: appends "NAME wall cpu rss" to $WORK/s3-runs.txt
timed() {
	name=$1
	shift
	/usr/bin/time -f "%e %U %S %M" -o "$WORK/s3-time.txt" "$@" >/dev/null
	read -r wall user sys rss <"$WORK/s3-time.txt"
	echo "$name $wall $(echo "$user + $sys" | bc) $rss" >>"$WORK/s3-runs.txt"
}

: >"$WORK/s3-runs.txt"
i=0
while [ "$i" -lt "$RUNS" ]; do
	timed s3-put "$BUILD/bin/s3-put" "s3://bench/s3-put/" "$DATA"
	timed aws-sdk node tests/node/s3-sdk.mjs put bench sdk/data.bin "$DATA"
	i=$((i + 1))
done
echo "s3-put vs the AWS SDK's upload, $SIZE_MB MiB to RGW on loopback," \
    "median of $RUNS runs each, taking turns ($(nproc) cores):"
awk -v mb="$SIZE_MB" "$BENCH_AWK_MEDIAN"'
{ wall[$1] = wall[$1] " " $2; cpu[$1] = cpu[$1] " " $3; n[$1]++
  if ($4 > rss[$1]) rss[$1] = $4 }
END {
	split("s3-put aws-sdk", order, " ")
	for (k = 1; k <= 2; k++) {
		name = order[k]
		w[name] = median(wall[name], n[name])
		c[name] = median(cpu[name], n[name])
		printf "  %-8s %7.2f s %7.1f MB/s  %6.2f s CPU  peak RSS %d KiB\n",
		    name, w[name], mb * 1.048576 / w[name], c[name], rss[name]
	}
	printf "  s3-put / AWS SDK: %.3fx the time, %.3fx the CPU\n",
	    w["s3-put"] / w["aws-sdk"], c["s3-put"] / c["aws-sdk"]
}' "$WORK/s3-runs.txt"
