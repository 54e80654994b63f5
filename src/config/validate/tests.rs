//! Every seed key: its default, both ends of its range, and the message for a bad value.

use std::path::{Path, PathBuf};

use super::super::{
    Config, ConfigErrors, Credentials, HttpCompression, HttpMode, SinkConfig, SinkKind, SourceKind,
    SyslogTransport, load_ini_files, load_toml,
};
use crate::decode::LogType;
use crate::normalize::Profile;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn ini(name: &str, text: &str) -> Result<Config, ConfigErrors> {
    let dir = tempfile::tempdir().unwrap();
    load_ini_files(&[write(dir.path(), name, text)], &dir.path().join("no.key"))
}

fn problems(name: &str, text: &str) -> Vec<String> {
    let errors = ini(name, text).expect_err("the configuration should be rejected");
    errors.0.iter().map(|p| p.to_string().split_once(": ").unwrap().1.to_string()).collect()
}

const S3_BASE: &str = "BucketName = org-trail\nRegion = us-east-1\n";
const API_BASE: &str = "Region = us-east-1\n";

#[test]
fn s3_defaults() {
    let config = ini("awsS3CloudTrail.ini", S3_BASE).unwrap();
    let source = &config.sources[0];
    assert_eq!(source.name, "awsS3CloudTrail");
    let SourceKind::S3(s3) = &source.kind else { panic!("expected s3") };
    assert_eq!(s3.bucket, "org-trail");
    assert_eq!(s3.aws.region, "us-east-1");
    assert_eq!(s3.log_type, LogType::CloudTrail);
    assert_eq!(s3.file_path, "");
    assert_eq!(s3.depth_to_recurse, 1);
    assert_eq!(s3.no_of_back_days_data, 1);
    assert!(s3.exclusion_directories.is_empty());
    assert_eq!(s3.data_folder_files_count, 100);
    assert_eq!(s3.max_queue_count, 50_000);
    assert_eq!(s3.inclusions, vec!["*.gz", "*.parquet"]);
    assert!(s3.exclusions.is_empty());
    assert_eq!(s3.max_result_count, 100);
    assert_eq!(s3.startup_delay_in_seconds, 30);
    assert!(!s3.log_api_requests);
    assert!(s3.region_folders.is_empty());
    assert_eq!((s3.settle_minutes, s3.sweep_interval_minutes, s3.poll_interval_seconds), (15, 60, 60));
    assert!(matches!(s3.aws.credentials, Credentials::DefaultChain));
    assert!(s3.aws.proxy.is_none() && s3.aws.endpoint.is_none() && !s3.aws.force_path_style);
    assert_eq!(config.sinks, vec![SinkConfig::from(SinkKind::Stdout)]);
}

#[test]
fn cloudtrail_api_defaults() {
    let config = ini("cloudtrail.ini", API_BASE).unwrap();
    let SourceKind::CloudTrailApi(api) = &config.sources[0].kind else { panic!("expected cloudtrail_api") };
    assert_eq!(api.regions, vec!["us-east-1"]);
    assert_eq!(api.api_polling_interval_ms, 5000);
    assert_eq!(api.api_retry_count, 3);
    assert_eq!(api.max_result_count, 50);
    assert_eq!(api.startup_delay_in_seconds, 30);
    assert_eq!(api.number_of_back_days_data, 1);
    assert_eq!(api.number_of_back_minutes_data, 40);
    assert_eq!(api.back_off_time, 30);
    assert_eq!(api.max_requests_per_second, 2);
}

/// (key, min, max) of every numeric seed key; min − 1 and max + 1 must be rejected.
const S3_RANGES: &[(&str, u64, u64)] = &[
    ("DepthToRecurse", 1, 10),
    ("NoOfBackDaysData", 1, 7),
    ("DataFolderFilesCount", 100, 1000),
    ("MaxQueueCount", 50_000, 100_000),
    ("MaxResultCount", 1, 100),
    ("StartupDelayInSeconds", 0, 300),
    ("SettleMinutes", 1, 1440),
    ("SweepIntervalMinutes", 5, 1440),
    ("PollIntervalSeconds", 1, 86_400),
];

const API_RANGES: &[(&str, u64, u64)] = &[
    ("APIPollingIntervalInMs", 1000, 60_000),
    ("APIRetryCount", 0, 5),
    ("MaxResultCount", 1, 50),
    ("StartupDelayInSeconds", 0, 300),
    ("NumberOfBackDaysData", 0, 7),
    ("MaxRequestsPerSecond", 1, 10),
];

fn check_ranges(name: &str, base: &str, ranges: &[(&str, u64, u64)]) {
    for &(key, min, max) in ranges {
        for good in [min, max] {
            let text = format!("{base}{key} = {good}\n");
            assert!(ini(name, &text).is_ok(), "{key} = {good} should be accepted");
        }
        let mut bad = vec![max + 1];
        if min > 0 {
            bad.push(min - 1);
        }
        for value in bad {
            let text = format!("{base}{key} = {value}\n");
            let expected = format!("{key} = {value}: out of range: allowed {min}–{max}");
            let found = problems(name, &text);
            assert_eq!(found.len(), 1, "{found:?}");
            assert!(found[0].starts_with(&expected), "{} does not start with {expected}", found[0]);
        }
        let found = problems(name, &format!("{base}{key} = ten\n"));
        assert!(
            found[0].starts_with(&format!("{key} = ten: not a whole number: allowed {min}–{max}")),
            "{found:?}"
        );
    }
}

#[test]
fn s3_numeric_ranges() {
    check_ranges("awsS3CloudTrail.ini", S3_BASE, S3_RANGES);
}

#[test]
fn cloudtrail_api_numeric_ranges() {
    check_ranges("cloudtrail.ini", API_BASE, API_RANGES);
    // The back-minutes and back-off ranges interact (back-off < back-minutes), so they are checked
    // with the other one set out of the way.
    let minutes = "BackOffTime = 30\nNumberOfBackMinutesData";
    assert!(ini("cloudtrail.ini", &format!("{API_BASE}{minutes} = 1440\n")).is_ok());
    assert!(ini("cloudtrail.ini", &format!("{API_BASE}{minutes} = 40\n")).is_ok());
    let found = problems("cloudtrail.ini", &format!("{API_BASE}NumberOfBackMinutesData = 39\n"));
    assert!(found[0].starts_with("NumberOfBackMinutesData = 39: out of range: allowed 40–1440"), "{found:?}");
    let found = problems("cloudtrail.ini", &format!("{API_BASE}NumberOfBackMinutesData = 1441\n"));
    assert!(
        found[0].starts_with("NumberOfBackMinutesData = 1441: out of range: allowed 40–1440"),
        "{found:?}"
    );
    let back_off = "NumberOfBackMinutesData = 1440\nBackOffTime";
    assert!(ini("cloudtrail.ini", &format!("{API_BASE}{back_off} = 1439\n")).is_ok());
    let found = problems("cloudtrail.ini", &format!("{API_BASE}{back_off} = 29\n"));
    assert!(found[0].starts_with("BackOffTime = 29: out of range: allowed 30–1440"), "{found:?}");
    let found = problems("cloudtrail.ini", &format!("{API_BASE}{back_off} = 1441\n"));
    assert!(found[0].starts_with("BackOffTime = 1441: out of range: allowed 30–1440"), "{found:?}");
}

#[test]
fn back_off_must_be_less_than_back_minutes() {
    let found =
        problems("cloudtrail.ini", &format!("{API_BASE}NumberOfBackMinutesData = 60\nBackOffTime = 60\n"));
    assert_eq!(found, vec!["BackOffTime = 60: must be less than NumberOfBackMinutesData (60)"]);
    let found = problems("cloudtrail.ini", &format!("{API_BASE}BackOffTime = 45\n"));
    assert_eq!(found, vec!["BackOffTime = 45: must be less than NumberOfBackMinutesData (40)"]);
}

#[test]
fn log_type_is_case_sensitive() {
    let config = ini("awsS3CloudTrail.ini", &format!("{S3_BASE}LogType = VPCFlowLogs\n")).unwrap();
    let SourceKind::S3(s3) = &config.sources[0].kind else { panic!() };
    assert_eq!(s3.log_type, LogType::VpcFlowLogs);
    let found = problems("awsS3CloudTrail.ini", &format!("{S3_BASE}LogType = vpcflowlogs\n"));
    assert_eq!(
        found,
        vec![
            "LogType = vpcflowlogs: allowed CloudTrail or VPCFlowLogs (the value is case-sensitive: did you mean VPCFlowLogs?)"
        ]
    );
    let found = problems("awsS3CloudTrail.ini", &format!("{S3_BASE}LogType = Flow\n"));
    assert_eq!(found, vec!["LogType = Flow: allowed CloudTrail or VPCFlowLogs"]);
}

#[test]
fn placeholders_missing_and_unknown_keys() {
    let found = problems(
        "awsS3CloudTrail.ini",
        "BucketName = CHANGE_THIS\nRegion = CHANGE_THIS\nbucketname = x\nColour = red\n",
    );
    assert_eq!(
        found,
        vec![
            "BucketName = CHANGE_THIS: still holds the placeholder CHANGE_THIS: set a real value",
            "Region = CHANGE_THIS: still holds the placeholder CHANGE_THIS: set a real value",
            "bucketname: unknown key (did you mean BucketName?)",
            "Colour: unknown key",
        ]
    );
    let errors = ini("awsS3CloudTrail.ini", "Region = us-east-1\nLogType = CloudTrail\n").unwrap_err();
    assert_eq!(errors.0[0].key.as_deref(), Some("BucketName"));
    assert_eq!(errors.0[0].message, "required key is missing");
}

#[test]
fn text_lists_flags_and_globs() {
    let text = format!(
        "{S3_BASE}FilePath = /org/\nRegionFolders = us-east-1, eu-west-1\nExclusionDirectories = tmp,archive\nInclusions = *.json.gz,*.log.gz\nExclusions = *test*\nLogApiRequests = TRUE\nEndpoint = http://127.0.0.1:9000\nForcePathStyle = true\nName = main-trail\nSignatureVersion = s3v4\n"
    );
    let config = ini("awsS3CloudTrail.ini", &text).unwrap();
    assert_eq!(config.sources[0].name, "main-trail");
    let SourceKind::S3(s3) = &config.sources[0].kind else { panic!() };
    assert_eq!(s3.file_path, "org/");
    assert_eq!(s3.region_folders, vec!["us-east-1", "eu-west-1"]);
    assert_eq!(s3.exclusion_directories, vec!["tmp", "archive"]);
    assert_eq!(s3.inclusions, vec!["*.json.gz", "*.log.gz"]);
    assert_eq!(s3.exclusions, vec!["*test*"]);
    assert!(s3.log_api_requests && s3.aws.force_path_style);
    assert_eq!(s3.aws.endpoint.as_deref(), Some("http://127.0.0.1:9000"));

    let found = problems(
        "awsS3CloudTrail.ini",
        &format!(
            "{S3_BASE}LogApiRequests = maybe\nInclusions = a[\nSignatureVersion = 2\nEndpoint = ftp://x\n"
        ),
    );
    assert_eq!(found.len(), 4, "{found:?}");
    assert_eq!(found[0], "LogApiRequests = maybe: not a boolean: allowed true or false");
    assert!(found[1].starts_with("Inclusions = a[: invalid glob \"a[\""), "{}", found[1]);
    assert_eq!(
        found[2],
        "SignatureVersion = 2: only Signature Version 4 is supported (allowed 4, v4 or s3v4)"
    );
    assert_eq!(found[3], "Endpoint = ftp://x: must be an http:// or https:// URL");
}

#[test]
fn region_and_bucket_names() {
    let found = problems("awsS3CloudTrail.ini", "BucketName = My Bucket\nRegion = US-East\n");
    assert_eq!(
        found,
        vec![
            "BucketName = My Bucket: not a valid bucket name: 3–63 characters, lower-case letters, digits, '.', '-' and '_'",
            "Region = US-East: not an AWS region name (like us-east-1)",
        ]
    );
    assert!(ini("cloudtrail.ini", "Region = us-gov-west-1\n").is_ok());
}

#[test]
fn credentials_and_proxy() {
    let text = format!(
        "{S3_BASE}AccessKeyId = AKIAIOSFODNN7EXAMPLE\nSecretAccessKey = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nProxyServer = proxy.corp\nProxyPort = 3128\nUserName = bob\nPassword = hunter2\nDomain = CORP\n"
    );
    let config = ini("awsS3CloudTrail.ini", &text).unwrap();
    let SourceKind::S3(s3) = &config.sources[0].kind else { panic!() };
    let Credentials::Static { access_key_id, secret_access_key } = &s3.aws.credentials else { panic!() };
    assert_eq!(
        (access_key_id.expose(), secret_access_key.expose()),
        ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    );
    assert!(!format!("{config:?}").contains("wJalrXUtnFEMI"), "secrets must not show in Debug output");
    let proxy = s3.aws.proxy.as_ref().unwrap();
    assert_eq!(
        (proxy.server.as_str(), proxy.port, proxy.domain.as_deref()),
        ("proxy.corp", 3128, Some("CORP"))
    );

    let found = problems(
        "awsS3CloudTrail.ini",
        &format!("{S3_BASE}AccessKeyId = AKIA\nProxyPort = 99999\nPassword = hunter2\n"),
    );
    assert_eq!(
        found,
        vec![
            "AccessKeyId = (hidden): set without SecretAccessKey: set both, or neither to use the AWS credential chain",
            "ProxyPort = 99999: out of range: allowed 1–65535",
            "Password = (hidden): set, but ProxyServer is not",
        ]
    );
    let found = problems(
        "awsS3CloudTrail.ini",
        &format!("{S3_BASE}ProxyServer = p\nSecretAccessKey = CHANGE_THIS\n"),
    );
    assert!(
        found.contains(
            &"SecretAccessKey = (hidden): still holds the placeholder CHANGE_THIS: set a real value"
                .to_string()
        ),
        "{found:?}"
    );
    assert!(
        found.contains(&"ProxyPort: required when a proxy server is set: allowed 1–65535".to_string()),
        "{found:?}"
    );
}

#[test]
fn problems_carry_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "awsS3CloudTrail.ini",
        "# seed\n[General]\nBucketName = b-1\nRegion = us-east-1\nDepthToRecurse = 12\n",
    );
    let errors = load_ini_files(std::slice::from_ref(&path), &dir.path().join("no.key")).unwrap_err();
    assert_eq!(
        errors.to_string(),
        format!(
            "{}:5: DepthToRecurse = 12: out of range: allowed 1–10 (default 1)\n1 problem found",
            path.display()
        )
    );
}

#[test]
fn toml_twins_match_the_ini_keys() {
    let dir = tempfile::tempdir().unwrap();
    let ini_path = write(dir.path(), "cloudtrail.ini", "Region = eu-west-1\nBackOffTime = 35\n");
    let toml = r#"
state_dir = "state"

[[source]]
type = "s3"
name = "trail"
bucket = "org-trail"
region = "us-east-1"
log_type = "VPCFlowLogs"
depth_to_recurse = 3
region_folders = ["us-east-1"]
inclusions = "*.log.gz"
log_api_requests = true
endpoint = "http://127.0.0.1:9000"
force_path_style = true

[[source]]
type = "cloudtrail_api"
regions = ["us-east-1", "us-west-2"]
api_polling_interval_ms = 2000
number_of_back_days_data = 0
number_of_back_minutes_data = 120
back_off_time = 60

[[source]]
type = "ini"
path = "cloudtrail.ini"

[[source]]
type = "dir"
path = "logs"

[[sink]]
type = "file"
path = "out/events.ndjson"
rotate_max_bytes = 1048576
"#;
    let config = load_toml(&write(dir.path(), "trailhound.toml", toml), &dir.path().join("no.key")).unwrap();
    assert_eq!(config.state_dir, Some(dir.path().join("state")));
    let names: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["trail", "cloudtrail_api-2", "cloudtrail", "dir-4"]);
    let SourceKind::S3(s3) = &config.sources[0].kind else { panic!() };
    assert_eq!((s3.log_type, s3.depth_to_recurse, s3.log_api_requests), (LogType::VpcFlowLogs, 3, true));
    assert_eq!(s3.inclusions, vec!["*.log.gz"]);
    let SourceKind::CloudTrailApi(api) = &config.sources[1].kind else { panic!() };
    assert_eq!(api.regions, vec!["us-east-1", "us-west-2"]);
    assert_eq!(api.aws.region, "us-east-1");
    assert_eq!(
        (api.api_polling_interval_ms, api.number_of_back_minutes_data, api.back_off_time),
        (2000, 120, 60)
    );
    let SourceKind::CloudTrailApi(from_ini) = &config.sources[2].kind else { panic!() };
    assert_eq!((from_ini.regions[0].as_str(), from_ini.back_off_time), ("eu-west-1", 35));
    assert_eq!(config.sources[2].file, ini_path);
    let SourceKind::Dir(local) = &config.sources[3].kind else { panic!() };
    assert_eq!(local.paths, vec![dir.path().join("logs")]);
    let SinkKind::File(file) = &config.sinks[0].kind else { panic!() };
    assert_eq!(
        (file.path.clone(), file.rotate_max_bytes, file.rotate_keep),
        (dir.path().join("out/events.ndjson"), 1_048_576, 5)
    );
}

#[test]
fn toml_problems_list_every_mistake_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    let toml = "[[source]]\ntype = \"s3\"\nbucket = \"ok-bucket\"\nregion = \"us-east-1\"\ndepth_to_recurse = 11\nDepthToRecurse = 2\n\n[[source]]\ntype = \"cloudtrail_api\"\nregion = \"us-east-1\"\nback_off_time = 50\n\n[[sink]]\ntype = \"http\"\n";
    let path = write(dir.path(), "t.toml", toml);
    let errors = load_toml(&path, &dir.path().join("no.key")).unwrap_err();
    let shown: Vec<String> =
        errors.0.iter().map(|p| p.to_string().replace(&format!("{}", path.display()), "t.toml")).collect();
    assert_eq!(
        shown,
        vec![
            "t.toml:5: depth_to_recurse = 11: out of range: allowed 1–10 (default 1)",
            "t.toml:6: DepthToRecurse: unknown key (did you mean depth_to_recurse?)",
            "t.toml:11: back_off_time = 50: must be less than number_of_back_minutes_data (40)",
            "t.toml:13: url: required key is missing",
        ]
    );
}

#[test]
fn duplicate_source_names_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.ini", "Name = same\nBucketName = b-1\nRegion = us-east-1\n");
    let b = write(dir.path(), "b.ini", "Name = same\nRegion = us-east-1\nAPIRetryCount = 1\n");
    let errors = load_ini_files(&[a, b], &dir.path().join("no.key")).unwrap_err();
    assert!(errors.to_string().contains("name = same: another source has the same name"), "{errors}");
}

#[test]
fn encrypted_values_are_decrypted_and_plain_secrets_warned_about() {
    use super::super::secrets::SecretKey;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("trailhound.key");
    let key = SecretKey::generate();
    key.save_new(&key_file).unwrap();
    let text = format!(
        "{S3_BASE}AccessKeyId = {}\nSecretAccessKey = {}\n",
        key.encrypt("AKIAEXAMPLE"),
        key.encrypt("s3cr3t")
    );
    let encrypted = write(dir.path(), "enc.ini", &text);
    let config = load_ini_files(std::slice::from_ref(&encrypted), &key_file).unwrap();
    let SourceKind::S3(s3) = &config.sources[0].kind else { panic!() };
    let Credentials::Static { access_key_id, secret_access_key } = &s3.aws.credentials else { panic!() };
    assert_eq!((access_key_id.expose(), secret_access_key.expose()), ("AKIAEXAMPLE", "s3cr3t"));
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);

    let plain = write(
        dir.path(),
        "plain.ini",
        &format!(
            "{S3_BASE}AccessKeyId = AKIAIOSFODNN7EXAMPLE\nSecretAccessKey = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
        ),
    );
    let config = load_ini_files(std::slice::from_ref(&plain), &key_file).unwrap();
    let warnings: Vec<String> =
        config.warnings.iter().map(|w| w.to_string().split_once(": ").unwrap().1.to_string()).collect();
    assert_eq!(
        warnings,
        vec![
            "AccessKeyId: stored in plain text: encrypt it with `trailhound encrypt`",
            "SecretAccessKey: stored in plain text: encrypt it with `trailhound encrypt`",
        ]
    );

    let other_key = dir.path().join("other.key");
    SecretKey::generate().save_new(&other_key).unwrap();
    let errors = load_ini_files(std::slice::from_ref(&encrypted), &other_key).unwrap_err().to_string();
    assert!(errors.contains("SecretAccessKey = (hidden): cannot decrypt: the value was encrypted with another key, or it was damaged"), "{errors}");
    assert!(!errors.contains("s3cr3t") && !errors.contains("enc:v1:"), "{errors}");
    let errors = load_ini_files(std::slice::from_ref(&encrypted), &dir.path().join("missing.key"))
        .unwrap_err()
        .to_string();
    assert!(errors.contains("cannot read key file"), "{errors}");
}

#[test]
fn http_and_tls_sinks_read_every_key() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "ca.pem", "-----BEGIN CERTIFICATE-----\n");
    let toml = r#"
[[source]]
type = "dir"
path = "logs"

[[sink]]
type = "http"
url = "https://splunk.corp:8088/services/collector/event"
token = "0000-1111"
index = "aws"
host = "collector-1"
batch_max_events = 100
batch_timeout_ms = 250
compression = "gzip"
ca_file = "ca.pem"

[[sink]]
type = "http"
url = "http://es:9200"
mode = "elasticsearch"
user = "elastic"
password = "changeme"
index = "aws-%Y.%m"

[[sink]]
type = "syslog"
address = "tls://siem.corp:6514"
ca_file = "ca.pem"
server_name = "siem"
"#;
    let config = load_toml(&write(dir.path(), "t.toml", toml), &dir.path().join("no.key")).unwrap();
    let SinkKind::Http(hec) = &config.sinks[0].kind else { panic!() };
    assert_eq!(hec.mode, HttpMode::SplunkHec);
    assert_eq!(hec.token.as_ref().map(|t| t.expose()), Some("0000-1111"));
    assert_eq!((hec.index.as_deref(), hec.host.as_deref()), (Some("aws"), Some("collector-1")));
    assert_eq!((hec.batch_max_events, hec.batch_timeout), (100, std::time::Duration::from_millis(250)));
    assert_eq!(
        (hec.compression, hec.tls.ca_file.clone()),
        (HttpCompression::Gzip, Some(dir.path().join("ca.pem")))
    );
    let SinkKind::Http(es) = &config.sinks[1].kind else { panic!() };
    assert_eq!(
        (es.mode, es.user.as_deref(), es.index.as_deref()),
        (HttpMode::Elasticsearch, Some("elastic"), Some("aws-%Y.%m"))
    );
    assert_eq!((es.batch_max_events, es.compression), (500, HttpCompression::None));
    let SinkKind::Syslog(syslog) = &config.sinks[2].kind else { panic!() };
    assert_eq!((syslog.transport, syslog.tls.server_name.as_deref()), (SyslogTransport::Tls, Some("siem")));
    let warned: Vec<String> = config.warnings.iter().map(|w| w.to_string()).collect();
    assert!(warned.iter().any(|w| w.contains("token: stored in plain text")), "{warned:?}");
    assert!(warned.iter().any(|w| w.contains("password: stored in plain text")), "{warned:?}");
}

#[test]
fn http_and_tls_sink_mistakes_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let toml = r#"
[[sink]]
type = "http"
url = "https://splunk.corp:8088/services/collector/event"
batch_max_events = 0
compression = "zstd"

[[sink]]
type = "http"
url = "http://es:9200/_bulk"
sourcetype = "aws:cloudtrail"
password = "x"

[[sink]]
type = "syslog"
address = "tcp://siem:514"
ca_file = "missing.pem"
client_cert_file = "c.pem"
"#;
    let path = write(dir.path(), "t.toml", toml);
    let errors = load_toml(&path, &dir.path().join("no.key")).unwrap_err();
    let shown: Vec<String> =
        errors.0.iter().map(|p| p.to_string().replace(&format!("{}", dir.path().display()), "D")).collect();
    let expected = [
        "D/t.toml:2: token: required by mode splunk_hec (the HEC token)",
        "D/t.toml:5: batch_max_events = 0: out of range: allowed 1–10000 (default 500)",
        "D/t.toml:6: compression = \"zstd\": allowed none or gzip",
        "D/t.toml:8: user: required when a password is set",
        "D/t.toml:11: sourcetype = \"aws:cloudtrail\": a splunk_hec setting: this sink's mode is not splunk_hec",
        "D/t.toml:16: address = \"tcp://siem:514\": TLS settings need a TLS address (tls:// or https://)",
        "D/t.toml:14: client_key_file: client_cert_file and client_key_file go together",
    ];
    for line in expected {
        assert!(shown.iter().any(|s| s == line), "missing {line:?} in {shown:#?}");
    }
    assert!(
        shown
            .iter()
            .any(|s| s.starts_with("D/t.toml:17: ca_file = \"missing.pem\": cannot read D/missing.pem")),
        "{shown:#?}"
    );
}

/// A source for tests about sinks.
const DIR_SOURCE: &str = "[[source]]\ntype = \"dir\"\npath = \"logs\"\n";

#[test]
fn sinks_choose_their_profile() {
    let dir = tempfile::tempdir().unwrap();
    let toml = &format!(
        "{DIR_SOURCE}{}",
        r#"
[[sink]]
type = "stdout"

[[sink]]
type = "file"
path = "ocsf.ndjson"
profile = "ocsf"
preserve_original = true

[[sink]]
type = "http"
url = "http://es:9200"
mode = "elasticsearch"

[[sink]]
type = "http"
url = "http://es:9200"
mode = "elasticsearch"
profile = "native"
"#
    );
    let config = load_toml(&write(dir.path(), "t.toml", toml), &dir.path().join("no.key")).unwrap();
    let outputs: Vec<(Profile, bool)> =
        config.sinks.iter().map(|sink| (sink.output.profile, sink.output.preserve_original)).collect();
    assert_eq!(
        outputs,
        [(Profile::Native, false), (Profile::Ocsf, true), (Profile::Ecs, false), (Profile::Native, false)],
        "native by default, ecs by default for Elasticsearch, and what each sink says"
    );
}

#[test]
fn profile_mistakes_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let toml = &format!(
        "{DIR_SOURCE}{}",
        r#"
[[sink]]
type = "stdout"
profile = "ECS"

[[sink]]
type = "stdout"
preserve_original = true
"#
    );
    let errors = load_toml(&write(dir.path(), "t.toml", toml), &dir.path().join("no.key")).unwrap_err();
    let shown: Vec<String> =
        errors.0.iter().map(|p| p.to_string().replace(&format!("{}", dir.path().display()), "D")).collect();
    assert_eq!(
        shown,
        [
            "D/t.toml:7: profile = \"ECS\": allowed native, ecs or ocsf",
            "D/t.toml:11: preserve_original = true: needs profile ecs or ocsf (the native line always carries the record as raw)",
        ]
    );
}

#[test]
fn empty_values_and_optional_placeholders_mean_not_set() {
    let text = format!(
        "{S3_BASE}Inclusions =\nExclusions = CHANGE_THIS\nExclusionDirectories = ,\nRegionFolders =\nLogType = CHANGE_THIS\nFilePath = CHANGE_THIS\nDepthToRecurse =\nLogApiRequests =\nProxyServer = CHANGE_THIS\nProxyPort = CHANGE_THIS\n"
    );
    let config = ini("awsS3CloudTrail.ini", &text).unwrap();
    let SourceKind::S3(s3) = &config.sources[0].kind else { panic!() };
    assert_eq!(s3.inclusions, vec!["*.gz", "*.parquet"], "an empty Inclusions takes the default");
    assert!(s3.exclusions.is_empty() && s3.exclusion_directories.is_empty() && s3.region_folders.is_empty());
    assert_eq!((s3.log_type, s3.file_path.as_str(), s3.depth_to_recurse), (LogType::CloudTrail, "", 1));
    assert!(s3.aws.proxy.is_none());
    let notes: Vec<String> =
        config.notes.iter().map(|n| n.to_string().split_once(": ").unwrap().1.to_string()).collect();
    assert_eq!(
        notes,
        ["Exclusions", "LogType", "FilePath", "ProxyServer", "ProxyPort"].map(|key| format!(
            "{key} = CHANGE_THIS: left as shipped: taken as not set (its default applies)"
        ))
    );
    // TOML: an empty list is not set either.
    let dir = tempfile::tempdir().unwrap();
    let toml = "[[source]]\ntype = \"s3\"\nbucket = \"org-trail\"\nregion = \"us-east-1\"\ninclusions = []\n";
    let config = load_toml(&write(dir.path(), "t.toml", toml), &dir.path().join("no.key")).unwrap();
    let SourceKind::S3(s3) = &config.sources[0].kind else { panic!() };
    assert_eq!(s3.inclusions, vec!["*.gz", "*.parquet"]);
}

#[test]
fn file_path_contradictions() {
    let found = problems(
        "awsS3CloudTrail.ini",
        &format!(
            "{S3_BASE}FilePath = AWSLogs/111122223333/CloudTrail/us-east-1\nRegionFolders = eu-west-1\n"
        ),
    );
    assert_eq!(
        found,
        vec![
            "FilePath = AWSLogs/111122223333/CloudTrail/us-east-1: names region us-east-1, which RegionFolders leaves out"
        ]
    );
    let found = problems(
        "awsS3CloudTrail.ini",
        &format!("{S3_BASE}FilePath = AWSLogs/111122223333/CloudTrail-Digest/\n"),
    );
    assert_eq!(
        found,
        vec![
            "FilePath = AWSLogs/111122223333/CloudTrail-Digest/: names the digest folder: digest files hold no events"
        ]
    );
    let found = problems(
        "awsS3CloudTrail.ini",
        &format!("{S3_BASE}LogType = VPCFlowLogs\nFilePath = AWSLogs/111122223333/CloudTrail/\n"),
    );
    assert_eq!(
        found,
        vec![
            "FilePath = AWSLogs/111122223333/CloudTrail/: names a CloudTrail folder, which holds no log of LogType VPCFlowLogs"
        ]
    );
    let found = problems(
        "awsS3CloudTrail.ini",
        &format!("{S3_BASE}FilePath = AWSLogs/111122223333/CloudTrail/us-east-1/2026/11\n"),
    );
    assert!(found[0].contains("names a folder below a region folder"), "{found:?}");
    // Every other level is accepted, normalized to a key prefix.
    for (written, prefix) in [
        ("org-trail", "org-trail/"),
        ("/AWSLogs", "AWSLogs/"),
        ("AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/", "AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail/"),
    ] {
        let config = ini("awsS3CloudTrail.ini", &format!("{S3_BASE}FilePath = {written}\n")).unwrap();
        let SourceKind::S3(s3) = &config.sources[0].kind else { panic!() };
        assert_eq!(s3.file_path, prefix);
    }
}

#[test]
fn proxy_servers_and_credentials_that_cannot_be_used_are_refused() {
    for (server, stored) in [
        ("proxy.corp", "proxy.corp"),
        ("http://proxy.corp/", "proxy.corp"),
        ("10.0.0.5", "10.0.0.5"),
        ("::1", "[::1]"),
        ("[fd00::5]", "[fd00::5]"),
    ] {
        let config =
            ini("awsS3CloudTrail.ini", &format!("{S3_BASE}ProxyServer = {server}\nProxyPort = 3128\n"))
                .unwrap();
        let SourceKind::S3(s3) = &config.sources[0].kind else { panic!() };
        assert_eq!(s3.aws.proxy.as_ref().unwrap().server, stored);
    }
    for (server, message) in [
        (
            "https://proxy.corp",
            "allowed a host name or an IP address (an http:// proxy; TLS to the proxy is not supported)",
        ),
        ("proxy.corp:3128", "the port goes in ProxyPort, not in the server name"),
        ("user@proxy.corp", "allowed a host name or an IP address"),
    ] {
        let found =
            problems("awsS3CloudTrail.ini", &format!("{S3_BASE}ProxyServer = {server}\nProxyPort = 3128\n"));
        assert_eq!(found, vec![format!("ProxyServer = {server}: {message}")]);
    }
    let found = problems(
        "awsS3CloudTrail.ini",
        &format!("{S3_BASE}ProxyServer = p\nProxyPort = 1\nUserName = a:b\nDomain = C:D\nPassword = x\n"),
    );
    assert_eq!(
        found,
        vec![
            "UserName = a:b: cannot contain ':' (HTTP basic authentication ends the user name there)",
            "Domain = C:D: cannot contain ':' (HTTP basic authentication ends the user name there)",
        ]
    );
}

#[test]
fn key_pairs_without_the_shape_of_aws_keys_look_like_lrcrypt_values() {
    let lrcrypted = "AccessKeyId = AQAAANCMnd8BFdERjHoAwE/Cl+sB\nSecretAccessKey = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
    let found = problems("awsS3CloudTrail.ini", &format!("{S3_BASE}{lrcrypted}"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("AccessKeyId = (hidden): does not look like an AWS access key id"),
        "{found:?}"
    );
    let config =
        ini("awsS3CloudTrail.ini", &format!("{S3_BASE}{lrcrypted}Endpoint = http://127.0.0.1:9000\n"))
            .unwrap();
    assert!(config.warnings.iter().any(|w| w.message.contains("lrcrypt")), "{:?}", config.warnings);
    let temporary =
        "AccessKeyId = ASIAIOSFODNN7EXAMPLE\nSecretAccessKey = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";
    assert!(ini("awsS3CloudTrail.ini", &format!("{S3_BASE}{temporary}")).is_ok());
}

#[test]
fn the_telemetry_table() {
    let dir = tempfile::tempdir().unwrap();
    let base = "[[source]]\ntype = \"dir\"\npath = \"x\"\n";
    let config = load_toml(&write(dir.path(), "a.toml", base), &dir.path().join("no.key")).unwrap();
    assert_eq!((config.telemetry.listen.as_deref(), config.telemetry.unready_after_seconds), (None, 300));
    let text = format!("[telemetry]\nlisten = \"[::1]:9717\"\nunready_after_seconds = 60\n{base}");
    let config = load_toml(&write(dir.path(), "b.toml", &text), &dir.path().join("no.key")).unwrap();
    assert_eq!(
        (config.telemetry.listen.as_deref(), config.telemetry.unready_after_seconds),
        (Some("[::1]:9717"), 60)
    );
    let text = format!("[telemetry]\nlisten = \"localhost\"\nunready_after_seconds = 0\nport = 1\n{base}");
    let errors = load_toml(&write(dir.path(), "c.toml", &text), &dir.path().join("no.key")).unwrap_err();
    let shown: Vec<String> =
        errors.0.iter().map(|p| p.to_string().split_once(": ").unwrap().1.to_string()).collect();
    assert_eq!(
        shown,
        vec![
            "listen = \"localhost\": allowed ADDRESS:PORT, like 127.0.0.1:9717 or [::1]:9717 (port 0 picks a free port)",
            "unready_after_seconds = 0: out of range: allowed 1–86400 (default 300)",
            "port: unknown key",
        ]
    );
}

#[test]
fn the_sqs_source() {
    let dir = tempfile::tempdir().unwrap();
    let load = |text: &str| load_toml(&write(dir.path(), "q.toml", text), &dir.path().join("no.key"));
    let queue = "queue_url = \"https://sqs.eu-west-1.amazonaws.com/111122223333/trail-events\"\n";
    let config = load(&format!("[[source]]\ntype = \"sqs\"\n{queue}")).unwrap();
    let SourceKind::Sqs(sqs) = &config.sources[0].kind else { panic!() };
    assert_eq!(sqs.aws.region, "eu-west-1", "the region comes from the queue URL");
    assert_eq!((sqs.max_messages, sqs.wait_seconds, sqs.visibility_timeout_seconds), (10, 20, 300));
    assert_eq!((sqs.max_receive_count, sqs.parallel_objects, sqs.delete_unrelated), (5, 8, true));
    assert_eq!(
        (sqs.log_type, sqs.inclusions.clone(), sqs.buckets.is_empty()),
        (None, vec!["*.gz".to_string(), "*.parquet".to_string()], true)
    );
    assert_eq!(config.sources[0].name, "sqs-1");

    let text = format!(
        "[[source]]\ntype = \"sqs\"\n{queue}log_type = \"VPCFlowLogs\"\nbuckets = [\"flow-logs\"]\nmax_messages = 3\n\
         wait_seconds = 0\nvisibility_timeout_seconds = 43200\nmax_receive_count = 1000\nparallel_objects = 64\n\
         delete_unrelated = false\nendpoint = \"http://127.0.0.1:5000\"\ns3_endpoint = \"http://127.0.0.1:9000\"\n"
    );
    let config = load(&text).unwrap();
    let SourceKind::Sqs(sqs) = &config.sources[0].kind else { panic!() };
    assert_eq!(sqs.log_type, Some(LogType::VpcFlowLogs));
    assert_eq!((sqs.max_messages, sqs.wait_seconds, sqs.visibility_timeout_seconds), (3, 0, 43_200));
    assert_eq!((sqs.max_receive_count, sqs.parallel_objects, sqs.delete_unrelated), (1000, 64, false));
    assert_eq!(sqs.s3_endpoint.as_deref(), Some("http://127.0.0.1:9000"));

    let text = "[[source]]\ntype = \"sqs\"\nqueue_url = \"http://127.0.0.1:5000/111122223333/q\"\nmax_messages = 11\n\
                wait_seconds = 21\nvisibility_timeout_seconds = 29\nmax_receive_count = 0\nparallel_objects = 65\n\
                log_type = \"flow\"\nbuckets = [\"No Such\"]\n";
    let errors = load(text).unwrap_err();
    let shown: Vec<String> =
        errors.0.iter().map(|p| p.to_string().split_once(": ").unwrap().1.to_string()).collect();
    assert_eq!(
        shown,
        vec![
            "region: required: the queue URL does not name an AWS region",
            "max_messages = 11: out of range: allowed 1–10 (default 10)",
            "wait_seconds = 21: out of range: allowed 0–20 (default 20)",
            "visibility_timeout_seconds = 29: out of range: allowed 30–43200 (default 300)",
            "max_receive_count = 0: out of range: allowed 1–1000 (default 5)",
            "parallel_objects = 65: out of range: allowed 1–64 (default 8)",
            "log_type = \"flow\": allowed auto, CloudTrail or VPCFlowLogs (case-sensitive)",
            "buckets = [\"No Such\"]: \"No Such\" is not a valid bucket name",
        ]
    );
    let errors =
        load("[[source]]\ntype = \"sqs\"\nqueue_url = \"sqs.us-east-1.amazonaws.com\"\n").unwrap_err();
    assert!(errors.0[0].message.starts_with("must be an http:// or https:// queue URL"), "{errors}");
}
