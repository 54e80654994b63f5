//! The command line (design.md §4): parse, dispatch, and map outcomes to exit codes.
//!
//! Exit codes: 0 success; 1 an error stopped the command (bad configuration, unreadable path,
//! failing sink); 2 wrong usage; 3 the command finished but some input was bad (a corrupt or
//! truncated object, an invalid record or line — each was reported on stderr).

use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use clap::{Parser, Subcommand, ValueEnum};

use crate::app::{self, RunOptions};
use crate::config::secrets::SecretKey;
use crate::config::{
    self, AwsSettings, Config, Credentials, DirSource, FileSinkConfig, Proxy, SinkConfig, SinkKind,
    SourceConfig, SourceKind,
};
use crate::config::{HttpMode, HttpSinkConfig, Secret, SyslogSinkConfig};
use crate::decode::LogType;
use crate::normalize::Profile;
use crate::telemetry::{self, LogFormat};

/// Exit code when the command finished but some input was bad.
pub const EXIT_BAD_INPUT: u8 = 3;

/// Collects AWS CloudTrail events and VPC Flow Logs and forwards them, normalized, to a SIEM.
#[derive(Debug, Parser)]
#[command(name = "trailhound", version, about, long_about = None)]
pub struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors; no summary line.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Log line format on stderr.
    #[arg(long, value_enum, default_value = "text", global = true)]
    log_format: LogFormat,
    /// Where checkpoints live (default: the config's state_dir, else ./trailhound-state).
    #[arg(long, value_name = "DIR", global = true)]
    state_dir: Option<PathBuf>,
    /// The key that encrypts and decrypts `enc:` values.
    #[arg(long, value_name = "FILE", global = true, default_value = DEFAULT_KEY_FILE)]
    key_file: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sources and sinks of a configuration.
    Run {
        #[command(flatten)]
        files: ConfigFiles,
        /// One pass per source until caught up, then exit 0 (for cron and tests).
        #[arg(long)]
        once: bool,
        /// Make the first poll of every S3 source re-list its whole look-back window.
        #[arg(long)]
        sweep: bool,
        /// Replace the configured sinks: stdout, file:PATH, syslog+udp|tcp|tls://HOST:PORT or an
        /// http(s):// URL (token in $TRAILHOUND_SINK_TOKEN); may be repeated.
        #[arg(long, value_name = "SINK")]
        sink: Vec<String>,
        #[command(flatten)]
        profile: OutputArgs,
        /// Serve /metrics, /health and /ready on ADDRESS:PORT (port 0 picks one); overrides
        /// `[telemetry] listen`.
        #[arg(long, value_name = "ADDRESS")]
        listen: Option<String>,
        /// Show what the next poll of every source would collect, without downloading an
        /// object, writing to a sink or changing a checkpoint.
        #[arg(long, conflicts_with_all = ["sink", "listen", "sweep"])]
        dry_run: bool,
        /// With --dry-run: print JSON instead of text.
        #[arg(long, requires = "dry_run")]
        json: bool,
    },
    /// Validate a configuration: exit 0, or 1 with every problem listed.
    CheckConfig {
        #[command(flatten)]
        files: ConfigFiles,
        /// Also list, per S3 source, the objects its settings reach in the bucket now (listings
        /// only: nothing is downloaded and no checkpoint changes).
        #[arg(long)]
        probe: bool,
    },
    /// Read a secret on stdin (no echo on a terminal) and print it as an `enc:` token.
    Encrypt,
    /// Create a new key file (mode 0600); an existing one is never overwritten.
    Keygen,
    /// Show the checkpoints of every source: watermarks, processed objects, last poll and error.
    State {
        #[command(flatten)]
        files: ConfigFiles,
        /// Examine the state store instead (SQLite's integrity check, schema, tables): exit 0
        /// when it is sound, 1 with what is wrong.
        #[arg(long)]
        check: bool,
    },
    /// Read local log files or whole AWSLogs trees and print events as NDJSON.
    Replay {
        /// How to read the files: from key layout and content (auto), or as one type.
        #[arg(long, value_enum, default_value = "auto")]
        log_type: LogTypeArg,
        /// Append events to this file instead of printing them.
        #[arg(short, long, value_name = "FILE", conflicts_with = "sink")]
        output: Option<PathBuf>,
        /// Where events go: stdout, file:PATH, syslog+udp|tcp|tls://HOST:PORT or an http(s):// URL
        /// (token in $TRAILHOUND_SINK_TOKEN); may be repeated.
        #[arg(long, value_name = "SINK")]
        sink: Vec<String>,
        #[command(flatten)]
        profile: OutputArgs,
        /// Serve /metrics, /health and /ready on ADDRESS:PORT while the replay runs.
        #[arg(long, value_name = "ADDRESS")]
        listen: Option<String>,
        /// Files or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct ConfigFiles {
    /// A Trailhound TOML configuration.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A seed INI file (cloudtrail.ini or awsS3CloudTrail.ini); may be repeated.
    #[arg(long, value_name = "FILE")]
    ini: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogTypeArg {
    Auto,
    #[value(name = "CloudTrail")]
    CloudTrail,
    #[value(name = "VPCFlowLogs")]
    VpcFlowLogs,
}

/// Parses the command line, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let verbosity = if cli.quiet { -1 } else { cli.verbose.min(3) as i8 };
    telemetry::init_logging(verbosity, cli.log_format);
    match execute(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    let quiet = cli.quiet;
    let state_dir = cli.state_dir;
    let key_file = cli.key_file;
    match cli.command {
        Command::Encrypt => encrypt(&key_file),
        Command::Keygen => {
            SecretKey::generate().save_new(&key_file)?;
            eprintln!(
                "created {} (mode 0600): keep it beside the configuration, and back it up",
                key_file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { files, probe } => Ok(check_config(&files, &key_file, probe)),
        Command::State { files, check } => {
            let config = load(&files, &key_file)?;
            let state_dir = resolve_state_dir(state_dir, &config);
            if check {
                return check_state(&state_dir);
            }
            show_state(&config, &state_dir)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { files, once, sweep, sink, profile, listen, dry_run, json } => {
            let mut config = load(&files, &key_file)?;
            if let Some(address) = &listen {
                config::check_listen_address(address)
                    .map_err(|message| anyhow::anyhow!("--listen {address:?}: {message}"))?;
            }
            for warning in &config.warnings {
                tracing::warn!("{warning}");
            }
            for note in &config.notes {
                tracing::info!(target: "trailhound::notes", "{note}");
            }
            if !sink.is_empty() {
                config.sinks = parse_sinks(&sink)?;
                profile.apply(&mut config.sinks);
            } else if profile.profile.is_some() || profile.preserve_original {
                usage_error(
                    "--profile and --preserve-original go with --sink; set profile in each [[sink]] of the configuration instead",
                );
            }
            let state_dir = resolve_state_dir(state_dir, &config);
            if dry_run {
                return crate::dry_run::run(&config, &state_dir, json);
            }
            let options = RunOptions { progress: !quiet, once, sweep, state_dir, listen };
            run_pipeline(config, options, quiet)
        }
        Command::Replay { log_type, output, sink, profile, listen, paths } => {
            if let Some(address) = &listen {
                config::check_listen_address(address)
                    .map_err(|message| anyhow::anyhow!("--listen {address:?}: {message}"))?;
            }
            let log_type = match log_type {
                LogTypeArg::Auto => None,
                LogTypeArg::CloudTrail => Some(LogType::CloudTrail),
                LogTypeArg::VpcFlowLogs => Some(LogType::VpcFlowLogs),
            };
            let mut sinks = match output {
                Some(path) => {
                    vec![SinkKind::File(FileSinkConfig { path, rotate_max_bytes: 0, rotate_keep: 1 }).into()]
                }
                None if sink.is_empty() => vec![SinkKind::Stdout.into()],
                None => parse_sinks(&sink)?,
            };
            profile.apply(&mut sinks);
            let dir = DirSource { paths, log_type, inclusions: vec!["*".into()], exclusions: Vec::new() };
            let source = SourceConfig {
                name: "replay".into(),
                file: PathBuf::from("(command line)"),
                kind: SourceKind::Dir(dir),
                filter: None,
            };
            let options =
                RunOptions { progress: !quiet, once: true, sweep: false, state_dir: PathBuf::new(), listen };
            let config = Config { sources: vec![source], sinks, ..Config::default() };
            run_pipeline(config, options, quiet)
        }
    }
}

fn load(files: &ConfigFiles, key_file: &Path) -> Result<Config, config::ConfigErrors> {
    match &files.config {
        Some(path) => config::load_toml(path, key_file),
        None => config::load_ini_files(&files.ini, key_file),
    }
}

/// The default key file for local use; a packaged service passes `--key-file`.
const DEFAULT_KEY_FILE: &str = "trailhound.key";

fn encrypt(key_file: &Path) -> anyhow::Result<ExitCode> {
    let secret = if io::stdin().is_terminal() {
        rpassword::prompt_password("secret (not echoed): ")?
    } else {
        let mut text = String::new();
        io::stdin().read_to_string(&mut text)?;
        text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text).to_string()
    };
    anyhow::ensure!(!secret.is_empty(), "nothing to encrypt: the secret read from stdin is empty");
    let (key, created) = SecretKey::load_or_create(key_file)?;
    if created {
        eprintln!(
            "created key file {} (mode 0600): keep it beside the configuration, and back it up",
            key_file.display()
        );
    }
    println!("{}", key.encrypt(&secret));
    Ok(ExitCode::SUCCESS)
}

fn check_config(files: &ConfigFiles, key_file: &Path, probe: bool) -> ExitCode {
    match load(files, key_file) {
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::FAILURE
        }
        Ok(config) => {
            summarize(&config);
            if probe && !probe_sources(&config) {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
    }
}

/// Lists what each S3 source reaches in its bucket; false when a bucket could not be listed.
fn probe_sources(config: &Config) -> bool {
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread().enable_all().build() else {
        eprintln!("error: cannot start the async runtime");
        return false;
    };
    let mut all_listed = true;
    for source in &config.sources {
        let SourceKind::S3(s3) = &source.kind else { continue };
        println!("probe of source {:?}: bucket {}, FilePath {:?}", source.name, s3.bucket, s3.file_path);
        match runtime.block_on(crate::source::s3::preview::preview(s3, None)) {
            Err(error) => {
                println!("  cannot list the bucket: {error}");
                all_listed = false;
            }
            Ok(found) => {
                crate::dry_run::print_reached(s3, &found, false);
                use crate::source::s3::preview::{BY_FOLDER, BY_NAME, TOO_OLD};
                println!(
                    "  reaches {} object(s), {}, in the {}-day look-back window; left out: {} by Inclusions/Exclusions, {} in ExclusionDirectories, {} older than the window",
                    found.objects(),
                    telemetry::human_bytes(found.bytes()),
                    s3.no_of_back_days_data,
                    found.skipped(BY_NAME),
                    found.skipped(BY_FOLDER),
                    found.skipped(TOO_OLD)
                );
                if let Some(message) = &found.nothing_found {
                    println!("  warning: {message}");
                } else if found.objects() == 0 {
                    println!("  warning: these settings reach no object now");
                }
            }
        }
    }
    all_listed
}

/// What `check-config` prints of a valid configuration.
fn summarize(config: &Config) {
    for source in &config.sources {
        println!("source {:?}: {} ({})", source.name, describe(&source.kind), source.file.display());
        if let Some(filter) = &source.filter {
            println!("  filters: {}", filter.describe());
        }
        if let Some(aws) = aws_settings(&source.kind) {
            println!("  credentials: {}", describe_credentials(aws));
            if let Some(proxy) = &aws.proxy {
                println!("  proxy: {}", describe_proxy(proxy));
            }
        }
    }
    for warning in &config.warnings {
        println!("warning: {warning}");
    }
    for note in &config.notes {
        println!("note: {note}");
    }
    for sink in &config.sinks {
        let what = match &sink.kind {
            SinkKind::Stdout => "stdout".to_string(),
            SinkKind::File(file) => format!("file {}", file.path.display()),
            SinkKind::Syslog(syslog) => format!("syslog {:?} {}", syslog.transport, syslog.address),
            SinkKind::Http(http) => format!("http {:?} {}", http.mode, http.url),
        };
        let original = if sink.output.preserve_original { " with the original record" } else { "" };
        println!("sink: {what}, profile {}{original}", sink.output.profile.as_str());
    }
    println!("configuration is valid: {} source(s), {} sink(s)", config.sources.len(), config.sinks.len());
}

fn aws_settings(kind: &SourceKind) -> Option<&AwsSettings> {
    match kind {
        SourceKind::Dir(_) => None,
        SourceKind::S3(s3) => Some(&s3.aws),
        SourceKind::CloudTrailApi(api) => Some(&api.aws),
        SourceKind::Sqs(sqs) => Some(&sqs.aws),
    }
}

fn describe_credentials(aws: &AwsSettings) -> String {
    let base = match &aws.credentials {
        Credentials::Static { .. } => "static keys from the configuration".to_string(),
        Credentials::Profile(profile) => format!("profile {profile:?} of the shared AWS config files"),
        Credentials::DefaultChain => {
            "the default AWS chain (environment, shared config/SSO, web identity, ECS, IMDSv2)".to_string()
        }
    };
    match &aws.role_arn {
        Some(role) => format!("{base}, then role {role} assumed through STS"),
        None => base,
    }
}

fn describe_proxy(proxy: &Proxy) -> String {
    let user = match (&proxy.domain, &proxy.user_name) {
        (Some(domain), Some(user)) => format!(" as {domain}\\{user}"),
        (None, Some(user)) => format!(" as {user}"),
        _ => String::new(),
    };
    let ntlm = if proxy.domain.is_some() {
        "; NTLM is not supported, the domain is sent in the user name"
    } else {
        ""
    };
    format!(
        "http://{}:{}{user} (HTTP CONNECT / forward proxy, basic authentication{ntlm})",
        proxy.server, proxy.port
    )
}

fn describe(kind: &SourceKind) -> String {
    match kind {
        SourceKind::Dir(dir) => format!("dir, {} path(s)", dir.paths.len()),
        SourceKind::S3(s3) => format!(
            "s3, bucket {}, {}, region {}, FilePath {}, depth {}, {} day(s) back",
            s3.bucket,
            s3.log_type,
            s3.aws.region,
            if s3.file_path.is_empty() {
                "(the whole bucket)".to_string()
            } else {
                format!("{:?}", s3.file_path)
            },
            s3.depth_to_recurse,
            s3.no_of_back_days_data
        ),
        SourceKind::Sqs(sqs) => format!(
            "sqs, queue {}, region {}, log type {}, {} message(s) per receive, long poll {} s, visibility {} s (extended while in progress), given up after {} receives, {} object(s) at a time{}",
            sqs.queue_url,
            sqs.aws.region,
            sqs.log_type.map_or("auto", |log_type| log_type.as_str()),
            sqs.max_messages,
            sqs.wait_seconds,
            sqs.visibility_timeout_seconds,
            sqs.max_receive_count,
            sqs.parallel_objects,
            if sqs.buckets.is_empty() {
                String::new()
            } else {
                format!(", buckets {}", sqs.buckets.join(","))
            }
        ),
        SourceKind::CloudTrailApi(api) => format!(
            "cloudtrail_api, region(s) {}, every {} ms, back {} day(s) / {} min, back-off {} min",
            api.regions.join(","),
            api.api_polling_interval_ms,
            api.number_of_back_days_data,
            api.number_of_back_minutes_data,
            api.back_off_time
        ),
    }
}

/// Where `--sink http(s)://…` finds its token (kept off the command line, which `ps` shows).
const SINK_TOKEN_VARIABLE: &str = "TRAILHOUND_SINK_TOKEN";

/// The profile of the sinks given on the command line.
#[derive(Debug, clap::Args)]
struct OutputArgs {
    /// Write events in this profile: native (the contract line), ecs (Elastic Common Schema) or
    /// ocsf (OCSF 1.1.0). Default: native, or ecs for an Elasticsearch URL.
    #[arg(long, value_enum, value_name = "PROFILE")]
    profile: Option<ProfileArg>,
    /// With --profile ecs or ocsf: add the original record (event.original / raw_data).
    #[arg(long)]
    preserve_original: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ProfileArg {
    Native,
    Ecs,
    Ocsf,
}

impl OutputArgs {
    /// Sets the profile of `sinks`; wrong usage ends the process as clap does (exit 2).
    fn apply(&self, sinks: &mut [SinkConfig]) {
        for sink in sinks {
            if let Some(profile) = self.profile {
                sink.output.profile = match profile {
                    ProfileArg::Native => Profile::Native,
                    ProfileArg::Ecs => Profile::Ecs,
                    ProfileArg::Ocsf => Profile::Ocsf,
                };
            }
            sink.output.preserve_original = self.preserve_original;
            if self.preserve_original && sink.output.is_native() {
                usage_error(
                    "--preserve-original needs --profile ecs or ocsf (the native line always carries the record as raw)",
                );
            }
        }
    }
}

/// Reports wrong usage the way clap does, and exits with 2.
fn usage_error(message: &str) -> ! {
    use clap::CommandFactory;
    Cli::command().error(clap::error::ErrorKind::ArgumentConflict, message).exit()
}

/// The `--sink` shortcuts (design.md §4).
fn parse_sinks(specs: &[String]) -> anyhow::Result<Vec<SinkConfig>> {
    let mut sinks = Vec::new();
    for spec in specs {
        if spec == "stdout" {
            sinks.push(SinkKind::Stdout.into());
        } else if let Some(path) = spec.strip_prefix("file:").filter(|p| !p.is_empty()) {
            sinks.push(SinkConfig::from(SinkKind::File(FileSinkConfig {
                path: path.into(),
                rotate_max_bytes: 0,
                rotate_keep: 1,
            })));
        } else if spec.starts_with("syslog+") {
            let syslog = SyslogSinkConfig::from_url(spec)
                .map_err(|message| anyhow::anyhow!("--sink {spec:?}: {message}"))?;
            sinks.push(SinkKind::Syslog(syslog).into());
        } else if spec.starts_with("http://") || spec.starts_with("https://") {
            let mut http = HttpSinkConfig::from_url(spec)
                .map_err(|message| anyhow::anyhow!("--sink {spec:?}: {message}"))?;
            http.token = std::env::var(SINK_TOKEN_VARIABLE).ok().filter(|t| !t.is_empty()).map(Secret::new);
            if http.mode == HttpMode::SplunkHec && http.token.is_none() {
                bail!("--sink {spec:?}: a Splunk HEC URL needs its token in ${SINK_TOKEN_VARIABLE}");
            }
            sinks.push(SinkKind::Http(Box::new(http)).into());
        } else {
            bail!(
                "--sink {spec:?}: allowed stdout, file:PATH, syslog+udp://HOST:PORT, syslog+tcp://HOST:PORT, syslog+tls://HOST:PORT, http://URL or https://URL"
            );
        }
    }
    Ok(sinks)
}

/// The default state directory for local use.
const DEFAULT_STATE_DIR: &str = "trailhound-state";

fn resolve_state_dir(flag: Option<PathBuf>, config: &Config) -> PathBuf {
    flag.or_else(|| config.state_dir.clone()).unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR))
}

fn check_state(state_dir: &Path) -> anyhow::Result<ExitCode> {
    let Some(store) = crate::checkpoint::CheckpointStore::open_read_only(state_dir)? else {
        println!("no state store in {} yet: nothing to check", state_dir.display());
        return Ok(ExitCode::SUCCESS);
    };
    let problems = store.check()?;
    if problems.is_empty() {
        let sources = store.summaries()?.len();
        println!("state store {}: ok ({sources} source(s))", store.path().display());
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &problems {
        eprintln!("state store {}: {problem}", store.path().display());
    }
    Ok(ExitCode::FAILURE)
}

fn show_state(config: &Config, state_dir: &std::path::Path) -> anyhow::Result<()> {
    let store = crate::checkpoint::CheckpointStore::open(state_dir)?;
    let summaries = store.summaries()?;
    let time = |seconds: i64| crate::normalize::format_unix(seconds);
    for source in &config.sources {
        println!("source {:?} ({})", source.name, source.kind.type_name());
        let Some(summary) = summaries.iter().find(|s| s.source == source.name) else {
            println!("  no checkpoint yet");
            continue;
        };
        match (summary.oldest_watermark, summary.newest_watermark) {
            (Some(oldest), Some(newest)) => {
                println!(
                    "  watermark: {} … {} over {} partition(s)",
                    time(oldest),
                    time(newest),
                    summary.partitions
                )
            }
            _ => println!("  watermark: none yet"),
        }
        let (delivered, skipped, quarantined) = summary.processed;
        println!("  processed objects: {delivered} delivered, {skipped} skipped, {quarantined} quarantined");
        match summary.last_poll {
            Some((started, Some(finished))) => {
                println!("  last poll: {} … {}", time(started), time(finished))
            }
            Some((started, None)) => println!("  last poll: started {}, not finished", time(started)),
            None => println!("  last poll: never"),
        }
        if let Some((at, error)) = &summary.last_error {
            println!("  last error: {} {error}", time(*at));
        }
        if !summary.filtered.is_empty() {
            let counts: Vec<String> =
                summary.filtered.iter().map(|(rule, n)| format!("{rule} {n}")).collect();
            println!("  left out by filters: {}", counts.join(", "));
        }
    }
    Ok(())
}

fn run_pipeline(config: Config, options: RunOptions, quiet: bool) -> anyhow::Result<ExitCode> {
    let filters: Vec<_> = config
        .sources
        .iter()
        .filter_map(|source| source.filter.clone().map(|filter| (source.name.clone(), filter)))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(app::run(config, options))?;
    if !quiet {
        eprintln!("{}", report.stats.summary(report.elapsed));
        for (name, filter) in filters {
            let counts: Vec<String> = filter.counts().iter().map(|(rule, n)| format!("{rule} {n}")).collect();
            eprintln!("source {name:?} filters: {}", counts.join(", "));
        }
    }
    if report.stats.saw_bad_input() {
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}
