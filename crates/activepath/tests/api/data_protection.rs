//! What a stolen or edited database, a shared machine and a log file can
//! give away, and the upgrade of rows written before these protections.

use crate::helpers::*;
use crate::reliability::start_logged;
use activepath::assessment::{answers_aad, share::contact_of};
use activepath::crypto::{
    Aad, FieldCipher, MasterKey, Purpose, legacy_token_hash, random_id, submission_digest,
};
use activepath::storage::Storage;
use sqlx::Row;
use std::time::Duration;

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const ANSWERS: [u8; 9] = [2, 2, 2, 2, 1, 1, 1, 0, 1];

/// The digest of a submission as the code before keyed lookups stored it
/// (and as anyone can compute it who guesses the answers).
fn unkeyed_digest(source: &str, nonce: &str, answers: &[u8], difficulty: u8) -> String {
    submission_digest(&[
        source.as_bytes(),
        nonce.as_bytes(),
        b"phq9/en-US/1",
        answers,
        &[difficulty],
        &[1],
    ])
}

#[tokio::test]
async fn stored_lookup_values_cannot_be_recomputed_without_the_key() {
    let app = spawn_app().await;
    let nonce = "DDDDDDDDDDDDDDDDDDDDDD";
    let res = app
        .post_form("/assessment/phq9", &phq9_form(ANSWERS, 2, nonce))
        .await;
    let token = location(&res).rsplit('/').next().unwrap().to_string();
    let key = random_id();
    let body = format!(r#"{{"instrument":"phq9","answers":{ANSWERS:?},"difficulty":2}}"#);
    assert_eq!(app.post_json_with_key(&key, &body).await.status(), 201);

    let db = raw(&app).await;
    let rows = sqlx::query("SELECT submission_key, token_hash FROM assessment_results")
        .fetch_all(&db)
        .await
        .unwrap();
    let stored: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.get("submission_key"), r.get("token_hash")))
        .collect();
    // Someone with a copy of the database who guesses the answers (and
    // knows the form's nonce or the API key) finds no match.
    let guesses = [
        unkeyed_digest("web", nonce, &ANSWERS, 2),
        unkeyed_digest("api", &key, &ANSWERS, 2),
        legacy_token_hash(&token),
    ];
    for (submission_key, token_hash) in &stored {
        for guess in &guesses {
            assert_ne!(submission_key, guess);
            assert_ne!(token_hash, guess);
        }
    }
    // What is stored is the keyed digest.
    let web = unkeyed_digest("web", nonce, &ANSWERS, 2);
    assert!(
        stored.contains(&(
            app.state
                .cipher
                .digest(Purpose::SubmissionKey, &[web.as_bytes()]),
            app.state.cipher.token_hash(&token)
        ))
    );
    let key_hash: String = sqlx::query("SELECT key_hash FROM api_idempotency")
        .fetch_one(&db)
        .await
        .unwrap()
        .get("key_hash");
    assert_ne!(key_hash, sha256_hex(key.as_bytes()));
    assert_eq!(
        key_hash,
        app.state
            .cipher
            .digest(Purpose::IdempotencyKey, &[key.as_bytes()])
    );
}

/// Reads (id, answers) of every result, oldest first.
async fn answers_by_id(db: &sqlx::AnyPool) -> Vec<(i64, Vec<u8>)> {
    sqlx::query("SELECT id, answers FROM assessment_results ORDER BY id")
        .fetch_all(db)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("id"), r.get("answers")))
        .collect()
}

#[tokio::test]
async fn answers_moved_to_another_row_are_refused_not_shown() {
    let app = spawn_app().await;
    let calm = app.submit_phq9([0; 9], 0).await;
    let severe = app.submit_phq9([3, 3, 3, 3, 3, 3, 3, 3, 0], 3).await;
    let db = raw(&app).await;
    let rows = answers_by_id(&db).await;
    // Someone with write access swaps the two people's sealed answers.
    for ((id, _), (_, other)) in rows.iter().zip(rows.iter().rev()) {
        sqlx::query("UPDATE assessment_results SET answers = $1 WHERE id = $2")
            .bind(other.clone())
            .bind(*id)
            .execute(&db)
            .await
            .unwrap();
    }
    for path in [&calm, &severe] {
        let (status, html) = app.get_text(path).await;
        assert_eq!(status, 500, "{path}");
        assert!(html.contains("We cannot show this result"));
        assert!(!html.contains("Nearly every day") && !html.contains("Not at all"));
        assert!(!html.contains("out of 27"));
        assert_crisis_footer(&html);
    }
    // Put back, they read again.
    for (id, answers) in &rows {
        sqlx::query("UPDATE assessment_results SET answers = $1 WHERE id = $2")
            .bind(answers.clone())
            .bind(*id)
            .execute(&db)
            .await
            .unwrap();
    }
    assert_eq!(app.get(&calm).await.status(), 200);
    // A score changed beside its answers is refused too.
    sqlx::query("UPDATE assessment_results SET total = 3, severity = 'none-minimal' WHERE id = $1")
        .bind(rows[1].0)
        .execute(&db)
        .await
        .unwrap();
    let (status, html) = app.get_text(&severe).await;
    assert_eq!(status, 500);
    assert!(!html.contains("3 out of 27"));
    // Nor does the form to send it to the clinic.
    let (status, _) = app.get_text(&format!("{severe}/share")).await;
    assert_eq!(status, 500);
}

#[tokio::test]
async fn contact_details_moved_to_another_case_do_not_open() {
    let app = spawn_app().await;
    let share =
        "name=Ana+Rivera&email=ana%40example.org&contact_method=email&contact_time=any&consent=yes";
    let other =
        "name=Ben+Okafor&phone=5550100123&contact_method=phone&contact_time=any&consent=yes";
    let a = app.submit_phq9([1; 9], 1).await;
    let b = app.submit_phq9([2; 9], 2).await;
    assert_eq!(
        app.post_form(&format!("{a}/share"), share).await.status(),
        303
    );
    assert_eq!(
        app.post_form(&format!("{b}/share"), other).await.status(),
        303
    );
    let db = raw(&app).await;
    let cases: Vec<(i64, i64, Vec<u8>)> =
        sqlx::query("SELECT id, result_id, contact FROM triage_cases ORDER BY id")
            .fetch_all(&db)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("id"), r.get("result_id"), r.get("contact")))
            .collect();
    assert_eq!(
        contact_of(&app.state, cases[0].1)
            .await
            .unwrap()
            .unwrap()
            .name,
        "Ana Rivera"
    );
    sqlx::query("UPDATE triage_cases SET contact = $1 WHERE id = $2")
        .bind(cases[1].2.clone())
        .bind(cases[0].0)
        .execute(&db)
        .await
        .unwrap();
    assert!(
        contact_of(&app.state, cases[0].1).await.is_err(),
        "Ben's details never show as Ana's"
    );
}

#[tokio::test]
async fn rows_written_before_the_upgrade_are_rekeyed_and_still_open() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url()
        .await
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display()));
    let key_b64 = {
        use base64::Engine;
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).unwrap();
        base64::engine::general_purpose::STANDARD.encode(key)
    };
    let cipher = FieldCipher::new(&MasterKey::from_base64(&key_b64).unwrap());

    // A database as the previous version left it.
    let storage = Storage::connect(&url).await.unwrap();
    storage.migrate_to(1).await.unwrap();
    storage.close().await;
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&url).await.unwrap();
    let nonce = "CCCCCCCCCCCCCCCCCCCCCC";
    let digest = unkeyed_digest("web", nonce, &ANSWERS, 2);
    let token = cipher.result_token(&digest);
    let now = activepath::time::Clock::System.now().as_millisecond();
    sqlx::query("INSERT INTO key_check (id, sealed) VALUES (1, $1)")
        .bind(cipher.encrypt(&Aad::context("key_check"), b"activepath key check v1"))
        .execute(&db)
        .await
        .unwrap();
    let result_id: i64 = sqlx::query(
        "INSERT INTO assessment_results (token_hash, submission_key, instrument, instrument_version, \
         answers, total, severity, self_harm_flag, source, created_at, expires_at) \
         VALUES ($1, $2, 'phq9', 'phq9/en-US/1', $3, 12, 'moderate', 1, 'web', $4, $5) RETURNING id",
    )
    .bind(legacy_token_hash(&token))
    .bind(digest.clone())
    .bind(cipher.encrypt(
        &Aad::context("assessment_results.answers"),
        format!(r#"{{"answers":{ANSWERS:?},"difficulty":2}}"#).as_bytes(),
    ))
    .bind(now)
    .bind(now + 30 * 86_400_000)
    .fetch_one(&db)
    .await
    .unwrap()
    .get("id");
    sqlx::query(
        "INSERT INTO triage_cases (result_id, priority, contact, consent_version, created_at) \
         VALUES ($1, 'urgent', $2, 'share-consent/en-US/1', $3)",
    )
    .bind(result_id)
    .bind(cipher.encrypt(
        &Aad::context("triage_cases.contact"),
        br#"{"name":"Cleo Old","email":"cleo@example.org","phone":null,"contact_method":"email","contact_time":"any","message":null}"#,
    ))
    .bind(now)
    .execute(&db)
    .await
    .unwrap();
    db.close().await;

    // The new version starts on it with the same key.
    let (url2, key2) = (url.clone(), key_b64.clone());
    let app = spawn_app_with(move |c| {
        c.database_url = Some(url2.into());
        c.encryption_key = Some(key2.into());
    })
    .await;
    let path = format!("/assessment/result/{token}");
    let (status, html) = app.get_text(&path).await;
    assert_eq!(status, 200, "the link in the person's hands still opens");
    assert!(shows_score(&html, 12, 27));
    assert!(html.contains("Your safety matters most"));
    // The same form posted again finds the same result.
    let again = app
        .post_form("/assessment/phq9", &phq9_form(ANSWERS, 2, nonce))
        .await;
    assert_eq!(location(&again), path);
    assert_eq!(app.counts().await.results, 1);
    let contact = contact_of(&app.state, result_id).await.unwrap().unwrap();
    assert_eq!(contact.name, "Cleo Old");
    // Nothing bare or unbound is left.
    let db = raw(&app).await;
    let row = sqlx::query("SELECT submission_key, token_hash, answers FROM assessment_results")
        .fetch_one(&db)
        .await
        .unwrap();
    let (submission_key, token_hash): (String, String) =
        (row.get("submission_key"), row.get("token_hash"));
    assert_eq!(
        submission_key,
        cipher.digest(Purpose::SubmissionKey, &[digest.as_bytes()])
    );
    assert_eq!(token_hash, cipher.token_hash(&token));
    let answers: Vec<u8> = row.get("answers");
    assert!(cipher.decrypt(&answers_aad(&token_hash), &answers).is_ok());
    assert!(
        cipher
            .decrypt(&Aad::context("assessment_results.answers"), &answers)
            .is_err()
    );
    let runs: i64 = sqlx::query("SELECT COUNT(*) AS n FROM data_migrations WHERE name = $1")
        .bind(activepath::assessment::upgrade::NAME)
        .fetch_one(&db)
        .await
        .unwrap()
        .get("n");
    assert_eq!(runs, 1);
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_folder_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, base, _log) = start_logged(
        &data,
        fresh_database_url().await.as_deref(),
        &[],
        "umask 022",
    );
    let client = no_redirect_client();
    let res = client
        .post(format!("{base}/assessment/phq9"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(phq9_form(ANSWERS, 2, "EEEEEEEEEEEEEEEEEEEEEE"))
        .send()
        .await
        .unwrap();
    let path = res.headers()["location"].to_str().unwrap().to_string();
    let share =
        "name=Ana&email=ana%40example.org&contact_method=email&contact_time=any&consent=yes";
    client
        .post(format!("{base}{path}/share"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(share)
        .send()
        .await
        .unwrap();
    let mail = data.join("mail");
    for _ in 0..100 {
        if std::fs::read_dir(&mail).is_ok_and(|d| d.count() > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&mail), 0o700);
    let mut files = 0;
    for folder in [&data, &mail] {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
                files += 1;
            }
        }
    }
    // The key and the mail; on SQLite also the database, its WAL and
    // shared-memory files.
    let expected = if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        2
    } else {
        5
    };
    assert!(files >= expected, "{files} files");
    child.kill().ok();
    child.wait().ok();
}

#[test]
fn database_passwords_never_reach_the_log_or_errors() {
    let dir = tempfile::tempdir().unwrap();
    // A password with '@' typed unencoded, and another in the query string.
    let url = "postgres://ap:p%40ss@word@127.0.0.1:1/clinic?sslmode=disable&password=hunter22";
    let data = dir.path().join("data");
    for args in [
        &["serve", "--bind", "127.0.0.1:0"][..],
        &["migrate"][..],
        &["check-config"][..],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_activepath"))
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .env("DATABASE_URL", url)
            .env("RUST_LOG", "trace")
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for secret in ["p@ss", "p%40ss", "word@", "hunter22"] {
            assert!(!all.contains(secret), "{args:?} printed {secret:?}:\n{all}");
        }
        assert!(all.contains("ap:***@127.0.0.1"), "{args:?}: {all}");
        if args[0] != "check-config" {
            assert!(!out.status.success(), "{args:?} cannot connect");
        }
    }
}
