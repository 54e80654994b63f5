//! The fields of a CloudTrail record that the SIEM metadata needs, found in the same pass that
//! finds the record's end and checks its syntax.
//!
//! Types are lenient, as AWS's own are not always consistent (LookupEvents writes `readOnly` as a
//! string): a field of an unexpected JSON type counts as absent instead of failing the record.
//! Everything else in the record is only checked and skipped; it stays in `raw`.

use super::super::json_scan::{
    ScanError, Span, array_at, flag_at, object_at, peek_at, skip_value_at, text_at,
};

/// The request parameters that name the main target of common calls, in order of preference,
/// with the resource type each one names.
pub const REQUEST_TARGETS: [(&str, &str); 17] = [
    ("bucketName", "AWS::S3::Bucket"),
    ("instanceId", "AWS::EC2::Instance"),
    ("functionName", "AWS::Lambda::Function"),
    ("tableName", "AWS::DynamoDB::Table"),
    ("queueUrl", "AWS::SQS::Queue"),
    ("topicArn", "AWS::SNS::Topic"),
    ("keyId", "AWS::KMS::Key"),
    ("secretId", "AWS::SecretsManager::Secret"),
    ("dBInstanceIdentifier", "AWS::RDS::DBInstance"),
    ("logGroupName", "AWS::Logs::LogGroup"),
    ("stackName", "AWS::CloudFormation::Stack"),
    ("groupId", "AWS::EC2::SecurityGroup"),
    ("vpcId", "AWS::EC2::VPC"),
    ("roleName", "AWS::IAM::Role"),
    ("policyArn", "AWS::IAM::Policy"),
    ("groupName", "AWS::IAM::Group"),
    ("userName", "AWS::IAM::User"),
];

/// Where the wanted strings of one record are (see [`Span::text`]); `None` when absent or not
/// a string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)] // Each field is the record member of the same name.
pub struct RecordFields {
    pub event_id: Option<Span>,
    pub event_time: Option<Span>,
    pub event_source: Option<Span>,
    pub event_name: Option<Span>,
    pub aws_region: Option<Span>,
    pub source_ip_address: Option<Span>,
    pub user_agent: Option<Span>,
    pub error_code: Option<Span>,
    pub error_message: Option<Span>,
    pub event_type: Option<Span>,
    pub recipient_account_id: Option<Span>,
    /// `readOnly`, a boolean (or the string `"true"`/`"false"`).
    pub read_only: Option<bool>,
    /// Members of `userIdentity`.
    pub identity: Identity,
    /// Members of the first element of `resources`, when it is an object.
    pub resource: Resource,
    /// The most preferred non-empty member of `requestParameters` named in [`REQUEST_TARGETS`],
    /// with its index there.
    pub request_target: Option<(usize, Span)>,
    /// `insightDetails.eventSource`.
    pub insight_event_source: Option<Span>,
    /// `insightDetails.eventName`.
    pub insight_event_name: Option<Span>,
}

/// The members of `userIdentity` the metadata uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)] // Each field is the member of the same name.
pub struct Identity {
    /// `type`.
    pub kind: Option<Span>,
    pub user_name: Option<Span>,
    pub arn: Option<Span>,
    pub account_id: Option<Span>,
    pub access_key_id: Option<Span>,
    /// `sessionContext.sessionIssuer.userName`.
    pub issuer_user_name: Option<Span>,
    /// `invokedBy` (the AWS service that made the call for an identity).
    pub invoked_by: Option<Span>,
}

/// The members of a `resources[]` element the metadata uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resource {
    /// `ARN`.
    pub arn: Option<Span>,
    /// `ARNPrefix`.
    pub arn_prefix: Option<Span>,
    /// `type`.
    pub kind: Option<Span>,
}

/// Scans the record object at the start of `bytes` (white space before it is allowed). Returns
/// the offset just after its closing brace and its fields.
pub(crate) fn scan_record(bytes: &[u8]) -> Result<(usize, RecordFields), ScanError> {
    let mut fields = RecordFields::default();
    let end = object_at(bytes, 0, 0, |key, at, depth| {
        let text = |field: &mut Option<Span>| text_at(bytes, at, depth, field);
        match key {
            b"eventID" => text(&mut fields.event_id),
            b"eventTime" => text(&mut fields.event_time),
            b"eventSource" => text(&mut fields.event_source),
            b"eventName" => text(&mut fields.event_name),
            b"awsRegion" => text(&mut fields.aws_region),
            b"sourceIPAddress" => text(&mut fields.source_ip_address),
            b"userAgent" => text(&mut fields.user_agent),
            b"errorCode" => text(&mut fields.error_code),
            b"errorMessage" => text(&mut fields.error_message),
            b"eventType" => text(&mut fields.event_type),
            b"recipientAccountId" => text(&mut fields.recipient_account_id),
            b"readOnly" => flag_at(bytes, at, depth, &mut fields.read_only),
            b"userIdentity" => identity(bytes, at, depth, &mut fields.identity),
            b"resources" => first_resource(bytes, at, depth, &mut fields.resource),
            b"requestParameters" => request_target(bytes, at, depth, &mut fields.request_target),
            b"insightDetails" => if_object(bytes, at, depth, |key, at, depth| match key {
                b"eventSource" => text_at(bytes, at, depth, &mut fields.insight_event_source),
                b"eventName" => text_at(bytes, at, depth, &mut fields.insight_event_name),
                _ => skip_value_at(bytes, at, depth),
            }),
            _ => skip_value_at(bytes, at, depth),
        }
    })?;
    Ok((end, fields))
}

/// Reads an object member by member (see [`object_at`]), or skips a value of any other type.
fn if_object(
    bytes: &[u8],
    at: usize,
    depth: u32,
    member: impl FnMut(&[u8], usize, u32) -> Result<usize, ScanError>,
) -> Result<usize, ScanError> {
    match peek_at(bytes, at)? {
        (start, b'{') => object_at(bytes, start, depth, member),
        (start, _) => skip_value_at(bytes, start, depth),
    }
}

/// Reads `userIdentity` into `identity`, which it replaces (a value of another type leaves it empty).
fn identity(bytes: &[u8], at: usize, depth: u32, identity: &mut Identity) -> Result<usize, ScanError> {
    *identity = Identity::default();
    if_object(bytes, at, depth, |key, at, depth| match key {
        b"type" => text_at(bytes, at, depth, &mut identity.kind),
        b"userName" => text_at(bytes, at, depth, &mut identity.user_name),
        b"arn" => text_at(bytes, at, depth, &mut identity.arn),
        b"accountId" => text_at(bytes, at, depth, &mut identity.account_id),
        b"accessKeyId" => text_at(bytes, at, depth, &mut identity.access_key_id),
        b"invokedBy" => text_at(bytes, at, depth, &mut identity.invoked_by),
        b"sessionContext" => if_object(bytes, at, depth, |key, at, depth| match key {
            b"sessionIssuer" => if_object(bytes, at, depth, |key, at, depth| match key {
                b"userName" => text_at(bytes, at, depth, &mut identity.issuer_user_name),
                _ => skip_value_at(bytes, at, depth),
            }),
            _ => skip_value_at(bytes, at, depth),
        }),
        _ => skip_value_at(bytes, at, depth),
    })
}

/// Reads the first element of `resources` into `resource`, which it replaces.
fn first_resource(bytes: &[u8], at: usize, depth: u32, resource: &mut Resource) -> Result<usize, ScanError> {
    *resource = Resource::default();
    let (start, byte) = peek_at(bytes, at)?;
    if byte != b'[' {
        return skip_value_at(bytes, start, depth);
    }
    let mut first = true;
    array_at(bytes, start, depth, |at, depth| {
        if !std::mem::take(&mut first) {
            return skip_value_at(bytes, at, depth);
        }
        if_object(bytes, at, depth, |key, at, depth| match key {
            b"ARN" => text_at(bytes, at, depth, &mut resource.arn),
            b"ARNPrefix" => text_at(bytes, at, depth, &mut resource.arn_prefix),
            b"type" => text_at(bytes, at, depth, &mut resource.kind),
            _ => skip_value_at(bytes, at, depth),
        })
    })
}

/// Finds the request's main target in `requestParameters` (see [`REQUEST_TARGETS`]) into `best`,
/// which it replaces.
fn request_target(
    bytes: &[u8],
    at: usize,
    depth: u32,
    best: &mut Option<(usize, Span)>,
) -> Result<usize, ScanError> {
    *best = None;
    if_object(bytes, at, depth, |key, at, depth| {
        let rank = REQUEST_TARGETS.iter().position(|(name, _)| name.as_bytes() == key);
        let Some(rank) = rank else { return skip_value_at(bytes, at, depth) };
        let mut value = None;
        let end = text_at(bytes, at, depth, &mut value)?;
        if let Some(span) = value.filter(|span| !span.is_empty())
            && best.is_none_or(|(current, _)| rank < current)
        {
            *best = Some((rank, span));
        }
        Ok(end)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::json_scan::Expected;

    /// Locating the fields must not change what is accepted, nor where an error is reported: on
    /// every cut, byte substitution and deletion of records that have every member the scan looks
    /// into, `scan_record` ends (or fails) exactly where a plain skip of the same bytes does.
    #[test]
    fn finding_the_fields_reads_the_same_grammar_as_skipping() {
        let mut rng = crate::corpus::Rng::new(11);
        let mut records: Vec<String> = (0..3)
            .map(|_| {
                let record =
                    crate::corpus::cloudtrail::record(&mut rng, "111122223333", "eu-west-1", 1_700_000_000);
                serde_json::to_string(&record).unwrap()
            })
            .collect();
        records.push(
            r#"{"eventID":"e","readOnly":"true","userIdentity":{"type":"AssumedRole","arn":"a\/b",
            "sessionContext":{"sessionIssuer":{"userName":"n","x":[1]},"y":{}}},"resources":[{"ARN":"r",
            "type":"t"},{"ARN":"s"}],"requestParameters":{"bucketName":"b","instanceId":""},
            "insightDetails":{"eventSource":"s","eventName":"n","z":null}} "#
                .to_string(),
        );
        let replacements = b"\"\\{}[],: 0-etfn\x01";
        for record in &records {
            let bytes = record.as_bytes();
            let agree = |text: &[u8]| {
                let scanned = scan_record(text).map(|(end, _)| end);
                let expected = match peek_at(text, 0) {
                    Ok((_, b'{')) => skip_value_at(text, 0, 0),
                    Ok((at, _)) => Err(ScanError::invalid(at, Expected::ObjectStart)),
                    Err(incomplete) => Err(incomplete),
                };
                assert_eq!(scanned, expected, "{:?}", String::from_utf8_lossy(text));
            };
            agree(bytes);
            let mut changed = bytes.to_vec();
            for at in 0..bytes.len() {
                for &replacement in replacements {
                    changed[at] = replacement;
                    agree(&changed);
                }
                changed[at] = bytes[at];
                let mut deleted = bytes.to_vec();
                deleted.remove(at);
                agree(&deleted);
                agree(&bytes[..at]);
            }
        }
    }
}
