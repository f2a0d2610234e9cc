//! TMS courses through the staff API: starting one, motor thresholds, who
//! may do what, and the audit trail.

use crate::helpers::*;
use crate::staff::{add_staff, api_token};
use activepath::staff::Role;
use serde_json::{Value, json};

struct Tokens {
    clinician: String,
    coordinator: String,
    technician: String,
    admin: String,
}

async fn tokens(app: &TestApp) -> Tokens {
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

async fn send(
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

fn fields(problem: &Value) -> Vec<&str> {
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
    assert_eq!(fields(&problem), ["determined_at", "percent_output"]);
    let (status, _) = send(
        &app,
        &t.coordinator,
        "POST",
        &mt,
        Some(json!({"determined_at": now.to_string(), "percent_output": 52})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(
        &app,
        &t.technician,
        "POST",
        &mt,
        Some(json!({"determined_at": now.to_string(), "percent_output": 52})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(
        send(
            &app,
            &t.technician,
            "POST",
            "/api/v1/staff/courses/999999/motor-thresholds",
            Some(json!({"determined_at": now.to_string(), "percent_output": 52}))
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
