#!/usr/bin/env bash
# Chaos run (a benchmark-style run, not part of every CI run; tests/fault_injection.rs,
# tests/state_faults.rs and the kill -9 tests are the short variants in the test suite):
# moto's S3 server with CHAOS_OBJECTS objects (default 2000) of CHAOS_RECORDS records (20), then
# (a) CHAOS_KILLS (20) x kill -9 at random moments with a restart after each, and a final run;
# (b) the same objects through the fault-injecting proxy at 10 % faults; (c) the HTTP receiver
# down for CHAOS_SINK_DOWN seconds (60) during collection; (d) SIGTERM at random moments.
# Prints a table (expected, delivered, lost, duplicated, peak RSS, wall time) and exits 1 when
# an event is lost or duplicates exceed what may be in flight.
set -euo pipefail
cd "$(dirname "$0")/.."
MOTO_VENV="$PWD/target/moto-venv"
if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
    echo "installing moto's server"
    python3 -m venv "$MOTO_VENV"
    "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.2.6'
fi
cargo build --release --quiet --bin trailhound --example fault_proxy
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$MOTO_VENV/bin/python" scripts/chaos.py "$MOTO_VENV/bin/moto_server" "$work"
