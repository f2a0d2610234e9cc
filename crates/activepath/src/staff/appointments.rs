//! The appointment calendar as staff use it: every look at who is booked
//! and every booking, move or cancellation made for someone is recorded in
//! the audit trail. The booking rules and guarantees are the public site's
//! own (`crate::booking`): staff cannot double-book either.
//!
//! What of a booking each role sees is decided here, once, for every page
//! that shows one: those who keep the calendar see who is booked
//! ([`Permission::SeeWhoIsBooked`]); a technician sees the TMS sessions
//! they give (the patient's name and the course) and, for everything
//! else, only that the time is taken.

use super::{Actor, Error, Permission, Role, allows};
use crate::app::Services;
use crate::booking::{
    self, Appointment, AppointmentType, BookError, Booked, Catalogue, ChangeError, Details,
    Location, Source,
};
use jiff::Timestamp;
use jiff::civil::Date;

fn failed(e: booking::Error) -> Error {
    Error::Internal(anyhow::Error::from(e))
}

/// A booking as one reader may see it.
#[derive(Debug, Clone)]
pub enum Seen {
    /// All of it: who, their contact details and reason.
    Whole(Box<Appointment>),
    /// A TMS session, to those who give them: no contact details.
    Session(Session),
    /// Only that the time is taken: no name, contact, reason or type.
    Busy(Busy),
}

/// A TMS course's session, as a technician sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub uid: String,
    pub type_id: i64,
    pub location_id: i64,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub cancelled: bool,
    /// The course it is a session of.
    pub course: i64,
    /// The patient's name.
    pub name: String,
}

/// A time that is taken, and nothing about by what or whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
}

impl Seen {
    /// When it starts and ends.
    pub fn times(&self) -> (Timestamp, Timestamp) {
        match self {
            Seen::Whole(a) => (a.row.starts_at, a.row.ends_at),
            Seen::Session(x) => (x.starts_at, x.ends_at),
            Seen::Busy(b) => (b.starts_at, b.ends_at),
        }
    }
}

/// What `role` may see of `a`; the person's details are dropped here for
/// anyone who may not see them.
async fn as_seen_by(s: &Services, role: Role, a: Appointment) -> Result<Seen, Error> {
    if allows(role, Permission::SeeWhoIsBooked) {
        return Ok(Seen::Whole(Box::new(a)));
    }
    if allows(role, Permission::SeeCourses)
        && let Some(course) = s.storage.course_of_appointment(a.row.id).await?
    {
        return Ok(Seen::Session(Session {
            cancelled: a.is_cancelled(),
            id: a.row.id,
            uid: a.row.uid,
            type_id: a.row.type_id,
            location_id: a.row.location_id,
            starts_at: a.row.starts_at,
            ends_at: a.row.ends_at,
            course,
            name: a.details.name,
        }));
    }
    Ok(Seen::Busy(Busy {
        starts_at: a.row.starts_at,
        ends_at: a.row.ends_at,
    }))
}

/// The bookings at `location` on `from..=to` as `role` may see them, with
/// the resources they hold. A cancelled booking that would show only as
/// busy is left out: it takes no time.
pub async fn calendar(
    s: &Services,
    actor: &Actor,
    role: Role,
    location: &Location,
    from: Date,
    to: Date,
) -> Result<Vec<(Seen, Vec<i64>)>, Error> {
    super::audit::seen(
        s,
        actor.did(
            "view",
            "calendar",
            format!("{} {from}..{to}", location.slug),
            s.clock.now(),
        ),
    )
    .await?;
    let mut out = Vec::new();
    for (a, held) in booking::between(s, location, from, to)
        .await
        .map_err(failed)?
    {
        let cancelled = a.is_cancelled();
        match as_seen_by(s, role, a).await? {
            Seen::Busy(_) if cancelled => {}
            seen => out.push((seen, held)),
        }
    }
    Ok(out)
}

/// One booking as `role` may see it; the look is recorded unless all it
/// shows is that the time is taken (the portal has no page for that, and
/// refuses it: the calendar never links there).
pub async fn open(
    s: &Services,
    actor: &Actor,
    role: Role,
    uid: &str,
) -> Result<Option<Seen>, Error> {
    let Some(a) = booking::by_uid(s, uid).await.map_err(failed)? else {
        return Ok(None);
    };
    let seen = as_seen_by(s, role, a).await?;
    if !matches!(seen, Seen::Busy(_)) {
        super::audit::seen(s, actor.did("view", "appointment", uid, s.clock.now())).await?;
    }
    Ok(Some(seen))
}

/// Books for someone (on the phone, at the desk), by the public rules.
pub async fn book(
    s: &Services,
    actor: &Actor,
    cat: &Catalogue,
    kind: &AppointmentType,
    location: &Location,
    start: Timestamp,
    details: &Details,
) -> Result<Result<Booked, BookError>, Error> {
    match booking::book(s, cat, kind, location, start, details, Source::Staff).await {
        Ok(booked) => {
            super::audit::seen(
                s,
                actor.did("create", "appointment", &booked.uid, s.clock.now()),
            )
            .await?;
            Ok(Ok(booked))
        }
        Err(BookError::Failed(e)) => Err(failed(e)),
        Err(refused) => Ok(Err(refused)),
    }
}

/// Cancels a booking; the person gets the cancellation and its calendar
/// update.
pub async fn cancel(
    s: &Services,
    actor: &Actor,
    cat: &Catalogue,
    a: &Appointment,
) -> Result<Result<(), ChangeError>, Error> {
    if s.storage.course_of_appointment(a.row.id).await?.is_some() {
        return Ok(Err(ChangeError::NotChangeable));
    }
    let done = booking::cancel(s, cat, a, None).await;
    audit_change(s, actor, "cancel", a, done).await
}

/// Moves a booking to `start`, checked like a new one.
pub async fn reschedule(
    s: &Services,
    actor: &Actor,
    cat: &Catalogue,
    a: &Appointment,
    start: Timestamp,
) -> Result<Result<(), ChangeError>, Error> {
    // A TMS course's session is changed from its course (no mail to send,
    // and the course's series kept whole).
    if s.storage.course_of_appointment(a.row.id).await?.is_some() {
        return Ok(Err(ChangeError::NotChangeable));
    }
    let done = booking::reschedule(s, cat, a, None, start)
        .await
        .map(|_| ());
    audit_change(s, actor, "move", a, done).await
}

async fn audit_change(
    s: &Services,
    actor: &Actor,
    action: &str,
    a: &Appointment,
    done: Result<(), ChangeError>,
) -> Result<Result<(), ChangeError>, Error> {
    match done {
        Ok(()) => {
            super::audit::seen(
                s,
                actor.did(action, "appointment", &a.row.uid, s.clock.now()),
            )
            .await?;
            Ok(Ok(()))
        }
        Err(ChangeError::Book(BookError::Failed(e))) => Err(failed(e)),
        Err(refused) => Ok(Err(refused)),
    }
}

/// Stores a change to the booking set-up, recorded in the audit trail.
pub async fn change_setup(
    s: &Services,
    actor: &Actor,
    change: crate::storage::booking::SetupChange,
) -> Result<i64, Error> {
    use crate::storage::booking::SetupChange as C;
    let what = match &change {
        C::Location(l) => format!("location {}", if l.id == 0 { &l.slug } else { &l.name }),
        C::Resource(r) => format!("resource {}", if r.id == 0 { &r.slug } else { &r.name }),
        C::Type(t) => format!(
            "appointment type {}",
            if t.id == 0 { &t.slug } else { &t.name }
        ),
        C::Hours(h) => format!("hours of resource {}", h.resource_id),
        C::Exception(e) => format!("exception on {}", e.day),
        C::RemoveHours(id) => format!("hours {id} removed"),
        C::RemoveException(id) => format!("exception {id} removed"),
    };
    let id = s.storage.save_setup(change).await?;
    super::audit::seen(s, actor.did("change", "booking_setup", what, s.clock.now())).await?;
    Ok(id)
}
