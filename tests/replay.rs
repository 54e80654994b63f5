//! `trailhound replay` end to end: the bundled examples, and every kind of bad input.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use common::{gzip, put, records_doc, trailhound};
use flate2::read::MultiGzDecoder;
use serde_json::Value;

/// The event ids the examples must produce: CloudTrail ids read straight from the files with an
/// independent parser, flow-log ids from the committed snapshot.
fn expected_cloudtrail_ids() -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for entry in walkdir::WalkDir::new(common::repo_root().join("examples/AWSLogs")) {
        let entry = entry.unwrap();
        let path = entry.path().to_string_lossy().into_owned();
        if !entry.file_type().is_file() || !path.ends_with(".json.gz") || path.contains("CloudTrail-Digest") {
            continue;
        }
        let mut text = String::new();
        MultiGzDecoder::new(std::fs::File::open(entry.path()).unwrap()).read_to_string(&mut text).unwrap();
        let document: Value = serde_json::from_str(&text).unwrap();
        for record in document["Records"].as_array().unwrap() {
            ids.insert(record["eventID"].as_str().unwrap().to_string());
        }
    }
    ids
}

#[test]
fn replays_the_examples_with_exact_counts_and_ids() {
    let run = trailhound(&["replay", "examples/AWSLogs"], None);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let events = run.events();
    assert_eq!(events.len(), 87);

    let mut per_type: BTreeMap<String, usize> = BTreeMap::new();
    for event in &events {
        *per_type.entry(event["log_type"].as_str().unwrap().to_string()).or_default() += 1;
        for field in ["event_id", "log_type", "time", "origin", "metadata", "raw"] {
            assert!(event.get(field).is_some(), "{field} missing in {event}");
        }
        assert_eq!(event["origin"]["source"], "replay");
        assert!(event["origin"]["key"].as_str().unwrap().starts_with("AWSLogs/"));
    }
    assert_eq!(per_type, BTreeMap::from([("CloudTrail".into(), 42), ("VPCFlowLogs".into(), 45)]));

    let cloudtrail: BTreeSet<String> = events
        .iter()
        .filter(|e| e["log_type"] == "CloudTrail")
        .map(|e| e["event_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(cloudtrail, expected_cloudtrail_ids());

    let flow: BTreeSet<String> = events
        .iter()
        .filter(|e| e["log_type"] == "VPCFlowLogs")
        .map(|e| e["event_id"].as_str().unwrap().to_string())
        .collect();
    let snapshot =
        std::fs::read_to_string(common::repo_root().join("tests/data/examples-flow-ids.txt")).unwrap();
    let expected: BTreeSet<String> = snapshot.lines().map(String::from).collect();
    assert_eq!(flow, expected, "flow-log ids must stay stable across releases");

    assert!(
        run.stderr.contains("15 objects (1 skipped, 0 failed), 87 events, 0 bad records/lines"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_examples_are_what_the_generator_makes() {
    let dir = tempfile::tempdir().unwrap();
    trailhound::corpus::write_tree(dir.path(), &trailhound::corpus::CorpusSpec::examples()).unwrap();
    let listing = |root: &std::path::Path| -> BTreeMap<String, Vec<u8>> {
        walkdir::WalkDir::new(root.join("AWSLogs"))
            .into_iter()
            .map(Result::unwrap)
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                (e.path().strip_prefix(root).unwrap().display().to_string(), std::fs::read(e.path()).unwrap())
            })
            .collect()
    };
    assert!(
        listing(dir.path()) == listing(&common::repo_root().join("examples")),
        "examples/AWSLogs is stale: rerun `cargo run --bin trailhound-corpus -- --out examples --examples`"
    );
}

#[test]
fn log_type_can_be_forced_and_single_files_named() {
    let dir = tempfile::tempdir().unwrap();
    let flow = put(
        dir.path(),
        "plain.txt",
        b"2 1 eni-1 1.1.1.1 2.2.2.2 1 2 6 1 1 1418530010 1418530070 ACCEPT OK\n",
    );
    let run = trailhound(&["replay", "--log-type", "VPCFlowLogs", flow.to_str().unwrap()], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let events = run.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["origin"], serde_json::json!({"source": "replay", "key": "plain.txt", "line": 1}));

    let run = trailhound(&["replay", "--log-type", "cloudtrail", flow.to_str().unwrap()], None);
    assert_eq!(run.code, 2, "log types are case-sensitive: {}", run.stderr);
}

#[test]
fn gzip_is_detected_by_content_not_name() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "a/plain-but-named.json.gz", &records_doc(&["p1"]));
    put(dir.path(), "a/gzip-but-named.json", &gzip(&records_doc(&["g1"])));
    let run = trailhound(&["replay", dir.path().to_str().unwrap()], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ids: BTreeSet<String> =
        run.events().iter().map(|e| e["event_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, BTreeSet::from(["p1".to_string(), "g1".to_string()]));
}

#[test]
fn digests_empty_and_zero_byte_files_are_skipped_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    put(
        dir.path(),
        "AWSLogs/1/CloudTrail-Digest/us-east-1/d.json.gz",
        &gzip(br#"{"digestStartTime":"x","logFiles":[]}"#),
    );
    put(
        dir.path(),
        "x/digest-by-content.json.gz",
        &gzip(br#"{"awsAccountId":"1","digestStartTime":"x","logFiles":[]}"#),
    );
    put(dir.path(), "x/zero.json.gz", b"");
    put(dir.path(), "x/empty.json.gz", &gzip(b"  \n"));
    put(dir.path(), "x/no-records.json.gz", &gzip(br#"{"Records":[]}"#));
    put(dir.path(), "x/empty-flow.log.gz", &gzip(b"version account-id\n"));
    let run = trailhound(&["replay", dir.path().to_str().unwrap()], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("6 objects (4 skipped, 0 failed), 0 events"), "{}", run.stderr);
}

#[test]
fn bad_input_is_reported_counted_and_the_rest_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // A truncated gzip: the records before the cut are still delivered.
    let ids: Vec<String> = (0..2000).map(|i| format!("t{i:05}")).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let whole = gzip(&records_doc(&id_refs));
    put(root, "bad/truncated.json.gz", &whole[..whole.len() / 2]);
    // Garbage that is not gzip and not JSON.
    put(root, "bad/garbage.json.gz", b"\x00\x01\x02 this is not a log file");
    // One record that is not valid JSON between two good ones.
    put(
        root,
        "bad/invalid-record.json.gz",
        &gzip(br#"{"Records":[{"eventID":"ok1"},{"eventID": nope},{"eventID":"ok2"}]}"#),
    );
    // A flow line with the wrong number of fields, and a 10 MB line, between good lines.
    let good = "2 1 eni-1 1.1.1.1 2.2.2.2 1 2 6 1 1 1418530010 1418530070 ACCEPT OK\n";
    let flow = format!("{good}2 1 eni-1 1.1.1.1\n{}\n{good}", "9".repeat(10 * 1024 * 1024));
    put(root, "bad/AWSLogs/1/vpcflowlogs/us-east-1/f.log.gz", &gzip(flow.as_bytes()));
    // A 10 MB CloudTrail record between two good ones.
    let huge = format!(
        r#"{{"Records":[{{"eventID":"h1"}},{{"eventID":"big","pad":"{}"}},{{"eventID":"h2"}}]}}"#,
        "x".repeat(10 * 1024 * 1024)
    );
    put(root, "bad/huge-record.json.gz", &gzip(huge.as_bytes()));
    // A good file after all of them.
    put(root, "zz/good.json.gz", &gzip(&records_doc(&["last"])));

    let run = trailhound(&["replay", root.to_str().unwrap()], None);
    assert_eq!(run.code, 3, "bad input gives exit code 3: {}", run.stderr);
    let ids: BTreeSet<String> =
        run.events().iter().map(|e| e["event_id"].as_str().unwrap().to_string()).collect();
    for id in ["ok1", "ok2", "h1", "h2", "last"] {
        assert!(ids.contains(id), "{id} must be delivered");
    }
    assert!(!ids.contains("big"));
    let truncated_delivered = ids.iter().filter(|id| id.starts_with('t')).count();
    assert!(
        truncated_delivered > 100 && truncated_delivered < 2000,
        "{truncated_delivered} records before the cut"
    );
    assert_eq!(run.events().iter().filter(|e| e["log_type"] == "VPCFlowLogs").count(), 2);

    let stderr = &run.stderr;
    let expect = |needle: &str| assert!(stderr.contains(needle), "stderr lacks {needle:?}:\n{stderr}");
    expect("truncated.json.gz: read failed at decompressed byte");
    expect(
        "garbage.json.gz: invalid JSON at decompressed byte 0: expected '{' to open the document, found byte 0x00",
    );
    expect("invalid-record.json.gz: record 2: invalid JSON");
    expect(
        "AWSLogs/1/vpcflowlogs/us-east-1/f.log.gz: line 2: 4 fields where the header names 14; line skipped",
    );
    expect(
        "AWSLogs/1/vpcflowlogs/us-east-1/f.log.gz: line 3: 10485760 bytes, over the 65536-byte limit; line skipped",
    );
    expect("huge-record.json.gz: record 2 is 10485786 bytes, over the 4194304-byte limit; skipped");
    expect("6 objects (0 skipped, 2 failed)");
    expect("4 bad records/lines");
}

#[test]
fn output_file_is_appended_to() {
    let dir = tempfile::tempdir().unwrap();
    let input = put(dir.path(), "in/a.json", &records_doc(&["a1", "a2"]));
    let output = dir.path().join("out/events.ndjson");
    for _ in 0..2 {
        let run =
            trailhound(&["replay", "--output", output.to_str().unwrap(), input.to_str().unwrap()], None);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.is_empty());
    }
    assert_eq!(std::fs::read_to_string(&output).unwrap().lines().count(), 4);
}

#[test]
fn a_missing_path_is_an_error() {
    let run = trailhound(&["replay", "/no/such/place"], None);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("/no/such/place: No such file or directory"), "{}", run.stderr);
}

#[test]
fn no_progress_bar_on_a_pipe() {
    let run = trailhound(&["replay", "examples/AWSLogs"], None);
    assert!(
        !run.stderr.contains("objects  "),
        "the progress bar must not be drawn on a pipe: {}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "only the summary line: {}", run.stderr);
}

#[test]
fn closing_the_pipe_early_is_not_an_error() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["replay", "examples/AWSLogs"])
        .current_dir(common::repo_root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert!(status.code() == Some(0), "{status:?}");
}

#[test]
fn progress_bar_on_a_terminal() {
    // `script` (util-linux) gives the command a pseudo-terminal, as a person at a shell would have.
    let command = format!("{} replay examples/AWSLogs > /dev/null", env!("CARGO_BIN_EXE_trailhound"));
    let output = std::process::Command::new("script")
        .args(["-qfc", &command, "/dev/null"])
        .current_dir(common::repo_root())
        .output()
        .expect("script(1) from util-linux runs");
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(screen.contains(" objects  "), "no progress bar drawn on a terminal: {screen:?}");
    assert!(screen.contains(" events/s"), "{screen:?}");
    assert!(screen.contains("15 objects (1 skipped, 0 failed), 87 events"), "{screen:?}");
}
