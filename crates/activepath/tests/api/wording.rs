//! Words that match the situation (issue 19, section 6): the clinic's
//! tablet after question 9 above 0, the public result's next steps with
//! question 9 above 0, the demo reviewer, the notices and what they carry,
//! the privacy page on the site figures, and 988 in Spanish.

use crate::helpers::*;
use crate::tms_portal::{
    answer_on_tablet, link_in_mail, patient, post_answers, send_to_tablet, signed_in, start_course,
    tablet,
};
use activepath::staff::Role;

const TELL_STAFF: &str = "Please tell the staff member who gave you this tablet, now, so a \
                          clinician can talk with you before you leave.";

/// The page's `<main>`: what the page itself says, without the header and
/// footer every page shares.
fn main_of(html: &str) -> &str {
    let at = html.find("<main").expect("a <main>");
    &html[at..at + html[at..].find("</main>").unwrap()]
}

/// The result page's "What you can do next" section.
fn next_steps(html: &str) -> &str {
    let at = html.find("id=\"next-heading\"").expect("next steps");
    &html[at..at + html[at..].find("</section>").unwrap()]
}

/// The crisis contacts of FACTS §8, as tappable links.
fn has_crisis_contacts(html: &str) -> bool {
    [
        "href=\"tel:988\"",
        "href=\"sms:988\"",
        "href=\"sms:741741",
        "href=\"tel:911\"",
    ]
    .iter()
    .all(|link| html.contains(link))
}

/// Whitespace as one space, so Markdown's line breaks do not matter.
fn squeeze(html: &str) -> String {
    html.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn the_tablet_asks_for_the_staff_now_and_the_emailed_link_keeps_its_words() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    let mut doc = signed_in(&app, "doc@riverbend.example", Role::Clinician).await;
    let kiosk = tablet(&mut doc, "Room 1").await;
    let id = patient(&mut doc, "Ada Moss", "ada@example.org").await;
    let course = start_course(&mut doc, id, "10hz", None, "2026-12-14").await;

    // On the tablet, question 9 above 0: tell the staff member, now; the
    // crisis contacts; no reply time promised.
    send_to_tablet(&mut doc, &course).await;
    let (code, done) =
        answer_on_tablet(&app, &kiosk, ["1", "1", "0", "0", "0", "0", "0", "0", "1"]).await;
    assert_eq!(code, 200);
    let main = main_of(&done);
    assert!(main.contains(TELL_STAFF), "{main}");
    assert!(main.contains("Your safety matters most"), "{main}");
    assert!(has_crisis_contacts(main), "{main}");
    for promise in ["within", "aims to contact", "hours", "marked urgent"] {
        assert!(!main.contains(promise), "{promise}: {main}");
    }
    assert!(main.contains("hand the tablet back"));
    assert_reads_plainly("the tablet's thank-you after question 9", &done);

    // On the tablet, question 9 at 0: no safety message.
    send_to_tablet(&mut doc, &course).await;
    let (code, calm) = answer_on_tablet(&app, &kiosk, ["0"; 9]).await;
    assert_eq!(code, 200);
    assert!(!calm.contains(TELL_STAFF) && !calm.contains("Your safety matters most"));

    // By e-mailed link, the patient may be anywhere: the public wording,
    // with the clinic's reply time, and never "tell the staff member".
    let csrf = doc.get(&course).await.csrf();
    let res = doc
        .post(
            &format!("{course}/check-in"),
            &[("csrf", &csrf), ("delivery", "email")],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    wait_for_mail_to(&app, "ada@example.org", "questionnaire", 1).await;
    let link = link_in_mail(&app, "ada@example.org");
    let (code, done) =
        post_answers(&app, &link, ["1", "1", "0", "0", "0", "0", "0", "0", "2"]).await;
    assert_eq!(code, 200);
    let main = main_of(&done);
    assert!(main.contains("Your safety matters most"), "{main}");
    assert!(has_crisis_contacts(main), "{main}");
    assert!(
        main.contains("Your answers have been sent to your care team and marked urgent. The clinic aims to contact you within 4 hours, during opening hours."),
        "{main}"
    );
    assert!(main.contains("do not wait for the clinic"), "{main}");
    assert!(!main.contains("tell the staff member") && !main.contains("tablet"));
    assert_reads_plainly("the e-mailed check-in after question 9", &done);
}

#[tokio::test]
async fn question_9_above_0_asks_for_a_clinician_within_a_day_in_every_band() {
    let app = spawn_app().await;
    // One answer set per PHQ-9 band (questions 1–8), and question 9 at 0,
    // 1 or 3.
    let bands: [(&str, [u8; 8]); 5] = [
        ("None to minimal", [0; 8]),
        ("Mild", [1, 1, 1, 1, 1, 1, 0, 0]),
        ("Moderate", [2, 2, 2, 2, 2, 1, 0, 0]),
        ("Moderately severe", [2; 8]),
        ("Severe", [3; 8]),
    ];
    for (band, first) in bands {
        for q9 in [0u8, 1, 3] {
            let mut answers = [0u8; 9];
            answers[..8].copy_from_slice(&first);
            answers[8] = q9;
            let what = format!("{band}, question 9 at {q9}");
            let path = app.submit_phq9(answers, 1).await;
            let (code, html) = app.get_text(&path).await;
            assert_eq!(code, 200, "{what}");
            let total: u32 = answers.iter().map(|&a| u32::from(a)).sum();
            assert!(shows_score(&html, total, 27), "{what}");
            assert!(
                html.contains(&format!(
                    "<p class=\"band-line\">Screening result: {band}</p>"
                )),
                "{what}: the band"
            );
            let steps = squeeze(next_steps(&html));
            if q9 > 0 {
                // The safety message first, above the score.
                let banner = html.find("id=\"safety-heading\"").expect(&what);
                assert!(
                    banner < html.find("class=\"big-number\"").unwrap(),
                    "{what}"
                );
                assert!(
                    steps.contains("Please talk with a clinician about this within the next day, whatever your score."),
                    "{what}: {steps}"
                );
                assert!(
                    steps.contains("call the clinic, or send them this result"),
                    "{what}: {steps}"
                );
                for wait in ["two weeks", "screening again", "Keep an eye"] {
                    assert!(!steps.contains(wait), "{what}: {wait} in {steps}");
                }
            } else {
                assert!(!html.contains("id=\"safety-heading\""), "{what}");
                assert!(!steps.contains("within the next day"), "{what}: {steps}");
            }
            // A mild result without question 9 keeps its own advice.
            if band == "Mild" && q9 == 0 {
                assert!(steps.contains("take the screening again in about two weeks"));
            }
            assert_reads_plainly(&what, &html);
        }
    }
}

#[tokio::test]
async fn the_demo_reviewer_is_no_review_and_notices_are_not_medical_content() {
    let app = spawn_app().await;
    for path in ["/tms", "/blog/understanding-your-phq-9-score", "/"] {
        let (code, html) = app.get_text(path).await;
        assert_eq!(code, 200, "{path}");
        assert!(
            html.contains("Not yet medically reviewed (demo content)."),
            "{path}"
        );
        assert!(!html.contains("Medically reviewed by"), "{path}");
        assert!(!html.contains("(demo reviewer)"), "{path}");
        assert!(
            !html.contains("reviewedBy") && !html.contains("lastReviewed"),
            "{path}"
        );
    }
    // The blog claims no review by clinicians while its posts have none.
    let (_, blog) = app.get_text("/blog").await;
    assert!(blog.contains("Plain-language articles about depression"));
    assert!(!blog.contains("reviewed by our clinicians"));
    // The site still says, on every page, that its content is a demo.
    assert!(
        app.get_text("/tms")
            .await
            .1
            .contains("Demo content, not reviewed.")
    );

    for path in [
        "/privacy",
        "/notice-of-privacy-practices",
        "/non-discrimination",
        "/terms",
        "/accessibility",
    ] {
        let (code, html) = app.get_text(path).await;
        assert_eq!(code, 200, "{path}");
        assert!(
            !html.to_lowercase().contains("medically reviewed"),
            "{path}"
        );
        assert!(!html.contains("byline"), "{path}: no review line");
        assert!(html.contains("\"@type\":\"WebPage\""), "{path}");
        assert!(
            !html.contains("MedicalWebPage") && !html.contains("reviewedBy"),
            "{path}"
        );
    }

    // A clinic's own reviewer is named, in the page and to search engines;
    // any reviewer calling itself a demo reviewer is not.
    let dir = tempfile::tempdir().unwrap();
    write_content(dir.path(), &[]);
    for (slug, reviewer) in [
        ("tms", "Dr. Jane Rivera, MD"),
        ("faq", "Dr. A. Placeholder (Demo Reviewer)"),
    ] {
        std::fs::write(
            dir.path().join(format!("pages/{slug}.md")),
            format!(
                "+++\ntitle = \"T\"\nslug = \"{slug}\"\nsummary = \"S\"\ndate = 2026-01-01\n\
                 reviewer = \"{reviewer}\"\nreviewed = 2026-05-01\nnext_review = 2027-05-01\n+++\n\nHi\n"
            ),
        )
        .unwrap();
    }
    std::fs::write(
        dir.path().join("pages/privacy.md"),
        "+++\ntitle = \"Privacy\"\nslug = \"privacy\"\nsummary = \"S\"\ndate = 2026-01-01\n\
         type = \"notice\"\n+++\n\nWhat we keep.\n",
    )
    .unwrap();
    let content = dir.path().to_path_buf();
    let app = spawn_app_with(|c| c.content_dir = Some(content)).await;
    let (_, tms) = app.get_text("/tms").await;
    assert!(tms.contains("Medically reviewed by Dr. Jane Rivera, MD on May 1, 2026."));
    assert!(
        tms.contains("\"reviewedBy\":{\"@type\":\"Person\",\"name\":\"Dr. Jane Rivera, MD\"}"),
        "{tms}"
    );
    assert!(tms.contains("\"lastReviewed\":\"2026-05-01\""));
    let (_, faq) = app.get_text("/faq").await;
    assert!(faq.contains("Not yet medically reviewed (demo content)."));
    assert!(!faq.contains("Placeholder") && !faq.contains("reviewedBy"));
    let (_, privacy) = app.get_text("/privacy").await;
    assert!(privacy.contains("What we keep."));
    assert!(!privacy.to_lowercase().contains("medically reviewed"));
    // A page without a review still says so.
    assert!(
        app.get_text("/")
            .await
            .1
            .contains("This page has not been medically reviewed.")
    );
}

#[tokio::test]
async fn the_notices_carry_what_counsel_expects_filled_from_the_settings() {
    // The demo clinic: its made-up contacts.
    let app = spawn_app().await;
    let (_, npp) = app.get_text("/notice-of-privacy-practices").await;
    let npp = squeeze(&npp);
    for part in [
        "THIS NOTICE DESCRIBES HOW MEDICAL INFORMATION ABOUT YOU MAY BE USED AND DISCLOSED AND HOW YOU CAN GET ACCESS TO THIS INFORMATION. PLEASE REVIEW IT CAREFULLY.",
        "This is a template; the clinic’s counsel must review it.",
        "<strong>Effective date:</strong> December 7, 2026",
        "Be told if there is a breach",
        "psychotherapy notes",
        "needs your written permission to use or share them",
        "Contact: Privacy officer, Riverbend Mood Clinic (demo): privacy@riverbend.example",
        "Office for Civil Rights",
        "href=\"https://ocrportal.hhs.gov/ocr/portal/lobby.jsf\"",
    ] {
        assert!(npp.contains(part), "the NPP lacks {part:?}: {npp}");
    }
    let (_, nd) = app.get_text("/non-discrimination").await;
    let nd = squeeze(&nd);
    for part in [
        "This is a template; the clinic’s counsel must review it.",
        "<strong>Effective date:</strong> December 7, 2026",
        "<strong>Language help</strong>",
        "qualified interpreters, and information written in other languages",
        "<strong>Aids for people with a disability</strong>",
        "All of this is free",
        "contact our Section 1557 coordinator: Section 1557 coordinator, Riverbend Mood Clinic (demo)",
        "file a grievance with our Section 1557 coordinator",
        "Office for Civil Rights",
        "1-800-368-1019",
        "href=\"https://ocrportal.hhs.gov/ocr/portal/lobby.jsf\"",
    ] {
        assert!(nd.contains(part), "the §1557 notice lacks {part:?}: {nd}");
    }
    for path in ["/privacy", "/terms"] {
        let html = squeeze(&app.get_text(path).await.1);
        assert!(
            html.contains("This is a template; the clinic’s counsel must review it."),
            "{path}"
        );
    }

    // A clinic of its own: its settings, escaped.
    let app = spawn_app_with(|c| {
        c.clinic.name = "Lakeside TMS".into();
        c.clinic.privacy_contact = Some("Privacy officer <b>Ann Lee</b>, 555 0100".into());
        c.clinic.section_1557_coordinator = Some("Raj Patel, 555 0101".into());
        c.clinic.notices_effective = Some(jiff::civil::date(2027, 2, 1));
    })
    .await;
    let npp = squeeze(&app.get_text("/notice-of-privacy-practices").await.1);
    assert!(
        npp.contains("Contact: Privacy officer &lt;b&gt;Ann Lee&lt;/b&gt;, 555 0100"),
        "{npp}"
    );
    assert!(!npp.contains("<b>Ann"));
    assert!(npp.contains("<strong>Effective date:</strong> February 1, 2027"));
    assert!(
        !npp.contains("privacy@riverbend.example"),
        "not the demo's contact"
    );
    let nd = squeeze(&app.get_text("/non-discrimination").await.1);
    assert!(
        nd.contains("Section 1557 coordinator: Raj Patel, 555 0101"),
        "{nd}"
    );

    // Unset in a clinic of its own: the notices say what is missing.
    let app = spawn_app_with(|c| {
        c.clinic.name = "Lakeside TMS".into();
        c.clinic.privacy_contact = None;
        c.clinic.section_1557_coordinator = None;
        c.clinic.notices_effective = None;
    })
    .await;
    let npp = squeeze(&app.get_text("/notice-of-privacy-practices").await.1);
    assert!(
        npp.contains("Not set yet (<code>clinic.privacy_contact</code>)"),
        "{npp}"
    );
    assert!(
        npp.contains("Not set yet (<code>clinic.notices_effective</code>)"),
        "{npp}"
    );
    let nd = squeeze(&app.get_text("/non-discrimination").await.1);
    assert!(nd.contains("Not set yet (<code>clinic.section_1557_coordinator</code>)"));
    assert!(!npp.contains("privacy@riverbend.example") && !nd.contains("access@riverbend.example"));
}

#[test]
fn check_config_asks_a_clinic_for_its_notice_contacts_and_no_medical_review_of_notices() {
    let dir = tempfile::tempdir().unwrap();
    let run = |env: &[(&str, &str)]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_activepath"))
            .args(["check-config", "--data-dir", dir.path().to_str().unwrap()])
            .env_remove("DATABASE_URL")
            .env("ACTIVEPATH_CLINIC__BASE_URL", "https://clinic.example")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The demo: nothing about the notices.
    let demo = run(&[]);
    assert!(!demo.contains("clinic.privacy_contact"), "{demo}");
    for notice in [
        "/privacy)",
        "/notice-of-privacy-practices)",
        "/non-discrimination)",
        "/terms)",
    ] {
        assert!(!demo.contains(notice), "{notice}: {demo}");
    }
    // A clinic of its own that has not set them.
    let own = run(&[("ACTIVEPATH_CLINIC__NAME", "Lakeside TMS")]);
    for key in [
        "clinic.privacy_contact",
        "clinic.section_1557_coordinator",
        "clinic.notices_effective",
    ] {
        assert!(
            own.contains(&format!("warning: {key} is not set")),
            "{key}: {own}"
        );
    }
    let set = run(&[
        ("ACTIVEPATH_CLINIC__NAME", "Lakeside TMS"),
        ("ACTIVEPATH_CLINIC__PRIVACY_CONTACT", "Ann Lee, 555 0100"),
        (
            "ACTIVEPATH_CLINIC__SECTION_1557_COORDINATOR",
            "Raj Patel, 555 0101",
        ),
        ("ACTIVEPATH_CLINIC__NOTICES_EFFECTIVE", "2027-02-01"),
    ]);
    assert!(!set.contains("is not set"), "{set}");
}

#[tokio::test]
async fn the_privacy_page_says_what_the_site_counts_and_988_helps_in_spanish() {
    let app = spawn_app().await;
    let (_, privacy) = app.get_text("/privacy").await;
    let privacy = squeeze(&privacy);
    assert!(!privacy.contains("no analytics"));
    for part in [
        "The site keeps a few daily totals",
        "how many times each page was viewed that day",
        "each step of the self-assessment and of booking",
        "The counts use no cookies, and no identifiers: no IP address, no browser details",
        "never by its link",
        "are not sent to anyone else",
        "kept for about 400 days",
    ] {
        assert!(privacy.contains(part), "{part}: {privacy}");
    }
    // What it claims is what happens: a public page sets no cookie.
    for path in ["/", "/privacy", "/assessment/phq9"] {
        let res = app.get(path).await;
        assert!(res.headers().get("set-cookie").is_none(), "{path}");
    }

    // Every page's crisis help says 988 helps in Spanish, in both languages.
    for path in ["/", "/assessment", "/privacy", "/book"] {
        let html = squeeze(&app.get_text(path).await.1);
        assert!(
            html.contains("988 also helps in Spanish: call and press 2, or text AYUDA to 988."),
            "{path}"
        );
        assert!(
            html.contains("<span lang=\"es\">En español: llame al 988 y oprima 2"),
            "{path}"
        );
    }
    // Where the site speaks of languages, 988's Spanish text and chat.
    let nd = squeeze(&app.get_text("/non-discrimination").await.1);
    assert!(
        nd.contains("answers calls, texts and chats in Spanish"),
        "{nd}"
    );
    assert!(nd.contains("href=\"sms:988?&amp;body=AYUDA\""), "{nd}");
    assert!(nd.contains("<span lang=\"es\">"), "{nd}");
    let faq = squeeze(&app.get_text("/faq").await.1);
    assert!(faq.contains("988 also helps in Spanish"));
}
