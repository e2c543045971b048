//! The PostgreSQL catalog as DDL, read inside a dump's snapshot.
//!
//! Owns the catalog queries and the statements they become: tables with their columns and
//! constraints, what tables depend on (prologue) and what depends on the data (epilogue).
//! Every name is either printed by the server's own `pg_get_*`/`regclass` output (qualified,
//! as the snapshot's `search_path` is empty) or quoted here from the catalog's text; nothing
//! comes from a request. Must not know how rows are scanned.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::PgDump;
use crate::dump::{DumpTable, TableDetail, pg_ident, unsupported};
use crate::error::Error;

/// Filters objects that belong to an extension (its script creates them).
const NOT_EXTENSION: &str = "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e \
     WHERE e.objid = {oid} AND e.deptype = 'e')";

fn not_extension(oid: &str) -> String {
    NOT_EXTENSION.replace("{oid}", oid)
}

/// One column as the catalog describes it.
#[derive(Debug, Clone)]
pub(super) struct ColumnMeta {
    name: String,
    ty: String,
    not_null: bool,
    default: Option<String>,
    identity: String,
    generated: String,
    collation: Option<String>,
}

/// The tables of the dumped schemas, and their columns.
pub(super) async fn tables(
    dump: &PgDump,
) -> Result<(Vec<DumpTable>, HashMap<u32, Vec<ColumnMeta>>), Error> {
    let sql = format!(
        "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text, c.relispartition, \
           EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid) \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname::text = ANY($1::text[]) AND c.relkind IN ('r', 'p', 'f') AND {} \
         ORDER BY c.oid",
        not_extension("c.oid")
    );
    let mut tables = Vec::new();
    let mut all_columns = HashMap::new();
    for row in dump.rows(&sql, &[&dump.schemas]).await? {
        let oid: u32 = row.get(0);
        let schema: String = row.get(1);
        let name: String = row.get(2);
        let kind: String = row.get(3);
        let what = match kind.as_str() {
            "p" => Some("partitioned table"),
            "f" => Some("foreign table"),
            _ if row.get::<_, bool>(4) || row.get::<_, bool>(5) => Some("inherited table"),
            _ => None,
        };
        if let Some(what) = what {
            return Err(unsupported(format!(
                "dumping the {what} \"{schema}\".\"{name}\" is not supported"
            )));
        }
        let columns = columns(dump, oid).await?;
        let copied: Vec<&ColumnMeta> = columns.iter().filter(|c| c.generated.is_empty()).collect();
        // A page's last key is read from its COPY line, so every key column must be
        // copied; a generated one is not, and such a table is read in one pass.
        let key = primary_key(dump, oid).await?;
        let fields: Option<Vec<usize>> = key.as_ref().and_then(|key| {
            key.iter()
                .map(|k| copied.iter().position(|c| &c.name == k))
                .collect()
        });
        let (key, detail) = match (key, fields) {
            (Some(key), Some(fields)) => {
                let key_types = fields.iter().map(|&at| copied[at].ty.clone()).collect();
                let detail = TableDetail {
                    oid,
                    key_fields: fields,
                    key_types,
                    ..TableDetail::default()
                };
                (Some(key), detail)
            }
            _ => (
                None,
                TableDetail {
                    oid,
                    ..TableDetail::default()
                },
            ),
        };
        tables.push(DumpTable {
            schema: Some(schema),
            name,
            columns: copied.iter().map(|c| c.name.clone()).collect(),
            key,
            detail,
        });
        all_columns.insert(oid, columns);
    }
    Ok((tables, all_columns))
}

async fn columns(dump: &PgDump, oid: u32) -> Result<Vec<ColumnMeta>, Error> {
    let sql = "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), \
           a.attnotnull, pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, \
           a.attgenerated::text, \
           CASE WHEN a.attcollation <> t.typcollation AND a.attcollation <> 0 THEN \
             (SELECT pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) \
              FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
              WHERE co.oid = a.attcollation) END \
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";
    Ok(dump
        .rows(sql, &[&oid])
        .await?
        .into_iter()
        .map(|r| ColumnMeta {
            name: r.get(0),
            ty: r.get(1),
            not_null: r.get(2),
            default: r.get(3),
            identity: r.get(4),
            generated: r.get(5),
            collation: r.get(6),
        })
        .collect())
}

async fn primary_key(dump: &PgDump, oid: u32) -> Result<Option<Vec<String>>, Error> {
    let sql = "SELECT a.attname::text FROM pg_catalog.pg_constraint c \
         CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY k(attnum, ord) \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum \
         WHERE c.conrelid = $1 AND c.contype = 'p' ORDER BY k.ord";
    let key: Vec<String> = dump
        .rows(sql, &[&oid])
        .await?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    Ok((!key.is_empty()).then_some(key))
}

/// `CREATE TABLE` with columns and the constraints that do not reference other tables.
pub(super) async fn create_table(
    dump: &PgDump,
    table: &DumpTable,
    columns: &[ColumnMeta],
) -> Result<String, Error> {
    let oid = table.detail.oid;
    let identity = identity_options(dump, oid).await?;
    let mut out = String::from("CREATE TABLE ");
    super::qualified(&mut out, table);
    out.push_str(" (");
    let mut first = true;
    for c in columns {
        out.push_str(if first { "\n    " } else { ",\n    " });
        first = false;
        pg_ident(&mut out, &c.name);
        out.push(' ');
        out.push_str(&c.ty);
        if let Some(collation) = &c.collation {
            let _ = write!(out, " COLLATE {collation}");
        }
        match (c.generated.as_str(), c.identity.as_str(), &c.default) {
            ("s", _, Some(expr)) => {
                let _ = write!(out, " GENERATED ALWAYS AS ({expr}) STORED");
            }
            (_, "a" | "d", _) => {
                let kind = if c.identity == "a" {
                    "ALWAYS"
                } else {
                    "BY DEFAULT"
                };
                let _ = write!(out, " GENERATED {kind} AS IDENTITY");
                if let Some(options) = identity.get(&c.name) {
                    let _ = write!(out, " ({options})");
                }
            }
            (_, _, Some(expr)) => {
                let _ = write!(out, " DEFAULT {expr}");
            }
            _ => {}
        }
        if c.not_null {
            out.push_str(" NOT NULL");
        }
    }
    let sql = "SELECT conname::text, pg_catalog.pg_get_constraintdef(oid) \
         FROM pg_catalog.pg_constraint WHERE conrelid = $1 \
         AND (contype IN ('p', 'u', 'x') OR (contype = 'c' AND convalidated)) \
         ORDER BY contype DESC, conname";
    for row in dump.rows(sql, &[&oid]).await? {
        out.push_str(if first { "\n    " } else { ",\n    " });
        first = false;
        out.push_str("CONSTRAINT ");
        pg_ident(&mut out, row.get(0));
        out.push(' ');
        out.push_str(row.get(1));
    }
    out.push_str("\n);\n");
    Ok(out)
}

/// Sequence options of each identity column: `SEQUENCE NAME … START WITH …`.
async fn identity_options(dump: &PgDump, oid: u32) -> Result<HashMap<String, String>, Error> {
    let sql = "SELECT a.attname::text, s.seqrelid::regclass::text, s.seqstart, s.seqincrement, \
           s.seqmin, s.seqmax, s.seqcache, s.seqcycle \
         FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_sequence s ON s.seqrelid = d.objid \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
         WHERE d.classid = 'pg_catalog.pg_class'::regclass \
           AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype = 'i' \
           AND d.refobjid = $1";
    let mut map = HashMap::new();
    for r in dump.rows(sql, &[&oid]).await? {
        let name: String = r.get(1);
        let options = format!(
            "SEQUENCE NAME {name} {}",
            sequence_options(r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7))
        );
        map.insert(r.get(0), options);
    }
    Ok(map)
}

fn sequence_options(start: i64, inc: i64, min: i64, max: i64, cache: i64, cycle: bool) -> String {
    format!(
        "START WITH {start} INCREMENT BY {inc} MINVALUE {min} MAXVALUE {max} CACHE {cache}{}",
        if cycle { " CYCLE" } else { " NO CYCLE" }
    )
}

/// Settings, `BEGIN`, extensions, schemas, types, functions and free-standing sequences.
pub(super) async fn prologue(dump: &PgDump) -> Result<String, Error> {
    let mut out = String::from(
        "-- Starbase SQL dump (PostgreSQL dialect); load with: psql -v ON_ERROR_STOP=1 -f FILE\n\
         BEGIN;\n\
         SET LOCAL statement_timeout = 0;\n\
         SET LOCAL client_encoding = 'UTF8';\n\
         SET LOCAL standard_conforming_strings = on;\n\
         SET LOCAL check_function_bodies = false;\n\
         SET LOCAL client_min_messages = warning;\n\
         SELECT pg_catalog.set_config('search_path', '', true);\n",
    );
    for schema in &dump.schemas {
        out.push_str("CREATE SCHEMA IF NOT EXISTS ");
        pg_ident(&mut out, schema);
        out.push_str(";\n");
    }
    let sql = "SELECT e.extname::text, n.nspname::text FROM pg_catalog.pg_extension e \
         JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace \
         WHERE e.extname <> 'plpgsql' ORDER BY e.oid";
    for r in dump.rows(sql, &[]).await? {
        let schema: String = r.get(1);
        out.push_str("CREATE EXTENSION IF NOT EXISTS ");
        pg_ident(&mut out, r.get(0));
        if dump.schemas.contains(&schema) {
            out.push_str(" WITH SCHEMA ");
            pg_ident(&mut out, &schema);
        }
        out.push_str(";\n");
    }
    types(dump, &mut out).await?;
    functions(dump, &mut out).await?;
    let sql = "SELECT c.oid::regclass::text, pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, \
           s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle \
         FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname::text = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d \
           WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid \
           AND d.deptype IN ('i', 'e')) ORDER BY c.oid";
    for r in dump.rows(sql, &[&dump.schemas]).await? {
        let name: String = r.get(0);
        let ty: String = r.get(1);
        let options = sequence_options(r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7));
        let _ = writeln!(out, "CREATE SEQUENCE {name} AS {ty} {options};");
    }
    Ok(out)
}

/// Enum, domain and composite types (others are refused).
async fn types(dump: &PgDump, out: &mut String) -> Result<(), Error> {
    let sql = format!(
        "SELECT t.oid::regtype::text, t.typtype::text, \
           CASE t.typtype \
             WHEN 'e' THEN (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(e.enumlabel), ', ' \
               ORDER BY e.enumsortorder) FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid) \
             WHEN 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) \
             WHEN 'c' THEN (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname) || ' ' || \
               pg_catalog.format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) \
               FROM pg_catalog.pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 \
               AND NOT a.attisdropped) END, \
           t.typnotnull, t.typdefault, \
           (SELECT pg_catalog.string_agg(' CONSTRAINT ' || pg_catalog.quote_ident(c.conname) || ' ' || \
             pg_catalog.pg_get_constraintdef(c.oid), '' ORDER BY c.conname) \
            FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid) \
         FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
         WHERE n.nspname::text = ANY($1::text[]) AND t.typcategory <> 'A' \
           AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c') \
           AND {} ORDER BY t.oid",
        not_extension("t.oid")
    );
    for r in dump.rows(&sql, &[&dump.schemas]).await? {
        let name: String = r.get(0);
        let kind: String = r.get(1);
        let body: Option<String> = r.get(2);
        let body = body.unwrap_or_default();
        match kind.as_str() {
            "e" => {
                let _ = writeln!(out, "CREATE TYPE {name} AS ENUM ({body});");
            }
            "c" => {
                let _ = writeln!(out, "CREATE TYPE {name} AS ({body});");
            }
            "d" => {
                let _ = write!(out, "CREATE DOMAIN {name} AS {body}");
                if let Some(default) = r.get::<_, Option<String>>(4) {
                    let _ = write!(out, " DEFAULT {default}");
                }
                if r.get::<_, bool>(3) {
                    out.push_str(" NOT NULL");
                }
                if let Some(checks) = r.get::<_, Option<String>>(5) {
                    out.push_str(&checks);
                }
                out.push_str(";\n");
            }
            "r" | "m" => {
                return Err(unsupported(format!(
                    "dumping the range type {name} is not supported"
                )));
            }
            _ => {
                return Err(unsupported(format!(
                    "dumping the base type {name} is not supported"
                )));
            }
        }
    }
    Ok(())
}

/// Functions and procedures (bodies are not checked while loading).
async fn functions(dump: &PgDump, out: &mut String) -> Result<(), Error> {
    let sql = format!(
        "SELECT p.oid::regprocedure::text, p.prokind::text, \
           CASE WHEN p.prokind IN ('f', 'p') THEN pg_catalog.pg_get_functiondef(p.oid) END \
         FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         WHERE n.nspname::text = ANY($1::text[]) AND {} ORDER BY p.oid",
        not_extension("p.oid")
    );
    for r in dump.rows(&sql, &[&dump.schemas]).await? {
        let Some(def) = r.get::<_, Option<String>>(2) else {
            let name: String = r.get(0);
            return Err(unsupported(format!(
                "dumping the aggregate or window function {name} is not supported"
            )));
        };
        out.push_str(def.trim_end());
        out.push_str(";\n");
    }
    Ok(())
}

/// Sequence values, `OWNED BY`, views, indexes, foreign keys, triggers.
pub(super) async fn epilogue(dump: &PgDump) -> Result<String, Error> {
    let mut out = String::new();
    let schemas = &dump.schemas;
    let sql = "SELECT pg_catalog.quote_literal(pg_catalog.quote_ident(schemaname) || '.' || \
           pg_catalog.quote_ident(sequencename)), last_value, start_value \
         FROM pg_catalog.pg_sequences WHERE schemaname::text = ANY($1::text[]) \
         ORDER BY schemaname, sequencename";
    for r in dump.rows(sql, &[schemas]).await? {
        let name: String = r.get(0);
        match r.get::<_, Option<i64>>(1) {
            Some(last) => {
                let _ = writeln!(out, "SELECT pg_catalog.setval({name}, {last}, true);");
            }
            None => {
                let start: i64 = r.get(2);
                let _ = writeln!(out, "SELECT pg_catalog.setval({name}, {start}, false);");
            }
        }
    }
    let sql = "SELECT c.oid::regclass::text, t.oid::regclass::text, a.attname::text \
         FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid AND c.relkind = 'S' \
         JOIN pg_catalog.pg_class t ON t.oid = d.refobjid \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE d.classid = 'pg_catalog.pg_class'::regclass \
           AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype = 'a' \
           AND n.nspname::text = ANY($1::text[]) ORDER BY c.oid";
    for r in dump.rows(sql, &[schemas]).await? {
        let seq: String = r.get(0);
        let table: String = r.get(1);
        let _ = write!(out, "ALTER SEQUENCE {seq} OWNED BY {table}.");
        pg_ident(&mut out, r.get(2));
        out.push_str(";\n");
    }
    views(dump, &mut out).await?;
    let sql = "SELECT pg_catalog.pg_get_indexdef(i.indexrelid) FROM pg_catalog.pg_index i \
         JOIN pg_catalog.pg_class t ON t.oid = i.indrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname::text = ANY($1::text[]) AND t.relkind IN ('r', 'm') \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conindid = i.indexrelid \
             AND c.contype IN ('p', 'u', 'x')) ORDER BY i.indexrelid";
    for r in dump.rows(sql, &[schemas]).await? {
        out.push_str(r.get(0));
        out.push_str(";\n");
    }
    let sql = "SELECT c.conrelid::regclass::text, c.conname::text, pg_catalog.pg_get_constraintdef(c.oid) \
         FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_class t ON t.oid = c.conrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname::text = ANY($1::text[]) AND t.relkind = 'r' \
           AND (c.contype = 'f' OR (c.contype = 'c' AND NOT c.convalidated)) ORDER BY c.oid";
    for r in dump.rows(sql, &[schemas]).await? {
        let table: String = r.get(0);
        let _ = write!(out, "ALTER TABLE ONLY {table} ADD CONSTRAINT ");
        pg_ident(&mut out, r.get(1));
        out.push(' ');
        out.push_str(r.get(2));
        out.push_str(";\n");
    }
    let sql = "SELECT pg_catalog.pg_get_triggerdef(g.oid) FROM pg_catalog.pg_trigger g \
         JOIN pg_catalog.pg_class t ON t.oid = g.tgrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname::text = ANY($1::text[]) AND NOT g.tgisinternal ORDER BY g.oid";
    for r in dump.rows(sql, &[schemas]).await? {
        out.push_str(r.get(0));
        out.push_str(";\n");
    }
    Ok(out)
}

/// Views and materialized views, each after the views it reads.
async fn views(dump: &PgDump, out: &mut String) -> Result<(), Error> {
    let sql = format!(
        "SELECT c.oid, c.oid::regclass::text, c.relkind::text, pg_catalog.pg_get_viewdef(c.oid), \
           pg_catalog.array_to_string(c.reloptions, ', ') \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname::text = ANY($1::text[]) AND c.relkind IN ('v', 'm') AND {} ORDER BY c.oid",
        not_extension("c.oid")
    );
    let views = dump.rows(&sql, &[&dump.schemas]).await?;
    if views.is_empty() {
        return Ok(());
    }
    let deps_sql = "SELECT DISTINCT r.ev_class, d.refobjid FROM pg_catalog.pg_rewrite r \
         JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass \
           AND d.objid = r.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass \
         WHERE d.refobjid <> r.ev_class";
    let mut deps: HashMap<u32, Vec<u32>> = HashMap::new();
    for r in dump.rows(deps_sql, &[]).await? {
        deps.entry(r.get(0)).or_default().push(r.get(1));
    }
    let oids: Vec<u32> = views.iter().map(|r| r.get(0)).collect();
    let mut done: Vec<u32> = Vec::new();
    // Dependency order: repeatedly take the views whose view dependencies are all out.
    while done.len() < views.len() {
        let before = done.len();
        for r in &views {
            let oid: u32 = r.get(0);
            if done.contains(&oid) {
                continue;
            }
            let ready = deps.get(&oid).is_none_or(|d| {
                d.iter()
                    .all(|dep| !oids.contains(dep) || done.contains(dep))
            });
            if !ready {
                continue;
            }
            done.push(oid);
            let name: String = r.get(1);
            let kind: String = r.get(2);
            let def: String = r.get(3);
            let def = def.trim_end().trim_end_matches(';');
            let options: Option<String> = r.get(4);
            let with = options
                .filter(|o| !o.is_empty())
                .map(|o| format!(" WITH ({o})"))
                .unwrap_or_default();
            if kind == "m" {
                let _ = writeln!(
                    out,
                    "CREATE MATERIALIZED VIEW {name}{with} AS\n{def}\nWITH DATA;"
                );
            } else {
                let _ = writeln!(out, "CREATE VIEW {name}{with} AS\n{def};");
            }
        }
        if done.len() == before {
            return Err(unsupported(
                "dumping views that depend on each other in a cycle is not supported",
            ));
        }
    }
    Ok(())
}
