//! The telemetry hub of a run, and its HTTP endpoint: `GET /metrics` (Prometheus text format),
//! `GET /health` (the process runs) and `GET /ready` (every source and sink, as JSON).
//!
//! The endpoint is off unless configured (`[telemetry] listen`, `run --listen`); it serves
//! nothing else. A scrape renders what the sources and sinks already counted: it takes no lock
//! that the pipeline holds while it works, so scraping does not slow collection down.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::health::{Health, Status};
use super::metrics::{SinkMetrics, SourceMetrics};
use crate::normalize::filter::Filter;

/// Where every source and sink of a run reports: metrics and readiness.
pub struct Telemetry {
    health: Health,
    exporter: Option<Exporter>,
    sources: Mutex<Vec<SourceMetrics>>,
}

struct Exporter {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

/// The endpoint could not be started.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The metrics recorder could not be installed.
    #[error("metrics: {0}")]
    Recorder(String),
    /// The address cannot be listened on.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The configured address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
}

impl Telemetry {
    /// A hub; with `metrics`, the Prometheus recorder is installed and metrics are kept.
    pub fn new(metrics: bool, unready_after_seconds: u32) -> Result<Arc<Self>, TelemetryError> {
        let exporter = match metrics {
            false => None,
            true => {
                let handle = super::metrics::install().map_err(TelemetryError::Recorder)?;
                let process = metrics_process::Collector::default();
                process.describe();
                Some(Exporter { handle, process })
            }
        };
        Ok(Arc::new(Telemetry {
            health: Health::new(unready_after_seconds),
            exporter,
            sources: Mutex::default(),
        }))
    }

    /// The handle of a source that polls every `interval_seconds` (0 for one that reads once),
    /// with its drop and keep rules, whose counts the metrics show.
    pub fn source(
        &self,
        name: &str,
        interval_seconds: i64,
        now: i64,
        filter: Option<Arc<Filter>>,
    ) -> SourceMetrics {
        if interval_seconds > 0 {
            self.health.source(name, interval_seconds, now);
        }
        let metrics = SourceMetrics::new(name, self.health.clone(), filter);
        self.sources.lock().unwrap_or_else(|poison| poison.into_inner()).push(metrics.clone());
        metrics
    }

    /// The handle of a sink.
    pub fn sink(&self, name: &str) -> SinkMetrics {
        SinkMetrics::new(name, self.health.clone())
    }

    /// The Prometheus text of every metric now.
    pub fn render(&self) -> String {
        let Some(exporter) = &self.exporter else { return String::new() };
        let now = crate::source::now();
        for source in self.sources.lock().unwrap_or_else(|poison| poison.into_inner()).iter() {
            source.refresh(now);
        }
        exporter.process.collect();
        exporter.handle.render()
    }

    /// The `/ready` answer: its status code and JSON body.
    pub fn ready(&self) -> (StatusCode, String) {
        let readiness = self.health.readiness(crate::source::now());
        let code = if readiness.status == Status::Failing {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        };
        (code, serde_json::to_string(&readiness).unwrap_or_default())
    }
}

/// Binds `address` (port 0 picks a free port, which is logged) and serves the endpoint until
/// `stop` is cancelled; returns the address bound.
pub async fn serve(
    address: &str,
    telemetry: Arc<Telemetry>,
    stop: CancellationToken,
) -> Result<SocketAddr, TelemetryError> {
    let failed = |source| TelemetryError::Listen { address: address.to_string(), source };
    let listener = TcpListener::bind(address).await.map_err(failed)?;
    let bound = listener.local_addr().map_err(failed)?;
    tracing::info!(target: "trailhound::notes", "metrics and health on http://{bound} (/metrics, /health, /ready)");
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        tracing::warn!("telemetry endpoint: {error}");
                        continue;
                    }
                },
                _ = stop.cancelled() => return,
            };
            let telemetry = Arc::clone(&telemetry);
            tokio::spawn(async move {
                let service = service_fn(move |request| answer(Arc::clone(&telemetry), request));
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                    .ok();
            });
        }
    });
    Ok(bound)
}

async fn answer(
    telemetry: Arc<Telemetry>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => {
            // Rendering walks every series: keep it off the async threads.
            let text = tokio::task::spawn_blocking(move || telemetry.render()).await.unwrap_or_default();
            (StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", text)
        }
        (&Method::GET, "/health") => (StatusCode::OK, "text/plain; charset=utf-8", "ok\n".to_string()),
        (&Method::GET, "/ready") => {
            let (status, body) = telemetry.ready();
            (status, "application/json", body)
        }
        (_, "/metrics" | "/health" | "/ready") => {
            (StatusCode::METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", "GET only\n".to_string())
        }
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: /metrics, /health, /ready\n".to_string(),
        ),
    };
    let response = Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())));
    Ok(response)
}
