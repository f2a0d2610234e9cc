//! Site figures: counted without identifiers, shown to admins.

use crate::helpers::*;
use crate::staff::{Browser, add_staff, first_sign_in};
use activepath::staff::Role;

async fn admin(app: &TestApp) -> Browser<'_> {
    add_staff(app, "admin@riverbend.example", Role::Admin).await;
    first_sign_in(app, "admin@riverbend.example").await.0
}

#[tokio::test]
async fn views_and_steps_are_counted_per_day_without_any_identifier() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/",
        "/tms",
        "/assessment/phq9",
        "/no-such-page",
        "/blog/feed.xml",
    ] {
        app.get(path).await;
    }
    let result = app.submit_phq9([1, 1, 1, 1, 1, 1, 1, 1, 0], 1).await;
    let token = result.rsplit('/').next().unwrap().to_string();
    assert_eq!(app.get(&result).await.status(), 200);
    // Staff pages and HEAD requests are not site views.
    app.client.head(app.url("/")).send().await.unwrap();
    activepath::figures::flush(&app.state).await;

    let db = raw(&app).await;
    let rows: Vec<(String, String, String, i64)> =
        sqlx::query_as("SELECT day, kind, name, count FROM site_counts ORDER BY kind, name")
            .fetch_all(&db)
            .await
            .unwrap();
    let today = activepath::time::date_in(app.clock.now(), app.state.config.clinic.time_zone.tz())
        .to_string();
    let got: Vec<(&str, &str, i64)> = rows
        .iter()
        .map(|r| (r.1.as_str(), r.2.as_str(), r.3))
        .collect();
    assert_eq!(
        got,
        [
            ("step", "assessment_completed", 1),
            ("step", "assessment_started", 1),
            ("view", "/", 2),
            ("view", "/assessment/phq9", 1),
            ("view", "/assessment/result/{token}", 1),
            ("view", "/tms", 1),
        ]
    );
    assert!(rows.iter().all(|r| r.0 == today));
    // The table has no column that could hold anything about a visitor, and
    // no value holds the result's private token.
    assert!(rows.iter().all(|r| !r.2.contains(&token)));
    let columns: Vec<String> = match app.state.storage.backend() {
        activepath::storage::Backend::Sqlite => sqlx::query_scalar("SELECT name FROM pragma_table_info('site_counts')").fetch_all(&db).await.unwrap(),
        activepath::storage::Backend::Postgres => sqlx::query_scalar("SELECT column_name::text FROM information_schema.columns WHERE table_name = 'site_counts' ORDER BY ordinal_position").fetch_all(&db).await.unwrap(),
    };
    assert_eq!(columns, ["day", "kind", "name", "count"]);
    // No cookie was set on the way.
    let res = app.get("/tms").await;
    assert!(res.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn admins_see_the_figures_as_a_chart_and_tables() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.get("/tms").await;
    }
    app.get("/assessment/gad7").await;
    let mut b = admin(&app).await;
    let page = b.get("/staff/figures").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<svg viewBox=\"0 0 600 180\""),
        "a server-drawn chart"
    );
    assert!(page.body.contains(
        "role=\"img\" aria-label=\"Page views per day over 30 days: 4 in all, at most 4 on one day."
    ));
    assert!(
        page.body
            .contains("<tr><td><code>/tms</code></td><td>3</td></tr>"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<tr><th scope=\"row\">Questionnaire opened</th><td>1</td>")
    );
    // Two instances add up: what each counted is stored, none overwritten.
    let other = second_instance(&app, |_| {}).await;
    other.get("/tms").await;
    activepath::figures::flush(&other.state).await;
    let page = b.get("/staff/figures").await;
    assert!(
        page.body
            .contains("<tr><td><code>/tms</code></td><td>4</td></tr>"),
        "{}",
        page.body
    );
}
