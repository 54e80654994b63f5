//! The `syslog` sink: each event's JSON as the message of a syslog record.
//!
//! RFC 5424 (default) or RFC 3164 headers; UDP (one datagram per event), or TCP or TLS (RFC 5425)
//! with RFC 6587 octet-counting (default) or newline framing. A stream that fails is reopened with
//! back-off and the batch is sent again (at least once). An event too large for one UDP datagram
//! is reported and counted, never cut.

use std::io::{self, BufWriter, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

use super::tls::{self, TlsError};
use crate::config::{SyslogFraming, SyslogRfc, SyslogSinkConfig, SyslogTransport};
use crate::normalize::Event;
use crate::telemetry::{SinkMetrics, Telemetry};

/// `syslog SCHEME://HOST:PORT`: the sink's name in messages and metrics.
fn describe(config: &SyslogSinkConfig) -> String {
    let scheme = match config.transport {
        SyslogTransport::Udp => "udp",
        SyslogTransport::Tcp => "tcp",
        SyslogTransport::Tls => "tls",
    };
    format!("syslog {scheme}://{}", config.address)
}

/// The largest UDP payload (65 535 − 8 byte UDP header − 20 byte IPv4 header).
const MAX_UDP_PAYLOAD: usize = 65_507;

/// The IANA example enterprise number, for the structured-data id.
const SD_ID: &str = "trailhound@32473";

/// Sends events to a syslog receiver.
pub struct SyslogSink {
    config: SyslogSinkConfig,
    hostname: String,
    process_id: u32,
    tls: Option<Arc<ClientConfig>>,
    connection: Option<Connection>,
    metrics: SinkMetrics,
}

enum Connection {
    Udp(UdpSocket),
    Tcp(BufWriter<TcpStream>),
    Tls(Box<BufWriter<StreamOwned<ClientConnection, TcpStream>>>),
}

impl SyslogSink {
    /// A sink for `config`; the connection opens on the first batch.
    pub fn new(config: &SyslogSinkConfig, telemetry: &Telemetry) -> Result<Self, TlsError> {
        let hostname = config.hostname.clone().unwrap_or_else(system_hostname);
        let tls = match config.transport {
            SyslogTransport::Tls => Some(tls::client_config(&config.tls)?),
            _ => None,
        };
        Ok(SyslogSink {
            config: config.clone(),
            hostname,
            process_id: std::process::id(),
            tls,
            connection: None,
            metrics: telemetry.sink(&describe(config)),
        })
    }

    /// `host:port` and transport, for messages.
    pub fn describe(&self) -> String {
        describe(&self.config)
    }

    /// Sends a batch; on a TCP or TLS failure reconnects with back-off and sends the whole batch
    /// again, until it goes through.
    pub(super) fn write_batch(&mut self, events: &[Event<'_>]) -> io::Result<()> {
        let mut delay = Duration::from_millis(200);
        loop {
            match self.try_batch(events) {
                Ok(()) => return Ok(()),
                Err(error) if self.config.transport != SyslogTransport::Udp => {
                    tracing::warn!("{}: {error}; retrying in {delay:?}", self.describe());
                    self.metrics.retried(events.len() as u64);
                    self.metrics.result(crate::source::now(), Some(&error.to_string()));
                    self.connection = None;
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(30));
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn try_batch(&mut self, events: &[Event<'_>]) -> io::Result<()> {
        if self.connection.is_none() {
            self.connection = Some(self.connect()?);
        }
        let mut message = Vec::with_capacity(4096);
        for event in events {
            message.clear();
            self.format(event, &mut message);
            match self.connection.as_mut().expect("connected above") {
                Connection::Udp(socket) => {
                    if message.len() > MAX_UDP_PAYLOAD {
                        tracing::warn!(
                            "{}: event {} is {} bytes, too large for one UDP datagram ({MAX_UDP_PAYLOAD}); not sent (use tcp)",
                            self.describe(),
                            event.id,
                            message.len()
                        );
                        continue;
                    }
                    socket.send(&message)?;
                }
                Connection::Tcp(stream) => frame(stream, self.config.framing, &message)?,
                Connection::Tls(stream) => frame(stream, self.config.framing, &message)?,
            }
        }
        match self.connection.as_mut() {
            Some(Connection::Tcp(stream)) => stream.flush(),
            Some(Connection::Tls(stream)) => stream.flush(),
            _ => Ok(()),
        }
    }

    fn connect(&self) -> io::Result<Connection> {
        let address = resolve(&self.config.address)?;
        match self.config.transport {
            SyslogTransport::Udp => {
                let local: SocketAddr =
                    if address.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().expect("valid");
                let socket = UdpSocket::bind(local)?;
                socket.connect(address)?;
                Ok(Connection::Udp(socket))
            }
            SyslogTransport::Tcp => {
                let stream = connect_tcp(address)?;
                Ok(Connection::Tcp(BufWriter::with_capacity(256 * 1024, stream)))
            }
            SyslogTransport::Tls => {
                let config = Arc::clone(self.tls.as_ref().expect("built for a tls:// sink"));
                let host = self.config.address.rsplit_once(':').map_or("", |(host, _)| host);
                let name = self.config.tls.server_name.as_deref().unwrap_or(host);
                let name = name.trim_start_matches('[').trim_end_matches(']').to_string();
                let name = ServerName::try_from(name)
                    .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
                let session = ClientConnection::new(config, name).map_err(io::Error::other)?;
                let mut stream = StreamOwned::new(session, connect_tcp(address)?);
                // Handshake now, so a certificate problem is reported as such.
                while stream.conn.is_handshaking() {
                    stream.conn.complete_io(&mut stream.sock)?;
                }
                Ok(Connection::Tls(Box::new(BufWriter::with_capacity(256 * 1024, stream))))
            }
        }
    }

    /// One record: header, then the event's JSON.
    fn format(&self, event: &Event<'_>, out: &mut Vec<u8>) {
        let priority = self.config.facility * 8 + self.config.severity;
        let app = &self.config.app_name;
        match self.config.rfc {
            SyslogRfc::Rfc5424 => {
                let time = rfc3339_of(event.timestamp);
                let id = escape_sd(event.id);
                let msgid = event.log_type.as_str();
                let header = format!(
                    "<{priority}>1 {time} {} {app} {} {msgid} [{SD_ID} event_id=\"{id}\"] ",
                    self.hostname, self.process_id
                );
                out.extend_from_slice(header.as_bytes());
            }
            SyslogRfc::Rfc3164 => {
                let time = rfc3164_time(event.timestamp);
                let header = format!("<{priority}>{time} {} {app}[{}]: ", self.hostname, self.process_id);
                out.extend_from_slice(header.as_bytes());
            }
        }
        out.extend_from_slice(event.json);
    }
}

fn connect_tcp(address: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&address, Duration::from_secs(10))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    Ok(stream)
}

/// Writes one record with the stream framing of RFC 6587.
fn frame(stream: &mut impl Write, framing: SyslogFraming, message: &[u8]) -> io::Result<()> {
    if framing == SyslogFraming::OctetCounting {
        write!(stream, "{} ", message.len())?;
    }
    stream.write_all(message)?;
    if framing == SyslogFraming::Newline {
        stream.write_all(b"\n")?;
    }
    Ok(())
}

fn resolve(address: &str) -> io::Result<SocketAddr> {
    address
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{address} resolves to no address")))
}

fn system_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "-".to_string())
}

/// Structured-data parameter values escape `"`, `\` and `]` (RFC 5424 §6.3.3).
fn escape_sd(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn rfc3339_of(seconds: i64) -> String {
    crate::normalize::format_unix(seconds)
}

/// `Mmm dd hh:mm:ss` (RFC 3164 §4.1.2), day padded with a space.
fn rfc3164_time(seconds: i64) -> String {
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let moment =
        time::OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{} {:>2} {:02}:{:02}:{:02}",
        MONTHS[moment.month() as usize - 1],
        moment.day(),
        moment.hour(),
        moment.minute(),
        moment.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::LogType;

    fn sink(rfc: SyslogRfc) -> SyslogSink {
        let config = SyslogSinkConfig {
            transport: SyslogTransport::Tcp,
            address: "127.0.0.1:1".into(),
            rfc,
            framing: SyslogFraming::OctetCounting,
            facility: 16,
            severity: 6,
            app_name: "trailhound".into(),
            hostname: Some("collector-1".into()),
            tls: Default::default(),
        };
        let telemetry = crate::telemetry::Telemetry::new(false, 300).unwrap();
        SyslogSink { process_id: 42, ..SyslogSink::new(&config, &telemetry).unwrap() }
    }

    fn event() -> Event<'static> {
        Event { id: "a\"b]", log_type: LogType::CloudTrail, timestamp: 1_714_557_909, json: b"{\"x\":1}" }
    }

    #[test]
    fn rfc5424_records() {
        let mut out = Vec::new();
        sink(SyslogRfc::Rfc5424).format(&event(), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<134>1 2024-05-01T10:05:09Z collector-1 trailhound 42 CloudTrail [trailhound@32473 event_id=\"a\\\"b\\]\"] {\"x\":1}"
        );
    }

    #[test]
    fn rfc3164_records() {
        let mut out = Vec::new();
        sink(SyslogRfc::Rfc3164).format(&Event { timestamp: 1_714_003_200, ..event() }, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "<134>Apr 25 00:00:00 collector-1 trailhound[42]: {\"x\":1}"
        );
    }
}
