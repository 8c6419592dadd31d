//! The fake's response body: whole, or cut off halfway to simulate a dropped connection.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

pub(crate) struct FakeBody {
    data: Option<Bytes>,
    /// Bytes promised by `Content-Length` but never sent.
    withheld: u64,
    /// Blanks sent after `data`, 64 KiB a frame: how many (`None`: forever).
    filler: Option<Option<u64>>,
    /// Sends `data` one byte per tick of this timer.
    drip: Option<(Duration, Pin<Box<tokio::time::Sleep>>)>,
}

const FILLER_FRAME: usize = 64 * 1024;

impl FakeBody {
    pub(crate) fn full(data: impl Into<Bytes>) -> Self {
        Self { data: Some(data.into()), withheld: 0, filler: None, drip: None }
    }

    /// Sends the first half of `data`, then fails, so the connection closes mid-body.
    pub(crate) fn truncated(data: impl Into<Bytes>) -> Self {
        let data: Bytes = data.into();
        let half = data.len() / 2;
        Self { withheld: (data.len() - half) as u64, ..Self::full(data.slice(..half)) }
    }

    /// `prefix`, then blanks up to `total` bytes in all, or forever.
    pub(crate) fn oversized(prefix: impl Into<Bytes>, total: Option<u64>) -> Self {
        let prefix: Bytes = prefix.into();
        let filler = total.map(|total| total.saturating_sub(prefix.len() as u64));
        Self { filler: Some(filler), ..Self::full(prefix) }
    }

    /// `data`, one byte every `every`.
    pub(crate) fn drip(data: impl Into<Bytes>, every: Duration) -> Self {
        Self { drip: Some((every, Box::pin(tokio::time::sleep(every)))), ..Self::full(data) }
    }
}

impl Body for FakeBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Some((every, timer)) = &mut this.drip {
            let Some(data) = this.data.as_mut().filter(|d| !d.is_empty()) else { return Poll::Ready(None) };
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let deadline = tokio::time::Instant::now() + *every;
            timer.as_mut().reset(deadline);
            return Poll::Ready(Some(Ok(Frame::data(data.split_to(1)))));
        }
        if let Some(data) = this.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        if let Some(left) = &mut this.filler {
            let frame = match left {
                Some(0) => return Poll::Ready(None),
                Some(n) => {
                    let size = (*n).min(FILLER_FRAME as u64);
                    *n -= size;
                    size as usize
                }
                None => FILLER_FRAME,
            };
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b' '; frame])))));
        }
        if self.withheld > 0 {
            self.withheld = 0;
            return Poll::Ready(Some(Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "fault: truncated"))));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.data.as_ref().is_none_or(Bytes::is_empty) && self.withheld == 0 && matches!(self.filler, None | Some(Some(0)))
    }

    fn size_hint(&self) -> SizeHint {
        let data = self.data.as_ref().map_or(0, |d| d.len() as u64) + self.withheld;
        match self.filler {
            None => SizeHint::with_exact(data),
            Some(Some(left)) => SizeHint::with_exact(data + left),
            Some(None) => SizeHint::new(),
        }
    }
}
