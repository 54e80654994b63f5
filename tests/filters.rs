//! Drop and keep rules, as a user writes them in TOML, on the bundled examples and on an S3
//! source whose dropped objects must still be checkpointed.

mod common;

use std::path::Path;

use common::s3::{self, cloudtrail_key, put_record};
use common::{Run, gzip, put, trailhound};

fn run_config(dir: &Path, toml: &str) -> Run {
    std::fs::write(dir.join("filters.toml"), toml).unwrap();
    trailhound(&["run", "--config", "filters.toml", "--once"], Some(dir))
}

fn events(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("out.ndjson"))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

const RECORDS: &str = r#"{"Records":[
 {"eventVersion":"1.10","eventID":"kms-decrypt","eventTime":"2026-11-01T00:00:00Z","eventSource":"kms.amazonaws.com","eventName":"Decrypt","readOnly":true,"userIdentity":{"type":"AWSService","invokedBy":"s3.amazonaws.com"},"recipientAccountId":"111122223333"},
 {"eventVersion":"1.10","eventID":"kms-datakey","eventTime":"2026-11-01T00:00:00Z","eventSource":"kms.amazonaws.com","eventName":"GenerateDataKey","readOnly":true,"userIdentity":{"type":"IAMUser","userName":"alice"},"recipientAccountId":"111122223333"},
 {"eventVersion":"1.10","eventID":"kms-create","eventTime":"2026-11-01T00:00:00Z","eventSource":"kms.amazonaws.com","eventName":"CreateKey","readOnly":false,"userIdentity":{"type":"IAMUser","userName":"alice"},"recipientAccountId":"111122223333"},
 {"eventVersion":"1.10","eventID":"service-read","eventTime":"2026-11-01T00:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","readOnly":true,"userIdentity":{"type":"AWSService","invokedBy":"autoscaling.amazonaws.com"},"recipientAccountId":"111122223333"},
 {"eventVersion":"1.10","eventID":"service-write","eventTime":"2026-11-01T00:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","readOnly":false,"userIdentity":{"type":"AWSService","invokedBy":"autoscaling.amazonaws.com"},"recipientAccountId":"111122223333"}
]}"#;

const FLOWS: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
2 111122223333 eni-1 10.0.0.5 10.0.1.9 49152 22 6 10 800 1700000000 1700000060 ACCEPT OK
2 111122223333 eni-1 10.0.0.5 10.0.1.9 49152 443 6 10 800 1700000000 1700000060 ACCEPT OK
2 111122223333 eni-1 192.168.0.5 10.0.1.9 49152 3389 6 10 800 1700000000 1700000060 REJECT OK
2 111122223333 eni-1 10.9.9.9 10.0.1.9 49153 3389 6 10 800 1700000000 1700000060 ACCEPT OK
2 111122223333 eni-1 - - - - - - - 1700000000 1700000060 - NODATA
";

#[test]
fn the_issues_rules_drop_and_keep_what_they_say() {
    let dir = tempfile::tempdir().unwrap();
    put(
        dir.path(),
        "logs/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/t.json.gz",
        &gzip(RECORDS.as_bytes()),
    );
    put(
        dir.path(),
        "logs/AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/01/f.log.gz",
        &gzip(FLOWS.as_bytes()),
    );
    let toml = r#"
[[source]]
type = "dir"
name = "trail"
path = "logs/AWSLogs/111122223333/CloudTrail"
log_type = "CloudTrail"

[[source.drop]]
match = { eventSource = "kms.amazonaws.com", eventName = ["Decrypt", "GenerateDataKey*"] }
[[source.drop]]
match = { "userIdentity.invokedBy" = "*.amazonaws.com", readOnly = true }

[[source]]
type = "dir"
name = "flows"
path = "logs/AWSLogs/111122223333/vpcflowlogs"
log_type = "VPCFlowLogs"

[[source.drop]]
match = { log_status = ["NODATA", "SKIPDATA"] }
[[source.keep]]
match = { srcaddr = "10.0.0.0/8", dstport = [22, 3389] }

[[sink]]
type = "file"
path = "out.ndjson"
"#;
    let run = run_config(dir.path(), toml);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let kept: Vec<String> = events(dir.path())
        .iter()
        .map(|e| match e["log_type"].as_str().unwrap() {
            "CloudTrail" => e["event_id"].as_str().unwrap().to_string(),
            _ => format!("{} {}", e["metadata"]["sip"].as_str().unwrap(), e["metadata"]["dport"]),
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(kept, vec!["10.0.0.5 22", "10.9.9.9 3389", "kms-create", "service-write"]);
    assert!(run.stderr.contains("(6 left out by filters)"), "{}", run.stderr);
    assert!(run.stderr.contains("source \"trail\" filters: drop[1] 2, drop[2] 1"), "{}", run.stderr);
    assert!(run.stderr.contains("source \"flows\" filters: drop[1] 1, not kept 2"), "{}", run.stderr);
}

#[test]
fn rules_that_cannot_work_are_configuration_errors() {
    let dir = tempfile::tempdir().unwrap();
    let toml = r#"
[[source]]
type = "s3"
bucket = "org-logs"
region = "us-east-1"
log_type = "CloudTrail"
[[source.drop]]
match = { eventSorce = "kms.amazonaws.com" }
[[source.drop]]
match = { eventName = "Decrypt[" }
[[source.drop]]
match = {}
[[source.drop]]
mach = { eventName = "x" }
[[source.keep]]
match = { srcaddr = "10.0.0.0/8" }

[[source]]
type = "s3"
bucket = "org-flows"
region = "us-east-1"
log_type = "VPCFlowLogs"
[[source.keep]]
match = { srcaddr = "10.0.0.0/33", dstport = 1.5 }
"#;
    std::fs::write(dir.path().join("bad.toml"), toml).unwrap();
    let run = trailhound(&["check-config", "--config", "bad.toml"], Some(dir.path()));
    assert_eq!(run.code, 1);
    for expected in [
        "drop[1]: unknown field \"eventSorce\": not a CloudTrail record member",
        "drop[2]: eventName: invalid glob \"Decrypt[\"",
        "drop[3]: an empty match holds for every event",
        "drop[4]: unknown key \"mach\"",
        "drop[4]: needs `match = { field = value, … }`",
        "keep[1]: unknown field \"srcaddr\": not a CloudTrail record member",
        "keep[1]: srcaddr: \"10.0.0.0/33\" is not a CIDR block (like 10.0.0.0/8)",
        "keep[1]: dstport: 1.5 is not a text, a whole number, a boolean or a list of them",
    ] {
        assert!(run.stderr.contains(expected), "{expected:?} in {}", run.stderr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_whose_every_event_is_dropped_is_still_checkpointed() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    put_record(&server, &cloudtrail_key("", "111122223333", "us-east-1", 3, "AAAA"), "all-dropped").await;
    let config = server.config("[[source.drop]]\nmatch = { eventName = \"DescribeInstances\" }\n");
    std::fs::write(dir.path().join("trailhound.toml"), config).unwrap();
    for _ in 0..2 {
        let run = common::trailhound_in(dir.path(), &["run", "--config", "trailhound.toml", "--once"]).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    assert!(events(dir.path()).is_empty());
    let state = common::trailhound_in(dir.path(), &["state", "--config", "trailhound.toml"]).await;
    assert!(
        state.stdout.contains("processed objects: 1 delivered, 0 skipped, 0 quarantined"),
        "{}",
        state.stdout
    );
    assert!(
        state.stdout.contains("left out by filters: drop[1] 1"),
        "counted once per event: {}",
        state.stdout
    );
}
