//! A result acknowledged with 201 or 303 is never lost: the server is killed
//! with SIGKILL in the middle of a load, restarted, and every acknowledged
//! result is read back.

use crate::helpers::{fresh_database_url, shows_score};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A server's log lines, read from its stderr as they come.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>, Arc<std::sync::atomic::AtomicBool>);

impl Log {
    /// Waits until the server has closed its stderr (it has exited), so the
    /// log is complete.
    pub async fn wait_until_closed(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.1.load(std::sync::atomic::Ordering::Acquire) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Waits until `count` lines contain `text`, up to `within`.
    pub async fn wait_for(&self, text: &str, count: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.count(text) >= count {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    pub fn count(&self, text: &str) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(text))
            .count()
    }

    pub fn text(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

/// Starts the binary with its log (at `RUST_LOG=info` unless `env` says
/// otherwise) collected in a [`Log`]. `shell` runs first in the same shell,
/// e.g. `ulimit -n 512`.
pub fn start_logged(
    data_dir: &Path,
    database_url: Option<&str>,
    env: &[(&str, &str)],
    shell: &str,
) -> (Child, String, Log) {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{shell}\nexec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_activepath"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    let mut child = cmd.spawn().expect("the activepath binary starts");
    let log = Log::default();
    let stderr = child.stderr.take().unwrap();
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            lines.0.lock().unwrap().push(line);
        }
        lines.1.store(true, std::sync::atomic::Ordering::Release);
    });
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        addr.starts_with("http://127.0.0.1:"),
        "unexpected first line {line:?}; log: {}",
        log.text()
    );
    (child, addr, log)
}

/// Sends SIGHUP to a server.
pub fn send_hup(child: &Child) {
    let sent = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_results_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database_url().await;
    // A load from one address: the per-client limits would refuse most of it.
    let unlimited = [("ACTIVEPATH_RATE_LIMIT__ENABLED", "false")];
    let (mut child, base, _log) = start_logged(dir.path(), db.as_deref(), &unlimited, "");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let acknowledged: Arc<Mutex<Vec<(String, u32)>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut tasks = Vec::new();
    for worker in 0..8u32 {
        let (client, base, acked) = (client.clone(), base.clone(), acknowledged.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u32;
            // Bounded: at most 2,000 requests per worker, and stops at the kill.
            while i < 2000 {
                i += 1;
                let answers: Vec<u32> = (0..9).map(|k| (worker + i + k) % 4).collect();
                let total: u32 = answers.iter().sum();
                let path = if i.is_multiple_of(2) {
                    let body =
                        format!(r#"{{"instrument":"phq9","answers":{answers:?},"difficulty":1}}"#);
                    match client
                        .post(format!("{base}/api/v1/assessments"))
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                    {
                        Ok(res) if res.status() == 201 => {
                            let url = res.headers()["location"].to_str().unwrap().to_string();
                            url[url.find("/assessment/").unwrap()..].to_string()
                        }
                        Ok(res) => panic!("unexpected status {}", res.status()),
                        Err(_) => break,
                    }
                } else {
                    let mut form: Vec<String> = answers
                        .iter()
                        .enumerate()
                        .map(|(n, a)| format!("q{}={a}", n + 1))
                        .collect();
                    form.push("difficulty=1".into());
                    match client
                        .post(format!("{base}/assessment/phq9"))
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(form.join("&"))
                        .send()
                        .await
                    {
                        Ok(res) if res.status() == 303 => {
                            res.headers()["location"].to_str().unwrap().to_string()
                        }
                        Ok(res) => panic!("unexpected status {}", res.status()),
                        Err(_) => break,
                    }
                };
                acked.lock().unwrap().push((path, total));
            }
        }));
    }
    tokio::time::sleep_until(deadline.into()).await;
    child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix.
    child.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acknowledged.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "the load produced only {} results",
        acked.len()
    );

    let (mut child, base, _log) = start_logged(dir.path(), db.as_deref(), &unlimited, "");
    for (path, total) in &acked {
        let res = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(
            res.status(),
            200,
            "acknowledged result {path} is missing after the crash"
        );
        let html = res.text().await.unwrap();
        assert!(shows_score(&html, *total, 27), "{path}");
    }
    eprintln!("{} acknowledged results all survived SIGKILL", acked.len());

    // SIGTERM stops it cleanly, with a success exit status.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}
