//! WebSocket request frames: `{"action": "query", "sql", "params", "id"?}` or
//! `{"transaction": [...], "id"?}`, and the reply frames.
//!
//! Owns decoding a frame into a `QueryRequest` plus its correlation id, and framing replies:
//! without an `id` the reply is StarbaseDB's bare result (rows array); with one it is
//! `{"id": …, "result": …}`. Errors are `{"error", "code", …}` (plus `id`). Must not know sockets.

use starbase_protocol::api::query::QueryRequest;
use starbase_protocol::{DbError, SqlState};

/// A decoded request frame.
#[derive(Debug)]
pub(super) struct Request {
    /// The client's correlation id, echoed in the reply.
    pub(super) id: Option<serde_json::Value>,
    /// What to run.
    pub(super) query: QueryRequest,
}

/// A frame that cannot run: whatever id could be read, and why.
pub(super) type Rejected = Box<(Option<serde_json::Value>, DbError)>;

/// Decodes a text frame. On failure returns the error and whatever id could be read.
pub(super) fn decode(text: &str) -> Result<Request, Rejected> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Box::new((
            None,
            DbError::new(
                SqlState::INVALID_TEXT_REPRESENTATION,
                format!("malformed JSON message: {e}"),
            ),
        ))
    })?;
    let id = json.get("id").cloned();
    if let Some(action) = json.get("action")
        && action.as_str() != Some("query")
    {
        return Err(Box::new((
            id,
            DbError::invalid_parameter(format!(
                "unknown action {action}: the only action is \"query\""
            )),
        )));
    }
    match QueryRequest::from_json(&json) {
        Ok(query) => Ok(Request { id, query }),
        Err(e) => Err(Box::new((id, e))),
    }
}

/// The `id` of a request frame, if it has one (for a reply to a frame that is not run).
pub(super) fn request_id(text: &str) -> Option<serde_json::Value> {
    match decode(text) {
        Ok(request) => request.id,
        Err(rejected) => rejected.0,
    }
}

/// The bytes before and after a result for a reply with this id.
pub(super) fn frame(id: Option<&serde_json::Value>) -> (Vec<u8>, &'static [u8]) {
    match id {
        None => (Vec::new(), b""),
        Some(id) => {
            let mut prefix = b"{\"id\":".to_vec();
            prefix.extend_from_slice(id.to_string().as_bytes());
            prefix.extend_from_slice(b",\"result\":");
            (prefix, b"}")
        }
    }
}

/// An error reply, with the request id when there is one.
pub(super) fn error(id: Option<&serde_json::Value>, error: &DbError) -> String {
    let mut body: serde_json::Value = serde_json::from_slice(
        &crate::frontend::http::error::error_body(error),
    )
    .unwrap_or_else(|_| serde_json::json!({"error": error.message, "code": error.code.as_str()}));
    if let (Some(id), Some(map)) = (id, body.as_object_mut()) {
        map.insert("id".to_owned(), id.clone());
    }
    body.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_queries_transactions_and_ids() {
        let r = decode(r#"{"action":"query","sql":"SELECT 1","params":[],"id":7}"#).unwrap();
        assert_eq!(r.id, Some(json!(7)));
        assert!(matches!(r.query, QueryRequest::Single(_)));
        let r = decode(r#"{"transaction":[{"sql":"SELECT 1"}],"id":"a"}"#).unwrap();
        assert!(matches!(r.query, QueryRequest::Transaction(_)));
        let (id, e) = *decode(r#"{"action":"nope","sql":"SELECT 1","id":3}"#).unwrap_err();
        assert_eq!((id, e.code.as_str()), (Some(json!(3)), "22023"));
        let (id, e) = *decode("{nope").unwrap_err();
        assert_eq!((id, e.code.as_str()), (None, "22P02"));
        let (_, e) = *decode(r#"{"action":"query","sql":"  "}"#).unwrap_err();
        assert!(e.message.contains("\"sql\""));
    }

    #[test]
    fn frames_and_errors_carry_the_id() {
        assert_eq!(frame(None).0, b"");
        let (prefix, suffix) = frame(Some(&json!("x")));
        assert_eq!(prefix, br#"{"id":"x","result":"#);
        assert_eq!(suffix, b"}");
        let e = error(Some(&json!(1)), &DbError::invalid_parameter("bad"));
        let v: serde_json::Value = serde_json::from_str(&e).unwrap();
        assert_eq!(v, json!({"error": "bad", "code": "22023", "id": 1}));
    }
}
