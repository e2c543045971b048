//! Renders the effective configuration as TOML with secrets masked (`starbase check-config`).
//!
//! Owns the output format: valid TOML using the file's keys, so the output (minus the masked
//! tokens) can be saved as a `starbase.toml`. Must never write a secret's value.

use std::fmt::Write as _;

use starbase_backends::external::config::{ServerConfig, TlsMode};

use super::{ADMIN_TOKEN_FILE, Config, KeySource, RateLimit, Secret, SourceConfig};

pub(super) fn masked(c: &Config) -> String {
    let mut out = String::from("# effective starbase configuration; secrets are masked\n");
    let quoted = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let admin_absent = format!(
        "`starbase serve` reads or generates {}",
        c.data_dir.join(ADMIN_TOKEN_FILE).display()
    );
    let timeout = c.statement_timeout.map_or_else(
        || "\"0\" # disabled".to_owned(),
        |d| quoted(&humantime::format_duration(d).to_string()),
    );
    let lines = [
        ("data_dir", quoted(&c.data_dir.to_string_lossy())),
        ("http_listen", quoted(&c.http_listen.to_string())),
        ("pg_listen", quoted(&c.pg_listen.to_string())),
        ("admin_token", secret(c.admin_token.as_ref(), &admin_absent)),
        (
            "client_token",
            secret(c.client_token.as_ref(), "no client role"),
        ),
        ("max_request_bytes", size(c.max_request_bytes)),
        ("max_response_bytes", size(c.max_response_bytes)),
        ("max_response_rows", c.max_response_rows.to_string()),
        ("statement_timeout", timeout),
        ("sqlite_readers", c.sqlite_readers.to_string()),
        ("log", quoted(&c.log)),
        ("enable_allowlist", c.enable_allowlist.to_string()),
        ("enable_rls", c.enable_rls.to_string()),
        (
            "idle_in_transaction_timeout",
            c.idle_in_transaction_timeout.map_or_else(
                || "\"0\" # disabled".to_owned(),
                |d| quoted(&humantime::format_duration(d).to_string()),
            ),
        ),
        (
            "tls_cert",
            c.tls.as_ref().map_or_else(
                || "# plain TCP".to_owned(),
                |t| quoted(&t.cert.to_string_lossy()),
            ),
        ),
        (
            "tls_key",
            c.tls.as_ref().map_or_else(
                || "# plain TCP".to_owned(),
                |t| quoted(&t.key.to_string_lossy()),
            ),
        ),
    ];
    write_lines(&mut out, lines);
    let d = &c.dump;
    let dump_lines = [
        (
            "dump_url",
            d.url.as_deref().map_or_else(
                || format!("# {}", c.data_dir.join("dumps").display()),
                quoted,
            ),
        ),
        ("dump_chunk_size", d.chunk_size.to_string()),
        (
            "dump_breathing_interval",
            quoted(&humantime::format_duration(d.breathing_interval).to_string()),
        ),
        (
            "max_execution_time",
            quoted(&humantime::format_duration(d.max_execution_time).to_string()),
        ),
        (
            "dump_part_bytes",
            d.part_bytes.map_or_else(
                || "# the storage's default (16MiB, 4MiB on S3)".to_owned(),
                size,
            ),
        ),
        ("dump_max_concurrent", d.max_concurrent.to_string()),
        ("dump_nice", d.nice.to_string()),
        ("allow_http_callbacks", d.allow_http_callbacks.to_string()),
        (
            "dump_callback_secret",
            secret(
                d.callback_secret.as_ref(),
                "the admin token signs callbacks",
            ),
        ),
    ];
    write_lines(&mut out, dump_lines);
    write_lines(&mut out, auth_lines(c));
    for source in &c.sources {
        out.push_str("\n[[sources]]\n");
        write_lines(&mut out, source_lines(source));
    }
    out
}

/// The JWT and rate-limit keys.
fn auth_lines(c: &Config) -> Vec<(&'static str, String)> {
    let quoted = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let duration = |d: std::time::Duration| {
        if d.is_zero() {
            "\"0\"".to_owned()
        } else {
            quoted(&humantime::format_duration(d).to_string())
        }
    };
    let rate = |r: Option<RateLimit>| quoted(&r.map_or_else(|| "off".to_owned(), |r| r.to_text()));
    let mut lines = Vec::new();
    match &c.jwt {
        None => lines.push((
            "auth_jwks_endpoint",
            "# JWT auth off: only the admin and client tokens".to_owned(),
        )),
        Some(j) => {
            lines.push(("auth_algorithm", quoted(j.algorithm.as_str())));
            match &j.keys {
                KeySource::JwksUrl(url) => lines.push(("auth_jwks_endpoint", quoted(url))),
                KeySource::JwksFile(path) => {
                    lines.push(("auth_jwks_endpoint", quoted(&path.to_string_lossy())));
                }
                KeySource::Secret(s) => lines.push(("auth_jwt_secret", secret(Some(s), ""))),
            }
            let optional = |v: &Option<String>, what: &str| {
                v.as_deref()
                    .map_or_else(|| format!("# not checked ({what})"), quoted)
            };
            lines.push(("auth_jwt_issuer", optional(&j.issuer, "any issuer")));
            lines.push(("auth_jwt_audience", optional(&j.audience, "any audience")));
            lines.push(("jwt_leeway", duration(j.leeway)));
            lines.push(("jwks_refetch_interval", duration(j.refetch_interval)));
        }
    }
    let r = &c.rate_limits;
    lines.push(("rate_limit_per_token", rate(r.per_token)));
    lines.push(("rate_limit_per_addr", rate(r.per_addr)));
    lines.push(("rate_limit_auth_failures", rate(r.auth_failures)));
    lines
}

fn write_lines(out: &mut String, lines: impl IntoIterator<Item = (&'static str, String)>) {
    for (key, value) in lines {
        // Writing to a String cannot fail.
        let _ = match value.strip_prefix('#') {
            Some(why) => writeln!(out, "# {key} = (not set;{why})"),
            None => writeln!(out, "{key} = {value}"),
        };
    }
}

/// One `[[sources]]` table, always as separate fields (a URL would carry the password).
fn source_lines(s: &SourceConfig) -> [(&'static str, String); 13] {
    let quoted = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let duration = |d| quoted(&humantime::format_duration(d).to_string());
    let server = &s.server;
    [
        ("name", quoted(s.name.as_str())),
        ("type", quoted(s.kind.as_str())),
        (
            "host",
            match server.unix_socket() {
                Some(path) => format!("{} # socket {}", quoted(&server.host), path.display()),
                None => quoted(&server.host),
            },
        ),
        ("port", server.port.to_string()),
        ("user", quoted(&server.user)),
        (
            "password",
            if server.password.is_empty() {
                "# no password".to_owned()
            } else {
                "\"***\"".to_owned()
            },
        ),
        ("database", quoted(&server.database)),
        (
            "search_path",
            server
                .search_path
                .as_deref()
                .map_or_else(|| "# the server's default".to_owned(), quoted),
        ),
        ("pool_size", server.pool_size.to_string()),
        ("connect_timeout", duration(server.connect_timeout)),
        ("acquire_timeout", duration(server.acquire_timeout)),
        ("tls", tls(server)),
        ("pipeline", server.pipeline.to_string()),
    ]
}

/// The TLS mode, noting that none applies over a Unix-domain socket.
fn tls(server: &ServerConfig) -> String {
    let mode = toml::Value::String(
        match server.tls {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
        }
        .to_owned(),
    )
    .to_string();
    match server.unix_socket() {
        Some(_) if server.tls != TlsMode::Disable => {
            format!("{mode} # not used: no TLS over a Unix-domain socket")
        }
        _ => mode,
    }
}

/// `"***"`, or (marked by a leading `#`) what happens without one.
fn secret(value: Option<&Secret>, absent: &str) -> String {
    match value {
        Some(_) => "\"***\"".to_owned(),
        None => format!("# {absent}"),
    }
}

/// Bytes as an integer (exact, and what scripts grep for) with a readable form beside it.
fn size(bytes: usize) -> String {
    const UNITS: [(&str, usize); 4] = [
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("KB", 1000),
    ];
    UNITS
        .iter()
        .find(|(_, unit)| bytes >= *unit && bytes.is_multiple_of(*unit))
        .map_or_else(
            || bytes.to_string(),
            |(name, unit)| format!("{bytes} # {}{name}", bytes / unit),
        )
}
