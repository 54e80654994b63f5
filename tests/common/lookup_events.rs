//! A CloudTrail LookupEvents emulator on loopback, speaking the real wire protocol (spec §1):
//! AWS JSON 1.1 over `POST /`, both `X-Amz-Target` forms, a SigV4 `Authorization` header required,
//! epoch-second times, newest-first pages, a `NextToken` bound to its query, `__type` error bodies
//! (ThrottlingException and the modelled ones), and events that become visible only some time
//! after their EventTime, as Event history does.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use serde_json::{Value, json};

/// One event in the emulated Event history.
#[derive(Clone, Debug)]
pub struct EmulatedEvent {
    pub id: String,
    /// EventTime, Unix seconds.
    pub time: i64,
    /// When LookupEvents starts returning it, Unix seconds.
    pub visible_from: i64,
}

/// One request the emulator answered.
#[derive(Clone, Debug)]
pub struct Answered {
    pub at: Instant,
    pub long_target: bool,
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub with_token: bool,
    /// `200`, or the error `__type`.
    pub outcome: String,
}

#[derive(Default)]
struct State {
    events: Vec<EmulatedEvent>,
    answered: Vec<Answered>,
    /// Throttle every n-th request (1-based), when set.
    throttle_every: Option<usize>,
    /// Throttle requests above this rate (per second, over the last second), when set.
    max_per_second: Option<usize>,
}

pub struct Emulator {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Emulator {
    pub async fn start() -> Emulator {
        let state = Arc::new(Mutex::new(State::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = Arc::clone(&state);
                        async move { Ok::<_, Infallible>(answer(&state, request).await) }
                    });
                    ConnBuilder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                        .ok();
                });
            }
        });
        Emulator { endpoint: format!("http://{address}"), state, task }
    }

    /// Adds an event visible `delay_seconds` after its time.
    pub fn add(&self, id: &str, time: i64, delay_seconds: i64) {
        let event = EmulatedEvent { id: id.to_string(), time, visible_from: time + delay_seconds };
        self.state.lock().unwrap().events.push(event);
    }

    pub fn throttle_every(&self, n: usize) {
        self.state.lock().unwrap().throttle_every = Some(n);
    }

    pub fn max_per_second(&self, n: usize) {
        self.state.lock().unwrap().max_per_second = Some(n);
    }

    pub fn answered(&self) -> Vec<Answered> {
        self.state.lock().unwrap().answered.clone()
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> (StatusCode, Value) {
    (status, json!({"__type": code, "message": message}))
}

async fn answer(state: &Mutex<State>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let headers = request.headers().clone();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let target = header("x-amz-target");
    let long_target = target.starts_with("com.amazonaws.cloudtrail.v20131101.");
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (status, reply) = respond(state, &method, &path, &header, &target, &parsed);
    let outcome = if status == StatusCode::OK {
        "200".to_string()
    } else {
        reply["__type"].as_str().unwrap_or("").to_string()
    };
    state.lock().unwrap().answered.push(Answered {
        at: Instant::now(),
        long_target,
        start: parsed["StartTime"].as_f64(),
        end: parsed["EndTime"].as_f64(),
        with_token: parsed["NextToken"].is_string(),
        outcome,
    });
    Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
        .body(Full::new(Bytes::from(reply.to_string())))
        .unwrap()
}

fn respond(
    state: &Mutex<State>,
    method: &hyper::Method,
    path: &str,
    header: &dyn Fn(&str) -> String,
    target: &str,
    body: &Value,
) -> (StatusCode, Value) {
    if method != hyper::Method::POST || path != "/" {
        return error(StatusCode::NOT_FOUND, "UnknownOperationException", "POST / only");
    }
    let operation = target.rsplit('.').next().unwrap_or("");
    let service = target.strip_suffix(operation).unwrap_or("").trim_end_matches('.');
    if !matches!(service, "CloudTrail_20131101" | "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101") {
        return error(StatusCode::BAD_REQUEST, "UnknownOperationException", "unknown target");
    }
    if operation != "LookupEvents" {
        return error(StatusCode::BAD_REQUEST, "UnknownOperationException", "only LookupEvents is emulated");
    }
    if !header("content-type").starts_with("application/x-amz-json-1.1") {
        return error(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            "expected application/x-amz-json-1.1",
        );
    }
    let authorization = header("authorization");
    let signed = authorization.starts_with("AWS4-HMAC-SHA256 Credential=")
        && authorization.contains("/cloudtrail/aws4_request")
        && authorization.contains("SignedHeaders=")
        && authorization.contains("Signature=")
        && !header("x-amz-date").is_empty();
    if !signed {
        return error(
            StatusCode::BAD_REQUEST,
            "MissingAuthenticationTokenException",
            "Request is missing Authentication Token",
        );
    }
    if authorization.contains("Credential=AKIAREJECTED/") {
        return error(
            StatusCode::BAD_REQUEST,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        );
    }
    if !body.is_object() {
        return error(StatusCode::BAD_REQUEST, "SerializationException", "the body must be a JSON object");
    }
    let state = state.lock().unwrap();
    let count = state.answered.len() + 1;
    if state.throttle_every.is_some_and(|n| count.is_multiple_of(n)) {
        return error(StatusCode::BAD_REQUEST, "ThrottlingException", "Rate exceeded");
    }
    if let Some(limit) = state.max_per_second {
        // Like the real token bucket, a request a hair inside the second is not held against the
        // caller: timestamps are taken when responses are sent, so allow 100 ms of jitter.
        let recent = state
            .answered
            .iter()
            .filter(|a| a.at.elapsed() < Duration::from_millis(900) && a.outcome == "200")
            .count();
        if recent >= limit {
            return error(StatusCode::BAD_REQUEST, "ThrottlingException", "Rate exceeded");
        }
    }
    let max_results = body["MaxResults"].as_i64().unwrap_or(50);
    if !(1..=50).contains(&max_results) {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidMaxResultsException",
            "MaxResults must be between 1 and 50",
        );
    }
    if body["LookupAttributes"].as_array().is_some_and(|a| a.len() > 1) {
        return error(StatusCode::BAD_REQUEST, "InvalidLookupAttributesException", "at most one attribute");
    }
    if !body["EventCategory"].is_null() && body["EventCategory"] != "insight" {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidEventCategoryException",
            "EventCategory must be insight",
        );
    }
    let start = body["StartTime"].as_f64().unwrap_or(0.0);
    let end = body["EndTime"].as_f64().unwrap_or(now() as f64);
    if start > end {
        return error(StatusCode::BAD_REQUEST, "InvalidTimeRangeException", "StartTime is after EndTime");
    }
    let fingerprint =
        format!("{start}|{end}|{max_results}|{}|{}", body["LookupAttributes"], body["EventCategory"]);
    let offset = match body["NextToken"].as_str() {
        None => 0,
        Some(token) => match token.split_once('|') {
            Some((offset, bound)) if bound == fingerprint => offset.parse().unwrap_or(0),
            _ => return error(StatusCode::BAD_REQUEST, "InvalidNextTokenException", "Invalid NextToken"),
        },
    };
    let current = now();
    let mut visible: Vec<&EmulatedEvent> = state
        .events
        .iter()
        .filter(|e| e.visible_from <= current && (e.time as f64) >= start && (e.time as f64) <= end)
        .collect();
    visible.sort_by(|a, b| b.time.cmp(&a.time).then(b.id.cmp(&a.id)));
    let page: Vec<Value> =
        visible.iter().skip(offset).take(max_results as usize).map(|e| wire_event(e)).collect();
    let next = offset + page.len();
    let mut reply = json!({ "Events": page });
    if next < visible.len() {
        reply["NextToken"] = json!(format!("{next}|{fingerprint}"));
    }
    (StatusCode::OK, reply)
}

fn wire_event(event: &EmulatedEvent) -> Value {
    let when = time::OffsetDateTime::from_unix_timestamp(event.time).unwrap();
    let event_time = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        when.year(),
        when.month() as u8,
        when.day(),
        when.hour(),
        when.minute(),
        when.second()
    );
    let record = json!({"eventVersion": "1.10", "eventID": event.id, "eventTime": event_time,
        "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances", "awsRegion": "us-east-1",
        "sourceIPAddress": "192.0.2.1", "userAgent": "aws-cli/2",
        "userIdentity": {"type": "IAMUser", "userName": "alice", "accountId": "111122223333"},
        "readOnly": true, "eventType": "AwsApiCall", "recipientAccountId": "111122223333"});
    json!({"EventId": event.id, "EventName": "DescribeInstances", "ReadOnly": "true",
        "AccessKeyId": "AKIAEMULATED", "EventTime": event.time as f64, "EventSource": "ec2.amazonaws.com",
        "Username": "alice", "Resources": [], "CloudTrailEvent": record.to_string()})
}
