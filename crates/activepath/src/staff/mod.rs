//! The staff side, without HTTP: accounts and signing in (password, second
//! factor, sessions, API tokens), who may do what, the triage queue and the
//! work on each case, and the audit trail of every access to health data.

pub mod access;
pub mod accounts;
pub mod appointments;
pub mod audit;
pub mod cases;
pub mod password;
pub mod patients;
pub mod roles;
pub mod sign_in;
pub mod totp;

pub use roles::{Permission, Role, allows};

use crate::storage::StorageError;
use crate::storage::audit::AuditEntry;
use jiff::Timestamp;

/// Each field that is wrong, with what to do.
pub type FieldErrors = Vec<(String, String)>;

/// The outcome of making a record under another one: its id, `None` when
/// the other is not there, or each bad field.
pub type Outcome<T> = Result<Result<Option<T>, FieldErrors>, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Assessment(#[from] crate::assessment::Error),
    /// Stored staff data that does not decrypt where it is.
    #[error("{0} failed its integrity check")]
    Integrity(String),
    /// Too many password checks at once (see `password::Gate`).
    #[error(transparent)]
    Busy(#[from] password::Busy),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Who is acting, for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The staff account; `None` for a command run on the server.
    pub user_id: Option<i64>,
    /// The account's e-mail address, or what ran the command.
    pub label: String,
    /// The client's address, for requests.
    pub client_ip: Option<String>,
}

impl Actor {
    /// A command typed on the server (`activepath user add`, …).
    pub fn command_line() -> Self {
        Actor {
            user_id: None,
            label: "command line".into(),
            client_ip: None,
        }
    }

    /// An audit entry for `action` on a record, by this actor, at `at`.
    pub fn did(
        &self,
        action: &str,
        record_type: &str,
        record_id: impl ToString,
        at: Timestamp,
    ) -> AuditEntry {
        AuditEntry {
            at,
            actor_id: self.user_id,
            actor: self.label.clone(),
            action: action.into(),
            record_type: record_type.into(),
            record_id: record_id.to_string(),
            client_ip: self.client_ip.clone(),
        }
    }
}

/// A staff member's e-mail address as stored and looked up: trimmed and
/// lower-cased.
pub fn normalise_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}
