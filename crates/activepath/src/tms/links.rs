//! Check-ins the patient answers: by a single-use link e-mailed to them
//! (no account; the link and the message name no health information), or
//! on the clinic's tablet in kiosk mode (one patient at a time: the page
//! shows no name, and after the answers it shows nothing of them).

use super::{Answered, CheckedIn, store_check_in};
use crate::app::Services;
use crate::crypto::random_token;
use crate::staff::{Actor, Error, FieldErrors, Outcome};
use crate::storage::{Constraint, StorageError};

/// How a check-in link reaches the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// E-mailed to the patient's address on record.
    Email,
    /// Its address returned, for a tablet the caller drives (the API); it
    /// works for an hour.
    Kiosk,
    /// Sent to one of the clinic's tablets (`/kiosk/{token}`), which shows
    /// it next; it works for an hour.
    Tablet(i64),
}

/// How long a check-in waits on a tablet.
const ON_A_TABLET: std::time::Duration = std::time::Duration::from_secs(3600);

/// The path of a check-in link's page.
pub fn path(token: &str) -> String {
    format!("/check-in/{token}")
}

/// Makes a single-use check-in link for course `course_id`: e-mails it to
/// the patient, or returns it for the tablet. `Ok(Ok(Some(token)))`;
/// `Ok(Err)` when the patient has no e-mail address; `Ok(Ok(None))`: no
/// such course.
pub async fn create(
    s: &Services,
    actor: &Actor,
    course_id: i64,
    delivery: Delivery,
) -> Outcome<String> {
    let Some(course) = s.storage.course(course_id).await? else {
        return Ok(Ok(None));
    };
    if !matches!(
        course.status.as_str(),
        "planned" | "active" | "paused" | "completed"
    ) {
        return Ok(Err(vec![(
            "course".into(),
            format!("the course is {}: it takes no check-ins", course.status),
        )]));
    }
    let now = s.clock.now();
    let token = random_token(32);
    let expiry = |valid: std::time::Duration| {
        crate::time::after(
            now,
            jiff::SignedDuration::try_from(valid).unwrap_or_default(),
        )
    };
    let kiosk_id = match delivery {
        Delivery::Tablet(id) => {
            if !s.storage.kiosks().await?.iter().any(|k| k.id == id) {
                return Ok(Err(vec![(
                    "kiosk".into(),
                    "must be one of the clinic's tablets in use".into(),
                )]));
            }
            Some(id)
        }
        _ => None,
    };
    let (kind, expires, mail) = match delivery {
        Delivery::Kiosk | Delivery::Tablet(_) => ("kiosk", expiry(ON_A_TABLET), None),
        Delivery::Email => {
            let details = crate::staff::patients::details(s, course.patient_id)
                .await?
                .ok_or_else(|| {
                    Error::Integrity(format!("course {course_id} without its patient"))
                })?;
            let Some(email) = details.email else {
                let errors: FieldErrors = vec![(
                    "email".into(),
                    "the patient has no e-mail address on record: add one, or use the tablet"
                        .into(),
                )];
                return Ok(Err(errors));
            };
            let expires = expiry(s.config.tms.check_in_link_valid);
            let until = crate::time::format_date_time(expires, s.config.clinic.time_zone.tz());
            let url = s.config.clinic.base_url.join(&path(&token));
            let letter = crate::mail::check_in_link(&s.config, &email, &url, &until);
            ("link", expires, Some(crate::mail::seal(&s.cipher, &letter)))
        }
    };
    let emailed = mail.is_some();
    s.storage
        .add_check_in_link(
            crate::storage::tms::NewCheckInLink {
                course_id,
                token_hash: s.cipher.token_hash(&token),
                kind,
                expires_at: expires,
                kiosk_id,
                mail,
                created_by: actor.user_id,
            },
            &s.cipher.audit_chain(),
            actor.did(
                if emailed {
                    "e-mail check-in link"
                } else {
                    "send check-in to a tablet"
                },
                "tms_course",
                course_id,
                now,
            ),
        )
        .await?;
    if emailed {
        s.mail_wake.notify_one();
    }
    Ok(Ok(Some(token)))
}

/// A link that still works, as the patient's page needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub id: i64,
    pub course_id: i64,
    /// The clinic's tablet (else an e-mailed link).
    pub kiosk: bool,
}

/// The link with this token, if it still works (not used, not expired).
pub async fn find(s: &Services, token: &str) -> Result<Option<Link>, Error> {
    let link = s.storage.check_in_link(&s.cipher.token_hash(token)).await?;
    Ok(link
        .filter(|l| l.used_at.is_none() && l.expires_at > s.clock.now())
        .map(|l| Link {
            id: l.id,
            course_id: l.course_id,
            kiosk: l.kind == "kiosk",
        }))
}

/// Records the patient's answers through an open link, using it up.
/// `Ok(None)`: the link was used or expired meanwhile (nothing stored).
pub async fn answer(
    s: &Services,
    link: Link,
    responses: &clinical::Responses,
) -> Result<Option<CheckedIn>, Error> {
    let Link {
        id,
        course_id,
        kiosk,
    } = link;
    let Some(course) = s.storage.course(course_id).await? else {
        return Ok(None);
    };
    let now = s.clock.now();
    let actor = Actor {
        user_id: None,
        label: if kiosk {
            "patient (clinic tablet)"
        } else {
            "patient (e-mailed link)"
        }
        .into(),
        // The patient's network address is not kept (minimal collection).
        client_ip: None,
    };
    let answered = Answered {
        source: if kiosk { "kiosk" } else { "link" },
        recorded_by: None,
        link: Some(id),
    };
    let audit = actor.did("answer check-in", "tms_course", course_id, now);
    match store_check_in(s, &course, responses, now, answered, audit).await {
        Ok(done) => Ok(Some(done)),
        Err(Error::Storage(StorageError::Conflict(Constraint::LinkSpent))) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The address a tablet keeps open.
pub fn kiosk_path(token: &str) -> String {
    format!("/kiosk/{token}")
}

/// Adds a tablet for check-ins: its id and the token of its address (shown
/// once). `Ok(Err)` when the name is missing or wrong.
pub async fn add_kiosk(s: &Services, actor: &Actor, name: Option<&str>) -> Outcome<(i64, String)> {
    let name = match crate::domain::single_line(name.unwrap_or(""), 60) {
        Ok(n) => n,
        Err(_) => {
            return Ok(Err(vec![(
                "name".into(),
                "is required: one line of at most 60 characters".into(),
            )]));
        }
    };
    let token = random_token(32);
    let now = s.clock.now();
    let id = s
        .storage
        .add_kiosk(
            name,
            s.cipher.token_hash(&token),
            actor.user_id,
            &s.cipher.audit_chain(),
            actor.did("add tablet", "tms_kiosk", "", now),
        )
        .await?;
    Ok(Ok(Some((id, token))))
}

/// Stops a tablet's address from working. `Ok(Ok(None))`: no such tablet.
pub async fn revoke_kiosk(s: &Services, actor: &Actor, id: i64) -> Outcome<i64> {
    let now = s.clock.now();
    let done = s
        .storage
        .revoke_kiosk(
            id,
            &s.cipher.audit_chain(),
            actor.did("revoke tablet", "tms_kiosk", id, now),
        )
        .await?;
    Ok(Ok(done.then_some(id)))
}

/// What a tablet shows: nothing (no such tablet), or the check-in waiting
/// on it, if any.
pub async fn on_kiosk(s: &Services, token: &str) -> Result<Option<Option<Link>>, Error> {
    let Some(kiosk) = s.storage.kiosk_by_hash(&s.cipher.token_hash(token)).await? else {
        return Ok(None);
    };
    Ok(Some(
        s.storage
            .waiting_on_kiosk(kiosk.id, s.clock.now())
            .await?
            .map(|l| Link {
                id: l.id,
                course_id: l.course_id,
                kiosk: true,
            }),
    ))
}
