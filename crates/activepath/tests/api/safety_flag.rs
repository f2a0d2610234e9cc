//! The patient's safety flag (issue 19 §1) and the checklist and side
//! effects a clinic asks for (§4): each source raises the flag (a check-in
//! by link, on the tablet, from paper, through the API; a checklist "yes";
//! a side effect), it stops every course of the patient (422
//! `safety_review`), it shows on every page to every role that sees the
//! patient or course, only a clinician's safety review clears it, and the
//! review pauses, closes the queue's case and keeps its note sealed.

use crate::helpers::*;
use crate::tms::{Tokens, all_no, course_for, fields, send, tokens};
use crate::tms_portal::{
    answer_on_tablet, link_in_mail, patient, post_answers, send_to_tablet, signed_in, start_course,
    tablet,
};
use activepath::staff::Role;
use serde_json::{Value, json};

const Q9: [i64; 9] = [2, 2, 2, 2, 2, 2, 2, 2, 1];
const Q9_ZERO: [i64; 9] = [3, 3, 2, 2, 3, 2, 3, 2, 0];

fn session_body(app: &TestApp, checklist: Value, effects: Value) -> Value {
    json!({"started_at": app.clock.now().to_string(), "intensity_percent_mt": 120,
        "pulses": 3000, "side_effects": effects, "checklist": checklist, "earplugs": true})
}

/// A course ready for sessions: a baseline (question 9 at 0) and a motor
/// threshold.
async fn ready(app: &TestApp, t: &Tokens, path: &str) {
    ready_course_for_sessions(app, &t.clinician, path).await;
    let (code, _) = send(
        app,
        &t.technician,
        "POST",
        &format!("{path}/check-ins"),
        Some(json!({"instrument": "phq9", "answers": Q9_ZERO})),
    )
    .await;
    assert_eq!(code, 201);
    let (code, _) = send(
        app,
        &t.technician,
        "POST",
        &format!("{path}/motor-thresholds"),
        Some(json!({"determined_at": app.clock.now().to_string(), "percent_output": 55, "method": "emg"})),
    )
    .await;
    assert_eq!(code, 201);
}

/// Posts a session a minute on: (status, body).
async fn session(app: &TestApp, t: &Tokens, path: &str, body: Value) -> (u16, Value) {
    app.clock.advance(jiff::SignedDuration::from_mins(1));
    let mut body = body;
    body["started_at"] = json!(app.clock.now().to_string());
    send(
        app,
        &t.technician,
        "POST",
        &format!("{path}/sessions"),
        Some(body),
    )
    .await
}

fn stop(problem: &Value) -> (Option<&str>, String) {
    (
        fields(problem).first().copied(),
        problem["errors"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

fn review(outcome: &str, note: &str) -> Value {
    json!({"outcome": outcome, "note": note, "cssrs": {"wish_dead": true, "suicidal_thoughts": false,
        "thoughts_with_method": false, "intent": false, "plan_and_intent": false, "behavior": false}})
}

fn reviews_path(patient: i64) -> String {
    format!("/api/v1/staff/patients/{patient}/safety-reviews")
}

#[tokio::test]
async fn a_check_in_through_the_api_raises_the_flag_and_only_a_clinicians_review_clears_it() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let (patient, path) = course_for(&app, &t, "Lee Moss", "10hz").await;
    // A second course of the same patient: the flag is the patient's.
    let (code, other) = send(
        &app,
        &t.clinician,
        "POST",
        &format!("/api/v1/staff/patients/{patient}/courses"),
        Some(json!({"protocol": "itbs", "start_date": crate::tms::today(&app)})),
    )
    .await;
    assert_eq!(code, 201);
    let other = format!("/api/v1/staff/courses/{}", other["id"]);
    ready(&app, &t, &path).await;
    ready(&app, &t, &other).await;
    let ok = session_body(&app, all_no(), json!([]));
    assert_eq!(session(&app, &t, &path, ok.clone()).await.0, 201);
    let (_, view) = send(&app, &t.technician, "GET", &path, None).await;
    assert!(view["safety_flag"].is_null());

    // Question 9 above 0, entered through the API by a technician (a few
    // minutes after the session: not dated before it).
    app.clock.advance(jiff::SignedDuration::from_mins(5));
    let (code, made) = send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/check-ins"),
        Some(json!({"instrument": "phq9", "answers": Q9})),
    )
    .await;
    assert_eq!(code, 201);
    let case = made["urgent_case_id"].as_i64().expect("an urgent case");
    let today = app
        .clock
        .now()
        .to_zoned_datetime(jiff::tz::TimeZone::get("America/New_York").unwrap())
        .date()
        .to_string();
    for token in [&t.technician, &t.coordinator, &t.clinician] {
        let (code, view) = send(&app, token, "GET", &path, None).await;
        assert_eq!(code, 200);
        assert_eq!(view["safety_flag"]["reasons"][0]["source"], "check-in");
        assert!(view["safety_flag"]["since"].is_string());
    }
    // Only roles that see cases see the case's id.
    let (_, view) = send(&app, &t.technician, "GET", &path, None).await;
    assert!(view["safety_flag"]["case_id"].is_null());
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(view["safety_flag"]["case_id"], case);
    let (code, record) = send(
        &app,
        &t.coordinator,
        "GET",
        &format!("/api/v1/staff/patients/{patient}"),
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(record["safety_flag"]["reasons"][0]["source"], "check-in");
    assert_eq!(
        send(
            &app,
            &t.technician,
            "GET",
            &format!("/api/v1/staff/patients/{patient}"),
            None
        )
        .await
        .0,
        403,
        "a technician sees no patient record"
    );

    // Every course of the patient stops: 422 safety_review, named and dated.
    for p in [&path, &other] {
        let (code, problem) = session(&app, &t, p, ok.clone()).await;
        assert_eq!(code, 422);
        let (field, message) = stop(&problem);
        assert_eq!(field, Some("safety_review"));
        assert!(
            message.contains(&format!(
                "a clinician must review the answer to question 9 of {today} before the next session"
            )),
            "{message}"
        );
    }
    // Another signal joins the flag; it does not make a second one.
    send(
        &app,
        &t.technician,
        "POST",
        &format!("{other}/check-ins"),
        Some(json!({"instrument": "phq9", "answers": Q9})),
    )
    .await;
    let (_, view) = send(&app, &t.clinician, "GET", &other, None).await;
    assert_eq!(view["safety_flag"]["reasons"].as_array().unwrap().len(), 2);
    let db = raw(&app).await;
    let flags: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM safety_flags")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(flags, 1);

    // Who may review: clinicians only, and the 403 says why.
    for token in [&t.technician, &t.coordinator, &t.admin] {
        let (code, problem) = send(
            &app,
            token,
            "POST",
            &reviews_path(patient),
            Some(review("continue", "Seen in person")),
        )
        .await;
        assert_eq!(code, 403);
        assert!(
            problem.to_string().contains("Only a clinician"),
            "{problem}"
        );
    }
    // Each field named.
    let (code, problem) = send(
        &app,
        &t.clinician,
        "POST",
        &reviews_path(patient),
        Some(json!({})),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(fields(&problem), ["outcome", "note", "cssrs"]);
    let (code, problem) = send(
        &app,
        &t.clinician,
        "POST",
        &reviews_path(patient),
        Some(
            json!({"outcome": "maybe", "note": "x", "reviewed_at": "2999-01-01T00:00:00Z",
            "cssrs": {"wish_dead": true, "intent": false}}),
        ),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        fields(&problem),
        [
            "outcome",
            "reviewed_at",
            "cssrs.suicidal_thoughts",
            "cssrs.thoughts_with_method",
            "cssrs.plan_and_intent",
            "cssrs.behavior"
        ]
    );
    let (code, problem) = send(
        &app,
        &t.clinician,
        "POST",
        &reviews_path(patient),
        Some(json!({"outcome": "continue", "note": "x", "cssrs": {"wish_dead": true, "not_done": "declined"}})),
    )
    .await;
    assert_eq!((code, fields(&problem)), (422, vec!["cssrs"]));
    let (code, problem) = send(
        &app,
        &t.clinician,
        "POST",
        &reviews_path(patient),
        Some(json!({"outcome": "continue", "note": "x", "cssrs": {"not_done": " "}})),
    )
    .await;
    assert_eq!((code, fields(&problem)), (422, vec!["cssrs.not_done"]));
    let yesterday = (app.clock.now() - jiff::SignedDuration::from_hours(25)).to_string();
    let mut early = review("continue", "x");
    early["reviewed_at"] = json!(yesterday);
    let (code, problem) = send(
        &app,
        &t.clinician,
        "POST",
        &reviews_path(patient),
        Some(early),
    )
    .await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["reviewed_at"]),
        "not before the flag"
    );
    assert_eq!(
        send(
            &app,
            &t.clinician,
            "POST",
            "/api/v1/staff/patients/999999/safety-reviews",
            Some(review("continue", "x"))
        )
        .await
        .0,
        404
    );
    // Nothing above cleared it.
    assert_eq!(session(&app, &t, &path, ok.clone()).await.0, 422);

    // The review: sessions go on, the case is closed with the review as its reason.
    let note = "Zanzibarine wording: passive thoughts, safety plan agreed";
    let (code, done) = send(
        &app,
        &t.clinician,
        "POST",
        &reviews_path(patient),
        Some(review("continue", note)),
    )
    .await;
    assert_eq!(code, 201, "{done}");
    assert!(
        done["closed_cases"]
            .as_array()
            .unwrap()
            .contains(&json!(case))
    );
    assert_eq!(done["paused_courses"], json!([]));
    assert_eq!(session(&app, &t, &path, ok.clone()).await.0, 201);
    let (code, problem) = session(&app, &t, &other, ok.clone()).await;
    assert_eq!(code, 201, "{problem}");
    let (_, c) = send(
        &app,
        &t.clinician,
        "GET",
        &format!("/api/v1/staff/cases/{case}"),
        None,
    )
    .await;
    assert_eq!(c["status"], "closed");
    assert_eq!(c["closed_reason"], "safety_review");
    // The review in the API: the note to clinicians only.
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert!(view["safety_flag"].is_null());
    assert_eq!(view["safety_reviews"][0]["outcome"], "continue");
    assert_eq!(view["safety_reviews"][0]["note"], note);
    assert_eq!(view["safety_reviews"][0]["cssrs"]["wish_dead"], true);
    assert_eq!(view["safety_reviews"][0]["cssrs"]["behavior"], false);
    let (_, view) = send(&app, &t.technician, "GET", &path, None).await;
    assert_eq!(view["safety_reviews"][0]["outcome"], "continue");
    assert!(view["safety_reviews"][0]["note"].is_null());
    // No flag up: 409.
    let (code, _) = send(
        &app,
        &t.clinician,
        "POST",
        &reviews_path(patient),
        Some(review("continue", "x")),
    )
    .await;
    assert_eq!(code, 409);
    // In the audit trail: raised, reviewed, the case closed.
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE action LIKE 'safety%' OR action LIKE 'close (safety%' ORDER BY id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(
        actions,
        [
            "safety flag: check-in",
            "safety flag: check-in",
            "safety review: continue",
            "close (safety review)",
            "close (safety review)"
        ]
    );
    // The note is sealed: not in the database in the clear.
    let stored = everything_stored(&app).await;
    assert!(
        stored.contains("safety review: continue"),
        "the search sees the audit trail"
    );
    assert!(!stored.contains("zanzibarine"), "the note in the clear");
}

#[tokio::test]
async fn pause_course_pauses_and_refer_urgent_pauses_and_keeps_the_case_open() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    for (outcome, case_open) in [("pause-course", false), ("refer-urgent", true)] {
        let (patient, path) = course_for(&app, &t, "Ann Vale", "10hz").await;
        ready(&app, &t, &path).await;
        assert_eq!(
            session(&app, &t, &path, session_body(&app, all_no(), json!([])))
                .await
                .0,
            201
        );
        app.clock.advance(jiff::SignedDuration::from_mins(5));
        let (_, made) = send(
            &app,
            &t.technician,
            "POST",
            &format!("{path}/check-ins"),
            Some(json!({"instrument": "phq9", "answers": Q9})),
        )
        .await;
        let case = made["urgent_case_id"].as_i64().unwrap();
        let (code, done) = send(&app, &t.clinician, "POST", &reviews_path(patient), Some(json!({
            "outcome": outcome, "note": "Reviewed", "cssrs": {"not_done": "The patient declined"},
        }))).await;
        assert_eq!(code, 201, "{done}");
        let course_id: i64 = path.rsplit('/').next().unwrap().parse().unwrap();
        assert_eq!(done["paused_courses"], json!([course_id]));
        let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
        assert_eq!(view["status"], "paused");
        assert!(view["safety_flag"].is_null());
        assert!(view["safety_reviews"][0]["cssrs"].is_null());
        assert_eq!(
            view["safety_reviews"][0]["cssrs_not_done"],
            "The patient declined"
        );
        let (code, problem) =
            session(&app, &t, &path, session_body(&app, all_no(), json!([]))).await;
        assert_eq!((code, stop(&problem).0), (422, Some("course_status")));
        let (_, c) = send(
            &app,
            &t.clinician,
            "GET",
            &format!("/api/v1/staff/cases/{case}"),
            None,
        )
        .await;
        assert_eq!(c["status"] != "closed", case_open, "{outcome}: {c}");
        let db = raw(&app).await;
        let audited: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'status paused (safety review)' AND record_id = $1",
        )
        .bind(course_id.to_string())
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!(audited, 1, "the pause is in the audit trail");
    }
}

#[tokio::test]
async fn the_checklist_and_side_effects_raise_the_flag_and_earplugs_and_every_key_are_required() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let (patient, path) = course_for(&app, &t, "Ida Fern", "10hz").await;
    ready(&app, &t, &path).await;

    // Earplugs: required, and true.
    let mut body = session_body(&app, all_no(), json!([]));
    body.as_object_mut().unwrap().remove("earplugs");
    let (code, problem) = session(&app, &t, &path, body.clone()).await;
    assert_eq!((code, fields(&problem)), (422, vec!["earplugs"]));
    body["earplugs"] = json!(false);
    let (code, problem) = session(&app, &t, &path, body).await;
    assert_eq!((code, fields(&problem)), (422, vec!["earplugs"]));
    // Each new checklist key is required.
    for key in [
        "drugs_or_stimulants",
        "head_injury",
        "suicidal_thoughts",
        "mania_signs",
    ] {
        let mut checklist = all_no();
        checklist.as_object_mut().unwrap().remove(key);
        let (code, problem) =
            session(&app, &t, &path, session_body(&app, checklist, json!([]))).await;
        assert_eq!(code, 422, "{key}: {problem}");
        assert!(problem.to_string().contains(key), "{key}: {problem}");
    }
    // The new side effects, recorded; none of these holds.
    for effect in [
        "tinnitus-or-hearing-change",
        "worse-mood",
        "jaw-or-tooth-pain",
    ] {
        let (code, made) = session(
            &app,
            &t,
            &path,
            session_body(&app, all_no(), json!([effect])),
        )
        .await;
        assert_eq!(code, 201, "{effect}");
        assert!(made["hold_id"].is_null(), "{effect}");
    }
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(
        view["sessions"][2]["side_effects"],
        json!(["jaw-or-tooth-pain"])
    );
    // Mania or hypomania as a side effect: recorded, and a hold for a clinician.
    let (code, made) = session(
        &app,
        &t,
        &path,
        session_body(&app, all_no(), json!(["mania-or-hypomania"])),
    )
    .await;
    assert_eq!(code, 201);
    let hold = made["hold_id"].as_i64().expect("a hold");
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(view["open_holds"][0]["reason"], "mania");
    assert!(view["safety_flag"].is_null(), "no safety flag for mania");
    let (code, problem) = session(&app, &t, &path, session_body(&app, all_no(), json!([]))).await;
    assert_eq!((code, stop(&problem).0), (422, Some("hold")));
    send(
        &app,
        &t.clinician,
        "POST",
        &format!("{path}/holds/{hold}/clear"),
        Some(json!({"note": "Reviewed"})),
    )
    .await;
    // The checklist's mania signs: a hold, no flag.
    let mut mania = all_no();
    mania["mania_signs"] = json!(true);
    let (code, problem) = session(&app, &t, &path, session_body(&app, mania, json!([]))).await;
    assert_eq!((code, stop(&problem).0), (422, Some("checklist")));
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert!(view["safety_flag"].is_null());
    let hold = view["open_holds"][0]["id"].as_i64().unwrap();
    send(
        &app,
        &t.clinician,
        "POST",
        &format!("{path}/holds/{hold}/clear"),
        Some(json!({"note": "Reviewed"})),
    )
    .await;

    // Thoughts of suicide on the checklist: a hold and the flag.
    let mut yes = all_no();
    yes["suicidal_thoughts"] = json!(true);
    let (code, problem) = session(&app, &t, &path, session_body(&app, yes, json!([]))).await;
    assert_eq!((code, stop(&problem).0), (422, Some("checklist")));
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(view["safety_flag"]["reasons"][0]["source"], "checklist");
    let hold = view["open_holds"][0]["id"].as_i64().unwrap();
    assert_eq!(
        view["open_holds"][0]["case_id"], view["safety_flag"]["case_id"],
        "the hold's case is the flag's"
    );
    send(
        &app,
        &t.clinician,
        "POST",
        &format!("{path}/holds/{hold}/clear"),
        Some(json!({"note": "Reviewed"})),
    )
    .await;
    // The hold cleared, the flag still stops the session: the order of the stops.
    let (code, problem) = session(&app, &t, &path, session_body(&app, all_no(), json!([]))).await;
    assert_eq!(code, 422);
    let (field, message) = stop(&problem);
    assert_eq!(field, Some("safety_review"));
    assert!(
        message.contains("thoughts of suicide on the checklist"),
        "{message}"
    );
    let (code, _) = send(
        &app,
        &t.clinician,
        "POST",
        &reviews_path(patient),
        Some(review("continue", "Seen")),
    )
    .await;
    assert_eq!(code, 201);

    // Suicidal thoughts as a side effect: the session is recorded, the flag
    // raised with an urgent case of its own, and the next session stopped.
    let (code, made) = session(
        &app,
        &t,
        &path,
        session_body(&app, all_no(), json!(["suicidal-thoughts"])),
    )
    .await;
    assert_eq!(code, 201);
    assert!(made["hold_id"].is_null());
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    let flag = &view["safety_flag"];
    assert_eq!(flag["reasons"][0]["source"], "side-effect");
    assert!(flag["case_id"].is_i64(), "an urgent case");
    let db = raw(&app).await;
    let recorded: Option<i64> =
        sqlx::query_scalar("SELECT session_id FROM safety_signals WHERE source = 'side-effect'")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(
        recorded,
        view["sessions"].as_array().unwrap().last().unwrap()["id"].as_i64(),
        "the session that reported it"
    );
    let (code, problem) = session(&app, &t, &path, session_body(&app, all_no(), json!([]))).await;
    assert_eq!(code, 422);
    let (field, message) = stop(&problem);
    assert_eq!(field, Some("safety_review"));
    assert!(
        message.contains("suicidal thoughts reported as a side effect"),
        "{message}"
    );
}

/// Whether a page shows the flag (its words and its icon).
fn shows_flag(body: &str) -> bool {
    body.contains("Safety review needed") && body.contains("⛔")
}

#[tokio::test]
async fn every_source_in_the_portal_raises_the_flag_and_every_page_shows_it_to_who_sees_the_patient()
 {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    // Monday 8 March 2027, 10:00 in New York.
    app.clock.set("2027-03-08T15:00:00Z".parse().unwrap());
    let mut doc = signed_in(&app, "doc@riverbend.example", Role::Clinician).await;
    let mut desk = signed_in(&app, "desk@riverbend.example", Role::Coordinator).await;
    let mut tech = signed_in(&app, "tech@riverbend.example", Role::Technician).await;
    let mut root = signed_in(&app, "root@riverbend.example", Role::Admin).await;

    // By e-mailed link.
    let linked = patient(&mut doc, "Bea Link", "bea@example.org").await;
    let by_link = start_course(&mut doc, linked, "10hz", None, "2027-03-08").await;
    let csrf = doc.get(&by_link).await.csrf();
    doc.post(
        &format!("{by_link}/check-in"),
        &[("csrf", &csrf), ("delivery", "email")],
    )
    .await;
    wait_for_mail(&app, 1).await;
    let link = link_in_mail(&app, "bea@example.org");
    assert_eq!(post_answers(&app, &link, ["1"; 9]).await.0, 200);
    // On the clinic's tablet.
    let tabled = patient(&mut doc, "Cy Tab", "cy@example.org").await;
    let by_tablet = start_course(&mut doc, tabled, "10hz", None, "2027-03-08").await;
    let kiosk = tablet(&mut doc, "Room 1").await;
    send_to_tablet(&mut doc, &by_tablet).await;
    assert_eq!(answer_on_tablet(&app, &kiosk, ["1"; 9]).await.0, 200);
    // From paper, entered by the technician.
    let papered = patient(&mut doc, "Di Paper", "di@example.org").await;
    let by_paper = start_course(&mut doc, papered, "10hz", None, "2027-03-08").await;
    let form = tech.get(&format!("{by_paper}/check-ins/new")).await;
    let mut fields: Vec<(String, String)> = vec![
        ("csrf".into(), form.csrf()),
        ("taken_at".into(), "2027-03-08T09:30".into()),
    ];
    for i in 1..=9 {
        fields.push((format!("q{i}"), if i == 9 { "2" } else { "1" }.into()));
    }
    let res = tech
        .post(
            &format!("{by_paper}/check-ins"),
            &fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    // A patient without a flag, for contrast.
    let calm = patient(&mut doc, "Ed Calm", "ed@example.org").await;
    let calm_course = start_course(&mut doc, calm, "10hz", None, "2027-03-08").await;

    for (id, course) in [
        (linked, &by_link),
        (tabled, &by_tablet),
        (papered, &by_paper),
    ] {
        // The patient page: clinicians and coordinators see it (and the flag).
        for b in [&mut doc, &mut desk] {
            let page = b.get(&format!("/staff/patients/{id}")).await;
            assert_eq!(page.status, 200);
            assert!(shows_flag(&page.body), "patient page: {}", page.body);
            assert!(
                page.body
                    .contains("question 9 answered above 0 on 2027-03-08")
            );
        }
        // The course page: clinicians, coordinators and technicians.
        for b in [&mut doc, &mut desk, &mut tech] {
            let page = b.get(course).await;
            assert_eq!(page.status, 200);
            assert!(shows_flag(&page.body), "course page");
        }
        // The session screen: those who record treatment.
        for b in [&mut doc, &mut tech] {
            let page = b.get(&format!("{course}/session")).await;
            assert_eq!(page.status, 200);
            assert!(shows_flag(&page.body), "session screen");
        }
        // Who cannot see the patient sees nothing of them.
        assert_eq!(tech.get(&format!("/staff/patients/{id}")).await.status, 403);
        assert_eq!(root.get(&format!("/staff/patients/{id}")).await.status, 403);
        assert_eq!(root.get(course).await.status, 403);
    }
    // The review link: to clinicians only.
    assert!(doc.get(&by_link).await.body.contains("/safety-review"));
    assert!(!tech.get(&by_link).await.body.contains("/safety-review"));
    assert!(!desk.get(&by_link).await.body.contains("/safety-review"));
    // The calm patient's pages show no flag.
    assert!(!shows_flag(&doc.get(&calm_course).await.body));
    assert!(!shows_flag(
        &doc.get(&format!("/staff/patients/{calm}")).await.body
    ));

    // The course list: every flagged course tagged, the calm one not.
    for b in [&mut doc, &mut desk, &mut tech] {
        let list = b.get("/staff/courses").await;
        assert_eq!(list.status, 200);
        assert_eq!(
            list.body.matches("Safety review needed").count(),
            3,
            "{}",
            list.body
        );
    }
    assert_eq!(root.get("/staff/courses").await.status, 403);

    // The calendar entry of a flagged patient's TMS session.
    let flagged_id = by_link.rsplit('/').next().unwrap();
    let calm_id = calm_course.rsplit('/').next().unwrap();
    for (course, _) in [(flagged_id, true), (calm_id, false)] {
        let page = desk.get(&format!("/staff/courses/{course}")).await;
        let res = desk
            .post(
                &format!("/staff/courses/{course}/schedule"),
                &[
                    ("csrf", &page.csrf()),
                    ("location", "main"),
                    (
                        "first_start",
                        if course == flagged_id {
                            "2027-03-09T09:00"
                        } else {
                            "2027-03-09T11:00"
                        },
                    ),
                ],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
    }
    for b in [&mut doc, &mut desk, &mut tech] {
        let cal = b
            .get("/staff/calendar?location=main&date=2027-03-09&view=day")
            .await;
        assert_eq!(cal.status, 200);
        assert_eq!(
            cal.body.matches("Safety review needed").count(),
            1,
            "{}",
            cal.body
        );
        assert!(cal.body.contains("⛔"));
    }

    // The queue's urgent case links to the patient and shows the flag.
    let db = raw(&app).await;
    let case: i64 = sqlx::query_scalar("SELECT case_id FROM safety_flags WHERE patient_id = $1")
        .bind(linked)
        .fetch_one(&db)
        .await
        .unwrap();
    for b in [&mut doc, &mut desk] {
        let page = b.get(&format!("/staff/cases/{case}")).await;
        assert!(shows_flag(&page.body), "the case page");
        assert!(page.body.contains(&format!("/staff/patients/{linked}")));
    }
    assert!(
        doc.get(&format!("/staff/cases/{case}"))
            .await
            .body
            .contains("/safety-review")
    );

    // The review in the portal: clinicians only; each mistake beside its field.
    assert_eq!(
        tech.get(&format!("/staff/patients/{linked}/safety-review"))
            .await
            .status,
        403
    );
    assert_eq!(
        desk.get(&format!("/staff/patients/{linked}/safety-review"))
            .await
            .status,
        403
    );
    let form = doc
        .get(&format!("/staff/patients/{linked}/safety-review"))
        .await;
    assert_eq!(form.status, 200);
    assert!(shows_flag(&form.body));
    let res = doc
        .post(
            &format!("/staff/patients/{linked}/safety-review"),
            &[
                ("csrf", &form.csrf()),
                ("outcome", "continue"),
                ("screener", "done"),
                ("wish_dead", "no"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("id=\"note-error\""), "{}", res.body);
    assert!(res.body.contains("id=\"intent-error\""));
    assert!(
        res.body.contains("value=\"no\" checked"),
        "the answers kept"
    );
    let mut answers = vec![
        ("csrf", form.csrf()),
        (
            "last_signal_id",
            crate::staff::field_value(&form.body, "last_signal_id").expect("the newest signal"),
        ),
        ("outcome", "continue".to_string()),
        ("screener", "done".to_string()),
        ("note", "Seen in the clinic".to_string()),
    ];
    for q in [
        "wish_dead",
        "suicidal_thoughts",
        "thoughts_with_method",
        "intent",
        "plan_and_intent",
        "behavior",
    ] {
        answers.push((q, "no".to_string()));
    }
    let res = doc
        .post(
            &format!("/staff/patients/{linked}/safety-review"),
            &answers
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = doc.get(&format!("/staff/patients/{linked}")).await;
    assert!(!shows_flag(&page.body));
    assert!(page.body.contains("Safety reviews") && page.body.contains("C-SSRS: no to all six"));
    assert!(
        page.body.contains("Seen in the clinic"),
        "the note to a clinician"
    );
    let closed = doc.get(&format!("/staff/cases/{case}")).await;
    assert!(!shows_flag(&closed.body));
    assert!(closed.body.contains("Closed"), "closed by the review");
    let page = tech.get(&by_link).await;
    assert!(
        page.body.contains("Continue treatment"),
        "the review in the course's page"
    );
    assert!(!page.body.contains("Seen in the clinic"), "not the note");
    assert!(
        page.body.contains("C-SSRS screener done") && !page.body.contains("C-SSRS: no to all six"),
        "whether the screener was done, not its answers"
    );
    assert_eq!(
        tech.get("/staff/courses")
            .await
            .body
            .matches("Safety review needed")
            .count(),
        2
    );
}

/// The flag's signals as the API lists them: (id, at).
async fn signals(app: &TestApp, t: &Tokens, path: &str) -> Vec<(i64, String)> {
    let (_, view) = send(app, &t.clinician, "GET", path, None).await;
    view["safety_flag"]["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| {
                    (
                        r["id"].as_i64().expect("each signal has its id"),
                        r["at"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_review_is_refused_over_the_api_when_a_signal_arrived_that_it_did_not_name() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let (patient, path) = course_for(&app, &t, "Ana Late", "10hz").await;
    ready(&app, &t, &path).await;
    app.clock.advance(jiff::SignedDuration::from_mins(5));
    let (code, first) = send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/check-ins"),
        Some(json!({"instrument": "phq9", "answers": Q9})),
    )
    .await;
    assert_eq!(code, 201);
    let case = first["urgent_case_id"].as_i64().unwrap();
    let seen = signals(&app, &t, &path).await;
    assert_eq!(seen.len(), 1);
    let (seen_id, seen_at) = seen[0].clone();
    // Five minutes later question 9 is answered 3, while the review is open.
    app.clock.advance(jiff::SignedDuration::from_mins(5));
    let (code, _) = send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/check-ins"),
        Some(json!({"instrument": "phq9", "answers": [2, 2, 2, 2, 2, 2, 2, 2, 3]})),
    )
    .await;
    assert_eq!(code, 201);
    let now = signals(&app, &t, &path).await;
    assert_eq!(now.len(), 2);
    let newest = now.iter().map(|x| x.0).max().unwrap();
    assert!(newest > seen_id);

    // Naming the signal it saw: 409, nothing stored.
    let mut body = review("continue", "Seen at 09:00");
    body["last_signal_id"] = json!(seen_id);
    let (code, problem) = send(
        &app,
        &t.clinician,
        "POST",
        &reviews_path(patient),
        Some(body),
    )
    .await;
    assert_eq!(code, 409, "{problem}");
    assert!(
        problem.to_string().contains("A new safety signal arrived"),
        "{problem}"
    );
    // Naming none, reviewed before the new signal: 409 too.
    let mut body = review("continue", "Seen at 09:00");
    body["reviewed_at"] = json!(seen_at);
    let (code, problem) = send(
        &app,
        &t.clinician,
        "POST",
        &reviews_path(patient),
        Some(body),
    )
    .await;
    assert_eq!(code, 409, "{problem}");
    assert!(problem.to_string().contains("A new safety signal arrived"));
    // A signal that is not the flag's: 422 naming the field.
    let mut body = review("continue", "Seen");
    body["last_signal_id"] = json!(newest + 1000);
    let (code, problem) = send(
        &app,
        &t.clinician,
        "POST",
        &reviews_path(patient),
        Some(body),
    )
    .await;
    assert_eq!((code, fields(&problem)), (422, vec!["last_signal_id"]));
    // The flag is still up, the case still open, no review stored.
    assert_eq!(signals(&app, &t, &path).await.len(), 2);
    let (_, c) = send(
        &app,
        &t.clinician,
        "GET",
        &format!("/api/v1/staff/cases/{case}"),
        None,
    )
    .await;
    assert_ne!(c["status"], "closed");
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(view["safety_reviews"], json!([]));
    let (code, _) = session(&app, &t, &path, session_body(&app, all_no(), json!([]))).await;
    assert_eq!(code, 422);

    // Naming the newest: recorded, the flag cleared, the cases closed.
    let mut body = review("continue", "Seen both answers");
    body["last_signal_id"] = json!(newest);
    let (code, done) = send(
        &app,
        &t.clinician,
        "POST",
        &reviews_path(patient),
        Some(body),
    )
    .await;
    assert_eq!(code, 201, "{done}");
    assert!(
        done["closed_cases"]
            .as_array()
            .unwrap()
            .contains(&json!(case))
    );
    assert!(signals(&app, &t, &path).await.is_empty());
}

#[tokio::test]
async fn the_portal_review_shows_a_signal_that_arrived_while_it_was_open_and_stores_nothing() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    let t = tokens(&app).await;
    let mut doc = signed_in(&app, "doc2@riverbend.example", Role::Clinician).await;
    let (patient, path) = course_for(&app, &t, "Bo Open", "10hz").await;
    ready(&app, &t, &path).await;
    app.clock.advance(jiff::SignedDuration::from_mins(5));
    let check_ins = format!("{path}/check-ins");
    let checkin = |answers: Value| {
        send(
            &app,
            &t.technician,
            "POST",
            &check_ins,
            Some(json!({"instrument": "phq9", "answers": answers})),
        )
    };
    assert_eq!(checkin(json!(Q9)).await.0, 201);
    let url = format!("/staff/patients/{patient}/safety-review");
    let form = doc.get(&url).await;
    assert_eq!(form.status, 200);
    let shown = crate::staff::field_value(&form.body, "last_signal_id").expect("the hidden id");
    assert_eq!(shown, signals(&app, &t, &path).await[0].0.to_string());
    // A new answer while the form is open.
    app.clock.advance(jiff::SignedDuration::from_mins(5));
    assert_eq!(checkin(json!([2, 2, 2, 2, 2, 2, 2, 2, 3])).await.0, 201);
    let mut answers = vec![
        ("csrf", form.csrf()),
        ("last_signal_id", shown.clone()),
        ("outcome", "continue".to_string()),
        ("screener", "done".to_string()),
        ("note", "Seen the first answer".to_string()),
    ];
    for q in activepath::tms::safety::CSSRS {
        answers.push((q, "no".to_string()));
    }
    let pairs: Vec<(&str, &str)> = answers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = doc.post(&url, &pairs).await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(
        res.body.contains(
            "A new answer arrived since you opened this review: read it, then submit again"
        ),
        "{}",
        res.body
    );
    assert!(res.body.contains("id=\"new-signal\""));
    // The new answer listed in the flag, its id in the form; input kept.
    let newest = signals(&app, &t, &path)
        .await
        .iter()
        .map(|x| x.0)
        .max()
        .unwrap();
    assert_eq!(
        crate::staff::field_value(&res.body, "last_signal_id"),
        Some(newest.to_string())
    );
    assert_eq!(
        res.body
            .matches("<li>Question 9 answered above 0 on a PHQ-9 check-in")
            .count(),
        2,
        "both answers listed"
    );
    assert!(res.body.contains("Seen the first answer"), "the note kept");
    assert_eq!(signals(&app, &t, &path).await.len(), 2, "still up");
    // A form without the id is refused the same way.
    let without: Vec<(&str, &str)> = pairs
        .iter()
        .copied()
        .filter(|(k, _)| *k != "last_signal_id")
        .collect();
    let res2 = doc.post(&url, &without).await;
    assert_eq!(res2.status, 422);
    assert!(res2.body.contains("A new answer arrived"));
    // Submitted again from the form that shows both: recorded.
    answers[0].1 = res.csrf();
    answers[1].1 = newest.to_string();
    let pairs: Vec<(&str, &str)> = answers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = doc.post(&url, &pairs).await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert!(signals(&app, &t, &path).await.is_empty());
}

#[tokio::test]
async fn a_check_in_refused_for_its_date_with_question_9_above_0_still_raises_the_flag() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let (patient, path) = course_for(&app, &t, "Cal Paper", "10hz").await;
    ready(&app, &t, &path).await;
    // Far before the course's start: refused for its date.
    let (code, problem) = send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/check-ins"),
        Some(json!({"instrument": "phq9", "answers": Q9, "taken_at": "2001-01-01T15:00:00Z"})),
    )
    .await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["taken_at"]),
        "{problem}"
    );
    assert!(
        problem.to_string().contains("safety flag was raised")
            && problem.to_string().contains("tell a clinician now"),
        "{problem}"
    );
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(view["check_ins"].as_array().unwrap().len(), 1, "not stored");
    assert_eq!(view["safety_flag"]["reasons"][0]["source"], "check-in");
    assert_eq!(
        view["safety_flag"]["reasons"][0]["at"],
        activepath::time::rfc3339(app.clock.now()),
        "dated now"
    );
    let case = view["safety_flag"]["case_id"]
        .as_i64()
        .expect("an urgent case");
    let (_, c) = send(
        &app,
        &t.clinician,
        "GET",
        &format!("/api/v1/staff/cases/{case}"),
        None,
    )
    .await;
    assert_ne!(c["status"], "closed");
    let (code, problem) = session(&app, &t, &path, session_body(&app, all_no(), json!([]))).await;
    assert_eq!((code, stop(&problem).0), (422, Some("safety_review")));
    // Backdated before the baseline without confirmation: refused, and
    // the signal joins the flag.
    let before = app.clock.now() - jiff::SignedDuration::from_hours(1);
    let (code, problem) = send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/check-ins"),
        Some(json!({"instrument": "phq9", "answers": Q9, "taken_at": before.to_string()})),
    )
    .await;
    assert_eq!(code, 422, "{problem}");
    assert_eq!(fields(&problem), ["confirm_backdated"]);
    assert!(problem.to_string().contains("safety flag was raised"));
    assert_eq!(signals(&app, &t, &path).await.len(), 2);
    // Question 9 at 0 refused for its date raises nothing more.
    let (code, _) = send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/check-ins"),
        Some(json!({"instrument": "phq9", "answers": Q9_ZERO, "taken_at": "2001-01-01T15:00:00Z"})),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(signals(&app, &t, &path).await.len(), 2);
    // Audited.
    let db = raw(&app).await;
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'safety flag: check-in' AND record_id = $1",
    )
    .bind(patient.to_string())
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn the_screeners_answers_are_sealed_and_shown_to_clinicians_only() {
    let app = spawn_app().await;
    let t = tokens(&app).await;
    let (patient, path) = course_for(&app, &t, "Di Sealed", "10hz").await;
    ready(&app, &t, &path).await;
    app.clock.advance(jiff::SignedDuration::from_mins(5));
    let (code, _) = send(
        &app,
        &t.technician,
        "POST",
        &format!("{path}/check-ins"),
        Some(json!({"instrument": "phq9", "answers": Q9})),
    )
    .await;
    assert_eq!(code, 201);
    let (code, done) = send(
        &app,
        &t.clinician,
        "POST",
        &reviews_path(patient),
        Some(review("continue", "Reviewed")),
    )
    .await;
    assert_eq!(code, 201, "{done}");
    // The clinician sees the answers; the technician and the coordinator
    // see that it was done, not the answers.
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(view["safety_reviews"][0]["cssrs"]["wish_dead"], true);
    assert_eq!(view["safety_reviews"][0]["screener_done"], true);
    for token in [&t.technician, &t.coordinator] {
        let (_, view) = send(&app, token, "GET", &path, None).await;
        assert_eq!(view["safety_reviews"][0]["outcome"], "continue");
        assert_eq!(view["safety_reviews"][0]["screener_done"], true);
        assert!(view["safety_reviews"][0]["cssrs"].is_null(), "{view}");
        assert!(!view.to_string().contains("wish_dead"), "{view}");
    }
    let (_, record) = send(
        &app,
        &t.coordinator,
        "GET",
        &format!("/api/v1/staff/patients/{patient}"),
        None,
    )
    .await;
    assert!(record["safety_reviews"][0]["cssrs"].is_null());
    // In the database: one sealed column, no answer in the clear.
    let db = raw(&app).await;
    let row: (i64, Vec<u8>) =
        sqlx::query_as("SELECT screener_done, cssrs_sealed FROM safety_reviews")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(row.0, 1);
    let sealed = String::from_utf8_lossy(&row.1).to_string();
    assert!(!sealed.contains("wish_dead") && !sealed.contains("true"));
    assert!(
        sqlx::query("SELECT wish_dead FROM safety_reviews")
            .fetch_all(&db)
            .await
            .is_err(),
        "no plain answer column"
    );
    let stored = everything_stored(&app).await;
    assert!(stored.contains("safety review: continue"));
    assert!(
        !stored.contains("wish_dead"),
        "a screener answer in the clear"
    );
}
