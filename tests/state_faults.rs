//! The state store under faults: its file system read-only or full, its directory deleted while
//! the agent runs, its file truncated or overwritten. Each gives a clear error and a non-zero exit
//! or a documented recovery, never a silent re-read of the look-back window and never a panic.
//!
//! The file systems are small tmpfs mounts, which needs root (CI and this machine run as root).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Run;
use common::s3::{self, cloudtrail_key, put_record};

const ACCOUNT: &str = "111122223333";

/// A tmpfs mounted at `path` for the life of the value.
struct Mount {
    path: PathBuf,
}

impl Mount {
    fn tmpfs(path: &Path, size: &str) -> Mount {
        std::fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755"), "tmpfs"])
            .arg(path)
            .status()
            .expect("mount runs");
        assert!(status.success(), "these tests mount a small tmpfs and need root (CAP_SYS_ADMIN)");
        Mount { path: path.to_path_buf() }
    }

    fn read_only(&self) {
        let status = Command::new("mount").args(["-o", "remount,ro"]).arg(&self.path).status().unwrap();
        assert!(status.success());
    }

    /// Fills the file system with a file of zeros until it is full (dd then fails, as meant).
    fn fill(&self) {
        let status = Command::new("dd")
            .args(["if=/dev/zero", "bs=4096"])
            .arg(format!("of={}", self.path.join("filler").display()))
            .stderr(std::process::Stdio::null())
            .status()
            .expect("dd runs");
        assert!(!status.success(), "dd stops when the file system is full");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // A lazy unmount; the temporary directory goes right after.
        Command::new("umount").arg("-l").arg(&self.path).status().ok();
    }
}

async fn run_once(dir: &Path) -> Run {
    common::trailhound_in(dir, &["run", "--config", "trailhound.toml", "--once", "--state-dir", "fs/state"])
        .await
}

fn delivered(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("out.ndjson")).map_or(0, |text| text.lines().count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_state_store_stops_the_run_before_anything_is_read() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trailhound.toml"), server.config("")).unwrap();
    let mount = Mount::tmpfs(&dir.path().join("fs"), "4m");
    put_record(&server, &cloudtrail_key("", ACCOUNT, "us-west-2", 3, "AAAAAAAAAAAAAAAA"), "first").await;
    let run = run_once(dir.path()).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(delivered(dir.path()), 1);

    mount.read_only();
    put_record(&server, &cloudtrail_key("", ACCOUNT, "us-west-2", 2, "BBBBBBBBBBBBBBBB"), "second").await;
    let run = run_once(dir.path()).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("cannot be written: Read-only file system"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(delivered(dir.path()), 1, "nothing is delivered that could not be recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_state_file_system_stops_the_run_and_loses_nothing() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trailhound.toml"), server.config("")).unwrap();
    let mount = Mount::tmpfs(&dir.path().join("fs"), "4m");
    put_record(&server, &cloudtrail_key("", ACCOUNT, "us-west-2", 3, "AAAAAAAAAAAAAAAA"), "first").await;
    assert_eq!(run_once(dir.path()).await.code, 0);

    mount.fill();
    put_record(&server, &cloudtrail_key("", ACCOUNT, "us-west-2", 2, "BBBBBBBBBBBBBBBB"), "second").await;
    let run = run_once(dir.path()).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("cannot be written: No space left on device"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert_eq!(delivered(dir.path()), 1);

    // Room again: the object that waited is collected, once, and the first is not read again.
    std::fs::remove_file(dir.path().join("fs/filler")).unwrap();
    let run = run_once(dir.path()).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(delivered(dir.path()), 2, "the recovery collects what waited and nothing twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_store_deleted_while_running_stops_the_agent() {
    let server = s3::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("trailhound.toml"), server.config("poll_interval_seconds = 1\n")).unwrap();
    put_record(&server, &cloudtrail_key("", ACCOUNT, "us-west-2", 3, "AAAAAAAAAAAAAAAA"), "first").await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_trailhound"))
        .args(["run", "--config", "trailhound.toml", "--state-dir", "state"])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while delivered(dir.path()) == 0 {
        assert!(std::time::Instant::now() < deadline, "the first poll never delivered");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    std::fs::remove_dir_all(dir.path().join("state")).unwrap();
    put_record(&server, &cloudtrail_key("", ACCOUNT, "us-west-2", 2, "BBBBBBBBBBBBBBBB"), "second").await;
    let output = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                panic!("the agent kept running on a deleted store");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("was deleted or replaced while running"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
