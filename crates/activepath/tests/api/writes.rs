//! Writes under load: every acknowledged one kept, and on SQLite committed
//! in groups rather than one flush each.

use crate::helpers::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_submissions_are_all_kept_and_committed_together() {
    let app = spawn_app_with(|c| c.rate_limit.enabled = false).await;
    let mut sends = tokio::task::JoinSet::new();
    for task in 0..32u32 {
        let (client, url) = (app.client.clone(), app.url("/api/v1/assessments"));
        sends.spawn(async move {
            let mut made = Vec::new();
            for i in 0..12u32 {
                let answers: Vec<u32> = (0..9).map(|k| (task + i + k) % 4).collect();
                let res = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(format!(
                        r#"{{"instrument":"phq9","answers":{answers:?},"difficulty":1}}"#
                    ))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 201);
                let body: Value = res.json().await.unwrap();
                made.push((
                    body["result_url"].as_str().unwrap().to_string(),
                    answers.iter().sum::<u32>(),
                ));
            }
            made
        });
    }
    let mut made = Vec::new();
    while let Some(done) = sends.join_next().await {
        made.extend(done.unwrap());
    }
    assert_eq!(made.len(), 384);
    assert_eq!(app.counts().await.results, 384);
    for (url, total) in made.iter().step_by(7) {
        let (status, html) = app.get_text(url.strip_prefix(BASE_URL).unwrap()).await;
        assert_eq!(status, 200);
        assert!(shows_score(&html, *total, 27));
    }
    if let Some((commits, writes)) = app.state.storage.commit_stats() {
        eprintln!("{writes} writes in {commits} commits");
        assert!(
            commits * 2 < writes,
            "{writes} writes took {commits} commits: they are not grouped"
        );
    }
}
