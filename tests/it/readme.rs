//! The README's curl examples (StarbaseDB's, verbatim but for the host) against a real server.

use serde_json::Value;

use crate::common::TestGateway;

/// The `sh` blocks of the README's "Try it" section that hold curl commands, split into
/// commands, each with the response documented in the `# …` line after it (if any).
fn examples() -> Vec<(String, Option<String>)> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("## Try it")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    let mut out = Vec::new();
    for block in section.split("```sh\n").skip(1) {
        let block = block.split("```").next().unwrap();
        if !block.trim_start().starts_with("curl") {
            continue;
        }
        for chunk in block.split("\n\n") {
            let mut command = String::new();
            let mut expected = None;
            for line in chunk.lines() {
                match line.strip_prefix("# ") {
                    Some(rest) => expected = Some(rest.to_owned()),
                    None => {
                        command.push_str(line);
                        command.push('\n');
                    }
                }
            }
            if !command.trim().is_empty() {
                out.push((command, expected));
            }
        }
    }
    out
}

#[tokio::test]
async fn readme_curl_examples_return_what_the_readme_shows() {
    let gw = TestGateway::start_with(|c| {
        c.admin_token = Some(starbase::config::Secret::new("ABC123".into()));
    })
    .await;
    let examples = examples();
    assert_eq!(examples.len(), 5, "{examples:?}");
    for (command, expected) in examples {
        let command = command.replace("http://127.0.0.1:8787", &gw.url(""));
        let output = tokio::process::Command::new("bash")
            .args(["-c", &format!("set -euo pipefail\n{command}")])
            .output()
            .await
            .unwrap();
        assert!(output.status.success(), "{command}: {output:?}");
        let body: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("{command}: not JSON: {output:?}"));
        assert!(body.get("result").is_some(), "{command}: {body}");
        if let Some(expected) = expected.filter(|e| !e.contains("...")) {
            let expected: Value = serde_json::from_str(&expected).unwrap();
            assert_eq!(body, expected, "{command}");
        }
    }
    gw.stop().await;
}
