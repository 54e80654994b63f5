//! Output profiles: the schema a sink's events are written in (`../shared/spec/output-profiles.md`).
//!
//! `native` is the contract line every source produces (design.md §6). `ecs` and `ocsf` are
//! rendered from it by the sink side ([`render_batch`]), so sources never know which profiles
//! exist: the native line holds everything a profile needs (the original record in `raw`, the
//! origin, and for flow logs every field of the line in `metadata`).

// Outside input reaches this code: no path may panic on it (tests may).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing))]

use std::borrow::Cow;

use super::tree::Node;
use super::{EventBatch, ecs, ocsf};
use crate::decode::LogType;
use crate::decode::json_scan::{self, Scalar, ScanError};

/// The schema of a sink's events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Profile {
    /// The contract line (design.md §6).
    #[default]
    Native,
    /// Elastic Common Schema, as Elastic's `aws` integration writes CloudTrail and VPC flow logs.
    Ecs,
    /// OCSF 1.1.0, as Amazon Security Lake (source version 2) writes them.
    Ocsf,
}

impl Profile {
    /// Every profile with its configuration name.
    pub const NAMES: [(&'static str, Profile); 3] =
        [("native", Profile::Native), ("ecs", Profile::Ecs), ("ocsf", Profile::Ocsf)];

    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Native => "native",
            Profile::Ecs => "ecs",
            Profile::Ocsf => "ocsf",
        }
    }

    /// Parses a configuration name.
    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::NAMES.iter().find(|(known, _)| *known == name).map(|(_, profile)| *profile)
    }
}

/// How a sink's events are written: the profile, and whether the original record goes along.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Output {
    /// The schema.
    pub profile: Profile,
    /// Add the original record (`event.original` in ECS, `raw_data` in OCSF). The native line
    /// always carries it as `raw`.
    pub preserve_original: bool,
}

impl Output {
    /// The contract line, unchanged.
    pub const NATIVE: Output = Output { profile: Profile::Native, preserve_original: false };

    /// True when events are written as the sources produced them.
    pub fn is_native(self) -> bool {
        self.profile == Profile::Native
    }
}

/// The events of `batch` (native lines) written in `output`'s profile: one line per event, with
/// the same ids, log types and times.
pub fn render_batch(batch: &EventBatch, output: Output) -> EventBatch {
    let mut rendered =
        EventBatch::with_capacity(batch.len(), batch.ndjson().len() + batch.ndjson().len() / 2);
    let created = quoted_date(now_ms());
    for event in batch.iter() {
        render_line(event.json, output, &created, rendered.line());
        rendered.finish_line(event.id.as_bytes(), event.log_type, event.timestamp);
    }
    rendered
}

/// Appends the native `line` written in `output`'s profile to `out`. `created` is the time of
/// collection (ECS `event.created`) as a quoted JSON date. A line that is not a native line (which the sources never
/// produce) becomes a document that says so and carries it whole.
pub(crate) fn render_line(line: &[u8], output: Output, created: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    let rendered = simdutf8::basic::from_utf8(line).ok().and_then(|text| {
        let native = NativeLine::parse(text).ok()?;
        match output.profile {
            Profile::Native => {
                out.extend_from_slice(line);
                Some(())
            }
            Profile::Ecs => ecs::write(&native, output.preserve_original, created, out),
            Profile::Ocsf => ocsf::write(&native, output.preserve_original, out),
        }
    });
    if rendered.is_none() {
        out.truncate(start);
        let text = String::from_utf8_lossy(line);
        match output.profile {
            Profile::Native => out.extend_from_slice(line),
            Profile::Ecs => ecs::write_failure(&text, out),
            Profile::Ocsf => ocsf::write_failure(&text, out),
        }
    }
}

/// Unix milliseconds as a quoted JSON string, `"YYYY-MM-DDTHH:MM:SS.mmmZ"`.
pub(super) fn quoted_date(milliseconds: i64) -> [u8; 26] {
    let mut quoted = [b'"'; 26];
    quoted[1..25].copy_from_slice(&super::time_text::format_unix_ms(milliseconds));
    quoted
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}

/// The parts of a native line the profiles use.
pub(super) struct NativeLine<'a> {
    pub(super) id: Cow<'a, str>,
    pub(super) log_type: LogType,
    pub(super) bucket: Option<Cow<'a, str>>,
    pub(super) key: Option<Cow<'a, str>>,
    /// The region of an event read from the CloudTrail API (`origin.region`).
    pub(super) region: Option<Cow<'a, str>>,
    /// Flow logs: every field of the line, by AWS name with `-` turned into `_`.
    pub(super) flow: Vec<(&'a str, Cow<'a, str>)>,
    /// Where the fields the profiles use are in `flow` (by [`field_slot`]; `u8::MAX`: absent).
    slots: [u8; FIELD_SLOTS],
    /// The original record: a CloudTrail record's JSON text, or a flow-log line (unescaped).
    pub(super) raw: Cow<'a, str>,
    /// A CloudTrail record, read.
    pub(super) record: Option<Node<'a>>,
}

impl<'a> NativeLine<'a> {
    fn parse(line: &'a str) -> Result<NativeLine<'a>, ScanError> {
        let bytes = line.as_bytes();
        let mut native = NativeLine {
            id: Cow::Borrowed(""),
            log_type: LogType::CloudTrail,
            bucket: None,
            key: None,
            region: None,
            flow: Vec::new(),
            slots: [u8::MAX; FIELD_SLOTS],
            raw: Cow::Borrowed(""),
            record: None,
        };
        let text = |at: usize, depth: u32, into: &mut Option<Cow<'a, str>>| {
            let mut span = None;
            let end = json_scan::text_at(bytes, at, depth, &mut span)?;
            *into = span.map(|span| span.text(line));
            Ok(end)
        };
        json_scan::object_at(bytes, 0, 0, |name, at, depth| match name {
            b"event_id" => {
                let mut id = None;
                let end = text(at, depth, &mut id)?;
                native.id = id.unwrap_or_default();
                Ok(end)
            }
            b"log_type" => {
                let mut log_type = None;
                let end = text(at, depth, &mut log_type)?;
                native.log_type =
                    log_type.as_deref().and_then(LogType::from_name).unwrap_or(LogType::CloudTrail);
                Ok(end)
            }
            b"origin" => json_scan::object_at(bytes, at, depth, |name, at, depth| match name {
                b"bucket" => text(at, depth, &mut native.bucket),
                b"key" => text(at, depth, &mut native.key),
                b"region" => text(at, depth, &mut native.region),
                _ => json_scan::skip_value_at(bytes, at, depth),
            }),
            b"metadata" if native.log_type == LogType::VpcFlowLogs => {
                json_scan::object_at(bytes, at, depth, |name, at, depth| {
                    let (value, end) = json_scan::scalar_at(bytes, at, depth)?;
                    let value = match value {
                        Scalar::Text(span) => span.text(line),
                        Scalar::Number(from, to) => Cow::Borrowed(&line[from..to]),
                        _ => return Ok(end),
                    };
                    if let Some(aws_name) = flow_field_name(line, name) {
                        if let Some(slot) = field_slot(aws_name).and_then(|slot| native.slots.get_mut(slot))
                            && let Ok(index) = u8::try_from(native.flow.len())
                        {
                            *slot = index;
                        }
                        native.flow.push((aws_name, value));
                    }
                    Ok(end)
                })
            }
            // The record is all a CloudTrail profile needs: the metadata is skipped by finding
            // the `raw` member after it. `,"raw":` cannot occur inside the metadata, whose
            // strings have their quotes escaped and whose names are the contract's own.
            b"metadata" => match bytes.get(at..).and_then(|rest| memchr::memmem::find(rest, b",\"raw\":")) {
                Some(offset) => Ok(at + offset),
                None => json_scan::skip_value_at(bytes, at, depth),
            },
            b"raw" if native.log_type == LogType::VpcFlowLogs => {
                let mut raw = None;
                let end = text(at, depth, &mut raw)?;
                native.raw = raw.unwrap_or_default();
                Ok(end)
            }
            b"raw" => {
                let (start, _) = json_scan::peek_at(bytes, at)?;
                let (record, end) = Node::parse_at(line, start, depth)?;
                native.raw = Cow::Borrowed(line.get(start..end).unwrap_or_default());
                native.record = Some(record);
                Ok(end)
            }
            _ => json_scan::skip_value_at(bytes, at, depth),
        })?;
        Ok(native)
    }

    /// A flow-log field by AWS name (with `_`), unless absent (`-` in the file). Called with a
    /// constant name, the name's slot is found at compile time.
    #[inline(always)]
    pub(super) fn flow(&self, name: &str) -> Option<&str> {
        match field_slot(name) {
            Some(slot) => {
                let index = *self.slots.get(slot)?;
                self.flow.get(usize::from(index)).map(|(_, value)| value.as_ref())
            }
            None => self.flow.iter().find(|(field, _)| *field == name).map(|(_, value)| value.as_ref()),
        }
    }

    /// A flow-log field read as an integer.
    #[inline(always)]
    pub(super) fn flow_int(&self, name: &str) -> Option<i64> {
        self.flow(name).and_then(|value| value.parse().ok())
    }

    /// The region of the event's origin: `origin.region` (CloudTrail API), else the region
    /// folder of the object key (`…/vpcflowlogs/REGION/…`, `…/CloudTrail/REGION/…`, or Hive's
    /// `aws-region=REGION`).
    pub(super) fn origin_region(&self) -> Option<&str> {
        if let Some(region) = &self.region {
            return Some(region);
        }
        let key = self.key.as_deref()?;
        let mut folders = key.split('/');
        while let Some(folder) = folders.next() {
            if let Some(region) = folder.strip_prefix("aws-region=") {
                return Some(region);
            }
            if matches!(folder, "vpcflowlogs" | "CloudTrail" | "CloudTrail-Insight") {
                return folders.next().filter(|region| region.contains('-'));
            }
        }
        None
    }
}

/// The AWS name (with `_`) of a field of the native flow metadata, which writes a few fields
/// under the seed product's names; `None` for the copies (`tag1`, `tag2`).
fn flow_field_name<'a>(line: &'a str, name: &[u8]) -> Option<&'a str> {
    let known = match name {
        b"account" => "account_id",
        b"dinterface" => "interface_id",
        b"sip" => "srcaddr",
        b"dip" => "dstaddr",
        b"sport" => "srcport",
        b"dport" => "dstport",
        b"protnum" => "protocol",
        b"status" => "log_status",
        b"tag1" | b"tag2" => return None,
        other => {
            // Every other name is the AWS name already, as written in the line.
            let range = line.as_bytes().as_ptr_range();
            if range.contains(&other.as_ptr()) {
                let start = other.as_ptr() as usize - range.start as usize;
                return line.get(start..start + other.len());
            }
            return FLOW_NAMES.iter().copied().find(|known| known.as_bytes() == other);
        }
    };
    Some(known)
}

/// How many flow fields have a slot.
const FIELD_SLOTS: usize = 36;

/// The slot of a flow field the profiles look up (AWS name with `_`).
#[inline(always)]
pub(super) fn field_slot(name: &str) -> Option<usize> {
    Some(match name {
        "version" => 0,
        "account_id" => 1,
        "interface_id" => 2,
        "srcaddr" => 3,
        "dstaddr" => 4,
        "srcport" => 5,
        "dstport" => 6,
        "protocol" => 7,
        "packets" => 8,
        "bytes" => 9,
        "start" => 10,
        "end" => 11,
        "action" => 12,
        "log_status" => 13,
        "vpc_id" => 14,
        "subnet_id" => 15,
        "instance_id" => 16,
        "tcp_flags" => 17,
        "type" => 18,
        "pkt_srcaddr" => 19,
        "pkt_dstaddr" => 20,
        "region" => 21,
        "az_id" => 22,
        "sublocation_type" => 23,
        "sublocation_id" => 24,
        "pkt_src_aws_service" => 25,
        "pkt_dst_aws_service" => 26,
        "flow_direction" => 27,
        "traffic_path" => 28,
        "ecs_cluster_arn" => 29,
        "ecs_cluster_name" => 30,
        "ecs_container_instance_arn" => 31,
        "ecs_container_instance_id" => 32,
        "ecs_container_id" => 33,
        "ecs_service_name" => 34,
        "reject_reason" => 35,
        _ => return None,
    })
}

/// Flow field names that could arrive escaped (none do in practice: the names are ASCII).
const FLOW_NAMES: &[&str] = &["version", "action", "start", "end", "packets", "bytes"];

/// True when `text` is an IPv4 or IPv6 address literal.
pub(super) fn is_ip(text: &str) -> bool {
    text.parse::<std::net::IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names() {
        for (name, profile) in Profile::NAMES {
            assert_eq!(Profile::from_name(name), Some(profile));
            assert_eq!(profile.as_str(), name);
        }
        assert_eq!(Profile::from_name("ECS"), None);
    }

    #[test]
    fn native_lines_are_read_back() {
        let line = r#"{"event_id":"e1","log_type":"VPCFlowLogs","time":"t","origin":{"source":"s","bucket":"b","key":"AWSLogs/1/vpcflowlogs/eu-west-1/2024/x.log.gz","line":2},"metadata":{"version":2,"account":"1","sip":"10.0.0.1","tag1":"ACCEPT","action":"ACCEPT","pkt_srcaddr":"10.0.0.9"},"raw":"2 1 10.0.0.1 \"q"}"#;
        let native = NativeLine::parse(line).unwrap();
        assert_eq!(native.id, "e1");
        assert_eq!(native.log_type, LogType::VpcFlowLogs);
        assert_eq!(native.bucket.as_deref(), Some("b"));
        assert_eq!(native.origin_region(), Some("eu-west-1"));
        assert_eq!(native.flow("version"), Some("2"));
        assert_eq!(native.flow("account_id"), Some("1"));
        assert_eq!(native.flow("srcaddr"), Some("10.0.0.1"));
        assert_eq!(native.flow("pkt_srcaddr"), Some("10.0.0.9"));
        assert_eq!(native.flow("tag1"), None);
        assert_eq!(native.flow.len(), 5);
        assert_eq!(native.raw, "2 1 10.0.0.1 \"q");

        let line = r#"{"event_id":"e2","log_type":"CloudTrail","time":"t","origin":{"source":"api","region":"us-east-2"},"metadata":{"vmid":"x"},"raw":{"eventName":"x"}}"#;
        let native = NativeLine::parse(line).unwrap();
        assert_eq!(native.raw, r#"{"eventName":"x"}"#);
        assert_eq!(native.origin_region(), Some("us-east-2"));
        assert!(native.flow.is_empty());
    }

    #[test]
    fn a_line_that_is_not_native_is_carried_whole() {
        let mut out = Vec::new();
        render_line(b"not json", Output { profile: Profile::Ecs, preserve_original: false }, b"0", &mut out);
        let document: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(document["event"]["kind"], "pipeline_error");
        assert_eq!(document["event"]["original"], "not json");
        out.clear();
        render_line(b"{}", Output { profile: Profile::Ocsf, preserve_original: false }, b"0", &mut out);
        let document: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(document["raw_data"], "{}");
        assert_eq!(document["class_uid"], 0);
    }
}
