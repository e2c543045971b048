//! Translations of simple-protocol query shapes, per connection.
//!
//! Owns `ShapeCache`: shaped text (see `starbase_protocol::sql::pg::shape`) → the statement
//! its translation gave, when that translation left the text as it was (so running the shaped
//! text with the literals bound is what running the client's text would have been), or a
//! note that it did not (so such texts go straight to the full translation). Bounded: when
//! full it starts again empty, so a client sending endless distinct shapes costs one
//! translation each, as it would without the cache. Must not know the wire or SQLite.

use std::collections::HashMap;
use std::sync::Arc;

use super::dialect::Translated;

/// Shapes kept per connection before the cache starts again.
const MAX_SHAPES: usize = 256;

/// Shaped text → its translation, if usable.
#[derive(Debug, Default)]
pub struct ShapeCache {
    shapes: HashMap<String, Option<Arc<Translated>>>,
}

impl ShapeCache {
    /// What is known of `text`: `None` when it was never seen, `Some(None)` when its
    /// translation changed it (not usable with bound literals).
    #[must_use]
    pub fn get(&self, text: &str) -> Option<Option<Arc<Translated>>> {
        self.shapes.get(text).cloned()
    }

    /// Records what translating `text` gave.
    pub fn insert(&mut self, text: String, translated: Option<Arc<Translated>>) {
        if self.shapes.len() >= MAX_SHAPES {
            self.shapes.clear();
        }
        self.shapes.insert(text, translated);
    }
}
