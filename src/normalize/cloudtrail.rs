//! A CloudTrail record → the contract event with SIEM metadata (design.md §6).
//!
//! The fields the metadata needs were located when the record was scanned
//! (`decode::cloudtrail::RecordFields`, lenient: a field of an unexpected JSON type counts as
//! absent); here they are read and written out. Unknown fields stay in `raw`.
//!
//! | metadata | from |
//! |---|---|
//! | `vmid`, `vendorinfo`, `command` | `eventName`, `eventSource`, `eventSource:eventName` (Insights: from `insightDetails`) |
//! | `account`, `domainorigin` | `recipientAccountId`, `userIdentity.accountId` |
//! | `login` | `userIdentity.userName`, else `sessionContext.sessionIssuer.userName`, else the ARN's last segment |
//! | `user_arn`, `identity_type`, `session` | `userIdentity.arn`, `.type`, `.accessKeyId` |
//! | `sip` / `sname` | `sourceIPAddress` when it is an IP / when it is a host or service name |
//! | `useragent`, `region` | `userAgent`, `awsRegion` |
//! | `result`, `reason` | `errorCode` (else `Success`), `errorMessage` |
//! | `object`, `objecttype` | first `resources[]` `ARN`/`type`, else the request's main target |
//! | `tag1`, `status` | `eventType`, `read`/`write` from `readOnly` |

use std::borrow::Cow;
use std::net::Ipv6Addr;

use super::json::{self, Content, PaddedPrefix, SLACK, SliceWriter, TextMembers};
use super::{EventBatch, ObjectContext, parse_rfc3339, push_envelope_start};
use crate::decode::LogType;
use crate::decode::cloudtrail::{REQUEST_TARGETS, RecordFields, scan_record};
use crate::decode::json_scan::{ScanFailure, Span};

/// A record that could not be normalized.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The record is not valid UTF-8.
    #[error("record {record}: not UTF-8 text")]
    NotText {
        /// 1-based record position.
        record: u64,
    },
    /// The record is not valid JSON (or not an object).
    #[error("record {record}: invalid JSON at byte {at}: expected {expected}")]
    Json {
        /// 1-based record position.
        record: u64,
        /// Offset of the offending byte.
        at: usize,
        /// What the grammar allowed there.
        expected: &'static str,
    },
}

/// Normalizes record number `record` of an object (1-based) from its raw JSON bytes (a record
/// of the LookupEvents API, or one not read by `decode::cloudtrail::RecordReader`) into `out`.
pub fn normalize_record(
    context: &ObjectContext,
    record: u64,
    raw: &[u8],
    out: &mut EventBatch,
) -> Result<(), RecordError> {
    let text = std::str::from_utf8(raw).map_err(|_| RecordError::NotText { record })?.trim();
    let invalid = |at, expected| RecordError::Json { record, at, expected };
    let (end, fields) = scan_record(text.as_bytes()).map_err(|error| match error.failure() {
        ScanFailure::Incomplete => invalid(text.len(), "more of the record"),
        ScanFailure::Invalid { at, expected } => invalid(at, expected.as_str()),
    })?;
    if end != text.len() {
        return Err(invalid(end, "nothing after the record"));
    }
    normalize_fields(context, record, text, &fields, out);
    Ok(())
}

/// Normalizes record number `record` (1-based) whose `text` was scanned into `fields`, into `out`.
pub fn normalize_fields(
    context: &ObjectContext,
    record: u64,
    text: &str,
    fields: &RecordFields,
    batch: &mut EventBatch,
) {
    let read = |span: &Option<Span>| span.map(|span| span.text(text));
    let positional;
    // The id as the line writes it (JSON string content) and as sinks see it (decoded).
    let (id_content, id) = match fields.event_id.filter(|span| !span.is_empty()) {
        Some(span) => (span.json_content(text).as_bytes(), span.text(text)),
        None => {
            positional = context.positional_id(record);
            (positional.as_bytes(), Cow::Borrowed(positional.as_str()))
        }
    };
    let event_time = read(&fields.event_time);
    let (time, timestamp) = event_time
        .as_deref()
        .and_then(parse_rfc3339)
        .unwrap_or_else(|| (Cow::Owned(super::format_unix(context.ingest_time)), context.ingest_time));

    let out = batch.line();
    out.reserve(text.len() + 1024);
    push_envelope_start(out, id_content, LogType::CloudTrail, time.as_bytes());
    context.push_origin(out, "record", record);
    out.extend_from_slice(b",\"metadata\":");
    push_metadata(out, &Record::read(text, fields));
    out.extend_from_slice(b",\"raw\":");
    out.extend_from_slice(text.as_bytes());
    out.push(b'}');
    batch.finish_line(id.as_bytes(), LogType::CloudTrail, timestamp);
}

/// The strings the metadata is made of, as JSON string content (escapes as written in the
/// record, see [`Span::json_content`]): copied between quotes without looking at them again.
struct Record<'a> {
    event_source: Option<Content<'a>>,
    event_name: Option<Content<'a>>,
    recipient_account_id: Option<Content<'a>>,
    account_id: Option<Content<'a>>,
    login: Option<Content<'a>>,
    /// The login when it had to be escaped again (the last segment of an escaped ARN).
    login_escaped: Option<String>,
    arn: Option<Content<'a>>,
    identity_type: Option<Content<'a>>,
    source_address: Option<Content<'a>>,
    source_is_ip: bool,
    user_agent: Option<Content<'a>>,
    aws_region: Option<Content<'a>>,
    error_code: Option<Content<'a>>,
    error_message: Option<Content<'a>>,
    session: Option<Content<'a>>,
    object: Option<Content<'a>>,
    object_type: Option<Content<'a>>,
    event_type: Option<Content<'a>>,
    read_only: Option<bool>,
}

impl<'a> Record<'a> {
    fn read(text: &'a str, fields: &RecordFields) -> Self {
        let bytes = text.as_bytes();
        let content = |span: &Option<Span>| span.map(|span| Content::within(bytes, span.range()));
        let non_empty = |span: &Option<Span>| content(&span.filter(|span| !span.is_empty()));
        let identity = &fields.identity;
        let mut login_escaped = None;
        let login =
            non_empty(&identity.user_name).or_else(|| non_empty(&identity.issuer_user_name)).or_else(|| {
                let arn = identity.arn?;
                if arn.is_escaped() {
                    login_escaped = arn_login_escaped(&arn.text(text));
                    return None;
                }
                // The last segment is the end of the ARN.
                let last = arn_last_segment(arn.json_content(text))?;
                Some(Content::within(bytes, arn.range().end - last.len()..arn.range().end))
            });
        let source_address = fields.source_ip_address.filter(|span| !span.is_empty());
        let (object, object_type) = main_object(text, fields);
        Record {
            event_source: content(&fields.event_source).or_else(|| content(&fields.insight_event_source)),
            event_name: content(&fields.event_name).or_else(|| content(&fields.insight_event_name)),
            recipient_account_id: content(&fields.recipient_account_id),
            account_id: content(&identity.account_id),
            login,
            login_escaped,
            arn: content(&identity.arn),
            identity_type: content(&identity.kind),
            source_address: content(&source_address),
            source_is_ip: source_address.is_some_and(|span| is_ip_address(&span.text(text))),
            user_agent: content(&fields.user_agent),
            aws_region: content(&fields.aws_region),
            error_code: content(&fields.error_code),
            error_message: content(&fields.error_message),
            session: non_empty(&identity.access_key_id),
            object,
            object_type,
            event_type: content(&fields.event_type),
            read_only: fields.read_only,
        }
    }
}

const VMID: PaddedPrefix = PaddedPrefix::text_member("vmid");
const VENDORINFO: PaddedPrefix = PaddedPrefix::text_member("vendorinfo");
const COMMAND: PaddedPrefix = PaddedPrefix::text_member("command");
const ACCOUNT: PaddedPrefix = PaddedPrefix::text_member("account");
const DOMAINORIGIN: PaddedPrefix = PaddedPrefix::text_member("domainorigin");
const LOGIN: PaddedPrefix = PaddedPrefix::text_member("login");
const USER_ARN: PaddedPrefix = PaddedPrefix::text_member("user_arn");
const IDENTITY_TYPE: PaddedPrefix = PaddedPrefix::text_member("identity_type");
const SIP: PaddedPrefix = PaddedPrefix::text_member("sip");
const SNAME: PaddedPrefix = PaddedPrefix::text_member("sname");
const USERAGENT: PaddedPrefix = PaddedPrefix::text_member("useragent");
const REGION: PaddedPrefix = PaddedPrefix::text_member("region");
const RESULT: PaddedPrefix = PaddedPrefix::text_member("result");
const REASON: PaddedPrefix = PaddedPrefix::text_member("reason");
const SESSION: PaddedPrefix = PaddedPrefix::text_member("session");
const OBJECT: PaddedPrefix = PaddedPrefix::text_member("object");
const OBJECTTYPE: PaddedPrefix = PaddedPrefix::text_member("objecttype");
const TAG1: PaddedPrefix = PaddedPrefix::text_member("tag1");
const STATUS: PaddedPrefix = PaddedPrefix::text_member("status");

/// Writes the metadata object: into room reserved once, with fixed-size copies for the member
/// names and the short values (see [`SliceWriter`]).
fn push_metadata(out: &mut Vec<u8>, record: &Record<'_>) {
    let source_ip = |is_ip: bool| record.source_address.filter(|_| record.source_is_ip == is_ip);
    let login = record.login.or_else(|| record.login_escaped.as_deref().map(Content::whole));
    let head: &TextMembers<'_, '_> = &[(&VMID, record.event_name), (&VENDORINFO, record.event_source)];
    let command = record.event_source.zip(record.event_name);
    let tail: &TextMembers<'_, '_> = &[
        (&ACCOUNT, record.recipient_account_id),
        (&DOMAINORIGIN, record.account_id),
        (&LOGIN, login),
        (&USER_ARN, record.arn),
        (&IDENTITY_TYPE, record.identity_type),
        (&SIP, source_ip(true)),
        (&SNAME, source_ip(false)),
        (&USERAGENT, record.user_agent),
        (&REGION, record.aws_region),
        (&RESULT, Some(record.error_code.unwrap_or(Content::whole("Success")))),
        (&REASON, record.error_message),
        (&SESSION, record.session),
        (&OBJECT, record.object),
        (&OBJECTTYPE, record.object_type),
        (&TAG1, record.event_type),
        (&STATUS, record.read_only.map(|read_only| Content::whole(if read_only { "read" } else { "write" }))),
    ];
    let command_room = command.map_or(0, |(source, name)| json::PADDED + source.len() + name.len() + 2);
    let room = json::text_members_room(head) + command_room + json::text_members_room(tail);
    let start = out.len();
    out.resize(start + room + SLACK, 0);
    let mut writer = SliceWriter::new(&mut out[start..]);
    writer.put_text_members(head);
    if let Some((source, name)) = command {
        writer.put_padded_prefix(&COMMAND);
        writer.put_content(source);
        writer.put(b':');
        writer.put_content(name);
        writer.put(b'"');
    }
    writer.put_text_members(tail);
    let end = start + writer.written();
    out.truncate(end);
    json::close_object(out, start);
}

/// The first `resources[]` entry, else the request's main target (as JSON string content).
fn main_object<'a>(text: &'a str, fields: &RecordFields) -> (Option<Content<'a>>, Option<Content<'a>>) {
    let content = |span: Span| Content::within(text.as_bytes(), span.range());
    let resource = &fields.resource;
    if let Some(arn) = resource.arn.or(resource.arn_prefix) {
        return (Some(content(arn)), resource.kind.map(content));
    }
    match fields.request_target {
        Some((rank, span)) => (Some(content(span)), Some(Content::whole(REQUEST_TARGETS[rank].1))),
        None => (None, None),
    }
}

/// True when `text` is an IP address as `std::net::IpAddr` reads it. Nearly every
/// `sourceIPAddress` is IPv4 or a service name: both are settled here in a few steps, where std's
/// general parser costs some 250 instructions; text with a `:` goes to std's IPv6 parser.
fn is_ip_address(text: &str) -> bool {
    is_ipv4(text.as_bytes()) || (text.contains(':') && text.parse::<Ipv6Addr>().is_ok())
}

/// Four decimal octets of 0–255 joined by dots, without leading zeros (as std reads them).
fn is_ipv4(bytes: &[u8]) -> bool {
    let mut octets = 0;
    for octet in bytes.split(|&byte| byte == b'.') {
        octets += 1;
        let valid = match *octet {
            [digit] => digit.is_ascii_digit(),
            [first, second] => (b'1'..=b'9').contains(&first) && second.is_ascii_digit(),
            [first, second, third] => {
                (b'1'..=b'2').contains(&first)
                    && second.is_ascii_digit()
                    && third.is_ascii_digit()
                    && (first == b'1' || [second, third] <= [b'5', b'5'])
            }
            _ => false,
        };
        if !valid || octets > 4 {
            return false;
        }
    }
    octets == 4
}

/// The login an escaped ARN names (its last segment, decoded in `arn`), as JSON string content.
fn arn_login_escaped(arn: &str) -> Option<String> {
    let last = arn_last_segment(arn)?;
    let quoted = serde_json::to_string(last).expect("a string serializes");
    Some(quoted[1..quoted.len() - 1].to_string())
}

/// `arn:aws:iam::1:user/path/Alice` → `Alice`; `arn:aws:iam::1:root` → `root`.
fn arn_last_segment(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let last = resource.rsplit('/').next()?;
    (!last.is_empty()).then_some(last)
}

#[cfg(test)]
mod tests;
