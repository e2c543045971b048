//! Times the row-level-security rewrite of a point select: through the cache (one lookup
//! plus rendering the caller's values), building the template on every call, and parsing
//! alone with sqlparser as the peer. Run with
//! `cargo run --release -p starbase-protocol --example rls_rewrite_bench`.
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::time::Instant;

use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;
use starbase_protocol::Dialect;
use starbase_protocol::sql::rls::{
    Context, Policy, PolicySet, Relations, RlsCache, build_template,
};

fn per_call(label: &str, iterations: u32, mut f: impl FnMut()) {
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let nanos = start.elapsed().as_nanos() / u128::from(iterations);
    println!("{label}: {nanos} ns/call ({iterations} calls)");
}

fn main() {
    let sql = "SELECT * FROM todos WHERE id = ?";
    let policies = PolicySet::new(
        vec![
            Policy::from_row(
                "SELECT",
                None,
                "todos",
                "user_id",
                "context.id()",
                "string",
                None,
            )
            .unwrap(),
        ],
        vec![],
    );
    let relations = Relations::empty();
    let cache = RlsCache::default();
    let subjects: Vec<String> = (0..64).map(|i| format!("user-{i}")).collect();
    let mut n = 0usize;
    per_call("cached rewrite (lookup + render)", 200_000, || {
        let ctx = Context {
            subject: Some(&subjects[n % subjects.len()]),
            claims: None,
        };
        n += 1;
        let out = cache
            .rewrite(sql, Dialect::Sqlite, &policies, &relations, &ctx)
            .unwrap();
        std::hint::black_box(out);
    });
    per_call("uncached template build", 5_000, || {
        std::hint::black_box(build_template(sql, Dialect::Sqlite, &policies, &relations).unwrap());
    });
    per_call("sqlparser parse only (peer)", 20_000, || {
        std::hint::black_box(Parser::parse_sql(&SQLiteDialect {}, sql).unwrap());
    });
}
