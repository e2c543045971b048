//! SET, RESET and SHOW in all their PostgreSQL spellings, as session commands.
//!
//! Owns setting-name normalisation (lowercase, `"DateStyle"` → `datestyle`, `TIME ZONE` →
//! `timezone`) and value printing (as SHOW prints it). Must not know which settings exist or
//! their values: the frontend keeps them.

use super::SetCommand;
use super::control::transaction_modes;
use super::lex::{Tok, Token};

/// `SET …`. `None` when the tokens are not a SET this module understands (SQLite then
/// reports the error).
pub(super) fn set(t: &[Token]) -> Option<SetCommand> {
    let mut at = 1;
    let mut local = false;
    if t.get(at).is_some_and(|w| w.is("LOCAL")) {
        local = true;
        at += 1;
    } else if t.get(at).is_some_and(|w| w.is("SESSION"))
        && !t
            .get(at + 1)
            .is_some_and(|w| w.is("CHARACTERISTICS") || w.is("AUTHORIZATION"))
    {
        at += 1;
    }
    let rest = t.get(at..)?;
    let head = |i: usize| rest.get(i).and_then(Token::word).unwrap_or_default();
    match (head(0).as_str(), head(1).as_str()) {
        ("TRANSACTION", _) => transaction(rest.get(1..)?, "transaction_", true),
        ("SESSION", "CHARACTERISTICS") if head(2) == "AS" && head(3) == "TRANSACTION" => {
            transaction(rest.get(4..)?, "default_transaction_", false)
        }
        ("SESSION", "AUTHORIZATION") => assign("session_authorization", rest.get(2..)?, local),
        ("TIME", "ZONE") => {
            let value = rest.get(2..)?;
            if value.len() == 1 && value.first().is_some_and(|v| v.is("LOCAL")) {
                return Some(SetCommand::Default {
                    name: "timezone".to_owned(),
                    local,
                });
            }
            assign("timezone", value, local)
        }
        ("NAMES", _) => assign("client_encoding", rest.get(1..)?, local),
        ("SCHEMA", _) => assign("search_path", rest.get(1..)?, local),
        ("ROLE", _) => assign("role", rest.get(1..)?, local),
        _ => {
            let (name, used) = setting_name(rest)?;
            let value = rest.get(used..)?;
            let is_assign = value
                .first()
                .is_some_and(|v| v.is("TO") || v.kind == Tok::Punct('='));
            if !is_assign {
                return None;
            }
            assign(&name, value.get(1..)?, local)
        }
    }
}

/// `name = value-list` or `name = DEFAULT`.
fn assign(name: &str, value: &[Token], local: bool) -> Option<SetCommand> {
    let name = name.to_owned();
    if value.len() == 1 && value.first().is_some_and(|v| v.is("DEFAULT")) {
        return Some(SetCommand::Default { name, local });
    }
    let value = value_list(&name, value)?;
    Some(SetCommand::Value { name, value, local })
}

/// `SET TRANSACTION …` / `SET SESSION CHARACTERISTICS AS TRANSACTION …`.
fn transaction(modes: &[Token], prefix: &str, local: bool) -> Option<SetCommand> {
    let modes = transaction_modes(modes)?;
    let mut commands: Vec<SetCommand> = modes
        .into_iter()
        .map(|(suffix, value)| SetCommand::Value {
            name: format!("{prefix}{suffix}"),
            value: value.to_owned(),
            local,
        })
        .collect();
    match commands.len() {
        0 => None,
        1 => commands.pop(),
        _ => Some(SetCommand::Several(commands)),
    }
}

/// A (possibly dotted) setting name and the number of tokens it used.
fn setting_name(t: &[Token]) -> Option<(String, usize)> {
    let mut parts = Vec::new();
    let mut at = 0;
    loop {
        let part = match &t.get(at)?.kind {
            Tok::Word(w) | Tok::Quoted(w) => w.to_ascii_lowercase(),
            _ => return None,
        };
        parts.push(part);
        at += 1;
        if t.get(at).is_some_and(|p| p.kind == Tok::Punct('.')) {
            at += 1;
        } else {
            return Some((parts.join("."), at));
        }
    }
}

/// The value list as SHOW prints it: strings unquoted, bare words lowercased (except for
/// settings whose values are case-sensitive names), numbers with their sign, `, `-joined.
fn value_list(name: &str, t: &[Token]) -> Option<String> {
    let keep_case = matches!(
        name,
        "datestyle" | "timezone" | "application_name" | "client_encoding"
    );
    let mut items = Vec::new();
    let mut sign = "";
    let mut expect_item = true;
    for token in t {
        match &token.kind {
            Tok::Punct(',') if !expect_item => expect_item = true,
            Tok::Punct(c @ ('-' | '+')) if expect_item && sign.is_empty() => {
                sign = if *c == '-' { "-" } else { "+" };
            }
            Tok::Number(n) if expect_item => {
                items.push(format!("{}{n}", if sign == "-" { "-" } else { "" }));
                (sign, expect_item) = ("", false);
            }
            Tok::Str(s) | Tok::Quoted(s) if expect_item && sign.is_empty() => {
                items.push(s.clone());
                expect_item = false;
            }
            Tok::Word(w) if expect_item && sign.is_empty() => {
                items.push(if keep_case {
                    w.clone()
                } else {
                    w.to_ascii_lowercase()
                });
                expect_item = false;
            }
            _ => return None,
        }
    }
    if expect_item {
        return None;
    }
    if LIST_QUOTE.contains(&name) {
        for item in &mut items {
            *item = quote_identifier(item);
        }
    }
    Some(items.join(", "))
}

/// Settings whose list items PostgreSQL prints as identifiers (`GUC_LIST_QUOTE`).
const LIST_QUOTE: &[&str] = &[
    "search_path",
    "temp_tablespaces",
    "session_preload_libraries",
];

/// `"x"` unless `x` is a plain lowercase identifier (as PostgreSQL's `quote_identifier`).
fn quote_identifier(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        s.to_owned()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// `RESET name`, `RESET ALL`, `RESET TIME ZONE`, `RESET SESSION AUTHORIZATION`.
pub(super) fn reset(t: &[Token]) -> Option<SetCommand> {
    let rest = t.get(1..)?;
    let words: Vec<String> = rest.iter().filter_map(Token::word).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let name = match words.as_slice() {
        ["ALL"] => return Some(SetCommand::ResetAll),
        ["TIME", "ZONE"] => "timezone".to_owned(),
        ["SESSION", "AUTHORIZATION"] => "session_authorization".to_owned(),
        _ => {
            let (name, used) = setting_name(rest)?;
            if used != rest.len() {
                return None;
            }
            name
        }
    };
    Some(SetCommand::Default { name, local: false })
}

/// `SHOW name`, `SHOW ALL`, `SHOW TRANSACTION ISOLATION LEVEL`, `SHOW TIME ZONE`,
/// `SHOW SESSION AUTHORIZATION`.
pub(super) fn show(t: &[Token]) -> Option<String> {
    let rest = t.get(1..)?;
    let words: Vec<String> = rest.iter().filter_map(Token::word).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    Some(match words.as_slice() {
        ["TRANSACTION", "ISOLATION", "LEVEL"] => "transaction_isolation".to_owned(),
        ["TIME", "ZONE"] => "timezone".to_owned(),
        ["SESSION", "AUTHORIZATION"] => "session_authorization".to_owned(),
        _ => {
            let (name, used) = setting_name(rest)?;
            if used != rest.len() {
                return None;
            }
            name
        }
    })
}
