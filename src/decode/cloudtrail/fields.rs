//! The fields of a CloudTrail record that the SIEM metadata needs, found in the same pass that
//! finds the record's end and checks its syntax.
//!
//! Types are lenient, as AWS's own are not always consistent (LookupEvents writes `readOnly` as a
//! string): a field of an unexpected JSON type counts as absent instead of failing the record.
//! Everything else in the record is only checked and skipped; it stays in `raw`.

use super::super::json_scan::{ScanError, Scanner, Span};

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
    let mut scanner = Scanner::new(bytes);
    let mut fields = RecordFields::default();
    scanner.object(|s, key| {
        match key {
            b"eventID" => fields.event_id = s.text()?,
            b"eventTime" => fields.event_time = s.text()?,
            b"eventSource" => fields.event_source = s.text()?,
            b"eventName" => fields.event_name = s.text()?,
            b"awsRegion" => fields.aws_region = s.text()?,
            b"sourceIPAddress" => fields.source_ip_address = s.text()?,
            b"userAgent" => fields.user_agent = s.text()?,
            b"errorCode" => fields.error_code = s.text()?,
            b"errorMessage" => fields.error_message = s.text()?,
            b"eventType" => fields.event_type = s.text()?,
            b"recipientAccountId" => fields.recipient_account_id = s.text()?,
            b"readOnly" => fields.read_only = s.flag()?,
            b"userIdentity" => fields.identity = identity(s)?,
            b"resources" => fields.resource = first_resource(s)?,
            b"requestParameters" => fields.request_target = request_target(s)?,
            b"insightDetails" => if_object(s, |s, key| {
                match key {
                    b"eventSource" => fields.insight_event_source = s.text()?,
                    b"eventName" => fields.insight_event_name = s.text()?,
                    _ => s.skip_value()?,
                }
                Ok(())
            })?,
            _ => s.skip_value()?,
        }
        Ok(())
    })?;
    Ok((scanner.position(), fields))
}

/// Reads an object member by member, or skips a value of any other type.
fn if_object(
    scanner: &mut Scanner<'_>,
    member: impl FnMut(&mut Scanner<'_>, &[u8]) -> Result<(), ScanError>,
) -> Result<(), ScanError> {
    if scanner.peek()? == b'{' { scanner.object(member) } else { scanner.skip_value() }
}

fn identity(scanner: &mut Scanner<'_>) -> Result<Identity, ScanError> {
    let mut identity = Identity::default();
    if_object(scanner, |s, key| {
        match key {
            b"type" => identity.kind = s.text()?,
            b"userName" => identity.user_name = s.text()?,
            b"arn" => identity.arn = s.text()?,
            b"accountId" => identity.account_id = s.text()?,
            b"accessKeyId" => identity.access_key_id = s.text()?,
            b"sessionContext" => if_object(s, |s, key| match key {
                b"sessionIssuer" => if_object(s, |s, key| match key {
                    b"userName" => s.text().map(|name| identity.issuer_user_name = name),
                    _ => s.skip_value(),
                }),
                _ => s.skip_value(),
            })?,
            _ => s.skip_value()?,
        }
        Ok(())
    })?;
    Ok(identity)
}

fn first_resource(scanner: &mut Scanner<'_>) -> Result<Resource, ScanError> {
    let mut resource = Resource::default();
    if scanner.peek()? != b'[' {
        scanner.skip_value()?;
        return Ok(resource);
    }
    let mut first = true;
    scanner.array(|s| {
        if !std::mem::take(&mut first) {
            return s.skip_value();
        }
        if_object(s, |s, key| {
            match key {
                b"ARN" => resource.arn = s.text()?,
                b"ARNPrefix" => resource.arn_prefix = s.text()?,
                b"type" => resource.kind = s.text()?,
                _ => s.skip_value()?,
            }
            Ok(())
        })
    })?;
    Ok(resource)
}

fn request_target(scanner: &mut Scanner<'_>) -> Result<Option<(usize, Span)>, ScanError> {
    let mut best: Option<(usize, Span)> = None;
    if_object(scanner, |s, key| {
        let rank = REQUEST_TARGETS.iter().position(|(name, _)| name.as_bytes() == key);
        let Some(rank) = rank else { return s.skip_value() };
        if let Some(span) = s.text()?.filter(|span| !span.is_empty())
            && best.is_none_or(|(current, _)| rank < current)
        {
            best = Some((rank, span));
        }
        Ok(())
    })?;
    Ok(best)
}
