//! A TMS course's sessions booked on the chair through the booking engine:
//! a whole series across a daylight-saving change, a conflict reported with
//! alternatives (never double-booked), moves of one, the following or all,
//! cancellations, and missed sessions made up at the end.

use crate::helpers::*;
use crate::tms::{Tokens, course_for, fields, send, tokens};
use serde_json::{Value, json};

/// Local clock times (America/New_York, the demo clinic's zone) of the
/// booked sessions, as "YYYY-MM-DD HH:MM".
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

/// A course of `planned` 10 Hz sessions: its API path.
async fn short_course(app: &TestApp, t: &Tokens, name: &str, planned: i64) -> String {
    let (_, p) = send(
        app,
        &t.coordinator,
        "POST",
        "/api/v1/staff/patients",
        Some(json!({"name": name, "date_of_birth": "1970-01-01"})),
    )
    .await;
    let (_, c) = send(
        app,
        &t.clinician,
        "POST",
        &format!("/api/v1/staff/patients/{}/courses", p["id"]),
        Some(json!({"protocol": "10hz", "planned_sessions": planned, "start_date": "2027-03-09"})),
    )
    .await;
    format!("/api/v1/staff/courses/{}", c["id"])
}

async fn schedule(app: &TestApp, t: &Tokens, path: &str, body: Value) -> (u16, Value) {
    send(
        app,
        &t.coordinator,
        "POST",
        &format!("{path}/schedule"),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_series_is_booked_whole_across_a_daylight_saving_change_and_a_conflict_comes_with_alternatives()
 {
    let app = spawn_app().await;
    // Monday 8 March 2027, 10:00 in New York; clocks go forward on the 14th.
    app.clock.set("2027-03-08T15:00:00Z".parse().unwrap());
    let t = tokens(&app).await;
    let other = short_course(&app, &t, "Ola Berg", 1).await;
    let (_, path) = course_for(&app, &t, "Pia Lund", "10hz").await;

    // Who may book: clinicians and coordinators.
    let first = json!({"location": "main", "first_start": "2027-03-09T09:00"});
    for token in [&t.technician, &t.admin] {
        assert_eq!(
            send(
                &app,
                token,
                "POST",
                &format!("{path}/schedule"),
                Some(first.clone())
            )
            .await
            .0,
            403
        );
    }
    // Each bad field named.
    let (code, problem) = schedule(
        &app,
        &t,
        &path,
        json!({"location": "nowhere", "first_start": "2027-03-13T09:00"}),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(fields(&problem), ["location"]);
    let (code, problem) =
        schedule(&app, &t, &path, json!({"first_start": "2027-03-13T09:00"})).await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["first_start"]),
        "a Saturday"
    );

    // The other course holds the chair at 09:00 on Wednesday the 17th.
    let (code, problem) =
        schedule(&app, &t, &other, json!({"first_start": "2027-03-17T09:00"})).await;
    assert_eq!(code, 201, "{problem}");

    // 36 from Tuesday the 9th at 09:00: the 17th is taken.
    let (code, problem) = schedule(&app, &t, &path, first.clone()).await;
    assert_eq!(code, 409, "{problem}");
    let conflicts = problem["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{problem}");
    assert_eq!(conflicts[0]["number"], 7);
    assert_eq!(conflicts[0]["reason"], "taken");
    assert_eq!(
        conflicts[0]["start"], "2027-03-17T13:00:00Z",
        "09:00 after the change"
    );
    let alternatives = conflicts[0]["alternatives"].as_array().unwrap();
    assert!(!alternatives.is_empty());
    assert!(!alternatives.contains(&json!("2027-03-17T13:00:00Z")));
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert!(
        view["schedule"].as_array().unwrap().is_empty(),
        "nothing booked"
    );

    // Another time that day: all 36 booked, at 09:00 on both sides of the change.
    let (code, booked) = schedule(&app, &t, &path, json!({"location": "main", "first_start": "2027-03-09T09:00", "instead": {"2027-03-17": "10:00"}})).await;
    assert_eq!(code, 201, "{booked}");
    assert_eq!(booked["appointments"].as_array().unwrap().len(), 36);
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    let times = local_times(&view);
    assert_eq!(times.len(), 36);
    assert_eq!(times[0], "2027-03-09 09:00");
    assert_eq!(times[6], "2027-03-17 10:00");
    assert!(
        times
            .iter()
            .enumerate()
            .all(|(i, t)| i == 6 || t.ends_with("09:00")),
        "{times:?}"
    );
    let utc: Vec<&str> = view["schedule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap())
        .collect();
    assert_eq!(utc[0], "2027-03-09T14:00:00Z");
    assert_eq!(utc[5], "2027-03-16T13:00:00Z");
    // 30 weekdays, then 3, 2 and 1 a week.
    assert_eq!(times[29], "2027-04-19 09:00");
    assert_eq!(
        &times[30..],
        [
            "2027-04-26 09:00",
            "2027-04-28 09:00",
            "2027-04-30 09:00",
            "2027-05-04 09:00",
            "2027-05-06 09:00",
            "2027-05-12 09:00"
        ]
    );
    let (code, problem) = schedule(&app, &t, &path, first.clone()).await;
    assert_eq!(
        (code, fields(&problem)),
        (422, vec!["first_start"]),
        "booked already"
    );

    // Moves: one onto the other course's time is refused with alternatives.
    let ids: Vec<i64> = view["schedule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    let change = |id: i64| format!("{path}/appointments/{id}/change");
    let (code, problem) = send(
        &app,
        &t.clinician,
        "POST",
        &change(ids[5]),
        Some(json!({"scope": "this", "action": "move", "start": "2027-03-17T09:00"})),
    )
    .await;
    assert_eq!(code, 409, "{problem}");
    assert!(
        !problem["conflicts"][0]["alternatives"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        send(
            &app,
            &t.technician,
            "POST",
            &change(ids[5]),
            Some(json!({"scope": "this", "action": "move", "start": "2027-03-16T11:00"}))
        )
        .await
        .0,
        403
    );
    // From session 20 on, at 11:00 (each on its own date).
    let (code, moved) = send(
        &app,
        &t.coordinator,
        "POST",
        &change(ids[19]),
        Some(json!({"scope": "following", "action": "move", "time": "11:00"})),
    )
    .await;
    assert_eq!(code, 200, "{moved}");
    assert_eq!(moved["appointments"].as_array().unwrap().len(), 17);
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    let times = local_times(&view);
    assert!(
        times[..19]
            .iter()
            .enumerate()
            .all(|(i, t)| i == 6 || t.ends_with("09:00"))
    );
    assert!(
        times[19..].iter().all(|t| t.ends_with("11:00")),
        "{times:?}"
    );
    // All at 08:00: the other course's 09:00 is no obstacle at 08:00, and
    // the sessions do not stand in each other's way.
    let (code, _) = send(
        &app,
        &t.coordinator,
        "POST",
        &change(ids[0]),
        Some(json!({"scope": "all", "action": "move", "time": "08:00"})),
    )
    .await;
    assert_eq!(code, 200);
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert!(local_times(&view).iter().all(|t| t.ends_with("08:00")));
    // Cancel the last two.
    let (code, _) = send(
        &app,
        &t.coordinator,
        "POST",
        &change(ids[34]),
        Some(json!({"scope": "following", "action": "cancel"})),
    )
    .await;
    assert_eq!(code, 200);
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(local_times(&view).len(), 34);
    assert_eq!(view["schedule"][35]["status"], "cancelled");
}

#[tokio::test]
async fn a_missed_session_is_made_up_after_the_last_and_missing_two_in_a_row_alerts() {
    let app = spawn_app().await;
    app.clock.set("2027-03-08T15:00:00Z".parse().unwrap());
    let t = tokens(&app).await;
    // A short course of 5, daily on weekdays.
    let path = short_course(&app, &t, "Sol Amen", 5).await;
    let (code, _) = schedule(&app, &t, &path, json!({"first_start": "2027-03-09T09:00"})).await;
    assert_eq!(code, 201);
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(
        local_times(&view),
        [
            "2027-03-09 09:00",
            "2027-03-10 09:00",
            "2027-03-11 09:00",
            "2027-03-12 09:00",
            "2027-03-15 09:00"
        ]
    );
    let ids: Vec<i64> = view["schedule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    let missed = |id: i64| format!("{path}/appointments/{id}/missed");

    // Not before it has happened.
    let (code, problem) = send(&app, &t.technician, "POST", &missed(ids[0]), None).await;
    assert_eq!((code, fields(&problem)), (422, vec!["appointment"]));
    // The first is missed: its make-up comes after the last, pushing the end.
    app.clock.set("2027-03-09T16:00:00Z".parse().unwrap());
    assert_eq!(
        send(&app, &t.admin, "POST", &missed(ids[0]), None).await.0,
        403
    );
    let (code, made) = send(&app, &t.technician, "POST", &missed(ids[0]), None).await;
    assert_eq!(code, 201, "{made}");
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert_eq!(view["schedule"][0]["status"], "missed");
    let times = local_times(&view);
    assert_eq!(
        times.last().unwrap(),
        "2027-03-16 09:00",
        "the day after the last"
    );
    let makeup = view["schedule"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(makeup["makeup_of"], ids[0]);
    assert!(
        !view["alerts"]
            .as_array()
            .unwrap()
            .contains(&json!("missed-sessions"))
    );
    assert_eq!(
        send(&app, &t.technician, "POST", &missed(ids[0]), None)
            .await
            .0,
        422,
        "once"
    );
    // The second too: two in a row alert.
    app.clock.set("2027-03-10T16:00:00Z".parse().unwrap());
    let (code, _) = send(&app, &t.technician, "POST", &missed(ids[1]), None).await;
    assert_eq!(code, 201);
    let (_, view) = send(&app, &t.clinician, "GET", &path, None).await;
    assert!(
        view["alerts"]
            .as_array()
            .unwrap()
            .contains(&json!("missed-sessions")),
        "{view}"
    );
    assert_eq!(local_times(&view).last().unwrap(), "2027-03-17 09:00");
    // The make-ups are real bookings: the chair is held.
    let db = raw(&app).await;
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM appointment_blocks WHERE active = 1")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(held, 7, "five booked and two make-ups");
}
