//! The `ecs` and `ocsf` profiles against the golden examples of
//! `../shared/spec/output-profiles.md` §3 (copied to `tests/data/profiles/`), more ECS documents
//! written field by field from Elastic's integration, and the OCSF 1.1.0 class rules.

mod common;

use std::io::Cursor;

use serde_json::{Value, json};
use trailhound::decode::vpc_flow::FlowReader;
use trailhound::normalize::cloudtrail::normalize_record;
use trailhound::normalize::vpc_flow::FlowNormalizer;
use trailhound::normalize::{EventBatch, ObjectContext, Output, Profile, render_batch};

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/profiles/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn golden(name: &str) -> Value {
    serde_json::from_str(&data(name)).unwrap()
}

/// The native line of a CloudTrail record read from the CloudTrail API in us-east-1.
fn api_event(record: &Value) -> EventBatch {
    let context = ObjectContext::for_api("api", "us-east-1", 0);
    let mut batch = EventBatch::default();
    normalize_record(&context, 1, record.to_string().as_bytes(), &mut batch).unwrap();
    batch
}

/// The native lines of a flow-log file (`header` then `lines`) in `bucket` under `key`.
fn flow_events(bucket: &str, key: &str, text: &str) -> EventBatch {
    let context = ObjectContext::new("s3", Some(bucket), key, 0);
    let mut reader = FlowReader::new(Cursor::new(text.as_bytes().to_vec()));
    let mut normalizer: Option<FlowNormalizer> = None;
    let mut batch = EventBatch::default();
    while let Some(line) = reader.next_line().unwrap() {
        let normalizer = normalizer.get_or_insert_with(|| FlowNormalizer::new(line.fields()));
        normalizer.normalize(&context, &line, &mut batch).unwrap();
    }
    batch
}

/// Every event of `batch` in `profile`, parsed, without ECS `event.created` (the time of
/// collection, which the goldens cannot know).
fn rendered(batch: &EventBatch, profile: Profile, preserve_original: bool) -> Vec<Value> {
    let output = render_batch(batch, Output { profile, preserve_original });
    assert_eq!(output.len(), batch.len());
    output
        .iter()
        .zip(batch.iter())
        .map(|(event, native)| {
            assert_eq!(event.id, native.id);
            assert_eq!(event.timestamp, native.timestamp);
            let mut document: Value = serde_json::from_slice(event.json).unwrap();
            if profile == Profile::Ecs {
                let created = document["event"].as_object_mut().and_then(|event| event.remove("created"));
                let created = created.expect("ECS documents say when the event was collected");
                assert!(
                    created.as_str().is_some_and(|text| text.ends_with('Z') && text.len() == 24),
                    "{created}"
                );
            }
            document
        })
        .collect()
}

fn only(mut documents: Vec<Value>) -> Value {
    assert_eq!(documents.len(), 1);
    documents.remove(0)
}

/// Compares two documents and names every path where they differ.
fn assert_same(actual: &Value, expected: &Value, what: &str) {
    let mut differences = Vec::new();
    diff("", actual, expected, &mut differences);
    assert!(
        differences.is_empty(),
        "{what}: {} difference(s):\n{}\nactual: {actual}",
        differences.len(),
        differences.join("\n")
    );
}

fn diff(path: &str, actual: &Value, expected: &Value, out: &mut Vec<String>) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            for (key, value) in e {
                let here = format!("{path}.{key}");
                match a.get(key) {
                    Some(found) => diff(&here, found, value, out),
                    None => out.push(format!("missing {here} (expected {value})")),
                }
            }
            for (key, value) in a {
                if !e.contains_key(key) {
                    out.push(format!("unexpected {path}.{key} = {value}"));
                }
            }
        }
        _ if actual != expected => out.push(format!("{path}: {actual} instead of {expected}")),
        _ => {}
    }
}

#[test]
fn spec_example_ct1_assumed_role_access_denied() {
    let batch = api_event(&golden("ct1.input.json"));
    assert_same(&only(rendered(&batch, Profile::Ecs, false)), &golden("ct1.ecs.json"), "CT-1 ECS");
    assert_same(&only(rendered(&batch, Profile::Ocsf, false)), &golden("ct1.ocsf.json"), "CT-1 OCSF");
}

#[test]
fn spec_example_ct2_console_login_with_mfa() {
    let batch = api_event(&golden("ct2.input.json"));
    assert_same(&only(rendered(&batch, Profile::Ecs, false)), &golden("ct2.ecs.json"), "CT-2 ECS");
    assert_same(&only(rendered(&batch, Profile::Ocsf, false)), &golden("ct2.ocsf.json"), "CT-2 OCSF");
}

const V2_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n";

#[test]
fn spec_example_vpc1_default_format_line() {
    let text = format!("{V2_HEADER}{}", data("vpc1.input.log"));
    let key = "AWSLogs/123456789010/vpcflowlogs/us-east-1/2014/12/14/x.log.gz";
    let batch = flow_events("example-flow-logs", key, &text);
    // The spec fixes the envelope id; the line's own is a hash of bucket/key/line.
    let native = batch.get(0);
    let line = String::from_utf8(native.json.to_vec()).unwrap().replace(native.id, "0f8e2c1a9b7d4e6f");
    let mut fixed = EventBatch::default();
    let with_id = trailhound::normalize::Event { id: "0f8e2c1a9b7d4e6f", json: line.as_bytes(), ..native };
    fixed.push(with_id);
    assert_same(&only(rendered(&fixed, Profile::Ecs, false)), &golden("vpc1.ecs.json"), "VPC-1 ECS");
    assert_same(&only(rendered(&fixed, Profile::Ocsf, false)), &golden("vpc1.ocsf.json"), "VPC-1 OCSF");
}

#[test]
fn preserve_original_adds_the_record_in_both_profiles() {
    let input = golden("ct1.input.json");
    let batch = api_event(&input);
    let ecs = only(rendered(&batch, Profile::Ecs, true));
    let original: Value = serde_json::from_str(ecs["event"]["original"].as_str().unwrap()).unwrap();
    assert_eq!(original, input);
    let ocsf = only(rendered(&batch, Profile::Ocsf, true));
    let raw_data: Value = serde_json::from_str(ocsf["raw_data"].as_str().unwrap()).unwrap();
    assert_eq!(raw_data, input);
    assert!(only(rendered(&batch, Profile::Ecs, false))["event"].get("original").is_none());

    let text = format!("{V2_HEADER}{}", data("vpc1.input.log"));
    let batch = flow_events("b", "AWSLogs/1/vpcflowlogs/us-east-1/2014/12/14/x.log.gz", &text);
    assert_eq!(
        only(rendered(&batch, Profile::Ecs, true))["event"]["original"],
        data("vpc1.input.log").trim_end()
    );
    assert_eq!(only(rendered(&batch, Profile::Ocsf, true))["raw_data"], data("vpc1.input.log").trim_end());
}

#[test]
fn the_native_profile_is_the_contract_line_unchanged() {
    let batch = api_event(&golden("ct2.input.json"));
    let output = render_batch(&batch, Output { profile: Profile::Native, preserve_original: true });
    assert_eq!(output.ndjson(), batch.ndjson());
}

/// An expected ECS document: `document` plus what every document carries.
fn ecs_expected(mut document: Value) -> Value {
    document["ecs"] = json!({"version": "8.11.0"});
    document
}

#[test]
fn ecs_aws_service_assume_role() {
    let record = json!({"eventVersion":"1.08","userIdentity":{"type":"AWSService","invokedBy":"ec2.amazonaws.com"},
        "eventTime":"2024-05-14T10:00:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1",
        "sourceIPAddress":"ec2.amazonaws.com","userAgent":"ec2.amazonaws.com",
        "requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/app","roleSessionName":"i-0abc"},
        "responseElements":{"credentials":{"accessKeyId":"ASIAEXAMPLE","sessionToken":"tok"}},
        "requestID":"r1","eventID":"e1","readOnly":true,
        "resources":[{"accountId":"111122223333","type":"AWS::IAM::Role","ARN":"arn:aws:iam::111122223333:role/app"},
                     {"accountId":"111122223333","type":"AWS::IAM::Role","ARN":"arn:aws:iam::111122223333:role/app"}],
        "eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","sharedEventID":"s1","eventCategory":"Management"});
    let expected = ecs_expected(json!({"@timestamp":"2024-05-14T10:00:00.000Z",
        "event":{"id":"e1","kind":"event","category":["authentication"],"type":["info"],"action":"AssumeRole","provider":"sts.amazonaws.com","outcome":"success","module":"aws","dataset":"aws.cloudtrail"},
        "cloud":{"provider":"aws","account":{"id":"111122223333"},"region":"us-east-1","service":{"name":"sts"}},
        "source":{"address":"ec2.amazonaws.com"},
        "service":{"name":"ec2.amazonaws.com"},
        "user_agent":{"original":"ec2.amazonaws.com"},
        "aws":{"cloudtrail":{"event_version":"1.08","event_type":"AwsApiCall","event_category":"Management","request_id":"r1","recipient_account_id":"111122223333","shared_event_id":"s1","read_only":true,"management_event":"true",
            "user_identity":{"type":"AWSService","invoked_by":"ec2.amazonaws.com"},
            "request_parameters":"{\"roleArn\":\"arn:aws:iam::111122223333:role/app\",\"roleSessionName\":\"i-0abc\"}",
            "response_elements":"{\"credentials\":{\"accessKeyId\":\"ASIAEXAMPLE\",\"sessionToken\":\"tok\"}}",
            "flattened":{"request_parameters":{"roleArn":"arn:aws:iam::111122223333:role/app","roleSessionName":"i-0abc"},
                         "response_elements":{"credentials":{"accessKeyId":"ASIAEXAMPLE","sessionToken":"tok"}}},
            "resources":[{"arn":"arn:aws:iam::111122223333:role/app","account_id":"111122223333","type":"AWS::IAM::Role"}]}}}));
    assert_same(
        &only(rendered(&api_event(&record), Profile::Ecs, false)),
        &expected,
        "AWSService AssumeRole",
    );
}

#[test]
fn ecs_assumed_role_with_an_email_session_name() {
    let record = json!({"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAADMIN:jane.doe@example.com",
        "arn":"arn:aws:sts::111122223333:assumed-role/Admin/jane.doe@example.com","accountId":"111122223333",
        "sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAADMIN","arn":"arn:aws:iam::111122223333:role/Admin","accountId":"111122223333","userName":"Admin"}}},
        "eventTime":"2024-05-14T10:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"StartSession","awsRegion":"eu-west-1",
        "sourceIPAddress":"2001:db8::7","eventID":"e2","eventType":"AwsApiCall","recipientAccountId":"111122223333"});
    let expected = ecs_expected(json!({"@timestamp":"2024-05-14T10:00:00.000Z",
        "event":{"id":"e2","kind":"event","category":["session"],"type":["start"],"action":"StartSession","provider":"ec2.amazonaws.com","outcome":"success","module":"aws","dataset":"aws.cloudtrail"},
        "cloud":{"provider":"aws","account":{"id":"111122223333"},"region":"eu-west-1","service":{"name":"ec2"}},
        "source":{"address":"2001:db8::7","ip":"2001:db8::7"},
        "user":{"id":"AROAADMIN:jane.doe@example.com","name":"Admin","email":"jane.doe@example.com"},
        "related":{"user":["jane.doe@example.com","jane.doe","AROAADMIN:jane.doe@example.com","Admin"],"ip":["2001:db8::7"]},
        "aws":{"cloudtrail":{"event_version":"1.09","event_type":"AwsApiCall","recipient_account_id":"111122223333",
            "user_identity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Admin/jane.doe@example.com",
                "session_context":{"session_issuer":{"type":"Role","principal_id":"AROAADMIN","arn":"arn:aws:iam::111122223333:role/Admin","account_id":"111122223333"}}}}}}));
    assert_same(
        &only(rendered(&api_event(&record), Profile::Ecs, false)),
        &expected,
        "AssumedRole, email session",
    );
}

#[test]
fn ecs_create_user_names_its_target() {
    let record = json!({"eventVersion":"1.09","userIdentity":{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"},
        "eventTime":"2024-05-14T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser","awsRegion":"us-east-1",
        "sourceIPAddress":"AWS Internal","requestParameters":{"userName":"bob","tags":[]},
        "responseElements":{"user":{"userName":"bob","userId":"AIDABOB","arn":"arn:aws:iam::111122223333:user/bob","path":"/"}},
        "eventID":"e3","eventType":"AwsApiCall","sessionCredentialFromConsole":"true","tlsDetails":{"tlsVersion":"TLSv1.2","cipherSuite":"ECDHE-RSA-AES128-GCM-SHA256","clientProvidedHostHeader":"iam.amazonaws.com"}});
    let expected = ecs_expected(json!({"@timestamp":"2024-05-14T10:00:00.000Z",
        "event":{"id":"e3","kind":"event","category":["iam"],"type":["user","creation"],"action":"CreateUser","provider":"iam.amazonaws.com","outcome":"success","module":"aws","dataset":"aws.cloudtrail"},
        "cloud":{"provider":"aws","account":{"id":"111122223333"},"region":"us-east-1","service":{"name":"iam"}},
        "source":{"address":"AWS Internal"},
        "user":{"id":"111122223333","target":{"name":"bob","id":"AIDABOB"}},
        "related":{"user":["bob","AIDABOB","111122223333"]},
        "tls":{"version_protocol":"tls","version":"1.2","cipher":"ECDHE-RSA-AES128-GCM-SHA256","client":{"server_name":"iam.amazonaws.com"}},
        "aws":{"cloudtrail":{"event_version":"1.09","event_type":"AwsApiCall","session_credential_from_console":"true",
            "user_identity":{"type":"Root","arn":"arn:aws:iam::111122223333:root"},
            "request_parameters":"{\"userName\":\"bob\",\"tags\":[]}",
            "response_elements":"{\"user\":{\"userName\":\"bob\",\"userId\":\"AIDABOB\",\"arn\":\"arn:aws:iam::111122223333:user/bob\",\"path\":\"/\"}}",
            "flattened":{"request_parameters":{"userName":"bob"},
                "response_elements":{"user":{"userName":"bob","userId":"AIDABOB","arn":"arn:aws:iam::111122223333:user/bob","path":"/"}}}}}}));
    assert_same(&only(rendered(&api_event(&record), Profile::Ecs, false)), &expected, "CreateUser");
}

#[test]
fn ecs_insight_record() {
    let record = json!({"eventVersion":"1.07","eventTime":"2024-05-14T10:00:00Z","awsRegion":"us-east-1","eventID":"e4",
        "eventType":"AwsCloudTrailInsight","recipientAccountId":"111122223333","sharedEventID":"s4",
        "insightDetails":{"state":"Start","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","insightType":"ApiCallRateInsight",
            "insightContext":{"statistics":{"baseline":{"average":0.04},"insight":{"average":2.0}}}},
        "eventCategory":"Insight"});
    let expected = ecs_expected(json!({"@timestamp":"2024-05-14T10:00:00.000Z",
        "event":{"id":"e4","kind":"event","type":["info"],"outcome":"success","module":"aws","dataset":"aws.cloudtrail"},
        "cloud":{"provider":"aws","account":{"id":"111122223333"},"region":"us-east-1"},
        "aws":{"cloudtrail":{"event_version":"1.07","event_type":"AwsCloudTrailInsight","event_category":"Insight","recipient_account_id":"111122223333","shared_event_id":"s4",
            "flattened":{"insight_details":{"state":"Start","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","insightType":"ApiCallRateInsight",
                "insightContext":{"statistics":{"baseline":{"average":0.04},"insight":{"average":2.0}}}}}}}}));
    assert_same(&only(rendered(&api_event(&record), Profile::Ecs, false)), &expected, "Insight");
}

const V5_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path\n";

#[test]
fn ecs_custom_format_ingress_line() {
    let line = "5 123456789010 eni-1111 52.95.128.10 10.0.1.5 443 49152 6 10 5000 1418530010 1418530070 ACCEPT OK vpc-aa subnet-bb i-cc 19 IPv4 52.95.128.10 10.0.1.5 us-east-2 use2-az1 - - S3 - ingress 8\n";
    let batch = flow_events(
        "b",
        "AWSLogs/123456789010/vpcflowlogs/us-east-2/2014/12/14/y.log.gz",
        &format!("{V5_HEADER}{line}"),
    );
    let id = batch.get(0).id.to_string();
    let expected = ecs_expected(json!({"@timestamp":"2014-12-14T04:07:50.000Z",
        "event":{"id":id,"kind":"event","category":["network"],"type":["connection","allowed"],"action":"ACCEPT","outcome":"success",
            "start":"2014-12-14T04:06:50.000Z","end":"2014-12-14T04:07:50.000Z","module":"aws","dataset":"aws.vpcflow"},
        "cloud":{"provider":"aws","account":{"id":"123456789010"},"instance":{"id":"i-cc"},"region":"us-east-2","availability_zone":"use2-az1"},
        "source":{"address":"52.95.128.10","ip":"52.95.128.10","port":443,"bytes":5000,"packets":10},
        "destination":{"address":"10.0.1.5","ip":"10.0.1.5","port":49152},
        "network":{"iana_number":"6","transport":"tcp","type":"ipv4","bytes":5000,"packets":10,"direction":"ingress",
            "community_id":community_id_of(&batch)},
        "related":{"ip":["52.95.128.10","10.0.1.5"]},
        "aws":{"s3":{"bucket":{"name":"b"},"object":{"key":"AWSLogs/123456789010/vpcflowlogs/us-east-2/2014/12/14/y.log.gz"}},
            "vpcflow":{"version":"5","account_id":"123456789010","interface_id":"eni-1111","action":"ACCEPT","log_status":"OK",
                "vpc_id":"vpc-aa","subnet_id":"subnet-bb","instance_id":"i-cc","tcp_flags":"19","tcp_flags_array":["fin","syn","ack"],"type":"IPv4",
                "pkt_srcaddr":"52.95.128.10","pkt_dstaddr":"10.0.1.5","region":"us-east-2","az_id":"use2-az1",
                "pkt_src_service":"S3","flow_direction":"ingress","traffic_path":"8"}}}));
    assert_same(&only(rendered(&batch, Profile::Ecs, false)), &expected, "v5 ingress");
}

/// The community id a document got; checked against the reference value in the unit tests and
/// by VPC-1, here only carried over.
fn community_id_of(batch: &EventBatch) -> Value {
    rendered(batch, Profile::Ecs, false)[0]["network"]["community_id"].clone()
}

#[test]
fn ecs_nodata_line_keeps_only_what_it_has() {
    let line = "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA\n";
    let batch = flow_events(
        "b",
        "AWSLogs/123456789010/vpcflowlogs/us-east-1/2015/05/10/z.log.gz",
        &format!("{V2_HEADER}{line}"),
    );
    let id = batch.get(0).id.to_string();
    let expected = ecs_expected(json!({"@timestamp":"2015-05-10T18:02:14.000Z",
        "event":{"id":id,"kind":"event","category":["network"],"type":["connection"],"start":"2015-05-10T18:01:16.000Z","end":"2015-05-10T18:02:14.000Z","module":"aws","dataset":"aws.vpcflow"},
        "cloud":{"provider":"aws","account":{"id":"123456789010"}},
        "aws":{"s3":{"bucket":{"name":"b"},"object":{"key":"AWSLogs/123456789010/vpcflowlogs/us-east-1/2015/05/10/z.log.gz"}},
            "vpcflow":{"version":"2","account_id":"123456789010","interface_id":"eni-1235b8ca123456789","log_status":"NODATA"}}}));
    assert_same(&only(rendered(&batch, Profile::Ecs, false)), &expected, "NODATA");
}

/// OCSF 1.1.0: the activities of each class used (`activity_id` → caption), from the schema's
/// class definitions (`events/…/*.json` and `base_event.json`).
fn activities(class_uid: i64) -> &'static [(i64, &'static str)] {
    match class_uid {
        0 => &[(0, "Unknown"), (99, "Other")],
        3001 => &[
            (0, "Unknown"),
            (1, "Create"),
            (2, "Enable"),
            (3, "Password Change"),
            (4, "Password Reset"),
            (5, "Disable"),
            (6, "Delete"),
            (7, "Attach Policy"),
            (8, "Detach Policy"),
            (9, "Lock"),
            (99, "Other"),
        ],
        3002 => &[
            (0, "Unknown"),
            (1, "Logon"),
            (2, "Logoff"),
            (3, "Authentication Ticket"),
            (4, "Service Ticket Request"),
            (5, "Service Ticket Renew"),
            (6, "Preauth"),
            (99, "Other"),
        ],
        4001 => &[
            (0, "Unknown"),
            (1, "Open"),
            (2, "Close"),
            (3, "Reset"),
            (4, "Fail"),
            (5, "Refuse"),
            (6, "Traffic"),
            (99, "Other"),
        ],
        6003 => &[(0, "Unknown"), (1, "Create"), (2, "Read"), (3, "Update"), (4, "Delete"), (99, "Other")],
        other => panic!("class {other} is not one the profile uses"),
    }
}

/// Checks one OCSF document against the OCSF 1.1.0 rules of its class; returns what is wrong.
fn ocsf_problems(document: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    let int = |path: &str| document.pointer(path).and_then(Value::as_i64);
    let text = |path: &str| document.pointer(path).and_then(Value::as_str);
    let (Some(class_uid), Some(activity_id)) = (int("/class_uid"), int("/activity_id")) else {
        return vec!["class_uid and activity_id are required".into()];
    };
    let (class_name, category_uid, category_name, required): (&str, i64, &str, &[&str]) = match class_uid {
        0 => ("Base Event", 0, "Uncategorized", &[]),
        3001 => ("Account Change", 3, "Identity & Access Management", &["/user"]),
        3002 => ("Authentication", 3, "Identity & Access Management", &["/user"]),
        4001 => ("Network Activity", 4, "Network Activity", &[]),
        6003 => ("API Activity", 6, "Application Activity", &["/actor", "/api/operation", "/src_endpoint"]),
        other => return vec![format!("unknown class_uid {other}")],
    };
    check(text("/class_name") == Some(class_name), format!("class_name of {class_uid}"));
    check(int("/category_uid") == Some(category_uid), "category_uid".into());
    check(text("/category_name") == Some(category_name), "category_name".into());
    let activity = activities(class_uid).iter().find(|(id, _)| *id == activity_id);
    check(activity.is_some(), format!("activity_id {activity_id} is not defined for {class_name}"));
    if let Some((_, caption)) = activity {
        check(text("/activity_name") == Some(caption), format!("activity_name of {activity_id}"));
        check(text("/type_name") == Some(&format!("{class_name}: {caption}")), "type_name".into());
    }
    check(
        int("/type_uid") == Some(class_uid * 100 + activity_id),
        "type_uid = class_uid * 100 + activity_id".into(),
    );
    check(int("/severity_id") == Some(1) && text("/severity") == Some("Informational"), "severity".into());
    check(int("/time").is_some(), "time is required".into());
    check(text("/metadata/version") == Some("1.1.0"), "metadata.version".into());
    check(text("/metadata/product/vendor_name") == Some("AWS"), "metadata.product.vendor_name".into());
    check(text("/metadata/product/name").is_some(), "metadata.product.name".into());
    check(text("/cloud/provider") == Some("AWS"), "cloud.provider (cloud profile)".into());
    for path in required {
        check(document.pointer(path).is_some(), format!("{class_name} requires {path}"));
    }
    match (int("/status_id"), text("/status")) {
        (Some(1), status) => check(status == Some("Success"), "status of status_id 1".into()),
        (Some(2), status) => check(status == Some("Failure"), "status of status_id 2".into()),
        (Some(99), status) => check(status.is_some(), "status_id 99 needs its status".into()),
        (None, None) => {}
        (other, status) => check(false, format!("status_id {other:?} with status {status:?}")),
    }
    if class_uid == 4001 {
        let traffic = !matches!(text("/status_code"), Some("NODATA" | "SKIPDATA"));
        check(
            !traffic || document.get("src_endpoint").is_some() || document.get("dst_endpoint").is_some(),
            "Network Activity needs src_endpoint or dst_endpoint".into(),
        );
        let actions = [(0, "Unknown"), (1, "Allowed"), (2, "Denied")];
        let dispositions = [(0, "Unknown"), (1, "Allowed"), (2, "Blocked")];
        check(
            actions
                .iter()
                .any(|(id, caption)| int("/action_id") == Some(*id) && text("/action") == Some(caption)),
            "action".into(),
        );
        check(
            dispositions.iter().any(|(id, caption)| {
                int("/disposition_id") == Some(*id) && text("/disposition") == Some(caption)
            }),
            "disposition".into(),
        );
        let directions = [(0, "Unknown"), (1, "Inbound"), (2, "Outbound"), (3, "Lateral")];
        check(
            directions.iter().any(|(id, caption)| {
                int("/connection_info/direction_id") == Some(*id)
                    && text("/connection_info/direction") == Some(caption)
            }),
            "connection_info.direction".into(),
        );
    }
    for observable in document.get("observables").and_then(Value::as_array).into_iter().flatten() {
        let pair = (observable["type_id"].as_i64(), observable["type"].as_str());
        let known = [(1, "Hostname"), (2, "IP Address"), (4, "User Name"), (10, "Resource UID")];
        check(
            known.iter().any(|(id, caption)| pair == (Some(*id), Some(caption))),
            format!("observable {observable}"),
        );
        check(
            observable["value"].as_str().is_some_and(|v| !v.is_empty()),
            format!("observable value {observable}"),
        );
    }
    for (key, value) in document.get("unmapped").and_then(Value::as_object).into_iter().flatten() {
        check(value.is_string(), format!("unmapped.{key} is not a string"));
    }
    empty_values("", document, &mut problems);
    times("", document, &mut problems);
    problems
}

/// OCSF producers leave out attributes without a value.
fn empty_values(path: &str, value: &Value, problems: &mut Vec<String>) {
    match value {
        Value::Null => problems.push(format!("{path} is null")),
        Value::String(text) if text.is_empty() => problems.push(format!("{path} is empty")),
        Value::Array(items) if items.is_empty() => problems.push(format!("{path} is empty")),
        Value::Object(members) if members.is_empty() => problems.push(format!("{path} is empty")),
        Value::Array(items) => {
            items.iter().for_each(|item| empty_values(&format!("{path}[]"), item, problems))
        }
        Value::Object(members) => {
            members.iter().for_each(|(key, value)| empty_values(&format!("{path}.{key}"), value, problems))
        }
        _ => {}
    }
}

/// Every `time`/`*_time` is epoch milliseconds, with its `_dt` twin the same instant.
fn times(path: &str, value: &Value, problems: &mut Vec<String>) {
    let Value::Object(members) = value else { return };
    for (key, member) in members {
        if key == "time" || key.ends_with("_time") {
            let Some(milliseconds) = member.as_i64() else {
                problems.push(format!("{path}.{key} is not an integer"));
                continue;
            };
            let twin = members.get(&format!("{key}_dt")).and_then(Value::as_str);
            let parsed = twin.and_then(|text| {
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
            });
            let same = parsed
                .is_some_and(|moment| moment.unix_timestamp_nanos() / 1_000_000 == i128::from(milliseconds));
            if !same {
                problems.push(format!("{path}.{key}_dt does not match {key}"));
            }
        }
        times(&format!("{path}.{key}"), member, problems);
    }
}

/// CloudTrail records of every class and identity type, and flow lines of every action and status.
fn ocsf_corpus() -> Vec<Value> {
    let mut documents = Vec::new();
    let records = [
        golden("ct1.input.json"),
        golden("ct2.input.json"),
        json!({"eventVersion":"1.08","userIdentity":{"type":"AWSService","invokedBy":"ec2.amazonaws.com"},"eventTime":"2024-05-14T10:00:00Z",
            "eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"ec2.amazonaws.com",
            "requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/app","roleSessionName":"i-0abc"},"eventID":"o1","recipientAccountId":"111122223333",
            "resources":[{"accountId":"111122223333","type":"AWS::IAM::Role","ARN":"arn:aws:iam::111122223333:role/app"}]}),
        json!({"eventVersion":"1.09","userIdentity":{"type":"Root","principalId":"111122223333","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"},
            "eventTime":"2024-05-14T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser","awsRegion":"us-east-1","sourceIPAddress":"AWS Internal",
            "requestParameters":{"userName":"bob"},"responseElements":{"user":{"userName":"bob","userId":"AIDABOB","arn":"arn:aws:iam::111122223333:user/bob"}},"eventID":"o2","recipientAccountId":"111122223333"}),
        json!({"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAX","arn":"arn:aws:iam::111122223333:user/x","accountId":"111122223333","userName":"x"},
            "eventTime":"2024-05-14T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"ChangePassword","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.1",
            "errorCode":"PasswordPolicyViolation","eventID":"o3","recipientAccountId":"111122223333"}),
        json!({"eventVersion":"1.09","userIdentity":{"type":"IdentityCenterUser","accountId":"111122223333","onBehalfOf":{"userId":"u-1","identityStoreArn":"arn:aws:identitystore::111122223333:identitystore/d-1"},"credentialId":"c-1"},
            "eventTime":"2024-05-14T10:00:00Z","eventSource":"signin.amazonaws.com","eventName":"UserAuthentication","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9",
            "additionalEventData":{"UserName":"pat"},"eventID":"o4","recipientAccountId":"111122223333"}),
        json!({"eventVersion":"1.09","userIdentity":{"type":"WebIdentityUser","principalId":"accounts.google.com:1","userName":"1","identityProvider":"accounts.google.com"},
            "eventTime":"2024-05-14T10:00:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithWebIdentity","awsRegion":"us-east-1","sourceIPAddress":"2001:db8::1",
            "requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/web","roleSessionName":"s"},"eventID":"o5","recipientAccountId":"111122223333"}),
        json!({"eventVersion":"1.07","eventTime":"2024-05-14T10:00:00Z","awsRegion":"us-east-1","eventID":"o6","eventType":"AwsCloudTrailInsight",
            "recipientAccountId":"111122223333","insightDetails":{"state":"End","eventName":"RunInstances"},"eventCategory":"Insight"}),
        json!({"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROA:s","arn":"arn:aws:sts::1:assumed-role/r/s","accountId":"1","invokedBy":"athena.amazonaws.com"},
            "eventTime":"2024-05-14T10:00:00.123Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"athena.amazonaws.com",
            "requestParameters":{"bucketName":"b","key":"k"},"eventID":"o7","eventCategory":"Data","vpcEndpointId":"vpce-1","recipientAccountId":"1",
            "resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::b/k"}]}),
    ];
    for record in &records {
        documents.extend(rendered(&api_event(record), Profile::Ocsf, true));
    }
    let flows = format!(
        "{V5_HEADER}{}{}{}{}",
        "5 1 eni-1 52.95.128.10 10.0.1.5 443 49152 6 10 5000 1418530010 1418530070 ACCEPT OK vpc-a subnet-b i-c 19 IPv4 52.95.128.10 10.0.1.5 us-east-2 use2-az1 - - S3 - ingress 8\n",
        "5 1 eni-1 10.0.1.5 10.0.9.9 49152 22 6 1 40 1418530010 1418530070 REJECT OK vpc-a subnet-b i-c 2 IPv4 10.0.1.5 10.0.9.10 us-east-2 use2-az1 - - - - egress 1\n",
        "5 1 eni-1 - - - - - - - 1418530010 1418530070 - NODATA vpc-a subnet-b - - - - - us-east-2 use2-az1 - - - - - -\n",
        "5 1 eni-1 - - - - - - - 1418530010 1418530070 - SKIPDATA vpc-a subnet-b - - - - - us-east-2 use2-az1 - - - - - -\n",
    );
    documents.extend(rendered(
        &flow_events("b", "AWSLogs/1/vpcflowlogs/us-east-2/2014/12/14/f.log.gz", &flows),
        Profile::Ocsf,
        true,
    ));
    // The bundled sample tree, through the real binary.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["-q", "replay", "--profile", "ocsf", "--preserve-original"])
        .arg(format!("{}/examples/AWSLogs", env!("CARGO_MANIFEST_DIR")))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lines = String::from_utf8(output.stdout).unwrap();
    let before = documents.len();
    documents.extend(lines.lines().map(|line| serde_json::from_str::<Value>(line).unwrap()));
    assert!(documents.len() - before > 80, "the sample tree holds 87 events");
    documents
}

#[test]
fn ocsf_documents_follow_the_ocsf_1_1_0_classes() {
    let documents = ocsf_corpus();
    let mut classes = std::collections::BTreeMap::<i64, usize>::new();
    for document in &documents {
        let problems = ocsf_problems(document);
        assert!(problems.is_empty(), "{problems:#?}\nin {document}");
        *classes.entry(document["class_uid"].as_i64().unwrap()).or_default() += 1;
        assert!(
            document["raw_data"].as_str().is_some_and(|raw| !raw.is_empty()),
            "preserve_original: {document}"
        );
    }
    let used: Vec<i64> = classes.keys().copied().collect();
    assert_eq!(used, vec![0, 3001, 3002, 4001, 6003], "every class the profile uses is checked");
}

#[test]
fn the_ocsf_checker_finds_what_is_wrong() {
    let good = golden("ct1.ocsf.json");
    assert!(ocsf_problems(&good).is_empty());
    let breakages: [(&str, Value); 6] = [
        ("/activity_id", json!(7)),
        ("/type_uid", json!(600303)),
        ("/status", json!("Success")),
        ("/category_name", json!("Application")),
        ("/time_dt", json!("2024-05-14T09:15:43.000Z")),
        ("/metadata/product/name", json!("")),
    ];
    for (path, value) in breakages {
        let mut broken = good.clone();
        *broken.pointer_mut(path).unwrap() = value;
        assert!(!ocsf_problems(&broken).is_empty(), "{path} broken yet accepted");
    }
    let mut without_actor = good.clone();
    without_actor.as_object_mut().unwrap().remove("actor");
    assert!(ocsf_problems(&without_actor).iter().any(|problem| problem.contains("/actor")));
}

fn ndjson(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[test]
fn one_run_writes_each_sink_in_its_own_profile() {
    let dir = tempfile::tempdir().unwrap();
    let sinks = "type = \"file\"\npath = \"native.ndjson\"\n\n[[sink]]\ntype = \"file\"\npath = \"ecs.ndjson\"\nprofile = \"ecs\"\n\n\
                 [[sink]]\ntype = \"file\"\npath = \"ocsf.ndjson\"\nprofile = \"ocsf\"\npreserve_original = true\n";
    let config = common::write_dir_config(dir.path(), &common::repo_root().join("examples/AWSLogs"), sinks);
    let run = common::trailhound(&["run", "--once", "--config", config.to_str().unwrap()], Some(dir.path()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let native = ndjson(&dir.path().join("native.ndjson"));
    let ecs = ndjson(&dir.path().join("ecs.ndjson"));
    let ocsf = ndjson(&dir.path().join("ocsf.ndjson"));
    assert!(native.len() > 80);
    assert_eq!((ecs.len(), ocsf.len()), (native.len(), native.len()), "every event in every profile");
    // Sources run in parallel, so each sink may see the batches in another order.
    let by_id = |documents: &[Value], pointer: &str| -> std::collections::BTreeMap<String, Value> {
        documents
            .iter()
            .map(|document| {
                (document.pointer(pointer).unwrap().as_str().unwrap().to_string(), document.clone())
            })
            .collect()
    };
    let (ecs, ocsf) = (by_id(&ecs, "/event/id"), by_id(&ocsf, "/metadata/uid"));
    assert_eq!((ecs.len(), ocsf.len()), (native.len(), native.len()), "ids are unique");
    for native in &native {
        let id = native["event_id"].as_str().unwrap();
        let (ecs, ocsf) = (&ecs[id], &ocsf[id]);
        let dataset = if native["log_type"] == "CloudTrail" { "aws.cloudtrail" } else { "aws.vpcflow" };
        assert_eq!(ecs["event"]["dataset"], dataset);
        assert!(ecs["event"].get("original").is_none());
        let raw = &native["raw"];
        let original = ocsf["raw_data"].as_str().unwrap();
        match raw {
            Value::String(line) => assert_eq!(original, line),
            record => assert_eq!(&serde_json::from_str::<Value>(original).unwrap(), record),
        }
    }
}

#[test]
fn replay_and_sink_shortcuts_take_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.ndjson");
    let sink = format!("file:{}", out.display());
    let run = common::trailhound(&["replay", "--profile", "ocsf", "--sink", &sink, "examples/AWSLogs"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let documents = ndjson(&out);
    assert!(documents.iter().all(|document| document["metadata"]["version"] == "1.1.0"));
    assert!(documents.iter().all(|document| document.get("raw_data").is_none()));

    let run =
        common::trailhound(&["replay", "--profile", "ecs", "--preserve-original", "examples/AWSLogs"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.lines().all(|line| {
        let document: Value = serde_json::from_str(line).unwrap();
        document["ecs"]["version"] == "8.11.0" && document["event"]["original"].is_string()
    }));

    let run = common::trailhound(&["replay", "--preserve-original", "examples/AWSLogs"], None);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--preserve-original needs --profile ecs or ocsf"), "{}", run.stderr);
    let run = common::trailhound(&["replay", "--profile", "splunk", "examples/AWSLogs"], None);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("possible values: native, ecs, ocsf"), "{}", run.stderr);
}
