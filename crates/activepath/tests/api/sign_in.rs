//! Signing in that cannot be outguessed (issue 18): attempts counted before
//! they are judged, on one instance or two; wrong second-factor codes
//! counted apart from the password and never cleared by it; argon2 behind a
//! gate that answers 503 past its queue; two people for every new account;
//! links and tokens that stay dead.

use crate::helpers::*;
use crate::staff::{Browser, PASSWORD, add_staff, api_token, first_sign_in, sign_in_again};
use activepath::staff::{Role, access, sign_in};
use jiff::SignedDuration;

const STAFF: &str = "c@riverbend.example";

/// Signs in with the password; returns the browser at the code page and
/// the page's CSRF token.
async fn password_step<'a>(app: &'a TestApp) -> (Browser<'a>, String) {
    let mut b = Browser::new(app);
    let res = b
        .post("/staff/login", &[("email", STAFF), ("password", PASSWORD)])
        .await;
    assert_eq!(
        res.location.as_deref(),
        Some("/staff/login/code"),
        "{}",
        res.body
    );
    let page = b.get("/staff/login/code").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = page.csrf();
    (b, csrf)
}

/// Sends a code; returns the status.
async fn code(b: &mut Browser<'_>, csrf: &str, code: &str) -> (u16, String) {
    let res = b
        .post("/staff/login/code", &[("csrf", csrf), ("code", code)])
        .await;
    (res.status, res.body)
}

async fn code_failures(app: &TestApp) -> i64 {
    app.state
        .storage
        .staff_user_by_email(STAFF)
        .await
        .unwrap()
        .unwrap()
        .code_failures
}

const WRONG: &str = "000000";

#[tokio::test]
async fn password_then_wrong_codes_over_and_over_never_clears_the_count_of_wrong_codes() {
    // The attacker's setting: no per-address limit (a new address per try
    // through a proxy does the same).
    let app = spawn_app_with(|c| c.rate_limit.enabled = false).await;
    add_staff(&app, STAFF, Role::Clinician).await;
    let (_, secret, _) = first_sign_in(&app, STAFF).await;
    // The right code is never this one: it is for a step long past.
    assert_ne!(
        activepath::staff::totp::code_at(&secret, app.clock.now().as_second() as u64),
        WRONG
    );

    // Password, three wrong codes (free: typing mistakes), again.
    let (mut b, csrf) = password_step(&app).await;
    for _ in 0..3 {
        assert_eq!(code(&mut b, &csrf, WRONG).await.0, 422);
    }
    let (mut b, csrf) = password_step(&app).await;
    assert_eq!(
        code_failures(&app).await,
        3,
        "a right password does not clear the count of wrong codes"
    );
    assert_eq!(
        code(&mut b, &csrf, WRONG).await.0,
        422,
        "the fourth, judged"
    );
    let (status, body) = code(&mut b, &csrf, WRONG).await;
    assert_eq!(status, 429, "then a wait: {body}");
    assert!(body.contains("Too many attempts. Please wait 15 seconds"));
    // A fresh password does not buy a fresh try, and while the wait runs
    // not even the right code is judged.
    let (mut b, csrf) = password_step(&app).await;
    let right = activepath::staff::totp::code_at(&secret, app.clock.now().as_second() as u64);
    assert_eq!(code(&mut b, &csrf, &right).await.0, 429);
    assert_eq!(code_failures(&app).await, 4);

    // Each further wrong code waits longer, whatever the password does in
    // between: 15 s, 30 s, 1, 2, 4, 8 minutes.
    let mut wait = SignedDuration::from_secs(15);
    for failures in 5..=9 {
        app.clock.advance(wait - SignedDuration::from_secs(1));
        let (mut b, csrf) = password_step(&app).await;
        assert_eq!(code(&mut b, &csrf, WRONG).await.0, 429, "{failures}: early");
        app.clock.advance(SignedDuration::from_secs(1));
        assert_eq!(code(&mut b, &csrf, WRONG).await.0, 422, "{failures}");
        assert_eq!(code_failures(&app).await, failures);
        wait *= 2;
    }
    // The tenth (staff.max_code_failures) locks the codes, and says so.
    app.clock.advance(wait);
    let (mut locked_out, csrf) = password_step(&app).await;
    let b = &mut locked_out;
    let (status, body) = code(b, &csrf, WRONG).await;
    assert_eq!(status, 403);
    assert!(
        body.contains("Sign-in codes are locked for this account"),
        "{body}"
    );
    assert!(body.contains("href=\"/staff/password-reset\""));
    let locked = app
        .state
        .storage
        .audit_rows(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.action == "lock_second_factor")
        .count();
    assert_eq!(locked, 1, "the lock is in the audit trail, once");

    // Twenty minutes later the right code is refused, and a new password
    // sign-in leads to the same page.
    app.clock.advance(SignedDuration::from_mins(20));
    let right = next_code(&app, &secret);
    let (status, body) = code(b, &csrf, &right).await;
    assert_eq!(status, 403, "not even the right code: {body}");
    assert!(body.contains("Sign-in codes are locked"));
    let mut again = Browser::new(&app);
    again
        .post("/staff/login", &[("email", STAFF), ("password", PASSWORD)])
        .await;
    let page = again.get("/staff/login/code").await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("Sign-in codes are locked"));
    assert_eq!(code_failures(&app).await, 10);

    // A new password by e-mail opens the codes again.
    Browser::new(&app)
        .post("/staff/password-reset", &[("email", STAFF)])
        .await;
    let link = nth_link_in_mail(&app, STAFF, "/staff/password-reset/", 1).await;
    let new_password = "velvet-ladder-orbit-meadow";
    let res = Browser::new(&app)
        .post(
            &link,
            &[("password", new_password), ("again", new_password)],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/staff/login?password_set=1"));
    assert_eq!(code_failures(&app).await, 0);
    let mut b = Browser::new(&app);
    b.post(
        "/staff/login",
        &[("email", STAFF), ("password", new_password)],
    )
    .await;
    let csrf = b.get("/staff/login/code").await.csrf();
    let right = next_code(&app, &secret);
    let res = b
        .post("/staff/login/code", &[("csrf", &csrf), ("code", &right)])
        .await;
    assert_eq!(res.location.as_deref(), Some("/staff"), "{}", res.body);
}

#[tokio::test]
async fn a_right_code_clears_the_count_and_recovery_codes_count_too() {
    let app = spawn_app_with(|c| c.rate_limit.enabled = false).await;
    add_staff(&app, STAFF, Role::Coordinator).await;
    let (_, secret, recovery) = first_sign_in(&app, STAFF).await;
    let (mut b, csrf) = password_step(&app).await;
    for wrong in ["AAAA-BBBB-CCCC", "222222", "ZZZZ-ZZZZ-ZZZZ"] {
        assert_eq!(code(&mut b, &csrf, wrong).await.0, 422);
    }
    assert_eq!(code_failures(&app).await, 3);
    let res = b
        .post(
            "/staff/login/code",
            &[("csrf", &csrf), ("code", &recovery[0])],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/staff"));
    assert_eq!(
        code_failures(&app).await,
        0,
        "a right code clears the count"
    );
    sign_in_again(&app, STAFF, &secret).await;
}

/// Sends `n` wrong passwords for STAFF at once, split over `apps`; returns
/// how many were judged (422) and how many were told to wait (429).
async fn storm(apps: &[&TestApp], n: usize) -> (usize, usize) {
    let attempts = (0..n).map(|i| {
        let app = apps[i % apps.len()];
        app.client
            .post(app.url("/staff/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("email={STAFF}&password=wrong-guess-{i}"))
            .send()
    });
    let answers = futures_util::future::join_all(attempts).await;
    let mut judged = 0;
    let mut waited = 0;
    for res in answers {
        let res = res.unwrap();
        match res.status().as_u16() {
            422 => judged += 1,
            429 => {
                assert!(res.headers().contains_key("retry-after"));
                waited += 1;
            }
            other => panic!("{other}: {}", res.text().await.unwrap()),
        }
    }
    (judged, waited)
}

/// Password failures counted on STAFF.
async fn throttled_failures(app: &TestApp) -> i64 {
    app.state
        .storage
        .sign_in_throttle(&app.state.cipher.digest(
            activepath::crypto::Purpose::SignInAccount,
            &[STAFF.as_bytes()],
        ))
        .await
        .unwrap()
        .map_or(0, |t| t.failures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_passwords_are_counted_before_any_is_judged() {
    // Room for every request at the password gate: only the count decides.
    let roomy = |c: &mut activepath::config::Config| {
        c.rate_limit.enabled = false;
        c.staff.password_checks_waiting = 200;
    };
    let app = spawn_app_with(roomy).await;
    add_staff(&app, STAFF, Role::Clinician).await;
    let (judged, waited) = storm(&[&app], 40).await;
    assert_eq!(
        (judged, waited),
        (4, 36),
        "three free tries and the one that starts the wait"
    );
    assert_eq!(throttled_failures(&app).await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_database_judge_no_more_than_one() {
    let roomy = |c: &mut activepath::config::Config| {
        c.rate_limit.enabled = false;
        c.staff.password_checks_waiting = 200;
    };
    let app = spawn_app_with(roomy).await;
    add_staff(&app, STAFF, Role::Clinician).await;
    let other = second_instance(&app, roomy).await;
    // The two servers agree on the time, as servers with NTP do.
    other.clock.set(app.clock.now());
    let (judged, waited) = storm(&[&app, &other], 40).await;
    assert_eq!((judged, waited), (4, 36));
    assert_eq!(throttled_failures(&app).await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn past_the_password_queue_the_answer_is_503_with_retry_after() {
    let app = spawn_app_with(|c| {
        c.rate_limit.enabled = false;
        c.staff.password_checks_at_once = Some(1);
        c.staff.password_checks_waiting = 1;
    })
    .await;
    add_staff(&app, STAFF, Role::Clinician).await;

    // With the one place at the gate taken, sign-in and choosing a
    // password from a link are both told to come back, and nothing is
    // counted against the account.
    let turn = app.state.passwords.admit().unwrap();
    let _second = app.state.passwords.admit().unwrap();
    let res = app
        .post_form(
            "/staff/login",
            &format!("email={STAFF}&password=lilac-otter-harbour-quietly"),
        )
        .await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "2");
    let body = res.text().await.unwrap();
    assert!(body.contains("The server is busy checking other sign-ins"));
    assert!(
        body.contains(&format!("value=\"{STAFF}\"")),
        "the address typed is kept"
    );
    assert_eq!(throttled_failures(&app).await, 0, "nothing was counted");
    Browser::new(&app)
        .post("/staff/password-reset", &[("email", STAFF)])
        .await;
    let link = nth_link_in_mail(&app, STAFF, "/staff/password-reset/", 1).await;
    let new_password = "velvet-ladder-orbit-meadow";
    let res = Browser::new(&app)
        .post(
            &link,
            &[("password", new_password), ("again", new_password)],
        )
        .await;
    assert_eq!(res.status, 503);
    assert!(res.body.contains("Please try again in a few seconds"));
    drop((turn, _second));
    let res = Browser::new(&app)
        .post(
            &link,
            &[("password", new_password), ("again", new_password)],
        )
        .await;
    assert_eq!(
        res.location.as_deref(),
        Some("/staff/login?password_set=1"),
        "the link still works once there is room"
    );

    // Many at once: those past the queue get 503 at once; the others are
    // checked, one at a time.
    let attempts = (0..30).map(|i| {
        app.client
            .post(app.url("/staff/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("email=nobody{i}@riverbend.example&password=guess"))
            .send()
    });
    let answers = futures_util::future::join_all(attempts).await;
    let mut busy = 0;
    for res in answers {
        let res = res.unwrap();
        match res.status().as_u16() {
            422 => {}
            503 => {
                assert_eq!(res.headers()["retry-after"], "2");
                busy += 1;
            }
            other => panic!("{other}"),
        }
    }
    assert!(busy > 0, "some were past the queue");
}

/// The grant waiting for `email`.
async fn waiting_grant(app: &TestApp, email: &str) -> Option<i64> {
    app.state
        .storage
        .pending_grant_for(email)
        .await
        .unwrap()
        .map(|g| g.id)
}

async fn invite(b: &mut Browser<'_>, email: &str, role: &str) -> crate::staff::Page {
    let csrf = b.get("/staff/accounts").await.csrf();
    b.post(
        "/staff/accounts/invite",
        &[("csrf", &csrf), ("email", email), ("role", role)],
    )
    .await
}

async fn decide(b: &mut Browser<'_>, grant: i64, what: &str) -> crate::staff::Page {
    // From the home page, which everyone may see.
    let csrf = b.get("/staff").await.csrf();
    b.post(&format!("/staff/grants/{grant}/{what}"), &[("csrf", &csrf)])
        .await
}

async fn has_account(app: &TestApp, email: &str) -> bool {
    app.state
        .storage
        .staff_user_by_email(email)
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn an_admin_cannot_give_themself_health_data_a_second_person_approves() {
    let app = spawn_app().await;
    add_staff(&app, "boss@riverbend.example", Role::Admin).await;
    add_staff(&app, "second@riverbend.example", Role::Admin).await;
    add_staff(&app, "doc@riverbend.example", Role::Clinician).await;
    let (mut boss, _, _) = first_sign_in(&app, "boss@riverbend.example").await;
    let (mut second, _, _) = first_sign_in(&app, "second@riverbend.example").await;
    let (mut doc, _, _) = first_sign_in(&app, "doc@riverbend.example").await;

    // The admin's own second address, as a clinician: asked for, not made.
    let me_too = "boss.private@elsewhere.example";
    let res = invite(&mut boss, me_too, "clinician").await;
    assert_eq!(res.status, 200);
    assert!(
        res.body
            .contains("Asked for: boss.private@elsewhere.example as Clinician")
    );
    assert!(!has_account(&app, me_too).await, "no account yet");
    let grant = waiting_grant(&app, me_too)
        .await
        .expect("a request waiting");
    let db = raw(&app).await;
    let links: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM staff_email_links")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(links, 0, "no invitation link exists, so none was mailed");

    // Every administrator is told, with staff addresses and the role only.
    for admin in ["boss@riverbend.example", "second@riverbend.example"] {
        let mail = wait_for_mail_to(&app, admin, "Approval needed", 1).await;
        assert_eq!(mail.len(), 1);
        assert!(mail[0].subject.contains("a new Clinician account"));
        assert!(mail[0].text.contains(
            "boss@riverbend.example asked for an account for boss.private@elsewhere.example"
        ));
        assert!(mail[0].text.contains(&format!("{BASE_URL}/staff/grants")));
    }
    assert!(mails_to(&app, me_too).is_empty());

    // Not by the one who asked, however they try.
    let own = decide(&mut boss, grant, "approve").await;
    assert_eq!(own.status, 403);
    assert!(own.body.contains("someone else must approve it"));
    assert!(
        !boss
            .get("/staff/grants")
            .await
            .body
            .contains(&format!("/staff/grants/{grant}/approve"))
    );
    assert!(matches!(
        access::approve(
            &app.state,
            access::Approver::Account(
                &app.state
                    .storage
                    .staff_user_by_email("boss@riverbend.example")
                    .await
                    .unwrap()
                    .unwrap(),
                &activepath::staff::Actor::command_line()
            ),
            grant
        )
        .await
        .unwrap(),
        access::Decision::OwnRequest
    ));
    // A clinician who is not the medical director decides nothing.
    assert_eq!(doc.get("/staff/grants").await.status, 403);
    assert_eq!(decide(&mut doc, grant, "approve").await.status, 403);
    assert!(!has_account(&app, me_too).await);
    assert!(waiting_grant(&app, me_too).await.is_some());

    // The second admin approves: the account is made and invited.
    let res = decide(&mut second, grant, "approve").await;
    assert_eq!(
        res.location.as_deref(),
        Some("/staff/grants"),
        "{}",
        res.body
    );
    assert!(has_account(&app, me_too).await);
    link_in_mail(&app, me_too, "/staff/welcome/").await;
    for admin in ["boss@riverbend.example", "second@riverbend.example"] {
        let mail = wait_for_mail_to(&app, admin, "was approved", 1).await;
        assert!(mail[0].text.contains("second@riverbend.example approved"));
    }
    assert_eq!(
        decide(&mut second, grant, "approve").await.status,
        409,
        "once"
    );
    let page = second.get("/staff/grants").await;
    assert!(page.body.contains("Approved"));

    // Every step is in the audit trail, by whom it was done.
    let rows = app.state.storage.audit_rows(0, 1000).await.unwrap();
    let did = |action: &str, actor: &str| {
        rows.iter()
            .any(|r| r.entry.action == action && r.entry.actor == actor)
    };
    assert!(did("request_grant", "boss@riverbend.example"));
    assert!(did("approve_grant", "second@riverbend.example"));
    assert!(did("invite", "second@riverbend.example"));

    // An administrator's role needs the second person too (an admin made
    // alone would be an approver the first one controls).
    invite(&mut boss, "boss.admin@elsewhere.example", "admin").await;
    assert!(!has_account(&app, "boss.admin@elsewhere.example").await);
    // Withdrawn by the one who asked.
    let grant = waiting_grant(&app, "boss.admin@elsewhere.example")
        .await
        .unwrap();
    let res = decide(&mut boss, grant, "decline").await;
    assert_eq!(res.location.as_deref(), Some("/staff/grants"));
    assert!(
        waiting_grant(&app, "boss.admin@elsewhere.example")
            .await
            .is_none()
    );
    assert!(
        app.state
            .storage
            .audit_rows(0, 1000)
            .await
            .unwrap()
            .iter()
            .any(|r| r.entry.action == "decline_grant")
    );
}

#[tokio::test]
async fn a_medical_director_approves_and_a_lone_admin_is_told_who_can() {
    let app = spawn_app().await;
    add_staff(&app, "boss@riverbend.example", Role::Admin).await;
    let (mut boss, _, _) = first_sign_in(&app, "boss@riverbend.example").await;

    // Alone: the request waits, and the page says who can approve it.
    let res = invite(&mut boss, "tech@riverbend.example", "technician").await;
    assert!(res.body.contains("activepath user approve --email"));
    let mail = wait_for_mail_to(&app, "boss@riverbend.example", "Approval needed", 1).await;
    assert!(
        mail[0]
            .text
            .contains("activepath user approve --email tech@riverbend.example")
    );
    assert!(!has_account(&app, "tech@riverbend.example").await);
    // The server's operator approves on the command line.
    let (_, decision) = access::approve_on_command_line(&app.state, "tech@riverbend.example")
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(decision, access::Decision::Approved { .. }));
    assert!(has_account(&app, "tech@riverbend.example").await);

    // A medical director (a clinician, made on the command line).
    sign_in::add_medical_director(
        &app.state,
        &activepath::staff::Actor::command_line(),
        "md@riverbend.example",
        PASSWORD.to_string().into(),
    )
    .await
    .unwrap();
    let (mut md, _, _) = first_sign_in(&app, "md@riverbend.example").await;
    let res = invite(&mut boss, "coord@riverbend.example", "coordinator").await;
    assert!(
        !res.body.contains("activepath user approve"),
        "someone can approve now"
    );
    let page = md.get("/staff/grants").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("href=\"/staff/grants\""), "in the menu");
    let grant = waiting_grant(&app, "coord@riverbend.example")
        .await
        .unwrap();
    let res = decide(&mut md, grant, "approve").await;
    assert_eq!(res.location.as_deref(), Some("/staff/grants"));
    assert!(has_account(&app, "coord@riverbend.example").await);
    // The medical director works as a clinician, and is no administrator.
    assert_eq!(md.get("/staff/accounts").await.status, 403);
    assert_eq!(md.get("/staff").await.status, 200);
}

#[tokio::test]
async fn an_older_reset_link_dies_when_a_newer_is_issued_or_used() {
    let app = spawn_app().await;
    add_staff(&app, STAFF, Role::Coordinator).await;
    let ask = || async {
        let res = Browser::new(&app)
            .post("/staff/password-reset", &[("email", STAFF)])
            .await;
        assert_eq!(res.status, 200);
    };
    ask().await;
    let first = nth_link_in_mail(&app, STAFF, "/staff/password-reset/", 1).await;
    assert_eq!(Browser::new(&app).get(&first).await.status, 200);
    ask().await;
    let second = nth_link_in_mail(&app, STAFF, "/staff/password-reset/", 2).await;
    let res = Browser::new(&app).get(&first).await;
    assert_eq!(res.status, 410, "a newer link was sent");
    assert!(res.body.contains("This link no longer works"));
    let new_password = "velvet-ladder-orbit-meadow";
    let res = Browser::new(&app)
        .post(
            &first,
            &[("password", new_password), ("again", new_password)],
        )
        .await;
    assert_eq!(res.status, 410, "nor can it set a password");
    let res = Browser::new(&app)
        .post(
            &second,
            &[("password", new_password), ("again", new_password)],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/staff/login?password_set=1"));
    for link in [&first, &second] {
        assert_eq!(Browser::new(&app).get(link).await.status, 410);
    }
    // Two links in the database (say, from before this version) are both
    // dead once one of them is used.
    ask().await;
    ask().await;
    let third = nth_link_in_mail(&app, STAFF, "/staff/password-reset/", 3).await;
    let fourth = nth_link_in_mail(&app, STAFF, "/staff/password-reset/", 4).await;
    let db = raw(&app).await;
    sqlx::query("UPDATE staff_email_links SET generation = (SELECT link_generation FROM staff_users WHERE email = $1)")
        .bind(STAFF)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(Browser::new(&app).get(&third).await.status, 200);
    let other_password = "quartz-meadow-lantern-drift";
    let res = Browser::new(&app)
        .post(
            &fourth,
            &[("password", other_password), ("again", other_password)],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/staff/login?password_set=1"));
    assert_eq!(
        Browser::new(&app).get(&third).await.status,
        410,
        "the other link died with it"
    );
}

#[tokio::test]
async fn enabling_an_account_again_brings_back_no_token_no_session_and_no_lock() {
    let app = spawn_app().await;
    add_staff(&app, "boss@riverbend.example", Role::Admin).await;
    add_staff(&app, STAFF, Role::Clinician).await;
    let (mut admin, _, _) = first_sign_in(&app, "boss@riverbend.example").await;
    let (mut old_session, secret, _) = first_sign_in(&app, STAFF).await;
    let (token, user_id) = api_token(&app, STAFF).await;
    let api = |token: String| {
        let req = app
            .client
            .get(app.url("/api/v1/staff/cases"))
            .bearer_auth(token);
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(api(token.clone()).await, 200);
    // Codes locked by someone guessing.
    let db = raw(&app).await;
    sqlx::query("UPDATE staff_users SET code_failures = 10 WHERE id = $1")
        .bind(user_id)
        .execute(&db)
        .await
        .unwrap();
    let accounts = admin.get("/staff/accounts").await;
    assert!(accounts.body.contains("sign-in codes are locked"));
    let csrf = accounts.csrf();
    for action in ["disable", "enable"] {
        let res = admin
            .post(
                &format!("/staff/accounts/{user_id}/{action}"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(res.location.as_deref(), Some("/staff/accounts"));
    }
    assert_eq!(api(token).await, 401, "the old token stays revoked");
    assert_eq!(
        old_session.get("/staff").await.location.as_deref(),
        Some("/staff/login"),
        "the old session stays ended"
    );
    // The person signs in again (codes open again) and makes a new token.
    sign_in_again(&app, STAFF, &secret).await;
    let (fresh, _) = api_token(&app, STAFF).await;
    assert_eq!(api(fresh).await, 200);
}
