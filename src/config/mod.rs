//! Configuration: files in, one validated [`Config`] out.
//!
//! Two formats describe the same settings: Trailhound's TOML (one `[[source]]` table per source,
//! one `[[sink]]` per sink) and the seed product's INI files, read as they are. Both are parsed
//! into neutral sections (`document.rs`), then validated by one pure function (`validate.rs`)
//! that reports *every* problem at once, each with file, line, key, value and allowed range.
//! Only a validated `Config` reaches the rest of the program.

mod document;
mod ini;
pub mod secrets;
mod toml;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use document::Problem;
pub use validate::check_listen_address;

use crate::decode::LogType;
use crate::normalize::{Output, Profile};

/// Everything the agent runs: sources, sinks and where state lives.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// `state_dir` from the TOML file, if set (the CLI's `--state-dir` wins over it).
    pub state_dir: Option<PathBuf>,
    /// The sources, in file order.
    pub sources: Vec<SourceConfig>,
    /// The sinks; a stdout sink when none is configured.
    pub sinks: Vec<SinkConfig>,
    /// The `[telemetry]` table: the metrics and health endpoint.
    pub telemetry: TelemetryConfig,
    /// Things that work but deserve attention (secrets stored in plain text).
    pub warnings: Vec<Problem>,
    /// Values read differently from how they are written (the seed's `CHANGE_THIS` left in an
    /// optional key is taken as not set).
    pub notes: Vec<Problem>,
}

/// The metrics and health endpoint (`[telemetry]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// `listen`: where `/metrics`, `/health` and `/ready` are served (`host:port`; port 0 picks
    /// one); `None` serves nothing.
    pub listen: Option<String>,
    /// `unready_after_seconds` (1–86400, 300): how long a sink may fail before `/ready` says 503.
    pub unready_after_seconds: u32,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig { listen: None, unready_after_seconds: 300 }
    }
}

/// One source.
#[derive(Clone, Debug)]
pub struct SourceConfig {
    /// Unique name; scopes checkpoints and appears in `origin.source`.
    pub name: String,
    /// The file the source was configured in.
    pub file: PathBuf,
    /// What it reads.
    pub kind: SourceKind,
    /// Its `[[source.drop]]` and `[[source.keep]]` rules, if it has any.
    pub filter: Option<std::sync::Arc<crate::normalize::filter::Filter>>,
}

/// The kinds of source (design.md §5).
#[derive(Clone, Debug)]
pub enum SourceKind {
    /// A local directory tree or files.
    Dir(DirSource),
    /// Log files in an S3 bucket.
    S3(Box<S3Source>),
    /// CloudTrail LookupEvents.
    CloudTrailApi(Box<CloudTrailApiSource>),
    /// S3 objects named by notifications on an SQS queue.
    Sqs(Box<SqsSource>),
}

impl SourceKind {
    /// The `type` name of the source.
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceKind::Dir(_) => "dir",
            SourceKind::S3(_) => "s3",
            SourceKind::CloudTrailApi(_) => "cloudtrail_api",
            SourceKind::Sqs(_) => "sqs",
        }
    }
}

/// The `dir` source: local files and trees, read once.
#[derive(Clone, Debug)]
pub struct DirSource {
    /// Files or directories.
    pub paths: Vec<PathBuf>,
    /// `None` means: from the key layout, else from the content.
    pub log_type: Option<LogType>,
    /// File-name globs to read inside directories.
    pub inclusions: Vec<String>,
    /// File-name globs to leave out.
    pub exclusions: Vec<String>,
}

/// The `s3` source (`awsS3CloudTrail.ini`).
#[derive(Clone, Debug)]
pub struct S3Source {
    /// Connection and credentials.
    pub aws: AwsSettings,
    /// `BucketName`.
    pub bucket: String,
    /// `LogType`.
    pub log_type: LogType,
    /// `FilePath` as a key prefix (`AWSLogs/111122223333/CloudTrail/`; empty for the whole
    /// bucket): any level of the AWS layout, a prefix above it, or a tree of its own.
    pub file_path: String,
    /// `DepthToRecurse` (1–10).
    pub depth_to_recurse: u32,
    /// `NoOfBackDaysData` (1–7).
    pub no_of_back_days_data: u32,
    /// `ExclusionDirectories`: a folder whose name contains one of these is skipped.
    pub exclusion_directories: Vec<String>,
    /// `DataFolderFilesCount` (100–1000): objects downloaded but not yet processed.
    pub data_folder_files_count: u32,
    /// `MaxQueueCount` (50 000–100 000): events queued.
    pub max_queue_count: u32,
    /// `Inclusions`: file-name globs.
    pub inclusions: Vec<String>,
    /// `Exclusions`: file-name globs.
    pub exclusions: Vec<String>,
    /// `MaxResultCount` (1–100): MaxKeys of each listing.
    pub max_result_count: u32,
    /// `StartupDelayInSeconds` (0–300).
    pub startup_delay_in_seconds: u32,
    /// `LogApiRequests`.
    pub log_api_requests: bool,
    /// `RegionFolders`: only these regions (case-sensitive); empty means all.
    pub region_folders: Vec<String>,
    /// `SettleMinutes` (1–1440, 15): how late a file may land and still be caught by the poll.
    pub settle_minutes: u32,
    /// `SweepIntervalMinutes` (5–1440, 60): how often the whole look-back window is re-listed.
    pub sweep_interval_minutes: u32,
    /// `PollIntervalSeconds` (1–86400, 60).
    pub poll_interval_seconds: u32,
}

/// The `sqs` source: S3 event notifications (plain, through SNS, or EventBridge) on a queue
/// that several agents may share. TOML only: the seeds have no SQS.
#[derive(Clone, Debug)]
pub struct SqsSource {
    /// Connection and credentials; `endpoint` applies to both SQS and S3.
    pub aws: AwsSettings,
    /// `queue_url`.
    pub queue_url: String,
    /// `s3_endpoint`: an S3 endpoint different from `endpoint`.
    pub s3_endpoint: Option<String>,
    /// `log_type`: `None` is `auto` (key layout, then content).
    pub log_type: Option<LogType>,
    /// File-name globs of the keys to read (default `*.gz`).
    pub inclusions: Vec<String>,
    /// File-name globs of the keys to leave out.
    pub exclusions: Vec<String>,
    /// Only objects of these buckets (empty: any).
    pub buckets: Vec<String>,
    /// `max_messages` (1–10, 10): messages per ReceiveMessage.
    pub max_messages: u32,
    /// `wait_seconds` (0–20, 20): long-poll time.
    pub wait_seconds: u32,
    /// `visibility_timeout_seconds` (30–43200, 300): how long a received message stays hidden;
    /// extended while its objects are in progress.
    pub visibility_timeout_seconds: u32,
    /// `max_receive_count` (1–1000, 5): a message received more often is given up.
    pub max_receive_count: u32,
    /// `parallel_objects` (1–64, 8): objects read at the same time.
    pub parallel_objects: u32,
    /// `delete_unrelated` (true): delete messages that name no wanted object.
    pub delete_unrelated: bool,
}

/// The `cloudtrail_api` source (`cloudtrail.ini`).
#[derive(Clone, Debug)]
pub struct CloudTrailApiSource {
    /// Connection and credentials (its region is the first of `regions`).
    pub aws: AwsSettings,
    /// Regions polled (`Region`, or `regions = [...]` in TOML).
    pub regions: Vec<String>,
    /// `APIPollingIntervalInMs` (1000–60000, 5000).
    pub api_polling_interval_ms: u32,
    /// `APIRetryCount` (0–5, 3).
    pub api_retry_count: u32,
    /// `MaxResultCount` (1–50, 50).
    pub max_result_count: u32,
    /// `StartupDelayInSeconds` (0–300, 30).
    pub startup_delay_in_seconds: u32,
    /// `NumberOfBackDaysData` (0–7, 1).
    pub number_of_back_days_data: u32,
    /// `NumberOfBackMinutesData` (40–1440, 40): used only when back days is 0.
    pub number_of_back_minutes_data: u32,
    /// `BackOffTime` (30–1440, 30) minutes; always less than `NumberOfBackMinutesData`.
    pub back_off_time: u32,
    /// `MaxRequestsPerSecond` (1–10, 2): LookupEvents calls per second, shared by every source
    /// with the same credentials, endpoint and region.
    pub max_requests_per_second: u32,
}

/// How to reach AWS (or an S3-compatible store).
#[derive(Clone, Debug)]
pub struct AwsSettings {
    /// `Region`.
    pub region: String,
    /// Where credentials come from.
    pub credentials: Credentials,
    /// `RoleArn`: a role to assume for cross-account collection.
    pub role_arn: Option<String>,
    /// `ExternalId` for the role.
    pub external_id: Option<String>,
    /// `SessionName` for the role.
    pub session_name: Option<String>,
    /// `Endpoint`: an endpoint URL override.
    pub endpoint: Option<String>,
    /// `ForcePathStyle`: path-style S3 addressing.
    pub force_path_style: bool,
    /// `SignatureVersion` as written (only version 4 is accepted).
    pub signature_version: Option<String>,
    /// `ProxyServer` and friends.
    pub proxy: Option<Proxy>,
}

/// Where AWS credentials come from.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// `AccessKeyId` + `SecretAccessKey`.
    Static {
        /// The access key id.
        access_key_id: Secret,
        /// The secret access key.
        secret_access_key: Secret,
    },
    /// A named profile of the shared AWS config files.
    Profile(String),
    /// The default AWS chain (environment, shared config, web identity, ECS, IMDS).
    DefaultChain,
}

/// An HTTP proxy for every AWS client of a source.
#[derive(Clone, Debug)]
pub struct Proxy {
    /// `ProxyServer`.
    pub server: String,
    /// `ProxyPort`.
    pub port: u16,
    /// `UserName`.
    pub user_name: Option<String>,
    /// `Password`.
    pub password: Option<Secret>,
    /// `Domain` (sent as `DOMAIN\user`).
    pub domain: Option<String>,
}

/// A secret value: never shown by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One sink: where events go, and in which profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkConfig {
    /// The kind of sink and its settings.
    pub kind: SinkKind,
    /// The profile its events are written in (`profile`, `preserve_original`).
    pub output: Output,
}

impl From<SinkKind> for SinkConfig {
    /// A sink with its default profile: `ecs` for the Elasticsearch mode of the `http` sink,
    /// `native` for every other.
    fn from(kind: SinkKind) -> Self {
        let profile = match &kind {
            SinkKind::Http(http) if http.mode == HttpMode::Elasticsearch => Profile::Ecs,
            _ => Profile::Native,
        };
        SinkConfig { kind, output: Output { profile, preserve_original: false } }
    }
}

/// The kinds of sink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkKind {
    /// NDJSON on standard output.
    Stdout,
    /// NDJSON appended to a file.
    File(FileSinkConfig),
    /// Syslog records to a receiver.
    Syslog(SyslogSinkConfig),
    /// Batches POSTed to an HTTP endpoint (NDJSON, Splunk HEC or Elasticsearch `_bulk`).
    Http(Box<HttpSinkConfig>),
}

/// TLS settings of a sink: whom to trust and, optionally, who we are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM file of CA certificates trusted in addition to the system's.
    pub ca_file: Option<PathBuf>,
    /// PEM certificate chain presented to the server (mutual TLS).
    pub client_cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub client_key_file: Option<PathBuf>,
    /// The name checked against the server's certificate (default: the host of the address).
    pub server_name: Option<String>,
}

/// The `http` sink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSinkConfig {
    /// Where batches are POSTed (`http://` or `https://`). For `elasticsearch` the cluster's URL;
    /// `/_bulk` is appended unless the path already ends with it.
    pub url: String,
    /// The body format.
    pub mode: HttpMode,
    /// `Authorization: Splunk <token>` (splunk_hec), `ApiKey <token>` (elasticsearch) or
    /// `Bearer <token>` (ndjson).
    pub token: Option<Secret>,
    /// HTTP basic authentication user (with `password`).
    pub user: Option<String>,
    /// HTTP basic authentication password.
    pub password: Option<Secret>,
    /// Splunk index, or Elasticsearch index name with `%Y`, `%m`, `%d` taken from the event time.
    pub index: Option<String>,
    /// Splunk `host` field.
    pub host: Option<String>,
    /// Splunk `sourcetype`, instead of the one chosen by log type.
    pub sourcetype: Option<String>,
    /// Splunk `source` field.
    pub source: Option<String>,
    /// A request carries at most this many events.
    pub batch_max_events: usize,
    /// A request body (before compression) stays under this many bytes, unless one event is larger.
    pub batch_max_bytes: usize,
    /// Events wait at most this long for a fuller batch.
    pub batch_timeout: Duration,
    /// Compress request bodies.
    pub compression: HttpCompression,
    /// How long one request may take.
    pub request_timeout: Duration,
    /// TLS settings for `https://`.
    pub tls: TlsSettings,
}

/// The body format of the `http` sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpMode {
    /// Event lines, `application/x-ndjson`.
    Ndjson,
    /// Splunk HTTP Event Collector event JSON.
    SplunkHec,
    /// Elasticsearch / OpenSearch `_bulk` index actions, `_id` = event_id.
    Elasticsearch,
}

/// Request body compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpCompression {
    /// Plain bodies.
    None,
    /// `Content-Encoding: gzip`.
    Gzip,
}

impl HttpSinkConfig {
    /// A sink for `url` with every other setting at its default; the mode is guessed from the path
    /// (`/services/collector…` is Splunk HEC, `…/_bulk` is Elasticsearch, anything else NDJSON).
    pub fn from_url(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| "allowed an http:// or https:// URL".to_string())?;
        let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        if authority.is_empty() {
            return Err(format!("{url:?} has no host"));
        }
        let path = path.split(['?', '#']).next().unwrap_or("");
        let mode = if path.starts_with("services/collector") {
            HttpMode::SplunkHec
        } else if path.trim_end_matches('/').ends_with("_bulk") {
            HttpMode::Elasticsearch
        } else {
            HttpMode::Ndjson
        };
        Ok(HttpSinkConfig {
            url: url.to_string(),
            mode,
            token: None,
            user: None,
            password: None,
            index: None,
            host: None,
            sourcetype: None,
            source: None,
            batch_max_events: 500,
            batch_max_bytes: 4 << 20,
            batch_timeout: Duration::from_secs(1),
            compression: HttpCompression::None,
            request_timeout: Duration::from_secs(30),
            tls: TlsSettings::default(),
        })
    }
}

/// The `syslog` sink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogSinkConfig {
    /// UDP or TCP.
    pub transport: SyslogTransport,
    /// `host:port`.
    pub address: String,
    /// Header format.
    pub rfc: SyslogRfc,
    /// TCP framing.
    pub framing: SyslogFraming,
    /// Facility number (0–23; default 16, local0).
    pub facility: u8,
    /// Severity number (0–7; default 6, informational).
    pub severity: u8,
    /// APP-NAME (default `trailhound`).
    pub app_name: String,
    /// HOSTNAME (default: this machine's name).
    pub hostname: Option<String>,
    /// TLS settings (for `tls://`).
    pub tls: TlsSettings,
}

/// How syslog records travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyslogTransport {
    /// One datagram per record.
    Udp,
    /// A stream of framed records.
    Tcp,
    /// A stream of framed records over TLS (RFC 5425).
    Tls,
}

/// Syslog header formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyslogRfc {
    /// RFC 5424 (structured data carries the event id).
    Rfc5424,
    /// RFC 3164 (BSD syslog).
    Rfc3164,
}

/// TCP framing (RFC 6587).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyslogFraming {
    /// `LEN SP MSG`: safe for any message.
    OctetCounting,
    /// `MSG LF`: for receivers that need it.
    Newline,
}

impl SyslogSinkConfig {
    /// Parses `udp://host:port`, `tcp://host:port` or `tls://host:port` (each also with a
    /// `syslog+` prefix), with RFC 5424 and octet counting.
    pub fn from_url(url: &str) -> Result<Self, String> {
        let url = url.strip_prefix("syslog+").unwrap_or(url);
        let (transport, address) = if let Some(address) = url.strip_prefix("udp://") {
            (SyslogTransport::Udp, address)
        } else if let Some(address) = url.strip_prefix("tcp://") {
            (SyslogTransport::Tcp, address)
        } else if let Some(address) = url.strip_prefix("tls://") {
            (SyslogTransport::Tls, address)
        } else {
            return Err("allowed udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT".into());
        };
        let valid = address
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !valid {
            return Err(format!("{address:?} is not HOST:PORT"));
        }
        Ok(SyslogSinkConfig {
            transport,
            address: address.to_string(),
            rfc: SyslogRfc::Rfc5424,
            framing: SyslogFraming::OctetCounting,
            facility: 16,
            severity: 6,
            app_name: "trailhound".to_string(),
            hostname: None,
            tls: TlsSettings::default(),
        })
    }
}

/// The `file` sink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSinkConfig {
    /// The file (appended to; created if missing).
    pub path: PathBuf,
    /// Rotate once the file reaches this size; 0 never rotates.
    pub rotate_max_bytes: u64,
    /// How many rotated files (`path.1` … `path.N`) to keep.
    pub rotate_keep: u32,
}

/// Every problem found in the configuration.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<Problem>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in &self.0 {
            writeln!(f, "{problem}")?;
        }
        let count = self.0.len();
        write!(f, "{count} problem{} found", if count == 1 { "" } else { "s" })
    }
}

impl std::error::Error for ConfigErrors {}

/// Loads and validates a TOML configuration file (and the INI files it points to); `enc:`
/// values are decrypted with the key in `key_file` (read only when one is present).
pub fn load_toml(path: &Path, key_file: &Path) -> Result<Config, ConfigErrors> {
    let text = read(path)?;
    parse_toml(path, &text, key_file)
}

/// Validates the TOML configuration `text`, read from `path` (which relative paths in it are
/// taken from); `enc:` values are decrypted with the key in `key_file`.
pub fn parse_toml(path: &Path, text: &str, key_file: &Path) -> Result<Config, ConfigErrors> {
    let keys = validate::KeyRing::new(key_file);
    let mut problems = Vec::new();
    let document = toml::parse(path, text, &mut problems);
    let mut config = validate::config_from_toml(path, document, &keys, &mut problems);
    (config.warnings, config.notes) = keys.into_messages();
    finish(config, problems)
}

/// Validates the text of one seed INI file (`path` names it in messages), as
/// [`load_ini_files`] does for each file.
pub fn parse_ini(path: &Path, text: &str, key_file: &Path) -> Result<Config, ConfigErrors> {
    let keys = validate::KeyRing::new(key_file);
    let mut problems = Vec::new();
    let mut config = Config::default();
    let section = ini::parse(path, text, &mut problems);
    if let Some(source) = validate::source_from_ini(section, None, &keys, &mut problems) {
        config.sources.push(source);
    }
    config.sinks.push(SinkKind::Stdout.into());
    (config.warnings, config.notes) = keys.into_messages();
    finish(config, problems)
}

/// Loads and validates seed INI files, one source each; the kind comes from the keys.
pub fn load_ini_files(paths: &[PathBuf], key_file: &Path) -> Result<Config, ConfigErrors> {
    let keys = validate::KeyRing::new(key_file);
    let mut problems = Vec::new();
    let mut config = Config::default();
    for path in paths {
        let text = match read(path) {
            Ok(text) => text,
            Err(mut errors) => {
                problems.append(&mut errors.0);
                continue;
            }
        };
        let section = ini::parse(path, &text, &mut problems);
        if let Some(source) = validate::source_from_ini(section, None, &keys, &mut problems) {
            config.sources.push(source);
        }
    }
    validate::check_unique_names(&config.sources, &mut problems);
    config.sinks.push(SinkKind::Stdout.into());
    (config.warnings, config.notes) = keys.into_messages();
    finish(config, problems)
}

fn read(path: &Path) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(path)
        .map_err(|error| ConfigErrors(vec![Problem::in_file(path, None, format!("cannot read: {error}"))]))
}

fn finish(mut config: Config, mut problems: Vec<Problem>) -> Result<Config, ConfigErrors> {
    let by_place = |a: &Problem, b: &Problem| (&a.file, a.line).cmp(&(&b.file, b.line));
    config.warnings.sort_by(by_place);
    config.notes.sort_by(by_place);
    if problems.is_empty() {
        return Ok(config);
    }
    problems.sort_by(by_place);
    Err(ConfigErrors(problems))
}
