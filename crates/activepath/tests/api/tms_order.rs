//! Issue 19 §3: a course takes sessions only with informed consent, a
//! signed pre-TMS safety screen and a physician's order, and each session
//! is held to the order in force: intensity, pulses, sessions a day and
//! spacing.

use crate::helpers::*;
use crate::tms::{Tokens, all_no, fields, send, tokens};
use serde_json::{Value, json};

/// `days_ago` days before today, at `clock` (`HH:MM`) in the clinic's time
/// zone, as RFC 3339.
fn local(app: &TestApp, days_ago: i64, clock: &str) -> String {
    let tz = app.state.config.clinic.time_zone.tz();
    let day = activepath::time::date_in(app.clock.now(), tz)
        .checked_sub(jiff::Span::new().days(days_ago))
        .unwrap();
    let dt: jiff::civil::DateTime = format!("{day}T{clock}").parse().unwrap();
    dt.to_zoned_datetime(tz.clone())
        .unwrap()
        .timestamp()
        .to_string()
}

/// A patient with a course on `protocol` that started three days ago, with
/// its baseline PHQ-9 and a motor threshold two days ago, and nothing else:
/// no consent, screen or order. Its API path.
async fn bare_course(app: &TestApp, t: &Tokens, protocol: &str, target: Option<&str>) -> String {
    let (_, made) = send(
        app,
        &t.coordinator,
        "POST",
        "/api/v1/staff/patients",
        Some(json!({"name": "Noor Haddad", "date_of_birth": "1979-05-06"})),
    )
    .await;
    let patient = made["id"].as_i64().unwrap();
    let tz = app.state.config.clinic.time_zone.tz();
    let start = activepath::time::date_in(app.clock.now(), tz)
        .checked_sub(jiff::Span::new().days(3))
        .unwrap();
    let mut course = json!({"protocol": protocol, "start_date": start.to_string()});
    if let Some(target) = target {
        course["target"] = json!(target);
    }
    let (status, made) = send(
        app,
        &t.clinician,
        "POST",
        &format!("/api/v1/staff/patients/{patient}/courses"),
        Some(course),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let path = format!("/api/v1/staff/courses/{}", made["id"]);
    let two_days_ago = local(app, 2, "09:00");
    let (code, _) = send(
        app,
        &t.technician,
        "POST",
        &format!("{path}/check-ins"),
        Some(json!({"instrument": "phq9", "answers": [3, 3, 2, 2, 3, 2, 3, 2, 0], "taken_at": two_days_ago})),
    )
    .await;
    assert_eq!(code, 201);
    let (code, _) = send(
        app,
        &t.technician,
        "POST",
        &format!("{path}/motor-thresholds"),
        Some(json!({"determined_at": two_days_ago, "percent_output": 55, "method": "emg"})),
    )
    .await;
    assert_eq!(code, 201);
    path
}

fn session(started_at: &str, intensity: i64, pulses: i64) -> Value {
    json!({"started_at": started_at, "intensity_percent_mt": intensity, "pulses": pulses, "checklist": all_no(), "earplugs": true})
}

fn screen(yes: &[&str]) -> Value {
    let mut answers = serde_json::Map::new();
    for topic in [
        "seizures",
        "metal_in_head",
        "implanted_devices",
        "head_injury",
        "brain_surgery",
        "pregnancy",
        "previous_tms_problems",
        "bipolar",
    ] {
        answers.insert(topic.into(), json!(yes.contains(&topic)));
    }
    json!({ "answers": answers })
}

fn order(intensity: i64, pulses: i64, per_day: i64, spacing: i64) -> Value {
    json!({"intensity_percent_mt": intensity, "pulses": pulses, "sessions_per_day": per_day, "min_spacing_minutes": spacing, "planned_sessions": 36})
}

/// Consent and an all-"no" screen, then `order`.
async fn ready(app: &TestApp, t: &Tokens, path: &str, order: Value) {
    let today = local(app, 0, "00:00")[..10].to_string();
    let (code, _) = send(
        app,
        &t.coordinator,
        "POST",
        &format!("{path}/consent"),
        Some(json!({"consented_at": today, "consent_version": "TMS-2026-1"})),
    )
    .await;
    assert_eq!(code, 201);
    let (code, _) = send(
        app,
        &t.clinician,
        "POST",
        &format!("{path}/safety-screen"),
        Some(screen(&[])),
    )
    .await;
    assert_eq!(code, 201);
    let (code, body) = send(
        app,
        &t.clinician,
        "POST",
        &format!("{path}/order"),
        Some(order),
    )
    .await;
    assert_eq!(code, 201, "{body}");
}

/// Posts a session; the status and the refusal's first field.
async fn give(app: &TestApp, t: &Tokens, path: &str, body: Value) -> (u16, Option<String>, Value) {
    let (code, problem) = send(
        app,
        &t.technician,
        "POST",
        &format!("{path}/sessions"),
        Some(body),
    )
    .await;
    let field = fields(&problem).first().map(|f| f.to_string());
    (code, field, problem)
}

#[tokio::test]
async fn a_session_waits_for_consent_then_the_safety_screen_then_the_order() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let path = bare_course(&app, &t, "10hz", Some("left-dlpfc")).await;
    let at = local(&app, 1, "10:00");
    let (_, view) = send(&app, &t.technician, "GET", &path, None).await;
    assert_eq!(
        view["before_sessions"]["missing"],
        json!(["consent", "safety_screen", "order"])
    );

    let (code, field, problem) = give(&app, &t, &path, session(&at, 120, 3000)).await;
    assert_eq!((code, field.as_deref()), (422, Some("consent")));
    assert!(
        problem.to_string().contains("record the patient's consent"),
        "says what to record: {problem}"
    );
    let today = local(&app, 0, "00:00")[..10].to_string();
    let (code, _) = send(
        &app,
        &t.coordinator,
        "POST",
        &format!("{path}/consent"),
        Some(json!({"consented_at": today, "consent_version": "TMS-2026-1"})),
    )
    .await;
    assert_eq!(code, 201);

    let (code, field, problem) = give(&app, &t, &path, session(&at, 120, 3000)).await;
    assert_eq!((code, field.as_deref()), (422, Some("safety_screen")));
    assert!(problem.to_string().contains("signs the screen"));
    let (code, _) = send(
        &app,
        &t.clinician,
        "POST",
        &format!("{path}/safety-screen"),
        Some(screen(&[])),
    )
    .await;
    assert_eq!(code, 201);

    let (code, field, problem) = give(&app, &t, &path, session(&at, 120, 3000)).await;
    assert_eq!((code, field.as_deref()), (422, Some("order")));
    assert!(problem.to_string().contains("signs the order"));
    let (code, body) = send(
        &app,
        &t.clinician,
        "POST",
        &format!("{path}/order"),
        Some(order(120, 3000, 1, 0)),
    )
    .await;
    assert_eq!((code, body["version"].as_i64()), (201, Some(1)));

    let (code, field, _) = give(&app, &t, &path, session(&at, 120, 3000)).await;
    assert_eq!((code, field), (201, None));
    let (_, view) = send(&app, &t.technician, "GET", &path, None).await;
    assert_eq!(view["before_sessions"]["missing"], json!([]));
    assert_eq!(
        view["before_sessions"]["consent"]["consent_version"],
        "TMS-2026-1"
    );
    assert_eq!(view["before_sessions"]["consent"]["consented_at"], today);
    assert_eq!(
        view["before_sessions"]["consent"]["recorded_by"],
        "desk@riverbend.example"
    );

    // Each write is in the audit trail, signed by whoever made it.
    let db = raw(&app).await;
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE record_type = 'tms_course' \
         AND action IN ('record consent', 'sign safety screen', 'sign order', 'record session') ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(
        actions,
        [
            "record consent",
            "sign safety screen",
            "sign order",
            "record session"
        ]
    );
}

#[tokio::test]
async fn the_consent_comes_before_the_baseline_and_every_session_needs_all_three() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    // A course with nothing at all: consent is named before the baseline.
    let (_, made) = send(
        &app,
        &t.coordinator,
        "POST",
        "/api/v1/staff/patients",
        Some(json!({"name": "Ada Berg", "date_of_birth": "1970-01-01"})),
    )
    .await;
    let (_, course) = send(
        &app,
        &t.clinician,
        "POST",
        &format!("/api/v1/staff/patients/{}/courses", made["id"]),
        Some(json!({"protocol": "10hz", "start_date": local(&app, 3, "00:00")[..10]})),
    )
    .await;
    let path = format!("/api/v1/staff/courses/{}", course["id"]);
    let (code, field, _) = give(
        &app,
        &t,
        &path,
        session(&local(&app, 1, "10:00"), 120, 3000),
    )
    .await;
    assert_eq!((code, field.as_deref()), (422, Some("consent")));
}

#[tokio::test]
async fn who_may_record_consent_sign_the_screen_and_sign_the_order() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let path = bare_course(&app, &t, "10hz", Some("left-dlpfc")).await;
    let today = local(&app, 0, "00:00")[..10].to_string();
    let consent = json!({"consented_at": today, "consent_version": "v3"});
    for (what, body, allowed) in [
        ("consent", consent, ["clinician", "coordinator"].as_slice()),
        ("safety-screen", screen(&[]), ["clinician"].as_slice()),
        ("order", order(120, 3000, 1, 0), ["clinician"].as_slice()),
    ] {
        for (role, token) in [
            ("admin", &t.admin),
            ("technician", &t.technician),
            ("coordinator", &t.coordinator),
            ("clinician", &t.clinician),
        ] {
            let (code, _) = send(
                &app,
                token,
                "POST",
                &format!("{path}/{what}"),
                Some(body.clone()),
            )
            .await;
            let expected = if allowed.contains(&role) { 201 } else { 403 };
            assert_eq!(code, expected, "{role} {what}");
        }
        let (code, _) = send(
            &app,
            &t.clinician,
            "POST",
            &format!("/api/v1/staff/courses/999999/{what}"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(code, 404, "{what} of no course");
    }
    // Without a token: 401.
    let res = app
        .client
        .post(app.url(&format!("{path}/order")))
        .header("content-type", "application/json")
        .body(order(120, 3000, 1, 0).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
}

#[tokio::test]
async fn an_order_is_checked_field_by_field_and_each_change_is_a_new_version() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let path = bare_course(&app, &t, "10hz", None).await;
    let order_path = format!("{path}/order");
    let post = |body: Value| send(&app, &t.clinician, "POST", &order_path, Some(body));

    let (code, problem) = post(json!({"intensity_percent_mt": 121, "pulses": 0, "sessions_per_day": 11, "min_spacing_minutes": 1441, "planned_sessions": 0})).await;
    assert_eq!(code, 422);
    assert_eq!(
        fields(&problem),
        [
            "intensity_percent_mt",
            "pulses",
            "sessions_per_day",
            "min_spacing_minutes",
            "planned_sessions"
        ]
    );
    let (code, problem) = post(json!({})).await;
    assert_eq!(code, 422, "every field is required");
    assert_eq!(fields(&problem).len(), 5);
    // The course has no target: the order must name one.
    let (code, problem) = post(order(120, 3000, 1, 0)).await;
    assert_eq!((code, fields(&problem)), (422, vec!["target"]));
    let mut o = order(120, 3000, 1, 0);
    o["target"] = json!("the-left-side");
    let (code, problem) = post(o.clone()).await;
    assert_eq!((code, fields(&problem)), (422, vec!["target"]));
    let (code, problem) = post(json!({"intensity_percent_mt": 100, "pulses": 3000, "sessions_per_day": 1, "min_spacing_minutes": 0, "planned_sessions": 30, "target": "left-dlpfc", "dose": 3})).await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["dose"]),
        "unknown fields are refused"
    );

    let (code, made) = post(json!({"intensity_percent_mt": 100, "pulses": 3000, "sessions_per_day": 1, "min_spacing_minutes": 0, "planned_sessions": 30, "target": "left-dlpfc"})).await;
    assert_eq!((code, made["version"].as_i64()), (201, Some(1)));
    let (code, made) = post(json!({"intensity_percent_mt": 110, "pulses": 3000, "sessions_per_day": 1, "min_spacing_minutes": 0, "planned_sessions": 36, "target": "left-dlpfc"})).await;
    assert_eq!((code, made["version"].as_i64()), (201, Some(2)));

    let (_, view) = send(&app, &t.technician, "GET", &path, None).await;
    let b = &view["before_sessions"];
    assert_eq!(b["order"]["version"], 2, "the latest is in force");
    assert_eq!(b["order"]["intensity_percent_mt"], 110);
    assert_eq!(b["order"]["protocol"], "10hz");
    assert_eq!(b["order"]["target"], "left-dlpfc");
    assert_eq!(b["order"]["signed_by"], "doc@riverbend.example");
    assert_eq!(b["order_versions"].as_array().unwrap().len(), 2);
    assert_eq!(b["order_versions"][0]["intensity_percent_mt"], 100);
    assert_eq!(
        view["planned_sessions"], 36,
        "the order's number of sessions"
    );

    // Sessions are held to version 2.
    ready_consent_and_screen(&app, &t, &path).await;
    let (code, field, problem) = give(
        &app,
        &t,
        &path,
        session(&local(&app, 1, "10:00"), 115, 3000),
    )
    .await;
    assert_eq!(
        (code, field.as_deref()),
        (422, Some("intensity_percent_mt"))
    );
    assert!(problem.to_string().contains("110%"), "{problem}");
    let (code, ..) = give(
        &app,
        &t,
        &path,
        session(&local(&app, 1, "10:00"), 110, 3000),
    )
    .await;
    assert_eq!(code, 201);
}

async fn ready_consent_and_screen(app: &TestApp, t: &Tokens, path: &str) {
    let today = local(app, 0, "00:00")[..10].to_string();
    for (token, what, body) in [
        (
            &t.clinician,
            "consent",
            json!({"consented_at": today, "consent_version": "TMS-2026-1"}),
        ),
        (&t.clinician, "safety-screen", screen(&[])),
    ] {
        let (code, _) = send(app, token, "POST", &format!("{path}/{what}"), Some(body)).await;
        assert_eq!(code, 201);
    }
}

#[tokio::test]
async fn accelerated_itbs_at_120_percent_is_refused_against_its_90_percent_order() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let path = bare_course(&app, &t, "accelerated-itbs", Some("left-dlpfc")).await;
    ready(&app, &t, &path, order(90, 1800, 10, 50)).await;
    let first = local(&app, 1, "08:00");

    // Three sessions at 120%, one second apart: the first is refused.
    let (code, field, problem) = give(&app, &t, &path, session(&first, 120, 1800)).await;
    assert_eq!(
        (code, field.as_deref()),
        (422, Some("intensity_percent_mt"))
    );
    assert!(
        problem
            .to_string()
            .contains("above the 90% the physician ordered"),
        "{problem}"
    );
    // A technician cannot unlock it, with a deviation note or a reason.
    let mut with_note = session(&first, 120, 1800);
    with_note["deviations"] = json!("patient asked for more");
    let (_, field, _) = give(&app, &t, &path, with_note.clone()).await;
    assert_eq!(field.as_deref(), Some("intensity_percent_mt"));
    with_note["intensity_deviation_reason"] = json!("I think it is fine");
    let (code, field, _) = give(&app, &t, &path, with_note.clone()).await;
    assert_eq!(
        (code, field.as_deref()),
        (422, Some("intensity_deviation_reason"))
    );
    // A clinician may, with a reason kept in the session's deviations.
    with_note["intensity_deviation_reason"] =
        json!("Depth-adjusted: cortex 4 mm deeper than the motor cortex");
    let (code, _) = send(
        &app,
        &t.clinician,
        "POST",
        &format!("{path}/sessions"),
        Some(with_note),
    )
    .await;
    assert_eq!(code, 201);
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    let text = view["sessions"][0]["deviations"].as_str().unwrap();
    assert!(text.starts_with("patient asked for more"), "{text}");
    assert!(text.contains("above the ordered 90%") && text.contains("Depth-adjusted"));
    let (_, view) = send(&app, &t.technician, "GET", &path, None).await;
    assert!(
        view["sessions"][0]["deviations"].is_null(),
        "clinicians read it"
    );
    let db = raw(&app).await;
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT deviations FROM tms_sessions")
        .fetch_all(&db)
        .await
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&stored[0]).contains("Depth-adjusted"),
        "sealed"
    );

    // The next, one second later at 90%: too close to the first.
    let second = local(&app, 1, "08:00").replace("08:00:00", "08:00:01");
    let (code, field, problem) = give(&app, &t, &path, session(&second, 90, 1800)).await;
    assert_eq!((code, field.as_deref()), (422, Some("spacing")));
    assert!(
        problem.to_string().contains("8:00 AM") && problem.to_string().contains("50 minutes"),
        "names the other session's time: {problem}"
    );
    // One entered late, 49 minutes before the first: too close too.
    let (_, field, _) = give(&app, &t, &path, session(&local(&app, 1, "07:11"), 90, 1800)).await;
    assert_eq!(field.as_deref(), Some("spacing"));
    // 50 minutes after the first: given.
    let (code, field, _) = give(&app, &t, &path, session(&local(&app, 1, "08:50"), 90, 1800)).await;
    assert_eq!((code, field), (201, None));
}

#[tokio::test]
async fn a_10hz_session_of_30000_pulses_is_refused_and_110_percent_is_the_most() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let path = bare_course(&app, &t, "10hz", Some("left-dlpfc")).await;
    ready(&app, &t, &path, order(120, 3000, 1, 0)).await;
    let (code, field, problem) = give(
        &app,
        &t,
        &path,
        session(&local(&app, 1, "10:00"), 120, 30_000),
    )
    .await;
    assert_eq!((code, field.as_deref()), (422, Some("pulses")));
    assert!(problem.to_string().contains("at most 3300"), "{problem}");
    let (_, field, _) = give(
        &app,
        &t,
        &path,
        session(&local(&app, 1, "10:00"), 120, 3301),
    )
    .await;
    assert_eq!(field.as_deref(), Some("pulses"));
    let (code, ..) = give(
        &app,
        &t,
        &path,
        session(&local(&app, 1, "10:00"), 120, 3300),
    )
    .await;
    assert_eq!(code, 201);
}

#[tokio::test]
async fn a_once_a_day_order_takes_one_session_in_the_clinics_day() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let path = bare_course(&app, &t, "10hz", Some("left-dlpfc")).await;
    ready(&app, &t, &path, order(120, 3000, 1, 0)).await;
    let (code, ..) = give(
        &app,
        &t,
        &path,
        session(&local(&app, 2, "23:30"), 120, 3000),
    )
    .await;
    assert_eq!(code, 201);
    let (code, ..) = give(
        &app,
        &t,
        &path,
        session(&local(&app, 1, "09:00"), 120, 3000),
    )
    .await;
    assert_eq!(code, 201, "the next local day");
    let (code, field, problem) = give(
        &app,
        &t,
        &path,
        session(&local(&app, 1, "16:00"), 120, 3000),
    )
    .await;
    assert_eq!((code, field.as_deref()), (422, Some("spacing")));
    assert!(
        problem.to_string().contains("1 sessions are recorded")
            || problem.to_string().contains("ordered 1 a day"),
        "{problem}"
    );
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(view["sessions_completed"], 2);
}

#[tokio::test]
async fn twenty_sessions_posted_at_once_pass_the_spacing_no_more_often_than_ordered() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    // Two a day, no spacing: 20 posts of the same day, 2 given.
    let path = bare_course(&app, &t, "10hz", Some("left-dlpfc")).await;
    ready(&app, &t, &path, order(120, 3000, 2, 0)).await;
    let posts = (0..20).map(|i| {
        let at = local(&app, 1, &format!("10:{i:02}"));
        let (app, t, path) = (&app, &t, &path);
        async move { give(app, t, path, session(&at, 120, 3000)).await }
    });
    let answers = futures_util::future::join_all(posts).await;
    let given = answers.iter().filter(|(code, ..)| *code == 201).count();
    assert_eq!(
        given,
        2,
        "{:?}",
        answers
            .iter()
            .map(|a| (a.0, a.1.clone()))
            .collect::<Vec<_>>()
    );
    assert!(
        answers
            .iter()
            .all(|(code, field, _)| *code == 201 || field.as_deref() == Some("spacing"))
    );

    // Ten a day, 50 minutes apart: 20 posts within one minute, 1 given.
    let path = bare_course(&app, &t, "accelerated-itbs", Some("left-dlpfc")).await;
    ready(&app, &t, &path, order(90, 1800, 10, 50)).await;
    let posts = (0..20).map(|i| {
        let at = local(&app, 1, "11:00").replace("11:00:00", &format!("11:00:{i:02}"));
        let (app, t, path) = (&app, &t, &path);
        async move { give(app, t, path, session(&at, 90, 1800)).await }
    });
    let answers = futures_util::future::join_all(posts).await;
    assert_eq!(answers.iter().filter(|(code, ..)| *code == 201).count(), 1);
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(view["sessions_completed"], 1);
}

#[tokio::test]
async fn the_safety_screen_keeps_each_answer_shows_the_yes_answers_and_seals_the_notes() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let path = bare_course(&app, &t, "10hz", Some("left-dlpfc")).await;
    let screen_path = format!("{path}/safety-screen");
    let post = |body: Value| send(&app, &t.clinician, "POST", &screen_path, Some(body));
    // Every topic is required; an unknown one is refused.
    let mut missing = screen(&[]);
    missing["answers"]
        .as_object_mut()
        .unwrap()
        .remove("pregnancy");
    missing["answers"]
        .as_object_mut()
        .unwrap()
        .remove("bipolar");
    let (code, problem) = post(missing).await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["answers.pregnancy", "answers.bipolar"])
    );
    let mut unknown = screen(&[]);
    unknown["answers"]["tattoos"] = json!(true);
    let (code, problem) = post(unknown).await;
    assert_eq!((code, fields(&problem)), (422, vec!["tattoos"]));
    let (code, problem) = post(json!({"notes": "nothing"})).await;
    assert_eq!(code, 422);
    assert_eq!(fields(&problem).len(), 8);

    let mut yes = screen(&["metal_in_head", "bipolar"]);
    yes["notes"] = json!(
        "Titanium plate, right temporal: far from the left DLPFC coil site. Mood stable on lithium."
    );
    let (code, _) = post(yes).await;
    assert_eq!(code, 201);

    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    let s = &view["before_sessions"]["safety_screen"];
    assert_eq!(s["yes"], json!(["metal_in_head", "bipolar"]));
    assert_eq!(s["answers"]["seizures"], false);
    assert_eq!(s["answers"]["metal_in_head"], true);
    assert_eq!(
        s["answers"].as_object().unwrap().len(),
        8,
        "each answer kept"
    );
    assert_eq!(s["signed_by"], "doc@riverbend.example");
    assert!(s["notes"].as_str().unwrap().contains("Titanium plate"));
    for token in [&t.technician, &t.coordinator] {
        let (_, view) = send(&app, token, "GET", &path, None).await;
        let s = &view["before_sessions"]["safety_screen"];
        assert_eq!(
            s["yes"],
            json!(["metal_in_head", "bipolar"]),
            "at the chair too"
        );
        assert_eq!(
            (s["has_notes"].as_bool(), s["notes"].is_null()),
            (Some(true), true)
        );
    }
    // Neither the answers nor the notes are stored in the clear.
    let db = raw(&app).await;
    let (answers, notes): (Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT answers, notes FROM tms_safety_screens")
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(!String::from_utf8_lossy(&answers).contains("metal_in_head"));
    assert!(!String::from_utf8_lossy(&notes).contains("Titanium"));
    assert!(!everything_stored(&app).await.contains("Titanium plate"));
}

#[tokio::test]
async fn consent_is_a_date_not_in_the_future_with_the_forms_version() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let path = bare_course(&app, &t, "10hz", Some("left-dlpfc")).await;
    let consent_path = format!("{path}/consent");
    let post = |body: Value| send(&app, &t.coordinator, "POST", &consent_path, Some(body));
    let tomorrow = local(&app, -1, "12:00")[..10].to_string();
    let (code, problem) = post(json!({"consented_at": tomorrow, "consent_version": "v1"})).await;
    assert_eq!((code, fields(&problem)), (422, vec!["consented_at"]));
    let (code, problem) =
        post(json!({"consented_at": "2001-01-01", "consent_version": "v1"})).await;
    assert_eq!((code, fields(&problem)), (422, vec!["consented_at"]));
    let (code, problem) =
        post(json!({"consented_at": "yesterday", "consent_version": "two\nlines"})).await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["consented_at", "consent_version"])
    );
    let (code, problem) = post(json!({})).await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["consented_at", "consent_version"])
    );
    let yesterday = local(&app, 1, "12:00")[..10].to_string();
    let (code, _) =
        post(json!({"consented_at": yesterday, "consent_version": "TMS consent 2026-03"})).await;
    assert_eq!(code, 201);
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(
        view["before_sessions"]["consent"]["consented_at"],
        yesterday
    );
}

#[tokio::test]
async fn a_course_starts_with_its_signed_order_in_one_call() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let (_, made) = send(
        &app,
        &t.coordinator,
        "POST",
        "/api/v1/staff/patients",
        Some(json!({"name": "Lu Chen", "date_of_birth": "1985-02-03"})),
    )
    .await;
    let courses = format!("/api/v1/staff/patients/{}/courses", made["id"]);
    let start = local(&app, 3, "00:00")[..10].to_string();
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM tms_courses")
            .fetch_one(&raw(&app).await)
            .await
            .unwrap()
    };
    // A wrong order: each field named under order., and no course made.
    let (code, problem) = send(&app, &t.clinician, "POST", &courses, Some(json!({"protocol": "accelerated-itbs", "start_date": start, "target": "left-dlpfc", "order": {"intensity_percent_mt": 90, "pulses": 20000, "sessions_per_day": 10, "min_spacing_minutes": 50}}))).await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["order.pulses", "order.planned_sessions"])
    );
    assert_eq!(count().await, 0);
    // Only clinicians start courses (and so sign their orders).
    let good = json!({"protocol": "accelerated-itbs", "start_date": start, "target": "left-dlpfc", "order": {"intensity_percent_mt": 90, "pulses": 1800, "sessions_per_day": 10, "min_spacing_minutes": 50, "planned_sessions": 50}});
    for token in [&t.coordinator, &t.technician, &t.admin] {
        let (code, _) = send(&app, token, "POST", &courses, Some(good.clone())).await;
        assert_eq!(code, 403);
    }
    let (code, made) = send(&app, &t.clinician, "POST", &courses, Some(good)).await;
    assert_eq!(code, 201);
    let path = format!("/api/v1/staff/courses/{}", made["id"]);
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    let o = &view["before_sessions"]["order"];
    assert_eq!(
        (
            o["version"].as_i64(),
            o["intensity_percent_mt"].as_i64(),
            o["min_spacing_minutes"].as_i64()
        ),
        (Some(1), Some(90), Some(50))
    );
    assert_eq!(o["signed_by"], "doc@riverbend.example");
    assert_eq!(view["planned_sessions"], 50);
    assert_eq!(
        view["before_sessions"]["missing"],
        json!(["consent", "safety_screen"])
    );
    let db = raw(&app).await;
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE record_type = 'tms_course' AND record_id = $1 ORDER BY id",
    )
    .bind(made["id"].to_string())
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(actions[..2], ["create", "sign order"]);
}

#[tokio::test]
async fn the_portal_records_consent_signs_the_screen_and_the_order_with_errors_beside_fields() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    let t = tokens(&app).await;
    let api = bare_course(&app, &t, "10hz", Some("left-dlpfc")).await;
    let course = api.trim_start_matches("/api/v1").to_string();
    let before = format!("{course}/before");
    let mut doc = crate::tms_portal::signed_in(
        &app,
        "md@riverbend.example",
        activepath::staff::Role::Clinician,
    )
    .await;
    let mut tech = crate::tms_portal::signed_in(
        &app,
        "chair@riverbend.example",
        activepath::staff::Role::Technician,
    )
    .await;

    let page = doc.get(&course).await;
    assert!(
        page.body
            .contains("Before the first session, still needed:")
    );
    assert!(
        page.body.contains("The patient&#39;s consent")
            || page.body.contains("The patient's consent")
    );
    assert!(page.body.contains(&format!("href=\"{before}\"")));
    let page = doc.get(&before).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Not ready for sessions yet"));
    assert!(
        page.body.contains("value=\"3000\""),
        "the protocol's pulses to start from"
    );
    let csrf = page.csrf();

    // Consent: a date in the future is named beside its field, the input kept.
    let tomorrow = local(&app, -1, "12:00")[..10].to_string();
    let res = doc
        .post(
            &format!("{course}/consent"),
            &[
                ("csrf", &csrf),
                ("consented_at", &tomorrow),
                ("consent_version", "TMS-v9"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(
        res.body.contains("id=\"consented_at-error\"") && res.body.contains("value=\"TMS-v9\"")
    );
    let today = local(&app, 0, "00:00")[..10].to_string();
    let res = doc
        .post(
            &format!("{course}/consent"),
            &[
                ("csrf", &csrf),
                ("consented_at", &today),
                ("consent_version", "TMS-v9"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(
        res.location.as_deref(),
        Some(format!("{before}?done=consent").as_str())
    );

    // The screen: an unanswered question is named; the answers given are kept.
    let mut answers: Vec<(&str, &str)> = vec![("csrf", &csrf)];
    for (topic, _) in activepath::tms::orders::SCREEN_TOPICS {
        if topic != "bipolar" {
            answers.push((
                topic,
                if topic == "metal_in_head" {
                    "yes"
                } else {
                    "no"
                },
            ));
        }
    }
    answers.push(("notes", "Dental fillings only; no clips."));
    let res = doc.post(&format!("{course}/safety-screen"), &answers).await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("id=\"bipolar-error\""));
    assert!(
        res.body
            .contains("name=\"metal_in_head\" value=\"yes\" checked")
    );
    assert!(res.body.contains("Dental fillings only"), "the notes kept");
    answers.push(("bipolar", "no"));
    let res = doc.post(&format!("{course}/safety-screen"), &answers).await;
    assert_eq!(res.status, 303);
    let page = doc.get(&before).await;
    assert!(page.body.contains("id=\"screen-yes\""));
    assert!(
        page.body
            .contains("Is there any metal in the patient&#39;s head")
            || page
                .body
                .contains("Is there any metal in the patient's head")
    );
    assert!(
        page.body.contains("Dental fillings only"),
        "a clinician reads the review"
    );
    assert!(
        page.body
            .contains("Reviewed and signed by md@riverbend.example")
    );
    let seen = tech.get(&before).await;
    assert_eq!(seen.status, 200);
    assert!(
        seen.body.contains("id=\"screen-yes\""),
        "the technician sees the yes answers"
    );
    assert!(
        !seen.body.contains("Dental fillings only"),
        "but not the review"
    );
    assert!(
        !seen.body.contains("/order\"") && !seen.body.contains("/consent\""),
        "and no forms"
    );
    let tcsrf = seen.csrf();
    for what in ["order", "safety-screen", "consent"] {
        let res = tech
            .post(&format!("{course}/{what}"), &[("csrf", &tcsrf)])
            .await;
        assert_eq!(res.status, 403, "{what}");
    }

    // The order: above the ceiling is named; then signed, then changed.
    let order = |intensity: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("intensity_percent_mt", intensity.to_string()),
            ("pulses", "3000".to_string()),
            ("sessions_per_day", "1".to_string()),
            ("min_spacing_minutes", "0".to_string()),
            ("planned_sessions", "36".to_string()),
            ("target", "left-dlpfc".to_string()),
        ]
    };
    let form = order("500");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = doc.post(&format!("{course}/order"), &form).await;
    assert_eq!(res.status, 422);
    assert!(
        res.body.contains("id=\"intensity_percent_mt-error\"")
            && res.body.contains("value=\"500\"")
    );
    for intensity in ["110", "120"] {
        let form = order(intensity);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = doc.post(&format!("{course}/order"), &form).await;
        assert_eq!(res.status, 303);
    }
    let page = doc.get(&before).await;
    assert!(page.body.contains("Ready for sessions"));
    assert!(
        page.body
            .contains("Version 2, signed by md@riverbend.example")
    );
    assert!(page.body.contains("Earlier versions of the order") && page.body.contains("110%"));
    assert!(
        !doc.get(&course)
            .await
            .body
            .contains("Before the first session, still needed:")
    );

    // On the session screen, only a clinician may give a reason for more.
    assert!(
        doc.get(&format!("{course}/session"))
            .await
            .body
            .contains("name=\"intensity_deviation_reason\"")
    );
    assert!(
        !tech
            .get(&format!("{course}/session"))
            .await
            .body
            .contains("intensity_deviation_reason")
    );
}

#[tokio::test]
async fn a_reason_given_with_the_ordered_intensity_or_less_is_not_recorded() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let path = bare_course(&app, &t, "accelerated-itbs", Some("left-dlpfc")).await;
    ready(&app, &t, &path, order(90, 1800, 10, 50)).await;
    // A clinician at the ordered 90%, with a reason: given, and the reason
    // is not sealed into the deviations as "above the ordered" (it was not).
    let mut at_order = session(&local(&app, 1, "08:00"), 90, 1800);
    at_order["intensity_deviation_reason"] = json!("Depth-adjusted");
    let (code, _) = send(
        &app,
        &t.clinician,
        "POST",
        &format!("{path}/sessions"),
        Some(at_order),
    )
    .await;
    assert_eq!(code, 201);
    // A technician below the order, with a reason: ignored, not refused.
    let mut below = session(&local(&app, 1, "08:50"), 80, 1800);
    below["intensity_deviation_reason"] = json!("I think it is fine");
    let (code, field, _) = give(&app, &t, &path, below).await;
    assert_eq!((code, field), (201, None));
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    let sessions = view["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    for s in sessions {
        assert!(s["deviations"].is_null(), "{s}");
    }
    let db = raw(&app).await;
    let stored: Vec<Option<Vec<u8>>> = sqlx::query_scalar("SELECT deviations FROM tms_sessions")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(stored, vec![None, None]);
}
