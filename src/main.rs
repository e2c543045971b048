//! The `starbase` binary.
fn main() {}
