//! Writes synthetic AWS log corpora: `--examples` rebuilds the bundled `examples/AWSLogs` tree;
//! the size options make benchmark corpora of any size.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use trailhound::corpus::{self, CorpusSpec};

/// Generates AWSLogs trees of synthetic CloudTrail and VPC Flow Logs files.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Folder to write into (an AWSLogs/ folder is created inside).
    #[arg(long)]
    out: PathBuf,
    /// Write exactly the bundled sample tree (ignores the size options).
    #[arg(long)]
    examples: bool,
    /// Number of accounts.
    #[arg(long, default_value_t = 2)]
    accounts: usize,
    /// Number of regions (up to 4).
    #[arg(long, default_value_t = 2)]
    regions: usize,
    /// CloudTrail files per account and region.
    #[arg(long, default_value_t = 10)]
    cloudtrail_files: usize,
    /// Records per CloudTrail file.
    #[arg(long, default_value_t = 1000)]
    records_per_file: usize,
    /// Flow-log files per account and region.
    #[arg(long, default_value_t = 10)]
    flow_files: usize,
    /// Lines per flow-log file.
    #[arg(long, default_value_t = 20_000)]
    lines_per_flow_file: usize,
    /// Instead of a tree, write one CloudTrail file with this many records to --out/big.json.gz.
    #[arg(long)]
    big_cloudtrail_records: Option<usize>,
    /// Instead of a tree, write AWS's example flow records as a Parquet file to
    /// --out/example.log.parquet (a fixture, e.g. a seed for the fuzzers).
    #[arg(long)]
    parquet_example: bool,
    /// Seed of all randomness.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.parquet_example {
        let path = args.out.join("example.log.parquet");
        let written = corpus::parquet::from_text(corpus::parquet::AWS_EXAMPLE_FLOWS, 2)
            .map_err(|error| error.to_string())
            .and_then(|bytes| {
                std::fs::create_dir_all(&args.out)
                    .and_then(|()| std::fs::write(&path, bytes))
                    .map_err(|error| error.to_string())
            });
        return match written {
            Ok(()) => {
                eprintln!("{}", path.display());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(records) = args.big_cloudtrail_records {
        let path = args.out.join("big.json.gz");
        return match corpus::write_big_cloudtrail_file(&path, records, args.seed) {
            Ok(bytes) => {
                eprintln!("{}: {records} records, {bytes} bytes compressed", path.display());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let spec = if args.examples {
        CorpusSpec::examples()
    } else {
        let regions = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"];
        CorpusSpec {
            accounts: (0..args.accounts)
                .map(|i| format!("{:012}", 100_000_000_000u64 + i as u64 * 111_111_111))
                .collect(),
            regions: regions.iter().take(args.regions.clamp(1, 4)).map(|r| r.to_string()).collect(),
            start: 1_793_491_200,
            cloudtrail_files: args.cloudtrail_files,
            records_per_file: args.records_per_file,
            flow_files: args.flow_files,
            lines_per_flow_file: args.lines_per_flow_file,
            extras: false,
            gzip_level: 6,
            seed: args.seed,
        }
    };
    match corpus::write_tree(&args.out, &spec) {
        Ok(summary) => {
            eprintln!(
                "{}: {} files, {} CloudTrail records, {} flow-log lines, {} bytes compressed",
                args.out.display(),
                summary.files,
                summary.cloudtrail_records,
                summary.flow_lines,
                summary.bytes
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
