//! Where the AWS log layout is in a tree of folders, one folder name at a time.
//!
//! AWS writes `[prefix/]AWSLogs/[o-org/]ACCOUNT/SERVICE/REGION/YYYY/MM/DD/[HH/]file`, or for flow
//! logs with Hive-compatible prefixes `…/AWSLogs/aws-account-id=ACCOUNT/aws-service=vpcflowlogs/
//! aws-region=REGION/year=YYYY/month=MM/day=DD/[hour=HH/]file`. A `FilePath` may
//! name any level of that (or a prefix before it, or a tree that does not follow it), and a
//! bucket may hold several trails under different prefixes. [`child`] says what a folder is from
//! what its parent is and its own name, so the S3 source can walk a bucket with delimiter listings
//! and [`node_of_path`] can say what a configured `FilePath` points at. Pure: no I/O.

use super::LogType;

/// The name of the folder AWS writes every log under.
pub const LOGS_FOLDER: &str = "AWSLogs";

/// What a folder is in the AWS layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A folder of no AWS meaning: a trail prefix or the bucket's root when `in_layout` is false
    /// (an `AWSLogs/` folder may be below it), a folder of a tree of its own when true.
    Plain {
        /// True below an `AWSLogs/` folder: no other `AWSLogs/` is looked for there.
        in_layout: bool,
    },
    /// `…/AWSLogs/`.
    Logs,
    /// `…/AWSLogs/o-ORGANIZATION/`.
    Organization,
    /// `…/AWSLogs/[o-…/]ACCOUNT/` (or `aws-account-id=ACCOUNT/`).
    Account {
        /// The account.
        account: String,
        /// True for Hive-compatible folder names (`aws-account-id=…`).
        hive: bool,
    },
    /// A service folder of the log type collected: `…/ACCOUNT/CloudTrail/`.
    Service {
        /// The account.
        account: String,
        /// The service (`CloudTrail`, `CloudTrail-Insight`, `vpcflowlogs`).
        service: &'static str,
        /// True for Hive-compatible folder names (`aws-service=vpcflowlogs`).
        hive: bool,
    },
    /// A folder below a service folder (a region in AWS's layout): one stream of log files,
    /// whose day folders (`YYYY/MM/DD/`, or `year=YYYY/month=MM/day=DD/`) are listed by time.
    Region {
        /// The account.
        account: String,
        /// The service.
        service: &'static str,
        /// The region.
        region: String,
        /// True for Hive-compatible folder names (`aws-region=…`, `year=…`).
        hive: bool,
    },
    /// A folder that holds nothing to collect here (digests, another log type's service folder)
    /// or that a region's day listings already cover (`YYYY/` below a region).
    Skipped,
}

impl Node {
    /// The node a walk starts from at the root of a bucket.
    pub const ROOT: Node = Node::Plain { in_layout: false };

    /// True for the folders that make up the AWS layout down to an account's service folders:
    /// a walk always descends through them, whatever its depth.
    pub fn is_layout(&self) -> bool {
        matches!(self, Node::Logs | Node::Organization | Node::Account { .. } | Node::Service { .. })
    }
}

/// The service folders holding one log type.
pub fn service_folders(log_type: LogType) -> &'static [&'static str] {
    match log_type {
        LogType::CloudTrail => &["CloudTrail", "CloudTrail-Insight"],
        LogType::VpcFlowLogs => &["vpcflowlogs"],
    }
}

/// The service folders AWS writes that hold no log of `log_type` (digests, the other log type).
fn foreign_services(log_type: LogType) -> &'static [&'static str] {
    match log_type {
        LogType::CloudTrail => &["CloudTrail-Digest", "vpcflowlogs"],
        LogType::VpcFlowLogs => &["CloudTrail", "CloudTrail-Insight", "CloudTrail-Digest"],
    }
}

/// True for a 12-digit account folder name.
pub fn is_account(name: &str) -> bool {
    name.len() == 12 && name.bytes().all(|b| b.is_ascii_digit())
}

/// True for an organization folder name (`o-` and 10–32 lower-case letters or digits).
pub fn is_organization(name: &str) -> bool {
    name.strip_prefix("o-").is_some_and(|id| {
        (10..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// What the folder `name` is, below a folder that is `parent`, when collecting `log_type`.
pub fn child(parent: &Node, name: &str, log_type: LogType) -> Node {
    match parent {
        Node::Plain { in_layout: false } if name == LOGS_FOLDER => Node::Logs,
        Node::Plain { in_layout } => Node::Plain { in_layout: *in_layout },
        Node::Logs if is_organization(name) => Node::Organization,
        Node::Logs | Node::Organization if is_account(name) => {
            Node::Account { account: name.to_string(), hive: false }
        }
        Node::Logs if name.strip_prefix("aws-account-id=").is_some_and(is_account) => {
            Node::Account { account: name["aws-account-id=".len()..].to_string(), hive: true }
        }
        Node::Logs | Node::Organization => Node::Plain { in_layout: true },
        Node::Account { account, hive } => {
            let service_name = if *hive { name.strip_prefix("aws-service=").unwrap_or("") } else { name };
            if let Some(service) = service_folders(log_type).iter().find(|service| **service == service_name)
            {
                Node::Service { account: account.clone(), service, hive: *hive }
            } else if foreign_services(log_type).contains(&service_name) {
                Node::Skipped
            } else {
                Node::Plain { in_layout: true }
            }
        }
        Node::Service { account, service, hive: true } => match name.strip_prefix("aws-region=") {
            Some(region) => {
                Node::Region { account: account.clone(), service, region: region.to_string(), hive: true }
            }
            None => Node::Plain { in_layout: true },
        },
        Node::Service { account, service, hive: false } => {
            Node::Region { account: account.clone(), service, region: name.to_string(), hive: false }
        }
        Node::Region { .. } | Node::Skipped => Node::Skipped,
    }
}

/// The folders of a `FilePath` (`/AWSLogs//111122223333/` → `AWSLogs`, `111122223333`).
pub fn folders_of_path(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|folder| !folder.is_empty())
}

/// A `FilePath` as a key prefix: no leading slash, one trailing slash, empty for the root.
pub fn path_prefix(path: &str) -> String {
    folders_of_path(path).map(|folder| format!("{folder}/")).collect()
}

/// What the folder a `FilePath` names is.
pub fn node_of_path(path: &str, log_type: LogType) -> Node {
    folders_of_path(path).fold(Node::ROOT, |node, folder| child(&node, folder, log_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: LogType = LogType::CloudTrail;

    #[test]
    fn every_level_of_the_aws_layout_is_recognised() {
        assert_eq!(node_of_path("", CT), Node::ROOT);
        assert_eq!(node_of_path("org-trail/", CT), Node::ROOT);
        assert_eq!(node_of_path("/a/b", CT), Node::ROOT);
        assert_eq!(node_of_path("AWSLogs", CT), Node::Logs);
        assert_eq!(node_of_path("/org-trail/AWSLogs/", CT), Node::Logs);
        assert_eq!(node_of_path("AWSLogs/o-a1b2c3d4e5", CT), Node::Organization);
        let account = Node::Account { account: "697238620699".into(), hive: false };
        assert_eq!(node_of_path("AWSLogs/697238620699/", CT), account);
        assert_eq!(node_of_path("AWSLogs/o-a1b2c3d4e5/697238620699", CT), account);
        let service = Node::Service { account: "697238620699".into(), service: "CloudTrail", hive: false };
        assert_eq!(node_of_path("AWSLogs/697238620699/CloudTrail/", CT), service);
        let region = Node::Region {
            account: "697238620699".into(),
            service: "CloudTrail",
            region: "us-east-1".into(),
            hive: false,
        };
        assert_eq!(node_of_path("AWSLogs/697238620699/CloudTrail/us-east-1", CT), region);
        assert_eq!(node_of_path("AWSLogs/697238620699/CloudTrail/us-east-1/2026", CT), Node::Skipped);
        let flows = Node::Service { account: "697238620699".into(), service: "vpcflowlogs", hive: false };
        assert_eq!(node_of_path("AWSLogs/697238620699/vpcflowlogs/", LogType::VpcFlowLogs), flows);
        let hive = "AWSLogs/aws-account-id=697238620699/aws-service=vpcflowlogs/aws-region=eu-west-1/";
        assert_eq!(
            node_of_path(hive, LogType::VpcFlowLogs),
            Node::Region {
                account: "697238620699".into(),
                service: "vpcflowlogs",
                region: "eu-west-1".into(),
                hive: true
            }
        );
        assert_eq!(
            node_of_path("AWSLogs/aws-account-id=697238620699/aws-service=CloudTrail", LogType::VpcFlowLogs),
            Node::Skipped
        );
    }

    #[test]
    fn folders_outside_the_layout_are_plain_or_skipped() {
        assert_eq!(node_of_path("AWSLogs/697238620699/vpcflowlogs", CT), Node::Skipped);
        assert_eq!(node_of_path("AWSLogs/697238620699/CloudTrail-Digest", CT), Node::Skipped);
        assert_eq!(node_of_path("AWSLogs/697238620699/CloudTrail", LogType::VpcFlowLogs), Node::Skipped);
        // The seed's example folder spelling is not AWS's: a tree of its own.
        assert_eq!(
            node_of_path("AWSLogs/697238620699/VPCFlowLogs/", LogType::VpcFlowLogs),
            Node::Plain { in_layout: true }
        );
        assert_eq!(node_of_path("AWSLogs/exports", CT), Node::Plain { in_layout: true });
        // No second AWSLogs is looked for inside a layout.
        assert_eq!(node_of_path("AWSLogs/exports/AWSLogs", CT), Node::Plain { in_layout: true });
        assert!(Node::Service { account: "1".into(), service: "CloudTrail", hive: false }.is_layout());
        assert!(!Node::ROOT.is_layout());
    }

    #[test]
    fn file_paths_become_key_prefixes() {
        assert_eq!(path_prefix(""), "");
        assert_eq!(path_prefix("/"), "");
        assert_eq!(path_prefix("org-trail"), "org-trail/");
        assert_eq!(path_prefix("/a//b/"), "a/b/");
    }

    #[test]
    fn account_and_organization_names() {
        assert!(is_account("111122223333") && !is_account("11112222333a"));
        assert!(is_organization("o-a1b2c3d4e5") && !is_organization("o-short"));
    }
}
