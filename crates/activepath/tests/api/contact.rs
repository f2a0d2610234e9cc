//! The contact form and call-back requests: each becomes a case in the
//! staff queue, sealed, with a notification that names no one; bookings
//! join the queue too.

use crate::helpers::*;
use crate::staff::{Browser, PASSWORD, add_staff};
use activepath::staff::Role;
use serde_json::Value;
use sqlx::Row;

async fn coordinator(app: &TestApp) -> Browser<'_> {
    add_staff(app, "desk@riverbend.example", Role::Coordinator).await;
    let mut b = Browser::new(app);
    b.post(
        "/staff/login",
        &[("email", "desk@riverbend.example"), ("password", PASSWORD)],
    )
    .await;
    b
}

#[tokio::test]
async fn a_message_and_a_call_back_request_reach_the_queue_and_name_no_one_in_mail() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    for path in ["/contact/message", "/book/callback"] {
        let (status, page) = app.get_text(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(page.contains("tel:988"), "crisis help beside the form");
    }
    // Mistakes: each explained, the rest kept, nothing stored.
    let res = app
        .post_form(
            "/contact/message",
            "name=Ana&email=&phone=&contact_method=email&message=&consent=",
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("Please write your message."));
    assert!(body.contains("Please give an e-mail address or a phone number"));
    assert!(body.contains("Please tick the box"));
    assert!(body.contains("value=\"Ana\""));
    let res = app
        .post_form(
            "/book/callback",
            "name=Ana&phone=&contact_time=any&days=monday&consent=yes",
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("Please give a phone number for us to call"));
    assert!(body.contains("value=\"monday\" checked"));
    assert_eq!(app.counts().await.triage_cases, 0);

    let res = app
        .post_form(
            "/contact/message",
            "name=Ana+Rivera&email=ana%40example.org&phone=&contact_method=email&message=Do+you+take+Medicare%3F&consent=yes",
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/contact/sent?kind=message");
    let res = app
        .post_form(
            "/book/callback",
            "name=Ben+Okafor&phone=555+010+7788&email=&contact_time=evening&days=tuesday&days=thursday&message=&consent=yes",
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, sent) = app.get_text(&location(&res)).await;
    assert!(sent.contains("We will call you"));
    assert_eq!(app.counts().await.triage_cases, 2);

    wait_for_mail(&app, 2).await;
    for m in app.mail.lock().unwrap().iter() {
        let all = format!("{} {} {}", m.subject, m.text, m.html);
        for private in ["Ana", "Ben", "Medicare", "7788", "ana@"] {
            assert!(!all.contains(private), "{private} in a notification");
        }
    }
    // Sealed at rest.
    let db = raw(&app).await;
    for r in sqlx::query("SELECT contact FROM triage_cases")
        .fetch_all(&db)
        .await
        .unwrap()
    {
        let bytes: Vec<u8> = r.get("contact");
        assert!(!String::from_utf8_lossy(&bytes).contains("Medicare"));
    }

    // The queue shows both, with what they are; the case pages the details.
    let mut b = coordinator(&app).await;
    let queue = b.get("/staff").await;
    assert!(queue.body.contains("Message") && queue.body.contains("Call-back request"));
    let (token, _) = crate::staff::api_token(&app, "desk@riverbend.example").await;
    let list: Value = app
        .client
        .get(app.url("/api/v1/staff/cases"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cases = list["cases"].as_array().unwrap();
    let kinds: Vec<_> = cases.iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["message", "callback"],
        "oldest first among routine cases"
    );
    assert!(
        cases
            .iter()
            .all(|c| c["instrument"].is_null() && c["self_harm_flag"].is_null())
    );
    let callback_id = cases[1]["id"].as_i64().unwrap();
    let page = b.get(&format!("/staff/cases/{callback_id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Ben Okafor") && page.body.contains("Tuesday, Thursday"));
    assert!(page.body.contains("They asked to be called back."));
    let one: Value = app
        .client
        .get(app.url(&format!("/api/v1/staff/cases/{}", cases[0]["id"])))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["contact"]["message"], "Do you take Medicare?");
    assert_eq!(one["kind"], "message");
}

#[tokio::test]
async fn a_booking_made_online_is_a_case_that_leads_to_its_appointment() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    let today = activepath::time::date_in(app.clock.now(), app.state.config.clinic.time_zone.tz());
    let to = today.checked_add(jiff::Span::new().days(20)).unwrap();
    let slots: Value = app
        .get(&format!(
            "/api/v1/slots?appointment_type=phone-consultation&location=main&from={today}&to={to}"
        ))
        .await
        .json()
        .await
        .unwrap();
    let start = slots["slots"][0]["start"].as_str().unwrap();
    let res = app
        .client
        .post(app.url("/api/v1/bookings"))
        .header("content-type", "application/json")
        .body(
            serde_json::json!({
                "appointment_type": "phone-consultation", "location": "main", "start": start,
                "name": "Chen Wu", "email": "chen@example.com", "phone": "555 010 3434",
                "reason": "Second opinion on TMS", "consent": true,
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let booked: Value = res.json().await.unwrap();
    // The case appears once Chen confirms the booking from their e-mail.
    confirm_booking(&app, "chen@example.com").await;
    let mut b = coordinator(&app).await;
    let queue = b.get("/staff").await;
    assert!(queue.body.contains("New booking"));
    let id = queue
        .body
        .split("/staff/cases/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let page = b.get(&format!("/staff/cases/{id}")).await;
    assert!(page.body.contains("Chen Wu") && page.body.contains("Second opinion on TMS"));
    assert!(page.body.contains(&format!(
        "/staff/appointments/{}",
        booked["id"].as_str().unwrap()
    )));
}

#[tokio::test]
async fn cases_shared_before_kinds_existed_are_kept_as_self_assessments() {
    // A database as the version before case kinds left it: a shared result
    // with a case and an event on the case.
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url()
        .await
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display()));
    let storage = activepath::storage::Storage::connect(&url).await.unwrap();
    storage.migrate_to(5).await.unwrap();
    let db = {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&url).await.unwrap()
    };
    let result_id: i64 = sqlx::query(
        "INSERT INTO assessment_results (token_hash, submission_key, instrument, instrument_version, \
         answers, total, severity, self_harm_flag, source, created_at, expires_at) \
         VALUES ('t', 's', 'phq9', 'v', $1, 9, 'mild', 0, 'web', 0, 1) RETURNING id",
    )
    .bind(vec![1u8])
    .fetch_one(&db)
    .await
    .unwrap()
    .get("id");
    let case_id: i64 = sqlx::query(
        "INSERT INTO triage_cases (uid, result_id, priority, contact, consent_version, created_at) \
         VALUES ('u1', $1, 'routine', $2, 'v', 0) RETURNING id",
    )
    .bind(result_id)
    .bind(vec![1u8])
    .fetch_one(&db)
    .await
    .unwrap()
    .get("id");
    sqlx::query("INSERT INTO case_events (uid, case_id, kind, at) VALUES ('e1', $1, 'taken', 0)")
        .bind(case_id)
        .execute(&db)
        .await
        .unwrap();
    db.close().await;

    storage.migrate().await.unwrap();
    let db = sqlx::AnyPool::connect(&url).await.unwrap();
    let row = sqlx::query(
        "SELECT c.id, c.kind, c.result_id, c.appointment_id, e.uid FROM triage_cases c \
         JOIN case_events e ON e.case_id = c.id",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(
        row.get::<i64, _>("id"),
        case_id,
        "the same case, its event still attached"
    );
    assert_eq!(row.get::<String, _>("kind"), "assessment");
    assert_eq!(row.get::<Option<i64>, _>("result_id"), Some(result_id));
    assert_eq!(row.get::<Option<i64>, _>("appointment_id"), None);
    if url.starts_with("sqlite") {
        let broken = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&db)
            .await
            .unwrap();
        assert!(broken.is_empty(), "every reference still resolves");
        let on: i64 = sqlx::query("PRAGMA foreign_keys")
            .fetch_one(&db)
            .await
            .unwrap()
            .get(0);
        assert_eq!(on, 1);
    }
    // The schema refuses a case whose kind and references disagree, and
    // still refuses a second case for one result.
    let bad = sqlx::query(
        "INSERT INTO triage_cases (uid, kind, priority, contact, consent_version, created_at) \
         VALUES ('u2', 'assessment', 'routine', $1, 'v', 0)",
    )
    .bind(vec![1u8])
    .execute(&db)
    .await;
    assert!(bad.is_err(), "an assessment case needs its result");
    let twice = sqlx::query(
        "INSERT INTO triage_cases (uid, result_id, priority, contact, consent_version, created_at) \
         VALUES ('u3', $1, 'routine', $2, 'v', 0)",
    )
    .bind(result_id)
    .bind(vec![1u8])
    .execute(&db)
    .await
    .unwrap_err();
    assert_eq!(
        activepath::storage::constraint_violation(&twice),
        Some(activepath::storage::Constraint::TriageResult)
    );
}

#[tokio::test]
async fn mail_that_failed_for_good_raises_an_alert_for_those_who_watch_delivery() {
    let app = spawn_app_holding_mail(|c| c.staff.require_second_factor = false).await;
    app.post_form(
        "/contact/message",
        "name=Ana&email=ana%40example.org&phone=&contact_method=email&message=Hi&consent=yes",
    )
    .await;
    // As if the server had refused it for good (still queued: its sealed
    // content is kept, so it can be tried again).
    let db = raw(&app).await;
    sqlx::query("UPDATE mail_outbox SET failed_at = 1, last_error = '550 no such mailbox'")
        .execute(&db)
        .await
        .unwrap();
    let mut desk = coordinator(&app).await;
    let home = desk.get("/staff").await;
    assert!(
        home.body.contains("E-mail that could not be delivered: 1."),
        "{}",
        home.body
    );
    let log = desk.get("/staff/mail").await;
    assert_eq!(log.status, 200);
    assert!(log.body.contains("550 no such mailbox") && log.body.contains("Try again"));
    let csrf = log.csrf();
    let id: i64 = sqlx::query("SELECT id FROM mail_outbox")
        .fetch_one(&db)
        .await
        .unwrap()
        .get("id");
    let res = desk
        .post(&format!("/staff/mail/{id}/dismiss"), &[("csrf", &csrf)])
        .await;
    assert_eq!(res.status, 303);
    assert!(
        !desk
            .get("/staff")
            .await
            .body
            .contains("could not be delivered")
    );
    // Clinicians do not watch delivery: no alert, no log.
    add_staff(&app, "doc@riverbend.example", Role::Clinician).await;
    let mut doc = Browser::new(&app);
    doc.post(
        "/staff/login",
        &[("email", "doc@riverbend.example"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(doc.get("/staff/mail").await.status, 403);
}
