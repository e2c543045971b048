//! Raw PostgreSQL protocol frames for the proxy: one type byte, a length, a body; and the
//! few messages the proxy writes itself.
//!
//! Owns `Wire`, a buffered reader/writer over any stream that yields whole messages, with a
//! cap on message size so a hostile peer cannot make the proxy allocate without bound.
//! Must not know authentication or routing.

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest message the proxy reads itself (start-up and authentication only; the relay
/// after that copies bytes without framing them).
const MAX_MESSAGE: usize = 1 << 20;

/// A stream read and written in messages.
#[derive(Debug)]
pub struct Wire<T> {
    /// The stream.
    pub io: T,
    /// Bytes read but not yet consumed.
    pub buf: BytesMut,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Wire<T> {
    /// A wire over `io` whose first bytes are `leftover` (already read by someone else).
    pub fn new(io: T, leftover: BytesMut) -> Self {
        Self { io, buf: leftover }
    }

    /// The next message as `(type, body)`; `None` at the end of the stream.
    ///
    /// # Errors
    /// I/O errors, and `InvalidData` for a length below 4 or above the cap.
    pub async fn read(&mut self) -> std::io::Result<Option<(u8, BytesMut)>> {
        loop {
            if self.buf.len() >= 5 {
                let len = usize::try_from(u32::from_be_bytes([
                    self.buf[1],
                    self.buf[2],
                    self.buf[3],
                    self.buf[4],
                ]))
                .unwrap_or(usize::MAX);
                if !(4..=MAX_MESSAGE).contains(&len) {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("invalid message length {len}"),
                    ));
                }
                if self.buf.len() > len {
                    let kind = self.buf[0];
                    self.buf.advance(5);
                    let body = self.buf.split_to(len - 4);
                    return Ok(Some((kind, body)));
                }
            }
            if self.io.read_buf(&mut self.buf).await? == 0 {
                return Ok(None);
            }
        }
    }

    /// Writes one message and flushes.
    ///
    /// # Errors
    /// I/O errors.
    pub async fn write(&mut self, kind: u8, body: &[u8]) -> std::io::Result<()> {
        self.io.write_all(&frame(kind, body)).await?;
        self.io.flush().await
    }
}

/// One message: type byte, length, body.
#[must_use]
pub fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + body.len());
    out.push(kind);
    out.extend_from_slice(
        &u32::try_from(body.len() + 4)
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(body);
    out
}

/// Appends one message made of `parts` (the body, in pieces) to `out`.
pub fn put_message(out: &mut BytesMut, kind: u8, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum::<usize>() + 4;
    out.reserve(len + 1);
    out.put_u8(kind);
    out.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
    for part in parts {
        out.put_slice(part);
    }
}

/// A `ParameterStatus` body's name and value.
#[must_use]
pub fn parameter_status(body: &[u8]) -> Option<(String, String)> {
    let mut fields = body.split(|b| *b == 0);
    let name = String::from_utf8_lossy(fields.next()?).into_owned();
    let value = String::from_utf8_lossy(fields.next()?).into_owned();
    Some((name, value))
}

/// An `Authentication` message body: the code and its data.
#[must_use]
pub fn authentication(code: i32, data: &[u8]) -> Vec<u8> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(data);
    body
}

/// An `ErrorResponse` body with severity, SQLSTATE and message.
#[must_use]
pub fn error_body(severity: &str, code: &str, message: &str) -> Vec<u8> {
    let mut body = BytesMut::new();
    for (field, value) in [
        (b'S', severity),
        (b'V', severity),
        (b'C', code),
        (b'M', message),
    ] {
        body.put_u8(field);
        body.put_slice(value.as_bytes());
        body.put_u8(0);
    }
    body.put_u8(0);
    body.to_vec()
}

/// A C string's bytes with its terminator.
#[must_use]
pub fn cstring(text: &str) -> Vec<u8> {
    let mut out = text.as_bytes().to_vec();
    out.push(0);
    out
}

/// Splits a C string off the front of `body`.
pub fn take_cstring(body: &mut BytesMut) -> Option<String> {
    let end = body.iter().position(|b| *b == 0)?;
    let text = String::from_utf8_lossy(&body[..end]).into_owned();
    body.advance(end + 1);
    Some(text)
}
