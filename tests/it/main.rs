//! End-to-end tests: the real gateway on port 0, driven by real clients.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod binary;
mod clients;
mod common;
mod dump;
mod dump_callback;
mod dump_external;
mod dump_jobs;
mod dump_resume;
mod dump_s3;
mod export;
mod external;
mod external_dump;
mod external_routes;
mod external_socket;
mod external_values;
mod http_errors;
mod http_misc;
mod http_query;
mod import;
mod jwt;
mod jwt_forged;
mod jwt_pgwire;
mod pgwire;
mod pgwire_clients;
mod pgwire_proxy;
mod pgwire_raw;
mod pgwire_session;
mod pgwire_shapes;
mod pgwire_tls;
mod rate_limit;
mod readme;
mod rest;
mod security;
mod slt;
mod ws;
