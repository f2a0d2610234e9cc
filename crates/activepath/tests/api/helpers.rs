use activepath::app::{AppState, Application};
use activepath::config::{BaseUrl, Config, Overrides};
use activepath::mail::{Envelope, Transport};
use activepath::time::Clock;
use secrecy::SecretString;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    /// The app's clock: starts at the real time, moves only when a test says.
    pub clock: Clock,
    pub mail: Arc<Mutex<Vec<Envelope>>>,
    pub _dir: tempfile::TempDir,
}

/// The database for one test: `None` means a SQLite file in the data dir.
pub async fn fresh_database_url() -> Option<String> {
    let base = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))?;
    let name = format!(
        "ap_test_{}",
        activepath::crypto::random_id()
            .to_lowercase()
            .replace(['-', '_'], "x")
    );
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(&base)
        .await
        .expect("TEST_DATABASE_URL reachable");
    // The name is made of [a-z0-9x] only.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    admin.close().await.ok();
    let (prefix, _) = base.rsplit_once('/').expect("URL has a database name");
    Some(format!("{prefix}/{name}"))
}

/// Links in the API, feeds and mail use this base URL in tests.
pub const BASE_URL: &str = "http://127.0.0.1:1";

pub fn test_config(data_dir: &Path, database_url: Option<String>) -> Config {
    let overrides = Overrides {
        bind: Some("127.0.0.1:0".parse().unwrap()),
        data_dir: Some(data_dir.to_path_buf()),
    };
    let mut config = Config::load(Path::new("/nonexistent/activepath.toml"), &overrides).unwrap();
    config.database_url = Some(SecretString::from(database_url.unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("activepath.db").display()
        )
    })));
    config.clinic.base_url = BaseUrl::parse(BASE_URL).unwrap();
    config
}

/// Test output is quiet unless `TEST_LOG` is set (then `RUST_LOG` filters it).
pub fn init_test_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .init();
        }
    });
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns the app after `adjust` has changed its configuration.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    init_test_log();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), fresh_database_url().await);
    adjust(&mut config);
    let (transport, mail) = Transport::memory();
    let clock = Clock::manual(jiff::Timestamp::now());
    let app = Application::build_with(config, Some(transport), clock.clone())
        .await
        .expect("app builds");
    let base = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    tokio::spawn(app.run_until(std::future::pending()));
    let client = no_redirect_client();
    TestApp {
        base,
        client,
        state,
        clock,
        mail,
        _dir: dir,
    }
}

/// The app without its background work: it answers requests, but mail
/// stays queued until the test delivers it with [`TestApp::deliver_mail`],
/// so a test can look at the database with mail still waiting.
pub async fn spawn_app_holding_mail(adjust: impl FnOnce(&mut Config)) -> TestApp {
    use activepath::web::server::{Limits, connection_cap, serve};
    init_test_log();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), fresh_database_url().await);
    adjust(&mut config);
    let mail = Arc::new(Mutex::new(Vec::new()));
    let clock = Clock::manual(jiff::Timestamp::now());
    let app = Application::build_with(config, Some(Transport::Memory(mail.clone())), clock.clone())
        .await
        .expect("app builds");
    let state = app.state().clone();
    // Served on a listener of its own, without `run_until`'s workers.
    drop(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = &state.config.server;
    let limits = Limits {
        header_read_timeout: server.header_read_timeout,
        keep_alive_timeout: server.keep_alive_timeout,
        max_connections: connection_cap(server.max_connections),
        shutdown_grace: server.request_timeout,
    };
    tokio::spawn(serve(
        listener,
        activepath::web::HttpService::new(state.clone()),
        limits,
        std::future::pending(),
    ));
    TestApp {
        base,
        client: no_redirect_client(),
        state,
        clock,
        mail,
        _dir: dir,
    }
}

impl TestApp {
    /// Delivers the mail due at the test clock's time to `self.mail`, as the
    /// outbox worker does (for an app from [`spawn_app_holding_mail`]).
    /// Returns how many messages went.
    pub async fn deliver_mail(&self) -> usize {
        activepath::jobs::OutboxWorker {
            storage: self.state.storage.clone(),
            transport: Transport::Memory(self.mail.clone()),
            from: self.state.config.mail.from.clone(),
            cipher: self.state.cipher.clone(),
        }
        .run_once(self.clock.now())
        .await
        .expect("the outbox worker runs")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let res = self.get(path).await;
        (res.status().as_u16(), res.text().await.unwrap())
    }

    pub async fn post_form(&self, path: &str, body: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, body: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/assessments"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// `POST /api/v1/assessments` with an `Idempotency-Key`.
    pub async fn post_json_with_key(&self, key: &str, body: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/assessments"))
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// Submits a PHQ-9 through the form and returns the result path.
    pub async fn submit_phq9(&self, answers: [u8; 9], difficulty: u8) -> String {
        let body = phq9_form(answers, difficulty, &activepath::crypto::random_id());
        let res = self.post_form("/assessment/phq9", &body).await;
        assert_eq!(res.status(), 303);
        location(&res)
    }

    pub async fn counts(&self) -> activepath::storage::Counts {
        self.state.storage.counts().await.unwrap()
    }
}

/// The PHQ-9 form as a browser posts it, with its submission nonce.
pub fn phq9_form(answers: [u8; 9], difficulty: u8, nonce: &str) -> String {
    let mut body: Vec<String> = answers
        .iter()
        .enumerate()
        .map(|(i, a)| format!("q{}={a}", i + 1))
        .collect();
    body.push(format!("difficulty={difficulty}"));
    body.push(format!("submission={nonce}"));
    body.join("&")
}

/// A client that shows redirects instead of following them.
pub fn no_redirect_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_string()
}

/// The crisis links every page must carry.
pub fn assert_crisis_footer(html: &str) {
    for link in [
        "href=\"tel:988\"",
        "href=\"sms:988\"",
        "href=\"sms:741741?&amp;body=HOME\"",
        "href=\"tel:911\"",
    ] {
        assert!(html.contains(link), "missing crisis link {link}");
    }
}

/// Writes a content folder: a home page plus the given posts
/// (slug, date, draft, tags).
pub fn write_content(dir: &Path, posts: &[(&str, &str, bool, &[&str])]) {
    std::fs::create_dir_all(dir.join("pages")).unwrap();
    std::fs::create_dir_all(dir.join("posts")).unwrap();
    std::fs::write(
        dir.join("pages/home.md"),
        "+++\ntitle = \"Test home\"\nslug = \"home\"\nsummary = \"Home summary\"\ndate = 2026-01-01\n+++\n\n## Hello\n",
    )
    .unwrap();
    for (slug, date, draft, tags) in posts {
        let tags: Vec<String> = tags.iter().map(|t| format!("{t:?}")).collect();
        std::fs::write(
            dir.join(format!("posts/{slug}.md")),
            format!(
                "+++\ntitle = \"Post {slug}\"\nslug = \"{slug}\"\nsummary = \"About {slug}\"\ndate = {date}\ndraft = {draft}\ntags = [{}]\n+++\n\nBody of {slug}.\n",
                tags.join(", ")
            ),
        )
        .unwrap();
    }
}

/// Internal links (`href="/…"`) in a page, without fragments.
pub fn internal_links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|href| href.starts_with('/') && !href.starts_with("//"))
        .map(|href| href.split('#').next().unwrap().replace("&amp;", "&"))
        .collect()
}

/// The e-mails sent to `to` so far.
pub fn mails_to(app: &TestApp, to: &str) -> Vec<activepath::mail::Envelope> {
    app.mail
        .lock()
        .unwrap()
        .iter()
        .filter(|m| m.to == to)
        .cloned()
        .collect()
}

/// The current code of an authenticator app holding `secret`, at the app's
/// clock. Moves the clock on a step first, since a code works once.
pub fn next_code(app: &TestApp, secret: &[u8]) -> String {
    app.clock.advance(jiff::SignedDuration::from_secs(30));
    activepath::staff::totp::code_at(secret, app.clock.now().as_second() as u64)
}

/// The path of the first link to `prefix` in the newest e-mail to `to`.
pub async fn link_in_mail(app: &TestApp, to: &str, prefix: &str) -> String {
    for _ in 0..200 {
        if let Some(m) = app.mail.lock().unwrap().iter().rev().find(|m| m.to == to) {
            return link_in(&m.text, prefix).expect("a link");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no mail to {to}");
}

/// The path of the link to `prefix` in the `n`-th e-mail (from 1) to `to`
/// that has one, once it has been delivered.
pub async fn nth_link_in_mail(app: &TestApp, to: &str, prefix: &str, n: usize) -> String {
    for _ in 0..200 {
        let links: Vec<String> = mails_to(app, to)
            .iter()
            .filter_map(|m| link_in(&m.text, prefix))
            .collect();
        if let Some(link) = links.get(n - 1) {
            return link.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no {n}th mail to {to} with a link to {prefix}");
}

/// The path of the first link to `prefix` in a message's text.
fn link_in(text: &str, prefix: &str) -> Option<String> {
    let at = text.find(&format!("{BASE_URL}{prefix}"))?;
    let link = &text[at + BASE_URL.len()..];
    Some(link[..link.find(char::is_whitespace).unwrap_or(link.len())].to_string())
}

/// Waits until `n` e-mails to `to` whose subject contains `subject` have
/// been delivered, and returns them.
pub async fn wait_for_mail_to(
    app: &TestApp,
    to: &str,
    subject: &str,
    n: usize,
) -> Vec<activepath::mail::Envelope> {
    for _ in 0..200 {
        let found: Vec<_> = mails_to(app, to)
            .into_iter()
            .filter(|m| m.subject.contains(subject))
            .collect();
        if found.len() >= n {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no {n} mails to {to} about {subject:?}");
}

/// Waits until the app has handed `n` messages to its (memory) transport.
/// Every link to this app in the mail delivered so far: (recipient, path).
pub fn links_in_mail(app: &TestApp) -> Vec<(String, String)> {
    let mut links = Vec::new();
    for m in app.mail.lock().unwrap().iter() {
        let ics = m.calendar.as_ref().map(|c| c.ics.as_str()).unwrap_or("");
        for text in [m.text.as_str(), m.html.as_str(), ics] {
            for part in text.split(BASE_URL).skip(1) {
                let end = part
                    .find(|c: char| c.is_whitespace() || matches!(c, '"' | '<' | '\\'))
                    .unwrap_or(part.len());
                links.push((m.to.clone(), part[..end].to_string()));
            }
        }
    }
    links
}

/// The newest link to confirm a booking e-mailed to `to`: the mail due is
/// delivered (as the outbox worker would, which may also be running) until
/// it is there.
pub async fn confirm_link(app: &TestApp, to: &str) -> String {
    for _ in 0..100 {
        app.deliver_mail().await;
        let newest = links_in_mail(app)
            .into_iter()
            .filter(|(t, path)| t == to && path.starts_with("/book/confirm/"))
            .map(|(_, path)| path)
            .next_back();
        if let Some(link) = newest {
            return link;
        }
        // Claimed by the app's own worker, on its way to the memory transport.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no link to confirm a booking reached {to}");
}

/// Confirms the newest booking held for `to` as the person would: opens
/// the link e-mailed to them and presses its button. Returns the booking's
/// own page (its manage path, ending `?done=booked`).
pub async fn confirm_booking(app: &TestApp, to: &str) -> String {
    let link = confirm_link(app, to).await;
    let (status, page) = app.get_text(&link).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Yes, confirm my booking"), "{page}");
    let res = app.post_form(&link, "").await;
    assert_eq!(res.status(), 303);
    let manage = location(&res);
    assert!(
        manage.starts_with("/book/manage/") && manage.ends_with("?done=booked"),
        "{manage}"
    );
    manage
}

pub async fn wait_for_mail(app: &TestApp, n: usize) {
    for _ in 0..100 {
        if app.mail.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "mail did not arrive: {} of {n}",
        app.mail.lock().unwrap().len()
    );
}

/// A connection of the test's own to the app's database, for looking at
/// and tampering with what is stored.
pub async fn raw(app: &TestApp) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&app.state.config.database_url())
        .await
        .unwrap()
}

/// A second app instance on `app`'s database and key, as a second server
/// behind a load balancer would be.
pub async fn second_instance(app: &TestApp, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let url = app.state.config.database_url();
    let key_file = app.state.config.key_file();
    spawn_app_with(move |c| {
        c.database_url = Some(url.into());
        c.encryption_key_file = Some(key_file);
        adjust(c);
    })
    .await
}

/// Whether a result page shows the score `total` of `max`, once: the big
/// number, then "out of max".
pub fn shows_score(html: &str, total: u32, max: u32) -> bool {
    html.contains(&format!(
        "<span class=\"big-number\">{total}</span> <span>out of {max}</span>"
    ))
}

/// A patient page's own words (its `<main>`, without what is reproduced
/// verbatim) read at US grade 8 or below, with no sentence over 25 words.
/// The header and footer are the same on every page; their messages are
/// measured on their own.
pub fn assert_reads_plainly(what: &str, html: &str) {
    use activepath::content::readability::{Counts, html_blocks};
    let at = html
        .find("<main")
        .unwrap_or_else(|| panic!("{what}: no <main>"));
    let main = &html[at..at + html[at..].find("</main>").unwrap()];
    let blocks = html_blocks(main);
    let counts = Counts::of_blocks(blocks.iter().map(String::as_str));
    assert!(
        counts.grade() <= 8.0 && counts.longest <= 25,
        "{what}: grade {:.1}, longest sentence {} words ({counts:?})",
        counts.grade(),
        counts.longest
    );
}

/// Every byte the app's database holds, as a copy of it would show them,
/// lower-cased for searching in any case: on SQLite the database file
/// after a checkpoint and its write-ahead log (old versions of pages
/// included); on PostgreSQL every column of every table, `bytea` as its
/// bytes and everything else as text.
pub async fn everything_stored(app: &TestApp) -> String {
    use sqlx::Row;
    // The site's counts too, which the app stores now and then.
    activepath::figures::flush(&app.state).await;
    let url = app.state.config.database_url();
    let mut bytes = Vec::new();
    if let Some(rest) = url.strip_prefix("sqlite://") {
        let db = raw(app).await;
        sqlx::raw_sql("PRAGMA busy_timeout = 5000; PRAGMA wal_checkpoint(FULL);")
            .execute(&db)
            .await
            .unwrap();
        db.close().await;
        let path = rest.split('?').next().unwrap();
        bytes.extend(std::fs::read(path).unwrap());
        if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
            bytes.extend(wal);
        }
    } else {
        let db = raw(app).await;
        let columns = sqlx::query(
            "SELECT CAST(c.table_name AS TEXT) AS table_name, \
                    CAST(c.column_name AS TEXT) AS column_name, \
                    CAST(c.data_type AS TEXT) AS data_type \
             FROM information_schema.columns c \
             JOIN information_schema.tables t \
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'",
        )
        .fetch_all(&db)
        .await
        .unwrap();
        assert!(columns.len() > 50, "every table's columns are read");
        for c in columns {
            let (table, column, kind): (String, String, String) = (
                c.get("table_name"),
                c.get("column_name"),
                c.get("data_type"),
            );
            // Names from the catalogue, quoted.
            let select = if kind == "bytea" {
                format!("SELECT \"{column}\" AS v FROM \"{table}\"")
            } else {
                format!("SELECT CAST(\"{column}\" AS TEXT) AS v FROM \"{table}\"")
            };
            for row in sqlx::query(sqlx::AssertSqlSafe(select))
                .fetch_all(&db)
                .await
                .unwrap()
            {
                let value: Option<Vec<u8>> = if kind == "bytea" {
                    row.get("v")
                } else {
                    row.get::<Option<String>, _>("v").map(String::into_bytes)
                };
                bytes.extend(value.unwrap_or_default());
                bytes.push(b'\n');
            }
        }
        db.close().await;
    }
    String::from_utf8_lossy(&bytes).to_lowercase()
}

/// Makes the course at `course_path` (`/api/v1/staff/courses/{id}`) ready
/// for sessions as issue 19 requires before any session: consent recorded,
/// the pre-TMS safety screen signed (every answer "no") and a physician's
/// order signed by the clinician whose API token is `clinician`. The order
/// is broad (the clinic's ceiling of 120% MT, 10,000 pulses, 10 sessions a
/// day, no spacing, the course's planned number) so tests written before
/// orders existed give their sessions as before; tests of the dose checks
/// sign their own.
pub async fn ready_course_for_sessions(app: &TestApp, clinician: &str, course_path: &str) {
    let post = |what: &str, body: serde_json::Value| {
        app.client
            .post(app.url(&format!("{course_path}/{what}")))
            .bearer_auth(clinician)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let today = activepath::time::date_in(app.clock.now(), app.state.config.clinic.time_zone.tz());
    let res = post(
        "consent",
        serde_json::json!({"consented_at": today.to_string(), "consent_version": "TMS consent v1"}),
    )
    .await
    .unwrap();
    assert_eq!(
        res.status().as_u16(),
        201,
        "consent: {}",
        res.text().await.unwrap()
    );
    let no = false;
    let res = post(
        "safety-screen",
        serde_json::json!({"answers": {
            "seizures": no, "metal_in_head": no, "implanted_devices": no, "head_injury": no,
            "brain_surgery": no, "pregnancy": no, "previous_tms_problems": no, "bipolar": no,
        }}),
    )
    .await
    .unwrap();
    assert_eq!(
        res.status().as_u16(),
        201,
        "screen: {}",
        res.text().await.unwrap()
    );
    let course: serde_json::Value = app
        .client
        .get(app.url(course_path))
        .bearer_auth(clinician)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = post(
        "order",
        serde_json::json!({
            "intensity_percent_mt": app.state.config.tms.max_intensity_percent_mt,
            "pulses": 10_000,
            "sessions_per_day": 10,
            "min_spacing_minutes": 0,
            "planned_sessions": course["planned_sessions"],
            "target": course["target"].as_str().unwrap_or("left-dlpfc"),
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        res.status().as_u16(),
        201,
        "order: {}",
        res.text().await.unwrap()
    );
}
