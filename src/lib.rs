//! Trailhound collects AWS CloudTrail events and VPC Flow Logs and forwards them, normalized,
//! to a SIEM.
//!
//! # Layout
//!
//! - [`config`]: TOML and seed INI files → one validated [`config::Config`].
//! - [`decode`]: bytes → raw records (gzip, CloudTrail `Records`, flow-log lines). Synchronous.
//! - [`normalize`]: raw records → contract events with SIEM metadata. Synchronous.
//! - [`source`]: where objects come from (`dir` today) and [`source::object::ingest`], which
//!   runs one object through decode and normalize.
//! - [`sink`]: where events go (`stdout`, `file`).
//! - [`app`]: wires sources to sinks through a bounded queue; shutdown on SIGINT/SIGTERM.
//! - [`cli`]: the command line and its exit codes.
//! - [`telemetry`]: logs, counters, progress bar and summary.
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
pub mod normalize;
pub mod sink;
pub mod source;
pub mod telemetry;
