//! Catalog relations whose rows depend on the session: `pg_database` lists the database the
//! client connected to (any name is the embedded database), as `current_database()` does.
//!
//! Owns the rewrite of `pg_database` into `(SELECT …, '<db>' AS datname, … FROM
//! temp.pg_database)`: the catalog view is shared by every session of a SQLite connection,
//! so it cannot know the name. Must not know the view's other values (the catalog does).

use sqlparser::ast::{ObjectName, ObjectNamePart, SetExpr, TableFactor};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// The columns of the catalog's `pg_database` view, in order (PostgreSQL 16's); the
/// catalog's shape test holds the view to this list.
pub const PG_DATABASE_COLUMNS: &[&str] = &[
    "oid",
    "datname",
    "datdba",
    "encoding",
    "datlocprovider",
    "datistemplate",
    "datallowconn",
    "datconnlimit",
    "datlastsysoid",
    "datfrozenxid",
    "datminmxid",
    "dattablespace",
    "datcollate",
    "datctype",
    "daticulocale",
    "daticurules",
    "datcollversion",
    "datacl",
];

/// Rewrites a FROM item naming `pg_database` (or `pg_catalog.pg_database`); `true` when it
/// did.
pub(super) fn pg_database(factor: &mut TableFactor, database: &str) -> bool {
    let TableFactor::Table {
        name,
        alias,
        args: None,
        ..
    } = factor
    else {
        return false;
    };
    if !names_pg_database(name) {
        return false;
    }
    let alias = alias
        .as_ref()
        .map_or_else(|| "pg_database".to_owned(), |a| a.name.to_string());
    let literal = format!("'{}'", database.replace('\'', "''"));
    let columns: Vec<String> = PG_DATABASE_COLUMNS
        .iter()
        .map(|&c| {
            if c == "datname" {
                format!("{literal} AS datname")
            } else {
                c.to_owned()
            }
        })
        .collect();
    let sql = format!(
        "SELECT 1 FROM (SELECT {} FROM temp.pg_database) AS {alias}",
        columns.join(", ")
    );
    let Ok(query) = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&sql)
        .and_then(|mut p| p.parse_query())
    else {
        return false;
    };
    let derived = match *query.body {
        SetExpr::Select(select) => select.from.into_iter().next().map(|f| f.relation),
        _ => None,
    };
    match derived {
        Some(new) => {
            *factor = new;
            true
        }
        None => false,
    }
}

fn names_pg_database(name: &ObjectName) -> bool {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(ObjectNamePart::as_ident)
        .map(|i| i.value.to_ascii_lowercase())
        .collect();
    matches!(
        parts
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        ["pg_database"] | ["pg_catalog", "pg_database"]
    )
}
