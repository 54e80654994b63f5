#!/usr/bin/env bash
# Throughput and memory benchmark (see benches/throughput.rs). Corpora are generated once under
# target/bench-corpus/; BENCH_SCALE=N makes the corpus N times larger.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --locked --bench throughput
