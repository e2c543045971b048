//! The MySQL/MariaDB catalog as DDL, read inside a dump's snapshot.
//!
//! Owns the `information_schema` queries (tables, columns, primary keys, views, routines,
//! triggers), `SHOW CREATE …` and the settings around the load. Table names are bound as
//! parameters or quoted here from the catalog's text; nothing comes from a request. Must not
//! know how rows are scanned.

use super::MySqlDump;
use crate::dump::{DumpTable, LiteralKind, TableDetail, my_ident, unsupported};
use crate::error::Error;

/// What the load starts with (mysqldump's settings; names stay unqualified).
pub(super) const PROLOGUE: &str = "-- Starbase SQL dump (MySQL dialect); load with: mariadb DATABASE < FILE\n\
     SET NAMES utf8mb4;\n\
     SET @OLD_TIME_ZONE=@@TIME_ZONE, TIME_ZONE='+00:00';\n\
     SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0;\n\
     SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0;\n\
     SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO';\n\
     SET @OLD_AUTOCOMMIT=@@AUTOCOMMIT, AUTOCOMMIT=0;\n";

/// What it ends with.
const RESTORE: &str = "COMMIT;\n\
     SET AUTOCOMMIT=@OLD_AUTOCOMMIT;\n\
     SET SQL_MODE=@OLD_SQL_MODE;\n\
     SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS;\n\
     SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS;\n\
     SET TIME_ZONE=@OLD_TIME_ZONE;\n";

/// Numbers: written as the server sends them.
const BARE_TYPES: &[&str] = &[
    "tinyint",
    "smallint",
    "mediumint",
    "int",
    "integer",
    "bigint",
    "decimal",
    "numeric",
    "float",
    "double",
    "real",
    "year",
];
/// Binary values: written as hex.
const HEX_TYPES: &[&str] = &[
    "binary",
    "varbinary",
    "tinyblob",
    "blob",
    "mediumblob",
    "longblob",
    "bit",
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
];

fn text(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

/// The base tables of the connection's database.
pub(super) async fn tables(dump: &mut MySqlDump) -> Result<Vec<DumpTable>, Error> {
    let rows = dump
        .text_rows(
            "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME",
            vec![],
        )
        .await?;
    let mut tables = Vec::new();
    for row in rows {
        let (name, kind) = (text(&row, 0), text(&row, 1));
        match kind.as_str() {
            "VIEW" => continue,
            "BASE TABLE" => {}
            other => {
                return Err(unsupported(format!(
                    "dumping \"{name}\" ({}) is not supported",
                    other.to_ascii_lowercase()
                )));
            }
        }
        let columns = dump
            .text_rows(
                "SELECT COLUMN_NAME, DATA_TYPE, EXTRA FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                vec![name.clone().into()],
            )
            .await?;
        let mut names = Vec::new();
        let mut kinds = Vec::new();
        for c in columns.iter().filter(|c| !text(c, 2).contains("GENERATED")) {
            let ty = text(c, 1).to_ascii_lowercase();
            names.push(text(c, 0));
            kinds.push(if BARE_TYPES.contains(&ty.as_str()) {
                LiteralKind::Bare
            } else if HEX_TYPES.contains(&ty.as_str()) {
                LiteralKind::Hex
            } else {
                LiteralKind::Quoted
            });
        }
        let key: Vec<String> = dump
            .text_rows(
                "SELECT COLUMN_NAME FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' \
                 ORDER BY SEQ_IN_INDEX",
                vec![name.clone().into()],
            )
            .await?
            .iter()
            .map(|r| text(r, 0))
            .collect();
        // A key column that is not dumped (generated) cannot page; scan in one pass then.
        let key = (!key.is_empty() && key.iter().all(|k| names.contains(k))).then_some(key);
        tables.push(DumpTable {
            schema: None,
            name,
            columns: names,
            key,
            detail: TableDetail {
                kinds,
                ..TableDetail::default()
            },
        });
    }
    Ok(tables)
}

/// `SHOW CREATE TABLE`.
pub(super) async fn create_table(dump: &mut MySqlDump, table: &DumpTable) -> Result<String, Error> {
    let mut sql = String::from("SHOW CREATE TABLE ");
    my_ident(&mut sql, &table.name);
    let rows = dump.text_rows(&sql, vec![]).await?;
    let mut out = rows.first().map(|r| text(r, 1)).unwrap_or_default();
    out.push_str(";\n");
    Ok(out)
}

/// Removes `DEFINER=…` (the loading user becomes the definer, as with `mysqldump
/// --skip-definer`).
fn strip_definer(sql: &str) -> String {
    let Some(start) = sql.find("DEFINER=") else {
        return sql.to_owned();
    };
    // `user`@`host`: two backquoted names joined by `@`.
    let rest = &sql[start + "DEFINER=".len()..];
    let mut end = 0;
    let mut quotes = 0;
    let bytes = rest.as_bytes();
    while end < bytes.len() {
        if bytes[end] == b'`' {
            quotes += 1;
        } else if quotes % 2 == 0 && bytes[end] == b' ' {
            break;
        }
        end += 1;
    }
    format!("{}{}", &sql[..start], rest[end..].trim_start())
}

/// A routine or trigger from its `SHOW CREATE` row (name, `sql_mode`, statement, …), with
/// the `sql_mode` it was created under (the server records it with the body).
fn routine(out: &mut String, row: &[Option<String>]) {
    out.push_str("SET SQL_MODE='");
    out.push_str(&text(row, 1).replace('\\', "\\\\").replace('\'', "\\'"));
    out.push_str("' ;;\n");
    out.push_str(&strip_definer(&text(row, 2)));
    out.push_str(" ;;\n");
}

/// Views (dependency order), routines and triggers, then the old settings.
pub(super) async fn epilogue(dump: &mut MySqlDump) -> Result<String, Error> {
    let mut out = String::from("COMMIT;\n");
    let views = dump
        .text_rows(
            "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS \
             WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME",
            vec![],
        )
        .await?;
    let names: Vec<String> = views.iter().map(|v| text(v, 0)).collect();
    let mut done: Vec<String> = Vec::new();
    while done.len() < views.len() {
        let before = done.len();
        for v in &views {
            let name = text(v, 0);
            if done.contains(&name) {
                continue;
            }
            let definition = text(v, 1);
            // A view naming another (as `name`) that is not created yet waits for it.
            let waits = names.iter().any(|other| {
                other != &name
                    && !done.contains(other)
                    && definition.contains(&format!("`{}`", other.replace('`', "``")))
            });
            if waits {
                continue;
            }
            let mut sql = String::from("SHOW CREATE VIEW ");
            my_ident(&mut sql, &name);
            let rows = dump.text_rows(&sql, vec![]).await?;
            if let Some(row) = rows.first() {
                out.push_str(&strip_definer(&text(row, 1)));
                out.push_str(";\n");
            }
            done.push(name);
        }
        if done.len() == before {
            // A cycle through names (impossible for real views); emit the rest as they are.
            for v in &views {
                let name = text(v, 0);
                if !done.contains(&name) {
                    let mut sql = String::from("SHOW CREATE VIEW ");
                    my_ident(&mut sql, &name);
                    let rows = dump.text_rows(&sql, vec![]).await?;
                    if let Some(row) = rows.first() {
                        out.push_str(&strip_definer(&text(row, 1)));
                        out.push_str(";\n");
                    }
                    done.push(name);
                }
            }
        }
    }
    let routines = dump
        .text_rows(
            "SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES \
             WHERE ROUTINE_SCHEMA = DATABASE() ORDER BY ROUTINE_TYPE, ROUTINE_NAME",
            vec![],
        )
        .await?;
    let triggers = dump
        .text_rows(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS \
             WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY EVENT_OBJECT_TABLE, ACTION_ORDER",
            vec![],
        )
        .await?;
    if !routines.is_empty() || !triggers.is_empty() {
        out.push_str("DELIMITER ;;\n");
        for r in &routines {
            let kind = if text(r, 1) == "FUNCTION" {
                "FUNCTION"
            } else {
                "PROCEDURE"
            };
            let mut sql = format!("SHOW CREATE {kind} ");
            my_ident(&mut sql, &text(r, 0));
            let rows = dump.text_rows(&sql, vec![]).await?;
            if let Some(row) = rows.first() {
                routine(&mut out, row);
            }
        }
        for t in &triggers {
            let mut sql = String::from("SHOW CREATE TRIGGER ");
            my_ident(&mut sql, &text(t, 0));
            let rows = dump.text_rows(&sql, vec![]).await?;
            if let Some(row) = rows.first() {
                routine(&mut out, row);
            }
        }
        out.push_str("DELIMITER ;\n");
    }
    out.push_str(RESTORE);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definers_are_removed() {
        assert_eq!(
            strip_definer(
                "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`127.0.0.1` SQL SECURITY DEFINER VIEW `v` AS select 1"
            ),
            "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select 1"
        );
        assert_eq!(
            strip_definer("CREATE VIEW v AS select 1"),
            "CREATE VIEW v AS select 1"
        );
    }
}
