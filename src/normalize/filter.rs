//! Drop and keep rules: which records a source forwards, decided on the record before it is
//! normalized, so a dropped record costs one scan and no output.
//!
//! A rule is a table of conditions on fields, all of which must hold. A condition's value is a
//! glob (text), a list (any of), a number or a boolean (compared exactly), or, on an address
//! field, a CIDR block (compared by network). An event is dropped when any drop rule holds; when
//! keep rules exist, only events for which one holds pass. Field names are CloudTrail record paths
//! (`userIdentity.invokedBy`) and flow-log field names as AWS spells them (`log-status`, or
//! `log_status`).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use globset::GlobMatcher;

use crate::decode::LogType;
use crate::decode::cloudtrail::RecordFields;
use crate::decode::cloudtrail::paths::PathTree;
use crate::decode::json_scan::{Scalar, ScanFailure, Span};
use crate::decode::vpc_flow::{CUSTOM_FIELDS, DEFAULT_FIELDS};

/// A text pattern: a glob, with the common shapes (a literal, `prefix*`, `*suffix`) compared
/// directly rather than through a compiled glob.
#[derive(Clone, Debug)]
pub enum TextPattern {
    /// No wildcard: the whole text.
    Exact(String),
    /// `prefix*`.
    Prefix(String),
    /// `*suffix`.
    Suffix(String),
    /// Any other glob.
    Glob(GlobMatcher),
}

impl TextPattern {
    /// The pattern of a glob; an error for an invalid one.
    pub fn new(glob: &str) -> Result<Self, globset::Error> {
        let special = |text: &str| text.contains(['*', '?', '[', ']', '{', '}', '\\']);
        if !special(glob) {
            return Ok(TextPattern::Exact(glob.to_string()));
        }
        if let Some(prefix) = glob.strip_suffix('*').filter(|prefix| !special(prefix)) {
            return Ok(TextPattern::Prefix(prefix.to_string()));
        }
        if let Some(suffix) = glob.strip_prefix('*').filter(|suffix| !special(suffix)) {
            return Ok(TextPattern::Suffix(suffix.to_string()));
        }
        Ok(TextPattern::Glob(globset::Glob::new(glob)?.compile_matcher()))
    }

    fn is_match(&self, text: &str) -> bool {
        match self {
            TextPattern::Exact(exact) => text == exact,
            TextPattern::Prefix(prefix) => text.starts_with(prefix.as_str()),
            TextPattern::Suffix(suffix) => text.ends_with(suffix.as_str()),
            TextPattern::Glob(glob) => glob.is_match(text),
        }
    }
}

/// One accepted value of a condition.
#[derive(Clone, Debug)]
pub enum Atom {
    /// A text glob (`*.amazonaws.com`).
    Glob(TextPattern),
    /// An exact whole number.
    Number(i64),
    /// An exact boolean.
    Bool(bool),
    /// An address block (`10.0.0.0/8`).
    Cidr(IpAddr, u8),
}

/// One field and the values it may have (any of them).
#[derive(Clone, Debug)]
pub struct Condition {
    /// The field as written in the configuration.
    pub field: String,
    /// The accepted values.
    pub atoms: Vec<Atom>,
}

/// A table of conditions, all of which must hold.
#[derive(Clone, Debug)]
pub struct Rule {
    /// How the rule is named in counts: `drop[1]`, `keep[2]`.
    pub label: String,
    /// Its conditions.
    pub conditions: Vec<Condition>,
}

/// What the rules say of one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Forward it.
    Pass,
    /// Dropped by the drop rule of this index.
    Drop(usize),
    /// Kept by no keep rule.
    NotKept,
}

/// The drop and keep rules of one source, with their counts.
#[derive(Debug)]
pub struct Filter {
    drop: Vec<Rule>,
    keep: Vec<Rule>,
    /// Every distinct field of every rule; conditions refer to it by index.
    fields: Vec<String>,
    slots: Vec<Vec<usize>>,
    paths: PathTree,
    /// When every field is one the record scanner already extracts: how to read each from its
    /// [`RecordFields`], so that no second pass over the record is needed.
    extracted: Option<Vec<Extracted>>,
    dropped: Vec<AtomicU64>,
    not_kept: AtomicU64,
    /// The counts already saved in the state store, in the order of [`Filter::counts`].
    saved: std::sync::Mutex<Vec<u64>>,
}

/// The top-level members of a CloudTrail record (events and Insights).
const CLOUDTRAIL_MEMBERS: &[&str] = &[
    "eventVersion",
    "userIdentity",
    "eventTime",
    "eventSource",
    "eventName",
    "awsRegion",
    "sourceIPAddress",
    "userAgent",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "additionalEventData",
    "requestID",
    "eventID",
    "readOnly",
    "resources",
    "eventType",
    "apiVersion",
    "managementEvent",
    "recipientAccountId",
    "serviceEventDetails",
    "sharedEventID",
    "vpcEndpointId",
    "vpcEndpointAccountId",
    "eventCategory",
    "addendum",
    "sessionCredentialFromConsole",
    "edgeDeviceDetails",
    "tlsDetails",
    "insightDetails",
];

/// Fields whose values are addresses: a CIDR block compares by network there.
const ADDRESS_FIELDS: &[&str] = &["sourceIPAddress", "srcaddr", "dstaddr", "pkt-srcaddr", "pkt-dstaddr"];

/// A flow-log field name as AWS writes it in a text header (`log_status` → `log-status`).
pub fn flow_name(field: &str) -> String {
    field.replace('_', "-")
}

/// Whether `field` names something of `log_type` (`None`: either); the message says why not.
pub fn check_field(field: &str, log_type: Option<LogType>) -> Result<(), String> {
    let cloudtrail = CLOUDTRAIL_MEMBERS.contains(&field.split('.').next().unwrap_or(""));
    let name = flow_name(field);
    let flow = DEFAULT_FIELDS.contains(&name.as_str()) || CUSTOM_FIELDS.contains(&name.as_str());
    let known = match log_type {
        Some(LogType::CloudTrail) => cloudtrail,
        Some(LogType::VpcFlowLogs) => flow,
        None => cloudtrail || flow,
    };
    if known {
        return Ok(());
    }
    let what = match log_type {
        Some(LogType::CloudTrail) => {
            "a CloudTrail record member (like eventSource or userIdentity.invokedBy)"
        }
        Some(LogType::VpcFlowLogs) => "a VPC Flow Logs field (like srcaddr, dstport or log-status)",
        None => "a CloudTrail record member or a VPC Flow Logs field",
    };
    Err(format!("unknown field {field:?}: not {what}"))
}

/// Whether a text value of `field` is read as a CIDR block (address fields only).
pub fn cidr(field: &str, text: &str) -> Option<Result<Atom, String>> {
    if !ADDRESS_FIELDS.contains(&field) && !ADDRESS_FIELDS.contains(&flow_name(field).as_str()) {
        return None;
    }
    let (address, length) = text.split_once('/')?;
    let parsed = address.parse::<IpAddr>().ok().zip(length.parse::<u8>().ok());
    Some(match parsed {
        Some((address, length)) if length <= if address.is_ipv4() { 32 } else { 128 } => {
            Ok(Atom::Cidr(address, length))
        }
        _ => Err(format!("{text:?} is not a CIDR block (like 10.0.0.0/8)")),
    })
}

impl Filter {
    /// The filter of `drop` and `keep` rules (validated by the configuration).
    pub fn new(drop: Vec<Rule>, keep: Vec<Rule>) -> Self {
        let mut fields: Vec<String> = Vec::new();
        let slots = drop
            .iter()
            .chain(&keep)
            .map(|rule| {
                rule.conditions
                    .iter()
                    .map(|condition| match fields.iter().position(|f| *f == condition.field) {
                        Some(slot) => slot,
                        None => {
                            fields.push(condition.field.clone());
                            fields.len() - 1
                        }
                    })
                    .collect()
            })
            .collect();
        let paths = PathTree::new(&fields.iter().map(String::as_str).collect::<Vec<_>>());
        let extracted = fields.iter().map(|field| extracted(field)).collect();
        let dropped = drop.iter().map(|_| AtomicU64::new(0)).collect();
        Filter {
            drop,
            keep,
            fields,
            slots,
            paths,
            extracted,
            dropped,
            not_kept: AtomicU64::new(0),
            saved: Default::default(),
        }
    }

    /// The distinct fields the rules look at, in slot order.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// Decides on a CloudTrail record (one JSON object); `values` is scratch room of
    /// [`Filter::fields`]`.len()` slots.
    pub(crate) fn decide_record(
        &self,
        record: &[u8],
        values: &mut [Option<Scalar>],
    ) -> Result<Decision, ScanFailure> {
        self.paths.read(record, values)?;
        let text = std::str::from_utf8(record).unwrap_or("");
        Ok(self.decide(|slot| match values[slot] {
            None | Some(Scalar::Null) | Some(Scalar::Container) => Value::Absent,
            Some(Scalar::Text(span)) => Value::Text(span.text(text)),
            Some(Scalar::Number(start, end)) => Value::Text(text.get(start..end).unwrap_or("").into()),
            Some(Scalar::Bool(flag)) => Value::Bool(flag),
        }))
    }

    /// Decides on a CloudTrail record from the fields its scan extracted, when the rules look at
    /// no other field; `None` otherwise (then [`Filter::decide_record`] reads the record).
    pub(crate) fn decide_fields(&self, fields: &RecordFields, record: &str) -> Option<Decision> {
        let extracted = self.extracted.as_ref()?;
        Some(self.decide(|slot| match extracted[slot] {
            Extracted::Text(read) => {
                read(fields).map_or(Value::Absent, |span| Value::Text(span.text(record)))
            }
            Extracted::ReadOnly => fields.read_only.map_or(Value::Absent, Value::Bool),
        }))
    }

    /// Decides on a flow-log line whose values are `value(slot)` (`-` is absent).
    pub fn decide_line<'a>(&self, value: impl Fn(usize) -> Option<&'a str>) -> Decision {
        self.decide(|slot| match value(slot) {
            None | Some("-") => Value::Absent,
            Some(text) => Value::Text(text.into()),
        })
    }

    fn decide<'v>(&self, value: impl Fn(usize) -> Value<'v>) -> Decision {
        let holds = |index: usize, rule: &Rule| {
            rule.conditions.iter().zip(&self.slots[index]).all(|(condition, slot)| {
                let value = value(*slot);
                condition.atoms.iter().any(|atom| atom_matches(atom, &value))
            })
        };
        if let Some(index) = self.drop.iter().enumerate().position(|(index, rule)| holds(index, rule)) {
            self.dropped[index].fetch_add(1, Ordering::Relaxed);
            return Decision::Drop(index);
        }
        let offset = self.drop.len();
        if !self.keep.is_empty()
            && !self.keep.iter().enumerate().any(|(index, rule)| holds(offset + index, rule))
        {
            self.not_kept.fetch_add(1, Ordering::Relaxed);
            return Decision::NotKept;
        }
        Decision::Pass
    }

    /// Events dropped so far, per rule label (`drop[N]`, and `not kept` for the keep rules).
    pub fn counts(&self) -> Vec<(String, u64)> {
        let mut counts: Vec<(String, u64)> = self
            .drop
            .iter()
            .zip(&self.dropped)
            .map(|(rule, n)| (rule.label.clone(), n.load(Ordering::Relaxed)))
            .collect();
        if !self.keep.is_empty() {
            counts.push(("not kept".to_string(), self.not_kept.load(Ordering::Relaxed)));
        }
        counts
    }

    /// What the counts grew by since the last call, per rule: what a source adds to the counts
    /// in its state store.
    pub fn take_unsaved(&self) -> Vec<(String, u64)> {
        let counts = self.counts();
        let mut saved = self.saved.lock().unwrap_or_else(|poison| poison.into_inner());
        saved.resize(counts.len(), 0);
        counts
            .into_iter()
            .zip(saved.iter_mut())
            .map(|((rule, count), saved)| (rule, count - std::mem::replace(saved, count)))
            .collect()
    }

    /// Each rule and the fields it looks at: `drop[1] (eventSource, eventName)`.
    pub fn describe(&self) -> String {
        let rules: Vec<String> = self
            .drop
            .iter()
            .chain(&self.keep)
            .map(|rule| {
                let fields: Vec<&str> = rule.conditions.iter().map(|c| c.field.as_str()).collect();
                format!("{} ({})", rule.label, fields.join(", "))
            })
            .collect();
        rules.join(", ")
    }

    /// The label of drop rule `index`.
    pub fn drop_label(&self, index: usize) -> &str {
        &self.drop[index].label
    }
}

/// How to read a field from the fields the record scanner extracts.
#[derive(Clone, Copy, Debug)]
enum Extracted {
    Text(fn(&RecordFields) -> Option<Span>),
    ReadOnly,
}

/// The extracted field of a record path, if the scanner extracts it.
fn extracted(path: &str) -> Option<Extracted> {
    use Extracted::Text;
    Some(match path {
        "eventID" => Text(|f| f.event_id),
        "eventTime" => Text(|f| f.event_time),
        "eventSource" => Text(|f| f.event_source),
        "eventName" => Text(|f| f.event_name),
        "awsRegion" => Text(|f| f.aws_region),
        "sourceIPAddress" => Text(|f| f.source_ip_address),
        "userAgent" => Text(|f| f.user_agent),
        "errorCode" => Text(|f| f.error_code),
        "errorMessage" => Text(|f| f.error_message),
        "eventType" => Text(|f| f.event_type),
        "recipientAccountId" => Text(|f| f.recipient_account_id),
        "readOnly" => Extracted::ReadOnly,
        "userIdentity.type" => Text(|f| f.identity.kind),
        "userIdentity.userName" => Text(|f| f.identity.user_name),
        "userIdentity.arn" => Text(|f| f.identity.arn),
        "userIdentity.accountId" => Text(|f| f.identity.account_id),
        "userIdentity.accessKeyId" => Text(|f| f.identity.access_key_id),
        "userIdentity.invokedBy" => Text(|f| f.identity.invoked_by),
        _ => return None,
    })
}

/// A field's value in one record.
enum Value<'a> {
    Absent,
    Text(std::borrow::Cow<'a, str>),
    Bool(bool),
}

fn atom_matches(atom: &Atom, value: &Value<'_>) -> bool {
    match (atom, value) {
        (_, Value::Absent) => false,
        (Atom::Glob(glob), Value::Text(text)) => glob.is_match(text.as_ref()),
        (Atom::Glob(glob), Value::Bool(flag)) => glob.is_match(if *flag { "true" } else { "false" }),
        (Atom::Number(number), Value::Text(text)) => text.parse::<i64>().is_ok_and(|n| n == *number),
        (Atom::Bool(flag), Value::Bool(value)) => flag == value,
        (Atom::Bool(flag), Value::Text(text)) => text.as_ref() == if *flag { "true" } else { "false" },
        (Atom::Cidr(network, length), Value::Text(text)) => {
            text.parse::<IpAddr>().is_ok_and(|address| in_network(address, *network, *length))
        }
        _ => false,
    }
}

fn in_network(address: IpAddr, network: IpAddr, length: u8) -> bool {
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(length)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(length)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(text: &str) -> Atom {
        Atom::Glob(TextPattern::new(text).unwrap())
    }

    fn rule(label: &str, conditions: Vec<(&str, Vec<Atom>)>) -> Rule {
        Rule {
            label: label.into(),
            conditions: conditions
                .into_iter()
                .map(|(field, atoms)| Condition { field: field.into(), atoms })
                .collect(),
        }
    }

    fn decide(filter: &Filter, record: &str) -> Decision {
        let mut values = vec![None; filter.fields().len()];
        filter.decide_record(record.as_bytes(), &mut values).unwrap()
    }

    #[test]
    fn the_issue_examples_on_cloudtrail_records() {
        let filter = Filter::new(
            vec![
                rule(
                    "drop[1]",
                    vec![
                        ("eventSource", vec![glob("kms.amazonaws.com")]),
                        ("eventName", vec![glob("Decrypt"), glob("GenerateDataKey*")]),
                    ],
                ),
                rule(
                    "drop[2]",
                    vec![
                        ("userIdentity.invokedBy", vec![glob("*.amazonaws.com")]),
                        ("readOnly", vec![Atom::Bool(true)]),
                    ],
                ),
            ],
            vec![],
        );
        let kms = r#"{"eventSource":"kms.amazonaws.com","eventName":"GenerateDataKeyWithoutPlaintext"}"#;
        assert_eq!(decide(&filter, kms), Decision::Drop(0));
        assert_eq!(decide(&filter, &kms.replace("GenerateDataKey", "CreateKey")), Decision::Pass);
        let service = r#"{"userIdentity":{"invokedBy":"ec2.amazonaws.com"},"readOnly":true}"#;
        assert_eq!(decide(&filter, service), Decision::Drop(1));
        // LookupEvents writes readOnly as a string.
        assert_eq!(decide(&filter, &service.replace("true", "\"true\"")), Decision::Drop(1));
        assert_eq!(decide(&filter, &service.replace("true", "false")), Decision::Pass);
        assert_eq!(decide(&filter, r#"{"readOnly":true}"#), Decision::Pass, "an absent field never matches");
        assert_eq!(filter.counts(), vec![("drop[1]".to_string(), 1), ("drop[2]".to_string(), 2)]);
    }

    #[test]
    fn keep_rules_numbers_and_networks_on_flow_lines() {
        let cidr = |text: &str| cidr("srcaddr", text).unwrap().unwrap();
        let filter = Filter::new(
            vec![rule("drop[1]", vec![("log_status", vec![glob("NODATA"), glob("SKIPDATA")])])],
            vec![rule(
                "keep[1]",
                vec![
                    ("srcaddr", vec![cidr("10.0.0.0/8"), cidr("2001:db8::/32")]),
                    ("dstport", vec![Atom::Number(22), Atom::Number(3389)]),
                ],
            )],
        );
        // The values of one line, in the order of the filter's fields.
        let line = |values: [&'static str; 3]| move |slot: usize| values.get(slot).copied();
        assert_eq!(filter.fields(), ["log_status", "srcaddr", "dstport"]);
        assert_eq!(filter.decide_line(line(["OK", "10.1.2.3", "22"])), Decision::Pass);
        assert_eq!(filter.decide_line(line(["OK", "2001:db8::5", "3389"])), Decision::Pass);
        assert_eq!(filter.decide_line(line(["OK", "11.1.2.3", "22"])), Decision::NotKept);
        assert_eq!(filter.decide_line(line(["OK", "10.1.2.3", "443"])), Decision::NotKept);
        assert_eq!(filter.decide_line(line(["NODATA", "-", "-"])), Decision::Drop(0));
        assert_eq!(filter.counts(), vec![("drop[1]".to_string(), 1), ("not kept".to_string(), 2)]);
    }

    #[test]
    fn fields_and_blocks_are_checked() {
        assert!(check_field("userIdentity.invokedBy", Some(LogType::CloudTrail)).is_ok());
        assert!(check_field("log_status", Some(LogType::VpcFlowLogs)).is_ok());
        assert!(check_field("log-status", None).is_ok());
        assert!(check_field("srcaddr", Some(LogType::CloudTrail)).is_err());
        assert!(
            check_field("eventSorce", Some(LogType::CloudTrail))
                .unwrap_err()
                .contains("unknown field \"eventSorce\"")
        );
        assert!(cidr("eventName", "10.0.0.0/8").is_none(), "not an address field: a glob");
        assert!(cidr("srcaddr", "10.0.0.0/33").unwrap().is_err());
        assert!(cidr("srcaddr", "10.0.0.*").is_none());
        assert!(in_network("10.255.0.1".parse().unwrap(), "10.0.0.0".parse().unwrap(), 8));
        assert!(!in_network("10.0.0.2".parse().unwrap(), "10.0.0.1".parse().unwrap(), 32));
        assert!(in_network("1.2.3.4".parse().unwrap(), "0.0.0.0".parse().unwrap(), 0));
    }
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;
    use crate::decode::cloudtrail::RecordReader;

    fn rule(label: &str, conditions: Vec<(&str, Vec<&str>)>) -> Rule {
        let conditions = conditions
            .into_iter()
            .map(|(field, globs)| Condition {
                field: field.into(),
                atoms: globs.into_iter().map(|g| Atom::Glob(TextPattern::new(g).unwrap())).collect(),
            })
            .collect();
        Rule { label: label.into(), conditions }
    }

    #[test]
    fn text_patterns_take_the_short_way_for_common_shapes() {
        for (glob, shape) in [
            ("kms.amazonaws.com", "Exact"),
            ("Generate*", "Prefix"),
            ("*.amazonaws.com", "Suffix"),
            ("a*b", "Glob"),
            ("[ab]*", "Glob"),
        ] {
            let pattern = TextPattern::new(glob).unwrap();
            assert!(format!("{pattern:?}").starts_with(shape), "{glob}: {pattern:?}");
        }
        let matches = |glob: &str, text: &str| TextPattern::new(glob).unwrap().is_match(text);
        assert!(matches("Generate*", "GenerateDataKey") && !matches("Generate*", "xGenerate"));
        assert!(
            matches("*.amazonaws.com", "s3.amazonaws.com")
                && !matches("*.amazonaws.com", "amazonaws.com.evil")
        );
        assert!(matches("a*b", "a/x/b") && matches("Decrypt", "Decrypt") && !matches("Decrypt", "decrypt"));
        assert!(TextPattern::new("a[").is_err());
    }

    #[test]
    fn the_extracted_fields_decide_as_a_second_pass_would() {
        let document = br#"{"Records":[
            {"eventSource":"kms.amazonaws.com","eventName":"Decrypt","readOnly":true,"userIdentity":{"type":"AWSService","invokedBy":"s3.amazonaws.com"}},
            {"eventSource":"kms.amazonaws.com","eventName":"CreateKey","readOnly":false,"userIdentity":{"type":"IAMUser","userName":"al\u0069ce"}},
            {"eventSource":"ec2.amazonaws.com","eventName":"RunInstances","readOnly":"true","userIdentity":{"invokedBy":"autoscaling.amazonaws.com"}},
            {"eventName":5,"userIdentity":"odd"}]}"#;
        let extracted_only = Filter::new(
            vec![
                rule(
                    "drop[1]",
                    vec![
                        ("eventSource", vec!["kms.amazonaws.com"]),
                        ("eventName", vec!["Decrypt", "Generate*"]),
                    ],
                ),
                rule(
                    "drop[2]",
                    vec![("userIdentity.invokedBy", vec!["*.amazonaws.com"]), ("readOnly", vec!["true"])],
                ),
            ],
            vec![rule("keep[1]", vec![("userIdentity.userName", vec!["alice", "bob"])])],
        );
        assert!(extracted_only.extracted.is_some());
        let with_other =
            Filter::new(vec![rule("drop[1]", vec![("requestParameters.bucketName", vec!["x"])])], vec![]);
        assert!(with_other.extracted.is_none());
        let mut reader = RecordReader::new(&document[..]);
        let mut scratch = vec![None; extracted_only.fields().len()];
        let mut decisions = Vec::new();
        while let Ok(Some(record)) = reader.next_record() {
            let fast = extracted_only.decide_fields(record.fields, record.text).unwrap();
            let walked = extracted_only.decide_record(record.text.as_bytes(), &mut scratch).unwrap();
            assert_eq!(fast, walked, "{}", record.text);
            decisions.push(fast);
        }
        assert_eq!(decisions, vec![Decision::Drop(0), Decision::Pass, Decision::Drop(1), Decision::NotKept]);
    }
}
