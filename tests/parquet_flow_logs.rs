//! VPC Flow Logs delivered as Parquet, and in every layout AWS writes (default, Hive-compatible,
//! hourly): the same events as text, a damaged file, and the S3 source on one bucket holding
//! them all at once.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::s3::{self, cloudtrail_key, put_record};
use common::{gzip, put};
use time::OffsetDateTime;
use trailhound::corpus::parquet::from_text;

const DEFAULT: &str = trailhound::corpus::parquet::AWS_EXAMPLE_FLOWS;

const V5: &str = "version account-id vpc-id subnet-id instance-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status tcp-flags type pkt-srcaddr pkt-dstaddr region az-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path
5 123456789010 vpc-0123 subnet-0123 i-0123 eni-0123 10.0.1.5 52.94.76.10 49152 443 6 10 5000 1700000000 1700000060 ACCEPT OK 19 IPv4 10.0.1.5 52.94.76.10 us-east-1 use1-az1 - S3 egress 8
5 123456789010 vpc-0123 subnet-0123 - eni-0456 - - - - - - - 1700000000 1700000060 - NODATA - - - - us-east-1 use1-az1 - - - -
";

fn replay(path: &Path) -> common::Run {
    common::trailhound(&["replay", path.to_str().unwrap()], None)
}

/// Events by line, with `origin.key` taken out (the one member that differs by delivery).
fn by_line(run: &common::Run) -> BTreeMap<u64, serde_json::Value> {
    run.events()
        .into_iter()
        .map(|mut event| {
            let line = event["origin"]["line"].as_u64().unwrap();
            event["origin"].as_object_mut().unwrap().remove("key");
            (line, event)
        })
        .collect()
}

#[test]
fn a_parquet_delivery_gives_the_events_of_the_text_delivery() {
    for (name, text) in [("default", DEFAULT), ("v5", V5)] {
        let dir = tempfile::tempdir().unwrap();
        let key = format!(
            "AWSLogs/123456789010/vpcflowlogs/us-east-1/2026/11/01/123456789010_vpcflowlogs_us-east-1_fl-{name}_20261101T0000Z_fe123456"
        );
        let text_file = put(&dir.path().join("text"), &format!("{key}.log.gz"), &gzip(text.as_bytes()));
        let parquet_file =
            put(&dir.path().join("parquet"), &format!("{key}.log.parquet"), &from_text(text, 2).unwrap());
        let (from_text_run, from_parquet_run) = (replay(&text_file), replay(&parquet_file));
        assert_eq!(from_text_run.code, 0, "{}", from_text_run.stderr);
        assert_eq!(from_parquet_run.code, 0, "{}", from_parquet_run.stderr);
        let (from_text, from_parquet) = (by_line(&from_text_run), by_line(&from_parquet_run));
        assert_eq!(from_text.len(), text.lines().count() - 1);
        assert_eq!(from_parquet, from_text, "{name}: same metadata, raw, time, line and event_id");
        let keys: Vec<String> = from_parquet_run
            .events()
            .iter()
            .map(|e| e["origin"]["key"].as_str().unwrap().to_string())
            .collect();
        assert!(keys.iter().all(|k| k.ends_with(".log.parquet")), "origin.key is the object's own: {keys:?}");
    }
}

#[test]
fn parquet_is_recognised_by_its_content() {
    let dir = tempfile::tempdir().unwrap();
    let file = put(dir.path(), "exports/flows.bin", &from_text(DEFAULT, 100).unwrap());
    let run = common::trailhound(&["replay", "--log-type", "CloudTrail", file.to_str().unwrap()], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.events().len(), 5);
    assert!(run.events().iter().all(|e| e["log_type"] == "VPCFlowLogs"));
}

#[test]
fn a_damaged_parquet_file_is_reported_and_its_readable_row_groups_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let file = from_text(DEFAULT, 2).unwrap();
    // Overwrite the pages of the last row group.
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(bytes::Bytes::from(file.clone())).unwrap();
    let mut damaged = file.clone();
    for column in reader.metadata().row_group(reader.num_row_groups() - 1).columns() {
        let (start, length) = column.byte_range();
        damaged[start as usize..(start + length) as usize].fill(0xFF);
    }
    let path = put(
        dir.path(),
        "AWSLogs/1/vpcflowlogs/r/2026/11/01/1_vpcflowlogs_r_fl-1_20261101T0000Z_x.log.parquet",
        &damaged,
    );
    let run = replay(&path);
    assert_eq!(run.code, 3, "bad input: {}", run.stderr);
    assert!(run.stderr.contains("Parquet row group"), "{}", run.stderr);
    let lines: Vec<u64> = run.events().iter().map(|e| e["origin"]["line"].as_u64().unwrap()).collect();
    assert!(!lines.is_empty() && lines.len() < 5, "the row groups before the damage: {lines:?}");
    assert_eq!(lines, (2..2 + lines.len() as u64).collect::<Vec<_>>());

    let truncated = put(dir.path(), "cut.log.parquet", &file[..file.len() / 2]);
    let run = replay(&truncated);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("Parquet:"), "{}", run.stderr);
    assert!(run.events().is_empty());
}

/// `YYYY`, `MM`, `DD` and `HH` of `minutes_ago` minutes before now, and the file-name stamp.
fn moment(minutes_ago: i64) -> (String, String, String, String, String) {
    let at = OffsetDateTime::now_utc() - time::Duration::minutes(minutes_ago);
    let (day, stamp) = common::key_stamp(at);
    let parts: Vec<&str> = day.split('/').collect();
    (parts[0].into(), parts[1].into(), parts[2].into(), format!("{:02}", at.hour()), stamp)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_source_reads_text_parquet_hive_and_hourly_layouts_in_one_bucket() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    let account = "123456789010";
    let name = |flow_log: &str, stamp: &str, extension: &str| {
        format!("{account}_vpcflowlogs_us-east-1_{flow_log}_{stamp}_fe123456.{extension}")
    };
    let (y, m, d, h, stamp) = moment(3);
    let layouts = [
        format!("AWSLogs/{account}/vpcflowlogs/us-east-1/{y}/{m}/{d}/{}", name("fl-text", &stamp, "log.gz")),
        format!(
            "AWSLogs/{account}/vpcflowlogs/us-east-1/{y}/{m}/{d}/{}",
            name("fl-parquet", &stamp, "log.parquet")
        ),
        format!(
            "AWSLogs/{account}/vpcflowlogs/us-east-1/{y}/{m}/{d}/{h}/{}",
            name("fl-hourly", &stamp, "log.gz")
        ),
        format!(
            "AWSLogs/aws-account-id={account}/aws-service=vpcflowlogs/aws-region=eu-west-1/year={y}/month={m}/day={d}/{}",
            name("fl-hive", &stamp, "log.gz")
        ),
        format!(
            "AWSLogs/aws-account-id={account}/aws-service=vpcflowlogs/aws-region=eu-west-1/year={y}/month={m}/day={d}/hour={h}/{}",
            name("fl-hive-hourly", &stamp, "log.parquet")
        ),
    ];
    for key in &layouts {
        let body =
            if key.ends_with(".parquet") { from_text(DEFAULT, 2).unwrap() } else { gzip(DEFAULT.as_bytes()) };
        server.seed(key, &body);
    }
    put_record(&server, &cloudtrail_key("", account, "us-east-1", 3, "AAAA"), "trail-beside").await;
    let flows = server.config("log_type = \"VPCFlowLogs\"\n");
    let trail = flows
        .replace("name = \"trail\"", "name = \"trail-files\"")
        .replace("log_type = \"VPCFlowLogs\"\n", "log_type = \"CloudTrail\"\n");
    let trail_source = &trail[..trail.find("[[sink]]").unwrap()];
    let config = flows.replacen("[[sink]]", &format!("{trail_source}[[sink]]"), 1);
    std::fs::write(dir.path().join("trailhound.toml"), config).unwrap();

    let run = common::trailhound_in(dir.path(), &["run", "--config", "trailhound.toml", "--once"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let events = read_events(dir.path());
    let flow_events: Vec<&serde_json::Value> =
        events.iter().filter(|e| e["log_type"] == "VPCFlowLogs").collect();
    assert_eq!(flow_events.len(), 5 * 5, "five files of five records: {}", run.stderr);
    let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
    for event in &flow_events {
        *per_key.entry(event["origin"]["key"].as_str().unwrap()).or_default() += 1;
    }
    assert_eq!(per_key.keys().map(|k| k.to_string()).collect::<Vec<_>>(), {
        let mut keys = layouts.to_vec();
        keys.sort();
        keys
    });
    let ids: std::collections::BTreeSet<&str> =
        flow_events.iter().map(|e| e["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 25, "no duplicate");
    assert_eq!(events.iter().filter(|e| e["log_type"] == "CloudTrail").count(), 1, "CloudTrail beside them");

    // Nothing again; then a late file in a Hive hourly folder, sorting before the others.
    let run = common::trailhound_in(dir.path(), &["run", "--config", "trailhound.toml", "--once"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(read_events(dir.path()).len(), 26);
    let (y, m, d, h, stamp) = moment(10);
    let late = format!(
        "AWSLogs/aws-account-id={account}/aws-service=vpcflowlogs/aws-region=eu-west-1/year={y}/month={m}/day={d}/hour={h}/{}",
        name("fl-a-late", &stamp, "log.parquet")
    );
    server.seed(&late, &from_text(V5, 1).unwrap());
    let run = common::trailhound_in(dir.path(), &["run", "--config", "trailhound.toml", "--once"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let events = read_events(dir.path());
    assert_eq!(events.len(), 28);
    assert!(events[26..].iter().all(|e| e["origin"]["key"] == late.as_str()));
}

fn read_events(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("out.ndjson"))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Inputs the fuzzers found (`fuzz/artifacts/`, kept in `tests/data/fuzz-regressions/`): Parquet
/// files whose column chunks claim a negative offset or size, or whose dictionary-encoded page
/// has no dictionary, on which the `parquet` crate asserts, and one whose dictionary page claims
/// 671 million values in 20 bytes, for which the crate asked for 21 GB. They are reported as
/// damaged (the row groups before the damage delivered), never a panic or an abort.
#[test]
fn fuzz_regressions_are_reported_not_crashes() {
    let dir = common::repo_root().join("tests/data/fuzz-regressions");
    let run = common::trailhound(&["replay", dir.to_str().unwrap()], None);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(run.stderr.contains("4 failed"), "{}", run.stderr);
    assert!(run.stderr.contains("a dictionary page claims 671088639 values in 20 bytes"), "{}", run.stderr);
    assert_eq!(run.stderr.matches("has an impossible place in the file").count(), 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("parquet-unsupported-repetition-encoding.parquet: read failed"),
        "{}",
        run.stderr
    );
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let text = trailhound::decode::parquet::ParquetText::new(bytes);
        let failure = text.and_then(|mut text| std::io::Read::read_to_end(&mut text, &mut Vec::new()));
        assert_eq!(failure.unwrap_err().kind(), std::io::ErrorKind::InvalidData);
    }
}
