//! Outbox delivery over real SMTP, to a minimal SMTP server in the test, and
//! retries after a failed delivery.

use crate::helpers::{fresh_database_url, test_config};
use activepath::config::{Smtp, SmtpSecurity};
use activepath::crypto::{FieldCipher, MasterKey};
use activepath::jobs::OutboxWorker;
use activepath::mail::Transport;
use activepath::staff::Actor;
use activepath::storage::Storage;
use activepath::storage::assessments::{NewResult, Source};
use activepath::storage::triage::{NewTriageCase, Priority};
use jiff::Timestamp;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Accepts SMTP sessions; the first `reject` messages get a temporary
/// failure at DATA, later ones are kept.
async fn smtp_sink(reject: usize) -> (u16, Arc<Mutex<Vec<String>>>) {
    smtp_sink_refusing_with(reject, b"451 try again later\r\n").await
}

/// An SMTP server that refuses the first `reject` messages with `refusal`.
async fn smtp_sink_refusing_with(
    reject: usize,
    refusal: &'static [u8],
) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let rejected = Arc::new(AtomicUsize::new(0));
    let store = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (store, rejected) = (store.clone(), rejected.clone());
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 OK\r\n",
                        "DATA" if rejected.fetch_add(1, Ordering::SeqCst) < reject => refusal,
                        "DATA" => {
                            write.write_all(b"354 go ahead\r\n").await.unwrap();
                            let mut message = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                message.push_str(&l);
                                message.push('\n');
                            }
                            store.lock().unwrap().push(message);
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"502 not implemented\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, received)
}

fn smtp(port: u16) -> Smtp {
    Smtp {
        host: "127.0.0.1".into(),
        port,
        username: None,
        password: None,
        password_file: None,
        security: SmtpSecurity::None,
    }
}

/// A migrated database with no app running, so no other worker competes,
/// and a key to seal its mail with.
async fn bare_storage(dir: &std::path::Path) -> (Storage, Arc<FieldCipher>) {
    let url = fresh_database_url()
        .await
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.join("mail.db").display()));
    let storage = Storage::connect(&url).await.unwrap();
    storage.migrate().await.unwrap();
    (storage, Arc::new(FieldCipher::new(&MasterKey::generate())))
}

/// Queues one clinic notification the way sharing a result does.
async fn queue_notification(storage: &Storage, cipher: &FieldCipher, key: &str, now: Timestamp) {
    let result_id = storage
        .insert_result(NewResult {
            token_hash: key.into(),
            submission_key: key.into(),
            instrument: clinical::InstrumentId::Phq9,
            instrument_version: "phq9/en-US/1".into(),
            answers_sealed: vec![0],
            total: 0,
            severity: clinical::Severity::NoneMinimal,
            self_harm_flag: false,
            source: Source::Api,
            created_at: now,
            expires_at: now + jiff::SignedDuration::from_hours(1),
        })
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), None);
    let mut letter = activepath::mail::new_share_notification(&config, false);
    letter.envelope.to = "care@riverbend.example".into();
    storage
        .share_result(
            NewTriageCase {
                uid: key.into(),
                kind: activepath::storage::triage::CaseKind::Assessment,
                result_id: Some(result_id),
                priority: Priority::Routine,
                contact_sealed: vec![1],
                consent_version: "test".into(),
                created_at: now,
            },
            activepath::mail::seal(cipher, &letter),
        )
        .await
        .unwrap();
}

fn smtp_worker(storage: &Storage, cipher: &Arc<FieldCipher>, port: u16) -> OutboxWorker {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), None);
    config.mail.smtp = Some(smtp(port));
    OutboxWorker {
        storage: storage.clone(),
        transport: Transport::from_config(&config).unwrap(),
        from: config.mail.from,
        cipher: cipher.clone(),
    }
}

#[tokio::test]
async fn the_outbox_delivers_over_smtp() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, cipher) = bare_storage(dir.path()).await;
    let now = Timestamp::now();
    queue_notification(&storage, &cipher, "smtp-1", now).await;
    let (port, received) = smtp_sink(0).await;
    assert_eq!(
        smtp_worker(&storage, &cipher, port)
            .run_once(now)
            .await
            .unwrap(),
        1
    );
    let messages = received.lock().unwrap().clone();
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("To: care@riverbend.example"));
    assert!(messages[0].contains("A new self-assessment was shared"));
    let counts = storage.counts().await.unwrap();
    assert_eq!((counts.outbox, counts.outbox_sent), (1, 1));
    // Nothing is sent twice.
    assert_eq!(
        smtp_worker(&storage, &cipher, port)
            .run_once(now)
            .await
            .unwrap(),
        0
    );
    assert_eq!(received.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_refused_delivery_is_kept_and_retried_by_the_worker_after_a_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, cipher) = bare_storage(dir.path()).await;
    let start = Timestamp::now();
    queue_notification(&storage, &cipher, "smtp-2", start).await;
    let (port, received) = smtp_sink(1).await;
    let worker = smtp_worker(&storage, &cipher, port);
    assert_eq!(
        worker.run_once(start).await.unwrap(),
        0,
        "the server refuses the first attempt"
    );
    let counts = storage.counts().await.unwrap();
    assert_eq!(
        (counts.outbox, counts.outbox_sent),
        (1, 0),
        "the message is kept, unsent"
    );
    let at = |secs| start + jiff::SignedDuration::from_secs(secs);
    assert_eq!(
        worker.run_once(at(29)).await.unwrap(),
        0,
        "not due again before the 30 s backoff"
    );
    assert!(received.lock().unwrap().is_empty());
    assert_eq!(worker.run_once(at(31)).await.unwrap(), 1, "due after 30 s");
    assert_eq!(received.lock().unwrap().len(), 1);
    assert_eq!(storage.counts().await.unwrap().outbox_sent, 1);
    assert_eq!(
        worker.run_once(at(3600)).await.unwrap(),
        0,
        "sent once only"
    );
}

#[tokio::test]
async fn a_backlog_is_delivered_a_batch_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, cipher) = bare_storage(dir.path()).await;
    let now = Timestamp::now();
    for key in ["batch-1", "batch-2", "batch-3"] {
        queue_notification(&storage, &cipher, key, now).await;
    }
    let (port, received) = smtp_sink(0).await;
    let worker = smtp_worker(&storage, &cipher, port);
    assert_eq!(worker.deliver(now, 2).await.unwrap(), (2, 2));
    assert_eq!(received.lock().unwrap().len(), 2, "no more than asked for");
    assert_eq!(worker.deliver(now, 2).await.unwrap(), (1, 1));
    assert_eq!(worker.deliver(now, 2).await.unwrap(), (0, 0));
    assert_eq!(received.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_message_refused_for_good_is_not_retried_and_staff_can_send_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, cipher) = bare_storage(dir.path()).await;
    let start = Timestamp::now();
    queue_notification(&storage, &cipher, "smtp-550", start).await;
    let (port, received) = smtp_sink_refusing_with(
        1,
        b"550 5.1.1 <care@riverbend.example>: no such mailbox\r\n",
    )
    .await;
    let worker = smtp_worker(&storage, &cipher, port);
    assert_eq!(worker.run_once(start).await.unwrap(), 0);
    assert_eq!(
        storage.failed_mail().await.unwrap(),
        1,
        "failed for good at once"
    );
    let later = start + jiff::SignedDuration::from_hours(2);
    assert_eq!(
        worker.run_once(later).await.unwrap(),
        0,
        "not retried by itself"
    );
    let log = storage.mail_log(i64::MAX, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert!(log[0].failed_at.is_some() && log[0].sent_at.is_none());
    let error = log[0].last_error.clone().unwrap();
    assert!(error.contains("550") && !error.contains("care@"), "{error}");
    // Someone retries it: delivered, and the alert is gone.
    let chain = cipher.audit_chain();
    let by = |action: &str| Actor::command_line().did(action, "mail_outbox", log[0].id, later);
    assert!(
        storage
            .retry_mail(log[0].id, later, &chain, by("retry"))
            .await
            .unwrap()
    );
    assert_eq!(storage.failed_mail().await.unwrap(), 0);
    assert_eq!(worker.run_once(later).await.unwrap(), 1);
    assert_eq!(received.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_message_still_refused_after_a_day_of_tries_is_given_up_and_can_be_dismissed() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, cipher) = bare_storage(dir.path()).await;
    let mut now = Timestamp::now();
    queue_notification(&storage, &cipher, "smtp-451", now).await;
    let (port, received) = smtp_sink(usize::MAX).await;
    let worker = smtp_worker(&storage, &cipher, port);
    let mut tries = 0;
    while storage.failed_mail().await.unwrap() == 0 {
        assert_eq!(worker.run_once(now).await.unwrap(), 0);
        tries += 1;
        assert!(tries <= 30, "given up on at last");
        now += jiff::SignedDuration::from_hours(1);
    }
    assert_eq!(tries, 24);
    assert!(received.lock().unwrap().is_empty());
    let id = storage.mail_log(i64::MAX, 1).await.unwrap()[0].id;
    let chain = cipher.audit_chain();
    let by = || Actor::command_line().did("dismiss", "mail_outbox", id, now);
    assert!(storage.dismiss_mail(id, now, &chain, by()).await.unwrap());
    assert_eq!(
        storage.failed_mail().await.unwrap(),
        0,
        "dismissed: no more alert"
    );
    assert!(!storage.dismiss_mail(id, now, &chain, by()).await.unwrap());
}

#[tokio::test]
async fn send_test_email_sends_now_or_says_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let run = move |env: &[(&str, String)]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_activepath"))
            .args([
                "send-test-email",
                "--to",
                "it@riverbend.example",
                "--data-dir",
                &data,
            ])
            .env_remove("DATABASE_URL")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap()
    };
    // No SMTP: written to the mail folder, and said so.
    let out = run(&[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("SMTP is not configured"));

    let smtp_env = |port: u16| {
        vec![
            ("ACTIVEPATH_MAIL__SMTP__HOST", "127.0.0.1".to_string()),
            ("ACTIVEPATH_MAIL__SMTP__PORT", port.to_string()),
            ("ACTIVEPATH_MAIL__SMTP__SECURITY", "none".to_string()),
        ]
    };
    let (port, received) = smtp_sink(0).await;
    let out = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(&smtp_env(port))
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("127.0.0.1:{port}")));
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("To: it@riverbend.example") && got[0].contains("Test e-mail"));

    // Nothing listening: the error names the setting to check.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(&smtp_env(closed))
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("could not talk to 127.0.0.1:{closed}"))
            && err.contains("mail.smtp.host"),
        "{err}"
    );
    // Refused for good: says so, and what to check.
    let (port, _) = smtp_sink_refusing_with(1, b"554 5.7.1 sender not allowed\r\n").await;
    let out = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(&smtp_env(port))
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refused the message for good") && err.contains("mail.from"),
        "{err}"
    );
}
