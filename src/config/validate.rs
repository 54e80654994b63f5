//! Sections → validated configuration. Pure: no I/O except reading INI files a TOML file names.
//!
//! Every key is read through [`Fields`], which knows both spellings of a key (TOML snake_case
//! and the seed's INI name), its range and its default, and records a [`Problem`] — never stops —
//! so that one run of `check-config` lists everything that is wrong.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::document::{Dialect, Entry, Problem, RawValue, Section};
use super::secrets::{ENCRYPTED_PREFIX, SecretKey};
use super::toml::TomlDocument;
use super::{
    AwsSettings, CloudTrailApiSource, Config, Credentials, DirSource, FileSinkConfig, HttpCompression,
    HttpMode, HttpSinkConfig, Proxy, S3Source, Secret, SinkConfig, SinkKind, SourceConfig, SourceKind,
    SqsSource, SyslogFraming, SyslogRfc, SyslogSinkConfig, SyslogTransport, TelemetryConfig, TlsSettings,
};
use crate::decode::LogType;
use crate::decode::layout::{self, Node};
use crate::normalize::Profile;
use crate::normalize::filter::{self, Filter, Rule};

/// A key's two spellings.
#[derive(Clone, Copy, Debug)]
struct Key {
    toml: &'static str,
    ini: &'static str,
}

const fn key(toml: &'static str, ini: &'static str) -> Key {
    Key { toml, ini }
}

const NAME: Key = key("name", "Name");
const TYPE: Key = key("type", "Type");
const PATH: Key = key("path", "Path");
const REGION: Key = key("region", "Region");
const REGIONS: Key = key("regions", "Regions");
const ACCESS_KEY_ID: Key = key("access_key_id", "AccessKeyId");
const SECRET_ACCESS_KEY: Key = key("secret_access_key", "SecretAccessKey");
const PROFILE: Key = key("profile", "Profile");
const ROLE_ARN: Key = key("role_arn", "RoleArn");
const EXTERNAL_ID: Key = key("external_id", "ExternalId");
const SESSION_NAME: Key = key("session_name", "SessionName");
const ENDPOINT: Key = key("endpoint", "Endpoint");
const FORCE_PATH_STYLE: Key = key("force_path_style", "ForcePathStyle");
const SIGNATURE_VERSION: Key = key("signature_version", "SignatureVersion");
const PROXY_SERVER: Key = key("proxy_server", "ProxyServer");
const PROXY_PORT: Key = key("proxy_port", "ProxyPort");
const PROXY_USER_NAME: Key = key("proxy_user_name", "UserName");
const PROXY_PASSWORD: Key = key("proxy_password", "Password");
const PROXY_DOMAIN: Key = key("proxy_domain", "Domain");
const BUCKET: Key = key("bucket", "BucketName");
const LOG_TYPE: Key = key("log_type", "LogType");
const FILE_PATH: Key = key("file_path", "FilePath");
const DEPTH_TO_RECURSE: Key = key("depth_to_recurse", "DepthToRecurse");
const NO_OF_BACK_DAYS_DATA: Key = key("no_of_back_days_data", "NoOfBackDaysData");
const EXCLUSION_DIRECTORIES: Key = key("exclusion_directories", "ExclusionDirectories");
const DATA_FOLDER_FILES_COUNT: Key = key("data_folder_files_count", "DataFolderFilesCount");
const MAX_QUEUE_COUNT: Key = key("max_queue_count", "MaxQueueCount");
const INCLUSIONS: Key = key("inclusions", "Inclusions");
const EXCLUSIONS: Key = key("exclusions", "Exclusions");
const MAX_RESULT_COUNT: Key = key("max_result_count", "MaxResultCount");
const STARTUP_DELAY_IN_SECONDS: Key = key("startup_delay_in_seconds", "StartupDelayInSeconds");
const LOG_API_REQUESTS: Key = key("log_api_requests", "LogApiRequests");
const REGION_FOLDERS: Key = key("region_folders", "RegionFolders");
const SETTLE_MINUTES: Key = key("settle_minutes", "SettleMinutes");
const SWEEP_INTERVAL_MINUTES: Key = key("sweep_interval_minutes", "SweepIntervalMinutes");
const POLL_INTERVAL_SECONDS: Key = key("poll_interval_seconds", "PollIntervalSeconds");
const API_POLLING_INTERVAL_MS: Key = key("api_polling_interval_ms", "APIPollingIntervalInMs");
const API_RETRY_COUNT: Key = key("api_retry_count", "APIRetryCount");
const NUMBER_OF_BACK_DAYS_DATA: Key = key("number_of_back_days_data", "NumberOfBackDaysData");
const NUMBER_OF_BACK_MINUTES_DATA: Key = key("number_of_back_minutes_data", "NumberOfBackMinutesData");
const BACK_OFF_TIME: Key = key("back_off_time", "BackOffTime");
const MAX_REQUESTS_PER_SECOND: Key = key("max_requests_per_second", "MaxRequestsPerSecond");
const FORMAT: Key = key("format", "Format");
const ROTATE_MAX_BYTES: Key = key("rotate_max_bytes", "RotateMaxBytes");
const ROTATE_KEEP: Key = key("rotate_keep", "RotateKeep");
const ADDRESS: Key = key("address", "Address");
const RFC: Key = key("rfc", "Rfc");
const FRAMING: Key = key("framing", "Framing");
const FACILITY: Key = key("facility", "Facility");
const SEVERITY: Key = key("severity", "Severity");
const APP_NAME: Key = key("app_name", "AppName");
const HOSTNAME: Key = key("hostname", "Hostname");
const CA_FILE: Key = key("ca_file", "CaFile");
const CLIENT_CERT_FILE: Key = key("client_cert_file", "ClientCertFile");
const CLIENT_KEY_FILE: Key = key("client_key_file", "ClientKeyFile");
const SERVER_NAME: Key = key("server_name", "ServerName");
const URL: Key = key("url", "Url");
const MODE: Key = key("mode", "Mode");
const TOKEN: Key = key("token", "Token");
const USER: Key = key("user", "User");
const PASSWORD: Key = key("password", "Password");
const INDEX: Key = key("index", "Index");
const HOST: Key = key("host", "Host");
const SOURCETYPE: Key = key("sourcetype", "Sourcetype");
const SOURCE: Key = key("source", "Source");
const BATCH_MAX_EVENTS: Key = key("batch_max_events", "BatchMaxEvents");
const BATCH_MAX_BYTES: Key = key("batch_max_bytes", "BatchMaxBytes");
const BATCH_TIMEOUT_MS: Key = key("batch_timeout_ms", "BatchTimeoutMs");
const COMPRESSION: Key = key("compression", "Compression");
const REQUEST_TIMEOUT_SECONDS: Key = key("request_timeout_seconds", "RequestTimeoutSeconds");
const LISTEN: Key = key("listen", "Listen");
const QUEUE_URL: Key = key("queue_url", "QueueUrl");
const S3_ENDPOINT: Key = key("s3_endpoint", "S3Endpoint");
const BUCKETS: Key = key("buckets", "Buckets");
const MAX_MESSAGES: Key = key("max_messages", "MaxMessages");
const WAIT_SECONDS: Key = key("wait_seconds", "WaitSeconds");
const VISIBILITY_TIMEOUT_SECONDS: Key = key("visibility_timeout_seconds", "VisibilityTimeoutSeconds");
const MAX_RECEIVE_COUNT: Key = key("max_receive_count", "MaxReceiveCount");
const PARALLEL_OBJECTS: Key = key("parallel_objects", "ParallelObjects");
const DELETE_UNRELATED: Key = key("delete_unrelated", "DeleteUnrelated");
const DROP: Key = key("drop", "Drop");
const KEEP: Key = key("keep", "Keep");
const UNREADY_AFTER_SECONDS: Key = key("unready_after_seconds", "UnreadyAfterSeconds");
const PRESERVE_ORIGINAL: Key = key("preserve_original", "PreserveOriginal");

/// Keys whose values are never echoed in a problem.
const SECRET_KEYS: &[&str] = &["access_key_id", "secret_access_key", "proxy_password", "token", "password"];

/// The placeholder the seed's sample files ship with.
const PLACEHOLDER: &str = "CHANGE_THIS";

/// Keys the seed's setup steps require to be changed: the placeholder left in one of these is an
/// error. Left in any other key it means "not set" (the seed ships `Exclusions`, `FilePath`,
/// `LogType` and the proxy keys holding it, and says most of the file can be used as is).
const SETUP_REQUIRED: &[&str] = &["region", "bucket", "access_key_id", "secret_access_key"];

/// Default file-name globs of the `dir` source.
const DIR_DEFAULT_INCLUSIONS: &[&str] = &["*.gz", "*.json", "*.log", "*.parquet"];

/// Default file-name globs of the bucket sources: the seed's `*.gz`, and (an extension) the
/// `.log.parquet` files of flow logs delivered as Parquet.
const S3_DEFAULT_INCLUSIONS: &[&str] = &["*.gz", "*.parquet"];

/// The key that decrypts `enc:` values, read on first use; and the warnings and notes that
/// validation gathers besides its problems.
pub(super) struct KeyRing {
    path: PathBuf,
    key: std::cell::OnceCell<Result<SecretKey, String>>,
    warnings: std::cell::RefCell<Vec<Problem>>,
    notes: std::cell::RefCell<Vec<Problem>>,
}

impl KeyRing {
    pub(super) fn new(path: &Path) -> Self {
        KeyRing {
            path: path.to_path_buf(),
            key: Default::default(),
            warnings: Default::default(),
            notes: Default::default(),
        }
    }

    fn decrypt(&self, token: &str) -> Result<String, String> {
        let key = self.key.get_or_init(|| SecretKey::load(&self.path).map_err(|error| error.to_string()));
        match key {
            Ok(key) => {
                key.decrypt(token).map_err(|error| format!("{error} (key file {})", self.path.display()))
            }
            Err(message) => Err(message.clone()),
        }
    }

    /// The warnings (things that work but deserve attention) and the notes (what was read
    /// differently from how it is written, such as a placeholder taken as "not set").
    pub(super) fn into_messages(self) -> (Vec<Problem>, Vec<Problem>) {
        (self.warnings.into_inner(), self.notes.into_inner())
    }
}

/// Reads the entries of one section, recording problems and which keys were used.
struct Fields<'a> {
    section: &'a Section,
    used: Vec<bool>,
    known: Vec<Key>,
    problems: &'a mut Vec<Problem>,
    keys: &'a KeyRing,
}

impl<'a> Fields<'a> {
    fn new(section: &'a Section, keys: &'a KeyRing, problems: &'a mut Vec<Problem>) -> Self {
        Fields { section, used: vec![false; section.entries.len()], known: Vec::new(), problems, keys }
    }

    fn name(&self, key: Key) -> &'static str {
        match self.section.dialect {
            Dialect::Toml => key.toml,
            Dialect::Ini => key.ini,
        }
    }

    fn take(&mut self, key: Key) -> Option<&'a Entry> {
        let name = self.name(key);
        self.known.push(key);
        let index = self.section.entries.iter().position(|entry| entry.key == name)?;
        self.used[index] = true;
        Some(&self.section.entries[index])
    }

    /// The entry of `key` in this section, without marking it used.
    fn entry(&self, key: Key) -> Option<&'a Entry> {
        let name = self.name(key);
        self.section.entries.iter().find(|entry| entry.key == name)
    }

    /// Reports a problem at `key`'s own line (or the section's, when the key is not set).
    fn complain(&mut self, key: Key, message: impl Into<String>) {
        let entry = self.entry(key);
        self.report(key, entry, message);
    }

    fn report(&mut self, key: Key, entry: Option<&Entry>, message: impl Into<String>) {
        let value = entry.map(|entry| {
            if SECRET_KEYS.contains(&key.toml) {
                "(hidden)".to_string()
            } else {
                match (&entry.value, self.section.dialect) {
                    (RawValue::Text(text), Dialect::Ini) => text.clone(),
                    (value, _) => value.to_string(),
                }
            }
        });
        self.problems.push(Problem {
            file: self.section.file.clone(),
            line: entry.map(|entry| entry.line).or(self.section.line),
            key: Some(self.name(key).to_string()),
            value,
            message: message.into(),
        });
    }

    /// A text value; empty means unset. Placeholders and encrypted values are problems.
    fn text(&mut self, key: Key) -> Option<String> {
        let entry = self.take(key)?;
        let text = match &entry.value {
            RawValue::Text(text) => text.trim().to_string(),
            _ => {
                self.report(key, Some(entry), "expected text");
                return None;
            }
        };
        if text.is_empty() {
            return None;
        }
        if text.contains(PLACEHOLDER) {
            self.placeholder(key, entry);
            return None;
        }
        if text.starts_with(ENCRYPTED_PREFIX) {
            return match self.keys.decrypt(&text) {
                Ok(plain) => Some(plain),
                Err(message) => {
                    self.report(key, Some(entry), message);
                    None
                }
            };
        }
        Some(text)
    }

    /// The seed's placeholder in `key`: an error in a key the setup steps require, else "not
    /// set" with a note.
    fn placeholder(&mut self, key: Key, entry: &Entry) {
        if SETUP_REQUIRED.contains(&key.toml) {
            self.report(
                key,
                Some(entry),
                format!("still holds the placeholder {PLACEHOLDER}: set a real value"),
            );
            return;
        }
        self.keys.notes.borrow_mut().push(Problem {
            file: self.section.file.clone(),
            line: Some(entry.line),
            key: Some(self.name(key).to_string()),
            value: Some(PLACEHOLDER.to_string()),
            message: "left as shipped: taken as not set (its default applies)".into(),
        });
    }

    /// True when `entry` holds text that means "not set": nothing, or the seed's placeholder in
    /// an optional key (noted).
    fn unset_text(&mut self, key: Key, entry: &Entry) -> bool {
        match &entry.value {
            RawValue::Text(text) if text.trim().is_empty() => true,
            RawValue::Text(text) if text.contains(PLACEHOLDER) => {
                self.placeholder(key, entry);
                true
            }
            _ => false,
        }
    }

    fn required(&mut self, key: Key) -> Option<String> {
        let present = self.section.entries.iter().any(|e| e.key == self.name(key));
        let value = self.text(key);
        if value.is_none() && !self.problems_mention(key) {
            let message = if present { "required, but empty" } else { "required key is missing" };
            self.report(key, None, message);
        }
        value
    }

    /// A required value that `parse` turns into a setting; its error becomes the key's problem.
    fn required_as<T>(&mut self, key: Key, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let text = self.required(key)?;
        parse(&text).map_err(|message| self.complain(key, message)).ok()
    }

    /// One of a fixed set of words, each naming a setting; `default` when unset. A word outside
    /// the set is reported with every allowed one.
    fn choice<T: Copy>(&mut self, key: Key, options: &[(&str, T)], default: T) -> T {
        let Some(text) = self.text(key) else { return default };
        if let Some((_, value)) = options.iter().find(|(word, _)| *word == text) {
            return *value;
        }
        let words: Vec<&str> = options.iter().map(|(word, _)| *word).collect();
        let allowed = match words.split_last() {
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        };
        self.complain(key, format!("allowed {allowed}"));
        default
    }

    fn problems_mention(&self, key: Key) -> bool {
        let name = self.name(key);
        self.problems.iter().any(|p| p.file == self.section.file && p.key.as_deref() == Some(name))
    }

    /// A secret: plain text works, with a warning; `enc:` values are decrypted.
    fn secret(&mut self, key: Key) -> Option<Secret> {
        let entry = self.entry(key);
        let value = self.text(key)?;
        if let Some(entry) = entry
            && matches!(&entry.value, RawValue::Text(text) if !text.trim().starts_with(ENCRYPTED_PREFIX))
        {
            self.warn(key, "stored in plain text: encrypt it with `trailhound encrypt`");
        }
        Some(Secret::new(value))
    }

    /// True when `key` is set as written, not as an `enc:` token.
    fn written_in_plain(&self, key: Key) -> bool {
        self.entry(key).is_some_and(
            |entry| matches!(&entry.value, RawValue::Text(text) if !text.trim().starts_with(ENCRYPTED_PREFIX)),
        )
    }

    /// Something that works but deserves attention, at `key`'s line (its value never shown).
    fn warn(&mut self, key: Key, message: impl Into<String>) {
        self.keys.warnings.borrow_mut().push(Problem {
            file: self.section.file.clone(),
            line: self.entry(key).map(|entry| entry.line).or(self.section.line),
            key: Some(self.name(key).to_string()),
            value: None,
            message: message.into(),
        });
    }

    /// A whole number in `range`, or `default` when unset.
    fn number(&mut self, key: Key, range: RangeInclusive<u64>, default: u64) -> u64 {
        let Some(entry) = self.take(key) else { return default };
        if self.unset_text(key, entry) {
            return default;
        }
        let parsed = match &entry.value {
            RawValue::Integer(number) => u64::try_from(*number).ok(),
            RawValue::Text(text) => text.trim().parse::<u64>().ok(),
            _ => None,
        };
        let mut allowed = format!("allowed {}–{}", range.start(), range.end());
        if range.contains(&default) {
            allowed.push_str(&format!(" (default {default})"));
        }
        match parsed {
            Some(number) if range.contains(&number) => number,
            Some(_) => {
                self.report(key, Some(entry), format!("out of range: {allowed}"));
                default
            }
            None => {
                self.report(key, Some(entry), format!("not a whole number: {allowed}"));
                default
            }
        }
    }

    fn small_number(&mut self, key: Key, range: RangeInclusive<u32>, default: u32) -> u32 {
        let wide = u64::from(*range.start())..=u64::from(*range.end());
        u32::try_from(self.number(key, wide, u64::from(default))).unwrap_or(default)
    }

    fn flag(&mut self, key: Key, default: bool) -> bool {
        let Some(entry) = self.take(key) else { return default };
        if self.unset_text(key, entry) {
            return default;
        }
        match &entry.value {
            RawValue::Bool(flag) => *flag,
            RawValue::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" | "on" => true,
                "false" | "no" | "0" | "off" => false,
                _ => {
                    self.report(key, Some(entry), "not a boolean: allowed true or false");
                    default
                }
            },
            _ => {
                self.report(key, Some(entry), "not a boolean: allowed true or false");
                default
            }
        }
    }

    /// A list: a TOML array of strings, or comma-separated text (the seed's form). A list with
    /// no item (`Inclusions=`, `[]` in TOML, or only the placeholder) is not set.
    fn list(&mut self, key: Key) -> Option<Vec<String>> {
        let entry = self.take(key)?;
        if self.unset_text(key, entry) {
            return None;
        }
        let items: Vec<String> = match &entry.value {
            RawValue::Text(text) => text.split(',').map(|item| item.trim().to_string()).collect(),
            RawValue::List(values) => {
                let mut items = Vec::new();
                for value in values {
                    match value {
                        RawValue::Text(text) => items.push(text.trim().to_string()),
                        _ => {
                            self.report(key, Some(entry), "expected a list of text values");
                            return None;
                        }
                    }
                }
                items
            }
            _ => {
                self.report(key, Some(entry), "expected a list of text values");
                return None;
            }
        };
        if items.iter().any(|item| item.contains(PLACEHOLDER)) {
            self.placeholder(key, entry);
        }
        let items: Vec<String> =
            items.into_iter().filter(|item| !item.is_empty() && !item.contains(PLACEHOLDER)).collect();
        (!items.is_empty()).then_some(items)
    }

    fn globs(&mut self, key: Key, default: &[&str]) -> Vec<String> {
        let entry = self.entry(key);
        let globs = match self.list(key) {
            Some(globs) => globs,
            None => return default.iter().map(|g| g.to_string()).collect(),
        };
        for glob in &globs {
            if let Err(error) = globset::Glob::new(glob) {
                self.report(key, entry, format!("invalid glob {glob:?}: {}", error.kind()));
            }
        }
        globs
    }

    /// The `[[source.drop]]` or `[[source.keep]]` tables of a source reading `log_type` (`None`:
    /// either): each `match = { field = value, … }`, every field known, every value usable.
    fn rules(&mut self, key: Key, log_type: Option<LogType>) -> Vec<Rule> {
        let Some(entry) = self.take(key) else { return Vec::new() };
        let RawValue::List(tables) = &entry.value else {
            self.report(key, Some(entry), format!("must be written as [[source.{}]] tables", key.toml));
            return Vec::new();
        };
        let mut rules = Vec::new();
        for (index, table) in tables.iter().enumerate() {
            let label = format!("{}[{}]", key.toml, index + 1);
            let RawValue::Table(members) = table else {
                self.report(key, Some(entry), format!("{label}: must be a table with `match = {{ … }}`"));
                continue;
            };
            for (name, _) in members.iter().filter(|(name, _)| name != "match") {
                self.report(
                    key,
                    Some(entry),
                    format!("{label}: unknown key {name:?} (a rule is `match = {{ field = value, … }}`)"),
                );
            }
            let Some((_, RawValue::Table(matches))) = members.iter().find(|(name, _)| name == "match") else {
                self.report(key, Some(entry), format!("{label}: needs `match = {{ field = value, … }}`"));
                continue;
            };
            if matches.is_empty() {
                self.report(key, Some(entry), format!("{label}: an empty match holds for every event"));
                continue;
            }
            let mut conditions = Vec::new();
            for (field, value) in matches {
                if let Err(message) = filter::check_field(field, log_type) {
                    self.report(key, Some(entry), format!("{label}: {message}"));
                    continue;
                }
                let values = match value {
                    RawValue::List(values) if !values.is_empty() => values.iter().collect(),
                    RawValue::List(_) => {
                        self.report(
                            key,
                            Some(entry),
                            format!("{label}: {field}: an empty list matches nothing"),
                        );
                        continue;
                    }
                    value => vec![value],
                };
                let mut atoms = Vec::new();
                for value in values {
                    match atom(field, value) {
                        Ok(atom) => atoms.push(atom),
                        Err(message) => self.report(key, Some(entry), format!("{label}: {field}: {message}")),
                    }
                }
                conditions.push(filter::Condition { field: field.clone(), atoms });
            }
            rules.push(Rule { label, conditions });
        }
        rules
    }

    /// `auto` (or unset) as `None`, else a log type.
    fn auto_log_type(&mut self, key: Key) -> Option<LogType> {
        let text = self.text(key)?;
        if text == "auto" {
            return None;
        }
        let log_type = LogType::from_name(&text);
        if log_type.is_none() {
            self.complain(key, "allowed auto, CloudTrail or VPCFlowLogs (case-sensitive)");
        }
        log_type
    }

    fn log_type(&mut self, key: Key) -> Option<LogType> {
        let text = self.text(key)?;
        if let Some(log_type) = LogType::from_name(&text) {
            return Some(log_type);
        }
        let hint = [LogType::CloudTrail, LogType::VpcFlowLogs]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(&text))
            .map(|t| format!(" (the value is case-sensitive: did you mean {t}?)"))
            .unwrap_or_default();
        self.complain(key, format!("allowed CloudTrail or VPCFlowLogs{hint}"));
        None
    }

    /// Reports every key that was never asked for.
    fn finish(self) {
        let section = self.section;
        for (entry, used) in section.entries.iter().zip(&self.used) {
            if *used {
                continue;
            }
            let folded = fold(&entry.key);
            let near = self.known.iter().find(|known| {
                edit_distance(&fold(known.toml), &folded) <= 2
                    || edit_distance(&fold(known.ini), &folded) <= 2
            });
            let message = match near {
                Some(known) => format!("unknown key (did you mean {}?)", self.name(*known)),
                None => "unknown key".to_string(),
            };
            self.problems.push(Problem {
                file: section.file.clone(),
                line: Some(entry.line),
                key: Some(entry.key.clone()),
                value: None,
                message,
            });
        }
    }
}

/// One value of a filter condition: a glob (or, on an address field, a CIDR block), a whole
/// number or a boolean.
fn atom(field: &str, value: &RawValue) -> Result<filter::Atom, String> {
    match value {
        RawValue::Text(text) => match filter::cidr(field, text) {
            Some(block) => block,
            None => filter::TextPattern::new(text)
                .map(filter::Atom::Glob)
                .map_err(|error| format!("invalid glob {text:?}: {}", error.kind())),
        },
        RawValue::Integer(number) => Ok(filter::Atom::Number(*number)),
        RawValue::Bool(flag) => Ok(filter::Atom::Bool(*flag)),
        other => Err(format!("{other} is not a text, a whole number, a boolean or a list of them")),
    }
}

/// A key folded for "did you mean": lower case, without underscores.
fn fold(key: &str) -> String {
    key.chars().filter(|c| *c != '_').map(|c| c.to_ascii_lowercase()).collect()
}

/// Levenshtein distance, for "did you mean" on short key names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Validates a whole TOML document.
pub(super) fn config_from_toml(
    file: &Path,
    document: TomlDocument,
    keys: &KeyRing,
    problems: &mut Vec<Problem>,
) -> Config {
    let base = file.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut config = Config::default();
    if let Some(entry) = &document.state_dir {
        match &entry.value {
            RawValue::Text(text) if !text.trim().is_empty() => {
                config.state_dir = Some(base.join(text.trim()))
            }
            other => problems.push(Problem {
                file: file.to_path_buf(),
                line: Some(entry.line),
                key: Some("state_dir".into()),
                value: Some(other.to_string()),
                message: "expected a directory path".into(),
            }),
        }
    }
    if let Some(section) = &document.telemetry {
        config.telemetry = telemetry(section, keys, problems);
    }
    for (index, section) in document.sources.iter().enumerate() {
        if let Some(source) = source_from_toml(section, index + 1, &base, keys, problems) {
            config.sources.push(source);
        }
    }
    if config.sources.is_empty() && document.sources.is_empty() {
        problems.push(Problem::in_file(file, None, "no [[source]] configured"));
    }
    check_unique_names(&config.sources, problems);
    for section in &document.sinks {
        if let Some(sink) = sink_from_toml(section, &base, keys, problems) {
            config.sinks.push(sink);
        }
    }
    if document.sinks.is_empty() {
        config.sinks.push(SinkKind::Stdout.into());
    }
    config
}

/// The `[telemetry]` table.
fn telemetry(section: &Section, keys: &KeyRing, problems: &mut Vec<Problem>) -> TelemetryConfig {
    let mut fields = Fields::new(section, keys, problems);
    let listen = fields.text(LISTEN);
    if let Some(listen) = &listen
        && let Err(message) = check_listen_address(listen)
    {
        fields.complain(LISTEN, message);
    }
    let unready_after_seconds = fields.small_number(UNREADY_AFTER_SECONDS, 1..=86_400, 300);
    fields.finish();
    TelemetryConfig { listen, unready_after_seconds }
}

/// `host:port` (IPv6 in brackets) that a listener can bind; the host must be an address.
pub fn check_listen_address(address: &str) -> Result<(), String> {
    address.parse::<std::net::SocketAddr>().map(|_| ()).map_err(|_| {
        "allowed ADDRESS:PORT, like 127.0.0.1:9717 or [::1]:9717 (port 0 picks a free port)".to_string()
    })
}

pub(super) fn check_unique_names(sources: &[SourceConfig], problems: &mut Vec<Problem>) {
    for (index, source) in sources.iter().enumerate() {
        if sources[..index].iter().any(|earlier| earlier.name == source.name) {
            problems.push(Problem {
                file: source.file.clone(),
                line: None,
                key: Some("name".into()),
                value: Some(source.name.clone()),
                message: "another source has the same name; names scope checkpoints and must be unique"
                    .into(),
            });
        }
    }
}

fn source_from_toml(
    section: &Section,
    ordinal: usize,
    base: &Path,
    keys: &KeyRing,
    problems: &mut Vec<Problem>,
) -> Option<SourceConfig> {
    let mut fields = Fields::new(section, keys, problems);
    let source_type = fields.required(TYPE)?;
    let name = fields.text(NAME);
    let kind = match source_type.as_str() {
        "ini" => {
            let path = base.join(fields.required(PATH)?);
            let filter = source_filter(&mut fields, None);
            fields.finish();
            let mut source = load_ini_source(&path, name, section, keys, problems)?;
            source.filter = filter;
            return Some(source);
        }
        "dir" => Some(SourceKind::Dir(dir_source(&mut fields, base))),
        "s3" => s3_source(&mut fields).map(|s3| SourceKind::S3(Box::new(s3))),
        "cloudtrail_api" => {
            cloudtrail_api_source(&mut fields).map(|api| SourceKind::CloudTrailApi(Box::new(api)))
        }
        "sqs" => sqs_source(&mut fields).map(|sqs| SourceKind::Sqs(Box::new(sqs))),
        _ => {
            fields.complain(TYPE, "allowed dir, s3, sqs, cloudtrail_api or ini");
            return None;
        }
    };
    let log_type = match &kind {
        Some(SourceKind::S3(s3)) => Some(s3.log_type),
        Some(SourceKind::Sqs(sqs)) => sqs.log_type,
        Some(SourceKind::Dir(dir)) => dir.log_type,
        Some(SourceKind::CloudTrailApi(_)) => Some(LogType::CloudTrail),
        None => None,
    };
    let filter = source_filter(&mut fields, log_type);
    fields.finish();
    let kind = kind?;
    let name = name.unwrap_or_else(|| format!("{}-{ordinal}", kind.type_name()));
    Some(SourceConfig { name, file: section.file.clone(), kind, filter })
}

/// The drop and keep rules of a source, when it has any.
fn source_filter(fields: &mut Fields<'_>, log_type: Option<LogType>) -> Option<std::sync::Arc<Filter>> {
    let drop = fields.rules(DROP, log_type);
    let keep = fields.rules(KEEP, log_type);
    (!drop.is_empty() || !keep.is_empty()).then(|| std::sync::Arc::new(Filter::new(drop, keep)))
}

fn load_ini_source(
    path: &Path,
    name: Option<String>,
    owner: &Section,
    keys: &KeyRing,
    problems: &mut Vec<Problem>,
) -> Option<SourceConfig> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            problems.push(Problem::in_file(
                &owner.file,
                owner.line,
                format!("cannot read {}: {error}", path.display()),
            ));
            return None;
        }
    };
    let section = super::ini::parse(path, &text, problems);
    source_from_ini(section, name, keys, problems)
}

/// Validates one seed INI file; whether it is an S3 or an API source is told by its keys.
pub(super) fn source_from_ini(
    section: Section,
    name: Option<String>,
    keys: &KeyRing,
    problems: &mut Vec<Problem>,
) -> Option<SourceConfig> {
    let has = |key: Key| section.entries.iter().any(|e| e.key == key.ini);
    let file_name = section.file.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let api_keys = [
        API_POLLING_INTERVAL_MS,
        API_RETRY_COUNT,
        NUMBER_OF_BACK_DAYS_DATA,
        NUMBER_OF_BACK_MINUTES_DATA,
        BACK_OFF_TIME,
    ];
    let is_s3 = has(BUCKET) || (!api_keys.iter().any(|k| has(*k)) && file_name.contains("s3"));
    let is_api = !is_s3 && (api_keys.iter().any(|k| has(*k)) || file_name.contains("cloudtrail"));
    let mut fields = Fields::new(&section, keys, problems);
    let ini_name = fields.text(NAME);
    let kind = if is_s3 {
        s3_source(&mut fields).map(|s3| SourceKind::S3(Box::new(s3)))
    } else if is_api {
        cloudtrail_api_source(&mut fields).map(|api| SourceKind::CloudTrailApi(Box::new(api)))
    } else {
        problems.push(Problem::in_file(
            &section.file,
            None,
            "cannot tell the kind of source: an S3 source needs BucketName, an API source APIPollingIntervalInMs",
        ));
        return None;
    };
    fields.finish();
    let kind = kind?;
    let stem = section.file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = name.or(ini_name).unwrap_or(stem);
    Some(SourceConfig { name, file: section.file.clone(), kind, filter: None })
}

fn dir_source(fields: &mut Fields<'_>, base: &Path) -> DirSource {
    let paths = match fields.list(PATH) {
        Some(paths) if !paths.is_empty() => paths.iter().map(|p| base.join(p)).collect(),
        _ => {
            if !fields.problems_mention(PATH) {
                fields.report(PATH, None, "required key is missing");
            }
            Vec::new()
        }
    };
    let log_type = fields.auto_log_type(LOG_TYPE);
    DirSource {
        paths,
        log_type,
        inclusions: fields.globs(INCLUSIONS, DIR_DEFAULT_INCLUSIONS),
        exclusions: fields.globs(EXCLUSIONS, &[]),
    }
}

fn s3_source(fields: &mut Fields<'_>) -> Option<S3Source> {
    let bucket = fields.required(BUCKET);
    if let Some(bucket) = &bucket
        && !valid_bucket_name(bucket)
    {
        fields.complain(
            BUCKET,
            "not a valid bucket name: 3–63 characters, lower-case letters, digits, '.', '-' and '_'",
        );
    }
    let aws = aws_settings(fields, true);
    let source = S3Source {
        log_type: fields.log_type(LOG_TYPE).unwrap_or(LogType::CloudTrail),
        file_path: layout::path_prefix(&fields.text(FILE_PATH).unwrap_or_default()),
        depth_to_recurse: fields.small_number(DEPTH_TO_RECURSE, 1..=10, 1),
        no_of_back_days_data: fields.small_number(NO_OF_BACK_DAYS_DATA, 1..=7, 1),
        exclusion_directories: fields.list(EXCLUSION_DIRECTORIES).unwrap_or_default(),
        data_folder_files_count: fields.small_number(DATA_FOLDER_FILES_COUNT, 100..=1000, 100),
        max_queue_count: fields.small_number(MAX_QUEUE_COUNT, 50_000..=100_000, 50_000),
        inclusions: fields.globs(INCLUSIONS, S3_DEFAULT_INCLUSIONS),
        exclusions: fields.globs(EXCLUSIONS, &[]),
        max_result_count: fields.small_number(MAX_RESULT_COUNT, 1..=100, 100),
        startup_delay_in_seconds: fields.small_number(STARTUP_DELAY_IN_SECONDS, 0..=300, 30),
        log_api_requests: fields.flag(LOG_API_REQUESTS, false),
        region_folders: fields.list(REGION_FOLDERS).unwrap_or_default(),
        settle_minutes: fields.small_number(SETTLE_MINUTES, 1..=1440, 15),
        sweep_interval_minutes: fields.small_number(SWEEP_INTERVAL_MINUTES, 5..=1440, 60),
        poll_interval_seconds: fields.small_number(POLL_INTERVAL_SECONDS, 1..=86_400, 60),
        bucket: bucket.unwrap_or_default(),
        aws: aws?,
    };
    check_file_path(fields, &source);
    Some(source)
}

/// A `FilePath` that names a folder the source would never read from is a contradiction.
fn check_file_path(fields: &mut Fields<'_>, source: &S3Source) {
    let log_type = fields.name(LOG_TYPE);
    match layout::node_of_path(&source.file_path, source.log_type) {
        Node::Skipped => {
            let last = layout::folders_of_path(&source.file_path).last().unwrap_or_default();
            let message = if layout::service_folders(LogType::CloudTrail).contains(&last)
                || layout::service_folders(LogType::VpcFlowLogs).contains(&last)
            {
                format!("names a {last} folder, which holds no log of {log_type} {}", source.log_type)
            } else if last == "CloudTrail-Digest" {
                "names the digest folder: digest files hold no events".to_string()
            } else {
                "names a folder below a region folder: name the region folder (the day folders are \
                 chosen by the look-back window)"
                    .to_string()
            };
            fields.complain(FILE_PATH, message);
        }
        Node::Region { region, .. }
            if !source.region_folders.is_empty() && !source.region_folders.contains(&region) =>
        {
            let region_folders = fields.name(REGION_FOLDERS);
            fields.complain(FILE_PATH, format!("names region {region}, which {region_folders} leaves out"));
        }
        _ => {}
    }
}

fn sqs_source(fields: &mut Fields<'_>) -> Option<SqsSource> {
    let queue_url = fields.required(QUEUE_URL);
    let queue_region = queue_url.as_deref().map(queue_url_region);
    if let Some(Err(message)) = &queue_region {
        fields.complain(QUEUE_URL, message.clone());
    }
    let mut aws = aws_settings(fields, false)?;
    if aws.region.is_empty() {
        match queue_region {
            Some(Ok(Some(region))) => aws.region = region,
            Some(Ok(None)) => {
                fields.report(REGION, None, "required: the queue URL does not name an AWS region")
            }
            _ => {}
        }
    }
    let s3_endpoint = fields.text(S3_ENDPOINT);
    if let Some(endpoint) = &s3_endpoint
        && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
    {
        fields.complain(S3_ENDPOINT, "must be an http:// or https:// URL");
    }
    let log_type = fields.auto_log_type(LOG_TYPE);
    let buckets = fields.list(BUCKETS).unwrap_or_default();
    for bucket in &buckets {
        if !valid_bucket_name(bucket) {
            fields.complain(BUCKETS, format!("{bucket:?} is not a valid bucket name"));
        }
    }
    let source = SqsSource {
        s3_endpoint,
        log_type,
        inclusions: fields.globs(INCLUSIONS, S3_DEFAULT_INCLUSIONS),
        exclusions: fields.globs(EXCLUSIONS, &[]),
        buckets,
        max_messages: fields.small_number(MAX_MESSAGES, 1..=10, 10),
        wait_seconds: fields.small_number(WAIT_SECONDS, 0..=20, 20),
        visibility_timeout_seconds: fields.small_number(VISIBILITY_TIMEOUT_SECONDS, 30..=43_200, 300),
        max_receive_count: fields.small_number(MAX_RECEIVE_COUNT, 1..=1000, 5),
        parallel_objects: fields.small_number(PARALLEL_OBJECTS, 1..=64, 8),
        delete_unrelated: fields.flag(DELETE_UNRELATED, true),
        queue_url: queue_url?,
        aws,
    };
    (!source.aws.region.is_empty()).then_some(source)
}

/// The region of an AWS queue URL (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`), `None`
/// for another endpoint's URL; an error for what is not a queue URL at all.
fn queue_url_region(url: &str) -> Result<Option<String>, String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("must be an http:// or https:// queue URL (like https://sqs.us-east-1.amazonaws.com/111122223333/trail-events)")?;
    let (host, path) = rest.split_once('/').ok_or("has no queue path (ACCOUNT/QUEUE-NAME)")?;
    if path.trim_matches('/').is_empty() {
        return Err("has no queue path (ACCOUNT/QUEUE-NAME)".into());
    }
    let region = host
        .strip_prefix("sqs.")
        .and_then(|rest| rest.split_once(".amazonaws.com"))
        .map(|(region, _)| region.to_string())
        .filter(|region| valid_region(region));
    Ok(region)
}

fn cloudtrail_api_source(fields: &mut Fields<'_>) -> Option<CloudTrailApiSource> {
    let regions = match fields.section.dialect {
        Dialect::Toml => fields.list(REGIONS).unwrap_or_default(),
        Dialect::Ini => Vec::new(),
    };
    let mut aws = aws_settings(fields, regions.is_empty());
    let mut regions = regions;
    for region in &regions {
        if !valid_region(region) {
            fields.complain(REGIONS, format!("{region:?} is not an AWS region name (like us-east-1)"));
        }
    }
    if let Some(aws) = &mut aws {
        if !aws.region.is_empty() && !regions.is_empty() {
            fields.complain(REGIONS, "set region or regions, not both");
        }
        if regions.is_empty() {
            regions.push(aws.region.clone());
        } else if aws.region.is_empty() {
            aws.region = regions[0].clone();
        }
    }
    let back_minutes = fields.small_number(NUMBER_OF_BACK_MINUTES_DATA, 40..=1440, 40);
    let back_off = fields.small_number(BACK_OFF_TIME, 30..=1440, 30);
    if back_off >= back_minutes {
        let minutes_name = fields.name(NUMBER_OF_BACK_MINUTES_DATA);
        fields.complain(BACK_OFF_TIME, format!("must be less than {minutes_name} ({back_minutes})"));
    }
    let source = CloudTrailApiSource {
        api_polling_interval_ms: fields.small_number(API_POLLING_INTERVAL_MS, 1000..=60_000, 5000),
        api_retry_count: fields.small_number(API_RETRY_COUNT, 0..=5, 3),
        max_result_count: fields.small_number(MAX_RESULT_COUNT, 1..=50, 50),
        startup_delay_in_seconds: fields.small_number(STARTUP_DELAY_IN_SECONDS, 0..=300, 30),
        number_of_back_days_data: fields.small_number(NUMBER_OF_BACK_DAYS_DATA, 0..=7, 1),
        number_of_back_minutes_data: back_minutes,
        back_off_time: back_off,
        max_requests_per_second: fields.small_number(MAX_REQUESTS_PER_SECOND, 1..=10, 2),
        regions,
        aws: aws?,
    };
    Some(source)
}

/// Region, credentials, endpoint and proxy: shared by every AWS source.
fn aws_settings(fields: &mut Fields<'_>, region_required: bool) -> Option<AwsSettings> {
    let region = if region_required { fields.required(REGION) } else { fields.text(REGION) };
    if let Some(region) = &region
        && !valid_region(region)
    {
        fields.complain(REGION, "not an AWS region name (like us-east-1)");
    }
    let access_key_id = fields.secret(ACCESS_KEY_ID);
    let secret_access_key = fields.secret(SECRET_ACCESS_KEY);
    let profile = fields.text(PROFILE);
    let credentials = match (access_key_id, secret_access_key, profile) {
        (Some(access_key_id), Some(secret_access_key), None) => {
            Credentials::Static { access_key_id, secret_access_key }
        }
        (None, None, Some(profile)) => Credentials::Profile(profile),
        (None, None, None) => Credentials::DefaultChain,
        (Some(_), Some(_), Some(_)) => {
            fields.report(
                PROFILE,
                None,
                format!(
                    "set either {} and {} or {}, not both",
                    fields.name(ACCESS_KEY_ID),
                    fields.name(SECRET_ACCESS_KEY),
                    fields.name(PROFILE)
                ),
            );
            Credentials::DefaultChain
        }
        (Some(_), None, _) => {
            let missing = fields.name(SECRET_ACCESS_KEY);
            let message =
                format!("set without {missing}: set both, or neither to use the AWS credential chain");
            fields.complain(ACCESS_KEY_ID, message);
            Credentials::DefaultChain
        }
        (None, Some(_), _) => {
            let missing = fields.name(ACCESS_KEY_ID);
            let message =
                format!("set without {missing}: set both, or neither to use the AWS credential chain");
            fields.complain(SECRET_ACCESS_KEY, message);
            Credentials::DefaultChain
        }
    };
    let endpoint = fields.text(ENDPOINT);
    if let Some(endpoint) = &endpoint
        && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
    {
        fields.complain(ENDPOINT, "must be an http:// or https:// URL");
    }
    if let Credentials::Static { access_key_id, secret_access_key } = &credentials {
        check_key_shape(fields, ACCESS_KEY_ID, access_key_id, endpoint.is_some());
        check_key_shape(fields, SECRET_ACCESS_KEY, secret_access_key, endpoint.is_some());
    }
    let signature_version = fields.text(SIGNATURE_VERSION);
    if let Some(version) = &signature_version {
        let accepted = ["4", "v4", "s3v4", "sigv4", "aws4-hmac-sha256"];
        if !accepted.contains(&version.to_ascii_lowercase().as_str()) {
            fields
                .complain(SIGNATURE_VERSION, "only Signature Version 4 is supported (allowed 4, v4 or s3v4)");
        }
    }
    let settings = AwsSettings {
        role_arn: fields.text(ROLE_ARN),
        external_id: fields.text(EXTERNAL_ID),
        session_name: fields.text(SESSION_NAME),
        force_path_style: fields.flag(FORCE_PATH_STYLE, false),
        proxy: proxy(fields),
        region: region.unwrap_or_default(),
        credentials,
        endpoint,
        signature_version,
    };
    if region_required && settings.region.is_empty() {
        return None;
    }
    Some(settings)
}

/// The seeds tell users to encrypt the key pair with LogRhythm's `lrcrypt`, whose values
/// Trailhound cannot decrypt. A plain value without the shape of an AWS key is most likely one:
/// an error against AWS, a warning against another endpoint (whose keys may look different).
fn check_key_shape(fields: &mut Fields<'_>, key: Key, value: &Secret, custom_endpoint: bool) {
    let (shaped, what) = if key.toml == ACCESS_KEY_ID.toml {
        (looks_like_access_key_id(value.expose()), "access key id (like AKIAIOSFODNN7EXAMPLE)")
    } else {
        (looks_like_secret_access_key(value.expose()), "secret access key (40 characters)")
    };
    if shaped || !fields.written_in_plain(key) {
        return;
    }
    let message = format!(
        "does not look like an AWS {what}: it looks like a value encrypted with LogRhythm's lrcrypt, \
         which Trailhound cannot decrypt; put the original key through `trailhound encrypt` and paste \
         the enc:v1: token here (or remove both keys to use the AWS credential chain)"
    );
    if custom_endpoint {
        fields.warn(key, message);
    } else {
        fields.complain(key, message);
    }
}

/// AWS access key ids: 16–128 upper-case letters and digits (`AKIA…`, `ASIA…`, 20 in practice).
fn looks_like_access_key_id(value: &str) -> bool {
    (16..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// AWS secret access keys: 40 characters of base64's alphabet.
fn looks_like_secret_access_key(value: &str) -> bool {
    value.len() == 40 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+')
}

/// `ProxyServer` as a host for a proxy URL: a name or an address (IPv6 in brackets), with an
/// optional `http://` in front. Anything else cannot be used as configured.
fn proxy_host(server: &str) -> Result<String, String> {
    let host =
        match server.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest.trim_end_matches('/'),
            Some(_) => return Err(
                "allowed a host name or an IP address (an http:// proxy; TLS to the proxy is not supported)"
                    .into(),
            ),
            None => server.trim_end_matches('/'),
        };
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if bare.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok(format!("[{bare}]"));
    }
    if host.contains(':') {
        return Err("the port goes in ProxyPort, not in the server name".into());
    }
    let valid = !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if !valid {
        return Err("allowed a host name or an IP address".into());
    }
    Ok(host.to_string())
}

fn proxy(fields: &mut Fields<'_>) -> Option<Proxy> {
    let server = fields.text(PROXY_SERVER);
    let port = fields.number(PROXY_PORT, 1..=65_535, 0);
    let user_name = fields.text(PROXY_USER_NAME);
    let password = fields.secret(PROXY_PASSWORD);
    let domain = fields.text(PROXY_DOMAIN);
    let Some(server) = server else {
        for (key, set) in [
            (PROXY_PORT, port != 0),
            (PROXY_USER_NAME, user_name.is_some()),
            (PROXY_PASSWORD, password.is_some()),
            (PROXY_DOMAIN, domain.is_some()),
        ] {
            if set {
                let server_name = fields.name(PROXY_SERVER);
                fields.complain(key, format!("set, but {server_name} is not"));
            }
        }
        return None;
    };
    if port == 0 && !fields.problems_mention(PROXY_PORT) {
        fields.complain(PROXY_PORT, "required when a proxy server is set: allowed 1–65535");
    }
    if password.is_some() && user_name.is_none() {
        fields.report(PROXY_USER_NAME, None, "required when a proxy password is set");
    }
    for (key, value) in [(PROXY_USER_NAME, &user_name), (PROXY_DOMAIN, &domain)] {
        if value.as_deref().is_some_and(|text| text.contains(':')) {
            fields.complain(key, "cannot contain ':' (HTTP basic authentication ends the user name there)");
        }
    }
    let server = match proxy_host(&server) {
        Ok(host) => host,
        Err(message) => {
            fields.complain(PROXY_SERVER, message);
            server
        }
    };
    Some(Proxy { server, port: u16::try_from(port).unwrap_or(0), user_name, password, domain })
}

fn sink_from_toml(
    section: &Section,
    base: &Path,
    keys: &KeyRing,
    problems: &mut Vec<Problem>,
) -> Option<SinkConfig> {
    let mut fields = Fields::new(section, keys, problems);
    let sink_type = fields.required(TYPE)?;
    if let Some(format) = fields.text(FORMAT)
        && format != "ndjson"
        && format != "json"
    {
        fields.complain(FORMAT, "allowed ndjson");
    }
    let sink = match sink_type.as_str() {
        "stdout" => SinkKind::Stdout,
        "file" => {
            let path: PathBuf = base.join(fields.required(PATH)?);
            let rotate_max_bytes = fields.number(ROTATE_MAX_BYTES, 0..=u64::MAX, 0);
            if rotate_max_bytes != 0 && rotate_max_bytes < 1024 {
                fields.complain(ROTATE_MAX_BYTES, "allowed 0 (never rotate) or at least 1024");
            }
            let rotate_keep = fields.small_number(ROTATE_KEEP, 1..=1000, 5);
            SinkKind::File(FileSinkConfig { path, rotate_max_bytes, rotate_keep })
        }
        "syslog" => {
            let mut syslog = fields.required_as(ADDRESS, SyslogSinkConfig::from_url)?;
            syslog.rfc =
                fields.choice(RFC, &[("5424", SyslogRfc::Rfc5424), ("3164", SyslogRfc::Rfc3164)], syslog.rfc);
            let framings =
                [("octet-counting", SyslogFraming::OctetCounting), ("newline", SyslogFraming::Newline)];
            syslog.framing = fields.choice(FRAMING, &framings, syslog.framing);
            syslog.facility = fields.small_number(FACILITY, 0..=23, 16) as u8;
            syslog.severity = fields.small_number(SEVERITY, 0..=7, 6) as u8;
            if let Some(app_name) = fields.text(APP_NAME) {
                syslog.app_name = app_name;
            }
            syslog.hostname = fields.text(HOSTNAME);
            syslog.tls = tls_settings(&mut fields, base, syslog.transport == SyslogTransport::Tls, ADDRESS);
            SinkKind::Syslog(syslog)
        }
        "http" => {
            let mut http = fields.required_as(URL, HttpSinkConfig::from_url)?;
            let modes = [
                ("ndjson", HttpMode::Ndjson),
                ("splunk_hec", HttpMode::SplunkHec),
                ("elasticsearch", HttpMode::Elasticsearch),
            ];
            http.mode = fields.choice(MODE, &modes, http.mode);
            http.token = fields.secret(TOKEN);
            http.user = fields.text(USER);
            http.password = fields.secret(PASSWORD);
            if http.password.is_some() && http.user.is_none() {
                fields.complain(USER, "required when a password is set");
            }
            if http.token.is_some() && http.user.is_some() {
                fields.complain(TOKEN, "set either token or user and password, not both");
            }
            if http.mode == HttpMode::SplunkHec && http.token.is_none() && !fields.problems_mention(TOKEN) {
                fields.complain(TOKEN, "required by mode splunk_hec (the HEC token)");
            }
            http.index = fields.text(INDEX);
            http.host = fields.text(HOST);
            http.sourcetype = fields.text(SOURCETYPE);
            http.source = fields.text(SOURCE);
            if http.mode != HttpMode::SplunkHec {
                for key in [HOST, SOURCETYPE, SOURCE] {
                    if fields.entry(key).is_some() {
                        fields.complain(key, "a splunk_hec setting: this sink's mode is not splunk_hec");
                    }
                }
            }
            http.batch_max_events = fields.number(BATCH_MAX_EVENTS, 1..=10_000, 500) as usize;
            http.batch_max_bytes = fields.number(BATCH_MAX_BYTES, 1024..=(64 << 20), 4 << 20) as usize;
            http.batch_timeout = Duration::from_millis(fields.number(BATCH_TIMEOUT_MS, 1..=60_000, 1000));
            let compressions = [("none", HttpCompression::None), ("gzip", HttpCompression::Gzip)];
            http.compression = fields.choice(COMPRESSION, &compressions, http.compression);
            http.request_timeout = Duration::from_secs(fields.number(REQUEST_TIMEOUT_SECONDS, 1..=600, 30));
            http.tls = tls_settings(&mut fields, base, http.url.starts_with("https://"), URL);
            SinkKind::Http(Box::new(http))
        }
        _ => {
            fields.complain(TYPE, "allowed stdout, file, syslog or http");
            return None;
        }
    };
    let mut sink = SinkConfig::from(sink);
    sink.output.profile = fields.choice(PROFILE, &Profile::NAMES, sink.output.profile);
    sink.output.preserve_original = fields.flag(PRESERVE_ORIGINAL, false);
    if sink.output.preserve_original && sink.output.is_native() {
        fields.complain(
            PRESERVE_ORIGINAL,
            "needs profile ecs or ocsf (the native line always carries the record as raw)",
        );
    }
    fields.finish();
    Some(sink)
}

/// The TLS keys of a sink; they make sense only when `tls` (the address says TLS).
fn tls_settings(fields: &mut Fields<'_>, base: &Path, tls: bool, address: Key) -> TlsSettings {
    let settings = TlsSettings {
        ca_file: fields.text(CA_FILE).map(|path| base.join(path)),
        client_cert_file: fields.text(CLIENT_CERT_FILE).map(|path| base.join(path)),
        client_key_file: fields.text(CLIENT_KEY_FILE).map(|path| base.join(path)),
        server_name: fields.text(SERVER_NAME),
    };
    if settings != TlsSettings::default() && !tls {
        let message = format!("TLS settings need a TLS {} (tls:// or https://)", address.toml);
        fields.complain(address, message);
    }
    if settings.client_cert_file.is_some() != settings.client_key_file.is_some() {
        fields.complain(CLIENT_KEY_FILE, "client_cert_file and client_key_file go together");
    }
    for (key, path) in [
        (CA_FILE, &settings.ca_file),
        (CLIENT_CERT_FILE, &settings.client_cert_file),
        (CLIENT_KEY_FILE, &settings.client_key_file),
    ] {
        if let Some(path) = path
            && let Err(error) = std::fs::metadata(path)
        {
            fields.complain(key, format!("cannot read {}: {error}", path.display()));
        }
    }
    settings
}

/// Region names look like `us-east-1`, `us-gov-west-1`, `ap-southeast-4`.
fn valid_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// S3 bucket names (with the legacy `_` still found in old us-east-1 buckets).
fn valid_bucket_name(bucket: &str) -> bool {
    (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests;
