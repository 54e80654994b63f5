//! A running `trailhound` with its telemetry endpoint: started in the background, its stderr
//! collected, its `/metrics`, `/health` and `/ready` scraped over real HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Agent {
    child: Child,
    stderr: Arc<Mutex<String>>,
    pub address: String,
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Agent {
    /// Starts `trailhound ARGS` in `dir` (ARGS must make it listen on port 0) and waits until it
    /// logs the endpoint's address.
    pub fn start(args: &[&str], dir: &Path) -> Agent {
        let mut child = Command::new(env!("CARGO_BIN_EXE_trailhound"))
            .args(args)
            .current_dir(dir)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the trailhound binary starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (sender, address) = std::sync::mpsc::channel();
        let (pipe, collected) = (child.stderr.take().unwrap(), Arc::clone(&stderr));
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("metrics and health on http://").nth(1) {
                    sender.send(rest.split_whitespace().next().unwrap_or("").to_string()).ok();
                }
                let mut text = collected.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        let address = address
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no endpoint address logged: {}", stderr.lock().unwrap()));
        Agent { child, stderr, address }
    }

    /// What it printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// `GET path`: the status code and the body.
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut stream = std::net::TcpStream::connect(&self.address).expect("the endpoint accepts");
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", self.address).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
        let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
        (status, body)
    }

    /// The value of the series `name{labels}` (labels as Prometheus writes them, sorted by the
    /// exporter; `""` for none) in a scrape of `/metrics`.
    pub fn metric(&self, series: &str) -> Option<f64> {
        let (_, text) = self.get("/metrics");
        value(&text, series)
    }

    /// Scrapes until `check` holds, or panics after `seconds`.
    pub fn wait_for(&self, seconds: u64, what: &str, check: impl Fn(&Agent) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while !check(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {}\n{}",
                self.get("/metrics").1,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn terminate(mut self) -> i32 {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        self.child.wait().unwrap().code().unwrap_or(-1)
    }

    /// Waits for the exit code.
    pub fn wait(mut self) -> i32 {
        self.child.wait().unwrap().code().unwrap_or(-1)
    }
}

/// The value of one series in Prometheus text.
pub fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|number| number.trim().parse().ok())
}
