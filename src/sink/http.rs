//! The `http` sink: batches of events POSTed as NDJSON, Splunk HEC events or Elasticsearch `_bulk`.
//!
//! What the receiver answers decides what happens to a request's events:
//!
//! | answer | meaning | what the sink does |
//! |---|---|---|
//! | 2xx | accepted | done (for `_bulk`, item by item: see below) |
//! | 408, 429, 5xx, no answer | busy or down | send again after a back-off (200 ms doubling to 30 s; `Retry-After` honoured) |
//! | 413 | too large | split the request in two and send each half |
//! | 401, 403, 404, 405, 407 | wrong URL or credentials | the sink fails: the run stops with this error, no checkpoint moves |
//! | other 4xx | these events are refused | the events are kept in the dead-letter file ([`super::rejected`]) |
//!
//! Splunk HEC names the first invalid event of a refused request (`invalid-event-number`): the
//! events before it were indexed, that one is kept as rejected, the rest is sent again. A `_bulk`
//! answer lists a status per event: events refused with 429 or 5xx are sent again, the others
//! refused for good are kept as rejected.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};
use reqwest::header::{self, HeaderValue};

use super::fanout::Batching;
use super::rejected::RejectedEvents;
use super::tls::{self, TlsError};
use super::{SinkContext, SinkError};
use crate::config::{HttpCompression, HttpMode, HttpSinkConfig};
use crate::decode::LogType;
use crate::normalize::Event;
use crate::telemetry::SinkMetrics;

/// The longest wait between two tries of a request.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How much of a refusal's body goes into a message.
const BODY_EXCERPT: usize = 300;

/// POSTs batches of events to an HTTP receiver.
pub struct HttpSink {
    config: HttpSinkConfig,
    endpoint: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// Built on the sink's own thread: a blocking client may not live inside the async runtime.
    client: Option<Client>,
    encoder: Encoder,
    rejected: RejectedEvents,
    metrics: SinkMetrics,
}

/// Why a request did not go through.
enum Failure {
    /// Try again later.
    Transient(String),
    /// Too large: split it.
    TooLarge,
    /// These events are refused for good.
    Refused { accepted: usize, refused: usize, reason: String },
    /// `_bulk` accepted some items and not others.
    Partial { retry: Vec<usize>, refused: Vec<(usize, String)> },
    /// The sink itself is misconfigured.
    Fatal(String),
}

impl HttpSink {
    /// A sink for `config`; TLS files are read now, the connection opens on the first batch.
    pub fn new(config: &HttpSinkConfig, context: &SinkContext) -> Result<Self, TlsError> {
        let tls = match config.url.starts_with("https://") {
            true => Some(tls::client_config(&config.tls)?),
            false => None,
        };
        let endpoint = match config.mode {
            HttpMode::Elasticsearch if !config.url.trim_end_matches('/').ends_with("/_bulk") => {
                format!("{}/_bulk", config.url.trim_end_matches('/'))
            }
            _ => config.url.clone(),
        };
        let describe = format!("http {endpoint}");
        let metrics = context.telemetry.sink(&describe);
        let rejected =
            RejectedEvents::new(&context.state_dir, &describe, Arc::clone(&context.stats), metrics.clone());
        Ok(HttpSink {
            config: config.clone(),
            endpoint,
            tls,
            client: None,
            encoder: Encoder::new(config),
            rejected,
            metrics,
        })
    }

    /// The URL, for messages.
    pub fn describe(&self) -> String {
        format!("http {}", self.endpoint)
    }

    /// Batches by count and age, as configured.
    pub(super) fn batching(&self) -> Batching {
        Batching { max_events: self.config.batch_max_events, max_age: self.config.batch_timeout }
    }

    /// Sends `events` in requests of at most `batch_max_events` events and `batch_max_bytes` bytes.
    pub(super) fn write_batch(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        let mut start = 0;
        while start < events.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < events.len()
                && end - start < self.config.batch_max_events
                && (end == start || bytes + events[end].json.len() < self.config.batch_max_bytes)
            {
                bytes += events[end].json.len() + 200;
                end += 1;
            }
            self.deliver(&events[start..end])?;
            start = end;
        }
        Ok(())
    }

    /// Sends one request's events until each is accepted or kept as rejected.
    fn deliver(&mut self, events: &[Event<'_>]) -> Result<(), SinkError> {
        let mut pending: Vec<Event<'_>> = events.to_vec();
        let mut delay = Duration::from_millis(200);
        while !pending.is_empty() {
            match self.send(&pending) {
                Ok(()) => return Ok(()),
                Err(Failure::Transient(reason)) => {
                    tracing::warn!("{}: {reason}; retrying in {delay:?}", self.describe());
                    self.metrics.retried(pending.len() as u64);
                    self.metrics.result(crate::source::now(), Some(&reason));
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(MAX_BACKOFF);
                }
                Err(Failure::TooLarge) if pending.len() > 1 => {
                    let (first, second) = pending.split_at(pending.len() / 2);
                    self.deliver(first)?;
                    self.deliver(second)?;
                    return Ok(());
                }
                Err(Failure::TooLarge) => {
                    self.keep_rejected(
                        &pending,
                        "HTTP 413: the event alone is larger than the receiver accepts",
                    )?;
                    return Ok(());
                }
                Err(Failure::Refused { accepted, refused, reason }) => {
                    let refused_end = (accepted + refused).min(pending.len());
                    self.keep_rejected(&pending[accepted..refused_end], &reason)?;
                    pending.drain(..refused_end);
                }
                Err(Failure::Partial { retry, refused }) => {
                    for (index, reason) in &refused {
                        self.keep_rejected(&pending[*index..=*index], reason)?;
                    }
                    if !retry.is_empty() {
                        self.metrics.retried(retry.len() as u64);
                        tracing::warn!(
                            "{}: {} of {} events refused as busy; retrying them in {delay:?}",
                            self.describe(),
                            retry.len(),
                            pending.len()
                        );
                        std::thread::sleep(delay);
                        delay = (delay * 2).min(MAX_BACKOFF);
                    }
                    pending = retry.iter().map(|&index| pending[index]).collect();
                }
                Err(Failure::Fatal(reason)) => {
                    self.metrics.result(crate::source::now(), Some(&reason));
                    return Err(SinkError::Refused { sink: self.describe(), reason });
                }
            }
        }
        Ok(())
    }

    fn keep_rejected(&mut self, events: &[Event<'_>], reason: &str) -> Result<(), SinkError> {
        let describe = self.describe();
        self.rejected
            .keep(events.iter().copied(), reason)
            .map_err(|source| SinkError::Io { sink: format!("{describe} (dead-letter file)"), source })
    }

    /// One POST of `events`.
    fn send(&mut self, events: &[Event<'_>]) -> Result<(), Failure> {
        let body = self.encoder.body(events);
        let (body, gzip) = match self.config.compression {
            HttpCompression::Gzip => (gzip(&body), true),
            HttpCompression::None => (body, false),
        };
        let endpoint = self.endpoint.clone();
        let content_type = self.encoder.content_type();
        let mut request = self.client()?.post(endpoint).header(header::CONTENT_TYPE, content_type).body(body);
        if gzip {
            request = request.header(header::CONTENT_ENCODING, "gzip");
        }
        if let Some(token) = &self.config.token {
            let scheme = match self.config.mode {
                HttpMode::SplunkHec => "Splunk",
                HttpMode::Elasticsearch => "ApiKey",
                HttpMode::Ndjson => "Bearer",
            };
            let mut value = HeaderValue::from_str(&format!("{scheme} {}", token.expose()))
                .map_err(|_| Failure::Fatal("the token holds characters a header cannot carry".into()))?;
            value.set_sensitive(true);
            request = request.header(header::AUTHORIZATION, value);
        }
        if let Some(user) = &self.config.user {
            request = request.basic_auth(user, self.config.password.as_ref().map(|p| p.expose()));
        }
        let response =
            request.send().map_err(|error| Failure::Transient(describe_transport_error(&error)))?;
        self.judge(response, events.len())
    }

    fn client(&mut self) -> Result<&Client, Failure> {
        if self.client.is_none() {
            // reqwest looks the provider up even for plain http://; an earlier install is fine.
            rustls::crypto::aws_lc_rs::default_provider().install_default().ok();
            let mut builder = Client::builder()
                .user_agent(concat!("trailhound/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(10))
                .timeout(self.config.request_timeout);
            if let Some(tls) = &self.tls {
                builder = builder.tls_backend_preconfigured((**tls).clone());
            }
            let client = builder.build().map_err(|error| Failure::Fatal(format!("HTTP client: {error}")))?;
            self.client = Some(client);
        }
        Ok(self.client.as_ref().expect("built above"))
    }

    /// What an answer means for the request's events.
    fn judge(&self, response: Response, sent: usize) -> Result<(), Failure> {
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok());
        let body = response.text().unwrap_or_default();
        if status.is_success() {
            return match self.config.mode {
                HttpMode::Elasticsearch => bulk_outcome(&body, sent),
                _ => Ok(()),
            };
        }
        let said = format!("HTTP {status}: {}", excerpt(&body));
        match status {
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => {
                if let Some(seconds) = retry_after {
                    std::thread::sleep(Duration::from_secs(seconds.min(MAX_BACKOFF.as_secs())));
                }
                Err(Failure::Transient(said))
            }
            status if status.is_server_error() => Err(Failure::Transient(said)),
            StatusCode::PAYLOAD_TOO_LARGE => Err(Failure::TooLarge),
            StatusCode::UNAUTHORIZED
            | StatusCode::FORBIDDEN
            | StatusCode::NOT_FOUND
            | StatusCode::METHOD_NOT_ALLOWED
            | StatusCode::PROXY_AUTHENTICATION_REQUIRED => Err(Failure::Fatal(format!(
                "{said} (check the url, token or credentials; nothing was checkpointed)"
            ))),
            _ => {
                let accepted = match self.config.mode {
                    HttpMode::SplunkHec => hec_invalid_event(&body).filter(|&n| n < sent),
                    _ => None,
                };
                match accepted {
                    Some(accepted) => Err(Failure::Refused { accepted, refused: 1, reason: said }),
                    None => Err(Failure::Refused { accepted: 0, refused: sent, reason: said }),
                }
            }
        }
    }
}

/// Turns events into request bodies.
struct Encoder {
    mode: HttpMode,
    /// Splunk HEC: each event's object up to `"time":`, per log type.
    hec_prefix: [String; 2],
    /// Elasticsearch: the index name pattern.
    index: String,
}

impl Encoder {
    fn new(config: &HttpSinkConfig) -> Self {
        let hec_prefix = [LogType::CloudTrail, LogType::VpcFlowLogs].map(|log_type| {
            let sourcetype = config.sourcetype.clone().unwrap_or_else(|| {
                match log_type {
                    LogType::CloudTrail => "aws:cloudtrail",
                    LogType::VpcFlowLogs => "aws:cloudwatchlogs:vpcflow",
                }
                .to_string()
            });
            let mut fields = serde_json::Map::new();
            fields.insert("sourcetype".into(), sourcetype.into());
            for (name, value) in
                [("index", &config.index), ("host", &config.host), ("source", &config.source)]
            {
                if let Some(value) = value {
                    fields.insert(name.into(), value.clone().into());
                }
            }
            let object = serde_json::Value::Object(fields).to_string();
            format!("{},\"time\":", object.trim_end_matches('}'))
        });
        let index = config.index.clone().unwrap_or_else(|| "trailhound-%Y.%m.%d".to_string());
        Encoder { mode: config.mode, hec_prefix, index }
    }

    fn content_type(&self) -> &'static str {
        match self.mode {
            HttpMode::SplunkHec => "application/json",
            _ => "application/x-ndjson",
        }
    }

    fn body(&self, events: &[Event<'_>]) -> Vec<u8> {
        let size: usize = events.iter().map(|event| event.json.len() + 160).sum();
        let mut body = Vec::with_capacity(size);
        for event in events {
            match self.mode {
                HttpMode::Ndjson => {}
                HttpMode::SplunkHec => {
                    let prefix = match event.log_type {
                        LogType::CloudTrail => &self.hec_prefix[0],
                        LogType::VpcFlowLogs => &self.hec_prefix[1],
                    };
                    body.extend_from_slice(prefix.as_bytes());
                    body.extend_from_slice(itoa::Buffer::new().format(event.timestamp).as_bytes());
                    body.extend_from_slice(b",\"event\":");
                    body.extend_from_slice(event.json);
                    body.extend_from_slice(b"}\n");
                    continue;
                }
                HttpMode::Elasticsearch => {
                    let action = serde_json::json!({
                        "index": { "_index": index_name(&self.index, event.timestamp), "_id": event.id }
                    });
                    body.extend_from_slice(action.to_string().as_bytes());
                    body.push(b'\n');
                }
            }
            body.extend_from_slice(event.json);
            body.push(b'\n');
        }
        body
    }
}

/// `%Y`, `%m` and `%d` in `pattern` replaced by the UTC date of `timestamp`.
fn index_name(pattern: &str, timestamp: i64) -> String {
    if !pattern.contains('%') {
        return pattern.to_string();
    }
    let date = time::OffsetDateTime::from_unix_timestamp(timestamp)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    pattern
        .replace("%Y", &format!("{:04}", date.year()))
        .replace("%m", &format!("{:02}", date.month() as u8))
        .replace("%d", &format!("{:02}", date.day()))
}

/// Reads a `_bulk` answer: which items to send again, which were refused for good.
fn bulk_outcome(body: &str, sent: usize) -> Result<(), Failure> {
    #[derive(serde::Deserialize)]
    struct Bulk {
        errors: bool,
        #[serde(default)]
        items: Vec<serde_json::Map<String, serde_json::Value>>,
    }
    let bulk: Bulk = serde_json::from_str(body).map_err(|error| {
        Failure::Transient(format!("unreadable _bulk answer ({error}): {}", excerpt(body)))
    })?;
    if !bulk.errors {
        return Ok(());
    }
    if bulk.items.len() != sent {
        return Err(Failure::Transient(format!(
            "_bulk answered {} items for {sent} events; sending again",
            bulk.items.len()
        )));
    }
    let mut retry = Vec::new();
    let mut refused = Vec::new();
    for (index, item) in bulk.items.iter().enumerate() {
        let Some(result) = item.values().next() else { continue };
        let status = result.get("status").and_then(|s| s.as_u64()).unwrap_or(0);
        if (200..300).contains(&status) {
            continue;
        }
        if status == 429 || status >= 500 {
            retry.push(index);
        } else {
            let error = result.get("error").map(|e| e.to_string()).unwrap_or_default();
            refused.push((index, format!("_bulk item status {status}: {}", excerpt(&error))));
        }
    }
    Err(Failure::Partial { retry, refused })
}

/// Splunk HEC's `invalid-event-number`: how many events before the refused one were indexed.
fn hec_invalid_event(body: &str) -> Option<usize> {
    let answer: serde_json::Value = serde_json::from_str(body).ok()?;
    answer.get("invalid-event-number")?.as_u64().map(|n| n as usize)
}

fn excerpt(body: &str) -> String {
    let body = body.trim();
    match body.char_indices().nth(BODY_EXCERPT) {
        Some((cut, _)) => format!("{}…", &body[..cut]),
        None => body.to_string(),
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
    encoder.write_all(body).expect("writing to memory cannot fail");
    encoder.finish().expect("writing to memory cannot fail")
}

/// A transport error with its causes, which say what went wrong (refused, TLS, timeout).
fn describe_transport_error(error: &reqwest::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HttpSinkConfig;

    fn event<'a>(id: &'a str, log_type: LogType, json: &'a str) -> Event<'a> {
        Event { id, log_type, timestamp: 1_714_557_909, json: json.as_bytes() }
    }

    #[test]
    fn splunk_hec_events_carry_time_sourcetype_and_the_configured_fields() {
        let mut config = HttpSinkConfig::from_url("https://splunk:8088/services/collector/event").unwrap();
        config.index = Some("aws".into());
        config.host = Some("collector-1".into());
        let encoder = Encoder::new(&config);
        let (a, b) =
            (event("a", LogType::CloudTrail, "{\"x\":1}"), event("b", LogType::VpcFlowLogs, "{\"y\":2}"));
        let body = String::from_utf8(encoder.body(&[a, b])).unwrap();
        assert_eq!(
            body,
            "{\"sourcetype\":\"aws:cloudtrail\",\"index\":\"aws\",\"host\":\"collector-1\",\"time\":1714557909,\"event\":{\"x\":1}}\n\
             {\"sourcetype\":\"aws:cloudwatchlogs:vpcflow\",\"index\":\"aws\",\"host\":\"collector-1\",\"time\":1714557909,\"event\":{\"y\":2}}\n"
        );
    }

    #[test]
    fn elasticsearch_actions_name_a_dated_index_and_the_event_id() {
        let config = HttpSinkConfig::from_url("http://es:9200/_bulk").unwrap();
        let encoder = Encoder::new(&config);
        let a = event("id\"1", LogType::CloudTrail, "{\"x\":1}");
        let body = String::from_utf8(encoder.body(&[a])).unwrap();
        assert_eq!(
            body,
            "{\"index\":{\"_index\":\"trailhound-2024.05.01\",\"_id\":\"id\\\"1\"}}\n{\"x\":1}\n"
        );
    }

    #[test]
    fn bulk_answers_split_into_retries_and_refusals() {
        let body = r#"{"took":3,"errors":true,"items":[
            {"index":{"status":201}},
            {"index":{"status":429,"error":{"type":"es_rejected_execution_exception"}}},
            {"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"bad"}}}]}"#;
        match bulk_outcome(body, 3) {
            Err(Failure::Partial { retry, refused }) => {
                assert_eq!(retry, vec![1]);
                assert_eq!(refused.len(), 1);
                assert_eq!(refused[0].0, 2);
                assert!(refused[0].1.contains("mapper_parsing_exception"), "{}", refused[0].1);
            }
            _ => panic!("expected a partial outcome"),
        }
        assert!(bulk_outcome(r#"{"errors":false,"items":[]}"#, 3).is_ok());
    }

    #[test]
    fn the_mode_follows_the_url_unless_set() {
        let mode = |url: &str| HttpSinkConfig::from_url(url).unwrap().mode;
        assert_eq!(mode("https://h:8088/services/collector/event"), HttpMode::SplunkHec);
        assert_eq!(mode("https://h:8088/services/collector"), HttpMode::SplunkHec);
        assert_eq!(mode("http://es:9200/_bulk"), HttpMode::Elasticsearch);
        assert_eq!(mode("http://h/ingest"), HttpMode::Ndjson);
        assert!(HttpSinkConfig::from_url("ftp://h/x").is_err());
    }

    #[test]
    fn index_patterns_take_the_event_date() {
        assert_eq!(index_name("aws-%Y.%m.%d", 1_714_557_909), "aws-2024.05.01");
        assert_eq!(index_name("aws-%Y-%m", 1_714_557_909), "aws-2024-05");
        assert_eq!(index_name("fixed", 1_714_557_909), "fixed");
    }
}
