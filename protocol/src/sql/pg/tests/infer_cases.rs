use super::*;
use crate::pgtype::PgType;

#[test]
fn placeholder() {
    assert_eq!(query("SELECT 1").params, Vec::<PgType>::new());
}
