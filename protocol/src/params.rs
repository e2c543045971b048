//! Statement parameters and how placeholders pick their values.
//!
//! Owns `Params` (positional array or named object, as StarbaseDB's `params` field) and
//! `Placeholder` (one placeholder as written: `?`, `?NNN`, `$N`, `:name`, `@name`, `$name`).
//! `Params::bind` turns a statement's placeholder list into the values to bind, so every
//! backend binds the same way. Must not know any driver.
//!
//! Rules (StarbaseDB binds `$2, $1` and reused names by first appearance; we bind as meant):
//! - `$N` and `?N` take the N-th positional value, however often and in whatever order they appear;
//! - `?` takes the value at its own index (SQLite numbering: one more than the largest so far);
//! - `:name`, `@name` and `$name` take the key `name` of a named object, or with an array
//!   the value at the index of their first appearance;
//! - the number of values must match what the statement uses exactly (`22023` otherwise).

use std::collections::BTreeSet;

use crate::error::DbError;
use crate::value::Value;

/// Parameters supplied with a statement.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Params {
    /// No parameters were supplied (`params` absent or `null`).
    #[default]
    None,
    /// A JSON array: bound by position.
    Positional(Vec<Value>),
    /// A JSON object: bound by name, in the order the client wrote the keys.
    Named(Vec<(String, Value)>),
}

impl Params {
    /// Decodes StarbaseDB's `params` field.
    ///
    /// # Errors
    /// `22023` when `params` is not an array, object or null, or a value is malformed.
    pub fn from_json(json: Option<&serde_json::Value>) -> Result<Self, DbError> {
        use serde_json::Value as J;
        match json {
            None | Some(J::Null) => Ok(Params::None),
            Some(J::Array(items)) => Ok(Params::Positional(
                items
                    .iter()
                    .map(Value::from_json_param)
                    .collect::<Result<_, _>>()?,
            )),
            Some(J::Object(map)) => Ok(Params::Named(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), Value::from_json_param(v)?)))
                    .collect::<Result<_, DbError>>()?,
            )),
            Some(_) => Err(DbError::invalid_parameter(
                "invalid \"params\" field: must be an array or object",
            )),
        }
    }

    /// Number of supplied values.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Params::None => 0,
            Params::Positional(v) => v.len(),
            Params::Named(v) => v.len(),
        }
    }

    /// True when no values were supplied.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values for one statement's placeholders, given as `(index, placeholder)` with the
    /// 1-based bind index the engine assigned to each distinct placeholder.
    ///
    /// # Errors
    /// `22023` when a value is missing or a placeholder style does not fit the params kind.
    pub fn bind(&self, slots: &[(usize, Placeholder)]) -> Result<Vec<Value>, DbError> {
        slots
            .iter()
            .map(|(index, ph)| self.value_for(*index, ph).cloned())
            .collect()
    }

    fn value_for(&self, index: usize, ph: &Placeholder) -> Result<&Value, DbError> {
        match (self, ph) {
            (Params::Named(map), Placeholder::Named { name, .. }) => map
                .iter()
                .find(|(k, _)| k == name || k.get(1..) == Some(name.as_str()))
                .map(|(_, v)| v)
                .ok_or_else(|| {
                    DbError::invalid_parameter(format!(
                        "no value supplied for parameter \"{}\"",
                        ph.as_written()
                    ))
                }),
            (Params::Named(_), _) => Err(DbError::invalid_parameter(format!(
                "parameter \"{}\" is positional, but \"params\" is an object",
                ph.as_written()
            ))),
            (_, _) => {
                let n = ph.number().unwrap_or(index);
                let values: &[Value] = match self {
                    Params::Positional(v) => v,
                    _ => &[],
                };
                n.checked_sub(1).and_then(|i| values.get(i)).ok_or_else(|| {
                    DbError::invalid_parameter(format!(
                        "statement uses parameter {} (\"{}\"), but {} value{} supplied",
                        n,
                        ph.as_written(),
                        values.len(),
                        if values.len() == 1 { " was" } else { "s were" }
                    ))
                })
            }
        }
    }

    /// Checks that the supplied values are exactly the ones the statements use.
    ///
    /// `used` is every `(index, placeholder)` of every statement the params apply to.
    ///
    /// # Errors
    /// `22023` naming the expected and supplied counts, or the unused key.
    pub fn check_count(&self, used: &[(usize, Placeholder)]) -> Result<(), DbError> {
        match self {
            Params::Named(map) => {
                for (key, _) in map {
                    let bare = key.get(1..).filter(|_| key.starts_with([':', '@', '$']));
                    let is_used = used.iter().any(|(_, ph)| match ph {
                        Placeholder::Named { name, .. } => {
                            name == key || bare == Some(name.as_str())
                        }
                        _ => false,
                    });
                    if !is_used {
                        return Err(DbError::invalid_parameter(format!(
                            "\"params\" has a value for \"{key}\", but the statement has no such parameter"
                        )));
                    }
                }
                Ok(())
            }
            Params::None | Params::Positional(_) => {
                let needed: BTreeSet<usize> = used
                    .iter()
                    .map(|(index, ph)| ph.number().unwrap_or(*index))
                    .collect();
                let expected = needed.last().copied().unwrap_or(0);
                if expected == self.len() {
                    Ok(())
                } else {
                    Err(DbError::invalid_parameter(format!(
                        "statement expects {expected} parameter{}, but {} {} supplied",
                        if expected == 1 { "" } else { "s" },
                        self.len(),
                        if self.len() == 1 { "was" } else { "were" }
                    )))
                }
            }
        }
    }
}

/// One placeholder as written in the SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placeholder {
    /// `?`.
    Anonymous,
    /// `$N` or `?N` (1-based).
    Numbered {
        /// The number N.
        n: usize,
        /// The sigil as written: `$` or `?`.
        sigil: char,
    },
    /// `:name`, `@name` or `$name`.
    Named {
        /// The name without its sigil.
        name: String,
        /// The sigil as written.
        sigil: char,
    },
}

impl Placeholder {
    /// Parses a placeholder token as SQLite reports it (`sqlite3_bind_parameter_name`);
    /// `None` (no name) is an anonymous `?`.
    #[must_use]
    pub fn from_token(token: Option<&str>) -> Self {
        let Some(token) = token else {
            return Placeholder::Anonymous;
        };
        let mut chars = token.chars();
        let sigil = chars.next().unwrap_or('?');
        let rest = chars.as_str();
        if rest.is_empty() {
            return Placeholder::Anonymous;
        }
        if matches!(sigil, '$' | '?')
            && rest.bytes().all(|b| b.is_ascii_digit())
            && let Ok(n) = rest.parse::<usize>()
        {
            return Placeholder::Numbered { n, sigil };
        }
        Placeholder::Named {
            name: rest.to_owned(),
            sigil,
        }
    }

    /// The explicit number of a `$N`/`?N` placeholder.
    #[must_use]
    pub fn number(&self) -> Option<usize> {
        match self {
            Placeholder::Numbered { n, .. } => Some(*n),
            _ => None,
        }
    }

    /// The placeholder as the user wrote it.
    #[must_use]
    pub fn as_written(&self) -> String {
        match self {
            Placeholder::Anonymous => "?".to_owned(),
            Placeholder::Numbered { n, sigil } => format!("{sigil}{n}"),
            Placeholder::Named { name, sigil } => format!("{sigil}{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slots(tokens: &[Option<&str>]) -> Vec<(usize, Placeholder)> {
        tokens
            .iter()
            .enumerate()
            .map(|(i, t)| (i + 1, Placeholder::from_token(*t)))
            .collect()
    }

    fn ints(values: &[Value]) -> Vec<i64> {
        values
            .iter()
            .map(|v| match v {
                Value::Int(i) => *i,
                other => panic!("not an int: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn dollar_numbers_bind_by_number_not_appearance() {
        let p = Params::from_json(Some(&json!([1, 2]))).unwrap();
        // SQLite numbers `SELECT $2, $1` as index 1 = "$2", index 2 = "$1".
        let s = slots(&[Some("$2"), Some("$1")]);
        p.check_count(&s).unwrap();
        assert_eq!(ints(&p.bind(&s).unwrap()), vec![2, 1]);
    }

    #[test]
    fn reused_number_binds_same_value_and_counts_once() {
        let p = Params::from_json(Some(&json!([7]))).unwrap();
        let s = slots(&[Some("$1")]);
        p.check_count(&s).unwrap();
        assert_eq!(ints(&p.bind(&s).unwrap()), vec![7]);
    }

    #[test]
    fn anonymous_and_qnnn() {
        let p = Params::from_json(Some(&json!([10, 20, 30]))).unwrap();
        let s = slots(&[None, None, Some("?3")]);
        p.check_count(&s).unwrap();
        assert_eq!(ints(&p.bind(&s).unwrap()), vec![10, 20, 30]);
        let s = vec![(1, Placeholder::from_token(Some("?2")))];
        assert!(p.check_count(&s).is_err());
    }

    #[test]
    fn named_object_with_every_sigil() {
        let p = Params::from_json(Some(&json!({"a": 1, ":b": 2, "c": 3}))).unwrap();
        let s = slots(&[Some(":a"), Some("@b"), Some("$c")]);
        p.check_count(&s).unwrap();
        assert_eq!(ints(&p.bind(&s).unwrap()), vec![1, 2, 3]);
    }

    #[test]
    fn named_with_array_binds_by_first_appearance() {
        let p = Params::from_json(Some(&json!([5, 6]))).unwrap();
        let s = slots(&[Some(":x"), Some(":y")]);
        p.check_count(&s).unwrap();
        assert_eq!(ints(&p.bind(&s).unwrap()), vec![5, 6]);
    }

    #[test]
    fn wrong_counts_are_22023() {
        let s = slots(&[Some("$1"), Some("$2")]);
        for params in [json!([1]), json!([1, 2, 3]), json!([])] {
            let p = Params::from_json(Some(&params)).unwrap();
            let err = p.check_count(&s).unwrap_err();
            assert_eq!(err.code.as_str(), "22023", "{params}");
        }
        let err = Params::None.check_count(&s).unwrap_err();
        assert!(
            err.message.contains("expects 2 parameters, but 0 were"),
            "{}",
            err.message
        );
        // no placeholders, some values
        let p = Params::from_json(Some(&json!([1]))).unwrap();
        assert!(p.check_count(&[]).is_err());
        // object with an unused key, object missing a key, object with positional placeholders
        let p = Params::from_json(Some(&json!({"a": 1, "zz": 2}))).unwrap();
        assert!(p.check_count(&slots(&[Some(":a")])).is_err());
        let p = Params::from_json(Some(&json!({"a": 1}))).unwrap();
        assert!(p.bind(&slots(&[Some(":a"), Some(":b")])).is_err());
        assert!(p.bind(&slots(&[Some("$1")])).is_err());
    }

    #[test]
    fn params_field_must_be_array_object_or_null() {
        assert_eq!(Params::from_json(None).unwrap(), Params::None);
        assert_eq!(Params::from_json(Some(&json!(null))).unwrap(), Params::None);
        for bad in [json!(1), json!("x"), json!(true)] {
            assert_eq!(
                Params::from_json(Some(&bad)).unwrap_err().code.as_str(),
                "22023"
            );
        }
    }
}
