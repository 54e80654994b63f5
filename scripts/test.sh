#!/usr/bin/env bash
# Runs every test: unit tests, and integration tests that run the real binary against real
# components on loopback (an in-process S3 server, tinyproxy, a LookupEvents emulator).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v tinyproxy >/dev/null 2>&1; then
    echo "installing tinyproxy (the proxy tests use a real forward proxy)"
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq tinyproxy >/dev/null
fi
cargo test --locked
