//! The syslog sink against a real rsyslog (Debian's rsyslogd, started on loopback ports with a
//! configuration that writes what it receives to files): every event arrives intact over TCP, UDP
//! and TLS (GnuTLS on rsyslog's side, a client certificate required), RFC 5424 and 3164 headers
//! are what rsyslog parses, an event too large for UDP is reported, and an outage of the receiver
//! loses nothing.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::pki::Pki;
use common::{gzip, put, records_doc, trailhound};

struct Rsyslog {
    dir: tempfile::TempDir,
    tcp: u16,
    udp: u16,
    /// TLS input that requires a client certificate signed by `pki`'s CA.
    tls: u16,
    pki: Pki,
    child: Option<Child>,
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Rsyslog {
    fn new() -> Rsyslog {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        let (tcp, udp, tls) = (free_port(), free_port(), free_port());
        let pki = Pki::create(dir.path(), "rsyslog");
        let d = dir.path().display();
        let (ca, cert, key) = (pki.ca.display(), pki.server_cert.display(), pki.server_key.display());
        let config = format!(
            "global(workDirectory=\"{d}/work\" maxMessageSize=\"256k\")\n\
             module(load=\"imtcp\")\nmodule(load=\"imudp\")\n\
             input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{tcp}\")\n\
             input(type=\"imudp\" address=\"127.0.0.1\" port=\"{udp}\" rcvbufSize=\"8m\")\n\
             input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{tls}\" streamDriver.name=\"gtls\" streamDriver.mode=\"1\" \
                   streamDriver.authMode=\"x509/certvalid\" streamDriver.CAFile=\"{ca}\" \
                   streamDriver.CertFile=\"{cert}\" streamDriver.KeyFile=\"{key}\")\n\
             template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n\
             template(name=\"fields\" type=\"string\" string=\"pri=%pri% host=%hostname% app=%app-name% msgid=%msgid% sd=%structured-data%\\n\")\n\
             action(type=\"omfile\" file=\"{d}/raw.log\" template=\"raw\")\n\
             action(type=\"omfile\" file=\"{d}/fields.log\" template=\"fields\")\n"
        );
        std::fs::write(dir.path().join("rsyslog.conf"), config).unwrap();
        Rsyslog { dir, tcp, udp, tls, pki, child: None }
    }

    /// A receiver already listening.
    fn running() -> Rsyslog {
        let mut rsyslog = Rsyslog::new();
        rsyslog.start();
        rsyslog
    }

    fn start(&mut self) {
        let child = Command::new("rsyslogd")
            .args(["-n", "-f"])
            .arg(self.dir.path().join("rsyslog.conf"))
            .arg("-i")
            .arg(self.dir.path().join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rsyslogd is installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.tcp)).is_err()
            || std::net::TcpStream::connect(("127.0.0.1", self.tls)).is_err()
        {
            assert!(Instant::now() < deadline, "rsyslogd did not start");
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    /// Waits until `count` records were written, then returns them.
    fn records(&self, file: &str, count: usize) -> Vec<String> {
        let path: PathBuf = self.dir.path().join(file);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let lines: Vec<String> =
                std::fs::read_to_string(&path).unwrap_or_default().lines().map(String::from).collect();
            if lines.len() >= count || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The events of `replay` on stdout, as JSON strings.
fn expected_lines(path: &str) -> BTreeSet<String> {
    let run = trailhound(&["replay", path], None);
    assert_eq!(run.code, 0);
    run.stdout.lines().map(String::from).collect()
}

/// The JSON part of each raw record (after the header).
fn json_of(records: &[String]) -> BTreeSet<String> {
    records
        .iter()
        .map(|record| record[record.find("{\"event_id\"").expect("a JSON message")..].to_string())
        .collect()
}

#[test]
fn every_event_arrives_intact_over_tcp_and_udp() {
    let rsyslog = Rsyslog::running();
    let expected = expected_lines("examples/AWSLogs");
    for sink in
        [format!("syslog+tcp://127.0.0.1:{}", rsyslog.tcp), format!("syslog+udp://127.0.0.1:{}", rsyslog.udp)]
    {
        let run = trailhound(&["replay", "--sink", &sink, "examples/AWSLogs"], None);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let records = rsyslog.records("raw.log", 2 * expected.len());
    assert_eq!(records.len(), 2 * expected.len());
    assert_eq!(json_of(&records), expected, "every event, byte for byte");
    let fields = rsyslog.records("fields.log", 2 * expected.len());
    assert!(fields.iter().all(|f| f.starts_with("pri=134 ") && f.contains(" app=trailhound ")), "{fields:?}");
    assert!(
        fields.iter().any(|f| f.contains("msgid=VPCFlowLogs sd=[trailhound@32473 event_id=\"")),
        "{fields:?}"
    );
}

#[test]
fn every_event_arrives_intact_over_tls_with_a_client_certificate() {
    let rsyslog = Rsyslog::running();
    let dir = tempfile::tempdir().unwrap();
    let sink = format!(
        "type = \"syslog\"\naddress = \"tls://localhost:{}\"\n\
         ca_file = \"{}\"\nclient_cert_file = \"{}\"\nclient_key_file = \"{}\"\n",
        rsyslog.tls,
        rsyslog.pki.ca.display(),
        rsyslog.pki.client_cert.display(),
        rsyslog.pki.client_key.display(),
    );
    common::write_dir_config(dir.path(), &common::repo_root().join("examples/AWSLogs"), &sink);
    let run = trailhound(&["run", "--config", "t.toml"], Some(dir.path()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected = expected_lines("examples/AWSLogs");
    let records = rsyslog.records("raw.log", expected.len());
    assert_eq!(records.len(), expected.len());
    assert!(json_of(&records) == expected, "every event, byte for byte");
}

#[test]
fn an_untrusted_syslog_server_is_named_in_the_retry_message() {
    let rsyslog = Rsyslog::running();
    let dir = tempfile::tempdir().unwrap();
    let other = Pki::create(dir.path(), "other");
    put(dir.path(), "logs/a.json", &records_doc(&["tls-1"]));
    let sink = format!(
        "type = \"syslog\"\naddress = \"tls://127.0.0.1:{}\"\nca_file = \"{}\"\n",
        rsyslog.tls,
        other.ca.display()
    );
    common::write_dir_config(dir.path(), Path::new("logs"), &sink);
    let mut agent = common::spawn(&["run", "--config", "t.toml"], Some(dir.path()));
    std::thread::sleep(Duration::from_secs(2));
    assert!(agent.try_wait().unwrap().is_none(), "the agent keeps retrying");
    agent.kill().unwrap();
    let stderr = String::from_utf8_lossy(&agent.wait_with_output().unwrap().stderr).to_string();
    assert!(stderr.contains("syslog tls://127.0.0.1:"), "{stderr}");
    assert!(stderr.contains("invalid peer certificate: UnknownIssuer; retrying in"), "{stderr}");
}

#[test]
fn rfc3164_newline_framing_and_settings_from_toml() {
    let rsyslog = Rsyslog::running();
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "logs/a.json", &records_doc(&["bsd-1", "bsd-2"]));
    let sink = format!(
        "type = \"syslog\"\naddress = \"tcp://127.0.0.1:{}\"\n\
         rfc = \"3164\"\nframing = \"newline\"\nfacility = 4\nseverity = 5\napp_name = \"aws-audit\"\nhostname = \"collector-7\"\n",
        rsyslog.tcp
    );
    common::write_dir_config(dir.path(), Path::new("logs"), &sink);
    let run = trailhound(&["run", "--config", "t.toml"], Some(dir.path()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let fields = rsyslog.records("fields.log", 2);
    assert_eq!(fields.len(), 2);
    for field in &fields {
        assert!(field.starts_with("pri=37 host=collector-7 app=aws-audit "), "{field}");
    }
}

#[test]
fn an_event_too_large_for_udp_is_reported() {
    let rsyslog = Rsyslog::running();
    let dir = tempfile::tempdir().unwrap();
    let big = format!(
        r#"{{"Records":[{{"eventID":"big","pad":"{}"}},{{"eventID":"small"}}]}}"#,
        "x".repeat(70_000)
    );
    let file = put(dir.path(), "a.json.gz", &gzip(big.as_bytes()));
    let sink = format!("syslog+udp://127.0.0.1:{}", rsyslog.udp);
    let run = trailhound(&["replay", "--sink", &sink, file.to_str().unwrap()], None);
    assert!(run.stderr.contains("event big is"), "{}", run.stderr);
    assert!(
        run.stderr.contains("too large for one UDP datagram (65507); not sent (use tcp)"),
        "{}",
        run.stderr
    );
    let records = rsyslog.records("raw.log", 1);
    assert_eq!(records.len(), 1);
    assert!(records[0].contains("\"event_id\":\"small\""));
}

#[test]
fn a_receiver_outage_loses_nothing() {
    let mut rsyslog = Rsyslog::new();
    let sink = format!("syslog+tcp://127.0.0.1:{}", rsyslog.tcp);
    let mut agent = common::spawn(&["replay", "--sink", &sink, "examples/AWSLogs"], None);
    std::thread::sleep(Duration::from_secs(2));
    assert!(agent.try_wait().unwrap().is_none(), "the agent waits for the receiver");
    rsyslog.start();
    let output = agent.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("retrying in"));
    let expected = expected_lines("examples/AWSLogs");
    let records = rsyslog.records("raw.log", expected.len());
    assert_eq!(json_of(&records), expected);
}
