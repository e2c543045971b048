//! Parameter type inference: the type of each `$n` from the column, cast or clause it is
//! compared with or assigned to.
//!
//! Owns the placement rules (comparisons, IN, BETWEEN, LIKE, LIMIT/OFFSET, INSERT values,
//! UPDATE/ON CONFLICT assignments, casts, arithmetic). Must not know the rewrites: it reads
//! the statement as the client wrote it.

use std::ops::ControlFlow;

use sqlparser::ast::{
    AssignmentTarget, BinaryOperator, Expr, FromTable, InTarget, LimitClause, ObjectName,
    OnConflictAction, OnInsert, Query, SelectItem, SetExpr, Statement, Value, Visit, Visitor,
};

use super::SchemaLookup;
use super::columns::target_source;
use super::scope::{Col, Scope, Source};
use super::types::{expr_type, type_name};
use crate::pgtype::PgType;

/// The inferred type of `$1..$count`.
pub(super) fn params(stmt: &Statement, schema: &dyn SchemaLookup, count: usize) -> Vec<PgType> {
    let mut inferer = Inferer {
        scope: Scope::new(schema),
        params: vec![PgType::Unknown; count],
        pushed: Vec::new(),
    };
    let _ = stmt.visit(&mut inferer);
    inferer.params
}

struct Inferer<'s> {
    scope: Scope<'s>,
    params: Vec<PgType>,
    /// Per visited statement: whether it pushed a frame.
    pushed: Vec<bool>,
}

fn param_index(e: &Expr) -> Option<usize> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Placeholder(p) => p.strip_prefix('$')?.parse().ok(),
            _ => None,
        },
        Expr::Nested(inner) => param_index(inner),
        _ => None,
    }
}

impl Inferer<'_> {
    fn set(&mut self, e: &Expr, ty: PgType) {
        let Some(n) = param_index(e) else { return };
        if ty == PgType::Unknown {
            return;
        }
        if let Some(slot) = n.checked_sub(1).and_then(|i| self.params.get_mut(i))
            && *slot == PgType::Unknown
        {
            *slot = ty;
        }
    }

    fn type_of(&mut self, e: &Expr) -> PgType {
        expr_type(&mut self.scope, e).0
    }

    /// One side is a parameter: it takes the other side's type.
    fn pair(&mut self, a: &Expr, b: &Expr) {
        if param_index(a).is_some() {
            let ty = self.type_of(b);
            self.set(a, ty);
        }
        if param_index(b).is_some() {
            let ty = self.type_of(a);
            self.set(b, ty);
        }
    }

    fn expr(&mut self, e: &Expr) {
        match e {
            Expr::BinaryOp { left, op, right } => self.binary(left, op, right),
            Expr::In {
                expr,
                target: InTarget::List(items),
                ..
            } => {
                for item in items {
                    self.pair(expr, item);
                }
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                self.pair(expr, low);
                self.pair(expr, high);
            }
            Expr::Like { expr, pattern, .. } | Expr::ILike { expr, pattern, .. } => {
                self.set(expr, PgType::Text);
                self.set(pattern, PgType::Text);
            }
            Expr::Cast {
                expr, data_type, ..
            } => {
                let name = data_type.to_string().to_ascii_lowercase();
                // `$1::regclass` takes a name.
                let ty = if name.starts_with("reg") {
                    PgType::Text
                } else {
                    type_name(&name)
                };
                self.set(expr, ty);
            }
            _ => {}
        }
    }

    fn binary(&mut self, left: &Expr, op: &BinaryOperator, right: &Expr) {
        use BinaryOperator as B;
        match op {
            B::StringConcat
            | B::PGRegexMatch
            | B::PGRegexIMatch
            | B::PGRegexNotMatch
            | B::PGRegexNotIMatch => {
                self.set(left, PgType::Text);
                self.set(right, PgType::Text);
            }
            B::Eq
            | B::NotEq
            | B::Lt
            | B::Gt
            | B::LtEq
            | B::GtEq
            | B::Plus
            | B::Minus
            | B::Multiply
            | B::Divide
            | B::Modulo => self.pair(left, right),
            _ => {}
        }
    }

    fn limits(&mut self, query: &Query) {
        match &query.limit_clause {
            Some(LimitClause::LimitOffset { limit, offset, .. }) => {
                if let Some(limit) = limit {
                    self.set(limit, PgType::Int8);
                }
                if let Some(offset) = offset {
                    self.set(&offset.value, PgType::Int8);
                }
            }
            Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
                self.set(offset, PgType::Int8);
                self.set(limit, PgType::Int8);
            }
            None => {}
        }
        if let Some(quantity) = query.fetch.as_ref().and_then(|f| f.quantity.as_ref()) {
            self.set(quantity, PgType::Int8);
        }
    }

    /// `SET col = $n` assignments against the target's columns.
    fn assignments(&mut self, target: &[Col], assignments: &[sqlparser::ast::Assignment]) {
        for a in assignments {
            match (&a.target, &a.value) {
                (AssignmentTarget::ColumnName(name), value) => {
                    self.set(value, column_type(target, name));
                }
                // `SET (a, b) = ($1, $2)`
                (AssignmentTarget::Tuple(names), Expr::Tuple(values)) => {
                    for (name, value) in names.iter().zip(values) {
                        self.set(value, column_type(target, name));
                    }
                }
                _ => {}
            }
        }
    }

    fn insert(&mut self, insert: &sqlparser::ast::Insert) -> Vec<Source> {
        let alias = insert.table_alias.as_ref().map(|a| a.alias.value.as_str());
        let mut sources = target_source(&self.scope, &insert.table, alias);
        let table_cols = sources.first().map(|s| s.cols.clone()).unwrap_or_default();
        let targets: Vec<PgType> = if insert.columns.is_empty() {
            table_cols.iter().map(|c| c.ty).collect()
        } else {
            insert
                .columns
                .iter()
                .map(|c| column_type(&table_cols, c))
                .collect()
        };
        if let Some(source) = &insert.source {
            let rows = source_rows(source);
            for row in rows {
                for (e, ty) in row.into_iter().zip(&targets) {
                    self.set(e, *ty);
                }
            }
        }
        if let Some(OnInsert::OnConflict(conflict)) = &insert.on
            && let OnConflictAction::DoUpdate(update) = &conflict.action
        {
            self.assignments(&table_cols, &update.assignments);
        }
        sources.push(Source {
            name: "excluded".to_owned(),
            cols: table_cols,
        });
        sources
    }

    /// The sources a DML statement puts in scope (and its assignments' parameters).
    fn statement_sources(&mut self, stmt: &Statement) -> Option<Vec<Source>> {
        match stmt {
            Statement::Insert(insert) => Some(self.insert(insert)),
            Statement::Update(update) => {
                let mut sources = Vec::new();
                self.scope
                    .factor_sources(&update.table.relation, &mut sources);
                let target = sources.first().map(|s| s.cols.clone()).unwrap_or_default();
                if let Some(from) = &update.from {
                    let tables = match from {
                        sqlparser::ast::UpdateTableFromKind::BeforeSet(t)
                        | sqlparser::ast::UpdateTableFromKind::AfterSet(t) => t,
                    };
                    sources.extend(self.scope.sources_of_from(tables));
                }
                self.assignments(&target, &update.assignments);
                Some(sources)
            }
            Statement::Delete(delete) => {
                let tables = match &delete.from {
                    FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
                };
                let mut sources = self.scope.sources_of_from(tables);
                if let Some(using) = &delete.using {
                    sources.extend(self.scope.sources_of_from(using));
                }
                Some(sources)
            }
            _ => None,
        }
    }
}

/// The value expressions per row of an INSERT's source: VALUES rows, or a SELECT list.
fn source_rows(source: &Query) -> Vec<Vec<&Expr>> {
    match source.body.as_ref() {
        SetExpr::Values(values) => values
            .rows
            .iter()
            .map(|r| r.content.iter().collect())
            .collect(),
        // `INSERT INTO t (a, b) SELECT $1, $2 …`
        SetExpr::Select(select) => vec![
            select
                .projection
                .iter()
                .filter_map(|item| match item {
                    SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                        Some(e)
                    }
                    _ => None,
                })
                .collect(),
        ],
        _ => Vec::new(),
    }
}

fn column_type(cols: &[Col], name: &ObjectName) -> PgType {
    let Some(last) = name.0.last().and_then(|p| p.as_ident()) else {
        return PgType::Unknown;
    };
    let last = last.value.to_ascii_lowercase();
    cols.iter()
        .find(|c| c.name == last)
        .map_or(PgType::Unknown, |c| c.ty)
}

impl Visitor for Inferer<'_> {
    type Break = ();

    fn pre_visit_statement(&mut self, stmt: &Statement) -> ControlFlow<()> {
        let sources = self.statement_sources(stmt);
        self.pushed.push(sources.is_some());
        if let Some(sources) = sources {
            self.scope.push_sources(sources);
        }
        ControlFlow::Continue(())
    }

    fn post_visit_statement(&mut self, _stmt: &Statement) -> ControlFlow<()> {
        if self.pushed.pop() == Some(true) {
            self.scope.pop();
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        self.scope.push_query(query);
        self.limits(query);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.scope.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if self.scope.depth_ok() {
            self.expr(e);
        }
        ControlFlow::Continue(())
    }
}
