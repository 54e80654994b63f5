//! Squid on loopback as an authenticating forward proxy (basic authentication checked by its
//! `basic_ncsa_auth` helper against an htpasswd file), logging for every request the user it
//! authenticated and the `Proxy-Authorization` header it received. Unlike tinyproxy, it accepts
//! credentials holding any character, so the tests can check what really reaches a proxy.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Squid {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Squid {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Squid {
    /// Starts squid accepting one user (`user` may hold a `DOMAIN\` part) with `password`.
    pub fn start(user: &str, password: &str) -> Squid {
        let dir = tempfile::tempdir().unwrap();
        // squid started as root works as user "proxy": it must read the files and write the logs.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        let hash = Command::new("openssl")
            .args(["passwd", "-apr1", "-salt", "trailhnd", password])
            .output()
            .expect("openssl is installed");
        assert!(hash.status.success());
        let hash = String::from_utf8(hash.stdout).unwrap();
        std::fs::write(dir.path().join("passwd"), format!("{user}:{}", hash.trim())).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let d = dir.path().display();
        let config = format!(
            "http_port 127.0.0.1:{port}\npid_filename {d}/squid.pid\ncache_log {d}/cache.log\n\
             logformat authlog %un %>Hs %rm %ru \"%{{Proxy-Authorization}}>h\"\n\
             access_log stdio:{d}/access.log authlog\ncache deny all\n\
             auth_param basic program /usr/lib/squid/basic_ncsa_auth {d}/passwd\n\
             auth_param basic children 2\nauth_param basic casesensitive on\n\
             acl authed proxy_auth REQUIRED\nhttp_access allow authed\nhttp_access deny all\n\
             coredump_dir {d}\nshutdown_lifetime 0 seconds\n"
        );
        std::fs::write(dir.path().join("squid.conf"), config).unwrap();
        for file in ["passwd", "squid.conf"] {
            std::fs::set_permissions(
                dir.path().join(file),
                std::os::unix::fs::PermissionsExt::from_mode(0o644),
            )
            .unwrap();
        }
        let child = Command::new("squid")
            .args(["-N", "-f"])
            .arg(dir.path().join("squid.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("squid is installed (scripts/test.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "squid did not start: {}",
                std::fs::read_to_string(dir.path().join("cache.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Squid { port, child, dir }
    }

    /// The access log: one line per request, `USER STATUS METHOD URL "Proxy-Authorization"`.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("access.log")
    }

    /// The user:password pairs of the Basic `Proxy-Authorization` headers squid received.
    pub fn received_credentials(&self) -> Vec<String> {
        use base64::Engine;
        self.access_log()
            .lines()
            .filter_map(|line| line.split("\"Basic ").nth(1))
            .filter_map(|encoded| {
                base64::engine::general_purpose::STANDARD.decode(encoded.trim_end_matches('"')).ok()
            })
            .map(|bytes| String::from_utf8(bytes).unwrap())
            .collect()
    }
}
