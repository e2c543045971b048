//! The embedded SQLite engine.
//!
//! Owns the database file: one writer thread (the only connection that writes) and a pool of
//! read-only connections on their own threads, used for read-only plans. Every SQLite call
//! happens on these threads, never on async workers. Must not know any frontend.
