#!/usr/bin/env bash
# SQS notification mode against list mode on a local moto server (see benches/sqs.rs).
# BENCH_OBJECTS (default 400) objects of BENCH_RECORDS (default 200) records each.
set -euo pipefail
cd "$(dirname "$0")/.."
MOTO_VENV="$PWD/target/moto-venv"
if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
    python3 -m venv "$MOTO_VENV"
    "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.2.6'
fi
export TRAILHOUND_MOTO_SERVER="$MOTO_VENV/bin/moto_server"
cargo bench --locked --bench sqs
