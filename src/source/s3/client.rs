//! The S3 calls the source makes: delimiter listings, listings from a start key, downloads.
//!
//! Every call is counted, and logged (method, path, status, duration) when `LogApiRequests` is
//! on. The log line is built here from the bucket, prefix and key, never from the signed request,
//! so credentials and signatures cannot appear in it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use aws_sdk_s3::Client;

use crate::aws::describe_error;
use crate::telemetry::SourceMetrics;

/// An S3 call failed.
#[derive(Debug, thiserror::Error)]
#[error("{operation} s3://{bucket}/{target}: {message}")]
pub struct S3Error {
    /// `ListObjectsV2` or `GetObject`.
    pub operation: &'static str,
    /// The bucket.
    pub bucket: String,
    /// The prefix or key.
    pub target: String,
    /// What S3 said (its error code when it gave one).
    pub message: String,
}

/// One listed object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Its key.
    pub key: String,
    /// Its ETag, without quotes (empty when the store gave none).
    pub etag: String,
    /// Its size in bytes.
    pub size: i64,
    /// Its last-modified time (Unix seconds).
    pub last_modified: Option<i64>,
}

/// A bucket, as the source uses it.
pub struct Bucket {
    client: Client,
    bucket: String,
    page_size: i32,
    log_requests: bool,
    requests: AtomicU64,
    metrics: Option<SourceMetrics>,
}

impl Bucket {
    /// Wraps a client for `bucket`; `page_size` is MaxKeys.
    pub fn new(client: Client, bucket: &str, page_size: u32, log_requests: bool) -> Self {
        Bucket {
            client,
            bucket: bucket.to_string(),
            page_size: i32::try_from(page_size).unwrap_or(1000),
            log_requests,
            requests: AtomicU64::new(0),
            metrics: None,
        }
    }

    /// Reports every request into `metrics` too.
    pub fn with_metrics(mut self, metrics: SourceMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The bucket name.
    pub fn name(&self) -> &str {
        &self.bucket
    }

    /// Requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn note(&self, operation: &'static str, path: &str, status: &str, started: Instant) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Some(metrics) = &self.metrics {
            metrics.aws_request(operation, status == "200", started.elapsed().as_secs_f64());
        }
        let method = "GET";
        if self.log_requests {
            let millis = started.elapsed().as_millis();
            tracing::info!(target: "trailhound::s3_requests", "{method} /{}{path} {status} {millis} ms", self.bucket);
        }
    }

    /// The folders directly below `prefix` (a delimiter listing), every page.
    pub async fn folders(&self, prefix: &str) -> Result<Vec<String>, S3Error> {
        Ok(self.level(prefix).await?.1)
    }

    /// The objects and the folders directly below `prefix` (a delimiter listing), every page.
    pub async fn level(&self, prefix: &str) -> Result<(Vec<Listed>, Vec<String>), S3Error> {
        self.pages(prefix, Some("/"), None).await
    }

    /// Every object below `prefix` whose key sorts after `start_after`, every page.
    pub async fn list(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<Listed>, S3Error> {
        Ok(self.pages(prefix, None, start_after).await?.0)
    }

    /// One ListObjectsV2 listing, page by page: the objects, and the common prefixes when a
    /// delimiter is given.
    async fn pages(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        start_after: Option<&str>,
    ) -> Result<(Vec<Listed>, Vec<String>), S3Error> {
        let path = format!(
            "?list-type=2&prefix={prefix}{}{}",
            delimiter.map(|_| "&delimiter=%2F").unwrap_or(""),
            start_after.map(|after| format!("&start-after={after}")).unwrap_or_default()
        );
        let (mut objects, mut folders) = (Vec::new(), Vec::new());
        let mut token: Option<String> = None;
        loop {
            let started = Instant::now();
            let mut request = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_delimiter(delimiter.map(str::to_string))
                .max_keys(self.page_size);
            request = match (&token, start_after) {
                (Some(next), _) => request.continuation_token(next),
                (None, Some(after)) => request.start_after(after),
                (None, None) => request,
            };
            let page = match request.send().await {
                Ok(page) => {
                    self.note("ListObjectsV2", &path, "200", started);
                    page
                }
                Err(error) => {
                    let message = describe_error(&error);
                    self.note("ListObjectsV2", &path, &message, started);
                    return Err(self.error("ListObjectsV2", prefix, message));
                }
            };
            folders.extend(page.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_string)));
            objects.extend(page.contents().iter().filter_map(listed));
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_string()),
                _ => return Ok((objects, folders)),
            }
        }
    }

    /// The stored bytes of an object (the SDK does not decompress them).
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, S3Error> {
        let started = Instant::now();
        let path = format!("/{key}");
        let response = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(response) => response,
            Err(error) => {
                let message = describe_error(&error);
                self.note("GetObject", &path, &message, started);
                return Err(self.error("GetObject", key, message));
            }
        };
        let body = response.body.collect().await;
        self.note("GetObject", &path, if body.is_ok() { "200" } else { "body read failed" }, started);
        let body =
            body.map_err(|error| self.error("GetObject", key, format!("reading the body failed: {error}")))?;
        Ok(body.into_bytes().to_vec())
    }

    fn error(&self, operation: &'static str, target: &str, message: String) -> S3Error {
        S3Error { operation, bucket: self.bucket.clone(), target: target.to_string(), message }
    }
}

fn listed(object: &aws_sdk_s3::types::Object) -> Option<Listed> {
    Some(Listed {
        key: object.key()?.to_string(),
        etag: object.e_tag().unwrap_or("").trim_matches('"').to_string(),
        size: object.size().unwrap_or(0),
        last_modified: object.last_modified().map(|t| t.secs()),
    })
}
