//! Golden tests: one record per identity type, compared field by field with the full metadata.

use serde_json::{Value, json};

use super::*;

fn context() -> ObjectContext {
    ObjectContext::new(
        "test",
        Some("trail-bucket"),
        "AWSLogs/1/CloudTrail/us-east-1/f.json.gz",
        1_700_000_000,
    )
}

/// `raw` normalized as record number `record` of the test object, alone in a batch.
fn normalized(record: u64, raw: &[u8]) -> Result<EventBatch, RecordError> {
    let mut batch = EventBatch::default();
    normalize_record(&context(), record, raw, &mut batch)?;
    assert_eq!(batch.len(), 1);
    Ok(batch)
}

fn event_of(record: &Value) -> Value {
    let raw = serde_json::to_vec(record).unwrap();
    let batch = normalized(3, &raw).unwrap();
    let event = batch.get(0);
    let line: Value = serde_json::from_slice(event.json).unwrap();
    assert_eq!(line["event_id"], json!(event.id));
    assert_eq!(&line["raw"], record, "raw must be the original record");
    line
}

fn metadata_of(record: Value) -> Value {
    event_of(&record)["metadata"].clone()
}

#[test]
fn iam_user_console_login_failure() {
    let record = json!({
        "eventVersion": "1.08", "eventID": "3038ebd2-c98a-4c65-9b6e-e22506292313",
        "eventTime": "2024-05-01T10:05:09Z", "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin", "awsRegion": "us-east-1", "sourceIPAddress": "192.0.2.110",
        "userAgent": "Mozilla/5.0", "errorMessage": "Failed authentication",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDACKCEVSQ6C2EXAMPLE",
            "arn": "arn:aws:iam::111122223333:user/JaneDoe", "accountId": "111122223333", "userName": "JaneDoe"},
        "requestParameters": null, "responseElements": {"ConsoleLogin": "Failure"},
        "additionalEventData": {"MFAUsed": "No"}, "eventType": "AwsConsoleSignIn",
        "recipientAccountId": "111122223333", "readOnly": false
    });
    let line = event_of(&record);
    assert_eq!(line["event_id"], "3038ebd2-c98a-4c65-9b6e-e22506292313");
    assert_eq!(line["log_type"], "CloudTrail");
    assert_eq!(line["time"], "2024-05-01T10:05:09Z");
    assert_eq!(
        line["origin"],
        json!({"source": "test", "bucket": "trail-bucket", "key": "AWSLogs/1/CloudTrail/us-east-1/f.json.gz", "record": 3})
    );
    assert_eq!(
        line["metadata"],
        json!({"vmid": "ConsoleLogin", "vendorinfo": "signin.amazonaws.com", "command": "signin.amazonaws.com:ConsoleLogin",
            "account": "111122223333", "domainorigin": "111122223333", "login": "JaneDoe",
            "user_arn": "arn:aws:iam::111122223333:user/JaneDoe", "identity_type": "IAMUser",
            "sip": "192.0.2.110", "useragent": "Mozilla/5.0", "region": "us-east-1", "result": "Success",
            "reason": "Failed authentication", "tag1": "AwsConsoleSignIn", "status": "write"})
    );
}

#[test]
fn root_with_error_and_ipv6() {
    let meta = metadata_of(json!({
        "eventID": "e1", "eventTime": "2024-05-01T00:00:00Z", "eventSource": "iam.amazonaws.com",
        "eventName": "CreateUser", "awsRegion": "us-east-1", "sourceIPAddress": "2001:db8::1",
        "userIdentity": {"type": "Root", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333",
            "accessKeyId": "ASIAEXAMPLE"},
        "errorCode": "AccessDenied", "errorMessage": "nope",
        "requestParameters": {"userName": "bob"}, "eventType": "AwsApiCall", "readOnly": false,
        "recipientAccountId": "111122223333"
    }));
    assert_eq!(
        meta,
        json!({"vmid": "CreateUser", "vendorinfo": "iam.amazonaws.com", "command": "iam.amazonaws.com:CreateUser",
            "account": "111122223333", "domainorigin": "111122223333", "login": "root",
            "user_arn": "arn:aws:iam::111122223333:root", "identity_type": "Root", "sip": "2001:db8::1",
            "region": "us-east-1", "result": "AccessDenied", "reason": "nope", "session": "ASIAEXAMPLE",
            "object": "bob", "objecttype": "AWS::IAM::User", "tag1": "AwsApiCall", "status": "write"})
    );
}

#[test]
fn assumed_role_uses_the_issuer_and_resources() {
    let meta = metadata_of(json!({
        "eventID": "e2", "eventTime": "2024-05-01T00:00:00Z", "eventSource": "ec2.amazonaws.com",
        "eventName": "StopInstances", "awsRegion": "eu-west-1", "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2", "readOnly": false, "eventType": "AwsApiCall", "recipientAccountId": "222233334444",
        "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:alice",
            "arn": "arn:aws:sts::222233334444:assumed-role/Admin/alice", "accountId": "222233334444",
            "accessKeyId": "ASIAROLE", "sessionContext": {"sessionIssuer": {"type": "Role",
            "arn": "arn:aws:iam::222233334444:role/Admin", "accountId": "222233334444", "userName": "Admin"},
            "attributes": {"mfaAuthenticated": "true", "creationDate": "2024-05-01T00:00:00Z"}}},
        "requestParameters": {"instancesSet": {"items": [{"instanceId": "i-1"}]}, "force": false},
        "resources": [{"ARN": "arn:aws:ec2:eu-west-1:222233334444:instance/i-1", "accountId": "222233334444",
            "type": "AWS::EC2::Instance"}]
    }));
    assert_eq!(meta["login"], "Admin");
    assert_eq!(meta["session"], "ASIAROLE");
    assert_eq!(meta["object"], "arn:aws:ec2:eu-west-1:222233334444:instance/i-1");
    assert_eq!(meta["objecttype"], "AWS::EC2::Instance");
    assert_eq!(meta["user_arn"], "arn:aws:sts::222233334444:assumed-role/Admin/alice");
}

#[test]
fn aws_service_with_a_service_name_source_address() {
    let meta = metadata_of(json!({
        "eventID": "e3", "eventTime": "2024-05-01T00:00:00Z", "eventSource": "kms.amazonaws.com",
        "eventName": "Decrypt", "awsRegion": "us-west-2", "sourceIPAddress": "cloudtrail.amazonaws.com",
        "userAgent": "cloudtrail.amazonaws.com", "readOnly": true, "eventType": "AwsApiCall",
        "userIdentity": {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"},
        "requestParameters": {"encryptionContext": {"aws:cloudtrail:arn": "x"}, "keyId": "alias/k"},
        "recipientAccountId": "111122223333"
    }));
    assert_eq!(
        meta,
        json!({"vmid": "Decrypt", "vendorinfo": "kms.amazonaws.com", "command": "kms.amazonaws.com:Decrypt",
            "account": "111122223333", "identity_type": "AWSService", "sname": "cloudtrail.amazonaws.com",
            "useragent": "cloudtrail.amazonaws.com", "region": "us-west-2", "result": "Success",
            "object": "alias/k", "objecttype": "AWS::KMS::Key", "tag1": "AwsApiCall", "status": "read"})
    );
}

#[test]
fn aws_internal_source_address_is_a_name() {
    let meta = metadata_of(
        json!({"eventID": "e", "sourceIPAddress": "AWS Internal", "eventTime": "2024-05-01T00:00:00Z"}),
    );
    assert_eq!(meta["sname"], "AWS Internal");
    assert!(meta.get("sip").is_none());
}

#[test]
fn federated_saml_web_identity_identity_center_account_directory_role_unknown() {
    let cases = [
        (
            json!({"type": "FederatedUser", "arn": "arn:aws:sts::1:federated-user/Bob", "accountId": "1",
            "sessionContext": {"sessionIssuer": {"type": "IAMUser", "userName": "fedissuer"}}}),
            Some("fedissuer"),
        ),
        (
            json!({"type": "SAMLUser", "principalId": "x", "userName": "alice@example.com", "identityProvider": "idp"}),
            Some("alice@example.com"),
        ),
        (
            json!({"type": "WebIdentityUser", "principalId": "accounts.google.com:app:user", "userName": "user",
            "identityProvider": "accounts.google.com"}),
            Some("user"),
        ),
        (
            json!({"type": "IdentityCenterUser", "accountId": "1", "onBehalfOf": {"userId": "u-1",
            "identityStoreArn": "arn:aws:identitystore::1:identitystore/d-1"}, "credentialId": "c"}),
            None,
        ),
        (json!({"type": "AWSAccount", "principalId": "AIDA", "accountId": "999988887777"}), None),
        (json!({"type": "Directory", "userName": "dir-user"}), Some("dir-user")),
        (
            json!({"type": "Role", "arn": "arn:aws:iam::1:role/service-role/Worker", "accountId": "1"}),
            Some("Worker"),
        ),
        (
            json!({"type": "Unknown", "userName": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
            Some("HIDDEN_DUE_TO_SECURITY_REASONS"),
        ),
    ];
    for (identity, login) in cases {
        let kind = identity["type"].clone();
        let meta = metadata_of(
            json!({"eventID": "e", "eventTime": "2024-05-01T00:00:00Z", "userIdentity": identity}),
        );
        assert_eq!(meta["identity_type"], kind);
        assert_eq!(meta.get("login").and_then(Value::as_str), login, "login of {kind}");
    }
}

#[test]
fn insight_records_take_names_from_insight_details() {
    let meta = metadata_of(json!({
        "eventVersion": "1.07", "eventTime": "2024-05-01T00:00:00Z", "awsRegion": "us-east-1",
        "eventID": "ins-1", "eventType": "AwsCloudTrailInsight", "recipientAccountId": "1",
        "sharedEventID": "s", "eventCategory": "Insight",
        "insightDetails": {"state": "Start", "eventSource": "ec2.amazonaws.com", "eventName": "RunInstances",
            "insightType": "ApiCallRateInsight", "insightContext": {"statistics": {"baseline": {"average": 0.1}}}}
    }));
    assert_eq!(meta["vmid"], "RunInstances");
    assert_eq!(meta["command"], "ec2.amazonaws.com:RunInstances");
    assert_eq!(meta["tag1"], "AwsCloudTrailInsight");
}

#[test]
fn lookup_events_read_only_string_and_odd_types_are_tolerated() {
    let meta = metadata_of(json!({"eventID": "e", "eventTime": "2024-05-01T00:00:00Z", "readOnly": "true",
        "eventName": 42, "userIdentity": "not an object", "resources": null, "requestParameters": "x"}));
    assert_eq!(meta, json!({"result": "Success", "status": "read"}));
}

#[test]
fn missing_event_id_gets_a_stable_positional_id() {
    let raw = br#"{"eventTime":"2024-05-01T00:00:00Z"}"#;
    let (first, again, other) =
        (normalized(7, raw).unwrap(), normalized(7, raw).unwrap(), normalized(8, raw).unwrap());
    let (first, again, other) = (first.get(0), again.get(0), other.get(0));
    assert_eq!(first.id, again.id);
    assert_ne!(first.id, other.id);
    assert_eq!(first.id.len(), 32);
}

#[test]
fn unreadable_time_falls_back_to_ingest_time() {
    let batch = normalized(1, br#"{"eventID":"x","eventTime":"soon"}"#).unwrap();
    let event = batch.get(0);
    assert_eq!(event.timestamp, 1_700_000_000);
    let line: Value = serde_json::from_slice(event.json).unwrap();
    assert_eq!(line["time"], "2023-11-14T22:13:20Z");
}

#[test]
fn escaped_strings_and_unicode_survive() {
    let record =
        json!({"eventID": "e\"1", "eventTime": "2024-05-01T00:00:00Z", "userAgent": "a\\b \u{1F600} \n"});
    let line = event_of(&record);
    assert_eq!(line["metadata"]["useragent"], "a\\b \u{1F600} \n");
    assert_eq!(line["event_id"], "e\"1");
}

#[test]
fn invalid_json_is_an_error_with_the_record_number() {
    let error = normalized(5, br#"{"eventID": tru}"#).unwrap_err();
    assert!(error.to_string().starts_with("record 5: invalid JSON"), "{error}");
    let error = normalized(6, b"{\"a\":\"\xff\"}").unwrap_err();
    assert_eq!(error.to_string(), "record 6: not UTF-8 text");
}

#[test]
fn read_only_of_any_other_type_is_absent() {
    for odd in [json!(1), json!(null), json!({"a": 1}), json!([true]), json!("yes")] {
        let meta = metadata_of(json!({"eventID": "e", "eventTime": "2024-05-01T00:00:00Z", "readOnly": odd}));
        assert!(meta.get("status").is_none(), "{meta}");
    }
}

#[test]
fn escaped_content_is_copied_as_written_and_means_the_same() {
    let raw = br#"{"eventID":"e1","eventTime":"2024-05-01T00:00:00Z","eventSource":"s3.amazonaws.com",
        "eventName":"Get\u004fbject","sourceIPAddress":"10.0.0.\u0031",
        "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user\/ops\/Al\"ice"},
        "userAgent":"caf\u00e9 \ud83d\ude00"}"#;
    let batch = normalized(1, raw).unwrap();
    let line: Value = serde_json::from_slice(batch.get(0).json).unwrap();
    let meta = &line["metadata"];
    assert_eq!(meta["vmid"], "GetObject");
    assert_eq!(meta["command"], "s3.amazonaws.com:GetObject");
    assert_eq!(meta["login"], "Al\"ice");
    assert_eq!(meta["user_arn"], "arn:aws:iam::1:user/ops/Al\"ice");
    assert_eq!(meta["sip"], "10.0.0.1", "an escaped address is still an address");
    assert_eq!(meta["useragent"], "café 😀");
}

#[test]
fn ip_addresses_are_recognised_as_std_reads_them() {
    let std_reads = |text: &str| text.parse::<std::net::IpAddr>().is_ok();
    let mut texts: Vec<String> = Vec::new();
    for octet in ["0", "9", "10", "99", "100", "199", "200", "249", "250", "255", "256", "260", "300", "999"]
    {
        texts.push(format!("{octet}.1.2.3"));
        texts.push(format!("1.2.3.{octet}"));
        texts.push(format!("0{octet}.1.2.3"));
    }
    texts.extend(
        [
            "1.2.3",
            "1.2.3.4.5",
            "1..2.3",
            ".1.2.3",
            "1.2.3.",
            "",
            "1.2.3.4 ",
            "::1",
            "fe80::1",
            "::ffff:1.2.3.4",
        ]
        .map(String::from),
    );
    texts.extend(
        ["ec2.amazonaws.com", "AWS Internal", "1.2.3.a", "１.2.3.4", "1:2", "1.2.3.4:80"].map(String::from),
    );
    // Every text of up to 8 characters drawn from a small alphabet, sampled by a fixed generator.
    let alphabet = b"0125.:af";
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..200_000 {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let len = (state >> 60) as usize % 16;
        let text: String = (0..len).map(|i| alphabet[(state >> (i * 3)) as usize & 7] as char).collect();
        texts.push(text);
    }
    for text in &texts {
        assert_eq!(is_ip_address(text), std_reads(text), "{text:?}");
    }
}
