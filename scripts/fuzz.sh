#!/usr/bin/env bash
# Fuzzes every target of fuzz/ for SECONDS each (default 60), starting from seed corpora made of
# the test fixtures. Needs the nightly toolchain; installs cargo-fuzz when missing. Exits non-zero
# when a target finds a crash: the input is in fuzz/artifacts/TARGET/ (add it as a regression test
# before fixing). FUZZ_TARGETS="a b" runs only those targets.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
if ! rustup toolchain list | grep -q '^nightly'; then
    echo "scripts/fuzz.sh needs a nightly toolchain (rustup toolchain install nightly)" >&2
    exit 2
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet

seeds=target/fuzz-seeds
rm -rf "$seeds"
for target in object cloudtrail_record flow_text parquet sqs_notification ini_config toml_config; do
    mkdir -p "$seeds/$target"
done
cargo build --quiet --bin trailhound-corpus
target/debug/trailhound-corpus --out "$seeds/parquet" --parquet-example 2>/dev/null
cp "$seeds/parquet/example.log.parquet" "$seeds/object/"
find examples/AWSLogs -type f -exec cp {} "$seeds/object/" \;
for file in examples/*.ini examples/stock/*.ini examples/broken/*.ini; do
    cp "$file" "$seeds/ini_config/$(echo "$file" | tr / _)"
done
cp examples/*.toml "$seeds/toml_config/"
python3 - "$seeds" <<'EOF'
import glob, gzip, json, os, sys
seeds = sys.argv[1]
def put(target, name, data):
    with open(os.path.join(seeds, target, name), "wb") as out:
        out.write(data if isinstance(data, bytes) else data.encode())
for path in sorted(glob.glob("examples/AWSLogs/**/*.gz", recursive=True)):
    text = gzip.open(path).read()
    base = os.path.basename(path)
    if "vpcflowlogs" in path:
        put("flow_text", base[:-3], text)
    elif "Digest" not in path:
        for n, record in enumerate(json.loads(text)["Records"][:5]):
            put("cloudtrail_record", f"{base}-{n}.json", json.dumps(record, separators=(",", ":")))
for path in glob.glob("tests/data/profiles/*.input.json"):
    put("cloudtrail_record", os.path.basename(path), open(path).read())
s3 = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
      "eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "logs"},
      "object": {"key": "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/14/a+b%2Bc.json.gz", "size": 10}}}]}
put("sqs_notification", "s3.json", json.dumps(s3))
put("sqs_notification", "sns.json", json.dumps({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": json.dumps(s3)}))
put("sqs_notification", "eventbridge.json", json.dumps({"version": "0", "source": "aws.s3", "detail-type": "Object Created",
    "detail": {"bucket": {"name": "logs"}, "object": {"key": "AWSLogs/1/vpcflowlogs/x.log.gz", "size": 5}}}))
put("sqs_notification", "test-event.json", json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "logs"}))
EOF

cargo +nightly fuzz build --fuzz-dir fuzz
status=0
for target in ${FUZZ_TARGETS:-$(cargo +nightly fuzz list --fuzz-dir fuzz)}; do
    echo "== $target: ${seconds}s"
    mkdir -p "target/fuzz-corpus/$target"
    if ! cargo +nightly fuzz run --fuzz-dir fuzz "$target" "target/fuzz-corpus/$target" "$seeds/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 2>&1 |
        grep -E '^(stat::number_of_executed_units|stat::new_units_added|==[0-9]+==|SUMMARY|.*panicked|Done [0-9]+ runs)'; then
        :
    fi
    if [ -n "$(ls -A "fuzz/artifacts/$target" 2>/dev/null)" ]; then
        echo "$target: crash inputs in fuzz/artifacts/$target/" >&2
        status=1
    fi
done
exit $status
