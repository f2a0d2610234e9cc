use crate::helpers::*;
use activepath::assessment::answers_aad;

const FACTS_FOOTER: &str = "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, with an educational grant from Pfizer Inc. No permission required to reproduce, translate, display or distribute.";

#[tokio::test]
async fn the_forms_show_every_item_verbatim_with_the_pfizer_footer() {
    let app = spawn_app().await;
    let (status, html) = app.get_text("/assessment/phq9").await;
    assert_eq!(status, 200);
    for item in clinical::instrument::PHQ9.items {
        assert!(
            html.contains(&askama_escape(item.text)),
            "item {}",
            item.number
        );
    }
    for n in 1..=9 {
        for v in 0..=3 {
            assert!(html.contains(&format!("name=\"q{n}\" value=\"{v}\"")));
        }
    }
    assert!(html.contains("name=\"difficulty\" value=\"3\""));
    assert!(html.contains(FACTS_FOOTER));
    let (status, html) = app.get_text("/assessment/gad7").await;
    assert_eq!(status, 200);
    assert!(html.contains("name=\"q7\" value=\"3\"") && !html.contains("name=\"q8\""));
    assert!(html.contains(FACTS_FOOTER));
    assert_eq!(app.get("/assessment/phq2").await.status(), 404);
    assert_eq!(app.get("/assessment/bdi").await.status(), 404);
}

fn askama_escape(s: &str) -> String {
    s.replace('&', "&#38;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
}

#[tokio::test]
async fn missing_answers_rerender_with_a_message_at_each_and_keep_the_rest() {
    let app = spawn_app().await;
    let res = app
        .post_form(
            "/assessment/phq9",
            "q1=2&q2=1&q4=3&q5=0&q6=0&q7=0&q8=0&submission=AAAAAAAAAAAAAAAAAAAAAA",
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("Please choose an answer for question 3."));
    assert!(html.contains("Please choose an answer for question 9."));
    assert!(html.contains("Please say how difficult these problems have made things for you."));
    assert!(!html.contains("Please choose an answer for question 1."));
    assert!(html.contains("name=\"q1\" value=\"2\" checked"));
    assert!(html.contains("name=\"q4\" value=\"3\" checked"));
    assert!(
        html.contains("value=\"AAAAAAAAAAAAAAAAAAAAAA\""),
        "the form nonce is kept"
    );
    assert_crisis_footer(&html);
    assert_eq!(app.counts().await.results, 0, "nothing is stored");
}

#[tokio::test]
async fn garbage_answers_are_a_clear_422_never_a_500() {
    let app = spawn_app().await;
    for body in [
        "q1=7&q2=-1&q3=x&q4=%00&q5=1.5&q6=0&q7=0&q8=0&q9=0&difficulty=9",
        "q1=1&q1=2&q2=0&q3=0&q4=0&q5=0&q6=0&q7=0&q8=0&q9=0",
        "totally-not-a-form",
        "",
    ] {
        let res = app.post_form("/assessment/phq9", body).await;
        assert_eq!(res.status(), 422, "{body}");
    }
    assert_eq!(app.counts().await.results, 0);
    // Wrong content type, and a body over the limit.
    let res = app
        .client
        .post(app.url("/assessment/phq9"))
        .header("content-type", "text/plain")
        .body("q1=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert!(res.text().await.unwrap().contains("<html"));
    let huge = format!("q1=1&junk={}", "x".repeat(100_000));
    let res = app.post_form("/assessment/phq9", &huge).await;
    assert_eq!(res.status(), 413);
    assert_eq!(app.counts().await.results, 0);
}

#[tokio::test]
async fn a_valid_form_stores_one_result_and_a_repost_finds_it() {
    let app = spawn_app().await;
    let body = "q1=1&q2=2&q3=1&q4=2&q5=0&q6=1&q7=0&q8=0&q9=0&difficulty=1&submission=BBBBBBBBBBBBBBBBBBBBBB";
    let first = app.post_form("/assessment/phq9", body).await;
    assert_eq!(first.status(), 303);
    let path = location(&first);
    assert!(path.starts_with("/assessment/result/"));
    let again = app.post_form("/assessment/phq9", body).await;
    assert_eq!(
        location(&again),
        path,
        "re-posting the same form leads to the same result"
    );
    assert_eq!(app.counts().await.results, 1);
    // Going back and changing an answer is a new result.
    let changed = body.replace("q5=0", "q5=3");
    let other = app.post_form("/assessment/phq9", &changed).await;
    assert_ne!(location(&other), path);
    assert_eq!(app.counts().await.results, 2);

    let (status, html) = app.get_text(&path).await;
    assert_eq!(status, 200);
    assert!(html.contains("<span class=\"big-number\">7</span>"));
    assert!(shows_score(&html, 7, 27));
    assert!(html.contains("Screening result: Mild"));
    assert!(html.contains("not a diagnosis"));
    assert!(html.contains(FACTS_FOOTER));
    assert!(!html.contains("Your safety matters most"));
    assert!(html.contains("Send my result to the clinic"));
    assert_crisis_footer(&html);
}

#[tokio::test]
async fn item9_above_zero_puts_the_safety_message_before_the_score() {
    let app = spawn_app().await;
    let path = app.submit_phq9([0, 0, 0, 0, 0, 0, 0, 0, 1], 0).await;
    let (_, html) = app.get_text(&path).await;
    let safety = html
        .find("Your safety matters most")
        .expect("safety message");
    let score = html.find("Your score").unwrap();
    assert!(safety < score);
    assert!(html[safety..score].contains("href=\"tel:988\""));
    assert!(html[safety..score].contains("No one reads this form as you fill it in"));
    assert!(html.contains("None to minimal"));
}

#[tokio::test]
async fn every_band_reads_right_on_the_result_page() {
    let app = spawn_app().await;
    for (answers, band) in [
        ([0, 0, 0, 0, 0, 0, 0, 0, 0], "None to minimal"),
        ([1, 1, 1, 1, 1, 0, 0, 0, 0], "Mild"),
        ([2, 2, 2, 2, 2, 0, 0, 0, 0], "Moderate"),
        ([3, 3, 3, 3, 3, 0, 0, 0, 0], "Moderately severe"),
        ([3, 3, 3, 3, 3, 3, 2, 0, 0], "Severe"),
    ] {
        let path = app.submit_phq9(answers, 1).await;
        let (_, html) = app.get_text(&path).await;
        assert!(
            html.contains(&format!("Screening result: {band}<")),
            "{band}"
        );
    }
}

#[tokio::test]
async fn results_are_private_and_expire() {
    let app = spawn_app().await;
    let path = app.submit_phq9([1; 9], 1).await;
    for page in [
        path.clone(),
        format!("{path}/share"),
        "/assessment/result/not-a-token".into(),
    ] {
        let res = app.get(&page).await;
        assert_eq!(
            res.headers().get("x-robots-tag").unwrap(),
            "noindex, nofollow",
            "{page}"
        );
    }
    let res = app.get(&path).await;
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    assert!(res.text().await.unwrap().contains("noindex"));
    assert_eq!(
        app.get("/assessment/result/not-a-token").await.status(),
        404
    );
    assert_eq!(
        app.get(&format!("/assessment/result/{}", "A".repeat(43)))
            .await
            .status(),
        404
    );

    // On the last day of its 30 the link works; after that it shows the
    // expired page, and the purge deletes the result (it was never shared).
    app.clock
        .advance(jiff::SignedDuration::from_hours(30 * 24 - 1));
    assert_eq!(app.get(&path).await.status(), 200);
    app.clock.advance(jiff::SignedDuration::from_hours(1));
    let (status, html) = app.get_text(&path).await;
    assert_eq!(status, 410);
    assert!(html.contains("This result has expired"));
    assert_eq!(
        activepath::jobs::purge(&app.state.storage, app.clock.now())
            .await
            .unwrap(),
        0,
        "deleted only once past its expiry"
    );
    app.clock.advance(jiff::SignedDuration::from_secs(1));
    assert_eq!(
        activepath::jobs::purge(&app.state.storage, app.clock.now())
            .await
            .unwrap(),
        1
    );
    assert_eq!(app.get(&path).await.status(), 404);
}

#[tokio::test]
async fn a_shared_result_is_kept_past_its_expiry() {
    let app = spawn_app().await;
    let path = app.submit_phq9([1; 9], 1).await;
    let share =
        "name=Ana&email=ana%40example.org&contact_method=email&contact_time=any&consent=yes";
    assert_eq!(
        app.post_form(&format!("{path}/share"), share)
            .await
            .status(),
        303
    );
    app.clock.advance(jiff::SignedDuration::from_hours(31 * 24));
    activepath::jobs::purge(&app.state.storage, app.clock.now())
        .await
        .unwrap();
    assert_eq!(app.counts().await.results, 1, "the clinic's record stays");
}

#[tokio::test]
async fn answers_are_encrypted_at_rest() {
    let app = spawn_app().await;
    let path = app.submit_phq9([3, 2, 1, 0, 3, 2, 1, 0, 0], 2).await;
    let token = path.rsplit('/').next().unwrap();
    let stored = app
        .state
        .storage
        .result_by_token_hash(&app.state.cipher.token_hash(token))
        .await
        .unwrap()
        .unwrap();
    assert!(!String::from_utf8_lossy(&stored.answers_sealed).contains("answers"));
    let plain = app
        .state
        .cipher
        .decrypt(&answers_aad(&stored.token_hash), &stored.answers_sealed)
        .unwrap();
    assert!(
        String::from_utf8(plain)
            .unwrap()
            .contains("[3,2,1,0,3,2,1,0,0]")
    );
}
