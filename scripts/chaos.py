"""Chaos run of Trailhound against moto's S3 server (scripts/chaos.sh sets it up).

Scenarios, each over the same objects with a fresh state directory:
  kill9     CHAOS_KILLS x kill -9 of a polling agent at a random moment, a restart after each,
            then a final `run --once`
  faults    `run --once` through the fault-injecting proxy (10 % faults) until a poll completes
  sinkdown  the HTTP receiver answers 503 for CHAOS_SINK_DOWN seconds, then takes everything
  sigterm   CHAOS_KILLS x SIGTERM at a random moment, a restart after each, then a final run
For each: events expected, delivered, lost, duplicated (and per kill), peak RSS, wall time.
Exits 1 when an event is lost or duplicates exceed what may be in flight.
"""

import gzip
import http.server
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target/release/trailhound")
PROXY = os.path.join(ROOT, "target/release/examples/fault_proxy")
OBJECTS = int(os.environ.get("CHAOS_OBJECTS", "2000"))
RECORDS = int(os.environ.get("CHAOS_RECORDS", "20"))
KILLS = int(os.environ.get("CHAOS_KILLS", "20"))
SINK_DOWN = float(os.environ.get("CHAOS_SINK_DOWN", "60"))
SEED = int(os.environ.get("CHAOS_SEED", "42"))
# The most objects one agent holds between download and checkpoint (data_folder_files_count).
IN_FLIGHT = 100
BUCKET = "chaos-logs"
ACCOUNT = "111122223333"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(moto_server):
    port = free_port()
    process = subprocess.Popen([moto_server, "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, endpoint
        except OSError:
            time.sleep(0.05)
    raise SystemExit("moto_server did not start")


def seed_bucket(endpoint):
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=BUCKET)
    now = datetime.now(timezone.utc)
    expected = set()
    for n in range(OBJECTS):
        moment = now - timedelta(minutes=30 + n % 600, seconds=n)
        records = []
        for r in range(RECORDS):
            event_id = f"chaos-{n:06d}-{r:03d}"
            expected.add(event_id)
            records.append({"eventVersion": "1.10", "eventTime": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances",
                            "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
                            "userIdentity": {"type": "IAMUser", "accountId": ACCOUNT, "userName": "chaos"},
                            "eventID": event_id, "readOnly": True, "recipientAccountId": ACCOUNT,
                            "requestParameters": {"padding": "x" * 200}})
        body = gzip.compress(json.dumps({"Records": records}).encode())
        key = (f"AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{moment:%Y/%m/%d}/"
               f"{ACCOUNT}_CloudTrail_us-east-1_{moment:%Y%m%dT%H%MZ}_{n:016d}.json.gz")
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return expected


def config(work, endpoint, sink):
    path = os.path.join(work, "trailhound.toml")
    with open(path, "w") as out:
        out.write(f"""state_dir = "state"
[[source]]
type = "s3"
name = "chaos"
bucket = "{BUCKET}"
region = "us-east-1"
endpoint = "{endpoint}"
force_path_style = true
access_key_id = "testing"
secret_access_key = "testing"
no_of_back_days_data = 2
poll_interval_seconds = 1
startup_delay_in_seconds = 0
data_folder_files_count = {IN_FLIGHT}

[[sink]]
{sink}
""")
    return path


def run(args, work, timeout=None):
    """Runs trailhound to its end; returns (exit code, peak RSS KiB)."""
    process = subprocess.Popen([BINARY, "-q"] + args, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stderr.close()
    return process.returncode, usage.ru_maxrss


def interrupted(args, work, sig, delay):
    """Starts a polling agent, sends `sig` after `delay` seconds; returns its peak RSS KiB."""
    process = subprocess.Popen([BINARY, "-q"] + args, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    try:
        process.send_signal(sig)
    except ProcessLookupError:
        pass
    _, _, usage = os.wait4(process.pid, 0)
    return usage.ru_maxrss


def delivered_ids(work, path="out.ndjson"):
    ids = []
    try:
        with open(os.path.join(work, path)) as lines:
            for line in lines:
                ids.append(json.loads(line)["event_id"])
    except FileNotFoundError:
        pass
    return ids


class Receiver(http.server.BaseHTTPRequestHandler):
    """An NDJSON receiver that is down (503) until `up_at`, then keeps every line."""
    up_at = 0.0
    lines = []
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if time.time() < Receiver.up_at:
            self.send_response(503)
            self.end_headers()
            return
        with Receiver.lock:
            Receiver.lines.extend(body.decode().splitlines())
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def scenario(name, expected, work, body):
    started = time.time()
    kills, rss = body(work)
    seconds = time.time() - started
    ids = Receiver.lines if name == "sinkdown" else delivered_ids(work)
    if name == "sinkdown":
        ids = [json.loads(line)["event_id"] for line in ids]
    unique = set(ids)
    lost = len(expected - unique)
    duplicated = len(ids) - len(unique)
    allowed = max(kills, 1) * IN_FLIGHT * RECORDS
    per_kill = f"{duplicated / kills:.1f}" if kills else "-"
    ok = lost == 0 and duplicated <= allowed and unique <= expected
    print(f"| {name} | {len(expected)} | {len(unique)} | {lost} | {duplicated} ({per_kill} per kill) "
          f"| {rss / 1024:.1f} MiB | {seconds:.1f} s | {'ok' if ok else 'FAILED'} |", flush=True)
    return ok


def main():
    moto_server, work_root = sys.argv[1], sys.argv[2]
    random.seed(SEED)
    moto, endpoint = start_moto(moto_server)
    try:
        print(f"seeding {OBJECTS} objects of {RECORDS} records into moto ...", file=sys.stderr, flush=True)
        expected = seed_bucket(endpoint)
        print("| scenario | events expected | delivered | lost | duplicated | peak RSS | wall time | |")
        print("|---|---|---|---|---|---|---|---|")
        results = []

        def kills_of(sig):
            def body(work):
                cfg = config(work, endpoint, 'type = "file"\npath = "out.ndjson"')
                rss = 0
                for _ in range(KILLS):
                    rss = max(rss, interrupted(["run", "--config", cfg], work, sig, random.uniform(0.3, 3.0)))
                for _ in range(5):
                    code, peak = run(["run", "--config", cfg, "--once"], work)
                    rss = max(rss, peak)
                    if code == 0:
                        break
                return KILLS, rss
            return body

        def faults(work):
            proxy = subprocess.Popen([PROXY, endpoint, "10", str(SEED)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            url = proxy.stdout.readline().strip()
            try:
                cfg = config(work, url, 'type = "file"\npath = "out.ndjson"')
                rss = 0
                for _ in range(30):
                    code, peak = run(["run", "--config", cfg, "--once"], work)
                    rss = max(rss, peak)
                    if code == 0:
                        break
                return 0, rss
            finally:
                proxy.kill()
                proxy.wait()

        def sink_down(work):
            port = free_port()
            server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Receiver)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            Receiver.up_at = time.time() + SINK_DOWN
            Receiver.lines = []
            try:
                cfg = config(work, endpoint, f'type = "http"\nurl = "http://127.0.0.1:{port}/ingest"\nmode = "ndjson"')
                code, rss = run(["run", "--config", cfg, "--once"], work)
                return 0, rss
            finally:
                server.shutdown()

        for name, body in [("kill9", kills_of(signal.SIGKILL)), ("faults", faults),
                           ("sinkdown", sink_down), ("sigterm", kills_of(signal.SIGTERM))]:
            work = os.path.join(work_root, name)
            os.makedirs(work)
            results.append(scenario(name, expected, work, body))
        sys.exit(0 if all(results) else 1)
    finally:
        moto.terminate()
        moto.wait()


if __name__ == "__main__":
    main()
