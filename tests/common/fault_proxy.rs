//! A fault-injecting HTTP proxy on loopback, between Trailhound and a server of the suite.
//!
//! Each request is forwarded to the upstream server, or not, by a seeded random choice: a share
//! of requests (`fault_percent`) gets a fault instead, the kinds taking turns — an error status (500, 503 with and
//! without `Retry-After`, 429), the connection closed before or after the response head, a body
//! cut half way (the head announces the whole length), or a response dribbled out slowly. The
//! proxy speaks one request per connection (`Connection: close`), which is all the faults need.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy did to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    Pass,
    Status500,
    Status503,
    Status503RetryAfter,
    Status429,
    CloseBeforeHead,
    CloseAfterHead,
    CutBody,
    Slow,
    /// Reads the request, then answers nothing for a long time and closes (see `stall_next`).
    Stall,
}

/// Every fault, in the order they take their turns.
pub const FAULTS: [Fault; 8] = [
    Fault::Status500,
    Fault::Status503,
    Fault::Status503RetryAfter,
    Fault::Status429,
    Fault::CloseBeforeHead,
    Fault::CloseAfterHead,
    Fault::CutBody,
    Fault::Slow,
];

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    counts: Arc<Mutex<BTreeMap<Fault, u64>>>,
    stop: Arc<AtomicBool>,
    /// How many of the next requests stall, and for how long (milliseconds).
    stalls: Arc<(AtomicU64, AtomicU64)>,
}

/// A seeded xorshift generator: the same seed gives the same sequence of choices.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://HOST:PORT`) that faults `fault_percent` % of requests.
    pub fn start(upstream: &str, fault_percent: u64, seed: u64) -> FaultProxy {
        let upstream = upstream.trim_start_matches("http://").trim_end_matches('/').to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let counts = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let random = Arc::new(Mutex::new(Random(seed.max(1))));
        let stalls = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
        {
            let (counts, stop, stalls) = (Arc::clone(&counts), Arc::clone(&stop), Arc::clone(&stalls));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((client, _)) => {
                            // Whether to fault is the seeded random choice; the faults take
                            // their turns, so that a run of a few dozen faults meets each kind.
                            let stalling = stalls
                                .0
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                                .is_ok();
                            let choice = if stalling {
                                Fault::Stall
                            } else {
                                let mut random = random.lock().unwrap();
                                if random.next() % 100 < fault_percent {
                                    let turn = counts
                                        .lock()
                                        .unwrap()
                                        .iter()
                                        .filter(|(f, _)| **f != Fault::Pass)
                                        .map(|(_, n)| *n)
                                        .sum::<u64>();
                                    FAULTS[(turn % FAULTS.len() as u64) as usize]
                                } else {
                                    Fault::Pass
                                }
                            };
                            *counts.lock().unwrap().entry(choice).or_default() += 1;
                            let upstream = upstream.clone();
                            let stall = Duration::from_millis(stalls.1.load(Ordering::SeqCst));
                            std::thread::spawn(move || serve(client, &upstream, choice, stall));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
        FaultProxy { url, counts, stop, stalls }
    }

    /// Makes the next `requests` requests stall for `each`: the request is read, nothing is
    /// answered, then the connection is closed.
    pub fn stall_next(&self, requests: u64, each: Duration) {
        self.stalls.1.store(each.as_millis() as u64, Ordering::SeqCst);
        self.stalls.0.store(requests, Ordering::SeqCst);
    }

    /// How many requests got each treatment so far.
    pub fn counts(&self) -> BTreeMap<Fault, u64> {
        self.counts.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one request (head and `Content-Length` body); `None` when the client went away.
fn read_request(client: &mut TcpStream) -> Option<Vec<u8>> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 8192];
    let head_end = loop {
        let read = client.read(&mut buffer).ok().filter(|read| *read > 0)?;
        request.extend_from_slice(&buffer[..read]);
        if let Some(at) = request.windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while request.len() < head_end + length {
        let read = client.read(&mut buffer).ok().filter(|read| *read > 0)?;
        request.extend_from_slice(&buffer[..read]);
    }
    // One request per connection: ask the upstream to close, so its answer ends at EOF.
    let head = String::from_utf8_lossy(&request[..head_end]).to_string();
    let mut rewritten: String = head
        .split("\r\n")
        .filter(|line| !line.to_ascii_lowercase().starts_with("connection:") && !line.is_empty())
        .map(|line| format!("{line}\r\n"))
        .collect();
    rewritten.push_str("Connection: close\r\n\r\n");
    let mut forwarded = rewritten.into_bytes();
    forwarded.extend_from_slice(&request[head_end..]);
    Some(forwarded)
}

fn status(code: u16, reason: &str, retry_after: bool) -> Vec<u8> {
    let body = format!("<Error><Code>Injected</Code><Message>{reason}</Message></Error>");
    let retry = if retry_after { "Retry-After: 1\r\n" } else { "" };
    format!(
        "HTTP/1.1 {code} {reason}\r\n{retry}Content-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn serve(mut client: TcpStream, upstream: &str, fault: Fault, stall: Duration) {
    client.set_nonblocking(false).ok();
    client.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let Some(request) = read_request(&mut client) else { return };
    let answer = match fault {
        Fault::Status500 => Some(status(500, "Internal Server Error", false)),
        Fault::Status503 => Some(status(503, "Slow Down", false)),
        Fault::Status503RetryAfter => Some(status(503, "Slow Down", true)),
        Fault::Status429 => Some(status(429, "Too Many Requests", false)),
        Fault::CloseBeforeHead => return,
        Fault::Stall => {
            std::thread::sleep(stall);
            return;
        }
        _ => None,
    };
    if let Some(answer) = answer {
        client.write_all(&answer).ok();
        return;
    }
    let Ok(mut server) = TcpStream::connect(upstream) else { return };
    if server.write_all(&request).is_err() {
        return;
    }
    let mut response = Vec::new();
    if server.read_to_end(&mut response).is_err() {
        return;
    }
    let head_end =
        response.windows(4).position(|window| window == b"\r\n\r\n").map_or(response.len(), |at| at + 4);
    match fault {
        Fault::CloseAfterHead => {
            client.write_all(&response[..head_end]).ok();
        }
        Fault::CutBody => {
            let body = response.len() - head_end;
            client.write_all(&response[..head_end + body / 2]).ok();
        }
        Fault::Slow => {
            for chunk in response.chunks(512) {
                if client.write_all(chunk).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        _ => {
            client.write_all(&response).ok();
        }
    }
}
