//! A connection split into a reading half and a writing half, for two tasks.
//!
//! Both halves drive the one [`WebSocketStream`] behind a mutex that is held only inside a poll,
//! never across an `.await`, so a reader waiting for input never blocks the writer.
//!
//! The one subtlety is wakers. A tokio socket keeps a single waker per direction, and both halves
//! write: the writer its messages, the reader the pongs and close echoes the core queues. If the
//! reader's opportunistic flush replaced the writer's write waker, a writer waiting for the socket
//! to drain would never wake. So every poll of the stream goes through one shared waker that wakes
//! whichever halves are waiting; a spurious wake costs one re-poll, a lost one a hang.

use std::borrow::Borrow;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use futures_core::Stream;
use futures_sink::Sink;
use futures_util::task::AtomicWaker;
use sockeye_proto::{CloseCode, CloseFrame, Message};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::Error;
use crate::tokio::stream::WebSocketStream;

/// The tasks waiting on the shared stream.
#[derive(Default)]
struct Waiting {
    reader: AtomicWaker,
    writer: AtomicWaker,
}

impl Wake for Waiting {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.reader.wake();
        self.writer.wake();
    }
}

struct Shared<S> {
    stream: Mutex<WebSocketStream<S>>,
    waiting: Arc<Waiting>,
    /// The waker given to the stream: wakes both halves.
    waker: Waker,
}

#[derive(Clone, Copy)]
enum Half {
    Reader,
    Writer,
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, WebSocketStream<S>> {
        // A panic in another half's poll leaves the core consistent (it never panics midway
        // through a state change), so the stream stays usable.
        self.stream.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Polls the stream for `half`, registering its task before the poll so no wake is lost.
    fn poll<T>(
        &self,
        half: Half,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut WebSocketStream<S>, &mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        match half {
            Half::Reader => self.waiting.reader.register(cx.waker()),
            Half::Writer => self.waiting.writer.register(cx.waker()),
        }
        let mut shared_cx = Context::from_waker(&self.waker);
        poll(&mut self.lock(), &mut shared_cx)
    }
}

/// Splitting lives with the halves, so the stream knows nothing of them.
impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketStream<S> {
    /// Splits the connection into a reader and a writer, for two tasks; both drive this one
    /// connection (pongs and close echoes still go out), and
    /// [`WebSocketReader::reunite`] puts them back together.
    ///
    /// Prefer this to `futures`' `StreamExt::split`: both halves write (the reader its pongs),
    /// a tokio socket keeps one waker per direction, and these halves share a waker so that a
    /// writer waiting for a full socket is not forgotten when the reader's flush waits too.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), sockeye::Error> {
    /// let (socket, _response) = sockeye::tokio::connect_async("ws://127.0.0.1:9001/").await?;
    /// let (mut reader, mut writer) = socket.split();
    /// let sending = tokio::spawn(async move {
    ///     for n in 0..10 {
    ///         writer.send_text(&format!("message {n}")).await?;
    ///     }
    ///     writer.close(sockeye::CloseCode::Normal, "done").await
    /// });
    /// while let Ok(message) = reader.read().await {
    ///     println!("{message:?}");
    /// }
    /// sending.await.expect("the sending task ran")?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn split(self) -> (WebSocketReader<S>, WebSocketWriter<S>) {
        let waiting = Arc::new(Waiting::default());
        let shared = Arc::new(Shared {
            stream: Mutex::new(self),
            waker: Waker::from(waiting.clone()),
            waiting,
        });
        (
            WebSocketReader {
                shared: shared.clone(),
            },
            WebSocketWriter { shared },
        )
    }
}

/// The reading half of a split [`WebSocketStream`]: messages in, for one task.
///
/// It still answers pings and echoes the peer's close (the core queues them; this half writes
/// them out), and runs keepalive if it is on.
pub struct WebSocketReader<S> {
    shared: Arc<Shared<S>>,
}

/// The writing half of a split [`WebSocketStream`]: messages out, for another task.
pub struct WebSocketWriter<S> {
    shared: Arc<Shared<S>>,
}

impl<S> std::fmt::Debug for WebSocketReader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketReader").finish_non_exhaustive()
    }
}

impl<S> std::fmt::Debug for WebSocketWriter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketWriter").finish_non_exhaustive()
    }
}

/// [`WebSocketReader::reunite`] was given the writer of another connection; both are returned.
pub struct ReuniteError<S>(pub WebSocketReader<S>, pub WebSocketWriter<S>);

impl<S> std::fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ReuniteError").finish_non_exhaustive()
    }
}

impl<S> std::fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the reader and writer come from different connections; reunite the halves that split() returned together")
    }
}

impl<S> std::error::Error for ReuniteError<S> {}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketReader<S> {
    /// Reads the next message, as [`WebSocketStream::read`]. Cancel-safe.
    pub async fn read(&mut self) -> Result<Message, Error> {
        poll_fn(|cx| {
            self.shared
                .poll(Half::Reader, cx, WebSocketStream::poll_read_message)
        })
        .await
    }

    /// Puts the halves back together; fails if `writer` belongs to another connection.
    pub fn reunite(
        self,
        writer: WebSocketWriter<S>,
    ) -> Result<WebSocketStream<S>, ReuniteError<S>> {
        if !Arc::ptr_eq(&self.shared, &writer.shared) {
            return Err(ReuniteError(self, writer));
        }
        drop(writer);
        let shared = Arc::into_inner(self.shared)
            .unwrap_or_else(|| unreachable!("the two halves held the only references"));
        Ok(shared
            .stream
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner))
    }

    /// Runs `f` on the whole stream, for its state ([`WebSocketStream::connection`],
    /// [`WebSocketStream::last_rtt`]). The writer waits while `f` runs: keep it short.
    pub fn with_stream<T>(&self, f: impl FnOnce(&WebSocketStream<S>) -> T) -> T {
        f(&self.shared.lock())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocketWriter<S> {
    /// Sends a message (or raw frame) and writes it out, as [`WebSocketStream::send`].
    ///
    /// Cancel-safe in the same way: once this is first polled the message is queued, and a
    /// cancelled write leaves it for the next flush.
    pub async fn send(&mut self, message: impl Borrow<Message>) -> Result<(), Error> {
        self.queue(message)?;
        self.flush().await
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.shared.lock().connection_mut().send_text(text)?;
        self.flush().await
    }

    /// Sends a binary message.
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.shared.lock().connection_mut().send_binary(data)?;
        self.flush().await
    }

    /// Sends a ping (payload at most 125 bytes).
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.shared.lock().connection_mut().send_ping(payload)?;
        self.flush().await
    }

    /// Queues a message without writing it; [`flush`](Self::flush) writes the batch.
    pub fn queue(&mut self, message: impl Borrow<Message>) -> Result<(), Error> {
        self.shared.lock().queue(message)
    }

    /// Writes everything queued, including pongs the reader's core queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| {
            self.shared
                .poll(Half::Writer, cx, WebSocketStream::poll_write_output)
        })
        .await
    }

    /// Sends a close frame with `code` and `reason` (unless one was sent) and writes it out.
    ///
    /// The close handshake completes on the reading half: its `read` returns
    /// [`Error::ConnectionClosed`] once the peer's close arrived, and
    /// [`WebSocketStream::connection`] (through [`WebSocketReader::with_stream`]) has it.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        {
            let mut stream = self.shared.lock();
            if stream.connection().close_sent().is_none() {
                stream
                    .connection_mut()
                    .close(Some(CloseFrame::new(code, reason)))?;
            }
        }
        self.flush().await
    }

    /// Whether `reader` is the other half of this connection.
    pub fn is_pair_of(&self, reader: &WebSocketReader<S>) -> bool {
        Arc::ptr_eq(&self.shared, &reader.shared)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocketReader<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared.poll(Half::Reader, cx, |stream, cx| {
            Pin::new(stream).poll_next(cx)
        })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocketWriter<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll(Half::Writer, cx, |stream, cx| {
            Pin::new(stream).poll_ready(cx)
        })
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        Pin::new(&mut *self.shared.lock()).start_send(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll(Half::Writer, cx, |stream, cx| {
            Pin::new(stream).poll_flush(cx)
        })
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll(Half::Writer, cx, |stream, cx| {
            Pin::new(stream).poll_close(cx)
        })
    }
}
