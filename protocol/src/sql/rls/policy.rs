//! Row-level-security policies: one StarbaseDB `tmp_rls_policies` row becomes one
//! [`Policy`]; a [`PolicySet`] answers "which predicates apply to this table reference".
//!
//! Owns validation of the policy row (operators, values, types) and the table/schema
//! matching rules. Must not know how policies are stored or how SQL is rewritten.

use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};

use crate::error::DbError;
use crate::plan::Dialect;

/// The statement kind a policy governs (`actions` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Reads, wherever the table is referenced.
    Select,
    /// New rows.
    Insert,
    /// Changed rows (the `WHERE` of an `UPDATE` and the values it sets).
    Update,
    /// Removed rows.
    Delete,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Select => "SELECT",
            Self::Insert => "INSERT",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
        })
    }
}

/// How a policy value is rendered as SQL (`value_type` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// A quoted string literal.
    String,
    /// A numeric literal; a context value that is not a number renders as `NULL`.
    Number,
}

/// The right-hand side of a policy predicate (`value` column).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PolicyValue {
    /// A constant, already validated for its type (numbers match a plain numeric literal).
    Literal(String, ValueType),
    /// `context.id()`: the caller's `sub`.
    ContextId,
    /// `context.claim('name')`: one claim of the caller's token.
    Claim(String),
}

/// The comparison of a policy predicate (`operator` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `=`
    Eq,
    /// `!=` / `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `LIKE`
    Like,
    /// `NOT LIKE`
    NotLike,
}

impl Operator {
    /// Parses a policy operator; `None` (SQL NULL) means `=`.
    ///
    /// # Errors
    /// `42501` for anything but `= != <> < <= > >= LIKE NOT LIKE` (case-insensitive).
    pub fn parse(op: Option<&str>) -> Result<Self, DbError> {
        let Some(op) = op else { return Ok(Self::Eq) };
        let norm = op.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(match norm.to_ascii_uppercase().as_str() {
            "=" => Self::Eq,
            "!=" | "<>" => Self::NotEq,
            "<" => Self::Lt,
            "<=" => Self::LtEq,
            ">" => Self::Gt,
            ">=" => Self::GtEq,
            "LIKE" => Self::Like,
            "NOT LIKE" => Self::NotLike,
            _ => return Err(super::denied(format!("invalid policy operator \"{op}\""))),
        })
    }

    /// The operator as SQL text.
    #[must_use]
    pub fn as_sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::NotEq => "<>",
            Self::Lt => "<",
            Self::LtEq => "<=",
            Self::Gt => ">",
            Self::GtEq => ">=",
            Self::Like => "LIKE",
            Self::NotLike => "NOT LIKE",
        }
    }
}

/// One predicate `<table>.<column> <operator> <value>` for one action.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Policy {
    /// The statement kind it governs.
    pub action: Action,
    /// `Some(schema)`: only references qualified with it (or unqualified ones, which mean
    /// the default schema) match. `None`: references in any schema match.
    pub schema: Option<String>,
    /// The table name (matched case-insensitively).
    pub table: String,
    /// The column the predicate tests (quoted exactly as given).
    pub column: String,
    /// The right-hand side.
    pub value: PolicyValue,
    /// The comparison.
    pub operator: Operator,
    /// How a context value (`context.id()`, a claim) renders; literals carry their own.
    pub value_type: ValueType,
}

impl Policy {
    /// Builds a policy from a StarbaseDB `tmp_rls_policies` row.
    ///
    /// # Errors
    /// `42501` when the action, operator, value type or a numeric value is invalid, or the
    /// table or column is empty. Callers deny every action on such a table (fail closed).
    pub fn from_row(
        actions: &str,
        schema: Option<&str>,
        table: &str,
        column: &str,
        value: &str,
        value_type: &str,
        operator: Option<&str>,
    ) -> Result<Self, DbError> {
        let action = match actions.trim().to_ascii_uppercase().as_str() {
            "SELECT" => Action::Select,
            "INSERT" => Action::Insert,
            "UPDATE" => Action::Update,
            "DELETE" => Action::Delete,
            _ => {
                return Err(super::denied(format!(
                    "invalid policy action \"{actions}\""
                )));
            }
        };
        if table.trim().is_empty() || column.trim().is_empty() {
            return Err(super::denied("policy table and column must not be empty"));
        }
        if [table, column, value].iter().any(|s| {
            s.to_ascii_lowercase()
                .contains(super::build::RESERVED_PREFIX)
        }) {
            return Err(super::denied(
                "policy uses a name reserved by row-level security",
            ));
        }
        let value_type = match value_type.trim().to_ascii_lowercase().as_str() {
            "string" | "" => ValueType::String,
            "number" => ValueType::Number,
            other => {
                return Err(super::denied(format!(
                    "invalid policy value type \"{other}\""
                )));
            }
        };
        let value = parse_value(value, value_type)?;
        let schema = schema.map(str::trim).filter(|s| !s.is_empty());
        // `schema.table` in the table column and `table.column` in the column column are
        // read as meant rather than silently never matching.
        let (schema, table) = match (schema.map(unquote), table.trim().rsplit_once('.')) {
            (None, Some((s, t))) if !s.is_empty() && !t.is_empty() => {
                (Some(unquote(s)), unquote(t))
            }
            (Some(_), Some(_)) => {
                return Err(super::denied(format!("invalid policy table \"{table}\"")));
            }
            (schema, _) => (schema, unquote(table)),
        };
        let column = match column.trim().rsplit_once('.') {
            Some((t, c)) if unquote(t).eq_ignore_ascii_case(table) && !unquote(c).is_empty() => {
                unquote(c)
            }
            Some(_) => return Err(super::denied(format!("invalid policy column \"{column}\""))),
            None => unquote(column),
        };
        Ok(Self {
            action,
            schema: schema.map(str::to_owned),
            table: table.to_owned(),
            column: column.to_owned(),
            value,
            operator: Operator::parse(operator)?,
            value_type,
        })
    }

    /// Whether a reference `[schema.]table` in `dialect` is governed by this policy.
    pub(super) fn matches(&self, schema: Option<&str>, table: &str, dialect: Dialect) -> bool {
        if !self.table.eq_ignore_ascii_case(table) {
            return false;
        }
        match (&self.schema, schema) {
            (None, _) => true,
            (Some(p), Some(q)) => p.eq_ignore_ascii_case(q),
            (Some(p), None) => match dialect {
                Dialect::Sqlite => p.eq_ignore_ascii_case("main"),
                Dialect::Postgres => p.eq_ignore_ascii_case("public"),
                // MySQL: the schema is the database name, and unqualified means "this one".
                Dialect::MySql => true,
            },
        }
    }
}

/// Strips one pair of identifier quotes (`"x"`, `` `x` ``, `[x]`) and surrounding spaces.
fn unquote(s: &str) -> &str {
    let s = s.trim();
    [('"', '"'), ('`', '`'), ('[', ']')]
        .iter()
        .find_map(|(open, close)| {
            s.strip_prefix(*open)
                .and_then(|r| r.strip_suffix(*close))
                .filter(|inner| !inner.is_empty())
        })
        .unwrap_or(s)
}

fn parse_value(value: &str, value_type: ValueType) -> Result<PolicyValue, DbError> {
    let trimmed = value.trim();
    if trimmed == "context.id()" {
        return Ok(PolicyValue::ContextId);
    }
    if let Some(name) = trimmed
        .strip_prefix("context.claim(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        let name = name.trim();
        let unquoted = ['\'', '"'].iter().find_map(|q| {
            name.strip_prefix(*q)
                .and_then(|n| n.strip_suffix(*q))
                .filter(|n| !n.contains(*q))
        });
        return match unquoted {
            Some(n) if !n.is_empty() => Ok(PolicyValue::Claim(n.to_owned())),
            _ => Err(super::denied(format!("invalid policy value \"{value}\""))),
        };
    }
    if value_type == ValueType::Number && !is_plain_number(trimmed) {
        return Err(super::denied(format!(
            "policy value \"{value}\" is not a number"
        )));
    }
    let literal = if value_type == ValueType::Number {
        trimmed
    } else {
        value
    };
    Ok(PolicyValue::Literal(literal.to_owned(), value_type))
}

/// True for `-?digits[.digits][e[+-]digits]`: safe to splice as a numeric literal.
pub(super) fn is_plain_number(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    let exp_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    digits(int) && frac.is_none_or(digits) && exp_ok
}

/// One `tmp_rls_policies` row as stored (nullable columns are `Option`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyRow {
    /// `actions`: `SELECT`, `INSERT`, `UPDATE` or `DELETE`.
    pub actions: String,
    /// `schema`.
    pub schema: Option<String>,
    /// `table`.
    pub table: String,
    /// `column`.
    pub column: String,
    /// `value`: a literal, `context.id()` or `context.claim('name')`.
    pub value: String,
    /// `value_type`: `string` (the default) or `number`.
    pub value_type: Option<String>,
    /// `operator`: `=` when `NULL`.
    pub operator: Option<String>,
}

/// Every policy the gateway enforces, plus the tables whose policies failed validation.
///
/// Several policies for one table and action are ANDed: a row must pass all of them.
#[derive(Debug, Clone)]
pub struct PolicySet {
    policies: Vec<Policy>,
    invalid: Vec<(Option<String>, String)>,
    version: u64,
}

impl PolicySet {
    /// Builds the set. `invalid_tables` are `(schema, table)` pairs whose policy rows failed
    /// [`Policy::from_row`]: every action on a table of that name is denied.
    #[must_use]
    pub fn new(policies: Vec<Policy>, invalid_tables: Vec<(Option<String>, String)>) -> Self {
        let mut hasher = DefaultHasher::new();
        policies.hash(&mut hasher);
        invalid_tables.hash(&mut hasher);
        Self {
            policies,
            invalid: invalid_tables,
            version: hasher.finish(),
        }
    }

    /// Builds the set from `tmp_rls_policies` rows: a row that fails [`Policy::from_row`]
    /// puts its table in the invalid set (every action on it denied: fail closed).
    #[must_use]
    pub fn from_rows(rows: impl IntoIterator<Item = PolicyRow>) -> Self {
        let mut valid = Vec::new();
        let mut invalid = Vec::new();
        for row in rows {
            match Policy::from_row(
                &row.actions,
                row.schema.as_deref(),
                &row.table,
                &row.column,
                &row.value,
                row.value_type.as_deref().unwrap_or("string"),
                row.operator.as_deref(),
            ) {
                Ok(policy) => valid.push(policy),
                Err(_) => invalid.push((row.schema, row.table)),
            }
        }
        Self::new(valid, invalid)
    }

    /// True when no table is restricted at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty() && self.invalid.is_empty()
    }

    /// A fingerprint of the contents: equal sets have equal versions, so a rewrite cache
    /// keyed by it never serves a template built for other policies.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The `(schema, table)` pairs whose policies failed validation (denied entirely).
    #[must_use]
    pub fn invalid_tables(&self) -> &[(Option<String>, String)] {
        &self.invalid
    }

    /// The policies.
    #[must_use]
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// Whether any policy (valid or not) names a table called `table`, in any schema.
    pub(super) fn is_restricted(&self, table: &str) -> bool {
        self.policies
            .iter()
            .any(|p| p.table.eq_ignore_ascii_case(table))
            || self.is_invalid(table)
    }

    /// Whether a table of this name had an invalid policy.
    pub(super) fn is_invalid(&self, table: &str) -> bool {
        // A `schema.table` written in the table column still names `table`.
        self.invalid.iter().any(|(_, t)| {
            let t = t.trim();
            t.rsplit('.')
                .next()
                .unwrap_or(t)
                .trim()
                .eq_ignore_ascii_case(table)
        })
    }

    /// The policies for `action` that govern the reference `[schema.]table`.
    pub(super) fn applicable(
        &self,
        action: Action,
        schema: Option<&str>,
        table: &str,
        dialect: Dialect,
    ) -> Vec<&Policy> {
        self.policies
            .iter()
            .filter(|p| p.action == action && p.matches(schema, table, dialect))
            .collect()
    }
}
