//! Reaching the clinic without a self-assessment: a message through the
//! contact form, or a request to be called back when no booking time fits.
//! Each becomes a case in the staff queue, with the clinic's notification,
//! in one transaction. The person's details are sealed and bound to the
//! case; the notification carries none of them.

use crate::app::Services;
use crate::assessment::share::{Contact, contact_aad};
use crate::crypto::random_id;
use crate::storage::StorageError;
use crate::storage::triage::{CaseKind, NewTriageCase, Priority};

/// Changes whenever the contact consent wording changes.
pub const CONSENT_VERSION: &str = "contact-consent/en-US/1";

/// The days a call back may be asked for: Monday to Saturday.
pub const DAYS: &[&str] = crate::config::WEEKDAYS.split_at(6).0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Message,
    Callback,
}

/// Opens the case and queues the clinic's notification.
#[tracing::instrument(skip_all)]
pub async fn send(s: &Services, request: Request, contact: &Contact) -> Result<(), StorageError> {
    let uid = random_id();
    let sealed = s.cipher.encrypt(
        &contact_aad(&uid),
        &serde_json::to_vec(contact).expect("contact serializes"),
    );
    let mail = crate::mail::contact_notification(&s.config, request);
    s.storage
        .open_case(
            NewTriageCase {
                uid,
                kind: match request {
                    Request::Message => CaseKind::Message,
                    Request::Callback => CaseKind::Callback,
                },
                result_id: None,
                priority: Priority::Routine,
                contact_sealed: sealed,
                consent_version: CONSENT_VERSION.into(),
                created_at: s.clock.now(),
            },
            crate::mail::seal(&s.cipher, &mail),
        )
        .await?;
    s.mail_wake.notify_one();
    Ok(())
}
