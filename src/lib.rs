//! `starbase`: the gateway. Frontends (HTTP now, pgwire later), auth, engine, config, server.
