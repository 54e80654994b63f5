//! The values of chosen members of a CloudTrail record, by dotted path (`eventSource`,
//! `userIdentity.invokedBy`), found in one pass over the record whatever the number of paths:
//! what drop and keep rules look at, before the record is normalized.

use super::super::json_scan::{Scalar, ScanError, ScanFailure, object_at, peek_at, scalar_at, skip_value_at};

/// Dotted paths compiled into a tree of member names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathTree {
    children: Vec<(Vec<u8>, PathNode)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct PathNode {
    slot: Option<usize>,
    children: PathTree,
}

impl PathTree {
    /// The tree of `paths`; the value of `paths[i]` goes to slot `i`.
    pub fn new(paths: &[&str]) -> Self {
        let mut tree = PathTree::default();
        for (slot, path) in paths.iter().enumerate() {
            let mut node = &mut tree;
            let names: Vec<&str> = path.split('.').collect();
            for (depth, name) in names.iter().enumerate() {
                let index = match node.children.iter().position(|(n, _)| n == name.as_bytes()) {
                    Some(index) => index,
                    None => {
                        node.children.push((name.as_bytes().to_vec(), PathNode::default()));
                        node.children.len() - 1
                    }
                };
                let child = &mut node.children[index].1;
                if depth + 1 == names.len() {
                    child.slot = Some(slot);
                }
                node = &mut child.children;
            }
        }
        tree
    }

    /// Reads `record` (one JSON object) and sets `values[slot]` for each path present (the last
    /// occurrence wins); paths absent keep `None`.
    pub(crate) fn read(&self, record: &[u8], values: &mut [Option<Scalar>]) -> Result<(), ScanFailure> {
        values.iter_mut().for_each(|value| *value = None);
        walk(self, record, 0, 0, values).map(|_| ()).map_err(ScanError::failure)
    }
}

fn walk(
    tree: &PathTree,
    bytes: &[u8],
    at: usize,
    depth: u32,
    values: &mut [Option<Scalar>],
) -> Result<usize, ScanError> {
    object_at(bytes, at, depth, |name, value_at, depth| {
        let Some((_, node)) = tree.children.iter().find(|(wanted, _)| wanted.as_slice() == name) else {
            return skip_value_at(bytes, value_at, depth);
        };
        if !node.children.children.is_empty() {
            let (start, byte) = peek_at(bytes, value_at)?;
            if byte == b'{' {
                if let Some(slot) = node.slot {
                    values[slot] = Some(Scalar::Container);
                }
                return walk(&node.children, bytes, start, depth, values);
            }
        }
        let (scalar, end) = scalar_at(bytes, value_at, depth)?;
        if let Some(slot) = node.slot {
            values[slot] = Some(scalar);
        }
        Ok(end)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_read_in_one_pass() {
        let record = br#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","readOnly":true,
            "userIdentity":{"type":"AWSService","invokedBy":"ec2.amazonaws.com","sessionContext":{"x":1}},
            "requestParameters":null,"errorCode":"A\u0042","count":-12.5e3,"resources":[{"ARN":"a"}]}"#;
        let tree = PathTree::new(&[
            "eventSource",
            "userIdentity.invokedBy",
            "readOnly",
            "requestParameters",
            "count",
            "resources",
            "missing",
            "userIdentity.type",
            "errorCode",
            "userIdentity",
        ]);
        let mut values = vec![None; 10];
        tree.read(record, &mut values).unwrap();
        let text = std::str::from_utf8(record).unwrap();
        let shown = |value: &Option<Scalar>| match value {
            Some(Scalar::Text(span)) => span.text(text).into_owned(),
            Some(Scalar::Number(start, end)) => text[*start..*end].to_string(),
            Some(other) => format!("{other:?}"),
            None => "absent".to_string(),
        };
        let shown: Vec<String> = values.iter().map(shown).collect();
        assert_eq!(
            shown,
            vec![
                "kms.amazonaws.com",
                "ec2.amazonaws.com",
                "Bool(true)",
                "Null",
                "-12.5e3",
                "Container",
                "absent",
                "AWSService",
                "AB",
                "Container"
            ]
        );
        assert!(tree.read(b"{\"eventSource\":", &mut values).is_err());
    }
}
