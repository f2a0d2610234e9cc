//! Accounts and signing in: the password, the throttle on guessing, the
//! second factor and its enrolment, sessions and API tokens.
//!
//! A session is a database row (so every instance shares it) named by a
//! random id that only the browser's cookie holds; the database keeps an
//! HMAC of it. Each step of signing in replaces the id.
//!
//! Guessing is counted before it is judged. A password attempt on an
//! address (known or not) is first reserved in the database, atomically,
//! and counted as failed; only an attempt the count allows is checked, and
//! a right password clears that count. Second-factor codes have a count of
//! their own per account, reserved the same way, which only a right code
//! clears: knowing the password buys no more guesses at the code. After
//! `staff.max_code_failures` wrong codes in a row, no code is judged until
//! the password is reset by e-mail or an administrator enables the account
//! again.

use super::{Actor, Error, Role, normalise_email, password, totp};
use crate::app::Services;
use crate::crypto::{Aad, Purpose, random_token, same_secret};
use crate::storage::StorageError;
use crate::storage::staff::{
    Attempt, CodeAttempt, NewSession, SecondFactorSetUp, Session, SessionStage, StaffUser,
};
use jiff::SignedDuration;
use secrecy::{ExposeSecret, SecretString};

/// How long to wait after the n-th failed attempt on one account (of
/// passwords, and of codes, each counted apart): the first three are free
/// (typing mistakes), then 15 s, 30 s, 1 min … doubling to at most 15
/// minutes. A password is never locked out for longer than that; codes stop
/// for good at `staff.max_code_failures`.
pub fn delay_after(failures: i64) -> SignedDuration {
    if failures <= 3 {
        return SignedDuration::ZERO;
    }
    let doublings = (failures - 4).min(10) as u32;
    SignedDuration::from_secs(15 * 2i64.pow(doublings)).min(SignedDuration::from_mins(15))
}

/// Failures older than this no longer count.
const FORGET_FAILURES_AFTER: SignedDuration = SignedDuration::from_hours(24);

fn account_key(s: &Services, email: &str) -> String {
    s.cipher
        .digest(Purpose::SignInAccount, &[normalise_email(email).as_bytes()])
}

/// What a sealed second-factor secret is bound to.
fn totp_aad(user_id: i64, column: &str) -> Aad {
    Aad::row("staff_users", column, &user_id.to_string())
}

fn open_secret(s: &Services, user_id: i64, column: &str, sealed: &[u8]) -> Result<Vec<u8>, Error> {
    s.cipher
        .decrypt(&totp_aad(user_id, column), sealed)
        .map_err(|_| Error::Integrity(format!("staff user {user_id}'s {column}")))
}

/// Why a new account cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum NewAccountError {
    #[error("{0:?} is not a valid e-mail address")]
    Email(String),
    #[error("the password is not strong enough: {0}")]
    Password(String),
    #[error("an account with that e-mail address exists already")]
    Exists,
    #[error(transparent)]
    Other(#[from] Error),
}

/// The words for a password problem.
pub fn password_problem(p: &password::Problem) -> String {
    match p {
        password::Problem::TooShort => {
            format!("use at least {} characters", password::MIN_CHARS)
        }
        password::Problem::TooLong => format!("use at most {} characters", password::MAX_CHARS),
        password::Problem::TooGuessable(None) => "it would be too easy to guess".into(),
        password::Problem::TooGuessable(Some(advice)) => {
            format!("it would be too easy to guess ({advice})")
        }
    }
}

/// Creates an account with a password (`activepath user add`).
pub async fn add_account(
    s: &Services,
    actor: &Actor,
    email: &str,
    role: Role,
    new_password: SecretString,
) -> Result<i64, NewAccountError> {
    create(s, actor, email, role, false, new_password).await
}

/// Creates a clinician's account that may approve access to health data
/// (`activepath user add --role clinician --medical-director`).
pub async fn add_medical_director(
    s: &Services,
    actor: &Actor,
    email: &str,
    new_password: SecretString,
) -> Result<i64, NewAccountError> {
    create(s, actor, email, Role::Clinician, true, new_password).await
}

async fn create(
    s: &Services,
    actor: &Actor,
    email: &str,
    role: Role,
    medical_director: bool,
    new_password: SecretString,
) -> Result<i64, NewAccountError> {
    let email = normalise_email(email);
    crate::domain::EmailAddress::parse(&email)
        .map_err(|_| NewAccountError::Email(email.clone()))?;
    password::check(new_password.expose_secret(), &email, &s.config.clinic.name)
        .map_err(|p| NewAccountError::Password(password_problem(&p)))?;
    let turn = s.passwords.admit().map_err(Error::from)?;
    let hash = password::hash(turn, new_password)
        .await
        .map_err(Error::from)?;
    let now = s.clock.now();
    match s
        .storage
        .add_staff_user(
            email,
            role,
            medical_director,
            Some(hash),
            &s.cipher.audit_chain(),
            actor.did("create", "staff_user", "", now),
        )
        .await
    {
        Ok(id) => Ok(id),
        Err(StorageError::Conflict(crate::storage::Constraint::StaffEmail)) => {
            Err(NewAccountError::Exists)
        }
        Err(e) => Err(NewAccountError::Other(e.into())),
    }
}

/// A session's cookie value; the database keeps only its HMAC.
#[derive(Debug, Clone)]
pub struct SessionCookie(pub String);

impl SessionCookie {
    fn new() -> Self {
        SessionCookie(random_token(32))
    }

    pub fn id_hash(&self, s: &Services) -> String {
        s.cipher.digest(Purpose::StaffSession, &[self.0.as_bytes()])
    }

    /// The CSRF token of this session: derived, never stored, and different
    /// for every session.
    pub fn csrf_token(&self, s: &Services) -> String {
        s.cipher.digest(Purpose::CsrfToken, &[self.0.as_bytes()])
    }

    pub fn csrf_matches(&self, s: &Services, sent: &str) -> bool {
        same_secret(self.csrf_token(s).as_bytes(), sent.as_bytes())
    }
}

#[derive(Debug)]
pub enum PasswordOutcome {
    /// Too many recent failures for this account: wait this long.
    Throttled(SignedDuration),
    /// Too many password checks at once on this server: nothing was
    /// counted or judged; try again shortly.
    Busy,
    /// Wrong address or password, or a disabled account: one answer for all.
    Refused,
    /// Signed in as far as `stage`.
    Accepted {
        cookie: SessionCookie,
        stage: SessionStage,
    },
}

fn stage_after_password(s: &Services, user: &StaffUser) -> SessionStage {
    match (&user.totp_secret, s.config.staff.require_second_factor) {
        (Some(_), _) => SessionStage::SecondFactor,
        (None, true) => SessionStage::Enrol,
        (None, false) => SessionStage::Complete,
    }
}

async fn start(
    s: &Services,
    user: &StaffUser,
    stage: SessionStage,
    replaces: Option<String>,
    actor: &Actor,
) -> Result<SessionCookie, Error> {
    let cookie = SessionCookie::new();
    let now = s.clock.now();
    let audit_entry =
        (stage == SessionStage::Complete).then(|| actor.did("sign_in", "staff_user", user.id, now));
    s.storage
        .start_session(
            NewSession {
                id_hash: cookie.id_hash(s),
                user_id: user.id,
                stage,
                created_at: now,
                expires_at: crate::time::after(
                    now,
                    SignedDuration::try_from(s.config.staff.session_lifetime)
                        .map_err(anyhow::Error::from)?,
                ),
            },
            replaces,
            &s.cipher.audit_chain(),
            audit_entry,
        )
        .await?;
    Ok(cookie)
}

/// Checks an e-mail address and password. The answer and the time it takes
/// do not say whether the address has an account. The attempt is counted
/// before the password is checked (see the module's note).
#[tracing::instrument(skip_all)]
pub async fn with_password(
    s: &Services,
    email: &str,
    given: SecretString,
    client_ip: Option<String>,
) -> Result<PasswordOutcome, Error> {
    let email = normalise_email(email);
    let key = account_key(s, &email);
    // A place at the gate first: a server too busy to check counts nothing.
    let Ok(turn) = s.passwords.admit() else {
        return Ok(PasswordOutcome::Busy);
    };
    let now = s.clock.now();
    let forget_before = crate::time::before(now, FORGET_FAILURES_AFTER);
    match s
        .storage
        .reserve_sign_in(key.clone(), now, forget_before, delay_after)
        .await?
    {
        Attempt::Allowed { .. } => {}
        Attempt::Wait(at) => return Ok(PasswordOutcome::Throttled(at.duration_since(now))),
    }
    let user = s.storage.staff_user_by_email(&email).await?;
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let matches = password::verify(turn, given, hash).await;
    let user = user.filter(|u| matches && u.disabled_at.is_none());
    let Some(user) = user else {
        tracing::warn!("a staff sign-in attempt failed");
        return Ok(PasswordOutcome::Refused);
    };
    s.storage.sign_in_succeeded(key).await?;
    let stage = stage_after_password(s, &user);
    let actor = Actor {
        user_id: Some(user.id),
        label: user.email.clone(),
        client_ip,
    };
    let cookie = start(s, &user, stage, None, &actor).await?;
    Ok(PasswordOutcome::Accepted { cookie, stage })
}

/// A session as a request presents it, checked against its timeouts.
#[derive(Debug, Clone)]
pub struct Current {
    pub session: Session,
    /// The cookie (to derive the CSRF token from).
    pub cookie: SessionCookie,
}

/// The live session a cookie names, or `None` (unknown, ended, idle too
/// long, past its lifetime, or its account disabled). Notes the use.
pub async fn current(s: &Services, cookie: &str) -> Result<Option<Current>, Error> {
    let cookie_value = SessionCookie(cookie.to_string());
    let id_hash = cookie_value.id_hash(s);
    let Some(session) = s.storage.session(&id_hash).await? else {
        return Ok(None);
    };
    let now = s.clock.now();
    let idle = SignedDuration::try_from(s.config.staff.session_idle_timeout)
        .map_err(anyhow::Error::from)?;
    let live = session.expires_at > now
        && crate::time::after(session.last_seen_at, idle) > now
        && session.user.disabled_at.is_none();
    if !live {
        s.storage.end_session(id_hash).await?;
        return Ok(None);
    }
    // Noted at most once a minute: a session's idle time need not be exact
    // to the second, and every request would otherwise be a write.
    if now.duration_since(session.last_seen_at) > SignedDuration::from_mins(1) {
        s.storage.touch_session(id_hash, now).await?;
    }
    Ok(Some(Current {
        session,
        cookie: cookie_value,
    }))
}

#[derive(Debug)]
pub enum CodeOutcome {
    Throttled(SignedDuration),
    Refused,
    /// Too many wrong codes in a row: none is judged until the password is
    /// reset by e-mail or an administrator enables the account again.
    Locked,
    /// Signed in; the session has a new id.
    Accepted(SessionCookie),
}

/// Whether the account takes no more codes (see [`CodeOutcome::Locked`]).
pub fn codes_locked(s: &Services, user: &StaffUser) -> bool {
    user.code_failures >= i64::from(s.config.staff.max_code_failures)
}

/// Checks the code from the authenticator app, or a recovery code, for a
/// session at the second-factor stage. The attempt is counted on the
/// account before the code is checked; only a right code clears the count.
#[tracing::instrument(skip_all)]
pub async fn with_code(
    s: &Services,
    current: &Current,
    code: &str,
    client_ip: Option<String>,
) -> Result<CodeOutcome, Error> {
    let user = &current.session.user;
    let now = s.clock.now();
    let max = i64::from(s.config.staff.max_code_failures);
    let failures = match s
        .storage
        .reserve_code_attempt(user.id, now, max, delay_after)
        .await?
    {
        CodeAttempt::Allowed { failures } => failures,
        CodeAttempt::Wait(at) => return Ok(CodeOutcome::Throttled(at.duration_since(now))),
        CodeAttempt::Locked => return Ok(CodeOutcome::Locked),
    };
    let Some(sealed) = &user.totp_secret else {
        return Ok(CodeOutcome::Refused);
    };
    let secret = open_secret(s, user.id, "totp_secret", sealed)?;
    let unix = now.as_second().max(0) as u64;
    let accepted = match totp::check(&secret, code, unix) {
        Some(step) => s.storage.use_totp_step(user.id, step as i64).await?,
        None => {
            let hash = recovery_hash(s, code);
            !hash.is_empty() && s.storage.use_recovery_code(user.id, hash, now).await?
        }
    };
    let actor = Actor {
        user_id: Some(user.id),
        label: user.email.clone(),
        client_ip,
    };
    if !accepted {
        tracing::warn!(failures, "a wrong second-factor code");
        if failures < max {
            return Ok(CodeOutcome::Refused);
        }
        // This one locked the account's codes: recorded once, here.
        tracing::warn!("second-factor codes locked after {failures} wrong ones in a row");
        super::audit::seen(
            s,
            actor.did("lock_second_factor", "staff_user", user.id, now),
        )
        .await?;
        return Ok(CodeOutcome::Locked);
    }
    s.storage.code_succeeded(user.id).await?;
    let cookie = start(
        s,
        user,
        SessionStage::Complete,
        Some(current.session.id_hash.clone()),
        &actor,
    )
    .await?;
    Ok(CodeOutcome::Accepted(cookie))
}

/// Recovery codes as shown: ten groups of four letters and digits, without
/// the ones people confuse (0/O, 1/I/L).
const RECOVERY_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

fn new_recovery_code() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    let chars: String = bytes
        .iter()
        .map(|b| RECOVERY_ALPHABET[usize::from(*b) % RECOVERY_ALPHABET.len()] as char)
        .collect();
    format!("{}-{}-{}", &chars[0..4], &chars[4..8], &chars[8..12])
}

/// A recovery code's stored digest: case, spaces and hyphens do not matter.
fn recovery_hash(s: &Services, code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if normal.len() != 12 {
        return String::new();
    }
    s.cipher.digest(Purpose::RecoveryCode, &[normal.as_bytes()])
}

/// What the enrolment page shows.
pub struct Enrolment {
    pub secret_text: String,
    pub provisioning_url: String,
}

/// The pending second-factor secret of the session's account, made now if
/// there is none.
pub async fn enrolment(s: &Services, user: &StaffUser) -> Result<Enrolment, Error> {
    let secret = match &user.totp_pending {
        Some(sealed) => open_secret(s, user.id, "totp_pending", sealed)?,
        None => {
            let secret = totp::new_secret();
            s.storage
                .set_totp_pending(
                    user.id,
                    s.cipher
                        .encrypt(&totp_aad(user.id, "totp_pending"), &secret),
                )
                .await?;
            secret
        }
    };
    Ok(Enrolment {
        secret_text: totp::secret_text(&secret),
        provisioning_url: totp::provisioning_url(&secret, &user.email, &s.config.clinic.name),
    })
}

pub enum EnrolOutcome {
    Refused,
    /// Done: the new session, and the recovery codes to show once.
    Done {
        cookie: SessionCookie,
        recovery_codes: Vec<String>,
    },
}

/// Confirms the pending secret with its first code.
#[tracing::instrument(skip_all)]
pub async fn confirm_enrolment(
    s: &Services,
    current: &Current,
    code: &str,
    client_ip: Option<String>,
) -> Result<EnrolOutcome, Error> {
    // Read again: the session's copy may predate the pending secret.
    let Some(user) = s.storage.staff_user(current.session.user.id).await? else {
        return Ok(EnrolOutcome::Refused);
    };
    let Some(sealed) = &user.totp_pending else {
        return Ok(EnrolOutcome::Refused);
    };
    let secret = open_secret(s, user.id, "totp_pending", sealed)?;
    let now = s.clock.now();
    let Some(step) = totp::check(&secret, code, now.as_second().max(0) as u64) else {
        return Ok(EnrolOutcome::Refused);
    };
    let recovery_codes: Vec<String> = (0..10).map(|_| new_recovery_code()).collect();
    let cookie = SessionCookie::new();
    let actor = Actor {
        user_id: Some(user.id),
        label: user.email.clone(),
        client_ip,
    };
    s.storage
        .confirm_second_factor(
            SecondFactorSetUp {
                user_id: user.id,
                secret_sealed: s.cipher.encrypt(&totp_aad(user.id, "totp_secret"), &secret),
                step: step as i64,
                recovery_code_hashes: recovery_codes.iter().map(|c| recovery_hash(s, c)).collect(),
                old_session: current.session.id_hash.clone(),
                new_session: NewSession {
                    id_hash: cookie.id_hash(s),
                    user_id: user.id,
                    stage: SessionStage::Complete,
                    created_at: now,
                    expires_at: current.session.expires_at,
                },
            },
            &s.cipher.audit_chain(),
            actor.did("enrol_second_factor", "staff_user", user.id, now),
        )
        .await?;
    Ok(EnrolOutcome::Done {
        cookie,
        recovery_codes,
    })
}

/// Ends the session.
pub async fn sign_out(s: &Services, current: &Current) -> Result<(), Error> {
    Ok(s.storage
        .end_session(current.session.id_hash.clone())
        .await?)
}

/// Ends every other session of the account. Returns how many.
pub async fn sign_out_elsewhere(s: &Services, current: &Current) -> Result<u64, Error> {
    Ok(s.storage
        .end_other_sessions(current.session.user.id, current.session.id_hash.clone())
        .await?)
}

/// Makes an API token for an account; the token is returned once and only
/// its HMAC is kept.
pub async fn new_api_token(
    s: &Services,
    actor: &Actor,
    user: &StaffUser,
    name: &str,
) -> Result<String, Error> {
    let token = format!("ap_{}", random_token(32));
    s.storage
        .add_api_token(
            user.id,
            name.trim().to_string(),
            s.cipher.digest(Purpose::ApiToken, &[token.as_bytes()]),
            &s.cipher.audit_chain(),
            actor.did("create", "api_token", "", s.clock.now()),
        )
        .await?;
    Ok(token)
}

/// The account a bearer token acts for, if the token is live and the
/// account enabled.
pub async fn token_user(s: &Services, token: &str) -> Result<Option<StaffUser>, Error> {
    if !token.starts_with("ap_") || token.len() > 100 {
        return Ok(None);
    }
    let hash = s.cipher.digest(Purpose::ApiToken, &[token.as_bytes()]);
    let Some((token_id, last_used, user)) = s.storage.api_token_user(&hash).await? else {
        return Ok(None);
    };
    if user.disabled_at.is_some() {
        return Ok(None);
    }
    // Noted at most once a minute, like sessions.
    let now = s.clock.now();
    if last_used.is_none_or(|at| now.duration_since(at) > SignedDuration::from_mins(1)) {
        s.storage.touch_api_token(token_id, now).await?;
    }
    Ok(Some(user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap() {
        assert_eq!(delay_after(1), SignedDuration::ZERO);
        assert_eq!(delay_after(3), SignedDuration::ZERO);
        assert_eq!(delay_after(4), SignedDuration::from_secs(15));
        assert_eq!(delay_after(5), SignedDuration::from_secs(30));
        assert_eq!(delay_after(7), SignedDuration::from_mins(2));
        assert_eq!(delay_after(50), SignedDuration::from_mins(15));
        // A guesser gets at most a handful a minute: 3 free, then one at 15 s, 45 s.
        let mut at = SignedDuration::ZERO;
        let mut tries = 0;
        for n in 1.. {
            tries += 1;
            at += delay_after(n);
            if at > SignedDuration::from_mins(1) {
                break;
            }
        }
        assert!(tries <= 6, "{tries} tries in the first minute");
    }

    #[test]
    fn recovery_codes_are_readable() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 14);
        assert!(
            code.chars()
                .all(|c| c == '-' || RECOVERY_ALPHABET.contains(&(c as u8)))
        );
    }
}
