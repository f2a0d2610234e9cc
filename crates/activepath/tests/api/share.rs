use crate::helpers::*;
use activepath::storage::triage::Priority;
use std::time::Duration;

const GOOD: &str = "name=Ana+Rivera&email=ana%40example.org&phone=&contact_method=email&contact_time=morning&message=Please+call+after+5&consent=yes";

#[tokio::test]
async fn sharing_creates_an_encrypted_case_and_a_notification_without_health_data() {
    let app = spawn_app().await;
    let path = app.submit_phq9([2, 2, 2, 2, 1, 1, 1, 0, 0], 2).await;
    let (status, form) = app.get_text(&format!("{path}/share")).await;
    assert_eq!(status, 200);
    assert!(form.contains("I agree to send"));
    assert_crisis_footer(&form);

    let res = app.post_form(&format!("{path}/share"), GOOD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), format!("{path}/shared"));
    let (status, done) = app.get_text(&format!("{path}/shared")).await;
    assert_eq!(status, 200);
    assert!(done.contains("Your result has been sent"));
    assert!(
        done.contains("Nobody at the clinic sees results in real time, even once they are sent")
    );
    assert_crisis_footer(&done);

    let c = app.counts().await;
    assert_eq!((c.triage_cases, c.outbox), (1, 1));
    let queue = app.state.storage.triage_queue().await.unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].priority, Priority::Routine);
    let (_, sealed) = app
        .state
        .storage
        .triage_contact(queue[0].result_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&sealed).contains("Ana"),
        "contact details are encrypted"
    );
    let contact =
        activepath::assessment::share::contact_of(&app.state, queue[0].result_id.unwrap())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(contact.name, "Ana Rivera");
    assert_eq!(contact.email.as_deref(), Some("ana@example.org"));

    wait_for_mail(&app, 1).await;
    let mail = app.mail.lock().unwrap()[0].clone();
    assert_eq!(mail.to, "care@riverbend.example");
    for leak in ["Ana", "example.org", "12", "Moderate", "PHQ"] {
        assert!(
            !mail.subject.contains(leak) && !mail.text.contains(leak) && !mail.html.contains(leak),
            "mail leaks {leak}"
        );
    }
    // The outbox row is marked sent.
    for _ in 0..50 {
        if app.counts().await.outbox_sent == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.counts().await.outbox_sent, 1);

    // The result page now says it was shared; sharing again stores nothing.
    let (_, html) = app.get_text(&path).await;
    assert!(html.contains("You sent this result to the clinic on"));
    let again = app.post_form(&format!("{path}/share"), GOOD).await;
    assert_eq!(location(&again), path);
    assert_eq!(app.counts().await.triage_cases, 1);
    assert_eq!(app.counts().await.outbox, 1);
}

#[tokio::test]
async fn a_flagged_result_becomes_an_urgent_case_first_in_the_queue() {
    let app = spawn_app().await;
    let routine = app.submit_phq9([3, 3, 3, 3, 3, 3, 3, 3, 0], 3).await;
    let flagged = app.submit_phq9([0, 1, 0, 0, 0, 0, 0, 0, 1], 1).await;
    assert_eq!(
        app.post_form(&format!("{routine}/share"), GOOD)
            .await
            .status(),
        303
    );
    let (_, form) = app.get_text(&format!("{flagged}/share")).await;
    // True to what happens: first in the list, but not seen in real time,
    // with the crisis contacts right beside that sentence.
    let note = &form[form
        .find("will be at the top of the clinic")
        .expect("the urgent note")..];
    assert!(note.contains("within 4 hours, during opening hours"));
    assert!(note.contains("Outside those hours, nobody sees it until the clinic opens"));
    assert!(note[..note.find("</div>").unwrap()].contains("href=\"tel:988\""));
    assert_eq!(
        app.post_form(&format!("{flagged}/share"), GOOD)
            .await
            .status(),
        303
    );
    let queue = app.state.storage.triage_queue().await.unwrap();
    assert_eq!(queue.len(), 2);
    assert_eq!(
        queue[0].priority,
        Priority::Urgent,
        "the item-9 case comes first even though it was shared later"
    );
    assert_eq!(queue[1].priority, Priority::Routine);
}

#[tokio::test]
async fn bad_share_input_rerenders_with_each_message_and_keeps_what_was_typed() {
    let app = spawn_app().await;
    let path = app.submit_phq9([1; 9], 1).await;
    let res = app
        .post_form(&format!("{path}/share"), "name=&email=not-an-email&phone=12&contact_method=email&contact_time=morning&message=Hello+%3Cb%3Ethere%3C%2Fb%3E")
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("Please enter your name."));
    assert!(html.contains("Please enter an e-mail address like name@example.com."));
    assert!(html.contains("Please enter a phone number with 7 to 15 digits"));
    assert!(html.contains("Please tick the box to agree"));
    assert!(html.contains("value=\"not-an-email\""));
    assert!(
        html.contains("Hello &#60;b&#62;there&#60;/b&#62;"),
        "the message is kept, escaped"
    );
    assert!(html.contains("value=\"morning\" checked"));
    assert_eq!(app.counts().await.triage_cases, 0);
    assert_eq!(app.counts().await.outbox, 0);
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let app = spawn_app().await;
    let path = app.submit_phq9([1; 9], 1).await;
    let res = app
        .client
        .post(app.url(&format!("{path}/share")))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body(GOOD)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.counts().await.triage_cases, 0);
    // The page's own origin is fine.
    let res = app
        .client
        .post(app.url(&format!("{path}/share")))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", app.base.clone())
        .body(GOOD)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn a_same_origin_post_with_a_null_origin_is_accepted_only_when_fetch_metadata_vouches() {
    let app = spawn_app().await;
    let path = app.submit_phq9([1; 9], 1).await;
    let post = |site: &'static str| {
        app.client
            .post(app.url(&format!("{path}/share")))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", "null")
            .header("sec-fetch-site", site)
            .body(GOOD)
            .send()
    };
    assert_eq!(post("cross-site").await.unwrap().status(), 403);
    assert_eq!(post("same-site").await.unwrap().status(), 403);
    assert_eq!(post("same-origin").await.unwrap().status(), 303);
}
