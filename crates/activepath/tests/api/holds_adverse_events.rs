//! Holds that mean something (issue 19 §2): a sealed note to clear a hold,
//! the medical director for a hold opened by a seizure, fainting or other
//! serious adverse event, the motor threshold determined again as a hard
//! stop, the structured adverse-event record and its list for medical
//! directors, and the medical-director mark set in the portal and on the
//! command line.

use crate::helpers::*;
use crate::staff::{Browser, PASSWORD, add_staff, api_token};
use crate::tms::{
    Tokens, all_no, course_for, fields, give_sessions, medical_director_token, send, tokens,
};
use crate::tms_portal::{signed_in, start_course};
use activepath::staff::Role;
use jiff::SignedDuration;
use serde_json::{Value, json};

/// A session now, with `checklist` and `effects`.
fn session(app: &TestApp, checklist: Value, effects: Value) -> Value {
    json!({"started_at": app.clock.now().to_string(), "intensity_percent_mt": 120, "pulses": 3000, "side_effects": effects, "checklist": checklist, "earplugs": true})
}

fn note(text: &str) -> Option<Value> {
    Some(json!({ "note": text }))
}

/// The hard stop's field and message of a refused session.
fn stop(problem: &Value) -> (String, String) {
    (
        problem["errors"][0]["field"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        problem["errors"][0]["detail"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

/// A day on: every session attempt here is on a day of its own, so only
/// the stop a test is about can refuse it.
fn next_day(app: &TestApp) {
    app.clock.advance(SignedDuration::from_hours(24));
}

/// A checklist "yes" to `question` on the course at `path` a day on: its
/// hold's id.
async fn checklist_hold(app: &TestApp, t: &Tokens, path: &str, question: &str) -> i64 {
    next_day(app);
    let mut yes = all_no();
    yes[question] = json!(true);
    let (code, made) = send(
        app,
        &t.technician,
        "POST",
        &format!("{path}/sessions"),
        Some(session(app, yes, json!([]))),
    )
    .await;
    assert_eq!(code, 422, "{made}");
    let (_, view) = send(app, &t.clinician, "GET", path, None).await;
    view["open_holds"][0]["id"].as_i64().expect("a hold")
}

/// A session with a seizure (or fainting) a day on: its hold's id.
async fn serious_hold(app: &TestApp, t: &Tokens, path: &str, effect: &str) -> i64 {
    next_day(app);
    let (code, made) = send(
        app,
        &t.technician,
        "POST",
        &format!("{path}/sessions"),
        Some(session(app, all_no(), json!([effect]))),
    )
    .await;
    assert_eq!(code, 201, "{made}");
    made["hold_id"].as_i64().expect("a hold")
}

async fn threshold(app: &TestApp, t: &Tokens, path: &str) {
    let (code, made) = send(
        app,
        &t.technician,
        "POST",
        &format!("{path}/motor-thresholds"),
        Some(json!({"determined_at": app.clock.now().to_string(), "percent_output": 55, "method": "emg"})),
    )
    .await;
    assert_eq!(code, 201, "{made}");
}

/// A session a day on, with nothing to note.
async fn session_code(app: &TestApp, t: &Tokens, path: &str) -> (u16, Value) {
    next_day(app);
    send(
        app,
        &t.technician,
        "POST",
        &format!("{path}/sessions"),
        Some(session(app, all_no(), json!([]))),
    )
    .await
}

#[tokio::test]
async fn clearing_a_hold_needs_a_note_and_a_serious_events_hold_the_medical_director() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let director = medical_director_token(&app).await;
    let (_, path) = course_for(&app, &t, "Hal Moss", "10hz").await;
    give_sessions(&app, &t, &path, 1).await;

    // A checklist hold: a note is required, JSON only; clinicians clear it.
    let hold = checklist_hold(&app, &t, &path, "sleep_loss").await;
    let clear = format!("{path}/holds/{hold}/clear");
    for body in [None, note(""), note("   \n ")] {
        let (code, problem) = send(&app, &t.clinician, "POST", &clear, body).await;
        assert_eq!((code, fields(&problem)), (422, vec!["note"]), "{problem}");
    }
    let (code, problem) = send(
        &app,
        &t.clinician,
        "POST",
        &clear,
        Some(json!({"note": "ok", "by": "me"})),
    )
    .await;
    assert_eq!((code, fields(&problem)), (422, vec!["by"]));
    let (code, problem) = send(&app, &t.clinician, "POST", &clear, note(&"x".repeat(2001))).await;
    assert_eq!((code, fields(&problem)), (422, vec!["note"]));
    let res = app
        .client
        .post(app.url(&clear))
        .bearer_auth(&t.clinician)
        .header("content-type", "text/plain")
        .body("slept badly, reviewed")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415, "only JSON");
    for token in [&t.coordinator, &t.technician, &t.admin] {
        assert_eq!(
            send(&app, token, "POST", &clear, note("reviewed")).await.0,
            403
        );
    }
    let secret = "Slept 3 hours; no other risk; reviewed with Dr Ames";
    assert_eq!(
        send(&app, &t.clinician, "POST", &clear, note(secret))
            .await
            .0,
        200
    );

    // The note is sealed: not in the database in the clear.
    let db = raw(&app).await;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT clear_note FROM tms_holds WHERE id = $1")
        .bind(hold)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(!stored.is_empty());
    assert!(
        !stored.windows(11).any(|w| w == b"Slept 3 hou"),
        "sealed, not in the clear"
    );
    assert!(!everything_stored(&app).await.contains("Dr Ames"));

    // A seizure's hold, and a fainting's: the medical director's alone.
    for effect in ["seizure", "fainting"] {
        app.clock.advance(SignedDuration::from_mins(5));
        threshold(&app, &t, &path).await;
        let hold = serious_hold(&app, &t, &path, effect).await;
        let clear = format!("{path}/holds/{hold}/clear");
        let (code, problem) = send(&app, &t.clinician, "POST", &clear, note("fine")).await;
        assert_eq!(code, 403);
        assert_eq!(
            problem["title"],
            "only a medical director may clear a hold opened by a seizure, fainting or other serious adverse event"
        );
        for token in [&t.coordinator, &t.technician, &t.admin] {
            assert_eq!(send(&app, token, "POST", &clear, note("fine")).await.0, 403);
        }
        // Still a note first.
        let (code, problem) = send(&app, &director, "POST", &clear, None).await;
        assert_eq!((code, fields(&problem)), (422, vec!["note"]));
        assert_eq!(
            send(
                &app,
                &director,
                "POST",
                &clear,
                note("EEG booked; neurology agrees to resume")
            )
            .await
            .0,
            200
        );
    }
    // A checklist "yes" to a seizure since the last session: the same.
    threshold(&app, &t, &path).await;
    let hold = checklist_hold(&app, &t, &path, "seizure").await;
    let clear = format!("{path}/holds/{hold}/clear");
    assert_eq!(
        send(&app, &t.clinician, "POST", &clear, note("fine"))
            .await
            .0,
        403
    );
    assert_eq!(
        send(&app, &director, "POST", &clear, note("reviewed"))
            .await
            .0,
        200
    );
    // The medical director clears an ordinary hold too.
    threshold(&app, &t, &path).await;
    let hold = checklist_hold(&app, &t, &path, "alcohol").await;
    assert_eq!(
        send(
            &app,
            &director,
            "POST",
            &format!("{path}/holds/{hold}/clear"),
            note("reviewed")
        )
        .await
        .0,
        200
    );

    let clear_actions: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE record_type = 'tms_course' AND action = 'clear hold'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(clear_actions, 5, "every clearing is in the audit trail");
}

#[tokio::test]
async fn a_motor_threshold_from_before_a_medication_change_a_seizure_or_a_week_stops_the_session() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let director = medical_director_token(&app).await;
    let (_, path) = course_for(&app, &t, "Ida Marsh", "10hz").await;
    give_sessions(&app, &t, &path, 1).await;
    let due = |view: &Value| {
        view["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "motor-threshold-due")
    };
    let date_of = |at: jiff::Timestamp| {
        at.to_zoned_datetime(app.state.config.clinic.time_zone.tz().clone())
            .date()
            .to_string()
    };

    // (a) A "yes" to a medication change.
    let determined = app.clock.now();
    app.clock.advance(SignedDuration::from_mins(5));
    let hold = checklist_hold(&app, &t, &path, "medication_change").await;
    assert_eq!(
        send(
            &app,
            &t.clinician,
            "POST",
            &format!("{path}/holds/{hold}/clear"),
            note("new dose reviewed")
        )
        .await
        .0,
        200
    );
    let (code, problem) = session_code(&app, &t, &path).await;
    assert_eq!(code, 422);
    let (field, message) = stop(&problem);
    assert_eq!(field, "motor_threshold");
    assert!(message.contains(&date_of(determined)), "{message}");
    assert!(message.contains("medication change"), "{message}");
    assert!(
        message.contains("re-determine the motor threshold before this session"),
        "{message}"
    );
    assert!(due(&send(&app, &t.clinician, "GET", &path, None).await.1));
    threshold(&app, &t, &path).await;
    assert!(!due(&send(&app, &t.clinician, "GET", &path, None).await.1));
    app.clock.advance(SignedDuration::from_mins(1));
    assert_eq!(
        session_code(&app, &t, &path).await.0,
        201,
        "a new threshold unblocks"
    );

    // (b) A seizure recorded as a session's side effect.
    app.clock.advance(SignedDuration::from_mins(5));
    let hold = serious_hold(&app, &t, &path, "seizure").await;
    assert_eq!(
        send(
            &app,
            &director,
            "POST",
            &format!("{path}/holds/{hold}/clear"),
            note("resume")
        )
        .await
        .0,
        200
    );
    app.clock.advance(SignedDuration::from_mins(5));
    let (code, problem) = session_code(&app, &t, &path).await;
    let (field, message) = stop(&problem);
    assert_eq!((code, field.as_str()), (422, "motor_threshold"));
    assert!(message.contains("seizure or fainting"), "{message}");
    assert!(
        message.contains("re-determine the motor threshold"),
        "{message}"
    );
    assert!(due(&send(&app, &t.clinician, "GET", &path, None).await.1));
    threshold(&app, &t, &path).await;
    app.clock.advance(SignedDuration::from_mins(1));
    assert_eq!(session_code(&app, &t, &path).await.0, 201);

    // (b) A fainting recorded as an adverse event (after the threshold).
    app.clock.advance(SignedDuration::from_mins(5));
    let (code, made) = send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/adverse-events"),
        Some(json!({"kind": "fainting", "onset_at": app.clock.now().to_string(), "description": "Fainted in the waiting room", "actions": ["observed"], "outcome": "resolved"})),
    )
    .await;
    assert_eq!(code, 201, "{made}");
    let hold = made["hold_id"].as_i64().unwrap();
    assert_eq!(
        send(
            &app,
            &director,
            "POST",
            &format!("{path}/holds/{hold}/clear"),
            note("vasovagal")
        )
        .await
        .0,
        200
    );
    let (code, problem) = session_code(&app, &t, &path).await;
    assert_eq!((code, stop(&problem).0.as_str()), (422, "motor_threshold"));
    threshold(&app, &t, &path).await;
    app.clock.advance(SignedDuration::from_mins(1));
    assert_eq!(session_code(&app, &t, &path).await.0, 201);

    // (c) More than 7 days old (the default).
    let determined = app.clock.now();
    threshold(&app, &t, &path).await;
    app.clock.advance(SignedDuration::from_hours(24 * 6));
    assert_eq!(
        session_code(&app, &t, &path).await.0,
        201,
        "7 days is still valid"
    );
    app.clock.advance(SignedDuration::from_mins(2));
    let (code, problem) = session_code(&app, &t, &path).await;
    let (field, message) = stop(&problem);
    assert_eq!((code, field.as_str()), (422, "motor_threshold"));
    assert!(message.contains("more than 7 days old"), "{message}");
    assert!(message.contains(&date_of(determined)), "{message}");
    assert!(due(&send(&app, &t.clinician, "GET", &path, None).await.1));
    threshold(&app, &t, &path).await;
    app.clock.advance(SignedDuration::from_mins(1));
    assert_eq!(session_code(&app, &t, &path).await.0, 201);
}

#[tokio::test]
async fn the_clinics_motor_threshold_valid_days_is_respected() {
    let app = spawn_app_with(|c| c.tms.motor_threshold_valid_days = 3).await;
    let t = tokens(&app).await;
    let (_, path) = course_for(&app, &t, "Jo Reyes", "itbs").await;
    give_sessions(&app, &t, &path, 1).await;
    app.clock.advance(SignedDuration::from_hours(24 * 2 + 1));
    let (code, problem) = session_code(&app, &t, &path).await;
    let (field, message) = stop(&problem);
    assert_eq!((code, field.as_str()), (422, "motor_threshold"));
    assert!(message.contains("more than 3 days old"), "{message}");
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert!(
        view["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "motor-threshold-due"),
        "the alert follows the setting: {view}"
    );
}

#[tokio::test]
async fn a_threshold_records_its_method_device_and_coil() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    let t = tokens(&app).await;
    let (_, path) = course_for(&app, &t, "Kai Lund", "10hz").await;
    let mt = format!("{path}/motor-thresholds");
    let now = app.clock.now().to_string();
    let (code, problem) = send(
        &app,
        &t.technician,
        "POST",
        &mt,
        Some(json!({"determined_at": now, "percent_output": 52})),
    )
    .await;
    assert_eq!((code, fields(&problem)), (422, vec!["method"]));
    let (code, problem) = send(
        &app,
        &t.technician,
        "POST",
        &mt,
        Some(json!({"determined_at": now, "percent_output": 52, "method": "guess", "device": "x".repeat(81), "coil": "a\nb"})),
    )
    .await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["method", "device", "coil"])
    );
    let (code, _) = send(
        &app,
        &t.technician,
        "POST",
        &mt,
        Some(json!({"determined_at": now, "percent_output": 52, "method": "visual", "device": "Chair 2 stimulator", "coil": "Figure-8 #3"})),
    )
    .await;
    assert_eq!(code, 201);
    let (_, view) = send(&app, &t.technician, "GET", &path, None).await;
    let m = &view["motor_thresholds"][0];
    assert_eq!(
        (&m["method"], &m["device"], &m["coil"]),
        (
            &json!("visual"),
            &json!("Chair 2 stimulator"),
            &json!("Figure-8 #3")
        )
    );
    // A threshold recorded before the method was asked has none.
    let db = raw(&app).await;
    sqlx::query("UPDATE tms_motor_thresholds SET method = NULL, device = NULL, coil = NULL")
        .execute(&db)
        .await
        .unwrap();
    let (_, view) = send(&app, &t.technician, "GET", &path, None).await;
    assert!(view["motor_thresholds"][0]["method"].is_null());
    let course = format!("/staff/courses/{}", path.rsplit('/').next().unwrap());
    let mut tech = signed_in(&app, "tech2@riverbend.example", Role::Technician).await;
    let page = tech.get(&course).await;
    assert!(page.body.contains("Method: not recorded"), "{}", page.body);
    // The portal's form: method required, the error beside it, input kept.
    let local = app
        .clock
        .now()
        .to_zoned_datetime(app.state.config.clinic.time_zone.tz().clone())
        .strftime("%Y-%m-%dT%H:%M")
        .to_string();
    let res = tech
        .post(
            &format!("{course}/motor-thresholds"),
            &[
                ("csrf", &page.csrf()),
                ("determined_at", &local),
                ("percent_output", "53"),
                ("device", "Chair 1"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("id=\"method-error\""));
    assert!(res.body.contains("value=\"Chair 1\""), "input kept");
    let res = tech
        .post(
            &format!("{course}/motor-thresholds"),
            &[
                ("csrf", &page.csrf()),
                ("determined_at", &local),
                ("percent_output", "53"),
                ("method", "emg"),
                ("device", "Chair 1"),
                ("coil", "Cool-B65"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    let page = tech.get(&course).await;
    assert!(page.body.contains("Method: EMG (muscle signal)"));
    assert!(page.body.contains("Chair 1 · Cool-B65"));

    // Eight days on, the session screen refuses and says what to do.
    send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/check-ins"),
        Some(json!({"instrument": "phq9", "answers": [3, 3, 2, 2, 3, 2, 3, 2, 0]})),
    )
    .await;
    app.clock.advance(SignedDuration::from_hours(24 * 8));
    let local = app
        .clock
        .now()
        .to_zoned_datetime(app.state.config.clinic.time_zone.tz().clone())
        .strftime("%Y-%m-%dT%H:%M")
        .to_string();
    // Signed in again: the portal's session has lapsed meanwhile.
    let mut tech = Browser::new(&app);
    tech.post(
        "/staff/login",
        &[("email", "tech2@riverbend.example"), ("password", PASSWORD)],
    )
    .await;
    let csrf = tech.get(&format!("{course}/session")).await.csrf();
    let mut form = vec![
        ("csrf", csrf.as_str()),
        ("started_at", local.as_str()),
        ("intensity_percent_mt", "120"),
        ("pulses", "3000"),
        ("earplugs", "yes"),
    ];
    for q in [
        "medication_change",
        "sleep_loss",
        "alcohol",
        "new_implant",
        "pregnancy",
        "seizure",
        "drugs_or_stimulants",
        "head_injury",
        "suicidal_thoughts",
        "mania_signs",
    ] {
        form.push((q, "no"));
    }
    let res = tech.post(&format!("{course}/session"), &form).await;
    assert_eq!(res.status, 422);
    assert!(
        res.body.contains("A motor threshold is needed."),
        "{}",
        res.body
    );
    assert!(
        res.body.contains(
            "is more than 7 days old: re-determine the motor threshold before this session"
        )
    );
}

/// An adverse event as the API takes it.
fn event(app: &TestApp, kind: &str) -> Value {
    json!({
        "kind": kind,
        "onset_at": app.clock.now().to_string(),
        "duration_s": 45,
        "description": "Generalised tonic-clonic seizure 2 minutes into the session; recovered in 10 minutes",
        "actions": ["first-aid", "recovery-position", "ems-called"],
        "outcome": "hospitalised",
    })
}

#[tokio::test]
async fn an_adverse_event_holds_the_course_and_only_medical_directors_list_it() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let director = medical_director_token(&app).await;
    let (patient, path) = course_for(&app, &t, "Lena Voss", "10hz").await;
    let (_, other) = course_for(&app, &t, "Max Hart", "10hz").await;
    give_sessions(&app, &t, &path, 1).await;
    give_sessions(&app, &t, &other, 1).await;
    let events = format!("{path}/adverse-events");
    let (_, view) = send(&app, &t.clinician, "GET", &other, None).await;
    let session_of_other = view["sessions"][0]["id"].as_i64().unwrap();
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    let session = view["sessions"][0]["id"].as_i64().unwrap();

    // Each bad field is named; nothing is stored.
    let (code, problem) = send(
        &app,
        &t.technician,
        "POST",
        &events,
        Some(json!({"kind": "headache", "onset_at": "yesterday", "duration_s": -1, "actions": ["prayer"], "outcome": "fine", "reported_to_medwatch_at": "soon"})),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        fields(&problem),
        [
            "kind",
            "onset_at",
            "duration_s",
            "description",
            "actions[0]",
            "outcome",
            "reported_to_medwatch_at"
        ]
    );
    let (code, problem) = send(&app, &t.technician, "POST", &events, Some(json!({}))).await;
    assert_eq!(code, 422);
    assert_eq!(
        fields(&problem),
        ["kind", "onset_at", "description", "actions", "outcome"]
    );
    let mut wrong = event(&app, "seizure");
    wrong["session_id"] = json!(session_of_other);
    let (code, problem) = send(&app, &t.technician, "POST", &events, Some(wrong)).await;
    assert_eq!((code, fields(&problem)), (422, vec!["session_id"]));
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert!(
        view["open_holds"].as_array().unwrap().is_empty(),
        "nothing held"
    );
    for token in [&t.coordinator, &t.admin] {
        assert_eq!(
            send(&app, token, "POST", &events, Some(event(&app, "seizure")))
                .await
                .0,
            403
        );
    }
    assert_eq!(
        send(
            &app,
            &t.technician,
            "POST",
            "/api/v1/staff/courses/999999/adverse-events",
            Some(event(&app, "seizure"))
        )
        .await
        .0,
        404
    );

    // Recorded by the technician at the chair: the course is held, with an
    // urgent case for the clinicians.
    let mut first = event(&app, "seizure");
    first["session_id"] = json!(session);
    let (code, made) = send(&app, &t.technician, "POST", &events, Some(first)).await;
    assert_eq!(code, 201, "{made}");
    let hold = made["hold_id"].as_i64().unwrap();
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(view["open_holds"][0]["id"], hold);
    assert_eq!(view["open_holds"][0]["reason"], "adverse-event");
    let case = view["open_holds"][0]["case_id"].as_i64().unwrap();
    let (_, case_view) = send(
        &app,
        &t.clinician,
        "GET",
        &format!("/api/v1/staff/cases/{case}"),
        None,
    )
    .await;
    assert_eq!(case_view["priority"], "urgent", "{case_view}");
    let (code, problem) = session_code(&app, &t, &path).await;
    assert_eq!((code, stop(&problem).0.as_str()), (422, "hold"));
    // A second one joins the open hold.
    let (code, made) = send(
        &app,
        &t.clinician,
        "POST",
        &events,
        Some(event(&app, "other-serious")),
    )
    .await;
    assert_eq!(code, 201);
    assert_eq!(made["hold_id"], hold, "the same hold");
    let event_id = made["id"].as_i64().unwrap();

    // The description is sealed.
    assert!(!everything_stored(&app).await.contains("tonic-clonic"));

    // Reporting dates, later: clinicians.
    let reports = format!("{events}/{event_id}/reports");
    let reported = app.clock.now().to_string();
    assert_eq!(
        send(
            &app,
            &t.technician,
            "POST",
            &reports,
            Some(json!({"reported_to_medwatch_at": reported}))
        )
        .await
        .0,
        403
    );
    let (code, problem) = send(&app, &t.clinician, "POST", &reports, Some(json!({}))).await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["reported_to_manufacturer_at"])
    );
    assert_eq!(
        send(
            &app,
            &t.clinician,
            "POST",
            &format!("{events}/999999/reports"),
            Some(json!({"reported_to_medwatch_at": reported}))
        )
        .await
        .0,
        404
    );
    assert_eq!(
        send(
            &app,
            &t.clinician,
            "POST",
            &format!("{other}/adverse-events/{event_id}/reports"),
            Some(json!({"reported_to_medwatch_at": reported}))
        )
        .await
        .0,
        404,
        "not that course's"
    );
    let (code, _) = send(
        &app,
        &t.clinician,
        "POST",
        &reports,
        Some(json!({"reported_to_medwatch_at": reported})),
    )
    .await;
    assert_eq!(code, 200);

    // The list: medical directors only.
    let list = "/api/v1/staff/adverse-events";
    for token in [&t.clinician, &t.coordinator, &t.technician, &t.admin] {
        assert_eq!(send(&app, token, "GET", list, None).await.0, 403);
    }
    let (code, problem) = send(&app, &t.clinician, "GET", list, None).await;
    assert_eq!(code, 403);
    assert!(
        problem["title"]
            .as_str()
            .unwrap()
            .contains("medical director")
    );
    let (code, body) = send(&app, &director, "GET", list, None).await;
    assert_eq!(code, 200);
    let all = body["adverse_events"].as_array().unwrap();
    assert_eq!(all.len(), 2);
    let seizure = all.iter().find(|e| e["kind"] == "seizure").unwrap();
    assert_eq!(seizure["patient_id"], patient);
    assert_eq!(seizure["session_id"], session);
    assert_eq!(seizure["hold_id"], hold);
    assert_eq!(seizure["duration_s"], 45);
    assert_eq!(seizure["outcome"], "hospitalised");
    assert_eq!(
        seizure["actions"],
        json!(["first-aid", "recovery-position", "ems-called"])
    );
    assert!(
        seizure["description"]
            .as_str()
            .unwrap()
            .contains("tonic-clonic")
    );
    let other_serious = all.iter().find(|e| e["kind"] == "other-serious").unwrap();
    assert!(other_serious["reported_to_medwatch_at"].is_string());
    assert!(other_serious["reported_to_manufacturer_at"].is_null());
    assert_eq!(
        send(&app, &director, "GET", &format!("{list}?format=xml"), None)
            .await
            .0,
        422
    );

    // CSV: a header row, one row per event, no name and no description.
    let res = app
        .client
        .get(app.url(&format!("{list}?format=csv")))
        .bearer_auth(&director)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "id,course_id,patient_id,session_id,kind,onset_at,duration_s,actions,outcome,reported_to_manufacturer_at,reported_to_medwatch_at,hold_id,recorded_at"
    );
    assert_eq!(lines.len(), 3);
    assert!(!text.contains("Lena") && !text.contains("tonic-clonic"));
    assert!(text.contains("first-aid;recovery-position;ems-called"));
    let res = app
        .client
        .get(app.url(&format!("{list}?format=csv")))
        .bearer_auth(&t.clinician)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Every write and read is in the audit trail.
    let db = raw(&app).await;
    let reads: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE record_type = 'tms_adverse_event' ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(reads, ["list", "export"]);
    let writes: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('record adverse event', 'record adverse event reports')",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(writes, 3);
}

/// A medical director signed in to the portal.
async fn director_in_portal(app: &TestApp) -> Browser<'_> {
    let _ = medical_director_token(app).await;
    let mut b = Browser::new(app);
    let res = b
        .post(
            "/staff/login",
            &[
                ("email", "director@riverbend.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/staff"));
    b
}

#[tokio::test]
async fn the_portal_records_adverse_events_clears_holds_with_a_note_and_lists_them_for_directors() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    let mut doc = signed_in(&app, "doc2@riverbend.example", Role::Clinician).await;
    let mut tech = signed_in(&app, "tech2@riverbend.example", Role::Technician).await;
    let mut desk = signed_in(&app, "desk2@riverbend.example", Role::Coordinator).await;
    let mut root = signed_in(&app, "root2@riverbend.example", Role::Admin).await;
    let mut director = director_in_portal(&app).await;
    let id = crate::tms_portal::patient(&mut doc, "Nia Cole", "nia@example.org").await;
    let course = start_course(&mut doc, id, "10hz", None, "2026-12-14").await;

    // The technician records a fainting in the portal.
    let form = tech.get(&format!("{course}/adverse-events/new")).await;
    assert_eq!(form.status, 200);
    assert_eq!(
        views(&app, "view adverse event form").await,
        1,
        "the form names the patient: its opening is in the audit trail"
    );
    assert!(form.body.contains("<legend>What was done</legend>"));
    let csrf = form.csrf();
    let local = app
        .clock
        .now()
        .to_zoned_datetime(app.state.config.clinic.time_zone.tz().clone())
        .strftime("%Y-%m-%dT%H:%M")
        .to_string();
    let res = tech
        .post(
            &format!("{course}/adverse-events"),
            &[
                ("csrf", &csrf),
                ("kind", "fainting"),
                ("onset_at", &local),
                ("description", "Felt faint, then fainted for 20 seconds"),
                ("outcome", "resolved"),
            ],
        )
        .await;
    assert_eq!(res.status, 422, "what was done is required");
    assert!(res.body.contains("id=\"actions-error\""));
    assert!(res.body.contains("Felt faint, then fainted"), "input kept");
    let res = tech
        .post(
            &format!("{course}/adverse-events"),
            &[
                ("csrf", &csrf),
                ("kind", "fainting"),
                ("onset_at", &local),
                ("duration_s", "20"),
                ("description", "Felt faint, then fainted for 20 seconds"),
                ("actions", "observed"),
                ("actions", "recovery-position"),
                ("outcome", "resolved"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = tech.get(&res.location.unwrap()).await;
    assert!(page.body.contains("The adverse event is recorded."));
    assert!(page.body.contains("Medical director only."));
    assert!(
        page.body.contains("Kept for clinicians"),
        "the description is not the technician's"
    );
    assert!(
        !page.body.contains("/clear\""),
        "no clearing form for a technician"
    );

    // A clinician without the mark sees why, and no form.
    let page = doc.get(&course).await;
    assert!(
        page.body.contains("Felt faint, then fainted"),
        "clinicians read it"
    );
    assert!(
        page.body
            .contains("A medical director must review and clear this")
    );
    assert!(!page.body.contains("/clear\""));
    let hold: i64 = {
        let at = page.body.find("id=\"hold-").unwrap() + 9;
        page.body[at..page.body[at..].find('"').unwrap() + at]
            .parse()
            .unwrap()
    };
    let res = doc
        .post(
            &format!("{course}/holds/{hold}/clear"),
            &[("csrf", &page.csrf()), ("note", "fine")],
        )
        .await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("only a medical director may clear"));

    // The medical director: a note is required, beside its field.
    let page = director.get(&course).await;
    assert!(page.body.contains(&format!(
        "action=\"/staff/courses/{}/holds/{hold}/clear\"",
        course.rsplit('/').next().unwrap()
    )));
    let res = director
        .post(
            &format!("{course}/holds/{hold}/clear"),
            &[("csrf", &page.csrf()), ("note", "  ")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains(&format!("id=\"note-{hold}-error\"")));
    let res = director
        .post(
            &format!("{course}/holds/{hold}/clear"),
            &[
                ("csrf", &page.csrf()),
                ("note", "Vasovagal; cleared to resume"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    let page = doc.get(&course).await;
    assert!(page.body.contains("Holds cleared"));
    assert!(page.body.contains("director@riverbend.example"), "who");
    assert!(
        page.body.contains("Vasovagal; cleared to resume"),
        "the note, for clinicians"
    );
    let page = tech.get(&course).await;
    assert!(!page.body.contains("Vasovagal"), "not for technicians");
    assert!(page.body.contains("Review note kept for clinicians"));

    // The clinic's list: medical directors only, with its CSV.
    let list = director.get("/staff/adverse-events").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("href=\"/staff/adverse-events.csv\""));
    assert!(list.body.contains("Fainting") && list.body.contains("Felt faint"));
    assert!(
        director
            .get("/staff")
            .await
            .body
            .contains("href=\"/staff/adverse-events\""),
        "in the menu"
    );
    assert!(
        !doc.get("/staff")
            .await
            .body
            .contains("href=\"/staff/adverse-events\"")
    );
    let csv = director.get("/staff/adverse-events.csv").await;
    assert_eq!(csv.status, 200);
    assert!(csv.body.starts_with("id,course_id,patient_id,"));
    assert!(!csv.body.contains("Nia") && !csv.body.contains("Felt faint"));
    for b in [&mut doc, &mut tech, &mut desk, &mut root] {
        assert_eq!(b.get("/staff/adverse-events").await.status, 403);
        assert_eq!(b.get("/staff/adverse-events.csv").await.status, 403);
    }

    // Report dates later, in the portal (clinicians).
    let event: i64 = sqlx::query_scalar("SELECT id FROM tms_adverse_events")
        .fetch_one(&raw(&app).await)
        .await
        .unwrap();
    let reports = format!("{course}/adverse-events/{event}/reports");
    assert_eq!(tech.get(&reports).await.status, 403);
    assert_eq!(views(&app, "view adverse event reports form").await, 0);
    let form = doc.get(&reports).await;
    assert_eq!(form.status, 200);
    assert_eq!(
        views(&app, "view adverse event reports form").await,
        1,
        "the form names the patient: its opening is in the audit trail"
    );
    let res = doc.post(&reports, &[("csrf", &form.csrf())]).await;
    assert_eq!(res.status, 422);
    let res = doc
        .post(
            &reports,
            &[
                ("csrf", &form.csrf()),
                ("reported_to_manufacturer_at", &local),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    let page = doc.get(&res.location.unwrap()).await;
    assert!(page.body.contains("The report dates are saved."));
}

#[tokio::test]
async fn an_admin_sets_the_medical_director_mark_on_a_clinician_never_their_own() {
    // Mail is held for `deliver_mail`, so no background worker races it.
    let app = spawn_app_holding_mail(|c| c.staff.require_second_factor = false).await;
    let mut root = signed_in(&app, "root2@riverbend.example", Role::Admin).await;
    let mut other_admin = signed_in(&app, "root3@riverbend.example", Role::Admin).await;
    add_staff(&app, "doc3@riverbend.example", Role::Clinician).await;
    add_staff(&app, "tech3@riverbend.example", Role::Technician).await;
    let (_, doc_id) = api_token(&app, "doc3@riverbend.example").await;
    let (doc_token, _) = api_token(&app, "doc3@riverbend.example").await;
    let (_, tech_id) = api_token(&app, "tech3@riverbend.example").await;
    let (_, root_id) = api_token(&app, "root2@riverbend.example").await;
    let mark = |id: i64| format!("/staff/accounts/{id}/medical-director");
    let page = root.get("/staff/accounts").await;
    assert!(page.body.contains(&format!("action=\"{}\"", mark(doc_id))));
    assert!(!page.body.contains(&format!("action=\"{}\"", mark(tech_id))));
    let csrf = page.csrf();

    // Before: the clinician may not list adverse events.
    assert_eq!(
        send(
            &app,
            &doc_token,
            "GET",
            "/api/v1/staff/adverse-events",
            None
        )
        .await
        .0,
        403
    );
    let res = root
        .post(&mark(doc_id), &[("csrf", &csrf), ("mark", "on")])
        .await;
    assert_eq!(res.status, 200);
    assert!(
        res.body
            .contains("The account is now marked medical director.")
    );
    assert_eq!(
        send(
            &app,
            &doc_token,
            "GET",
            "/api/v1/staff/adverse-events",
            None
        )
        .await
        .0,
        200,
        "the mark counts at once"
    );
    // Mailed to the administrators (and the clinician), audited.
    app.deliver_mail().await;
    for to in [
        "root2@riverbend.example",
        "root3@riverbend.example",
        "doc3@riverbend.example",
    ] {
        let mails = mails_to(&app, to);
        assert!(
            mails
                .iter()
                .any(|m| m.subject.contains("is now a medical director")),
            "{to}"
        );
    }
    let db = raw(&app).await;
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'make_medical_director' AND record_id = $1",
    )
    .bind(doc_id.to_string())
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    // Never on one's own account; only on clinicians; only administrators.
    let res = root
        .post(&mark(root_id), &[("csrf", &csrf), ("mark", "on")])
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("your own account"));
    let res = root
        .post(&mark(tech_id), &[("csrf", &csrf), ("mark", "on")])
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("Only a clinician"));
    assert_eq!(
        root.post(&mark(999_999), &[("csrf", &csrf), ("mark", "on")])
            .await
            .status,
        404
    );
    assert_eq!(
        root.post(&mark(doc_id), &[("csrf", &csrf), ("mark", "maybe")])
            .await
            .status,
        400
    );
    let mut doc = Browser::new(&app);
    doc.post(
        "/staff/login",
        &[("email", "doc3@riverbend.example"), ("password", PASSWORD)],
    )
    .await;
    let doc_csrf = doc.get("/staff").await.csrf();
    assert_eq!(
        doc.post(&mark(doc_id), &[("csrf", &doc_csrf), ("mark", "off")])
            .await
            .status,
        403
    );

    // Another administrator removes it.
    let csrf = other_admin.get("/staff/accounts").await.csrf();
    let res = other_admin
        .post(&mark(doc_id), &[("csrf", &csrf), ("mark", "off")])
        .await;
    assert_eq!(res.status, 200);
    assert!(res.body.contains("no longer marked medical director"));
    assert_eq!(
        send(
            &app,
            &doc_token,
            "GET",
            "/api/v1/staff/adverse-events",
            None
        )
        .await
        .0,
        403
    );
}

#[tokio::test]
async fn user_add_medical_director_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let db = fresh_database_url().await;
    let file = dir.path().join("pw");
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_activepath"));
        cmd.args(args)
            .args(["--data-dir", data])
            .env_remove("DATABASE_URL");
        if let Some(url) = &db {
            cmd.env("DATABASE_URL", url);
        }
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let pw = file.to_str().unwrap();
    let (ok, _, err) = run(&[
        "user",
        "add",
        "--email",
        "tech@riverbend.example",
        "--role",
        "technician",
        "--password-file",
        pw,
        "--medical-director",
    ]);
    assert!(
        !ok && err.contains("a medical director is a clinician"),
        "{err}"
    );
    let (ok, out, err) = run(&[
        "user",
        "add",
        "--email",
        "Dr@Riverbend.example",
        "--role",
        "clinician",
        "--password-file",
        pw,
        "--medical-director",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("(medical director)"), "{out}");
    let url = db
        .clone()
        .unwrap_or_else(|| format!("sqlite://{data}/activepath.db"));
    sqlx::any::install_default_drivers();
    let flag = |url: String| async move {
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let v: i64 = sqlx::query_scalar(
            "SELECT medical_director FROM staff_users WHERE email = 'dr@riverbend.example'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        pool.close().await;
        v
    };
    assert_eq!(flag(url.clone()).await, 1);
    let (ok, _, err) = run(&[
        "user",
        "medical-director",
        "--email",
        "dr@riverbend.example",
        "--remove",
    ]);
    assert!(ok, "{err}");
    assert_eq!(flag(url).await, 0);
}

/// How many audit entries of `action` on a course there are.
async fn views(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE record_type = 'tms_course' AND action = $1",
    )
    .bind(action)
    .fetch_one(&raw(app).await)
    .await
    .unwrap()
}

/// A second course for patient `patient`, ready for sessions: its path.
async fn second_course(app: &TestApp, t: &Tokens, patient: i64) -> (u16, Value) {
    send(
        app,
        &t.clinician,
        "POST",
        &format!("/api/v1/staff/patients/{patient}/courses"),
        Some(json!({"protocol": "10hz", "start_date": crate::tms::today(app)})),
    )
    .await
}

#[tokio::test]
async fn a_hold_for_the_medical_director_holds_every_course_of_the_patient() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let director = medical_director_token(&app).await;
    let (patient, a) = course_for(&app, &t, "Lea Park", "10hz").await;
    give_sessions(&app, &t, &a, 1).await;
    let (code, made) = second_course(&app, &t, patient).await;
    assert_eq!(code, 201, "{made}");
    let b = format!("/api/v1/staff/courses/{}", made["id"]);
    ready_course_for_sessions(&app, &t.clinician, &b).await;
    give_sessions(&app, &t, &b, 1).await;
    let a_id = a.rsplit('/').next().unwrap().to_string();

    // A hold any clinician may clear on course A does not hold course B.
    let hold = checklist_hold(&app, &t, &a, "new_implant").await;
    app.clock.advance(SignedDuration::from_mins(1));
    let (code, made) = session_code(&app, &t, &b).await;
    assert_eq!(code, 201, "{made}");
    assert_eq!(
        send(
            &app,
            &t.clinician,
            "POST",
            &format!("{a}/holds/{hold}/clear"),
            note("no implants")
        )
        .await
        .0,
        200
    );

    // (a) A seizure on course A: course B takes no session.
    let hold = serious_hold(&app, &t, &a, "seizure").await;
    let (code, problem) = session_code(&app, &t, &b).await;
    let (field, message) = stop(&problem);
    assert_eq!((code, field.as_str()), (422, "hold"), "{problem}");
    assert!(message.contains(&format!("course {a_id}")), "{message}");
    assert!(message.contains(&format!("hold {hold}")), "{message}");
    assert!(
        message.contains("a medical director must clear"),
        "{message}"
    );

    // (b) Stopping course A and starting another is refused too.
    let (code, made) = send(
        &app,
        &t.clinician,
        "POST",
        &format!("{a}/status"),
        Some(json!({"status": "stopped", "stop_reason": "side-effects"})),
    )
    .await;
    assert_eq!(code, 200, "{made}");
    let (code, problem) = second_course(&app, &t, patient).await;
    assert_eq!((code, fields(&problem)), (422, vec!["hold"]), "{problem}");
    assert!(
        stop(&problem).1.contains("a medical director must clear"),
        "{problem}"
    );
    let (code, problem) = session_code(&app, &t, &b).await;
    assert_eq!((code, stop(&problem).0.as_str()), (422, "hold"));
    // Another patient is not held by it.
    let (_, other) = course_for(&app, &t, "Sam Ortiz", "10hz").await;
    give_sessions(&app, &t, &other, 1).await;

    // The medical director clears it: a new course may start, and
    // (c) course B's threshold, from before the seizure on course A, must
    // be determined again.
    assert_eq!(
        send(
            &app,
            &director,
            "POST",
            &format!("{a}/holds/{hold}/clear"),
            note("resume")
        )
        .await
        .0,
        200
    );
    app.clock.advance(SignedDuration::from_mins(5));
    let (code, problem) = session_code(&app, &t, &b).await;
    let (field, message) = stop(&problem);
    assert_eq!(
        (code, field.as_str()),
        (422, "motor_threshold"),
        "{problem}"
    );
    assert!(message.contains("seizure or fainting"), "{message}");
    let (_, view) = send(&app, &t.clinician, "GET", &b, None).await;
    assert!(
        view["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "motor-threshold-due"),
        "the alert agrees: {view}"
    );
    threshold(&app, &t, &b).await;
    app.clock.advance(SignedDuration::from_mins(1));
    assert_eq!(session_code(&app, &t, &b).await.0, 201);
    let (code, made) = second_course(&app, &t, patient).await;
    assert_eq!(code, 201, "{made}");

    // A "yes" to the checklist's seizure question holds the others too.
    let hold = checklist_hold(&app, &t, &b, "seizure").await;
    let (code, problem) = second_course(&app, &t, patient).await;
    assert_eq!((code, fields(&problem)), (422, vec!["hold"]), "{problem}");
    assert!(
        stop(&problem).1.contains(&format!("hold {hold}")),
        "{problem}"
    );
}

#[tokio::test]
async fn a_session_entered_late_is_judged_by_the_threshold_of_its_own_time() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let (_, path) = course_for(&app, &t, "Rae Lund", "10hz").await;
    let t0 = app.clock.now();
    give_sessions(&app, &t, &path, 1).await;
    let first: i64 = sqlx::query_scalar("SELECT id FROM tms_motor_thresholds")
        .fetch_one(&raw(&app).await)
        .await
        .unwrap();
    // Eight days on, a new threshold; then sessions entered late.
    app.clock.advance(SignedDuration::from_hours(24 * 8));
    threshold(&app, &t, &path).await;
    let late = |at: jiff::Timestamp| {
        let mut body = session(&app, all_no(), json!([]));
        body["started_at"] = json!(at.to_string());
        body
    };
    let sessions = format!("{path}/sessions");
    // Seven days and an hour after the first threshold, before the second:
    // the first was too old then, whatever came after.
    let at = t0
        .checked_add(SignedDuration::from_hours(24 * 7 + 1))
        .unwrap();
    let (code, problem) = send(&app, &t.technician, "POST", &sessions, Some(late(at))).await;
    let (field, message) = stop(&problem);
    assert_eq!(
        (code, field.as_str()),
        (422, "motor_threshold"),
        "{problem}"
    );
    assert!(message.contains("more than 7 days old"), "{message}");
    // Two days after it: given at the first threshold, not the later one.
    let at = t0.checked_add(SignedDuration::from_hours(24 * 2)).unwrap();
    let (code, made) = send(&app, &t.technician, "POST", &sessions, Some(late(at))).await;
    assert_eq!(code, 201, "{made}");
    let used: i64 = sqlx::query_scalar("SELECT motor_threshold_id FROM tms_sessions WHERE id = $1")
        .bind(made["id"].as_i64().unwrap())
        .fetch_one(&raw(&app).await)
        .await
        .unwrap();
    assert_eq!(used, first);
    // Now: the new threshold.
    let (code, made) = session_code(&app, &t, &path).await;
    assert_eq!(code, 201, "{made}");
    let used: i64 = sqlx::query_scalar("SELECT motor_threshold_id FROM tms_sessions WHERE id = $1")
        .bind(made["id"].as_i64().unwrap())
        .fetch_one(&raw(&app).await)
        .await
        .unwrap();
    assert_ne!(used, first);
}
