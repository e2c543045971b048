//! The shape of a simple-protocol query: its text with the integer literals that are plain
//! comparison operands (and `LIMIT`/`OFFSET` counts) replaced by `$n`, and their values.
//!
//! Owns [`shape`]. A client that sends `SELECT … WHERE id = 42`, then `… WHERE id = 43`,
//! sends one shape with different values; a frontend that translates the shape once and
//! binds the values skips the parser for every later text of that shape, and SQLite's
//! statement cache sees one statement instead of one per literal. The rules are narrow on
//! purpose, so that binding a value behaves exactly as the literal would have on SQLite:
//! one `SELECT` (no subquery, no compound, no `WITH`), no placeholders of its own, and only
//! literals at parenthesis depth 0 after the top-level `FROM` and before `GROUP BY`,
//! `ORDER BY`, `HAVING` and `WINDOW` (where a literal can be a column position or part of an
//! expression matched against the select list) that follow a comparison operator or
//! `LIMIT`/`OFFSET` and are not followed by a cast, subscript, member access or call. Must
//! not know translation or caching; [`translate`](super::translate) of the shaped text is
//! the caller's, and so is checking that it left the text unchanged.

use super::lex::{Tok, Token, tokenize};

/// A text with some integer literals replaced by `$1..$n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The statement (first token to last, without a trailing `;`) with the literals
    /// replaced.
    pub text: String,
    /// The replaced literals' values; `values[i]` is `$i+1`.
    pub values: Vec<i64>,
    /// Per placeholder: where it ends in `text` (a character index, exclusive) and how many
    /// characters longer the literal it replaced was (negative: shorter).
    shifts: Vec<(usize, isize)>,
}

impl Shape {
    /// The 1-based character position in the client's statement (counted from its first
    /// token, as positions in the unshaped statement are) of position `at` in the shaped
    /// text (an error position SQLite reported for it).
    #[must_use]
    pub fn original_position(&self, at: u32) -> u32 {
        let index = at.saturating_sub(1) as usize;
        let mut shift = 0isize;
        for &(end, delta) in &self.shifts {
            if index < end {
                break;
            }
            shift += delta;
        }
        let original = (at as isize).saturating_add(shift).max(1);
        u32::try_from(original).unwrap_or(at)
    }
}

/// The shape of `sql`, or `None` when it is not one statement of the narrow kind described
/// in the module header, or has no literal to replace.
#[must_use]
pub fn shape(sql: &str) -> Option<Shape> {
    let tokens = tokenize(sql).ok()?;
    let end = tokens
        .iter()
        .rposition(|t| t.kind != Tok::Semi)
        .map(|i| i + 1)?;
    let tokens = tokens.get(..end)?;
    if !tokens.first()?.is("SELECT") || !plain(sql, tokens) {
        return None;
    }
    let from = tokens
        .iter()
        .zip(depths(tokens))
        .position(|(t, d)| d == 0 && t.is("FROM"))?;
    let (first, last) = (tokens.first()?, tokens.last()?);
    let mut text = String::with_capacity(last.end - first.start + 8);
    let mut values = Vec::new();
    let mut shifts = Vec::new();
    let mut chars = 0usize;
    let mut copied = first.start;
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate() {
        depth = depth_after(depth, token);
        if i <= from {
            continue;
        }
        if depth == 0
            && ["GROUP", "ORDER", "HAVING", "WINDOW"]
                .iter()
                .any(|kw| token.is(kw))
        {
            break;
        }
        let Some(value) = replaceable(sql, tokens, i, depth) else {
            continue;
        };
        let before = sql.get(copied..token.start)?;
        text.push_str(before);
        values.push(value);
        let placeholder = format!("${}", values.len());
        text.push_str(&placeholder);
        chars += before.chars().count() + placeholder.len();
        let delta = isize::try_from(token.end - token.start).ok()?
            - isize::try_from(placeholder.len()).ok()?;
        shifts.push((chars, delta));
        copied = token.end;
    }
    if values.is_empty() {
        return None;
    }
    text.push_str(sql.get(copied..last.end)?);
    Some(Shape {
        text,
        values,
        shifts,
    })
}

/// No `;` inside, no second `SELECT`, no placeholder of any dialect (`$n`, `?`, `:name`,
/// `@name`, `$name`), no `::` cast written with a single colon.
fn plain(sql: &str, tokens: &[Token]) -> bool {
    let mut selects = 0;
    for (i, token) in tokens.iter().enumerate() {
        match &token.kind {
            Tok::Semi | Tok::Param(_) | Tok::Punct('?' | '@' | '$') => return false,
            Tok::Punct(':') => {
                let next_is_colon = tokens
                    .get(i + 1)
                    .is_some_and(|n| n.kind == Tok::Punct(':') && n.start == token.end);
                let prev_is_colon = i
                    .checked_sub(1)
                    .and_then(|p| tokens.get(p))
                    .is_some_and(|p| p.kind == Tok::Punct(':') && p.end == token.start);
                if !(next_is_colon || prev_is_colon) {
                    return false;
                }
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("SELECT") => selects += 1,
            // A word holding `$` (`a$b`) is fine; one starting with it is a placeholder.
            Tok::Word(w) if w.starts_with('$') => return false,
            _ => {}
        }
    }
    selects == 1 && !sql.is_empty()
}

/// Parenthesis depth after each token.
fn depths(tokens: &[Token]) -> Vec<usize> {
    let mut depth = 0;
    tokens
        .iter()
        .map(|t| {
            depth = depth_after(depth, t);
            depth
        })
        .collect()
}

fn depth_after(depth: usize, token: &Token) -> usize {
    match token.kind {
        Tok::Punct('(') => depth + 1,
        Tok::Punct(')') => depth.saturating_sub(1),
        _ => depth,
    }
}

/// The value of token `i` when it is an integer literal that may become a parameter.
fn replaceable(sql: &str, tokens: &[Token], i: usize, depth: usize) -> Option<i64> {
    let token = tokens.get(i)?;
    let Tok::Number(digits) = &token.kind else {
        return None;
    };
    if depth != 0 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i64 = digits.parse().ok()?;
    let next_binds = tokens.get(i + 1).is_some_and(|n| {
        matches!(n.kind, Tok::Punct(':' | '.' | '[' | '(')) || n.is("COLLATE") || n.is("ESCAPE")
    });
    if next_binds {
        return None;
    }
    let before = i.checked_sub(1).and_then(|p| tokens.get(p))?;
    if before.is("LIMIT") || before.is("OFFSET") {
        return Some(value);
    }
    comparison_before(sql, tokens, i).then_some(value)
}

/// True when the punctuation run right before token `i` is exactly a comparison operator.
fn comparison_before(sql: &str, tokens: &[Token], i: usize) -> bool {
    let punct = |t: &Token| matches!(t.kind, Tok::Punct(_));
    let Some(last) = i
        .checked_sub(1)
        .and_then(|p| tokens.get(p))
        .filter(|t| punct(t))
    else {
        return false;
    };
    let mut first = last;
    let mut at = i - 1;
    while let Some(p) = at.checked_sub(1).and_then(|p| tokens.get(p)) {
        if !punct(p) || p.end != first.start {
            break;
        }
        first = p;
        at -= 1;
    }
    matches!(
        sql.get(first.start..last.end),
        Some("=" | "==" | "<>" | "!=" | "<" | "<=" | ">" | ">=")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shaped(sql: &str) -> Option<(String, Vec<i64>)> {
        shape(sql).map(|s| (s.text, s.values))
    }

    #[test]
    fn comparison_operands_and_limits_become_parameters() {
        assert_eq!(
            shaped("SELECT name, value FROM kv WHERE id = 42;"),
            Some(("SELECT name, value FROM kv WHERE id = $1".into(), vec![42]))
        );
        assert_eq!(
            shaped("select * from t where a>=1 and b <> 2 limit 10 offset 5"),
            Some((
                "select * from t where a>=$1 and b <> $2 limit $3 offset $4".into(),
                vec![1, 2, 10, 5]
            ))
        );
    }

    #[test]
    fn literals_whose_meaning_depends_on_being_literals_stay() {
        // Select list (column names), ORDER BY / GROUP BY positions, casts, calls.
        assert_eq!(shaped("SELECT 1 = 1 FROM t"), None);
        assert_eq!(shaped("SELECT a FROM t ORDER BY a = 1"), None);
        assert_eq!(
            shaped("SELECT a FROM t GROUP BY 1 HAVING count(*) > 2"),
            None
        );
        assert_eq!(shaped("SELECT a FROM t WHERE a = 1::text"), None);
        assert_eq!(shaped("SELECT a FROM t WHERE a = 1.5"), None);
        assert_eq!(
            shaped("SELECT a FROM t WHERE a = 99999999999999999999"),
            None
        );
        assert_eq!(shaped("SELECT a FROM t WHERE (a = 1)"), None);
        assert_eq!(shaped("SELECT a FROM t WHERE a IN (1, 2)"), None);
        assert_eq!(shaped("SELECT a FROM t WHERE a => 1"), None);
        assert_eq!(
            shaped("SELECT a FROM t WHERE a - 1 > 0 ORDER BY 1 LIMIT 3"),
            Some((
                "SELECT a FROM t WHERE a - 1 > $1 ORDER BY 1 LIMIT 3".into(),
                vec![0]
            ))
        );
    }

    #[test]
    fn positions_map_back_to_the_clients_text() {
        let sql = "SELECT a FROM t WHERE id = 12345 AND b = 7 AND nosuch = 1";
        let shape = shape(sql).unwrap();
        assert_eq!(
            shape.text,
            "SELECT a FROM t WHERE id = $1 AND b = $2 AND nosuch = $3"
        );
        let at = |needle: &str, text: &str| u32::try_from(text.find(needle).unwrap() + 1).unwrap();
        for needle in ["SELECT", "id =", "AND b", "nosuch", "$3"] {
            let original = if needle == "$3" { "1" } else { needle };
            let want = u32::try_from(sql.rfind(original).unwrap() + 1).unwrap();
            assert_eq!(
                shape.original_position(at(needle, &shape.text)),
                want,
                "{needle}"
            );
        }
    }

    #[test]
    fn only_plain_single_selects_are_shaped() {
        assert_eq!(shaped("SELECT a FROM t WHERE a = 1; SELECT 2"), None);
        assert_eq!(
            shaped("SELECT a FROM t WHERE b IN (SELECT c FROM u) AND a = 1"),
            None
        );
        assert_eq!(
            shaped("WITH x AS (SELECT 1) SELECT * FROM x WHERE a = 1"),
            None
        );
        assert_eq!(
            shaped("SELECT a FROM t WHERE a = 1 UNION SELECT a FROM u"),
            None
        );
        assert_eq!(shaped("DELETE FROM t WHERE a = 1"), None);
        assert_eq!(shaped("SELECT a FROM t WHERE a = $1 AND b = 2"), None);
        assert_eq!(shaped("SELECT a FROM t WHERE a = ? AND b = 2"), None);
        assert_eq!(shaped("SELECT a FROM t WHERE a = :x AND b = 2"), None);
        assert_eq!(shaped("SELECT a FROM t WHERE a = @x AND b = 2"), None);
        assert_eq!(shaped("SELECT a FROM t WHERE a = 'x'"), None);
        assert_eq!(shaped("SELECT a FROM t WHERE a = 'unterminated"), None);
        assert_eq!(shaped(""), None);
        assert_eq!(shaped(";;"), None);
    }
}
