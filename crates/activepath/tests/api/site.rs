use crate::helpers::*;

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    assert_eq!(app.get_text("/healthz").await, (200, "ok".into()));
    assert_eq!(app.get_text("/readyz").await, (200, "ready".into()));
}

#[tokio::test]
async fn security_headers_on_every_response() {
    let app = spawn_app().await;
    for path in ["/", "/assessment/phq9", "/nope", "/healthz"] {
        let res = app.get(path).await;
        let h = res.headers();
        let csp = h.get("content-security-policy").unwrap().to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
        assert_eq!(h.get("referrer-policy").unwrap(), "no-referrer");
        assert!(h.get("permissions-policy").is_some());
    }
}

#[tokio::test]
async fn every_page_has_the_crisis_footer_and_no_script() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/assessment",
        "/assessment/phq9",
        "/assessment/gad7",
        "/no-such-page",
    ] {
        let (_, html) = app.get_text(path).await;
        assert_crisis_footer(&html);
        let executable = html.matches("<script").count()
            - html
                .matches("<script type=\"application/ld+json\">")
                .count();
        assert_eq!(executable, 0, "{path} has a script");
        assert!(html.contains("href=\"#main\""), "{path} lacks a skip link");
    }
}

#[tokio::test]
async fn friendly_404_and_static_assets() {
    let app = spawn_app().await;
    let (status, html) = app.get_text("/no-such-page").await;
    assert_eq!(status, 404);
    assert!(html.contains("We could not find that page"));
    let (_, home) = app.get_text("/").await;
    let css = home
        .split("href=\"/static/app.")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let res = app.get(&format!("/static/app.{css}")).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()
            .get("cache-control")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(app.get("/static/app.0000000000.css").await.status(), 404);
}

#[tokio::test]
async fn home_leads_to_the_self_assessment() {
    let app = spawn_app().await;
    let (status, html) = app.get_text("/").await;
    assert_eq!(status, 200);
    assert!(html.contains("href=\"/assessment\""));
    assert!(html.contains("Take the online depression self-assessment"));
}

#[tokio::test]
async fn a_database_failure_shows_a_friendly_500_without_details() {
    let app = spawn_app().await;
    app.state.storage.close().await;
    let (status, html) = app
        .get_text(&format!("/assessment/result/{}", "A".repeat(43)))
        .await;
    assert_eq!(status, 500);
    assert!(html.contains("Sorry, something went wrong on our side"));
    assert!(
        !html.to_lowercase().contains("pool"),
        "no internal error text"
    );
    assert_crisis_footer(&html);
    let res = app
        .post_json(r#"{"instrument":"phq9","answers":[0,0,0,0,0,0,0,0,0]}"#)
        .await;
    assert_eq!(res.status(), 500);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    assert_eq!(app.get("/readyz").await.status(), 503);
}

#[tokio::test]
async fn a_different_key_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database_url().await;
    let mut config = test_config(dir.path(), db.clone());
    config.encryption_key = Some(format!("{}=", "A".repeat(43)).into());
    activepath::app::Application::build(config).await.unwrap();
    let mut config = test_config(dir.path(), db);
    config.encryption_key = Some(format!("{}A=", "B".repeat(42)).into());
    let err = activepath::app::Application::build(config)
        .await
        .err()
        .expect("refused");
    assert!(
        format!("{err:#}").contains("not the key this database was written with"),
        "{err:#}"
    );
}
