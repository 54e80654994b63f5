//! The seed product's own files and examples, read literally, against a real S3-compatible server
//! and a real proxy: every FilePath form, the DepthToRecurse examples, the stock file after its
//! setup steps, lrcrypt values, proxy credentials of any character, and settings that collect
//! nothing or cannot poll.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::s3::{self, S3Server, cloudtrail_key, put_record};
use common::squid::Squid;
use common::{Run, gzip};

/// Runs `trailhound ARGS` in `dir` without blocking the server's runtime.
async fn trailhound(dir: &Path, args: &[&str]) -> Run {
    common::trailhound_in(dir, args).await
}

/// Writes `dir/NAME` (an awsS3CloudTrail.ini on the test server with `keys`), runs it once with a
/// state directory and a file sink of its own, and returns the run.
async fn run_ini(server: &S3Server, dir: &Path, name: &str, keys: &str) -> Run {
    let text = format!(
        "Region = us-east-1\nBucketName = {}\nStartupDelayInSeconds = 0\n{}{keys}",
        s3::BUCKET,
        server.ini_connection()
    );
    std::fs::write(dir.join(name), text).unwrap();
    let (state, out) = (format!("state-{name}"), format!("file:{name}.ndjson"));
    trailhound(dir, &["--state-dir", &state, "run", "--ini", name, "--once", "--sink", &out]).await
}

/// The event ids an INI run of [`run_ini`] delivered.
fn ids(dir: &Path, name: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(dir.join(format!("{name}.ndjson"))).unwrap_or_default();
    text.lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["event_id"].as_str().unwrap().into()
        })
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_path_may_name_any_level_of_the_layout() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    put_record(&server, &cloudtrail_key("", "111122223333", "us-east-1", 3, "AAAA"), "root-east").await;
    put_record(&server, &cloudtrail_key("", "111122223333", "eu-west-1", 3, "AAAA"), "root-west").await;
    let org_key = cloudtrail_key("org-trail/", "444455556666", "us-east-1", 3, "AAAA")
        .replace("AWSLogs/444455556666/", "AWSLogs/o-a1b2c3d4e5/444455556666/");
    put_record(&server, &org_key, "org").await;
    put_record(&server, &cloudtrail_key("a/b/", "777788889999", "us-east-1", 3, "AAAA"), "deep").await;
    put_record(&server, "unrelated/notes.json.gz", "loose-in-bucket").await;
    let flow_key = cloudtrail_key("", "111122223333", "us-east-1", 3, "x")
        .replace("CloudTrail", "vpcflowlogs")
        .replace("_x.json.gz", "_fl-1_x.log.gz");
    let line = "2 111122223333 eni-1 10.0.0.1 10.0.0.2 1234 443 6 10 800 1700000000 1700000060 ACCEPT OK";
    server.put(&flow_key, gzip(format!("{line}\n").as_bytes())).await;

    let cases: &[(&str, &[&str])] = &[
        // A blank FilePath scans the whole bucket: the files one folder down too (depth 1).
        ("", &["root-east", "root-west", "org", "deep", "loose-in-bucket"]),
        ("org-trail", &["org"]),
        ("org-trail/", &["org"]),
        ("/org-trail/", &["org"]),
        ("a/b", &["deep"]),
        ("AWSLogs", &["root-east", "root-west"]),
        ("/AWSLogs/", &["root-east", "root-west"]),
        ("org-trail/AWSLogs/o-a1b2c3d4e5", &["org"]),
        ("org-trail/AWSLogs/o-a1b2c3d4e5/444455556666/", &["org"]),
        ("AWSLogs/111122223333/", &["root-east", "root-west"]),
        ("AWSLogs/111122223333/CloudTrail/", &["root-east", "root-west"]),
        ("AWSLogs/111122223333/CloudTrail/eu-west-1", &["root-west"]),
        ("AWSLogs/111122223333/CloudTrail/eu-west-1/", &["root-west"]),
    ];
    for (index, (file_path, expected)) in cases.iter().enumerate() {
        let name = format!("case{index}.ini");
        let run = run_ini(&server, dir.path(), &name, &format!("FilePath = {file_path}\n")).await;
        assert_eq!(run.code, 0, "FilePath {file_path:?}: {}", run.stderr);
        assert_eq!(ids(dir.path(), &name), set(expected), "FilePath {file_path:?}: {}", run.stderr);
        assert!(!run.stderr.contains("nothing to collect"), "FilePath {file_path:?}: {}", run.stderr);
    }

    let run = run_ini(
        &server,
        dir.path(),
        "flows.ini",
        "LogType = VPCFlowLogs\nFilePath = AWSLogs/111122223333/vpcflowlogs/\n",
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(ids(dir.path(), "flows.ini").len(), 1, "{}", run.stderr);

    // A FilePath that names a folder of the other log type contradicts LogType.
    std::fs::write(
        dir.path().join("contradiction.ini"),
        "Region = us-east-1\nBucketName = trail-logs\nLogType = CloudTrail\nFilePath = AWSLogs/111122223333/vpcflowlogs/\n",
    )
    .unwrap();
    let check = trailhound(dir.path(), &["check-config", "--ini", "contradiction.ini"]).await;
    assert_eq!(check.code, 1);
    assert!(
        check.stderr.contains(
            "FilePath = AWSLogs/111122223333/vpcflowlogs/: names a vpcflowlogs folder, which holds no log of LogType CloudTrail"
        ),
        "{}",
        check.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depth_to_recurse_follows_the_seeds_examples() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    // The seed's table: FilePath=AWSLogs; depth 1 is AWSLogs/ACCOUNT/, depth 2
    // AWSLogs/ACCOUNT/CloudTrail/, depth 3 AWSLogs/ACCOUNT/CloudTrail/Region-N.
    for (key, id) in [
        ("AWSLogs/top.json.gz", "in-file-path"),
        ("AWSLogs/697238620698/a.json.gz", "account-698"),
        ("AWSLogs/697238620699/b.json.gz", "account-699"),
        ("AWSLogs/697238620698/CloudTrail/c.json.gz", "service"),
        ("AWSLogs/697238620698/CloudTrail/Region-1/d.json.gz", "region-1"),
        ("AWSLogs/697238620699/CloudTrail/Region-3/e.json.gz", "region-3"),
        ("AWSLogs/697238620699/CloudTrail/Region-3/deeper/f.json.gz", "below-depth-3"),
    ] {
        put_record(&server, key, id).await;
    }
    let depth_1 = ["in-file-path", "account-698", "account-699"];
    let depth_2 = [&depth_1[..], &["service"]].concat();
    let depth_3 = [&depth_2[..], &["region-1", "region-3"]].concat();
    for (depth, expected) in [(1, &depth_1[..]), (2, &depth_2[..]), (3, &depth_3[..])] {
        let name = format!("depth{depth}.ini");
        // `Inclusions =` left empty means "not set": the default *.gz applies.
        let keys = format!("FilePath = AWSLogs\nDepthToRecurse = {depth}\nInclusions =\n");
        let run = run_ini(&server, dir.path(), &name, &keys).await;
        assert_eq!(run.code, 0, "depth {depth}: {}", run.stderr);
        assert_eq!(ids(dir.path(), &name), set(expected), "depth {depth}: {}", run.stderr);
    }

    // check-config --probe counts what the same settings reach, without collecting.
    let probe = trailhound(dir.path(), &["check-config", "--ini", "depth3.ini", "--probe"]).await;
    assert_eq!(probe.code, 0, "{}", probe.stderr);
    assert!(probe.stdout.contains("reaches 6 object(s)"), "{}", probe.stdout);
    assert!(probe.stdout.contains("AWSLogs/697238620698/CloudTrail/Region-1/"), "{}", probe.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stock_seed_file_works_after_its_setup_steps() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    put_record(&server, &cloudtrail_key("", "111122223333", "us-east-1", 3, "AAAA"), "collected").await;
    let key_file = dir.path().join("trailhound.key");
    let (key_token, _) = common::encrypt(&key_file, s3::ACCESS_KEY);
    let (secret_token, _) = common::encrypt(&key_file, s3::SECRET_KEY);
    // Steps 3-6: Region, the key pair (encrypted, here with `trailhound encrypt`) and BucketName.
    // Nothing else is changed but the extension keys that point the source at the test server.
    let stock =
        std::fs::read_to_string(common::repo_root().join("examples/stock/awsS3CloudTrail.ini")).unwrap();
    let mut text = stock
        .replace("Region=CHANGE_THIS", "Region=us-east-1")
        .replace("AccessKeyId=CHANGE_THIS", &format!("AccessKeyId={key_token}"))
        .replace("SecretAccessKey=CHANGE_THIS", &format!("SecretAccessKey={secret_token}"))
        .replace("BucketName=CHANGE_THIS", &format!("BucketName={}", s3::BUCKET));
    text.push_str(&format!("Endpoint={}\nForcePathStyle=true\n", server.endpoint));
    std::fs::write(dir.path().join("awsS3CloudTrail.ini"), text).unwrap();

    let check = trailhound(dir.path(), &["check-config", "--ini", "awsS3CloudTrail.ini"]).await;
    assert_eq!(check.code, 0, "{}", check.stderr);
    for key in
        ["LogType", "FilePath", "Exclusions", "ProxyServer", "ProxyPort", "UserName", "Password", "Domain"]
    {
        let note = format!("{key} = CHANGE_THIS: left as shipped: taken as not set");
        assert_eq!(check.stdout.matches(&note).count(), 1, "{key}: {}", check.stdout);
    }
    // StartupDelayInSeconds stays at the stock 30 seconds.
    let run = trailhound(
        dir.path(),
        &[
            "--state-dir",
            "state",
            "run",
            "--ini",
            "awsS3CloudTrail.ini",
            "--once",
            "--sink",
            "file:out.ndjson",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr.matches("FilePath = CHANGE_THIS: left as shipped").count(), 1, "{}", run.stderr);
    let text = std::fs::read_to_string(dir.path().join("out.ndjson")).unwrap();
    assert_eq!(text.lines().count(), 1, "{}", run.stderr);
    assert!(text.contains("\"collected\""));

    // The key pair left as shipped is still an error: the setup steps require it.
    std::fs::write(
        dir.path().join("unset.ini"),
        stock
            .replace("Region=CHANGE_THIS", "Region=us-east-1")
            .replace("BucketName=CHANGE_THIS", "BucketName=b-1"),
    )
    .unwrap();
    let check = trailhound(dir.path(), &["check-config", "--ini", "unset.ini"]).await;
    assert_eq!(check.code, 1);
    assert!(
        check.stderr.contains("AccessKeyId = (hidden): still holds the placeholder CHANGE_THIS"),
        "{}",
        check.stderr
    );
    assert!(check.stderr.ends_with("2 problems found\n"), "{}", check.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lrcrypt_values_are_an_error_against_aws_and_a_warning_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    // What the seed's setup step 4 produces: the key pair run through lrcrypt.
    let lrcrypted = "Region = us-east-1\nBucketName = org-logs\nAccessKeyId = AQAAANCMnd8BFdERjHoAwE/Cl+sBAAAAq1dW\nSecretAccessKey = AQAAANCMnd8BFdERjHoAwE/Cl+sBAAAA9fXdkWqKYbU2oA==\n";
    std::fs::write(dir.path().join("aws.ini"), lrcrypted).unwrap();
    let check = trailhound(dir.path(), &["check-config", "--ini", "aws.ini"]).await;
    assert_eq!(check.code, 1, "{}", check.stdout);
    for key in ["AccessKeyId", "SecretAccessKey"] {
        let expected = format!(
            "aws.ini:{}: {key} = (hidden): does not look like an AWS",
            if key == "AccessKeyId" { 3 } else { 4 }
        );
        assert!(check.stderr.contains(&expected), "{}", check.stderr);
    }
    assert!(
        check.stderr.contains("it looks like a value encrypted with LogRhythm's lrcrypt"),
        "{}",
        check.stderr
    );
    assert!(check.stderr.contains("`trailhound encrypt`"), "{}", check.stderr);
    assert!(!check.stderr.contains("AQAAANCMnd8"), "values are never shown: {}", check.stderr);

    std::fs::write(dir.path().join("store.ini"), format!("{lrcrypted}Endpoint = https://minio.corp:9000\n"))
        .unwrap();
    let check = trailhound(dir.path(), &["check-config", "--ini", "store.ini"]).await;
    assert_eq!(check.code, 0, "another endpoint's keys may look different: {}", check.stderr);
    assert!(
        check.stdout.contains("warning: store.ini:3: AccessKeyId: does not look like an AWS"),
        "{}",
        check.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_once_run_that_cannot_list_the_bucket_fails() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "Region = us-east-1\nBucketName = no-such-bucket\nStartupDelayInSeconds = 0\n{}",
        server.ini_connection()
    );
    std::fs::write(dir.path().join("missing.ini"), text).unwrap();
    let run =
        trailhound(dir.path(), &["--state-dir", "state", "run", "--ini", "missing.ini", "--once"]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("the poll could not be completed"), "{}", run.stderr);
    assert!(run.stderr.contains("NoSuchBucket"), "{}", run.stderr);
    let probe = trailhound(dir.path(), &["check-config", "--ini", "missing.ini", "--probe"]).await;
    assert_eq!(probe.code, 1, "{}", probe.stdout);
    assert!(
        probe.stdout.contains("cannot list the bucket") && probe.stdout.contains("NoSuchBucket"),
        "{}",
        probe.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_that_collect_nothing_are_reported() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    let flow_key = cloudtrail_key("", "697238620699", "us-east-1", 3, "x")
        .replace("CloudTrail", "vpcflowlogs")
        .replace("_x.json.gz", "_fl-1_x.log.gz");
    let line = "2 697238620699 eni-1 10.0.0.1 10.0.0.2 1234 443 6 10 800 1700000000 1700000060 ACCEPT OK";
    server.put(&flow_key, gzip(format!("{line}\n").as_bytes())).await;
    put_record(&server, &cloudtrail_key("", "697238620699", "us-east-1", 3, "AAAA"), "trail").await;

    // The seed's own example FilePath, while AWS writes the folder in lower case.
    let run = run_ini(
        &server,
        dir.path(),
        "seed-example.ini",
        "LogType = VPCFlowLogs\nFilePath = AWSLogs/697238620699/VPCFlowLogs/\n",
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(ids(dir.path(), "seed-example.ini").is_empty());
    let warning = run
        .stderr
        .lines()
        .find(|line| line.contains("nothing to collect"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    for part in [
        "in bucket trail-logs under FilePath \"AWSLogs/697238620699/VPCFlowLogs/\"",
        "does not exist",
        "the folders in s3://trail-logs/AWSLogs/697238620699/ are CloudTrail/, vpcflowlogs/",
        "did you mean AWSLogs/697238620699/vpcflowlogs/?",
    ] {
        assert!(warning.contains(part), "{part:?} in {warning}");
    }

    // Exclusions that leave out every file.
    let run = run_ini(&server, dir.path(), "excluded.ini", "Exclusions = *.gz\n").await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("all 1 object(s) listed in bucket trail-logs under FilePath \"\" were left out by their file names"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_credentials_of_any_character_reach_the_proxy_intact() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    put_record(&server, &cloudtrail_key("", "111122223333", "us-east-1", 3, "AAAA"), "via-squid").await;
    let (user, password) = ("tr@il/?#% üser", "p@ss:w/rd?#% wörd");
    let squid = Squid::start(&format!("CORP\\{user}"), password);
    let proxy = format!(
        "ProxyServer = http://127.0.0.1\nProxyPort = {}\nUserName = {user}\nPassword = {password}\nDomain = CORP\n",
        squid.port
    );
    let run = run_ini(&server, dir.path(), "proxied.ini", &proxy).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(ids(dir.path(), "proxied.ini"), set(&["via-squid"]), "{}", run.stderr);
    let received = squid.received_credentials();
    assert!(!received.is_empty(), "every request went through the proxy: {}", squid.access_log());
    assert!(received.iter().all(|login| login == "CORP\\tr@il/?#% üser:p@ss:w/rd?#% wörd"), "{received:?}");
    let log = squid.access_log();
    let requests: Vec<&str> = log.lines().filter(|line| !line.starts_with("- ")).collect();
    assert!(
        !requests.is_empty() && requests.iter().all(|line| line.starts_with("CORP\\tr@il/?#% üser 200")),
        "{}",
        squid.access_log()
    );
    assert!(!run.stderr.contains(password), "{}", run.stderr);

    // A wrong password: the proxy refuses, the run says so and fails; nothing bypasses it.
    let wrong = proxy.replace(password, "p@ss:w/rd?#% word");
    let run = run_ini(&server, dir.path(), "refused.ini", &wrong).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("the proxy refused the credentials (HTTP 407)"), "{}", run.stderr);
    assert!(ids(dir.path(), "refused.ini").is_empty());

    // A user name with ':' cannot be sent in basic authentication: refused before any request.
    let colon = proxy.replace("UserName = tr@il", "UserName = tr:il");
    let run = run_ini(&server, dir.path(), "colon.ini", &colon).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("UserName = tr:il/?#% üser: cannot contain ':'"), "{}", run.stderr);
}
