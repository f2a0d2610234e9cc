//! Bookings made by the public hold their time only until confirmed: the
//! queue case, the invitation and the reminder come with the confirmation
//! from the person's own mailbox; unconfirmed, the hold lapses at the test
//! clock and the time is offered again. Unconfirmed holds are capped per
//! client, per e-mail address and per location and day, in the database,
//! across instances. Names carrying an address are refused; staff bookings
//! are confirmed at once; manage links stop working a week after the
//! appointment.

use crate::helpers::*;
use crate::staff::{Browser, PASSWORD, add_staff};
use activepath::config::Config;
use activepath::staff::Role;
use ipnet::IpNet;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use sqlx::Row;

/// The free starts of `kind` at `location` in the next four weeks.
async fn free(app: &TestApp, kind: &str, location: &str) -> Vec<Timestamp> {
    let today = activepath::time::date_in(app.clock.now(), app.state.config.clinic.time_zone.tz());
    let to = today.checked_add(jiff::Span::new().days(27)).unwrap();
    let res = app
        .get(&format!(
            "/api/v1/slots?appointment_type={kind}&location={location}&from={today}&to={to}"
        ))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// Free starts at least 90 minutes apart: bookings of them cannot take
/// each other's time, whichever clinician each gets.
async fn apart(app: &TestApp, kind: &str, location: &str, n: usize) -> Vec<Timestamp> {
    let mut chosen: Vec<Timestamp> = Vec::new();
    for start in free(app, kind, location).await {
        if chosen
            .last()
            .is_none_or(|last| start.duration_since(*last) >= SignedDuration::from_mins(90))
        {
            chosen.push(start);
        }
    }
    assert!(chosen.len() >= n, "{} free times apart", chosen.len());
    chosen.truncate(n);
    chosen
}

fn body(location: &str, start: Timestamp, email: &str) -> Value {
    json!({
        "appointment_type": "initial-consultation",
        "location": location,
        "start": activepath::time::rfc3339(start),
        "name": "Zoë Example",
        "email": email,
        "phone": "+1 555 010 4477",
        "reason": "Low mood since spring",
        "consent": true,
    })
}

/// `POST /api/v1/bookings` to `app`, from `client` (as a trusted proxy
/// reports it) when given.
async fn post(app: &TestApp, body: &Value, client: Option<String>) -> reqwest::Response {
    let mut req = app
        .client
        .post(app.url("/api/v1/bookings"))
        .header("content-type", "application/json");
    if let Some(ip) = client {
        req = req.header("x-forwarded-for", ip);
    }
    req.body(body.to_string()).send().await.unwrap()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&raw(app).await)
        .await
        .unwrap()
}

async fn outbox_kinds(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT kind FROM mail_outbox ORDER BY id")
        .fetch_all(&raw(app).await)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_booking_on_the_site_holds_its_time_and_is_booked_only_when_confirmed_from_the_mail() {
    let app = spawn_app_holding_mail(|_| {}).await;
    // The north office has one clinician: one hold fills a time.
    let start = apart(&app, "initial-consultation", "north", 1).await[0];
    let start_text = activepath::time::rfc3339(start);
    let form = format!(
        "start={start_text}&name=Zo%C3%AB+Example&email=zoe%40example.com\
         &phone=%2B1+555+010+4477&reason=Low+mood&consent=yes"
    );
    let res = app
        .post_form("/book/initial-consultation/north/details", &form)
        .await;
    assert_eq!(res.status(), 303);
    let held = location(&res);
    let (status, page) = app.get_text(&held).await;
    assert_eq!(status, 200);
    assert!(page.contains("Check your e-mail to confirm"));
    assert!(page.contains("within 30 minutes"));
    assert!(page.contains("z…@e….com"), "the address, masked");
    assert!(page.contains(&app.state.config.clinic.phone));
    assert_reads_plainly("the page after booking", &page);

    // Held: no case, no invitation, no notice to the clinic; only the link.
    assert_eq!(app.counts().await.triage_cases, 0);
    assert_eq!(outbox_kinds(&app).await, ["booking-hold"]);
    // The time is offered to no one else, and cannot be taken.
    assert!(
        !free(&app, "initial-consultation", "north")
            .await
            .contains(&start)
    );
    let res = post(&app, &body("north", start, "other@example.com"), None).await;
    assert_eq!(res.status(), 409);

    assert_eq!(app.deliver_mail().await, 1);
    let to_zoe = mails_to(&app, "zoe@example.com");
    assert_eq!(to_zoe.len(), 1);
    let first = &to_zoe[0];
    assert!(
        first.subject.starts_with("Please confirm:"),
        "{}",
        first.subject
    );
    assert!(
        first
            .text
            .contains("Please confirm within 30 minutes or the time is released."),
        "{}",
        first.text
    );
    assert!(first.text.contains(&format!("{BASE_URL}/book/confirm/")));
    assert!(first.calendar.is_none(), "no invitation before confirming");
    // The address is not yet known to be Zoë's: nothing she typed in it.
    for typed in ["Zoë", "Low mood", "4477"] {
        assert!(
            !first.text.contains(typed) && !first.html.contains(typed),
            "{typed}"
        );
    }

    // Opening the link asks; only the button confirms.
    let link = confirm_link(&app, "zoe@example.com").await;
    let (status, page) = app.get_text(&link).await;
    assert_eq!(status, 200);
    assert!(page.contains("Yes, confirm my booking"));
    assert_reads_plainly("the page that confirms", &page);
    assert_eq!(app.counts().await.triage_cases, 0);
    let res = app.post_form(&link, "").await;
    assert_eq!(res.status(), 303);
    let manage = location(&res);
    assert!(manage.ends_with("?done=booked"), "{manage}");
    let (status, page) = app.get_text(&manage).await;
    assert_eq!(status, 200);
    assert!(page.contains("You are booked") && page.contains("Zoë Example"));

    // Booked: one case, the confirmation with its invitation, the notice.
    assert_eq!(app.counts().await.triage_cases, 1);
    assert_eq!(app.deliver_mail().await, 2);
    let to_zoe = mails_to(&app, "zoe@example.com");
    assert_eq!(to_zoe.len(), 2);
    assert!(to_zoe[1].subject.starts_with("Booked:"));
    assert_eq!(to_zoe[1].calendar.as_ref().unwrap().method, "REQUEST");
    assert!(to_zoe[1].text.contains(&format!("{BASE_URL}/book/manage/")));
    assert_eq!(mails_to(&app, &app.state.config.mail.notify).len(), 1);

    // The link opened again (a second click, another device): the same
    // booking's page, and nothing done twice.
    let page_path = manage.trim_end_matches("?done=booked");
    for again in [app.get(&link).await, app.post_form(&link, "").await] {
        assert_eq!(again.status(), 303);
        assert_eq!(location(&again), page_path);
    }
    assert_eq!(app.counts().await.triage_cases, 1);
    assert_eq!(app.deliver_mail().await, 0);
    // The page after booking now only says it is confirmed.
    let (_, page) = app.get_text(&held).await;
    assert!(page.contains("This booking is confirmed"));
    assert!(!page.contains("Zoë"));
}

#[tokio::test]
async fn an_unconfirmed_hold_lapses_at_the_test_clock_and_its_time_is_offered_again() {
    let app = spawn_app_holding_mail(|_| {}).await;
    let start = apart(&app, "initial-consultation", "north", 1).await[0];
    let made = app.clock.now();
    let res = post(&app, &body("north", start, "zoe@example.com"), None).await;
    assert_eq!(res.status(), 201);
    let held: Value = res.json().await.unwrap();
    assert_eq!(held["status"], "held");
    assert!(
        held.get("manage_url").is_none(),
        "the manage link comes by mail"
    );
    let until: Timestamp = held["hold_expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        until.as_second(),
        (made + SignedDuration::from_mins(30)).as_second()
    );
    let link = confirm_link(&app, "zoe@example.com").await;

    // A minute before: still held, still not offered.
    app.clock.set(until - SignedDuration::from_mins(1));
    assert_eq!(
        activepath::jobs::lapse_holds(&app.state.storage, app.clock.now())
            .await
            .unwrap(),
        0
    );
    assert!(
        !free(&app, "initial-consultation", "north")
            .await
            .contains(&start)
    );
    // At its end (the answer gives it to the second): released, offered
    // again, and no case was ever made.
    app.clock.set(until + SignedDuration::from_secs(1));
    assert_eq!(
        activepath::jobs::lapse_holds(&app.state.storage, app.clock.now())
            .await
            .unwrap(),
        1
    );
    assert!(
        free(&app, "initial-consultation", "north")
            .await
            .contains(&start)
    );
    assert_eq!(app.counts().await.triage_cases, 0);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM appointment_blocks").await,
        0
    );
    // The link, opened too late, says so and offers to book again; it
    // confirms nothing.
    let (status, page) = app.get_text(&link).await;
    assert_eq!(status, 410);
    assert!(page.contains("This time was released"));
    assert!(page.contains("href=\"/book/initial-consultation/north\""));
    assert_reads_plainly("a lapsed hold", &page);
    let res = app.post_form(&link, "").await;
    assert_eq!(res.status(), 410);
    assert_eq!(app.counts().await.triage_cases, 0);
    assert_eq!(app.deliver_mail().await, 0, "nothing more is sent");

    // Someone else may now have the time.
    let res = post(&app, &body("north", start, "ana@example.org"), None).await;
    assert_eq!(res.status(), 201);
    confirm_booking(&app, "ana@example.org").await;
    assert_eq!(app.counts().await.triage_cases, 1);

    // A lapsed hold is forgotten, details and all, a day later.
    app.clock.set(until + SignedDuration::from_hours(25));
    activepath::jobs::purge(&app.state.storage, app.clock.now())
        .await
        .unwrap();
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM appointments WHERE status = 'lapsed'"
        )
        .await,
        0
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM appointments").await, 1);
}

/// Sends every request at once, alternately to `a` and `b`; the statuses
/// (with `Retry-After` where given) and bodies, in request order.
async fn all_at_once(
    a: &TestApp,
    b: &TestApp,
    requests: Vec<(Value, Option<String>)>,
) -> Vec<(u16, Option<u64>, Value)> {
    let mut set = tokio::task::JoinSet::new();
    for (i, (body, client)) in requests.into_iter().enumerate() {
        let app = if i % 2 == 0 { a } else { b };
        let (http, url) = (app.client.clone(), app.url("/api/v1/bookings"));
        set.spawn(async move {
            let mut req = http
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string());
            if let Some(ip) = client {
                req = req.header("x-forwarded-for", ip);
            }
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let wait = res
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().parse().unwrap());
            (i, status, wait, res.json::<Value>().await.unwrap())
        });
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        out.push(done.unwrap());
    }
    out.sort_by_key(|(i, ..)| *i);
    out.into_iter().map(|(_, s, w, b)| (s, w, b)).collect()
}

fn statuses(answers: &[(u16, Option<u64>, Value)], status: u16) -> usize {
    answers.iter().filter(|(s, ..)| *s == status).count()
}

#[tokio::test]
async fn forty_five_api_bookings_from_one_client_or_one_address_hold_no_more_than_the_caps_on_two_instances()
 {
    // The per-client rate limit is off, so that only the caps in the
    // database stand in the way; a trusted proxy says who each client is.
    let setup = |c: &mut Config| {
        c.rate_limit.enabled = false;
        c.server.trusted_proxies = vec!["127.0.0.1/32".parse::<IpNet>().unwrap()];
    };
    let app = spawn_app_holding_mail(setup).await;
    let other = second_instance(&app, setup).await;

    // One client, 45 addresses, 45 free times: two held, the rest refused
    // with 429 and when to try again (when the first hold lapses).
    let times = apart(&app, "initial-consultation", "main", 45).await;
    let requests = times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                body("main", *t, &format!("person{i}@example.com")),
                Some("203.0.113.7".to_string()),
            )
        })
        .collect();
    let answers = all_at_once(&app, &other, requests).await;
    assert_eq!(statuses(&answers, 201), 2, "{answers:?}");
    assert_eq!(statuses(&answers, 429), 43, "{answers:?}");
    for (_, wait, _) in answers.iter().filter(|(s, ..)| *s == 429) {
        // Half an hour, give or take the instances' clocks (each frozen
        // when it started).
        assert!(wait.is_some_and(|w| (1..=1860).contains(&w)), "{wait:?}");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM appointments").await, 2);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM mail_outbox").await, 2);

    // One address from 45 clients: two more held, the rest refused naming
    // the address.
    let times = apart(&app, "initial-consultation", "main", 45).await;
    let requests = times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                body("main", *t, "Victim@Example.com"),
                Some(format!("198.51.100.{}", i + 1)),
            )
        })
        .collect();
    let answers = all_at_once(&app, &other, requests).await;
    assert_eq!(statuses(&answers, 201), 2, "{answers:?}");
    assert_eq!(statuses(&answers, 422), 43, "{answers:?}");
    for (_, _, problem) in answers.iter().filter(|(s, ..)| *s == 422) {
        assert_eq!(problem["errors"][0]["field"], "email", "{problem}");
    }
    // However the address is written.
    let another = apart(&app, "initial-consultation", "main", 1).await[0];
    let res = post(
        &app,
        &body("main", another, "victim@example.com"),
        Some("192.0.2.200".into()),
    )
    .await;
    assert_eq!(res.status(), 422);

    // 45 clients and addresses: the main clinic holds 20 unconfirmed a day
    // (four so far), then pauses with 409; the north office is not paused.
    let times = apart(&app, "initial-consultation", "main", 45).await;
    let requests = times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                body("main", *t, &format!("visitor{i}@example.org")),
                Some(format!("192.0.2.{}", i + 1)),
            )
        })
        .collect();
    let answers = all_at_once(&app, &other, requests).await;
    assert_eq!(statuses(&answers, 201), 16, "{answers:?}");
    assert_eq!(statuses(&answers, 409), 29, "{answers:?}");
    for (_, wait, problem) in answers.iter().filter(|(s, ..)| *s == 409) {
        assert!(problem.get("nearest").is_none(), "not taken: paused");
        assert!(wait.is_some_and(|w| w > 23 * 3600), "{wait:?}");
    }
    let north = apart(&app, "initial-consultation", "north", 1).await[0];
    let res = post(
        &app,
        &body("north", north, "north@example.org"),
        Some("192.0.2.250".into()),
    )
    .await;
    assert_eq!(res.status(), 201);

    // Nothing of a refused request was held, mailed or queued.
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM appointments WHERE status = 'held'"
        )
        .await,
        21
    );
    assert_eq!(count(&app, "SELECT COUNT(*) FROM mail_outbox").await, 21);
    assert_eq!(app.counts().await.triage_cases, 0);
}

#[tokio::test]
async fn a_name_with_a_web_or_e_mail_address_is_refused_beside_the_name_field() {
    let app = spawn_app_holding_mail(|_| {}).await;
    let start = apart(&app, "initial-consultation", "main", 1).await[0];
    let start_text = activepath::time::rfc3339(start);
    // The page: the name's error beside it, everything typed kept.
    let form = serde_urlencoded::to_string([
        ("start", start_text.as_str()),
        ("name", "Hello Visit http://evil.example/login to confirm,"),
        ("email", "victim@example.com"),
        ("phone", "+1 555 010 4477"),
        ("reason", "Low mood"),
        ("consent", "yes"),
    ])
    .unwrap();
    let res = app
        .post_form("/book/initial-consultation/main/details", &form)
        .await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("id=\"name-error\">Please enter just your name, without a web address"),
        "{page}"
    );
    assert!(page.contains("aria-describedby=\"name-error\""));
    assert!(!page.contains("email-error") && !page.contains("phone-error"));
    for kept in [
        "value=\"victim@example.com\"",
        "value=\"+1 555 010 4477\"",
        ">Low mood</textarea>",
        "value=\"Hello Visit http://evil.example/login to confirm,\"",
    ] {
        assert!(page.contains(kept), "{kept}");
    }
    // The API names `name`, and only it.
    for name in [
        "Visit evil.example/login",
        "https://evil.example",
        "Ana www.evil.example",
        "ana@evil.example",
    ] {
        let mut b = body("main", start, "victim@example.com");
        b["name"] = json!(name);
        let res = post(&app, &b, None).await;
        assert_eq!(res.status(), 422, "{name}");
        let problem: Value = res.json().await.unwrap();
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["name"], "{name}");
    }
    // Names with initials and dots are names.
    let mut b = body("main", start, "jr@example.com");
    b["name"] = json!("J. R. St.John");
    assert_eq!(post(&app, &b, None).await.status(), 201);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM appointments").await, 1);
    assert_eq!(outbox_kinds(&app).await, ["booking-hold"]);
}

#[tokio::test]
async fn a_staff_booking_is_confirmed_at_once_while_a_public_hold_beside_it_lapses() {
    let app = spawn_app_holding_mail(|c| c.staff.require_second_factor = false).await;
    add_staff(&app, "desk@riverbend.example", Role::Coordinator).await;
    let mut desk = Browser::new(&app);
    desk.post(
        "/staff/login",
        &[("email", "desk@riverbend.example"), ("password", PASSWORD)],
    )
    .await;
    let times = apart(&app, "initial-consultation", "main", 2).await;
    let (by_staff, online) = (times[0], times[1]);
    let start = activepath::time::rfc3339(by_staff);
    let form = desk
        .get(&format!(
            "/staff/calendar/book/details?type=initial-consultation&location=main&start={start}"
        ))
        .await;
    assert_eq!(form.status, 200);
    let res = desk
        .post(
            "/staff/calendar/book/details",
            &[
                ("csrf", &form.csrf()),
                ("type", "initial-consultation"),
                ("location", "main"),
                ("start", &start),
                ("name", "Ravi Patel"),
                ("email", "ravi@example.com"),
                ("phone", "555 010 2323"),
                ("reason", ""),
                ("consent", "yes"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        post(&app, &body("main", online, "zoe@example.com"), None)
            .await
            .status(),
        201
    );
    assert_eq!(
        states(&app).await,
        [
            ("booked".to_string(), true, false),
            ("held".to_string(), false, true)
        ]
    );
    // Ravi got the confirmation with its invitation at once, no link to
    // confirm; Zoë only the link.
    assert_eq!(app.deliver_mail().await, 3);
    let to_ravi = mails_to(&app, "ravi@example.com");
    assert_eq!(to_ravi.len(), 1);
    assert!(to_ravi[0].subject.starts_with("Booked:"));
    assert!(to_ravi[0].calendar.is_some());
    assert!(!to_ravi[0].text.contains("/book/confirm/"));
    assert!(mails_to(&app, "zoe@example.com")[0].calendar.is_none());

    // The desk sees the hold marked as not yet confirmed, and cannot move
    // or cancel it; the staff booking is plain and can be changed.
    let day = activepath::time::date_in(online, app.state.config.clinic.time_zone.tz());
    let page = desk
        .get(&format!(
            "/staff/calendar?location=main&date={day}&view=day"
        ))
        .await;
    let line = page
        .body
        .lines()
        .find(|l| l.contains("Zoë Example"))
        .expect("the hold in the calendar")
        .to_string();
    assert!(line.contains("Not yet confirmed"), "{line}");
    let uid = line.split("/staff/appointments/").nth(1).unwrap();
    let uid = &uid[..uid.find('"').unwrap()];
    let held = desk.get(&format!("/staff/appointments/{uid}")).await;
    assert!(held.body.contains("waiting for the person to confirm"));
    assert!(
        !held
            .body
            .contains(&format!("/staff/appointments/{uid}/cancel"))
    );

    // Past the time to confirm, the hold lapses; the staff booking stays.
    app.clock.advance(SignedDuration::from_mins(31));
    assert_eq!(
        activepath::jobs::lapse_holds(&app.state.storage, app.clock.now())
            .await
            .unwrap(),
        1
    );
    let offered = free(&app, "initial-consultation", "main").await;
    assert!(offered.contains(&online) && !offered.contains(&by_staff));
    let now: Vec<String> = states(&app).await.into_iter().map(|s| s.0).collect();
    assert_eq!(now, ["booked", "lapsed"]);
    // The calendar shows the staff booking, not the lapsed hold (signed in
    // again: half an hour idle ended the session).
    let mut desk = Browser::new(&app);
    desk.post(
        "/staff/login",
        &[("email", "desk@riverbend.example"), ("password", PASSWORD)],
    )
    .await;
    let tz = app.state.config.clinic.time_zone.tz().clone();
    let calendar = |at: Timestamp| {
        let day = activepath::time::date_in(at, &tz);
        format!("/staff/calendar?location=main&date={day}")
    };
    assert!(
        desk.get(&calendar(by_staff))
            .await
            .body
            .contains("Ravi Patel")
    );
    assert!(!desk.get(&calendar(online)).await.body.contains("Zoë"));
}

/// Each appointment's status, whether it is confirmed and whether it was
/// held, sorted.
async fn states(app: &TestApp) -> Vec<(String, bool, bool)> {
    let mut states: Vec<_> =
        sqlx::query("SELECT status, confirmed_at, hold_expires_at FROM appointments")
            .fetch_all(&raw(app).await)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.get::<String, _>("status"),
                    r.get::<Option<i64>, _>("confirmed_at").is_some(),
                    r.get::<Option<i64>, _>("hold_expires_at").is_some(),
                )
            })
            .collect();
    states.sort();
    states
}

#[tokio::test]
async fn a_manage_link_stops_working_seven_days_after_its_appointment() {
    let app = spawn_app_holding_mail(|_| {}).await;
    let start = apart(&app, "phone-consultation", "main", 1).await[0];
    let mut b = body("main", start, "zoe@example.com");
    b["appointment_type"] = json!("phone-consultation");
    assert_eq!(post(&app, &b, None).await.status(), 201);
    let manage = confirm_booking(&app, "zoe@example.com").await;
    let manage = manage.trim_end_matches("?done=booked").to_string();
    let confirm = confirm_link(&app, "zoe@example.com").await;
    // The appointment is 30 minutes long.
    let end = start + SignedDuration::from_mins(30);
    let week_after = end + SignedDuration::from_hours(7 * 24);

    app.clock.set(week_after - SignedDuration::from_mins(1));
    let (status, page) = app.get_text(&manage).await;
    assert_eq!(status, 200);
    assert!(page.contains("Zoë Example"));

    app.clock.set(week_after + SignedDuration::from_mins(1));
    let (status, page) = app.get_text(&manage).await;
    assert_eq!(status, 410);
    assert!(page.contains("This link has expired"));
    assert!(page.contains(&app.state.config.clinic.phone));
    assert!(page.contains(&format!(
        "href=\"tel:{}\"",
        app.state.config.clinic.phone_uri()
    )));
    let when = activepath::time::format_appointment(start, app.state.config.clinic.time_zone.tz());
    for detail in ["Zoë", "Phone consultation", &when, "Cancel the appointment"] {
        assert!(!page.contains(detail), "{detail} shown");
    }
    assert_reads_plainly("an expired manage link", &page);
    // Every page and action behind the link.
    for path in [
        "/cancel",
        "/move",
        "/move/confirm?start=2030-01-01T10:00:00Z",
    ] {
        let (status, page) = app.get_text(&format!("{manage}{path}")).await;
        assert_eq!(status, 410, "{path}");
        assert!(page.contains("This link has expired"));
    }
    let res = app.post_form(&format!("{manage}/cancel"), "").await;
    assert_eq!(res.status(), 410);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM appointments WHERE status = 'booked'"
        )
        .await,
        1,
        "nothing changed"
    );
    // The confirmation link leads to the same expired page.
    let res = app.get(&confirm).await;
    assert_eq!(res.status(), 303);
    let (status, _) = app.get_text(&location(&res)).await;
    assert_eq!(status, 410);
}

#[tokio::test]
async fn bookings_made_before_holds_existed_stay_booked_through_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url()
        .await
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display()));
    let storage = activepath::storage::Storage::connect(&url).await.unwrap();
    storage.migrate_to(17).await.unwrap();
    let db = {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&url).await.unwrap()
    };
    let location: i64 = sqlx::query_scalar(
        "INSERT INTO booking_locations (slug, name, address, time_zone) \
         VALUES ('main', 'Main', '', 'America/New_York') RETURNING id",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let resource: i64 = sqlx::query_scalar(
        "INSERT INTO booking_resources (slug, name, kind) VALUES ('dr', 'Dr', 'clinician') \
         RETURNING id",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let kind: i64 = sqlx::query_scalar(
        "INSERT INTO booking_types (slug, name, duration_minutes) VALUES ('t', 'T', 60) \
         RETURNING id",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let appointment: i64 = sqlx::query_scalar(
        "INSERT INTO appointments (uid, type_id, location_id, starts_at, ends_at, status, source, \
         details, consent_version, manage_hash, created_at, updated_at) \
         VALUES ('u1', $1, $2, 3600000, 7200000, 'booked', 'web', $3, 'v', 'h', 1000, 1000) \
         RETURNING id",
    )
    .bind(kind)
    .bind(location)
    .bind(vec![1u8])
    .fetch_one(&db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO appointment_blocks (appointment_id, resource_id, blocked_from, blocked_until) \
         VALUES ($1, $2, 3600000, 8100000)",
    )
    .bind(appointment)
    .bind(resource)
    .execute(&db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO triage_cases (uid, kind, appointment_id, priority, contact, consent_version, \
         created_at) VALUES ('c1', 'booking', $1, 'routine', $2, 'v', 1000)",
    )
    .bind(appointment)
    .bind(vec![1u8])
    .execute(&db)
    .await
    .unwrap();

    storage.migrate().await.unwrap();
    let row = sqlx::query(
        "SELECT status, confirmed_at, hold_expires_at, \
         (SELECT COUNT(*) FROM appointment_blocks) AS blocks, \
         (SELECT COUNT(*) FROM triage_cases WHERE appointment_id = appointments.id) AS cases \
         FROM appointments",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>("status"), "booked");
    assert_eq!(row.get::<Option<i64>, _>("confirmed_at"), Some(1000));
    assert_eq!(row.get::<Option<i64>, _>("hold_expires_at"), None);
    assert_eq!(row.get::<i64, _>("blocks"), 1, "its time is still kept");
    assert_eq!(row.get::<i64, _>("cases"), 1);
    // The no-overlap guarantee still stands after the rebuild.
    let second: i64 = sqlx::query_scalar(
        "INSERT INTO appointments (uid, type_id, location_id, starts_at, ends_at, status, source, \
         details, consent_version, manage_hash, created_at, updated_at) \
         VALUES ('u3', $1, $2, 3600000, 7200000, 'booked', 'staff', $3, 'v', 'h3', 1000, 1000) \
         RETURNING id",
    )
    .bind(kind)
    .bind(location)
    .bind(vec![1u8])
    .fetch_one(&db)
    .await
    .unwrap();
    let overlap = sqlx::query(
        "INSERT INTO appointment_blocks (appointment_id, resource_id, blocked_from, blocked_until) \
         VALUES ($1, $2, 3700000, 3800000)",
    )
    .bind(second)
    .bind(resource)
    .execute(&db)
    .await
    .expect_err("an overlapping block is refused");
    assert_eq!(
        activepath::storage::constraint_violation(&overlap),
        Some(activepath::storage::Constraint::ResourceBusy),
        "{overlap}"
    );
    // And a hold needs its expiry and its link.
    let bad = sqlx::query(
        "INSERT INTO appointments (uid, type_id, location_id, starts_at, ends_at, status, source, \
         details, consent_version, manage_hash, created_at, updated_at) \
         VALUES ('u2', $1, $2, 3600000, 7200000, 'held', 'web', $3, 'v', 'h2', 1000, 1000)",
    )
    .bind(kind)
    .bind(location)
    .bind(vec![1u8])
    .execute(&db)
    .await;
    assert!(bad.is_err());
    db.close().await;
    storage.close().await;
}
