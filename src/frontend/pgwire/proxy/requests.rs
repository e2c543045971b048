//! Client → server: each complete client message is relayed, rewritten or answered.
//!
//! Owns the per-message rules of transaction pooling on the request side: named statements
//! renamed to their shared server names and prepared on a connection that lacks them (the
//! `Parse` injected, its answer swallowed), a `Parse` of a statement the connection already
//! has answered by the proxy, `Close` of a named statement answered by the proxy (the server
//! statement stays for other clients), `DEALLOCATE` of a client name rewritten to the server
//! name, and the session effects that pin the session or change its settings.
//! Must not know sockets.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use starbase_protocol::sql::pg::{SessionEffect, session_effects};
use tokio::io::{AsyncRead, AsyncWrite};

use super::frames::{error_body, put_message};
use super::pipelined::LaneTry;
use super::relay::{Expect, Kind, Mode, ParseNote, Relay, STREAM_FROM, Step};
use super::settings::Settings;

/// The largest client message (PostgreSQL's own limit).
const MAX_CLIENT_MESSAGE: usize = 1 << 30;
const PARSE_COMPLETE: &[u8] = &[b'1', 0, 0, 0, 4];
const CLOSE_COMPLETE: &[u8] = &[b'3', 0, 0, 0, 4];
/// Statements one server connection keeps prepared; past it the least recently used one is
/// closed (it is prepared again when a client needs it).
const MAX_PREPARED_PER_CONNECTION: usize = 500;

/// The whole length (type byte included) of the message at the start of `buf`, when its
/// header is there.
pub(super) fn message_len(buf: &[u8]) -> Option<usize> {
    let header = buf.get(..5)?;
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    Some(usize::try_from(len).ok()? + 1)
}

/// A NUL-terminated string at the start of `body` and what follows it.
pub(super) fn cstr(body: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = body.iter().position(|b| *b == 0)?;
    Some((&body[..end], &body[end + 1..]))
}

impl<C: AsyncRead + AsyncWrite + Unpin> Relay<'_, C> {
    /// Handles the complete client messages read so far.
    pub(super) fn on_client_bytes(&mut self) -> Option<Step> {
        loop {
            // The next messages wait for the answer on the lane.
            if self.lane.is_some() {
                return None;
            }
            if self.client_stream.remaining > 0 {
                let n = self.client_stream.remaining.min(self.client_in.len());
                if n == 0 {
                    return None;
                }
                let chunk = self.client_in.split_to(n);
                self.server_out.extend_from_slice(&chunk);
                self.client_stream.remaining -= n;
                continue;
            }
            let len = message_len(&self.client_in)?;
            if !(5..=MAX_CLIENT_MESSAGE + 1).contains(&len) {
                return Some(Step::ClientGone);
            }
            let kind = self.client_in[0];
            if kind == b'X' {
                return Some(Step::ClientGone);
            }
            if self.skip_to_sync && kind != b'S' {
                if self.client_in.len() < len {
                    return None;
                }
                let _ = self.client_in.split_to(len);
                continue;
            }
            if self.hold.is_none() {
                if self.skip_to_sync {
                    if self.client_in.len() < len {
                        return None;
                    }
                    let _ = self.client_in.split_to(len);
                    self.skip_to_sync = false;
                    self.synth_ready();
                    continue;
                }
                return match self.try_lane() {
                    LaneTry::Queued | LaneTry::Wait => None,
                    LaneTry::Open => Some(Step::NeedLane),
                    LaneTry::No => Some(Step::NeedConn),
                };
            }
            if self.client_in.len() < len {
                // A long COPY chunk goes through as it arrives.
                if kind == b'd' && len >= STREAM_FROM {
                    let chunk = self.client_in.split();
                    self.client_stream.remaining = len - chunk.len();
                    self.server_out.extend_from_slice(&chunk);
                }
                return None;
            }
            let message = self.client_in.split_to(len).freeze();
            self.skip_to_sync = false;
            self.on_client_message(kind, &message);
            self.emit_synth();
        }
    }

    fn on_client_message(&mut self, kind: u8, message: &Bytes) {
        let body = &message[5..];
        if self.server_skipping {
            if kind != b'S' {
                // The server ignores it after its error: no answer, nothing to track.
                self.server_out.extend_from_slice(message);
                return;
            }
            self.server_skipping = false;
        }
        match kind {
            b'Q' => self.on_query(message, body),
            b'P' => self.on_parse(message, body),
            b'B' => self.on_bind(message, body),
            b'D' => self.on_describe(message, body),
            b'C' => self.on_close(message, body),
            b'E' => self.forward(message, Kind::Execute),
            b'S' | b'H' if self.copy_in_open => self.server_out.extend_from_slice(message),
            b'S' => self.forward(message, Kind::Sync),
            b'c' | b'f' => {
                self.server_out.extend_from_slice(message);
                if !std::mem::take(&mut self.copy_in_open) {
                    self.queue
                        .push_back(Expect::new(Kind::CopyEnd, Mode::Synth(Bytes::new())));
                }
            }
            b'F' => self.forward(message, Kind::Query),
            // Flush, COPY data and anything else: no answer of their own.
            _ => self.server_out.extend_from_slice(message),
        }
    }

    fn forward(&mut self, message: &[u8], kind: Kind) {
        self.server_out.extend_from_slice(message);
        self.queue.push_back(Expect::new(kind, Mode::Forward));
    }

    fn conn(&mut self) -> &mut super::pool::ServerConn {
        &mut self
            .hold
            .as_mut()
            .expect("invariant: client messages are handled while a connection is held")
            .conn
    }

    fn on_query(&mut self, message: &[u8], body: &[u8]) {
        let text = std::str::from_utf8(cstr(body).map_or(body, |(t, _)| t)).unwrap_or("");
        let effects = session_effects(text);
        // A simple query destroys the unnamed statement.
        self.state.unnamed = None;
        self.conn().unnamed = None;
        let mut kept = Vec::new();
        let mut rewritten = None;
        for effect in effects {
            match effect {
                SessionEffect::Deallocate(name) if is_single(text) => {
                    rewritten = self.deallocate(name.as_deref());
                }
                other => {
                    if let Some(effect) = self.on_effect(other) {
                        kept.push(effect);
                    }
                }
            }
        }
        match rewritten {
            Some(sql) => put_message(&mut self.server_out, b'Q', &[sql.as_bytes(), &[0]]),
            None => self.server_out.extend_from_slice(message),
        }
        let mut expect = Expect::new(Kind::Query, Mode::Forward);
        expect.effects = kept;
        self.queue.push_back(expect);
    }

    /// Pins, or resets what `DISCARD ALL` resets; the effects to apply on success remain.
    fn on_effect(&mut self, effect: SessionEffect) -> Option<SessionEffect> {
        match effect {
            SessionEffect::Pin(what) => {
                self.pin(what);
                None
            }
            SessionEffect::DiscardAll => {
                self.state.statements.clear();
                self.state.unnamed = None;
                self.state.settings.clone_from(&self.state.startup);
                self.state.settings_changed = false;
                let conn = self.conn();
                conn.prepared.clear();
                conn.unnamed = None;
                conn.applied = Some(Settings::default());
                None
            }
            SessionEffect::Deallocate(_) => None,
            other => Some(other),
        }
    }

    pub(super) fn pin(&mut self, what: &'static str) {
        if self.state.pinned.is_none() {
            tracing::debug!(
                client = self.state.id,
                what,
                "session pinned to its server connection"
            );
            self.state.pinned = Some(what);
        }
    }

    /// `DEALLOCATE` of the client's own statement names: the text to send instead.
    fn deallocate(&mut self, name: Option<&str>) -> Option<String> {
        let Some(name) = name else {
            self.state.statements.clear();
            self.conn().prepared.clear();
            return None;
        };
        let def = self.state.statements.remove(name.as_bytes())?;
        if !self.conn().prepared.contains_key(&def.name) {
            self.inject_parse(&def);
        }
        self.conn().prepared.remove(&def.name);
        Some(format!("DEALLOCATE {}", def.name))
    }

    fn inject_parse(&mut self, def: &Arc<super::pool::StatementDef>) {
        def.parse_message(&mut self.server_out);
        self.note_prepared(&def.name);
        let mut expect = Expect::new(Kind::Parse, Mode::Swallow);
        expect.parse = Some(ParseNote {
            created: Some(def.name.clone()),
            ..ParseNote::default()
        });
        self.queue.push_back(expect);
    }

    /// Marks a server statement used now; false when the connection does not have it.
    fn touch(&mut self, name: &Arc<str>) -> bool {
        let conn = self.conn();
        conn.uses += 1;
        let now = conn.uses;
        match conn.prepared.get_mut(name) {
            Some(used) => {
                *used = now;
                true
            }
            None => false,
        }
    }

    /// Records a statement prepared on the connection.
    fn note_prepared(&mut self, name: &Arc<str>) {
        let conn = self.conn();
        conn.uses += 1;
        let now = conn.uses;
        conn.prepared.insert(name.clone(), now);
    }

    /// At the start of a hold: closes the least recently used statements past the cap, in a
    /// batch of its own (`Close`s and a `Sync`, answers swallowed) so no error of the
    /// client's can make the server skip them.
    pub(super) fn evict_prepared(&mut self) {
        let conn = self.conn();
        let excess = conn
            .prepared
            .len()
            .saturating_sub(MAX_PREPARED_PER_CONNECTION);
        if excess == 0 {
            return;
        }
        // Down to three quarters of the cap, so this happens once in a while, not per hold.
        let drop = excess + MAX_PREPARED_PER_CONNECTION / 4;
        let mut by_use: Vec<(u64, Arc<str>)> =
            conn.prepared.iter().map(|(n, u)| (*u, n.clone())).collect();
        by_use.sort_unstable();
        for (_, name) in by_use.into_iter().take(drop) {
            self.conn().prepared.remove(&name);
            put_message(&mut self.server_out, b'C', &[b"S", name.as_bytes(), &[0]]);
            self.queue
                .push_back(Expect::new(Kind::Close, Mode::Swallow));
        }
        put_message(&mut self.server_out, b'S', &[]);
        self.queue.push_back(Expect::new(Kind::Sync, Mode::Swallow));
    }

    fn on_parse(&mut self, message: &[u8], body: &[u8]) {
        let Some((name, rest)) = cstr(body) else {
            self.server_out.extend_from_slice(message);
            self.queue
                .push_back(Expect::new(Kind::Parse, Mode::Forward));
            return;
        };
        let text = std::str::from_utf8(cstr(rest).map_or(rest, |(t, _)| t)).unwrap_or("");
        let mut rewritten = None;
        for effect in session_effects(text) {
            match effect {
                SessionEffect::Deallocate(target) if is_single(text) => {
                    rewritten = self.deallocate(target.as_deref());
                }
                SessionEffect::Set { .. } | SessionEffect::Reset(_) | SessionEffect::ResetAll => {
                    self.pin("SET in the extended query protocol")
                }
                other => {
                    let _ = self.on_effect(other);
                }
            }
        }
        let rest: Bytes = match rewritten {
            Some(sql) => {
                let mut out = BytesMut::from(sql.as_bytes());
                out.extend_from_slice(&[0]);
                out.extend_from_slice(cstr(rest).map_or(&[][..], |(_, types)| types));
                out.freeze()
            }
            None => Bytes::copy_from_slice(rest),
        };
        if name.is_empty() {
            self.parse_unnamed(rest);
        } else {
            self.parse_named(name, &rest);
        }
    }

    fn parse_unnamed(&mut self, rest: Bytes) {
        self.state.unnamed_seq += 1;
        let owner = (self.state.id, self.state.unnamed_seq);
        put_message(&mut self.server_out, b'P', &[&[0], &rest]);
        self.state.unnamed = Some((self.state.unnamed_seq, rest));
        self.conn().unnamed = Some(owner);
        let mut expect = Expect::new(Kind::Parse, Mode::Forward);
        expect.parse = Some(ParseNote {
            unnamed: true,
            ..ParseNote::default()
        });
        self.queue.push_back(expect);
    }

    fn parse_named(&mut self, name: &[u8], rest: &[u8]) {
        if self.state.statements.contains_key(name) {
            let message = format!(
                "prepared statement \"{}\" already exists",
                String::from_utf8_lossy(name)
            );
            let mut out = BytesMut::new();
            put_message(&mut out, b'E', &[&error_body("ERROR", "42P05", &message)]);
            self.queue
                .push_back(Expect::new(Kind::Parse, Mode::Synth(out.freeze())));
            self.skip_to_sync = true;
            return;
        }
        let def = self.pool.statement(rest);
        let client_name = Bytes::copy_from_slice(name);
        self.state
            .statements
            .insert(client_name.clone(), def.clone());
        let mut note = ParseNote {
            client_name: Some(client_name),
            ..ParseNote::default()
        };
        let mode = if self.touch(&def.name) {
            Mode::Synth(Bytes::from_static(PARSE_COMPLETE))
        } else {
            def.parse_message(&mut self.server_out);
            self.note_prepared(&def.name);
            note.created = Some(def.name.clone());
            Mode::Forward
        };
        let mut expect = Expect::new(Kind::Parse, mode);
        expect.parse = Some(note);
        self.queue.push_back(expect);
    }

    /// Makes the statement a `Bind`/`Describe` names exist on the connection; its server
    /// name when it is one of the client's named statements.
    fn ensure_statement(&mut self, name: &[u8]) -> Option<Arc<str>> {
        if name.is_empty() {
            let (seq, rest) = self.state.unnamed.clone()?;
            let owner = Some((self.state.id, seq));
            if self.conn().unnamed != owner {
                put_message(&mut self.server_out, b'P', &[&[0], &rest]);
                self.conn().unnamed = owner;
                let mut expect = Expect::new(Kind::Parse, Mode::Swallow);
                expect.parse = Some(ParseNote {
                    unnamed: true,
                    ..ParseNote::default()
                });
                self.queue.push_back(expect);
            }
            return None;
        }
        let def = self.state.statements.get(name)?.clone();
        if !self.touch(&def.name) {
            self.inject_parse(&def);
        }
        Some(def.name.clone())
    }

    fn on_bind(&mut self, message: &[u8], body: &[u8]) {
        let renamed = cstr(body).and_then(|(portal, after)| {
            let (statement, tail) = cstr(after)?;
            let server = self.ensure_statement(statement)?;
            Some((portal.to_vec(), server, tail.to_vec()))
        });
        match renamed {
            Some((portal, server, tail)) => put_message(
                &mut self.server_out,
                b'B',
                &[&portal, &[0], server.as_bytes(), &[0], &tail],
            ),
            None => self.server_out.extend_from_slice(message),
        }
        self.queue.push_back(Expect::new(Kind::Bind, Mode::Forward));
    }

    fn on_describe(&mut self, message: &[u8], body: &[u8]) {
        let renamed = match body.split_first() {
            Some((b'S', rest)) => cstr(rest).and_then(|(name, _)| self.ensure_statement(name)),
            _ => None,
        };
        match renamed {
            Some(server) => {
                put_message(&mut self.server_out, b'D', &[b"S", server.as_bytes(), &[0]]);
            }
            None => self.server_out.extend_from_slice(message),
        }
        self.queue
            .push_back(Expect::new(Kind::Describe, Mode::Forward));
    }

    fn on_close(&mut self, message: &[u8], body: &[u8]) {
        if let Some((b'S', rest)) = body.split_first() {
            let name = cstr(rest).map_or(rest, |(n, _)| n);
            if !name.is_empty() {
                // The server statement stays for other clients; closing a name that does
                // not exist is no error.
                self.state.statements.remove(name);
                self.queue.push_back(Expect::new(
                    Kind::Close,
                    Mode::Synth(Bytes::from_static(CLOSE_COMPLETE)),
                ));
                return;
            }
            self.state.unnamed = None;
            self.conn().unnamed = None;
        }
        self.forward(message, Kind::Close);
    }
}

/// True when `text` holds one statement (a trailing `;` allowed).
fn is_single(text: &str) -> bool {
    !text.trim_end().trim_end_matches(';').contains(';')
}
