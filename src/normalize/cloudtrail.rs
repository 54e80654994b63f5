//! A CloudTrail record → the contract event with SIEM metadata (design.md §6).
//!
//! Only the fields the metadata needs are parsed, into borrowed, lenient types: a field of an
//! unexpected JSON type is treated as absent rather than failing the record, and unknown fields
//! are ignored (they stay in `raw`). Parsing the record still checks its whole JSON syntax, so a
//! record that is not valid JSON is reported instead of being forwarded.
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
use std::fmt;
use std::net::IpAddr;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::json::{ObjectWriter, member};
use super::{Event, ObjectContext, parse_rfc3339, push_envelope_start};
use crate::decode::LogType;

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
    #[error("record {record}: invalid JSON: {source}")]
    Json {
        /// 1-based record position.
        record: u64,
        /// What the parser said.
        source: serde_json::Error,
    },
}

/// Normalizes record number `record` of an object (1-based) from its raw JSON bytes.
pub fn normalize_record(context: &ObjectContext, record: u64, raw: &[u8]) -> Result<Event, RecordError> {
    let text = std::str::from_utf8(raw).map_err(|_| RecordError::NotText { record })?;
    let parsed: Record<'_> =
        serde_json::from_str(text).map_err(|source| RecordError::Json { record, source })?;
    let id = match parsed.event_id.as_deref() {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => context.positional_id(record),
    };
    let (time, timestamp) = parsed
        .event_time
        .as_deref()
        .and_then(parse_rfc3339)
        .unwrap_or_else(|| (super::format_unix(context.ingest_time), context.ingest_time));

    let mut out = Vec::with_capacity(text.len() + 768);
    push_envelope_start(&mut out, &id, LogType::CloudTrail, &time);
    context.push_origin(&mut out, "record", record);
    out.extend_from_slice(b",\"metadata\":");
    push_metadata(&mut out, &parsed);
    out.extend_from_slice(b",\"raw\":");
    out.extend_from_slice(text.trim().as_bytes());
    out.push(b'}');
    Ok(Event { id, log_type: LogType::CloudTrail, timestamp, json: out })
}

fn push_metadata(out: &mut Vec<u8>, record: &Record<'_>) {
    let insight = record.insight_details.0.as_ref();
    let event_name = record.event_name.as_deref().or(insight.and_then(|i| i.event_name.as_deref()));
    let event_source = record.event_source.as_deref().or(insight.and_then(|i| i.event_source.as_deref()));
    let identity = record.user_identity.0.as_ref();
    let source_address = record.source_ip_address.as_deref().filter(|a| !a.is_empty());
    let is_ip = source_address.is_some_and(|a| a.parse::<IpAddr>().is_ok());
    let (object, object_type) = main_object(record);

    let mut meta = ObjectWriter::open(out);
    meta.text(member!("vmid"), event_name);
    meta.text(member!("vendorinfo"), event_source);
    if let (Some(source), Some(name)) = (event_source, event_name) {
        meta.joined(member!("command"), source, ':', name);
    }
    meta.text(member!("account"), record.recipient_account_id.as_deref());
    meta.text(member!("domainorigin"), identity.and_then(|i| i.account_id.as_deref()));
    meta.text(member!("login"), identity.and_then(UserIdentity::login));
    meta.text(member!("user_arn"), identity.and_then(|i| i.arn.as_deref()));
    meta.text(member!("identity_type"), identity.and_then(|i| i.kind.as_deref()));
    meta.text(member!("sip"), source_address.filter(|_| is_ip));
    meta.text(member!("sname"), source_address.filter(|_| !is_ip));
    meta.text(member!("useragent"), record.user_agent.as_deref());
    meta.text(member!("region"), record.aws_region.as_deref());
    meta.text(member!("result"), Some(record.error_code.as_deref().unwrap_or("Success")));
    meta.text(member!("reason"), record.error_message.as_deref());
    meta.text(
        member!("session"),
        identity.and_then(|i| i.access_key_id.as_deref()).filter(|k| !k.is_empty()),
    );
    meta.text(member!("object"), object);
    meta.text(member!("objecttype"), object_type);
    meta.text(member!("tag1"), record.event_type.as_deref());
    meta.text(
        member!("status"),
        record.read_only.0.map(|read_only| if read_only { "read" } else { "write" }),
    );
    meta.close();
}

/// The first `resources[]` entry, else the request's main target.
fn main_object<'r>(record: &'r Record<'_>) -> (Option<&'r str>, Option<&'r str>) {
    if let Some(first) = record.resources.0.as_ref().and_then(|list| list.first()) {
        let arn = first.arn.as_deref().or(first.arn_prefix.as_deref());
        if arn.is_some() {
            return (arn, first.kind.as_deref());
        }
    }
    match record.request_parameters.0.as_ref() {
        Some(target) => target.main(),
        None => (None, None),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    #[serde(borrow, default, rename = "eventID")]
    event_id: Text<'a>,
    #[serde(borrow, default)]
    event_time: Text<'a>,
    #[serde(borrow, default)]
    event_source: Text<'a>,
    #[serde(borrow, default)]
    event_name: Text<'a>,
    #[serde(borrow, default)]
    aws_region: Text<'a>,
    #[serde(borrow, default, rename = "sourceIPAddress")]
    source_ip_address: Text<'a>,
    #[serde(borrow, default)]
    user_agent: Text<'a>,
    #[serde(borrow, default)]
    error_code: Text<'a>,
    #[serde(borrow, default)]
    error_message: Text<'a>,
    #[serde(borrow, default)]
    event_type: Text<'a>,
    #[serde(borrow, default)]
    recipient_account_id: Text<'a>,
    #[serde(default)]
    read_only: Flag,
    #[serde(borrow, default)]
    user_identity: Lenient<UserIdentity<'a>>,
    #[serde(borrow, default)]
    resources: Lenient<Vec<Resource<'a>>>,
    #[serde(borrow, default)]
    request_parameters: Lenient<RequestTarget<'a>>,
    #[serde(borrow, default)]
    insight_details: Lenient<InsightDetails<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserIdentity<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Text<'a>,
    #[serde(borrow, default)]
    user_name: Text<'a>,
    #[serde(borrow, default)]
    arn: Text<'a>,
    #[serde(borrow, default)]
    account_id: Text<'a>,
    #[serde(borrow, default)]
    access_key_id: Text<'a>,
    #[serde(borrow, default)]
    session_context: Lenient<SessionContext<'a>>,
}

impl UserIdentity<'_> {
    fn login(&self) -> Option<&str> {
        let issuer = self.session_context.0.as_ref().and_then(|c| c.session_issuer.0.as_ref());
        self.user_name
            .as_deref()
            .filter(|name| !name.is_empty())
            .or(issuer.and_then(|i| i.user_name.as_deref()).filter(|name| !name.is_empty()))
            .or(self.arn.as_deref().and_then(arn_last_segment))
    }
}

/// `arn:aws:iam::1:user/path/Alice` → `Alice`; `arn:aws:iam::1:root` → `root`.
fn arn_last_segment(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let last = resource.rsplit('/').next()?;
    (!last.is_empty()).then_some(last)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionContext<'a> {
    #[serde(borrow, default)]
    session_issuer: Lenient<SessionIssuer<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionIssuer<'a> {
    #[serde(borrow, default)]
    user_name: Text<'a>,
}

#[derive(Deserialize)]
struct Resource<'a> {
    #[serde(borrow, default, rename = "ARN")]
    arn: Text<'a>,
    #[serde(borrow, default, rename = "ARNPrefix")]
    arn_prefix: Text<'a>,
    #[serde(borrow, default, rename = "type")]
    kind: Text<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InsightDetails<'a> {
    #[serde(borrow, default)]
    event_source: Text<'a>,
    #[serde(borrow, default)]
    event_name: Text<'a>,
}

/// The request parameters that name the main target of common calls, in order of preference.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestTarget<'a> {
    #[serde(borrow, default)]
    bucket_name: Text<'a>,
    #[serde(borrow, default)]
    instance_id: Text<'a>,
    #[serde(borrow, default)]
    function_name: Text<'a>,
    #[serde(borrow, default)]
    table_name: Text<'a>,
    #[serde(borrow, default)]
    queue_url: Text<'a>,
    #[serde(borrow, default)]
    topic_arn: Text<'a>,
    #[serde(borrow, default)]
    key_id: Text<'a>,
    #[serde(borrow, default)]
    secret_id: Text<'a>,
    #[serde(borrow, default, rename = "dBInstanceIdentifier")]
    db_instance_identifier: Text<'a>,
    #[serde(borrow, default)]
    log_group_name: Text<'a>,
    #[serde(borrow, default)]
    stack_name: Text<'a>,
    #[serde(borrow, default)]
    group_id: Text<'a>,
    #[serde(borrow, default)]
    vpc_id: Text<'a>,
    #[serde(borrow, default)]
    role_name: Text<'a>,
    #[serde(borrow, default)]
    policy_arn: Text<'a>,
    #[serde(borrow, default)]
    group_name: Text<'a>,
    #[serde(borrow, default)]
    user_name: Text<'a>,
}

impl RequestTarget<'_> {
    fn main(&self) -> (Option<&str>, Option<&str>) {
        let candidates = [
            (&self.bucket_name, "AWS::S3::Bucket"),
            (&self.instance_id, "AWS::EC2::Instance"),
            (&self.function_name, "AWS::Lambda::Function"),
            (&self.table_name, "AWS::DynamoDB::Table"),
            (&self.queue_url, "AWS::SQS::Queue"),
            (&self.topic_arn, "AWS::SNS::Topic"),
            (&self.key_id, "AWS::KMS::Key"),
            (&self.secret_id, "AWS::SecretsManager::Secret"),
            (&self.db_instance_identifier, "AWS::RDS::DBInstance"),
            (&self.log_group_name, "AWS::Logs::LogGroup"),
            (&self.stack_name, "AWS::CloudFormation::Stack"),
            (&self.group_id, "AWS::EC2::SecurityGroup"),
            (&self.vpc_id, "AWS::EC2::VPC"),
            (&self.role_name, "AWS::IAM::Role"),
            (&self.policy_arn, "AWS::IAM::Policy"),
            (&self.group_name, "AWS::IAM::Group"),
            (&self.user_name, "AWS::IAM::User"),
        ];
        for (value, kind) in candidates {
            if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                return (Some(value), Some(kind));
            }
        }
        (None, None)
    }
}

/// Visitor methods that read every scalar JSON value as `$absent`.
macro_rules! scalars_read_as {
    ($absent:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($absent)
        }
        numbers_and_null_read_as!($absent);
    };
}

/// Visitor methods that read numbers and `null` as `$absent`.
macro_rules! numbers_and_null_read_as {
    ($absent:expr) => {
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($absent)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($absent)
        }
    };
}

/// Visitor methods that consume an object or array and read it as `$absent`.
macro_rules! containers_read_as {
    ($absent:expr) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($absent)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($absent)
        }
    };
}

/// A string field; any other JSON type reads as absent.
#[derive(Default)]
struct Text<'a>(Option<Cow<'a, str>>);

impl Text<'_> {
    fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
            scalars_read_as!(Text(None));
            containers_read_as!(Text(None));
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// `readOnly`: a JSON boolean in log files, the string `"true"`/`"false"` in LookupEvents.
#[derive(Default)]
struct Flag(Option<bool>);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FlagVisitor;
        impl<'de> Visitor<'de> for FlagVisitor {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Flag(Some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Flag(match v {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                }))
            }
            numbers_and_null_read_as!(Flag(None));
            containers_read_as!(Flag(None));
        }
        deserializer.deserialize_any(FlagVisitor)
    }
}

/// An object or array field; a value of another JSON type (or `null`) reads as absent.
struct Lenient<T>(Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LenientVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for LenientVisitor<T> {
            type Value = Lenient<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|v| Lenient(Some(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(|v| Lenient(Some(v)))
            }
            fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            scalars_read_as!(Lenient(None));
        }
        deserializer.deserialize_any(LenientVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests;
