//! moto's server on loopback: a real process speaking the S3 and SQS wire protocols, which also
//! delivers S3 event notifications to SQS. `scripts/test.sh` installs it (PyPI, in a venv) and
//! names it in `TRAILHOUND_MOTO_SERVER`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

pub const BUCKET: &str = "trail-logs";
pub const QUEUE: &str = "trail-events";

pub struct Moto {
    pub endpoint: String,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    child: Child,
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn program() -> String {
    std::env::var("TRAILHOUND_MOTO_SERVER").unwrap_or_else(|_| {
        super::repo_root().join("target/moto-venv/bin/moto_server").to_string_lossy().into_owned()
    })
}

impl Moto {
    /// Starts a server with bucket [`BUCKET`] and queue [`QUEUE`]; with `notify`, objects created
    /// in the bucket are announced on the queue (after the `s3:TestEvent` S3 sends first).
    pub async fn start(notify: bool) -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(program())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto's server is installed (scripts/test.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let endpoint = format!("http://127.0.0.1:{port}");
        let credentials = Credentials::new("testing", "testing", None, None, "test");
        let shared = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(credentials))
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(true).build(),
        );
        let sqs = aws_sdk_sqs::Client::new(&shared);
        s3.create_bucket().bucket(BUCKET).send().await.unwrap();
        let queue_url = sqs.create_queue().queue_name(QUEUE).send().await.unwrap().queue_url.unwrap();
        let moto = Moto { endpoint, s3, sqs, queue_url, child };
        if notify {
            moto.notify_on_create().await;
        }
        moto
    }

    async fn notify_on_create(&self) {
        use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
        let arn = self.queue_arn(&self.queue_url).await;
        let queue =
            QueueConfiguration::builder().queue_arn(arn).events(Event::S3ObjectCreated).build().unwrap();
        self.s3
            .put_bucket_notification_configuration()
            .bucket(BUCKET)
            .notification_configuration(
                NotificationConfiguration::builder().queue_configurations(queue).build(),
            )
            .send()
            .await
            .unwrap();
    }

    /// The ARN of the queue at `queue_url`.
    pub async fn queue_arn(&self, queue_url: &str) -> String {
        use aws_sdk_sqs::types::QueueAttributeName::QueueArn;
        let answer = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueArn)
            .send()
            .await
            .unwrap();
        answer.attributes().unwrap()[&QueueArn].clone()
    }

    pub async fn put(&self, key: &str, body: Vec<u8>) {
        self.s3.put_object().bucket(BUCKET).key(key).body(body.into()).send().await.unwrap();
    }

    pub async fn send(&self, body: &str) {
        self.sqs.send_message().queue_url(&self.queue_url).message_body(body).send().await.unwrap();
    }

    /// Messages visible now and in flight, as SQS counts them.
    pub async fn counts(&self) -> (u64, u64) {
        use aws_sdk_sqs::types::QueueAttributeName as Name;
        let answer = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(Name::All)
            .send()
            .await
            .unwrap();
        let attributes = answer.attributes().unwrap();
        let number = |name: Name| attributes.get(&name).and_then(|v| v.parse().ok()).unwrap_or(0);
        (number(Name::ApproximateNumberOfMessages), number(Name::ApproximateNumberOfMessagesNotVisible))
    }

    /// A TOML configuration: one sqs source on this server (with `extra` keys) and a file sink
    /// writing `out`.
    pub fn config(&self, extra: &str, out: &str) -> String {
        format!(
            "[[source]]\ntype = \"sqs\"\nname = \"queue\"\nqueue_url = \"{}\"\nregion = \"us-east-1\"\n\
             endpoint = \"{}\"\nforce_path_style = true\naccess_key_id = \"testing\"\nsecret_access_key = \"testing\"\n\
             wait_seconds = 1\n{extra}\n\n[[sink]]\ntype = \"file\"\npath = \"{out}\"\n",
            self.queue_url, self.endpoint
        )
    }
}
