//! An HTTP receiver for the `http` sink tests: a real hyper server on loopback (plain or TLS) that
//! records every request it *accepted* and answers as the test scripts it — like a Splunk HEC or
//! an Elasticsearch `_bulk` endpoint would, including refusals, throttling and outages.

use std::convert::Infallible;
use std::io::Read;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;

use rustls::pki_types::pem::PemObject;

use super::pki::Pki;

/// One request as the receiver saw it (body gunzipped when it was sent gzipped).
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The status the receiver answered.
    pub status: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Decides the answer to the `n`th request (from 0): status and body.
pub type Script = dyn Fn(usize, &Received) -> (u16, String) + Send + Sync;

pub struct HttpReceiver {
    pub url: String,
    requests: Arc<Mutex<Vec<Received>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl HttpReceiver {
    /// A plain-HTTP receiver answering as `script` says.
    pub fn start(script: impl Fn(usize, &Received) -> (u16, String) + Send + Sync + 'static) -> Self {
        Self::serve(Arc::new(script), None)
    }

    /// A receiver behind TLS with `pki`'s server certificate.
    pub fn start_tls(
        pki: &Pki,
        script: impl Fn(usize, &Received) -> (u16, String) + Send + Sync + 'static,
    ) -> Self {
        Self::serve(Arc::new(script), Some(pki))
    }

    /// Every request so far, answered or not.
    pub fn requests(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests answered with a 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.requests().into_iter().filter(|r| (200..300).contains(&r.status)).collect()
    }

    /// The `event_id` of every event in the NDJSON bodies of the accepted requests.
    pub fn accepted_event_ids(&self) -> std::collections::BTreeSet<String> {
        self.accepted().iter().flat_map(|r| r.body.lines().map(super::event_id).collect::<Vec<_>>()).collect()
    }

    fn serve(script: Arc<Script>, pki: Option<&Pki>) -> Self {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        // Bound here, served by the runtime: this also works when called from inside another runtime.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let acceptor = pki.map(|pki| {
            let cert = rustls::pki_types::CertificateDer::from_pem_file(&pki.server_cert).unwrap();
            let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&pki.server_key).unwrap();
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert], key)
                .unwrap();
            tokio_rustls::TlsAcceptor::from(Arc::new(config))
        });
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let recorded = Arc::clone(&requests);
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (script, recorded, acceptor) =
                    (Arc::clone(&script), Arc::clone(&recorded), acceptor.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        answer(request, Arc::clone(&script), Arc::clone(&recorded))
                    });
                    let builder = ConnBuilder::new(TokioExecutor::new());
                    match acceptor {
                        Some(acceptor) => {
                            let Ok(stream) = acceptor.accept(stream).await else { return };
                            builder.serve_connection(TokioIo::new(stream), service).await.ok();
                        }
                        None => {
                            builder.serve_connection(TokioIo::new(stream), service).await.ok();
                        }
                    }
                });
            }
        });
        HttpReceiver {
            url: format!("{scheme}://127.0.0.1:{}", address.port()),
            requests,
            runtime: Some(runtime),
        }
    }
}

async fn answer(
    request: Request<Incoming>,
    script: Arc<Script>,
    recorded: Arc<Mutex<Vec<Received>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("").to_string()))
        .collect();
    let gzipped = headers.iter().any(|(n, v)| n == "content-encoding" && v == "gzip");
    let bytes = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let body = if gzipped {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_string(&mut text).unwrap();
        text
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let mut received = Received { path, headers, body, status: 0 };
    let (status, answer) = {
        let mut all = recorded.lock().unwrap();
        let (status, answer) = script(all.len(), &received);
        received.status = status;
        all.push(received);
        (status, answer)
    };
    let response = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(answer)))
        .unwrap();
    Ok(response)
}
