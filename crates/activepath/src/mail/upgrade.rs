//! The one-time upgrade that comes with migration 0017: messages queued
//! before every message was sealed (invitations, password resets, check-in
//! links and the clinic's notices were kept in plain columns) are sealed
//! now, whole, their recipient masked for the delivery log, so that an
//! upgraded clinic keeps no working link in the clear. They are still
//! delivered as they were written.

use super::{Envelope, mask_address, seal_envelope};
use crate::crypto::FieldCipher;
use crate::storage::Storage;

/// The name under which the upgrade is recorded as done.
pub const NAME: &str = "0017_sealed_outbox";

/// Runs the upgrade once per database: how many messages it sealed, or
/// `None` when it ran before. `cipher` must be the database's own key
/// (checked at start-up before this is called).
pub async fn run(storage: &Storage, cipher: FieldCipher) -> crate::storage::Result<Option<usize>> {
    storage
        .seal_plain_mail(NAME, move |mail| {
            let envelope = Envelope {
                to: mail.recipient.clone(),
                subject: mail.subject.clone(),
                text: mail.body_text.clone(),
                html: mail.body_html.clone(),
                calendar: None,
            };
            (
                mask_address(&mail.recipient),
                seal_envelope(&cipher, &envelope),
            )
        })
        .await
}
