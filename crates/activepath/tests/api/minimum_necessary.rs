//! Minimum necessary: a technician's calendar shows the TMS sessions they
//! give and every other booking only as busy; protocol deviations are read
//! by clinicians only; addresses need a domain name and names hold nothing
//! invisible, through the booking and patient APIs and forms.

use crate::helpers::*;
use crate::staff::{Browser, PASSWORD, Page};
use crate::tms::{course_for, fields, give_sessions, send, tokens};
use crate::tms_portal::{patient, signed_in, start_course};
use activepath::staff::Role;
use serde_json::{Value, json};

/// What the coordinator types for someone booked at the desk.
const RHEA: [(&str, &str); 4] = [
    ("name", "Rhea Quill"),
    ("email", "rhea.quill@example.org"),
    ("phone", "+1 555 010 9876"),
    ("reason", "Sleepless since the funeral"),
];

/// The first free time the staff booking page offers for `kind` at the
/// main clinic: its RFC 3339 start.
async fn first_free_time(b: &mut Browser<'_>, kind: &str) -> String {
    let page = b
        .get(&format!("/staff/calendar/book?type={kind}&location=main"))
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let key = "start=";
    let at = page.body.find(key).expect("a free time") + key.len();
    page.body[at..page.body[at..].find('"').unwrap() + at].to_string()
}

/// Books `kind` at `start` from the portal's form with `details`.
async fn book_at_desk(
    b: &mut Browser<'_>,
    kind: &str,
    start: &str,
    details: &[(&str, &str)],
) -> Page {
    let csrf = b.get("/staff/calendar").await.csrf();
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("type", kind),
        ("location", "main"),
        ("start", start),
        ("consent", "yes"),
    ];
    form.extend_from_slice(details);
    b.post("/staff/calendar/book/details", &form).await
}

#[tokio::test]
async fn a_technician_sees_tms_sessions_by_name_and_every_other_booking_only_as_busy() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    // Monday 8 March 2027, 10:00 in New York.
    app.clock.set("2027-03-08T15:00:00Z".parse().unwrap());
    let mut doc = signed_in(&app, "doc@riverbend.example", Role::Clinician).await;
    let uma = patient(&mut doc, "Uma Dahl", "uma.dahl@example.org").await;
    let course = start_course(&mut doc, uma, "10hz", Some("1"), "2027-03-09").await;
    let csrf = doc.get(&course).await.csrf();
    let res = doc
        .post(
            &format!("{course}/schedule"),
            &[
                ("csrf", &csrf),
                ("location", "main"),
                ("first_start", "2027-03-10T09:00"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);

    let mut desk = signed_in(&app, "desk@riverbend.example", Role::Coordinator).await;
    let start = first_free_time(&mut desk, "phone-consultation").await;
    let booked = book_at_desk(&mut desk, "phone-consultation", &start, &RHEA).await;
    assert_eq!(booked.status, 303, "{}", booked.body);
    let rhea_page = booked.location.unwrap();
    let rhea_uid = rhea_page.rsplit('/').next().unwrap().to_string();
    let week = "/staff/calendar?location=main&date=2027-03-08&view=week";
    let theirs = desk.get(week).await.body;
    assert!(
        theirs.contains("Rhea Quill"),
        "the coordinator sees who: {theirs}"
    );
    assert!(theirs.contains("Uma Dahl"));

    let mut tech = signed_in(&app, "tech@riverbend.example", Role::Technician).await;
    let calendar = tech.get(week).await;
    assert_eq!(calendar.status, 200);
    let html = &calendar.body;
    assert!(html.contains("Uma Dahl"), "the session's patient: {html}");
    assert!(
        html.contains(&format!("<a href=\"{course}\"><bdi>Uma Dahl</bdi></a>")),
        "linked to the course: {html}"
    );
    assert!(
        html.contains("Busy"),
        "the other booking takes time: {html}"
    );
    for (field, typed) in RHEA {
        assert!(!html.contains(typed), "no {field} in {html}");
    }
    assert!(!html.contains("Rhea"));
    assert!(!html.contains("Phone consultation"), "no type: {html}");
    assert!(!html.contains(&rhea_uid), "no link to the booking");
    assert!(!html.contains("uma.dahl@example.org"));

    // The booking's own pages are refused; nothing of it is shown.
    for path in [rhea_page.clone(), format!("{rhea_page}/move")] {
        let page = tech.get(&path).await;
        assert_eq!(page.status, 403, "{path}");
        assert!(!page.body.contains("Rhea"), "{path}");
    }
    let res = tech
        .post(
            &format!("{rhea_page}/cancel"),
            &[("csrf", &calendar.csrf()), ("sequence", "0")],
        )
        .await;
    assert_eq!(res.status, 403);

    // The session's page: the patient and the course, not how to reach
    // them.
    let db = raw(&app).await;
    let session_uid: String = sqlx::query_scalar(
        "SELECT a.uid FROM appointments a \
         JOIN tms_course_appointments t ON t.appointment_id = a.id LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let page = tech
        .get(&format!("/staff/appointments/{session_uid}"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Uma Dahl"));
    assert!(page.body.contains(&format!("href=\"{course}\"")));
    assert!(
        !page.body.contains("uma.dahl@example.org"),
        "no contact details: {}",
        page.body
    );
    let whole = desk
        .get(&format!("/staff/appointments/{session_uid}"))
        .await;
    assert!(whole.body.contains("uma.dahl@example.org"));

    // The trail holds the session the technician opened, and no look at
    // the booking they were refused.
    let rows = app.state.storage.audit_rows(0, 1000).await.unwrap();
    let by_tech: Vec<(&str, &str, &str)> = rows
        .iter()
        .filter(|r| r.entry.actor == "tech@riverbend.example")
        .map(|r| {
            (
                r.entry.action.as_str(),
                r.entry.record_type.as_str(),
                r.entry.record_id.as_str(),
            )
        })
        .collect();
    assert!(by_tech.contains(&("view", "appointment", session_uid.as_str())));
    assert!(
        by_tech
            .iter()
            .any(|(a, t, _)| (*a, *t) == ("view", "calendar"))
    );
    assert!(
        !by_tech.iter().any(|(_, _, id)| *id == rhea_uid),
        "{by_tech:?}"
    );
}

#[tokio::test]
async fn protocol_deviations_are_read_by_clinicians_only() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    let t = tokens(&app).await;
    let (_, path) = course_for(&app, &t, "Gus Lind", "10hz").await;
    give_sessions(&app, &t, &path, 0).await;
    let text = "Stopped 40 s early: the patient asked for a pause";
    let (code, _) = send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/sessions"),
        Some(json!({
            "started_at": app.clock.now().to_string(), "intensity_percent_mt": 120,
            "pulses": 3000, "checklist": crate::tms::all_no(), "earplugs": true, "deviations": text,
        })),
    )
    .await;
    assert_eq!(code, 201, "a technician records them");
    let page_path = path.replace("/api/v1/staff/", "/staff/");

    for (email, token, reads) in [
        ("doc@riverbend.example", &t.clinician, true),
        ("desk@riverbend.example", &t.coordinator, false),
        ("tech@riverbend.example", &t.technician, false),
    ] {
        let (code, view) = send(&app, token, "GET", &path, None).await;
        assert_eq!(code, 200);
        let session = &view["sessions"][0];
        assert_eq!(session["has_deviations"], true, "{email}");
        assert_eq!(
            session["deviations"],
            if reads { json!(text) } else { Value::Null },
            "{email}"
        );
        assert_eq!(view.to_string().contains("pause"), reads, "{email}");

        let mut b = Browser::new(&app);
        let res = b
            .post("/staff/login", &[("email", email), ("password", PASSWORD)])
            .await;
        assert_eq!(res.location.as_deref(), Some("/staff"));
        let page = b.get(&page_path).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.body.contains("asked for a pause"), reads, "{email}");
        assert_eq!(
            page.body
                .contains("Deviation recorded — visible to clinicians"),
            !reads,
            "{email}"
        );
    }
}

#[tokio::test]
async fn addresses_need_a_domain_name_and_names_nothing_invisible_through_the_apis() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let today = activepath::time::date_in(app.clock.now(), app.state.config.clinic.time_zone.tz());
    let to = today.checked_add(jiff::Span::new().days(14)).unwrap();
    let res = app
        .get(&format!(
            "/api/v1/slots?appointment_type=phone-consultation&location=main&from={today}&to={to}"
        ))
        .await;
    let slots: Value = res.json().await.unwrap();
    let start = slots["slots"][0]["start"].as_str().unwrap().to_string();
    let booking = |name: &str, email: &str| {
        json!({
            "appointment_type": "phone-consultation", "location": "main", "start": start,
            "name": name, "email": email, "phone": "+1 555 010 4477",
            "reason": "Low mood since spring", "consent": true,
        })
    };
    let zero_width = [
        "Zoë\u{200B} Example",
        "Zoë\u{200D}Example",
        "\u{FEFF}Zoë Example",
        "Zoë Ex\u{00AD}ample",
        "Zoë Example\u{2060}",
        "Zoë \u{3164}",
        "Zoë\u{E0041} Example",
    ];
    let no_domain = [
        "someone@127.0.0.1",
        "a@[127.0.0.1]",
        "a@localhost",
        "a@[IPv6:::1]",
        "a@10.1",
    ];
    for (name, email, expected) in zero_width
        .iter()
        .map(|n| (*n, "zoe@example.com", vec!["name"]))
        .chain(no_domain.iter().map(|e| ("Zoë Example", *e, vec!["email"])))
        .chain([("Zoë\u{200B}", "someone@127.0.0.1", vec!["name", "email"])])
    {
        let res = app
            .client
            .post(app.url("/api/v1/bookings"))
            .header("content-type", "application/json")
            .body(booking(name, email).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{name:?} {email}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(fields(&problem), expected, "{name:?} {email}: {problem}");

        let (code, problem) = send(
            &app,
            &t.coordinator,
            "POST",
            "/api/v1/staff/patients",
            Some(json!({"name": name, "email": email, "date_of_birth": "1980-01-01"})),
        )
        .await;
        assert_eq!(code, 422, "{name:?} {email}");
        assert_eq!(fields(&problem), expected, "{name:?} {email}: {problem}");
    }
    let nothing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM appointments")
        .fetch_one(&raw(&app).await)
        .await
        .unwrap();
    assert_eq!(nothing, 0);

    // Names of the scripts that are written with a joiner still pass.
    let (code, made) = send(
        &app,
        &t.coordinator,
        "POST",
        "/api/v1/staff/patients",
        Some(json!({
            "name": "علی\u{200C}رضا Karimi", "email": "alireza@example.ir",
            "date_of_birth": "1980-01-01",
        })),
    )
    .await;
    assert_eq!(code, 201, "{made}");
}

#[tokio::test]
async fn the_portals_forms_refuse_a_zero_width_name_and_keep_the_rest() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    let mut desk = signed_in(&app, "desk@riverbend.example", Role::Coordinator).await;

    // A booking at the desk.
    let start = first_free_time(&mut desk, "phone-consultation").await;
    let mut typed = RHEA;
    typed[0].1 = "Rhea\u{200B} Quill";
    let page = book_at_desk(&mut desk, "phone-consultation", &start, &typed).await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains("id=\"name-error\""), "{}", page.body);
    assert!(!page.body.contains("id=\"email-error\""));
    assert!(
        page.body
            .contains("This contains characters that cannot be used here.")
    );
    for (field, value) in &RHEA[1..] {
        assert!(page.body.contains(value), "{field} kept");
    }
    typed[1].1 = "rhea@127.0.0.1";
    let page = book_at_desk(&mut desk, "phone-consultation", &start, &typed).await;
    assert_eq!(page.status, 422);
    assert!(page.body.contains("id=\"email-error\""));

    // A patient record.
    let csrf = desk.get("/staff/patients/new").await.csrf();
    let page = desk
        .post(
            "/staff/patients/new",
            &[
                ("csrf", &csrf),
                ("name", "Rhea\u{2060}Quill"),
                ("email", "rhea.quill@example.org"),
                ("phone", "+1 555 010 9876"),
                ("date_of_birth", "1981-03-04"),
                ("referring_provider", "Dr. Amos Hale"),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    assert!(page.body.contains("id=\"name-error\""), "{}", page.body);
    assert!(
        page.body.contains("hidden formatting marks"),
        "{}",
        page.body
    );
    for kept in [
        "rhea.quill@example.org",
        "+1 555 010 9876",
        "1981-03-04",
        "Dr. Amos Hale",
    ] {
        assert!(page.body.contains(kept), "{kept} kept");
    }
    let records: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM patients")
        .fetch_one(&raw(&app).await)
        .await
        .unwrap();
    assert_eq!(records, 0);
}
