//! Booking a first consultation against the clinic's real availability:
//! the set-up (locations, resources, appointment types, hours), the free
//! times ([`slots`]), booking, the visitor's manage link (cancel or move),
//! reminders, and the calendar invitations that go with each ([`ics`]).
//!
//! A booking made on the site or through the API is first a hold
//! ([`hold`]): its time is kept from others for `booking.confirm_within`
//! while the person opens the link e-mailed to them ([`confirm`]); only then
//! is it booked, with its queue case, its invitation and its reminder.
//! Unconfirmed, it lapses and the time is free again (`jobs::lapse_holds`).
//! Open holds are capped per client, per e-mail address and per location
//! and day, counted in the database. Staff bookings ([`book`],
//! [`clinic_appointment`]) are confirmed when made.
//!
//! A booking is checked against the same rules that offered the time
//! ([`slots::Schedule::check`]) and then written with its blocks on each
//! resource; the database refuses overlapping blocks (see
//! `storage/booking.rs`), so of two requests racing for one time exactly one
//! wins, on any number of app instances.

pub mod demo;
pub mod ics;
pub mod name;
pub mod setup;
pub mod slots;

use crate::app::Services;
use crate::crypto::{Aad, Purpose, random_id, random_token};
use crate::domain::day::{Window, add_days};
use crate::mail::{self, BookingMail};
use crate::storage::booking::{
    AppointmentChange, AppointmentRow, BlockRow, ChangeKind, HoldCaps, NewAppointment, NewHold,
    Setup,
};
pub use crate::storage::booking::{Cap, CapReached};
use crate::storage::triage::{CaseKind, NewTriageCase, Priority};
use crate::storage::{Constraint, StorageError};
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use slots::{Busy, Exception, ExceptionKind, Resource, ResourceKind, Schedule, Slot, Timing};
use std::net::IpAddr;

/// Changes whenever the booking consent wording changes.
pub const CONSENT_VERSION: &str = "booking-consent/en-US/1";

/// How many days of free times one request may ask for.
pub const MAX_RANGE_DAYS: i64 = 31;

/// A booking's manage link stops working this many days after the
/// appointment ends: the link sits in a mailbox for good, and after the
/// visit there is nothing left to change online.
pub const MANAGE_LINK_DAYS: u32 = 7;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("{0} failed its integrity check")]
    Integrity(String),
}

#[derive(Debug, Clone)]
pub struct Location {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub address: String,
    pub phone: String,
    pub map_url: String,
    pub tz: TimeZone,
}

#[derive(Debug, Clone)]
pub struct AppointmentType {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub timing: Timing,
    pub public: bool,
}

/// The active set-up, as the public site and the API offer it.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub locations: Vec<Location>,
    pub types: Vec<AppointmentType>,
    resources: Vec<(Resource, String)>,
    /// (location, resource, weekly hours).
    hours: Vec<(i64, slots::WeeklyHours)>,
}

fn weekday(iso: i64) -> Option<Weekday> {
    Weekday::from_monday_one_offset(i8::try_from(iso).ok()?).ok()
}

fn minutes(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

impl Catalogue {
    pub fn from_setup(setup: Setup) -> Self {
        let locations = setup
            .locations
            .into_iter()
            .filter(|l| l.active)
            .filter_map(|l| {
                let tz = match TimeZone::get(&l.time_zone) {
                    Ok(tz) => tz,
                    Err(_) => {
                        tracing::error!(location = %l.slug, "unknown time zone {:?}: location not offered", l.time_zone);
                        return None;
                    }
                };
                Some(Location {
                    id: l.id,
                    slug: l.slug,
                    name: l.name,
                    address: l.address,
                    phone: l.phone,
                    map_url: l.map_url,
                    tz,
                })
            })
            .collect();
        let resources: Vec<(Resource, String)> = setup
            .resources
            .into_iter()
            .filter(|r| r.active)
            .filter_map(|r| {
                Some((
                    Resource {
                        id: r.id,
                        kind: ResourceKind::from_slug(&r.kind)?,
                    },
                    r.name,
                ))
            })
            .collect();
        let types = setup
            .types
            .into_iter()
            .filter(|t| t.active)
            .map(|t| AppointmentType {
                id: t.id,
                slug: t.slug,
                name: t.name,
                description: t.description,
                timing: Timing {
                    duration: minutes(t.duration_minutes),
                    buffer_before: minutes(t.buffer_before_minutes),
                    buffer_after: minutes(t.buffer_after_minutes),
                    step: minutes(t.step_minutes),
                    min_notice: minutes(t.min_notice_minutes),
                    horizon_days: u16::try_from(t.horizon_days).unwrap_or(0),
                    needs: t
                        .needs
                        .iter()
                        .filter_map(|k| ResourceKind::from_slug(k))
                        .collect(),
                },
                public: t.public_booking,
            })
            .collect();
        let hours = setup
            .hours
            .into_iter()
            .filter_map(|h| {
                Some((
                    h.location_id,
                    slots::WeeklyHours {
                        resource: h.resource_id,
                        weekday: weekday(h.weekday)?,
                        start: u16::try_from(h.start_minute).ok()?,
                        end: u16::try_from(h.end_minute).ok()?,
                    },
                ))
            })
            .collect();
        Catalogue {
            locations,
            types,
            resources,
            hours,
        }
    }

    pub async fn load(s: &Services) -> Result<Self, Error> {
        Ok(Self::from_setup(s.storage.booking_setup().await?))
    }

    pub fn location(&self, slug: &str) -> Option<&Location> {
        self.locations.iter().find(|l| l.slug == slug)
    }

    pub fn location_by_id(&self, id: i64) -> Option<&Location> {
        self.locations.iter().find(|l| l.id == id)
    }

    /// An appointment type visitors may book themselves.
    pub fn public_type(&self, slug: &str) -> Option<&AppointmentType> {
        self.types.iter().find(|t| t.public && t.slug == slug)
    }

    /// A type by its slug, offered to the public or not.
    pub fn type_by_slug(&self, slug: &str) -> Option<&AppointmentType> {
        self.types.iter().find(|t| t.slug == slug)
    }

    pub fn type_by_id(&self, id: i64) -> Option<&AppointmentType> {
        self.types.iter().find(|t| t.id == id)
    }

    pub fn resource_name(&self, id: i64) -> Option<&str> {
        self.resources
            .iter()
            .find(|(r, _)| r.id == id)
            .map(|(_, n)| n.as_str())
    }

    /// The resources that keep hours at `location`.
    fn resources_at(&self, location: i64) -> Vec<Resource> {
        self.resources
            .iter()
            .map(|(r, _)| *r)
            .filter(|r| {
                self.hours
                    .iter()
                    .any(|(l, h)| *l == location && h.resource == r.id)
            })
            .collect()
    }

    /// The resources that keep hours at `location`, with their names.
    pub fn resources_here(&self, location: i64) -> Vec<(i64, String)> {
        self.resources_at(location)
            .into_iter()
            .filter_map(|r| Some((r.id, self.resource_name(r.id)?.to_string())))
            .collect()
    }

    /// Whether `kind` can ever take place at `location`: a resource of each
    /// kind it needs keeps hours there.
    pub fn offered_at(&self, kind: &AppointmentType, location: &Location) -> bool {
        let here = self.resources_at(location.id);
        !kind.timing.needs.is_empty()
            && kind
                .timing
                .needs
                .iter()
                .all(|k| here.iter().any(|r| r.kind == *k))
    }

    /// The locations where `kind` can be booked.
    pub fn locations_for<'a>(&'a self, kind: &'a AppointmentType) -> Vec<&'a Location> {
        self.locations
            .iter()
            .filter(|l| self.offered_at(kind, l))
            .collect()
    }
}

/// Everything that decides free times of one type at one location over a
/// range of dates, read from the database.
struct Rules {
    resources: Vec<Resource>,
    hours: Vec<slots::WeeklyHours>,
    exceptions: Vec<Exception>,
    busy: Vec<Busy>,
}

impl Rules {
    async fn load(
        s: &Services,
        cat: &Catalogue,
        location: &Location,
        from: Date,
        to: Date,
        except: &[i64],
    ) -> Result<Rules, Error> {
        let resources = cat.resources_at(location.id);
        let hours = cat
            .hours
            .iter()
            .filter(|(l, _)| *l == location.id)
            .map(|(_, h)| *h)
            .collect();
        let exceptions = s
            .storage
            .booking_exceptions(location.id, &from.to_string(), &to.to_string())
            .await?
            .into_iter()
            .filter_map(|e| {
                Some(Exception {
                    resource: e.resource_id,
                    date: e.day.parse().ok()?,
                    span: match (e.start_minute, e.end_minute) {
                        (Some(a), Some(b)) => {
                            Some((u16::try_from(a).ok()?, u16::try_from(b).ok()?))
                        }
                        _ => None,
                    },
                    kind: if e.kind == "open" {
                        ExceptionKind::Open
                    } else {
                        ExceptionKind::Closed
                    },
                })
            })
            .collect();
        let window_start = slots::local_instant(&location.tz, from, 0);
        let window_end = slots::local_instant(&location.tz, to, slots::END_OF_DAY);
        let ids: Vec<i64> = resources.iter().map(|r| r.id).collect();
        let busy = s
            .storage
            .busy_blocks(
                &ids,
                crate::time::before(window_start, crate::time::days(1)),
                crate::time::after(window_end, crate::time::days(1)),
                except,
            )
            .await?
            .into_iter()
            .map(|b| Busy {
                resource: b.resource_id,
                from: b.from,
                until: b.until,
            })
            .collect();
        Ok(Rules {
            resources,
            hours,
            exceptions,
            busy,
        })
    }

    fn schedule<'a>(&'a self, tz: &'a TimeZone, timing: &'a Timing) -> Schedule<'a> {
        Schedule {
            tz,
            timing,
            resources: &self.resources,
            hours: &self.hours,
            exceptions: &self.exceptions,
            busy: &self.busy,
        }
    }
}

/// The dates on which `kind` may be booked at `location` at `now`: today,
/// in the location's calendar, to the type's horizon. Every date or time a
/// request names for a booking is checked against this before use.
pub fn bookable_days(kind: &AppointmentType, location: &Location, now: Timestamp) -> Window {
    Window::around(
        crate::time::date_in(now, &location.tz),
        0,
        i64::from(kind.timing.horizon_days),
    )
}

/// The free times of `kind` at `location` starting on `from..=to` (at most
/// [`MAX_RANGE_DAYS`] days are looked at).
pub async fn free_slots(
    s: &Services,
    cat: &Catalogue,
    kind: &AppointmentType,
    location: &Location,
    from: Date,
    to: Date,
) -> Result<Vec<Slot>, Error> {
    let to = to.min(add_days(from, MAX_RANGE_DAYS - 1).unwrap_or(from));
    if to < from {
        return Ok(Vec::new());
    }
    let rules = Rules::load(s, cat, location, from, to, &[]).await?;
    Ok(rules
        .schedule(&location.tz, &kind.timing)
        .slots(from, to, s.clock.now()))
}

/// What a visitor gives when booking; sealed with the appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Details {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub reason: Option<String>,
}

/// Who booked, for the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Web,
    Api,
    Staff,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Web => "web",
            Source::Api => "api",
            Source::Staff => "staff",
        }
    }
}

/// Why a booking was refused.
#[derive(Debug, thiserror::Error)]
pub enum BookError {
    /// The time is not one the rules offer (outside hours, too soon, …).
    #[error("that time is not offered")]
    NotOffered(slots::Unavailable),
    /// The time was free a moment ago and someone else took it: here are the
    /// nearest free times.
    #[error("that time was just taken")]
    Taken { nearest: Vec<Slot> },
    #[error(transparent)]
    Failed(#[from] Error),
}

impl From<StorageError> for BookError {
    fn from(e: StorageError) -> Self {
        BookError::Failed(e.into())
    }
}

/// A booking made: what to show and the manage link's secret.
#[derive(Debug, Clone)]
pub struct Booked {
    pub uid: String,
    pub manage_token: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

fn details_aad(uid: &str) -> Aad {
    Aad::row("appointments", "details", uid)
}

fn seal_details(s: &Services, uid: &str, details: &Details) -> Vec<u8> {
    s.cipher.encrypt(
        &details_aad(uid),
        &serde_json::to_vec(details).expect("details serialize"),
    )
}

// Every lookup value of a hold is a keyed digest under the booking-link
// key, each with its own label, so none can be computed from another or
// from guesses without the key.

/// The stored form of a confirmation link's token.
fn confirm_hash(s: &Services, token: &str) -> String {
    s.cipher
        .digest(Purpose::BookingLink, &[b"confirm-link", token.as_bytes()])
}

/// The manage link's token of the booking confirmed by `confirm_token`.
/// Derived again whenever needed, never stored: the confirmation link,
/// opened a second time, still leads to the booking's own page.
fn manage_token_for(s: &Services, confirm_token: &str) -> String {
    s.cipher.digest(
        Purpose::BookingLink,
        &[b"manage-link-of", confirm_token.as_bytes()],
    )
}

/// The stored form of a manage link's token.
fn manage_hash(s: &Services, token: &str) -> String {
    s.cipher.digest(Purpose::BookingLink, &[token.as_bytes()])
}

/// What a hold's e-mail address is counted by: one address however it is
/// capitalised.
fn holder_email(s: &Services, email: &str) -> String {
    s.cipher.digest(
        Purpose::BookingLink,
        &[b"holder-email", email.trim().to_lowercase().as_bytes()],
    )
}

/// What a hold's client is counted by (IPv6 already reduced to its /64).
fn holder_client(s: &Services, client: IpAddr) -> String {
    s.cipher.digest(
        Purpose::BookingLink,
        &[b"holder-client", client.to_string().as_bytes()],
    )
}

/// The link in the first e-mail, which confirms a held booking.
pub fn confirm_url(s: &Services, token: &str) -> String {
    s.config
        .clinic
        .base_url
        .join(&format!("/book/confirm/{token}"))
}

/// How long a hold waits for its confirmation (`booking.confirm_within`).
pub fn confirm_within(s: &Services) -> SignedDuration {
    SignedDuration::try_from(s.config.booking.confirm_within)
        .unwrap_or(SignedDuration::from_mins(30))
}

fn hold_caps(s: &Services) -> HoldCaps {
    let b = &s.config.booking;
    HoldCaps {
        per_client: i64::from(b.max_open_holds_per_client),
        per_email: i64::from(b.max_open_holds_per_email),
        per_location_per_day: i64::from(b.max_unconfirmed_per_location_per_day),
    }
}

/// The visitor's manage link.
pub fn manage_url(s: &Services, token: &str) -> String {
    s.config
        .clinic
        .base_url
        .join(&format!("/book/manage/{token}"))
}

fn blocks(slot: &Slot, timing: &Timing) -> Vec<BlockRow> {
    let (from, until) = slot.blocked(timing);
    slot.resources
        .iter()
        .map(|&resource_id| BlockRow {
            resource_id,
            from,
            until,
        })
        .collect()
}

/// When a reminder for an appointment at `start` is due, if it is still
/// worth sending: not when the booking is made within the reminder window.
fn reminder_due(s: &Services, start: Timestamp, now: Timestamp) -> Option<Timestamp> {
    let lead = SignedDuration::try_from(s.config.booking.reminder_before).ok()?;
    let due = crate::time::before(start, lead);
    (due > now).then_some(due)
}

/// The staff queue's case for a booking the public made: someone checks
/// it and prepares the first visit. Its contact details are sealed to the
/// case like every other case's.
fn queue_case(s: &Services, details: &Details, now: Timestamp) -> NewTriageCase {
    use crate::assessment::share::{Contact, ContactMethod, ContactTime, contact_aad};
    let uid = random_id();
    let contact = Contact {
        name: details.name.clone(),
        email: Some(details.email.clone()),
        phone: Some(details.phone.clone()),
        contact_method: ContactMethod::Phone,
        contact_time: ContactTime::Any,
        message: details.reason.clone(),
        days: Vec::new(),
    };
    NewTriageCase {
        contact_sealed: s.cipher.encrypt(
            &contact_aad(&uid),
            &serde_json::to_vec(&contact).expect("contact serializes"),
        ),
        uid,
        kind: CaseKind::Booking,
        result_id: None,
        priority: Priority::Routine,
        consent_version: CONSENT_VERSION.into(),
        created_at: now,
    }
}

/// The slot at `start` if the rules offer it now; otherwise why not: taken
/// (it would be free but for other bookings; with the nearest free times),
/// or not offered at all.
async fn offered(
    s: &Services,
    cat: &Catalogue,
    kind: &AppointmentType,
    location: &Location,
    rules: &Rules,
    start: Timestamp,
    now: Timestamp,
) -> Result<Slot, BookError> {
    let schedule = rules.schedule(&location.tz, &kind.timing);
    match schedule.check(start, now) {
        Ok(slot) => Ok(slot),
        Err(why) => {
            let free = Schedule {
                busy: &[],
                ..schedule
            };
            Err(if free.check(start, now).is_ok() {
                BookError::Taken {
                    nearest: nearest(s, cat, kind, location, start).await?,
                }
            } else {
                BookError::NotOffered(why)
            })
        }
    }
}

/// How many times a booking is tried when another one takes a resource it
/// chose at the same moment, before the time is reported taken. With one
/// resource of each kind, the first conflict is final.
const ATTEMPTS: usize = 3;

/// Books `kind` at `location` at `start` for the person in `details`,
/// confirmed at once, with the confirmation (and its invitation) to them
/// and a notice to the clinic, all in one transaction. This is how staff
/// book for someone (on the phone, at the desk); the public's bookings are
/// held until confirmed ([`hold`]).
#[tracing::instrument(skip_all)]
pub async fn book(
    s: &Services,
    cat: &Catalogue,
    kind: &AppointmentType,
    location: &Location,
    start: Timestamp,
    details: &Details,
    source: Source,
) -> Result<Booked, BookError> {
    let date = start.to_zoned_datetime(location.tz.clone()).date();
    for _ in 0..ATTEMPTS {
        let now = s.clock.now();
        let rules = Rules::load(s, cat, location, date, date, &[]).await?;
        let slot = offered(s, cat, kind, location, &rules, start, now).await?;
        let uid = random_id();
        let token = random_token(32);
        let sealed = seal_details(s, &uid, details);
        let view = BookingMail {
            uid: &uid,
            sequence: 0,
            kind,
            location,
            start: slot.start,
            end: slot.end,
            details,
            manage_url: &manage_url(s, &token),
            now,
        };
        let mails = vec![
            mail::seal(&s.cipher, &mail::booking::confirmation(&s.config, &view)),
            mail::seal(
                &s.cipher,
                &mail::booking::clinic_notice(&s.config, &view, mail::booking::Notice::Booked),
            ),
        ];
        let new = NewAppointment {
            uid: uid.clone(),
            type_id: kind.id,
            location_id: location.id,
            starts_at: slot.start,
            ends_at: slot.end,
            source: source.as_str().into(),
            details: sealed,
            consent_version: CONSENT_VERSION.into(),
            manage_hash: manage_hash(s, &token),
            reminder_due_at: reminder_due(s, slot.start, now),
            created_at: now,
            blocks: blocks(&slot, &kind.timing),
            case: (source != Source::Staff).then(|| queue_case(s, details, now)),
            hold: None,
        };
        match s.storage.insert_appointment(new, mails).await {
            Ok(_) => {
                s.mail_wake.notify_one();
                return Ok(Booked {
                    uid,
                    manage_token: token,
                    start: slot.start,
                    end: slot.end,
                });
            }
            // Someone took a resource this slot chose: look again.
            Err(StorageError::Conflict(Constraint::ResourceBusy)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(BookError::Taken {
        nearest: nearest(s, cat, kind, location, start).await?,
    })
}

/// Who asks for a hold: where the request came from, and the client's
/// address (IPv6 reduced to its /64) when known, which the caps count.
#[derive(Debug, Clone, Copy)]
pub struct Holder {
    pub source: Source,
    pub client: Option<IpAddr>,
}

/// Why a time could not be held.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    #[error(transparent)]
    Book(#[from] BookError),
    /// Too many unconfirmed bookings from this client, for this address or
    /// at this location: nothing was held or mailed.
    #[error("too many unconfirmed bookings ({:?})", .0.cap)]
    Capped(CapReached),
}

impl From<Error> for HoldError {
    fn from(e: Error) -> Self {
        HoldError::Book(BookError::Failed(e))
    }
}

/// A time held until the person confirms it.
#[derive(Debug, Clone)]
pub struct Held {
    pub uid: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// When the time is released unless confirmed before.
    pub expires_at: Timestamp,
}

/// Holds `kind` at `location` at `start` for the person in `details` until
/// they confirm it by the link in the e-mail sent to them now (within
/// `booking.confirm_within`). The hold keeps the time from anyone else, like
/// a booking; but there is no queue case, invitation, clinic notice or
/// reminder until it is confirmed ([`confirm`]). Refused, holding and
/// mailing nothing, past a cap on unconfirmed bookings (counted in the
/// same transaction that would write the hold).
#[tracing::instrument(skip_all)]
pub async fn hold(
    s: &Services,
    cat: &Catalogue,
    kind: &AppointmentType,
    location: &Location,
    start: Timestamp,
    details: &Details,
    holder: Holder,
) -> Result<Held, HoldError> {
    let date = start.to_zoned_datetime(location.tz.clone()).date();
    let within = confirm_within(s);
    for _ in 0..ATTEMPTS {
        let now = s.clock.now();
        let rules = Rules::load(s, cat, location, date, date, &[]).await?;
        let slot = offered(s, cat, kind, location, &rules, start, now).await?;
        let uid = random_id();
        let token = random_token(32);
        let expires_at = crate::time::after(now, within);
        let view = BookingMail {
            uid: &uid,
            sequence: 0,
            kind,
            location,
            start: slot.start,
            end: slot.end,
            details,
            manage_url: "",
            now,
        };
        let mail = mail::seal(
            &s.cipher,
            &mail::booking::hold_request(
                &s.config,
                &view,
                &confirm_url(s, &token),
                within.as_mins(),
            ),
        );
        let new = NewAppointment {
            details: seal_details(s, &uid, details),
            uid: uid.clone(),
            type_id: kind.id,
            location_id: location.id,
            starts_at: slot.start,
            ends_at: slot.end,
            source: holder.source.as_str().into(),
            consent_version: CONSENT_VERSION.into(),
            manage_hash: manage_hash(s, &manage_token_for(s, &token)),
            // Set when it is confirmed.
            reminder_due_at: None,
            created_at: now,
            blocks: blocks(&slot, &kind.timing),
            case: None,
            hold: None,
        };
        let hold = NewHold {
            expires_at,
            confirm_hash: confirm_hash(s, &token),
            client: holder.client.map(|c| holder_client(s, c)),
            email: holder_email(s, &details.email),
        };
        match s
            .storage
            .hold_appointment(new, hold, hold_caps(s), vec![mail])
            .await
        {
            Ok(Ok(_)) => {
                s.mail_wake.notify_one();
                return Ok(Held {
                    uid,
                    start: slot.start,
                    end: slot.end,
                    expires_at,
                });
            }
            Ok(Err(cap)) => return Err(HoldError::Capped(cap)),
            Err(StorageError::Conflict(Constraint::ResourceBusy)) => continue,
            Err(e) => return Err(BookError::from(e).into()),
        }
    }
    Err(BookError::Taken {
        nearest: nearest(s, cat, kind, location, start).await?,
    }
    .into())
}

/// What opening a confirmation link came to.
#[derive(Debug)]
pub enum Confirmation {
    /// Confirmed now: the case is in the staff queue, and the confirmation
    /// with its invitation is on its way. The booking's page is reached by
    /// `manage_token`.
    Confirmed { manage_token: String },
    /// Confirmed before (the link opened again); it may have been changed
    /// or cancelled since. Nothing is done again.
    AlreadyConfirmed { manage_token: String },
    /// Not confirmed in time: its time was released.
    Lapsed(Box<Appointment>),
}

/// The booking a confirmation link's token holds, in whatever state.
pub async fn by_confirm_token(s: &Services, token: &str) -> Result<Option<Appointment>, Error> {
    if token.len() > 100 {
        return Ok(None);
    }
    opened(
        s,
        s.storage
            .appointment_by_confirm_hash(&confirm_hash(s, token))
            .await?,
    )
}

/// Confirms the booking held by the confirmation link's `token`: booked,
/// its queue case made, the confirmation with its invitation (and the
/// manage link) sent to the person and a notice to the clinic, its reminder
/// due; all in one transaction, once, however often or wherever the link is
/// opened. `None` for a token that holds nothing.
#[tracing::instrument(skip_all)]
pub async fn confirm(
    s: &Services,
    cat: &Catalogue,
    token: &str,
) -> Result<Option<Confirmation>, Error> {
    let Some(a) = by_confirm_token(s, token).await? else {
        return Ok(None);
    };
    let manage_token = manage_token_for(s, token);
    let now = s.clock.now();
    match a.status() {
        Status::Held if !a.hold_lapsed(now) => {}
        Status::Held | Status::Lapsed => return Ok(Some(Confirmation::Lapsed(Box::new(a)))),
        Status::Booked | Status::Cancelled => {
            return Ok(Some(Confirmation::AlreadyConfirmed { manage_token }));
        }
    }
    let (Some(kind), Some(location)) = (
        cat.type_by_id(a.row.type_id),
        cat.location_by_id(a.row.location_id),
    ) else {
        // No longer offered: it cannot become a booking the clinic keeps.
        return Ok(Some(Confirmation::Lapsed(Box::new(a))));
    };
    let url = manage_url(s, &manage_token);
    let view = BookingMail {
        uid: &a.row.uid,
        sequence: a.row.sequence,
        kind,
        location,
        start: a.row.starts_at,
        end: a.row.ends_at,
        details: &a.details,
        manage_url: &url,
        now,
    };
    let mails = vec![
        mail::seal(&s.cipher, &mail::booking::confirmation(&s.config, &view)),
        mail::seal(
            &s.cipher,
            &mail::booking::clinic_notice(&s.config, &view, mail::booking::Notice::Booked),
        ),
    ];
    let confirmed = s
        .storage
        .confirm_hold(
            a.row.id,
            now,
            reminder_due(s, a.row.starts_at, now),
            queue_case(s, &a.details, now),
            mails,
        )
        .await?;
    if confirmed {
        s.mail_wake.notify_one();
        return Ok(Some(Confirmation::Confirmed { manage_token }));
    }
    // Confirmed at the same moment elsewhere (another tab, another
    // instance), or lapsed: as it stands now.
    Ok(by_confirm_token(s, token).await?.map(|a| {
        if a.status() == Status::Held || a.status() == Status::Lapsed {
            Confirmation::Lapsed(Box::new(a))
        } else {
            Confirmation::AlreadyConfirmed { manage_token }
        }
    }))
}

/// Whether `kind` at `location` may start at `start` now, as a booking
/// would be checked; the times of the appointments in `except` (being
/// moved) do not count. With the slot, or why not.
pub async fn check_time(
    s: &Services,
    cat: &Catalogue,
    kind: &AppointmentType,
    location: &Location,
    start: Timestamp,
    except: &[i64],
) -> Result<Slot, BookError> {
    let date = start.to_zoned_datetime(location.tz.clone()).date();
    let rules = Rules::load(s, cat, location, date, date, except).await?;
    offered(s, cat, kind, location, &rules, start, s.clock.now()).await
}

/// An appointment the clinic books for someone it treats (a TMS course's
/// session): no queue case, no manage link, no mail, no reminder.
pub fn clinic_appointment(
    s: &Services,
    kind: &AppointmentType,
    location: &Location,
    slot: &Slot,
    details: &Details,
    now: Timestamp,
) -> NewAppointment {
    let uid = random_id();
    NewAppointment {
        details: seal_details(s, &uid, details),
        uid,
        type_id: kind.id,
        location_id: location.id,
        starts_at: slot.start,
        ends_at: slot.end,
        source: Source::Staff.as_str().into(),
        consent_version: "treatment".into(),
        // A link nobody holds.
        manage_hash: s
            .cipher
            .digest(Purpose::BookingLink, &[random_token(32).as_bytes()]),
        reminder_due_at: None,
        created_at: now,
        blocks: blocks(slot, &kind.timing),
        case: None,
        hold: None,
    }
}

/// Moving an appointment of `kind` to `slot`, without mail.
pub fn quiet_move(
    kind: &AppointmentType,
    row: &AppointmentRow,
    slot: &Slot,
    now: Timestamp,
) -> AppointmentChange {
    AppointmentChange {
        id: row.id,
        expected_sequence: row.sequence,
        at: now,
        what: ChangeKind::Move {
            starts_at: slot.start,
            ends_at: slot.end,
            blocks: blocks(slot, &kind.timing),
            reminder_due_at: None,
        },
    }
}

/// The free times nearest to `around` (up to a week either side).
pub async fn nearest(
    s: &Services,
    cat: &Catalogue,
    kind: &AppointmentType,
    location: &Location,
    around: Timestamp,
) -> Result<Vec<Slot>, Error> {
    let days = Window::around(around.to_zoned_datetime(location.tz.clone()).date(), 7, 7);
    let rules = Rules::load(s, cat, location, days.first(), days.last(), &[]).await?;
    Ok(rules
        .schedule(&location.tz, &kind.timing)
        .nearest(around, s.clock.now(), 7, 6))
}

/// Where a booking stands. One made on the site or through the API is
/// `Held` until the person confirms it by the e-mailed link, then `Booked`;
/// not confirmed in time it is `Lapsed`, its time released. Staff bookings
/// are `Booked` when made. (The moves between them are the storage's
/// conditional updates: `hold_appointment`, `confirm_hold`, `lapse_holds`,
/// `change_appointment`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Held,
    Booked,
    Cancelled,
    Lapsed,
}

impl Status {
    fn parse(stored: &str) -> Option<Status> {
        Some(match stored {
            "held" => Status::Held,
            "booked" => Status::Booked,
            "cancelled" => Status::Cancelled,
            "lapsed" => Status::Lapsed,
            _ => return None,
        })
    }

    /// Whether the booking keeps its time from everyone else.
    pub fn holds_time(self) -> bool {
        matches!(self, Status::Held | Status::Booked)
    }
}

/// A booking as its manage link shows it.
#[derive(Debug, Clone)]
pub struct Appointment {
    pub row: AppointmentRow,
    pub details: Details,
}

impl Appointment {
    pub fn status(&self) -> Status {
        // The schema allows only these; anything else is treated as over.
        Status::parse(&self.row.status).unwrap_or(Status::Cancelled)
    }

    pub fn is_cancelled(&self) -> bool {
        self.status() == Status::Cancelled
    }

    /// Whether it was held and not confirmed by `now` (lapsed, or expired
    /// and waiting for the job that releases it).
    pub fn hold_lapsed(&self, now: Timestamp) -> bool {
        match self.status() {
            Status::Lapsed => true,
            Status::Held => self.row.hold_expires_at.is_none_or(|until| until <= now),
            Status::Booked | Status::Cancelled => false,
        }
    }

    /// Whether its manage link still works at `now`: until
    /// [`MANAGE_LINK_DAYS`] after the appointment ends.
    pub fn manage_link_works(&self, now: Timestamp) -> bool {
        now <= crate::time::after(self.row.ends_at, crate::time::days(MANAGE_LINK_DAYS))
    }
}

fn open_details(s: &Services, row: &AppointmentRow) -> Result<Details, Error> {
    let fail = || Error::Integrity(format!("appointment {}'s details", row.id));
    let plain = s
        .cipher
        .decrypt(&details_aad(&row.uid), &row.details)
        .map_err(|_| fail())?;
    serde_json::from_slice(&plain).map_err(|_| fail())
}

/// A stored booking with its details opened.
fn opened(s: &Services, row: Option<AppointmentRow>) -> Result<Option<Appointment>, Error> {
    row.map(|row| {
        Ok(Appointment {
            details: open_details(s, &row)?,
            row,
        })
    })
    .transpose()
}

/// A booking by its row id (for a booking's case).
pub async fn by_id(s: &Services, id: i64) -> Result<Option<Appointment>, Error> {
    opened(s, s.storage.appointment_by_id(id).await?)
}

/// A booking by its uid (for staff).
pub async fn by_uid(s: &Services, uid: &str) -> Result<Option<Appointment>, Error> {
    opened(s, s.storage.appointment_by_uid(uid).await?)
}

/// The bookings at `location` starting on the dates `from..=to`, cancelled
/// ones included, in time order, each with the resources it holds.
pub async fn between(
    s: &Services,
    location: &Location,
    from: Date,
    to: Date,
) -> Result<Vec<(Appointment, Vec<i64>)>, Error> {
    let rows = s
        .storage
        .appointments_between(
            location.id,
            slots::local_instant(&location.tz, from, 0),
            slots::local_instant(&location.tz, to, slots::END_OF_DAY),
        )
        .await?;
    rows.into_iter()
        .map(|(row, resources)| {
            Ok((
                Appointment {
                    details: open_details(s, &row)?,
                    row,
                },
                resources,
            ))
        })
        .collect()
}

/// The booking a manage link's token opens: one that was confirmed (a
/// hold has no working manage link until then; see [`manage_token_for`]).
/// Whether the link still works is [`Appointment::manage_link_works`].
pub async fn by_token(s: &Services, token: &str) -> Result<Option<Appointment>, Error> {
    if token.len() > 100 {
        return Ok(None);
    }
    let found = opened(
        s,
        s.storage
            .appointment_by_manage_hash(&manage_hash(s, token))
            .await?,
    )?;
    Ok(found.filter(|a| matches!(a.status(), Status::Booked | Status::Cancelled)))
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The type or location is no longer offered.
    #[error("this appointment can no longer be changed online")]
    NotChangeable,
    /// Changed or cancelled by someone else since it was read.
    #[error("this appointment changed meanwhile")]
    Stale,
    #[error(transparent)]
    Book(#[from] BookError),
}

impl From<Error> for ChangeError {
    fn from(e: Error) -> Self {
        ChangeError::Book(BookError::Failed(e))
    }
}

impl From<StorageError> for ChangeError {
    fn from(e: StorageError) -> Self {
        ChangeError::Book(e.into())
    }
}

/// The parts of the catalogue an appointment refers to.
fn parts<'a>(
    cat: &'a Catalogue,
    a: &Appointment,
) -> Result<(&'a AppointmentType, &'a Location), ChangeError> {
    Ok((
        cat.type_by_id(a.row.type_id)
            .ok_or(ChangeError::NotChangeable)?,
        cat.location_by_id(a.row.location_id)
            .ok_or(ChangeError::NotChangeable)?,
    ))
}

/// Cancels a booking: frees its time at once and sends the cancellation
/// (`METHOD:CANCEL`, same UID) to the person and a notice to the clinic.
///
/// `token` is the manage link's secret when the person uses it; `None`
/// when staff act (the token is not stored, so no link can be sent).
pub async fn cancel(
    s: &Services,
    cat: &Catalogue,
    a: &Appointment,
    token: Option<&str>,
) -> Result<(), ChangeError> {
    let (kind, location) = parts(cat, a)?;
    let now = s.clock.now();
    let view = BookingMail {
        uid: &a.row.uid,
        sequence: a.row.sequence + 1,
        kind,
        location,
        start: a.row.starts_at,
        end: a.row.ends_at,
        details: &a.details,
        manage_url: &token.map(|t| manage_url(s, t)).unwrap_or_default(),
        now,
    };
    let mails = vec![
        mail::seal(&s.cipher, &mail::booking::cancellation(&s.config, &view)),
        mail::seal(
            &s.cipher,
            &mail::booking::clinic_notice(&s.config, &view, mail::booking::Notice::Cancelled),
        ),
    ];
    let change = AppointmentChange {
        id: a.row.id,
        expected_sequence: a.row.sequence,
        at: now,
        what: ChangeKind::Cancel,
    };
    if !s.storage.change_appointment(change, mails).await? {
        return Err(ChangeError::Stale);
    }
    s.mail_wake.notify_one();
    Ok(())
}

/// Moves a booking to `start`, checked like a new booking; the invitation
/// is sent again with a higher SEQUENCE.
pub async fn reschedule(
    s: &Services,
    cat: &Catalogue,
    a: &Appointment,
    token: Option<&str>,
    start: Timestamp,
) -> Result<Timestamp, ChangeError> {
    let (kind, location) = parts(cat, a)?;
    let date = start.to_zoned_datetime(location.tz.clone()).date();
    for _ in 0..ATTEMPTS {
        let now = s.clock.now();
        // Its own current time does not stand in its way.
        let rules = Rules::load(s, cat, location, date, date, &[a.row.id]).await?;
        let slot = offered(s, cat, kind, location, &rules, start, now).await?;
        let view = BookingMail {
            uid: &a.row.uid,
            sequence: a.row.sequence + 1,
            kind,
            location,
            start: slot.start,
            end: slot.end,
            details: &a.details,
            manage_url: &token.map(|t| manage_url(s, t)).unwrap_or_default(),
            now,
        };
        let mails = vec![
            mail::seal(&s.cipher, &mail::booking::rescheduled(&s.config, &view)),
            mail::seal(
                &s.cipher,
                &mail::booking::clinic_notice(&s.config, &view, mail::booking::Notice::Moved),
            ),
        ];
        let change = AppointmentChange {
            id: a.row.id,
            expected_sequence: a.row.sequence,
            at: now,
            what: ChangeKind::Move {
                starts_at: slot.start,
                ends_at: slot.end,
                blocks: blocks(&slot, &kind.timing),
                reminder_due_at: reminder_due(s, slot.start, now),
            },
        };
        match s.storage.change_appointment(change, mails).await {
            Ok(true) => {
                s.mail_wake.notify_one();
                return Ok(slot.start);
            }
            Ok(false) => return Err(ChangeError::Stale),
            Err(StorageError::Conflict(Constraint::ResourceBusy)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(BookError::Taken {
        nearest: nearest(s, cat, kind, location, start).await?,
    }
    .into())
}

/// Queues the reminders due at `now`. Each goes out once, even with several
/// instances running this at the same moment (the claim is a conditional
/// update in the transaction that queues the mail). Returns how many.
#[tracing::instrument(skip_all)]
pub async fn send_reminders(s: &Services, now: Timestamp) -> Result<usize, Error> {
    let due = s.storage.due_reminders(now, 100).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let cat = Catalogue::load(s).await?;
    let mut queued = 0;
    for row in due {
        let (Some(kind), Some(location)) = (
            cat.type_by_id(row.type_id),
            cat.location_by_id(row.location_id),
        ) else {
            continue;
        };
        let details = open_details(s, &row)?;
        // The reminder carries no manage link: the token is not stored, and
        // the confirmation holds it.
        let view = BookingMail {
            uid: &row.uid,
            sequence: row.sequence,
            kind,
            location,
            start: row.starts_at,
            end: row.ends_at,
            details: &details,
            manage_url: "",
            now,
        };
        let mail = mail::seal(&s.cipher, &mail::booking::reminder(&s.config, &view));
        if s.storage
            .queue_reminder(row.id, row.sequence, now, mail)
            .await?
        {
            queued += 1;
        }
    }
    if queued > 0 {
        s.mail_wake.notify_one();
    }
    Ok(queued)
}

/// The person's details as typed (a form or an API request).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RawDetails {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub reason: String,
    pub consent: bool,
}

/// A field of [`RawDetails`] and the message (a Fluent id) for what is
/// wrong with it.
pub type FieldProblem = (&'static str, &'static str);

/// Checks every field at once; all problems are reported together.
pub fn parse_details(raw: &RawDetails) -> Result<Details, Vec<FieldProblem>> {
    use crate::domain::{EmailAddress, PhoneNumber, TextError, multi_line, single_line};
    let mut problems = Vec::new();
    let name = match single_line(&raw.name, 100) {
        Ok(name) if name::has_address(&name) => {
            problems.push(("name", "book-error-name-link"));
            None
        }
        Ok(name) => Some(name),
        Err(e) => {
            problems.push((
                "name",
                match e {
                    TextError::Empty => "book-error-name",
                    TextError::TooLong => "book-error-name-long",
                    TextError::Forbidden => "book-error-characters",
                },
            ));
            None
        }
    };
    let email = EmailAddress::parse(raw.email.trim())
        .map_err(|_| problems.push(("email", "book-error-email")))
        .ok();
    let phone = PhoneNumber::parse(raw.phone.trim())
        .map_err(|_| problems.push(("phone", "book-error-phone")))
        .ok();
    let reason = match multi_line(&raw.reason, 1000) {
        Ok(r) => Some(r),
        Err(TextError::Empty) => None,
        Err(TextError::TooLong) => {
            problems.push(("reason", "book-error-reason"));
            None
        }
        Err(TextError::Forbidden) => {
            problems.push(("reason", "book-error-characters"));
            None
        }
    };
    if !raw.consent {
        problems.push(("consent", "book-error-consent"));
    }
    match (name, email, phone) {
        (Some(name), Some(email), Some(phone)) if problems.is_empty() => Ok(Details {
            name,
            email: email.as_str().to_string(),
            phone: phone.as_str().to_string(),
            reason,
        }),
        _ => Err(problems),
    }
}
