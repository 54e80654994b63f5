#!/usr/bin/env bash
# Runs every test: unit tests, and integration tests that run the real binary against real
# components on loopback (an in-process S3 server, tinyproxy, squid, rsyslog, a LookupEvents
# emulator).
set -euo pipefail
cd "$(dirname "$0")/.."
# Real components the tests run on loopback: two forward proxies (squid checks credentials of any
# character), a syslog daemon with its TLS driver (Debian's), and systemd's unit checker.
missing=()
command -v tinyproxy >/dev/null 2>&1 || missing+=(tinyproxy)
[ -x /usr/lib/squid/basic_ncsa_auth ] || missing+=(squid)
command -v rsyslogd >/dev/null 2>&1 || missing+=(rsyslog)
dpkg -s rsyslog-gnutls >/dev/null 2>&1 || missing+=(rsyslog-gnutls)
# systemd-analyze checks the unit file in packaging/.
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} for the tests"
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# moto's server speaks S3 and SQS (and delivers S3 event notifications to SQS) for the sqs
# source's tests: installed from PyPI into a virtual environment of the build directory.
MOTO_VENV="$PWD/target/moto-venv"
if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
    echo "installing moto's server for the tests"
    python3 -m venv "$MOTO_VENV"
    "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.2.6'
fi
export TRAILHOUND_MOTO_SERVER="$MOTO_VENV/bin/moto_server"
# Licences, banned and duplicated security crates, and sources of every dependency (deny.toml).
command -v cargo-deny >/dev/null 2>&1 || { echo "installing cargo-deny"; cargo install --locked --quiet cargo-deny; }
cargo deny --log-level error check licenses bans sources
cargo test --locked
