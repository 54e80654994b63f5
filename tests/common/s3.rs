//! An S3-compatible server on loopback for the tests: s3s-fs (the s3s crate's file-system
//! backend) in this process, with SigV4 authentication on.

use std::net::SocketAddr;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

pub const ACCESS_KEY: &str = "AKIATRAILHOUNDTEST01";
pub const SECRET_KEY: &str = "trailhound-test-secret-key-0000000000000";
pub const BUCKET: &str = "trail-logs";

pub struct S3Server {
    pub endpoint: String,
    pub client: Client,
    /// With [`start_with_tls`]: the HTTPS endpoint and the PEM file of its self-signed certificate.
    pub tls: Option<(String, std::path::PathBuf)>,
    _root: tempfile::TempDir,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts a server with an empty bucket [`BUCKET`].
pub async fn start() -> S3Server {
    start_server(false).await
}

/// The same, also served over HTTPS with a self-signed certificate for 127.0.0.1.
pub async fn start_with_tls() -> S3Server {
    start_server(true).await
}

async fn start_server(with_tls: bool) -> S3Server {
    let root = tempfile::tempdir().unwrap();
    let fs = s3s_fs::FileSystem::new(root.path()).unwrap();
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let plain_service = service.clone();
    let mut tasks = vec![tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let service = plain_service.clone();
            tokio::spawn(async move {
                ConnBuilder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                    .ok();
            });
        }
    })];
    let mut tls = None;
    if with_tls {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let certificate_file = root.path().join("server-cert.pem");
        std::fs::write(&certificate_file, certified.cert.pem()).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certified.cert.der().clone()], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let tls_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tls_address = tls_listener.local_addr().unwrap();
        tasks.push(tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = tls_listener.accept().await else { continue };
                let (service, acceptor) = (service.clone(), acceptor.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else { return };
                    ConnBuilder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                        .ok();
                });
            }
        }));
        tls = Some((format!("https://{tls_address}"), certificate_file));
    }
    let endpoint = format!("http://{address}");
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
        .build();
    let client = Client::from_conf(config);
    client.create_bucket().bucket(BUCKET).send().await.unwrap();
    S3Server { endpoint, client, tls, _root: root, tasks }
}

/// A CloudTrail key stamped `minutes_ago` minutes before now, under `prefix` (`""`, `"trail/"`).
pub fn cloudtrail_key(prefix: &str, account: &str, region: &str, minutes_ago: i64, suffix: &str) -> String {
    let (day, stamp) =
        super::key_stamp(time::OffsetDateTime::now_utc() - time::Duration::minutes(minutes_ago));
    format!(
        "{prefix}AWSLogs/{account}/CloudTrail/{region}/{day}/{account}_CloudTrail_{region}_{stamp}_{suffix}.json.gz"
    )
}

/// Puts a CloudTrail file holding one record whose eventID is `id`.
pub async fn put_record(server: &S3Server, key: &str, id: &str) {
    server.put(key, super::gzip(&super::records_doc(&[id]))).await;
}

impl S3Server {
    pub async fn put(&self, key: &str, body: Vec<u8>) {
        self.client.put_object().bucket(BUCKET).key(key).body(body.into()).send().await.unwrap();
    }

    /// Writes an object straight into the server's folder: for keys too long for s3s-fs's
    /// metadata file names (it names them by the key in base64). It lists without an ETag.
    pub fn seed(&self, key: &str, body: &[u8]) {
        super::put(&self._root.path().join(BUCKET), key, body);
    }

    /// The extension keys that point an INI source at this server, with its credentials.
    pub fn ini_connection(&self) -> String {
        format!(
            "Endpoint = {}\nForcePathStyle = true\nAccessKeyId = {ACCESS_KEY}\nSecretAccessKey = {SECRET_KEY}\n",
            self.endpoint
        )
    }

    /// A TOML configuration with one s3 source on this server and a file sink.
    pub fn config(&self, extra: &str) -> String {
        format!(
            "[[source]]\ntype = \"s3\"\nname = \"trail\"\nbucket = \"{BUCKET}\"\nregion = \"us-east-1\"\n\
             endpoint = \"{}\"\nforce_path_style = true\naccess_key_id = \"{ACCESS_KEY}\"\n\
             secret_access_key = \"{SECRET_KEY}\"\nstartup_delay_in_seconds = 0\n{extra}\n\n\
             [[sink]]\ntype = \"file\"\npath = \"out.ndjson\"\n",
            self.endpoint
        )
    }
}
