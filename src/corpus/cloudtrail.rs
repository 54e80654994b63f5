//! Synthetic CloudTrail records, digest and Insights files.

use serde_json::{Value, json};

use super::{ALPHANUMERIC, HEX, Rng};
use crate::normalize::format_unix;

const CALLS: &[(&str, &str, bool)] = &[
    ("ec2.amazonaws.com", "DescribeInstances", true),
    ("ec2.amazonaws.com", "RunInstances", false),
    ("ec2.amazonaws.com", "StopInstances", false),
    ("s3.amazonaws.com", "GetBucketAcl", true),
    ("s3.amazonaws.com", "PutBucketPolicy", false),
    ("iam.amazonaws.com", "CreateUser", false),
    ("iam.amazonaws.com", "AttachRolePolicy", false),
    ("sts.amazonaws.com", "AssumeRole", true),
    ("kms.amazonaws.com", "Decrypt", true),
    ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", false),
    ("signin.amazonaws.com", "ConsoleLogin", false),
    ("dynamodb.amazonaws.com", "DescribeTable", true),
];

const AGENTS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.debian.12 prompt/off command/ec2.describe-instances",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Boto3/1.34.90 md/Botocore#1.34.90 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.11.8 cfg/retry-mode#legacy",
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.160.0",
    "cloudformation.amazonaws.com",
    "AWS Internal",
];

/// One record of `account` in `region`, around `time`.
pub fn record(rng: &mut Rng, account: &str, region: &str, time: i64) -> Value {
    let (source, name, read_only) = *rng.pick(CALLS);
    let when = format_unix(time + rng.below(240) as i64);
    let identity = identity(rng, account);
    let service_call = identity["type"] == "AWSService";
    let source_ip = if service_call {
        Value::from(identity["invokedBy"].as_str().unwrap_or("ec2.amazonaws.com"))
    } else if rng.below(10) == 0 {
        Value::from(format!("2001:db8:{:x}::{:x}", rng.below(0xffff), rng.below(0xffff)))
    } else {
        Value::from(format!(
            "{}.{}.{}.{}",
            1 + rng.below(222),
            rng.below(256),
            rng.below(256),
            1 + rng.below(254)
        ))
    };
    let failed = rng.below(12) == 0;
    let mut record = json!({
        "eventVersion": "1.10",
        "userIdentity": identity,
        "eventTime": when,
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": if service_call { Value::from(source) } else { Value::from(*rng.pick(AGENTS)) },
        "requestParameters": request_parameters(rng, name, account, region),
        "responseElements": if read_only { Value::Null } else { json!({"requestId": uuid(rng), "return": true}) },
        "requestID": uuid(rng),
        "eventID": uuid(rng),
        "readOnly": read_only,
        "eventType": if name == "ConsoleLogin" { "AwsConsoleSignIn" } else { "AwsApiCall" },
        "managementEvent": true,
        "recipientAccountId": account,
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": format!("{}.{region}.amazonaws.com", source.trim_end_matches(".amazonaws.com"))},
    });
    if failed {
        record["errorCode"] = json!("AccessDenied");
        record["errorMessage"] = json!(format!(
            "User is not authorized to perform: {}:{name}",
            source.split('.').next().unwrap_or("")
        ));
    }
    if name == "ConsoleLogin" {
        record["responseElements"] = json!({"ConsoleLogin": if failed { "Failure" } else { "Success" }});
        record["additionalEventData"] = json!({"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "Yes"});
    }
    if name == "RunInstances" || name == "StopInstances" {
        record["resources"] = json!([{"accountId": account, "type": "AWS::EC2::Instance",
            "ARN": format!("arn:aws:ec2:{region}:{account}:instance/i-{}", rng.text(HEX, 17))}]);
    }
    record
}

fn identity(rng: &mut Rng, account: &str) -> Value {
    let user = format!("user-{}", rng.below(40));
    let key = format!("AKIA{}", rng.text(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16));
    match rng.below(10) {
        0..=3 => {
            json!({"type": "AssumedRole", "principalId": format!("AROA{}:{user}", rng.text(ALPHANUMERIC, 17)),
            "arn": format!("arn:aws:sts::{account}:assumed-role/Operations/{user}"), "accountId": account,
            "accessKeyId": key.replace("AKIA", "ASIA"),
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": format!("AROA{}", rng.text(ALPHANUMERIC, 17)),
                "arn": format!("arn:aws:iam::{account}:role/Operations"), "accountId": account, "userName": "Operations"},
                "attributes": {"creationDate": "2026-11-01T00:00:00Z", "mfaAuthenticated": "true"}}})
        }
        4..=5 => json!({"type": "IAMUser", "principalId": format!("AIDA{}", rng.text(ALPHANUMERIC, 17)),
            "arn": format!("arn:aws:iam::{account}:user/{user}"), "accountId": account, "accessKeyId": key, "userName": user}),
        6 => {
            json!({"type": "AWSService", "invokedBy": *rng.pick(&["ec2.amazonaws.com", "cloudformation.amazonaws.com", "lambda.amazonaws.com"])})
        }
        7 => {
            json!({"type": "Root", "principalId": account, "arn": format!("arn:aws:iam::{account}:root"), "accountId": account, "accessKeyId": ""})
        }
        8 => json!({"type": "IdentityCenterUser", "accountId": account,
            "onBehalfOf": {"userId": uuid(rng), "identityStoreArn": format!("arn:aws:identitystore::{account}:identitystore/d-{}", rng.text(HEX, 10))},
            "credentialId": rng.text(ALPHANUMERIC, 24)}),
        _ => json!({"type": "FederatedUser", "principalId": format!("{account}:{user}"),
            "arn": format!("arn:aws:sts::{account}:federated-user/{user}"), "accountId": account,
            "sessionContext": {"sessionIssuer": {"type": "IAMUser", "userName": "federation-broker",
                "arn": format!("arn:aws:iam::{account}:user/federation-broker"), "accountId": account}}}),
    }
}

fn request_parameters(rng: &mut Rng, name: &str, account: &str, region: &str) -> Value {
    match name {
        "DescribeInstances" | "StopInstances" | "RunInstances" => {
            json!({"instancesSet": {"items": [{"instanceId": format!("i-{}", rng.text(HEX, 17))}]},
            "filterSet": {}, "force": false, "maxResults": 1000})
        }
        "GetBucketAcl" | "PutBucketPolicy" => {
            json!({"bucketName": format!("logs-{account}-{region}"), "Host": format!("logs-{account}-{region}.s3.{region}.amazonaws.com"), "acl": ""})
        }
        "CreateUser" => {
            json!({"userName": format!("svc-{}", rng.text(ALPHANUMERIC, 6)), "tags": [{"key": "team", "value": "platform"}]})
        }
        "AttachRolePolicy" => {
            json!({"roleName": "Operations", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"})
        }
        "AssumeRole" => {
            json!({"roleArn": format!("arn:aws:iam::{account}:role/Operations"), "roleSessionName": rng.text(ALPHANUMERIC, 12), "durationSeconds": 3600})
        }
        "Decrypt" => {
            json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"aws:s3:arn": format!("arn:aws:s3:::logs-{account}/x")},
            "keyId": format!("arn:aws:kms:{region}:{account}:key/{}", uuid(rng))})
        }
        "UpdateFunctionCode20150331v2" => json!({"functionName": "ingest", "publish": true, "dryRun": false}),
        "DescribeTable" => json!({"tableName": "sessions"}),
        _ => Value::Null,
    }
}

/// A Start/End pair of Insights records.
pub(super) fn insight_pair(rng: &mut Rng, account: &str, region: &str, time: i64) -> Vec<Value> {
    let shared = uuid(rng);
    ["Start", "End"]
        .iter()
        .enumerate()
        .map(|(i, state)| {
            json!({"eventVersion": "1.07", "eventTime": format_unix(time + 60 * i as i64), "awsRegion": region,
                "eventID": uuid(rng), "eventType": "AwsCloudTrailInsight", "recipientAccountId": account,
                "sharedEventID": shared, "eventCategory": "Insight",
                "insightDetails": {"state": state, "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances",
                    "insightType": "ApiCallRateInsight",
                    "insightContext": {"statistics": {"baseline": {"average": 0.0417}, "insight": {"average": 2.0}}}}})
        })
        .collect()
}

/// A digest file (integrity validation) covering one hour: not events.
pub(super) fn digest(account: &str, region: &str, start: i64, key: &str) -> Value {
    json!({"awsAccountId": account, "digestStartTime": format_unix(start), "digestEndTime": format_unix(start + 3600),
        "digestS3Bucket": "trail-bucket", "digestS3Object": key, "digestPublicKeyFingerprint": "0123456789abcdef0123456789abcdef",
        "digestSignatureAlgorithm": "SHA256withRSA", "newestEventTime": null, "oldestEventTime": null,
        "previousDigestS3Bucket": null, "previousDigestS3Object": null, "previousDigestHashValue": null,
        "previousDigestHashAlgorithm": null, "previousDigestSignature": null, "logFiles": [], "region": region})
}

fn uuid(rng: &mut Rng) -> String {
    let hex = rng.text(HEX, 32);
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}
