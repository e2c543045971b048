//! Session settings (PostgreSQL's GUCs) for one pgwire connection: defaults, `SET`, `RESET`,
//! `SET LOCAL`, `SHOW`, and which changes are reported to the client as `ParameterStatus`.
//!
//! Owns `Settings` and the table of known settings. Any name may be set (drivers set
//! settings the gateway has no use for, and custom `app.x` names are common); `SHOW` of a
//! name that was never set and is not known is `42704`, as in PostgreSQL. Must not know the
//! wire encoding or the backend.

use std::collections::BTreeMap;

use starbase_protocol::{DbError, SqlState};

/// The PostgreSQL version the gateway reports (psql and drivers pick their catalog queries by
/// it).
pub const SERVER_VERSION: &str = "16.0";

/// Known settings: lowercase name, default value.
const DEFAULTS: &[(&str, &str)] = &[
    ("application_name", ""),
    ("bytea_output", "hex"),
    ("client_encoding", "UTF8"),
    ("client_min_messages", "notice"),
    ("datestyle", "ISO, MDY"),
    ("default_transaction_isolation", "serializable"),
    ("default_transaction_read_only", "off"),
    ("extra_float_digits", "1"),
    ("idle_in_transaction_session_timeout", "60s"),
    ("in_hot_standby", "off"),
    ("integer_datetimes", "on"),
    ("intervalstyle", "postgres"),
    ("lc_collate", "C"),
    ("lc_ctype", "C"),
    ("lc_messages", "C"),
    ("lc_monetary", "C"),
    ("lc_numeric", "C"),
    ("lc_time", "C"),
    ("lock_timeout", "0"),
    ("max_identifier_length", "63"),
    ("search_path", "\"$user\", public"),
    ("server_encoding", "UTF8"),
    ("server_version", SERVER_VERSION),
    ("server_version_num", "160000"),
    ("standard_conforming_strings", "on"),
    ("statement_timeout", "0"),
    ("timezone", "UTC"),
    ("timezone_abbreviations", "Default"),
    ("transaction_isolation", "serializable"),
    ("transaction_read_only", "off"),
];

/// Settings reported in `ParameterStatus` at start-up and whenever they change.
pub const REPORTED: &[&str] = &[
    "application_name",
    "client_encoding",
    "datestyle",
    "default_transaction_read_only",
    "in_hot_standby",
    "integer_datetimes",
    "intervalstyle",
    "search_path",
    "server_encoding",
    "server_version",
    "standard_conforming_strings",
    "timezone",
];

/// Settings a client may not change.
const READ_ONLY: &[&str] = &[
    "server_version",
    "server_version_num",
    "server_encoding",
    "integer_datetimes",
    "max_identifier_length",
    "lc_collate",
    "lc_ctype",
    "in_hot_standby",
];

/// The default of a known setting.
#[must_use]
pub fn default_value(name: &str) -> Option<String> {
    DEFAULTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| (*v).to_owned())
}

/// The spelling PostgreSQL uses in `ParameterStatus` (`DateStyle`, `TimeZone`, …).
#[must_use]
pub fn reported_name(name: &str) -> &str {
    match name {
        "datestyle" => "DateStyle",
        "timezone" => "TimeZone",
        "intervalstyle" => "IntervalStyle",
        other => other,
    }
}

/// One connection's settings.
#[derive(Debug, Default, Clone)]
pub struct Settings {
    /// Values set in this session (lowercase names).
    values: BTreeMap<String, String>,
    /// Values to restore when the transaction ends (`SET LOCAL`).
    restore: Vec<(String, Option<String>)>,
}

impl Settings {
    /// Settings with the start-up options the client sent (`application_name`,
    /// `options=-c x=y` are applied by the caller through [`Settings::set`]).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The current value of `name` (lowercase), or `None` for an unknown setting.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<String> {
        self.values
            .get(name)
            .cloned()
            .or_else(|| default_value(name))
    }

    /// `SET [LOCAL] name = value`. Returns the `ParameterStatus` to send, when the setting is
    /// reported.
    ///
    /// # Errors
    /// `55P02` for a read-only setting, `22023` for an encoding other than UTF8.
    pub fn set(
        &mut self,
        name: &str,
        value: &str,
        local: bool,
    ) -> Result<Option<(String, String)>, DbError> {
        let value = self.check(name, value)?;
        if local {
            self.restore
                .push((name.to_owned(), self.values.get(name).cloned()));
        }
        self.values.insert(name.to_owned(), value.clone());
        Ok(REPORTED
            .contains(&name)
            .then(|| (reported_name(name).to_owned(), value)))
    }

    /// `SET name TO DEFAULT` / `RESET name`.
    ///
    /// # Errors
    /// As [`Settings::set`].
    pub fn reset(&mut self, name: &str, local: bool) -> Result<Option<(String, String)>, DbError> {
        if READ_ONLY.contains(&name) {
            return Err(read_only(name));
        }
        if local {
            self.restore
                .push((name.to_owned(), self.values.get(name).cloned()));
        }
        self.values.remove(name);
        Ok(REPORTED.contains(&name).then(|| {
            (
                reported_name(name).to_owned(),
                default_value(name).unwrap_or_default(),
            )
        }))
    }

    /// `RESET ALL`: every reported setting that changed, with its default again.
    pub fn reset_all(&mut self) -> Vec<(String, String)> {
        let changed: Vec<String> = self
            .values
            .keys()
            .filter(|k| REPORTED.contains(&k.as_str()))
            .cloned()
            .collect();
        self.values.clear();
        changed
            .into_iter()
            .map(|name| {
                let value = default_value(&name).unwrap_or_default();
                (reported_name(&name).to_owned(), value)
            })
            .collect()
    }

    /// The transaction ended: undo its `SET LOCAL`s. Returns the reported ones that changed.
    pub fn end_transaction(&mut self) -> Vec<(String, String)> {
        let mut reports = Vec::new();
        while let Some((name, old)) = self.restore.pop() {
            match old {
                Some(v) => self.values.insert(name.clone(), v),
                None => self.values.remove(&name),
            };
            if REPORTED.contains(&name.as_str()) {
                reports.push((
                    reported_name(&name).to_owned(),
                    self.get(&name).unwrap_or_default(),
                ));
            }
        }
        reports
    }

    /// `SHOW name`.
    ///
    /// # Errors
    /// `42704` for a setting that is neither known nor set.
    pub fn show(&self, name: &str) -> Result<String, DbError> {
        self.get(name).ok_or_else(|| {
            DbError::new(
                SqlState::UNDEFINED_OBJECT,
                format!("unrecognized configuration parameter \"{name}\""),
            )
        })
    }

    /// `SHOW ALL`: every known or set setting with its value.
    #[must_use]
    pub fn all(&self) -> Vec<(String, String)> {
        let mut all: BTreeMap<String, String> = DEFAULTS
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        all.extend(self.values.clone());
        all.into_iter().collect()
    }

    fn check(&self, name: &str, value: &str) -> Result<String, DbError> {
        if READ_ONLY.contains(&name) {
            return Err(read_only(name));
        }
        if name == "client_encoding" {
            let normalized = value.replace(['-', '_'], "").to_ascii_uppercase();
            if normalized != "UTF8" && normalized != "UNICODE" {
                return Err(DbError::new(
                    SqlState::FEATURE_NOT_SUPPORTED,
                    format!("conversion between {value} and UTF8 is not supported"),
                ));
            }
            return Ok("UTF8".to_owned());
        }
        Ok(value.to_owned())
    }
}

fn read_only(name: &str) -> DbError {
    DbError::new(
        SqlState::CANT_CHANGE_RUNTIME_PARAM,
        format!("parameter \"{name}\" cannot be changed"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_show_reset_and_local() {
        let mut s = Settings::new();
        assert_eq!(s.show("datestyle").unwrap(), "ISO, MDY");
        assert_eq!(
            s.set("application_name", "psql", false).unwrap(),
            Some(("application_name".to_owned(), "psql".to_owned()))
        );
        assert_eq!(s.set("extra_float_digits", "3", false).unwrap(), None);
        assert_eq!(s.show("extra_float_digits").unwrap(), "3");
        s.set("myapp.user_id", "42", false).unwrap();
        assert_eq!(s.show("myapp.user_id").unwrap(), "42");
        assert_eq!(s.show("nope").unwrap_err().code, SqlState::UNDEFINED_OBJECT);
        s.set("timezone", "Europe/Paris", true).unwrap();
        assert_eq!(s.show("timezone").unwrap(), "Europe/Paris");
        assert_eq!(
            s.end_transaction(),
            vec![("TimeZone".to_owned(), "UTC".to_owned())]
        );
        assert_eq!(s.show("timezone").unwrap(), "UTC");
        assert_eq!(
            s.reset_all(),
            vec![("application_name".to_owned(), String::new())]
        );
        assert_eq!(s.show("extra_float_digits").unwrap(), "1");
        assert!(s.set("server_version", "1", false).is_err());
        assert_eq!(
            s.set("client_encoding", "latin1", false).unwrap_err().code,
            SqlState::FEATURE_NOT_SUPPORTED
        );
        assert!(s.set("client_encoding", "utf-8", false).is_ok());
    }
}
