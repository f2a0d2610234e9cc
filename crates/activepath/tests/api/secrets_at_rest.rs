//! What a copy of the database gives away: no working link (invitation,
//! password reset, booking, check-in, result) and no one's name, address or
//! phone number, with mail still queued and after it went. The mail log
//! shows who and what only masked, and every view of personal data and of
//! the audit trail is itself audited; an anchor kept offline shows the
//! newest audit entries removed.

use crate::helpers::*;
use crate::staff::Browser;
use crate::tms_portal::{patient, signed_in, start_course};
use activepath::staff::Role;
use serde_json::{Value, json};
use sqlx::Row;

/// What a visitor or patient typed, and what must never be readable.
struct Person {
    first: &'static str,
    last: &'static str,
    email: &'static str,
    /// As typed, and the digits alone.
    phone: &'static str,
    digits: &'static str,
}

const BOOKER: Person = Person {
    first: "Quenby",
    last: "Fairweather",
    email: "quenby.fw@example.com",
    phone: "+1 555 010 4821",
    digits: "5550104821",
};
const SHARER: Person = Person {
    first: "Ottoline",
    last: "Brackenbury",
    email: "otto.brack@example.org",
    phone: "+1 555 010 6543",
    digits: "5550106543",
};
const WRITER: Person = Person {
    first: "Isidore",
    last: "Wexcombe",
    email: "isi.wex@example.net",
    phone: "+1 555 010 7719",
    digits: "5550107719",
};
const PATIENT: Person = Person {
    first: "Perpetua",
    last: "Lindqvist",
    email: "perpetua.lq@example.net",
    phone: "",
    digits: "",
};

impl Person {
    fn secrets(&self) -> Vec<String> {
        [self.first, self.last, self.email, self.phone, self.digits]
            .into_iter()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// Fails naming each of `secrets` found in `stored`, in any case.
fn assert_none_stored(stored: &str, secrets: &[String], when: &str) {
    let found: Vec<&String> = secrets
        .iter()
        .filter(|s| stored.contains(&s.to_lowercase()))
        .collect();
    assert!(found.is_empty(), "{when}: the database holds {found:?}");
}

/// The first free time of a phone consultation in the next two weeks.
async fn free_time(app: &TestApp) -> String {
    let today = activepath::time::date_in(app.clock.now(), app.state.config.clinic.time_zone.tz());
    let to = today.checked_add(jiff::Span::new().days(14)).unwrap();
    let res = app
        .get(&format!(
            "/api/v1/slots?appointment_type=phone-consultation&location=main&from={today}&to={to}"
        ))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["slots"][0]["start"].as_str().unwrap().to_string()
}

/// Books a phone consultation through the API for `p`, who confirms it
/// from the e-mail: the link to confirm is delivered, the confirmation and
/// the clinic's notice are queued.
async fn book(app: &TestApp, p: &Person, reason: &str) {
    let body = json!({
        "appointment_type": "phone-consultation",
        "location": "main",
        "start": free_time(app).await,
        "name": format!("{} {}", p.first, p.last),
        "email": p.email,
        "phone": p.phone,
        "reason": reason,
        "consent": true,
    });
    let res = app
        .client
        .post(app.url("/api/v1/bookings"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    confirm_booking(app, p.email).await;
}

fn form(fields: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(fields).unwrap()
}

/// The course id in a course page's path.
fn course_id(path: &str) -> i64 {
    path.rsplit('/').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_copy_of_the_database_holds_no_working_link_and_no_ones_identity_queued_or_sent() {
    let app = spawn_app_holding_mail(|c| c.staff.require_second_factor = false).await;
    // A booking, confirmed by the link e-mailed first: to the person and a
    // notice to the clinic.
    book(&app, &BOOKER, "Sleeping badly since the move").await;
    // An invitation and a password reset.
    let mut admin = signed_in(&app, "boss@riverbend.example", Role::Admin).await;
    let csrf = admin.get("/staff/accounts").await.csrf();
    let res = admin
        .post(
            "/staff/accounts/invite",
            &[
                ("csrf", &csrf),
                ("email", "newdoc@riverbend.example"),
                ("role", "clinician"),
            ],
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    // A second person approves it (here the operator), so the invitation
    // goes out.
    activepath::staff::access::approve_on_command_line(&app.state, "newdoc@riverbend.example")
        .await
        .unwrap()
        .expect("a request waiting");
    let res = Browser::new(&app)
        .post(
            "/staff/password-reset",
            &[("email", "boss@riverbend.example")],
        )
        .await;
    assert_eq!(res.status, 200);
    // A result shared with contact details.
    let result = app.submit_phq9([1; 9], 1).await;
    let res = app
        .post_form(
            &format!("{result}/share"),
            &form(&[
                ("name", &format!("{} {}", SHARER.first, SHARER.last)),
                ("email", SHARER.email),
                ("phone", SHARER.phone),
                ("contact_method", "email"),
                ("contact_time", "any"),
                ("message", "Evenings are best"),
                ("consent", "yes"),
            ]),
        )
        .await;
    assert_eq!(res.status(), 303);
    // A message through the contact form.
    let res = app
        .post_form(
            "/contact/message",
            &form(&[
                ("name", &format!("{} {}", WRITER.first, WRITER.last)),
                ("email", WRITER.email),
                ("phone", WRITER.phone),
                ("contact_method", "email"),
                ("message", "Do you see people on Saturdays"),
                ("consent", "yes"),
            ]),
        )
        .await;
    assert_eq!(res.status(), 303);
    // A TMS course's check-in link mailed to the patient.
    let mut doc = signed_in(&app, "doc@riverbend.example", Role::Clinician).await;
    let id = patient(
        &mut doc,
        &format!("{} {}", PATIENT.first, PATIENT.last),
        PATIENT.email,
    )
    .await;
    let course = start_course(&mut doc, id, "itbs", None, "2026-12-14").await;
    let csrf = doc.get(&course).await.csrf();
    let res = doc
        .post(
            &format!("{course}/check-in"),
            &[("csrf", &csrf), ("delivery", "email")],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);

    let mut secrets: Vec<String> = [&BOOKER, &SHARER, &WRITER, &PATIENT]
        .iter()
        .flat_map(|p| p.secrets())
        .collect();
    secrets
        .extend(["Sleeping badly", "Evenings are best", "people on Saturdays"].map(String::from));
    // The result's private link.
    let result_token = result.rsplit('/').next().unwrap().to_string();
    secrets.push(result_token);

    // Mail still queued: a copy taken now.
    let queued = everything_stored(&app).await;
    assert!(
        queued.contains("newdoc@riverbend.example"),
        "the search sees what is stored: a staff account's address, its sign-in name"
    );
    assert_none_stored(&queued, &secrets, "with mail queued");
    assert_eq!(
        app.mail.lock().unwrap().len(),
        1,
        "nothing delivered yet but the link to confirm the booking"
    );

    // Seven, and the request and the approval told to the administrator.
    assert_eq!(app.deliver_mail().await, 9);
    let links = links_in_mail(&app);
    let link_to = |to: &str, prefix: &str| -> String {
        links
            .iter()
            .find(|(t, path)| t == to && path.starts_with(prefix))
            .unwrap_or_else(|| panic!("a {prefix} link to {to} in {links:?}"))
            .1
            .clone()
    };
    let working = [
        link_to("newdoc@riverbend.example", "/staff/welcome/"),
        link_to("boss@riverbend.example", "/staff/password-reset/"),
        link_to(BOOKER.email, "/book/confirm/"),
        link_to(BOOKER.email, "/book/manage/"),
        link_to(PATIENT.email, "/check-in/"),
    ];
    // Each token, and each link whole (they are the same secret).
    for path in &working {
        secrets.push(path.rsplit('/').next().unwrap().to_string());
        secrets.push(path.clone());
    }
    // The copy taken while the mail was queued, now that the tokens are known.
    assert_none_stored(&queued, &secrets, "with mail queued");
    let sent = everything_stored(&app).await;
    assert_none_stored(&sent, &secrets, "after delivery");

    // What the delivery log keeps: kinds and masked recipients, no content.
    let db = raw(&app).await;
    let mut kept: Vec<(String, String)> = sqlx::query(
        "SELECT kind, recipient_hint FROM mail_outbox \
         WHERE sent_at IS NOT NULL AND sealed IS NULL AND uid IS NULL \
           AND recipient = '' AND subject = '' AND body_text = '' AND body_html = ''",
    )
    .fetch_all(&db)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("kind"), r.get("recipient_hint")))
    .collect();
    kept.sort();
    let notify = activepath::mail::mask_address(&app.state.config.mail.notify);
    let mut expected: Vec<(String, String)> = [
        ("booking-confirmation", "q…@e….com"),
        ("booking-hold", "q…@e….com"),
        ("check-in", "p…@e….net"),
        // The booking, the shared result and the message, each noticed.
        ("clinic-notification", notify.as_str()),
        ("clinic-notification", notify.as_str()),
        ("clinic-notification", notify.as_str()),
        ("password-reset", "b…@r….example"),
        // The invitation asked for, then approved, told to the admin.
        ("staff-access", "b…@r….example"),
        ("staff-access", "b…@r….example"),
        ("staff-invite", "n…@r….example"),
    ]
    .map(|(k, h)| (k.to_string(), h.to_string()))
    .to_vec();
    expected.sort();
    assert_eq!(kept, expected, "every message delivered, only this kept");

    // The links work: the mail carried them whole.
    let (status, _) = app.get_text(&working[4]).await;
    assert_eq!(status, 200, "the check-in link");
}

#[tokio::test]
async fn the_mail_log_masks_who_says_only_what_kind_and_every_look_and_action_is_audited() {
    let app = spawn_app_holding_mail(|c| c.staff.require_second_factor = false).await;
    book(&app, &BOOKER, "Low mood").await;
    let mut desk = signed_in(&app, "desk@riverbend.example", Role::Coordinator).await;
    let log = desk.get("/staff/mail").await;
    assert_eq!(log.status, 200);
    assert!(log.body.contains("<bdi>q…@e….com</bdi>"), "{}", log.body);
    assert!(log.body.contains("Booking confirmation") && log.body.contains("Notice to the clinic"));
    for private in [
        BOOKER.email,
        "quenby",
        "Fairweather",
        "Booked:",
        "Phone consultation",
    ] {
        assert!(!log.body.contains(private), "{private} in the mail log");
    }
    let audited = |action: &'static str, record_type: &'static str| {
        let app = &app;
        async move {
            app.state
                .storage
                .audit_rows(0, 1000)
                .await
                .unwrap()
                .into_iter()
                .filter(|r| {
                    r.entry.action == action
                        && r.entry.record_type == record_type
                        && r.entry.actor == "desk@riverbend.example"
                })
                .map(|r| r.entry.record_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        audited("view", "mail_log").await,
        [""],
        "the look is audited"
    );

    // Refused for good: retried, failed again, dismissed; each audited.
    let db = raw(&app).await;
    let id: i64 = sqlx::query_scalar("SELECT MIN(id) FROM mail_outbox WHERE sent_at IS NULL")
        .fetch_one(&db)
        .await
        .unwrap();
    let fail = || async {
        sqlx::query(
            "UPDATE mail_outbox SET failed_at = $1, last_error = '550 no such mailbox' WHERE id = $2",
        )
        .bind(app.clock.now().as_millisecond())
        .bind(id)
        .execute(&db)
        .await
        .unwrap();
    };
    fail().await;
    let log = desk.get(&format!("/staff/mail?before={}", id + 10)).await;
    assert!(log.body.contains("Try again"));
    assert_eq!(
        audited("view", "mail_log").await,
        ["".to_string(), (id + 10).to_string()]
    );
    let res = desk
        .post(&format!("/staff/mail/{id}/retry"), &[("csrf", &log.csrf())])
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(audited("retry", "mail_outbox").await, [id.to_string()]);
    fail().await;
    let res = desk
        .post(
            &format!("/staff/mail/{id}/dismiss"),
            &[("csrf", &log.csrf())],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(audited("dismiss", "mail_outbox").await, [id.to_string()]);
    // Dismissed: its content is gone, and it cannot be sent again.
    let sealed: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT sealed FROM mail_outbox WHERE id = $1")
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(sealed.is_none());
    let res = desk
        .post(&format!("/staff/mail/{id}/retry"), &[("csrf", &log.csrf())])
        .await;
    assert_eq!(res.status, 404);
    assert_eq!(audited("retry", "mail_outbox").await.len(), 1);
    assert!(
        activepath::staff::audit::verify(&app.state.storage, &app.state.cipher.audit_chain())
            .await
            .is_ok_and(|v| matches!(v, activepath::staff::audit::Verdict::Intact { .. }))
    );
}

#[tokio::test]
async fn failed_mail_keeps_its_sealed_content_seven_days_to_be_retried_then_only_its_log_entry() {
    let app = spawn_app_holding_mail(|c| c.staff.require_second_factor = false).await;
    book(&app, &BOOKER, "Low mood").await;
    let db = raw(&app).await;
    let now = app.clock.now();
    let days_ago = |days: i64| (now - jiff::SignedDuration::from_hours(24 * days)).as_millisecond();
    // The confirmation and the clinic's notice (the link to confirm went).
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM mail_outbox WHERE sent_at IS NULL ORDER BY id")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(ids.len(), 2);
    for (id, failed) in ids.iter().zip([days_ago(6), days_ago(8)]) {
        sqlx::query(
            "UPDATE mail_outbox SET failed_at = $1, last_error = '550 refused' WHERE id = $2",
        )
        .bind(failed)
        .bind(*id)
        .execute(&db)
        .await
        .unwrap();
    }
    activepath::jobs::purge(&app.state.storage, now)
        .await
        .unwrap();
    let kept: Vec<(i64, Option<Vec<u8>>)> =
        sqlx::query("SELECT id, sealed FROM mail_outbox WHERE sent_at IS NULL ORDER BY id")
            .fetch_all(&db)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("id"), r.get("sealed")))
            .collect();
    assert!(kept[0].1.is_some(), "failed 6 days ago: still kept");
    assert!(kept[1].1.is_none(), "failed 8 days ago: content deleted");
    let mut desk = signed_in(&app, "desk@riverbend.example", Role::Coordinator).await;
    let log = desk.get("/staff/mail").await;
    assert_eq!(log.body.matches("Try again").count(), 1, "{}", log.body);
    assert!(log.body.contains("cannot be sent again"));
    let retry = |id: i64| format!("/staff/mail/{id}/retry");
    let res = desk.post(&retry(ids[1]), &[("csrf", &log.csrf())]).await;
    assert_eq!(res.status, 404, "too late to send again");
    let res = desk.post(&retry(ids[0]), &[("csrf", &log.csrf())]).await;
    assert_eq!(res.status, 303);
    assert_eq!(app.deliver_mail().await, 1, "sent again, whole");
    let to_booker = mails_to(&app, BOOKER.email);
    assert_eq!(to_booker.len(), 2, "the link to confirm, then this");
    assert!(to_booker[1].subject.starts_with("Booked:"));
}

#[tokio::test]
async fn the_new_course_and_paper_check_in_forms_and_the_audit_log_itself_are_audited() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    let mut doc = signed_in(&app, "doc@riverbend.example", Role::Clinician).await;
    let id = patient(&mut doc, "Perpetua Lindqvist", PATIENT.email).await;
    let course = start_course(&mut doc, id, "itbs", None, "2026-12-14").await;
    let paper = doc.get(&format!("{course}/check-ins/new")).await;
    assert_eq!(paper.status, 200);
    assert!(paper.body.contains("Perpetua Lindqvist"));
    let mut admin = signed_in(&app, "boss@riverbend.example", Role::Admin).await;
    let page = admin.get("/staff/audit?record_type=patient").await;
    assert_eq!(page.status, 200);
    let entries: Vec<(String, String, String, String)> = app
        .state
        .storage
        .audit_rows(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.entry.actor,
                r.entry.action,
                r.entry.record_type,
                r.entry.record_id,
            )
        })
        .collect();
    let has = |actor: &str, action: &str, record_type: &str, record_id: &str| {
        entries.iter().any(|e| {
            (e.0.as_str(), e.1.as_str(), e.2.as_str(), e.3.as_str())
                == (actor, action, record_type, record_id)
        })
    };
    let doc_email = "doc@riverbend.example";
    assert!(
        has(
            doc_email,
            "view new-course form",
            "patient",
            &id.to_string()
        ),
        "{entries:?}"
    );
    assert!(
        has(
            doc_email,
            "view paper check-in form",
            "tms_course",
            &course_id(&course).to_string()
        ),
        "{entries:?}"
    );
    assert!(
        has(
            "boss@riverbend.example",
            "view",
            "audit_log",
            "person=&record_type=patient&record_id=&from=&until="
        ),
        "{entries:?}"
    );
    // The page shows the entries of the form views it was asked for.
    assert!(page.body.contains("view new-course form"));
}

#[tokio::test]
async fn an_anchor_kept_offline_shows_the_newest_audit_entries_removed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap().to_string();
    let db = fresh_database_url().await;
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_activepath"));
        cmd.args(args)
            .args(["--data-dir", &data])
            .env_remove("DATABASE_URL");
        if let Some(url) = &db {
            cmd.env("DATABASE_URL", url);
        }
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let password = dir.path().join("pw");
    std::fs::write(&password, "lilac-otter-harbour-quietly\n").unwrap();
    let add = |email: &str| {
        let (ok, _, err) = run(&[
            "user",
            "add",
            "--email",
            email,
            "--role",
            "coordinator",
            "--password-file",
            password.to_str().unwrap(),
        ]);
        assert!(ok, "{err}");
    };
    for n in 0..3 {
        add(&format!("c{n}@riverbend.example"));
    }
    let anchors = dir.path().join("anchors.txt");
    let anchors = anchors.to_str().unwrap();
    let (ok, out, err) = run(&["audit", "anchor", "--out", anchors]);
    assert!(ok, "{err}");
    let line = out.trim().to_string();
    assert!(line.starts_with("entries=3 hash="), "{line}");
    assert_eq!(
        std::fs::read_to_string(anchors).unwrap(),
        format!("{line}\n")
    );
    add("c3@riverbend.example");
    let (ok, out, err) = run(&["audit", "verify", "--anchor", anchors]);
    assert!(ok, "{err}");
    assert!(out.contains("intact: 4 entries"), "{out}");

    // The newest two entries deleted from a copy of the database: the chain
    // alone still reads as intact, the anchor does not.
    let url = db
        .clone()
        .unwrap_or_else(|| format!("sqlite://{data}/activepath.db"));
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let delete_newest = |n: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "DELETE FROM audit_log WHERE id IN \
                 (SELECT id FROM audit_log ORDER BY id DESC LIMIT $1)",
            )
            .bind(n)
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    delete_newest(2).await;
    let (ok, out, _) = run(&["audit", "verify"]);
    assert!(ok && out.contains("intact: 2 entries"), "{out}");
    let (ok, _, err) = run(&["audit", "verify", "--anchor", anchors]);
    assert!(!ok, "the removal is seen");
    assert!(
        err.contains(
            "has 2 entries but the anchor recorded 3: the newest were removed, from entry 3 on"
        ),
        "{err}"
    );
    // Made up to the anchored length by new entries: still seen, and no
    // new anchor vouches for it.
    add("c4@riverbend.example");
    let (ok, _, err) = run(&["audit", "verify", "--anchor", anchors]);
    assert!(!ok);
    assert!(
        err.contains("is entry number 3, which the anchor recorded with another hash"),
        "{err}"
    );
    let (ok, out, err) = run(&["audit", "anchor", "--out", anchors]);
    assert!(!ok && out.is_empty(), "{out}");
    assert!(err.contains("is entry number 3"), "{err}");
    assert_eq!(
        std::fs::read_to_string(anchors).unwrap(),
        format!("{line}\n")
    );
    // A trail that is not intact is not anchored.
    sqlx::query(
        "UPDATE audit_log SET actor = 'someone else' WHERE id = (SELECT MIN(id) FROM audit_log)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let (ok, out, err) = run(&["audit", "anchor"]);
    assert!(!ok && out.is_empty(), "{out}");
    assert!(err.contains("not anchored"), "{err}");
    // An anchor file that is not one is named.
    std::fs::write(anchors, "entries=3\n").unwrap();
    let (ok, _, err) = run(&["audit", "verify", "--anchor", anchors]);
    assert!(!ok && err.contains("line 1: needs both"), "{err}");
}

#[tokio::test]
async fn mail_queued_in_the_clear_before_the_upgrade_is_sealed_and_still_delivered() {
    use activepath::storage::Storage;
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url().await.unwrap_or_else(|| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("before.db").display()
        )
    });
    // The outbox as the previous version wrote it: an invitation waiting,
    // a check-in link delivered.
    let storage = Storage::connect(&url).await.unwrap();
    storage.migrate_to(15).await.unwrap();
    let invite = format!("{BASE_URL}/staff/welcome/OldInviteTokenOldInviteToken0123");
    let check_in = format!("{BASE_URL}/check-in/OldCheckInTokenOldCheckInToken99");
    let now = jiff::Timestamp::now().as_millisecond();
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    for (to, subject, link, sent_at) in [
        (
            "waiting.invitee@riverbend.example",
            "You are invited",
            &invite,
            None,
        ),
        (
            "olivia.pending@example.org",
            "Your check-in",
            &check_in,
            Some(now),
        ),
    ] {
        sqlx::query(
            "INSERT INTO mail_outbox (recipient, subject, body_text, body_html, created_at, \
             next_attempt_at, sent_at) VALUES ($1, $2, $3, $4, $5, $5, $6)",
        )
        .bind(to)
        .bind(subject)
        .bind(format!("Follow the link:\n{link}\n"))
        .bind(format!("<p><a href=\"{link}\">{link}</a></p>"))
        .bind(now)
        .bind(sent_at)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
    storage.close().await;

    let app = spawn_app_holding_mail(move |c| c.database_url = Some(url.into())).await;
    let stored = everything_stored(&app).await;
    assert_none_stored(
        &stored,
        &[
            "OldInviteTokenOldInviteToken0123".into(),
            "OldCheckInTokenOldCheckInToken99".into(),
            "waiting.invitee".into(),
            "olivia.pending".into(),
        ],
        "after the upgrade",
    );
    assert_eq!(app.deliver_mail().await, 1);
    let delivered = mails_to(&app, "waiting.invitee@riverbend.example");
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].subject, "You are invited");
    assert!(delivered[0].text.contains(&invite));
    let log = app.state.storage.mail_log(i64::MAX, 10).await.unwrap();
    let hints: Vec<&str> = log.iter().map(|e| e.recipient_hint.as_str()).collect();
    assert_eq!(hints, ["", "w…@r….example"], "newest first");
    assert!(log.iter().all(|e| !e.has_content && e.sent_at.is_some()));
}
