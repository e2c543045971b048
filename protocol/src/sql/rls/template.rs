//! A rewritten statement with its context values left as slots, and its rendering.
//!
//! Owns [`Template`], [`Rewritten`] and the render-time checks. Rendering only quotes
//! values into fixed places: the statement's shape was decided when the template was
//! built. Must not parse SQL.

use std::collections::BTreeSet;

use super::build::{Operand, SLOT_PREFIX};
use super::denied;
use super::policy::{PolicyValue, ValueType};
use super::rewriter::Check;
use super::values::{Context, Val, holds};
use crate::error::DbError;
use crate::plan::Dialect;

/// The statement to run in place of the client's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// SQL text for the backend; parameters are the client's, in the same places.
    pub sql: String,
    /// Every relation the statement references, lowercased and without schema (it may
    /// include CTE names). For SQLite's authorizer as a second line: a read of a table
    /// outside this set means the rewriter missed something.
    pub tables: BTreeSet<String>,
    /// Whether any policy predicate, forced value or check was added.
    pub changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Slot(usize),
}

/// A rewritten statement whose context values are filled in by [`Template::render`].
#[derive(Debug, Clone)]
pub struct Template {
    pieces: Vec<Piece>,
    slots: Vec<(PolicyValue, ValueType)>,
    checks: Vec<Check>,
    tables: BTreeSet<String>,
    changed: bool,
    dialect: Dialect,
}

impl Template {
    /// Splits printed SQL at the slot markers. `markers` is how many marker calls the
    /// rewritten AST holds: any other occurrence of the marker text (a client string whose
    /// escapes spell it, say) makes the counts differ and the statement is refused, so a
    /// rendered value can only ever land where the rewrite put a marker.
    pub(super) fn from_printed(
        printed: &str,
        slots: Vec<(PolicyValue, ValueType)>,
        checks: Vec<Check>,
        tables: BTreeSet<String>,
        changed: bool,
        dialect: Dialect,
        markers: usize,
    ) -> Result<Self, DbError> {
        let mut pieces = Vec::new();
        let mut found = 0usize;
        let mut rest = printed;
        while let Some(at) = rest.find(SLOT_PREFIX) {
            let after = &rest[at + SLOT_PREFIX.len()..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let index: Option<usize> = after[..digits].parse().ok();
            let (Some(i), true) = (index, after[digits..].starts_with("()")) else {
                return Err(denied(
                    "statement uses a name reserved by row-level security",
                ));
            };
            if i >= slots.len() {
                return Err(denied(
                    "statement uses a name reserved by row-level security",
                ));
            }
            found += 1;
            pieces.push(Piece::Text(rest[..at].to_owned()));
            pieces.push(Piece::Slot(i));
            rest = &after[digits + 2..];
        }
        pieces.push(Piece::Text(rest.to_owned()));
        if found != markers {
            return Err(denied(
                "statement uses a name reserved by row-level security",
            ));
        }
        pieces.retain(|p| !matches!(p, Piece::Text(t) if t.is_empty()));
        Ok(Self {
            pieces,
            slots,
            checks,
            tables,
            changed,
            dialect,
        })
    }

    /// Fills in the caller's values.
    ///
    /// # Errors
    /// `42501` when a render-time check fails (a new row outside the caller's scope, or a
    /// forced value that is `NULL` for this caller).
    pub fn render(&self, ctx: &Context<'_>) -> Result<Rewritten, DbError> {
        let values: Vec<Val> = self
            .slots
            .iter()
            .map(|(v, ty)| Val::resolve(v, *ty, ctx))
            .collect();
        let get = |o: &Operand| -> Val {
            match o {
                Operand::Const(v) => v.clone(),
                Operand::Slot(i) => values.get(*i).cloned().unwrap_or(Val::Null),
            }
        };
        for check in &self.checks {
            if !holds(&get(&check.left), check.op, &get(&check.right)) {
                return Err(denied(format!(
                    "new row violates row-level security policy for table \"{}\"",
                    check.table
                )));
            }
        }
        let rendered: Vec<String> = values.iter().map(|v| v.to_sql(self.dialect)).collect();
        let mut sql = String::with_capacity(
            self.pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.len(),
                    Piece::Slot(_) => 16,
                })
                .sum(),
        );
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => sql.push_str(t),
                Piece::Slot(i) => sql.push_str(rendered.get(*i).map_or("NULL", String::as_str)),
            }
        }
        Ok(Rewritten {
            sql,
            tables: self.tables.clone(),
            changed: self.changed,
        })
    }
}
