//! Data sources in the configuration: every way to declare them, and every way to get them
//! wrong.

use std::collections::HashMap;
use std::time::Duration;

use starbase_backends::external::config::TlsMode;
use starbase_protocol::SqlState;

use super::*;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

fn with_file(text: &str) -> (tempfile::TempDir, CliArgs) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("starbase.toml");
    std::fs::write(&path, text).unwrap();
    let cli = CliArgs {
        config: Some(path),
        ..CliArgs::default()
    };
    (dir, cli)
}

fn load_env(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load(&CliArgs::default(), &env_of(pairs))
}

fn load_file(text: &str) -> Result<Config, ConfigError> {
    let (_dir, cli) = with_file(text);
    Config::load(&cli, &env_of(&[]))
}

/// A `Source` error about `field` whose message mentions `fragment`.
fn assert_source_error(err: &ConfigError, field: &str, fragment: &str) {
    let text = err.to_string();
    assert_eq!(err.sqlstate(), SqlState::INVALID_PARAMETER_VALUE, "{text}");
    match err {
        ConfigError::Source { field: f, .. } => assert_eq!(*f, field, "{text}"),
        other => panic!("not a source error: {other:?}"),
    }
    assert!(text.contains(fragment), "{text} lacks {fragment}");
    assert!(!text.contains("hunter2"), "never echo a password: {text}");
}

#[test]
fn no_sources_by_default() {
    assert!(load_env(&[]).unwrap().sources.is_empty());
}

#[test]
fn starbasedb_variables_make_the_external_source() {
    let c = load_env(&[
        ("EXTERNAL_DB_TYPE", "postgresql"),
        ("EXTERNAL_DB_HOST", "db.internal"),
        ("EXTERNAL_DB_PORT", "6543"),
        ("EXTERNAL_DB_USER", "app"),
        ("EXTERNAL_DB_PASS", "hunter2"),
        ("EXTERNAL_DB_DATABASE", "shop"),
        ("STARBASE_EXTERNAL_POOL_SIZE", "3"),
        ("STARBASE_EXTERNAL_ACQUIRE_TIMEOUT", "250ms"),
    ])
    .unwrap();
    let [s] = c.sources.as_slice() else {
        panic!("{:?}", c.sources)
    };
    assert_eq!(
        (s.name.as_str(), s.kind),
        ("external", SourceKind::Postgres)
    );
    let v = &s.server;
    assert_eq!((v.host.as_str(), v.port), ("db.internal", 6543));
    assert_eq!((v.user.as_str(), v.database.as_str()), ("app", "shop"));
    assert_eq!(v.password.expose(), "hunter2");
    assert_eq!(v.pool_size, 3);
    assert_eq!(v.acquire_timeout, Duration::from_millis(250));
    assert!(v.pipeline, "pipelining is on by default");

    let c = load_env(&[
        ("EXTERNAL_DB_TYPE", "mysql"),
        ("EXTERNAL_DB_HOST", "127.0.0.1"),
        ("EXTERNAL_DB_USER", "root"),
        ("EXTERNAL_DB_DATABASE", "test"),
    ])
    .unwrap();
    let s = &c.sources[0];
    assert_eq!((s.kind, s.server.port), (SourceKind::MySql, 3306));
    assert!(s.server.password.is_empty());
}

#[test]
fn external_url_wins_over_starbasedb_variables() {
    let c = load_env(&[
        (
            "STARBASE_EXTERNAL_URL",
            "mysql://root:hunter2@127.0.0.1:3307/test?sslmode=prefer&pool_size=2&connect_timeout=3",
        ),
        ("EXTERNAL_DB_TYPE", "postgresql"),
    ])
    .unwrap();
    let s = &c.sources[0];
    assert_eq!((s.name.as_str(), s.kind), ("external", SourceKind::MySql));
    assert_eq!((s.server.port, s.server.pool_size), (3307, 2));
    assert_eq!(s.server.tls, TlsMode::Prefer);
    assert_eq!(s.server.connect_timeout, Duration::from_secs(3));
    assert_eq!(s.server.password.expose(), "hunter2");
    let c = load_env(&[("STARBASE_EXTERNAL_URL", "postgres://me@h")]).unwrap();
    assert_eq!(
        c.sources[0].server.database, "me",
        "libpq's default database"
    );
}

const TWO_SOURCES: &str = r#"
[[sources]]
name = "orders"
url = "postgres://app:hunter2@pg.internal/orders?search_path=sales"
pool_size = 8
acquire_timeout = "2s"
tls = "require"

[[sources]]
name = "legacy"
type = "mariadb"
host = "10.0.0.5"
user = "root"
database = "crm"
connect_timeout = "1s"
"#;

#[test]
fn named_sources_from_the_file() {
    let c = load_file(TWO_SOURCES).unwrap();
    let names: Vec<_> = c.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["orders", "legacy"]);
    let orders = &c.sources[0].server;
    assert_eq!((orders.pool_size, orders.tls), (8, TlsMode::Require));
    assert_eq!(orders.acquire_timeout, Duration::from_secs(2));
    assert_eq!(orders.search_path.as_deref(), Some("sales"));
    let legacy = &c.sources[1];
    assert_eq!((legacy.kind, legacy.server.port), (SourceKind::MySql, 3306));
    assert_eq!(legacy.server.connect_timeout, Duration::from_secs(1));
}

#[test]
fn the_environment_replaces_the_files_external_source() {
    let file = "[[sources]]\nname = \"external\"\nurl = \"postgres://a@file/db\"\n\n\
                [[sources]]\nname = \"other\"\nurl = \"postgres://a@other/db\"\n";
    let (_dir, cli) = with_file(file);
    let env = env_of(&[("STARBASE_EXTERNAL_URL", "mysql://root@env/test")]);
    let c = Config::load(&cli, &env).unwrap();
    let hosts: Vec<_> = c.sources.iter().map(|s| s.server.host.as_str()).collect();
    assert_eq!(hosts, ["env", "other"]);
}

#[test]
fn bad_sources_are_refused_precisely() {
    let err = load_env(&[("EXTERNAL_DB_TYPE", "oracle"), ("EXTERNAL_DB_HOST", "h")]).unwrap_err();
    assert_source_error(&err, "type", "\"oracle\"");
    assert!(err.to_string().contains("EXTERNAL_DB_TYPE"), "{err}");

    let err = load_env(&[("EXTERNAL_DB_HOST", "h")]).unwrap_err();
    assert_source_error(&err, "type", "EXTERNAL_DB_TYPE is not set");

    let err = load_env(&[("STARBASE_EXTERNAL_URL", "http://u:hunter2@h/db")]).unwrap_err();
    assert_source_error(&err, "url", "\"http\"");
    assert!(err.to_string().contains("STARBASE_EXTERNAL_URL"), "{err}");

    let err =
        load_env(&[("STARBASE_EXTERNAL_URL", "postgres://u:hunter2@h:99999/db")]).unwrap_err();
    assert_source_error(&err, "url", "not a URL");

    let err = load_env(&[
        ("EXTERNAL_DB_TYPE", "mysql"),
        ("EXTERNAL_DB_HOST", "h"),
        ("EXTERNAL_DB_USER", "root"),
    ])
    .unwrap_err();
    assert_source_error(&err, "database", "no database");

    let err = load_env(&[
        ("EXTERNAL_DB_TYPE", "pg"),
        ("EXTERNAL_DB_HOST", "h"),
        ("EXTERNAL_DB_USER", "u"),
        ("EXTERNAL_DB_PORT", "x"),
    ])
    .unwrap_err();
    assert_source_error(&err, "port", "EXTERNAL_DB_PORT");
}

#[test]
fn names_must_be_unique_and_not_internal() {
    let dup = "[[sources]]\nname = \"a\"\nurl = \"postgres://u@h/d\"\n\n\
               [[sources]]\nname = \"a\"\nurl = \"mysql://u@h/d\"\n";
    assert_source_error(&load_file(dup).unwrap_err(), "name", "already named \"a\"");
    let internal = "[[sources]]\nname = \"Internal\"\nurl = \"postgres://u@h/d\"\n";
    assert_source_error(
        &load_file(internal).unwrap_err(),
        "name",
        "embedded database",
    );
    let unnamed = "[[sources]]\nurl = \"postgres://u@h/d\"\n";
    let err = load_file(unnamed).unwrap_err();
    assert_source_error(&err, "name", "needs a name");
    assert!(err.to_string().contains("[[sources]] #1"), "{err}");
    let upper = "[[sources]]\nname = \"Orders\"\nurl = \"postgres://u@h/d\"\n";
    assert_source_error(&load_file(upper).unwrap_err(), "name", "lowercase");
    let both = "[[sources]]\nname = \"a\"\nurl = \"postgres://u@h/d\"\nhost = \"h\"\n";
    assert_source_error(&load_file(both).unwrap_err(), "host", "either url or host");
    let unknown = "[[sources]]\nname = \"a\"\nurl = \"postgres://u@h/d\"\nsize = 1\n";
    assert!(load_file(unknown).unwrap_err().to_string().contains("size"));
    let bad_pool = "[[sources]]\nname = \"a\"\nurl = \"postgres://u@h/d\"\npool_size = 0\n";
    assert_source_error(&load_file(bad_pool).unwrap_err(), "pool_size", "\"0\"");
}

#[test]
fn pipelining_is_turned_off_per_source_by_url_variable_or_file() {
    let c = load_env(&[("STARBASE_EXTERNAL_URL", "postgres://me@h/d?pipeline=false")]).unwrap();
    assert!(!c.sources[0].server.pipeline);
    let c = load_env(&[
        ("STARBASE_EXTERNAL_URL", "postgres://me@h/d"),
        ("STARBASE_EXTERNAL_PIPELINE", "off"),
    ])
    .unwrap();
    assert!(!c.sources[0].server.pipeline);
    let file = "[[sources]]\nname = \"a\"\nurl = \"postgres://u@h/d\"\npipeline = false\n";
    assert!(!load_file(file).unwrap().sources[0].server.pipeline);
    let bad = "[[sources]]\nname = \"a\"\nurl = \"postgres://u@h/d\"\npipeline = \"maybe\"\n";
    assert_source_error(&load_file(bad).unwrap_err(), "pipeline", "maybe");
}

#[test]
fn check_config_masks_source_passwords_and_round_trips() {
    let c = load_file(TWO_SOURCES).unwrap();
    let text = c.render_masked();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("password = \"***\""), "{text}");
    assert!(
        text.contains("[[sources]]\nname = \"legacy\"\ntype = \"mysql\""),
        "{text}"
    );
    assert!(format!("{c:?}").contains("***") && !format!("{c:?}").contains("hunter2"));

    // Without passwords the rendering loads back to the same configuration.
    let c = load_file(&TWO_SOURCES.replace(":hunter2", "")).unwrap();
    let text = c.render_masked();
    assert!(
        text.contains("# password = (not set; no password)"),
        "{text}"
    );
    assert_eq!(load_file(&text).unwrap(), c, "{text}");
}

#[test]
fn a_socket_directory_is_a_host_in_every_form() {
    let socket = Some(std::path::PathBuf::from(
        "/var/run/postgresql/.s.PGSQL.5432",
    ));
    let c = load_env(&[
        ("EXTERNAL_DB_TYPE", "postgresql"),
        ("EXTERNAL_DB_HOST", "/var/run/postgresql"),
        ("EXTERNAL_DB_USER", "postgres"),
    ])
    .unwrap();
    let s = &c.sources[0].server;
    assert_eq!((s.host.as_str(), s.port), ("/var/run/postgresql", 5432));
    assert_eq!(s.unix_socket(), socket);
    assert_eq!(s.address(), "/var/run/postgresql/.s.PGSQL.5432");

    let c = load_env(&[(
        "STARBASE_EXTERNAL_URL",
        "postgres://app@/shop?host=/var/run/postgresql&sslmode=disable",
    )])
    .unwrap();
    let s = &c.sources[0].server;
    assert_eq!(s.unix_socket(), socket);
    assert_eq!((s.user.as_str(), s.database.as_str()), ("app", "shop"));

    let file = "[[sources]]\nname = \"local\"\ntype = \"postgresql\"\n\
                host = \"/var/run/postgresql\"\nport = 5433\nuser = \"app\"\ntls = \"require\"\n";
    let c = load_file(file).unwrap();
    let s = &c.sources[0].server;
    assert_eq!(
        s.unix_socket(),
        Some(std::path::PathBuf::from(
            "/var/run/postgresql/.s.PGSQL.5433"
        ))
    );
    // check-config shows the socket and that TLS does not apply, and still loads back.
    let text = c.render_masked();
    assert!(
        text.contains(
            "host = \"/var/run/postgresql\" # socket /var/run/postgresql/.s.PGSQL.5433\n"
        ),
        "{text}"
    );
    assert!(text.contains("tls = \"require\" # not used"), "{text}");
    assert_eq!(load_file(&text).unwrap(), c, "{text}");
}

#[test]
fn a_socket_directory_is_refused_for_mysql() {
    let err = load_env(&[
        ("EXTERNAL_DB_TYPE", "mysql"),
        ("EXTERNAL_DB_HOST", "/var/run/mysqld"),
        ("EXTERNAL_DB_USER", "root"),
        ("EXTERNAL_DB_DATABASE", "test"),
    ])
    .unwrap_err();
    assert_source_error(&err, "host", "socket directory");
    assert!(err.to_string().contains("EXTERNAL_DB_HOST"), "{err}");
    let err = load_env(&[("STARBASE_EXTERNAL_URL", "mysql://root@/test?host=/tmp")]).unwrap_err();
    assert_source_error(&err, "host", "PostgreSQL sources");
}
