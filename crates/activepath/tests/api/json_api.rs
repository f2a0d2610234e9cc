use crate::helpers::*;
use serde_json::Value;

#[tokio::test]
async fn creates_a_result_and_answers_201() {
    let app = spawn_app().await;
    let res = app
        .post_json(r#"{"instrument":"phq9","answers":[0,1,2,3,0,1,2,3,0],"difficulty":1}"#)
        .await;
    assert_eq!(res.status(), 201);
    let location = location(&res);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["total"], 12);
    assert_eq!(body["severity"], "moderate");
    assert_eq!(body["self_harm_flag"], false);
    assert_eq!(body["result_url"], location);
    let path = location.strip_prefix(BASE_URL).unwrap();
    let (status, html) = app.get_text(path).await;
    assert_eq!(status, 200);
    assert!(shows_score(&html, 12, 27));
    assert_eq!(app.counts().await.results, 1);

    let res = app
        .post_json(r#"{"instrument":"gad7","answers":[3,3,3,3,3,3,3],"difficulty":3}"#)
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["total"].as_i64(), body["severity"].as_str()),
        (Some(21), Some("severe"))
    );
    let res = app
        .post_json(r#"{"instrument":"phq9","answers":[0,0,0,0,0,0,0,0,2],"difficulty":0}"#)
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["self_harm_flag"], true);
    assert_eq!(body["severity"], "none-minimal");
}

#[tokio::test]
async fn bad_input_is_a_problem_document_naming_each_field() {
    let app = spawn_app().await;
    let res = app
        .post_json(r#"{"instrument":"phq9","answers":[0,1,"2",3,0,1,2,3,7]}"#)
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    let body: Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["answers[2]", "answers[8]", "difficulty"]);

    let res = app
        .post_json(r#"{"instrument":"bdi-ii","answers":[1]}"#)
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "instrument");

    let res = app.post_json("{not json").await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/problem+json"
    );

    let res = app
        .client
        .post(app.url("/api/v1/assessments"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);

    let huge = format!(
        r#"{{"instrument":"phq9","answers":[{}0]}}"#,
        "0,".repeat(50_000)
    );
    let res = app.post_json(&huge).await;
    assert_eq!(res.status(), 413);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    assert_eq!(app.counts().await.results, 0, "nothing half-saved");
}

const GAD7_BODY: &str = r#"{"instrument":"gad7","answers":[1,1,1,1,1,1,1],"difficulty":1}"#;

#[tokio::test]
async fn an_idempotency_key_returns_the_first_response_instead_of_a_duplicate() {
    let app = spawn_app().await;
    let key = "7f1c1e0e-6a5b-4c1e-9d2a-3b4c5d6e7f80";
    let a = app.post_json_with_key(key, GAD7_BODY).await;
    // The same request again, spelled differently: the same request.
    let b = app
        .post_json_with_key(
            key,
            r#"{ "difficulty": 1, "answers": [1, 1, 1, 1, 1, 1, 1], "instrument": "gad7" }"#,
        )
        .await;
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (201, 201));
    assert_eq!(location(&a), location(&b));
    let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(a, b, "the same response");
    let c = app.counts().await;
    assert_eq!((c.results, c.idempotency_keys), (1, 1));
}

#[tokio::test]
async fn a_key_reused_with_other_answers_is_refused_and_reveals_nothing() {
    let app = spawn_app().await;
    let key = activepath::crypto::random_id();
    let first = app.post_json_with_key(&key, GAD7_BODY).await;
    assert_eq!(first.status(), 201);
    let first_url = location(&first);
    let other = app
        .post_json_with_key(
            &key,
            r#"{"instrument":"gad7","answers":[3,3,3,3,3,3,3],"difficulty":3}"#,
        )
        .await;
    assert_eq!(other.status(), 422);
    assert_eq!(
        other.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    assert!(other.headers().get("location").is_none());
    let body = other.text().await.unwrap();
    assert!(body.contains("Idempotency-Key"), "{body}");
    assert!(!body.contains(&first_url[first_url.rfind('/').unwrap() + 1..]));
    assert_eq!(app.counts().await.results, 1, "nothing stored");
}

#[tokio::test]
async fn guessable_keys_are_refused_with_a_reason() {
    let app = spawn_app().await;
    for key in [
        "kiosk-3-000127",
        "kiosk-7-0001",
        "00000000-0000-0000-0000-000000000000",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ] {
        let res = app.post_json_with_key(key, GAD7_BODY).await;
        assert_eq!(res.status(), 400, "{key}");
        assert_eq!(
            res.headers().get("content-type").unwrap(),
            "application/problem+json"
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["errors"][0]["field"], "Idempotency-Key", "{key}");
        assert!(
            body["errors"][0]["detail"]
                .as_str()
                .unwrap()
                .contains("128"),
            "{body}"
        );
    }
    assert_eq!(app.counts().await.results, 0);
}

#[tokio::test]
async fn an_idempotency_key_is_forgotten_after_24_hours() {
    let app = spawn_app().await;
    let key = "01890a5d-ac96-774b-bcce-b302099a8057";
    let first = location(&app.post_json_with_key(key, GAD7_BODY).await);
    app.clock.advance(jiff::SignedDuration::from_hours(23));
    assert_eq!(
        location(&app.post_json_with_key(key, GAD7_BODY).await),
        first
    );
    app.clock.advance(jiff::SignedDuration::from_hours(1));
    let later = app.post_json_with_key(key, GAD7_BODY).await;
    assert_eq!(later.status(), 201);
    assert_ne!(location(&later), first, "after 24 hours the key is new");
    assert_eq!(app.counts().await.results, 2);
    // The purge removes the expired record; the results stay until theirs.
    activepath::jobs::purge(&app.state.storage, app.clock.now())
        .await
        .unwrap();
    let c = app.counts().await;
    assert_eq!((c.results, c.idempotency_keys), (2, 1));
}

#[tokio::test]
async fn concurrent_requests_with_one_key_store_one_result() {
    let app = spawn_app().await;
    let key = activepath::crypto::random_id();
    let mut sends = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (client, url, key) = (
            app.client.clone(),
            app.url("/api/v1/assessments"),
            key.clone(),
        );
        sends.spawn(async move {
            client
                .post(url)
                .header("content-type", "application/json")
                .header("idempotency-key", key)
                .body(GAD7_BODY)
                .send()
                .await
                .unwrap()
        });
    }
    let mut urls = std::collections::BTreeSet::new();
    while let Some(res) = sends.join_next().await {
        let res = res.unwrap();
        assert_eq!(res.status(), 201);
        urls.insert(location(&res));
    }
    assert_eq!(urls.len(), 1);
    assert_eq!(app.counts().await.results, 1);
}

#[tokio::test]
async fn duplicate_and_unknown_fields_are_422() {
    let app = spawn_app().await;
    for (body, field) in [
        (
            r#"{"instrument":"phq9","answers":[3,3,3,3,3,3,3,3,3],"answers":[0,0,0,0,0,0,0,0,0],"difficulty":0}"#,
            "answers",
        ),
        (
            r#"{"instrument":"phq9","answers":[0,0,0,0,0,0,0,0,0],"difficulty":0,"difficulty":null}"#,
            "difficulty",
        ),
        (
            r#"{"instrument":"phq9","answers":[0,0,0,0,0,0,0,0,0],"name":"Ana"}"#,
            "name",
        ),
    ] {
        let res = app.post_json(body).await;
        assert_eq!(res.status(), 422, "{body}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    assert_eq!(app.counts().await.results, 0);
}

/// The properties an OpenAPI component schema declares.
fn declared(doc: &serde_json::Value, schema: &str) -> std::collections::BTreeSet<String> {
    doc["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{schema} is described"))
        .keys()
        .cloned()
        .collect()
}

fn keys(v: &serde_json::Value) -> std::collections::BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn the_openapi_document_describes_every_api_route_as_it_answers() {
    let app = spawn_app().await;
    let res = app.get("/api/openapi.json").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let doc: serde_json::Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    for (path, method) in [
        ("/api/v1/assessments", "post"),
        ("/api/v1/slots", "get"),
        ("/api/v1/bookings", "post"),
        ("/api/v1/staff/cases", "get"),
        ("/api/v1/staff/cases/{id}", "get"),
        ("/api/v1/staff/patients", "post"),
        ("/api/v1/staff/patients/{id}/courses", "post"),
        ("/api/v1/staff/courses/{id}", "get"),
        ("/api/v1/staff/courses/{id}/motor-thresholds", "post"),
        ("/api/v1/staff/courses/{id}/check-ins", "post"),
        ("/api/v1/staff/courses/{id}/status", "post"),
        ("/api/v1/staff/courses/{id}/sessions", "post"),
        ("/api/v1/staff/courses/{id}/holds/{hold}/clear", "post"),
        ("/api/v1/staff/courses/{id}/authorizations", "post"),
        ("/api/v1/staff/courses/{id}/check-in-links", "post"),
        ("/api/v1/staff/courses/{id}/schedule", "post"),
        (
            "/api/v1/staff/courses/{id}/appointments/{appointment}/missed",
            "post",
        ),
        (
            "/api/v1/staff/courses/{id}/appointments/{appointment}/change",
            "post",
        ),
        ("/api/v1/staff/patients/{id}", "get"),
        ("/api/v1/staff/patients/{id}/safety-reviews", "post"),
        ("/api/v1/staff/courses/{id}/adverse-events", "post"),
        (
            "/api/v1/staff/courses/{id}/adverse-events/{event}/reports",
            "post",
        ),
        ("/api/v1/staff/adverse-events", "get"),
        ("/api/v1/staff/courses/{id}/order", "post"),
        ("/api/v1/staff/courses/{id}/consent", "post"),
        ("/api/v1/staff/courses/{id}/safety-screen", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} in {paths:?}"
        );
    }
    assert_eq!(
        paths.len(),
        26,
        "no route undocumented, none invented: {paths:?}"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["staff_token"]["scheme"],
        "bearer"
    );
    // Every reference resolves.
    let text = doc.to_string();
    for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(doc["components"]["schemas"][name].is_object(), "{name}");
    }
    // What the API answers is what the document says.
    let created: serde_json::Value = app
        .post_json(r#"{"instrument":"phq9","answers":[1,1,1,1,1,1,1,1,1],"difficulty":1}"#)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(keys(&created), declared(&doc, "AssessmentCreated"));
    let problem: serde_json::Value = app
        .post_json(r#"{"instrument":"phq7"}"#)
        .await
        .json()
        .await
        .unwrap();
    assert!(keys(&problem).is_subset(&declared(&doc, "Problem")));
    let today = activepath::time::date_in(app.clock.now(), app.state.config.clinic.time_zone.tz());
    let slots: serde_json::Value = app
        .get(&format!(
            "/api/v1/slots?appointment_type=phone-consultation&location=main&from={today}&to={}",
            today.checked_add(jiff::Span::new().days(14)).unwrap()
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(keys(&slots), declared(&doc, "SlotsResponse"));
    assert_eq!(keys(&slots["slots"][0]), declared(&doc, "SlotJson"));
}
