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
//!
//! PostgreSQL commits concurrent transactions together by itself, so only
//! the audit trail goes through a writer there: its entries form one chain,
//! appended one at a time under a lock, and grouping them turns one commit
//! per page view into one per batch. That writer takes a connection from the
//! pool for each batch, so a restarted server costs it nothing.

use super::{Result, StorageError};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{AnyConnection, AnyPool, Connection, Executor};
use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// Where the writer's connection comes from.
pub(super) enum Source {
    /// One connection, kept open (SQLite's only writer).
    Held(AnyConnection),
    /// A connection from the pool for each batch.
    Pool(AnyPool),
}

struct Job {
    op: Op,
    atomic: Atomic,
    reply: oneshot::Sender<Result<Value>>,
}

/// Commits and writes so far, to see how well writes are grouped.
#[derive(Debug, Default)]
pub(super) struct Stats {
    pub commits: AtomicU64,
    pub writes: AtomicU64,
}

#[derive(Debug)]
pub(super) struct Writer {
    pub(super) stats: Arc<Stats>,
    queue: mpsc::Sender<Job>,
    closed: Arc<AtomicBool>,
    stop: Arc<Notify>,
    /// Held by the task until its connection is closed.
    done: Arc<Mutex<()>>,
}

impl Writer {
    /// Starts the task. `begin` opens each batch's transaction.
    pub(super) fn start(source: Source, begin: &'static str) -> Self {
        let (queue, rx) = mpsc::channel(QUEUE);
        let stop = Arc::new(Notify::new());
        let done = Arc::new(Mutex::new(()));
        let guard = done.clone().try_lock_owned().expect("a new mutex is free");
        let stats = Arc::new(Stats::default());
        tokio::spawn(run(source, begin, rx, stop.clone(), guard, stats.clone()));
        Writer {
            stats,
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
    mut source: Source,
    begin: &'static str,
    mut rx: mpsc::Receiver<Job>,
    stop: Arc<Notify>,
    _done: tokio::sync::OwnedMutexGuard<()>,
    stats: Arc<Stats>,
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
                stats.writes.fetch_add(n as u64, Ordering::Relaxed);
                stats.commits.fetch_add(1, Ordering::Relaxed);
                match &mut source {
                    Source::Held(conn) => commit(conn, begin, &mut batch).await,
                    Source::Pool(pool) => match pool.acquire().await {
                        Ok(mut conn) => commit(&mut conn, begin, &mut batch).await,
                        Err(e) => {
                            for job in batch.drain(..) {
                                let _ = job.reply.send(Err(StorageError::NotCommitted(e.to_string())));
                            }
                        }
                    },
                }
            }
        }
    }
    rx.close();
    while let Ok(job) = rx.try_recv() {
        let _ = job.reply.send(Err(StorageError::Closed));
    }
    if let Source::Held(conn) = source {
        let _ = conn.close().await;
    }
}

/// Runs and commits one batch, then answers every caller in it.
#[tracing::instrument(skip_all, fields(writes = batch.len()))]
async fn commit(conn: &mut AnyConnection, begin: &'static str, batch: &mut Vec<Job>) {
    let mut answers: Vec<(oneshot::Sender<Result<Value>>, Result<Value>)> =
        Vec::with_capacity(batch.len());
    let mut broken: Option<String> = match conn.execute(begin).await {
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
            (true, true) => match conn.execute("ROLLBACK TO write").await {
                Ok(_) => conn.execute("RELEASE write").await.map(drop),
                Err(e) => Err(e),
            },
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

#[cfg(test)]
mod tests {
    use super::super::{Storage, StorageError};
    use sqlx::Executor;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_in_a_batch_undoes_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("w.db").display());
        let storage = Storage::connect(&url).await.unwrap();
        storage.migrate().await.unwrap();
        let mut writes = tokio::task::JoinSet::new();
        for i in 0..90i64 {
            let storage = storage.clone();
            writes.spawn(async move {
                let outcome = storage
                    .write(move |conn| {
                        Box::pin(async move {
                            // Two statements: a result (every third one a
                            // duplicate token) and a mail that must go with it.
                            let token = if i % 3 == 0 { "same".to_string() } else { format!("t{i}") };
                            sqlx::query(
                                "INSERT INTO assessment_results (token_hash, submission_key, instrument, \
                                 instrument_version, answers, total, severity, self_harm_flag, source, \
                                 created_at, expires_at) VALUES ($1, $2, 'phq9', 'v', $3, 0, \
                                 'none-minimal', 0, 'web', 0, 1)",
                            )
                            .bind(token)
                            .bind(format!("s{i}"))
                            .bind(vec![0u8])
                            .execute(&mut *conn)
                            .await?;
                            if i == 50 {
                                panic!("a bug in one write");
                            }
                            sqlx::query(
                                "INSERT INTO mail_outbox (recipient, subject, body_text, body_html, \
                                 created_at, next_attempt_at) VALUES ($1, 's', 't', 'h', 0, 0)",
                            )
                            .bind(format!("r{i}"))
                            .execute(&mut *conn)
                            .await?;
                            Ok(i)
                        })
                    })
                    .await;
                (i, outcome)
            });
        }
        let mut ok = 0;
        while let Some(done) = writes.join_next().await {
            let (i, outcome) = done.unwrap();
            match outcome {
                Ok(n) => {
                    assert_eq!(n, i);
                    ok += 1;
                }
                Err(StorageError::Conflict(_)) => assert_eq!(i % 3, 0),
                Err(StorageError::Panicked) => assert_eq!(i, 50),
                Err(e) => panic!("write {i}: {e}"),
            }
        }
        // 60 distinct tokens (less the one that panicked) and one "same".
        assert_eq!(ok, 60);
        let counts = storage.counts().await.unwrap();
        assert_eq!(
            (counts.results, counts.outbox),
            (60, 60),
            "each write whole or not at all"
        );
        let (commits, written) = storage.commit_stats().unwrap();
        assert!(
            written >= 90 && commits <= written,
            "{commits} commits for {written} writes"
        );
        // The writer still works, and a closed storage refuses politely.
        storage.set_key_check(vec![1]).await.unwrap();
        storage.close().await;
        assert!(matches!(
            storage.set_key_check(vec![2]).await,
            Err(StorageError::Closed)
        ));
        let _ = storage.pool().execute("SELECT 1").await.unwrap_err();
    }
}
