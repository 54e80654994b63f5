//! The `sqs` source: S3 objects named by notifications on an SQS queue, which any number of
//! agents may share with no coordination but the queue's.
//!
//! A message is received hidden for `visibility_timeout_seconds`; while its objects are read the
//! source extends that (ChangeMessageVisibility every third of it), so a slow sink never makes
//! it reappear to another agent. Each object goes through the same reader as the list mode
//! (`source/fetch.rs`). The message is deleted only once every event of every object it names
//! was accepted by every sink; on SIGTERM what is unfinished is released (visibility 0); after a
//! crash it reappears when its visibility runs out and its objects are read again (`event_id`
//! lets a downstream drop the duplicates). A message that cannot be understood, or whose object
//! is missing or denied, is left for the queue's redrive policy; one received more than
//! `max_receive_count` times is given up: left to the dead-letter queue when the queue has one,
//! else deleted and recorded as quarantined in the state store.

pub mod notification;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use globset::GlobSet;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use self::notification::{Notification, ObjectRef};
use super::fetch::{Fetched, fetch};
use super::object::Outcome;
use super::s3::client::Bucket;
use super::s3::filter::glob_set;
use super::s3::listing;
use super::{RunMode, SourceContext, blocking, now};
use crate::checkpoint::{CheckpointError, CheckpointStore, ObjectOutcome, ProcessedObject};
use crate::config::SqsSource;
use crate::decode::{self, KeyKind};

/// How long a given-up message's record stays in the state store.
const QUARANTINE_KEPT_SECONDS: i64 = 7 * 86_400;

/// Why the source cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum SqsSourceError {
    /// The SDK could not be set up.
    #[error(transparent)]
    Setup(#[from] crate::aws::AwsSetupError),
    /// A glob does not compile (validation should have caught it).
    #[error("invalid glob: {0}")]
    Glob(#[from] globset::Error),
    /// The queue cannot be used (missing, denied, unreachable).
    #[error("queue {queue}: {message}")]
    Queue {
        /// The queue URL.
        queue: String,
        /// What SQS said.
        message: String,
    },
    /// The checkpoint store failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// `run --once`: a receive failed.
    #[error("the poll could not be completed: {0}")]
    Incomplete(String),
}

/// A running SQS source, shared by the receive loop and the message tasks.
struct Consumer {
    name: String,
    config: SqsSource,
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    store: Arc<CheckpointStore>,
    context: SourceContext,
    inclusions: GlobSet,
    exclusions: GlobSet,
    dead_letter_queue: bool,
    test_event_seen: AtomicBool,
}

/// Receives until shutdown (or, with `--once`, until a long poll returns no message).
pub async fn run(
    name: String,
    config: SqsSource,
    context: SourceContext,
    store: Arc<CheckpointStore>,
    mode: RunMode,
) -> Result<(), SqsSourceError> {
    let sdk = crate::aws::sdk_config(&config.aws).await?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut s3_config = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(config.aws.force_path_style);
    if let Some(endpoint) = &config.s3_endpoint {
        s3_config = s3_config.endpoint_url(endpoint);
    }
    let s3 = aws_sdk_s3::Client::from_conf(s3_config.build());
    let dead_letter_queue = has_dead_letter_queue(&sqs, &config.queue_url).await?;
    let consumer = Arc::new(Consumer {
        inclusions: glob_set(&config.inclusions)?,
        exclusions: glob_set(&config.exclusions)?,
        name,
        sqs,
        s3,
        store,
        context,
        dead_letter_queue,
        test_event_seen: AtomicBool::new(false),
        config,
    });
    consumer.receive_loop(mode).await
}

/// Whether the queue has a redrive policy (a dead-letter queue); a queue that cannot be read
/// stops the source at start.
async fn has_dead_letter_queue(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<bool, SqsSourceError> {
    let answer = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .map_err(|error| SqsSourceError::Queue {
            queue: queue_url.to_string(),
            message: crate::aws::describe_error(&error),
        })?;
    Ok(answer
        .attributes()
        .is_some_and(|attributes| attributes.contains_key(&QueueAttributeName::RedrivePolicy)))
}

impl Consumer {
    async fn receive_loop(self: Arc<Self>, mode: RunMode) -> Result<(), SqsSourceError> {
        let permits = Arc::new(Semaphore::new(self.config.parallel_objects as usize));
        let mut running: JoinSet<Result<(), CheckpointError>> = JoinSet::new();
        let mut back_off = Duration::from_secs(1);
        let mut last_expiry = 0;
        loop {
            while let Some(done) = running.try_join_next() {
                done.unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))?;
            }
            if self.context.shutdown.is_cancelled() {
                break;
            }
            // Backpressure: receive only what there is room to work on; a full sink lane keeps
            // the tasks busy, so nothing more is received and memory does not grow.
            // Receive in batches: waiting until half the room is free keeps the number of
            // requests (which SQS bills) near one per `max_messages` messages.
            let batch = (self.config.max_messages as usize).min(self.config.parallel_objects as usize);
            let room = permits.available_permits().min(self.config.max_messages as usize);
            if room == 0 || (room < batch.div_ceil(2) && !running.is_empty()) {
                if let Some(done) = running.join_next().await {
                    done.unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))?;
                }
                continue;
            }
            let started = now();
            if started - last_expiry > 3600 {
                let (store, name) = (Arc::clone(&self.store), self.name.clone());
                blocking(move || store.expire(&name, started - QUARANTINE_KEPT_SECONDS)).await?;
                last_expiry = started;
            }
            self.context.metrics.poll_started(started);
            // `--once` ends on an empty poll made while nothing was in flight: a message being
            // handled during the poll may be released and visible again.
            let idle = running.is_empty();
            let received = tokio::select! {
                received = self.receive(room) => received,
                _ = self.context.shutdown.cancelled() => break,
            };
            self.context.save_filtered(&self.store, &self.name).await?;
            let messages = match received {
                Ok(messages) => {
                    back_off = Duration::from_secs(1);
                    self.context.metrics.poll_finished(now(), None);
                    messages
                }
                Err(problem) => {
                    tracing::warn!(source = %self.name, "{problem}");
                    self.context.metrics.poll_finished(now(), Some(&problem));
                    let (store, name, recorded) =
                        (Arc::clone(&self.store), self.name.clone(), problem.clone());
                    blocking(move || store.poll_finished(&name, now(), Some(&recorded))).await?;
                    if mode.once {
                        drain(&mut running).await?;
                        return Err(SqsSourceError::Incomplete(problem));
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(back_off) => {}
                        _ = self.context.shutdown.cancelled() => break,
                    }
                    back_off = (back_off * 2).min(Duration::from_secs(30));
                    continue;
                }
            };
            if messages.is_empty() {
                if mode.once {
                    drain(&mut running).await?;
                    if idle {
                        break;
                    }
                }
                continue;
            }
            for message in messages {
                let permit =
                    Arc::clone(&permits).acquire_owned().await.expect("the semaphore is never closed");
                running.spawn(Arc::clone(&self).handle(message, permit));
            }
        }
        drain(&mut running).await?;
        self.context.save_filtered(&self.store, &self.name).await?;
        let (store, name) = (Arc::clone(&self.store), self.name.clone());
        blocking(move || store.poll_finished(&name, now(), None)).await?;
        Ok(())
    }

    /// One ReceiveMessage (long poll).
    async fn receive(&self, max: usize) -> Result<Vec<Message>, String> {
        let sent = std::time::Instant::now();
        let answer = self
            .sqs
            .receive_message()
            .queue_url(&self.config.queue_url)
            .max_number_of_messages(i32::try_from(max).unwrap_or(10))
            .wait_time_seconds(self.config.wait_seconds as i32)
            .visibility_timeout(self.config.visibility_timeout_seconds as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await;
        self.context.metrics.aws_request("ReceiveMessage", answer.is_ok(), sent.elapsed().as_secs_f64());
        match answer {
            Ok(answer) => Ok(answer.messages.unwrap_or_default()),
            Err(error) => Err(format!(
                "ReceiveMessage {}: {}",
                self.config.queue_url,
                crate::aws::describe_error(&error)
            )),
        }
    }

    /// Everything about one message, from reading it to deleting (or leaving) it.
    async fn handle(
        self: Arc<Self>,
        message: Message,
        _permit: OwnedSemaphorePermit,
    ) -> Result<(), CheckpointError> {
        let id = message.message_id().unwrap_or("(no id)").to_string();
        let Some(receipt) = message.receipt_handle().map(str::to_string) else { return Ok(()) };
        let body = message.body().unwrap_or("");
        let attribute = |name: MessageSystemAttributeName| {
            message
                .attributes()
                .and_then(|attributes| attributes.get(&name))
                .and_then(|value| value.parse::<i64>().ok())
        };
        let receives = attribute(MessageSystemAttributeName::ApproximateReceiveCount).unwrap_or(1);
        let sent_at =
            attribute(MessageSystemAttributeName::SentTimestamp).map_or_else(now, |millis| millis / 1000);
        if receives > i64::from(self.config.max_receive_count) {
            let reason =
                format!("received {receives} times (max_receive_count {})", self.config.max_receive_count);
            return self.give_up(&id, &receipt, body, &reason).await;
        }
        let objects = match notification::parse(body) {
            Ok(Notification::Objects(objects)) => objects,
            Ok(Notification::Test(what)) => {
                if !self.test_event_seen.swap(true, Ordering::Relaxed) {
                    tracing::info!(target: "trailhound::notes", source = %self.name, "message {id}: {what}, deleted");
                }
                self.context.metrics.message("test");
                self.delete(&id, &receipt).await;
                return Ok(());
            }
            Ok(Notification::NothingCreated(what)) => {
                tracing::debug!(source = %self.name, "message {id} names no created object ({what})");
                return self.unrelated(&id, &receipt).await;
            }
            Err(error) => {
                tracing::warn!(
                    source = %self.name,
                    "message {id} (received {receives} time(s)) cannot be understood, released for the queue's redrive policy: {error}: {}",
                    notification::excerpt(body)
                );
                self.context.metrics.message("invalid");
                // Reading it again later will not help: let it reach its receive limit quickly.
                self.change_visibility(&receipt, 0).await;
                return Ok(());
            }
        };
        let wanted: Vec<ObjectRef> = objects.into_iter().filter(|object| self.wanted(object)).collect();
        if wanted.is_empty() {
            return self.unrelated(&id, &receipt).await;
        }
        let heartbeat = tokio::spawn(Arc::clone(&self).keep_hidden(receipt.clone()));
        let mut problem = None;
        let mut release_now = false;
        for object in &wanted {
            let key_time = listing::key_time(&object.key).unwrap_or(sent_at);
            self.context.metrics.pending(key_time);
            let bucket = Bucket::new(self.s3.clone(), &object.bucket, 1, false)
                .with_metrics(self.context.metrics.clone());
            // `auto`: from the key layout, then (in the reader) from the content.
            let log_type = self.config.log_type.or(match decode::classify_key(&object.key) {
                KeyKind::Log(log_type) => Some(log_type),
                _ => None,
            });
            let fetched = fetch(&self.name, &bucket, &object.key, log_type, &self.context, None).await;
            let delivered = matches!(&fetched, Fetched::Done(report) if report.outcome == Outcome::Complete);
            self.context.metrics.settled(key_time, delivered.then(now));
            match fetched {
                Fetched::Done(_) => {}
                Fetched::NotDelivered => {
                    problem = Some("not delivered".to_string());
                    break;
                }
                Fetched::DownloadFailed(error) => {
                    let cause =
                        if error.message.starts_with("NoSuchKey") || error.message.starts_with("NotFound") {
                            "not_found"
                        } else if error.message.starts_with("AccessDenied")
                            || error.message.starts_with("Forbidden")
                        {
                            "denied"
                        } else {
                            "other"
                        };
                    self.context.metrics.object_error(cause);
                    // A missing or denied object stays so: released at once, the message reaches
                    // its receive limit quickly; other failures wait out the visibility timeout.
                    release_now = cause != "other";
                    problem = Some(format!(
                        "{error} (message {id}, received {receives} time(s), left for the queue's redrive policy)"
                    ));
                    break;
                }
            }
        }
        heartbeat.abort();
        match problem {
            None => {
                self.context.metrics.message("deleted");
                self.delete(&id, &receipt).await;
            }
            Some(_) if self.context.shutdown.is_cancelled() => {
                self.context.metrics.message("released");
                self.change_visibility(&receipt, 0).await;
            }
            Some(problem) => {
                tracing::warn!(source = %self.name, "{problem}");
                self.context.metrics.message("left");
                if release_now {
                    self.change_visibility(&receipt, 0).await;
                }
            }
        }
        Ok(())
    }

    /// True for an object of a wanted bucket whose file name the globs take, and which is a log
    /// file (not a digest or a folder marker).
    fn wanted(&self, object: &ObjectRef) -> bool {
        let file_name = object.key.rsplit('/').next().unwrap_or("");
        (self.config.buckets.is_empty() || self.config.buckets.contains(&object.bucket))
            && self.inclusions.is_match(file_name)
            && !self.exclusions.is_match(file_name)
            && !matches!(decode::classify_key(&object.key), KeyKind::Digest | KeyKind::FolderMarker)
            && object.size != Some(0)
    }

    /// A message that names no wanted object: deleted and counted (`delete_unrelated`), or
    /// released at once for a consumer that wants it.
    async fn unrelated(&self, id: &str, receipt: &str) -> Result<(), CheckpointError> {
        self.context.metrics.message("unrelated");
        if self.config.delete_unrelated {
            self.delete(id, receipt).await;
        } else {
            self.change_visibility(receipt, 0).await;
        }
        Ok(())
    }

    /// A message received too often: left to the dead-letter queue when the queue has one, else
    /// deleted and recorded as quarantined.
    async fn give_up(
        &self,
        id: &str,
        receipt: &str,
        body: &str,
        reason: &str,
    ) -> Result<(), CheckpointError> {
        if self.dead_letter_queue {
            tracing::warn!(source = %self.name, "message {id} {reason}: left to the queue's dead-letter queue");
            self.context.metrics.message("dead_lettered");
            self.change_visibility(receipt, 0).await;
            return Ok(());
        }
        tracing::warn!(
            source = %self.name,
            "message {id} {reason}; the queue has no dead-letter queue: deleted and quarantined: {}",
            notification::excerpt(body)
        );
        let record = ProcessedObject {
            key: format!("sqs:{id}"),
            etag: String::new(),
            key_time: now(),
            outcome: ObjectOutcome::Quarantined,
            detail: Some(format!("{reason}: {}", notification::excerpt(body))),
        };
        let (store, name) = (Arc::clone(&self.store), self.name.clone());
        blocking(move || store.record(&name, &[record], now())).await?;
        self.context.metrics.message("quarantined");
        self.delete(id, receipt).await;
        Ok(())
    }

    /// Extends the message's visibility every third of the timeout, until aborted.
    async fn keep_hidden(self: Arc<Self>, receipt: String) {
        let timeout = self.config.visibility_timeout_seconds;
        let every = Duration::from_secs(u64::from(timeout / 3).max(1));
        loop {
            tokio::time::sleep(every).await;
            self.change_visibility(&receipt, timeout).await;
        }
    }

    async fn change_visibility(&self, receipt: &str, seconds: u32) {
        let sent = std::time::Instant::now();
        let answer = self
            .sqs
            .change_message_visibility()
            .queue_url(&self.config.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds as i32)
            .send()
            .await;
        self.context.metrics.aws_request(
            "ChangeMessageVisibility",
            answer.is_ok(),
            sent.elapsed().as_secs_f64(),
        );
        if let Err(error) = answer {
            tracing::warn!(source = %self.name, "ChangeMessageVisibility: {}", crate::aws::describe_error(&error));
        }
    }

    async fn delete(&self, id: &str, receipt: &str) {
        let sent = std::time::Instant::now();
        let answer =
            self.sqs.delete_message().queue_url(&self.config.queue_url).receipt_handle(receipt).send().await;
        self.context.metrics.aws_request("DeleteMessage", answer.is_ok(), sent.elapsed().as_secs_f64());
        if let Err(error) = answer {
            // The message reappears after its visibility timeout: read again, not lost.
            tracing::warn!(source = %self.name, "DeleteMessage {id}: {}", crate::aws::describe_error(&error));
        }
    }
}

/// Waits for every message task.
async fn drain(running: &mut JoinSet<Result<(), CheckpointError>>) -> Result<(), CheckpointError> {
    while let Some(done) = running.join_next().await {
        done.unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))?;
    }
    Ok(())
}

/// What the queue holds now (`run --dry-run`): read from its attributes, since receiving a
/// message would hide it from the other agents.
#[derive(Debug, serde::Serialize)]
pub struct QueuePreview {
    /// The queue URL.
    pub queue_url: String,
    /// Messages waiting to be received.
    pub waiting: u64,
    /// Messages received by some agent and not yet deleted.
    pub in_flight: u64,
    /// True when the queue has a redrive policy.
    pub dead_letter_queue: bool,
}

/// Reads the queue's attributes.
pub async fn preview(config: &SqsSource) -> Result<QueuePreview, SqsSourceError> {
    let sdk = crate::aws::sdk_config(&config.aws).await?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let answer = sqs
        .get_queue_attributes()
        .queue_url(&config.queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .map_err(|error| SqsSourceError::Queue {
            queue: config.queue_url.clone(),
            message: crate::aws::describe_error(&error),
        })?;
    let attributes = answer.attributes();
    let number = |name: QueueAttributeName| {
        attributes.and_then(|a| a.get(&name)).and_then(|value| value.parse().ok()).unwrap_or(0)
    };
    Ok(QueuePreview {
        queue_url: config.queue_url.clone(),
        waiting: number(QueueAttributeName::ApproximateNumberOfMessages),
        in_flight: number(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        dead_letter_queue: attributes.is_some_and(|a| a.contains_key(&QueueAttributeName::RedrivePolicy)),
    })
}
