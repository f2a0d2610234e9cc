//! The accept loop: HTTP/1.1 over hyper, with the limits that keep slow and
//! numerous clients from taking the server down.
//!
//! - A request head must arrive within `header_read_timeout` of the
//!   connection being ready for it (hyper closes it otherwise).
//! - A connection with no request in progress, and no byte of a new one, is
//!   closed after `keep_alive_timeout`.
//! - At most `max_connections` are open. When a new connection arrives at
//!   the cap, the open connection that has waited longest without a request
//!   being handled (a slow or idle client) is closed to make room; a
//!   connection whose request is being handled is never closed for this.
//!   So thousands of slow clients cannot keep a real request, or a health
//!   check, from being served at once.
//!
//! Each request carries the peer's address (`ConnectInfo<SocketAddr>`) for
//! the rate limits. On shutdown, no new connection is taken, idle ones are
//! closed and requests in flight finish.

use super::HttpService;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

/// Descriptors kept free for the database, the mail folder and content
/// files when connections are at the cap.
const RESERVED_DESCRIPTORS: u64 = 256;

/// Raises the process's open-files limit to its hard limit and returns the
/// connection cap that fits under it: `wanted`, or less (with a warning)
/// when the limit is lower.
pub fn connection_cap(wanted: usize) -> usize {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        let mut limit = getrlimit(Resource::Nofile);
        if limit.current < limit.maximum {
            limit.current = limit.maximum;
            if setrlimit(Resource::Nofile, limit).is_err() {
                limit = getrlimit(Resource::Nofile);
            }
        }
        if let Some(files) = limit.current {
            let fits = files.saturating_sub(RESERVED_DESCRIPTORS).max(16) as usize;
            if fits < wanted {
                tracing::warn!(
                    "server.max_connections is {wanted}, but this process may open only {files}                      files: serving at most {fits} connections (raise the limit, e.g. LimitNOFILE=)"
                );
                return fits;
            }
        }
    }
    wanted
}

/// One open connection, as the accept loop sees it.
#[derive(Debug)]
struct Conn {
    /// Requests being handled (more than one only with pipelining).
    busy: AtomicU32,
    /// A byte of a new request has arrived since the last one was handled.
    reading: AtomicBool,
    /// Milliseconds (since the registry's epoch) since which no request has
    /// been handled: when the connection opened or its last request ended.
    waiting_since: AtomicU64,
    /// Closes the connection at once.
    evict: Notify,
}

#[derive(Debug)]
struct Registry {
    epoch: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
    /// Signalled whenever a connection closes.
    closed: Notify,
}

impl Registry {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn open(&self) -> (u64, Arc<Conn>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            busy: AtomicU32::new(0),
            reading: AtomicBool::new(false),
            waiting_since: AtomicU64::new(self.now_ms()),
            evict: Notify::new(),
        });
        self.open
            .lock()
            .expect("registry lock")
            .insert(id, conn.clone());
        (id, conn)
    }

    fn close(&self, id: u64) {
        self.open.lock().expect("registry lock").remove(&id);
        self.closed.notify_waiters();
    }

    fn len(&self) -> usize {
        self.open.lock().expect("registry lock").len()
    }

    /// Whether some open connection has no request being handled.
    fn any_waiting(&self) -> bool {
        let open = self.open.lock().expect("registry lock");
        open.values().any(|c| c.busy.load(Ordering::Acquire) == 0)
    }

    /// Closes the connection that has waited longest with no request being
    /// handled. Returns false when every open connection is handling one.
    fn evict_one(&self) -> bool {
        let mut open = self.open.lock().expect("registry lock");
        let victim = open
            .iter()
            .filter(|(_, c)| c.busy.load(Ordering::Acquire) == 0)
            .min_by_key(|(_, c)| c.waiting_since.load(Ordering::Acquire))
            .map(|(id, _)| *id);
        match victim.and_then(|id| open.remove(&id)) {
            Some(conn) => {
                conn.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    app: HttpService,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let registry = Arc::new(Registry {
        epoch: Instant::now(),
        next_id: AtomicU64::new(0),
        open: Mutex::new(HashMap::new()),
        closed: Notify::new(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        // At the cap with every connection busy: wait for one to close.
        while registry.len() >= limits.max_connections && !registry.any_waiting() {
            tokio::select! {
                _ = registry.closed.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = &mut shutdown => return drain(registry, stop_tx, limits).await,
            }
        }
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    accept_error(e, &registry).await;
                    continue;
                }
            },
            _ = &mut shutdown => return drain(registry, stop_tx, limits).await,
        };
        if registry.len() >= limits.max_connections {
            registry.evict_one();
        }
        let _ = stream.set_nodelay(true);
        let (id, conn) = registry.open();
        tokio::spawn(connection(
            stream,
            peer,
            id,
            conn,
            registry.clone(),
            app.clone(),
            limits,
            stop_rx.clone(),
        ));
    }
}

/// Too many open files: make room by closing a waiting connection, and
/// pause briefly instead of spinning. Errors of one connection are ignored.
async fn accept_error(e: std::io::Error, registry: &Registry) {
    use std::io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!("accepting a connection failed: {e}");
    registry.evict_one();
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Stops every connection gracefully and waits for requests in flight.
async fn drain(registry: Arc<Registry>, stop: watch::Sender<bool>, limits: Limits) {
    let _ = stop.send(true);
    let deadline = tokio::time::Instant::now() + limits.shutdown_grace;
    while registry.len() > 0 {
        tokio::select! {
            _ = registry.closed.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            _ = tokio::time::sleep_until(deadline) => {
                tracing::warn!(open = registry.len(), "shutdown grace ended with connections still open");
                return;
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
    app: HttpService,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let io = TokioIo::new(Watched {
        inner: stream,
        conn: conn.clone(),
    });
    let service = PerConnection {
        app,
        peer,
        conn: conn.clone(),
        registry: registry.clone(),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let served = builder.serve_connection(io, service);
    tokio::pin!(served);
    let mut stopping = false;
    let idle_check = tokio::time::sleep(limits.keep_alive_timeout);
    tokio::pin!(idle_check);
    loop {
        tokio::select! {
            _ = served.as_mut() => break,
            _ = conn.evict.notified() => break,
            _ = stop.changed(), if !stopping => {
                stopping = true;
                served.as_mut().graceful_shutdown();
            }
            _ = &mut idle_check => {
                let idle = conn.busy.load(Ordering::Acquire) == 0
                    && !conn.reading.load(Ordering::Acquire);
                let waited = registry.now_ms().saturating_sub(conn.waiting_since.load(Ordering::Acquire));
                let limit = limits.keep_alive_timeout.as_millis() as u64;
                if idle && waited >= limit {
                    break;
                }
                let next = if idle { limit - waited } else { limit };
                idle_check.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(next.max(1)));
            }
        }
    }
    registry.close(id);
}

/// The socket, noting when a byte of a new request arrives.
struct Watched {
    inner: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.reading.store(true, Ordering::Release);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The app as hyper calls it on one connection.
#[derive(Clone)]
struct PerConnection {
    app: HttpService,
    peer: SocketAddr,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

/// Marks the connection busy while a request is handled.
struct Handling {
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.conn
            .waiting_since
            .store(self.registry.now_ms(), Ordering::Release);
        self.conn.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

impl hyper::service::Service<hyper::Request<Incoming>> for PerConnection {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send + 'static>>;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        self.conn.busy.fetch_add(1, Ordering::AcqRel);
        self.conn.reading.store(false, Ordering::Release);
        let handling = Handling {
            conn: self.conn.clone(),
            registry: self.registry.clone(),
        };
        let mut req = req.map(axum::body::Body::new);
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let future = tower::Service::call(&mut self.app.clone(), req);
        Box::pin(async move {
            let response = future.await;
            drop(handling);
            response
        })
    }
}
