//! The triage queue and the work on a case: what staff see (recorded in the
//! audit trail) and what they do (each change made only on the version of
//! the case they saw, so two people never overwrite each other).

use super::{Actor, Error};
use crate::app::Services;
use crate::assessment::VerifiedResult;
use crate::assessment::share::{Contact, contact_of_case};
use crate::crypto::{Aad, random_id};
use crate::storage::triage::{
    CaseChange, CaseRecord, ChangeOutcome, CloseReason, EventKind, Priority, QueueItem,
};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// When a case should have been answered by.
pub fn respond_by(s: &Services, priority: Priority, created_at: Timestamp) -> Timestamp {
    let within = match priority {
        Priority::Urgent => s.config.staff.urgent_respond_within,
        Priority::Routine => s.config.staff.routine_respond_within,
    };
    crate::time::after(
        created_at,
        SignedDuration::try_from(within).unwrap_or(SignedDuration::from_hours(4)),
    )
}

/// A page of the open cases, urgent first, then oldest; the viewing is
/// recorded.
pub async fn queue(
    s: &Services,
    actor: &Actor,
    limit: i64,
    offset: i64,
) -> Result<Vec<QueueItem>, Error> {
    super::audit::seen(s, actor.did("view", "queue", offset, s.clock.now())).await?;
    Ok(s.storage.queue(limit, offset).await?)
}

/// How a contact attempt went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Reached,
    LeftMessage,
    NoAnswer,
    WrongNumber,
    EmailSent,
}

impl AttemptOutcome {
    pub const ALL: [AttemptOutcome; 5] = [
        AttemptOutcome::Reached,
        AttemptOutcome::LeftMessage,
        AttemptOutcome::NoAnswer,
        AttemptOutcome::WrongNumber,
        AttemptOutcome::EmailSent,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            AttemptOutcome::Reached => "reached",
            AttemptOutcome::LeftMessage => "left_message",
            AttemptOutcome::NoAnswer => "no_answer",
            AttemptOutcome::WrongNumber => "wrong_number",
            AttemptOutcome::EmailSent => "email_sent",
        }
    }

    pub fn from_slug(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.slug() == s)
    }
}

/// An event's sealed detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Detail {
    Note {
        text: String,
    },
    ContactAttempt {
        method: crate::assessment::share::ContactMethod,
        outcome: AttemptOutcome,
        note: Option<String>,
    },
}

/// What staff do to a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Take,
    Note(String),
    ContactAttempt {
        method: crate::assessment::share::ContactMethod,
        outcome: AttemptOutcome,
        note: Option<String>,
    },
    Close(CloseReason),
    Reopen,
}

/// One line of a case's timeline, opened.
#[derive(Debug, Clone)]
pub struct TimelineEntry {
    pub kind: EventKind,
    pub detail: Option<Detail>,
    pub at: Timestamp,
    pub by: Option<String>,
}

/// A case, opened: the result as the person saw it, the contact details and
/// preferences they gave, and the timeline.
#[derive(Debug, Clone)]
pub struct CaseView {
    pub record: CaseRecord,
    /// The result, for a self-assessment case.
    pub result: Option<VerifiedResult>,
    /// The appointment, for a booking case.
    pub appointment: Option<crate::booking::Appointment>,
    pub contact: Contact,
    pub timeline: Vec<TimelineEntry>,
    pub respond_by: Timestamp,
}

fn event_aad(uid: &str) -> Aad {
    Aad::row("case_events", "detail", uid)
}

/// Opens a case; the viewing is recorded first (no record, no data).
#[tracing::instrument(skip_all, fields(case_id = id))]
pub async fn open(s: &Services, actor: &Actor, id: i64) -> Result<Option<CaseView>, Error> {
    let Some(record) = s.storage.case(id).await? else {
        return Ok(None);
    };
    super::audit::seen(s, actor.did("view", "case", id, s.clock.now())).await?;
    let result = match record.result_id {
        Some(result_id) => Some(crate::assessment::verified(s, result_id).await?),
        None => None,
    };
    let appointment = match record.appointment_id {
        Some(id) => crate::booking::by_id(s, id)
            .await
            .map_err(|e| Error::Internal(e.into()))?,
        None => None,
    };
    let contact = contact_of_case(s, &record.uid, &record.contact_sealed)?;
    let mut timeline = Vec::new();
    for event in s.storage.case_events(id).await? {
        let detail = match &event.detail_sealed {
            None => None,
            Some(sealed) => {
                let plain = s
                    .cipher
                    .decrypt(&event_aad(&event.uid), sealed)
                    .map_err(|_| Error::Integrity(format!("an event of case {id}")))?;
                Some(
                    serde_json::from_slice(&plain)
                        .map_err(|_| Error::Integrity(format!("an event of case {id}")))?,
                )
            }
        };
        timeline.push(TimelineEntry {
            kind: event.kind,
            detail,
            at: event.at,
            by: event.by,
        });
    }
    Ok(Some(CaseView {
        respond_by: respond_by(s, record.priority, record.created_at),
        record,
        result,
        appointment,
        contact,
        timeline,
    }))
}

/// Changes a case if it is still at `expected_version`.
#[tracing::instrument(skip_all, fields(case_id = id))]
pub async fn act(
    s: &Services,
    actor: &Actor,
    id: i64,
    expected_version: i64,
    action: Action,
) -> Result<ChangeOutcome, Error> {
    let Some(user_id) = actor.user_id else {
        return Err(Error::Internal(anyhow::anyhow!(
            "cases are worked by staff accounts"
        )));
    };
    let event_uid = random_id();
    let (kind, detail, close_reason, audit_action) = match action {
        Action::Take => (EventKind::Taken, None, None, "take"),
        Action::Note(text) => (EventKind::Note, Some(Detail::Note { text }), None, "note"),
        Action::ContactAttempt {
            method,
            outcome,
            note,
        } => (
            EventKind::ContactAttempt,
            Some(Detail::ContactAttempt {
                method,
                outcome,
                note,
            }),
            None,
            "contact_attempt",
        ),
        Action::Close(reason) => (EventKind::Closed, None, Some(reason), "close"),
        Action::Reopen => (EventKind::Reopened, None, None, "reopen"),
    };
    let detail_sealed = detail.map(|d| {
        s.cipher.encrypt(
            &event_aad(&event_uid),
            &serde_json::to_vec(&d).expect("details serialize"),
        )
    });
    let now = s.clock.now();
    Ok(s.storage
        .change_case(
            CaseChange {
                case_id: id,
                expected_version,
                user_id,
                kind,
                close_reason,
                event_uid,
                detail_sealed,
                at: now,
            },
            &s.cipher.audit_chain(),
            actor.did(audit_action, "case", id, now),
        )
        .await?)
}
