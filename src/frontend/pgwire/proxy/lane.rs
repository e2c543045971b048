//! Pipelined server connections ("lanes"): one server connection that carries several
//! clients' single autocommit statements at once, each written as soon as its client sent
//! it, before the statements ahead of it have been answered.
//!
//! A relayed request costs the gateway two socket writes and two reads, and the server a
//! wake-up and a read, per statement. A lane writes the statements that arrive together in
//! one write, and the server reads them in one read and runs them back to back without
//! sleeping in between; the answers come back in order and are split at each
//! `ReadyForQuery`. Only a complete request of one statement that
//! `starbase_protocol::sql::pg::pipeline_safe` accepts goes on a lane (a simple `Query`,
//! or `Parse`/`Bind`/`Describe`/`Execute`/`Sync` of the unnamed statement), from a client
//! outside a transaction block: it is its own transaction, so the connection is idle again
//! after its answer, and nothing of it stays in the session for the next one.
//!
//! Owns [`LaneSet`] (a target's lanes: one per two cores, never more than a quarter of
//! the pool, and another opened only when all are full), [`Lane`] (the shared queue of one lane), [`UnitSink`] (where one request's
//! answer collects for its client) and the lane's task (`drive`). A lane that answers
//! with a status other than idle, or whose server goes away, is closed: requests it had not
//! written yet bounce back to their clients (which send them the ordinary way), requests it
//! had written end with the connection-lost error, as on an ordinary connection. An idle
//! lane closes after [`LANE_IDLE`]. Must not know SQL or the client side.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWrite;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::io::poll_read_buf;
use tokio_util::sync::CancellationToken;

use super::CancelKey;
use super::pool::Held;
use super::relay::{HIGH_WATER, STREAM_FROM};
use super::requests::message_len;
use super::settings::Settings;
use super::stream::ServerAddr;

/// Requests one lane holds (written or waiting) before another lane opens or clients are
/// sent the ordinary way (`pgbench -S`, 32 clients, 2 cores: 55k TPS at 32, 33k at 8).
pub(super) const MAX_DEPTH: usize = 64;
/// A lane with nothing to do for this long gives its connection back.
pub(super) const LANE_IDLE: Duration = Duration::from_secs(5);
/// Cores of the gateway's machine per lane: a lane's server process and the gateway's and
/// clients' work for it keep about two busy (`pgbench -S`, 8 clients, 2 cores: one lane
/// 46k TPS, two 37–43k).
const CORES_PER_LANE: usize = 2;
/// Server connections of a pool that lanes may take: a quarter, so transactions and
/// pinned sessions always find one.
const POOL_SHARE: usize = 4;
/// How long a cancel request waits for its statement to be the one the server runs.
const CANCEL_WAIT: Duration = Duration::from_secs(10);
/// Read-buffer growth step.
const READ_CHUNK: usize = 64 * 1024;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How a request on a lane ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UnitEnd {
    /// Answered; the `ReadyForQuery` status.
    Ready(u8),
    /// Written, but the connection was lost before the answer was complete.
    Lost,
    /// Never written: the lane closed first. The client may send it elsewhere.
    Bounced,
}

#[derive(Debug, Default)]
struct SinkState {
    out: BytesMut,
    end: Option<UnitEnd>,
    /// A `ParseComplete` arrived (the request's `Parse` succeeded).
    parsed: bool,
    client: Option<Waker>,
    /// The lane waits for the client to take `out`.
    lane: Option<Waker>,
    /// The client's session ended: what still arrives is dropped.
    abandoned: bool,
}

/// Where one request's answer collects until its client takes it.
#[derive(Debug, Default)]
pub(super) struct UnitSink(Mutex<SinkState>);

impl UnitSink {
    /// Moves the answer so far to `to`; the end once it is all there.
    pub(super) fn poll_take(&self, cx: &mut Context<'_>, to: &mut BytesMut) -> Poll<UnitEnd> {
        let mut s = lock(&self.0);
        if !s.out.is_empty() {
            if to.is_empty() {
                std::mem::swap(to, &mut s.out);
            } else {
                to.extend_from_slice(&s.out);
                s.out.clear();
            }
            if let Some(lane) = s.lane.take() {
                lane.wake();
            }
        }
        match s.end {
            Some(end) => Poll::Ready(end),
            None => {
                s.client = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// True when the request's `Parse` succeeded.
    pub(super) fn parsed(&self) -> bool {
        lock(&self.0).parsed
    }

    /// The client's session ended before the answer did: the rest is dropped, and a lane
    /// waiting for the client to take the answer goes on.
    pub(super) fn abandon(&self) {
        let mut s = lock(&self.0);
        s.abandoned = true;
        s.out = BytesMut::new();
        if let Some(lane) = s.lane.take() {
            lane.wake();
        }
    }

    fn push(&self, bytes: &[u8], kind: Option<u8>) {
        let mut s = lock(&self.0);
        if s.abandoned {
            return;
        }
        s.out.extend_from_slice(bytes);
        if kind == Some(b'1') {
            s.parsed = true;
        }
        if let Some(client) = s.client.take() {
            client.wake();
        }
    }

    fn end(&self, end: UnitEnd) {
        let mut s = lock(&self.0);
        if s.end.is_none() {
            s.end = Some(end);
        }
        if let Some(client) = s.client.take() {
            client.wake();
        }
    }

    fn ended(&self) -> bool {
        lock(&self.0).end.is_some()
    }

    /// True (with the lane's waker kept) while the client has not taken a full buffer.
    fn blocks(&self, cx: &mut Context<'_>) -> bool {
        let mut s = lock(&self.0);
        if s.out.len() < HIGH_WATER {
            return false;
        }
        s.lane = Some(cx.waker().clone());
        true
    }
}

#[derive(Debug)]
struct LaneState {
    /// The server connection (its slot in the pool comes with it).
    held: Held,
    /// Bytes of written requests the socket has not taken yet.
    out: BytesMut,
    /// A long message streamed through in pieces: its bytes still to come.
    remaining: usize,
    /// Requests not written yet, with their bytes.
    pending: VecDeque<(Arc<UnitSink>, Bytes)>,
    /// Requests written, in order; the first is the one being answered.
    written: VecDeque<Arc<UnitSink>>,
    closed: bool,
    /// The first request's client is slow to take its answer: send no more here.
    congested: bool,
    task: Option<Waker>,
}

/// One pipelined server connection, as clients see it.
#[derive(Debug)]
pub(super) struct Lane {
    /// The client settings the connection has; only clients with the same ones use it.
    settings: Settings,
    key: Option<CancelKey>,
    addr: ServerAddr,
    state: Mutex<LaneState>,
    /// Signalled whenever the first written request changes (for cancel requests).
    head: Notify,
}

impl Lane {
    /// Requests queued on it; `None` when it takes no more.
    fn depth(&self) -> Option<usize> {
        let s = lock(&self.state);
        (!s.closed && !s.congested).then(|| s.pending.len() + s.written.len())
    }

    fn submit(&self, request: Bytes) -> Option<Arc<UnitSink>> {
        let mut s = lock(&self.state);
        if s.closed {
            return None;
        }
        let sink = Arc::new(UnitSink::default());
        s.pending.push_back((sink.clone(), request));
        if let Some(task) = s.task.take() {
            task.wake();
        }
        Some(sink)
    }

    /// Where to send a cancel request for `sink`'s request: waits (a bounded time) until
    /// it is the one the server runs; `None` when it ended first.
    pub(super) async fn cancel_target(&self, sink: &UnitSink) -> Option<(CancelKey, ServerAddr)> {
        let wait = async {
            loop {
                let notified = self.head.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                {
                    let s = lock(&self.state);
                    if sink.ended() {
                        return None;
                    }
                    if s.written.front().is_some_and(|h| std::ptr::eq(&**h, sink)) {
                        return self.key.clone().map(|k| (k, self.addr.clone()));
                    }
                }
                notified.await;
            }
        };
        tokio::time::timeout(CANCEL_WAIT, wait).await.ok().flatten()
    }

    /// Closes the lane if it has nothing to do; true when it did.
    fn retire(&self) -> bool {
        let mut s = lock(&self.state);
        if s.closed || !s.pending.is_empty() || !s.written.is_empty() {
            return false;
        }
        s.closed = true;
        if let Some(task) = s.task.take() {
            task.wake();
        }
        true
    }

    /// Closes the lane: unwritten requests bounce, written ones are lost.
    fn close(&self) {
        let (pending, written) = {
            let mut s = lock(&self.state);
            s.closed = true;
            (
                std::mem::take(&mut s.pending),
                std::mem::take(&mut s.written),
            )
        };
        for (sink, _) in pending {
            sink.end(UnitEnd::Bounced);
        }
        for sink in written {
            sink.end(UnitEnd::Lost);
        }
        self.head.notify_waiters();
    }
}

/// What [`LaneSet::submit`] did.
#[derive(Debug)]
pub(super) enum Submitted {
    /// Queued on this lane.
    Queued(Arc<Lane>, Arc<UnitSink>),
    /// Every lane is busy and there is room for another: open one.
    Open,
    /// No lane takes it: send it the ordinary way.
    No,
}

/// A target's lanes.
#[derive(Debug)]
pub(super) struct LaneSet {
    lanes: Mutex<Vec<Arc<Lane>>>,
    max: usize,
    /// Lanes [`LaneSet::submit`] said to open that are not open yet.
    opening: AtomicUsize,
    shutdown: CancellationToken,
}

impl LaneSet {
    /// Lanes for a pool of `pool_size` connections: one per two cores (at least one), at
    /// most a quarter of the pool (none for a pool under four, or when not `enabled`).
    pub(super) fn new(pool_size: usize, enabled: bool) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            lanes: Mutex::default(),
            max: if enabled {
                (cores / CORES_PER_LANE).max(1).min(pool_size / POOL_SHARE)
            } else {
                0
            },
            opening: AtomicUsize::new(0),
            shutdown: CancellationToken::new(),
        }
    }

    /// Queues `request` on the least busy lane of clients with `settings` that is not full,
    /// or says to open one (`may_open`, none there or all full, and room for one: the
    /// caller takes a [`LaneSet::ticket`] at once) or to go the
    /// ordinary way.
    pub(super) fn submit(&self, settings: &Settings, request: Bytes, may_open: bool) -> Submitted {
        if self.max == 0 {
            return Submitted::No;
        }
        let mut lanes = lock(&self.lanes);
        let best = lanes
            .iter()
            .filter(|l| l.settings == *settings)
            .filter_map(|l| l.depth().map(|d| (d, l.clone())))
            .min_by_key(|(d, _)| *d);
        if let Some((depth, lane)) = best.as_ref()
            && *depth < MAX_DEPTH
        {
            return match lane.submit(request) {
                Some(sink) => Submitted::Queued(lane.clone(), sink),
                None => Submitted::No,
            };
        }
        // None there or all full: another lane. Only then: one lane's server process runs
        // its statements back to back, and a second one splits the batches.
        if !may_open {
            return Submitted::No;
        }
        let opening = self.opening.load(Ordering::Relaxed);
        if lanes.len() + opening >= self.max {
            // An idle lane of clients with other settings gives way.
            let Some(at) = lanes
                .iter()
                .position(|l| l.settings != *settings && l.retire())
            else {
                return Submitted::No;
            };
            lanes.swap_remove(at);
        }
        self.opening.fetch_add(1, Ordering::Relaxed);
        Submitted::Open
    }

    /// Turns a connection whose applied settings are `settings` into a lane, driven by a
    /// task of the current runtime.
    fn open(self: &Arc<Self>, held: Held, settings: Settings) {
        let lane = Arc::new(Lane {
            settings,
            key: held.conn.key.clone(),
            addr: held.conn.addr.clone(),
            state: Mutex::new(LaneState {
                held,
                out: BytesMut::with_capacity(READ_CHUNK),
                remaining: 0,
                pending: VecDeque::new(),
                written: VecDeque::new(),
                closed: false,
                congested: false,
                task: None,
            }),
            head: Notify::new(),
        });
        let open = {
            let mut lanes = lock(&self.lanes);
            lanes.push(lane.clone());
            lanes.len()
        };
        tracing::debug!(open, "pipelined server connection opened");
        let set = self.clone();
        tokio::spawn(async move {
            let guard = CloseOnDrop {
                lane: lane.clone(),
                set: set.clone(),
            };
            tokio::select! {
                () = drive(&lane) => {}
                () = set.shutdown.cancelled() => {}
            }
            drop(guard);
        });
    }

    /// The claim on the lane [`LaneSet::submit`] said to open.
    pub(super) fn ticket(self: &Arc<Self>) -> OpenTicket {
        OpenTicket(Some(self.clone()))
    }

    fn not_opening(&self) {
        let _ = self
            .opening
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// Ends every lane's task (the pool is going away).
    pub(super) fn shutdown(&self) {
        self.shutdown.cancel();
    }

    fn remove(&self, lane: &Arc<Lane>) {
        let open = {
            let mut lanes = lock(&self.lanes);
            lanes.retain(|l| !Arc::ptr_eq(l, lane));
            lanes.len()
        };
        tracing::debug!(open, "pipelined server connection closed");
    }
}

/// A lane to open, counted as opening until it is (or the ticket is dropped).
#[derive(Debug)]
pub(super) struct OpenTicket(Option<Arc<LaneSet>>);

impl OpenTicket {
    /// Opens the lane on a connection whose applied settings are `settings`.
    pub(super) fn open(mut self, held: Held, settings: Settings) {
        if let Some(set) = self.0.take() {
            set.not_opening();
            set.open(held, settings);
        }
    }
}

impl Drop for OpenTicket {
    fn drop(&mut self) {
        if let Some(set) = self.0.take() {
            set.not_opening();
        }
    }
}

/// Ends a lane however its task ends (done, cancelled, or dropped with its runtime).
struct CloseOnDrop {
    lane: Arc<Lane>,
    set: Arc<LaneSet>,
}

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.set.remove(&self.lane);
        self.lane.close();
    }
}

/// Runs a lane until it closes (idle, server gone, or a request left a transaction open).
/// The connection is dropped with it: what the lane's requests left on it is unknown.
async fn drive(lane: &Lane) {
    let mut last_busy = Instant::now();
    let idle = tokio::time::sleep(LANE_IDLE);
    tokio::pin!(idle);
    poll_fn(|cx| poll_lane(lane, cx, &mut last_busy, idle.as_mut())).await;
}

fn poll_lane(
    lane: &Lane,
    cx: &mut Context<'_>,
    last_busy: &mut Instant,
    mut idle: Pin<&mut tokio::time::Sleep>,
) -> Poll<()> {
    let mut s = lock(&lane.state);
    loop {
        if s.closed {
            return Poll::Ready(());
        }
        let mut progress = false;
        // Answers first: a connection the server closed while idle is seen before anything
        // more is written to it.
        let blocked = s.written.front().is_some_and(|h| h.blocks(cx));
        s.congested = blocked;
        if !blocked {
            let conn = &mut s.held.conn;
            if conn.buf.capacity() - conn.buf.len() < READ_CHUNK / 4 {
                conn.buf.reserve(READ_CHUNK);
            }
            match poll_read_buf(Pin::new(&mut conn.io), cx, &mut conn.buf) {
                Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(_)) => {
                    progress = true;
                    if !deliver(&mut s, &lane.head) {
                        return Poll::Ready(());
                    }
                }
                Poll::Pending => {}
            }
        }
        while let Some((sink, request)) = s.pending.pop_front() {
            s.out.extend_from_slice(&request);
            if s.written.is_empty() {
                lane.head.notify_waiters();
            }
            s.written.push_back(sink);
        }
        s.task = Some(cx.waker().clone());
        let busy = !s.written.is_empty();
        while !s.out.is_empty() {
            let LaneState { held, out, .. } = &mut *s;
            match Pin::new(&mut held.conn.io).poll_write(cx, out) {
                Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(n)) => {
                    let _ = out.split_to(n);
                    progress = true;
                }
                Poll::Pending => break,
            }
        }
        if busy {
            *last_busy = Instant::now();
        }
        if progress {
            continue;
        }
        if busy {
            return Poll::Pending;
        }
        let deadline = *last_busy + LANE_IDLE;
        if Instant::now() >= deadline {
            s.closed = true;
            return Poll::Ready(());
        }
        if idle.deadline() != deadline {
            idle.as_mut().reset(deadline);
        }
        if idle.as_mut().poll(cx).is_ready() {
            continue;
        }
        return Poll::Pending;
    }
}

/// Hands the complete messages (and long `DataRow`s in pieces) to the request they answer;
/// false when the lane must close: a message no request asked for (the server's FATAL
/// before it goes), or a request that left the connection in a transaction.
fn deliver(s: &mut LaneState, head_changed: &Notify) -> bool {
    loop {
        let LaneState {
            held,
            written,
            remaining,
            ..
        } = s;
        let buf = &mut held.conn.buf;
        let Some(head) = written.front() else {
            return buf.is_empty();
        };
        if *remaining > 0 {
            let n = (*remaining).min(buf.len());
            if n == 0 {
                return true;
            }
            head.push(&buf.split_to(n), None);
            *remaining -= n;
            continue;
        }
        let Some(len) = message_len(buf) else {
            return true;
        };
        let kind = buf[0];
        if buf.len() < len {
            if matches!(kind, b'D' | b'd') && len >= STREAM_FROM {
                let chunk = buf.split();
                *remaining = len - chunk.len();
                head.push(&chunk, None);
            }
            return true;
        }
        let message = buf.split_to(len);
        head.push(&message, Some(kind));
        if kind == b'Z' {
            let status = message.get(5).copied().unwrap_or(b'I');
            if let Some(done) = written.pop_front() {
                done.end(UnitEnd::Ready(status));
            }
            head_changed.notify_waiters();
            if status != b'I' {
                tracing::warn!(
                    status = %char::from(status),
                    "a pipelined statement left its server connection in a transaction; \
                     the connection is closed"
                );
                return false;
            }
        }
    }
}
