//! The `ecs` profile: CloudTrail records and VPC flow lines as Elastic's `aws` integration
//! indexes them (ECS 8.11), by the tables of `../shared/spec/output-profiles.md` §1.
//!
//! What Elastic adds from outside the record is not produced: GeoIP and ASN, parsed user agents,
//! the opt-in actor/target entity fields. Where the spec marks a choice of ours, the README says
//! it.

// Outside input reaches this code: no path may panic on it (tests may).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing))]

use std::borrow::Cow;
use std::net::IpAddr;

use base64::Engine;

use super::doc::Doc;
use super::profile::{NativeLine, is_ip, quoted_date};
use super::time_text::parse_rfc3339_ms;
use super::tree::Node;
use crate::decode::LogType;

const ECS_VERSION: &str = "8.11.0";

/// Elastic keeps the object beside its string form only while the string is shorter than this.
const FLATTENED_LIMIT: usize = 32_766;

/// Appends the ECS document of `native`; `None` when its record cannot be read.
pub(super) fn write(
    native: &NativeLine<'_>,
    preserve_original: bool,
    created: &[u8],
    out: &mut Vec<u8>,
) -> Option<()> {
    match native.log_type {
        LogType::CloudTrail => cloudtrail(native, native.record.as_ref()?, preserve_original, created, out),
        LogType::VpcFlowLogs => flow(native, preserve_original, created, out),
    }
    Some(())
}

/// The document of a line that could not be rendered: Elastic's `pipeline_error` kind, with the
/// line as `event.original` so that nothing is lost.
pub(super) fn write_failure(line: &str, out: &mut Vec<u8>) {
    let mut doc = Doc::new(out);
    doc.open("event");
    doc.str("kind", "pipeline_error");
    doc.str("original", line);
    doc.close();
    doc.open("error");
    doc.str("message", "trailhound: the event could not be rendered in the ecs profile");
    doc.close();
    doc.finish();
}

fn date(doc: &mut Doc<'_>, name: &str, milliseconds: i64) {
    doc.raw(name, &quoted_date(milliseconds));
}

fn origin(doc: &mut Doc<'_>, native: &NativeLine<'_>) {
    if let Some(bucket) = &native.bucket {
        doc.open("s3");
        doc.open("bucket");
        doc.str("name", bucket);
        doc.close();
        doc.open("object");
        doc.opt_str("key", native.key.as_deref());
        doc.close();
        doc.close();
    }
}

/// Who acted, by the rules of spec §1.2.
#[derive(Default)]
struct Actor<'r> {
    name: Option<&'r str>,
    id: Option<&'r str>,
    email: Option<&'r str>,
    service: Option<&'r str>,
    /// Session name and its part before `@`, first in `related.user`.
    session_names: Vec<&'r str>,
}

fn actor<'r>(record: &'r Node<'_>, event_name: Option<&str>) -> Actor<'r> {
    let mut actor = Actor::default();
    let Some(identity) = record.get("userIdentity") else {
        return actor;
    };
    let identity_type = identity.text_at("type");
    if identity_type == Some("AWSService") {
        actor.service = identity.text_at("invokedBy");
        return actor;
    }
    actor.name = identity.text_at("userName");
    actor.id = identity.text_at("principalId");
    if matches!(identity_type, Some("AssumedRole" | "FederatedUser")) {
        if let Some(issuer) = identity.text_at("sessionContext.sessionIssuer.userName") {
            actor.name = Some(issuer);
        }
        let session =
            identity.text_at("arn").and_then(|arn| arn.rsplit('/').next()).filter(|name| !name.is_empty());
        if let Some(session) = session {
            actor.session_names.push(session);
            if let Some((local, _)) = session.split_once('@') {
                actor.session_names.push(local);
                actor.email = Some(session);
            }
        }
    }
    if identity_type == Some("IdentityCenterUser") && actor.id.is_none() {
        actor.id = identity.text_at("onBehalfOf.userId");
    }
    if event_name == Some("UserAuthentication") && actor.name.is_none() {
        actor.name = record.text_at("additionalEventData.UserName");
    }
    if actor.email.is_none() {
        actor.email = actor
            .name
            .filter(|name| name.split_once('@').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty()));
    }
    actor
}

fn cloudtrail(
    native: &NativeLine<'_>,
    record: &Node<'_>,
    preserve_original: bool,
    created: &[u8],
    out: &mut Vec<u8>,
) {
    let text = |path: &str| record.text_at(path);
    let event_name = text("eventName");
    let event_source = text("eventSource");
    let identity = record.get("userIdentity");
    let identity_text = |path: &str| identity.and_then(|identity| identity.text_at(path));
    let source_address = text("sourceIPAddress");
    let source_ip = source_address.filter(|address| is_ip(address));
    let actor = actor(record, event_name);
    let target_name = text("requestParameters.userName");
    let new_name = text("requestParameters.newUserName");
    let target_id = text("responseElements.user.userId");

    let mut doc = Doc::new(out);
    if let Some(milliseconds) = text("eventTime").and_then(parse_rfc3339_ms) {
        date(&mut doc, "@timestamp", milliseconds);
    }
    doc.open("ecs");
    doc.str("version", ECS_VERSION);
    doc.close();

    doc.open("event");
    doc.str("id", text("eventID").unwrap_or(&native.id));
    doc.str("kind", "event");
    let (category, types) = categorize(event_name.unwrap_or(""));
    if let Some(category) = category {
        doc.strs("category", &[category]);
    }
    doc.strs("type", types);
    doc.opt_str("action", event_name);
    doc.opt_str("provider", event_source);
    doc.str("outcome", &outcome(record, event_name));
    doc.raw("created", created);
    doc.str("module", "aws");
    doc.str("dataset", "aws.cloudtrail");
    if preserve_original {
        doc.str("original", &native.raw);
    }
    doc.close();

    doc.open("cloud");
    doc.str("provider", "aws");
    doc.open("account");
    doc.opt_str("id", identity_text("accountId").or_else(|| text("recipientAccountId")));
    doc.close();
    doc.opt_str("region", text("awsRegion"));
    doc.open("service");
    doc.opt_str("name", event_source.map(|source| source.strip_suffix(".amazonaws.com").unwrap_or(source)));
    doc.close();
    doc.close();

    doc.open("source");
    doc.opt_str("address", source_address);
    doc.opt_str("ip", source_ip);
    doc.close();

    doc.open("user");
    doc.opt_str("id", actor.id);
    doc.opt_str("name", actor.name);
    doc.opt_str("email", actor.email);
    doc.open("target");
    doc.opt_str("name", target_name);
    doc.opt_str("id", target_id);
    doc.close();
    doc.open("changes");
    doc.opt_str("name", new_name);
    doc.close();
    doc.close();
    doc.open("group");
    doc.opt_str("name", text("requestParameters.groupName"));
    doc.opt_str("id", text("responseElements.group.groupId"));
    doc.close();
    doc.open("service");
    doc.opt_str("name", actor.service);
    doc.close();

    doc.open("user_agent");
    doc.opt_str("original", text("userAgent"));
    doc.close();

    if let Some(version) = text("tlsDetails.tlsVersion") {
        doc.open("tls");
        match version.split_once('v') {
            Some((protocol, number)) => {
                doc.str("version_protocol", &protocol.to_ascii_lowercase());
                doc.str("version", number);
            }
            None => doc.str("version", version),
        }
        doc.opt_str("cipher", text("tlsDetails.cipherSuite"));
        doc.open("client");
        doc.opt_str("server_name", text("tlsDetails.clientProvidedHostHeader"));
        doc.close();
        doc.close();
    } else if record.get("tlsDetails").is_some() {
        doc.open("tls");
        doc.opt_str("cipher", text("tlsDetails.cipherSuite"));
        doc.open("client");
        doc.opt_str("server_name", text("tlsDetails.clientProvidedHostHeader"));
        doc.close();
        doc.close();
    }

    doc.open("related");
    let mut users: Vec<&str> = Vec::with_capacity(8);
    let candidates = actor
        .session_names
        .iter()
        .copied()
        .chain([target_name, new_name, target_id, actor.id, actor.name].into_iter().flatten());
    for user in candidates {
        if !users.contains(&user) {
            users.push(user);
        }
    }
    doc.strs("user", &users);
    doc.strs("ip", &[source_ip.unwrap_or("")]);
    doc.close();

    doc.open("aws");
    origin(&mut doc, native);
    doc.open("cloudtrail");
    for (aws_name, ecs_name) in [
        ("eventVersion", "event_version"),
        ("eventType", "event_type"),
        ("eventCategory", "event_category"),
        ("apiVersion", "api_version"),
        ("requestID", "request_id"),
        ("recipientAccountId", "recipient_account_id"),
        ("vpcEndpointId", "vpc_endpoint_id"),
        ("errorCode", "error_code"),
        ("errorMessage", "error_message"),
    ] {
        doc.opt_str(ecs_name, text(aws_name));
    }
    doc.opt_str("shared_event_id", text("sharedEventID").or_else(|| text("sharedEventId")));
    if let Some(read_only) = record.get("readOnly").and_then(Node::flag) {
        doc.bool("read_only", read_only);
    }
    for (aws_name, ecs_name) in [
        ("managementEvent", "management_event"),
        ("sessionCredentialFromConsole", "session_credential_from_console"),
    ] {
        if let Some(value) = record.get(aws_name).and_then(Node::scalar_text) {
            doc.str(ecs_name, &value);
        }
    }
    if let Some(identity) = identity {
        doc.open("user_identity");
        for (aws_name, ecs_name) in
            [("type", "type"), ("arn", "arn"), ("accessKeyId", "access_key_id"), ("invokedBy", "invoked_by")]
        {
            doc.opt_str(ecs_name, identity.text_at(aws_name));
        }
        doc.open("session_context");
        if let Some(mfa) =
            identity.path("sessionContext.attributes.mfaAuthenticated").and_then(Node::scalar_text)
        {
            doc.str("mfa_authenticated", &mfa);
        }
        if let Some(created) =
            identity.text_at("sessionContext.attributes.creationDate").and_then(creation_date_ms)
        {
            date(&mut doc, "creation_date", created);
        }
        doc.open("session_issuer");
        if let Some(issuer) = identity.path("sessionContext.sessionIssuer") {
            for (aws_name, ecs_name) in [
                ("type", "type"),
                ("principalId", "principal_id"),
                ("arn", "arn"),
                ("accountId", "account_id"),
            ] {
                doc.opt_str(ecs_name, issuer.text_at(aws_name));
            }
        }
        doc.close();
        doc.close();
        doc.close();
    }
    const OBJECTS: [(&str, &str); 4] = [
        ("requestParameters", "request_parameters"),
        ("responseElements", "response_elements"),
        ("additionalEventData", "additional_eventdata"),
        ("serviceEventDetails", "service_event_details"),
    ];
    let mut flattened: Vec<(&str, &Node<'_>)> = Vec::new();
    for (aws_name, ecs_name) in OBJECTS {
        let Some(value) = record.get(aws_name).filter(|value| !value.is_empty()) else {
            continue;
        };
        let before = doc_len(&mut doc);
        doc.node_as_string(ecs_name, value);
        let length = doc_len(&mut doc) - before;
        if matches!(value, Node::Object(_)) && length < FLATTENED_LIMIT {
            flattened.push((ecs_name, value));
        }
    }
    if let Some(details) = record.get("insightDetails") {
        flattened.push(("insight_details", details));
    }
    doc.open("flattened");
    for (name, value) in flattened {
        doc.node_pruned(name, value);
    }
    doc.close();
    if let Some(Node::Array(resources)) = record.get("resources") {
        doc.open_array("resources");
        let mut seen: Vec<(Option<&str>, Option<&str>, Option<&str>)> = Vec::new();
        for resource in resources {
            let entry = (resource.text_at("ARN"), resource.text_at("accountId"), resource.text_at("type"));
            if seen.contains(&entry) {
                continue;
            }
            seen.push(entry);
            doc.open_element();
            doc.opt_str("arn", entry.0);
            doc.opt_str("account_id", entry.1);
            doc.opt_str("type", entry.2);
            doc.close();
        }
        doc.close();
    }
    if event_name == Some("ConsoleLogin") {
        doc.open("console_login");
        doc.open("additional_eventdata");
        doc.opt_str("login_to", text("additionalEventData.LoginTo"));
        for (path, ecs_name) in [
            ("additionalEventData.MobileVersion", "mobile_version"),
            ("additionalEventData.MFAUsed", "mfa_used"),
        ] {
            if let Some(flag) = text(path) {
                doc.bool(ecs_name, flag != "No");
            }
        }
        doc.close();
        doc.close();
    }
    doc.close();
    doc.close();
    doc.finish();
}

/// How long the document is so far (to measure a member just written).
fn doc_len(doc: &mut Doc<'_>) -> usize {
    doc.len()
}

/// `creationDate` is RFC 3339 in CloudTrail files, and sometimes Unix seconds in older records.
fn creation_date_ms(text: &str) -> Option<i64> {
    parse_rfc3339_ms(text).or_else(|| text.parse::<i64>().ok().and_then(|seconds| seconds.checked_mul(1000)))
}

/// `event.outcome`: the console's own answer for `ConsoleLogin`, else failure when the record
/// carries an error.
fn outcome<'r>(record: &'r Node<'_>, event_name: Option<&str>) -> Cow<'r, str> {
    if event_name == Some("ConsoleLogin")
        && let Some(answer) = record.text_at("responseElements.ConsoleLogin")
    {
        return Cow::Owned(answer.to_ascii_lowercase());
    }
    if record.text_at("errorCode").is_some() || record.text_at("errorMessage").is_some() {
        Cow::Borrowed("failure")
    } else {
        Cow::Borrowed("success")
    }
}

/// `event.category` and `event.type` by event name (spec §1.3).
fn categorize(event_name: &str) -> (Option<&'static str>, &'static [&'static str]) {
    const INFO: &[&str] = &["info"];
    match event_name {
        "AttachUserPolicy"
        | "DetachUserPolicy"
        | "PutUserPolicy"
        | "DeleteUserPolicy"
        | "PutUserPermissionsBoundary"
        | "DeleteUserPermissionsBoundary"
        | "ChangePassword"
        | "CreateAccessKey"
        | "DeleteAccessKey"
        | "UpdateAccessKey"
        | "CreateVirtualMFADevice"
        | "DeleteVirtualMFADevice"
        | "EnableMFADevice"
        | "DeactivateMFADevice"
        | "DeleteSSHPublicKey"
        | "UpdateSSHPublicKey"
        | "TagUser"
        | "UntagUser"
        | "UpdateLoginProfile"
        | "UpdateUser" => (Some("iam"), &["user", "change"]),
        "GetUser"
        | "GetUserPolicy"
        | "ListAttachedUserPolicies"
        | "ListGroupsForUser"
        | "ListUserPolicies"
        | "ListUserTags"
        | "ListUsers" => (Some("iam"), &["user", "info"]),
        "CreateUser" => (Some("iam"), &["user", "creation"]),
        "DeleteUser" => (Some("iam"), &["user", "deletion"]),
        "AddUserToGroup"
        | "RemoveUserFromGroup"
        | "AttachGroupPolicy"
        | "DetachGroupPolicy"
        | "PutGroupPolicy"
        | "DeleteGroupPolicy"
        | "UpdateGroup" => (Some("iam"), &["group", "change"]),
        "GetGroup" | "GetGroupPolicy" | "ListAttachedGroupPolicies" | "ListGroupPolicies" | "ListGroups" => {
            (Some("iam"), &["group", "info"])
        }
        "CreateGroup" => (Some("iam"), &["group", "creation"]),
        "DeleteGroup" => (Some("iam"), &["group", "deletion"]),
        "SetDefaultPolicyVersion"
        | "SetSecurityTokenServicePreferences"
        | "UpdateAccountPasswordPolicy"
        | "UpdateRole" => (Some("iam"), &["admin", "change"]),
        "CreateKeyPair" => (Some("iam"), &["admin", "creation"]),
        "AttachRolePolicy" => (Some("iam"), &["change"]),
        "CreatePolicy" => (Some("iam"), &["creation"]),
        "GetPolicy" | "ListAttachedRolePolicies" | "ListRoles" => (Some("iam"), INFO),
        "AssumeRole" | "ConsoleLogin" | "GetCallerIdentity" => (Some("authentication"), INFO),
        "CreateBucket" | "CreateDocument" => (Some("file"), &["creation"]),
        "DeleteBucket" => (Some("file"), &["deletion"]),
        "DeleteObject" => (Some("file"), &["delete"]),
        "GetObject" | "HeadObject" | "ListBuckets" | "ListObjects" => (Some("file"), INFO),
        "PutObject" => (Some("file"), &["change"]),
        "AuthorizeSecurityGroupIngress" => (Some("network"), &["access"]),
        "DescribeLoadBalancers"
        | "DescribeNetworkAcls"
        | "DescribeNetworkInterfaces"
        | "DescribeSecurityGroups"
        | "DescribeVpcs" => (Some("network"), INFO),
        "DescribeInstances" | "DescribeVolumes" | "ListInstanceAssociations" => (Some("host"), INFO),
        "DescribeDBInstances" | "ListTables" => (Some("database"), INFO),
        "CreateTopic" => (Some("configuration"), &["creation"]),
        "DeleteTrail" => (Some("configuration"), &["deletion"]),
        "DescribeTrails" => (Some("configuration"), INFO),
        "Subscribe" => (Some("configuration"), &["change"]),
        "CreateControlChannel"
        | "CreateDataChannel"
        | "OpenControlChannel"
        | "OpenDataChannel"
        | "StartSession" => (Some("session"), &["start"]),
        "TerminateSession" => (Some("session"), &["end"]),
        "DescribeRegions" => (Some("api"), INFO),
        "Converse" | "Publish" => (Some("api"), &[]),
        "ListFunctions" => (Some("package"), INFO),
        "SendCommand" => (Some("process"), &[]),
        _ => (None, INFO),
    }
}

/// `network.transport` by IANA protocol number.
fn transport(protocol: i64) -> Option<&'static str> {
    Some(match protocol {
        0 => "hopopt",
        1 => "icmp",
        2 => "igmp",
        6 => "tcp",
        8 => "egp",
        17 => "udp",
        47 => "gre",
        50 => "esp",
        58 => "ipv6-icmp",
        112 => "vrrp",
        132 => "sctp",
        _ => return None,
    })
}

/// True for flow fields that move to ECS fields and leave `aws.vpcflow`.
fn moved(name: &str) -> bool {
    matches!(
        name,
        "srcaddr"
            | "dstaddr"
            | "srcport"
            | "dstport"
            | "bytes"
            | "packets"
            | "protocol"
            | "start"
            | "end"
            | "pkt_src_aws_service"
            | "pkt_dst_aws_service"
            | "sublocation_type"
            | "sublocation_id"
            | "ecs_cluster_arn"
            | "ecs_cluster_name"
            | "ecs_container_instance_arn"
            | "ecs_container_instance_id"
            | "ecs_container_id"
            | "ecs_service_name"
    )
}

fn flow(native: &NativeLine<'_>, preserve_original: bool, created: &[u8], out: &mut Vec<u8>) {
    let field = |name: &str| native.flow(name);
    let start = native.flow_int("start").and_then(|seconds| seconds.checked_mul(1000));
    let end = native.flow_int("end").and_then(|seconds| seconds.checked_mul(1000));
    let action = field("action");
    let source = field("srcaddr");
    let destination = field("dstaddr");
    let source_ip = source.and_then(|address| address.parse::<IpAddr>().ok());
    let destination_ip = destination.and_then(|address| address.parse::<IpAddr>().ok());
    let protocol = native.flow_int("protocol");
    let bytes = native.flow_int("bytes");
    let packets = native.flow_int("packets");

    let mut doc = Doc::new(out);
    let end_text = end.map(quoted_date);
    if let Some(timestamp) = end_text.or_else(|| start.map(quoted_date)) {
        doc.raw("@timestamp", &timestamp);
    }
    doc.members(br#""ecs":{"version":"8.11.0"}"#, 1);

    doc.open("event");
    doc.str("id", &native.id);
    match action {
        Some("ACCEPT") => doc.members(
            br#""kind":"event","category":["network"],"type":["connection","allowed"],"action":"ACCEPT","outcome":"success""#,
            5,
        ),
        Some("REJECT") => doc.members(
            br#""kind":"event","category":["network"],"type":["connection","denied"],"action":"REJECT","outcome":"failure""#,
            5,
        ),
        _ => {
            doc.members(br#""kind":"event","category":["network"],"type":["connection"]"#, 3);
            doc.opt_str("action", action);
        }
    }
    if let Some(start) = start {
        doc.raw("start", &quoted_date(start));
    }
    if let Some(end) = &end_text {
        doc.raw("end", end);
    }
    doc.opt_str("reason", field("reject_reason"));
    doc.raw("created", created);
    doc.members(br#""module":"aws","dataset":"aws.vpcflow""#, 2);
    if preserve_original {
        doc.str("original", &native.raw);
    }
    doc.close();

    doc.open("cloud");
    doc.members(br#""provider":"aws""#, 1);
    if let Some(account) = field("account_id") {
        doc.open("account");
        doc.str("id", account);
        doc.close();
    }
    if let Some(instance) = field("instance_id") {
        doc.open("instance");
        doc.str("id", instance);
        doc.close();
    }
    doc.opt_str("region", field("region"));
    doc.opt_str("availability_zone", field("az_id"));
    doc.close();

    for (side, address, ip, port) in
        [("source", source, source_ip, "srcport"), ("destination", destination, destination_ip, "dstport")]
    {
        let Some(address) = address else { continue };
        doc.open(side);
        doc.str("address", address);
        if ip.is_some() {
            doc.str("ip", address);
        }
        if let Some(port) = native.flow_int(port) {
            doc.int("port", port);
        }
        if side == "source" {
            if let Some(bytes) = bytes {
                doc.int("bytes", bytes);
            }
            if let Some(packets) = packets {
                doc.int("packets", packets);
            }
        }
        doc.close();
    }

    doc.open("network");
    if let Some(protocol) = protocol {
        doc.str("iana_number", itoa::Buffer::new().format(protocol));
        doc.opt_str("transport", transport(protocol));
    }
    if let Some(source) = source {
        doc.str("type", if source.contains(':') { "ipv6" } else { "ipv4" });
    }
    if let Some(bytes) = bytes {
        doc.int("bytes", bytes);
    }
    if let Some(packets) = packets {
        doc.int("packets", packets);
    }
    if let (Some(source), Some(destination), Some(protocol)) = (source_ip, destination_ip, protocol) {
        let ports = (native.flow_int("srcport").unwrap_or(0), native.flow_int("dstport").unwrap_or(0));
        let mut id = [0u8; COMMUNITY_ID_LENGTH];
        if let Some(id) = community_id(source, destination, protocol, ports, &mut id) {
            doc.str("community_id", id);
        }
    }
    doc.opt_str("direction", field("flow_direction"));
    doc.close();

    if let (Some(source), Some(destination)) = (source, destination) {
        doc.open("related");
        doc.strs("ip", &[source, destination]);
        doc.close();
    }

    let cluster = (field("ecs_cluster_arn"), field("ecs_cluster_name"));
    let resource = (field("ecs_container_instance_arn"), field("ecs_container_instance_id"));
    if cluster != (None, None) || resource != (None, None) {
        doc.open("orchestrator");
        doc.open("cluster");
        doc.opt_str("id", cluster.0);
        doc.opt_str("name", cluster.1);
        doc.close();
        doc.open("resource");
        doc.opt_str("name", resource.0);
        doc.opt_str("id", resource.1);
        doc.close();
        doc.close();
    }
    if let Some(container) = field("ecs_container_id") {
        doc.open("container");
        doc.str("id", container);
        doc.close();
    }
    if let Some(service) = field("ecs_service_name") {
        doc.open("service");
        doc.str("name", service);
        doc.close();
    }

    doc.open("aws");
    origin(&mut doc, native);
    doc.open("vpcflow");
    for (name, value) in &native.flow {
        if !moved(name) {
            doc.str_under(name, value);
        }
    }
    doc.opt_str("pkt_src_service", field("pkt_src_aws_service"));
    doc.opt_str("pkt_dst_service", field("pkt_dst_aws_service"));
    let sublocation = (field("sublocation_type"), field("sublocation_id"));
    if sublocation != (None, None) {
        doc.open("sublocation");
        doc.opt_str("type", sublocation.0);
        doc.opt_str("id", sublocation.1);
        doc.close();
    }
    if let Some(flags) = native.flow_int("tcp_flags") {
        let names =
            [(0x01, "fin"), (0x02, "syn"), (0x04, "rst"), (0x08, "psh"), (0x10, "ack"), (0x20, "urg")];
        let set: Vec<&str> =
            names.iter().filter(|(bit, _)| flags & bit != 0).map(|(_, name)| *name).collect();
        doc.strs("tcp_flags_array", &set);
    }
    doc.close();
    doc.close();
    doc.finish();
}

/// `1:` and 28 characters of base64.
const COMMUNITY_ID_LENGTH: usize = 30;

/// The Community ID v1 (seed 0) of a flow, written into `id`: `1:` and the base64 SHA-1 of the
/// ordered 5-tuple. ICMP is left out: its ID is built from the ICMP type and code, which flow logs
/// do not carry.
fn community_id(
    source: IpAddr,
    destination: IpAddr,
    protocol: i64,
    (source_port, destination_port): (i64, i64),
    id: &mut [u8; COMMUNITY_ID_LENGTH],
) -> Option<&str> {
    if matches!(protocol, 1 | 58) || source.is_ipv4() != destination.is_ipv4() {
        return None;
    }
    let protocol = u8::try_from(protocol).ok()?;
    let with_ports = matches!(protocol, 6 | 17 | 132);
    let port = |value: i64| if with_ports { u16::try_from(value).ok() } else { Some(0) };
    let octets = |address: IpAddr| match address {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    };
    let skip = if source.is_ipv4() { 12 } else { 0 };
    let one = (octets(source), port(source_port)?);
    let other = (octets(destination), port(destination_port)?);
    let (first, second) = if one > other { (other, one) } else { (one, other) };
    let mut input = Vec::with_capacity(2 + 16 + 16 + 2 + 4);
    input.extend_from_slice(&0u16.to_be_bytes());
    input.extend_from_slice(first.0.get(skip..)?);
    input.extend_from_slice(second.0.get(skip..)?);
    input.extend_from_slice(&[protocol, 0]);
    input.extend_from_slice(&first.1.to_be_bytes());
    input.extend_from_slice(&second.1.to_be_bytes());
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &input);
    let (prefix, rest) = id.split_at_mut_checked(2)?;
    prefix.copy_from_slice(b"1:");
    let written = base64::engine::general_purpose::STANDARD.encode_slice(digest.as_ref(), rest).ok()?;
    std::str::from_utf8(id.get(..2 + written)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(source: &str, destination: &str, protocol: i64, ports: (i64, i64)) -> Option<String> {
        let mut id = [0u8; COMMUNITY_ID_LENGTH];
        community_id(source.parse().unwrap(), destination.parse().unwrap(), protocol, ports, &mut id)
            .map(str::to_string)
    }

    #[test]
    fn community_ids_match_the_reference_implementation() {
        // The example of the Community ID specification's README (corelight/community-id-spec).
        let expected = Some("1:LQU9qZlK+B5F3KDmev6m5PMibrg=".to_string());
        assert_eq!(id("128.232.110.120", "66.35.250.204", 6, (34855, 80)), expected);
        assert_eq!(
            id("66.35.250.204", "128.232.110.120", 6, (80, 34855)),
            expected,
            "seen from the other side"
        );
        assert_eq!(id("10.0.0.1", "10.0.0.2", 1, (0, 0)), None);
        assert_eq!(id("10.0.0.1", "::1", 6, (1, 2)), None);
        assert!(id("2001:db8::1", "2001:db8::2", 17, (53, 5353)).is_some_and(|id| id.len() == 30));
    }

    #[test]
    fn categories_follow_the_table() {
        assert_eq!(categorize("ListUsers"), (Some("iam"), &["user", "info"][..]));
        assert_eq!(categorize("SendCommand"), (Some("process"), &[][..]));
        assert_eq!(categorize("Unheard"), (None, &["info"][..]));
    }
}
