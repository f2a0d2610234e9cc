//! Booking: the demo clinic's free times, booking through the pages and the
//! API, the manage link (move, cancel), the e-mails and their invitations,
//! reminders, and the no-double-booking guarantee under concurrent requests
//! from two app instances.

use crate::helpers::*;
use crate::staff::{Browser, PASSWORD, add_staff, field_value};
use activepath::staff::Role;
use serde_json::{Value, json};
use sqlx::Row;

async fn slots(app: &TestApp, kind: &str, location: &str, days: i64) -> Vec<Value> {
    let today = activepath::time::date_in(app.clock.now(), app.state.config.clinic.time_zone.tz());
    let to = today.checked_add(jiff::Span::new().days(days)).unwrap();
    let res = app
        .get(&format!(
            "/api/v1/slots?appointment_type={kind}&location={location}&from={today}&to={to}"
        ))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["slots"].as_array().unwrap().clone()
}

async fn post_booking(app: &TestApp, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/bookings"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

fn booking(kind: &str, location: &str, start: &str) -> Value {
    json!({
        "appointment_type": kind,
        "location": location,
        "start": start,
        "name": "Zoë Example",
        "email": "zoe@example.com",
        "phone": "+1 555 010 4477",
        "reason": "Low mood since spring",
        "consent": true,
    })
}

#[tokio::test]
async fn a_visitor_books_a_time_through_the_pages_and_gets_an_invitation() {
    let app = spawn_app().await;
    let (status, page) = app.get_text("/book").await;
    assert_eq!(status, 200);
    assert!(page.contains("Initial consultation (in person)"));
    assert!(page.contains("/book/initial-consultation/main"));
    assert!(
        !page.contains("TMS mapping"),
        "staff-only types are not offered"
    );
    assert_crisis_footer(&page);

    let (status, times) = app.get_text("/book/initial-consultation/main").await;
    assert_eq!(status, 200);
    assert!(times.contains("America/New_York"));
    // On Tuesdays and Thursdays one clinician sees people at the main
    // clinic, so one booking fills a time (on other days a second person
    // would get the other clinician).
    let one_clinician = |href: &str| {
        let start = href
            .split("start=")
            .nth(1)
            .unwrap_or("")
            .split('&')
            .next()
            .unwrap_or("");
        start.parse::<jiff::Timestamp>().is_ok_and(|t| {
            matches!(
                t.in_tz("America/New_York").unwrap().weekday(),
                jiff::civil::Weekday::Tuesday | jiff::civil::Weekday::Thursday
            )
        })
    };
    let link = times
        .split("href=\"")
        .map(|s| s.split('"').next().unwrap())
        .find(|h| h.contains("/details?start=") && one_clinician(h))
        .expect("a free time on a Tuesday or Thursday this week")
        .replace("&amp;", "&");
    let start = link.split("start=").nth(1).unwrap().to_string();
    let (status, form) = app.get_text(&link).await;
    assert_eq!(status, 200);
    assert!(form.contains("Book this time"));

    // Mistakes are explained beside each field, and what was typed is kept.
    let bad = format!("start={start}&name=Zo%C3%AB&email=not-an-address&phone=&reason=&consent=");
    let res = app
        .post_form("/book/initial-consultation/main/details", &bad)
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("Please enter an e-mail address"));
    assert!(body.contains("Please enter a phone number"));
    assert!(body.contains("Please tick the box"));
    assert!(body.contains("value=\"Zoë\"") && body.contains("value=\"not-an-address\""));
    assert!(mails_to(&app, "zoe@example.com").is_empty());

    let good = format!(
        "start={start}&name=Zo%C3%AB+Example&email=zoe%40example.com&phone=%2B1+555+010+4477&reason=&consent=yes"
    );
    let res = app
        .post_form("/book/initial-consultation/main/details", &good)
        .await;
    assert_eq!(res.status(), 303);
    // Held until Zoë confirms it from her e-mail.
    let held = location(&res);
    assert!(held.starts_with("/book/held/"), "{held}");
    let (status, page) = app.get_text(&held).await;
    assert_eq!(status, 200);
    assert!(page.contains("Check your e-mail to confirm"));
    let manage = confirm_booking(&app, "zoe@example.com").await;
    let (status, page) = app.get_text(&manage).await;
    assert_eq!(status, 200);
    assert!(page.contains("You are booked"));
    assert!(page.contains("Zoë Example") && page.contains("Riverbend main clinic"));

    // The same time cannot be booked twice: the form says so kindly and
    // offers the nearest free times.
    let again = app
        .post_form("/book/initial-consultation/main/details", &good)
        .await;
    assert_eq!(again.status(), 409);
    let body = again.text().await.unwrap();
    assert!(
        body.contains("someone booked that time a moment ago"),
        "{body}"
    );
    assert!(body.contains("/details?start="));

    // The link to confirm, then the confirmation and the clinic's notice.
    wait_for_mail(&app, 3).await;
    let to_person = mails_to(&app, "zoe@example.com");
    assert_eq!(to_person.len(), 2);
    let confirmation = &to_person[1];
    assert!(
        confirmation
            .subject
            .starts_with("Booked: Initial consultation")
    );
    assert!(
        confirmation
            .text
            .contains(&format!("{BASE_URL}/book/manage/"))
    );
    assert!(confirmation.text.contains("988"));
    let calendar = confirmation.calendar.as_ref().expect("an invitation");
    assert_eq!(calendar.method, "REQUEST");
    assert!(calendar.ics.contains("DTSTART;TZID=America/New_York:"));
    // The clinic's notice names no one.
    let notice = mails_to(&app, &app.state.config.mail.notify);
    assert_eq!(notice.len(), 1);
    let all = format!(
        "{} {} {}",
        notice[0].subject, notice[0].text, notice[0].html
    );
    for private in ["Zoë", "zoe@example.com", "4477", "Low mood"] {
        assert!(!all.contains(private), "{private}");
    }
    assert!(notice[0].calendar.is_none());
}

#[tokio::test]
async fn personal_mail_and_booking_details_are_sealed_at_rest() {
    let app = spawn_app_holding_mail(|_| {}).await;
    let start = slots(&app, "phone-consultation", "main", 14).await[0]["start"]
        .as_str()
        .unwrap()
        .to_string();
    let res = post_booking(&app, &booking("phone-consultation", "main", &start)).await;
    assert_eq!(res.status(), 201);
    let db = raw(&app).await;
    // Read while the mail is queued (delivered mail keeps no content): the
    // link to confirm, then the confirmation and the clinic's notice.
    let queued = || {
        sqlx::query(
            "SELECT recipient, subject, body_text, sealed FROM mail_outbox WHERE sent_at IS NULL",
        )
        .fetch_all(&db)
    };
    let mut rows = queued().await.unwrap();
    assert_eq!(rows.len(), 1);
    confirm_booking(&app, "zoe@example.com").await;
    rows.extend(queued().await.unwrap());
    assert_eq!(rows.len(), 3);
    let mut sealed = 0;
    for r in &rows {
        let text = format!(
            "{} {} {}",
            r.get::<String, _>("recipient"),
            r.get::<String, _>("subject"),
            r.get::<String, _>("body_text")
        );
        for private in ["Zoë", "zoe@example.com", "4477", "Low mood"] {
            assert!(!text.contains(private), "{private} in the outbox");
        }
        if let Some(bytes) = r.get::<Option<Vec<u8>>, _>("sealed") {
            assert!(!String::from_utf8_lossy(&bytes).contains("zoe@"));
            sealed += 1;
        }
    }
    assert_eq!(
        sealed, 3,
        "every message is sealed, the clinic's notice too"
    );
    let details: Vec<u8> = sqlx::query("SELECT details FROM appointments")
        .fetch_one(&db)
        .await
        .unwrap()
        .get("details");
    assert!(!String::from_utf8_lossy(&details).contains("Zoë Example"));
    // And the sealed messages reach the person whole.
    assert_eq!(app.deliver_mail().await, 2);
    assert_eq!(mails_to(&app, "zoe@example.com").len(), 2);
}

#[tokio::test]
async fn the_manage_link_moves_and_cancels_and_the_calendar_follows() {
    let app = spawn_app().await;
    let free = slots(&app, "phone-consultation", "north", 21).await;
    assert!(free.len() >= 3, "Friday mornings at the north office");
    let first = free[0]["start"].as_str().unwrap().to_string();
    let later = free[2]["start"].as_str().unwrap().to_string();
    let res = post_booking(&app, &booking("phone-consultation", "north", &first)).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["start"], first);
    assert_eq!(created["status"], "held");
    let manage = confirm_booking(&app, "zoe@example.com").await;
    let manage = manage.strip_suffix("?done=booked").unwrap().to_string();
    assert!(
        !slots(&app, "phone-consultation", "north", 21)
            .await
            .iter()
            .any(|s| s["start"] == first),
        "a booked time is no longer offered"
    );

    // Move: a confirmation step, then the POST.
    let later_utc = activepath::time::rfc3339(later.parse().unwrap());
    let (status, page) = app
        .get_text(&format!("{manage}/move/confirm?start={later_utc}"))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Yes, move it"));
    let res = app
        .post_form(&format!("{manage}/move"), &format!("start={later_utc}"))
        .await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).ends_with("?done=moved"));
    let offered = slots(&app, "phone-consultation", "north", 21).await;
    assert!(
        offered.iter().any(|s| s["start"] == first),
        "the old time is free again"
    );
    assert!(!offered.iter().any(|s| s["start"] == later));

    // Cancel: asked first, then done; the time is free again.
    let (status, page) = app.get_text(&format!("{manage}/cancel")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Yes, cancel it"));
    let res = app.post_form(&format!("{manage}/cancel"), "").await;
    assert_eq!(res.status(), 303);
    let (_, page) = app.get_text(&location(&res)).await;
    assert!(page.contains("Your appointment is cancelled"));
    assert!(
        slots(&app, "phone-consultation", "north", 21)
            .await
            .iter()
            .any(|s| s["start"] == later)
    );
    // A cancelled booking cannot be moved.
    let res = app
        .post_form(&format!("{manage}/move"), &format!("start={later_utc}"))
        .await;
    assert_ne!(res.status(), 303, "a cancelled booking stays cancelled");

    wait_for_mail(&app, 7).await;
    let to_person = mails_to(&app, "zoe@example.com");
    // After the link to confirm (no invitation yet), each message carries
    // the calendar.
    assert!(to_person[0].calendar.is_none());
    let invites: Vec<_> = to_person[1..]
        .iter()
        .map(|m| m.calendar.clone().expect("each carries the calendar"))
        .collect();
    assert_eq!(
        invites
            .iter()
            .map(|c| c.method.as_str())
            .collect::<Vec<_>>(),
        ["REQUEST", "REQUEST", "CANCEL"]
    );
    let uid = |ics: &str| {
        ics.lines()
            .find_map(|l| l.strip_prefix("UID:"))
            .unwrap()
            .to_string()
    };
    assert!(invites.iter().all(|c| uid(&c.ics) == uid(&invites[0].ics)));
    for (i, c) in invites.iter().enumerate() {
        assert!(c.ics.contains(&format!("SEQUENCE:{i}\r\n")), "{}", c.ics);
    }
    parse_with_icalendar(&invites.iter().map(|c| c.ics.clone()).collect::<Vec<_>>());
}

/// Checks each object with Python's `icalendar` (Debian's
/// python3-icalendar), a standard parser independent of ours: one VEVENT,
/// a start in the clinic's zone, and the fields a calendar needs.
fn parse_with_icalendar(objects: &[String]) {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, ics) in objects.iter().enumerate() {
        let path = dir.path().join(format!("{i}.ics"));
        std::fs::write(&path, ics).unwrap();
        paths.push(path.display().to_string());
    }
    let script = r#"
import sys
from icalendar import Calendar
for path in sys.argv[1:]:
    cal = Calendar.from_ical(open(path, 'rb').read())
    assert cal['METHOD'] in ('REQUEST', 'CANCEL'), cal['METHOD']
    events = [c for c in cal.walk('VEVENT')]
    assert len(events) == 1
    e = events[0]
    start = e.decoded('DTSTART')
    assert start.tzinfo is not None, 'a start with its zone'
    assert e.decoded('DTEND') > start
    for field in ('UID', 'DTSTAMP', 'SUMMARY', 'ORGANIZER', 'ATTENDEE', 'SEQUENCE'):
        assert field in e, field
    assert len(list(cal.walk('VTIMEZONE'))) == 1
    print(path, e['UID'], start.isoformat(), e['SEQUENCE'])
"#;
    let out = std::process::Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .args(&paths)
        .output()
        .expect("/usr/bin/python3 runs (apt-get install python3-icalendar)");
    assert!(
        out.status.success(),
        "icalendar refused an invitation: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        objects.len()
    );
}

#[tokio::test]
async fn a_hand_edited_request_cannot_get_round_the_rules() {
    let app = spawn_app().await;
    let free = slots(&app, "initial-consultation", "main", 14).await;
    let first: jiff::Timestamp = free[0]["start"].as_str().unwrap().parse().unwrap();
    let off_step = activepath::time::rfc3339(first + jiff::SignedDuration::from_mins(10));
    let too_soon = activepath::time::rfc3339(app.clock.now() + jiff::SignedDuration::from_hours(1));
    let far = activepath::time::rfc3339(app.clock.now() + activepath::time::days(200));
    for start in [off_step, too_soon, far, "2026-12-06T03:00:00Z".to_string()] {
        let res = post_booking(&app, &booking("initial-consultation", "main", &start)).await;
        assert_eq!(res.status(), 422, "{start}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["errors"][0]["field"], "start", "{body}");
    }
    // Staff-only types and unknown places are refused by name.
    let res = post_booking(
        &app,
        &booking("tms-mapping", "main", free[0]["start"].as_str().unwrap()),
    )
    .await;
    assert_eq!(res.status(), 422);
    let res = post_booking(&app, &booking("initial-consultation", "mars", "x")).await;
    let body: Value = res.json().await.unwrap();
    let fields: Vec<_> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(fields, ["location", "start"]);
    // Shape, type and media type.
    let res = post_booking(
        &app,
        &json!({"appointment_type": "initial-consultation", "colour": "red"}),
    )
    .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "colour");
    let res = app
        .client
        .post(app.url("/api/v1/bookings"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let res = app
        .client
        .post(app.url("/api/v1/bookings"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // The slots API names its bad parameters.
    let res = app
        .get("/api/v1/slots?appointment_type=phone-consultation&location=main&from=2026-13-01&to=2026-12-01")
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .get("/api/v1/slots?appointment_type=phone-consultation&location=main&from=2027-01-01&to=2027-03-01")
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "to");
    let counts = raw(&app).await;
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM appointments")
        .fetch_one(&counts)
        .await
        .unwrap()
        .get("n");
    assert_eq!(n, 0, "nothing was booked");
}

#[tokio::test]
async fn fifty_requests_for_one_time_make_exactly_one_booking_even_on_two_instances() {
    let unlimited = |c: &mut activepath::config::Config| c.rate_limit.enabled = false;
    let app = spawn_app_with(unlimited).await;
    // PostgreSQL: two instances share the database (the exclusion constraint
    // decides). SQLite: one instance, its single writer decides.
    let postgres = app.state.config.database_url().starts_with("postgres");
    let other = if postgres {
        Some(second_instance(&app, unlimited).await)
    } else {
        None
    };
    // The north office has one clinician: one booking fills a time.
    let start = slots(&app, "initial-consultation", "north", 21).await[0]["start"]
        .as_str()
        .unwrap()
        .to_string();
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..50 {
        let target = match (&other, i % 2) {
            (Some(o), 1) => (o.client.clone(), o.url("/api/v1/bookings")),
            _ => (app.client.clone(), app.url("/api/v1/bookings")),
        };
        let mut body = booking("initial-consultation", "north", &start);
        body["email"] = json!(format!("person{i}@example.com"));
        requests.spawn(async move {
            target
                .0
                .post(target.1)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(done) = requests.join_next().await {
        statuses.push(done.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        49,
        "{statuses:?}"
    );
    let db = raw(&app).await;
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM appointments) AS a, \
                (SELECT COUNT(*) FROM appointment_blocks) AS b, \
                (SELECT COUNT(*) FROM mail_outbox) AS m",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    // Nothing half-written by the 49 that lost: one appointment (held), one
    // block, its one message (the link to confirm it).
    assert_eq!(
        (
            row.get::<i64, _>("a"),
            row.get::<i64, _>("b"),
            row.get::<i64, _>("m")
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn the_database_itself_refuses_overlapping_blocks() {
    let app = spawn_app().await;
    let start = slots(&app, "phone-consultation", "north", 21).await[0]["start"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        post_booking(&app, &booking("phone-consultation", "north", &start))
            .await
            .status(),
        201
    );
    // Whatever the application checks, a second block over the same time on
    // the same resource is refused by the schema.
    let db = raw(&app).await;
    let row = sqlx::query(
        "SELECT appointment_id, resource_id, blocked_from, blocked_until FROM appointment_blocks",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let copy = sqlx::query(
        "INSERT INTO appointments (uid, type_id, location_id, starts_at, ends_at, status, source, \
         details, consent_version, manage_hash, created_at, updated_at) \
         SELECT 'x', type_id, location_id, starts_at, ends_at, 'booked', source, details, \
         consent_version, 'other', created_at, updated_at FROM appointments",
    )
    .execute(&db)
    .await;
    assert!(copy.is_ok());
    let new_id: i64 = sqlx::query("SELECT id FROM appointments WHERE uid = 'x'")
        .fetch_one(&db)
        .await
        .unwrap()
        .get("id");
    let overlap = sqlx::query(
        "INSERT INTO appointment_blocks (appointment_id, resource_id, blocked_from, blocked_until) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(new_id)
    .bind(row.get::<i64, _>("resource_id"))
    .bind(row.get::<i64, _>("blocked_from") + 60_000)
    .bind(row.get::<i64, _>("blocked_until") + 60_000)
    .execute(&db)
    .await;
    let err = overlap.expect_err("an overlapping block is refused");
    assert_eq!(
        activepath::storage::constraint_violation(&err),
        Some(activepath::storage::Constraint::ResourceBusy),
        "{err}"
    );
    // Touching (one ends as the other starts) is allowed.
    sqlx::query(
        "INSERT INTO appointment_blocks (appointment_id, resource_id, blocked_from, blocked_until) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(new_id)
    .bind(row.get::<i64, _>("resource_id"))
    .bind(row.get::<i64, _>("blocked_until"))
    .bind(row.get::<i64, _>("blocked_until") + 60_000)
    .execute(&db)
    .await
    .unwrap();
}

#[tokio::test]
async fn each_reminder_goes_out_once_even_with_two_instances_running_the_job() {
    let app = spawn_app().await;
    let other = second_instance(&app, |_| {}).await;
    // A time more than two days ahead: one booked within a day of its start
    // gets no reminder (the confirmation has just been sent).
    let two_days = app.clock.now() + activepath::time::days(2);
    let start = slots(&app, "phone-consultation", "main", 30)
        .await
        .iter()
        .map(|s| s["start"].as_str().unwrap().to_string())
        .find(|s| s.parse::<jiff::Timestamp>().unwrap() > two_days)
        .unwrap();
    let res = post_booking(&app, &booking("phone-consultation", "main", &start)).await;
    assert_eq!(res.status(), 201);
    let start: jiff::Timestamp = start.parse().unwrap();
    let due = start - jiff::SignedDuration::from_hours(23);
    assert_eq!(
        activepath::booking::send_reminders(&app.state, due)
            .await
            .unwrap(),
        0,
        "no reminder for a booking not yet confirmed"
    );
    confirm_booking(&app, "zoe@example.com").await;
    let before_due = start - jiff::SignedDuration::from_hours(25);
    assert_eq!(
        activepath::booking::send_reminders(&app.state, before_due)
            .await
            .unwrap(),
        0,
        "not due a day and an hour before"
    );
    // The day before: both instances' clocks (their outbox workers send
    // what is due by their clock).
    app.clock.set(due);
    other.clock.set(due);
    let (a, b) = tokio::join!(
        activepath::booking::send_reminders(&app.state, due),
        activepath::booking::send_reminders(&other.state, due),
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1, "one reminder between both");
    assert_eq!(
        activepath::booking::send_reminders(&app.state, due)
            .await
            .unwrap(),
        0,
        "and never again"
    );
    // Either instance's worker may deliver it.
    let reminders = || {
        mails_to(&app, "zoe@example.com")
            .into_iter()
            .chain(mails_to(&other, "zoe@example.com"))
            .filter(|m| m.subject.starts_with("Reminder:"))
            .collect::<Vec<_>>()
    };
    for _ in 0..100 {
        if !reminders().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let reminders = reminders();
    assert_eq!(reminders.len(), 1);
    assert!(
        !reminders[0].text.contains("/book/manage/"),
        "no manage link in a reminder"
    );
}

#[tokio::test]
async fn staff_book_move_and_cancel_from_the_calendar_by_the_same_rules() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    add_staff(&app, "desk@riverbend.example", Role::Coordinator).await;
    add_staff(&app, "owner@riverbend.example", Role::Admin).await;
    let mut admin = Browser::new(&app);
    admin
        .post(
            "/staff/login",
            &[("email", "owner@riverbend.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(
        admin.get("/staff/calendar").await.status,
        403,
        "admins see no bookings"
    );
    let mut b = Browser::new(&app);
    b.post(
        "/staff/login",
        &[("email", "desk@riverbend.example"), ("password", PASSWORD)],
    )
    .await;
    let calendar = b.get("/staff/calendar?location=north").await;
    assert_eq!(calendar.status, 200);
    assert!(
        calendar.body.contains("TMS mapping session")
            || calendar.body.contains("Phone consultation")
    );

    // Staff-only types can be booked by staff, by the same rules.
    let times = b
        .get("/staff/calendar/book?type=phone-consultation&location=north")
        .await;
    assert_eq!(times.status, 200);
    let first = slots(&app, "phone-consultation", "north", 21).await[0]["start"]
        .as_str()
        .unwrap()
        .to_string();
    let start = activepath::time::rfc3339(first.parse().unwrap());
    let form = b
        .get(&format!(
            "/staff/calendar/book/details?type=phone-consultation&location=north&start={start}"
        ))
        .await;
    assert_eq!(form.status, 200);
    let csrf = form.csrf();
    let fields = |consent: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("type", "phone-consultation".to_string()),
            ("location", "north".to_string()),
            ("start", start.clone()),
            ("name", "Ravi Patel".to_string()),
            ("email", "ravi@example.com".to_string()),
            ("phone", "555 010 2323".to_string()),
            ("reason", String::new()),
            ("consent", consent.to_string()),
        ]
    };
    let missing_consent = fields("");
    let pairs: Vec<(&str, &str)> = missing_consent
        .iter()
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let res = b.post("/staff/calendar/book/details", &pairs).await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("Please tick the box"));
    let good = fields("yes");
    let pairs: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = b.post("/staff/calendar/book/details", &pairs).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page_path = res.location.unwrap();
    let uid = page_path.rsplit('/').next().unwrap().to_string();
    // The public site no longer offers that time, and a second booking of
    // it by staff is refused too.
    assert!(
        !slots(&app, "phone-consultation", "north", 21)
            .await
            .iter()
            .any(|s| s["start"] == first)
    );
    let again = b.post("/staff/calendar/book/details", &pairs).await;
    assert_eq!(again.status, 409);

    let page = b.get(&page_path).await;
    assert!(page.body.contains("Ravi Patel") && page.body.contains("ravi@example.com"));
    assert!(page.body.contains("by the clinic"));
    let calendar = b
        .get(&format!(
            "/staff/calendar?location=north&date={}",
            &first[..10]
        ))
        .await;
    assert!(
        calendar
            .body
            .contains(&format!("/staff/appointments/{uid}"))
    );
    assert!(calendar.body.contains("Ravi Patel"));

    // Move it; a stale form (an old sequence) is refused with the new state.
    let sequence = field_value(&page.body, "sequence").unwrap();
    let later = slots(&app, "phone-consultation", "north", 21).await[1]["start"]
        .as_str()
        .unwrap()
        .to_string();
    let later = activepath::time::rfc3339(later.parse().unwrap());
    let moved = b
        .post(
            &format!("/staff/appointments/{uid}/move"),
            &[("csrf", &csrf), ("sequence", &sequence), ("start", &later)],
        )
        .await;
    assert_eq!(moved.status, 303, "{}", moved.body);
    let stale = b
        .post(
            &format!("/staff/appointments/{uid}/cancel"),
            &[("csrf", &csrf), ("sequence", &sequence)],
        )
        .await;
    assert_eq!(stale.status, 409);
    assert!(stale.body.contains("changed while you were looking"));
    let now_sequence = field_value(&stale.body, "sequence").unwrap();
    let cancelled = b
        .post(
            &format!("/staff/appointments/{uid}/cancel"),
            &[("csrf", &csrf), ("sequence", &now_sequence)],
        )
        .await;
    assert_eq!(cancelled.status, 303);
    assert!(b.get(&page_path).await.body.contains("Cancelled"));

    // The person got the confirmation, the move (no manage link: staff
    // cannot send one) and the cancellation, one calendar entry throughout.
    wait_for_mail(&app, 6).await;
    let to_person = mails_to(&app, "ravi@example.com");
    let methods: Vec<_> = to_person
        .iter()
        .map(|m| m.calendar.as_ref().unwrap().method.clone())
        .collect();
    assert_eq!(methods, ["REQUEST", "REQUEST", "CANCEL"]);
    assert!(
        to_person[1]
            .text
            .contains("link in your first confirmation")
    );
    // Every look and change is in the audit trail.
    let db = raw(&app).await;
    let actions: Vec<String> =
        sqlx::query("SELECT action FROM audit_log WHERE record_type = 'appointment' ORDER BY id")
            .fetch_all(&db)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("action"))
            .collect();
    for action in ["create", "view", "move", "cancel"] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
}

#[tokio::test]
async fn the_home_and_treatment_pages_and_a_shared_result_offer_booking() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/tms",
        "/tms-results",
        "/treatment-resistant-depression",
        "/psychotherapy",
        "/medication-management",
    ] {
        let (status, page) = app.get_text(path).await;
        assert_eq!(status, 200);
        assert!(
            page.contains("href=\"/book\">Book a consultation</a>"),
            "{path} ends with a booking call to action"
        );
    }
    let (_, contact) = app.get_text("/contact").await;
    assert!(
        contact.contains("href=\"/contact/message\"")
            && contact.contains("href=\"/book/callback\"")
    );
    let path = app.submit_phq9([1; 9], 1).await;
    let (_, form) = app.get_text(&format!("{path}/share")).await;
    assert!(form.contains("href=\"/book\""));
    let res = app
        .post_form(
            &format!("{path}/share"),
            "name=Ana&email=ana%40example.org&phone=&contact_method=email&contact_time=any&message=&consent=yes",
        )
        .await;
    let (_, done) = app.get_text(&location(&res)).await;
    assert!(done.contains("href=\"/book\""));
}

#[tokio::test]
async fn the_clinic_changes_its_hours_types_and_holidays_and_the_offered_times_follow() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    add_staff(&app, "desk@riverbend.example", Role::Coordinator).await;
    add_staff(&app, "doc@riverbend.example", Role::Clinician).await;
    let mut doc = Browser::new(&app);
    doc.post(
        "/staff/login",
        &[("email", "doc@riverbend.example"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(doc.get("/staff/booking-setup").await.status, 403);
    let mut b = Browser::new(&app);
    b.post(
        "/staff/login",
        &[("email", "desk@riverbend.example"), ("password", PASSWORD)],
    )
    .await;
    let page = b.get("/staff/booking-setup").await;
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    let setup = app.state.storage.booking_setup().await.unwrap();
    let north = setup
        .locations
        .iter()
        .find(|l| l.slug == "north")
        .unwrap()
        .id;
    let rivera = setup
        .resources
        .iter()
        .find(|r| r.slug == "dr-rivera")
        .unwrap()
        .id;

    // The north office's first Friday with times becomes a holiday.
    let free = slots(&app, "initial-consultation", "north", 21).await;
    let day = free[0]["start"].as_str().unwrap()[..10].to_string();
    let north_s = north.to_string();
    let res = b
        .post(
            "/staff/booking-setup/exception",
            &[
                ("csrf", &csrf),
                ("location", &north_s),
                ("resource", ""),
                ("day", &day),
                ("start", ""),
                ("end", ""),
                ("kind", "closed"),
                ("note", "Holiday"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let after = slots(&app, "initial-consultation", "north", 21).await;
    assert!(
        !after
            .iter()
            .any(|s| s["start"].as_str().unwrap().starts_with(&day))
    );

    // A mistake is explained beside its field, and what was typed is kept.
    let rivera_s = rivera.to_string();
    let res = b
        .post(
            "/staff/booking-setup/hours",
            &[
                ("csrf", &csrf),
                ("resource", &rivera_s),
                ("location", &north_s),
                ("weekday", "6"),
                ("start", "13:00"),
                ("end", "09:00"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("The end must be after the start"));
    assert!(
        res.body
            .contains("id=\"hours-start\" name=\"start\" type=\"time\" value=\"13:00\"")
    );
    // Saturday mornings at the north office.
    let res = b
        .post(
            "/staff/booking-setup/hours",
            &[
                ("csrf", &csrf),
                ("resource", &rivera_s),
                ("location", &north_s),
                ("weekday", "6"),
                ("start", "09:00"),
                ("end", "12:00"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    let saturday = slots(&app, "phone-consultation", "north", 21)
        .await
        .iter()
        .any(|s| {
            let t: jiff::Timestamp = s["start"].as_str().unwrap().parse().unwrap();
            t.to_zoned_datetime(app.state.config.clinic.time_zone.tz().clone())
                .weekday()
                == jiff::civil::Weekday::Saturday
        });
    assert!(saturday, "Saturday times are offered");

    // A new public type appears on /book; turning it off hides it.
    let res = b
        .post(
            "/staff/booking-setup/type",
            &[
                ("csrf", &csrf),
                ("slug", "follow-up"),
                ("name", "Follow-up visit"),
                ("description", "A shorter visit."),
                ("duration_minutes", "30"),
                ("buffer_before_minutes", "0"),
                ("buffer_after_minutes", "0"),
                ("step_minutes", "30"),
                ("min_notice_minutes", "60"),
                ("horizon_days", "30"),
                ("needs", "clinician"),
                ("public_booking", "yes"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert!(app.get_text("/book").await.1.contains("Follow-up visit"));
    let again = b
        .post(
            "/staff/booking-setup/type",
            &[
                ("csrf", &csrf),
                ("slug", "follow-up"),
                ("name", "Again"),
                ("duration_minutes", "30"),
                ("buffer_before_minutes", "0"),
                ("buffer_after_minutes", "0"),
                ("step_minutes", "30"),
                ("min_notice_minutes", "60"),
                ("horizon_days", "30"),
                ("needs", "clinician"),
            ],
        )
        .await;
    assert_eq!(again.status, 422);
    assert!(again.body.contains("already used"));
    let id = app
        .state
        .storage
        .booking_setup()
        .await
        .unwrap()
        .types
        .iter()
        .find(|t| t.slug == "follow-up")
        .unwrap()
        .id;
    let res = b
        .post(
            &format!("/staff/booking-setup/type/{id}"),
            &[
                ("csrf", &csrf),
                ("name", "Follow-up visit"),
                ("duration_minutes", "30"),
                ("buffer_before_minutes", "0"),
                ("buffer_after_minutes", "0"),
                ("step_minutes", "30"),
                ("min_notice_minutes", "60"),
                ("horizon_days", "30"),
                ("needs", "clinician"),
                ("public_booking", "yes"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    assert!(
        !app.get_text("/book").await.1.contains("Follow-up visit"),
        "not ticked 'in use'"
    );
    // Each change is in the audit trail.
    let db = raw(&app).await;
    let n: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM audit_log WHERE record_type = 'booking_setup'")
            .fetch_one(&db)
            .await
            .unwrap()
            .get("n");
    assert_eq!(n, 4);
}

#[tokio::test]
async fn the_footer_and_the_contact_page_list_the_locations_from_the_set_up() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    let (_, home) = app.get_text("/").await;
    assert!(home.contains("Riverbend main clinic") && home.contains("Riverbend north office"));
    assert!(home.contains("Map of Riverbend north office"));
    let (_, contact) = app.get_text("/contact").await;
    // The main clinic: the TMS chair 8-18 on weekdays spans the clinicians'
    // hours; the north office: Dr. Rivera 9-13 on Fridays.
    assert!(
        contact.contains("Monday–Friday: 8:00 AM–6:00 PM"),
        "{contact}"
    );
    assert!(contact.contains("Friday: 9:00 AM–1:00 PM"));
    // Taking the north office out of use takes it off every page.
    add_staff(&app, "desk@riverbend.example", Role::Coordinator).await;
    let mut b = Browser::new(&app);
    b.post(
        "/staff/login",
        &[("email", "desk@riverbend.example"), ("password", PASSWORD)],
    )
    .await;
    let csrf = b.get("/staff/booking-setup").await.csrf();
    let north = app
        .state
        .storage
        .booking_setup()
        .await
        .unwrap()
        .locations
        .into_iter()
        .find(|l| l.slug == "north")
        .unwrap();
    let res = b
        .post(
            &format!("/staff/booking-setup/location/{}", north.id),
            &[
                ("csrf", &csrf),
                ("name", &north.name),
                ("address", &north.address),
                ("phone", ""),
                ("map_url", &north.map_url),
                ("time_zone", &north.time_zone),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let (_, home) = app.get_text("/").await;
    assert!(!home.contains("Riverbend north office"));
    assert!(!app.get_text("/book").await.1.contains("north office"));
}

#[tokio::test]
async fn a_visitor_elsewhere_sees_each_time_in_their_own_zone_too() {
    let app = spawn_app().await;
    let (_, plain) = app.get_text("/book/phone-consultation/main").await;
    assert!(!plain.contains("yours)"));
    let (_, page) = app
        .get_text("/book/phone-consultation/main?tz=America/Los_Angeles")
        .await;
    assert!(page.contains("In brackets: your time (America/Los_Angeles)"));
    // Eastern 9:00 AM is Pacific 6:00 AM, whatever the week.
    let week = page.split("?week=").nth(1).map(|w| w[..10].to_string());
    let page = match (page.contains("9:00 AM ("), week) {
        (true, _) => page,
        (false, Some(w)) => {
            app.get_text(&format!(
                "/book/phone-consultation/main?week={w}&tz=America/Los_Angeles"
            ))
            .await
            .1
        }
        (false, None) => panic!("no times"),
    };
    let at_nine = page.split("9:00 AM (").nth(1).expect("a 9:00 AM time");
    assert!(
        at_nine.starts_with("Mon 6:00 AM yours)") || at_nine[4..].starts_with("6:00 AM yours)"),
        "{at_nine:.40}"
    );
    assert!(
        page.contains("tz=America/Los_Angeles\">Later times"),
        "week links keep the zone"
    );
    // A zone not on the list, or the clinic's own, changes nothing.
    for tz in ["Mars/Base", "America/New_York"] {
        let (_, page) = app
            .get_text(&format!("/book/phone-consultation/main?tz={tz}"))
            .await;
        assert!(!page.contains("yours)"), "{tz}");
    }
}

#[tokio::test]
async fn an_online_booking_is_counted_as_a_step_of_the_site_figures() {
    let app = spawn_app().await;
    let start = slots(&app, "phone-consultation", "main", 14).await[0]["start"]
        .as_str()
        .unwrap()
        .to_string();
    let res = post_booking(&app, &booking("phone-consultation", "main", &start)).await;
    assert_eq!(res.status(), 201);
    // Counted once the person confirms it (a hold is not yet a booking).
    confirm_booking(&app, "zoe@example.com").await;
    // A time in the past is refused: not a booking, not counted.
    let res = post_booking(
        &app,
        &booking("phone-consultation", "main", "2020-01-06T15:00:00Z"),
    )
    .await;
    assert_ne!(res.status(), 201);
    activepath::figures::flush(&app.state).await;
    let n: i64 = sqlx::query_scalar(
        "SELECT count FROM site_counts WHERE kind = 'step' AND name = 'booking_made'",
    )
    .fetch_one(&raw(&app).await)
    .await
    .unwrap();
    assert_eq!(n, 1);
}
