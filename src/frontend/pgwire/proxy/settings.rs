//! A pooled client's session settings: its start-up parameters (and `options=-c …`), the
//! session `SET`s it ran, and the reported parameters the server changed for it. They are
//! what a server connection must have before the client's statements run on it.
//!
//! Owns `Settings`, reading them from a start-up packet, and the statement that applies
//! them to a connection (`RESET ALL`, then the client's values), so one client's `SET` never
//! reaches another's statements. Must not know sockets or the relay.

use std::collections::BTreeMap;

use starbase_protocol::sql::pg::SessionEffect;

/// One setting's value and how to apply it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Setting {
    /// A raw value, as a start-up packet or `ParameterStatus` carries it (`set_config`).
    Raw {
        /// The name as given.
        name: String,
        /// The value.
        value: String,
    },
    /// A `SET` statement's value text (`SET name TO value`).
    Sql {
        /// The name as written.
        name: String,
        /// The value's SQL text.
        value: String,
    },
}

/// Settings by lower-cased name.
pub(super) type Settings = BTreeMap<String, Setting>;

/// Reported parameters a client may change (by `SET`, `set_config`, `RESET`) whose
/// `ParameterStatus` tells the proxy the new value.
const TRACKED_REPORTED: [&str; 7] = [
    "application_name",
    "client_encoding",
    "datestyle",
    "intervalstyle",
    "timezone",
    "standard_conforming_strings",
    "search_path",
];

/// The settings a start-up packet asks for.
pub(super) fn from_startup(params: &BTreeMap<String, String>) -> Settings {
    let mut settings = Settings::new();
    for (name, value) in params {
        match name.as_str() {
            "user" | "database" | "replication" => {}
            "options" => {
                for (name, value) in options(value) {
                    insert_raw(&mut settings, &name, &value);
                }
            }
            _ if name.starts_with("_pq_.") => {}
            _ => insert_raw(&mut settings, name, value),
        }
    }
    settings
}

fn insert_raw(settings: &mut Settings, name: &str, value: &str) {
    settings.insert(
        name.to_ascii_lowercase(),
        Setting::Raw {
            name: name.to_owned(),
            value: value.to_owned(),
        },
    );
}

/// `-c name=value` and `--name=value` pairs of an `options` start-up parameter (words split
/// at unescaped spaces, `\` escaping the next character, as the server reads them).
fn options(text: &str) -> Vec<(String, String)> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => word.extend(chars.next()),
            c if c.is_ascii_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut pairs = Vec::new();
    let mut iter = words.into_iter();
    while let Some(word) = iter.next() {
        let pair = if word == "-c" {
            iter.next()
        } else if let Some(rest) = word.strip_prefix("--") {
            Some(rest.to_owned())
        } else {
            word.strip_prefix("-c").map(str::to_owned)
        };
        if let Some((name, value)) = pair.as_deref().and_then(|p| p.split_once('=')) {
            pairs.push((name.replace('-', "_"), value.to_owned()));
        }
    }
    pairs
}

/// Applies a session effect that succeeded outside a transaction block; `startup` is what
/// `RESET ALL` returns to.
pub(super) fn apply(settings: &mut Settings, startup: &Settings, effect: &SessionEffect) {
    match effect {
        SessionEffect::Set { name, value } => {
            settings.insert(
                normalized(name),
                Setting::Sql {
                    name: name.clone(),
                    value: value.clone(),
                },
            );
        }
        SessionEffect::Reset(name) => {
            let key = normalized(name);
            match startup.get(&key) {
                Some(value) => settings.insert(key, value.clone()),
                None => settings.remove(&key),
            };
        }
        SessionEffect::ResetAll => settings.clone_from(startup),
        _ => {}
    }
}

/// Records a reported parameter's new value, when it is one a client can set.
/// True when the settings changed.
pub(super) fn track_reported(settings: &mut Settings, name: &str, value: &str) -> bool {
    let key = name.to_ascii_lowercase();
    if !TRACKED_REPORTED.contains(&key.as_str()) {
        return false;
    }
    let setting = Setting::Raw {
        name: name.to_owned(),
        value: value.to_owned(),
    };
    if settings.get(&key) == Some(&setting) {
        return false;
    }
    settings.insert(key, setting);
    true
}

/// A setting name as the server compares it: unquoted names fold to lower case, quoted ones
/// lose their quotes.
fn normalized(name: &str) -> String {
    name.split('.')
        .map(
            |part| match part.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
                Some(quoted) => quoted.replace("\"\"", "\""),
                None => part.to_ascii_lowercase(),
            },
        )
        .collect::<Vec<_>>()
        .join(".")
        .to_ascii_lowercase()
}

/// The statement that gives a connection exactly these settings.
pub(super) fn setup_sql(settings: &Settings) -> String {
    let mut sql = String::from("RESET ALL");
    let raw: Vec<String> = settings
        .values()
        .filter_map(|s| match s {
            Setting::Raw { name, value } => Some(format!(
                "pg_catalog.set_config({}, {}, false)",
                literal(name),
                literal(value)
            )),
            Setting::Sql { .. } => None,
        })
        .collect();
    if !raw.is_empty() {
        sql.push_str("; SELECT ");
        sql.push_str(&raw.join(", "));
    }
    for setting in settings.values() {
        if let Setting::Sql { name, value } = setting {
            sql.push_str("; SET ");
            sql.push_str(name);
            sql.push_str(" TO ");
            sql.push_str(value);
        }
    }
    sql
}

/// An escape-string literal, whatever `standard_conforming_strings` is.
fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 3);
    out.push_str("E'");
    for c in text.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_parameters_and_options_become_settings() {
        let params: BTreeMap<String, String> = [
            ("user", "u"),
            ("database", "external"),
            ("application_name", "it's"),
            (
                "options",
                "-c search_path=a,b --statement-timeout=5s -cwork_mem=1MB",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let settings = from_startup(&params);
        assert_eq!(
            setup_sql(&settings),
            "RESET ALL; SELECT pg_catalog.set_config(E'application_name', E'it''s', false), \
             pg_catalog.set_config(E'search_path', E'a,b', false), \
             pg_catalog.set_config(E'statement_timeout', E'5s', false), \
             pg_catalog.set_config(E'work_mem', E'1MB', false)"
        );
    }

    #[test]
    fn set_and_reset_follow_the_session() {
        let startup = from_startup(
            &[("TimeZone".to_owned(), "UTC".to_owned())]
                .into_iter()
                .collect(),
        );
        let mut settings = startup.clone();
        let set = |name: &str, value: &str| SessionEffect::Set {
            name: name.to_owned(),
            value: value.to_owned(),
        };
        apply(&mut settings, &startup, &set("Search_Path", "a, \"B\""));
        apply(&mut settings, &startup, &set("timezone", "'Europe/Paris'"));
        assert_eq!(
            setup_sql(&settings),
            "RESET ALL; SET Search_Path TO a, \"B\"; SET timezone TO 'Europe/Paris'"
        );
        apply(
            &mut settings,
            &startup,
            &SessionEffect::Reset("TIMEZONE".to_owned()),
        );
        apply(&mut settings, &startup, &SessionEffect::ResetAll);
        assert_eq!(settings, startup);
        assert!(track_reported(&mut settings, "DateStyle", "German"));
        assert!(!track_reported(&mut settings, "DateStyle", "German"));
        assert!(!track_reported(&mut settings, "server_version", "17"));
    }
}
