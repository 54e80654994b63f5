//! The cloudtrail_api source against the LookupEvents emulator: backfill, late-visible events,
//! throttling, restarts, a rate shared by two sources, and error messages.

mod common;

use std::path::Path;
use std::time::Duration;

use common::Run;
use common::lookup_events::{Emulator, now};

fn config(emulator: &Emulator, sources: &[(&str, &str)]) -> String {
    let mut text = String::new();
    for (name, extra) in sources {
        text.push_str(&format!(
            "[[source]]\ntype = \"cloudtrail_api\"\nname = \"{name}\"\nregion = \"us-east-1\"\nendpoint = \"{}\"\n\
             access_key_id = \"AKIAEXAMPLE\"\nsecret_access_key = \"emulator-secret-value\"\nstartup_delay_in_seconds = 0\n{extra}\n\n",
            emulator.endpoint
        ));
    }
    text.push_str("[[sink]]\ntype = \"file\"\npath = \"out.ndjson\"\n");
    text
}

async fn run_once(dir: &Path) -> Run {
    let dir = dir.to_path_buf();
    let run = tokio::task::spawn_blocking(move || {
        common::trailhound(&["run", "--config", "trailhound.toml", "--once"], Some(&dir))
    })
    .await
    .unwrap();
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    run
}

fn delivered(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("out.ndjson"))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn ids(dir: &Path) -> Vec<String> {
    delivered(dir).iter().map(|e| e["event_id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_by_days_oldest_first_normalized_like_s3_records() {
    let emulator = Emulator::start().await;
    let at = now();
    emulator.add("too-old", at - 2 * 86_400, 0);
    emulator.add("yesterday", at - 20 * 3600, 0);
    emulator.add("recent", at - 3600, 0);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trailhound.toml"), config(&emulator, &[("api", "")])).unwrap();
    run_once(dir.path()).await;
    assert_eq!(ids(dir.path()), vec!["yesterday", "recent"]);
    let event = &delivered(dir.path())[1];
    assert_eq!(event["origin"], serde_json::json!({"source": "api", "region": "us-east-1"}));
    assert_eq!(event["log_type"], "CloudTrail");
    assert_eq!(event["metadata"]["vmid"], "DescribeInstances");
    assert_eq!(event["metadata"]["login"], "alice");
    assert_eq!(event["raw"]["eventID"], "recent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_by_minutes_when_back_days_is_zero() {
    let emulator = Emulator::start().await;
    let at = now();
    emulator.add("before-window", at - 100 * 60, 0);
    emulator.add("in-back-off", at - 80 * 60, 0);
    emulator.add("in-backfill", at - 10 * 60, 0);
    let extra = "number_of_back_days_data = 0\nnumber_of_back_minutes_data = 60\nback_off_time = 30\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trailhound.toml"), config(&emulator, &[("api", extra)])).unwrap();
    run_once(dir.path()).await;
    assert_eq!(ids(dir.path()), vec!["in-back-off", "in-backfill"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_visible_events_are_collected_once_and_restarts_resume_exactly() {
    let emulator = Emulator::start().await;
    let at = now();
    emulator.add("on-time", at - 600, 0);
    // Visible three seconds from now, five minutes after its EventTime.
    emulator.add("late", at - 300, 303);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trailhound.toml"), config(&emulator, &[("api", "")])).unwrap();
    run_once(dir.path()).await;
    assert_eq!(ids(dir.path()), vec!["on-time"]);
    tokio::time::sleep(Duration::from_secs(4)).await;
    run_once(dir.path()).await;
    assert_eq!(ids(dir.path()), vec!["on-time", "late"]);
    emulator.add("newer", now() - 1, 0);
    run_once(dir.path()).await;
    run_once(dir.path()).await;
    assert_eq!(ids(dir.path()), vec!["on-time", "late", "newer"]);
}

/// Adds events `e00`, `e01`, … ten seconds apart from 50 minutes ago; returns their ids.
fn add_events_ten_seconds_apart(emulator: &Emulator, count: i64) -> Vec<String> {
    let first = now() - 3000;
    let ids: Vec<String> = (0..count).map(|i| format!("e{i:02}")).collect();
    for (i, id) in ids.iter().enumerate() {
        emulator.add(id, first + 10 * i as i64, 0);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_survived_with_nothing_lost() {
    let emulator = Emulator::start().await;
    let expected = add_events_ten_seconds_apart(&emulator, 60);
    emulator.throttle_every(3);
    let extra = "max_result_count = 10\napi_retry_count = 3\nmax_requests_per_second = 10\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trailhound.toml"), config(&emulator, &[("api", extra)])).unwrap();
    run_once(dir.path()).await;
    assert_eq!(ids(dir.path()), expected, "every event, once, oldest first");
    assert!(emulator.answered().iter().any(|a| a.outcome == "ThrottlingException"));
    let windows: std::collections::BTreeSet<(u64, u64)> =
        emulator.answered().iter().map(|a| (a.start.unwrap().to_bits(), a.end.unwrap().to_bits())).collect();
    assert_eq!(windows.len(), 1, "the window never changes while paging");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sources_on_one_account_and_region_share_the_rate() {
    let emulator = Emulator::start().await;
    add_events_ten_seconds_apart(&emulator, 40);
    emulator.max_per_second(2);
    let extra = "max_result_count = 10\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trailhound.toml"),
        config(&emulator, &[("first", extra), ("second", extra)]),
    )
    .unwrap();
    run_once(dir.path()).await;
    let answered = emulator.answered();
    assert_eq!(answered.len(), 8, "four pages for each source, no retry needed");
    assert!(answered.iter().all(|a| a.outcome == "200"), "never throttled");
    for pair in answered.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap >= Duration::from_millis(450), "requests only {gap:?} apart");
    }
    assert_eq!(delivered(dir.path()).len(), 80, "each source emits every event once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authentication_errors_are_actionable() {
    let emulator = Emulator::start().await;
    let dir = tempfile::tempdir().unwrap();
    let text = config(&emulator, &[("api", "")]).replace("AKIAEXAMPLE", "AKIAREJECTED");
    std::fs::write(dir.path().join("trailhound.toml"), text).unwrap();
    let run = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || common::trailhound(&["run", "--config", "trailhound.toml", "--once"], Some(&dir))
    })
    .await
    .unwrap();
    assert_eq!(run.code, 1, "a poll that could not read its window fails --once: {}", run.stderr);
    assert!(
        run.stderr.contains("authentication failed (UnrecognizedClientException: The security token included in the request is invalid.): check the credentials and that the identity is allowed cloudtrail:LookupEvents"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("emulator-secret-value"), "{}", run.stderr);
    let state = tokio::task::spawn_blocking({
        let dir = dir.path().to_path_buf();
        move || common::trailhound(&["state", "--config", "trailhound.toml"], Some(&dir))
    })
    .await
    .unwrap();
    assert!(
        state.stdout.contains("last error:") && state.stdout.contains("UnrecognizedClientException"),
        "{}",
        state.stdout
    );
}
