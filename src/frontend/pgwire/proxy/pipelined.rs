//! The client side of lanes: which buffered requests go on one, and taking its answer.
//!
//! Owns the shape a request must have (exactly one complete `Query`, or exactly one
//! `Parse` of the unnamed statement with its `Bind`, `Describe`, `Execute` and a final
//! `Sync`, of a statement `pipeline_safe` accepts, with nothing after it), the session
//! conditions (idle, not pinned, nothing outstanding), and what the session learns from
//! the answer: the transaction status and its unnamed statement. Must not know sockets.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use starbase_protocol::sql::pg::pipeline_safe;
use tokio::io::{AsyncRead, AsyncWrite};

use super::lane::{Submitted, UnitEnd, UnitSink};
use super::relay::{HIGH_WATER, Relay, Step};
use super::requests::{cstr, message_len};

/// The largest request sent on a lane.
const MAX_LANE_REQUEST: usize = 64 * 1024;

/// A request on a lane, as its session keeps it.
#[derive(Debug)]
pub(super) struct LaneRequest {
    sink: Arc<UnitSink>,
    /// Its bytes, sent again the ordinary way if the lane closes before writing them.
    request: Bytes,
    /// The `Parse` body after the statement name (extended requests).
    parse: Option<Bytes>,
}

impl Drop for LaneRequest {
    /// A session that ends with its request on a lane (the client went away) must not hold
    /// up the requests queued behind it.
    fn drop(&mut self) {
        self.sink.abandon();
    }
}

/// What [`Relay::try_lane`] did.
#[derive(Debug)]
pub(super) enum LaneTry {
    /// On a lane; its answer comes through [`Relay::poll_lane`].
    Queued,
    /// The request is not complete yet.
    Wait,
    /// A lane is to be opened first.
    Open,
    /// Not for a lane.
    No,
}

/// What the buffered client messages are.
enum Shape {
    /// One request for a lane (with its `Parse` body, if extended).
    Request(Option<Bytes>),
    /// The last message is not all there yet.
    Incomplete,
    /// Anything else.
    Other,
}

fn safe_text(text: &[u8]) -> bool {
    std::str::from_utf8(text).is_ok_and(pipeline_safe)
}

fn shape(buf: &[u8]) -> Shape {
    let mut at = 0;
    let mut parse = None;
    let (mut bound, mut executed) = (false, false);
    while at < buf.len() {
        let rest = &buf[at..];
        let Some(len) = message_len(rest) else {
            return Shape::Incomplete;
        };
        if len < 5 || at + len > MAX_LANE_REQUEST {
            return Shape::Other;
        }
        if rest.len() < len {
            return Shape::Incomplete;
        }
        let body = &rest[5..len];
        let first = at == 0;
        let fits = match rest[0] {
            b'Q' if first => {
                let text = cstr(body).map_or(body, |(t, _)| t);
                return if len == buf.len() && safe_text(text) {
                    Shape::Request(None)
                } else {
                    Shape::Other
                };
            }
            b'P' if first => match cstr(body) {
                Some((b"", after)) => {
                    parse = Some(Bytes::copy_from_slice(after));
                    safe_text(cstr(after).map_or(after, |(t, _)| t))
                }
                _ => false,
            },
            b'B' if !first => {
                bound = true;
                cstr(body).is_some_and(|(portal, after)| {
                    portal.is_empty() && cstr(after).is_some_and(|(s, _)| s.is_empty())
                })
            }
            b'D' if !first => matches!(body.first(), Some(b'P' | b'S')) && body.get(1) == Some(&0),
            b'E' if !first => {
                executed = true;
                body.first() == Some(&0)
            }
            b'S' if !first => {
                return if at + len == buf.len() && bound && executed {
                    Shape::Request(parse)
                } else {
                    Shape::Other
                };
            }
            _ => false,
        };
        if !fits {
            return Shape::Other;
        }
        at += len;
    }
    // Complete messages without a `Sync` at the end: the client waits for their answers.
    Shape::Other
}

impl<C: AsyncRead + AsyncWrite + Unpin> Relay<'_, C> {
    /// Sends the buffered request on a lane when it is one for a lane.
    pub(super) fn try_lane(&mut self) -> LaneTry {
        let idle = self.queue.is_empty()
            && self.state.status == b'I'
            && self.state.pinned.is_none()
            && !self.server_skipping
            && !self.copy_in_open
            && self.server_out.is_empty()
            && self.client_stream.remaining == 0
            && self.lane.is_none();
        if !idle {
            return LaneTry::No;
        }
        let parse = match shape(&self.client_in) {
            Shape::Request(parse) => parse,
            Shape::Incomplete => return LaneTry::Wait,
            Shape::Other => return LaneTry::No,
        };
        let request = Bytes::copy_from_slice(&self.client_in);
        let lanes = self.pool.lanes();
        match lanes.submit(&self.state.settings, request.clone(), self.may_open_lane) {
            Submitted::Queued(lane, sink) => {
                self.client_in.clear();
                self.cancel.set_lane(lane, sink.clone());
                self.lane = Some(LaneRequest {
                    sink,
                    request,
                    parse,
                });
                LaneTry::Queued
            }
            Submitted::Open => LaneTry::Open,
            Submitted::No => LaneTry::No,
        }
    }

    /// Takes the answer of the session's request on a lane as it arrives.
    pub(super) fn poll_lane(&mut self, cx: &mut Context<'_>, progress: &mut bool) -> Option<Step> {
        let request = self.lane.as_ref()?;
        if self.client_out.len() >= HIGH_WATER {
            return None;
        }
        let before = self.client_out.len();
        let polled = request.sink.poll_take(cx, &mut self.client_out);
        if self.client_out.len() != before {
            *progress = true;
        }
        let Poll::Ready(end) = polled else {
            return None;
        };
        *progress = true;
        let mut request = self.lane.take()?;
        self.cancel.clear();
        self.may_open_lane = true;
        match end {
            UnitEnd::Ready(status) => {
                self.state.status = status;
                // A simple query destroys the unnamed statement; a `Parse` that succeeded
                // made it the session's.
                self.state.unnamed = match request.parse.take() {
                    Some(rest) if request.sink.parsed() => {
                        self.state.unnamed_seq += 1;
                        Some((self.state.unnamed_seq, rest))
                    }
                    _ => None,
                };
                None
            }
            UnitEnd::Bounced => {
                let mut again =
                    BytesMut::with_capacity(request.request.len() + self.client_in.len());
                again.extend_from_slice(&request.request);
                again.extend_from_slice(&self.client_in);
                self.client_in = again;
                None
            }
            UnitEnd::Lost => Some(Step::ServerLost),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Shape, shape};
    use crate::frontend::pgwire::proxy::frames::put_message;
    use bytes::BytesMut;

    fn extended(sql: &str, with_sync: bool) -> BytesMut {
        let mut out = BytesMut::new();
        put_message(&mut out, b'P', &[&[0], sql.as_bytes(), &[0], &[0, 0]]);
        put_message(&mut out, b'B', &[&[0, 0], &[0, 0, 0, 0, 0, 0]]);
        put_message(&mut out, b'D', &[b"P", &[0]]);
        put_message(&mut out, b'E', &[&[0], &[0, 0, 0, 0]]);
        if with_sync {
            put_message(&mut out, b'S', &[]);
        }
        out
    }

    fn query(sql: &str) -> BytesMut {
        let mut out = BytesMut::new();
        put_message(&mut out, b'Q', &[sql.as_bytes(), &[0]]);
        out
    }

    #[test]
    fn one_safe_request_goes_on_a_lane() {
        assert!(matches!(shape(&query("SELECT 1")), Shape::Request(None)));
        assert!(matches!(
            shape(&extended("SELECT $1", true)),
            Shape::Request(Some(_))
        ));
    }

    #[test]
    fn anything_else_goes_the_ordinary_way() {
        assert!(matches!(shape(&query("BEGIN")), Shape::Other));
        // Two requests, or one the client waits on without a Sync.
        let mut two = query("SELECT 1");
        two.extend_from_slice(&query("SELECT 2"));
        assert!(matches!(shape(&two), Shape::Other));
        assert!(matches!(shape(&extended("SELECT 1", false)), Shape::Other));
        let mut more = extended("SELECT 1", true);
        more.extend_from_slice(&query("SELECT 2"));
        assert!(matches!(shape(&more), Shape::Other));
        // A named statement.
        let mut named = BytesMut::new();
        put_message(&mut named, b'P', &[b"s1\0", b"SELECT 1\0", &[0, 0]]);
        put_message(&mut named, b'S', &[]);
        assert!(matches!(shape(&named), Shape::Other));
        // Bind of another statement than the one parsed here.
        let mut other = BytesMut::new();
        put_message(&mut other, b'B', &[&[0], b"s1\0", &[0, 0, 0, 0, 0, 0]]);
        put_message(&mut other, b'E', &[&[0], &[0, 0, 0, 0]]);
        put_message(&mut other, b'S', &[]);
        assert!(matches!(shape(&other), Shape::Other));
    }

    #[test]
    fn a_request_cut_short_is_waited_for() {
        let full = extended("SELECT 1", true);
        assert!(matches!(shape(&full[..full.len() - 3]), Shape::Incomplete));
        assert!(matches!(shape(&full[..3]), Shape::Incomplete));
    }
}
