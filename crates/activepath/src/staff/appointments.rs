//! The appointment calendar as staff use it: every look at who is booked
//! and every booking, move or cancellation made for someone is recorded in
//! the audit trail. The booking rules and guarantees are the public site's
//! own (`crate::booking`): staff cannot double-book either.

use super::{Actor, Error};
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

/// The bookings at `location` on `from..=to`, with the resources they hold.
pub async fn calendar(
    s: &Services,
    actor: &Actor,
    location: &Location,
    from: Date,
    to: Date,
) -> Result<Vec<(Appointment, Vec<i64>)>, Error> {
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
    booking::between(s, location, from, to)
        .await
        .map_err(failed)
}

/// One booking with the person's details.
pub async fn open(s: &Services, actor: &Actor, uid: &str) -> Result<Option<Appointment>, Error> {
    let Some(a) = booking::by_uid(s, uid).await.map_err(failed)? else {
        return Ok(None);
    };
    super::audit::seen(s, actor.did("view", "appointment", uid, s.clock.now())).await?;
    Ok(Some(a))
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
