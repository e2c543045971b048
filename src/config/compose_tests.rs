//! `compose/` stays true to the gateway: every variable the compose file gives the `starbase`
//! service is one the gateway reads, its ports are the ones it listens on, the names it points
//! at are services of the same file, and the mounted configuration file parses.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::{DEFAULT_HTTP_LISTEN, DEFAULT_PG_LISTEN, FileConfig, environment_variables};

const COMPOSE: &str = include_str!("../../compose/docker-compose.yml");
const COMPOSE_TOML: &str = include_str!("../../compose/starbase.toml");
const DOCKERFILE: &str = include_str!("../../Dockerfile");

/// The compose file's services: name → its lines (indentation kept), comments dropped.
fn services() -> HashMap<String, Vec<String>> {
    let mut services: HashMap<String, Vec<String>> = HashMap::new();
    let mut in_services = false;
    let mut current: Option<String> = None;
    for line in COMPOSE.lines() {
        let code = line.split(" #").next().unwrap_or("").trim_end();
        if code.trim_start().starts_with('#') || code.trim().is_empty() {
            continue;
        }
        let indent = code.len() - code.trim_start().len();
        if indent == 0 {
            in_services = code == "services:";
            current = None;
        } else if in_services && indent == 2 {
            current = Some(code.trim().trim_end_matches(':').to_owned());
        } else if let Some(name) = &current {
            services
                .entry(name.clone())
                .or_default()
                .push(code.to_owned());
        }
    }
    services
}

/// The `KEY: value` pairs under a service's `environment:`.
fn environment(lines: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in lines {
        let indent = line.len() - line.trim_start().len();
        if indent == 4 {
            inside = line.trim() == "environment:";
            continue;
        }
        if inside && let Some((key, value)) = line.trim().split_once(": ") {
            out.push((key.to_owned(), value.trim_matches('"').to_owned()));
        }
    }
    out
}

fn port_of(addr: &str) -> &str {
    addr.rsplit(':').next().unwrap()
}

#[test]
fn the_starbase_service_sets_only_variables_the_gateway_reads() {
    let known: HashSet<&str> = environment_variables().into_iter().collect();
    let services = services();
    let env = environment(&services["starbase"]);
    assert!(
        env.len() >= 10,
        "the starbase service's environment was not found: {env:?}"
    );
    for (key, _) in &env {
        assert!(
            known.contains(key.as_str()),
            "compose sets {key}, which the gateway does not read"
        );
    }
}

#[test]
fn ports_and_wiring_match_the_gateway_and_the_other_services() {
    let services = services();
    for name in ["starbase", "postgres", "mariadb", "s3"] {
        assert!(services.contains_key(name), "service {name} missing");
    }
    // Published container ports are the ones the image's command listens on.
    let published: Vec<&str> = services["starbase"]
        .iter()
        .filter_map(|l| l.trim().strip_prefix("- \""))
        .map(|l| port_of(l.trim_end_matches('"')))
        .collect();
    for default in [DEFAULT_HTTP_LISTEN, DEFAULT_PG_LISTEN] {
        let port = port_of(default);
        assert!(
            published.contains(&port),
            "port {port} is not published: {published:?}"
        );
        assert!(
            DOCKERFILE.contains(&format!("0.0.0.0:{port}")),
            "the image does not listen on {port}"
        );
    }
    let env: HashMap<String, String> = environment(&services["starbase"]).into_iter().collect();
    assert!(services.contains_key(&env["EXTERNAL_DB_HOST"]));
    let endpoint = env["AWS_ENDPOINT_URL"].trim_start_matches("http://");
    assert!(services.contains_key(endpoint.split(':').next().unwrap()));
    let bucket = env["STARBASE_DUMP_URL"]
        .trim_start_matches("s3://")
        .split('/')
        .next()
        .unwrap();
    assert!(
        services["s3"]
            .iter()
            .any(|l| l.contains(&format!("-bucket={bucket}"))),
        "the S3 service does not create the bucket {bucket}"
    );
    assert!(
        services["starbase"]
            .iter()
            .any(|l| l.contains(&format!(":{}:ro", env["STARBASE_CONFIG"]))),
        "STARBASE_CONFIG names a file the service does not mount"
    );
}

#[test]
fn the_mounted_configuration_file_parses_and_names_a_service() {
    let file = FileConfig::parse(COMPOSE_TOML, Path::new("compose/starbase.toml")).unwrap();
    let debug = format!("{file:?}");
    assert!(debug.contains("maria"), "{debug}");
    let services = services();
    assert!(COMPOSE_TOML.contains("host = \"mariadb\"") && services.contains_key("mariadb"));
}
