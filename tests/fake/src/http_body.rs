//! The fake's response body: whole, or cut off halfway to simulate a dropped connection.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

pub(crate) struct FakeBody {
    data: Option<Bytes>,
    /// Bytes promised by `Content-Length` but never sent.
    withheld: u64,
}

impl FakeBody {
    pub(crate) fn full(data: impl Into<Bytes>) -> Self {
        Self { data: Some(data.into()), withheld: 0 }
    }

    /// Sends the first half of `data`, then fails, so the connection closes mid-body.
    pub(crate) fn truncated(data: impl Into<Bytes>) -> Self {
        let data: Bytes = data.into();
        let half = data.len() / 2;
        Self { withheld: (data.len() - half) as u64, data: Some(data.slice(..half)) }
    }
}

impl Body for FakeBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if self.withheld > 0 {
            self.withheld = 0;
            return Poll::Ready(Some(Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "fault: truncated"))));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.withheld == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64) + self.withheld)
    }
}
