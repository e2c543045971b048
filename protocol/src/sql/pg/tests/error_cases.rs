use super::*;
use crate::sqlstate::SqlState;

#[test]
fn placeholder() {
    assert!(no_schema("SELECT 1").is_ok());
    let _ = SqlState::SYNTAX_ERROR;
}
