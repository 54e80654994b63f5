//! The `http` sink against an HTTP receiver on loopback (`common::http_receiver`): NDJSON,
//! Splunk HEC and Elasticsearch `_bulk` bodies carry every event exactly once; throttling and
//! server errors are retried; refusals of single events are kept in the dead-letter file; a
//! refused token stops the run; an outage loses nothing and memory stays bounded.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::http_receiver::{HttpReceiver, Received};
use common::pki::Pki;
use common::trailhound;
use serde_json::Value;

const OK_HEC: &str = r#"{"text":"Success","code":0}"#;

/// The events of `replay examples/AWSLogs`, by event id.
fn expected_events() -> BTreeMap<String, String> {
    let run = trailhound(&["replay", "examples/AWSLogs"], None);
    assert_eq!(run.code, 0);
    run.stdout.lines().map(|line| (event_id(line), line.to_string())).collect()
}

fn event_id(json: &str) -> String {
    let value: Value = serde_json::from_str(json).unwrap();
    value["event_id"].as_str().unwrap().to_string()
}

/// A config reading the bundled sample tree (as source "replay", like `replay` names it).
fn config_with_sink(dir: &Path, sink: &str) -> std::path::PathBuf {
    common::write_dir_config(
        dir,
        &common::repo_root().join("examples/AWSLogs"),
        &format!("type = \"http\"\n{sink}"),
    )
}

fn only_file(dir: &Path) -> std::path::PathBuf {
    let files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().unwrap()
}

fn lines(requests: &[Received]) -> Vec<String> {
    requests.iter().flat_map(|r| r.body.lines().map(String::from).collect::<Vec<_>>()).collect()
}

#[test]
fn ndjson_batches_carry_every_event_once_through_throttling_and_errors() {
    let receiver = HttpReceiver::start(|n, _| match n {
        0 => (503, "busy".into()),
        1 => (429, "slow down".into()),
        _ => (200, String::new()),
    });
    let sink = format!("{}/ingest", receiver.url);
    let run = trailhound(&["replay", "--sink", &sink, "examples/AWSLogs"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("HTTP 503 Service Unavailable: busy; retrying in 200ms"), "{}", run.stderr);
    assert!(
        run.stderr.contains("HTTP 429 Too Many Requests: slow down; retrying in 400ms"),
        "{}",
        run.stderr
    );
    let accepted = receiver.accepted();
    assert!(accepted.iter().all(|r| r.path == "/ingest"));
    assert!(accepted.iter().all(|r| r.header("content-type") == Some("application/x-ndjson")));
    let received = lines(&accepted);
    let expected = expected_events();
    assert_eq!(received.len(), expected.len(), "each event once");
    let expected_lines: BTreeSet<&String> = expected.values().collect();
    assert_eq!(received.iter().collect::<BTreeSet<_>>(), expected_lines);
}

#[test]
fn splunk_hec_events_carry_token_time_sourcetype_and_index_in_small_gzip_batches() {
    let receiver = HttpReceiver::start(|_, _| (200, OK_HEC.into()));
    let dir = tempfile::tempdir().unwrap();
    let sink = format!(
        "url = \"{}/services/collector/event\"\ntoken = \"tok-123\"\nindex = \"aws\"\nhost = \"collector-1\"\n\
         batch_max_events = 7\ncompression = \"gzip\"\n",
        receiver.url
    );
    let config = config_with_sink(dir.path(), &sink);
    let run = trailhound(&["run", "--config", config.to_str().unwrap()], Some(dir.path()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let accepted = receiver.accepted();
    for request in &accepted {
        assert_eq!(request.path, "/services/collector/event");
        assert_eq!(request.header("authorization"), Some("Splunk tok-123"));
        assert_eq!(request.header("content-encoding"), Some("gzip"));
        assert!(request.body.lines().count() <= 7, "batch_max_events is honoured");
    }
    let expected = expected_events();
    let mut seen = BTreeSet::new();
    for line in lines(&accepted) {
        let hec: Value = serde_json::from_str(&line).unwrap();
        let event = &hec["event"];
        let id = event["event_id"].as_str().unwrap().to_string();
        assert_eq!(serde_json::to_string(event).unwrap(), expected[&id], "the event, untouched");
        let sourcetype = match event["log_type"].as_str().unwrap() {
            "CloudTrail" => "aws:cloudtrail",
            _ => "aws:cloudwatchlogs:vpcflow",
        };
        assert_eq!(hec["sourcetype"], sourcetype);
        assert_eq!((hec["index"].as_str(), hec["host"].as_str()), (Some("aws"), Some("collector-1")));
        let time = time::OffsetDateTime::parse(
            event["time"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!(hec["time"].as_i64(), Some(time.unix_timestamp()));
        assert!(seen.insert(id), "each event once");
    }
    assert_eq!(seen.len(), expected.len());
}

#[test]
fn splunk_hec_keeps_the_invalid_event_and_sends_the_rest_again() {
    let receiver = HttpReceiver::start(|n, _| match n {
        0 => (400, r#"{"text":"Invalid data format","code":6,"invalid-event-number":2}"#.into()),
        _ => (200, OK_HEC.into()),
    });
    let dir = tempfile::tempdir().unwrap();
    let sink = format!("url = \"{}/services/collector\"\ntoken = \"t\"\n", receiver.url);
    let config = config_with_sink(dir.path(), &sink);
    let run = trailhound(&["run", "--config", config.to_str().unwrap()], Some(dir.path()));
    assert_eq!(run.code, 3, "a refused event is bad input: {}", run.stderr);
    assert!(run.stderr.contains("1 rejected by a sink"), "{}", run.stderr);
    let requests = receiver.requests();
    let first: Vec<String> = requests[0].body.lines().map(String::from).collect();
    // HEC indexed the events before the invalid one; the invalid one is kept; the rest is resent.
    let mut indexed: Vec<String> = first[..2].to_vec();
    indexed.extend(lines(&receiver.accepted()));
    let indexed_ids: Vec<String> = indexed
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"]["event_id"].to_string())
        .collect();
    let unique: BTreeSet<&String> = indexed_ids.iter().collect();
    assert_eq!(unique.len(), indexed_ids.len(), "nothing indexed twice");
    let refused: Value = serde_json::from_str(&first[2]).unwrap();
    let dead_letter_file = only_file(&dir.path().join("state/rejected"));
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&dir.path().join("state/rejected")), mode(&dead_letter_file)), (0o700, 0o600));
    let dead_letters = std::fs::read_to_string(dead_letter_file).unwrap();
    let kept: Vec<Value> = dead_letters.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["event"], refused["event"]);
    assert!(
        kept[0]["reason"]
            .as_str()
            .unwrap()
            .contains("HTTP 400 Bad Request: {\"text\":\"Invalid data format\"")
    );
    assert_eq!(unique.len() + 1, expected_events().len(), "every event indexed or kept");
}

#[test]
fn elasticsearch_bulk_over_tls_retries_busy_items_and_keeps_refused_ones() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::create(dir.path(), "es");
    let receiver = HttpReceiver::start_tls(&pki, |n, request| {
        let actions = request.body.lines().count() / 2;
        let items: Vec<Value> = (0..actions)
            .map(|i| match (n, i) {
                (0, 0) => serde_json::json!({"index": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}}),
                (0, 1) => serde_json::json!({"index": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "failed to parse field [raw]"}}}),
                _ => serde_json::json!({"index": {"status": 201}}),
            })
            .collect();
        (200, serde_json::json!({"took": 1, "errors": n == 0, "items": items}).to_string())
    });
    let sink = format!(
        "url = \"{}\"\nmode = \"elasticsearch\"\nuser = \"elastic\"\npassword = \"secret\"\nca_file = \"{}\"\n",
        receiver.url,
        pki.ca.display()
    );
    let config = config_with_sink(dir.path(), &sink);
    let run = trailhound(&["run", "--config", config.to_str().unwrap()], Some(dir.path()));
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("1 of "), "the busy item is retried: {}", run.stderr);
    let requests = receiver.requests();
    let mut indexed = Vec::new();
    let mut refused = None;
    for (n, request) in requests.iter().enumerate() {
        assert_eq!(request.path, "/_bulk");
        assert_eq!(request.header("authorization"), Some("Basic ZWxhc3RpYzpzZWNyZXQ="));
        let body: Vec<&str> = request.body.lines().collect();
        for (i, pair) in body.chunks(2).enumerate() {
            let action: Value = serde_json::from_str(pair[0]).unwrap();
            let event: Value = serde_json::from_str(pair[1]).unwrap();
            // The Elasticsearch mode writes ECS documents unless the sink says otherwise.
            assert_eq!(event["ecs"]["version"], "8.11.0");
            assert_eq!(action["index"]["_id"], event["event"]["id"], "_id is the event id");
            let date = &event["@timestamp"].as_str().unwrap()[..10];
            assert_eq!(action["index"]["_index"], format!("trailhound-{}", date.replace('-', ".")));
            match (n, i) {
                (0, 0) => {}
                (0, 1) => refused = Some(event),
                _ => indexed.push(event["event"]["id"].as_str().unwrap().to_string()),
            }
        }
    }
    let unique: BTreeSet<&String> = indexed.iter().collect();
    assert_eq!(unique.len(), indexed.len(), "nothing indexed twice");
    assert_eq!(unique.len() + 1, expected_events().len(), "every event indexed or kept");
    let file = only_file(&dir.path().join("state/rejected"));
    let kept: Value = serde_json::from_str(std::fs::read_to_string(file).unwrap().trim()).unwrap();
    assert_eq!(kept["event"], refused.unwrap());
    assert!(kept["reason"].as_str().unwrap().contains("_bulk item status 400"), "{kept}");
    assert!(kept["reason"].as_str().unwrap().contains("mapper_parsing_exception"), "{kept}");
}

#[test]
fn each_sink_has_its_own_retry_state() {
    let healthy = HttpReceiver::start(|_, _| (200, String::new()));
    let up = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&up);
    let recovering = HttpReceiver::start(move |_, _| match flag.load(Ordering::SeqCst) {
        true => (200, String::new()),
        false => (503, "down".into()),
    });
    let (a, b) = (format!("{}/a", healthy.url), format!("{}/b", recovering.url));
    let mut agent = common::spawn(&["replay", "--sink", &a, "--sink", &b, "examples/AWSLogs"], None);
    let expected = expected_events().len();
    let deadline = Instant::now() + Duration::from_secs(20);
    while lines(&healthy.accepted()).len() < expected {
        assert!(Instant::now() < deadline, "the healthy sink got everything while the other was down");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(agent.try_wait().unwrap().is_none(), "the run waits for the sink that is down");
    assert!(recovering.accepted().is_empty());
    up.store(true, Ordering::SeqCst);
    let output = agent.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(lines(&recovering.accepted()).len(), expected);
    assert_eq!(lines(&healthy.accepted()).len(), expected, "nothing sent twice to the healthy sink");
}

#[test]
fn a_refused_token_stops_the_run_with_a_clear_error() {
    let receiver = HttpReceiver::start(|_, _| (403, r#"{"text":"Invalid token","code":4}"#.into()));
    let dir = tempfile::tempdir().unwrap();
    let sink = format!("url = \"{}/services/collector/event\"\ntoken = \"wrong\"\n", receiver.url);
    let config = config_with_sink(dir.path(), &sink);
    let run = trailhound(&["run", "--config", config.to_str().unwrap()], Some(dir.path()));
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "HTTP 403 Forbidden: {\"text\":\"Invalid token\",\"code\":4} (check the url, token or credentials; nothing was checkpointed)"
        ),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("wrong"), "the token is never printed: {}", run.stderr);
}

/// Peak resident memory of a running process, sampled (kB).
fn resident_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn an_outage_loses_nothing_and_memory_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    // 400 000 flow-log lines: about 270 MB of events, several times what the queue may hold.
    let spec = trailhound::corpus::CorpusSpec {
        accounts: vec!["111122223333".into()],
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        cloudtrail_files: 0,
        flow_files: 10,
        lines_per_flow_file: 20_000,
        extras: false,
        gzip_level: 1,
        ..trailhound::corpus::CorpusSpec::examples()
    };
    trailhound::corpus::write_tree(dir.path(), &spec).unwrap();
    let total = 400_000;

    let up = Arc::new(AtomicBool::new(false));
    let receiver_up = Arc::clone(&up);
    let receiver = HttpReceiver::start(move |_, _| match receiver_up.load(Ordering::SeqCst) {
        true => (200, String::new()),
        false => (503, "down for maintenance".into()),
    });
    let sink = format!("type = \"http\"\nurl = \"{}/ingest\"\nbatch_max_events = 1000\n", receiver.url);
    common::write_dir_config(dir.path(), Path::new("AWSLogs"), &sink);
    let mut agent = common::spawn(&["run", "--config", "t.toml"], Some(dir.path()));
    let pid = agent.id();
    let mut peak = 0;
    let sample = |peak: &mut u64| {
        if let Some(kb) = resident_kb(pid) {
            *peak = (*peak).max(kb);
        }
    };
    // The receiver is down long enough for the queue to fill and the sources to stop.
    let outage = Instant::now();
    while outage.elapsed() < Duration::from_secs(8) {
        sample(&mut peak);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(agent.try_wait().unwrap().is_none(), "the agent waits for the receiver");
    assert!(receiver.accepted().is_empty());
    up.store(true, Ordering::SeqCst);
    while agent.try_wait().unwrap().is_none() {
        sample(&mut peak);
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = agent.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("HTTP 503 Service Unavailable: down for maintenance; retrying in"), "{stderr}");

    let mut ids = BTreeSet::new();
    let mut count = 0;
    for request in receiver.accepted() {
        for line in request.body.lines() {
            let start = line.find("\"event_id\":\"").unwrap() + 12;
            ids.insert(line[start..start + 32].to_string());
            count += 1;
        }
    }
    assert_eq!((count, ids.len()), (total, total), "every line once, none lost");
    let peak_mb = peak / 1024;
    eprintln!("peak resident memory during the outage and the catch-up: {peak_mb} MiB");
    assert!(peak_mb < 160, "memory is bounded by the queue, not by the input: {peak_mb} MiB");
}
