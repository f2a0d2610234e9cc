//! Issue 19, sections 3 and 5: the baseline PHQ-9 is the latest taken
//! before session 1 and within `tms.baseline_valid_days` (14) of it; the
//! date rules for check-ins and sessions; a check-in dated before the
//! baseline needs confirming (API and portal); the `worsening` alert and
//! `category_reason`; accelerated courses booked on consecutive days, and
//! a resumed standard course that keeps its taper.

use crate::helpers::*;
use crate::tms::{Tokens, all_no, fields, send, tokens};
use crate::tms_portal::{patient, signed_in, start_course};
use activepath::staff::Role;
use serde_json::{Value, json};

/// Answers whose total is `total` (0 to 27); question 9 is answered only
/// above 24.
fn answers(total: u8) -> Value {
    let mut left = total.min(27);
    let items: Vec<u8> = (0..9)
        .map(|_| {
            let take = left.min(3);
            left -= take;
            take
        })
        .collect();
    json!(items)
}

/// A PHQ-9 of `total`, taken at `taken_at` (now when `None`).
fn phq9(total: u8, taken_at: Option<&str>) -> Value {
    let mut body = json!({"instrument": "phq9", "answers": answers(total)});
    if let Some(t) = taken_at {
        body["taken_at"] = json!(t);
    }
    body
}

/// A course on `protocol` for a new patient, starting on `start`: its path.
async fn course(app: &TestApp, t: &Tokens, name: &str, protocol: &str, start: &str) -> String {
    let (_, p) = send(
        app,
        &t.coordinator,
        "POST",
        "/api/v1/staff/patients",
        Some(json!({"name": name, "date_of_birth": "1979-05-06"})),
    )
    .await;
    let (code, c) = send(
        app,
        &t.clinician,
        "POST",
        &format!("/api/v1/staff/patients/{}/courses", p["id"]),
        Some(json!({"protocol": protocol, "start_date": start})),
    )
    .await;
    assert_eq!(code, 201, "{c}");
    let path = format!("/api/v1/staff/courses/{}", c["id"]);
    ready_course_for_sessions(app, &t.clinician, &path).await;
    path
}

async fn check_in(app: &TestApp, t: &Tokens, path: &str, body: Value) -> (u16, Value) {
    send(
        app,
        &t.technician,
        "POST",
        &format!("{path}/check-ins"),
        Some(body),
    )
    .await
}

async fn session_at(app: &TestApp, t: &Tokens, path: &str, at: &str) -> (u16, Value) {
    send(
        app,
        &t.technician,
        "POST",
        &format!("{path}/sessions"),
        Some(json!({"started_at": at, "intensity_percent_mt": 120, "pulses": 3000, "checklist": all_no(), "earplugs": true})),
    )
    .await
}

async fn threshold(app: &TestApp, t: &Tokens, path: &str) {
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

async fn view(app: &TestApp, t: &Tokens, path: &str) -> Value {
    let (code, v) = send(app, &t.clinician, "GET", path, None).await;
    assert_eq!(code, 200);
    v
}

fn message<'a>(problem: &'a Value, field: &str) -> &'a str {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["field"] == field)
        .and_then(|e| e["detail"].as_str())
        .unwrap_or_else(|| panic!("no {field} in {problem}"))
}

fn set(app: &TestApp, at: &str) {
    app.clock.set(at.parse().unwrap());
}

#[test]
fn answers_add_up() {
    for total in 0..=27u8 {
        let a = answers(total);
        let items: Vec<u64> = a
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(items.iter().sum::<u64>(), u64::from(total));
        assert!(items.iter().all(|v| *v <= 3));
        assert_eq!(items[8] > 0, total > 24);
    }
}

#[tokio::test]
async fn session_1_needs_a_fresh_baseline_and_dates_are_checked() {
    let app = spawn_app().await;
    // Monday 8 March 2027, 10:00 in New York.
    set(&app, "2027-03-08T15:00:00Z");
    let t = tokens(&app).await;
    let path = course(&app, &t, "Ida Moss", "10hz", "2027-03-08").await;

    // A check-in in the future, or more than 14 days before the start date.
    let (code, problem) = check_in(&app, &t, &path, phq9(20, Some("2027-03-08T16:00:00Z"))).await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["taken_at"]),
        "{problem}"
    );
    let (code, problem) = check_in(&app, &t, &path, phq9(20, Some("2027-02-21T15:00:00Z"))).await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["taken_at"]),
        "{problem}"
    );
    assert!(message(&problem, "taken_at").contains("14 days before the course's start date"));
    // The finding: a check-in of 2001 is refused, never the baseline.
    let (code, problem) = check_in(&app, &t, &path, phq9(20, Some("2001-01-01T15:00:00Z"))).await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["taken_at"]),
        "{problem}"
    );
    assert!(
        view(&app, &t, &path).await["check_ins"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Question 9 above 0 on a refused one: not stored, but the patient's
    // safety flag is raised, and the message says so.
    let (code, problem) = check_in(&app, &t, &path, phq9(26, Some("2027-01-04T15:00:00Z"))).await;
    assert_eq!(code, 422);
    assert!(
        message(&problem, "taken_at").contains("tell a clinician now")
            && message(&problem, "taken_at").contains("safety flag was raised"),
        "{problem}"
    );
    assert_eq!(
        view(&app, &t, &path).await["safety_flag"]["reasons"][0]["source"],
        "check-in"
    );
    // A clinician reviews it, so the course's dates can be tested on.
    let patient = view(&app, &t, &path).await["patient_id"].clone();
    let (code, done) = crate::tms::send(
        &app,
        &t.clinician,
        "POST",
        &format!("/api/v1/staff/patients/{patient}/safety-reviews"),
        Some(
            serde_json::json!({"outcome": "continue", "note": "Called the patient",
            "cssrs": {"not_done": "reached by phone"}}),
        ),
    )
    .await;
    assert_eq!(code, 201, "{done}");
    // 14 days before the start date is accepted: the baseline for now.
    let (code, _) = check_in(&app, &t, &path, phq9(20, Some("2027-02-22T15:00:00Z"))).await;
    assert_eq!(code, 201);
    let v = view(&app, &t, &path).await;
    assert_eq!(v["baseline_total"], 20);
    assert_eq!(v["category"], "insufficient-data");
    assert_eq!(v["category_reason"], "no-follow-up");
    threshold(&app, &t, &path).await;

    // A session before the course's start date, or in the future.
    let (code, problem) = session_at(&app, &t, &path, "2027-03-07T15:00:00Z").await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["started_at"]),
        "{problem}"
    );
    assert!(message(&problem, "started_at").contains("March 8, 2027"));
    let (code, problem) = session_at(&app, &t, &path, "2027-03-08T17:00:00Z").await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["started_at"]),
        "{problem}"
    );

    // A day later the baseline is 15 days old: session 1 is refused.
    set(&app, "2027-03-09T15:00:00Z");
    let v = view(&app, &t, &path).await;
    assert!(v["baseline_total"].is_null(), "stale: {v}");
    assert_eq!(v["category_reason"], "no-baseline");
    assert_eq!(v["check_in_due"], "baseline");
    let (code, problem) = session_at(&app, &t, &path, "2027-03-09T15:00:00Z").await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["baseline"]),
        "{problem}"
    );
    assert!(message(&problem, "baseline").contains("February 22, 2027"));
    assert!(
        view(&app, &t, &path).await["sessions"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A fresh one: accepted, and the latest before session 1 is the baseline.
    set(&app, "2027-03-09T15:30:00Z");
    let (code, _) = check_in(&app, &t, &path, phq9(18, None)).await;
    assert_eq!(code, 201);
    set(&app, "2027-03-09T15:40:00Z");
    let (code, problem) = session_at(&app, &t, &path, "2027-03-09T15:40:00Z").await;
    assert_eq!(code, 201, "{problem}");
    let v = view(&app, &t, &path).await;
    assert_eq!(v["baseline_total"], 18);
    assert!(v["latest_total"].is_null());
    assert_eq!(v["category_reason"], "no-follow-up");
    // Later sessions need no new baseline, even weeks on.
    set(&app, "2027-03-31T15:00:00Z");
    threshold(&app, &t, &path).await;
    set(&app, "2027-03-31T15:10:00Z");
    let (code, problem) = session_at(&app, &t, &path, "2027-03-31T15:10:00Z").await;
    assert_eq!(code, 201, "{problem}");
    let (code, _) = check_in(&app, &t, &path, phq9(8, None)).await;
    assert_eq!(code, 201);
    let v = view(&app, &t, &path).await;
    assert_eq!(
        (v["baseline_total"].as_i64(), v["latest_total"].as_i64()),
        (Some(18), Some(8))
    );
    assert_eq!(v["category"], "response");
    assert!(v["category_reason"].is_null());
    assert_eq!(v["worsening"], false);

    // The clinic's own number of days.
    let app = spawn_app_with(|c| c.tms.baseline_valid_days = 3).await;
    set(&app, "2027-03-08T15:00:00Z");
    let t = tokens(&app).await;
    let path = course(&app, &t, "Jo Nash", "10hz", "2027-03-08").await;
    let (code, _) = check_in(&app, &t, &path, phq9(20, Some("2027-03-04T15:00:00Z"))).await;
    assert_eq!(code, 422);
    let (code, _) = check_in(&app, &t, &path, phq9(20, Some("2027-03-05T15:00:00Z"))).await;
    assert_eq!(code, 201);
    threshold(&app, &t, &path).await;
    let (code, problem) = session_at(&app, &t, &path, "2027-03-08T15:00:00Z").await;
    assert_eq!(code, 201, "{problem}");
}

#[tokio::test]
async fn a_check_in_dated_before_the_baseline_needs_confirming() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    set(&app, "2027-03-08T15:00:00Z");
    let t = tokens(&app).await;
    let path = course(&app, &t, "Kai Lund", "10hz", "2027-03-08").await;
    let (code, _) = check_in(&app, &t, &path, phq9(18, None)).await;
    assert_eq!(code, 201);

    // Dated before the baseline: refused unless confirmed, and it says it
    // does not change the baseline.
    let earlier = phq9(22, Some("2027-03-05T15:00:00Z"));
    let (code, problem) = check_in(&app, &t, &path, earlier.clone()).await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["confirm_backdated"]),
        "{problem}"
    );
    assert!(message(&problem, "confirm_backdated").contains("would not change the baseline"));
    assert_eq!(
        view(&app, &t, &path).await["check_ins"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let mut confirmed = earlier.clone();
    confirmed["confirm_backdated"] = json!(true);
    let (code, _) = check_in(&app, &t, &path, confirmed).await;
    assert_eq!(code, 201);
    assert_eq!(view(&app, &t, &path).await["baseline_total"], 18);
    // Not a boolean: a 422 naming nothing half-saved.
    let mut wrong = earlier.clone();
    wrong["confirm_backdated"] = json!("yes");
    assert_eq!(check_in(&app, &t, &path, wrong).await.0, 422);

    // Once session 1 is given, one dated before it would change the baseline.
    threshold(&app, &t, &path).await;
    set(&app, "2027-03-08T15:10:00Z");
    let (code, problem) = session_at(&app, &t, &path, "2027-03-08T15:10:00Z").await;
    assert_eq!(code, 201, "{problem}");
    set(&app, "2027-03-08T16:00:00Z");
    let between = phq9(24, Some("2027-03-08T15:05:00Z"));
    let (code, problem) = check_in(&app, &t, &path, between.clone()).await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["confirm_backdated"]),
        "{problem}"
    );
    assert!(message(&problem, "confirm_backdated").contains("would change the baseline"));
    assert_eq!(view(&app, &t, &path).await["baseline_total"], 18);
    let mut confirmed = between;
    confirmed["confirm_backdated"] = json!(true);
    assert_eq!(check_in(&app, &t, &path, confirmed).await.0, 201);
    assert_eq!(view(&app, &t, &path).await["baseline_total"], 24);
    // After session 1: no confirmation needed.
    assert_eq!(check_in(&app, &t, &path, phq9(12, None)).await.0, 201);
    let v = view(&app, &t, &path).await;
    assert_eq!(
        (v["baseline_total"].as_i64(), v["latest_total"].as_i64()),
        (Some(24), Some(12))
    );

    // The portal asks with a check box, and keeps what was typed.
    let mut doc = signed_in(&app, "paper@riverbend.example", Role::Technician).await;
    let mut lead = signed_in(&app, "lead@riverbend.example", Role::Clinician).await;
    let id = patient(&mut lead, "Lea Moe", "lea@example.org").await;
    let page = start_course(&mut lead, id, "itbs", None, "2027-03-08").await;
    let csrf = doc.get(&format!("{page}/check-ins/new")).await.csrf();
    let form = |when: &str, confirm: bool, answer: &str| {
        let mut f: Vec<(String, String)> = vec![
            ("csrf".into(), csrf.clone()),
            ("taken_at".into(), when.into()),
        ];
        for i in 1..=9 {
            f.push((format!("q{i}"), if i < 9 { answer } else { "0" }.into()));
        }
        if confirm {
            f.push(("confirm_backdated".into(), "yes".into()));
        }
        f
    };
    let api = format!("/api/v1/staff/courses/{}", page.rsplit('/').next().unwrap());
    // The baseline, now (11:00 in New York).
    let res = doc
        .post(
            &format!("{page}/check-ins"),
            &pairs(&form("2027-03-08T11:00", false, "2")),
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    // Two days earlier: the form again, with the question and the box.
    let earlier = form("2027-03-06T09:30", false, "1");
    let res = doc
        .post(&format!("{page}/check-ins"), &pairs(&earlier))
        .await;
    assert_eq!(res.status, 422);
    assert!(
        res.body.contains("name=\"confirm_backdated\""),
        "{}",
        res.body
    );
    assert!(res.body.contains("would not change the baseline"));
    assert!(res.body.contains("<legend>Is the date right?</legend>"));
    assert!(
        res.body.contains("value=\"2027-03-06T09:30\""),
        "the date kept"
    );
    assert!(res.body.contains("value=\"1\" checked"), "the answers kept");
    assert_eq!(
        view(&app, &t, &api).await["check_ins"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing saved"
    );
    let res = doc
        .post(
            &format!("{page}/check-ins"),
            &pairs(&form("2027-03-06T09:30", true, "1")),
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let after = view(&app, &t, &api).await;
    assert_eq!(after["check_ins"].as_array().unwrap().len(), 2);
    assert_eq!(
        after["baseline_total"], 16,
        "the later one stays the baseline"
    );
}

fn pairs(f: &[(String, String)]) -> Vec<(&str, &str)> {
    f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test]
async fn a_rise_of_five_points_raises_the_worsening_alert_first() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    set(&app, "2027-03-08T15:00:00Z");
    let t = tokens(&app).await;
    let path = course(&app, &t, "Max Orr", "10hz", "2027-03-08").await;
    let v = view(&app, &t, &path).await;
    assert_eq!(v["category_reason"], "no-baseline");
    assert_eq!(v["worsening"], false);
    assert_eq!(check_in(&app, &t, &path, phq9(20, None)).await.0, 201);
    threshold(&app, &t, &path).await;
    set(&app, "2027-03-08T15:10:00Z");
    let (code, _) = session_at(&app, &t, &path, "2027-03-08T15:10:00Z").await;
    assert_eq!(code, 201);

    // The course: 20 to 24 is 4 points, under the minimal
    // important change: non-response, and no worsening.
    set(&app, "2027-03-09T15:00:00Z");
    assert_eq!(check_in(&app, &t, &path, phq9(24, None)).await.0, 201);
    let v = view(&app, &t, &path).await;
    assert_eq!(v["category"], "non-response");
    assert!(v["category_reason"].is_null());
    assert_eq!(v["worsening"], false);
    assert!(
        !v["alerts"]
            .as_array()
            .unwrap()
            .contains(&json!("worsening"))
    );
    // 20 to 25: five above the baseline: the first alert.
    set(&app, "2027-03-10T15:00:00Z");
    let (code, done) = check_in(&app, &t, &path, phq9(25, None)).await;
    assert_eq!(code, 201, "{done}");
    let v = view(&app, &t, &path).await;
    assert_eq!(v["worsening"], true);
    assert_eq!(v["alerts"][0], "worsening", "{}", v["alerts"]);
    // Better again, then 4 above the one before: no alert.
    for (day, total, worse) in [
        (11, 12, false),
        (12, 16, false),
        (13, 11, false),
        (14, 16, true),
    ] {
        set(&app, &format!("2027-03-{day}T15:00:00Z"));
        assert_eq!(check_in(&app, &t, &path, phq9(total, None)).await.0, 201);
        let v = view(&app, &t, &path).await;
        assert_eq!(v["worsening"], worse, "{total} on the {day}th");
        assert_eq!(v["alerts"][0] == "worsening", worse, "{}", v["alerts"]);
    }
    // 11 to 16 is five above the check-in before (though 4 below the
    // baseline): shown on the course page, the course list and the queue.
    let mut doc = signed_in(&app, "view@riverbend.example", Role::Clinician).await;
    let id = path.rsplit('/').next().unwrap();
    let page = doc.get(&format!("/staff/courses/{id}")).await;
    assert!(
        page.body
            .contains("Worse: the latest PHQ-9 is 5 or more points higher"),
        "{}",
        page.body
    );
    let list = doc.get("/staff/courses").await;
    let at = list
        .body
        .find(&format!("href=\"/staff/courses/{id}\""))
        .unwrap();
    let row = &list.body[at..at + list.body[at..].find("</tr>").unwrap()];
    assert!(row.contains("PHQ-9 worse by 5 or more"), "{row}");
    let queue = doc.get("/staff").await;
    assert!(queue.body.contains("Worse: the latest PHQ-9"));
    // Every role that sees the course sees the flag.
    for token in [&t.clinician, &t.coordinator, &t.technician] {
        let (code, v) = send(&app, token, "GET", &path, None).await;
        assert_eq!(code, 200);
        assert_eq!(v["worsening"], true);
    }

    // A baseline below 10 says why there is no category.
    let low = course(&app, &t, "Ned Pike", "10hz", "2027-03-14").await;
    assert_eq!(check_in(&app, &t, &low, phq9(8, None)).await.0, 201);
    let v = view(&app, &t, &low).await;
    assert_eq!(v["category"], "insufficient-data");
    assert_eq!(v["category_reason"], "baseline-below-10");
    // Early non-response's alert says not to stop.
    assert!(
        activepath::i18n::Tr::default()
            .t("course-alert-early-non-response")
            .contains(
                "Review the plan; some people improve after session 20 — do not stop automatically"
            )
    );
}

/// Local clock times (America/New_York) of the booked sessions.
fn local_times(view: &Value) -> Vec<String> {
    let tz = jiff::tz::TimeZone::get("America/New_York").unwrap();
    view["schedule"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "booked")
        .map(|s| {
            let t: jiff::Timestamp = s["start"].as_str().unwrap().parse().unwrap();
            t.to_zoned_datetime(tz.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .collect()
}

/// Opens the TMS chair at the main clinic on `weekday` (6 Saturday, 7
/// Sunday), 8:00 to 18:00.
async fn open_chair(app: &TestApp, weekday: i64) {
    let db = raw(app).await;
    sqlx::query(
        "INSERT INTO booking_hours (resource_id, location_id, weekday, start_minute, end_minute) \
         SELECT r.id, l.id, $1, 480, 1080 FROM booking_resources r, booking_locations l \
         WHERE r.slug = 'tms-chair-1' AND l.slug = 'main'",
    )
    .bind(weekday)
    .execute(&db)
    .await
    .unwrap();
}

#[tokio::test]
async fn accelerated_sessions_run_on_consecutive_days_and_the_day_that_breaks_the_run_is_named() {
    let app = spawn_app().await;
    set(&app, "2027-03-08T15:00:00Z");
    let t = tokens(&app).await;
    let path = course(&app, &t, "Ola Voss", "accelerated-itbs", "2027-03-08").await;
    let book = json!({"location": "main", "first_start": "2027-03-11T08:00"});
    // From Thursday: Saturday the 13th is closed, so the run breaks there.
    let (code, problem) = send(
        &app,
        &t.coordinator,
        "POST",
        &format!("{path}/schedule"),
        Some(book.clone()),
    )
    .await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["first_start"]),
        "{problem}"
    );
    let why = message(&problem, "first_start");
    assert!(
        why.contains("2027-03-13") && why.contains("Saturday"),
        "{why}"
    );
    assert!(
        view(&app, &t, &path).await["schedule"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Saturday open, Sunday still closed: now Sunday breaks it.
    open_chair(&app, 6).await;
    let (code, problem) = send(
        &app,
        &t.coordinator,
        "POST",
        &format!("{path}/schedule"),
        Some(book.clone()),
    )
    .await;
    assert_eq!(code, 422, "{problem}");
    assert!(message(&problem, "first_start").contains("2027-03-14"));
    // Both open: 50 sessions, 10 a day, Thursday to Monday, across the
    // weekend and the daylight-saving change of the 14th.
    open_chair(&app, 7).await;
    let (code, booked) = send(
        &app,
        &t.coordinator,
        "POST",
        &format!("{path}/schedule"),
        Some(book.clone()),
    )
    .await;
    assert_eq!(code, 201, "{booked}");
    let times = local_times(&view(&app, &t, &path).await);
    assert_eq!(times.len(), 50);
    for (day, date) in [
        "2027-03-11",
        "2027-03-12",
        "2027-03-13",
        "2027-03-14",
        "2027-03-15",
    ]
    .iter()
    .enumerate()
    {
        let of_day: Vec<&String> = times.iter().filter(|x| x.starts_with(date)).collect();
        assert_eq!(of_day.len(), 10, "{date}: {times:?}");
        assert_eq!(of_day[0], &format!("{date} 08:00"), "day {day}");
        assert_eq!(of_day[9], &format!("{date} 17:00"));
    }
    // A time taken on a day with other free times is a conflict like any,
    // offering that day's times only.
    let other = course(&app, &t, "Per Dahl", "accelerated-itbs", "2027-03-08").await;
    let (_, p) = send(
        &app,
        &t.coordinator,
        "POST",
        "/api/v1/staff/patients",
        Some(json!({"name": "Rut Holm", "date_of_birth": "1979-05-06"})),
    )
    .await;
    let (_, c) = send(
        &app,
        &t.clinician,
        "POST",
        &format!("/api/v1/staff/patients/{}/courses", p["id"]),
        Some(json!({"protocol": "10hz", "planned_sessions": 1, "start_date": "2027-03-08"})),
    )
    .await;
    let one = format!("/api/v1/staff/courses/{}", c["id"]);
    let (code, problem) = send(
        &app,
        &t.coordinator,
        "POST",
        &format!("{one}/schedule"),
        Some(json!({"first_start": "2027-03-23T08:00"})),
    )
    .await;
    assert_eq!(code, 201, "{problem}");
    let (code, problem) = send(
        &app,
        &t.coordinator,
        "POST",
        &format!("{other}/schedule"),
        Some(json!({"first_start": "2027-03-23T08:00"})),
    )
    .await;
    assert_eq!(code, 409, "{problem}");
    let conflicts = problem["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{problem}");
    assert_eq!(conflicts[0]["number"], 1);
    let alternatives = conflicts[0]["alternatives"].as_array().unwrap();
    assert!(!alternatives.is_empty(), "{problem}");
    for a in alternatives {
        let at: jiff::Timestamp = a.as_str().unwrap().parse().unwrap();
        let tz = jiff::tz::TimeZone::get("America/New_York").unwrap();
        assert_eq!(
            at.to_zoned_datetime(tz).date().to_string(),
            "2027-03-23",
            "{a}"
        );
    }
}

#[tokio::test]
async fn a_resumed_standard_course_keeps_its_taper() {
    let app = spawn_app().await;
    // Monday 1 March 2027, 09:00 in New York.
    set(&app, "2027-03-01T14:00:00Z");
    let t = tokens(&app).await;
    let path = course(&app, &t, "Sia Berg", "10hz", "2027-03-01").await;
    assert_eq!(check_in(&app, &t, &path, phq9(20, None)).await.0, 201);
    threshold(&app, &t, &path).await;
    set(&app, "2027-03-01T14:10:00Z");
    assert_eq!(
        session_at(&app, &t, &path, "2027-03-01T14:10:00Z").await.0,
        201
    );
    set(&app, "2027-03-02T14:00:00Z");
    set(&app, "2027-03-02T14:10:00Z");
    assert_eq!(
        session_at(&app, &t, &path, "2027-03-02T14:10:00Z").await.0,
        201
    );
    // Paused, then resumed.
    for status in ["paused", "active"] {
        let (code, _) = send(
            &app,
            &t.clinician,
            "POST",
            &format!("{path}/status"),
            Some(json!({"status": status})),
        )
        .await;
        assert_eq!(code, 200, "{status}");
    }
    let (code, booked) = send(
        &app,
        &t.coordinator,
        "POST",
        &format!("{path}/schedule"),
        Some(json!({"first_start": "2027-03-08T09:00"})),
    )
    .await;
    assert_eq!(code, 201, "{booked}");
    let times = local_times(&view(&app, &t, &path).await);
    // 34 left: sessions 3 to 30 daily on weekdays, then 3, 2 and 1 a week.
    assert_eq!(times.len(), 34);
    assert_eq!(times[0], "2027-03-08 09:00");
    assert_eq!(times[27], "2027-04-14 09:00", "session 30");
    assert_eq!(
        times[28..],
        [
            "2027-04-19 09:00",
            "2027-04-21 09:00",
            "2027-04-23 09:00",
            "2027-04-27 09:00",
            "2027-04-29 09:00",
            "2027-05-05 09:00",
        ]
    );
    // A standard course still starts on a weekday.
    let other = course(&app, &t, "Tor Ek", "10hz", "2027-03-01").await;
    let (code, problem) = send(
        &app,
        &t.coordinator,
        "POST",
        &format!("{other}/schedule"),
        Some(json!({"first_start": "2027-03-06T09:00"})),
    )
    .await;
    assert_eq!((code, fields(&problem)), (422, vec!["first_start"]));
}
