//! Simple-protocol texts of one shape (`… WHERE id = 1`, `… WHERE id = 2`) reuse one
//! translation with their literals bound: every message the client gets — RowDescription
//! with its types, rows, tags, errors and their positions, transaction status — is byte for
//! byte what the same query written so that it has no shape (`id =+1`) gets.

use crate::common::{ADMIN, TestGateway};
use crate::pgwire_raw::{Raw, cstr, error_code, frame};

/// Every message answering one `Query`, up to and including `ReadyForQuery`.
async fn query(raw: &mut Raw, sql: &str) -> Vec<(u8, Vec<u8>)> {
    raw.send(&frame(b'Q', &cstr(sql))).await;
    let mut out = Vec::new();
    loop {
        let message = raw.recv().await.expect("the server closed the connection");
        let done = message.0 == b'Z';
        out.push(message);
        if done {
            return out;
        }
    }
}

async fn setup(raw: &mut Raw) {
    let out = query(
        raw,
        "CREATE TABLE sh (id INTEGER PRIMARY KEY, name TEXT, score REAL, born DATE, ok BOOLEAN); \
         INSERT INTO sh VALUES (1, 'a', 1.5, '2020-01-02', 1), (2, 'b', NULL, NULL, 0), \
         (3, 'c', 3.0, '2021-03-04', NULL)",
    )
    .await;
    assert!(out.iter().all(|(k, _)| *k != b'E'), "{out:?}");
}

#[tokio::test]
async fn shaped_texts_answer_exactly_as_unshaped_ones() {
    let gw = TestGateway::start().await;
    let mut raw = Raw::login(&gw, ADMIN).await;
    setup(&mut raw).await;
    // (shaped, the same query written with `+n`, which has no shape and the same length)
    let cases = [
        "SELECT id, name, score, born, ok FROM sh WHERE id = {}",
        "SELECT * FROM sh WHERE id >= {} ORDER BY 1 DESC LIMIT 2;",
        "select count(*), max(score) from sh where id<> {} limit  2",
        // Translated (the select list changes): not reused, still right.
        "SELECT id, true AS t, name::varchar FROM sh WHERE id = {}",
        // Errors carry the same code, message and position.
        "SELECT nosuch FROM sh WHERE id = {}",
        "SELECT id FROM nosuch WHERE id = {}",
        "SELECT id FROM sh WHERE id =  {} AND nosuch = 1",
        "SELECT id FROM sh WHERE id =  {} AND ) = 1",
    ]
    .map(|shaped| {
        let reference = shaped
            .replace("  {}", " +{}")
            .replace(" {}", "+{}")
            .replace("limit  2", "limit +2");
        (shaped, reference)
    });
    for (shaped, reference) in cases {
        // Twice per literal: the first text of a shape translates it, the rest reuse it.
        for id in [1, 2, 3, 2, 9] {
            let got = query(&mut raw, &shaped.replace("{}", &id.to_string())).await;
            let want = query(&mut raw, &reference.replace("{}", &id.to_string())).await;
            assert_eq!(got, want, "{shaped} with {id}");
        }
    }
    // LIMIT as a parameter limits as the literal does.
    let out = query(&mut raw, "SELECT id FROM sh WHERE id > 0 LIMIT 2").await;
    assert_eq!(out.iter().filter(|(k, _)| *k == b'D').count(), 2);
    let out = query(&mut raw, "SELECT id FROM sh WHERE id > 0 LIMIT 1").await;
    assert_eq!(out.iter().filter(|(k, _)| *k == b'D').count(), 1);
}

#[tokio::test]
async fn shaped_texts_keep_transaction_state() {
    let gw = TestGateway::start().await;
    let mut raw = Raw::login(&gw, ADMIN).await;
    setup(&mut raw).await;
    let status = |out: &[(u8, Vec<u8>)]| out.last().map(|(_, body)| body[0]);
    let out = query(&mut raw, "BEGIN").await;
    assert_eq!(status(&out), Some(b'T'));
    let out = query(&mut raw, "INSERT INTO sh (id, name) VALUES (10, 'in txn')").await;
    assert_eq!(status(&out), Some(b'T'));
    // The transaction's own write is visible to a shaped read.
    let out = query(&mut raw, "SELECT name FROM sh WHERE id = 10").await;
    assert_eq!(out.iter().filter(|(k, _)| *k == b'D').count(), 1);
    let out = query(&mut raw, "SELECT nosuch FROM sh WHERE id = 10").await;
    assert_eq!(status(&out), Some(b'E'));
    // After an error, a shaped text is refused like any other.
    let out = query(&mut raw, "SELECT name FROM sh WHERE id = 1").await;
    let codes: Vec<String> = out
        .iter()
        .filter(|(k, _)| *k == b'E')
        .map(|(_, body)| error_code(body))
        .collect();
    assert_eq!(codes, vec!["25P02".to_owned()]);
    assert_eq!(status(&out), Some(b'E'));
    let out = query(&mut raw, "ROLLBACK").await;
    assert_eq!(status(&out), Some(b'I'));
    let out = query(&mut raw, "SELECT name FROM sh WHERE id = 10").await;
    assert_eq!(out.iter().filter(|(k, _)| *k == b'D').count(), 0);
    assert_eq!(status(&out), Some(b'I'));
}
