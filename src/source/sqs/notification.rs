//! What an SQS message says: which S3 objects were created, in every shape AWS sends, with no
//! setting. Pure functions of the message body: no I/O, so they can be tested and fuzzed alone.
//!
//! Shapes (spec `aws-formats.md` §2.7, §4.3–4.4):
//! - an S3 event notification `{"Records":[{"eventName":"ObjectCreated:Put","s3":{…}}]}`, keys
//!   form-URL-encoded (`+` is a space); only `ObjectCreated:*` records name objects;
//! - the same inside an SNS envelope (`{"Type":"Notification","Message":"<JSON as a string>"}`),
//!   or delivered raw by SNS (the body is the inner message itself);
//! - an EventBridge `Object Created` event (`{"detail-type":"Object Created","detail":{"bucket":
//!   {"name"},"object":{"key","size","etag","sequencer"}}}`), keys not encoded;
//! - CloudTrail's own SNS notification `{"s3Bucket":"…","s3ObjectKey":["…",…]}`;
//! - `s3:TestEvent` and CloudTrail's `CloudTrail validation message.`: nothing to read.

use serde_json::Value;

/// One object a message names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    /// The bucket.
    pub bucket: String,
    /// The key, decoded.
    pub key: String,
    /// The size, when the message gives it.
    pub size: Option<u64>,
    /// The ETag, when the message gives it (without quotes).
    pub etag: Option<String>,
    /// The S3 sequencer, when the message gives it.
    pub sequencer: Option<String>,
}

/// What a message is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notification {
    /// Objects were created (one message may name several).
    Objects(Vec<ObjectRef>),
    /// A test message (`s3:TestEvent`, `CloudTrail validation message.`): delete it.
    Test(&'static str),
    /// A well-formed notification that names no created object (`ObjectRemoved:*`, another
    /// EventBridge event).
    NothingCreated(String),
}

/// Why a message cannot be understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// The body is not JSON (and not a known text message).
    #[error("not JSON: {0}")]
    NotJson(String),
    /// JSON, but of no known shape.
    #[error("not an S3, SNS, EventBridge or CloudTrail notification: {0}")]
    UnknownShape(String),
    /// A known shape with a field missing or of the wrong type.
    #[error("{0}")]
    Malformed(String),
}

/// The literal text CloudTrail publishes when an SNS topic is attached to a trail.
const CLOUDTRAIL_VALIDATION: &str = "CloudTrail validation message.";

/// Reads a message body.
pub fn parse(body: &str) -> Result<Notification, NotificationError> {
    if body.trim() == CLOUDTRAIL_VALIDATION {
        return Ok(Notification::Test("CloudTrail validation message"));
    }
    let value: Value =
        serde_json::from_str(body).map_err(|error| NotificationError::NotJson(error.to_string()))?;
    if value.get("Type").and_then(Value::as_str) == Some("Notification") {
        let Some(inner) = value.get("Message").and_then(Value::as_str) else {
            return Err(NotificationError::Malformed("SNS envelope without a Message string".into()));
        };
        return parse_inner(inner);
    }
    read(&value)
}

/// The inner message of an SNS envelope: JSON as a string, or CloudTrail's validation text.
fn parse_inner(inner: &str) -> Result<Notification, NotificationError> {
    if inner.trim() == CLOUDTRAIL_VALIDATION {
        return Ok(Notification::Test("CloudTrail validation message"));
    }
    let value: Value = serde_json::from_str(inner)
        .map_err(|error| NotificationError::NotJson(format!("SNS Message: {error}")))?;
    read(&value)
}

fn read(value: &Value) -> Result<Notification, NotificationError> {
    if let Some(records) = value.get("Records") {
        return s3_event(records);
    }
    if value.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(Notification::Test("s3:TestEvent"));
    }
    if let Some(keys) = value.get("s3ObjectKey") {
        return cloudtrail_sns(value, keys);
    }
    if value.get("detail-type").is_some() && value.get("detail").is_some() {
        return eventbridge(value);
    }
    let keys: Vec<&str> =
        value.as_object().map(|o| o.keys().map(String::as_str).take(8).collect()).unwrap_or_default();
    Err(NotificationError::UnknownShape(format!("members {keys:?}")))
}

fn s3_event(records: &Value) -> Result<Notification, NotificationError> {
    let records =
        records.as_array().ok_or_else(|| NotificationError::Malformed("Records is not an array".into()))?;
    let mut objects = Vec::new();
    let mut other = Vec::new();
    for (index, record) in records.iter().enumerate() {
        let event = record.get("eventName").and_then(Value::as_str).unwrap_or("");
        if !event.trim_start_matches("s3:").starts_with("ObjectCreated:") {
            other.push(if event.is_empty() { "(no eventName)".to_string() } else { event.to_string() });
            continue;
        }
        let malformed = |what: &str| NotificationError::Malformed(format!("Records[{index}]: {what}"));
        let s3 = record.get("s3").ok_or_else(|| malformed("no s3 member"))?;
        let bucket = s3
            .pointer("/bucket/name")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("no s3.bucket.name"))?;
        let object = s3.get("object").ok_or_else(|| malformed("no s3.object"))?;
        let key = object.get("key").and_then(Value::as_str).ok_or_else(|| malformed("no s3.object.key"))?;
        objects.push(ObjectRef {
            bucket: bucket.to_string(),
            key: form_decode(key).map_err(|reason| malformed(&format!("s3.object.key {key:?}: {reason}")))?,
            size: object.get("size").and_then(Value::as_u64),
            etag: text(object, "eTag"),
            sequencer: text(object, "sequencer"),
        });
    }
    if objects.is_empty() {
        return Ok(Notification::NothingCreated(if other.is_empty() {
            "no records".into()
        } else {
            other.join(", ")
        }));
    }
    Ok(Notification::Objects(objects))
}

fn cloudtrail_sns(value: &Value, keys: &Value) -> Result<Notification, NotificationError> {
    let bucket = value
        .get("s3Bucket")
        .and_then(Value::as_str)
        .ok_or_else(|| NotificationError::Malformed("CloudTrail notification without s3Bucket".into()))?;
    let keys =
        keys.as_array().ok_or_else(|| NotificationError::Malformed("s3ObjectKey is not an array".into()))?;
    let mut objects = Vec::with_capacity(keys.len());
    for key in keys {
        let key = key
            .as_str()
            .ok_or_else(|| NotificationError::Malformed("s3ObjectKey holds a non-string".into()))?;
        objects.push(ObjectRef {
            bucket: bucket.to_string(),
            key: key.to_string(),
            size: None,
            etag: None,
            sequencer: None,
        });
    }
    if objects.is_empty() {
        return Ok(Notification::NothingCreated("CloudTrail notification with no key".into()));
    }
    Ok(Notification::Objects(objects))
}

fn eventbridge(value: &Value) -> Result<Notification, NotificationError> {
    let kind = value.get("detail-type").and_then(Value::as_str).unwrap_or("");
    if kind != "Object Created" {
        return Ok(Notification::NothingCreated(format!("EventBridge {kind:?}")));
    }
    let detail = &value["detail"];
    let malformed = |what: &str| NotificationError::Malformed(format!("EventBridge Object Created: {what}"));
    let bucket = detail
        .pointer("/bucket/name")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("no detail.bucket.name"))?;
    let object = detail.get("object").ok_or_else(|| malformed("no detail.object"))?;
    let key = object.get("key").and_then(Value::as_str).ok_or_else(|| malformed("no detail.object.key"))?;
    Ok(Notification::Objects(vec![ObjectRef {
        bucket: bucket.to_string(),
        key: key.to_string(),
        size: object.get("size").and_then(Value::as_u64),
        etag: text(object, "etag"),
        sequencer: text(object, "sequencer"),
    }]))
}

fn text(object: &Value, member: &str) -> Option<String> {
    object.get(member).and_then(Value::as_str).map(|text| text.trim_matches('"').to_string())
}

/// Decodes an S3 event key: `+` is a space, then `%XX` escapes (also `%2F` for `/`).
pub fn form_decode(key: &str) -> Result<String, String> {
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| "percent escapes that are not UTF-8".to_string())
}

/// The first characters of a body, on one line, for messages about it.
pub fn excerpt(body: &str) -> String {
    let flat: String = body.chars().map(|c| if c.is_control() { ' ' } else { c }).take(120).collect();
    if body.chars().count() > 120 { format!("{flat}…") } else { flat }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(bucket: &str, key: &str) -> ObjectRef {
        ObjectRef { bucket: bucket.into(), key: key.into(), size: None, etag: None, sequencer: None }
    }

    const S3_EVENT: &str = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
        "eventTime":"2026-11-01T00:00:00.000Z","eventName":"ObjectCreated:Put",
        "s3":{"s3SchemaVersion":"1.0","bucket":{"name":"logs","arn":"arn:aws:s3:::logs"},
        "object":{"key":"AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/a+b%2Bc%3D.json.gz","size":1234,"eTag":"0123abcd","sequencer":"0055AED6DCD90281E5"}}}]}"#;

    #[test]
    fn an_s3_event_names_its_object_with_the_key_form_decoded() {
        let Notification::Objects(objects) = parse(S3_EVENT).unwrap() else { panic!() };
        assert_eq!(
            objects,
            vec![ObjectRef {
                bucket: "logs".into(),
                key: "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/a b+c=.json.gz".into(),
                size: Some(1234),
                etag: Some("0123abcd".into()),
                sequencer: Some("0055AED6DCD90281E5".into()),
            }]
        );
        // moto encodes `/` too.
        assert_eq!(form_decode("AWSLogs%2F1%2Fx+y.gz").unwrap(), "AWSLogs/1/x y.gz");
    }

    #[test]
    fn sns_envelopes_and_raw_delivery_read_the_same() {
        let envelope = serde_json::json!({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t",
            "Subject": "Amazon S3 Notification", "Message": S3_EVENT, "Timestamp": "2026-11-01T00:00:00.000Z"})
        .to_string();
        assert_eq!(parse(&envelope).unwrap(), parse(S3_EVENT).unwrap());
        let validation =
            serde_json::json!({"Type": "Notification", "Message": "CloudTrail validation message."})
                .to_string();
        assert_eq!(parse(&validation).unwrap(), Notification::Test("CloudTrail validation message"));
        assert_eq!(
            parse("CloudTrail validation message.").unwrap(),
            Notification::Test("CloudTrail validation message")
        );
    }

    #[test]
    fn cloudtrail_sns_eventbridge_and_test_events() {
        let cloudtrail = serde_json::json!({"Type": "Notification",
            "Message": r#"{"s3Bucket":"trail","s3ObjectKey":["AWSLogs/1/a.json.gz","AWSLogs/1/b.json.gz"]}"#})
        .to_string();
        assert_eq!(
            parse(&cloudtrail).unwrap(),
            Notification::Objects(vec![
                object("trail", "AWSLogs/1/a.json.gz"),
                object("trail", "AWSLogs/1/b.json.gz")
            ])
        );
        let eventbridge = r#"{"version":"0","id":"x","detail-type":"Object Created","source":"aws.s3",
            "detail":{"version":"0","bucket":{"name":"logs"},"object":{"key":"AWSLogs/1/a b.json.gz","size":5,"etag":"e","sequencer":"s"}}}"#;
        assert_eq!(
            parse(eventbridge).unwrap(),
            Notification::Objects(vec![ObjectRef {
                bucket: "logs".into(),
                key: "AWSLogs/1/a b.json.gz".into(),
                size: Some(5),
                etag: Some("e".into()),
                sequencer: Some("s".into()),
            }])
        );
        let deleted = r#"{"detail-type":"Object Deleted","detail":{}}"#;
        assert!(matches!(parse(deleted).unwrap(), Notification::NothingCreated(_)));
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-01T00:00:00.000Z","Bucket":"logs"}"#;
        assert_eq!(parse(test).unwrap(), Notification::Test("s3:TestEvent"));
        let removed = S3_EVENT.replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        assert_eq!(parse(&removed).unwrap(), Notification::NothingCreated("ObjectRemoved:Delete".into()));
    }

    #[test]
    fn one_message_may_name_several_objects() {
        let two = serde_json::json!({"Records": [
            {"eventName": "ObjectCreated:CompleteMultipartUpload", "s3": {"bucket": {"name": "b"}, "object": {"key": "k1"}}},
            {"eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": "b"}, "object": {"key": "gone"}}},
            {"eventName": "ObjectCreated:Copy", "s3": {"bucket": {"name": "b"}, "object": {"key": "k%202"}}}]})
        .to_string();
        assert_eq!(parse(&two).unwrap(), Notification::Objects(vec![object("b", "k1"), object("b", "k 2")]));
    }

    #[test]
    fn what_cannot_be_understood_says_why() {
        assert!(matches!(parse("hello"), Err(NotificationError::NotJson(_))));
        assert!(matches!(parse(r#"{"foo":1}"#), Err(NotificationError::UnknownShape(_))));
        assert!(matches!(parse(r#"{"Type":"Notification"}"#), Err(NotificationError::Malformed(_))));
        assert!(matches!(
            parse(r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{}}]}"#),
            Err(NotificationError::Malformed(_))
        ));
        assert!(matches!(parse(r#"{"Records":{}}"#), Err(NotificationError::Malformed(_))));
        assert!(matches!(
            parse(
                r#"{"Records":[{"eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"%FF"}}}]}"#
            ),
            Err(NotificationError::Malformed(_))
        ));
        assert_eq!(excerpt(&"x\n".repeat(100)).chars().count(), 121);
    }
}
