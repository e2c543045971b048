//! Reading SQL function arguments the lenient way PostgreSQL's casts would (an integer where
//! text is expected is its decimal text), registering one closure under several arities, and
//! errors that keep their SQLSTATE through SQLite.
//!
//! Owns the glue every catalog function shares. Must not know any particular function.

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{ToSql, ValueRef};
use rusqlite::{Connection, ffi};

/// Flags of functions whose result depends only on their arguments.
pub(super) const PURE: FunctionFlags = FunctionFlags::SQLITE_UTF8
    .union(FunctionFlags::SQLITE_DETERMINISTIC)
    .union(FunctionFlags::SQLITE_INNOCUOUS);
/// Flags of functions that may answer differently on each call.
pub(super) const VOLATILE: FunctionFlags =
    FunctionFlags::SQLITE_UTF8.union(FunctionFlags::SQLITE_INNOCUOUS);

/// Registers `f` as `name` for each number of arguments in `arities`.
pub(super) fn add<T, F>(
    conn: &Connection,
    name: &str,
    arities: &[i32],
    flags: FunctionFlags,
    f: F,
) -> rusqlite::Result<()>
where
    T: ToSql,
    F: Fn(&Context<'_>) -> rusqlite::Result<T> + Clone + Send + 'static,
{
    for &n in arities {
        let f = f.clone();
        conn.create_scalar_function(name, n, flags, move |ctx| f(ctx))?;
    }
    Ok(())
}

/// An error SQLite reports as `SQLITE_ERROR` with exactly `message`, so that
/// [`super::super::error::classify`] can give it its SQLSTATE by the message prefix.
pub(super) fn pg_error(message: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_ERROR), Some(message.into()))
}

/// Argument `i` as text: integers and reals print as decimal, blobs as (lossy) UTF-8.
pub(super) fn text(ctx: &Context<'_>, i: usize) -> Option<String> {
    if i >= ctx.len() {
        return None;
    }
    match ctx.get_raw(i) {
        ValueRef::Null => None,
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(r) => Some(r.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    }
}

/// Argument `i` as an integer (text must parse; reals are truncated).
///
/// # Errors
/// `22P02 invalid input syntax for type integer` for text that is not an integer.
pub(super) fn int(ctx: &Context<'_>, i: usize) -> rusqlite::Result<Option<i64>> {
    if i >= ctx.len() {
        return Ok(None);
    }
    match ctx.get_raw(i) {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(n) => Ok(Some(n)),
        #[expect(clippy::cast_possible_truncation, reason = "SQL casts truncate too")]
        ValueRef::Real(r) => Ok(Some(r as i64)),
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            let s = String::from_utf8_lossy(t);
            s.trim()
                .parse()
                .map(Some)
                .map_err(|_| pg_error(format!("invalid input syntax for type integer: \"{s}\"")))
        }
    }
}

/// True when argument `i` is SQL NULL (or missing).
pub(super) fn is_null(ctx: &Context<'_>, i: usize) -> bool {
    i >= ctx.len() || matches!(ctx.get_raw(i), ValueRef::Null)
}
