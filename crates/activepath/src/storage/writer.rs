//! SQLite's single writer, with group commit.
//!
//! SQLite lets one connection write at a time, and with `synchronous = FULL`
//! each commit waits for the disk. Committing every request on its own makes
//! the disk's flush rate the site's write rate. Instead, every write is sent
//! to this task, which takes everything queued, runs it inside one
//! transaction (each write in a savepoint of its own, so one failure undoes
//! only itself) and commits once. Each caller is answered only after that
//! commit is on disk, so an acknowledged write survives a crash exactly as
//! before; under load one flush serves many requests, and when idle a lone
//! write is committed at once.

use super::{Result, StorageError};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{AnyConnection, Connection, Executor};
use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

/// Most writes committed together. Bounds the time one batch holds the lock.
const MAX_BATCH: usize = 512;
/// Writes waiting beyond this make callers wait to enqueue (backpressure).
const QUEUE: usize = 4096;

type Value = Box<dyn Any + Send>;
type Op = Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<Value>> + Send>;

/// How a write is kept atomic inside the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Atomic {
    /// Several statements: wrapped in a savepoint.
    Savepoint,
    /// One statement, which SQLite applies or undoes on its own.
    Statement,
}

struct Job {
    op: Op,
    atomic: Atomic,
    reply: oneshot::Sender<Result<Value>>,
}

#[derive(Debug)]
pub(super) struct Writer {
    queue: mpsc::Sender<Job>,
    closed: Arc<AtomicBool>,
    stop: Arc<Notify>,
    /// Held by the task until its connection is closed.
    done: Arc<Mutex<()>>,
}

impl Writer {
    pub(super) fn start(conn: AnyConnection) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        let stop = Arc::new(Notify::new());
        let done = Arc::new(Mutex::new(()));
        let guard = done.clone().try_lock_owned().expect("a new mutex is free");
        tokio::spawn(run(conn, rx, stop.clone(), guard));
        Writer {
            queue,
            closed: Arc::new(AtomicBool::new(false)),
            stop,
            done,
        }
    }

    pub(super) async fn submit<T, F>(&self, atomic: Atomic, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        if self.closed.load(Ordering::Acquire) {
            return Err(StorageError::Closed);
        }
        let op: Op = Box::new(move |conn| {
            Box::pin(async move { op(conn).await.map(|v| Box::new(v) as Value) })
        });
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { op, atomic, reply })
            .await
            .map_err(|_| StorageError::Closed)?;
        let value = answer.await.map_err(|_| StorageError::Closed)??;
        Ok(*value
            .downcast::<T>()
            .expect("the writer answers with the op's own type"))
    }

    /// Stops taking writes, lets the batch in progress finish and closes the
    /// connection.
    pub(super) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.stop.notify_one();
        let _ = self.done.lock().await;
    }
}

async fn run(
    mut conn: AnyConnection,
    mut rx: mpsc::Receiver<Job>,
    stop: Arc<Notify>,
    _done: tokio::sync::OwnedMutexGuard<()>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        tokio::select! {
            biased;
            _ = stop.notified() => break,
            n = rx.recv_many(&mut batch, MAX_BATCH) => {
                if n == 0 {
                    break;
                }
                commit(&mut conn, &mut batch).await;
            }
        }
    }
    rx.close();
    while let Ok(job) = rx.try_recv() {
        let _ = job.reply.send(Err(StorageError::Closed));
    }
    let _ = conn.close().await;
}

/// Runs and commits one batch, then answers every caller in it.
#[tracing::instrument(skip_all, fields(writes = batch.len()))]
async fn commit(conn: &mut AnyConnection, batch: &mut Vec<Job>) {
    let mut answers: Vec<(oneshot::Sender<Result<Value>>, Result<Value>)> =
        Vec::with_capacity(batch.len());
    let mut broken: Option<String> = match conn.execute("BEGIN IMMEDIATE").await {
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    };
    for job in batch.drain(..) {
        if let Some(why) = &broken {
            answers.push((job.reply, Err(StorageError::NotCommitted(why.clone()))));
            continue;
        }
        let savepoint = job.atomic == Atomic::Savepoint;
        if savepoint && let Err(e) = conn.execute("SAVEPOINT write").await {
            broken = Some(e.to_string());
            answers.push((job.reply, Err(StorageError::NotCommitted(e.to_string()))));
            continue;
        }
        let outcome = match AssertUnwindSafe((job.op)(conn)).catch_unwind().await {
            Ok(outcome) => outcome,
            Err(_) => Err(StorageError::Panicked),
        };
        let undo = outcome.is_err() && savepoint;
        let end = match (savepoint, undo) {
            (false, _) => Ok(()),
            (true, false) => conn.execute("RELEASE write").await.map(drop),
            (true, true) => conn
                .execute("ROLLBACK TO write; RELEASE write")
                .await
                .map(drop),
        };
        if let Err(e) = end {
            broken = Some(e.to_string());
        }
        answers.push((job.reply, outcome));
    }
    let committed = match broken {
        None => conn
            .execute("COMMIT")
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
        Some(why) => Err(why),
    };
    if let Err(why) = &committed {
        tracing::error!("a write batch was not committed: {why}");
        let _ = conn.execute("ROLLBACK").await;
    }
    for (reply, outcome) in answers {
        let outcome = match (&committed, outcome) {
            (Ok(()), outcome) => outcome,
            (Err(why), Ok(_)) => Err(StorageError::NotCommitted(why.clone())),
            (Err(_), Err(e)) => Err(e),
        };
        // A caller that gave up (its request was cancelled) is not an error.
        let _ = reply.send(outcome);
    }
}
