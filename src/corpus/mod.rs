//! Synthetic AWS log corpora: the bundled `examples/AWSLogs` tree and benchmark corpora.
//!
//! Everything is derived from a seed, so the same arguments always give the same bytes (the
//! integration tests rely on the examples' exact counts and ids). Keys follow the AWS layouts
//! of spec §2.1 and §3.4; records look like real CloudTrail records (every identity type,
//! nested request parameters, ~1.5 KB each) and flow-log lines like real ones (v2 default format,
//! NODATA and REJECT lines, plus a v5 custom format).

pub(crate) mod cloudtrail;
pub mod parquet;
mod vpc_flow;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

pub use cloudtrail::record as cloudtrail_record;

/// A small deterministic random generator (SplitMix64): stable across crate versions.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// One element of a slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// `length` characters from `alphabet`.
    pub fn text(&mut self, alphabet: &[u8], length: usize) -> String {
        (0..length).map(|_| *self.pick(alphabet) as char).collect()
    }
}

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

/// What to generate.
#[derive(Clone, Debug)]
pub struct CorpusSpec {
    /// 12-digit account ids.
    pub accounts: Vec<String>,
    /// Region names.
    pub regions: Vec<String>,
    /// Unix seconds of the first file's delivery time.
    pub start: i64,
    /// CloudTrail files per account and region.
    pub cloudtrail_files: usize,
    /// Records per CloudTrail file.
    pub records_per_file: usize,
    /// Flow-log files per account and region.
    pub flow_files: usize,
    /// Lines per flow-log file.
    pub lines_per_flow_file: usize,
    /// Also write one Insights file, one digest file and one v5 custom-format flow log.
    pub extras: bool,
    /// gzip level (1 fast … 9 small).
    pub gzip_level: u32,
    /// Seed of all randomness.
    pub seed: u64,
}

impl CorpusSpec {
    /// The bundled sample tree: two accounts, two regions, every kind of file.
    pub fn examples() -> Self {
        CorpusSpec {
            accounts: vec!["111122223333".into(), "444455556666".into()],
            regions: vec!["us-east-1".into(), "eu-west-1".into()],
            start: 1_793_491_200, // 2026-11-01T00:00:00Z
            cloudtrail_files: 2,
            records_per_file: 5,
            flow_files: 1,
            lines_per_flow_file: 10,
            extras: true,
            gzip_level: 9,
            seed: 7,
        }
    }
}

/// What was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CorpusSummary {
    /// Files written.
    pub files: usize,
    /// CloudTrail records (including Insights records) written.
    pub cloudtrail_records: usize,
    /// Flow-log data lines written.
    pub flow_lines: usize,
    /// Compressed bytes written.
    pub bytes: u64,
}

/// Writes a corpus below `root` (which gets an `AWSLogs/` folder).
pub fn write_tree(root: &Path, spec: &CorpusSpec) -> io::Result<CorpusSummary> {
    let mut rng = Rng::new(spec.seed);
    let mut summary = CorpusSummary::default();
    for account in &spec.accounts {
        for region in &spec.regions {
            for file in 0..spec.cloudtrail_files {
                let delivered = spec.start + 300 * file as i64;
                let key = cloudtrail_key(&mut rng, account, "CloudTrail", region, delivered);
                let records: Vec<serde_json::Value> = (0..spec.records_per_file)
                    .map(|_| cloudtrail::record(&mut rng, account, region, delivered - 240))
                    .collect();
                summary.cloudtrail_records += records.len();
                write_gz(
                    root,
                    &key,
                    spec,
                    &serde_json::to_vec(&serde_json::json!({ "Records": records }))?,
                    &mut summary,
                )?;
            }
            for file in 0..spec.flow_files {
                let delivered = spec.start + 300 * file as i64;
                let key = flow_key(&mut rng, account, region, delivered);
                let text =
                    vpc_flow::default_file(&mut rng, account, delivered - 300, spec.lines_per_flow_file);
                summary.flow_lines += spec.lines_per_flow_file;
                write_gz(root, &key, spec, text.as_bytes(), &mut summary)?;
            }
        }
    }
    if spec.extras {
        write_extras(root, spec, &mut rng, &mut summary)?;
    }
    Ok(summary)
}

/// Writes one large CloudTrail file of `records` records (for the flat-memory benchmark).
pub fn write_big_cloudtrail_file(path: &Path, records: usize, seed: u64) -> io::Result<u64> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut rng = Rng::new(seed);
    let file = fs::File::create(path)?;
    let mut out = GzEncoder::new(io::BufWriter::new(file), Compression::new(1));
    out.write_all(b"{\"Records\":[")?;
    for index in 0..records {
        if index > 0 {
            out.write_all(b",")?;
        }
        let record = cloudtrail::record(&mut rng, "111122223333", "us-east-1", 1_793_491_200);
        serde_json::to_writer(&mut out, &record)?;
    }
    out.write_all(b"]}")?;
    out.finish()?.flush()?;
    Ok(fs::metadata(path)?.len())
}

fn write_extras(
    root: &Path,
    spec: &CorpusSpec,
    rng: &mut Rng,
    summary: &mut CorpusSummary,
) -> io::Result<()> {
    let account = &spec.accounts[0];
    let region = &spec.regions[0];
    let key = cloudtrail_key(rng, account, "CloudTrail-Insight", region, spec.start + 1800);
    let insights = cloudtrail::insight_pair(rng, account, region, spec.start + 600);
    summary.cloudtrail_records += insights.len();
    write_gz(root, &key, spec, &serde_json::to_vec(&serde_json::json!({ "Records": insights }))?, summary)?;

    let digest_key = digest_key(account, region, spec.start + 3600);
    let digest = cloudtrail::digest(account, region, spec.start, &digest_key);
    write_gz(root, &digest_key, spec, &serde_json::to_vec(&digest)?, summary)?;

    let custom_key = flow_key(rng, account, region, spec.start + 600);
    let text = vpc_flow::custom_v5_file(rng, account, region, spec.start + 300, 5);
    summary.flow_lines += 5;
    write_gz(root, &custom_key, spec, text.as_bytes(), summary)
}

fn write_gz(
    root: &Path,
    key: &str,
    spec: &CorpusSpec,
    content: &[u8],
    summary: &mut CorpusSummary,
) -> io::Result<()> {
    let path: PathBuf = root.join(key);
    fs::create_dir_all(path.parent().expect("keys have folders"))?;
    let mut encoder = GzEncoder::new(Vec::new(), Compression::new(spec.gzip_level));
    encoder.write_all(content)?;
    let bytes = encoder.finish()?;
    fs::write(&path, &bytes)?;
    summary.files += 1;
    summary.bytes += bytes.len() as u64;
    Ok(())
}

fn date_parts(seconds: i64) -> (String, String) {
    let moment =
        time::OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let folder = format!("{:04}/{:02}/{:02}", moment.year(), moment.month() as u8, moment.day());
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}Z",
        moment.year(),
        moment.month() as u8,
        moment.day(),
        moment.hour(),
        moment.minute()
    );
    (folder, stamp)
}

fn cloudtrail_key(rng: &mut Rng, account: &str, service: &str, region: &str, delivered: i64) -> String {
    let (folder, stamp) = date_parts(delivered);
    let unique = rng.text(ALPHANUMERIC, 16);
    format!(
        "AWSLogs/{account}/{service}/{region}/{folder}/{account}_{service}_{region}_{stamp}_{unique}.json.gz"
    )
}

fn digest_key(account: &str, region: &str, end: i64) -> String {
    let (folder, stamp) = date_parts(end);
    let stamp = stamp.replace('Z', "00Z");
    format!(
        "AWSLogs/{account}/CloudTrail-Digest/{region}/{folder}/{account}_CloudTrail-Digest_{region}_management-trail_{region}_{stamp}.json.gz"
    )
}

fn flow_key(rng: &mut Rng, account: &str, region: &str, delivered: i64) -> String {
    let (folder, stamp) = date_parts(delivered);
    let flow_log = rng.text(HEX, 8);
    let hash = rng.text(HEX, 8);
    format!(
        "AWSLogs/{account}/vpcflowlogs/{region}/{folder}/{account}_vpcflowlogs_{region}_fl-{flow_log}_{stamp}_{hash}.log.gz"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_spec_gives_the_same_bytes() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let spec = CorpusSpec::examples();
        let first = write_tree(a.path(), &spec).unwrap();
        let second = write_tree(b.path(), &spec).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.files, 2 * 2 * 3 + 3);
        assert_eq!(first.cloudtrail_records, 2 * 2 * 2 * 5 + 2);
        assert_eq!(first.flow_lines, 2 * 2 * 10 + 5);
    }
}
