//! The LookupEvents emulator speaks the protocol the official SDK expects, and rejects what the
//! real service rejects. These tests keep the emulator honest before any source relies on it.

mod common;

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::config::{BehaviorVersion, Credentials, Region, retry::RetryConfig};
use aws_sdk_cloudtrail::error::ProvideErrorMetadata;
use aws_sdk_cloudtrail::primitives::DateTime;
use common::lookup_events::{Emulator, now};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn client(emulator: &Emulator, attempts: u32) -> Client {
    let config = aws_sdk_cloudtrail::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&emulator.endpoint)
        .credentials_provider(Credentials::new("AKIAEXAMPLE", "secret", None, None, "test"))
        .retry_config(RetryConfig::standard().with_max_attempts(attempts))
        .build();
    Client::from_conf(config)
}

#[tokio::test]
async fn pages_newest_first_with_a_token_bound_to_its_query() {
    let emulator = Emulator::start().await;
    let base = now() - 3600;
    for i in 0..120 {
        emulator.add(&format!("e{i:03}"), base + i, 0);
    }
    let client = client(&emulator, 1);
    let (start, end) = (DateTime::from_secs(base), DateTime::from_secs(now()));
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = client
            .lookup_events()
            .start_time(start)
            .end_time(end)
            .max_results(50)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        for event in page.events() {
            ids.push(event.event_id().unwrap().to_string());
            assert!(event.cloud_trail_event().unwrap().contains(event.event_id().unwrap()));
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids.first().unwrap(), "e119", "newest first");
    assert_eq!(ids.last().unwrap(), "e000");
    assert_eq!(ids.len(), 120);

    let first = client.lookup_events().start_time(start).end_time(end).max_results(50).send().await.unwrap();
    let moved = client
        .lookup_events()
        .start_time(start)
        .end_time(DateTime::from_secs(now() + 5))
        .max_results(50)
        .next_token(first.next_token().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(moved.code(), Some("InvalidNextTokenException"));

    let backwards = client.lookup_events().start_time(end).end_time(start).send().await.unwrap_err();
    assert_eq!(backwards.code(), Some("InvalidTimeRangeException"));
    let too_many = client.lookup_events().max_results(51).send().await.unwrap_err();
    assert_eq!(too_many.code(), Some("InvalidMaxResultsException"));
}

#[tokio::test]
async fn throttling_is_an_error_the_sdk_retries() {
    let emulator = Emulator::start().await;
    emulator.add("only", now() - 60, 0);
    emulator.throttle_every(2);
    let client = client(&emulator, 1);
    client.lookup_events().send().await.unwrap();
    let throttled = client.lookup_events().send().await.unwrap_err();
    assert_eq!(throttled.code(), Some("ThrottlingException"));
    let retrying = self::client(&emulator, 3);
    let page = retrying.lookup_events().send().await.unwrap();
    assert_eq!(page.events().len(), 1);
}

#[tokio::test]
async fn events_become_visible_late() {
    let emulator = Emulator::start().await;
    emulator.add("on-time", now() - 120, 0);
    emulator.add("late", now() - 60, 3600);
    let page = client(&emulator, 1).lookup_events().send().await.unwrap();
    let ids: Vec<&str> = page.events().iter().map(|e| e.event_id().unwrap()).collect();
    assert_eq!(ids, vec!["on-time"]);
}

async fn raw(emulator: &Emulator, target: &str, authorization: &str) -> String {
    let address = emulator.endpoint.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {address}\r\nX-Amz-Target: {target}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Date: 20261122T000000Z\r\n{authorization}Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn both_target_forms_and_a_required_signature() {
    let emulator = Emulator::start().await;
    emulator.add("x", now() - 60, 0);
    let signed = "Authorization: AWS4-HMAC-SHA256 Credential=AKIA/20261122/us-east-1/cloudtrail/aws4_request, SignedHeaders=host;x-amz-date, Signature=00\r\n";
    let long =
        raw(&emulator, "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents", signed).await;
    assert!(long.starts_with("HTTP/1.1 200"), "{long}");
    assert!(long.contains("\"EventId\":\"x\""), "{long}");
    let short = raw(&emulator, "CloudTrail_20131101.LookupEvents", signed).await;
    assert!(short.starts_with("HTTP/1.1 200"), "{short}");
    let unsigned = raw(&emulator, "CloudTrail_20131101.LookupEvents", "").await;
    assert!(
        unsigned.starts_with("HTTP/1.1 400") && unsigned.contains("MissingAuthenticationTokenException"),
        "{unsigned}"
    );
    let other = raw(&emulator, "CloudTrail_20131101.DescribeTrails", signed).await;
    assert!(other.contains("UnknownOperationException"), "{other}");
    assert!(emulator.answered().iter().any(|a| a.long_target));
}
