//! What result pages promise (issue 11): anxiety has its own next steps and
//! never TMS, the two highest PHQ-9 bands carry the crisis lines in their
//! next steps, the answer about daily life counts, the clinic's hours sit
//! by its number, and an urgent result's sharing page says what will
//! happen from the clinic's own settings. And what every page carries: the
//! notices, the medical review (and the demo notice while the placeholder
//! reviewer remains), and a reading level patients can follow.

use crate::helpers::*;

/// The next-steps section of a result page.
fn next_steps(html: &str) -> &str {
    let at = html
        .find("<section aria-labelledby=\"next-heading\"")
        .expect("next steps");
    let end = html[at..].find("</section>").unwrap();
    &html[at..at + end]
}

async fn result(app: &TestApp, path: &str) -> String {
    let (code, html) = app.get_text(path).await;
    assert_eq!(code, 200);
    html
}

async fn submit_gad7(app: &TestApp, answers: [u8; 7], difficulty: u8) -> String {
    let mut body: Vec<String> = answers
        .iter()
        .enumerate()
        .map(|(i, a)| format!("q{}={a}", i + 1))
        .collect();
    body.push(format!("difficulty={difficulty}"));
    let res = app.post_form("/assessment/gad7", &body.join("&")).await;
    assert_eq!(res.status(), 303);
    location(&res)
}

#[tokio::test]
async fn an_anxiety_result_has_its_own_next_steps_and_never_suggests_tms() {
    let app = spawn_app().await;
    for answers in [[3; 7], [2; 7], [1; 7], [0; 7]] {
        let html = result(&app, &submit_gad7(&app, answers, 1).await).await;
        let steps = next_steps(&html);
        assert!(!steps.contains("TMS"), "{steps}");
        assert!(!steps.contains("depression"), "{steps}");
    }
    let severe = result(&app, &submit_gad7(&app, [3; 7], 1).await).await;
    assert!(next_steps(&severe).contains("help with anxiety"));
}

#[tokio::test]
async fn the_two_highest_phq9_bands_carry_the_crisis_lines_in_their_next_steps() {
    let app = spawn_app().await;
    // 20 and 27 with question 9 at 0; 12 (moderate) without.
    for (answers, crisis) in [
        ([3, 3, 2, 2, 3, 2, 3, 2, 0], true),
        ([3, 3, 3, 3, 3, 3, 3, 3, 0], true),
        ([2, 2, 1, 1, 2, 1, 2, 1, 0], false),
    ] {
        let html = result(&app, &app.submit_phq9(answers, 1).await).await;
        let steps = next_steps(&html);
        assert_eq!(steps.contains("tel:988"), crisis, "{answers:?}");
        assert_eq!(steps.contains("sms:741741"), crisis, "{answers:?}");
        // The call button is followed by the clinic's phone hours.
        assert!(
            steps.contains("Phone hours:") && steps.contains("8:30"),
            "{steps}"
        );
    }
}

#[tokio::test]
async fn the_answer_about_daily_life_changes_a_mild_results_next_steps() {
    let app = spawn_app().await;
    // 6: mild.
    let mild = [1, 1, 1, 1, 1, 1, 0, 0, 0];
    let easy = result(&app, &app.submit_phq9(mild, 0).await).await;
    let hard = result(&app, &app.submit_phq9(mild, 3).await).await;
    let line = "very or extremely difficult";
    assert!(!next_steps(&easy).contains(line));
    assert!(next_steps(&hard).contains(line));
    assert!(next_steps(&hard).contains("talk with a clinician"));
}

#[tokio::test]
async fn an_urgent_results_sharing_page_says_what_the_clinics_settings_promise() {
    for (hours, words) in [(2, "within 2 hours"), (24, "within 24 hours")] {
        let app = spawn_app_with(|c| {
            c.staff.urgent_respond_within = std::time::Duration::from_secs(hours * 3600);
        })
        .await;
        let path = app.submit_phq9([1, 1, 1, 1, 1, 1, 1, 1, 1], 1).await;
        let (code, html) = app.get_text(&format!("{path}/share")).await;
        assert_eq!(code, 200);
        assert!(html.contains(words), "{hours} h: {html}");
        assert!(
            html.contains("monday-friday") || html.contains("Monday"),
            "the hours"
        );
        assert!(html.contains("tel:988"));
    }
}

#[tokio::test]
async fn the_notices_are_linked_from_every_page_type_and_beside_each_consent() {
    let app = spawn_app().await;
    let result = app.submit_phq9([1; 9], 1).await;
    let pages = [
        "/".to_string(),
        "/tms".into(),
        "/blog".into(),
        "/assessment".into(),
        "/assessment/phq9".into(),
        result.clone(),
        "/book".into(),
        "/contact/message".into(),
        "/notice-of-privacy-practices".into(),
    ];
    for path in &pages {
        let (code, html) = app.get_text(path).await;
        assert_eq!(code, 200, "{path}");
        for link in [
            "href=\"/notice-of-privacy-practices\"",
            "href=\"/non-discrimination\"",
            "href=\"/terms\"",
        ] {
            assert!(html.contains(link), "{path} lacks {link}");
        }
        assert!(
            html.contains("not medical advice. In an emergency, call 911 or 988."),
            "{path}"
        );
    }
    // Beside the consent of every form that sends health information.
    for path in [
        format!("{result}/share"),
        "/contact/message".into(),
        "/book/callback".into(),
    ] {
        let (_, html) = app.get_text(&path).await;
        let consent = html.find("name=\"consent\"").expect("a consent");
        assert!(
            html[consent..].contains("href=\"/notice-of-privacy-practices\""),
            "{path}"
        );
    }
    // The questionnaires are for adults.
    for path in ["/assessment", "/assessment/phq9", "/assessment/gad7"] {
        assert!(
            app.get_text(path)
                .await
                .1
                .contains("for adults aged 18 and over"),
            "{path}"
        );
    }
    // The templates say they are templates; taglines come from the settings.
    let (_, npp) = app.get_text("/notice-of-privacy-practices").await;
    assert!(npp.contains("Demo template"));
    let app = spawn_app_with(|c| {
        c.clinic.language_taglines = vec!["Help in your language: call us.".into()]
    })
    .await;
    let (_, page) = app.get_text("/non-discrimination").await;
    assert!(
        page.contains("<li>Help in your language: call us.</li>"),
        "{page}"
    );
}

#[tokio::test]
async fn the_privacy_notice_follows_the_settings_and_says_exactly_what_is_encrypted() {
    let app = spawn_app_with(|c| {
        c.result_ttl_days = 7;
        c.clinic.processors = vec!["Hosting: Example Cloud, in the United States".into()];
    })
    .await;
    let (code, html) = app.get_text("/privacy").await;
    assert_eq!(code, 200);
    assert!(
        html.contains("works for\n7 days") || html.contains("works for 7 days"),
        "{html}"
    );
    assert!(!html.contains("30 days"));
    assert!(html.contains("<li>Hosting: Example Cloud, in the United States</li>"));
    assert!(html.contains("are stored unencrypted beside them"));
    assert!(html.contains("may keep its own short network logs"));
    assert!(html.contains("not end-to-end encrypted"));
    assert!(html.contains("No more contact"));
}

#[tokio::test]
async fn the_education_pages_say_what_facts_support() {
    let app = spawn_app().await;
    let page = |path: &'static str| {
        let app = &app;
        async move {
            let (code, html) = app.get_text(path).await;
            assert_eq!(code, 200, "{path}");
            // Markdown keeps the source's line breaks: one space instead.
            html.split_whitespace().collect::<Vec<_>>().join(" ")
        }
    };
    // TMS: who it is usually not for, apart from what a clinician weighs,
    // and the rare side effects (FACTS §7.5).
    let tms = page("/tms").await;
    let not_for = tms
        .find("Who TMS is usually not for")
        .expect("the first list");
    let weighs = tms
        .find("What a clinician weighs with you")
        .expect("the second list");
    assert!(not_for < weighs);
    assert!(
        tms[not_for..weighs].contains("30 cm")
            && tms[not_for..weighs].contains("cochlear implants")
    );
    assert!(tms[weighs..].contains("bipolar disorder") && tms[weighs..].contains("mania"));
    assert!(tms.contains("fainting") && tms.contains("very rarely, a seizure"));
    // Esketamine as labelled now, and what "alternative" means.
    let post = page("/blog/3-alternative-therapies-for-depression").await;
    assert!(post.contains("since January 2025 it is also approved on its own"));
    assert!(post.contains("at least two hours") && post.contains("must not drive"));
    assert!(post.contains("not complementary or herbal"));
    // The warning for people up to 24, with 988.
    let meds = page("/medication-management").await;
    assert!(meds.contains("up to age 24") && meds.contains("988"));
    // The PHQ-9 measures symptoms now, not treatment resistance.
    let trd = page("/treatment-resistant-depression").await;
    assert!(trd.contains("cannot tell whether depression is treatment-resistant"));
    // One population, the registry named, the full citation.
    let results = page("/tms-results").await;
    assert!(results.contains("NeuroStar Outcomes Registry"));
    assert!(results.contains("mostly for that kind of treatment") && results.contains("10 Hz"));
    assert!(results.contains("volume 277, starting on page 65"));
    assert!(!results.contains("had follow-up scores"));
    // US spelling.
    for path in [
        "/",
        "/tms",
        "/psychotherapy",
        "/blog/5-benefits-of-talk-therapy-for-depression",
    ] {
        let html = page(path).await;
        for british in ["behaviour", "anaesth", "colours"] {
            assert!(!html.contains(british), "{path}: {british}");
        }
    }
}

/// Grade 8 or below, and no sentence longer than 25 words.
#[tokio::test]
async fn the_home_assessment_and_result_pages_read_at_grade_8_or_below() {
    let app = spawn_app().await;
    // And the forms that carry a consent: booking, call-back, message.
    let mut pages: Vec<String> = [
        "/",
        "/assessment",
        "/assessment/phq9",
        "/assessment/gad7",
        "/book",
        "/book/callback",
        "/contact/message",
    ]
    .map(String::from)
    .into();
    // Every PHQ-9 group, with and without question 9, and every daily-life answer.
    for (answers, difficulty) in [
        ([0; 9], 0),
        ([1, 1, 1, 1, 1, 0, 0, 0, 0], 2),
        ([2, 2, 2, 2, 2, 0, 0, 0, 0], 1),
        ([2, 2, 2, 2, 2, 2, 2, 1, 0], 3),
        ([3, 3, 3, 3, 3, 3, 2, 0, 0], 2),
        ([1, 1, 1, 1, 1, 0, 0, 0, 1], 0),
        ([3, 3, 3, 3, 3, 3, 3, 3, 3], 3),
    ] {
        let result = app.submit_phq9(answers, difficulty).await;
        pages.push(format!("{result}/share"));
        pages.push(result);
    }
    for answers in [[0; 7], [1, 1, 1, 1, 1, 0, 0], [2, 2, 2, 2, 2, 0, 0], [3; 7]] {
        pages.push(submit_gad7(&app, answers, 1).await);
    }
    for path in &pages {
        let (code, html) = app.get_text(path).await;
        assert_eq!(code, 200, "{path}");
        assert_reads_plainly(path, &html);
    }
}

#[tokio::test]
async fn every_page_says_it_is_demo_content_while_the_demo_reviewer_remains() {
    const NOTICE: &str = "Demo content, not reviewed.";
    let app = spawn_app().await;
    let result = app.submit_phq9([1; 9], 1).await;
    for path in [
        "/",
        "/tms",
        "/blog",
        "/assessment",
        &result,
        "/book",
        "/contact/message",
    ] {
        let (_, html) = app.get_text(path).await;
        assert!(html.contains(NOTICE), "{path}");
    }
    let (_, tms) = app.get_text("/tms").await;
    // The placeholder reviewer is not a review: the page says so, and
    // names no one (issue 19).
    assert!(
        tms.contains("Not yet medically reviewed (demo content).") && !tms.contains("Morgan Ellis"),
        "{tms}"
    );

    // A clinic's own content, reviewed by its own clinician: no notice.
    let dir = tempfile::tempdir().unwrap();
    write_content(dir.path(), &[]);
    let reviewed = "+++\ntitle = \"TMS\"\nslug = \"tms\"\nsummary = \"About TMS\"\ndate = 2026-01-01\n\
                    reviewer = \"Dr. Jane Rivera, MD\"\nreviewed = 2026-05-01\nnext_review = 2027-05-01\n+++\n\nHi\n";
    std::fs::write(dir.path().join("pages/tms.md"), reviewed).unwrap();
    let path = dir.path().to_path_buf();
    let app = spawn_app_with(|c| c.content_dir = Some(path)).await;
    for path in ["/", "/tms", "/assessment"] {
        let (_, html) = app.get_text(path).await;
        assert!(!html.contains(NOTICE), "{path}");
    }
    let (_, tms) = app.get_text("/tms").await;
    assert!(tms.contains("Medically reviewed by Dr. Jane Rivera, MD on May 1, 2026."));
    // The test's home page names no reviewer, and says so.
    let (_, home) = app.get_text("/").await;
    assert!(home.contains("This page has not been medically reviewed."));

    // One page back on the placeholder: the notice is on every page again.
    std::fs::write(
        dir.path().join("pages/tms.md"),
        reviewed.replace("Dr. Jane Rivera, MD", activepath::content::DEMO_REVIEWER),
    )
    .unwrap();
    let path = dir.path().to_path_buf();
    let app = spawn_app_with(|c| c.content_dir = Some(path)).await;
    for path in ["/", "/assessment"] {
        let (_, html) = app.get_text(path).await;
        assert!(html.contains(NOTICE), "{path}");
    }
}
