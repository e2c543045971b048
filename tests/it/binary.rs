//! The real `starbase` binary: first start generates and prints the admin token once,
//! `check-config` masks secrets and names unknown keys, SIGTERM shuts down cleanly, and a
//! closed log pipe does not take the server down.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_starbase");

pub(crate) fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for var in [
        "ADMIN_AUTHORIZATION_TOKEN",
        "CLIENT_AUTHORIZATION_TOKEN",
        "STARBASE_ADMIN_TOKEN",
        "STARBASE_CLIENT_TOKEN",
        "STARBASE_CONFIG",
        "STARBASE_HTTP_LISTEN",
        "STARBASE_DATA_DIR",
        "MIMALLOC_PURGE_DELAY",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("STARBASE_LOG", "info").env("NO_COLOR", "1");
    cmd
}

/// Starts `serve` on port 0 (the caller waits for the child in `stop`); returns the child, its HTTP address and the token it printed.
fn start(data_dir: &Path) -> (Child, String, Option<String>, Vec<String>) {
    start_with(data_dir, &[])
}

/// [`start`] with these variables set.
#[allow(clippy::zombie_processes)]
fn start_with(
    data_dir: &Path,
    env: &[(&str, &str)],
) -> (Child, String, Option<String>, Vec<String>) {
    let mut child = command(&[
        "serve",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--http-listen",
        "127.0.0.1:0",
        "--pg-listen",
        "127.0.0.1:0",
    ])
    .envs(env.iter().copied())
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let stderr = child.stderr.take().unwrap();
    // Keep draining stderr for the child's whole life, so its logging never hits a closed pipe.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let mut token = None;
    while let Ok(line) = rx.recv() {
        if let Some(rest) = line.split("generated admin token").nth(1) {
            token = rest.rsplit(": ").next().map(|t| t.trim().to_owned());
        }
        lines.push(line.clone());
        if let Some(addr) = line.split("http=").nth(1) {
            let addr = addr.split_whitespace().next().unwrap().to_owned();
            return (child, addr, token, lines);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("server exited before serving: {lines:?}");
}

fn stop(mut child: Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "clean shutdown on SIGTERM: {exit:?}");
}

async fn select_one(addr: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("http://{addr}/query"))
        .bearer_auth(token)
        .json(&json!({"sql": "SELECT 1"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn first_start_generates_token_once_and_restarts_reuse_it() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let (child, addr, token, lines) = start(&data);
    let token = token.unwrap_or_else(|| panic!("no token printed: {lines:?}"));
    assert_eq!(token.len(), 64);
    let file = data.join("admin_token");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(select_one(&addr, &token).await, 200);
    assert_eq!(select_one(&addr, "ABC123").await, 401);
    stop(child);

    let (child, addr, again, lines) = start(&data);
    assert_eq!(again, None, "printed only on the first start: {lines:?}");
    assert!(lines.iter().all(|l| !l.contains(&token)), "{lines:?}");
    assert_eq!(select_one(&addr, &token).await, 200);
    stop(child);
}

#[tokio::test]
async fn the_server_outlives_a_closed_log_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = command(&[
        "serve",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--http-listen",
        "127.0.0.1:0",
        "--pg-listen",
        "127.0.0.1:0",
    ])
    .env("STARBASE_ADMIN_TOKEN", crate::common::ADMIN)
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Read up to the line with the address, then close the pipe: every later log line
    // meets a reader that has gone (a log shipper restarting, `starbase serve | head`).
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "server exited before serving"
        );
        if let Some(addr) = line.split("http=").nth(1) {
            break addr.split_whitespace().next().unwrap().to_owned();
        }
    };
    drop(stderr);
    // A failing statement logs; the server keeps answering (a server that died mid-request
    // would leave the request hanging, hence the timeout).
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    for _ in 0..3 {
        let status = client
            .post(format!("http://{addr}/query"))
            .bearer_auth(crate::common::ADMIN)
            .json(&json!({"sql": "SELECT * FROM no_such_table"}))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_client_error(), "{status}");
    }
    assert_eq!(select_one(&addr, crate::common::ADMIN).await, 200);
    // Shutting down logs too, and still ends cleanly.
    stop(child);
}

#[test]
fn check_config_masks_secrets_and_names_unknown_keys() {
    let output = command(&["check-config", "--max-request-bytes", "1MiB"])
        .env("ADMIN_AUTHORIZATION_TOKEN", "very-secret-admin")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("admin_token = \"***\""), "{stdout}");
    assert!(stdout.contains("max_request_bytes = 1048576"), "{stdout}");
    assert!(!stdout.contains("very-secret-admin"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("starbase.toml");
    std::fs::write(&file, "http_listen = \"127.0.0.1:1\"\nadmin_tokn = \"x\"\n").unwrap();
    let output = command(&["check-config", "--config", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("admin_tokn"), "{stderr}");
}

/// The variables of a running process.
fn environment(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap()
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

#[tokio::test]
async fn the_server_returns_freed_memory_at_once_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    // The process started is the one serving (it re-executed itself in place), with the
    // allocator told to return freed memory at once.
    let (child, addr, token, lines) = start(&dir.path().join("a"));
    let token = token.unwrap_or_else(|| panic!("no token printed: {lines:?}"));
    assert!(
        environment(child.id()).contains(&"MIMALLOC_PURGE_DELAY=0".to_owned()),
        "{:?}",
        environment(child.id())
    );
    assert_eq!(select_one(&addr, &token).await, 200);
    stop(child);
    // An operator's own setting stays.
    let (child, addr, token, _) =
        start_with(&dir.path().join("b"), &[("MIMALLOC_PURGE_DELAY", "25")]);
    let env = environment(child.id());
    assert!(
        env.contains(&"MIMALLOC_PURGE_DELAY=25".to_owned()),
        "{env:?}"
    );
    assert!(
        !env.contains(&"MIMALLOC_PURGE_DELAY=0".to_owned()),
        "{env:?}"
    );
    assert_eq!(select_one(&addr, &token.unwrap()).await, 200);
    stop(child);
}
