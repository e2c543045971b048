use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt as _;

use starbase_protocol::SqlState;

use super::*;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

fn no_env() -> impl Fn(&str) -> Option<String> + use<> {
    env_of(&[])
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

fn load_err(cli: &CliArgs, env: &dyn Fn(&str) -> Option<String>) -> ConfigError {
    Config::load(cli, env).unwrap_err()
}

#[test]
fn defaults() {
    let c = Config::load(&CliArgs::default(), &no_env()).unwrap();
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert_eq!(c.http_listen.to_string(), "127.0.0.1:8787");
    assert_eq!(c.pg_listen.to_string(), "127.0.0.1:5433");
    assert!(c.admin_token.is_none() && c.client_token.is_none());
    assert_eq!(c.max_request_bytes, 10_485_760);
    assert_eq!(c.max_response_bytes, 32 * 1024 * 1024);
    assert_eq!(c.max_response_rows, 100_000);
    assert_eq!(c.statement_timeout, Some(Duration::from_secs(30)));
    assert_eq!(c.sqlite_readers, 4);
    assert_eq!(c.log, "info");
    assert!(c.warnings().is_empty());
}

const FULL_FILE: &str = r#"
data_dir = "/srv/file"
http_listen = "127.0.0.1:1001"
pg_listen = "127.0.0.1:1002"
admin_token = "file-admin"
client_token = "file-client"
max_request_bytes = "1KiB"
max_response_bytes = 2048
max_response_rows = 3
statement_timeout = "4s"
sqlite_readers = 5
log = "debug"
"#;

#[test]
fn file_overrides_every_default() {
    let (_dir, cli) = with_file(FULL_FILE);
    let c = Config::load(&cli, &no_env()).unwrap();
    assert_eq!(c.data_dir, PathBuf::from("/srv/file"));
    assert_eq!((c.http_listen.port(), c.pg_listen.port()), (1001, 1002));
    assert_eq!(c.admin_token.unwrap().expose(), "file-admin");
    assert_eq!(c.client_token.unwrap().expose(), "file-client");
    assert_eq!((c.max_request_bytes, c.max_response_bytes), (1024, 2048));
    assert_eq!(c.max_response_rows, 3);
    assert_eq!(c.statement_timeout, Some(Duration::from_secs(4)));
    assert_eq!(c.sqlite_readers, 5);
    assert_eq!(c.log, "debug");
}

#[test]
fn env_overrides_file_for_every_setting() {
    let (_dir, cli) = with_file(FULL_FILE);
    let env = env_of(&[
        ("STARBASE_DATA_DIR", "/srv/env"),
        ("STARBASE_HTTP_LISTEN", "127.0.0.1:2001"),
        ("STARBASE_PG_LISTEN", "127.0.0.1:2002"),
        ("STARBASE_ADMIN_TOKEN", "env-admin"),
        ("STARBASE_CLIENT_TOKEN", "env-client"),
        ("STARBASE_MAX_REQUEST_BYTES", "2KiB"),
        ("STARBASE_MAX_RESPONSE_BYTES", "3KB"),
        ("STARBASE_MAX_RESPONSE_ROWS", "30"),
        ("STARBASE_STATEMENT_TIMEOUT", "0"),
        ("STARBASE_SQLITE_READERS", "6"),
        ("STARBASE_LOG", "warn"),
    ]);
    let c = Config::load(&cli, &env).unwrap();
    assert_eq!(c.data_dir, PathBuf::from("/srv/env"));
    assert_eq!((c.http_listen.port(), c.pg_listen.port()), (2001, 2002));
    assert_eq!(c.admin_token.unwrap().expose(), "env-admin");
    assert_eq!(c.client_token.unwrap().expose(), "env-client");
    assert_eq!((c.max_request_bytes, c.max_response_bytes), (2048, 3000));
    assert_eq!(c.max_response_rows, 30);
    assert_eq!(c.statement_timeout, None, "0 disables");
    assert_eq!(c.sqlite_readers, 6);
    assert_eq!(c.log, "warn");
}

#[test]
fn flags_override_env_for_every_setting() {
    let (_dir, file_cli) = with_file(FULL_FILE);
    let env = env_of(&[
        ("STARBASE_DATA_DIR", "/srv/env"),
        ("STARBASE_HTTP_LISTEN", "127.0.0.1:2001"),
        ("STARBASE_PG_LISTEN", "127.0.0.1:2002"),
        ("STARBASE_ADMIN_TOKEN", "env-admin"),
        ("CLIENT_AUTHORIZATION_TOKEN", "env-client"),
        ("STARBASE_MAX_REQUEST_BYTES", "2KiB"),
        ("STARBASE_SQLITE_READERS", "6"),
        ("STARBASE_LOG", "warn"),
    ]);
    let cli = CliArgs {
        data_dir: Some("/srv/flag".into()),
        http_listen: Some("127.0.0.1:3001".into()),
        pg_listen: Some("[::1]:3002".into()),
        admin_token: Some("flag-admin".into()),
        client_token: Some("flag-client".into()),
        max_request_bytes: Some("3KiB".into()),
        max_response_bytes: Some("1MiB".into()),
        max_response_rows: Some("300".into()),
        statement_timeout: Some("1m 30s".into()),
        sqlite_readers: Some("7".into()),
        log: Some("starbase=trace,info".into()),
        ..file_cli
    };
    let c = Config::load(&cli, &env).unwrap();
    assert_eq!(c.data_dir, PathBuf::from("/srv/flag"));
    assert_eq!(
        (c.http_listen.port(), c.pg_listen.to_string().as_str()),
        (3001, "[::1]:3002")
    );
    assert_eq!(c.admin_token.unwrap().expose(), "flag-admin");
    assert_eq!(c.client_token.unwrap().expose(), "flag-client");
    assert_eq!((c.max_request_bytes, c.max_response_bytes), (3072, 1 << 20));
    assert_eq!(c.max_response_rows, 300);
    assert_eq!(c.statement_timeout, Some(Duration::from_secs(90)));
    assert_eq!(c.sqlite_readers, 7);
    assert_eq!(c.log, "starbase=trace,info");
}

#[test]
fn config_file_from_env_flag_wins_and_missing_file_is_an_error() {
    let (dir, cli) = with_file("pg_listen = \"127.0.0.1:6543\"\n");
    let path = cli.config.unwrap();
    let env = env_of(&[("STARBASE_CONFIG", path.to_str().unwrap())]);
    let c = Config::load(&CliArgs::default(), &env).unwrap();
    assert_eq!(c.pg_listen.port(), 6543);

    let missing = CliArgs {
        config: Some(dir.path().join("nope.toml")),
        ..CliArgs::default()
    };
    let err = load_err(&missing, &env);
    assert_eq!(err.sqlstate(), SqlState::IO_ERROR);
    assert!(
        err.to_string().contains("nope.toml"),
        "--config wins: {err}"
    );

    let env = env_of(&[("STARBASE_CONFIG", "/nonexistent/starbase.toml")]);
    assert_eq!(
        load_err(&CliArgs::default(), &env).sqlstate(),
        SqlState::IO_ERROR
    );
    let env = env_of(&[("STARBASE_CONFIG", "")]);
    assert!(
        Config::load(&CliArgs::default(), &env).is_ok(),
        "blank: no file"
    );
}

#[test]
fn starbasedb_token_names_and_precedence() {
    let env = env_of(&[
        ("ADMIN_AUTHORIZATION_TOKEN", "from-starbasedb"),
        ("CLIENT_AUTHORIZATION_TOKEN", "client-from-starbasedb"),
    ]);
    let c = Config::load(&CliArgs::default(), &env).unwrap();
    assert_eq!(c.admin_token.unwrap().expose(), "from-starbasedb");
    assert_eq!(c.client_token.unwrap().expose(), "client-from-starbasedb");

    let env = env_of(&[
        ("ADMIN_AUTHORIZATION_TOKEN", "from-starbasedb"),
        ("STARBASE_ADMIN_TOKEN", "ours"),
        ("CLIENT_AUTHORIZATION_TOKEN", "client-from-starbasedb"),
        ("STARBASE_CLIENT_TOKEN", "our-client"),
    ]);
    let c = Config::load(&CliArgs::default(), &env).unwrap();
    assert_eq!(c.admin_token.unwrap().expose(), "ours");
    assert_eq!(c.client_token.unwrap().expose(), "our-client");
}

#[test]
fn blank_tokens_count_as_not_set_in_every_layer() {
    let env = env_of(&[("ADMIN_AUTHORIZATION_TOKEN", "  ")]);
    assert!(
        Config::load(&CliArgs::default(), &env)
            .unwrap()
            .admin_token
            .is_none()
    );

    let env = env_of(&[
        ("STARBASE_ADMIN_TOKEN", ""),
        ("ADMIN_AUTHORIZATION_TOKEN", "alias"),
    ]);
    let c = Config::load(&CliArgs::default(), &env).unwrap();
    assert_eq!(
        c.admin_token.unwrap().expose(),
        "alias",
        "blank ours falls through"
    );

    let (_dir, mut cli) = with_file("admin_token = \"\"\nclient_token = \" tok \"\n");
    cli.admin_token = Some(String::new());
    let c = Config::load(&cli, &no_env()).unwrap();
    assert!(c.admin_token.is_none(), "blank flag and blank file");
    assert_eq!(c.client_token.unwrap().expose(), "tok", "trimmed");
}

#[test]
fn blank_env_values_are_ignored_but_blank_flags_are_refused() {
    let (_dir, cli) = with_file("http_listen = \"127.0.0.1:1111\"\n");
    let env = env_of(&[("STARBASE_HTTP_LISTEN", ""), ("STARBASE_LOG", " ")]);
    let c = Config::load(&cli, &env).unwrap();
    assert_eq!(c.http_listen.port(), 1111);
    assert_eq!(c.log, "info");
    let cli = CliArgs {
        http_listen: Some(String::new()),
        ..CliArgs::default()
    };
    assert_eq!(load_err(&cli, &no_env()).setting(), Some("http_listen"));
    let cli = CliArgs {
        data_dir: Some(PathBuf::new()),
        ..CliArgs::default()
    };
    assert_eq!(load_err(&cli, &no_env()).setting(), Some("data_dir"));
}

#[test]
fn unknown_file_key_is_named() {
    let (_dir, cli) = with_file("http_listen = \"127.0.0.1:1\"\nhttp_lisen = \"x\"\n");
    let err = load_err(&cli, &no_env());
    let text = err.to_string();
    assert!(text.contains("http_lisen"), "{text}");
    assert!(
        text.contains("starbase.toml") && text.contains("line 2"),
        "{text}"
    );
    assert_eq!(err.sqlstate(), SqlState::INVALID_PARAMETER_VALUE);
}

fn assert_invalid(err: &ConfigError, setting: &str, origin: &Origin, mentions: &str) {
    let text = err.to_string();
    assert_eq!(err.sqlstate(), SqlState::INVALID_PARAMETER_VALUE, "{text}");
    match err {
        ConfigError::Invalid {
            setting: s,
            origin: o,
            ..
        } => {
            assert_eq!((*s, o), (setting, origin), "{text}");
        }
        other => panic!("not Invalid: {other:?}"),
    }
    assert!(text.contains(setting) && text.contains(mentions), "{text}");
}

#[test]
fn bad_values_name_setting_and_origin() {
    let env = env_of(&[("STARBASE_MAX_REQUEST_BYTES", "ten")]);
    let err = load_err(&CliArgs::default(), &env);
    let origin = Origin::Env("STARBASE_MAX_REQUEST_BYTES");
    assert_invalid(
        &err,
        "max_request_bytes",
        &origin,
        "STARBASE_MAX_REQUEST_BYTES",
    );

    let cli = CliArgs {
        statement_timeout: Some("later".into()),
        ..CliArgs::default()
    };
    let err = load_err(&cli, &no_env());
    let origin = Origin::Flag("--statement-timeout");
    assert_invalid(&err, "statement_timeout", &origin, "--statement-timeout");

    let (_dir, cli) = with_file("http_listen = \"nowhere\"\n");
    let err = load_err(&cli, &no_env());
    let origin = Origin::File(cli.config.unwrap());
    assert_invalid(&err, "http_listen", &origin, "starbase.toml");

    let env = env_of(&[("STARBASE_SQLITE_READERS", "0")]);
    let err = load_err(&CliArgs::default(), &env);
    assert_invalid(
        &err,
        "sqlite_readers",
        &Origin::Env("STARBASE_SQLITE_READERS"),
        "\"0\"",
    );

    let (_dir, cli) = with_file("sqlite_readers = 0\nmax_response_rows = -1\n");
    let err = load_err(&cli, &no_env());
    assert_invalid(
        &err,
        "max_response_rows",
        &Origin::File(cli.config.unwrap()),
        "-1",
    );

    let cli = CliArgs {
        log: Some("starbase=shouty".into()),
        max_response_bytes: Some("5M".into()),
        ..CliArgs::default()
    };
    let err = load_err(&cli, &no_env());
    assert_invalid(
        &err,
        "max_response_bytes",
        &Origin::Flag("--max-response-bytes"),
        "ambiguous",
    );
}

#[test]
fn conflicting_settings_are_refused() {
    let env = env_of(&[("STARBASE_PG_LISTEN", "127.0.0.1:8787")]);
    let err = load_err(&CliArgs::default(), &env);
    assert_invalid(
        &err,
        "pg_listen",
        &Origin::Env("STARBASE_PG_LISTEN"),
        "HTTP address",
    );

    let cli = CliArgs {
        http_listen: Some("127.0.0.1:0".into()),
        pg_listen: Some("127.0.0.1:0".into()),
        ..CliArgs::default()
    };
    assert!(
        Config::load(&cli, &no_env()).is_ok(),
        "port 0 twice is fine"
    );

    let env = env_of(&[
        ("ADMIN_AUTHORIZATION_TOKEN", "same"),
        ("CLIENT_AUTHORIZATION_TOKEN", "same"),
    ]);
    let err = load_err(&CliArgs::default(), &env);
    assert_invalid(
        &err,
        "client_token",
        &Origin::Env("CLIENT_AUTHORIZATION_TOKEN"),
        "admin",
    );
    assert!(
        !err.to_string().contains("same"),
        "never echo a token: {err}"
    );
}

#[test]
fn published_starbasedb_tokens_are_warned_about() {
    let env = env_of(&[
        ("ADMIN_AUTHORIZATION_TOKEN", "ABC123"),
        ("CLIENT_AUTHORIZATION_TOKEN", "DEF456"),
    ]);
    let c = Config::load(&CliArgs::default(), &env).unwrap();
    let warnings = c.warnings();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].contains("admin") && warnings[0].contains("ABC123"));
}

#[test]
fn admin_token_is_generated_once_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut c = Config::for_tests(&data);
    let token = ensure_admin_token(&mut c).unwrap().expect("a new token");
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    assert_eq!(c.admin_token.as_ref().unwrap().expose(), token);
    let path = data.join(ADMIN_TOKEN_FILE);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        mode(&data),
        0o700,
        "a data directory created here is private"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("{token}\n")
    );
    let names: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [ADMIN_TOKEN_FILE], "no temporary file left");

    let mut again = Config::for_tests(&data);
    assert_eq!(
        ensure_admin_token(&mut again).unwrap(),
        None,
        "not printed twice"
    );
    assert_eq!(again.admin_token.unwrap().expose(), token);

    assert_ne!(generate_in_fresh_dir(), token, "tokens are random");
}

fn generate_in_fresh_dir() -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::for_tests(dir.path());
    ensure_admin_token(&mut c).unwrap().unwrap()
}

#[test]
fn configured_token_stays_off_disk_and_blank_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let mut configured = Config::for_tests(dir.path());
    configured.admin_token = Some(Secret::new("given".into()));
    assert_eq!(ensure_admin_token(&mut configured).unwrap(), None);
    assert_eq!(configured.admin_token.unwrap().expose(), "given");
    assert!(
        !dir.path().join(ADMIN_TOKEN_FILE).exists(),
        "configured tokens stay off disk"
    );

    let path = dir.path().join(ADMIN_TOKEN_FILE);
    std::fs::write(&path, "\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut c = Config::for_tests(dir.path());
    let token = ensure_admin_token(&mut c)
        .unwrap()
        .expect("blank file: a new token");
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), token);
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );

    std::fs::write(&path, "  hand-written\n").unwrap();
    let mut c = Config::for_tests(dir.path());
    assert_eq!(ensure_admin_token(&mut c).unwrap(), None);
    assert_eq!(c.admin_token.unwrap().expose(), "hand-written");
}

#[test]
fn uncreatable_data_dir_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let mut c = Config::for_tests(&not_a_dir.join("data"));
    let err = ensure_admin_token(&mut c).unwrap_err();
    assert_eq!(err.sqlstate(), SqlState::IO_ERROR, "{err}");
}

#[test]
fn masked_rendering_hides_secrets_and_reloads() {
    let env = env_of(&[
        ("ADMIN_AUTHORIZATION_TOKEN", "s3cr3t-admin"),
        ("STARBASE_CLIENT_TOKEN", "s3cr3t-client"),
        ("STARBASE_MAX_REQUEST_BYTES", "1MiB"),
    ]);
    let c = Config::load(&CliArgs::default(), &env).unwrap();
    let text = c.render_masked();
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(text.contains("admin_token = \"***\""), "{text}");
    assert!(text.contains("max_request_bytes = 1048576"), "{text}");
    let debug = format!("{c:?}");
    assert!(
        debug.contains("***") && !debug.contains("s3cr3t"),
        "{debug}"
    );

    // Without tokens the output is a complete starbase.toml that loads to the same config.
    let cli = CliArgs {
        statement_timeout: Some("0".into()),
        data_dir: Some("/srv/x y".into()),
        ..CliArgs::default()
    };
    let c = Config::load(&cli, &no_env()).unwrap();
    let text = c.render_masked();
    assert!(text.contains("# admin_token = (not set; "), "{text}");
    assert!(text.contains("# client_token = (not set; "), "{text}");
    let (_dir, reload) = with_file(&text);
    assert_eq!(Config::load(&reload, &no_env()).unwrap(), c, "{text}");
}

#[test]
fn example_file_lists_every_key_with_its_default() {
    let text = include_str!("../../starbase.example.toml");
    let (_dir, cli) = with_file(text);
    let defaults = Config::load(&CliArgs::default(), &no_env()).unwrap();
    assert_eq!(Config::load(&cli, &no_env()).unwrap(), defaults);
    // The commented-out tokens are valid keys too.
    let uncommented = text
        .replace("# admin_token =", "admin_token =")
        .replace("# client_token =", "client_token =");
    let (_dir, cli) = with_file(&uncommented);
    let c = Config::load(&cli, &no_env()).unwrap();
    assert!(c.admin_token.is_some() && c.client_token.is_some());
    // So are the commented-out sources.
    let sources = text
        .split("# [[sources]]")
        .skip(1)
        .map(|table| {
            let fields: Vec<&str> = table
                .lines()
                .filter_map(|l| l.strip_prefix("# "))
                .filter(|l| l.contains(" = "))
                .collect();
            format!("[[sources]]\n{}\n", fields.join("\n"))
        })
        .collect::<String>();
    let (_dir, cli) = with_file(&sources);
    let c = Config::load(&cli, &no_env()).unwrap();
    let names: Vec<_> = c.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["external", "legacy"]);
}
