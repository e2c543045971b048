//! Output coalescing for an embedded-database connection: replies reach the socket when the
//! client can act on them, in one write, as PostgreSQL does.
//!
//! Owns `Corked`, a socket wrapper that collects what is written into one buffer and writes
//! it out on flush, and ignores flushes while corked. pgwire's handlers flush after
//! `ParseComplete` and `BindComplete`; PostgreSQL sends nothing for Parse, Bind, Describe,
//! Execute or Close before the client's Sync or Flush. Corking those messages turns a
//! prepared statement's round trip (Bind, Execute, Sync) into one `send` instead of one per
//! flush, which saves a system call and a client wake-up per statement. A buffer that grows
//! past `CORK_LIMIT` is written out anyway, so large results still stream with bounded
//! memory. Must not know messages beyond being told when to cork.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes collected before they are written out even while corked.
const CORK_LIMIT: usize = 64 * 1024;

/// A socket whose writes are collected and written out on flush (never while corked).
#[derive(Debug)]
pub struct Corked<S> {
    inner: S,
    pending: BytesMut,
    corked: bool,
}

impl<S> Corked<S> {
    /// Wraps `inner`, uncorked.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            pending: BytesMut::new(),
            corked: false,
        }
    }

    /// While corked, flushes keep the bytes for a later flush.
    pub fn set_corked(&mut self, corked: bool) {
        self.corked = corked;
    }
}

impl<S: AsyncWrite + Unpin> Corked<S> {
    /// Writes out everything collected.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Corked<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Corked<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pending.len() + buf.len() > CORK_LIMIT {
            ready!(this.poll_drain(cx))?;
            if buf.len() > CORK_LIMIT {
                return Pin::new(&mut this.inner).poll_write(cx, buf);
            }
        }
        this.pending.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.corked {
            return Poll::Ready(Ok(()));
        }
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn corked_flush_keeps_bytes_until_uncorked() {
        let (client, mut server) = tokio::io::duplex(1 << 20);
        let mut corked = Corked::new(client);
        corked.set_corked(true);
        corked.write_all(b"bind-complete").await.unwrap();
        corked.flush().await.unwrap();
        let mut buf = [0u8; 64];
        // The duplex hands written bytes over at once: a read that is not ready now has
        // nothing to read.
        let nothing =
            futures::FutureExt::now_or_never(tokio::io::AsyncReadExt::read(&mut server, &mut buf));
        assert!(nothing.is_none(), "corked bytes must not reach the peer");
        corked.set_corked(false);
        corked.write_all(b"+ready").await.unwrap();
        corked.flush().await.unwrap();
        let n = tokio::io::AsyncReadExt::read(&mut server, &mut buf)
            .await
            .unwrap();
        assert_eq!(&buf[..n], b"bind-complete+ready");
    }

    #[tokio::test]
    async fn large_output_is_written_even_while_corked() {
        let (client, mut server) = tokio::io::duplex(1 << 20);
        let mut corked = Corked::new(client);
        corked.set_corked(true);
        let big = vec![7u8; CORK_LIMIT + 10];
        corked.write_all(&big).await.unwrap();
        corked.write_all(b"tail").await.unwrap();
        let mut got = vec![0u8; big.len()];
        tokio::io::AsyncReadExt::read_exact(&mut server, &mut got)
            .await
            .unwrap();
        assert_eq!(got, big);
    }
}
