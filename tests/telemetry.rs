//! Running as a service: `/metrics`, `/health` and `/ready` scraped over HTTP from a real agent
//! (S3 source against the local S3 server, and a replay), lag and readiness through a sink
//! outage, and `run --dry-run` against the next `--once`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::agent::Agent;
use common::gzip;
use common::http_receiver::HttpReceiver;
use common::s3::{self, S3Server, cloudtrail_key, put_record};

/// Puts `count` CloudTrail files (one record each) and one flow-log file of two lines; returns
/// the number of events.
async fn fill_bucket(server: &S3Server, count: usize) -> usize {
    for n in 0..count {
        let key = cloudtrail_key("", "111122223333", "us-east-1", 5 + n as i64, &format!("{n:016}"));
        put_record(server, &key, &format!("event-{n}")).await;
    }
    let flow_key = cloudtrail_key("", "111122223333", "us-east-1", 3, "x")
        .replace("CloudTrail", "vpcflowlogs")
        .replace("_x.json.gz", "_fl-1_x.log.gz");
    let line = "2 111122223333 eni-1 10.0.0.1 10.0.0.2 1234 443 6 10 800 1700000000 1700000060 ACCEPT OK";
    server.put(&flow_key, gzip(format!("{line}\n{line}\n").as_bytes())).await;
    count
}

fn start_agent(dir: &Path, args: &[&str]) -> Agent {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                Agent::start(&args, &dir)
            })
            .join()
            .unwrap()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_a_polling_s3_source_delivers() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cloudtrail = fill_bucket(&server, 5).await;
    let config = format!(
        "[telemetry]\nlisten = \"127.0.0.1:0\"\n\n{}",
        server.config("log_type = \"CloudTrail\"\npoll_interval_seconds = 1\n")
    );
    std::fs::write(dir.path().join("trailhound.toml"), config).unwrap();
    let agent = start_agent(dir.path(), &["run", "--config", "trailhound.toml"]);
    let result = tokio::task::spawn_blocking(move || {
        let delivered = "trailhound_objects_total{source=\"trail\",outcome=\"delivered\"}";
        // An object is counted when its events are delivered, and settled (lag, delay) once it
        // is recorded just after: wait for both.
        let delays = "trailhound_delivery_delay_seconds_count{source=\"trail\"}";
        agent.wait_for(30, "every object delivered and recorded", |agent| {
            agent.metric(delivered) == Some(cloudtrail as f64)
                && agent.metric(delays) == Some(cloudtrail as f64)
        });
        let (_, text) = agent.get("/metrics");
        let value = |series: &str| common::agent::value(&text, series);
        assert_eq!(
            value("trailhound_events_total{source=\"trail\",log_type=\"CloudTrail\"}"),
            Some(cloudtrail as f64)
        );
        assert_eq!(
            value("trailhound_sink_events_total{sink=\"file out.ndjson\",outcome=\"sent\"}"),
            Some(cloudtrail as f64)
        );
        assert_eq!(value("trailhound_sink_up{sink=\"file out.ndjson\"}"), Some(1.0));
        assert_eq!(value("trailhound_sink_queue_events{sink=\"file out.ndjson\"}"), Some(0.0));
        assert_eq!(value("trailhound_source_lag_seconds{source=\"trail\"}"), Some(0.0));
        assert!(value("trailhound_input_bytes_total{source=\"trail\"}").unwrap() > 0.0);
        assert!(value("trailhound_source_last_poll_timestamp_seconds{source=\"trail\"}").unwrap() > 1.7e9);
        let gets =
            value("trailhound_aws_requests_total{source=\"trail\",operation=\"GetObject\",outcome=\"ok\"}");
        assert_eq!(gets, Some(cloudtrail as f64));
        assert!(
            value(
                "trailhound_aws_requests_total{source=\"trail\",operation=\"ListObjectsV2\",outcome=\"ok\"}"
            )
            .unwrap()
                >= 4.0
        );
        assert!(
            value("trailhound_aws_request_duration_seconds_count{source=\"trail\",operation=\"GetObject\"}")
                .unwrap()
                >= 5.0
        );
        // Delays from key times 5 to 9 minutes old: all within the 600 s bucket, none within 60 s.
        assert_eq!(
            value("trailhound_delivery_delay_seconds_bucket{source=\"trail\",le=\"600\"}"),
            Some(cloudtrail as f64)
        );
        assert_eq!(value("trailhound_delivery_delay_seconds_bucket{source=\"trail\",le=\"60\"}"), Some(0.0));
        assert!(value("trailhound_checkpoint_writes_total").unwrap() >= cloudtrail as f64);
        assert_eq!(value("trailhound_build_info{version=\"0.1.0\"}"), Some(1.0));
        assert!(value("process_resident_memory_bytes").unwrap() > 1e6);
        assert!(value("process_open_fds").unwrap() > 0.0);
        assert!(text.contains("# TYPE trailhound_delivery_delay_seconds histogram"), "{text}");
        assert!(text.contains("# TYPE trailhound_events_total counter"), "{text}");

        assert_eq!(agent.get("/health"), (200, "ok\n".to_string()));
        let (status, body) = agent.get("/ready");
        assert_eq!(status, 200, "{body}");
        let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(ready["status"], "ok");
        assert_eq!(ready["sources"]["trail"]["status"], "ok");
        assert_eq!(ready["sinks"]["file out.ndjson"]["status"], "ok");
        assert_eq!(agent.get("/other").0, 404);
        agent.terminate()
    })
    .await
    .unwrap();
    assert_eq!(result, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_and_readiness_follow_a_sink_outage() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    let objects = fill_bucket(&server, 3).await;
    let down = Arc::new(AtomicBool::new(true));
    let receiver = {
        let down = Arc::clone(&down);
        HttpReceiver::start(move |_, _| match down.load(Ordering::SeqCst) {
            true => (503, "maintenance".into()),
            false => (200, String::new()),
        })
    };
    let config = format!(
        "[telemetry]\nlisten = \"127.0.0.1:0\"\nunready_after_seconds = 3\n\n{}\n[[sink]]\ntype = \"http\"\nurl = \"{}/ingest\"\nbatch_timeout_ms = 50\n",
        server
            .config("log_type = \"CloudTrail\"\npoll_interval_seconds = 1\n")
            .replace("[[sink]]\ntype = \"file\"\npath = \"out.ndjson\"\n", ""),
        receiver.url
    );
    std::fs::write(dir.path().join("trailhound.toml"), config).unwrap();
    let agent = start_agent(dir.path(), &["run", "--config", "trailhound.toml"]);
    let sink = format!("http {}/ingest", receiver.url);
    let code = tokio::task::spawn_blocking(move || {
        let lag = "trailhound_source_lag_seconds{source=\"trail\"}";
        let up = format!("trailhound_sink_up{{sink=\"{sink}\"}}");
        agent.wait_for(20, "the sink to be down", |agent| agent.metric(&up) == Some(0.0));
        // Degraded, not failing, while the outage is shorter than unready_after_seconds.
        let (status, body) = agent.get("/ready");
        assert_eq!(status, 200, "{body}");
        let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(ready["sinks"][&sink]["status"], "degraded", "{body}");
        assert!(ready["sinks"][&sink]["last_error"].as_str().unwrap().contains("503"), "{body}");
        // The oldest object waiting is about 7 minutes old, and it keeps ageing.
        let first = agent.metric(lag).unwrap();
        assert!(first >= 6.0 * 60.0, "lag {first}");
        std::thread::sleep(std::time::Duration::from_millis(1500));
        assert!(agent.metric(lag).unwrap() > first, "the lag grows while the sink is down");
        agent.wait_for(20, "/ready to fail", |agent| agent.get("/ready").0 == 503);
        let (_, body) = agent.get("/ready");
        let ready: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            (ready["status"].as_str(), ready["sinks"][&sink]["status"].as_str()),
            (Some("failing"), Some("failing"))
        );
        assert!(ready["sinks"][&sink]["since"].as_str().is_some(), "{body}");
        let retried = format!("trailhound_sink_events_total{{sink=\"{sink}\",outcome=\"retried\"}}");
        assert!(agent.metric(&retried).unwrap() >= 1.0);

        down.store(false, Ordering::SeqCst);
        agent.wait_for(30, "the lag back to 0", |agent| agent.metric(lag) == Some(0.0));
        agent.wait_for(10, "/ready to recover", |agent| agent.get("/ready").0 == 200);
        assert_eq!(agent.metric(&up), Some(1.0));
        let delivered = "trailhound_objects_total{source=\"trail\",outcome=\"delivered\"}";
        assert_eq!(agent.metric(delivered), Some(objects as f64));
        agent.terminate()
    })
    .await
    .unwrap();
    assert_eq!(code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_reports_its_events_and_a_failing_sink() {
    let dir = tempfile::tempdir().unwrap();
    let down = Arc::new(AtomicBool::new(true));
    let receiver = {
        let down = Arc::clone(&down);
        HttpReceiver::start(move |_, _| match down.load(Ordering::SeqCst) {
            true => (503, "busy".into()),
            false => (200, String::new()),
        })
    };
    let examples = common::repo_root().join("examples/AWSLogs");
    let sink = format!("{}/ingest", receiver.url);
    let args = ["replay", "--listen", "127.0.0.1:0", "--sink", &sink, examples.to_str().unwrap()];
    let agent = start_agent(dir.path(), &args);
    let code = tokio::task::spawn_blocking(move || {
        let cloudtrail = "trailhound_events_total{source=\"replay\",log_type=\"CloudTrail\"}";
        let sink = format!("http {}", receiver.url);
        let up = format!("trailhound_sink_up{{sink=\"{sink}/ingest\"}}");
        // The sink's first request leaves after its batch timeout: wait for its refusal too.
        agent.wait_for(20, "every file read and the sink refused", |agent| {
            agent.metric(cloudtrail) == Some(42.0) && agent.metric(&up) == Some(0.0)
        });
        let (_, text) = agent.get("/metrics");
        let value = |series: &str| common::agent::value(&text, series);
        assert_eq!(value("trailhound_events_total{source=\"replay\",log_type=\"VPCFlowLogs\"}"), Some(45.0));
        assert_eq!(value("trailhound_objects_total{source=\"replay\",outcome=\"delivered\"}"), Some(14.0));
        assert_eq!(
            value(&format!("trailhound_sink_events_total{{sink=\"{sink}/ingest\",outcome=\"sent\"}}")),
            Some(0.0)
        );
        down.store(false, Ordering::SeqCst);
        agent.wait()
    })
    .await
    .unwrap();
    assert_eq!(code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_changes_nothing_and_lists_what_the_next_poll_collects() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trailhound.toml"), server.config("exclusions = [\"*SKIP*\"]\n")).unwrap();
    put_record(&server, &cloudtrail_key("", "111122223333", "us-east-1", 5, "AAAA"), "first").await;
    let run = common::trailhound_in(dir.path(), &["run", "--config", "trailhound.toml", "--once"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    // New since: a late file of an earlier minute (within the settle window), a new one, another
    // region, one filtered, and one later than the settle window (left for the next sweep, by the
    // dry run as by the poll).
    put_record(&server, &cloudtrail_key("", "111122223333", "us-east-1", 10, "BBBB"), "late").await;
    put_record(&server, &cloudtrail_key("", "111122223333", "us-east-1", 25, "EEEE"), "beyond-settle").await;
    put_record(&server, &cloudtrail_key("", "111122223333", "us-east-1", 1, "CCCC"), "new").await;
    put_record(&server, &cloudtrail_key("", "111122223333", "eu-west-1", 2, "DDDD"), "west").await;
    let skipped_key = cloudtrail_key("", "111122223333", "us-east-1", 1, "SKIPPED");
    put_record(&server, &skipped_key, "skipped").await;

    let state_file = dir.path().join("trailhound-state/trailhound.sqlite");
    let before = std::fs::read(&state_file).unwrap();
    let output_before = std::fs::read(dir.path().join("out.ndjson")).unwrap();
    let dry =
        common::trailhound_in(dir.path(), &["run", "--config", "trailhound.toml", "--dry-run", "--json"])
            .await;
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(std::fs::read(&state_file).unwrap(), before, "the state file is unchanged");
    assert_eq!(std::fs::read(dir.path().join("out.ndjson")).unwrap(), output_before, "no sink output");
    let plan: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    let source = &plan["sources"][0];
    assert_eq!((source["type"].as_str(), source["name"].as_str()), (Some("s3"), Some("trail")));
    assert_eq!((source["sweep"].as_bool(), source["already_collected"].as_u64()), (Some(false), Some(1)));
    let reached = source["reached"].as_array().unwrap();
    let planned: u64 = reached.iter().map(|r| r["objects"].as_u64().unwrap()).sum();
    assert_eq!(planned, 3);
    let keys: BTreeSet<&str> =
        reached.iter().flat_map(|r| [r["first_key"].as_str(), r["last_key"].as_str()]).flatten().collect();
    let skipped: Vec<&serde_json::Value> =
        reached.iter().flat_map(|r| r["skipped"].as_array().unwrap()).collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(
        (skipped[0]["key"].as_str(), skipped[0]["reason"].as_str()),
        (Some(skipped_key.as_str()), Some("inclusions/exclusions"))
    );

    let text = common::trailhound_in(dir.path(), &["run", "--config", "trailhound.toml", "--dry-run"]).await;
    assert!(text.stdout.contains("would collect 3 object(s)"), "{}", text.stdout);
    assert!(
        text.stdout.contains(&format!("skipped (inclusions/exclusions): {skipped_key}")),
        "{}",
        text.stdout
    );

    // The next --once collects exactly that.
    let run =
        common::trailhound_in(dir.path(), &["run", "--config", "trailhound.toml", "--once", "-v"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let delivered: Vec<serde_json::Value> = std::fs::read_to_string(dir.path().join("out.ndjson"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(delivered.len(), 3);
    let collected: BTreeSet<&str> = delivered.iter().map(|e| e["origin"]["key"].as_str().unwrap()).collect();
    assert!(keys.iter().all(|key| collected.contains(key)), "{keys:?} in {collected:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_is_told_ready_then_stopping() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trailhound.toml"), server.config("")).unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
    let mut agent = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["run", "--config", "trailhound.toml"])
        .current_dir(dir.path())
        .env("NOTIFY_SOCKET", &socket_path)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let messages = tokio::task::spawn_blocking(move || {
        let mut buffer = [0u8; 256];
        let mut messages = Vec::new();
        let size = socket.recv(&mut buffer).expect("READY=1 arrives");
        messages.push(String::from_utf8_lossy(&buffer[..size]).trim_end().to_string());
        // The store exists once the agent says it is ready.
        assert!(std::fs::metadata(socket_path.with_file_name("trailhound-state/trailhound.sqlite")).is_ok());
        std::process::Command::new("kill").args(["-TERM", &agent.id().to_string()]).status().unwrap();
        let size = socket.recv(&mut buffer).expect("STOPPING=1 arrives");
        messages.push(String::from_utf8_lossy(&buffer[..size]).trim_end().to_string());
        assert_eq!(agent.wait().unwrap().code(), Some(0));
        messages
    })
    .await
    .unwrap();
    assert_eq!(messages, vec!["READY=1", "STOPPING=1"]);
}

#[test]
fn the_systemd_unit_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(common::repo_root().join("packaging/trailhound.service")).unwrap();
    for setting in [
        "Type=notify",
        "DynamicUser=yes",
        "StateDirectory=trailhound",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "Restart=on-failure",
        "TimeoutStopSec=",
    ] {
        assert!(unit.lines().any(|line| line.starts_with(setting)), "{setting}");
    }
    // systemd checks that the programs named exist: point them at the binary under test.
    let unit = unit.replace("/usr/local/bin/trailhound", env!("CARGO_BIN_EXE_trailhound"));
    let path = dir.path().join("trailhound.service");
    std::fs::write(&path, unit).unwrap();
    let verify = std::process::Command::new("systemd-analyze")
        .args(["verify"])
        .arg(&path)
        .output()
        .expect("systemd-analyze is installed (scripts/test.sh installs systemd)");
    let said = String::from_utf8_lossy(&verify.stderr).to_string() + &String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success() && said.trim().is_empty(), "{said}");
}
