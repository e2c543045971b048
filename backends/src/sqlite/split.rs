//! Splits SQL text into its statements, the way SQLite itself sees their ends.
//!
//! Owns `split`, a port of SQLite's `sqlite3_complete()` state machine (`complete.c`): it
//! knows comments, quoted strings and identifiers, and that a `CREATE TRIGGER … BEGIN … END`
//! body holds semicolons. The executor needs the pieces before running anything (how many
//! statements, is one of them transaction control, where does an error point); SQLite's
//! prepare still has the last word on each piece. Must not know rusqlite or any plan type.

/// One statement of a text: its source (from the end of the previous statement to its own
/// terminating `;`, inclusive) and how many characters of the whole text come before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece<'a> {
    /// The statement's text, with leading whitespace and comments.
    pub text: &'a str,
    /// Characters of the whole text before `text` (to make error positions absolute).
    pub char_offset: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Token {
    Semi,
    Space,
    Other,
    Explain,
    Create,
    Temp,
    Trigger,
    End,
}

/// `sqlite3_complete`'s transition table: `TRANS[state][token]`.
/// States: 0 invalid (nothing yet), 1 start (after `;`), 2 normal, 3 explain, 4 create,
/// 5 inside a trigger, 6 `;` inside a trigger, 7 `END` after a `;` inside a trigger.
const TRANS: [[u8; 8]; 8] = [
    //  SEMI WS OTHER EXPLAIN CREATE TEMP TRIGGER END
    [1, 0, 2, 3, 4, 2, 2, 2],
    [1, 1, 2, 3, 4, 2, 2, 2],
    [1, 2, 2, 2, 2, 2, 2, 2],
    [1, 3, 3, 2, 4, 2, 2, 2],
    [1, 4, 2, 2, 2, 4, 5, 2],
    [6, 5, 5, 5, 5, 5, 5, 5],
    [6, 6, 5, 5, 5, 5, 5, 7],
    [1, 7, 5, 5, 5, 5, 5, 5],
];
const START: u8 = 1;

/// The non-empty statements of `sql`, in order. Pieces holding only whitespace, comments
/// or `;` are left out, so `split(";;")` is empty.
pub fn split(sql: &str) -> Vec<Piece<'_>> {
    let bytes = sql.as_bytes();
    let mut pieces = Vec::new();
    let mut state = 0u8;
    let mut start = 0;
    let mut has_content = false;
    let mut pos = 0;
    // Characters before byte `.0` are `.1`: offsets are counted incrementally, not from the
    // start of the text for every piece (a dump chunk holds thousands of statements).
    let mut counted = (0usize, 0usize);
    while pos < bytes.len() {
        let (token, len) = token_at(bytes, pos);
        pos += len;
        state = TRANS[usize::from(state)][token as usize];
        match token {
            Token::Semi if state == START => {
                if has_content {
                    pieces.push(piece(sql, start, pos, &mut counted));
                }
                start = pos;
                has_content = false;
            }
            Token::Semi | Token::Space => {}
            _ => has_content = true,
        }
    }
    if has_content {
        pieces.push(piece(sql, start, bytes.len(), &mut counted));
    }
    pieces
}

fn piece<'a>(sql: &'a str, start: usize, end: usize, counted: &mut (usize, usize)) -> Piece<'a> {
    // Invariant: token boundaries are ASCII bytes or the end of the text, so they are
    // char boundaries; fall back to the whole rest rather than panic.
    let text = sql
        .get(start..end)
        .or_else(|| sql.get(start..))
        .unwrap_or(sql);
    let (from, chars) = *counted;
    let char_offset = chars + sql.get(from..start).map_or(0, |gap| gap.chars().count());
    *counted = (start, char_offset);
    Piece { text, char_offset }
}

/// The token starting at `pos` and its length in bytes (at least 1; an unterminated
/// comment, string or identifier runs to the end of the text).
fn token_at(bytes: &[u8], pos: usize) -> (Token, usize) {
    let rest = &bytes[pos..];
    let until = |close: &[u8], from: usize| -> usize {
        rest[from..]
            .windows(close.len())
            .position(|w| w == close)
            .map_or(rest.len(), |i| from + i + close.len())
    };
    match rest[0] {
        b';' => (Token::Semi, 1),
        b' ' | b'\r' | b'\t' | b'\n' | b'\x0c' => (Token::Space, 1),
        b'/' if rest.get(1) == Some(&b'*') => (Token::Space, until(b"*/", 2)),
        b'-' if rest.get(1) == Some(&b'-') => (Token::Space, until(b"\n", 2)),
        b'[' => (Token::Other, until(b"]", 1)),
        q @ (b'`' | b'"' | b'\'') => (Token::Other, until(&[q], 1)),
        c if is_id_char(c) => {
            let len = rest
                .iter()
                .position(|&c| !is_id_char(c))
                .unwrap_or(rest.len());
            (keyword(&rest[..len]), len)
        }
        _ => (Token::Other, 1),
    }
}

fn keyword(word: &[u8]) -> Token {
    let is = |k: &str| word.eq_ignore_ascii_case(k.as_bytes());
    if is("create") {
        Token::Create
    } else if is("trigger") {
        Token::Trigger
    } else if is("temp") || is("temporary") {
        Token::Temp
    } else if is("end") {
        Token::End
    } else if is("explain") {
        Token::Explain
    } else {
        Token::Other
    }
}

/// SQLite's `IdChar`: letters, digits, `_`, `$` and every byte of a multi-byte character.
fn is_id_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<&str> {
        split(sql).into_iter().map(|p| p.text).collect()
    }

    #[test]
    fn splits_on_top_level_semicolons() {
        assert_eq!(texts("SELECT 1"), vec!["SELECT 1"]);
        assert_eq!(texts("SELECT 1;"), vec!["SELECT 1;"]);
        assert_eq!(
            texts("CREATE TABLE t (x); INSERT INTO t VALUES (1);"),
            vec!["CREATE TABLE t (x);", " INSERT INTO t VALUES (1);"]
        );
        let pieces = split("SELECT 'é'; SELECT 2");
        assert_eq!(pieces[1].char_offset, 11);
        assert_eq!(pieces[1].text, " SELECT 2");
    }

    #[test]
    fn empty_statements_and_comments_are_skipped() {
        assert!(texts("").is_empty());
        assert!(texts(";;  ;").is_empty());
        assert!(texts("-- just a comment").is_empty());
        assert!(texts("/* c */ ; -- x\n;").is_empty());
        assert_eq!(texts(";SELECT 1;;"), vec!["SELECT 1;"]);
        assert_eq!(texts("SELECT 1; -- trailing"), vec!["SELECT 1;"]);
    }

    #[test]
    fn semicolons_inside_strings_identifiers_and_comments_do_not_split() {
        for sql in [
            "SELECT ';'",
            "SELECT 'it''s; here'",
            "SELECT \"a;b\" FROM t",
            "SELECT [a;b] FROM t",
            "SELECT `a;b` FROM t",
            "SELECT 1 /* ; */ + 1",
            "SELECT 1 -- ;\n + 1",
            "SELECT 'unterminated; string",
        ] {
            assert_eq!(texts(sql), vec![sql], "{sql}");
        }
    }

    #[test]
    fn trigger_bodies_stay_whole() {
        let trigger = "CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN \
                       UPDATE t SET x = 1; DELETE FROM u; END;";
        let sql = format!("{trigger} SELECT 1; EXPLAIN CREATE TRIGGER x BEGIN SELECT 1; END");
        assert_eq!(
            texts(&sql),
            vec![
                trigger,
                " SELECT 1;",
                " EXPLAIN CREATE TRIGGER x BEGIN SELECT 1; END"
            ]
        );
        // `END` as a plain word (transaction control) ends nothing special.
        assert_eq!(texts("BEGIN; END;"), vec!["BEGIN;", " END;"]);
        // Words that merely start with a keyword are ordinary identifiers.
        assert_eq!(
            texts("CREATE TABLE triggers (ending); SELECT 1"),
            vec!["CREATE TABLE triggers (ending);", " SELECT 1"]
        );
    }

    #[test]
    fn non_ascii_text_is_split_on_char_boundaries() {
        assert_eq!(
            texts("SELECT 'é;ü'; SELECT ü"),
            vec!["SELECT 'é;ü';", " SELECT ü"]
        );
    }
}
