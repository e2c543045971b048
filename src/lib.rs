//! `starbase`: a StarbaseDB-compatible HTTP SQLite database and PostgreSQL-wire gateway.
//!
//! Layout (three layers, one direction: frontends → engine → backends):
//! - [`config`], [`cli`]: layered configuration (defaults → file → env → flags);
//! - [`server`]: binds listeners, serves, drains on shutdown;
//! - [`frontend`]: the protocols clients speak (HTTP today);
//! - [`auth`]: tokens and JWTs → principals; [`limit`]: rate limits shared by the frontends;
//! - [`engine`]: request → plan → backend;
//! - [`error`]: the gateway error and its client-facing form;
//! - [`dump`]: asynchronous chunked dumps to object storage; [`dump_client`]: `starbase dump`;
//! - [`meta`]: the gateway's own metadata database (jobs, policies, logs);
//! - [`tls`]: TLS for both listeners (rustls).
//!
//! Pure types live in `starbase-protocol`; database engines in `starbase-backends`.

pub mod auth;
pub mod cli;
pub mod config;
pub mod dump;
pub mod dump_client;
pub mod engine;
pub mod error;
pub mod frontend;
pub mod limit;
pub mod meta;
pub mod security;
pub mod server;
pub mod telemetry;
pub mod tls;

pub use error::Error;
pub use server::Server;

/// Runs the gateway on a new multi-threaded runtime until Ctrl-C or SIGTERM.
///
/// # Errors
/// Start-up failures (database, listeners) and a failing HTTP server.
pub fn run_blocking(config: config::Config) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the async runtime", e))?;
    runtime.block_on(async move {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let server = Server::bind(&config).await?;
        let signal = shutdown.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            signal.cancel();
        });
        server.serve(shutdown).await
    })
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let sigterm = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        () = sigterm => {}
    }
}
