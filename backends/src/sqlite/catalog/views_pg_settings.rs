//! `pg_settings`: static rows for the settings clients read at connect time
//! (`server_version` 16.0, `standard_conforming_strings`, `DateStyle`, …) with PostgreSQL's
//! columns.
//!
//! Owns the reported values. They are the defaults: `SET` is the gateway's business, and this
//! view does not follow it. Must not know SQLite's schema.

/// Static settings: (name, setting, unit, category, vartype, context).
const SETTINGS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "server_version",
        "16.0",
        "Preset Options",
        "string",
        "internal",
    ),
    (
        "server_version_num",
        "160000",
        "Preset Options",
        "integer",
        "internal",
    ),
    (
        "server_encoding",
        "UTF8",
        "Preset Options",
        "string",
        "internal",
    ),
    (
        "client_encoding",
        "UTF8",
        "Client Connection Defaults",
        "string",
        "user",
    ),
    (
        "DateStyle",
        "ISO, MDY",
        "Client Connection Defaults",
        "string",
        "user",
    ),
    (
        "TimeZone",
        "UTC",
        "Client Connection Defaults",
        "string",
        "user",
    ),
    (
        "IntervalStyle",
        "postgres",
        "Client Connection Defaults",
        "enum",
        "user",
    ),
    (
        "standard_conforming_strings",
        "on",
        "Version and Platform Compatibility",
        "bool",
        "user",
    ),
    (
        "integer_datetimes",
        "on",
        "Preset Options",
        "bool",
        "internal",
    ),
    (
        "search_path",
        "\"$user\", public",
        "Client Connection Defaults",
        "string",
        "user",
    ),
    (
        "max_identifier_length",
        "63",
        "Preset Options",
        "integer",
        "internal",
    ),
    (
        "default_transaction_isolation",
        "read committed",
        "Client Connection Defaults",
        "enum",
        "user",
    ),
    (
        "transaction_isolation",
        "read committed",
        "Client Connection Defaults",
        "string",
        "user",
    ),
    (
        "default_transaction_read_only",
        "off",
        "Client Connection Defaults",
        "bool",
        "user",
    ),
    (
        "application_name",
        "",
        "Reporting and Logging",
        "string",
        "user",
    ),
    (
        "extra_float_digits",
        "1",
        "Client Connection Defaults",
        "integer",
        "user",
    ),
    ("lc_collate", "C", "Preset Options", "string", "internal"),
    ("lc_ctype", "C", "Preset Options", "string", "internal"),
    (
        "lc_messages",
        "C",
        "Client Connection Defaults",
        "string",
        "superuser",
    ),
    (
        "lc_monetary",
        "C",
        "Client Connection Defaults",
        "string",
        "user",
    ),
    (
        "lc_numeric",
        "C",
        "Client Connection Defaults",
        "string",
        "user",
    ),
    (
        "lc_time",
        "C",
        "Client Connection Defaults",
        "string",
        "user",
    ),
    ("is_superuser", "on", "Preset Options", "bool", "internal"),
    (
        "session_authorization",
        "postgres",
        "Preset Options",
        "string",
        "user",
    ),
    (
        "max_connections",
        "100",
        "Connections and Authentication",
        "integer",
        "postmaster",
    ),
    (
        "statement_timeout",
        "0",
        "Client Connection Defaults",
        "integer",
        "user",
    ),
    (
        "lock_timeout",
        "0",
        "Client Connection Defaults",
        "integer",
        "user",
    ),
    (
        "idle_in_transaction_session_timeout",
        "0",
        "Client Connection Defaults",
        "integer",
        "user",
    ),
    (
        "block_size",
        "8192",
        "Preset Options",
        "integer",
        "internal",
    ),
    (
        "bytea_output",
        "hex",
        "Client Connection Defaults",
        "enum",
        "user",
    ),
    (
        "default_text_search_config",
        "pg_catalog.simple",
        "Client Connection Defaults",
        "string",
        "user",
    ),
    (
        "data_directory_mode",
        "0700",
        "Preset Options",
        "integer",
        "internal",
    ),
    (
        "ssl",
        "off",
        "Connections and Authentication",
        "bool",
        "sighup",
    ),
];

/// `pg_settings` with PostgreSQL's columns.
pub(super) fn pg_settings() -> String {
    let rows: Vec<String> = SETTINGS
        .iter()
        .map(|(name, setting, category, vartype, context)| {
            let unit = match *name {
                "statement_timeout" | "lock_timeout" | "idle_in_transaction_session_timeout" => {
                    "'ms'"
                }
                "block_size" => "'B'",
                _ => "NULL",
            };
            let q = |s: &str| format!("'{}'", s.replace('\'', "''"));
            format!(
                "({}, {}, {unit}, {}, {}, {})",
                q(name),
                q(setting),
                q(category),
                q(vartype),
                q(context)
            )
        })
        .collect();
    format!(
        "CREATE TEMP VIEW pg_settings AS
SELECT column1 AS name, column2 AS setting, column3 AS unit, column4 AS category,
       '' AS short_desc, NULL AS extra_desc, column6 AS context, column5 AS vartype,
       'default' AS source, NULL AS min_val, NULL AS max_val, NULL AS enumvals,
       column2 AS boot_val, column2 AS reset_val, NULL AS sourcefile, NULL AS sourceline,
       0 AS pending_restart
  FROM (VALUES {})",
        rows.join(",\n")
    )
}
