//! Server → client: each server message is matched against the expected-answer queue and
//! relayed or swallowed; the proxy's own answers are slotted in at their turn.
//!
//! Owns the response-side rules: which message ends which answer, the extended protocol's
//! error rule (after an error the server skips everything up to `Sync`, so those answers
//! never come and what they would have created does not exist), `ParameterStatus`
//! tracking, and applying a simple query's session effects once it succeeded outside a
//! transaction block (a `SET` inside one pins the session). Must not know sockets.

use starbase_protocol::sql::pg::SessionEffect;
use tokio::io::{AsyncRead, AsyncWrite};

use super::frames::parameter_status;
use super::relay::{Expect, Kind, Mode, Relay, STREAM_FROM};
use super::requests::message_len;
use super::settings;

/// Whether a server message of type `t` ends the answer to a request of `kind`.
fn ends(kind: Kind, t: u8) -> bool {
    match kind {
        Kind::Parse => t == b'1',
        Kind::Bind => t == b'2',
        Kind::Close => t == b'3',
        Kind::Describe => t == b'T' || t == b'n',
        Kind::Execute => matches!(t, b'C' | b'I' | b's'),
        Kind::Sync | Kind::Query => t == b'Z',
        Kind::CopyEnd => false,
    }
}

impl<C: AsyncRead + AsyncWrite + Unpin> Relay<'_, C> {
    /// Handles the server bytes read so far.
    pub(super) fn on_server_bytes(&mut self) {
        loop {
            let Some(held) = self.hold.as_mut() else {
                return;
            };
            let buf = &mut held.conn.buf;
            if self.server_stream.remaining > 0 {
                let n = self.server_stream.remaining.min(buf.len());
                if n == 0 {
                    return;
                }
                let chunk = buf.split_to(n);
                if self.server_stream.forward {
                    self.client_out.extend_from_slice(&chunk);
                }
                self.server_stream.remaining -= n;
                continue;
            }
            let Some(len) = message_len(buf) else {
                return;
            };
            let kind = buf[0];
            if buf.len() < len {
                if matches!(kind, b'D' | b'd') && len >= STREAM_FROM {
                    self.emit_synth();
                    let forward = self.forwarding();
                    let Some(held) = self.hold.as_mut() else {
                        return;
                    };
                    let chunk = held.conn.buf.split();
                    self.server_stream = super::relay::Streaming {
                        remaining: len - chunk.len(),
                        forward,
                    };
                    if forward {
                        self.client_out.extend_from_slice(&chunk);
                    }
                }
                return;
            }
            let message = buf.split_to(len);
            self.emit_synth();
            self.on_server_message(kind, &message);
        }
    }

    /// True when the answer now arriving goes to the client.
    fn forwarding(&self) -> bool {
        !matches!(
            self.queue.front().map(|e| &e.mode),
            Some(Mode::Swallow | Mode::Setup)
        )
    }

    fn on_server_message(&mut self, kind: u8, message: &[u8]) {
        match kind {
            b'S' => {
                if let Some((name, value)) = parameter_status(&message[5..]) {
                    let setup = matches!(self.queue.front().map(|e| &e.mode), Some(Mode::Setup));
                    if !setup && settings::track_reported(&mut self.state.settings, &name, &value) {
                        self.state.settings_changed = true;
                    }
                    if let Some(held) = self.hold.as_mut() {
                        held.conn.reported.insert(name, value);
                    }
                    if !setup {
                        self.client_out.extend_from_slice(message);
                    }
                }
            }
            b'E' => self.on_error(message),
            b'G' if self.queue.front().is_some_and(|e| e.kind == Kind::Execute) => {
                self.client_out.extend_from_slice(message);
                self.void_syncs_in_copy();
            }
            _ => {
                if self.forwarding() {
                    self.client_out.extend_from_slice(message);
                }
                let done = self.queue.front().is_some_and(|e| ends(e.kind, kind));
                if done && let Some(entry) = self.queue.pop_front() {
                    self.finish(&entry, kind, message);
                    self.emit_synth();
                }
            }
        }
    }

    fn on_error(&mut self, message: &[u8]) {
        let Some(head) = self.queue.front_mut() else {
            self.client_out.extend_from_slice(message);
            return;
        };
        match head.mode {
            Mode::Setup => {
                // The client's settings cannot be applied: end the session with the reason.
                self.client_out.extend_from_slice(message);
                self.setup_failed = true;
                return;
            }
            _ => self.client_out.extend_from_slice(message),
        }
        if head.kind == Kind::Query {
            head.failed = true;
            return;
        }
        // Extended protocol: the server skips to `Sync`.
        while let Some(entry) = self.queue.front() {
            if entry.kind == Kind::Sync {
                return;
            }
            if let Some(entry) = self.queue.pop_front() {
                self.undo_parse(entry);
            }
        }
        // The client's `Sync` is still to come: what it sends until then is skipped too.
        self.server_skipping = true;
    }

    /// An extended query's COPY FROM STDIN started: the server ignores the `Sync`s the
    /// client sent after its `Execute` until it ends the copy, so they get no answer.
    fn void_syncs_in_copy(&mut self) {
        let mut i = 1;
        while let Some(entry) = self.queue.get(i) {
            match entry.kind {
                Kind::CopyEnd => {
                    self.queue.remove(i);
                    return;
                }
                Kind::Sync => {
                    self.queue.remove(i);
                }
                _ => i += 1,
            }
        }
        self.copy_in_open = true;
    }

    /// A `Parse` that failed or was skipped created nothing.
    fn undo_parse(&mut self, entry: Expect) {
        let Some(note) = entry.parse else {
            return;
        };
        if let Some(name) = &note.client_name {
            self.state.statements.remove(name);
        }
        if note.unnamed {
            self.state.unnamed = None;
        }
        if let Some(held) = self.hold.as_mut() {
            if let Some(created) = &note.created {
                held.conn.prepared.remove(created);
            }
            if note.unnamed {
                held.conn.unnamed = None;
            }
        }
    }

    /// An answer is complete.
    fn finish(&mut self, entry: &Expect, kind: u8, message: &[u8]) {
        if kind != b'Z' {
            return;
        }
        let status = message.get(5).copied().unwrap_or(b'I');
        match entry.mode {
            Mode::Setup => {
                if let Some(held) = self.hold.as_mut() {
                    held.conn.applied = Some(self.state.settings.clone());
                }
            }
            _ => {
                self.state.status = status;
                if !entry.effects.is_empty() && !entry.failed {
                    self.apply_effects(&entry.effects, status);
                }
            }
        }
        if status == b'I'
            && self.queue.is_empty()
            && std::mem::take(&mut self.state.settings_changed)
            && let Some(held) = self.hold.as_mut()
        {
            held.conn.applied = Some(self.state.settings.clone());
        }
    }

    /// A simple query's `SET`/`RESET` succeeded: outside a transaction block they are the
    /// session's now; inside one (or beside transaction control) the outcome depends on
    /// how the transaction ends, so the session keeps this connection instead.
    fn apply_effects(&mut self, effects: &[SessionEffect], status: u8) {
        let with_control = effects
            .iter()
            .any(|e| matches!(e, SessionEffect::TransactionControl));
        let settings: Vec<&SessionEffect> = effects
            .iter()
            .filter(|e| !matches!(e, SessionEffect::TransactionControl))
            .collect();
        if settings.is_empty() {
            return;
        }
        if status != b'I' || with_control {
            self.pin("SET inside a transaction block");
            return;
        }
        for effect in settings {
            settings::apply(&mut self.state.settings, &self.state.startup, effect);
        }
        self.state.settings_changed = true;
    }
}
