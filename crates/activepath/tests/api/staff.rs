//! The staff portal: signing in with a second factor, sessions, CSRF, roles
//! on every route, the queue, concurrent work on a case, the audit chain
//! and API tokens.

use crate::helpers::*;
use activepath::staff::{Actor, Role, sign_in};
use jiff::SignedDuration;
use serde_json::Value;

pub const PASSWORD: &str = "lilac-otter-harbour-quietly";
const SHARE: &str =
    "name=Ana+Rivera&email=ana%40example.org&contact_method=email&contact_time=any&consent=yes";

/// A browser of one person: keeps the session cookie, follows nothing.
pub struct Browser<'a> {
    app: &'a TestApp,
    cookie: Option<String>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> String {
        field_value(&self.body, "csrf").expect("a CSRF field")
    }
}

/// The value of the first hidden input named `name`.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_string())
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Browser { app, cookie: None }
    }

    async fn keep(&mut self, res: reqwest::Response) -> Page {
        for v in res.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            if let Some(rest) = v.strip_prefix("activepath_staff=") {
                let value = rest.split(';').next().unwrap();
                self.cookie =
                    (!value.is_empty() && !v.contains("Max-Age=0")).then(|| value.to_string());
            }
        }
        Page {
            status: res.status().as_u16(),
            location: res
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string()),
            body: res.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let mut req = self.app.client.get(self.app.url(path));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", format!("activepath_staff={c}"));
        }
        let res = req.send().await.unwrap();
        self.keep(res).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut req = self
            .app
            .client
            .post(self.app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap());
        if let Some(c) = &self.cookie {
            req = req.header("cookie", format!("activepath_staff={c}"));
        }
        let res = req.send().await.unwrap();
        self.keep(res).await
    }
}

/// Creates an account, as `activepath user add` does.
pub async fn add_staff(app: &TestApp, email: &str, role: Role) {
    sign_in::add_account(
        &app.state,
        &Actor::command_line(),
        email,
        role,
        PASSWORD.to_string().into(),
    )
    .await
    .unwrap();
}

/// A new API token of the account `email`, made as on the command line, and
/// the account's id.
pub async fn api_token(app: &TestApp, email: &str) -> (String, i64) {
    let user = app
        .state
        .storage
        .staff_user_by_email(email)
        .await
        .unwrap()
        .unwrap();
    let token = sign_in::new_api_token(&app.state, &Actor::command_line(), &user, "test")
        .await
        .unwrap();
    (token, user.id)
}

/// Signs in for the first time: password, then setting up the second
/// factor from the enrolment page. Returns the browser, the secret the app
/// would hold and the recovery codes.
pub async fn first_sign_in<'a>(
    app: &'a TestApp,
    email: &str,
) -> (Browser<'a>, Vec<u8>, Vec<String>) {
    let mut b = Browser::new(app);
    let res = b
        .post("/staff/login", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(
        (res.status, res.location.as_deref()),
        (303, Some("/staff/enrol"))
    );
    let enrol = b.get("/staff/enrol").await;
    assert_eq!(enrol.status, 200);
    let marker = "<code class=\"secret\">";
    let key_at = enrol.body.find(marker).unwrap() + marker.len();
    let key: String = enrol.body[key_at..enrol.body[key_at..].find("</code>").unwrap() + key_at]
        .split_whitespace()
        .collect();
    let secret = totp_rs::Secret::try_from_base32(&key)
        .unwrap()
        .as_bytes()
        .to_vec();
    let qr = b.get("/staff/enrol/qr.svg").await;
    assert!(qr.body.contains("<svg"));
    let code = next_code(app, &secret);
    let done = b
        .post("/staff/enrol", &[("csrf", &enrol.csrf()), ("code", &code)])
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let codes: Vec<String> = done
        .body
        .split("<li><code>")
        .skip(1)
        .map(|s| s[..s.find('<').unwrap()].to_string())
        .collect();
    (b, secret, codes)
}

/// Signs in again: password, then a code.
pub async fn sign_in_again<'a>(app: &'a TestApp, email: &str, secret: &[u8]) -> Browser<'a> {
    let mut b = Browser::new(app);
    let res = b
        .post("/staff/login", &[("email", email), ("password", PASSWORD)])
        .await;
    assert_eq!(res.location.as_deref(), Some("/staff/login/code"));
    let page = b.get("/staff/login/code").await;
    let code = next_code(app, secret);
    let res = b
        .post(
            "/staff/login/code",
            &[("csrf", &page.csrf()), ("code", &code)],
        )
        .await;
    assert_eq!(
        (res.status, res.location.as_deref()),
        (303, Some("/staff")),
        "{}",
        res.body
    );
    b
}

/// Shares a PHQ-9 result; returns the case id.
pub async fn shared_case(app: &TestApp, answers: [u8; 9]) -> i64 {
    let path = app.submit_phq9(answers, 1).await;
    assert_eq!(
        app.post_form(&format!("{path}/share"), SHARE)
            .await
            .status(),
        303
    );
    let queue = app.state.storage.queue(1000, 0).await.unwrap();
    queue.iter().map(|c| c.id).max().unwrap()
}

#[tokio::test]
async fn signing_in_takes_a_password_and_a_code_set_up_at_first_sign_in() {
    let app = spawn_app().await;
    add_staff(&app, "Morgan.Ellis@riverbend.example", Role::Clinician).await;
    let mut nobody = Browser::new(&app);
    let res = nobody.get("/staff").await;
    assert_eq!(
        (res.status, res.location.as_deref()),
        (303, Some("/staff/login"))
    );
    let (mut b, secret, codes) = first_sign_in(&app, "morgan.ellis@riverbend.example").await;
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| c.len() == 14));
    let queue = b.get("/staff").await;
    assert_eq!(queue.status, 200);
    assert!(queue.body.contains("Nothing is waiting"));
    assert!(!queue.body.contains("Demonstration setting"));

    // Later sign-ins ask for a code; a wrong one, or a used one, is refused.
    let mut again = Browser::new(&app);
    again
        .post(
            "/staff/login",
            &[
                ("email", "morgan.ellis@riverbend.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let page = again.get("/staff/login/code").await;
    assert_eq!(
        again.get("/staff").await.location.as_deref(),
        Some("/staff/login/code")
    );
    let wrong = again
        .post(
            "/staff/login/code",
            &[("csrf", &page.csrf()), ("code", "000000")],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("That code is not right"));
    // A recovery code works once, in any case and spacing.
    let code = codes[0].to_lowercase().replace('-', " ");
    let res = again
        .post(
            "/staff/login/code",
            &[("csrf", &page.csrf()), ("code", &code)],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/staff"));
    let mut third = Browser::new(&app);
    third
        .post(
            "/staff/login",
            &[
                ("email", "morgan.ellis@riverbend.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let page = third.get("/staff/login/code").await;
    let res = third
        .post(
            "/staff/login/code",
            &[("csrf", &page.csrf()), ("code", &codes[0])],
        )
        .await;
    assert_eq!(res.status, 422, "a recovery code works only once");
    // The authenticator's code, but not the same one twice.
    let code = next_code(&app, &secret);
    let ok = third
        .post(
            "/staff/login/code",
            &[("csrf", &page.csrf()), ("code", &code)],
        )
        .await;
    assert_eq!(ok.location.as_deref(), Some("/staff"));
    let mut fourth = Browser::new(&app);
    fourth
        .post(
            "/staff/login",
            &[
                ("email", "morgan.ellis@riverbend.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let page = fourth.get("/staff/login/code").await;
    let replay = fourth
        .post(
            "/staff/login/code",
            &[("csrf", &page.csrf()), ("code", &code)],
        )
        .await;
    assert_eq!(replay.status, 422, "a code is accepted once");
    // Signing out ends the session.
    let csrf = b.get("/staff").await.csrf();
    let res = b.post("/staff/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(res.location.as_deref(), Some("/staff/login"));
    assert!(b.cookie.is_none());
}

#[tokio::test]
async fn wrong_and_unknown_accounts_get_the_same_answer() {
    let app = spawn_app().await;
    add_staff(&app, "a@riverbend.example", Role::Coordinator).await;
    let mut b = Browser::new(&app);
    let wrong = b
        .post(
            "/staff/login",
            &[
                ("email", "a@riverbend.example"),
                ("password", "not the password"),
            ],
        )
        .await;
    let unknown = b
        .post(
            "/staff/login",
            &[
                ("email", "nobody@riverbend.example"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!((wrong.status, unknown.status), (422, 422));
    assert!(
        wrong
            .body
            .contains("The e-mail address or password is not right.")
    );
    assert_eq!(
        wrong.body.replace("a@riverbend.example", "X"),
        unknown.body.replace("nobody@riverbend.example", "X")
    );
    assert!(b.cookie.is_none());
}

#[tokio::test]
async fn guessing_is_slowed_per_account_across_instances_and_never_locks_out_for_good() {
    let app = spawn_app().await;
    add_staff(&app, "a@riverbend.example", Role::Coordinator).await;
    // A second instance on the same database.
    let other = second_instance(&app, |_| {}).await;
    let mut b = Browser::new(&app);
    for _ in 0..4 {
        let res = b
            .post(
                "/staff/login",
                &[
                    ("email", "a@riverbend.example"),
                    ("password", "wrong guess"),
                ],
            )
            .await;
        assert_eq!(res.status, 422);
    }
    // The fourth failure set a 15-second wait, which the other instance honours,
    // even for the right password.
    let mut elsewhere = Browser::new(&other);
    let res = elsewhere
        .post(
            "/staff/login",
            &[("email", "a@riverbend.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status, 429, "{}", res.body);
    assert!(
        res.body.contains("Too many attempts. Please wait 1"),
        "{}",
        res.body
    );
    // Unknown addresses are slowed the same way, so a wait says nothing.
    for _ in 0..4 {
        b.post(
            "/staff/login",
            &[("email", "nobody@riverbend.example"), ("password", "x")],
        )
        .await;
    }
    let res = b
        .post(
            "/staff/login",
            &[("email", "nobody@riverbend.example"), ("password", "x")],
        )
        .await;
    assert_eq!(res.status, 429);
    // After the wait, the owner gets in.
    other.clock.advance(SignedDuration::from_secs(16));
    let res = elsewhere
        .post(
            "/staff/login",
            &[("email", "a@riverbend.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/staff/enrol"));
    // However many guesses, the wait is at most 15 minutes.
    for _ in 0..20 {
        app.clock.advance(SignedDuration::from_mins(16));
        b.post(
            "/staff/login",
            &[("email", "a@riverbend.example"), ("password", "wrong")],
        )
        .await;
    }
    let t = app
        .state
        .storage
        .sign_in_throttle(&app.state.cipher.digest(
            activepath::crypto::Purpose::SignInAccount,
            &[b"a@riverbend.example"],
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(t.next_attempt_at.duration_since(app.clock.now()) <= SignedDuration::from_mins(15));
}

#[tokio::test]
async fn sessions_end_after_30_idle_minutes_and_after_12_hours() {
    let app = spawn_app().await;
    add_staff(&app, "a@riverbend.example", Role::Coordinator).await;
    let (mut b, secret, _) = first_sign_in(&app, "a@riverbend.example").await;
    app.clock.advance(SignedDuration::from_mins(29));
    assert_eq!(b.get("/staff").await.status, 200);
    app.clock.advance(SignedDuration::from_mins(31));
    assert_eq!(
        b.get("/staff").await.location.as_deref(),
        Some("/staff/login")
    );
    // Used every 20 minutes, a session still ends 12 hours after sign-in.
    let mut b = sign_in_again(&app, "a@riverbend.example", &secret).await;
    let started = app.clock.now();
    loop {
        app.clock.advance(SignedDuration::from_mins(20));
        let res = b.get("/staff").await;
        if app.clock.now().duration_since(started) < SignedDuration::from_hours(12) {
            assert_eq!(res.status, 200);
        } else {
            assert_eq!(
                res.location.as_deref(),
                Some("/staff/login"),
                "ended at 12 hours"
            );
            break;
        }
    }
}

#[tokio::test]
async fn sign_in_returns_to_the_page_asked_for_but_only_inside_the_portal() {
    let app = spawn_app().await;
    add_staff(&app, "a@riverbend.example", Role::Coordinator).await;
    let (_, secret, _) = first_sign_in(&app, "a@riverbend.example").await;
    let mut b = Browser::new(&app);
    let res = b.get("/staff/cases/7").await;
    assert_eq!(
        res.location.as_deref(),
        Some("/staff/login?next=%2Fstaff%2Fcases%2F7")
    );
    let form = b.get("/staff/login?next=%2Fstaff%2Fcases%2F7").await;
    assert!(form.body.contains("name=\"next\" value=\"/staff/cases/7\""));
    let res = b
        .post(
            "/staff/login",
            &[
                ("email", "a@riverbend.example"),
                ("password", PASSWORD),
                ("next", "/staff/cases/7"),
            ],
        )
        .await;
    let to = res.location.unwrap();
    assert_eq!(to, "/staff/login/code?next=%2Fstaff%2Fcases%2F7");
    let page = b.get(&to).await;
    let code = next_code(&app, &secret);
    let res = b
        .post(
            "/staff/login/code",
            &[
                ("csrf", &page.csrf()),
                ("code", &code),
                ("next", "/staff/cases/7"),
            ],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/staff/cases/7"));
    for evil in [
        "//evil.example/x",
        "https://evil.example",
        "/staff//evil.example",
        "/assessment",
    ] {
        let mut b = Browser::new(&app);
        let res = b
            .post(
                "/staff/login",
                &[
                    ("email", "a@riverbend.example"),
                    ("password", PASSWORD),
                    ("next", evil),
                ],
            )
            .await;
        assert_eq!(res.location.as_deref(), Some("/staff/login/code"), "{evil}");
    }
}

#[tokio::test]
async fn form_posts_without_the_sessions_csrf_token_are_refused() {
    let app = spawn_app().await;
    add_staff(&app, "a@riverbend.example", Role::Coordinator).await;
    let case = shared_case(&app, [1; 9]).await;
    let (mut b, _, _) = first_sign_in(&app, "a@riverbend.example").await;
    let page = b.get(&format!("/staff/cases/{case}")).await;
    let version = field_value(&page.body, "version").unwrap();
    for csrf in ["", "wrong", &"0".repeat(64)] {
        let res = b
            .post(
                &format!("/staff/cases/{case}/act"),
                &[("csrf", csrf), ("version", &version), ("action", "take")],
            )
            .await;
        assert_eq!(res.status, 403, "csrf {csrf:?}");
    }
    let res = b.post("/staff/sign-out", &[]).await;
    assert_eq!(res.status, 403);
    // Another session's token is not this one's.
    let (mut other, _, _) = {
        add_staff(&app, "b@riverbend.example", Role::Coordinator).await;
        first_sign_in(&app, "b@riverbend.example").await
    };
    let theirs = other.get("/staff").await.csrf();
    let res = b
        .post(
            &format!("/staff/cases/{case}/act"),
            &[("csrf", &theirs), ("version", &version), ("action", "take")],
        )
        .await;
    assert_eq!(res.status, 403);
    let res = b
        .post(
            &format!("/staff/cases/{case}/act"),
            &[
                ("csrf", &page.csrf()),
                ("version", &version),
                ("action", "take"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
}

#[tokio::test]
async fn every_role_on_every_route() {
    let app = spawn_app_with(|c| c.staff.require_second_factor = false).await;
    let case = shared_case(&app, [2; 9]).await;
    let mut browsers = Vec::new();
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let email = format!(
            "{}@riverbend.example",
            activepath::storage::TextEnum::as_text(role)
        );
        add_staff(&app, &email, role).await;
        let mut b = Browser::new(&app);
        let res = b
            .post("/staff/login", &[("email", &email), ("password", PASSWORD)])
            .await;
        assert_eq!(res.location.as_deref(), Some("/staff"));
        let home = b.get("/staff").await;
        assert_eq!(home.status, 200, "{role:?}");
        assert!(
            home.body.contains("Demonstration setting"),
            "the banner says the second factor is off"
        );
        let works_cases = matches!(role, Role::Clinician | Role::Coordinator);
        assert_eq!(
            home.body.contains(&format!("/staff/cases/{case}")),
            works_cases,
            "{role:?}"
        );
        assert_eq!(b.get("/staff/nope").await.status, 404);
        tokens.push((role, api_token(&app, &email).await.0));
        browsers.push((role, b));
    }

    let page_routes = [
        ("GET", "/staff".to_string(), None),
        ("GET", format!("/staff/cases/{case}"), Some("case")),
        ("POST", format!("/staff/cases/{case}/act"), Some("work")),
        ("GET", "/staff/cases/999999".to_string(), Some("case")),
        ("GET", "/staff/patients".to_string(), Some("queue")),
        ("GET", "/staff/patients/new".to_string(), Some("queue")),
        ("GET", "/staff/calendar".to_string(), Some("schedule")),
        (
            "GET",
            "/staff/calendar/book?type=phone-consultation&location=main".to_string(),
            Some("queue"),
        ),
        (
            "GET",
            "/staff/appointments/nope".to_string(),
            Some("schedule"),
        ),
        ("GET", "/staff/courses".to_string(), Some("courses")),
        ("GET", "/staff/courses/999999".to_string(), Some("courses")),
        (
            "GET",
            "/staff/courses/999999/session".to_string(),
            Some("treat"),
        ),
        (
            "GET",
            "/staff/courses/999999/check-ins/new".to_string(),
            Some("treat"),
        ),
        ("GET", "/staff/kiosks".to_string(), Some("treat")),
        (
            "GET",
            "/staff/patients/999999/courses/new".to_string(),
            Some("clinician"),
        ),
        ("GET", "/staff/accounts".to_string(), Some("admin")),
        // Administrators and the medical director (none here).
        ("GET", "/staff/grants".to_string(), Some("admin")),
        ("GET", "/staff/audit".to_string(), Some("admin")),
        ("GET", "/staff/mail".to_string(), Some("mail")),
        ("GET", "/staff/booking-setup".to_string(), Some("mail")),
        ("GET", "/staff/audit.csv".to_string(), Some("admin")),
        ("GET", "/staff/figures".to_string(), Some("admin")),
        ("GET", "/staff/tokens".to_string(), None),
    ];
    for (role, b) in &mut browsers {
        // Signed in, the sign-in page leads to the portal.
        assert_eq!(
            b.get("/staff/login").await.location.as_deref(),
            Some("/staff")
        );
        let token = b.get("/staff").await.csrf();
        for (method, path, needs) in &page_routes {
            let allowed = match needs {
                Some("queue") | Some("case") | Some("work") => {
                    matches!(role, Role::Clinician | Role::Coordinator)
                }
                Some("schedule") | Some("courses") => {
                    matches!(role, Role::Clinician | Role::Coordinator | Role::Technician)
                }
                Some("treat") => matches!(role, Role::Clinician | Role::Technician),
                Some("clinician") => *role == Role::Clinician,
                Some("admin") => *role == Role::Admin,
                Some("mail") => matches!(role, Role::Admin | Role::Coordinator),
                _ => true,
            };
            let res = if *method == "GET" {
                b.get(path).await
            } else {
                let version = app
                    .state
                    .storage
                    .case(case)
                    .await
                    .unwrap()
                    .unwrap()
                    .version
                    .to_string();
                b.post(
                    path,
                    &[("csrf", &token), ("version", &version), ("action", "take")],
                )
                .await
            };
            let missing = path.contains("999999") || path.ends_with("/nope");
            let expected = match (allowed, missing) {
                (false, _) => 403,
                (true, true) => 404,
                (true, false) if *method == "POST" => 303,
                (true, false) => 200,
            };
            assert_eq!(res.status, expected, "{role:?} {method} {path}");
        }
    }
    // No session: every portal route sends you to sign in.
    let mut nobody = Browser::new(&app);
    for (method, path, _) in &page_routes {
        let res = if *method == "GET" {
            nobody.get(path).await
        } else {
            nobody.post(path, &[]).await
        };
        assert_eq!(res.status, 303, "{method} {path}");
        assert!(res.location.unwrap().starts_with("/staff/login"));
    }
    // The API, with each role's token, a wrong token and none.
    for (role, token) in &tokens {
        for (path, allowed) in [
            (
                "/api/v1/staff/cases".to_string(),
                matches!(role, Role::Clinician | Role::Coordinator),
            ),
            (
                format!("/api/v1/staff/cases/{case}"),
                matches!(role, Role::Clinician | Role::Coordinator),
            ),
            (
                "/api/v1/staff/cases/999999".to_string(),
                matches!(role, Role::Clinician | Role::Coordinator),
            ),
        ] {
            let res = app
                .client
                .get(app.url(&path))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let expected = match (allowed, path.ends_with("999999")) {
                (false, _) => 403,
                (true, true) => 404,
                (true, false) => 200,
            };
            assert_eq!(res.status(), expected, "{role:?} {path}");
            assert!(
                res.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .contains("json")
            );
        }
    }
    for auth in [None, Some("Bearer ap_wrong"), Some("Basic YTpi")] {
        let mut req = app.client.get(app.url("/api/v1/staff/cases"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{auth:?}");
        assert!(res.headers().contains_key("www-authenticate"));
        assert_eq!(res.headers()["content-type"], "application/problem+json");
    }
}

#[tokio::test]
async fn the_queue_puts_urgent_cases_first_with_a_respond_by_time() {
    let app = spawn_app().await;
    add_staff(&app, "a@riverbend.example", Role::Coordinator).await;
    let routine = shared_case(&app, [3, 3, 3, 3, 3, 3, 3, 3, 0]).await;
    app.clock.advance(SignedDuration::from_mins(10));
    let urgent = shared_case(&app, [0, 1, 0, 0, 0, 0, 0, 0, 1]).await;
    let (mut b, _, _) = first_sign_in(&app, "a@riverbend.example").await;
    let page = b.get("/staff").await;
    let (u, r) = (
        page.body.find(&format!("/staff/cases/{urgent}\"")).unwrap(),
        page.body
            .find(&format!("/staff/cases/{routine}\""))
            .unwrap(),
    );
    assert!(
        u < r,
        "the urgent case is listed first though it came later"
    );
    assert!(
        page.body.contains("⚠ Urgent"),
        "urgent is said in words, not only colour"
    );
    assert!(page.body.contains("Open cases: 2, of which urgent: 1."));
    assert!(page.body.contains("question 9 above"));
    assert!(!page.body.contains("Overdue"));
    // Past its four hours (the page used meanwhile), the urgent case is overdue.
    for _ in 0..12 {
        app.clock.advance(SignedDuration::from_mins(20));
        assert_eq!(b.get("/staff").await.status, 200);
    }
    let page = b.get("/staff").await;
    assert_eq!(page.body.matches(">Overdue<").count(), 1);

    // The clinic's e-mail said which share was urgent, without any detail.
    for _ in 0..100 {
        if app.mail.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let subjects: Vec<String> = app
        .mail
        .lock()
        .unwrap()
        .iter()
        .map(|m| m.subject.clone())
        .collect();
    assert_eq!(subjects.len(), 2);
    assert_eq!(
        subjects
            .iter()
            .filter(|s| s.starts_with("Urgent — please review today"))
            .count(),
        1,
        "{subjects:?}"
    );

    let (token, _) = api_token(&app, "a@riverbend.example").await;
    let list: Value = app
        .client
        .get(app.url("/api/v1/staff/cases"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cases = list["cases"].as_array().unwrap();
    assert_eq!(cases[0]["id"], urgent);
    assert_eq!(cases[0]["priority"], "urgent");
    assert_eq!(cases[0]["self_harm_flag"], true);
    assert_eq!(cases[1]["severity"], "severe");
    for field in [
        "id",
        "priority",
        "status",
        "created_at",
        "respond_by",
        "instrument",
        "total",
        "severity",
        "self_harm_flag",
    ] {
        assert!(cases[0].get(field).is_some(), "{field}");
    }
    let created: jiff::Timestamp = cases[0]["created_at"].as_str().unwrap().parse().unwrap();
    let respond_by: jiff::Timestamp = cases[0]["respond_by"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        respond_by.duration_since(created),
        SignedDuration::from_hours(4)
    );
    let one: Value = app
        .client
        .get(app.url(&format!("/api/v1/staff/cases/{urgent}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["contact"]["name"], "Ana Rivera");
    assert_eq!(one["answers"].as_array().unwrap().len(), 9);
    assert_eq!(one["answers"][8]["value"], 1);
    assert_eq!(one["answers"][8]["loinc"], "44260-8");
}

#[tokio::test]
async fn two_people_on_one_case_never_overwrite_each_other() {
    let app = spawn_app().await;
    add_staff(&app, "a@riverbend.example", Role::Coordinator).await;
    add_staff(&app, "b@riverbend.example", Role::Clinician).await;
    let case = shared_case(&app, [2; 9]).await;
    let (mut a, _, _) = first_sign_in(&app, "a@riverbend.example").await;
    let (mut b, _, _) = first_sign_in(&app, "b@riverbend.example").await;
    let path = format!("/staff/cases/{case}");
    let seen_a = a.get(&path).await;
    let seen_b = b.get(&path).await;
    let res = a
        .post(
            &format!("{path}/act"),
            &[
                ("csrf", &seen_a.csrf()),
                ("version", &field_value(&seen_a.body, "version").unwrap()),
                ("action", "take"),
            ],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some(path.as_str()));
    let note = "Called twice <b>today</b>, no answer";
    let res = b
        .post(
            &format!("{path}/act"),
            &[
                ("csrf", &seen_b.csrf()),
                ("version", &field_value(&seen_b.body, "version").unwrap()),
                ("action", "note"),
                ("text", note),
            ],
        )
        .await;
    assert_eq!(res.status, 409);
    assert!(
        res.body
            .contains("This case changed while you were looking")
    );
    assert!(
        res.body.contains("with <bdi>a@riverbend.example</bdi>"),
        "the new state"
    );
    assert!(
        res.body
            .contains("Called twice &#60;b&#62;today&#60;/b&#62;, no answer"),
        "what they typed is kept"
    );
    // Sent again on the version shown, it goes through.
    let res = b
        .post(
            &format!("{path}/act"),
            &[
                ("csrf", &seen_b.csrf()),
                ("version", &field_value(&res.body, "version").unwrap()),
                ("action", "note"),
                ("text", note),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    let page = a.get(&path).await;
    assert!(page.body.contains("took the case") && page.body.contains("added a note"));
    assert!(
        page.body
            .contains("<bdi>Called twice &#60;b&#62;today&#60;/b&#62;, no answer</bdi>")
    );
    // Bad input is explained and kept.
    let res = a
        .post(
            &format!("{path}/act"),
            &[
                ("csrf", &page.csrf()),
                ("version", &field_value(&page.body, "version").unwrap()),
                ("action", "contact_attempt"),
                ("method", "phone"),
                ("text", "rang the mobile"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("Please choose what happened."));
    assert!(res.body.contains("rang the mobile"));
    assert!(res.body.contains("value=\"phone\" checked"));
    let res = a
        .post(
            &format!("{path}/act"),
            &[
                ("csrf", &page.csrf()),
                ("version", &field_value(&page.body, "version").unwrap()),
                ("action", "close"),
                ("reason", "booked"),
            ],
        )
        .await;
    assert_eq!(res.status, 303);
    assert!(
        app.state.storage.queue(10, 0).await.unwrap().is_empty(),
        "closed cases leave the queue"
    );
}

#[tokio::test]
async fn every_look_and_change_is_in_an_audit_chain_that_shows_tampering() {
    let app = spawn_app().await;
    add_staff(&app, "a@riverbend.example", Role::Coordinator).await;
    let case = shared_case(&app, [1; 9]).await;
    let (mut b, _, _) = first_sign_in(&app, "a@riverbend.example").await;
    b.get("/staff").await;
    let page = b.get(&format!("/staff/cases/{case}")).await;
    b.post(
        &format!("/staff/cases/{case}/act"),
        &[
            ("csrf", &page.csrf()),
            ("version", &field_value(&page.body, "version").unwrap()),
            ("action", "take"),
        ],
    )
    .await;
    let chain = app.state.cipher.audit_chain();
    let rows = app.state.storage.audit_rows(0, 100).await.unwrap();
    let actions: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.entry.action.as_str(), r.entry.record_type.as_str()))
        .collect();
    for want in [
        ("create", "staff_user"),
        ("enrol_second_factor", "staff_user"),
        ("view", "queue"),
        ("view", "case"),
        ("take", "case"),
    ] {
        assert!(actions.contains(&want), "{want:?} in {actions:?}");
    }
    let viewed = rows
        .iter()
        .find(|r| r.entry.action == "view" && r.entry.record_type == "case")
        .unwrap();
    assert_eq!(viewed.entry.actor, "a@riverbend.example");
    assert_eq!(viewed.entry.record_id, case.to_string());
    assert_eq!(viewed.entry.client_ip.as_deref(), Some("127.0.0.1"));
    use activepath::staff::audit::{Verdict, verify};
    assert!(matches!(
        verify(&app.state.storage, &chain).await.unwrap(),
        Verdict::Intact { .. }
    ));

    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&app.state.config.database_url())
        .await
        .unwrap();
    let broken = || async { verify(&app.state.storage, &chain).await.unwrap() };
    // Inserted, with a plausible link to the last entry.
    let last = rows.last().unwrap();
    sqlx::query(
        "INSERT INTO audit_log (at, actor_id, actor, action, record_type, record_id, client_ip, prev_hash, hash) \
         VALUES ($1, NULL, 'x', 'view', 'case', '1', NULL, $2, $3)",
    )
    .bind(last.entry.at.as_millisecond())
    .bind(last.hash.clone())
    .bind("f".repeat(64))
    .execute(&db)
    .await
    .unwrap();
    let Verdict::Broken {
        id: forged,
        problem,
    } = broken().await
    else {
        panic!("an insertion not noticed")
    };
    assert!(forged > last.id);
    assert!(problem.contains("changed, or inserted"), "{problem}");
    sqlx::query("DELETE FROM audit_log WHERE id = $1")
        .bind(forged)
        .execute(&db)
        .await
        .unwrap();
    assert!(matches!(broken().await, Verdict::Intact { .. }));
    // Changed.
    let target = rows[2].id;
    sqlx::query("UPDATE audit_log SET actor = 'someone else' WHERE id = $1")
        .bind(target)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(
        broken().await,
        Verdict::Broken {
            id: target,
            problem: "its contents are not what was written (changed, or inserted)".into()
        }
    );
    sqlx::query("UPDATE audit_log SET actor = $1 WHERE id = $2")
        .bind(rows[2].entry.actor.clone())
        .bind(target)
        .execute(&db)
        .await
        .unwrap();
    assert!(matches!(broken().await, Verdict::Intact { .. }));
    // Removed.
    sqlx::query("DELETE FROM audit_log WHERE id = $1")
        .bind(target)
        .execute(&db)
        .await
        .unwrap();
    let Verdict::Broken { id, problem } = broken().await else {
        panic!("a removal not noticed")
    };
    assert_eq!(id, rows[3].id);
    assert!(
        problem.contains(&format!("does not follow entry {}", rows[1].id)),
        "{problem}"
    );
}

#[tokio::test]
async fn the_staff_api_is_rate_limited_per_client_also_for_bad_tokens() {
    let app = spawn_app_with(|c| {
        c.rate_limit.staff_api = activepath::config::Limit {
            per_hour: 1,
            burst: 2,
        };
    })
    .await;
    add_staff(&app, "a@riverbend.example", Role::Clinician).await;
    let (token, _) = api_token(&app, "a@riverbend.example").await;
    let get = |token: &str| {
        app.client
            .get(app.url("/api/v1/staff/cases"))
            .bearer_auth(token.to_string())
            .send()
    };
    assert_eq!(get("ap_guess").await.unwrap().status(), 401);
    assert_eq!(get(&token).await.unwrap().status(), 200);
    // The allowance is spent, by a guess as much as by real use.
    let res = get(&token).await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(get("ap_guess").await.unwrap().status(), 429);
}

#[tokio::test]
async fn revoked_tokens_stop_working_and_token_use_is_audited() {
    let app = spawn_app().await;
    add_staff(&app, "a@riverbend.example", Role::Clinician).await;
    let (token, user_id) = api_token(&app, "a@riverbend.example").await;
    assert!(token.starts_with("ap_") && token.len() > 40);
    let get = || {
        app.client
            .get(app.url("/api/v1/staff/cases"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(get().await.unwrap().status(), 200);
    let rows = app.state.storage.audit_rows(0, 100).await.unwrap();
    assert!(rows.iter().any(|r| r.entry.actor == "a@riverbend.example (API token)" && r.entry.action == "view"));
    let token_id: i64 = {
        sqlx::any::install_default_drivers();
        let db = sqlx::AnyPool::connect(&app.state.config.database_url())
            .await
            .unwrap();
        let stored: String = sqlx::query_scalar("SELECT token_hash FROM staff_api_tokens")
            .fetch_one(&db)
            .await
            .unwrap();
        assert!(!stored.contains(&token[3..]), "only a digest is stored");
        sqlx::query_scalar("SELECT id FROM staff_api_tokens")
            .fetch_one(&db)
            .await
            .unwrap()
    };
    assert!(
        app.state
            .storage
            .revoke_api_token(user_id, token_id, app.clock.now())
            .await
            .unwrap()
    );
    assert_eq!(get().await.unwrap().status(), 401);
}

/// Approves, as the signed-in `approver`, the request waiting for `email`.
async fn approve(app: &TestApp, approver: &mut Browser<'_>, email: &str) {
    let grant = app
        .state
        .storage
        .pending_grant_for(email)
        .await
        .unwrap()
        .expect("a request waiting");
    let csrf = approver.get("/staff/grants").await.csrf();
    let res = approver
        .post(
            &format!("/staff/grants/{}/approve", grant.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        res.location.as_deref(),
        Some("/staff/grants"),
        "{}",
        res.body
    );
}

#[tokio::test]
async fn an_admin_invites_someone_who_chooses_a_password_once() {
    let app = spawn_app().await;
    add_staff(&app, "boss@riverbend.example", Role::Admin).await;
    add_staff(&app, "second@riverbend.example", Role::Admin).await;
    let (mut admin, _, _) = first_sign_in(&app, "boss@riverbend.example").await;
    let (mut second, _, _) = first_sign_in(&app, "second@riverbend.example").await;
    let page = admin.get("/staff/accounts").await;
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    let bad = admin
        .post(
            "/staff/accounts/invite",
            &[
                ("csrf", &csrf),
                ("email", "not an address"),
                ("role", "coordinator"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains("value=\"not an address\""),
        "what was typed is kept"
    );
    let res = admin
        .post(
            "/staff/accounts/invite",
            &[
                ("csrf", &csrf),
                ("email", "New.Person@riverbend.example"),
                ("role", "coordinator"),
            ],
        )
        .await;
    assert_eq!(res.status, 200);
    assert!(
        res.body
            .contains("Asked for: new.person@riverbend.example as Coordinator"),
        "{}",
        res.body
    );
    let again = admin
        .post(
            "/staff/accounts/invite",
            &[
                ("csrf", &csrf),
                ("email", "new.person@riverbend.example"),
                ("role", "admin"),
            ],
        )
        .await;
    assert!(again.body.contains("waiting for approval already"));
    approve(&app, &mut second, "new.person@riverbend.example").await;
    assert!(
        admin
            .get("/staff/accounts")
            .await
            .body
            .contains("Invited, no password yet")
    );
    let again = admin
        .post(
            "/staff/accounts/invite",
            &[
                ("csrf", &csrf),
                ("email", "new.person@riverbend.example"),
                ("role", "admin"),
            ],
        )
        .await;
    assert!(again.body.contains("exists already"));
    let link = link_in_mail(&app, "new.person@riverbend.example", "/staff/welcome/").await;
    let mail = app
        .mail
        .lock()
        .unwrap()
        .iter()
        .find(|m| m.to == "new.person@riverbend.example")
        .unwrap()
        .clone();
    assert!(mail.subject.contains("invited") && mail.text.contains("72 hours"));

    let mut new = Browser::new(&app);
    let form = new.get(&link).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("Choose your password"));
    let weak = new
        .post(
            &link,
            &[("password", "password1234"), ("again", "password1234")],
        )
        .await;
    assert_eq!(weak.status, 422);
    assert!(weak.body.contains("too easy to guess"));
    let mismatch = new
        .post(
            &link,
            &[("password", PASSWORD), ("again", "something else")],
        )
        .await;
    assert!(mismatch.body.contains("not the same"));
    let done = new
        .post(&link, &[("password", PASSWORD), ("again", PASSWORD)])
        .await;
    assert_eq!(
        done.location.as_deref(),
        Some("/staff/login?password_set=1")
    );
    assert_eq!(new.get(&link).await.status, 410, "the link works once");
    let (_, _, codes) = first_sign_in(&app, "new.person@riverbend.example").await;
    assert_eq!(codes.len(), 10);

    // An invitation expires after 72 hours.
    admin
        .post(
            "/staff/accounts/invite",
            &[
                ("csrf", &csrf),
                ("email", "late@riverbend.example"),
                ("role", "clinician"),
            ],
        )
        .await;
    approve(&app, &mut second, "late@riverbend.example").await;
    let link = link_in_mail(&app, "late@riverbend.example", "/staff/welcome/").await;
    app.clock.advance(SignedDuration::from_hours(73));
    let mut late = Browser::new(&app);
    let res = late.get(&link).await;
    assert_eq!(res.status, 410);
    assert!(res.body.contains("This link no longer works"));
}

#[tokio::test]
async fn a_disabled_account_is_out_at_once_and_stays_out_until_enabled() {
    let app = spawn_app().await;
    add_staff(&app, "boss@riverbend.example", Role::Admin).await;
    add_staff(&app, "c@riverbend.example", Role::Coordinator).await;
    let (mut admin, _, _) = first_sign_in(&app, "boss@riverbend.example").await;
    let (mut c, secret, _) = first_sign_in(&app, "c@riverbend.example").await;
    let (token, user_id) = api_token(&app, "c@riverbend.example").await;
    let api = || {
        app.client
            .get(app.url("/api/v1/staff/cases"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(api().await.unwrap().status(), 200);
    assert_eq!(c.get("/staff").await.status, 200);
    let csrf = admin.get("/staff/accounts").await.csrf();
    let me = app
        .state
        .storage
        .staff_user_by_email("boss@riverbend.example")
        .await
        .unwrap()
        .unwrap();
    let res = admin
        .post(
            &format!("/staff/accounts/{}/disable", me.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert!(res.body.contains("cannot disable your own account"));
    let res = admin
        .post(
            &format!("/staff/accounts/{user_id}/disable"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/staff/accounts"));
    assert_eq!(
        c.get("/staff").await.location.as_deref(),
        Some("/staff/login"),
        "signed out at once"
    );
    assert_eq!(api().await.unwrap().status(), 401, "its tokens stop too");
    let mut again = Browser::new(&app);
    let res = again
        .post(
            "/staff/login",
            &[("email", "c@riverbend.example"), ("password", PASSWORD)],
        )
        .await;
    assert!(
        res.body
            .contains("The e-mail address or password is not right.")
    );
    admin
        .post(
            &format!("/staff/accounts/{user_id}/enable"),
            &[("csrf", &csrf)],
        )
        .await;
    sign_in_again(&app, "c@riverbend.example", &secret).await;
    assert_eq!(
        api().await.unwrap().status(),
        401,
        "enabling the account again does not bring its old tokens back"
    );
    let rows = app.state.storage.audit_rows(0, 1000).await.unwrap();
    assert!(
        rows.iter()
            .any(|r| r.entry.action == "disable" && r.entry.record_id == user_id.to_string())
    );
}

#[tokio::test]
async fn a_password_reset_says_nothing_about_accounts_and_ends_every_session() {
    let app = spawn_app().await;
    add_staff(&app, "c@riverbend.example", Role::Coordinator).await;
    let (mut signed_in, secret, _) = first_sign_in(&app, "c@riverbend.example").await;
    let mut b = Browser::new(&app);
    let known = b
        .post("/staff/password-reset", &[("email", "c@riverbend.example")])
        .await;
    let unknown = b
        .post(
            "/staff/password-reset",
            &[("email", "nobody@riverbend.example")],
        )
        .await;
    assert_eq!((known.status, unknown.status), (200, 200));
    assert_eq!(known.body, unknown.body, "the same answer for both");
    let link = link_in_mail(&app, "c@riverbend.example", "/staff/password-reset/").await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !app.mail
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.to == "nobody@riverbend.example"),
        "no mail to an address without an account"
    );
    let new_password = "velvet-ladder-orbit-meadow";
    let res = b
        .post(
            &link,
            &[("password", new_password), ("again", new_password)],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/staff/login?password_set=1"));
    assert_eq!(
        signed_in.get("/staff").await.location.as_deref(),
        Some("/staff/login"),
        "other sessions end"
    );
    let old = b
        .post(
            "/staff/login",
            &[("email", "c@riverbend.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(old.status, 422, "the old password no longer works");
    let new = b
        .post(
            "/staff/login",
            &[("email", "c@riverbend.example"), ("password", new_password)],
        )
        .await;
    assert_eq!(new.location.as_deref(), Some("/staff/login/code"));
    let _ = secret;
    // A reset link lasts 30 minutes.
    Browser::new(&app)
        .post("/staff/password-reset", &[("email", "c@riverbend.example")])
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let link2 = link_in_mail(&app, "c@riverbend.example", "/staff/password-reset/").await;
    assert_ne!(link2, link);
    app.clock.advance(SignedDuration::from_mins(31));
    assert_eq!(Browser::new(&app).get(&link2).await.status, 410);
}

#[tokio::test]
async fn admins_read_and_export_the_audit_log_and_the_export_is_recorded() {
    let app = spawn_app().await;
    add_staff(&app, "boss@riverbend.example", Role::Admin).await;
    add_staff(&app, "c@riverbend.example", Role::Coordinator).await;
    let case = shared_case(&app, [1; 9]).await;
    let (mut c, _, _) = first_sign_in(&app, "c@riverbend.example").await;
    c.get(&format!("/staff/cases/{case}")).await;
    let (mut admin, _, _) = first_sign_in(&app, "boss@riverbend.example").await;
    let coordinator = app
        .state
        .storage
        .staff_user_by_email("c@riverbend.example")
        .await
        .unwrap()
        .unwrap();
    let page = admin
        .get(&format!(
            "/staff/audit?person={}&record_type=case&record_id={case}",
            coordinator.id
        ))
        .await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("<tr><td>").count(), 1, "{}", page.body);
    assert!(page.body.contains("<bdi>c@riverbend.example</bdi>") && page.body.contains("case 1"));
    let bad = admin.get("/staff/audit?from=yesterday").await;
    assert_eq!(bad.status, 422);
    let csv = admin.get("/staff/audit.csv?record_type=case").await;
    assert_eq!(csv.status, 200);
    let mut lines = csv.body.lines();
    assert_eq!(
        lines.next().unwrap(),
        "id,at,actor_id,actor,action,record_type,record_id,client_ip,prev_hash,hash"
    );
    assert!(lines.any(|l| l.contains(",c@riverbend.example,view,case,")));
    let rows = app.state.storage.audit_rows(0, 1000).await.unwrap();
    assert!(
        rows.iter()
            .any(|r| r.entry.action == "export" && r.entry.record_type == "audit_log")
    );
}

#[tokio::test]
async fn everyone_makes_and_revokes_their_own_api_tokens() {
    let app = spawn_app().await;
    add_staff(&app, "c@riverbend.example", Role::Clinician).await;
    let (mut b, _, _) = first_sign_in(&app, "c@riverbend.example").await;
    let page = b.get("/staff/tokens").await;
    let empty = b
        .post("/staff/tokens", &[("csrf", &page.csrf()), ("name", "  ")])
        .await;
    assert_eq!(empty.status, 422);
    let made = b
        .post(
            "/staff/tokens",
            &[("csrf", &page.csrf()), ("name", "EHR sync")],
        )
        .await;
    let marker = "<code class=\"secret\">";
    let at = made
        .body
        .find(&format!("{marker}ap_"))
        .expect("the token, once")
        + marker.len();
    let token = made.body[at..at + made.body[at..].find('<').unwrap()].to_string();
    assert_eq!(
        app.client
            .get(app.url("/api/v1/staff/cases"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let list = b.get("/staff/tokens").await;
    assert!(!list.body.contains(&token), "never shown again");
    assert!(list.body.contains("<bdi>EHR sync</bdi>"));
    let id = app.state.storage.api_tokens_of(1).await.unwrap()[0].id;
    let res = b
        .post(
            &format!("/staff/tokens/{id}/revoke"),
            &[("csrf", &list.csrf())],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/staff/tokens"));
    assert_eq!(
        app.client
            .get(app.url("/api/v1/staff/cases"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn a_patient_record_from_a_case_with_scores_over_time_and_clinicians_notes() {
    let app = spawn_app().await;
    add_staff(&app, "dr@riverbend.example", Role::Clinician).await;
    add_staff(&app, "front@riverbend.example", Role::Coordinator).await;
    let first = shared_case(&app, [2, 2, 2, 2, 1, 1, 1, 0, 0]).await;
    let (mut dr, _, _) = first_sign_in(&app, "dr@riverbend.example").await;
    let case_page = dr.get(&format!("/staff/cases/{first}")).await;
    assert!(
        case_page
            .body
            .contains("not linked to a patient record yet")
    );
    let form = dr
        .get(&format!("/staff/patients/new?from_case={first}"))
        .await;
    assert!(
        form.body.contains("value=\"Ana Rivera\"")
            && form.body.contains("value=\"ana@example.org\"")
    );
    let bad = dr
        .post(
            "/staff/patients/new",
            &[
                ("csrf", &form.csrf()),
                ("name", "Ana Rivera"),
                ("date_of_birth", "2199-01-01"),
                ("email", "ana@example.org"),
                ("from_case", &first.to_string()),
                (
                    "case_version",
                    &field_value(&form.body, "case_version").unwrap(),
                ),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("date of birth in the past"));
    assert!(bad.body.contains("value=\"2199-01-01\""), "kept as typed");
    let made = dr
        .post(
            "/staff/patients/new",
            &[
                ("csrf", &form.csrf()),
                ("name", "Ana Rivera"),
                ("date_of_birth", "1985-04-12"),
                ("email", "ana@example.org"),
                ("phone", "+1 (555) 010-0199"),
                ("referring_provider", "Dr. Lee, Springfield Family Practice"),
                ("notes", "Two antidepressant trials this episode."),
                ("from_case", &first.to_string()),
                (
                    "case_version",
                    &field_value(&form.body, "case_version").unwrap(),
                ),
            ],
        )
        .await;
    let patient_path = made.location.expect("made");
    let page = dr.get(&patient_path).await;
    assert!(page.body.contains("<bdi>Ana Rivera</bdi>") && page.body.contains("April 12, 1985"));
    assert!(
        page.body
            .contains("Two antidepressant trials this episode.")
    );
    assert_eq!(page.body.matches("class=\"chart-point\"").count(), 1);
    assert!(page.body.contains("<svg") && page.body.contains("role=\"img\""));
    assert!(page.body.contains("PHQ-9 totals"));
    let case_page = dr.get(&format!("/staff/cases/{first}")).await;
    assert!(case_page.body.contains(&format!("href=\"{patient_path}\"")));
    assert!(
        case_page
            .body
            .contains("linked the case to a patient record")
    );

    // A later case from the same person: the record is offered, by e-mail.
    let second = shared_case(&app, [1, 1, 1, 1, 0, 0, 0, 0, 0]).await;
    let case_page = dr.get(&format!("/staff/cases/{second}")).await;
    assert!(case_page.body.contains("Link to Ana Rivera"));
    let patient_id = patient_path.rsplit('/').next().unwrap();
    let linked = dr
        .post(
            &format!("/staff/cases/{second}/link"),
            &[
                ("csrf", &case_page.csrf()),
                ("version", &field_value(&case_page.body, "version").unwrap()),
                ("patient", patient_id),
            ],
        )
        .await;
    assert_eq!(
        linked.location.as_deref(),
        Some(format!("/staff/cases/{second}").as_str())
    );
    let page = dr.get(&patient_path).await;
    assert_eq!(page.body.matches("class=\"chart-point\"").count(), 2);
    assert!(page.body.contains("2 results; the latest"));

    // Coordinators see the record but not the clinical notes.
    let (mut front, _, _) = first_sign_in(&app, "front@riverbend.example").await;
    let seen = front.get(&patient_path).await;
    assert_eq!(seen.status, 200);
    assert!(
        !seen.body.contains("Two antidepressant trials") && !seen.body.contains("Clinical notes")
    );
    let res = front
        .post(
            &format!("{patient_path}/notes"),
            &[("csrf", &seen.csrf()), ("version", "1"), ("notes", "x")],
        )
        .await;
    assert_eq!(res.status, 403);

    // Found by exact e-mail (any case), phone in another format, or whole
    // words (accents aside).
    for (q, found) in [
        ("ANA@example.org", true),
        ("555-010-0199", true),
        ("5550100199", true),
        ("rivera", true),
        ("Ana Rivera", true),
        // "ÁNA", accents and case folded away.
        ("%C3%81NA", true),
        ("riv", false),
        ("ana@example.com", false),
    ] {
        let res = front
            .get(&format!(
                "/staff/patients?q={}",
                q.replace(' ', "+").replace('@', "%40")
            ))
            .await;
        assert_eq!(
            res.body.contains(&format!("href=\"{patient_path}\"")),
            found,
            "{q}"
        );
    }
    // What is stored reveals neither the name nor the contact details.
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&app.state.config.database_url())
        .await
        .unwrap();
    let row = sqlx::query("SELECT details, notes, email_index, phone_index FROM patients")
        .fetch_one(&db)
        .await
        .unwrap();
    use sqlx::Row;
    let details: Vec<u8> = row.get("details");
    let email_index: String = row.get("email_index");
    assert!(!String::from_utf8_lossy(&details).contains("Rivera"));
    assert!(!email_index.contains("ana") && email_index.len() == 64);
    let rows = app.state.storage.audit_rows(0, 1000).await.unwrap();
    assert!(rows.iter().any(|r| r.entry.action == "view"
        && r.entry.record_type == "patient"
        && r.entry.actor == "front@riverbend.example"));
    assert!(
        rows.iter()
            .any(|r| r.entry.action == "search" && r.entry.record_id.is_empty()),
        "searches are recorded without their words"
    );
}

#[tokio::test]
async fn a_record_is_not_made_from_a_case_that_changed_meanwhile() {
    let app = spawn_app().await;
    add_staff(&app, "dr@riverbend.example", Role::Clinician).await;
    let case = shared_case(&app, [1; 9]).await;
    let (mut dr, _, _) = first_sign_in(&app, "dr@riverbend.example").await;
    let form = dr
        .get(&format!("/staff/patients/new?from_case={case}"))
        .await;
    let page = dr.get(&format!("/staff/cases/{case}")).await;
    dr.post(
        &format!("/staff/cases/{case}/act"),
        &[
            ("csrf", &page.csrf()),
            ("version", &field_value(&page.body, "version").unwrap()),
            ("action", "take"),
        ],
    )
    .await;
    let res = dr
        .post(
            "/staff/patients/new",
            &[
                ("csrf", &form.csrf()),
                ("name", "Ana Rivera"),
                ("from_case", &case.to_string()),
                (
                    "case_version",
                    &field_value(&form.body, "case_version").unwrap(),
                ),
            ],
        )
        .await;
    assert_eq!(res.status, 409);
    assert!(
        res.body
            .contains("The case changed while you were filling this in")
    );
    assert!(
        app.state
            .storage
            .recent_patients(10)
            .await
            .unwrap()
            .is_empty(),
        "nothing saved"
    );
}

#[tokio::test]
async fn the_portal_pages_and_the_outbox_read_through_indexes_never_whole_tables() {
    let app = spawn_app().await;
    let plans = app.state.storage.query_plans(true).await.unwrap();
    let shown: String = plans
        .iter()
        .map(|p| format!("{}:\n  {}\n", p.name, p.plan.join("\n  ")))
        .collect();
    assert_eq!(plans.len(), 8, "{shown}");
    for plan in &plans {
        assert!(plan.full_scans.is_empty(), "{shown}");
    }
    let queue = &plans[0];
    assert!(
        queue.plan.iter().any(|s| s.contains("triage_cases_open")),
        "the queue reads only the open cases' index:\n{shown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_entries_written_at_once_by_two_instances_form_one_intact_chain() {
    use activepath::staff::audit::{Verdict, verify};
    use activepath::storage::Storage;
    use activepath::storage::audit::AuditEntry;
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url()
        .await
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display()));
    let first = Storage::connect(&url).await.unwrap();
    first.migrate().await.unwrap();
    let second = Storage::connect(&url).await.unwrap();
    let key = activepath::crypto::MasterKey::generate();
    let chain = activepath::crypto::FieldCipher::new(&key).audit_chain();
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..200 {
        let (storage, chain) = (
            if i % 2 == 0 { &first } else { &second }.clone(),
            chain.clone(),
        );
        writes.spawn(async move {
            let entry = AuditEntry {
                at: jiff::Timestamp::now(),
                actor_id: None,
                actor: format!("viewer {i}"),
                action: "view".into(),
                record_type: "case".into(),
                record_id: i.to_string(),
                client_ip: None,
            };
            storage.audit(&chain, entry).await.unwrap();
        });
    }
    while let Some(done) = writes.join_next().await {
        done.unwrap();
    }
    let rows = first.audit_rows(0, 1000).await.unwrap();
    assert_eq!(rows.len(), 200);
    assert_eq!(
        verify(&second, &chain).await.unwrap(),
        Verdict::Intact { entries: 200 }
    );
}

#[tokio::test]
async fn names_indexed_before_folding_are_reindexed_once_at_start() {
    use activepath::crypto::Purpose;
    use activepath::staff::patients::{self, PatientDetails};
    let app = spawn_app().await;
    let s = &app.state;
    let staff = Actor::command_line();
    let details = PatientDetails {
        name: "José Rivera".into(),
        date_of_birth: None,
        email: None,
        phone: None,
        referring_provider: None,
    };
    let id = patients::create(s, &staff, details, None, None)
        .await
        .unwrap()
        .unwrap();
    // As the record was indexed before names were folded: words as typed.
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&s.config.database_url())
        .await
        .unwrap();
    sqlx::query("DELETE FROM patient_name_words")
        .execute(&db)
        .await
        .unwrap();
    for word in ["josé", "rivera"] {
        sqlx::query("INSERT INTO patient_name_words (patient_id, word_hash) VALUES ($1, $2)")
            .bind(id)
            .bind(s.cipher.digest(Purpose::PatientName, &[word.as_bytes()]))
            .execute(&db)
            .await
            .unwrap();
    }
    sqlx::query("DELETE FROM data_migrations WHERE name = $1")
        .bind(patients::REINDEX_NAMES)
        .execute(&db)
        .await
        .unwrap();
    let staff = &staff;
    let found = |q: &'static str| async move {
        patients::search(s, staff, q)
            .await
            .unwrap()
            .iter()
            .map(|p| p.record.id)
            .collect::<Vec<_>>()
    };
    assert!(found("jose").await.is_empty(), "the old words, unfolded");
    let key = activepath::crypto::MasterKey::load(&s.config.key_file()).unwrap();
    let cipher = || activepath::crypto::FieldCipher::new(&key);
    assert_eq!(
        patients::reindex_names(&s.storage, cipher()).await.unwrap(),
        Some(1)
    );
    assert_eq!(found("jose").await, [id]);
    assert_eq!(found("JOSÉ rivera").await, [id]);
    assert_eq!(
        patients::reindex_names(&s.storage, cipher()).await.unwrap(),
        None,
        "once only"
    );
}

#[tokio::test]
async fn the_api_makes_patient_records_with_the_portals_checks_and_audits_it() {
    let app = spawn_app().await;
    add_staff(&app, "desk@riverbend.example", Role::Coordinator).await;
    add_staff(&app, "root@riverbend.example", Role::Admin).await;
    let (token, _) = api_token(&app, "desk@riverbend.example").await;
    let (admin, _) = api_token(&app, "root@riverbend.example").await;
    let post = |token: String, body: &'static str| {
        let req = app
            .client
            .post(app.url("/api/v1/staff/patients"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body);
        async move { req.send().await.unwrap() }
    };
    let res = post(
        token.clone(),
        r#"{"name": "Ana Rivera", "date_of_birth": "1980-04-02", "email": "ana@example.com", "phone": "+1 555 010 7788"}"#,
    )
    .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    // The record is there, sealed, and findable as in the portal.
    let (mut desk, _, _) = first_sign_in(&app, "desk@riverbend.example").await;
    let page = desk.get(&format!("/staff/patients/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Ana Rivera") && page.body.contains("1980"));
    let db = raw(&app).await;
    let stored: Vec<u8> = sqlx::query_scalar("SELECT details FROM patients WHERE id = $1")
        .bind(id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(!stored.windows(5).any(|w| w == b"Rivera"));
    let audited: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'create' AND record_type = 'patient'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    // Each bad field is named; nothing is made.
    let res = post(
        token.clone(),
        r#"{"name": "", "date_of_birth": "2999-01-01", "email": "not-an-address"}"#,
    )
    .await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: Value = res.json().await.unwrap();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "date_of_birth", "email"]);
    let res = post(token.clone(), r#"{"name": "No Birthday"}"#).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("date_of_birth"));
    let res = post(
        token.clone(),
        r#"{"name": "A", "date_of_birth": "1980-01-01", "notes": "x"}"#,
    )
    .await;
    assert_eq!(res.status(), 422, "unknown fields are refused");
    // An admin sees no health data and makes no records; no token, no entry.
    assert_eq!(
        post(admin, r#"{"name": "X", "date_of_birth": "1980-01-01"}"#)
            .await
            .status(),
        403
    );
    let res = app
        .client
        .post(app.url("/api/v1/staff/patients"))
        .header("content-type", "application/json")
        .body(r#"{"name": "X", "date_of_birth": "1980-01-01"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM patients")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(count, 1);
}
