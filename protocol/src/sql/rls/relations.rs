//! What the caller knows about the database that the SQL text does not say: which views
//! exist and which tables each reads.
//!
//! Owns [`Relations`] and the transitive closure over views reading views. Must not know
//! how the caller learned it (catalog queries live in the backends).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

/// Views and the relations they read.
#[derive(Debug, Clone, Default)]
pub struct Relations {
    /// Lowercased view name → lowercased names of every relation it reads, transitively.
    views: BTreeMap<String, BTreeSet<String>>,
    fingerprint: u64,
}

impl Relations {
    /// Builds the map from `(view, relations it reads)`. Names are matched
    /// case-insensitively without schema; a view reading another view reads that view's
    /// tables too.
    #[must_use]
    pub fn new(views: Vec<(String, Vec<String>)>) -> Self {
        let mut direct: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (view, reads) in views {
            direct
                .entry(strip(&view))
                .or_default()
                .extend(reads.iter().map(|r| strip(r)));
        }
        let mut closed = BTreeMap::new();
        for view in direct.keys() {
            let mut seen = BTreeSet::new();
            let mut stack: Vec<String> = direct[view].iter().cloned().collect();
            while let Some(rel) = stack.pop() {
                if seen.insert(rel.clone())
                    && let Some(more) = direct.get(&rel)
                {
                    stack.extend(more.iter().cloned());
                }
            }
            closed.insert(view.clone(), seen);
        }
        let mut hasher = DefaultHasher::new();
        closed.hash(&mut hasher);
        Self {
            views: closed,
            fingerprint: hasher.finish(),
        }
    }

    /// No views known.
    #[must_use]
    pub fn empty() -> Self {
        Self::default()
    }

    /// The relations a view reads (transitively), if `name` is a known view.
    #[must_use]
    pub fn view_reads(&self, name: &str) -> Option<&BTreeSet<String>> {
        self.views.get(&name.to_ascii_lowercase())
    }

    /// A fingerprint of the contents, part of the rewrite cache key.
    #[must_use]
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
}

/// Lowercased, without any `schema.` prefix.
fn strip(name: &str) -> String {
    name.rsplit('.')
        .next()
        .unwrap_or(name)
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_are_closed_transitively() {
        let r = Relations::new(vec![
            ("V1".into(), vec!["main.todos".into()]),
            ("v2".into(), vec!["v1".into(), "other".into()]),
        ]);
        let reads = r.view_reads("V2").unwrap();
        assert!(reads.contains("todos") && reads.contains("v1") && reads.contains("other"));
        assert!(r.view_reads("todos").is_none());
        assert_ne!(r.fingerprint(), Relations::empty().fingerprint());
    }
}
