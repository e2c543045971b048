//! The caller's context and how policy values become SQL literals.
//!
//! Owns [`Context`], resolution of `context.id()` / claims to values, literal rendering
//! (always quoted and escaped for the dialect, never spliced raw) and the conservative
//! evaluation of render-time checks. Must not know about the SQL AST.

use serde_json::{Map, Value};

use super::policy::{Operator, PolicyValue, ValueType, is_plain_number};
use crate::plan::Dialect;

/// Who is asking: the token's `sub` and its verified claims.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The `sub` claim; `None` renders `context.id()` as SQL `NULL` (matches nothing).
    pub subject: Option<&'a str>,
    /// All verified claims; a missing claim renders as `NULL`.
    pub claims: Option<&'a Map<String, Value>>,
}

/// A resolved policy value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Val {
    Null,
    /// A validated numeric literal and its value.
    Num(String, f64),
    Str(String),
}

impl Val {
    fn number(text: &str) -> Self {
        match text.parse::<f64>() {
            Ok(n) if is_plain_number(text) && n.is_finite() => Self::Num(text.to_owned(), n),
            _ => Self::Null,
        }
    }

    fn typed(text: &str, ty: ValueType) -> Self {
        match ty {
            ValueType::String => Self::Str(text.to_owned()),
            ValueType::Number => Self::number(text),
        }
    }

    /// Resolves a policy value against the caller's context.
    pub(super) fn resolve(value: &PolicyValue, ty: ValueType, ctx: &Context<'_>) -> Self {
        match value {
            PolicyValue::Literal(text, lit_ty) => Self::typed(text, *lit_ty),
            PolicyValue::ContextId => ctx.subject.map_or(Self::Null, |s| Self::typed(s, ty)),
            PolicyValue::Claim(name) => match ctx.claims.and_then(|c| c.get(name)) {
                Some(Value::String(s)) => Self::typed(s, ty),
                Some(Value::Number(n)) => Self::typed(&n.to_string(), ty),
                Some(Value::Bool(b)) if ty == ValueType::String => Self::Str(b.to_string()),
                _ => Self::Null,
            },
        }
    }

    /// The value as a SQL literal for `dialect`.
    pub(super) fn to_sql(&self, dialect: Dialect) -> String {
        match self {
            Self::Null => "NULL".to_owned(),
            Self::Num(text, _) => text.clone(),
            Self::Str(s) => quote_string(s, dialect),
        }
    }

    fn as_text(&self) -> Option<String> {
        match self {
            Self::Null => None,
            Self::Num(text, _) => Some(text.clone()),
            Self::Str(s) => Some(s.clone()),
        }
    }

    fn as_number(&self) -> Option<f64> {
        match self {
            Self::Null => None,
            Self::Num(_, n) => Some(*n),
            Self::Str(s) => s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
        }
    }
}

/// A string literal: quotes doubled; for MySQL backslashes doubled too (MySQL reads `\` as
/// an escape). NUL bytes cannot be represented safely and are dropped.
#[must_use]
pub fn quote_string(s: &str, dialect: Dialect) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' if dialect == Dialect::MySql => out.push_str("\\\\"),
            '\0' => {}
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Whether `left op right` certainly holds on every backend: `NULL` never holds, strings
/// must compare the same byte-wise and case-insensitively, `LIKE` must match
/// case-sensitively and `NOT LIKE` must fail case-insensitively.
pub(super) fn holds(left: &Val, op: Operator, right: &Val) -> bool {
    if matches!(left, Val::Null) || matches!(right, Val::Null) {
        return false;
    }
    match op {
        Operator::Like | Operator::NotLike => {
            let (Some(text), Some(pattern)) = (left.as_text(), right.as_text()) else {
                return false;
            };
            if op == Operator::Like {
                like(&text, &pattern, false)
            } else {
                !like(&text, &pattern, true)
            }
        }
        _ => compare(left, right).is_some_and(|ord| ordering_holds(op, ord)),
    }
}

fn compare(left: &Val, right: &Val) -> Option<std::cmp::Ordering> {
    if matches!(left, Val::Num(..)) || matches!(right, Val::Num(..)) {
        return left.as_number()?.partial_cmp(&right.as_number()?);
    }
    let (l, r) = (left.as_text()?, right.as_text()?);
    let exact = l.cmp(&r);
    let folded = l.to_lowercase().cmp(&r.to_lowercase());
    (exact == folded).then_some(exact)
}

fn ordering_holds(op: Operator, ord: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match op {
        Operator::Eq => ord == Equal,
        Operator::NotEq => ord != Equal,
        Operator::Lt => ord == Less,
        Operator::LtEq => ord != Greater,
        Operator::Gt => ord == Greater,
        Operator::GtEq => ord != Less,
        Operator::Like | Operator::NotLike => false,
    }
}

/// SQL `LIKE` with `%` and `_`, no escape character.
fn like(text: &str, pattern: &str, fold: bool) -> bool {
    let norm = |s: &str| -> Vec<char> {
        if fold {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (t, p) = (norm(text), norm(pattern));
    // Iterative wildcard matching with backtracking to the last `%`.
    let (mut ti, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == t[ti]) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '%')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Val {
        Val::Str(v.to_owned())
    }

    #[test]
    fn quoting_doubles_quotes_and_mysql_backslashes() {
        assert_eq!(quote_string("o'k", Dialect::Sqlite), "'o''k'");
        assert_eq!(quote_string("a\\'b", Dialect::Postgres), "'a\\''b'");
        assert_eq!(quote_string("a\\'b", Dialect::MySql), "'a\\\\''b'");
    }

    #[test]
    fn context_values_resolve_by_type() {
        let mut claims = Map::new();
        claims.insert("org".into(), Value::from(7));
        claims.insert("role".into(), Value::from("admin"));
        claims.insert("obj".into(), serde_json::json!({"a": 1}));
        let ctx = Context {
            subject: Some("u'1"),
            claims: Some(&claims),
        };
        let claim = |n: &str| PolicyValue::Claim(n.to_owned());
        assert_eq!(
            Val::resolve(&PolicyValue::ContextId, ValueType::String, &ctx),
            s("u'1")
        );
        assert_eq!(
            Val::resolve(&PolicyValue::ContextId, ValueType::Number, &ctx),
            Val::Null
        );
        assert_eq!(
            Val::resolve(&claim("org"), ValueType::Number, &ctx).to_sql(Dialect::Sqlite),
            "7"
        );
        assert_eq!(Val::resolve(&claim("org"), ValueType::String, &ctx), s("7"));
        assert_eq!(
            Val::resolve(&claim("obj"), ValueType::String, &ctx),
            Val::Null
        );
        assert_eq!(
            Val::resolve(&claim("nope"), ValueType::String, &ctx),
            Val::Null
        );
        let none = Context::default();
        assert_eq!(
            Val::resolve(&PolicyValue::ContextId, ValueType::String, &none),
            Val::Null
        );
    }

    #[test]
    fn checks_are_conservative() {
        let n = |x: &str| Val::number(x);
        assert!(holds(&s("u1"), Operator::Eq, &s("u1")));
        assert!(!holds(&Val::Null, Operator::Eq, &Val::Null));
        assert!(!holds(&Val::Null, Operator::NotEq, &s("x")));
        assert!(holds(&n("5"), Operator::Lt, &n("10")));
        assert!(holds(&s("5"), Operator::Lt, &n("10")));
        assert!(!holds(&s("abc"), Operator::Lt, &n("10")));
        // 'B' < 'a' byte-wise but not case-insensitively: undecidable, so it does not hold.
        assert!(!holds(&s("B"), Operator::Lt, &s("a")));
        assert!(holds(&s("team-a/x"), Operator::Like, &s("team-a/%")));
        assert!(!holds(&s("TEAM-A/x"), Operator::Like, &s("team-a/%")));
        assert!(!holds(&s("TEAM-A/x"), Operator::NotLike, &s("team-a/%")));
        assert!(holds(&s("team-b"), Operator::NotLike, &s("team-a%")));
        assert!(like("abc", "a_c", false) && like("abc", "%", false) && !like("ab", "a_c", false));
    }
}
