//! Trailhound collects AWS CloudTrail events and VPC Flow Logs and forwards them, normalized,
//! to a SIEM.
//!
//! # Layout
//!
//! - [`config`]: TOML and seed INI files → one validated [`config::Config`].
//! - [`decode`]: bytes → raw records (gzip, CloudTrail `Records`, flow-log lines). Synchronous.
//! - [`normalize`]: raw records → contract events with SIEM metadata. Synchronous.
//! - [`source`]: where objects come from (`dir`, `s3`, `cloudtrail_api`) and
//!   [`source::object::ingest`], which runs one object through decode and normalize.
//! - [`sink`]: where events go (`stdout`, `file`, `syslog`, `http`), each behind its own queue.
//! - [`checkpoint`] and [`ack`]: what was delivered, recorded only once every sink took it.
//! - [`app`]: wires sources to sinks through bounded queues; shutdown on SIGINT/SIGTERM.
//! - [`dry_run`]: `run --dry-run`, what the next poll of every source would collect.
//! - [`cli`]: the command line and its exit codes.
//! - [`telemetry`]: logs, counters, progress bar and summary; Prometheus metrics, health and
//!   readiness.
//! - [`corpus`]: synthetic AWS log corpora for the bundled samples and the benchmarks.
//!
//! `decode` and `normalize` import nothing from `source`, `sink`, tokio or the AWS SDK, so they
//! can be benchmarked and fuzzed alone.

pub mod ack;
pub mod app;
pub mod aws;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod corpus;
pub mod decode;
pub mod dry_run;
pub mod normalize;
pub mod sink;
pub mod source;
pub mod telemetry;
