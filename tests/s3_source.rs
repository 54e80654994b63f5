//! The s3 source against a real S3-compatible server: late arrivals, sweeps, delivery failures,
//! filters, organization trails, and how many requests a poll costs.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::http_receiver::HttpReceiver;
use common::s3::{self, cloudtrail_key, put_record};
use common::{Run, gzip, records_doc};
use time::OffsetDateTime;

const ACCOUNT_A: &str = "111122223333";
const ACCOUNT_B: &str = "444455556666";

/// Runs `trailhound ARGS` in `dir` without blocking the server's runtime.
async fn trailhound(dir: &Path, args: &[&str]) -> Run {
    common::trailhound_in(dir, args).await
}

/// Every event id in the file sink, in order.
fn delivered_ids(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("out.ndjson")).unwrap_or_default();
    text.lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["event_id"].as_str().unwrap().to_string()
        })
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

async fn run_once(dir: &Path, extra_args: &[&str]) -> Run {
    let mut args = vec!["run", "--config", "trailhound.toml", "--once"];
    args.extend_from_slice(extra_args);
    let run = trailhound(dir, &args).await;
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_arrivals_are_collected_exactly_once_and_none_is_missed() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trailhound.toml"), server.config("")).unwrap();

    put_record(&server, &cloudtrail_key("", ACCOUNT_A, "us-west-2", 6, "MMMMMMMMMMMMMMMM"), "first-a").await;
    put_record(&server, &cloudtrail_key("", ACCOUNT_A, "us-west-2", 2, "MMMMMMMMMMMMMMMM"), "first-b").await;
    put_record(&server, &cloudtrail_key("", ACCOUNT_B, "us-west-2", 3, "MMMMMMMMMMMMMMMM"), "first-c").await;
    run_once(dir.path(), &[]).await;
    assert_eq!(
        delivered_ids(dir.path()).into_iter().collect::<BTreeSet<_>>(),
        set(&["first-a", "first-b", "first-c"])
    );

    // Keys that sort before the last collected one, landing after the first run, and a newer one.
    put_record(
        &server,
        &cloudtrail_key("", ACCOUNT_A, "us-west-2", 2, "AAAAAAAAAAAAAAAA"),
        "late-same-minute",
    )
    .await;
    put_record(
        &server,
        &cloudtrail_key("", ACCOUNT_A, "us-west-2", 9, "ZZZZZZZZZZZZZZZZ"),
        "late-earlier-minute",
    )
    .await;
    put_record(
        &server,
        &cloudtrail_key("", ACCOUNT_A, "us-east-1", 4, "MMMMMMMMMMMMMMMM"),
        "late-other-region",
    )
    .await;
    put_record(
        &server,
        &cloudtrail_key("", "000011112222", "us-west-2", 5, "MMMMMMMMMMMMMMMM"),
        "late-other-account",
    )
    .await;
    put_record(&server, &cloudtrail_key("", ACCOUNT_B, "us-west-2", 0, "NNNNNNNNNNNNNNNN"), "newer").await;
    // Later than the settle window (15 minutes): only a sweep may find it.
    put_record(&server, &cloudtrail_key("", ACCOUNT_B, "us-west-2", 50, "OOOOOOOOOOOOOOOO"), "beyond-settle")
        .await;
    run_once(dir.path(), &[]).await;
    let second: Vec<String> = delivered_ids(dir.path()).into_iter().skip(3).collect();
    assert_eq!(
        second.iter().cloned().collect::<BTreeSet<_>>(),
        set(&["late-same-minute", "late-earlier-minute", "late-other-region", "late-other-account", "newer"])
    );
    assert_eq!(second.len(), 5, "no duplicates: {second:?}");

    run_once(dir.path(), &["--sweep"]).await;
    let third: Vec<String> = delivered_ids(dir.path()).into_iter().skip(8).collect();
    assert_eq!(third, vec!["beyond-settle"]);

    // Nothing new: nothing delivered, and the checkpoint shows what was done.
    run_once(dir.path(), &["--sweep"]).await;
    assert_eq!(delivered_ids(dir.path()).len(), 9);
    let state = trailhound(dir.path(), &["state", "--config", "trailhound.toml"]).await;
    assert_eq!(state.code, 0, "{}", state.stderr);
    assert!(
        state.stdout.contains("processed objects: 9 delivered, 0 skipped, 0 quarantined"),
        "{}",
        state.stdout
    );
    assert!(state.stdout.contains("over 4 partition(s)"), "{}", state.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_whose_delivery_failed_are_collected_again() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trailhound.toml"), server.config("")).unwrap();
    put_record(&server, &cloudtrail_key("", ACCOUNT_A, "us-east-1", 3, "AAAAAAAAAAAAAAAA"), "one").await;
    put_record(&server, &cloudtrail_key("", ACCOUNT_A, "us-east-1", 2, "AAAAAAAAAAAAAAAA"), "two").await;

    // /dev/full accepts the open and fails every write: downloaded, never delivered.
    let failed =
        trailhound(dir.path(), &["run", "--config", "trailhound.toml", "--once", "--sink", "file:/dev/full"])
            .await;
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(failed.stderr.contains("No space left on device"), "{}", failed.stderr);

    run_once(dir.path(), &[]).await;
    assert_eq!(delivered_ids(dir.path()).into_iter().collect::<BTreeSet<_>>(), set(&["one", "two"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_organizations_region_folders_exclusions_and_globs() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "file_path = \"org/\"\nregion_folders = [\"us-east-1\", \"eu-west-1\", \"eu-central-1\"]\n\
                 exclusion_directories = [\"central\"]\nexclusions = [\"*_SKIP*\"]\n";
    std::fs::write(dir.path().join("trailhound.toml"), server.config(extra)).unwrap();
    let org = "org/AWSLogs/o-abcdef1234/";
    put_record(&server, &cloudtrail_key("org/", ACCOUNT_A, "us-east-1", 2, "AAAAAAAAAAAAAAAA"), "plain")
        .await;
    put_record(
        &server,
        &cloudtrail_key(org, ACCOUNT_B, "eu-west-1", 2, "AAAAAAAAAAAAAAAA")
            .replace(&format!("{org}AWSLogs/"), org),
        "org-member",
    )
    .await;
    put_record(
        &server,
        &cloudtrail_key("org/", ACCOUNT_A, "us-west-2", 2, "AAAAAAAAAAAAAAAA"),
        "other-region",
    )
    .await;
    put_record(
        &server,
        &cloudtrail_key("org/", ACCOUNT_A, "eu-central-1", 2, "AAAAAAAAAAAAAAAA"),
        "excluded-folder",
    )
    .await;
    put_record(
        &server,
        &cloudtrail_key("org/", ACCOUNT_A, "us-east-1", 2, "SKIPAAAAAAAAAAAA"),
        "excluded-glob",
    )
    .await;
    put_record(&server, &cloudtrail_key("", ACCOUNT_A, "us-east-1", 2, "AAAAAAAAAAAAAAAA"), "outside-prefix")
        .await;
    let insight = cloudtrail_key("org/", ACCOUNT_A, "us-east-1", 2, "AAAAAAAAAAAAAAAA")
        .replace("CloudTrail", "CloudTrail-Insight");
    put_record(&server, &insight, "insight").await;
    let digest = format!(
        "org/AWSLogs/{ACCOUNT_A}/CloudTrail-Digest/us-east-1/2026/11/01/{ACCOUNT_A}_CloudTrail-Digest_us-east-1_t_us-east-1_20261101T000000Z.json.gz"
    );
    server.put(&digest, gzip(br#"{"digestStartTime":"x","logFiles":[]}"#)).await;

    run_once(dir.path(), &[]).await;
    assert_eq!(
        delivered_ids(dir.path()).into_iter().collect::<BTreeSet<_>>(),
        set(&["plain", "org-member", "insight"])
    );
    let line = std::fs::read_to_string(dir.path().join("out.ndjson")).unwrap();
    let first: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(first["origin"]["source"], "trail");
    assert_eq!(first["origin"]["bucket"], s3::BUCKET);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_of_a_30_day_bucket_lists_only_the_look_back_window() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trailhound.toml"), server.config("log_api_requests = true\n")).unwrap();
    for day in 0..30 {
        let key = cloudtrail_key("", ACCOUNT_A, "us-east-1", day * 1440 + 1, "AAAAAAAAAAAAAAAA");
        put_record(&server, &key, &format!("day-{day}")).await;
    }
    let run = run_once(dir.path(), &[]).await;
    // One back day: only what is at most 24 hours old (day-1 is 24 h 1 min old).
    assert_eq!(delivered_ids(dir.path()), vec!["day-0"]);

    let requests: Vec<&str> =
        run.stderr.lines().filter(|line| line.contains(&format!("GET /{}", s3::BUCKET))).collect();
    let listings: Vec<&&str> = requests.iter().filter(|line| line.contains("list-type=2")).collect();
    // Discovery: the bucket's root (FilePath is blank: AWSLogs/ may be under a trail prefix),
    // AWSLogs/, the account's folder and its CloudTrail/ folder; then the two day folders of the
    // one partition. Never an older day.
    assert_eq!(listings.len(), 6, "{listings:#?}");
    let old_day = OffsetDateTime::now_utc() - time::Duration::days(3);
    let old_folder = format!("{:04}/{:02}/{:02}/", old_day.year(), old_day.month() as u8, old_day.day());
    assert!(!requests.iter().any(|line| line.contains(&old_folder)), "{requests:#?}");
    assert!(requests.iter().all(|line| !line.contains(s3::SECRET_KEY) && !line.contains(s3::ACCESS_KEY)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trees_outside_the_aws_layout_are_read_to_the_configured_depth() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "file_path = \"exports/\"\ndepth_to_recurse = 2\nexclusion_directories = [\"tmp\"]\nmax_result_count = 1\n";
    std::fs::write(dir.path().join("trailhound.toml"), server.config(extra)).unwrap();
    put_record(&server, "exports/top.json.gz", "level-0").await;
    put_record(&server, "exports/a/second.json.gz", "level-1").await;
    put_record(&server, "exports/b/second.json.gz", "level-1b").await;
    put_record(&server, "exports/a/deeper/third.json.gz", "level-2").await;
    put_record(&server, "exports/a/deeper/deepest/fourth.json.gz", "level-3").await;
    put_record(&server, "exports/tmp-area/ignored.json.gz", "excluded").await;
    run_once(dir.path(), &[]).await;
    // Depth 2: the files of FilePath and of the folders one and two levels below it.
    assert_eq!(
        delivered_ids(dir.path()).into_iter().collect::<BTreeSet<_>>(),
        set(&["level-0", "level-1", "level-1b", "level-2"])
    );
    run_once(dir.path(), &[]).await;
    assert_eq!(delivered_ids(dir.path()).len(), 4, "a second poll collects nothing again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vpc_flow_logs_and_small_pages() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trailhound.toml"),
        server.config("log_type = \"VPCFlowLogs\"\nmax_result_count = 1\n"),
    )
    .unwrap();
    let (folder, stamp) = common::key_stamp(OffsetDateTime::now_utc());
    let line = "2 111122223333 eni-1 10.0.0.1 10.0.0.2 1234 443 6 10 800 1700000000 1700000060 ACCEPT OK";
    for flow_log in ["fl-00000001", "fl-00000002", "fl-00000003"] {
        let key = format!(
            "AWSLogs/{ACCOUNT_A}/vpcflowlogs/us-east-1/{folder}/{ACCOUNT_A}_vpcflowlogs_us-east-1_{flow_log}_{stamp}_abcd1234.log.gz"
        );
        server.put(&key, gzip(format!("{line}\n{line}\n").as_bytes())).await;
    }
    put_record(&server, &cloudtrail_key("", ACCOUNT_A, "us-east-1", 1, "AAAAAAAAAAAAAAAA"), "not-a-flow-log")
        .await;
    run_once(dir.path(), &[]).await;
    let text = std::fs::read_to_string(dir.path().join("out.ndjson")).unwrap();
    let events: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 6, "three files of two lines, read through one-key pages");
    assert!(events.iter().all(|e| e["log_type"] == "VPCFlowLogs" && e["metadata"]["dport"] == 443));
    let ids: BTreeSet<&str> = events.iter().map(|e| e["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_polling_and_keeps_the_checkpoint() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trailhound.toml"), server.config("poll_interval_seconds = 1\n")).unwrap();
    put_record(&server, &cloudtrail_key("", ACCOUNT_A, "us-east-1", 1, "AAAAAAAAAAAAAAAA"), "before").await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["run", "--config", "trailhound.toml"])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while delivered_ids(dir.path()).is_empty() {
        assert!(std::time::Instant::now() < deadline, "the first poll never delivered");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    put_record(&server, &cloudtrail_key("", ACCOUNT_A, "us-east-1", 0, "BBBBBBBBBBBBBBBB"), "while-running")
        .await;
    while delivered_ids(dir.path()).len() < 2 {
        assert!(std::time::Instant::now() < deadline, "the next poll never delivered");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let status =
        std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert_eq!(exit.code(), Some(0));
    run_once(dir.path(), &[]).await;
    assert_eq!(
        delivered_ids(dir.path()),
        vec!["before", "while-running"],
        "nothing collected twice after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_download_and_delivery_recollects_on_restart() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trailhound.toml"), server.config("")).unwrap();
    // Objects of 300 records (~100 KB of events each): more than a pipe holds.
    let mut expected = BTreeSet::new();
    for object in 0..3 {
        let ids: Vec<String> = (0..300).map(|i| format!("crash-{object}-{i:03}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let key = cloudtrail_key("", ACCOUNT_A, "us-east-1", 3 - object, "AAAAAAAAAAAAAAAA");
        server.put(&key, gzip(&records_doc(&refs))).await;
        expected.extend(ids);
    }
    // A FIFO whose reader never reads: the sink blocks once the pipe is full, after download.
    let fifo = dir.path().join("stuck.fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let mut reader = std::process::Command::new("sh")
        .args(["-c", &format!("exec 3<'{}'; sleep 60", fifo.display())])
        .spawn()
        .unwrap();
    let sink = format!("file:{}", fifo.display());
    let mut agent = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["run", "--config", "trailhound.toml", "--once", "--sink", &sink])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(agent.try_wait().unwrap().is_none(), "the agent must be stuck on the full pipe");
    agent.kill().unwrap();
    agent.wait().unwrap();
    reader.kill().unwrap();
    reader.wait().unwrap();

    let state = trailhound(dir.path(), &["state", "--config", "trailhound.toml"]).await;
    assert!(
        state.stdout.contains("processed objects: 0 delivered"),
        "nothing was delivered: {}",
        state.stdout
    );
    run_once(dir.path(), &[]).await;
    assert_eq!(delivered_ids(dir.path()).into_iter().collect::<BTreeSet<_>>(), expected);
}

/// A real forward proxy (tinyproxy, from Debian; `scripts/test.sh` installs it) on loopback that
/// requires basic authentication.
struct Tinyproxy {
    port: u16,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn start_tinyproxy(user: &str, password: &str) -> Tinyproxy {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = format!(
        "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 20\nAllow 127.0.0.1\nBasicAuth {user} {password}\n\
         LogLevel Info\nLogFile \"{0}/tinyproxy.log\"\nPidFile \"{0}/tinyproxy.pid\"\n",
        dir.path().display()
    );
    std::fs::write(dir.path().join("tinyproxy.conf"), config).unwrap();
    let child = std::process::Command::new("tinyproxy")
        .args(["-d", "-c"])
        .arg(dir.path().join("tinyproxy.conf"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tinyproxy is installed (scripts/test.sh installs it)");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "tinyproxy did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Tinyproxy { port, child, _dir: dir }
}

/// The source keys that send its requests through `proxy` as user `trail`.
fn proxy_settings(proxy: &Tinyproxy, password: &str) -> String {
    format!(
        "proxy_server = \"127.0.0.1\"\nproxy_port = {}\nproxy_user_name = \"trail\"\nproxy_password = \"{password}\"\n",
        proxy.port
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collects_through_an_authenticated_proxy() {
    let server = s3::start().await;
    let proxy = start_tinyproxy("trail", "proxy-pass");
    let dir = tempfile::tempdir().unwrap();
    let extra = proxy_settings(&proxy, "proxy-pass");
    std::fs::write(dir.path().join("trailhound.toml"), server.config(&extra)).unwrap();
    put_record(&server, &cloudtrail_key("", ACCOUNT_A, "us-east-1", 2, "AAAAAAAAAAAAAAAA"), "via-proxy")
        .await;
    run_once(dir.path(), &[]).await;
    assert_eq!(delivered_ids(dir.path()), vec!["via-proxy"]);
    let log = std::fs::read_to_string(proxy._dir.path().join("tinyproxy.log")).unwrap_or_default();
    assert!(log.contains("GET") || log.contains("Request"), "the proxy carried the requests: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_proxy_credentials_are_a_clear_error() {
    let server = s3::start().await;
    let proxy = start_tinyproxy("trail", "proxy-pass");
    let dir = tempfile::tempdir().unwrap();
    let extra = proxy_settings(&proxy, "wrong-pass");
    std::fs::write(dir.path().join("trailhound.toml"), server.config(&extra)).unwrap();
    put_record(&server, &cloudtrail_key("", ACCOUNT_A, "us-east-1", 2, "AAAAAAAAAAAAAAAA"), "blocked").await;
    let run = trailhound(dir.path(), &["run", "--config", "trailhound.toml", "--once"]).await;
    assert_eq!(run.code, 1, "a poll that could not list the bucket fails --once: {}", run.stderr);
    assert!(run.stderr.contains("the poll could not be completed"), "{}", run.stderr);
    assert!(delivered_ids(dir.path()).is_empty());
    assert!(
        run.stderr
            .contains("the proxy refused the credentials (HTTP 401): check UserName, Password and Domain"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("wrong-pass"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_appear_in_any_output() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("trailhound.key");
    let encrypt = |secret: &str| common::encrypt(&key_file, secret).0;
    let (key_token, secret_token) = (encrypt(s3::ACCESS_KEY), encrypt(s3::SECRET_KEY));
    assert!(key_token.starts_with("enc:v1:") && secret_token.starts_with("enc:v1:"));
    let config = server
        .config("log_api_requests = true\n")
        .replace(&format!("\"{}\"", s3::ACCESS_KEY), &format!("\"{key_token}\""))
        .replace(&format!("\"{}\"", s3::SECRET_KEY), &format!("\"{secret_token}\""));
    std::fs::write(dir.path().join("trailhound.toml"), config).unwrap();
    put_record(&server, &cloudtrail_key("", ACCOUNT_A, "us-east-1", 2, "AAAAAAAAAAAAAAAA"), "quiet").await;

    let key = key_file.to_str().unwrap().to_string();
    let outputs = [
        trailhound(dir.path(), &["-vv", "--key-file", &key, "run", "--config", "trailhound.toml", "--once"])
            .await,
        trailhound(dir.path(), &["--key-file", &key, "state", "--config", "trailhound.toml"]).await,
        trailhound(dir.path(), &["--key-file", &key, "check-config", "--config", "trailhound.toml"]).await,
    ];
    assert_eq!(outputs[0].code, 0, "{}", outputs[0].stderr);
    assert_eq!(delivered_ids(dir.path()), vec!["quiet"], "the encrypted keys worked");
    assert!(outputs[0].stderr.contains("GET /trail-logs"), "LogApiRequests lines are there");
    assert!(outputs[0].stderr.contains("DEBUG"), "debug logging is on: {}", outputs[0].stderr);
    let events = std::fs::read_to_string(dir.path().join("out.ndjson")).unwrap();
    for (what, text) in outputs
        .iter()
        .flat_map(|run| [("stdout", &run.stdout), ("stderr", &run.stderr)])
        .chain([("events", &events)])
    {
        for line in text.lines() {
            assert!(!line.contains(s3::SECRET_KEY), "the secret key leaked into {what}: {line}");
            assert!(!line.contains(s3::ACCESS_KEY), "the key id leaked into {what}: {line}");
        }
    }
    // Nor into the state store (its file and its write-ahead log).
    for entry in std::fs::read_dir(dir.path().join("trailhound-state")).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let found = |needle: &str| bytes.windows(needle.len()).any(|window| window == needle.as_bytes());
        assert!(!found(s3::SECRET_KEY) && !found(s3::ACCESS_KEY), "a key leaked into the state store");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_environment_variables_are_honoured_without_a_configured_proxy() {
    let server = s3::start().await;
    let proxy = start_tinyproxy("trail", "proxy-pass");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trailhound.toml"), server.config("")).unwrap();
    put_record(&server, &cloudtrail_key("", ACCOUNT_A, "us-east-1", 2, "AAAAAAAAAAAAAAAA"), "env-proxy")
        .await;
    let run_with_env = |env: Vec<(&'static str, String)>| {
        let dir = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"));
            command.args(["run", "--config", "trailhound.toml", "--once"]).current_dir(&dir);
            for name in ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"] {
                command.env_remove(name);
            }
            command.envs(env);
            command.output().unwrap()
        })
    };
    // Wrong credentials in HTTP_PROXY: the request goes to the proxy, which refuses it.
    let refused = run_with_env(vec![("HTTP_PROXY", format!("http://trail:wrong@127.0.0.1:{}", proxy.port))])
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("the proxy refused the credentials"),
        "the proxy from the environment was used"
    );
    // NO_PROXY lets the same environment reach the server directly.
    let direct = run_with_env(vec![
        ("HTTP_PROXY", format!("http://trail:wrong@127.0.0.1:{}", proxy.port)),
        ("NO_PROXY", "127.0.0.1".to_string()),
    ])
    .await
    .unwrap();
    assert!(direct.status.success(), "{}", String::from_utf8_lossy(&direct.stderr));
    assert_eq!(delivered_ids(dir.path()), vec!["env-proxy"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collects_over_https_through_an_authenticated_connect_tunnel() {
    let server = s3::start_with_tls().await;
    let (https_endpoint, certificate) = server.tls.clone().unwrap();
    let proxy = start_tinyproxy("trail", "proxy-pass");
    let dir = tempfile::tempdir().unwrap();
    let extra = proxy_settings(&proxy, "proxy-pass");
    let config = server.config(&extra).replace(&server.endpoint, &https_endpoint);
    std::fs::write(dir.path().join("trailhound.toml"), config).unwrap();
    put_record(&server, &cloudtrail_key("", ACCOUNT_A, "us-east-1", 2, "AAAAAAAAAAAAAAAA"), "tunnelled")
        .await;
    let output = {
        let dir = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"))
                .args(["run", "--config", "trailhound.toml", "--once"])
                .current_dir(&dir)
                .env("SSL_CERT_FILE", &certificate)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(delivered_ids(dir.path()), vec!["tunnelled"]);
    let log = std::fs::read_to_string(proxy._dir.path().join("tinyproxy.log")).unwrap_or_default();
    assert!(log.contains("CONNECT"), "the proxy tunnelled the TLS connection: {log}");
}

/// An http sink section for `url`, after the file sink of `S3Server::config`.
fn with_http_sink(config: String, url: &str, extra: &str) -> String {
    format!("{config}\n[[sink]]\ntype = \"http\"\nurl = \"{url}\"\n{extra}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_a_receiver_refused_are_collected_once_it_accepts() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    put_record(&server, &cloudtrail_key("", ACCOUNT_A, "us-east-1", 3, "AAAAAAAAAAAAAAAA"), "one").await;
    put_record(&server, &cloudtrail_key("", ACCOUNT_A, "us-east-1", 2, "AAAAAAAAAAAAAAAA"), "two").await;

    let refusing = HttpReceiver::start(|_, _| (401, "bad credentials".into()));
    let config = with_http_sink(server.config(""), &format!("{}/ingest", refusing.url), "");
    std::fs::write(dir.path().join("trailhound.toml"), config).unwrap();
    let refused = trailhound(dir.path(), &["run", "--config", "trailhound.toml", "--once"]).await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("HTTP 401 Unauthorized: bad credentials"), "{}", refused.stderr);

    let accepting = HttpReceiver::start(|_, _| (200, String::new()));
    let config = with_http_sink(server.config(""), &format!("{}/ingest", accepting.url), "");
    std::fs::write(dir.path().join("trailhound.toml"), config).unwrap();
    run_once(dir.path(), &[]).await;
    let received: BTreeSet<String> = accepting.accepted_event_ids();
    assert_eq!(received, set(&["one", "two"]), "nothing was checkpointed while the sink refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_refusing_the_credentials_stops_a_polling_agent() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    put_record(&server, &cloudtrail_key("", ACCOUNT_A, "us-east-1", 3, "AAAAAAAAAAAAAAAA"), "one").await;
    let refusing = HttpReceiver::start(|_, _| (401, "bad credentials".into()));
    let config = with_http_sink(server.config(""), &format!("{}/ingest", refusing.url), "");
    std::fs::write(dir.path().join("trailhound.toml"), config).unwrap();
    // Without --once the source polls every minute for ever: only the refused sink can end it.
    let mut agent = common::spawn(&["run", "--config", "trailhound.toml"], Some(dir.path()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while agent.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let ended = agent.try_wait().unwrap().is_some();
    agent.kill().ok();
    let output = agent.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(ended, "the agent stops once its sink refuses it for good: {stderr}");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("HTTP 401 Unauthorized: bad credentials"), "{stderr}");
    assert!(!stderr.contains("stopping: finishing queued events"), "not a signal: {stderr}");
    assert_eq!(refusing.requests().len(), 1, "one refused request, no retries of a refusal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_http_batch_is_sent_when_it_is_old_enough() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    put_record(&server, &cloudtrail_key("", ACCOUNT_A, "us-east-1", 3, "AAAAAAAAAAAAAAAA"), "early").await;
    let receiver = HttpReceiver::start(|_, _| (200, String::new()));
    let extra = "batch_max_events = 10000\nbatch_timeout_ms = 300";
    let config = with_http_sink(server.config(""), &format!("{}/ingest", receiver.url), extra);
    std::fs::write(dir.path().join("trailhound.toml"), config).unwrap();
    // A long-running agent: its source never ends, so only the batch's age can send it.
    let mut agent = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["run", "--config", "trailhound.toml"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while receiver.accepted().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let still_running = agent.try_wait().unwrap().is_none();
    agent.kill().ok();
    agent.wait().ok();
    assert!(still_running, "the agent keeps polling");
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 1, "one request for the one event, sent by age");
    assert!(accepted[0].body.contains("\"event_id\":\"early\""));
}

/// Objects wait for their delivery without holding a download slot: a sink that gathers events
/// into requests (here up to 500, or 2 s) is fed by many objects at once. With the slot held
/// until delivery, four objects at a time would reach it, one small request per 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batching_sink_is_fed_by_many_objects_at_once() {
    let server = s3::start().await;
    let receiver = HttpReceiver::start(|_, _| (200, String::new()));
    let mut expected = BTreeSet::new();
    for object in 0..40 {
        let ids: Vec<String> = (0..5).map(|record| format!("b{object:02}-{record}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let key = cloudtrail_key("", ACCOUNT_A, "us-east-1", 1 + object, &format!("BATCH{object:011}"));
        server.seed(&key, &gzip(&records_doc(&refs)));
        expected.extend(ids);
    }
    let dir = tempfile::tempdir().unwrap();
    let config = server.config("").replace(
        "[[sink]]\ntype = \"file\"\npath = \"out.ndjson\"\n",
        &format!("[[sink]]\ntype = \"http\"\nurl = \"{}/ingest\"\nbatch_timeout_ms = 2000\n", receiver.url),
    );
    std::fs::write(dir.path().join("trailhound.toml"), config).unwrap();
    run_once(dir.path(), &[]).await;
    assert_eq!(receiver.accepted_event_ids(), expected);
    let requests = receiver.requests().len();
    assert!(
        requests <= 3,
        "200 events of 40 objects arrive in a few requests, not one per 4 objects: {requests}"
    );
}
