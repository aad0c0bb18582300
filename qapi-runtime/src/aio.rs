//! The async client (cargo feature `tokio`): one connection shared by clones of an
//! [`AsyncConnection`], many commands in flight matched to their replies by `id`, a timeout
//! per call, and events as a [`Stream`] for any number of subscribers.
//!
//! Two tasks own the stream: a writer, fed whole requests through a channel (so a dropped call
//! never leaves half a request on the wire), and a reader, which hands each reply to the call
//! waiting for its `id` and each event to every subscriber. When the connection ends, every
//! waiting call gets the error once and every event stream ends.

use super::capabilities::Capabilities;
pub use super::client::Greeting;
use super::client::{error_of, ClientError, RequestOut, SENTINEL};
use super::decode::{Decode, Decoder, Empty};
use super::event::{EventMessage, EventSet};
use super::writer;
use futures_core::Stream;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};

/// What a waiting call receives: the `return` value or the error.
type Outcome = Result<Value, ClientError>;

/// State shared by the handles and the reader task.
struct Shared<E> {
    pending: Mutex<Pending<E>>,
    next_id: AtomicU64,
    lenient: AtomicBool,
}

struct Pending<E> {
    calls: HashMap<u64, oneshot::Sender<Outcome>>,
    subscribers: Vec<mpsc::UnboundedSender<EventMessage<E>>>,
    /// Why the connection ended, once it has.
    closed: Option<String>,
}

impl<E> Shared<E> {
    fn lock(&self) -> MutexGuard<'_, Pending<E>> {
        // A panic elsewhere while holding the lock leaves consistent data: keep going.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A handle to an async connection; clones share it. `E` is the schema's event type.
pub struct AsyncConnection<E> {
    shared: Arc<Shared<E>>,
    requests: mpsc::UnboundedSender<Vec<u8>>,
}

impl<E> Clone for AsyncConnection<E> {
    fn clone(&self) -> Self {
        AsyncConnection {
            shared: Arc::clone(&self.shared),
            requests: self.requests.clone(),
        }
    }
}

impl<E> fmt::Debug for AsyncConnection<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncConnection").finish_non_exhaustive()
    }
}

impl<E: EventSet + Clone + Send + 'static> AsyncConnection<E> {
    /// Connects to a QMP server on a unix socket and does the QMP handshake.
    pub async fn connect_qmp_unix(path: impl AsRef<Path>) -> Result<(Self, Greeting), ClientError> {
        let stream = tokio::net::UnixStream::connect(path).await?;
        Self::qmp(stream).await
    }

    /// Connects to a QMP server over TCP and does the QMP handshake.
    pub async fn connect_qmp_tcp(
        address: impl tokio::net::ToSocketAddrs,
    ) -> Result<(Self, Greeting), ClientError> {
        let stream = tokio::net::TcpStream::connect(address).await?;
        Self::qmp(stream).await
    }

    /// Connects to a guest agent on a unix socket and does the guest-agent handshake.
    pub async fn connect_qga_unix(path: impl AsRef<Path>) -> Result<Self, ClientError> {
        let stream = tokio::net::UnixStream::connect(path).await?;
        Self::guest_agent(stream).await
    }

    /// The QMP handshake over `stream`: reads the greeting, negotiates the capabilities the
    /// server offers that this client supports (`oob`), and starts the connection's tasks.
    pub async fn qmp<S>(stream: S) -> Result<(Self, Greeting), ClientError>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read, mut write) = tokio::io::split(stream);
        let mut read = BufReader::new(read);
        let greeting = loop {
            let message = read_message(&mut read).await?.ok_or(ClientError::Closed)?;
            if message.get("QMP").is_some() {
                break Greeting::from_message(&message)?;
            }
            if message.get("event").is_none() {
                return Err(ClientError::Protocol(format!(
                    "expected the QMP greeting, got {message}"
                )));
            }
        };
        let enable: Vec<&str> = greeting
            .capabilities
            .iter()
            .map(String::as_str)
            .filter(|c| *c == "oob")
            .collect();
        let arguments = serde_json::json!({ "enable": enable });
        let request = encode(
            "qmp_capabilities",
            (!enable.is_empty()).then_some(&arguments),
            Some(0),
        )?;
        write.write_all(&request).await?;
        write.flush().await?;
        loop {
            let message = read_message(&mut read).await?.ok_or(ClientError::Closed)?;
            if message.get("event").is_some() {
                continue;
            }
            if let Some(error) = message.get("error") {
                return Err(ClientError::Command(error_of(error)));
            }
            break;
        }
        Ok((Self::start(read, write), greeting))
    }

    /// The guest-agent handshake over `stream`: flushes the agent's parser with 0xFF, sends
    /// `guest-sync-delimited` with a random id, skips everything up to the 0xFF sentinel
    /// (stale replies included) and waits for the reply carrying the id.
    pub async fn guest_agent<S>(stream: S) -> Result<Self, ClientError>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read, mut write) = tokio::io::split(stream);
        let mut read = BufReader::new(read);
        let id = super::client::random_id();
        let arguments = serde_json::json!({ "id": id });
        let mut request = vec![SENTINEL];
        request.extend(encode("guest-sync-delimited", Some(&arguments), None)?);
        write.write_all(&request).await?;
        write.flush().await?;
        let mut synced = false;
        let mut line = Vec::new();
        loop {
            line.clear();
            if read.read_until(b'\n', &mut line).await? == 0 {
                return Err(ClientError::Closed);
            }
            let text = match line.iter().rposition(|b| *b == SENTINEL) {
                Some(at) => {
                    synced = true;
                    &line[at + 1..]
                }
                None => &line[..],
            };
            if !synced {
                continue;
            }
            let Ok(message) = serde_json::from_slice::<Value>(text) else {
                continue;
            };
            if message.get("return").and_then(Value::as_i64) == Some(id) {
                break;
            }
        }
        Ok(Self::start(read, write))
    }

    fn start<R, W>(read: BufReader<R>, write: W) -> Self
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: AsyncWrite + Send + Unpin + 'static,
    {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                calls: HashMap::new(),
                subscribers: Vec::new(),
                closed: None,
            }),
            next_id: AtomicU64::new(1),
            lenient: AtomicBool::new(true),
        });
        let (requests, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_requests(write, queue, Arc::clone(&shared)));
        tokio::spawn(read_messages(read, Arc::clone(&shared)));
        AsyncConnection { shared, requests }
    }

    /// Lenient decoding (the default) tolerates a newer server: unknown members are ignored,
    /// unknown enum values and events kept in their `Unrecognized` variants. Strict decoding
    /// makes them errors naming the type, the member and the value.
    pub fn set_strict(&self, strict: bool) {
        self.shared.lenient.store(!strict, Ordering::Relaxed);
    }

    fn decoder(&self) -> Decoder {
        decoder(self.shared.lenient.load(Ordering::Relaxed))
    }

    /// A new stream of the events that arrive from now on. Any number of subscribers each get
    /// every event; the stream ends when the connection does. Events a subscriber does not
    /// read are kept for it.
    pub fn events(&self) -> Events<E> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let mut pending = self.shared.lock();
        if pending.closed.is_none() {
            pending.subscribers.push(sender);
        }
        Events { receiver }
    }

    /// What this QEMU supports: its `query-qmp-schema`, ready for questions.
    pub async fn capabilities(&self) -> Result<Capabilities, ClientError> {
        let schema = self
            .execute_value("query-qmp-schema", None::<&Empty>, None)
            .await?;
        Capabilities::from_value(&schema).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Runs a command and decodes its return value as `R`.
    pub async fn execute<A, R>(
        &self,
        command: &str,
        arguments: Option<&A>,
    ) -> Result<R, ClientError>
    where
        A: Serialize + ?Sized,
        R: Decode,
    {
        self.execute_timeout(command, arguments, None).await
    }

    /// [`AsyncConnection::execute`] with a limit: after `timeout` the call fails with
    /// [`ClientError::Timeout`] and a late reply is dropped; the connection stays usable.
    pub async fn execute_timeout<A, R>(
        &self,
        command: &str,
        arguments: Option<&A>,
        timeout: Option<Duration>,
    ) -> Result<R, ClientError>
    where
        A: Serialize + ?Sized,
        R: Decode,
    {
        let value = self.execute_value(command, arguments, timeout).await?;
        R::decode(&value, &mut self.decoder()).map_err(|error| ClientError::Decode {
            what: format!("the return value of {command}"),
            error,
        })
    }

    /// Runs a command and returns its raw return value.
    pub async fn execute_value<A>(
        &self,
        command: &str,
        arguments: Option<&A>,
        timeout: Option<Duration>,
    ) -> Result<Value, ClientError>
    where
        A: Serialize + ?Sized,
    {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let request = encode(command, arguments, Some(id))?;
        let (sender, receiver) = oneshot::channel();
        {
            let mut pending = self.shared.lock();
            if let Some(reason) = &pending.closed {
                return Err(closed_error(reason));
            }
            pending.calls.insert(id, sender);
        }
        // Removes the call from the table however this future ends (reply, timeout, drop).
        let _forget = Forget {
            shared: &self.shared,
            id,
        };
        self.requests
            .send(request)
            .map_err(|_| ClientError::Closed)?;
        let reply = match timeout {
            Some(limit) => tokio::time::timeout(limit, receiver)
                .await
                .map_err(|_| ClientError::Timeout)?,
            None => receiver.await,
        };
        reply.unwrap_or(Err(ClientError::Closed))
    }

    /// Sends a command that replies only on failure (`success-response: false`).
    pub async fn send_only<A>(
        &self,
        command: &str,
        arguments: Option<&A>,
    ) -> Result<(), ClientError>
    where
        A: Serialize + ?Sized,
    {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let request = encode(command, arguments, Some(id))?;
        self.requests.send(request).map_err(|_| ClientError::Closed)
    }

    /// Runs a command without a return value.
    pub async fn execute_unit<A>(
        &self,
        command: &str,
        arguments: Option<&A>,
    ) -> Result<(), ClientError>
    where
        A: Serialize + ?Sized,
    {
        self.execute::<A, Empty>(command, arguments)
            .await
            .map(|_| ())
    }
}

/// Drops a call's entry from the table when its future ends.
struct Forget<'a, E> {
    shared: &'a Shared<E>,
    id: u64,
}

impl<E> Drop for Forget<'_, E> {
    fn drop(&mut self) {
        self.shared.lock().calls.remove(&self.id);
    }
}

/// The events of a connection, as a [`Stream`]; ends with the connection.
pub struct Events<E> {
    receiver: mpsc::UnboundedReceiver<EventMessage<E>>,
}

impl<E> Events<E> {
    /// The next event, or `None` once the connection has ended.
    pub async fn next(&mut self) -> Option<EventMessage<E>> {
        self.receiver.recv().await
    }
}

impl<E> Stream for Events<E> {
    type Item = EventMessage<E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.receiver.poll_recv(cx)
    }
}

fn decoder(lenient: bool) -> Decoder {
    if lenient {
        Decoder::lenient()
    } else {
        Decoder::strict_reply()
    }
}

fn closed_error(reason: &str) -> ClientError {
    if reason.is_empty() {
        ClientError::Closed
    } else {
        ClientError::Io(std::io::Error::other(reason.to_owned()))
    }
}

/// One request line in QEMU's format.
fn encode<A: Serialize + ?Sized>(
    command: &str,
    arguments: Option<&A>,
    id: Option<u64>,
) -> Result<Vec<u8>, ClientError> {
    let mut out = writer::to_vec(&RequestOut {
        execute: command,
        arguments,
        id,
    })?;
    out.push(b'\n');
    Ok(out)
}

/// The next JSON message (one per line; stray sentinel bytes skipped), `None` at EOF.
async fn read_message<R: AsyncRead + Unpin>(
    read: &mut BufReader<R>,
) -> Result<Option<Value>, ClientError> {
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        let text: Vec<u8> = line.iter().copied().filter(|b| *b != SENTINEL).collect();
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        return serde_json::from_slice(&text)
            .map(Some)
            .map_err(|e| ClientError::Protocol(format!("malformed JSON: {e}")));
    }
}

async fn write_requests<W: AsyncWrite + Unpin, E>(
    mut write: W,
    mut queue: mpsc::UnboundedReceiver<Vec<u8>>,
    shared: Arc<Shared<E>>,
) {
    while let Some(mut batch) = queue.recv().await {
        // Requests queued meanwhile go out in the same write: fewer system calls under load.
        while let Ok(more) = queue.try_recv() {
            batch.extend_from_slice(&more);
        }
        let written = async {
            write.write_all(&batch).await?;
            write.flush().await
        };
        if let Err(e) = written.await {
            close(&shared, format!("writing a request: {e}"));
            return;
        }
    }
}

async fn read_messages<R: AsyncRead + Unpin, E: EventSet + Clone>(
    mut read: BufReader<R>,
    shared: Arc<Shared<E>>,
) {
    let reason = loop {
        let message = match read_message(&mut read).await {
            Ok(Some(message)) => message,
            Ok(None) => break String::new(),
            Err(e) => break e.to_string(),
        };
        if message.get("event").is_some() {
            let lenient = shared.lenient.load(Ordering::Relaxed);
            // An event that does not decode even leniently (a malformed envelope) is dropped.
            if let Ok(event) = EventMessage::<E>::decode(&message, &mut decoder(lenient)) {
                let mut pending = shared.lock();
                pending
                    .subscribers
                    .retain(|s| s.send(event.clone()).is_ok());
            }
            continue;
        }
        let outcome = match (message.get("return"), message.get("error")) {
            (Some(value), _) => Ok(value.clone()),
            (None, Some(error)) => Err(ClientError::Command(error_of(error))),
            (None, None) => continue,
        };
        let mut pending = shared.lock();
        let id = match message.get("id").and_then(Value::as_u64) {
            Some(id) => Some(id),
            // A reply without an id (a parse error) is the only waiting call's, if there is one.
            None if pending.calls.len() == 1 => pending.calls.keys().next().copied(),
            None => None,
        };
        // A reply to an abandoned call (timed out, dropped) finds no one.
        if let Some(waiter) = id.and_then(|id| pending.calls.remove(&id)) {
            let _ = waiter.send(outcome);
        }
    };
    close(&shared, reason);
}

/// Ends the connection: every waiting call gets the error (once), every event stream ends,
/// later calls fail at once.
fn close<E>(shared: &Shared<E>, reason: String) {
    let mut pending = shared.lock();
    if pending.closed.is_some() {
        return;
    }
    for (_, waiter) in pending.calls.drain() {
        let _ = waiter.send(Err(closed_error(&reason)));
    }
    pending.subscribers.clear();
    pending.closed = Some(reason);
}
