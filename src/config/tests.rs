use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt as _;

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

#[test]
fn defaults() {
    let c = Config::load(&CliArgs::default(), &no_env()).unwrap();
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert_eq!(c.http_listen.to_string(), "127.0.0.1:8787");
    assert_eq!(c.pg_listen.to_string(), "127.0.0.1:5433");
    assert!(c.admin_token.is_none() && c.client_token.is_none());
    assert_eq!(c.max_request_bytes, 10 * 1024 * 1024);
    assert_eq!(c.max_response_rows, 100_000);
    assert_eq!(c.statement_timeout, Some(Duration::from_secs(30)));
    assert_eq!(c.sqlite_readers, 4);
}

#[test]
fn layers_file_then_env_then_flags() {
    let (_dir, mut cli) = with_file(
        "http_listen = \"127.0.0.1:1111\"\nmax_request_bytes = \"1MiB\"\nsqlite_readers = 2\nstatement_timeout = \"5s\"\n",
    );
    let c = Config::load(&cli, &no_env()).unwrap();
    assert_eq!(c.http_listen.port(), 1111);
    assert_eq!(c.max_request_bytes, 1 << 20);
    assert_eq!(c.sqlite_readers, 2);
    assert_eq!(c.statement_timeout, Some(Duration::from_secs(5)));

    let env = env_of(&[
        ("STARBASE_HTTP_LISTEN", "127.0.0.1:2222"),
        ("STARBASE_STATEMENT_TIMEOUT", "0"),
    ]);
    let c = Config::load(&cli, &env).unwrap();
    assert_eq!(c.http_listen.port(), 2222);
    assert_eq!(c.statement_timeout, None);
    assert_eq!(
        c.max_request_bytes,
        1 << 20,
        "file value kept where env is silent"
    );

    cli.http_listen = Some("127.0.0.1:3333".into());
    let c = Config::load(&cli, &env).unwrap();
    assert_eq!(c.http_listen.port(), 3333);
}

#[test]
fn config_file_from_env_and_missing_file() {
    let (dir, cli) = with_file("pg_listen = \"127.0.0.1:6543\"\n");
    let path = cli.config.unwrap();
    let path_text = path.to_str().unwrap().to_owned();
    let env = env_of(&[("STARBASE_CONFIG", path_text.as_str())]);
    assert_eq!(
        Config::load(&CliArgs::default(), &env)
            .unwrap()
            .pg_listen
            .port(),
        6543
    );
    let missing = CliArgs {
        config: Some(dir.path().join("nope.toml")),
        ..CliArgs::default()
    };
    let err = Config::load(&missing, &no_env()).unwrap_err();
    assert_eq!(err.sqlstate(), SqlState::IO_ERROR);
    assert!(err.to_string().contains("nope.toml"), "{err}");
}

#[test]
fn starbasedb_token_names_and_precedence() {
    let env = env_of(&[
        ("ADMIN_AUTHORIZATION_TOKEN", "from-starbasedb"),
        ("CLIENT_AUTHORIZATION_TOKEN", "cli"),
    ]);
    let c = Config::load(&CliArgs::default(), &env).unwrap();
    assert_eq!(c.admin_token.unwrap().expose(), "from-starbasedb");
    assert_eq!(c.client_token.unwrap().expose(), "cli");
    let env = env_of(&[
        ("ADMIN_AUTHORIZATION_TOKEN", "from-starbasedb"),
        ("STARBASE_ADMIN_TOKEN", "ours"),
    ]);
    let c = Config::load(&CliArgs::default(), &env).unwrap();
    assert_eq!(c.admin_token.unwrap().expose(), "ours");
    let env = env_of(&[("ADMIN_AUTHORIZATION_TOKEN", "  ")]);
    assert!(
        Config::load(&CliArgs::default(), &env)
            .unwrap()
            .admin_token
            .is_none(),
        "blank is unset"
    );
}

#[test]
fn unknown_file_key_is_named() {
    let (_dir, cli) = with_file("http_listen = \"127.0.0.1:1\"\nhttp_lisen = \"x\"\n");
    let err = Config::load(&cli, &no_env()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("http_lisen"), "{text}");
    assert!(text.contains("starbase.toml"), "{text}");
    assert_eq!(err.sqlstate(), SqlState::INVALID_PARAMETER_VALUE);
}

#[test]
fn bad_values_name_setting_and_origin() {
    let env = env_of(&[("STARBASE_MAX_REQUEST_BYTES", "ten")]);
    let text = Config::load(&CliArgs::default(), &env)
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("max_request_bytes") && text.contains("STARBASE_MAX_REQUEST_BYTES"),
        "{text}"
    );

    let cli = CliArgs {
        statement_timeout: Some("later".into()),
        ..CliArgs::default()
    };
    let text = Config::load(&cli, &no_env()).unwrap_err().to_string();
    assert!(
        text.contains("statement_timeout") && text.contains("--statement-timeout"),
        "{text}"
    );

    let (_dir, cli) = with_file("http_listen = \"nowhere\"\n");
    let text = Config::load(&cli, &no_env()).unwrap_err().to_string();
    assert!(
        text.contains("http_listen") && text.contains("key \"http_listen\""),
        "{text}"
    );

    let env = env_of(&[("STARBASE_SQLITE_READERS", "0")]);
    let text = Config::load(&CliArgs::default(), &env)
        .unwrap_err()
        .to_string();
    assert!(text.contains("sqlite_readers"), "{text}");
}

#[test]
fn admin_token_is_generated_once_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::for_tests(&dir.path().join("data"));
    let token = ensure_admin_token(&mut c).unwrap().expect("a new token");
    assert_eq!(token.len(), 64);
    assert_ne!(token, "ABC123");
    assert_eq!(c.admin_token.as_ref().unwrap().expose(), token);
    let path = dir.path().join("data").join(ADMIN_TOKEN_FILE);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let mut again = Config::for_tests(&dir.path().join("data"));
    assert_eq!(
        ensure_admin_token(&mut again).unwrap(),
        None,
        "not printed twice"
    );
    assert_eq!(again.admin_token.unwrap().expose(), token);

    let other = tempfile::tempdir().unwrap();
    let mut configured = Config::for_tests(other.path());
    configured.admin_token = Some(Secret::new("given".into()));
    assert_eq!(ensure_admin_token(&mut configured).unwrap(), None);
    assert!(
        !other.path().join(ADMIN_TOKEN_FILE).exists(),
        "configured tokens stay off disk"
    );
}

#[test]
fn masked_rendering_hides_secrets() {
    let env = env_of(&[
        ("ADMIN_AUTHORIZATION_TOKEN", "s3cr3t-admin"),
        ("STARBASE_CLIENT_TOKEN", "s3cr3t-client"),
    ]);
    let c = Config::load(&CliArgs::default(), &env).unwrap();
    let text = c.render_masked();
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(text.contains("admin_token = \"***\""), "{text}");
    assert!(format!("{c:?}").contains("***") && !format!("{c:?}").contains("s3cr3t"));
    let parsed: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(parsed["http_listen"].as_str(), Some("127.0.0.1:8787"));
}
