//! TMS courses in the portal and the patient's check-in by link: a
//! clinician starts a course from the record, a technician records a
//! session on the session screen, check-ins by e-mailed link and on the
//! clinic's tablet (kiosk), and what each shows and keeps.

use crate::helpers::*;
use crate::staff::{Browser, PASSWORD, add_staff};
use activepath::staff::Role;

pub async fn signed_in<'a>(app: &'a TestApp, email: &str, role: Role) -> Browser<'a> {
    add_staff(app, email, role).await;
    let mut b = Browser::new(app);
    let res = b
        .post("/staff/login", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(res.location.as_deref(), Some("/staff"));
    b
}

/// A patient record made in the portal: its id.
pub async fn patient(b: &mut Browser<'_>, name: &str, email: &str) -> i64 {
    let csrf = b.get("/staff/patients/new").await.csrf();
    let res = b
        .post(
            "/staff/patients/new",
            &[
                ("csrf", &csrf),
                ("name", name),
                ("email", email),
                ("date_of_birth", "1981-03-04"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    res.location
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Starts a course for patient `id` from the record's form: its page's path.
pub async fn start_course(
    b: &mut Browser<'_>,
    id: i64,
    protocol: &str,
    planned: Option<&str>,
    start: &str,
) -> String {
    let csrf = b
        .get(&format!("/staff/patients/{id}/courses/new"))
        .await
        .csrf();
    let res = b
        .post(
            &format!("/staff/patients/{id}/courses"),
            &[
                ("csrf", &csrf),
                ("protocol", protocol),
                ("planned_sessions", planned.unwrap_or("")),
                ("start_date", start),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    res.location.unwrap()
}

/// The check-in link in the last e-mail to `to`.
pub fn link_in_mail(app: &TestApp, to: &str) -> String {
    let mail = mails_to(app, to).pop().expect("a mail to the patient");
    let at = mail.text.find("/check-in/").expect("a check-in link");
    let rest = &mail.text[at..];
    rest[..rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len())].to_string()
}

pub fn answers(values: [&str; 9]) -> Vec<(String, &str)> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("q{}", i + 1), *v))
        .collect()
}

pub async fn post_answers(app: &TestApp, path: &str, values: [&str; 9]) -> (u16, String) {
    let form: Vec<(String, &str)> = answers(values);
    let res = no_redirect_client()
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&form).unwrap())
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Adds a clinic tablet from the portal: the path of its address.
pub async fn tablet(b: &mut Browser<'_>, name: &str) -> String {
    let csrf = b.get("/staff/kiosks").await.csrf();
    let res = b
        .post("/staff/kiosks", &[("csrf", &csrf), ("name", name)])
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let at = res.body.find("/kiosk/").expect("the tablet's address");
    let rest = &res.body[at..];
    rest[..rest.find('<').unwrap()].to_string()
}

/// Sends course `course`'s check-in to tablet `kiosk` (its id in the form).
pub async fn send_to_tablet(b: &mut Browser<'_>, course: &str) {
    let page = b.get(course).await;
    let key = "<select id=\"kiosk\" name=\"kiosk\"><option value=\"";
    let at = page.body.find(key).expect("a tablet to choose") + key.len();
    let kiosk = page.body[at..].split('"').next().unwrap().to_string();
    let res = b
        .post(
            &format!("{course}/check-in"),
            &[
                ("csrf", &page.csrf()),
                ("delivery", "tablet"),
                ("kiosk", &kiosk),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
}

/// On the tablet (no staff session): start, then answer; the page shown
/// after the answers.
pub async fn answer_on_tablet(app: &TestApp, kiosk: &str, values: [&str; 9]) -> (u16, String) {
    let (_, form) = app.get_text(&format!("{kiosk}?start=1")).await;
    let key = "name=\"link\" value=\"";
    let at = form.find(key).expect("a check-in waiting") + key.len();
    let link = form[at..].split('"').next().unwrap().to_string();
    let mut fields = answers(values);
    fields.push(("link".into(), &link));
    let res = no_redirect_client()
        .post(app.url(kiosk))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&fields).unwrap())
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn a_course_is_started_and_given_in_the_portal_and_the_technician_sees_no_record() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    let mut doc = signed_in(&app, "doc@riverbend.example", Role::Clinician).await;
    let id = patient(&mut doc, "Jo Quinn", "jo@example.org").await;

    // The record offers a course; a wrong form keeps what was typed.
    let record = doc.get(&format!("/staff/patients/{id}")).await;
    assert!(
        record
            .body
            .contains(&format!("/staff/patients/{id}/courses/new"))
    );
    let form = doc.get(&format!("/staff/patients/{id}/courses/new")).await;
    assert_eq!(form.status, 200);
    let csrf = form.csrf();
    let path = format!("/staff/patients/{id}/courses");
    let res = doc
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("protocol", ""),
                ("planned_sessions", "500"),
                ("start_date", "2026-12-14"),
                ("target", "left-dlpfc"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(
        res.body.contains("id=\"protocol-error\""),
        "the message beside the field"
    );
    assert!(res.body.contains("id=\"planned_sessions-error\""));
    assert!(res.body.contains("value=\"500\""), "the input kept");
    assert!(res.body.contains("<option value=\"left-dlpfc\" selected>"));
    let res = doc
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("protocol", "10hz"),
                ("planned_sessions", ""),
                ("start_date", &crate::tms::today(&app)),
                ("target", "left-dlpfc"),
                ("localization", "beam-f3"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let course = res.location.unwrap();
    let (token, _) = crate::staff::api_token(&app, "doc@riverbend.example").await;
    ready_course_for_sessions(&app, &token, &format!("/api/v1{course}")).await;
    let page = doc.get(&course).await;
    assert!(page.body.contains("Left DLPFC (Beam F3)"));
    assert!(page.body.contains("0 of 36"));
    assert!(
        page.body.contains("A PHQ-9 check-in is due"),
        "the baseline"
    );
    // The queue lists it among the courses that need attention.
    let queue = doc.get("/staff").await;
    assert!(queue.body.contains("TMS courses that need attention"));
    assert!(queue.body.contains(&format!("href=\"{course}\"")));

    // The technician: the list, the course and the session screen; no
    // patient record, no clinical notes, no status change.
    let mut tech = signed_in(&app, "tech@riverbend.example", Role::Technician).await;
    let list = tech.get("/staff/courses").await;
    assert_eq!(list.status, 200);
    assert!(list.body.contains("Jo Quinn") && list.body.contains(&course));
    assert_eq!(tech.get(&format!("/staff/patients/{id}")).await.status, 403);
    let page = tech.get(&course).await;
    assert!(
        !page.body.contains("/staff/patients/"),
        "no way into the record"
    );
    assert!(!page.body.contains("/status\""), "no status form");
    // A check-in on the clinic's tablet for the baseline, then the threshold.
    let csrf = page.csrf();
    let kiosk = tablet(&mut tech, "Treatment room 1").await;
    send_to_tablet(&mut tech, &course).await;
    let (code, done) =
        answer_on_tablet(&app, &kiosk, ["3", "3", "2", "2", "3", "2", "3", "2", "0"]).await;
    assert_eq!(code, 200, "{done}");
    let now = app
        .clock
        .now()
        .to_zoned_datetime(app.state.config.clinic.time_zone.tz().clone());
    let local = now.strftime("%Y-%m-%dT%H:%M").to_string();
    let res = tech
        .post(
            &format!("{course}/motor-thresholds"),
            &[
                ("csrf", &csrf),
                ("determined_at", &local),
                ("percent_output", ""),
                ("method", "visual"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("id=\"percent_output-error\""));
    let res = tech
        .post(
            &format!("{course}/motor-thresholds"),
            &[
                ("csrf", &csrf),
                ("determined_at", &local),
                ("percent_output", "52"),
                ("method", "visual"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);

    // The session screen: the checklist must be answered.
    let screen = tech.get(&format!("{course}/session")).await;
    assert_eq!(screen.status, 200);
    assert!(screen.body.contains("52% output"), "the threshold in use");
    assert!(
        screen.body.contains("value=\"3000\""),
        "the protocol's pulses"
    );
    let session = |seizure: &'static str| {
        let mut f = vec![
            ("csrf", csrf.as_str()),
            ("started_at", local.as_str()),
            ("intensity_percent_mt", "120"),
            ("pulses", "3000"),
            ("trains", "75"),
            ("intertrain_interval_s", "11"),
            ("duration_min", "37.5"),
            ("device", "Chair 1 device"),
            ("side_effects", "headache"),
            ("deviations", "None of note"),
            ("earplugs", "yes"),
        ];
        for q in [
            "medication_change",
            "sleep_loss",
            "alcohol",
            "new_implant",
            "pregnancy",
            "drugs_or_stimulants",
            "head_injury",
            "suicidal_thoughts",
            "mania_signs",
        ] {
            f.push((q, "no"));
        }
        if !seizure.is_empty() {
            f.push(("seizure", seizure));
        }
        f
    };
    let missing = session("");
    let res = tech.post(&format!("{course}/session"), &missing).await;
    assert_eq!(res.status, 422);
    assert!(
        res.body.contains("id=\"seizure-error\""),
        "beside the question"
    );
    assert!(
        res.body.contains("value=\"Chair 1 device\""),
        "the input kept"
    );
    let ok = session("no");
    let res = tech.post(&format!("{course}/session"), &ok).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = tech.get(&res.location.unwrap()).await;
    assert!(page.body.contains("The session is recorded."));
    assert!(page.body.contains("1 of 36"));
    let list = tech.get("/staff/courses").await;
    assert!(list.body.contains("1 of 36"), "the list counts it too");
    assert!(
        page.body.contains("37:30")
            && page.body.contains("11.0 s")
            && page.body.contains("Headache")
    );
    assert!(
        !page.body.contains("None of note")
            && page
                .body
                .contains("Deviation recorded — visible to clinicians"),
        "deviations are recorded by the technician, read by clinicians"
    );
    assert!(doc.get(&course).await.body.contains("None of note"));

    // A "yes" stops the session and holds the course.
    let yes = session("yes");
    let res = tech.post(&format!("{course}/session"), &yes).await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("The checklist needs a clinician"));
    let page = doc.get(&course).await;
    assert!(
        page.body.contains("A seizure since the last session"),
        "which answer"
    );
    // A seizure since the last session: the medical director's to clear.
    assert!(
        page.body
            .contains("A medical director must review and clear this")
    );
}

#[tokio::test]
async fn an_emailed_check_in_works_once_names_nothing_and_question_9_reaches_a_clinician_at_once() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    let mut doc = signed_in(&app, "doc@riverbend.example", Role::Clinician).await;
    let id = patient(&mut doc, "Kim Lowe", "kim@example.org").await;
    let course = start_course(&mut doc, id, "itbs", None, "2026-12-14").await;
    let csrf = doc.get(&course).await.csrf();
    let res = doc
        .post(
            &format!("{course}/check-in"),
            &[("csrf", &csrf), ("delivery", "email")],
        )
        .await;
    assert_eq!(res.status, 303);
    assert!(
        doc.get(&res.location.unwrap())
            .await
            .body
            .contains("on its way")
    );
    wait_for_mail(&app, 1).await;
    let mail = mails_to(&app, "kim@example.org").pop().unwrap();
    for word in ["PHQ", "depress", "TMS", "suicid", "Kim"] {
        assert!(
            !mail.subject.contains(word) && !mail.text.contains(word),
            "{word} in {mail:?}"
        );
    }
    let link = link_in_mail(&app, "kim@example.org");

    // The page: the PHQ-9 and no name.
    let (code, page) = app.get_text(&link).await;
    assert_eq!(code, 200);
    assert!(page.contains("Little interest or pleasure in doing things"));
    assert!(!page.contains("Kim"));
    assert_reads_plainly("the check-in page", &page);
    // A missing answer is named; nothing is kept yet.
    let mut partial = answers(["1", "1", "1", "1", "1", "1", "1", "1", "1"]);
    partial.remove(3);
    let res = app
        .client
        .post(app.url(&link))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&partial).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("id=\"q4-error\""));

    // Question 9 above 0: the safety message, and an urgent case at once.
    let (code, done) =
        post_answers(&app, &link, ["1", "1", "1", "1", "1", "1", "1", "1", "1"]).await;
    assert_eq!(code, 200);
    assert!(done.contains("Your safety matters most") && done.contains("tel:988"));
    assert!(!done.contains("out of 27"), "no score shown");
    assert_reads_plainly("the urgent check-in's answer", &done);
    let queue = doc.get("/staff").await;
    assert!(queue.body.contains("Urgent"), "{}", queue.body);
    wait_for_mail(&app, 2).await;
    assert!(
        !mails_to(&app, &app.state.config.mail.notify).is_empty(),
        "the clinic is told"
    );

    // The link works once.
    let (code, again) = app.get_text(&link).await;
    assert_eq!(code, 404);
    assert!(again.contains("This link does not work"));
    assert_reads_plainly("a used check-in link", &again);
    assert_eq!(post_answers(&app, &link, ["0"; 9]).await.0, 404);
    let page = doc.get(&course).await;
    // The patient's network address is not kept in the audit trail.
    let db = raw(&app).await;
    let ips: Vec<Option<String>> =
        sqlx::query_scalar("SELECT client_ip FROM audit_log WHERE action = 'answer check-in'")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(ips, [None]);
    assert!(page.body.contains("E-mailed link"));
    assert_eq!(
        page.body.matches("E-mailed link").count(),
        1,
        "one check-in"
    );
}

#[tokio::test]
async fn the_tablet_shows_nothing_of_the_patient_before() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    let mut doc = signed_in(&app, "doc@riverbend.example", Role::Clinician).await;
    let kiosk = tablet(&mut doc, "Room 2").await;
    // Nothing waiting: the tablet says so, whoever taps.
    let (code, waiting) = app.get_text(&format!("{kiosk}?start=1")).await;
    assert_eq!(code, 200);
    assert!(waiting.contains("Start my questionnaire") && !waiting.contains("name=\"q1\""));
    assert_reads_plainly("the tablet with nothing waiting", &waiting);
    for (name, email) in [
        ("Lee Park", "lee@example.org"),
        ("Max Roe", "max@example.org"),
    ] {
        let id = patient(&mut doc, name, email).await;
        let course = start_course(&mut doc, id, "10hz", None, "2026-12-14").await;
        send_to_tablet(&mut doc, &course).await;
    }
    let (code, done) =
        answer_on_tablet(&app, &kiosk, ["2", "2", "2", "2", "2", "2", "2", "2", "0"]).await;
    assert_eq!(code, 200);
    assert!(done.contains("hand the tablet back"));
    assert_reads_plainly("the tablet's thank-you", &done);
    assert!(
        done.contains(&format!("href=\"{kiosk}\"")),
        "back to the tablet's page"
    );
    assert!(
        !done.contains("Lee") && !done.contains("16"),
        "no name, no score"
    );
    // The next patient's form: no name, nothing chosen.
    let (_, next) = app.get_text(&format!("{kiosk}?start=1")).await;
    assert!(next.contains("name=\"q1\""));
    assert!(!next.contains("Lee") && !next.contains("Max"));
    assert!(!next.contains(" checked>"), "no answer carried over");
    assert!(next.contains("autocomplete=\"off\""));
    assert_reads_plainly("the tablet's questionnaire", &next);
    // The first patient's answers cannot be posted again for the second.
    let mut stale = answers(["0"; 9]);
    stale.push(("link".into(), "1"));
    let res = no_redirect_client()
        .post(app.url(&kiosk))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(&stale).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let (code, _) =
        answer_on_tablet(&app, &kiosk, ["1", "1", "1", "1", "1", "1", "1", "1", "0"]).await;
    assert_eq!(code, 200);
    // A tablet removed from the portal shows nothing at all.
    let page = doc.get("/staff/kiosks").await;
    let at = page.body.find("/staff/kiosks/").unwrap();
    let action = page.body[at..].split('"').next().unwrap().to_string();
    assert_eq!(
        doc.post(&action, &[("csrf", &page.csrf())]).await.status,
        303
    );
    assert_eq!(app.get_text(&kiosk).await.0, 404);
}

#[tokio::test]
async fn sessions_are_booked_moved_and_missed_in_the_portal_and_a_conflict_offers_other_times() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    // Monday 8 March 2027, 10:00 in New York.
    app.clock.set("2027-03-08T15:00:00Z".parse().unwrap());
    let mut doc = signed_in(&app, "doc@riverbend.example", Role::Clinician).await;
    let mut courses = Vec::new();
    for (name, planned) in [("Uma Dahl", "1"), ("Val Kerr", "3")] {
        let id = patient(&mut doc, name, "x@example.org").await;
        courses.push(start_course(&mut doc, id, "10hz", Some(planned), "2027-03-09").await);
    }
    let csrf = doc.get(&courses[0]).await.csrf();
    // The first course takes Wednesday 09:00.
    let res = doc
        .post(
            &format!("{}/schedule", courses[0]),
            &[
                ("csrf", &csrf),
                ("location", "main"),
                ("first_start", "2027-03-10T09:00"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    // The second wants Tuesday to Thursday at 09:00: Wednesday is taken.
    let course = &courses[1];
    let res = doc
        .post(
            &format!("{course}/schedule"),
            &[
                ("csrf", &csrf),
                ("location", "main"),
                ("first_start", "2027-03-09T09:00"),
            ],
        )
        .await;
    assert_eq!(res.status, 409);
    assert!(res.body.contains("Session 2"), "{}", res.body);
    assert!(res.body.contains("the chair is taken"));
    assert!(res.body.contains("name=\"instead-2027-03-10\""));
    assert!(
        res.body.contains("<option value=\"09:45\">"),
        "a free time that day"
    );
    assert!(
        res.body.contains("value=\"2027-03-09T09:00\""),
        "the input kept"
    );
    assert!(
        doc.get(course)
            .await
            .body
            .contains("No sessions booked yet."),
        "nothing booked"
    );
    let res = doc
        .post(
            &format!("{course}/schedule"),
            &[
                ("csrf", &csrf),
                ("location", "main"),
                ("first_start", "2027-03-09T09:00"),
                ("instead-2027-03-10", "09:45"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = doc.get(&res.location.unwrap()).await;
    assert!(page.body.contains("The sessions are booked."));
    assert_eq!(page.body.matches("<td>Booked</td>").count(), 3);

    // Move the last two to 14:00, each on its own date.
    let appointment = |body: &str, n: usize| -> String {
        let key = "<select id=\"appointment\" name=\"appointment\" required>";
        let at = body.find(key).expect("the change form") + key.len();
        body[at..]
            .split("<option value=\"")
            .nth(n + 1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string()
    };
    let second = appointment(&page.body, 1);
    let res = doc
        .post(
            &format!("{course}/sessions/change"),
            &[
                ("csrf", &csrf),
                ("appointment", &second),
                ("scope", "following"),
                ("action", "move"),
                ("time", ""),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("id=\"time-error\""));
    let res = doc
        .post(
            &format!("{course}/sessions/change"),
            &[
                ("csrf", &csrf),
                ("appointment", &second),
                ("scope", "following"),
                ("action", "move"),
                ("time", "14:00"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = doc.get(course).await;
    assert_eq!(
        page.body.matches("2:00 PM</td><td>Booked</td>").count(),
        2,
        "{}",
        page.body
    );

    // The first, once it has passed, is missed: a make-up after the last.
    app.clock.set("2027-03-09T16:00:00Z".parse().unwrap());
    let mut tech = signed_in(&app, "tech@riverbend.example", Role::Technician).await;
    let page = tech.get(course).await;
    assert!(
        !page.body.contains("/sessions/change"),
        "technicians do not rebook"
    );
    let key = "/missed\"";
    let at = page.body.find(key).expect("a missed button");
    let action = page.body[..at]
        .rsplit("action=\"")
        .next()
        .unwrap()
        .to_string()
        + "/missed";
    let res = tech.post(&action, &[("csrf", &page.csrf())]).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = tech.get(course).await;
    assert!(page.body.contains("<td>Missed</td>"));
    assert!(page.body.contains("<td>Booked (make-up)</td>"));

    // In the calendar, a course's session points to its course and is not
    // changed there (no mail, the series kept whole).
    let db = raw(&app).await;
    let uid: String = sqlx::query_scalar(
        "SELECT a.uid FROM appointments a JOIN tms_course_appointments t ON t.appointment_id = a.id \
         WHERE a.status = 'booked' AND t.missed_at IS NULL ORDER BY a.starts_at DESC LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let mut desk = signed_in(&app, "desk@riverbend.example", Role::Coordinator).await;
    let page = desk.get(&format!("/staff/appointments/{uid}")).await;
    assert!(
        page.body.contains("A session of a TMS course"),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("href=\"{course}\"")));
    assert!(!page.body.contains("/cancel\""), "no cancel form");
    let res = desk
        .post(
            &format!("/staff/appointments/{uid}/cancel"),
            &[("csrf", &page.csrf()), ("sequence", "0")],
        )
        .await;
    assert_eq!(res.status, 409);
    let seen = tech.get(&format!("/staff/appointments/{uid}")).await;
    assert!(seen.body.contains("Open the course"));
}

#[tokio::test]
async fn a_phq9_from_paper_is_entered_with_each_missing_answer_named() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    let mut doc = signed_in(&app, "doc@riverbend.example", Role::Clinician).await;
    let id = patient(&mut doc, "Wyn Cole", "wyn@example.org").await;
    let course = start_course(&mut doc, id, "itbs", None, "2026-12-14").await;
    let form = doc.get(&format!("{course}/check-ins/new")).await;
    assert_eq!(form.status, 200);
    assert!(
        form.body
            .contains("Little interest or pleasure in doing things")
    );
    let key = "name=\"taken_at\" type=\"datetime-local\" value=\"";
    let at = form.body.find(key).expect("the time field") + key.len();
    let taken = form.body[at..at + 16].to_string();
    let mut fields: Vec<(String, String)> =
        vec![("csrf".into(), form.csrf()), ("taken_at".into(), taken)];
    for i in 1..=8 {
        fields.push((format!("q{i}"), "2".into()));
    }
    let res = doc
        .post(
            &format!("{course}/check-ins"),
            &fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("id=\"q9-error\""));
    assert!(res.body.contains("value=\"2\" checked"), "the answers kept");
    fields.push(("q9".into(), "1".into()));
    let res = doc
        .post(
            &format!("{course}/check-ins"),
            &fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect::<Vec<_>>(),
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = doc.get(&res.location.unwrap()).await;
    assert!(page.body.contains("an urgent case is open"));
    assert!(page.body.contains("Entered by staff"));
}

/// The lists load every course's rows in one query per table; each row
/// must still be its own course's: its patient, its sessions, its alerts.
#[tokio::test]
async fn the_lists_show_each_course_with_its_own_patient_and_alerts() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    let mut doc = signed_in(&app, "doc@riverbend.example", Role::Clinician).await;
    let ana = patient(&mut doc, "Ana Bell", "ana@example.org").await;
    let ben = patient(&mut doc, "Ben Cole", "ben@example.org").await;
    let first = start_course(&mut doc, ana, "10hz", None, "2026-12-14").await;
    let second = start_course(&mut doc, ana, "itbs", Some("30"), "2026-12-21").await;
    let bens = start_course(&mut doc, ben, "10hz", None, "2026-12-14").await;
    // Ben's course gets a motor threshold: that alert leaves his course only.
    let page = doc.get(&bens).await;
    let local = app
        .clock
        .now()
        .to_zoned_datetime(app.state.config.clinic.time_zone.tz().clone())
        .strftime("%Y-%m-%dT%H:%M")
        .to_string();
    let res = doc
        .post(
            &format!("{bens}/motor-thresholds"),
            &[
                ("csrf", &page.csrf()),
                ("determined_at", &local),
                ("percent_output", "50"),
                ("method", "visual"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);

    let queue = doc.get("/staff").await;
    let items: Vec<&str> = queue
        .body
        .split("<li><a href=\"/staff/courses/")
        .skip(1)
        .map(|li| &li[..li.find("</li>").unwrap()])
        .collect();
    assert_eq!(items.len(), 3, "{}", queue.body);
    let item = |course: &str| {
        let id = course.trim_start_matches("/staff/courses/");
        *items
            .iter()
            .find(|li| li.starts_with(&format!("{id}\"")))
            .unwrap_or_else(|| panic!("{course} in the queue"))
    };
    for (course, name) in [
        (&first, "Ana Bell"),
        (&second, "Ana Bell"),
        (&bens, "Ben Cole"),
    ] {
        assert!(item(course).contains(name), "{course}: {}", item(course));
    }
    assert!(item(&first).contains("The motor threshold must be found again"));
    assert!(item(&second).contains("The motor threshold must be found again"));
    assert!(
        !item(&bens).contains("The motor threshold must be found again"),
        "{}",
        item(&bens)
    );

    let list = doc.get("/staff/courses").await;
    for (course, name, sessions) in [
        (&first, "Ana Bell", "0 of 36"),
        (&second, "Ana Bell", "0 of 30"),
        (&bens, "Ben Cole", "0 of 36"),
    ] {
        let at = list.body.find(&format!("href=\"{course}\"")).unwrap();
        let row = &list.body[at..at + list.body[at..].find("</tr>").unwrap()];
        assert!(row.contains(name) && row.contains(sessions), "{row}");
    }
}
