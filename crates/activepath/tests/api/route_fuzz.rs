//! Every route in the route table, with hostile values in every field its
//! handler reads: the server answers each quickly and never with a 5xx,
//! refuses out-of-range dates and numbers with a 4xx, and its memory stays
//! flat. The routes and their fields come from the route table
//! (`activepath::web::route_table`), the API's JSON bodies from the OpenAPI
//! document: a new route or field is attacked without being listed here.
//!
//! The server is the real binary in its own process, so a request that
//! loops forever fails this test by its time limit rather than hanging
//! the suite, and the memory measured is the server's alone.

use crate::helpers::*;
use crate::reliability::start_logged;
use activepath::web::routes::{Body, Field, Kind, Route};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

/// Values that no date field may accept.
const BAD_DATES: [&str; 6] = [
    "9999-12-31",
    "0001-01-01",
    "-999999",
    "9999-12-27T10:00",
    "-009999-01-01T00:00:00Z",
    "2026-02-30",
];
/// Values that no whole-number field may accept (they do not fit).
const BAD_NUMBERS: [&str; 2] = ["99999999999999999999", "-99999999999999999999"];

/// Hostile values for any field: they may be refused or (where they are
/// valid text) accepted, but never answered with a 5xx or slowly.
fn any_values() -> Vec<String> {
    vec![
        "x".repeat(20_000),
        "\u{200B}\u{202E}\u{FEFF}Ana\u{2066}".into(),
        "9999-12-31".into(),
        "-999999".into(),
        "9223372036854775807".into(),
        "99999999999999999999".into(),
        "0001-01-01T00:00".into(),
    ]
}

/// Each request must be answered within this, or the server is looping.
const HARD_LIMIT: Duration = Duration::from_secs(3);

/// The path of the link to confirm a booking in the e-mail the server
/// wrote to `folder` (`.eml` files, the text quoted-printable), once it is
/// there.
async fn confirm_link_in_folder(folder: &std::path::Path) -> String {
    for _ in 0..200 {
        for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
            let eml = std::fs::read_to_string(entry.path()).unwrap_or_default();
            // Soft line breaks undone; the token's alphabet needs no escapes.
            let text = eml.replace("=\r\n", "").replace("=\n", "");
            if let Some((_, rest)) = text.split_once("/book/confirm/") {
                let token: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
                    .collect();
                return format!("/book/confirm/{token}");
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no link to confirm the booking in {}", folder.display());
}

struct Server {
    child: std::process::Child,
    base: String,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

/// Who sends a request: nobody, a signed-in person, or an API token.
#[derive(Clone)]
enum Who {
    Anonymous,
    Session { cookie: String, csrf: String },
    Token(String),
}

struct Sent {
    status: u16,
    took: Duration,
    body: String,
}

async fn send(
    server: &Server,
    who: &Who,
    method: &str,
    path: &str,
    query: &[(String, String)],
    body: Option<RequestBody>,
) -> Sent {
    let mut url = format!("{}{path}", server.base);
    if !query.is_empty() {
        url.push('?');
        url.push_str(&serde_urlencoded::to_string(query).unwrap());
    }
    let mut req = match method {
        "GET" => server.client.get(&url),
        _ => server.client.post(&url),
    };
    match who {
        Who::Anonymous => {}
        Who::Session { cookie, .. } => {
            req = req.header("cookie", format!("activepath_staff={cookie}"));
        }
        Who::Token(t) => req = req.bearer_auth(t),
    }
    match body {
        None => {}
        Some(RequestBody::Form(pairs)) => {
            let mut pairs = pairs;
            if let Who::Session { csrf, .. } = who {
                pairs.push(("csrf".into(), csrf.clone()));
            }
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string(&pairs).unwrap());
        }
        Some(RequestBody::Json(v)) => {
            req = req
                .header("content-type", "application/json")
                .body(v.to_string());
        }
    }
    let started = Instant::now();
    let res = tokio::time::timeout(HARD_LIMIT, req.send())
        .await
        .unwrap_or_else(|_| panic!("{method} {path} {query:?}: no answer within {HARD_LIMIT:?}"))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let status = res.status().as_u16();
    let body = tokio::time::timeout(HARD_LIMIT, res.text())
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: body not finished within {HARD_LIMIT:?}"))
        .unwrap_or_default();
    Sent {
        status,
        took: started.elapsed(),
        body,
    }
}

enum RequestBody {
    Form(Vec<(String, String)>),
    Json(Value),
}

/// Runs the binary's command line against the server's data.
fn cli(data: &std::path::Path, db: Option<&str>, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_activepath"));
    cmd.args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("DATABASE_URL");
    if let Some(url) = db {
        cmd.env("DATABASE_URL", url);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

async fn sign_in(server: &Server, email: &str) -> Who {
    let res = server
        .client
        .post(format!("{}/staff/login", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([("email", email), ("password", crate::staff::PASSWORD)])
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| {
            v.to_str()
                .ok()?
                .strip_prefix("activepath_staff=")
                .map(|r| r.split(';').next().unwrap().to_string())
        })
        .expect("a session cookie");
    let page = server
        .client
        .get(format!("{}/staff/tokens", server.base))
        .header("cookie", format!("activepath_staff={cookie}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::staff::field_value(&page, "csrf").expect("a CSRF token");
    Who::Session { cookie, csrf }
}

/// Fields of the API's JSON bodies, from the OpenAPI document.
fn json_fields(doc: &Value, method: &str, path: &str) -> Option<Vec<Field>> {
    let op = &doc["paths"][path][method.to_lowercase()];
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    let schema = match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next()?],
        None => schema,
    };
    let props = schema["properties"].as_object()?;
    Some(
        props
            .iter()
            .map(|(name, p)| {
                let name: &'static str = Box::leak(name.clone().into_boxed_str());
                let types = p["type"].to_string();
                let kind = match p["format"].as_str() {
                    Some("date" | "date-time") => Kind::Date,
                    _ if types.contains("integer") => Kind::Integer,
                    _ if types.contains("boolean") => Kind::Bool,
                    _ => Kind::Text,
                };
                Field { name, kind }
            })
            .collect(),
    )
}

/// A value that lets a request get past the checks of other fields.
fn usual(name: &str, today: jiff::civil::Date, start: &str) -> String {
    match name {
        "type" | "appointment_type" => "initial-consultation".into(),
        "location" => "main".into(),
        "week" | "date" | "from" | "valid_from" | "start_date" => today.to_string(),
        "to" | "until" | "valid_to" => today.tomorrow().unwrap().to_string(),
        "start" => start.into(),
        "name" => "Fuzz Tester".into(),
        "email" => "fuzz@example.org".into(),
        "phone" => "+1 555 010 4477".into(),
        "consent" => "yes".into(),
        "date_of_birth" => "1980-01-01".into(),
        "protocol" => "10hz".into(),
        "sequence" | "version" => "0".into(),
        _ => String::new(),
    }
}

fn json_usual(field: &Field, today: jiff::civil::Date, start: &str) -> Value {
    let text = usual(field.name, today, start);
    match field.kind {
        Kind::Bool => json!(true),
        Kind::Integer => json!(text.parse::<i64>().unwrap_or(1)),
        _ => json!(text),
    }
}

/// Routes that end a session or undo the fixtures go last, sign-out last
/// of all, so the others meet a signed-in session and live records.
fn order(route: &Route) -> u8 {
    let p = route.path;
    if p.contains("sign-out") {
        3
    } else if [
        "cancel", "disable", "revoke", "dismiss", "status", "missed", "clear",
    ]
    .iter()
    .any(|w| p.contains(w))
    {
        2
    } else if route.method == "GET" {
        0
    } else {
        1
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_field_of_every_route_withstands_hostile_values() {
    // The table, from an app built in this process.
    let app = spawn_app().await;
    let mut table = activepath::web::route_table(&app.state);
    table.sort_by_key(order);
    let doc: Value = serde_json::from_str(activepath::web::openapi::document()).unwrap();
    let today = activepath::time::date_in(
        jiff::Timestamp::now(),
        app.state.config.clinic.time_zone.tz(),
    );

    // The server under attack: the binary, rate limits off so that every
    // request is judged on its content.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = fresh_database_url().await;
    let env = [
        ("ACTIVEPATH_RATE_LIMIT__ENABLED", "false"),
        ("ACTIVEPATH_STAFF__REQUIRE_SECOND_FACTOR", "false"),
        ("RUST_LOG", "warn"),
    ];
    std::fs::create_dir_all(&data).unwrap();
    let password = dir.path().join("pw");
    std::fs::write(&password, format!("{}\n", crate::staff::PASSWORD)).unwrap();
    let mut tokens = BTreeMap::new();
    for role in ["clinician", "admin", "coordinator"] {
        let email = format!("{role}@riverbend.example");
        cli(
            &data,
            db.as_deref(),
            &[
                "user",
                "add",
                "--email",
                &email,
                "--role",
                role,
                "--password-file",
                password.to_str().unwrap(),
            ],
        );
        let token = cli(
            &data,
            db.as_deref(),
            &["user", "token", "--email", &email, "--name", "fuzz"],
        );
        tokens.insert(role, token.trim().to_string());
    }
    let (child, base, log) = start_logged(&data, db.as_deref(), &env, "");
    let server = Server {
        child,
        base,
        client: no_redirect_client(),
        _dir: dir,
    };
    let sessions: Vec<Who> = {
        let mut v = Vec::new();
        for role in ["clinician", "admin", "coordinator"] {
            v.push(sign_in(&server, &format!("{role}@riverbend.example")).await);
        }
        v
    };
    let api_tokens: Vec<Who> = ["clinician", "admin", "coordinator"]
        .iter()
        .map(|r| Who::Token(tokens[r].clone()))
        .collect();

    // Records for the paths to name: a shared result (a case), a booking,
    // a patient with a course.
    let phq9 = send(
        &server,
        &Who::Anonymous,
        "POST",
        "/assessment/phq9",
        &[],
        Some(RequestBody::Form(
            phq9_form([1; 9], 1, "fuzz-nonce")
                .split('&')
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.to_string(), v.to_string())
                })
                .collect(),
        )),
    )
    .await;
    assert_eq!(phq9.status, 303);
    let result_path = server
        .client
        .post(format!("{}/assessment/phq9", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(phq9_form([1; 9], 1, "fuzz-nonce-2"))
        .send()
        .await
        .unwrap()
        .headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let result_token = result_path.rsplit('/').next().unwrap().to_string();
    let slots: Value = server
        .client
        .get(format!(
            "{}/api/v1/slots?appointment_type=initial-consultation&location=main&from={today}&to={}",
            server.base,
            today.checked_add(jiff::Span::new().days(20)).unwrap()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let free: Vec<String> = slots["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap().to_string())
        .collect();
    let booked: Value = server
        .client
        .post(format!("{}/api/v1/bookings", server.base))
        .header("content-type", "application/json")
        .body(
            json!({
                "appointment_type": "initial-consultation", "location": "main",
                "start": free[0], "name": "Zoë Example", "email": "zoe@example.com",
                "phone": "+1 555 010 4477", "consent": true
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(booked["status"], "held", "{booked}");
    let uid = booked["id"].as_str().unwrap().to_string();
    // Confirmed from the e-mail, as the person would: its link to confirm is
    // in the mail folder, then the booking's own page holds its manage token.
    let confirm = confirm_link_in_folder(&data.join("mail")).await;
    let confirmed = server
        .client
        .post(format!("{}{confirm}", server.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 303);
    let manage_token = confirmed.headers()["location"]
        .to_str()
        .unwrap()
        .trim_start_matches("/book/manage/")
        .trim_end_matches("?done=booked")
        .to_string();
    let clinician = &api_tokens[0];
    let patient = send(
        &server,
        clinician,
        "POST",
        "/api/v1/staff/patients",
        &[],
        Some(RequestBody::Json(
            json!({"name": "Pia Lund", "date_of_birth": "1980-01-01"}),
        )),
    )
    .await;
    let patient: Value = serde_json::from_str(&patient.body).unwrap();
    let course = send(
        &server,
        clinician,
        "POST",
        &format!("/api/v1/staff/patients/{}/courses", patient["id"]),
        &[],
        Some(RequestBody::Json(
            json!({"protocol": "10hz", "start_date": today.to_string()}),
        )),
    )
    .await;
    assert_eq!(course.status, 201, "{}", course.body);
    let course: Value = serde_json::from_str(&course.body).unwrap();
    let start = free[1].clone();

    let fill = |route: &Route| -> String {
        let mut path = route.path.to_string();
        // Accounts and tokens by an id nobody has: disabling or revoking
        // the fuzzer's own would end the run early.
        let id = if path.starts_with("/staff/accounts/") || path.starts_with("/staff/tokens/") {
            "999999".to_string()
        } else if path.contains("/courses/") && !path.contains("/patients/") {
            course["id"].to_string()
        } else if path.contains("/patients/") {
            patient["id"].to_string()
        } else {
            "1".to_string()
        };
        let token = if path.starts_with("/assessment/result/") {
            result_token.clone()
        } else if path.starts_with("/book/manage/") {
            manage_token.clone()
        } else {
            "a".repeat(43)
        };
        for (param, value) in [
            ("{id}", id.as_str()),
            ("{token}", token.as_str()),
            ("{uid}", uid.as_str()),
            ("{kind}", "initial-consultation"),
            ("{location}", "main"),
            ("{instrument}", "phq9"),
            ("{what}", "locations"),
            ("{hold}", "1"),
            ("{appointment}", "1"),
            ("{file}", "nothing.css"),
            ("{*rest}", "nothing"),
        ] {
            path = path.replace(param, value);
        }
        path
    };

    // Untyped forms are attacked with every field name the app knows of.
    let mut dictionary: BTreeSet<&'static str> = BTreeSet::new();
    for route in &table {
        dictionary.extend(route.reads.query.iter().map(|f| f.name));
        if let Body::Form(f) | Body::Json(f) = &route.reads.body {
            dictionary.extend(f.iter().map(|f| f.name));
        }
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post"] {
            if item.get(method).is_some()
                && let Some(fields) = json_fields(&doc, method, path)
            {
                dictionary.extend(fields.iter().map(|f| f.name));
            }
        }
    }

    let rss_before = server.rss_kib();
    let mut times = Vec::new();
    let mut failures = Vec::new();
    let mut requests = 0usize;
    for route in &table {
        let method = route.method.as_str();
        let path = fill(route);
        let api = route.path.starts_with("/api/");
        let staff = route.path.starts_with("/staff") || route.path.starts_with("/api/v1/staff");
        let json_body = if route.reads.body == Body::Untyped && api {
            json_fields(&doc, method, route.path)
        } else {
            None
        };
        let form_fields: Vec<Field> = match &route.reads.body {
            Body::Form(f) => f.clone(),
            Body::Untyped if !api => dictionary
                .iter()
                .map(|name| Field {
                    name,
                    kind: Kind::Other,
                })
                .collect(),
            _ => Vec::new(),
        };
        let usual_query: Vec<(String, String)> = route
            .reads
            .query
            .iter()
            .map(|f| (f.name.to_string(), usual(f.name, today, &start)))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        let usual_form = |fields: &[Field]| -> Vec<(String, String)> {
            fields
                .iter()
                .filter(|f| f.kind != Kind::Other)
                .map(|f| (f.name.to_string(), usual(f.name, today, &start)))
                .filter(|(_, v)| !v.is_empty())
                .collect()
        };
        let usual_json = |fields: &[Field]| -> Value {
            Value::Object(
                fields
                    .iter()
                    .map(|f| (f.name.to_string(), json_usual(f, today, &start)))
                    .collect(),
            )
        };
        let body_of = |replace: Option<(&Field, &str)>| -> Option<RequestBody> {
            if let Some(fields) = &json_body {
                let mut v = usual_json(fields);
                if let Some((f, value)) = replace {
                    v[f.name] = match f.kind {
                        Kind::Integer => value
                            .parse::<f64>()
                            .map_or_else(|_| json!(value), |n| json!(n)),
                        _ => json!(value),
                    };
                }
                return Some(RequestBody::Json(v));
            }
            if method == "GET" {
                return None;
            }
            let mut pairs = usual_form(&form_fields);
            if let Some((f, value)) = replace {
                pairs.retain(|(k, _)| k != f.name);
                pairs.push((f.name.to_string(), value.to_string()));
            }
            Some(RequestBody::Form(pairs))
        };
        // Whoever may use the route: the first identity not refused.
        let candidates: Vec<Who> = if !staff {
            vec![Who::Anonymous]
        } else if api {
            api_tokens.clone()
        } else {
            sessions.clone()
        };
        let mut who = candidates[0].clone();
        for c in &candidates {
            let s = send(&server, c, method, &path, &usual_query, body_of(None)).await;
            requests += 1;
            times.push(s.took);
            if s.status >= 500 {
                failures.push(format!("{method} {path} (usual values): {}", s.status));
            }
            if s.status != 403 {
                who = c.clone();
                break;
            }
        }
        // Every query field, then every body field, one at a time.
        let mut cases: Vec<(bool, Field)> = route
            .reads
            .query
            .iter()
            .map(|f| (true, f.clone()))
            .collect();
        cases.extend(
            json_body
                .clone()
                .unwrap_or_else(|| form_fields.clone())
                .into_iter()
                .map(|f| (false, f)),
        );
        for (in_query, field) in &cases {
            let strict: Vec<String> = match field.kind {
                Kind::Date => BAD_DATES.iter().map(|s| s.to_string()).collect(),
                Kind::Integer => BAD_NUMBERS.iter().map(|s| s.to_string()).collect(),
                _ => Vec::new(),
            };
            let loose = if field.kind == Kind::Other {
                vec![
                    "x".repeat(20_000),
                    "9999-12-31".into(),
                    "-99999999999999999999".into(),
                ]
            } else {
                any_values()
            };
            for (value, must_refuse) in strict
                .iter()
                .map(|v| (v.clone(), true))
                .chain(loose.into_iter().map(|v| (v, false)))
            {
                let (query, body) = if *in_query {
                    let mut q = usual_query.clone();
                    q.retain(|(k, _)| k != field.name);
                    q.push((field.name.to_string(), value.clone()));
                    (q, body_of(None))
                } else {
                    (usual_query.clone(), body_of(Some((field, &value))))
                };
                let s = send(&server, &who, method, &path, &query, body).await;
                requests += 1;
                times.push(s.took);
                let shown = format!("{method} {path} {}={:.24}", field.name, value);
                if s.status >= 500 {
                    failures.push(format!("{shown}: {} {:.200}", s.status, s.body));
                } else if must_refuse && !(400..500).contains(&s.status) {
                    failures.push(format!("{shown}: {} (a 4xx was due)", s.status));
                }
            }
        }
    }
    let rss_after = server.rss_kib();
    times.sort();
    let p99 = times[times.len() * 99 / 100];
    let slowest = *times.last().unwrap();
    eprintln!(
        "route fuzz: {requests} requests over {} routes; p99 {p99:?}, slowest {slowest:?}; \
         server memory {} MiB before, {} MiB after",
        table.len(),
        rss_before / 1024,
        rss_after / 1024
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}\nserver log:\n{}",
        failures.len(),
        failures.join("\n"),
        log.text()
    );
    assert!(
        p99 < Duration::from_millis(100),
        "99% of answers should take under 100 ms; the 99th took {p99:?}"
    );
    assert!(
        rss_after < rss_before + 64 * 1024,
        "the server's memory grew from {rss_before} KiB to {rss_after} KiB"
    );
    // Still up.
    let up = send(&server, &Who::Anonymous, "GET", "/healthz", &[], None).await;
    assert_eq!(up.status, 200);
}
