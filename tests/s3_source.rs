//! The s3 source against a real S3-compatible server: late arrivals, sweeps, delivery failures,
//! filters, organization trails, and how many requests a poll costs.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::s3::{self, S3Server};
use common::{Run, gzip, records_doc};
use time::OffsetDateTime;

const ACCOUNT_A: &str = "111122223333";
const ACCOUNT_B: &str = "444455556666";

/// A CloudTrail key stamped `minutes_ago` minutes before now.
fn cloudtrail_key(prefix: &str, account: &str, region: &str, minutes_ago: i64, suffix: &str) -> String {
    let at = OffsetDateTime::now_utc() - time::Duration::minutes(minutes_ago);
    format!(
        "{prefix}AWSLogs/{account}/CloudTrail/{region}/{:04}/{:02}/{:02}/{account}_CloudTrail_{region}_{:04}{:02}{:02}T{:02}{:02}Z_{suffix}.json.gz",
        at.year(),
        at.month() as u8,
        at.day(),
        at.year(),
        at.month() as u8,
        at.day(),
        at.hour(),
        at.minute()
    )
}

/// Puts a CloudTrail file holding one record whose eventID is `id`.
async fn put_record(server: &S3Server, key: &str, id: &str) {
    server.put(key, gzip(&records_doc(&[id]))).await;
}

/// Runs `trailhound ARGS` in `dir` without blocking the server's runtime.
async fn trailhound(dir: &Path, args: &[&str]) -> Run {
    let (dir, args): (std::path::PathBuf, Vec<String>) =
        (dir.to_path_buf(), args.iter().map(|a| a.to_string()).collect());
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        common::trailhound(&args, Some(&dir))
    })
    .await
    .unwrap()
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
    // Discovery: AWSLogs/, the account's CloudTrail/ and CloudTrail-Insight/ folders; then the
    // two day folders of the one partition. Never an older day.
    assert_eq!(listings.len(), 5, "{listings:#?}");
    let old_day = OffsetDateTime::now_utc() - time::Duration::days(3);
    let old_folder = format!("{:04}/{:02}/{:02}/", old_day.year(), old_day.month() as u8, old_day.day());
    assert!(!requests.iter().any(|line| line.contains(&old_folder)), "{requests:#?}");
    assert!(requests.iter().all(|line| !line.contains(s3::SECRET_KEY) && !line.contains(s3::ACCESS_KEY)));
}
