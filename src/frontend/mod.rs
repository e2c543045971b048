//! Frontends: the protocols clients speak. Each turns requests into plans for the engine and
//! renders results and errors in its own encoding (HTTP, WebSocket, PostgreSQL wire). They must not know backend or driver types.

pub mod http;
pub mod pgwire;
pub mod ws;
