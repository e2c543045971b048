//! The proxy's connection to a server: TCP to a host, or a Unix-domain socket when the
//! source's host is a directory (libpq's rule: `<dir>/.s.PGSQL.<port>`).
//!
//! Owns `ServerStream` (either socket, read and written through one `match`, so the relay's
//! hot path gains no allocation or dynamic dispatch), `ServerAddr` (where a cancel request
//! for a connection goes) and connecting with the target's timeout. Must not know the
//! protocol.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

use super::ProxyTarget;

/// A server connection's socket.
#[derive(Debug)]
pub(super) enum ServerStream {
    /// TCP to a host (with `TCP_NODELAY`: the relay flushes whole batches itself).
    Tcp(TcpStream),
    /// The server's Unix-domain socket.
    Unix(UnixStream),
}

/// Where a server connection is: a cancel request for it goes to the same place.
#[derive(Debug, Clone)]
pub(super) enum ServerAddr {
    /// The server's address as the connection resolved it.
    Tcp(SocketAddr),
    /// The socket's path (shared: attaching a connection only bumps a count).
    Unix(Arc<Path>),
}

impl ServerStream {
    /// Connects to `target` within its connect timeout.
    ///
    /// # Errors
    /// `TimedOut` after the timeout, else the socket's error.
    pub(super) async fn connect(target: &ProxyTarget) -> io::Result<(Self, ServerAddr)> {
        let timed_out = || io::Error::new(io::ErrorKind::TimedOut, "timed out");
        match target.unix_socket() {
            Some(path) => {
                let connect = UnixStream::connect(&path);
                let unix = tokio::time::timeout(target.connect_timeout, connect)
                    .await
                    .map_err(|_| timed_out())??;
                Ok((Self::Unix(unix), ServerAddr::Unix(path.into())))
            }
            None => {
                let connect = TcpStream::connect((target.host.as_str(), target.port));
                let tcp = tokio::time::timeout(target.connect_timeout, connect)
                    .await
                    .map_err(|_| timed_out())??;
                let _ = tcp.set_nodelay(true);
                let addr = tcp.peer_addr()?;
                Ok((Self::Tcp(tcp), ServerAddr::Tcp(addr)))
            }
        }
    }

    /// Whether the socket is readable (or closed), without reading.
    pub(super) fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Self::Tcp(s) => s.poll_read_ready(cx),
            Self::Unix(s) => s.poll_read_ready(cx),
        }
    }

    /// Reads what is there without waiting (`WouldBlock` when nothing is).
    pub(super) fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.try_read(buf),
            Self::Unix(s) => s.try_read(buf),
        }
    }
}

impl ServerAddr {
    /// Opens a connection to send a `CancelRequest` on.
    ///
    /// # Errors
    /// The socket's error.
    pub(super) async fn connect(&self) -> io::Result<ServerStream> {
        match self {
            Self::Tcp(addr) => TcpStream::connect(addr).await.map(ServerStream::Tcp),
            Self::Unix(path) => UnixStream::connect(path).await.map(ServerStream::Unix),
        }
    }
}

impl AsyncRead for ServerStream {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Self::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ServerStream {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Self::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Tcp(s) => s.is_write_vectored(),
            Self::Unix(s) => s.is_write_vectored(),
        }
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
            Self::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    #[inline]
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Self::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
