//! The functions that answer from the per-connection snapshot or the static OID tables:
//! `starbase_regclass`/`to_regclass`, `starbase_regtype`, `starbase_regproc`,
//! `starbase_regnamespace`, `pg_get_indexdef`, `pg_get_constraintdef`, `pg_get_viewdef`,
//! `pg_relation_size` and `pg_total_relation_size`.
//!
//! Owns PostgreSQL's name parsing for `'…'::reg*` casts and the errors a missing object
//! raises. Must not know how the snapshot is loaded (see `snapshot`).

use rusqlite::Connection;
use rusqlite::functions::Context;
use rusqlite::types::ValueRef;
use starbase_protocol::pgtype::{PgType, catalog_relation_oid};

use super::args::{PURE, VOLATILE, add, int, is_null, pg_error, text};
use super::snapshot::{self, Shared};
use super::text::quote_ident;
use super::types::{namespace_oid, proc_oid};

/// A `'…'::reg*` argument: an OID already (a number), or a possibly qualified name.
enum RegInput {
    Oid(i64),
    Name {
        schema: Option<String>,
        name: String,
    },
}

/// Parses `[schema.]name` as PostgreSQL does: unquoted parts fold to lower case, `"…"` parts
/// keep their case with `""` as a quote.
fn parse_reg(ctx: &Context<'_>) -> Option<RegInput> {
    if let ValueRef::Integer(oid) = ctx.get_raw(0) {
        return Some(RegInput::Oid(oid));
    }
    let raw = text(ctx, 0)?;
    let raw = raw.trim();
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw.parse().ok().map(RegInput::Oid);
    }
    let mut parts = vec![String::new()];
    let (mut quoted, mut chars) = (false, raw.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                parts.last_mut()?.push('"');
            }
            ('"', _) => quoted = !quoted,
            ('.', false) => parts.push(String::new()),
            (c, true) => parts.last_mut()?.push(c),
            (c, false) => parts.last_mut()?.push(c.to_ascii_lowercase()),
        }
    }
    let name = parts.pop()?;
    Some(RegInput::Name {
        schema: parts.pop(),
        name,
    })
}

/// The relation OID for a `regclass` argument; `Err` carries the display name of a missing
/// relation.
fn regclass(ctx: &Context<'_>, shared: &Shared) -> Option<Result<i64, String>> {
    match parse_reg(ctx)? {
        RegInput::Oid(oid) => Some(Ok(oid)),
        RegInput::Name { schema, name } => {
            let display = schema
                .as_ref()
                .map_or_else(|| name.clone(), |s| format!("{s}.{name}"));
            let schema_ok = schema.as_deref().is_none_or(|s| namespace_oid(s).is_some());
            let found = catalog_relation_oid(&name)
                .map(i64::from)
                .or_else(|| snapshot::with(shared, |s| s.relation(&name)));
            Some(found.filter(|_| schema_ok).ok_or(display))
        }
    }
}

/// Key column `k` (1-based) of an index's U+001F-separated key list, quoted as an identifier;
/// `None` for an expression (its text is not kept per column).
fn key_column(keys: &str, k: i64) -> Option<String> {
    let name = keys.split('\u{1f}').nth(usize::try_from(k - 1).ok()?)?;
    (!name.is_empty()).then(|| quote_ident(name))
}

/// Registers the functions of this module over `shared`.
pub(super) fn register(conn: &Connection, shared: &Shared) -> rusqlite::Result<()> {
    let s = shared.clone();
    add(conn, "starbase_regclass", &[1], VOLATILE, move |ctx| {
        regclass(ctx, &s)
            .transpose()
            .map_err(|name| pg_error(format!("relation \"{name}\" does not exist")))
    })?;
    let s = shared.clone();
    add(conn, "to_regclass", &[1], VOLATILE, move |ctx| {
        Ok(regclass(ctx, &s).and_then(Result::ok))
    })?;
    register_static(conn)?;
    register_definitions(conn, shared)
}

/// `starbase_regtype`, `starbase_regproc`, `starbase_regnamespace` and their `to_reg*`.
fn register_static(conn: &Connection) -> rusqlite::Result<()> {
    type Lookup = fn(&str) -> Option<i64>;
    let lookups: [(&str, &str, Lookup); 3] = [
        ("regtype", "type", |n| {
            PgType::from_name(n).map(|t| i64::from(t.oid()))
        }),
        ("regproc", "function", proc_oid),
        ("regnamespace", "schema", namespace_oid),
    ];
    for (suffix, what, lookup) in lookups {
        let resolve = move |ctx: &Context<'_>| -> Option<Result<i64, String>> {
            match parse_reg(ctx)? {
                RegInput::Oid(oid) => Some(Ok(oid)),
                RegInput::Name { schema, name } => {
                    let full = schema.map_or_else(|| name.clone(), |s| format!("{s}.{name}"));
                    Some(lookup(&full).ok_or(full))
                }
            }
        };
        add(
            conn,
            &format!("starbase_{suffix}"),
            &[1],
            PURE,
            move |ctx| {
                resolve(ctx)
                    .transpose()
                    .map_err(|name| pg_error(format!("{what} \"{name}\" does not exist")))
            },
        )?;
        add(conn, &format!("to_{suffix}"), &[1], PURE, move |ctx| {
            Ok(resolve(ctx).and_then(Result::ok))
        })?;
    }
    Ok(())
}

/// `pg_get_indexdef`, `pg_get_constraintdef`, `pg_get_viewdef` and the size functions.
fn register_definitions(conn: &Connection, shared: &Shared) -> rusqlite::Result<()> {
    for (name, kind, arities) in [
        ("pg_get_indexdef", 'i', &[1, 3][..]),
        ("pg_get_constraintdef", 'c', &[1, 2][..]),
        ("pg_get_viewdef", 'v', &[1, 2][..]),
    ] {
        let s = shared.clone();
        add(conn, name, arities, VOLATILE, move |ctx| {
            let Some(oid) = int(ctx, 0)? else {
                return Ok(None);
            };
            // pg_get_indexdef(oid, column, pretty): column 0 is the whole definition, column
            // k the k-th key column.
            let column = if kind == 'i' { int(ctx, 1)? } else { None };
            Ok(snapshot::with(&s, |snap| match column {
                Some(k) if k != 0 => key_column(snap.definition('k', oid)?, k),
                _ => snap.definition(kind, oid).map(str::to_owned),
            }))
        })?;
    }
    // SQLite has no TOAST: a table's size is its relation's (`pg_table_size`, psql's `\dt+`).
    let s = shared.clone();
    // One database: its size whatever name or OID is asked for.
    add(conn, "pg_database_size", &[1], VOLATILE, move |ctx| {
        Ok((!is_null(ctx, 0)).then(|| snapshot::with(&s, |snap| snap.size('d', 0))))
    })?;
    for (name, kind) in [
        ("pg_relation_size", 's'),
        ("pg_table_size", 's'),
        ("pg_total_relation_size", 't'),
    ] {
        let s = shared.clone();
        add(conn, name, &[1], VOLATILE, move |ctx| {
            Ok(int(ctx, 0)?.map(|oid| snapshot::with(&s, |snap| snap.size(kind, oid))))
        })?;
    }
    Ok(())
}
