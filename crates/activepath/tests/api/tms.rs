//! TMS courses through the staff API: starting one, motor thresholds, who
//! may do what, and the audit trail.

use crate::helpers::*;
use crate::staff::{add_staff, api_token};
use activepath::staff::Role;
use serde_json::{Value, json};

pub(crate) struct Tokens {
    pub clinician: String,
    pub coordinator: String,
    pub technician: String,
    pub admin: String,
}

pub(crate) async fn tokens(app: &TestApp) -> Tokens {
    let mut out = Vec::new();
    for (email, role) in [
        ("doc@riverbend.example", Role::Clinician),
        ("desk@riverbend.example", Role::Coordinator),
        ("tech@riverbend.example", Role::Technician),
        ("root@riverbend.example", Role::Admin),
    ] {
        add_staff(app, email, role).await;
        out.push(api_token(app, email).await.0);
    }
    let mut it = out.into_iter();
    Tokens {
        clinician: it.next().unwrap(),
        coordinator: it.next().unwrap(),
        technician: it.next().unwrap(),
        admin: it.next().unwrap(),
    }
}

/// An API token of a clinician with the medical-director mark (made as on
/// the command line: `activepath user add --medical-director`).
pub(crate) async fn medical_director_token(app: &TestApp) -> String {
    activepath::staff::sign_in::add_medical_director(
        &app.state,
        &activepath::staff::Actor::command_line(),
        "director@riverbend.example",
        crate::staff::PASSWORD.to_string().into(),
    )
    .await
    .unwrap();
    api_token(app, "director@riverbend.example").await.0
}

pub(crate) async fn send(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = match method {
        "GET" => app.client.get(app.url(path)),
        _ => app.client.post(app.url(path)),
    }
    .bearer_auth(token);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A patient (made by the coordinator) with a course on `protocol` (started
/// by the clinician): (patient id, the course's API path).
pub(crate) async fn course_for(
    app: &TestApp,
    t: &Tokens,
    name: &str,
    protocol: &str,
) -> (i64, String) {
    let (_, made) = send(
        app,
        &t.coordinator,
        "POST",
        "/api/v1/staff/patients",
        Some(json!({"name": name, "date_of_birth": "1980-01-01"})),
    )
    .await;
    let patient = made["id"].as_i64().unwrap();
    let (status, made) = send(
        app,
        &t.clinician,
        "POST",
        &format!("/api/v1/staff/patients/{patient}/courses"),
        Some(json!({"protocol": protocol, "start_date": today(app)})),
    )
    .await;
    assert_eq!(status, 201);
    let path = format!("/api/v1/staff/courses/{}", made["id"]);
    ready_course_for_sessions(app, &t.clinician, &path).await;
    (patient, path)
}

/// Today in the clinic's zone: a course starting today takes sessions now.
pub(crate) fn today(app: &TestApp) -> String {
    activepath::time::date_in(app.clock.now(), app.state.config.clinic.time_zone.tz()).to_string()
}

pub(crate) fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .map(|e| e.iter().map(|f| f["field"].as_str().unwrap()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_clinician_starts_a_course_and_a_technician_records_the_motor_threshold() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let (status, made) = send(
        &app,
        &t.coordinator,
        "POST",
        "/api/v1/staff/patients",
        Some(json!({"name": "Ana Rivera", "date_of_birth": "1980-04-02"})),
    )
    .await;
    assert_eq!(status, 201);
    let patient = made["id"].as_i64().unwrap();
    let courses = format!("/api/v1/staff/patients/{patient}/courses");

    // Only clinicians start courses.
    for token in [&t.coordinator, &t.technician, &t.admin] {
        let (status, _) = send(
            &app,
            token,
            "POST",
            &courses,
            Some(json!({"protocol": "10hz", "start_date": "2026-12-14"})),
        )
        .await;
        assert_eq!(status, 403);
    }
    // Each bad field is named; nothing is made.
    let (status, problem) = send(
        &app,
        &t.clinician,
        "POST",
        &courses,
        Some(json!({"protocol": "5hz", "planned_sessions": 0, "start_date": "next week"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        fields(&problem),
        ["protocol", "planned_sessions", "start_date"]
    );
    let (status, _) = send(
        &app,
        &t.clinician,
        "POST",
        "/api/v1/staff/patients/999999/courses",
        Some(json!({"protocol": "itbs", "start_date": "2026-12-14"})),
    )
    .await;
    assert_eq!(status, 404);

    let (status, made) = send(
        &app,
        &t.clinician,
        "POST",
        &courses,
        Some(json!({"protocol": "10hz", "start_date": "2026-12-14"})),
    )
    .await;
    assert_eq!(status, 201);
    let course = made["id"].as_i64().unwrap();
    let path = format!("/api/v1/staff/courses/{course}");

    // A motor threshold: technicians and clinicians record it; not in the future.
    let mt = format!("{path}/motor-thresholds");
    let now = app.clock.now();
    let (status, problem) = send(&app, &t.technician, "POST", &mt, Some(json!({"determined_at": now.checked_add(jiff::SignedDuration::from_hours(2)).unwrap().to_string(), "percent_output": 150}))).await;
    assert_eq!(status, 422);
    assert_eq!(
        fields(&problem),
        ["determined_at", "percent_output", "method"]
    );
    let (status, _) = send(
        &app,
        &t.coordinator,
        "POST",
        &mt,
        Some(json!({"determined_at": now.to_string(), "percent_output": 52, "method": "emg"})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(
        &app,
        &t.technician,
        "POST",
        &mt,
        Some(json!({"determined_at": now.to_string(), "percent_output": 52, "method": "emg"})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        send(
            &app,
            &t.technician,
            "POST",
            "/api/v1/staff/courses/999999/motor-thresholds",
            Some(json!({"determined_at": now.to_string(), "percent_output": 52, "method": "emg"}))
        )
        .await
        .0,
        404
    );

    // Clinicians, coordinators and technicians read the course; admins do not.
    for token in [&t.clinician, &t.coordinator, &t.technician] {
        let (status, view) = send(&app, token, "GET", &path, None).await;
        assert_eq!(status, 200);
        assert_eq!(view["protocol"], "10hz");
        assert_eq!(view["planned_sessions"], 36, "the protocol's usual course");
        assert_eq!(view["start_date"], "2026-12-14");
        assert_eq!(view["status"], "planned");
        assert_eq!(view["patient_id"], patient);
        assert_eq!(view["motor_thresholds"][0]["percent_output"], 52);
    }
    assert_eq!(send(&app, &t.admin, "GET", &path, None).await.0, 403);
    assert_eq!(
        send(
            &app,
            &t.clinician,
            "GET",
            "/api/v1/staff/courses/999999",
            None
        )
        .await
        .0,
        404
    );

    // Every change and read is in the audit trail.
    let db = raw(&app).await;
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE record_type = 'tms_course' ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(
        actions,
        ["create", "record motor threshold", "view", "view", "view"]
    );
}

#[tokio::test]
async fn check_ins_give_response_and_remission_and_question_9_opens_an_urgent_case_at_once() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let (_, made) = send(
        &app,
        &t.coordinator,
        "POST",
        "/api/v1/staff/patients",
        Some(json!({"name": "Ben Okafor", "date_of_birth": "1975-09-30", "phone": "+1 555 010 4455"})),
    )
    .await;
    let patient = made["id"].as_i64().unwrap();
    let (_, made) = send(
        &app,
        &t.clinician,
        "POST",
        &format!("/api/v1/staff/patients/{patient}/courses"),
        Some(json!({"protocol": "itbs", "start_date": today(&app)})),
    )
    .await;
    let course = made["id"].as_i64().unwrap();
    let path = format!("/api/v1/staff/courses/{course}");
    ready_course_for_sessions(&app, &t.clinician, &path).await;
    let check_ins = format!("{path}/check-ins");

    // Each bad field is named.
    let (status, problem) = send(
        &app,
        &t.technician,
        "POST",
        &check_ins,
        Some(json!({"instrument": "gad7", "answers": [1, 1, 1, null, 1, 1, 1, 9, 0]})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(fields(&problem), ["instrument", "answers[3]", "answers[7]"]);
    assert_eq!(
        send(
            &app,
            &t.coordinator,
            "POST",
            &check_ins,
            Some(json!({"instrument": "phq9", "answers": [0, 0, 0, 0, 0, 0, 0, 0, 0]}))
        )
        .await
        .0,
        403
    );
    assert_eq!(
        send(
            &app,
            &t.technician,
            "POST",
            "/api/v1/staff/courses/999999/check-ins",
            Some(json!({"instrument": "phq9", "answers": [0, 0, 0, 0, 0, 0, 0, 0, 0]}))
        )
        .await
        .0,
        404
    );

    // Baseline 20 (question 9 at 0), then 9: a response, 55% fewer symptoms.
    let (status, first) = send(
        &app,
        &t.technician,
        "POST",
        &check_ins,
        Some(
            json!({"instrument": "phq9", "answers": [3, 3, 2, 2, 3, 2, 3, 2, 0], "difficulty": 2}),
        ),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        (first["total"].as_i64(), first["self_harm_flag"].as_bool()),
        (Some(20), Some(false))
    );
    assert!(first["urgent_case_id"].is_null());
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(view["baseline_total"], 20);
    assert!(view["latest_total"].is_null());
    assert_eq!(view["category"], "insufficient-data");
    // Session 1 after it: the baseline is the latest PHQ-9 before session 1.
    give_sessions(&app, &t, &path, 1).await;
    app.clock.advance(jiff::SignedDuration::from_mins(1));
    send(
        &app,
        &t.technician,
        "POST",
        &check_ins,
        Some(json!({"instrument": "phq9", "answers": [1, 1, 1, 1, 2, 1, 1, 1, 0]})),
    )
    .await;
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(
        (
            view["baseline_total"].as_i64(),
            view["latest_total"].as_i64()
        ),
        (Some(20), Some(9))
    );
    assert_eq!(view["percent_change"], -55.0);
    assert_eq!(view["category"], "response");
    assert_eq!(view["minimal_important_improvement"], true);
    assert_eq!(view["check_ins"].as_array().unwrap().len(), 2);
    assert!(
        app.state.storage.queue(50, 0).await.unwrap().is_empty(),
        "no case without question 9"
    );

    // Question 9 above 0: an urgent case at once, first in the queue, for the
    // patient, and the clinic told without a name or an answer.
    let (status, flagged) = send(
        &app,
        &t.technician,
        "POST",
        &check_ins,
        Some(
            json!({"instrument": "phq9", "answers": [1, 1, 1, 1, 1, 1, 0, 0, 1], "difficulty": 1}),
        ),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(flagged["self_harm_flag"], true);
    let case = flagged["urgent_case_id"].as_i64().expect("an urgent case");
    let (status, list) = send(&app, &t.clinician, "GET", "/api/v1/staff/cases", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["cases"][0]["id"], case);
    assert_eq!(list["cases"][0]["kind"], "course");
    assert_eq!(list["cases"][0]["priority"], "urgent");
    let (_, detail) = send(
        &app,
        &t.clinician,
        "GET",
        &format!("/api/v1/staff/cases/{case}"),
        None,
    )
    .await;
    assert_eq!(detail["contact"]["name"], "Ben Okafor");
    assert_eq!(detail["contact"]["phone"], "+1 555 010 4455");
    wait_for_mail(&app, 1).await;
    let notice = mails_to(&app, &app.state.config.mail.notify);
    assert_eq!(notice.len(), 1);
    assert!(notice[0].subject.starts_with("Urgent"));
    let all = format!(
        "{} {} {}",
        notice[0].subject, notice[0].text, notice[0].html
    );
    assert!(!all.contains("Ben") && !all.contains("Okafor") && !all.contains("4455"));
    let db = raw(&app).await;
    let (course_of_case, patient_of_case): (Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT course_id, patient_id FROM triage_cases WHERE id = $1")
            .bind(case)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(
        (course_of_case, patient_of_case),
        (Some(course), Some(patient))
    );
    // The answers are sealed; the check-in names its case.
    let (answers, case_of_check_in): (Vec<u8>, Option<i64>) =
        sqlx::query_as("SELECT answers, case_id FROM tms_check_ins WHERE self_harm_flag = 1")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_ne!(answers, vec![1, 1, 1, 1, 1, 1, 0, 0, 1]);
    assert_eq!(case_of_check_in, Some(case));

    // The case page in the portal says what happened.
    let (mut doc, _, _) = crate::staff::first_sign_in(&app, "doc@riverbend.example").await;
    let page = doc.get(&format!("/staff/cases/{case}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("TMS course: urgent"), "{}", page.body);
    assert!(page.body.contains("answered question 9"));
}

#[tokio::test]
async fn a_course_moves_through_its_statuses_and_stops_only_with_a_reason() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let (_, path) = course_for(&app, &t, "Cy Lee", "10hz").await;
    let status = format!("{path}/status");
    let change = |token: String, body: Value| {
        let (app, status) = (&app, status.clone());
        async move { send(app, &token, "POST", &status, Some(body)).await }
    };
    // Only clinicians change a course.
    assert_eq!(
        change(t.technician.clone(), json!({"status": "active"}))
            .await
            .0,
        403
    );
    // planned -> paused is not a move; planned -> active is.
    let (code, problem) = change(t.clinician.clone(), json!({"status": "paused"})).await;
    assert_eq!(code, 422);
    assert!(
        problem
            .to_string()
            .contains("from planned, must be one of active, stopped"),
        "{problem}"
    );
    assert_eq!(
        change(t.clinician.clone(), json!({"status": "active"}))
            .await
            .0,
        200
    );
    assert_eq!(
        change(t.clinician.clone(), json!({"status": "paused"}))
            .await
            .0,
        200
    );
    assert_eq!(
        change(
            t.clinician.clone(),
            json!({"status": "active", "stop_reason": "other"})
        )
        .await
        .0,
        422,
        "a reason is only for stopping"
    );
    // Stopping needs a reason from the list.
    let (code, problem) = change(t.clinician.clone(), json!({"status": "stopped"})).await;
    assert_eq!(code, 422);
    assert_eq!(fields(&problem), ["stop_reason"]);
    assert_eq!(
        change(
            t.clinician.clone(),
            json!({"status": "stopped", "stop_reason": "felt better"})
        )
        .await
        .0,
        422
    );
    assert_eq!(
        change(
            t.clinician.clone(),
            json!({"status": "stopped", "stop_reason": "side-effects"})
        )
        .await
        .0,
        200
    );
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(
        (view["status"].as_str(), view["stop_reason"].as_str()),
        (Some("stopped"), Some("side-effects"))
    );
    // Stopped is final.
    let (code, problem) = change(t.clinician.clone(), json!({"status": "active"})).await;
    assert_eq!(code, 422);
    assert!(problem.to_string().contains("does not change any more"));
    assert_eq!(
        change(t.clinician.clone(), json!({"status": "active"}))
            .await
            .0,
        422
    );
    assert_eq!(
        send(
            &app,
            &t.clinician,
            "POST",
            "/api/v1/staff/courses/999999/status",
            Some(json!({"status": "active"}))
        )
        .await
        .0,
        404
    );
    let db = raw(&app).await;
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE record_type = 'tms_course' AND action LIKE 'status %' ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(
        actions,
        ["status active", "status paused", "status stopped"]
    );
}

/// A clean pre-session checklist.
pub(crate) fn all_no() -> Value {
    json!({"medication_change": false, "sleep_loss": false, "alcohol": false, "new_implant": false, "pregnancy": false, "seizure": false,
        "drugs_or_stimulants": false, "head_injury": false, "suicidal_thoughts": false, "mania_signs": false})
}

#[tokio::test]
async fn sessions_are_refused_by_every_hard_stop_and_serious_events_hold_the_course() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let (_, path) = course_for(&app, &t, "Dee Park", "10hz").await;
    let sessions = format!("{path}/sessions");
    let now = || app.clock.now().to_string();
    let session = |intensity: i64, checklist: Value, effects: Value| json!({"started_at": now(), "intensity_percent_mt": intensity, "pulses": 3000, "side_effects": effects, "checklist": checklist, "earplugs": true});
    let stop_of = |problem: &Value| fields(problem).first().map(|s| s.to_string());

    // Fields first: each bad one named; the checklist is required.
    let (code, problem) = send(
        &app,
        &t.technician,
        "POST",
        &sessions,
        Some(json!({"intensity_percent_mt": 0, "side_effects": ["itchy"]})),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        fields(&problem),
        [
            "started_at",
            "intensity_percent_mt",
            "pulses",
            "side_effects[0]",
            "checklist",
            "earplugs"
        ]
    );
    assert_eq!(
        send(
            &app,
            &t.coordinator,
            "POST",
            &sessions,
            Some(session(120, all_no(), json!([])))
        )
        .await
        .0,
        403
    );

    // No baseline PHQ-9 yet.
    let (code, problem) = send(
        &app,
        &t.technician,
        "POST",
        &sessions,
        Some(session(120, all_no(), json!([]))),
    )
    .await;
    assert_eq!(
        (code, stop_of(&problem).as_deref()),
        (422, Some("baseline"))
    );
    send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/check-ins"),
        Some(
            json!({"instrument": "phq9", "answers": [3, 3, 2, 2, 3, 2, 3, 2, 0], "difficulty": 2}),
        ),
    )
    .await;
    // No motor threshold yet.
    let (code, problem) = send(
        &app,
        &t.technician,
        "POST",
        &sessions,
        Some(session(120, all_no(), json!([]))),
    )
    .await;
    assert_eq!(
        (code, stop_of(&problem).as_deref()),
        (422, Some("motor_threshold"))
    );
    send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/motor-thresholds"),
        Some(json!({"determined_at": now(), "percent_output": 55, "method": "emg"})),
    )
    .await;
    // Above the clinic's ceiling (120% by default).
    let (code, problem) = send(
        &app,
        &t.technician,
        "POST",
        &sessions,
        Some(session(121, all_no(), json!([]))),
    )
    .await;
    assert_eq!(
        (code, stop_of(&problem).as_deref()),
        (422, Some("intensity_percent_mt"))
    );
    assert!(problem.to_string().contains("ceiling of 120%"));
    // A "yes" on the checklist: refused, a hold and an urgent case.
    let mut yes = all_no();
    yes["medication_change"] = json!(true);
    let (code, problem) = send(
        &app,
        &t.technician,
        "POST",
        &sessions,
        Some(session(120, yes, json!([]))),
    )
    .await;
    assert_eq!(
        (code, stop_of(&problem).as_deref()),
        (422, Some("checklist"))
    );
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(view["sessions_completed"], 0, "nothing recorded");
    assert_eq!(view["status"], "planned");
    let hold = view["open_holds"][0]["id"].as_i64().expect("a hold");
    assert_eq!(
        view["alerts"],
        json!(["hold-open"]),
        "a fresh motor threshold is not due"
    );
    assert_eq!(view["open_holds"][0]["reason"], "checklist");
    assert!(view["open_holds"][0]["case_id"].is_i64());
    // While it is open, nothing goes through; technicians cannot clear it.
    let (code, problem) = send(
        &app,
        &t.technician,
        "POST",
        &sessions,
        Some(session(120, all_no(), json!([]))),
    )
    .await;
    assert_eq!((code, stop_of(&problem).as_deref()), (422, Some("hold")));
    let clear = format!("{path}/holds/{hold}/clear");
    let note = || Some(json!({"note": "Dose unchanged for 3 weeks; reviewed with the patient"}));
    assert_eq!(
        send(&app, &t.technician, "POST", &clear, note()).await.0,
        403
    );
    let (code, problem) = send(&app, &t.clinician, "POST", &clear, None).await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["note"]),
        "a note is required"
    );
    assert_eq!(
        send(&app, &t.clinician, "POST", &clear, note()).await.0,
        200
    );
    assert_eq!(
        send(&app, &t.clinician, "POST", &clear, note()).await.0,
        404,
        "cleared once"
    );

    // Now a session goes through, and the planned course becomes active.
    let (code, made) = send(
        &app,
        &t.technician,
        "POST",
        &sessions,
        Some(session(120, all_no(), json!(["none"]))),
    )
    .await;
    assert_eq!(code, 201);
    assert!(made["hold_id"].is_null());
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(
        (view["sessions_completed"].as_i64(), view["status"].as_str()),
        (Some(1), Some("active"))
    );

    // A seizure is recorded, then holds the course with an urgent case.
    let (code, made) = send(
        &app,
        &t.technician,
        "POST",
        &sessions,
        Some(session(120, all_no(), json!(["headache", "seizure"]))),
    )
    .await;
    assert_eq!(code, 201);
    let hold = made["hold_id"].as_i64().expect("a hold");
    let (_, list) = send(&app, &t.clinician, "GET", "/api/v1/staff/cases", None).await;
    let urgent: Vec<&Value> = list["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "course" && c["priority"] == "urgent")
        .collect();
    assert_eq!(
        urgent.len(),
        2,
        "one for the checklist, one for the seizure"
    );
    let (code, problem) = send(
        &app,
        &t.technician,
        "POST",
        &sessions,
        Some(session(120, all_no(), json!([]))),
    )
    .await;
    assert_eq!((code, stop_of(&problem).as_deref()), (422, Some("hold")));
    // A seizure's hold is the medical director's to clear.
    let clear = format!("{path}/holds/{hold}/clear");
    let (code, problem) = send(&app, &t.clinician, "POST", &clear, note()).await;
    assert_eq!(code, 403);
    assert!(
        problem["title"]
            .as_str()
            .unwrap()
            .contains("only a medical director may clear"),
        "{problem}"
    );
    let director = medical_director_token(&app).await;
    assert_eq!(send(&app, &director, "POST", &clear, note()).await.0, 200);

    // A paused course takes no session.
    send(
        &app,
        &t.clinician,
        "POST",
        &format!("{path}/status"),
        Some(json!({"status": "paused"})),
    )
    .await;
    let (code, problem) = send(
        &app,
        &t.technician,
        "POST",
        &sessions,
        Some(session(120, all_no(), json!([]))),
    )
    .await;
    assert_eq!(
        (code, stop_of(&problem).as_deref()),
        (422, Some("course_status"))
    );
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(view["sessions_completed"], 2);
}

#[tokio::test]
async fn early_non_response_counts_the_sessions_given_before_each_check_in() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let (_, path) = course_for(&app, &t, "Eve Ito", "itbs").await;
    let check_in =
        |answers: Value| json!({"instrument": "phq9", "answers": answers, "difficulty": 1});
    send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/check-ins"),
        Some(check_in(json!([3, 3, 2, 2, 3, 2, 3, 2, 0]))),
    )
    .await;
    send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/motor-thresholds"),
        Some(json!({"determined_at": app.clock.now().to_string(), "percent_output": 50, "method": "emg"})),
    )
    .await;
    for day in 0..20 {
        app.clock.advance(jiff::SignedDuration::from_hours(24));
        if day % 7 == 6 {
            // Determined again each week, or the session is refused.
            send(
                &app,
                &t.technician,
                "POST",
                &format!("{path}/motor-thresholds"),
                Some(json!({"determined_at": app.clock.now().to_string(), "percent_output": 50, "method": "emg"})),
            )
            .await;
        }
        let (code, _) = send(&app, &t.technician, "POST", &format!("{path}/sessions"), Some(json!({"started_at": app.clock.now().to_string(), "intensity_percent_mt": 120, "pulses": 600, "checklist": all_no(), "earplugs": true}))).await;
        assert_eq!(code, 201);
    }
    app.clock.advance(jiff::SignedDuration::from_hours(1));
    // 20 -> 17 after 20 sessions: 15% better, under a quarter.
    send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/check-ins"),
        Some(check_in(json!([3, 3, 2, 2, 2, 2, 2, 1, 0]))),
    )
    .await;
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(view["sessions_completed"], 20);
    assert_eq!(
        (
            view["baseline_total"].as_i64(),
            view["latest_total"].as_i64()
        ),
        (Some(20), Some(17))
    );
    assert_eq!(view["category"], "non-response");
    assert_eq!(view["early_non_response"], true);
    // The flag is an alert.
    assert_eq!(view["alerts"], json!(["early-non-response"]));
}

/// The baseline, a motor threshold and `n` sessions on the course at `path`.
pub(crate) async fn give_sessions(app: &TestApp, t: &Tokens, path: &str, n: usize) {
    let now = app.clock.now().to_string();
    if send(app, &t.clinician, "GET", path, None).await.1["baseline_total"].is_null() {
        send(
            app,
            &t.technician,
            "POST",
            &format!("{path}/check-ins"),
            Some(json!({"instrument": "phq9", "answers": [3, 3, 2, 2, 3, 2, 3, 2, 0]})),
        )
        .await;
    }
    send(
        app,
        &t.technician,
        "POST",
        &format!("{path}/motor-thresholds"),
        Some(json!({"determined_at": now, "percent_output": 55, "method": "emg"})),
    )
    .await;
    for _ in 0..n {
        app.clock.advance(jiff::SignedDuration::from_mins(1));
        let (code, _) = send(
            app,
            &t.technician,
            "POST",
            &format!("{path}/sessions"),
            Some(json!({"started_at": app.clock.now().to_string(), "intensity_percent_mt": 120, "pulses": 3000, "checklist": all_no(), "earplugs": true})),
        )
        .await;
        assert_eq!(code, 201);
    }
}

#[tokio::test]
async fn a_session_keeps_its_parameters_and_its_deviations_are_sealed() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let (_, path) = course_for(&app, &t, "Gus Lind", "10hz").await;
    give_sessions(&app, &t, &path, 0).await;
    let mut session = json!({
        "started_at": app.clock.now().to_string(), "intensity_percent_mt": 120, "pulses": 3000,
        "checklist": all_no(), "earplugs": true, "device": "Clinic device A", "coil": "Figure-8 #2",
        "trains": 75, "intertrain_interval_s": 11.0, "duration_s": 2250,
        "deviations": "Stopped 40 s early: the patient asked for a pause",
    });
    // Each bad parameter is named.
    let mut bad = session.clone();
    bad["trains"] = json!(-1);
    bad["intertrain_interval_s"] = json!(500.5);
    bad["device"] = json!("a\nb");
    let (code, problem) = send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/sessions"),
        Some(bad),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        fields(&problem),
        ["device", "trains", "intertrain_interval_s"]
    );
    let (code, _) = send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/sessions"),
        Some(session.clone()),
    )
    .await;
    assert_eq!(code, 201);
    session["operator"] = json!("J. Doe");
    session["started_at"] = json!(app.clock.now().to_string());
    let (code, _) = send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/sessions"),
        Some(session),
    )
    .await;
    assert_eq!(code, 201);
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    let s = &view["sessions"][0];
    assert_eq!(
        (
            s["device"].as_str(),
            s["coil"].as_str(),
            s["trains"].as_i64(),
            s["intertrain_interval_s"].as_f64(),
            s["duration_s"].as_i64()
        ),
        (
            Some("Clinic device A"),
            Some("Figure-8 #2"),
            Some(75),
            Some(11.0),
            Some(2250)
        )
    );
    assert_eq!(s["motor_threshold_percent_output"], 55);
    assert_eq!(s["has_deviations"], true);
    assert_eq!(
        s["operator"], "tech@riverbend.example (API token)",
        "the one who recorded it"
    );
    assert_eq!(view["sessions"][1]["operator"], "J. Doe");
    // The deviations are not in the database in the clear.
    let db = raw(&app).await;
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT deviations FROM tms_sessions ORDER BY id LIMIT 1")
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains("pause"));
}

#[tokio::test]
async fn authorizations_warn_before_they_run_out_and_when_they_are_exceeded_or_over() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let (_, path) = course_for(&app, &t, "Hal Moss", "10hz").await;
    let auths = format!("{path}/authorizations");
    let today = activepath::time::date_in(app.clock.now(), app.state.config.clinic.time_zone.tz());
    let day = |n: i64| {
        today
            .checked_add(jiff::Span::new().days(n))
            .unwrap()
            .to_string()
    };
    let alerts = |view: &Value| -> Vec<String> {
        view["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    // Who may; each bad field named.
    let first = json!({"payer": "Blue River Health", "number": "AUTH-77-1234", "sessions_authorized": 3, "valid_from": day(-1), "valid_to": day(60)});
    assert_eq!(
        send(&app, &t.technician, "POST", &auths, Some(first.clone()))
            .await
            .0,
        403
    );
    assert_eq!(
        send(&app, &t.admin, "POST", &auths, Some(first.clone()))
            .await
            .0,
        403
    );
    let (code, problem) = send(&app, &t.coordinator, "POST", &auths, Some(json!({"payer": "", "sessions_authorized": 0, "valid_from": day(5), "valid_to": day(1), "extends": 999}))).await;
    assert_eq!(code, 422);
    assert_eq!(
        fields(&problem),
        [
            "payer",
            "number",
            "sessions_authorized",
            "valid_to",
            "extends"
        ]
    );
    let (code, made) = send(&app, &t.coordinator, "POST", &auths, Some(first)).await;
    assert_eq!(code, 201);
    let first_id = made["id"].as_i64().unwrap();

    // 3 sessions authorized of 36 planned: running out.
    let (_, view) = send(&app, &t.technician, "GET", &path, None).await;
    assert!(
        alerts(&view).contains(&"authorization-running-out".to_string()),
        "{view}"
    );
    assert_eq!(view["authorizations"][0]["number"], "AUTH-77-1234");
    // A fourth session is beyond it.
    give_sessions(&app, &t, &path, 4).await;
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert!(
        alerts(&view).contains(&"sessions-beyond-authorization".to_string()),
        "{view}"
    );
    // An extension of 30 covers the course for now: no authorization alert.
    let (code, _) = send(&app, &t.clinician, "POST", &auths, Some(json!({"payer": "Blue River Health", "number": "AUTH-77-1235", "sessions_authorized": 30, "valid_from": day(-1), "valid_to": day(60), "extends": first_id}))).await;
    assert_eq!(code, 201);
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert!(
        !alerts(&view).iter().any(|a| a.contains("authorization")),
        "{view}"
    );
    assert_eq!(view["authorizations"][1]["extends"], first_id);
    // Within a week of its end date: running out; after it: over.
    app.clock.advance(jiff::SignedDuration::from_hours(24 * 55));
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert!(
        alerts(&view).contains(&"authorization-running-out".to_string()),
        "{view}"
    );
    app.clock.advance(jiff::SignedDuration::from_hours(24 * 7));
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert!(
        alerts(&view).contains(&"authorization-expired".to_string()),
        "{view}"
    );
    // The numbers are sealed in the database.
    let db = raw(&app).await;
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT number FROM tms_authorizations")
        .fetch_all(&db)
        .await
        .unwrap();
    assert!(
        stored
            .iter()
            .all(|n| !String::from_utf8_lossy(n).contains("AUTH-77"))
    );
}

#[tokio::test]
async fn the_motor_threshold_is_due_again_after_a_medication_change() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let (_, path) = course_for(&app, &t, "Ida Ng", "10hz").await;
    give_sessions(&app, &t, &path, 1).await;
    let due = |view: &Value| {
        view["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "motor-threshold-due")
    };
    assert!(!due(&send(&app, &t.clinician, "GET", &path, None).await.1));
    app.clock.advance(jiff::SignedDuration::from_mins(5));
    let mut yes = all_no();
    yes["medication_change"] = json!(true);
    let (code, _) = send(&app, &t.technician, "POST", &format!("{path}/sessions"), Some(json!({"started_at": app.clock.now().to_string(), "intensity_percent_mt": 120, "pulses": 3000, "checklist": yes, "earplugs": true}))).await;
    assert_eq!(code, 422);
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(view["open_holds"][0]["reason"], "checklist");
    let hold = view["open_holds"][0]["id"].as_i64().unwrap();
    let (code, _) = send(
        &app,
        &t.clinician,
        "POST",
        &format!("{path}/holds/{hold}/clear"),
        Some(json!({"note": "New dose of sertraline reviewed"})),
    )
    .await;
    assert_eq!(code, 200);
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert!(
        due(&view),
        "determined before the medication change: {view}"
    );
    app.clock.advance(jiff::SignedDuration::from_mins(5));
    give_sessions(&app, &t, &path, 0).await;
    assert!(!due(&send(&app, &t.clinician, "GET", &path, None).await.1));
}

/// Every TMS route of the API, with each role's token: the roles the issue
/// names get through (to a 404 or a 422 for a course that does not exist),
/// the others are refused.
#[tokio::test]
async fn every_role_on_every_tms_route() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    use Role::*;
    let routes: [(&str, &str, &[Role]); 16] = [
        (
            "POST",
            "/api/v1/staff/patients/999999/courses",
            &[Clinician],
        ),
        (
            "GET",
            "/api/v1/staff/courses/999999",
            &[Clinician, Coordinator, Technician],
        ),
        (
            "POST",
            "/api/v1/staff/courses/999999/motor-thresholds",
            &[Clinician, Technician],
        ),
        (
            "POST",
            "/api/v1/staff/courses/999999/check-ins",
            &[Clinician, Technician],
        ),
        (
            "POST",
            "/api/v1/staff/courses/999999/sessions",
            &[Clinician, Technician],
        ),
        ("POST", "/api/v1/staff/courses/999999/status", &[Clinician]),
        (
            "POST",
            "/api/v1/staff/courses/999999/holds/1/clear",
            &[Clinician],
        ),
        (
            "POST",
            "/api/v1/staff/courses/999999/authorizations",
            &[Clinician, Coordinator],
        ),
        (
            "POST",
            "/api/v1/staff/courses/999999/check-in-links",
            &[Clinician, Technician],
        ),
        (
            "POST",
            "/api/v1/staff/courses/999999/schedule",
            &[Clinician, Coordinator],
        ),
        (
            "POST",
            "/api/v1/staff/courses/999999/appointments/1/missed",
            &[Clinician, Technician],
        ),
        (
            "POST",
            "/api/v1/staff/courses/999999/appointments/1/change",
            &[Clinician, Coordinator],
        ),
        ("POST", "/api/v1/staff/patients", &[Clinician, Coordinator]),
        (
            "POST",
            "/api/v1/staff/courses/999999/adverse-events",
            &[Clinician, Technician],
        ),
        (
            "POST",
            "/api/v1/staff/courses/999999/adverse-events/1/reports",
            &[Clinician],
        ),
        // Medical directors only: no role by itself.
        ("GET", "/api/v1/staff/adverse-events", &[]),
    ];
    for (method, path, allowed) in routes {
        for (role, token) in [
            (Clinician, &t.clinician),
            (Coordinator, &t.coordinator),
            (Technician, &t.technician),
            (Admin, &t.admin),
        ] {
            let (code, _) = send(&app, token, method, path, Some(json!({}))).await;
            if allowed.contains(&role) {
                assert!(
                    matches!(code, 201 | 404 | 422),
                    "{role:?} {method} {path}: {code}"
                );
            } else {
                assert_eq!(code, 403, "{role:?} {method} {path}");
            }
        }
        let (code, _) = send(&app, "ap_not-a-token", method, path, Some(json!({}))).await;
        assert_eq!(code, 401, "{method} {path} without a token");
    }
}

#[tokio::test]
async fn a_clinic_adds_its_own_protocol_in_its_settings() {
    let app = spawn_app_with(|c| {
        c.tms.protocols.push(activepath::config::ProtocolConfig {
            id: "one-hz-right".into(),
            name: "1 Hz right DLPFC, 1,200 pulses".into(),
            pulses_per_session: Some(1200),
            intensity_percent_mt: Some(110),
            sessions_per_day: 1,
            default_planned_sessions: 30,
        })
    })
    .await;
    let t = tokens(&app).await;
    let (_, path) = course_for(&app, &t, "Tia Moe", "one-hz-right").await;
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(view["protocol_name"], "1 Hz right DLPFC, 1,200 pulses");
    assert_eq!(view["planned_sessions"], 30, "its usual number");
    let (_, made) = send(
        &app,
        &t.coordinator,
        "POST",
        "/api/v1/staff/patients",
        Some(json!({"name": "Uli Falk", "date_of_birth": "1980-01-01"})),
    )
    .await;
    let (code, problem) = send(
        &app,
        &t.clinician,
        "POST",
        &format!("/api/v1/staff/patients/{}/courses", made["id"]),
        Some(json!({"protocol": "5hz", "start_date": "2026-12-14"})),
    )
    .await;
    assert_eq!(code, 422);
    assert!(problem.to_string().contains("one-hz-right"), "{problem}");
}
