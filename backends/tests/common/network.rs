//! Helpers for the network failure tests: backends on a chosen port, and a TCP proxy that
//! plays a server coming back.

use std::time::Duration;

use starbase_backends::mysql::MySqlBackend;
use starbase_backends::postgres::PgBackend;
use starbase_backends::sqlite::ExecOptions;
use starbase_backends::{AnyBackend, BackendKind, Error};
use starbase_protocol::{ExecMode, Params};

use super::{Outcome, drain, mysql_config, pg_config, plan};

/// A backend pointed at 127.0.0.1:`port` (database `test`).
pub(crate) fn network_backend(
    kind: BackendKind,
    port: u16,
    pool_size: usize,
    acquire: Duration,
) -> AnyBackend {
    let mut config = match kind {
        BackendKind::Postgres => pg_config(),
        _ => mysql_config(),
    };
    config.port = port;
    config.pool_size = pool_size;
    config.acquire_timeout = acquire;
    config.connect_timeout = Duration::from_secs(2);
    match kind {
        BackendKind::Postgres => AnyBackend::Postgres(PgBackend::connect(&config).unwrap()),
        _ => AnyBackend::MySql(MySqlBackend::connect(&config).unwrap()),
    }
}

pub(crate) async fn select_one(db: &AnyBackend, kind: BackendKind) -> Result<Outcome, Error> {
    drain(
        db.execute(
            plan(kind, ExecMode::Single, &[("SELECT 1", Params::None)]),
            ExecOptions::default(),
        )
        .await?,
    )
    .await
}

/// Forwards every connection accepted on `listener` to `target` until aborted.
pub(crate) async fn proxy(listener: tokio::net::TcpListener, target: u16) {
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((mut inbound, _)) = listener.accept().await {
        connections.spawn(async move {
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}
