#!/usr/bin/env bash
# Runs every test: unit tests, and integration tests that run the real binary.
# Test servers that later components need are installed and started from here.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --locked
