//! The relay of one pooled client session: one task, one poll loop over the client socket
//! and (while the client holds one) a server connection, moving whole buffers of complete
//! messages in each direction and flushing at batch boundaries.
//!
//! Owns the session's state (`Relay`, `ClientState`), the expected-response queue
//! (`Expect`) that lets the proxy answer some messages itself and swallow the answers to
//! those it injected, holding and releasing the server connection (released at
//! `ReadyForQuery` idle with nothing outstanding, unless the session is pinned), and the
//! end of a session. Reading client messages is `requests`, server messages `responses`,
//! a request on a lane `pipelined`.
//! Must not know SQL beyond the session effects `starbase_protocol` classifies.

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use starbase_protocol::sql::pg::SessionEffect;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio_util::io::poll_read_buf;

use super::CancelSlot;
use super::frames::{error_body, put_message};
use super::pool::{AcquireError, Held, Pool, StatementDef};
use super::settings::{self, Settings};

/// Bytes buffered toward one side before the relay stops reading the other.
pub(super) const HIGH_WATER: usize = 256 * 1024;
/// A message at least this long that can be relayed without reading it whole (`DataRow`,
/// `CopyData`) is streamed through instead of buffered.
pub(super) const STREAM_FROM: usize = 64 * 1024;
/// Read-buffer growth step.
const READ_CHUNK: usize = 64 * 1024;

/// What the proxy knows of the client's session.
#[derive(Debug)]
pub(super) struct ClientState {
    /// Unique per session (names the owner of a server's unnamed statement).
    pub(super) id: u64,
    /// The start-up settings (what `RESET ALL` returns to).
    pub(super) startup: Settings,
    /// The current settings.
    pub(super) settings: Settings,
    /// Settings changed during the current transaction (the connection's record follows).
    pub(super) settings_changed: bool,
    /// The client's named statements.
    pub(super) statements: HashMap<Bytes, Arc<StatementDef>>,
    /// The client's unnamed statement (the `Parse` body after the name) and its number.
    pub(super) unnamed: Option<(u64, Bytes)>,
    /// Parses of the unnamed statement so far.
    pub(super) unnamed_seq: u64,
    /// Why the session keeps its server connection to the end, once it must.
    pub(super) pinned: Option<&'static str>,
    /// The transaction status the client last saw.
    pub(super) status: u8,
}

/// Which response ends an expected answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Parse,
    Bind,
    Close,
    Describe,
    Execute,
    Sync,
    /// A simple query or a function call: ends at `ReadyForQuery`.
    Query,
    /// Where the client ended a COPY (`CopyDone`/`CopyFail`): a marker, no answer.
    CopyEnd,
}

/// What to do with the answer.
#[derive(Debug)]
pub(super) enum Mode {
    /// Relay it.
    Forward,
    /// The proxy asked; the client must not see the answer (errors excepted).
    Swallow,
    /// The settings statement run before the client's own; a failure ends the session.
    Setup,
    /// No server answer: the proxy answers with these bytes when it is this one's turn.
    Synth(Bytes),
}

/// Bookkeeping for a `Parse` that may fail.
#[derive(Debug, Default)]
pub(super) struct ParseNote {
    /// A server statement this `Parse` creates on the connection.
    pub(super) created: Option<Arc<str>>,
    /// The client name this `Parse` defines.
    pub(super) client_name: Option<Bytes>,
    /// It (re)defines the server's unnamed statement.
    pub(super) unnamed: bool,
}

/// One expected answer.
#[derive(Debug)]
pub(super) struct Expect {
    pub(super) kind: Kind,
    pub(super) mode: Mode,
    pub(super) parse: Option<ParseNote>,
    /// A simple query's session effects, applied when it succeeds outside a transaction.
    pub(super) effects: Vec<SessionEffect>,
    /// An error was reported (simple queries: before their `ReadyForQuery`).
    pub(super) failed: bool,
}

impl Expect {
    pub(super) fn new(kind: Kind, mode: Mode) -> Self {
        Self {
            kind,
            mode,
            parse: None,
            effects: Vec::new(),
            failed: false,
        }
    }
}

/// Why the poll loop stopped.
#[derive(Debug)]
pub(super) enum Step {
    /// Client messages wait for a server connection.
    NeedConn,
    /// A request waits for a lane to be opened.
    NeedLane,
    /// The client went away (or sent `Terminate`, or broke the protocol).
    ClientGone,
    /// The server connection broke.
    ServerLost,
    /// Applying the client's settings failed; the error is queued for the client.
    SetupFailed,
}

/// A streamed-through message's remaining bytes and whether they are relayed.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Streaming {
    pub(super) remaining: usize,
    pub(super) forward: bool,
}

/// One pooled session.
pub(super) struct Relay<'a, C> {
    pub(super) pool: &'a Pool,
    pub(super) client_io: C,
    pub(super) client_in: BytesMut,
    pub(super) client_out: BytesMut,
    client_unflushed: bool,
    pub(super) server_out: BytesMut,
    pub(super) hold: Option<Held>,
    pub(super) queue: VecDeque<Expect>,
    pub(super) state: ClientState,
    pub(super) cancel: Arc<CancelSlot>,
    pub(super) client_stream: Streaming,
    pub(super) server_stream: Streaming,
    /// After an error the proxy raised itself: drop client messages up to `Sync`.
    pub(super) skip_to_sync: bool,
    pub(super) setup_failed: bool,
    /// The server is in COPY-in mode of an extended query and the client has not ended it:
    /// the server ignores `Sync` and `Flush` until then.
    pub(super) copy_in_open: bool,
    /// The server reported an extended-protocol error and skips the client's messages up
    /// to its next `Sync`: those get no answer.
    pub(super) server_skipping: bool,
    /// The session's request on a lane, until its answer is complete.
    pub(super) lane: Option<super::pipelined::LaneRequest>,
    /// False after opening a lane failed, until the next answer.
    pub(super) may_open_lane: bool,
}

impl<C> std::fmt::Debug for Relay<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("client", &self.state.id)
            .field("held", &self.hold.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a, C: AsyncRead + AsyncWrite + Unpin> Relay<'a, C> {
    /// A session over a logged-in client whose greeting was sent.
    pub(super) fn new(
        pool: &'a Pool,
        client_io: C,
        client_in: BytesMut,
        state: ClientState,
        cancel: Arc<CancelSlot>,
    ) -> Self {
        Self {
            pool,
            client_io,
            client_in,
            client_out: BytesMut::with_capacity(READ_CHUNK),
            client_unflushed: false,
            server_out: BytesMut::with_capacity(READ_CHUNK),
            hold: None,
            queue: VecDeque::new(),
            state,
            cancel,
            client_stream: Streaming::default(),
            server_stream: Streaming::default(),
            skip_to_sync: false,
            setup_failed: false,
            copy_in_open: false,
            server_skipping: false,
            lane: None,
            may_open_lane: true,
        }
    }

    /// Relays until the session ends.
    pub(super) async fn run(mut self) {
        loop {
            match poll_fn(|cx| self.poll_step(cx)).await {
                Step::NeedConn => match self.pool.acquire().await {
                    Ok(held) => self.attach(held),
                    Err(e) => self.refuse(&e),
                },
                Step::NeedLane => {
                    let ticket = self.pool.lanes().ticket();
                    match self.pool.acquire_now().await {
                        Some(held) if held.conn.applied.as_ref() == Some(&self.state.settings) => {
                            ticket.open(held, self.state.settings.clone());
                        }
                        // Settings to apply first: this request goes the ordinary way.
                        Some(held) => self.attach(held),
                        None => self.may_open_lane = false,
                    }
                }
                Step::ClientGone => break,
                Step::ServerLost => {
                    self.hold = None;
                    // What the server said last (often its own FATAL) goes first; a message
                    // streamed halfway cannot be followed by another.
                    if self.server_stream.remaining > 0 && self.server_stream.forward {
                        break;
                    }
                    let message = format!(
                        "the connection to source \"{}\" was lost",
                        self.pool.target().name
                    );
                    put_message(
                        &mut self.client_out,
                        b'E',
                        &[&error_body("FATAL", "08006", &message)],
                    );
                    break;
                }
                Step::SetupFailed => {
                    self.hold = None;
                    break;
                }
            }
        }
        // A connection still held is mid-transaction or pinned: its session state is the
        // client's, so it is closed rather than pooled.
        self.hold = None;
        self.cancel.clear();
        if !self.client_out.is_empty() {
            let _ = self.client_io.write_all(&self.client_out).await;
            let _ = self.client_io.flush().await;
        }
    }

    /// Takes a server connection for the client's next messages.
    fn attach(&mut self, mut held: Held) {
        if held.conn.applied.as_ref() != Some(&self.state.settings) {
            let sql = settings::setup_sql(&self.state.settings);
            put_message(&mut self.server_out, b'Q', &[sql.as_bytes(), &[0]]);
            self.queue.push_back(Expect::new(Kind::Query, Mode::Setup));
            held.conn.unnamed = None;
        }
        self.cancel
            .set(held.conn.key.clone(), held.conn.addr.clone());
        self.hold = Some(held);
        self.evict_prepared();
    }

    /// Returns the connection to the pool once the transaction is over.
    pub(super) fn maybe_release(&mut self) {
        if self.state.pinned.is_some()
            || !self.queue.is_empty()
            || !self.server_out.is_empty()
            || self.state.status != b'I'
        {
            return;
        }
        if let Some(held) = self.hold.take() {
            self.cancel.clear();
            self.pool.release(held);
        }
    }

    /// No connection could be had: the first waiting request fails (`53300`, `08006`, or
    /// the server's log-in error), and the rest of its pipeline up to `Sync` is dropped.
    fn refuse(&mut self, error: &AcquireError) {
        let body = match error {
            AcquireError::Gateway(e) => error_body("ERROR", e.code.as_str(), &e.message),
            AcquireError::Server(body) => body.to_vec(),
        };
        put_message(&mut self.client_out, b'E', &[&body]);
        if self.client_in.first() == Some(&b'Q') {
            if let Some(len) = super::requests::message_len(&self.client_in) {
                let _ = self.client_in.split_to(len);
            }
            self.synth_ready();
        } else {
            self.skip_to_sync = true;
        }
    }

    /// A `ReadyForQuery` with the client's current status.
    pub(super) fn synth_ready(&mut self) {
        let status = self.state.status;
        put_message(&mut self.client_out, b'Z', &[&[status]]);
    }

    /// Answers the proxy owes at the head of the queue, in order.
    pub(super) fn emit_synth(&mut self) {
        while let Some(Expect {
            mode: Mode::Synth(_),
            ..
        }) = self.queue.front()
        {
            let Some(entry) = self.queue.pop_front() else {
                break;
            };
            if let Mode::Synth(bytes) = entry.mode {
                self.client_out.extend_from_slice(&bytes);
            }
        }
    }

    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        loop {
            let mut progress = false;
            if let Some(step) = self.poll_writes(cx, &mut progress) {
                return Poll::Ready(step);
            }
            if self.setup_failed {
                if self.client_out.is_empty() {
                    return Poll::Ready(Step::SetupFailed);
                }
                if !progress {
                    return Poll::Pending;
                }
                continue;
            }
            if let Some(step) = self.poll_server(cx, &mut progress) {
                return Poll::Ready(step);
            }
            if let Some(step) = self.poll_lane(cx, &mut progress) {
                return Poll::Ready(step);
            }
            if let Some(step) = self.poll_client(cx, &mut progress) {
                return Poll::Ready(step);
            }
            if !progress {
                return Poll::Pending;
            }
        }
    }

    fn poll_writes(&mut self, cx: &mut Context<'_>, progress: &mut bool) -> Option<Step> {
        while !self.client_out.is_empty() {
            match Pin::new(&mut self.client_io).poll_write(cx, &self.client_out) {
                Poll::Ready(Ok(0) | Err(_)) => return Some(Step::ClientGone),
                Poll::Ready(Ok(n)) => {
                    let _ = self.client_out.split_to(n);
                    self.client_unflushed = true;
                    *progress = true;
                }
                Poll::Pending => break,
            }
        }
        if self.client_unflushed && self.client_out.is_empty() {
            match Pin::new(&mut self.client_io).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.client_unflushed = false,
                Poll::Ready(Err(_)) => return Some(Step::ClientGone),
                Poll::Pending => {}
            }
        }
        if let Some(held) = self.hold.as_mut() {
            while !self.server_out.is_empty() {
                match Pin::new(&mut held.conn.io).poll_write(cx, &self.server_out) {
                    Poll::Ready(Ok(0) | Err(_)) => return Some(Step::ServerLost),
                    Poll::Ready(Ok(n)) => {
                        let _ = self.server_out.split_to(n);
                        *progress = true;
                    }
                    Poll::Pending => break,
                }
            }
        }
        None
    }

    fn poll_server(&mut self, cx: &mut Context<'_>, progress: &mut bool) -> Option<Step> {
        if self.client_out.len() >= HIGH_WATER {
            return None;
        }
        let held = self.hold.as_mut()?;
        if held.conn.buf.capacity() - held.conn.buf.len() < READ_CHUNK / 4 {
            held.conn.buf.reserve(READ_CHUNK);
        }
        match poll_read_buf(Pin::new(&mut held.conn.io), cx, &mut held.conn.buf) {
            Poll::Ready(Ok(0) | Err(_)) => Some(Step::ServerLost),
            Poll::Ready(Ok(_)) => {
                *progress = true;
                self.on_server_bytes();
                self.maybe_release();
                None
            }
            Poll::Pending => None,
        }
    }

    fn poll_client(&mut self, cx: &mut Context<'_>, progress: &mut bool) -> Option<Step> {
        if self.server_out.len() >= HIGH_WATER
            || (self.lane.is_some() && self.client_in.len() >= HIGH_WATER)
        {
            return None;
        }
        // Messages already read (before a connection was attached) go first.
        let before = (self.client_in.len(), self.client_out.len());
        if let Some(step) = self.on_client_bytes() {
            return Some(step);
        }
        if before != (self.client_in.len(), self.client_out.len()) {
            *progress = true;
        }
        if self.client_in.capacity() - self.client_in.len() < READ_CHUNK / 4 {
            self.client_in.reserve(READ_CHUNK);
        }
        match poll_read_buf(Pin::new(&mut self.client_io), cx, &mut self.client_in) {
            Poll::Ready(Ok(0) | Err(_)) => Some(Step::ClientGone),
            Poll::Ready(Ok(_)) => {
                *progress = true;
                self.on_client_bytes()
            }
            Poll::Pending => None,
        }
    }
}

/// A new session's client state.
pub(super) fn client_state(id: u64, startup: Settings) -> ClientState {
    ClientState {
        id,
        settings: startup.clone(),
        startup,
        settings_changed: false,
        statements: HashMap::new(),
        unnamed: None,
        unnamed_seq: 0,
        pinned: None,
        status: b'I',
    }
}
