//! The two bodies of the proxy port, without boxing: what goes upstream ([`ReqBody`]) and what
//! goes back to the caller ([`ResBody`]). The upstream's answer streams through as hyper
//! received it.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::upstream::Lease;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body on its way upstream.
pub enum ReqBody {
    Empty,
    /// A small body with a Content-Length, read whole (one write upstream).
    Full(Option<Bytes>),
    /// Streamed as it arrives, counting bytes: past `limit` it fails and flags `overflow`
    /// (the caller gets a 413).
    Stream {
        inner: Incoming,
        seen: u64,
        limit: u64,
        overflow: Arc<AtomicBool>,
    },
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ReqBody::Empty => Poll::Ready(None),
            ReqBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ReqBody::Stream {
                inner,
                seen,
                limit,
                overflow,
            } => match ready!(Pin::new(inner).poll_frame(cx)) {
                None => Poll::Ready(None),
                Some(Err(e)) => Poll::Ready(Some(Err(e.into()))),
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        *seen += data.len() as u64;
                        if *seen > *limit {
                            overflow.store(true, Ordering::Relaxed);
                            return Poll::Ready(Some(Err("request body too large".into())));
                        }
                    }
                    Poll::Ready(Some(Ok(frame)))
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReqBody::Empty => true,
            ReqBody::Full(b) => b.is_none(),
            ReqBody::Stream { inner, .. } => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReqBody::Empty => SizeHint::with_exact(0),
            ReqBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            ReqBody::Stream { inner, .. } => inner.size_hint(),
        }
    }
}

/// A response body: the gatekeeper's own (an envelope, or nothing) or the upstream's, whose
/// connection goes back to the pool when the body has been read to its end.
pub enum ResBody {
    Full(Option<Bytes>),
    Upstream(Incoming, Lease),
}

impl ResBody {
    pub fn empty() -> Self {
        ResBody::Full(None)
    }
}

impl Body for ResBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ResBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ResBody::Upstream(inner, lease) => {
                let frame = ready!(Pin::new(&mut *inner).poll_frame(cx));
                if frame.is_none() || inner.is_end_stream() {
                    lease.release();
                }
                Poll::Ready(frame)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResBody::Full(b) => b.is_none(),
            ResBody::Upstream(inner, _) => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            ResBody::Upstream(inner, _) => inner.size_hint(),
        }
    }
}
