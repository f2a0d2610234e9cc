//! The requests that once took the server down, each now answered at once
//! with a 4xx naming the field, and the server still answering after them.
//! (The route fuzz test attacks every route; these are the ones found by
//! hand, kept as they were reported.)

use crate::helpers::*;
use crate::staff::{Browser, PASSWORD};
use crate::tms::{course_for, send, tokens};
use activepath::staff::Role;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Long enough for a debug build on a busy machine, far too short for a
/// loop over the days to 9999.
const AT_ONCE: Duration = Duration::from_secs(2);

async fn timed(what: &str, req: reqwest::RequestBuilder) -> (u16, String) {
    let started = Instant::now();
    let res = tokio::time::timeout(AT_ONCE, req.send())
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {AT_ONCE:?}"))
        .unwrap();
    let status = res.status().as_u16();
    let body = res.text().await.unwrap();
    assert!(started.elapsed() < AT_ONCE, "{what}");
    (status, body)
}

#[tokio::test]
async fn a_far_date_in_any_request_is_refused_at_once_naming_the_field() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    let t = tokens(&app).await;

    // The public booking pages.
    let (status, body) = timed(
        "booking week",
        app.client
            .get(app.url("/book/initial-consultation/main?week=9999-12-31")),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("week: must be from"), "{body}");

    // A booking's own "move" page.
    let today = activepath::time::date_in(app.clock.now(), app.state.config.clinic.time_zone.tz());
    let slots: Value = app
        .get(&format!(
            "/api/v1/slots?appointment_type=initial-consultation&location=main&from={today}&to={}",
            today.checked_add(jiff::Span::new().days(20)).unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    let booked = app
        .client
        .post(app.url("/api/v1/bookings"))
        .header("content-type", "application/json")
        .body(
            json!({
                "appointment_type": "initial-consultation", "location": "main",
                "start": slots["slots"][0]["start"], "name": "Zoë Example",
                "email": "zoe@example.com", "phone": "+1 555 010 4477", "consent": true
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(booked.status(), 201);
    let manage = confirm_booking(&app, "zoe@example.com").await;
    let manage = manage.trim_end_matches("?done=booked").to_string();
    let (status, body) = timed(
        "move week",
        app.client
            .get(app.url(&format!("{manage}/move?week=9999-12-31"))),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("week: must be from"), "{body}");

    // The staff calendar, for every role that sees it, and staff booking.
    for (email, role) in [
        ("tech@riverbend.example", Role::Technician),
        ("desk@riverbend.example", Role::Coordinator),
    ] {
        // Both made by `tokens`, with the test password.
        let mut b = Browser::new(&app);
        b.post("/staff/login", &[("email", email), ("password", PASSWORD)])
            .await;
        for (path, field) in [
            ("/staff/calendar?date=9999-12-31", "date"),
            ("/staff/calendar?date=-999999", "date"),
            ("/staff/calendar?date=0001-01-01&view=week", "date"),
        ] {
            let started = Instant::now();
            let page = b.get(path).await;
            assert!(started.elapsed() < AT_ONCE, "{path}");
            assert_eq!(page.status, 400, "{role:?} {path}");
            assert!(
                page.body.contains(&format!("{field}: must")),
                "{}",
                page.body
            );
        }
        if role == Role::Coordinator {
            let started = Instant::now();
            let page = b
                .get("/staff/calendar/book?type=initial-consultation&location=main&week=9999-12-31")
                .await;
            assert!(started.elapsed() < AT_ONCE);
            assert_eq!(page.status, 400);
            assert!(page.body.contains("week: must be from"), "{}", page.body);
        }
    }

    // A TMS series starting in 9999: refused, and the server keeps
    // answering while two such requests are sent at once.
    let (_, course) = course_for(&app, &t, "Pia Lund", "10hz").await;
    let far = json!({"first_start": "9999-12-27T10:00"});
    let schedule = format!("{course}/schedule");
    let started = Instant::now();
    let (a, b) = tokio::join!(
        send(&app, &t.coordinator, "POST", &schedule, Some(far.clone())),
        send(&app, &t.coordinator, "POST", &schedule, Some(far.clone())),
    );
    assert!(started.elapsed() < AT_ONCE);
    for (status, problem) in [a, b] {
        assert_eq!(status, 422, "{problem}");
        assert_eq!(crate::tms::fields(&problem), ["first_start"]);
    }
    let (status, _) = timed("healthz", app.client.get(app.url("/healthz"))).await;
    assert_eq!(status, 200);
}
