//! What a poll lists: the partitions of the AWS layout below `FilePath`, and the files of a tree
//! that does not follow it, found with delimiter listings one folder level at a time.
//!
//! The walk starts at `FilePath`, whatever level of the layout it names (`decode::layout` says
//! which). It always descends through the layout's folders (`AWSLogs/`, organizations, accounts,
//! the log type's service folders) down to the region folders, which become partitions whose day
//! folders `listing.rs` plans. Besides, it collects the files lying in `FilePath` and in the
//! folders down to `DepthToRecurse` levels below it (the seed's definition: with
//! `FilePath=AWSLogs`, depth 1 is `AWSLogs/ACCOUNT/`, depth 2 `AWSLogs/ACCOUNT/CloudTrail/`).
//! Where `FilePath` is above any `AWSLogs/` folder (blank, or a trail prefix), `AWSLogs/` is
//! looked for down to [`LOGS_SEARCH_LEVELS`] levels. That search costs a listing per folder, so
//! it runs on the first poll and on sweeps; the polls between reuse the `AWSLogs/` folders found.

use std::collections::{HashSet, VecDeque};

use super::client::{Bucket, Listed, S3Error};
use super::listing::{Partition, folder_name};
use crate::config::S3Source;
use crate::decode::layout::{self, Node};

/// How many folder levels below `FilePath` an `AWSLogs/` folder is looked for: `AWSLogs/` itself
/// (level 1) or below a trail prefix of up to three folders (`a/b/c/AWSLogs/`, level 4).
pub const LOGS_SEARCH_LEVELS: u32 = 4;

/// What one walk found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Every partition (region folder of the layout) below `FilePath`, filters applied.
    pub partitions: Vec<Partition>,
    /// The files in `FilePath` and in its folders down to `DepthToRecurse` levels.
    pub loose: Vec<Listed>,
    /// The `AWSLogs/` folders found, with their level: what later polls reuse.
    pub logs_roots: Vec<(String, u32)>,
    /// The folders directly below `FilePath` (for the message when nothing is found).
    pub top_folders: Vec<String>,
}

/// A folder to list, what it is, and how many levels below `FilePath`.
struct Visit {
    prefix: String,
    node: Node,
    level: u32,
}

/// Walks the bucket below `FilePath`. With `search`, folders above any `AWSLogs/` are listed
/// down to [`LOGS_SEARCH_LEVELS`] to find `AWSLogs/` folders; without, `known_roots` (from the
/// last search) stand in for that search.
pub async fn discover(
    bucket: &Bucket,
    config: &S3Source,
    search: bool,
    known_roots: &[(String, u32)],
) -> Result<Discovery, S3Error> {
    let root = config.file_path.clone();
    let depth = config.depth_to_recurse;
    let mut found = Discovery::default();
    let mut seen = HashSet::new();
    let mut queue = VecDeque::from([Visit {
        prefix: root.clone(),
        node: layout::node_of_path(&config.file_path, config.log_type),
        level: 0,
    }]);
    if !search {
        queue.extend(known_roots.iter().map(|(prefix, level)| Visit {
            prefix: prefix.clone(),
            node: Node::Logs,
            level: *level,
        }));
    }
    while let Some(visit) = queue.pop_front() {
        if !seen.insert(visit.prefix.clone()) {
            continue;
        }
        if let Node::Logs = visit.node {
            found.logs_roots.push((visit.prefix.clone(), visit.level));
        }
        if let Node::Region { account, service, region, hive } = &visit.node {
            found.partitions.push(Partition {
                prefix: visit.prefix.clone(),
                account: account.clone(),
                service: service.to_string(),
                region: region.clone(),
                hive: *hive,
            });
            if visit.level > depth {
                continue;
            }
        }
        let (objects, folders) = bucket.level(&visit.prefix).await?;
        if visit.level == 0 {
            found.top_folders = folders.clone();
        }
        if visit.level <= depth {
            found.loose.extend(objects);
        }
        for folder in folders {
            let name = folder_name(&folder);
            if excluded(config, name) {
                continue;
            }
            let node = layout::child(&visit.node, name, config.log_type);
            let level = visit.level + 1;
            let wanted = match &node {
                Node::Region { region, .. } => {
                    config.region_folders.is_empty() || config.region_folders.contains(region)
                }
                node if node.is_layout() => true,
                Node::Plain { in_layout: false } => level <= depth || (search && level < LOGS_SEARCH_LEVELS),
                Node::Plain { in_layout: true } => level <= depth,
                _ => false,
            };
            if wanted {
                queue.push_back(Visit { prefix: folder, node, level });
            }
        }
    }
    Ok(found)
}

/// True when a folder's name contains an `ExclusionDirectories` entry (case-sensitive).
pub fn excluded(config: &S3Source, name: &str) -> bool {
    config.exclusion_directories.iter().any(|entry| name.contains(entry.as_str()))
}

/// Says what a poll that found nothing to collect did see: the bucket, the `FilePath`, the
/// folders at its level (or at its parent's, when `FilePath` holds nothing), and a hint when a
/// folder differs from `FilePath` only in case.
pub async fn nothing_found(bucket: &Bucket, config: &S3Source, discovery: &Discovery) -> String {
    let root = config.file_path.as_str();
    let shown = |prefix: &str, folders: &[String]| {
        let names: Vec<&str> = folders.iter().map(|f| f.strip_prefix(prefix).unwrap_or(f)).take(20).collect();
        let more = folders.len().saturating_sub(names.len());
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        if names.is_empty() {
            format!("s3://{}/{prefix} holds no folder", bucket.name())
        } else {
            format!("the folders in s3://{}/{prefix} are {}{more}", bucket.name(), names.join(", "))
        }
    };
    let mut message = format!(
        "nothing to collect in bucket {} under FilePath {:?} (log type {}, depth {}): ",
        bucket.name(),
        config.file_path,
        config.log_type,
        config.depth_to_recurse
    );
    if !discovery.top_folders.is_empty() || root.is_empty() {
        message.push_str(&shown(root, &discovery.top_folders));
        return message;
    }
    let trimmed = root.trim_end_matches('/');
    let parent = trimmed.rfind('/').map_or(String::new(), |at| root[..=at].to_string());
    let own_name = folder_name(root);
    match bucket.folders(&parent).await {
        Ok(folders) => {
            message.push_str(&format!("s3://{}/{root} does not exist; ", bucket.name()));
            message.push_str(&shown(&parent, &folders));
            if let Some(near) = folders
                .iter()
                .find(|f| folder_name(f) != own_name && folder_name(f).eq_ignore_ascii_case(own_name))
            {
                message.push_str(&format!(" (FilePath is case-sensitive: did you mean {near}?)"));
            }
        }
        Err(error) => message.push_str(&error.to_string()),
    }
    message
}
