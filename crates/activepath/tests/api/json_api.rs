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
    assert!(html.contains("12 out of 27"));
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

#[tokio::test]
async fn an_idempotency_key_prevents_duplicates() {
    let app = spawn_app().await;
    let send = || async {
        app.client
            .post(app.url("/api/v1/assessments"))
            .header("content-type", "application/json")
            .header("idempotency-key", "kiosk-7-0001")
            .body(r#"{"instrument":"gad7","answers":[1,1,1,1,1,1,1],"difficulty":1}"#)
            .send()
            .await
            .unwrap()
    };
    let a = send().await;
    let b = send().await;
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (201, 201));
    assert_eq!(location(&a), location(&b));
    assert_eq!(app.counts().await.results, 1);
}
