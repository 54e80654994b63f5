//! `check-config` and `run` against the bundled example configurations.

mod common;

use common::{put, records_doc, trailhound};

#[test]
fn the_example_configurations_are_valid() {
    for args in [
        vec!["check-config", "--config", "examples/trailhound.toml"],
        vec!["check-config", "--config", "examples/service.toml"],
        vec!["check-config", "--ini", "examples/cloudtrail.ini"],
        vec!["check-config", "--ini", "examples/awsS3CloudTrail.ini"],
        vec!["check-config", "--ini", "examples/cloudtrail.ini", "--ini", "examples/awsS3CloudTrail.ini"],
    ] {
        let run = trailhound(&args, None);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(run.stdout.contains("configuration is valid"), "{}", run.stdout);
    }
    let service = trailhound(&["check-config", "--config", "examples/service.toml"], None);
    assert!(
        service.stdout.contains(
            "  filters: drop[1] (eventName, eventSource), drop[2] (readOnly, userIdentity.invokedBy)"
        ),
        "{}",
        service.stdout
    );
}

fn check_broken(file: &str) -> Vec<String> {
    let run = trailhound(&["check-config", "--ini", file], None);
    assert_eq!(run.code, 1, "{file} must be rejected");
    run.stderr.lines().map(String::from).collect()
}

#[test]
fn broken_placeholders() {
    let file = "examples/broken/placeholders.ini";
    assert_eq!(
        check_broken(file),
        vec![
            format!(
                "{file}:2: Region = CHANGE_THIS: still holds the placeholder CHANGE_THIS: set a real value"
            ),
            format!(
                "{file}:3: BucketName = CHANGE_THIS: still holds the placeholder CHANGE_THIS: set a real value"
            ),
            format!(
                "{file}:4: AccessKeyId = (hidden): still holds the placeholder CHANGE_THIS: set a real value"
            ),
            format!(
                "{file}:5: SecretAccessKey = (hidden): still holds the placeholder CHANGE_THIS: set a real value"
            ),
            "4 problems found".to_string(),
        ]
    );
}

#[test]
fn broken_out_of_range() {
    let file = "examples/broken/out-of-range.ini";
    let problems = check_broken(file);
    assert_eq!(problems.len(), 9, "{problems:?}");
    assert_eq!(
        problems[0],
        format!(
            "{file}:4: LogType = cloudtrail: allowed CloudTrail or VPCFlowLogs (the value is case-sensitive: did you mean CloudTrail?)"
        )
    );
    assert_eq!(problems[1], format!("{file}:5: DepthToRecurse = 12: out of range: allowed 1–10 (default 1)"));
    assert_eq!(
        problems[4],
        format!("{file}:8: MaxQueueCount = 200000: out of range: allowed 50000–100000 (default 50000)")
    );
    assert_eq!(
        problems[7],
        format!("{file}:11: LogApiRequests = sometimes: not a boolean: allowed true or false")
    );
    assert_eq!(problems[8], "8 problems found");
}

#[test]
fn broken_contradictions() {
    let file = "examples/broken/contradictions.ini";
    assert_eq!(
        check_broken(file),
        vec![
            format!(
                "{file}:3: APIPollingIntervalInMs = 500: out of range: allowed 1000–60000 (default 5000)"
            ),
            format!("{file}:6: BackOffTime = 90: must be less than NumberOfBackMinutesData (60)"),
            format!(
                "{file}:7: AccessKeyId = (hidden): set without SecretAccessKey: set both, or neither to use the AWS credential chain"
            ),
            format!("{file}:8: ProxyPort = 8080: set, but ProxyServer is not"),
            format!("{file}:9: MaxResultsCount: unknown key (did you mean MaxResultCount?)"),
            "5 problems found".to_string(),
        ]
    );
}

#[test]
fn check_config_needs_a_file() {
    let run = trailhound(&["check-config"], None);
    assert_eq!(run.code, 2);
    let run = trailhound(&["check-config", "--ini", "/no/such.ini"], None);
    assert_eq!(run.code, 1);
    assert!(run.stderr.starts_with("/no/such.ini: cannot read: No such file or directory"), "{}", run.stderr);
}

#[test]
fn run_once_with_a_toml_config_writes_the_file_sink() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "logs/a.json.gz", &common::gzip(&records_doc(&["r1", "r2", "r3"])));
    let toml = "[[source]]\ntype = \"dir\"\nname = \"local\"\npath = \"logs\"\n\n[[sink]]\ntype = \"file\"\npath = \"out/events.ndjson\"\n\n[[sink]]\ntype = \"stdout\"\n";
    let config = put(dir.path(), "trailhound.toml", toml.as_bytes());
    let run = trailhound(&["run", "--config", config.to_str().unwrap(), "--once"], Some(dir.path()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let written = std::fs::read_to_string(dir.path().join("out/events.ndjson")).unwrap();
    assert_eq!(written, run.stdout, "every sink gets the same lines");
    let events = run.events();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["origin"]["source"], "local");
    assert_eq!(events[0]["origin"]["key"], "a.json.gz");
}

#[test]
fn run_sink_shortcuts_replace_the_configured_sinks() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "logs/a.json", &records_doc(&["r1"]));
    let config = put(dir.path(), "t.toml", b"[[source]]\ntype = \"dir\"\npath = \"logs\"\n");
    let out = dir.path().join("o.ndjson");
    let sink = format!("file:{}", out.display());
    let run = trailhound(&["run", "--config", config.to_str().unwrap(), "--sink", &sink], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 1);

    let run = trailhound(&["run", "--config", config.to_str().unwrap(), "--sink", "kafka://x"], None);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("--sink \"kafka://x\": allowed stdout, file:PATH"), "{}", run.stderr);

    let hec = "https://splunk.corp:8088/services/collector/event";
    let run = trailhound(&["run", "--config", config.to_str().unwrap(), "--sink", hec], None);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains(&format!(
            "--sink \"{hec}\": a Splunk HEC URL needs its token in $TRAILHOUND_SINK_TOKEN"
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn check_config_tells_credentials_proxies_and_plain_text_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("keys/trailhound.key");
    let (token, stderr) = common::encrypt(&key_file, "proxy-secret");
    assert!(stderr.contains("created key file"), "the first use creates the key");

    let ini = format!(
        "Region = us-east-1\nBucketName = org-trail\nAccessKeyId = AKIAIOSFODNN7EXAMPLE\nSecretAccessKey = plainSecretplainSecretplainSecretplain12\n\
         ProxyServer = proxy.corp\nProxyPort = 3128\nUserName = trail\nPassword = {token}\nDomain = CORP\n"
    );
    let file = put(dir.path(), "awsS3CloudTrail.ini", ini.as_bytes());
    let api = put(
        dir.path(),
        "cloudtrail.ini",
        b"Region = us-east-1\nProfile = audit\nRoleArn = arn:aws:iam::1:role/Reader\n",
    );
    let run = trailhound(
        &[
            "--key-file",
            key_file.to_str().unwrap(),
            "check-config",
            "--ini",
            file.to_str().unwrap(),
            "--ini",
            api.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    assert!(out.contains("credentials: static keys from the configuration"), "{out}");
    assert!(out.contains("proxy: http://proxy.corp:3128 as CORP\\trail (HTTP CONNECT / forward proxy, basic authentication; NTLM is not supported, the domain is sent in the user name)"), "{out}");
    assert!(out.contains("credentials: profile \"audit\" of the shared AWS config files, then role arn:aws:iam::1:role/Reader assumed through STS"), "{out}");
    assert!(
        out.contains(":3: AccessKeyId: stored in plain text: encrypt it with `trailhound encrypt`"),
        "{out}"
    );
    assert!(out.contains(":4: SecretAccessKey: stored in plain text"), "{out}");
    assert!(
        !out.contains("Password: stored in plain text"),
        "the encrypted password is not warned about: {out}"
    );
    assert!(!out.contains("plainSecret") && !out.contains("proxy-secret"), "{out}");

    let run =
        trailhound(&["--key-file", "/no/such.key", "check-config", "--ini", file.to_str().unwrap()], None);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("Password = (hidden): cannot read key file /no/such.key"), "{}", run.stderr);
}

#[test]
fn keygen_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.key");
    let first = trailhound(&["--key-file", key.to_str().unwrap(), "keygen"], None);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let before = std::fs::read_to_string(&key).unwrap();
    let second = trailhound(&["--key-file", key.to_str().unwrap(), "keygen"], None);
    assert_eq!(second.code, 1);
    assert!(second.stderr.contains("cannot create key file"), "{}", second.stderr);
    assert_eq!(std::fs::read_to_string(&key).unwrap(), before);
}

#[test]
fn json_log_format() {
    let dir = tempfile::tempdir().unwrap();
    let bad = put(dir.path(), "bad.json", b"{\"Records\":[{\"eventID\": x}]}");
    let run = trailhound(&["--log-format", "json", "replay", bad.to_str().unwrap()], None);
    assert_eq!(run.code, 3);
    let first: serde_json::Value = serde_json::from_str(run.stderr.lines().next().unwrap()).unwrap();
    assert_eq!(first["level"], "WARN");
    assert!(
        first["fields"]["message"].as_str().unwrap().contains("bad.json: record 1: invalid JSON"),
        "{first}"
    );
}

#[test]
fn a_damaged_state_store_is_a_clear_error_never_a_fresh_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = put(
        dir.path(),
        "t.toml",
        b"state_dir = \"state\"\n[[source]]\ntype = \"s3\"\nbucket = \"org-logs\"\nregion = \"us-east-1\"\nendpoint = \"http://127.0.0.1:9\"\n",
    );
    let config = config.to_str().unwrap();
    let check = trailhound(&["state", "--config", config, "--check"], None);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(check.stdout.contains("nothing to check"), "{}", check.stdout);

    // A sound store.
    let store_dir = dir.path().join("state");
    let store = trailhound::checkpoint::CheckpointStore::open(&store_dir).unwrap();
    store.poll_started("s3-1", 100).unwrap();
    drop(store);
    let check = trailhound(&["state", "--config", config, "--check"], None);
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(check.stdout.contains(": ok (1 source(s))"), "{}", check.stdout);

    // Overwritten with garbage, and truncated: the check and a run both stop with the reason.
    let file = store_dir.join("trailhound.sqlite");
    let sound = std::fs::read(&file).unwrap();
    for damaged in [b"not a database at all, just text".repeat(200), sound[..sound.len() / 3].to_vec()] {
        std::fs::write(&file, &damaged).unwrap();
        for args in [vec!["state", "--config", config, "--check"], vec!["run", "--config", config, "--once"]]
        {
            let run = trailhound(&args, None);
            assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
            assert!(run.stderr.contains("is damaged"), "{args:?}: {}", run.stderr);
        }
        assert_eq!(std::fs::read(&file).unwrap(), damaged, "the damaged file is left as it was");
    }
}
