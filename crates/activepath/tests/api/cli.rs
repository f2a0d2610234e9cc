//! The binary's commands, run as a process.

use crate::helpers::{
    BASE_URL, fresh_database_url, internal_links, no_redirect_client, spawn_app, write_content,
};
use crate::reliability::{send_hup, start_logged};
use std::process::Command;
use std::time::Duration;

fn activepath(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_activepath"))
        .args(args)
        .env_remove("DATABASE_URL")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn check_config_accepts_the_defaults_and_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let ok = activepath(&["check-config", "--data-dir", data], &[]);
    assert!(ok.status.success());
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(stdout.contains("configuration is valid"));
    assert!(
        stdout.contains("warning: clinic.base_url is http://127.0.0.1:8080"),
        "a base_url that only reaches this machine is pointed out: {stdout}"
    );
    let public = activepath(
        &["check-config", "--data-dir", data],
        &[("ACTIVEPATH_CLINIC__BASE_URL", "https://clinic.example")],
    );
    // The only thing left to say is that the built-in content is a demo.
    let stdout = String::from_utf8_lossy(&public.stdout);
    let warnings: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("warning"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stdout}");
    assert!(
        warnings[0].starts_with("warning: content: ")
            && warnings[0].contains("pages and posts name the demo reviewer"),
        "{stdout}"
    );

    let bad = activepath(
        &["check-config", "--data-dir", data],
        &[("ACTIVEPATH_CLINIC__TIME_ZONE", "Mars/Base")],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("clinic.time_zone"));
    // The baseline's days are bounded (1 to 90).
    for days in ["0", "91"] {
        let bad = activepath(
            &["check-config", "--data-dir", data],
            &[("ACTIVEPATH_TMS__BASELINE_VALID_DAYS", days)],
        );
        assert!(!bad.status.success(), "{days}");
        assert!(String::from_utf8_lossy(&bad.stderr).contains("tms.baseline_valid_days"));
    }
    let fine = activepath(
        &["check-config", "--data-dir", data],
        &[("ACTIVEPATH_TMS__BASELINE_VALID_DAYS", "28")],
    );
    assert!(fine.status.success());
}

#[test]
fn check_config_lists_pages_due_for_medical_review_and_hard_to_read() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    write_content(&content, &[]);
    std::fs::write(
        content.join("pages/tms.md"),
        "+++\ntitle = \"TMS\"\nslug = \"tms\"\nsummary = \"About TMS\"\ndate = 2020-01-01\n\
         reviewer = \"Dr. Jane Rivera, MD\"\nreviewed = 2020-01-01\nnext_review = 2021-01-01\n+++\n\
         Transcranial magnetic stimulation necessitates comprehensive neurophysiological \
         evaluation, individualized dosimetry and interdisciplinary coordination.\n",
    )
    .unwrap();
    let out = activepath(
        &[
            "check-config",
            "--data-dir",
            dir.path().join("data").to_str().unwrap(),
        ],
        &[("ACTIVEPATH_CONTENT_DIR", content.to_str().unwrap())],
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "warning: content: pages/tms.md (/tms) was due for its next medical review on 2021-01-01",
        "warning: content: pages/home.md (/) names no medical reviewer",
        "warning: content: pages/tms.md (/tms) reads at US grade",
    ] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
    assert!(!stdout.contains("demo reviewer"), "{stdout}");
}

#[test]
fn broken_content_stops_check_config_and_start_up_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    write_content(&content, &[("fine", "2026-01-01", false, &[])]);
    std::fs::write(
        content.join("posts/bad.md"),
        "+++\ntitle = \"Bad\"\nslug = \"bad\"\nsummary = \"S\"\ndate = 2026-01-01\nautor = \"typo\"\n+++\nBody\n",
    )
    .unwrap();
    let env = [("ACTIVEPATH_CONTENT_DIR", content.to_str().unwrap())];
    let data = dir.path().join("data");
    for command in ["check-config", "serve"] {
        let out = activepath(
            &[
                command,
                "--bind",
                "127.0.0.1:0",
                "--data-dir",
                data.to_str().unwrap(),
            ],
            &env,
        );
        assert!(!out.status.success(), "{command} must fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("posts/bad.md:6:") && stderr.contains("autor"),
            "{command}: {stderr}"
        );
    }
}

#[tokio::test]
async fn sighup_reloads_the_content_folder() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    write_content(&content, &[("first", "2026-01-01", false, &[])]);
    let (mut child, base, log) = start_logged(
        &dir.path().join("data"),
        fresh_database_url().await.as_deref(),
        &[("ACTIVEPATH_CONTENT_DIR", content.to_str().unwrap())],
        "",
    );
    let client = reqwest::Client::new();
    let status = |path: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            client
                .get(format!("{base}{path}"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status("/blog/second").await, 404);
    write_content(&content, &[("second", "2026-01-02", false, &[])]);
    // A broken edit is refused and the old content stays.
    std::fs::write(content.join("posts/broken.md"), "no front matter").unwrap();
    send_hup(&child);
    assert!(
        log.wait_for("content not reloaded", 1, Duration::from_secs(5))
            .await,
        "{}",
        log.text()
    );
    assert!(log.text().contains("posts/broken.md:1:"), "{}", log.text());
    assert_eq!(status("/blog/first").await, 200);
    assert_eq!(status("/blog/second").await, 404);
    std::fs::remove_file(content.join("posts/broken.md")).unwrap();
    send_hup(&child);
    assert!(
        log.wait_for("SIGHUP: content reloaded", 1, Duration::from_secs(5))
            .await,
        "{}",
        log.text()
    );
    assert_eq!(status("/blog/second").await, 200, "the new post is served");
    child.kill().ok();
    child.wait().ok();
}

#[tokio::test]
async fn nothing_personal_reaches_the_log_even_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base, log) = start_logged(
        &dir.path().join("data"),
        fresh_database_url().await.as_deref(),
        &[
            ("RUST_LOG", "trace"),
            ("ACTIVEPATH_SERVER__TRUSTED_PROXIES", "[127.0.0.1/32]"),
        ],
        "",
    );
    let client = no_redirect_client();
    let res = client
        .post(format!("{base}/assessment/phq9"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("q1=3&q2=3&q3=3&q4=3&q5=3&q6=3&q7=3&q8=3&q9=2&difficulty=3")
        .send()
        .await
        .unwrap();
    let path = res.headers()["location"].to_str().unwrap().to_string();
    let token = path.rsplit('/').next().unwrap().to_string();
    let body = "name=Zebedee+Quartermaine&email=zq%40example.org&phone=5550199887&contact_method=text&contact_time=evening&message=Feeling+hopeless&consent=yes";
    let res = client
        .post(format!("{base}{path}/share"))
        .header("content-type", "application/x-www-form-urlencoded")
        // The client's address, which the rate limits count by.
        .header("x-forwarded-for", "198.51.100.77")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    client.get(format!("{base}{path}")).send().await.unwrap();
    // The clinic's notification is delivered (its work is in the log too).
    let mail = dir.path().join("data/mail");
    for _ in 0..100 {
        if std::fs::read_dir(&mail).is_ok_and(|d| d.count() > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    assert!(log.wait_until_closed(Duration::from_secs(5)).await);
    let text = log.text();
    assert!(text.len() > 1000, "trace logging produced output");
    for secret in [
        token.as_str(),
        "Zebedee",
        "Quartermaine",
        "zq@example.org",
        "zq%40example.org",
        "5550199887",
        "hopeless",
        "q9=2",
        "198.51.100.77",
    ] {
        assert!(!text.contains(secret), "the log contains {secret:?}");
    }
}

#[tokio::test]
async fn accounts_tokens_and_the_audit_check_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let db = fresh_database_url().await;
    let mut env: Vec<(&str, &str)> = Vec::new();
    if let Some(url) = &db {
        env.push(("DATABASE_URL", url));
    }
    let run = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_activepath"));
        cmd.args(args)
            .args(["--data-dir", data])
            .env_remove("DATABASE_URL")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let file = dir.path().join("pw");
    std::fs::write(&file, "lilac-otter-harbour-quietly\n").unwrap();
    let file = file.to_str().unwrap();
    let add = [
        "user",
        "add",
        "--email",
        "Admin@Riverbend.example",
        "--role",
        "admin",
        "--password-file",
        file,
    ];
    let (ok, out, err) = run(&add, "");
    assert!(ok, "{err}");
    assert!(
        out.contains("created the admin account admin@riverbend.example"),
        "{out}"
    );
    let (ok, _, err) = run(&add, "");
    assert!(!ok && err.contains("exists already"), "{err}");
    std::fs::write(dir.path().join("weak"), "password1234\n").unwrap();
    let weak = dir.path().join("weak");
    let (ok, _, err) = run(
        &[
            "user",
            "add",
            "--email",
            "b@riverbend.example",
            "--role",
            "clinician",
            "--password-file",
            weak.to_str().unwrap(),
        ],
        "",
    );
    assert!(!ok && err.contains("not strong enough"), "{err}");
    // Asked for twice when no file is given (here through a pipe).
    let (ok, _, err) = run(
        &[
            "user",
            "add",
            "--email",
            "c@riverbend.example",
            "--role",
            "coordinator",
        ],
        "velvet-ladder-orbit-meadow\nvelvet-ladder-orbit-meadow\n",
    );
    assert!(ok, "{err}");
    let (ok, _, err) = run(
        &[
            "user",
            "add",
            "--email",
            "d@riverbend.example",
            "--role",
            "coordinator",
        ],
        "velvet-ladder-orbit-meadow\nsomething else entirely\n",
    );
    assert!(!ok && err.contains("not the same"), "{err}");
    let (ok, out, err) = run(
        &[
            "user",
            "token",
            "--email",
            "c@riverbend.example",
            "--name",
            "EHR sync",
        ],
        "",
    );
    assert!(ok, "{err}");
    assert!(out.trim().starts_with("ap_") && err.contains("only time the token is shown"));
    let (ok, out, _) = run(&["audit", "verify"], "");
    assert!(
        ok && out.contains("the audit trail is intact: 3 entries"),
        "{out}"
    );

    // Someone edits the trail: the check fails and names the entry.
    let url = db
        .clone()
        .unwrap_or_else(|| format!("sqlite://{data}/activepath.db"));
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let second: i64 = sqlx::query_scalar("SELECT id FROM audit_log ORDER BY id LIMIT 1 OFFSET 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET action = 'view' WHERE id = $1")
        .bind(second)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (ok, _, err) = run(&["audit", "verify"], "");
    assert!(!ok, "a changed trail fails the check");
    assert!(
        err.contains(&format!(
            "audit entry {second}: its contents are not what was written"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn content_export_then_serve_from_the_folder_gives_the_same_site() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("our clinic");
    let arg = folder.to_str().unwrap();
    let done = activepath(&["content", "export", arg], &[]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let said = String::from_utf8_lossy(&done.stdout);
    assert!(
        said.contains("activepath --config") && said.contains("serve"),
        "{said}"
    );
    for file in [
        "activepath.toml",
        "pages/home.md",
        "pages/team.md",
        "posts/understanding-your-phq-9-score.md",
        "media/treatment-room.png",
        "media/SOURCES.md",
    ] {
        assert!(folder.join(file).is_file(), "{file}");
    }
    // A second export would overwrite the clinic's edits: refused, nothing written.
    std::fs::write(folder.join("pages/home.md"), "edited").unwrap();
    let again = activepath(&["content", "export", arg], &[]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already there"));
    assert_eq!(
        std::fs::read_to_string(folder.join("pages/home.md")).unwrap(),
        "edited"
    );
    std::fs::remove_dir_all(&folder).unwrap();
    assert!(
        activepath(&["content", "export", arg], &[])
            .status
            .success()
    );

    // Started from another folder: the configuration's paths are its own folder's.
    let config = folder.join("activepath.toml");
    let (mut child, base, log) = start_logged(
        &dir.path().join("data"),
        fresh_database_url().await.as_deref(),
        &[
            ("ACTIVEPATH_CONFIG", config.to_str().unwrap()),
            ("ACTIVEPATH_CLINIC__BASE_URL", BASE_URL),
        ],
        "cd /",
    );
    let built_in = spawn_app().await;
    let client = no_redirect_client();
    for path in [
        "/",
        "/tms",
        "/team",
        "/faq",
        "/insurance",
        "/contact",
        "/blog",
        "/blog/understanding-your-phq-9-score",
    ] {
        let exported = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(exported.status(), 200, "{path}: {}", log.text());
        let exported = exported.text().await.unwrap();
        let (_, original) = built_in.get_text(path).await;
        assert!(
            exported == original,
            "{path} differs from the built-in site"
        );
    }
    let (_, home) = built_in.get_text("/").await;
    let images = home
        .split(" src=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string());
    let files: Vec<String> = internal_links(&home)
        .into_iter()
        .chain(images)
        .filter(|l| l.starts_with("/media/") || l.starts_with("/static/"))
        .collect();
    assert!(files.iter().any(|f| f.starts_with("/media/")), "{files:?}");
    for link in &files {
        let res = client.get(format!("{base}{link}")).send().await.unwrap();
        assert_eq!(res.status(), 200, "{link}");
    }
    child.kill().ok();
    child.wait().ok();
}
