//! Helpers shared by the integration tests: run the real `trailhound` binary, write fixtures.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flate2::Compression;
use flate2::write::GzEncoder;

/// The outcome of one run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The NDJSON lines of stdout, parsed.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|line| serde_json::from_str(line).expect("every stdout line is JSON"))
            .collect()
    }
}

/// Writes `dir/t.toml`: state in `dir/state`, one `dir` source named "replay" (as `replay` names
/// its source, so events match `replay`'s byte for byte) reading `source_path`, and one sink
/// whose keys are `sink` (from `type = …` on).
pub fn write_dir_config(dir: &Path, source_path: &Path, sink: &str) -> PathBuf {
    let toml = format!(
        "state_dir = \"state\"\n\n[[source]]\ntype = \"dir\"\nname = \"replay\"\npath = \"{}\"\n\n[[sink]]\n{sink}",
        source_path.display()
    );
    put(dir, "t.toml", toml.as_bytes())
}

/// Starts `trailhound ARGS` in `dir` (the repository root when `None`) in the background, for
/// tests that act while it runs; stderr is piped for `wait_with_output`.
pub fn spawn(args: &[&str], dir: Option<&Path>) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(args)
        .current_dir(dir.map_or_else(repo_root, Path::to_path_buf))
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the trailhound binary starts")
}

/// Runs `trailhound ARGS` in `dir` (the repository root when `None`).
pub fn trailhound(args: &[&str], dir: Option<&Path>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trailhound"));
    command
        .args(args)
        .current_dir(dir.map(Path::to_path_buf).unwrap_or_else(repo_root))
        .env_remove("RUST_LOG");
    let Output { status, stdout, stderr } = command.output().expect("the binary runs");
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

/// Runs `trailhound ARGS` in `dir` on a blocking thread, so a server in the test's own runtime
/// keeps answering it.
pub async fn trailhound_in(dir: &Path, args: &[&str]) -> Run {
    let (dir, args): (PathBuf, Vec<String>) =
        (dir.to_path_buf(), args.iter().map(|a| a.to_string()).collect());
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        trailhound(&args, Some(&dir))
    })
    .await
    .unwrap()
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Runs `trailhound --key-file KEY encrypt` with `secret` on stdin; returns the token and stderr.
pub fn encrypt(key_file: &Path, secret: &str) -> (String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["--key-file", key_file.to_str().unwrap(), "encrypt"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{secret}\n").as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let token = String::from_utf8(output.stdout).unwrap().trim().to_string();
    (token, String::from_utf8(output.stderr).unwrap())
}

/// The day folder (`YYYY/MM/DD`) and the file-name stamp (`YYYYMMDDTHHmmZ`) AWS gives a log
/// file delivered at `at`.
pub fn key_stamp(at: time::OffsetDateTime) -> (String, String) {
    let (year, month, day) = (at.year(), at.month() as u8, at.day());
    (
        format!("{year:04}/{month:02}/{day:02}"),
        format!("{year:04}{month:02}{day:02}T{:02}{:02}Z", at.hour(), at.minute()),
    )
}

/// The `event_id` of one NDJSON event line.
pub fn event_id(line: &str) -> String {
    let event: serde_json::Value = serde_json::from_str(line).expect("an event line is JSON");
    event["event_id"].as_str().expect("every event has an event_id").to_string()
}

/// Writes `bytes` at `dir/relative`, creating folders.
pub fn put(dir: &Path, relative: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A CloudTrail record with the given id.
pub fn record(id: &str) -> serde_json::Value {
    serde_json::json!({"eventVersion": "1.10", "eventID": id, "eventTime": "2026-11-01T00:00:00Z",
        "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances", "awsRegion": "us-east-1",
        "sourceIPAddress": "192.0.2.1", "userIdentity": {"type": "IAMUser", "userName": "alice"},
        "readOnly": true, "eventType": "AwsApiCall", "recipientAccountId": "111122223333"})
}

/// A `{"Records":[…]}` document.
pub fn records_doc(ids: &[&str]) -> Vec<u8> {
    let records: Vec<serde_json::Value> = ids.iter().map(|id| record(id)).collect();
    serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap()
}
pub mod agent;
pub mod fault_proxy;
pub mod http_receiver;
pub mod lookup_events;
pub mod moto;
pub mod pki;
pub mod s3;
pub mod squid;
