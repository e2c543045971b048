//! The PostgreSQL scalar functions that need nothing but their arguments: `regexp`,
//! `format_type`, visibility and privilege checks, descriptions, `quote_ident`, string
//! helpers, `md5`, `gen_random_uuid`, `txid_current`, and the `starbase_decl_*` helpers the
//! views use to describe declared types.
//!
//! Owns what each returns for NULL and odd input. Must not know the catalog views or the
//! per-connection snapshot (see `lookups`).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use md5::{Digest, Md5};
use regex::Regex;
use rusqlite::Connection;
use rusqlite::functions::Context;
use starbase_protocol::pgtype::{PgType, relation_oid};

use super::args::{PURE, VOLATILE, add, int, is_null, pg_error, text};
use super::ddl;
use super::text as pg;
use super::typmod;

/// Registers every function of this module on `conn`.
pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    add(conn, "regexp", &[2], PURE, regexp)?;
    add(conn, "regexp_replace", &[3, 4], PURE, regexp_replace)?;
    register_constants(conn)?;
    register_types(conn)?;
    register_schema(conn)?;
    register_strings(conn)?;
    register_volatile(conn)
}

/// `regexp(pattern, text)`, what SQLite's `text REGEXP pattern` calls. The compiled pattern
/// (or its compile error) is cached as the argument's auxiliary data for the statement.
fn regexp(ctx: &Context<'_>) -> rusqlite::Result<Option<bool>> {
    if is_null(ctx, 0) || is_null(ctx, 1) {
        return Ok(None);
    }
    type Compiled = Result<Regex, String>;
    let compiled: Arc<Compiled> = ctx.get_or_create_aux(0, |_| -> Result<Compiled, String> {
        let pattern = text(ctx, 0).unwrap_or_default();
        Ok(Regex::new(&pattern).map_err(|e| regex_error(&e)))
    })?;
    match compiled.as_ref() {
        Ok(re) => Ok(Some(re.is_match(&text(ctx, 1).unwrap_or_default()))),
        Err(message) => Err(pg_error(message.clone())),
    }
}

/// `invalid regular expression: <reason>` on one line (the `regex` crate's syntax errors
/// draw the pattern over several lines; the reason is the `error:` line).
fn regex_error(err: &regex::Error) -> String {
    let text = err.to_string();
    let reason = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or_else(|| text.lines().next().unwrap_or_default());
    format!("invalid regular expression: {reason}")
}

/// `regexp_replace(source, pattern, replacement[, flags])`: the first match replaced, every
/// match with flag `g`; `i` ignores case. `\\1`…`\\9` and `\\&` in the replacement name groups.
fn regexp_replace(ctx: &Context<'_>) -> rusqlite::Result<Option<String>> {
    let (Some(source), Some(pattern), Some(replacement)) =
        (text(ctx, 0), text(ctx, 1), text(ctx, 2))
    else {
        return Ok(None);
    };
    let flags = text(ctx, 3).unwrap_or_default();
    let pattern = if flags.contains('i') {
        format!("(?i){pattern}")
    } else {
        pattern
    };
    let re = Regex::new(&pattern).map_err(|e| pg_error(regex_error(&e)))?;
    let replacement = pg::regex_replacement(&replacement);
    Ok(Some(if flags.contains('g') {
        re.replace_all(&source, replacement.as_str()).into_owned()
    } else {
        re.replace(&source, replacement.as_str()).into_owned()
    }))
}

/// Functions whose answer is fixed: visibility, privileges, owners, descriptions.
fn register_constants(conn: &Connection) -> rusqlite::Result<()> {
    let one = |ctx: &Context<'_>| Ok((!is_null(ctx, 0)).then_some(1));
    for name in [
        "pg_table_is_visible",
        "pg_type_is_visible",
        "pg_function_is_visible",
        "pg_collation_is_visible",
        "pg_opclass_is_visible",
        "pg_operator_is_visible",
        "pg_conversion_is_visible",
        "pg_statistics_obj_is_visible",
    ] {
        add(conn, name, &[1], PURE, one)?;
    }
    for name in [
        "has_table_privilege",
        "has_schema_privilege",
        "has_database_privilege",
        "has_column_privilege",
        "pg_has_role",
    ] {
        add(conn, name, &[2, 3, 4], PURE, |_| Ok(1))?;
    }
    let null = |_: &Context<'_>| Ok(None::<String>);
    add(conn, "obj_description", &[1, 2], PURE, null)?;
    add(conn, "col_description", &[2], PURE, null)?;
    add(conn, "shobj_description", &[2], PURE, null)?;
    add(conn, "pg_get_serial_sequence", &[2], PURE, null)?;
    // Definitions of objects SQLite has none of (their catalogs are empty); psql's `\d`
    // names them in queries over those catalogs.
    for name in [
        "pg_get_statisticsobjdef",
        "pg_get_statisticsobjdef_columns",
        "pg_get_statisticsobjdef_expressions",
        "pg_get_triggerdef",
        "pg_get_ruledef",
        "pg_get_partkeydef",
        "pg_get_partition_constraintdef",
        "pg_get_function_arguments",
        "pg_get_function_result",
    ] {
        add(conn, name, &[1, 2], PURE, null)?;
    }
    add(conn, "pg_is_in_recovery", &[0], PURE, |_| Ok(0))?;
    add(conn, "pg_relation_is_publishable", &[1], PURE, |_| Ok(0))?;
    // Tablespaces are the database file: the default location is empty, as in PostgreSQL.
    add(conn, "pg_tablespace_location", &[1], PURE, |_| Ok(""))?;
    // SQLite has no partitions: a relation's only ancestor is itself (one row, as the
    // set-returning function gives for a table that is not a partition).
    add(conn, "pg_partition_ancestors", &[1], PURE, |ctx| {
        int(ctx, 0)
    })?;
    add(conn, "pg_partition_root", &[1], PURE, |ctx| int(ctx, 0))?;
    add(conn, "pg_get_userbyid", &[1], PURE, |ctx| {
        Ok(int(ctx, 0)?.map(|oid| match oid {
            10 => "postgres".to_owned(),
            other => format!("unknown (OID={other})"),
        }))
    })?;
    add(conn, "pg_get_expr", &[2, 3], PURE, |ctx| Ok(text(ctx, 0)))?;
    add(conn, "pg_encoding_to_char", &[1], PURE, |ctx| {
        Ok(int(ctx, 0)?.map(|e| match e {
            6 => "UTF8",
            0 => "SQL_ASCII",
            _ => "",
        }))
    })?;
    add(conn, "starbase_database_name", &[0], PURE, |_| {
        Ok(DATABASE_NAME)
    })?;
    add(conn, "current_database", &[0], PURE, |_| Ok(DATABASE_NAME))
}

/// The database name `pg_database`, `current_database()` and `information_schema` report.
pub const DATABASE_NAME: &str = "starbase";

/// `format_type` and the declared-type helpers the views call.
fn register_types(conn: &Connection) -> rusqlite::Result<()> {
    add(conn, "format_type", &[2], PURE, |ctx| {
        Ok(int(ctx, 0)?.map(|oid| typmod::format_type(oid, int(ctx, 1).ok().flatten())))
    })?;
    let decl = |ctx: &Context<'_>| PgType::from_decl(text(ctx, 0).as_deref());
    add(conn, "starbase_decl_type_oid", &[1], PURE, move |ctx| {
        Ok(decl(ctx).oid())
    })?;
    add(conn, "starbase_decl_type_name", &[1], PURE, move |ctx| {
        Ok(decl(ctx).name())
    })?;
    add(conn, "starbase_decl_sql_name", &[1], PURE, move |ctx| {
        Ok(decl(ctx).sql_name())
    })?;
    add(conn, "starbase_decl_typmod", &[1], PURE, |ctx| {
        Ok(typmod::decl_typmod(text(ctx, 0).as_deref()))
    })?;
    add(conn, "starbase_relation_oid", &[1], PURE, |ctx| {
        Ok(text(ctx, 0).map(|name| relation_oid(&name)))
    })?;
    add(conn, "starbase_view_query", &[1], PURE, |ctx| {
        Ok(text(ctx, 0).and_then(|sql| pg::view_query(&sql).map(str::to_owned)))
    })
}

/// Helpers the views call to read constraints and type details.
fn register_schema(conn: &Connection) -> rusqlite::Result<()> {
    add(conn, "starbase_decl_info", &[2], PURE, |ctx| {
        Ok(text(ctx, 1).and_then(|what| typmod::decl_info(text(ctx, 0).as_deref(), &what)))
    })?;
    add(conn, "starbase_fk_action", &[1], PURE, |ctx| {
        Ok(pg::fk_action(&text(ctx, 0).unwrap_or_default()))
    })?;
    add(conn, "starbase_fk_rule", &[1], PURE, |ctx| {
        Ok(pg::fk_rule(&text(ctx, 0).unwrap_or_default()))
    })?;
    add(conn, "starbase_table_checks", &[2], PURE, |ctx| {
        let (table, sql) = (text(ctx, 0).unwrap_or_default(), text(ctx, 1));
        Ok(sql.map(|sql| ddl::checks_json(&table, &sql)))
    })?;
    add(conn, "starbase_index_keys", &[1], PURE, |ctx| {
        Ok(text(ctx, 0)
            .and_then(|sql| ddl::index_parts(&sql))
            .map(|(keys, _)| keys))
    })?;
    add(conn, "starbase_index_predicate", &[1], PURE, |ctx| {
        Ok(text(ctx, 0)
            .and_then(|sql| ddl::index_parts(&sql))
            .and_then(|(_, predicate)| predicate))
    })?;
    add(conn, "starbase_constraint_name", &[3], PURE, |ctx| {
        let (Some(sql), Some(kind), Some(cols)) = (text(ctx, 0), text(ctx, 1), text(ctx, 2)) else {
            return Ok(None);
        };
        let kind = kind.chars().next().unwrap_or('?');
        Ok(ddl::constraint_name(&sql, kind, &cols))
    })
}

/// `quote_ident`, `left`, `right`, `split_part`, `starts_with`, `md5`, `pg_size_pretty`.
fn register_strings(conn: &Connection) -> rusqlite::Result<()> {
    add(conn, "quote_ident", &[1], PURE, |ctx| {
        Ok(text(ctx, 0).map(|s| pg::quote_ident(&s)))
    })?;
    add(conn, "left", &[2], PURE, |ctx| {
        Ok(text(ctx, 0).zip(int(ctx, 1)?).map(|(s, n)| pg::left(&s, n)))
    })?;
    add(conn, "right", &[2], PURE, |ctx| {
        Ok(text(ctx, 0)
            .zip(int(ctx, 1)?)
            .map(|(s, n)| pg::right(&s, n)))
    })?;
    add(conn, "split_part", &[3], PURE, |ctx| {
        let (Some(s), Some(d), Some(n)) = (text(ctx, 0), text(ctx, 1), int(ctx, 2)?) else {
            return Ok(None);
        };
        pg::split_part(&s, &d, n)
            .map(Some)
            .ok_or_else(|| pg_error("field position must not be zero"))
    })?;
    add(conn, "starts_with", &[2], PURE, |ctx| {
        Ok(text(ctx, 0)
            .zip(text(ctx, 1))
            .map(|(s, p)| s.starts_with(&p)))
    })?;
    add(conn, "md5", &[1], PURE, |ctx| {
        Ok(text(ctx, 0).map(|s| hex(&Md5::digest(s.as_bytes()))))
    })?;
    add(conn, "pg_size_pretty", &[1], PURE, |ctx| {
        Ok(int(ctx, 0)?.map(pg::size_pretty))
    })
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(32), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The last transaction id handed out, shared by every connection of the process so that
/// `txid_current()` only ever increases.
static LAST_TXID: AtomicI64 = AtomicI64::new(1000);

/// `gen_random_uuid`, `txid_current`, `pg_postmaster_start_time`.
fn register_volatile(conn: &Connection) -> rusqlite::Result<()> {
    add(conn, "gen_random_uuid", &[0], VOLATILE, |_| {
        Ok(random_uuid())
    })?;
    add(conn, "txid_current", &[0], VOLATILE, |_| {
        Ok(LAST_TXID.fetch_add(1, Ordering::Relaxed) + 1)
    })?;
    add(conn, "pg_postmaster_start_time", &[0], PURE, |_| {
        Ok(super::clock::start_time())
    })
}

/// A random (version 4) UUID in its canonical text form.
fn random_uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
