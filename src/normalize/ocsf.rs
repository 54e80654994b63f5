//! The `ocsf` profile: CloudTrail records and VPC flow lines in OCSF 1.1.0, as Amazon Security
//! Lake (source version 2) writes them, by the tables of `../shared/spec/output-profiles.md` §2.
//!
//! CloudTrail records become Authentication (3002), Account Change (3001) or API Activity (6003)
//! events, Insights records Base Events (0); flow lines become Network Activity (4001). What a
//! class has no attribute for goes to `unmapped` as dotted path → string.

// Outside input reaches this code: no path may panic on it (tests may).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing))]

use super::doc::Doc;
use super::profile::{NativeLine, is_ip, quoted_date};
use super::time_text::parse_rfc3339_ms;
use super::tree::Node;
use crate::decode::LogType;

const OCSF_VERSION: &str = "1.1.0";

/// Appends the OCSF document of `native`; `None` when its record cannot be read.
pub(super) fn write(native: &NativeLine<'_>, preserve_original: bool, out: &mut Vec<u8>) -> Option<()> {
    match native.log_type {
        LogType::CloudTrail => cloudtrail(native, native.record.as_ref()?, preserve_original, out),
        LogType::VpcFlowLogs => flow(native, preserve_original, out),
    }
    Some(())
}

/// The document of a line that could not be rendered: a Base Event carrying the line whole.
pub(super) fn write_failure(line: &str, out: &mut Vec<u8>) {
    let mut doc = Doc::new(out);
    classify(&mut doc, Class::BASE, 0, "Unknown");
    doc.int("severity_id", 1);
    doc.str("severity", "Informational");
    doc.open("metadata");
    doc.str("version", OCSF_VERSION);
    product(&mut doc, "Trailhound", None, None);
    doc.close();
    doc.str("message", "trailhound: the event could not be rendered in the ocsf profile");
    doc.str("raw_data", line);
    doc.finish();
}

/// An OCSF class with its category.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Class {
    pub(crate) uid: i64,
    pub(crate) name: &'static str,
    pub(crate) category_uid: i64,
    pub(crate) category_name: &'static str,
}

impl Class {
    const BASE: Class = Class { uid: 0, name: "Base Event", category_uid: 0, category_name: "Uncategorized" };
    const ACCOUNT_CHANGE: Class = Class {
        uid: 3001,
        name: "Account Change",
        category_uid: 3,
        category_name: "Identity & Access Management",
    };
    const AUTHENTICATION: Class = Class {
        uid: 3002,
        name: "Authentication",
        category_uid: 3,
        category_name: "Identity & Access Management",
    };
    const NETWORK_ACTIVITY: Class =
        Class { uid: 4001, name: "Network Activity", category_uid: 4, category_name: "Network Activity" };
    const API_ACTIVITY: Class =
        Class { uid: 6003, name: "API Activity", category_uid: 6, category_name: "Application Activity" };
}

/// Writes the class, category, activity and type attributes.
fn classify(doc: &mut Doc<'_>, class: Class, activity_id: i64, activity_name: &str) {
    doc.int("activity_id", activity_id);
    doc.str("activity_name", activity_name);
    doc.int("category_uid", class.category_uid);
    doc.str("category_name", class.category_name);
    doc.int("class_uid", class.uid);
    doc.str("class_name", class.name);
    doc.int("type_uid", class.uid * 100 + activity_id);
    doc.str_parts("type_name", &[class.name, ": ", activity_name]);
}

/// `name` (epoch milliseconds) and `name_dt` (RFC 3339).
fn time(doc: &mut Doc<'_>, (name, name_dt): (&str, &str), milliseconds: i64) {
    doc.int(name, milliseconds);
    doc.raw(name_dt, &quoted_date(milliseconds));
}

fn product(doc: &mut Doc<'_>, name: &str, version: Option<&str>, feature: Option<&str>) {
    doc.open("product");
    doc.str("name", name);
    doc.str("vendor_name", "AWS");
    doc.opt_str("version", version);
    doc.open("feature");
    doc.opt_str("name", feature);
    doc.close();
    doc.close();
}

fn observable(doc: &mut Doc<'_>, name: &str, type_id: i64, value: &str) {
    let caption = match type_id {
        1 => "Hostname",
        2 => "IP Address",
        4 => "User Name",
        10 => "Resource UID",
        _ => "Other",
    };
    doc.open_element();
    doc.str("name", name);
    doc.str("type", caption);
    doc.int("type_id", type_id);
    doc.str("value", value);
    doc.close();
}

/// Event names of the Authentication class.
const AUTHENTICATION: &[&str] = &[
    "ConsoleLogin",
    "ExternalIdPDirectoryLogin",
    "CheckMfa",
    "CredentialChallenge",
    "CredentialVerification",
    "UserAuthentication",
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
];

/// Event names of the Account Change class (from IAM, sign-in and account management).
const ACCOUNT_CHANGE: &[&str] = &[
    "AddRoleToInstanceProfile",
    "AddUserToGroup",
    "AccountNameUpdated",
    "AttachGroupPolicy",
    "AttachRolePolicy",
    "AttachUserPolicy",
    "ChangePassword",
    "CreateAccessKey",
    "CreateAccountAlias",
    "CreateInstanceProfile",
    "CreateLoginProfile",
    "CreateRole",
    "CreateServiceLinkedRole",
    "CreateUser",
    "CreateVirtualMFADevice",
    "DeactivateMFADevice",
    "DeleteAccessKey",
    "DeleteAccountAlias",
    "DeleteAccountPasswordPolicy",
    "DeleteGroup",
    "DeleteGroupPolicy",
    "DeleteInstanceProfile",
    "DeleteLoginProfile",
    "DeletePolicy",
    "DeleteRole",
    "DeleteRolePermissionsBoundary",
    "DeleteRolePolicy",
    "DeleteServiceLinkedRole",
    "DeleteUser",
    "DeleteUserPermissionsBoundary",
    "DeleteUserPolicy",
    "DeleteVirtualMFADevice",
    "DetachGroupPolicy",
    "DetachRolePolicy",
    "DetachUserPolicy",
    "EmailUpdated",
    "EnableMFADevice",
    "FinalizeSmsMfaRegistration",
    "PasswordUpdated",
    "PutGroupPolicy",
    "PutRolePermissionsBoundary",
    "PutRolePolicy",
    "PutUserPermissionsBoundary",
    "PutUserPolicy",
    "RemoveRoleFromInstanceProfile",
    "RemoveUserFromGroup",
    "RequestSmsMfaRegistration",
    "ResyncMFADevice",
    "TagInstanceProfile",
    "TagRole",
    "TagUser",
    "UntagInstanceProfile",
    "UntagRole",
    "UntagUser",
    "UpdateAccessKey",
    "UpdateAccountEmailAddress",
    "UpdateAccountName",
    "UpdateAccountPasswordPolicy",
    "UpdateAssumeRolePolicy",
    "UpdateGroup",
    "UpdateLoginProfile",
    "UpdateRole",
    "UpdateRoleDescription",
    "UpdateUser",
];

/// The class of a CloudTrail record (spec §2.1).
fn cloudtrail_class(record: &Node<'_>, event_name: &str) -> Class {
    if record.text_at("eventType") == Some("AwsCloudTrailInsight") || record.get("insightDetails").is_some() {
        return Class::BASE;
    }
    if AUTHENTICATION.contains(&event_name) {
        return Class::AUTHENTICATION;
    }
    let account_service = matches!(
        record.text_at("eventSource"),
        Some("iam.amazonaws.com" | "signin.amazonaws.com" | "account.amazonaws.com")
    );
    if account_service && ACCOUNT_CHANGE.contains(&event_name) {
        return Class::ACCOUNT_CHANGE;
    }
    Class::API_ACTIVITY
}

/// The activity of a record of `class` (spec §2.3).
fn cloudtrail_activity(class: Class, event_name: &str) -> (i64, &'static str) {
    match class.uid {
        6003 => api_activity(event_name),
        3002 if matches!(event_name, "ConsoleLogin" | "ExternalIdPDirectoryLogin" | "UserAuthentication")
            || event_name.contains("AssumeRole") =>
        {
            (1, "Logon")
        }
        3002 => (99, "Other"),
        3001 => account_change_activity(event_name),
        _ => (99, "Other"),
    }
}

fn api_activity(event_name: &str) -> (i64, &'static str) {
    const KEYWORDS: [(&str, i64, &str); 27] = [
        ("Create", 1, "Create"),
        ("Run", 1, "Create"),
        ("Generate", 1, "Create"),
        ("Get", 2, "Read"),
        ("List", 2, "Read"),
        ("Describe", 2, "Read"),
        ("Search", 2, "Read"),
        ("Lookup", 2, "Read"),
        ("Update", 3, "Update"),
        ("Put", 3, "Update"),
        ("Modify", 3, "Update"),
        ("Add", 3, "Update"),
        ("Remove", 3, "Update"),
        ("Start", 3, "Update"),
        ("Stop", 3, "Update"),
        ("Attach", 3, "Update"),
        ("Detach", 3, "Update"),
        ("Associate", 3, "Update"),
        ("Disassociate", 3, "Update"),
        ("Tag", 3, "Update"),
        ("Untag", 3, "Update"),
        ("Enable", 3, "Update"),
        ("Disable", 3, "Update"),
        ("Register", 3, "Update"),
        ("Deregister", 3, "Update"),
        ("Delete", 4, "Delete"),
        ("Terminate", 4, "Delete"),
    ];
    if event_name.contains("Unknown") {
        return (0, "Unknown");
    }
    // A longer keyword that starts with a shorter one (Disassociate, Untag, Deregister) is
    // found by the prefix pass before its shorter cousin could match as a substring.
    let prefix = KEYWORDS
        .iter()
        .filter(|(keyword, _, _)| event_name.starts_with(keyword))
        .max_by_key(|(keyword, _, _)| keyword.len());
    let found = prefix.or_else(|| KEYWORDS.iter().find(|(keyword, _, _)| event_name.contains(keyword)));
    found.map_or((99, "Other"), |(_, id, name)| (*id, *name))
}

fn account_change_activity(event_name: &str) -> (i64, &'static str) {
    let contains = |part: &str| event_name.contains(part);
    if contains("Create") || matches!(event_name, "ResyncMFADevice" | "EnableMFADevice") {
        (1, "Create")
    } else if matches!(event_name, "ChangePassword" | "PasswordUpdated") {
        (3, "Password Change")
    } else if contains("Attach") || contains("Put") || event_name == "AddUserToGroup" {
        (7, "Attach Policy")
    } else if contains("Detach") || contains("Remove") {
        (8, "Detach Policy")
    } else if [
        "DeleteSSH",
        "DeleteServer",
        "DeleteSign",
        "DeleteAccount",
        "DeleteCloudFront",
        "DeleteService",
    ]
    .iter()
    .any(|part| contains(part))
    {
        (99, "Other")
    } else if event_name.starts_with("Delete") {
        (6, "Delete")
    } else {
        (99, "Other")
    }
}

/// Record leaves a class consumes (exact paths, or whole subtrees for the `*.` entries); the rest
/// goes to `unmapped`. `recipientAccountId` stays there too, as in every AWS sample.
const CONSUMED: &[&str] = &[
    "eventTime",
    "eventID",
    "eventVersion",
    "eventCategory",
    "eventType",
    "awsRegion",
    "eventName",
    "eventSource",
    "apiVersion",
    "requestID",
    "requestParameters.",
    "responseElements.",
    "errorCode",
    "errorMessage",
    "sourceIPAddress",
    "vpcEndpointId",
    "userAgent",
    "userIdentity.type",
    "userIdentity.arn",
    "userIdentity.principalId",
    "userIdentity.accountId",
    "userIdentity.userName",
    "userIdentity.accessKeyId",
    "userIdentity.credentialId",
    "userIdentity.invokedBy",
    "userIdentity.identityProvider",
    "userIdentity.onBehalfOf.userId",
    "userIdentity.onBehalfOf.identityStoreArn",
    "userIdentity.sessionContext.attributes.creationDate",
    "userIdentity.sessionContext.attributes.mfaAuthenticated",
    "userIdentity.sessionContext.sessionIssuer.arn",
    "userIdentity.sessionContext.webIdFederationData.federatedProvider",
    "resources.",
];

fn consumed(path: &str, extra: &[&str]) -> bool {
    CONSUMED.iter().chain(extra).any(|entry| match entry.strip_suffix('.') {
        Some(subtree) => path == subtree || path.starts_with(entry),
        None => path == *entry,
    })
}

/// The `unmapped` object: every leaf not consumed, as a string, keys sorted.
fn unmapped(doc: &mut Doc<'_>, record: &Node<'_>, extra_consumed: &[&str], everything: bool) {
    let mut leaves: Vec<(String, String)> = Vec::new();
    record.leaves(&mut |path, leaf| {
        if leaf.is_empty() || (!everything && consumed(path, extra_consumed)) {
            return;
        }
        let value = match leaf.scalar_text() {
            Some(text) => text.into_owned(),
            None => {
                let mut text = Vec::new();
                leaf.write_pruned(&mut text);
                String::from_utf8_lossy(&text).into_owned()
            }
        };
        leaves.push((path.to_string(), value));
    });
    leaves.sort();
    doc.open("unmapped");
    for (path, value) in &leaves {
        doc.str_under(path, value);
    }
    doc.close();
}

fn cloudtrail(native: &NativeLine<'_>, record: &Node<'_>, preserve_original: bool, out: &mut Vec<u8>) {
    let text = |path: &str| record.text_at(path);
    let event_name = text("eventName").unwrap_or("");
    let class = cloudtrail_class(record, event_name);
    let (activity_id, activity_name) = cloudtrail_activity(class, event_name);
    let identity = record.get("userIdentity");
    let identity_text = |path: &str| identity.and_then(|identity| identity.text_at(path));

    let mut doc = Doc::new(out);
    classify(&mut doc, class, activity_id, activity_name);
    doc.int("severity_id", 1);
    doc.str("severity", "Informational");
    if class == Class::BASE {
        cloudtrail_time_metadata_cloud(&mut doc, native, record);
        if preserve_original {
            doc.str("raw_data", &native.raw);
        }
        unmapped(&mut doc, record, &[], true);
        doc.finish();
        return;
    }

    let login_answer =
        (event_name == "ConsoleLogin").then(|| text("responseElements.ConsoleLogin")).flatten();
    let failed = match login_answer {
        Some(answer) => !answer.eq_ignore_ascii_case("success"),
        None => text("errorCode").is_some(),
    };
    if failed {
        doc.int("status_id", 2);
        doc.str("status", "Failure");
    } else {
        doc.int("status_id", 1);
        doc.str("status", "Success");
    }
    let mfa_used = text("additionalEventData.MFAUsed");
    if class == Class::AUTHENTICATION
        && let Some(mfa_used) = mfa_used
    {
        doc.bool("is_mfa", mfa_used == "Yes");
    }
    cloudtrail_time_metadata_cloud(&mut doc, native, record);

    let actor_name = identity_text("userName");
    let name_from_event_data = actor_name.is_none().then(|| text("additionalEventData.UserName")).flatten();
    let actor_name = actor_name.or(name_from_event_data);
    doc.open("actor");
    doc.open("user");
    doc.opt_str("type", identity_text("type"));
    doc.opt_str("name", actor_name);
    doc.opt_str("uid", identity_text("arn"));
    doc.opt_str("uid_alt", identity_text("principalId").or_else(|| identity_text("onBehalfOf.userId")));
    doc.opt_str("credential_uid", identity_text("accessKeyId").or_else(|| identity_text("credentialId")));
    doc.open("account");
    doc.opt_str("uid", identity_text("accountId"));
    doc.close();
    doc.close();
    doc.open("session");
    if let Some(created) = identity_text("sessionContext.attributes.creationDate").and_then(parse_rfc3339_ms)
    {
        time(&mut doc, ("created_time", "created_time_dt"), created);
    }
    if let Some(mfa) = identity
        .and_then(|identity| identity.path("sessionContext.attributes.mfaAuthenticated"))
        .and_then(Node::flag)
    {
        doc.bool("is_mfa", mfa);
    }
    doc.opt_str("issuer", identity_text("sessionContext.sessionIssuer.arn"));
    doc.close();
    doc.opt_str("invoked_by", identity_text("invokedBy"));
    doc.open("idp");
    doc.opt_str(
        "name",
        identity_text("sessionContext.webIdFederationData.federatedProvider")
            .or_else(|| identity_text("identityProvider")),
    );
    doc.opt_str("uid", identity_text("onBehalfOf.identityStoreArn"));
    doc.close();
    doc.close();

    // The subject of the class: who logged on (Authentication) or whose account changed.
    let mut subject_name = None;
    if class == Class::AUTHENTICATION {
        // A role's session for the AssumeRole family; else the caller signs in as themself, named
        // by name only when there is no ARN (Identity Center users), as OCSF requires a user.
        doc.open("user");
        subject_name = text("requestParameters.roleSessionName");
        let subject_uid = text("requestParameters.roleArn").or_else(|| identity_text("arn"));
        doc.opt_str("name", subject_name.or(if subject_uid.is_none() { actor_name } else { None }));
        doc.opt_str("uid", subject_uid);
        doc.opt_str("uid_alt", identity_text("principalId").or_else(|| identity_text("onBehalfOf.userId")));
        doc.close();
        doc.open("dst_endpoint");
        doc.opt_str("svc_name", text("additionalEventData.LoginTo"));
        doc.close();
    } else if class == Class::ACCOUNT_CHANGE {
        subject_name = text("requestParameters.userName")
            .or_else(|| text("requestParameters.roleName"))
            .or_else(|| text("requestParameters.groupName"))
            .or_else(|| text("requestParameters.instanceProfileName"));
        let subject_uid = text("responseElements.user.arn").or_else(|| text("responseElements.role.arn"));
        let subject_uid_alt =
            text("responseElements.user.userId").or_else(|| text("responseElements.role.roleId"));
        doc.open("user");
        doc.opt_str("name", subject_name);
        // OCSF requires the changed account: without a named one, the account acted on is the
        // caller's own (ChangePassword, account-wide settings).
        let own = subject_name.is_none() && subject_uid.is_none();
        doc.opt_str("uid", subject_uid.or(if own { identity_text("arn") } else { None }));
        doc.opt_str("uid_alt", subject_uid_alt);
        doc.close();
    }

    doc.open("api");
    doc.opt_str("operation", text("eventName"));
    doc.open("service");
    doc.opt_str("name", text("eventSource"));
    doc.close();
    doc.opt_str("version", text("apiVersion"));
    doc.open("request");
    doc.opt_str("uid", text("requestID"));
    if let Some(parameters) = record.get("requestParameters") {
        doc.node_as_string("data", parameters);
    }
    doc.close();
    doc.open("response");
    doc.opt_str("error", text("errorCode"));
    doc.opt_str("message", text("errorMessage"));
    if let Some(elements) = record.get("responseElements") {
        doc.node_as_string("data", elements);
    }
    doc.close();
    doc.close();

    let source = text("sourceIPAddress");
    let source_ip = source.filter(|address| is_ip(address));
    let source_domain = source.filter(|address| !is_ip(address));
    doc.open("src_endpoint");
    doc.opt_str("ip", source_ip);
    doc.opt_str("domain", source_domain);
    doc.opt_str("uid", text("vpcEndpointId"));
    doc.close();
    doc.open("http_request");
    doc.opt_str("user_agent", text("userAgent"));
    doc.close();

    let mut resource_uids = Vec::new();
    if let Some(Node::Array(resources)) = record.get("resources") {
        doc.open_array("resources");
        for resource in resources {
            doc.open_element();
            let uid = resource.text_at("ARN");
            doc.opt_str("uid", uid);
            doc.open("owner");
            doc.open("account");
            doc.opt_str("uid", resource.text_at("accountId"));
            doc.close();
            doc.close();
            doc.opt_str("type", resource.text_at("type"));
            doc.close();
            resource_uids.extend(uid);
        }
        doc.close();
    }

    doc.open_array("observables");
    if let Some(name) = actor_name {
        observable(&mut doc, "actor.user.name", 4, name);
    }
    if let Some(name) = subject_name {
        observable(&mut doc, "user.name", 4, name);
    }
    if let Some(ip) = source_ip {
        observable(&mut doc, "src_endpoint.ip", 2, ip);
    }
    if let Some(domain) = source_domain {
        observable(&mut doc, "src_endpoint.domain", 1, domain);
    }
    for uid in resource_uids {
        observable(&mut doc, "resources.uid", 10, uid);
    }
    doc.close();

    if preserve_original {
        doc.str("raw_data", &native.raw);
    }
    let mut extra: Vec<&str> = Vec::new();
    if name_from_event_data.is_some() {
        extra.push("additionalEventData.UserName");
    }
    if class == Class::AUTHENTICATION {
        extra.extend(["additionalEventData.LoginTo", "additionalEventData.MFAUsed"]);
    }
    unmapped(&mut doc, record, &extra, false);
    doc.finish();
}

/// `time`, `metadata` and `cloud`, which every CloudTrail class carries.
fn cloudtrail_time_metadata_cloud(doc: &mut Doc<'_>, native: &NativeLine<'_>, record: &Node<'_>) {
    if let Some(milliseconds) = record.text_at("eventTime").and_then(parse_rfc3339_ms) {
        time(doc, ("time", "time_dt"), milliseconds);
    }
    cloudtrail_metadata(doc, native, record);
    doc.open("cloud");
    doc.str("provider", "AWS");
    doc.opt_str("region", record.text_at("awsRegion"));
    doc.open("account");
    doc.opt_str("uid", record.text_at("recipientAccountId"));
    doc.close();
    doc.close();
}

fn cloudtrail_metadata(doc: &mut Doc<'_>, native: &NativeLine<'_>, record: &Node<'_>) {
    doc.open("metadata");
    doc.str("version", OCSF_VERSION);
    doc.str("uid", record.text_at("eventID").unwrap_or(&native.id));
    doc.opt_str("event_code", record.text_at("eventType"));
    doc.strs("profiles", &["cloud", "datetime"]);
    let feature = record.text_at("eventCategory").unwrap_or("Management, Data, and Insights");
    product(doc, "CloudTrail", record.text_at("eventVersion"), Some(feature));
    doc.close();
}

/// `traffic-path` 1…8 → (`boundary_id`, `boundary`).
fn boundary(traffic_path: i64) -> Option<(i64, &'static str)> {
    const BOUNDARIES: [&str; 8] = [
        "Same VPC",
        "Internet/VPC Gateway",
        "Virtual Private Gateway",
        "Intra-region VPC",
        "Inter-region VPC",
        "Local Gateway",
        "Gateway VPC",
        "Internet Gateway",
    ];
    let index = usize::try_from(traffic_path.checked_sub(1)?).ok()?;
    BOUNDARIES.get(index).map(|caption| (traffic_path + 3, *caption))
}

/// Flow fields with an attribute of their own; the others go to `unmapped`.
const FLOW_MAPPED: &[&str] = &[
    "version",
    "account_id",
    "region",
    "az_id",
    "start",
    "end",
    "srcaddr",
    "dstaddr",
    "pkt_srcaddr",
    "pkt_dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "tcp_flags",
    "type",
    "flow_direction",
    "traffic_path",
    "pkt_src_aws_service",
    "pkt_dst_aws_service",
    "packets",
    "bytes",
    "log_status",
    "action",
];

/// Observable names of each side.
const SOURCE_OBSERVABLES: [&str; 3] =
    ["src_endpoint.ip", "src_endpoint.intermediate_ips", "src_endpoint.instance_uid"];
const DESTINATION_OBSERVABLES: [&str; 3] =
    ["dst_endpoint.ip", "dst_endpoint.intermediate_ips", "dst_endpoint.instance_uid"];

/// Fields that describe the interface's side of the flow.
const INTERFACE_FIELDS: [(&str, &str); 4] = [
    ("interface_id", "interface_uid"),
    ("vpc_id", "vpc_uid"),
    ("subnet_id", "subnet_uid"),
    ("instance_id", "instance_uid"),
];

fn flow(native: &NativeLine<'_>, preserve_original: bool, out: &mut Vec<u8>) {
    let field = |name: &str| native.flow(name);
    let (activity_id, activity_name, action_id, action, disposition) = match field("action") {
        Some("ACCEPT") => (6, "Traffic", 1, "Allowed", "Allowed"),
        Some("REJECT") => (5, "Refuse", 2, "Denied", "Blocked"),
        _ => (0, "Unknown", 0, "Unknown", "Unknown"),
    };
    let direction = match field("flow_direction") {
        Some("ingress") => Some(1),
        Some("egress") => Some(2),
        _ => None,
    };

    let mut doc = Doc::new(out);
    classify(&mut doc, Class::NETWORK_ACTIVITY, activity_id, activity_name);
    doc.int("severity_id", 1);
    doc.str("severity", "Informational");
    doc.int("action_id", action_id);
    doc.str("action", action);
    doc.int("disposition_id", action_id);
    doc.str("disposition", disposition);
    let status = field("log_status");
    match status {
        Some("OK") => {
            doc.int("status_id", 1);
            doc.str("status", "Success");
        }
        Some("NODATA") => {
            doc.int("status_id", 99);
            doc.str("status", "No Data");
            doc.str("status_detail", "no traffic on the interface in the interval");
        }
        Some("SKIPDATA") => {
            doc.int("status_id", 2);
            doc.str("status", "Failure");
            doc.str("status_detail", "flow records skipped in the interval");
        }
        _ => {}
    }
    doc.opt_str("status_code", status);
    let start = native.flow_int("start").and_then(|seconds| seconds.checked_mul(1000));
    let end = native.flow_int("end").and_then(|seconds| seconds.checked_mul(1000));
    if let Some(moment) = start.or(end) {
        time(&mut doc, ("time", "time_dt"), moment);
    }
    if let Some(start) = start {
        time(&mut doc, ("start_time", "start_time_dt"), start);
    }
    if let Some(end) = end {
        time(&mut doc, ("end_time", "end_time_dt"), end);
    }

    doc.open("metadata");
    doc.str("version", OCSF_VERSION);
    doc.str("uid", &native.id);
    doc.strs("profiles", &["cloud", "security_control", "datetime"]);
    product(&mut doc, "Amazon VPC", field("version"), Some("Flowlogs"));
    doc.close();

    doc.open("cloud");
    doc.str("provider", "AWS");
    doc.opt_str("region", field("region").or_else(|| native.origin_region()));
    doc.opt_str("zone", field("az_id"));
    doc.open("account");
    doc.opt_str("uid", field("account_id"));
    doc.close();
    doc.close();

    let mut observed: Vec<(&str, i64, &str)> = Vec::new();
    for (side, address, packet_address, port, service, direction_here, names) in [
        ("src_endpoint", "srcaddr", "pkt_srcaddr", "srcport", "pkt_src_aws_service", 2, SOURCE_OBSERVABLES),
        (
            "dst_endpoint",
            "dstaddr",
            "pkt_dstaddr",
            "dstport",
            "pkt_dst_aws_service",
            1,
            DESTINATION_OBSERVABLES,
        ),
    ] {
        doc.open(side);
        let address = field(address);
        let packet_address = field(packet_address).filter(|packet| Some(*packet) != address);
        let ip = packet_address.or(address);
        doc.opt_str("ip", ip);
        if let Some(ip) = ip {
            observed.push((names[0], 2, ip));
        }
        if packet_address.is_some()
            && let Some(address) = address
        {
            doc.strs("intermediate_ips", &[address]);
            observed.push((names[1], 2, address));
        }
        if ip.is_some()
            && let Some(port) = native.flow_int(port)
        {
            doc.int("port", port);
        }
        doc.opt_str("svc_name", field(service));
        if direction == Some(direction_here) {
            for (aws_name, ocsf_name) in INTERFACE_FIELDS {
                doc.opt_str(ocsf_name, field(aws_name));
            }
            if let Some(instance) = field("instance_id") {
                observed.push((names[2], 10, instance));
            }
        }
        doc.close();
    }

    doc.open("connection_info");
    if let Some(protocol) = native.flow_int("protocol") {
        doc.int("protocol_num", protocol);
    }
    if let Some(flags) = native.flow_int("tcp_flags") {
        doc.int("tcp_flags", flags);
    }
    if let Some(version) = field("type") {
        doc.str("protocol_ver", version);
    }
    match direction {
        Some(1) => {
            doc.int("direction_id", 1);
            doc.str("direction", "Inbound");
        }
        Some(_) => {
            doc.int("direction_id", 2);
            doc.str("direction", "Outbound");
        }
        None => {
            doc.int("direction_id", 0);
            doc.str("direction", "Unknown");
        }
    }
    if let Some((boundary_id, caption)) = native.flow_int("traffic_path").and_then(boundary) {
        doc.int("boundary_id", boundary_id);
        doc.str("boundary", caption);
    }
    doc.close();

    doc.open("traffic");
    if let Some(bytes) = native.flow_int("bytes") {
        doc.int("bytes", bytes);
    }
    if let Some(packets) = native.flow_int("packets") {
        doc.int("packets", packets);
    }
    doc.close();

    doc.open_array("observables");
    for (name, type_id, value) in &observed {
        observable(&mut doc, name, *type_id, value);
    }
    doc.close();

    if preserve_original {
        doc.str("raw_data", &native.raw);
    }
    doc.open("unmapped");
    let mut rest: Vec<(&str, &str)> = native
        .flow
        .iter()
        .filter(|(name, _)| !FLOW_MAPPED.contains(name))
        .filter(|(name, _)| {
            direction.is_none() || !INTERFACE_FIELDS.iter().any(|(aws_name, _)| aws_name == name)
        })
        .map(|(name, value)| (*name, value.as_ref()))
        .collect();
    rest.sort_unstable();
    for (name, value) in rest {
        doc.str_under(name, value);
    }
    doc.close();
    doc.finish();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_activities_by_prefix_then_substring() {
        assert_eq!(api_activity("ListUsers"), (2, "Read"));
        assert_eq!(api_activity("DescribeDirectConnectGateways"), (2, "Read"));
        assert_eq!(api_activity("ListRuns"), (2, "Read"), "a prefix wins over a later substring");
        assert_eq!(api_activity("DisassociateAddress"), (3, "Update"));
        assert_eq!(api_activity("BatchGetItem"), (2, "Read"));
        assert_eq!(api_activity("TerminateInstances"), (4, "Delete"));
        assert_eq!(api_activity("Decrypt"), (99, "Other"));
        assert_eq!(api_activity("UnknownCall"), (0, "Unknown"));
    }

    #[test]
    fn account_change_activities() {
        assert_eq!(account_change_activity("CreateUser"), (1, "Create"));
        assert_eq!(account_change_activity("ChangePassword"), (3, "Password Change"));
        assert_eq!(account_change_activity("AttachUserPolicy"), (7, "Attach Policy"));
        assert_eq!(account_change_activity("AddUserToGroup"), (7, "Attach Policy"));
        assert_eq!(account_change_activity("RemoveUserFromGroup"), (8, "Detach Policy"));
        assert_eq!(account_change_activity("DeleteUser"), (6, "Delete"));
        assert_eq!(account_change_activity("DeleteAccountAlias"), (99, "Other"));
        assert_eq!(account_change_activity("TagUser"), (99, "Other"));
    }

    #[test]
    fn boundaries() {
        assert_eq!(boundary(1), Some((4, "Same VPC")));
        assert_eq!(boundary(8), Some((11, "Internet Gateway")));
        assert_eq!(boundary(0), None);
        assert_eq!(boundary(9), None);
    }
}
