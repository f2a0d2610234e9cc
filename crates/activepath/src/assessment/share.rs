//! "Send my result to the clinic": a triage case (urgent when the item-9
//! flag is set) and the clinic's notification, in one transaction. The
//! person's contact details are sealed and bound to the case.

use super::{Error, VerifiedResult};
use crate::app::Services;
use crate::crypto::{Aad, random_id};
use crate::storage::triage::{CaseKind, NewTriageCase, Priority, ShareOutcome};
use serde::{Deserialize, Serialize};

/// Changes whenever the consent wording changes, so each case records which
/// text the person agreed to.
pub const CONSENT_VERSION: &str = "share-consent/en-US/1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContactMethod {
    Email,
    Phone,
    Text,
}

impl ContactMethod {
    pub const ALL: [ContactMethod; 3] = [
        ContactMethod::Email,
        ContactMethod::Phone,
        ContactMethod::Text,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            ContactMethod::Email => "email",
            ContactMethod::Phone => "phone",
            ContactMethod::Text => "text",
        }
    }

    pub fn from_slug(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.slug() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContactTime {
    Any,
    Morning,
    Afternoon,
    Evening,
}

impl ContactTime {
    pub const ALL: [ContactTime; 4] = [
        ContactTime::Any,
        ContactTime::Morning,
        ContactTime::Afternoon,
        ContactTime::Evening,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            ContactTime::Any => "any",
            ContactTime::Morning => "morning",
            ContactTime::Afternoon => "afternoon",
            ContactTime::Evening => "evening",
        }
    }

    pub fn from_slug(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.slug() == s)
    }
}

/// Checked contact details, as stored (sealed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Contact {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub contact_method: ContactMethod,
    pub contact_time: ContactTime,
    pub message: Option<String>,
    /// Days that suit a call back ("monday" … "saturday"); empty when any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<String>,
}

/// What a case's sealed contact details are bound to.
pub fn contact_aad(case_uid: &str) -> Aad {
    Aad::row("triage_cases", "contact", case_uid)
}

/// Creates the case and queues the clinic's notification, or does nothing
/// when the result was shared before.
#[tracing::instrument(skip_all)]
pub async fn share(
    s: &Services,
    result: &VerifiedResult,
    contact: &Contact,
) -> Result<ShareOutcome, Error> {
    let uid = random_id();
    let sealed = s.cipher.encrypt(
        &contact_aad(&uid),
        &serde_json::to_vec(contact).expect("contact serializes"),
    );
    let mail = crate::mail::new_share_notification(&s.config, result.score.self_harm_flag);
    let outcome = s
        .storage
        .share_result(
            NewTriageCase {
                uid,
                kind: CaseKind::Assessment,
                result_id: Some(result.id),
                priority: if result.score.self_harm_flag {
                    Priority::Urgent
                } else {
                    Priority::Routine
                },
                contact_sealed: sealed,
                consent_version: CONSENT_VERSION.into(),
                created_at: s.clock.now(),
            },
            crate::mail::seal(&s.cipher, &mail),
        )
        .await?;
    if outcome == ShareOutcome::Created {
        s.mail_wake.notify_one();
    }
    Ok(outcome)
}

/// The contact details of the case made from a result, for the clinic.
pub async fn contact_of(s: &Services, result_id: i64) -> Result<Option<Contact>, Error> {
    match s.storage.triage_contact(result_id).await? {
        Some((uid, sealed)) => contact_of_case(s, &uid, &sealed).map(Some),
        None => Ok(None),
    }
}

/// Opens a case's sealed contact details.
pub fn contact_of_case(s: &Services, case_uid: &str, sealed: &[u8]) -> Result<Contact, Error> {
    let fail = || Error::Integrity {
        id: 0,
        why: "a case's contact details do not decrypt for its row",
    };
    let plain = s
        .cipher
        .decrypt(&contact_aad(case_uid), sealed)
        .map_err(|_| fail())?;
    serde_json::from_slice(&plain).map_err(|_| fail())
}
