//! Renders the effective configuration as TOML with secrets masked (`starbase check-config`).

use std::fmt::Write as _;

use super::Config;

pub(super) fn masked(config: &Config) -> String {
    let mut out = String::new();
    let quoted = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let secret = |s: &Option<super::Secret>| match s {
        Some(_) => "\"***\"".to_owned(),
        None => "\"\" # not set".to_owned(),
    };
    let timeout = config.statement_timeout.map_or_else(
        || "0".to_owned(),
        |d| humantime::format_duration(d).to_string(),
    );
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "data_dir = {}",
        quoted(&config.data_dir.display().to_string())
    );
    let _ = writeln!(
        out,
        "http_listen = {}",
        quoted(&config.http_listen.to_string())
    );
    let _ = writeln!(out, "pg_listen = {}", quoted(&config.pg_listen.to_string()));
    let _ = writeln!(out, "admin_token = {}", secret(&config.admin_token));
    let _ = writeln!(out, "client_token = {}", secret(&config.client_token));
    let _ = writeln!(out, "max_request_bytes = {}", config.max_request_bytes);
    let _ = writeln!(out, "max_response_bytes = {}", config.max_response_bytes);
    let _ = writeln!(out, "max_response_rows = {}", config.max_response_rows);
    let _ = writeln!(out, "statement_timeout = {}", quoted(&timeout));
    let _ = writeln!(out, "sqlite_readers = {}", config.sqlite_readers);
    let _ = writeln!(out, "log = {}", quoted(&config.log));
    out
}
