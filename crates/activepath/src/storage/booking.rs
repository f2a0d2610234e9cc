//! Booking: the clinic's set-up (locations, resources, appointment types,
//! hours, exceptions) and appointments with the blocks they hold on each
//! resource. The no-overlap guarantee lives in the schema (migration 0005):
//! an insert or change that would double-book fails with
//! [`Constraint::ResourceBusy`](super::Constraint::ResourceBusy), whatever
//! the caller checked before.
//!
//! A booking made by the public is first a hold (migration 0018): its
//! blocks keep the time from anyone else while the person has not yet
//! confirmed it, and are released when it lapses. The caps on open holds
//! are counted in the transaction that writes a new one, one hold at a time
//! on every instance, so no two requests can both take the last place.

use super::outbox::{self, NewMail};
use super::{Flag, Millis, Result, Storage, get};
use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow, Row};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub address: String,
    pub phone: String,
    pub map_url: String,
    pub time_zone: String,
    pub position: i64,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
    pub duration_minutes: i64,
    pub buffer_before_minutes: i64,
    pub buffer_after_minutes: i64,
    pub step_minutes: i64,
    pub min_notice_minutes: i64,
    pub horizon_days: i64,
    pub public_booking: bool,
    pub position: i64,
    pub active: bool,
    /// Resource kinds, one of each needed.
    pub needs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoursRow {
    /// 0 before it is stored.
    pub id: i64,
    pub resource_id: i64,
    pub location_id: i64,
    /// ISO weekday, 1 = Monday.
    pub weekday: i64,
    pub start_minute: i64,
    pub end_minute: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionRow {
    /// 0 before it is stored.
    pub id: i64,
    pub location_id: i64,
    pub resource_id: Option<i64>,
    /// YYYY-MM-DD.
    pub day: String,
    pub start_minute: Option<i64>,
    pub end_minute: Option<i64>,
    /// 'closed' or 'open'.
    pub kind: String,
    pub note: String,
}

/// The time an appointment holds a resource, buffers included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRow {
    pub resource_id: i64,
    pub from: Timestamp,
    pub until: Timestamp,
}

/// Everything the clinic has set up, active or not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Setup {
    pub locations: Vec<LocationRow>,
    pub resources: Vec<ResourceRow>,
    pub types: Vec<TypeRow>,
    pub hours: Vec<HoursRow>,
}

#[derive(Debug, Clone)]
pub struct NewAppointment {
    pub uid: String,
    pub type_id: i64,
    pub location_id: i64,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub source: String,
    pub details: Vec<u8>,
    pub consent_version: String,
    pub manage_hash: String,
    pub reminder_due_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub blocks: Vec<BlockRow>,
    /// The staff queue's case for it (bookings made by the public).
    pub case: Option<super::triage::NewTriageCase>,
    /// A booking made by the public is held until it is confirmed; `None`
    /// for one confirmed as it is made (staff, TMS series).
    pub hold: Option<NewHold>,
}

/// What holding a time, unconfirmed, adds to a booking.
#[derive(Debug, Clone)]
pub struct NewHold {
    /// When the time is released unless confirmed before.
    pub expires_at: Timestamp,
    /// Keyed digest of the confirmation link's token.
    pub confirm_hash: String,
    /// Keyed digest of the client's address, when it is known.
    pub client: Option<String>,
    /// Keyed digest of the e-mail address given.
    pub email: String,
}

/// The limits a new hold is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldCaps {
    /// Open holds per client address.
    pub per_client: i64,
    /// Open holds per e-mail address.
    pub per_email: i64,
    /// Holds made at one location in the last 24 hours and not confirmed.
    pub per_location_per_day: i64,
}

/// Which limit refused a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    Client,
    Email,
    Location,
}

/// A hold refused by a cap, and when the first of the holds that fill it
/// stops counting (when trying again can succeed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapReached {
    pub cap: Cap,
    pub until: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppointmentRow {
    pub id: i64,
    pub uid: String,
    pub type_id: i64,
    pub location_id: i64,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    /// 'held', 'booked', 'cancelled' or 'lapsed'.
    pub status: String,
    pub source: String,
    pub details: Vec<u8>,
    pub consent_version: String,
    pub sequence: i64,
    pub reminder_due_at: Option<Timestamp>,
    pub reminder_sent_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub cancelled_at: Option<Timestamp>,
    /// Until when a public booking is (or was) held unconfirmed.
    pub hold_expires_at: Option<Timestamp>,
    pub confirmed_at: Option<Timestamp>,
}

pub(super) const APPOINTMENT_COLUMNS: &str = "id, uid, type_id, location_id, starts_at, ends_at, status, \
     source, details, consent_version, sequence, reminder_due_at, reminder_sent_at, created_at, \
     cancelled_at, hold_expires_at, confirmed_at";

impl<'r> FromRow<'r, AnyRow> for AppointmentRow {
    fn from_row(row: &'r AnyRow) -> sqlx::Result<Self> {
        Ok(AppointmentRow {
            id: row.try_get("id")?,
            uid: row.try_get("uid")?,
            type_id: row.try_get("type_id")?,
            location_id: row.try_get("location_id")?,
            starts_at: get::<Millis>(row, "starts_at")?.0,
            ends_at: get::<Millis>(row, "ends_at")?.0,
            status: row.try_get("status")?,
            source: row.try_get("source")?,
            details: get(row, "details")?,
            consent_version: row.try_get("consent_version")?,
            sequence: row.try_get("sequence")?,
            reminder_due_at: get::<Option<Millis>>(row, "reminder_due_at")?.map(|m| m.0),
            reminder_sent_at: get::<Option<Millis>>(row, "reminder_sent_at")?.map(|m| m.0),
            created_at: get::<Millis>(row, "created_at")?.0,
            cancelled_at: get::<Option<Millis>>(row, "cancelled_at")?.map(|m| m.0),
            hold_expires_at: get::<Option<Millis>>(row, "hold_expires_at")?.map(|m| m.0),
            confirmed_at: get::<Option<Millis>>(row, "confirmed_at")?.map(|m| m.0),
        })
    }
}

/// A change to an appointment, applied only if nobody changed it since it
/// was read (its `sequence` is still `expected_sequence`).
#[derive(Debug, Clone)]
pub struct AppointmentChange {
    pub id: i64,
    pub expected_sequence: i64,
    pub at: Timestamp,
    pub what: ChangeKind,
}

#[derive(Debug, Clone)]
pub enum ChangeKind {
    Cancel,
    Move {
        starts_at: Timestamp,
        ends_at: Timestamp,
        blocks: Vec<BlockRow>,
        reminder_due_at: Option<Timestamp>,
    },
}

/// One change to the clinic's booking set-up.
#[derive(Debug, Clone)]
pub enum SetupChange {
    Location(LocationRow),
    Resource(ResourceRow),
    Type(TypeRow),
    Hours(HoursRow),
    Exception(ExceptionRow),
    RemoveHours(i64),
    RemoveException(i64),
}

/// The demo clinic's set-up, written once into an empty database.
#[derive(Debug, Clone, Default)]
pub struct SeedSetup {
    pub locations: Vec<LocationRow>,
    pub resources: Vec<ResourceRow>,
    pub types: Vec<TypeRow>,
    /// Rows whose ids are positions in the vectors above.
    pub hours: Vec<HoursRow>,
}

/// Cancels or moves an appointment still at `expected_sequence` and
/// releases its blocks (the caller inserts a move's new ones), inside a
/// transaction. `Ok(false)`: it changed since it was read.
pub(super) async fn update_appointment(
    conn: &mut AnyConnection,
    id: i64,
    expected_sequence: i64,
    at: Timestamp,
    what: &ChangeKind,
) -> Result<bool> {
    let updated = match what {
        ChangeKind::Cancel => {
            sqlx::query(
                "UPDATE appointments SET status = 'cancelled', cancelled_at = $1, \
                 updated_at = $1, sequence = sequence + 1 \
                 WHERE id = $2 AND sequence = $3 AND status = 'booked'",
            )
            .bind(Millis(at))
            .bind(id)
            .bind(expected_sequence)
            .execute(&mut *conn)
            .await?
        }
        ChangeKind::Move {
            starts_at,
            ends_at,
            reminder_due_at,
            ..
        } => {
            sqlx::query(
                "UPDATE appointments SET starts_at = $1, ends_at = $2, \
                 reminder_due_at = $3, reminder_sent_at = NULL, updated_at = $4, \
                 sequence = sequence + 1 \
                 WHERE id = $5 AND sequence = $6 AND status = 'booked'",
            )
            .bind(Millis(*starts_at))
            .bind(Millis(*ends_at))
            .bind(reminder_due_at.map(Millis))
            .bind(Millis(at))
            .bind(id)
            .bind(expected_sequence)
            .execute(&mut *conn)
            .await?
        }
    };
    if updated.rows_affected() != 1 {
        return Ok(false);
    }
    // The old blocks are released first, so a move may overlap
    // its own former time.
    sqlx::query("DELETE FROM appointment_blocks WHERE appointment_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

/// Inserts an appointment with its blocks (and its queue case), inside a
/// transaction: held when it comes with a hold, else booked (confirmed) at
/// once. `Conflict(ResourceBusy)` when a block would overlap another.
pub(super) async fn insert_appointment_row(
    conn: &mut AnyConnection,
    new: NewAppointment,
) -> Result<i64> {
    let hold = new.hold.as_ref();
    let id: i64 = sqlx::query(
        "INSERT INTO appointments (uid, type_id, location_id, starts_at, ends_at, status, \
         source, details, consent_version, manage_hash, reminder_due_at, created_at, \
         updated_at, confirm_hash, hold_expires_at, confirmed_at, holder_client, holder_email) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16, $17) \
         RETURNING id",
    )
    .bind(new.uid)
    .bind(new.type_id)
    .bind(new.location_id)
    .bind(Millis(new.starts_at))
    .bind(Millis(new.ends_at))
    .bind(if hold.is_some() { "held" } else { "booked" })
    .bind(new.source)
    .bind(new.details)
    .bind(new.consent_version)
    .bind(new.manage_hash)
    .bind(new.reminder_due_at.map(Millis))
    .bind(Millis(new.created_at))
    .bind(hold.map(|h| h.confirm_hash.clone()))
    .bind(hold.map(|h| Millis(h.expires_at)))
    .bind(hold.is_none().then_some(Millis(new.created_at)))
    .bind(hold.and_then(|h| h.client.clone()))
    .bind(hold.map(|h| h.email.clone()))
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")?;
    insert_blocks(conn, id, &new.blocks).await?;
    if let Some(case) = new.case {
        super::triage::insert_case(conn, case, Some(id)).await?;
    }
    Ok(id)
}

/// Taken on PostgreSQL by every new hold, so that holds are counted
/// against their caps one at a time across instances (SQLite has one
/// writer). Public bookings are few; waiting on each other costs nothing.
const HOLD_LOCK: i64 = 0x686f_6c64; // "hold" in ASCII

/// Whether the holds `sql` counts for `key` (`$1`) from `since` (`$2`)
/// reach `cap`: then the instant the first of them began or ends (as `sql`
/// says), else `None`.
async fn cap_reached(
    conn: &mut AnyConnection,
    sql: &'static str,
    key: Key<'_>,
    since: Timestamp,
    cap: i64,
) -> Result<Option<Timestamp>> {
    let query = sqlx::query(sqlx::AssertSqlSafe(sql));
    let query = match key {
        Key::Text(k) => query.bind(k.to_string()),
        Key::Id(id) => query.bind(id),
    };
    let row = query.bind(Millis(since)).fetch_one(&mut *conn).await?;
    let n: i64 = row.try_get("n")?;
    let first = get::<Option<Millis>>(&row, "first")?.map(|m| m.0);
    Ok(first.filter(|_| n >= cap))
}

/// What a cap counts by.
#[derive(Clone, Copy)]
enum Key<'a> {
    Text(&'a str),
    Id(i64),
}

/// Open holds of a client: they stop counting when they expire.
const OPEN_BY_CLIENT: &str = "SELECT COUNT(*) AS n, MIN(hold_expires_at) AS first FROM appointments \
     WHERE holder_client = $1 AND status = 'held' AND hold_expires_at > $2";
/// Open holds of an e-mail address.
const OPEN_BY_EMAIL: &str = "SELECT COUNT(*) AS n, MIN(hold_expires_at) AS first FROM appointments \
     WHERE holder_email = $1 AND status = 'held' AND hold_expires_at > $2";
/// Holds made at a location in the last 24 hours (`$2` is a day ago) and
/// not confirmed: each stops counting a day after it was made.
const UNCONFIRMED_AT_LOCATION: &str = "SELECT COUNT(*) AS n, MIN(created_at) AS first FROM appointments \
     WHERE location_id = $1 AND status IN ('held', 'lapsed') AND created_at > $2";

pub(super) async fn insert_blocks(
    conn: &mut AnyConnection,
    id: i64,
    blocks: &[BlockRow],
) -> Result<()> {
    for b in blocks {
        sqlx::query(
            "INSERT INTO appointment_blocks (appointment_id, resource_id, blocked_from, blocked_until) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(b.resource_id)
        .bind(Millis(b.from))
        .bind(Millis(b.until))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn exception(r: &AnyRow) -> sqlx::Result<ExceptionRow> {
    Ok(ExceptionRow {
        id: r.try_get("id")?,
        location_id: r.try_get("location_id")?,
        resource_id: r.try_get("resource_id")?,
        day: r.try_get("day")?,
        start_minute: r.try_get("start_minute")?,
        end_minute: r.try_get("end_minute")?,
        kind: r.try_get("kind")?,
        note: r.try_get("note")?,
    })
}

async fn insert_location(conn: &mut AnyConnection, l: &LocationRow) -> Result<i64> {
    Ok(sqlx::query(
        "INSERT INTO booking_locations (slug, name, address, phone, map_url, time_zone, \
         position, active) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(l.slug.clone())
    .bind(l.name.clone())
    .bind(l.address.clone())
    .bind(l.phone.clone())
    .bind(l.map_url.clone())
    .bind(l.time_zone.clone())
    .bind(l.position)
    .bind(Flag(l.active))
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")?)
}

async fn insert_resource(conn: &mut AnyConnection, r: &ResourceRow) -> Result<i64> {
    Ok(sqlx::query(
        "INSERT INTO booking_resources (slug, name, kind, active) VALUES ($1, $2, $3, $4) \
         RETURNING id",
    )
    .bind(r.slug.clone())
    .bind(r.name.clone())
    .bind(r.kind.clone())
    .bind(Flag(r.active))
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")?)
}

async fn insert_needs(conn: &mut AnyConnection, type_id: i64, needs: &[String]) -> Result<()> {
    for kind in needs {
        sqlx::query("INSERT INTO booking_type_needs (type_id, kind) VALUES ($1, $2)")
            .bind(type_id)
            .bind(kind.clone())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn insert_type(conn: &mut AnyConnection, t: &TypeRow) -> Result<i64> {
    let id: i64 = sqlx::query(
        "INSERT INTO booking_types (slug, name, description, duration_minutes, \
         buffer_before_minutes, buffer_after_minutes, step_minutes, min_notice_minutes, \
         horizon_days, public_booking, position, active) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(t.slug.clone())
    .bind(t.name.clone())
    .bind(t.description.clone())
    .bind(t.duration_minutes)
    .bind(t.buffer_before_minutes)
    .bind(t.buffer_after_minutes)
    .bind(t.step_minutes)
    .bind(t.min_notice_minutes)
    .bind(t.horizon_days)
    .bind(Flag(t.public_booking))
    .bind(t.position)
    .bind(Flag(t.active))
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")?;
    insert_needs(conn, id, &t.needs).await?;
    Ok(id)
}

async fn insert_hours(conn: &mut AnyConnection, h: &HoursRow) -> Result<i64> {
    Ok(sqlx::query(
        "INSERT INTO booking_hours (resource_id, location_id, weekday, start_minute, end_minute) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(h.resource_id)
    .bind(h.location_id)
    .bind(h.weekday)
    .bind(h.start_minute)
    .bind(h.end_minute)
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")?)
}

fn location(r: &AnyRow) -> sqlx::Result<LocationRow> {
    Ok(LocationRow {
        id: r.try_get("id")?,
        slug: r.try_get("slug")?,
        name: r.try_get("name")?,
        address: r.try_get("address")?,
        phone: r.try_get("phone")?,
        map_url: r.try_get("map_url")?,
        time_zone: r.try_get("time_zone")?,
        position: r.try_get("position")?,
        active: get::<Flag>(r, "active")?.0,
    })
}

impl Storage {
    /// The clinic's whole booking set-up. Small (tens of rows), read per
    /// request; nothing is cached, so every instance sees a change at once.
    pub async fn booking_setup(&self) -> Result<Setup> {
        let mut conn = self.pool().acquire().await?;
        let locations = sqlx::query(
            "SELECT id, slug, name, address, phone, map_url, time_zone, position, active \
             FROM booking_locations ORDER BY position, id",
        )
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(location)
        .collect::<sqlx::Result<_>>()?;
        let resources = sqlx::query(
            "SELECT id, slug, name, kind, active FROM booking_resources ORDER BY kind, name, id",
        )
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(ResourceRow {
                id: r.try_get("id")?,
                slug: r.try_get("slug")?,
                name: r.try_get("name")?,
                kind: r.try_get("kind")?,
                active: get::<Flag>(r, "active")?.0,
            })
        })
        .collect::<sqlx::Result<_>>()?;
        let needs: Vec<(i64, String)> =
            sqlx::query("SELECT type_id, kind FROM booking_type_needs ORDER BY type_id, kind")
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| Ok((r.try_get("type_id")?, r.try_get("kind")?)))
                .collect::<sqlx::Result<_>>()?;
        let types = sqlx::query(
            "SELECT id, slug, name, description, duration_minutes, buffer_before_minutes, \
             buffer_after_minutes, step_minutes, min_notice_minutes, horizon_days, \
             public_booking, position, active FROM booking_types ORDER BY position, id",
        )
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            let id: i64 = r.try_get("id")?;
            Ok(TypeRow {
                id,
                slug: r.try_get("slug")?,
                name: r.try_get("name")?,
                description: r.try_get("description")?,
                duration_minutes: r.try_get("duration_minutes")?,
                buffer_before_minutes: r.try_get("buffer_before_minutes")?,
                buffer_after_minutes: r.try_get("buffer_after_minutes")?,
                step_minutes: r.try_get("step_minutes")?,
                min_notice_minutes: r.try_get("min_notice_minutes")?,
                horizon_days: r.try_get("horizon_days")?,
                public_booking: get::<Flag>(r, "public_booking")?.0,
                position: r.try_get("position")?,
                active: get::<Flag>(r, "active")?.0,
                needs: needs
                    .iter()
                    .filter(|(t, _)| *t == id)
                    .map(|(_, k)| k.clone())
                    .collect(),
            })
        })
        .collect::<sqlx::Result<_>>()?;
        let hours = sqlx::query(
            "SELECT id, resource_id, location_id, weekday, start_minute, end_minute FROM booking_hours \
             ORDER BY location_id, resource_id, weekday, start_minute",
        )
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok(HoursRow {
                id: r.try_get("id")?,
                resource_id: r.try_get("resource_id")?,
                location_id: r.try_get("location_id")?,
                weekday: r.try_get("weekday")?,
                start_minute: r.try_get("start_minute")?,
                end_minute: r.try_get("end_minute")?,
            })
        })
        .collect::<sqlx::Result<_>>()?;
        Ok(Setup {
            locations,
            resources,
            types,
            hours,
        })
    }

    /// The exceptions at `location_id` on the days `from..=to` (YYYY-MM-DD).
    pub async fn booking_exceptions(
        &self,
        location_id: i64,
        from: &str,
        to: &str,
    ) -> Result<Vec<ExceptionRow>> {
        Ok(sqlx::query(
            "SELECT id, location_id, resource_id, day, start_minute, end_minute, kind, note \
             FROM booking_exceptions WHERE location_id = $1 AND day >= $2 AND day <= $3 \
             ORDER BY day, id",
        )
        .bind(location_id)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(exception)
        .collect::<sqlx::Result<_>>()?)
    }

    /// The active blocks on `resources` that overlap `from..until`. No block
    /// is longer than a day (an appointment of at most 12 hours and buffers
    /// of at most 4 hours each), which bounds the index range read.
    pub async fn busy_blocks(
        &self,
        resources: &[i64],
        from: Timestamp,
        until: Timestamp,
        except: &[i64],
    ) -> Result<Vec<BlockRow>> {
        if resources.is_empty() {
            return Ok(Vec::new());
        }
        let list = super::params(4, resources.len());
        let skipped = if except.is_empty() {
            String::new()
        } else {
            format!(
                "AND appointment_id NOT IN ({}) ",
                super::params(4 + resources.len(), except.len())
            )
        };
        let sql = format!(
            "SELECT resource_id, blocked_from, blocked_until FROM appointment_blocks \
             WHERE active = 1 AND blocked_from >= $1 AND blocked_from < $2 AND blocked_until > $3 \
             {skipped}AND resource_id IN ({list}) ORDER BY blocked_from"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(Millis(crate::time::before(from, crate::time::days(1))))
            .bind(Millis(until))
            .bind(Millis(from));
        for r in resources.iter().chain(except) {
            query = query.bind(*r);
        }
        Ok(query
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(BlockRow {
                    resource_id: r.try_get("resource_id")?,
                    from: get::<Millis>(r, "blocked_from")?.0,
                    until: get::<Millis>(r, "blocked_until")?.0,
                })
            })
            .collect::<sqlx::Result<_>>()?)
    }

    /// Books: the appointment, its blocks and its mail in one transaction.
    /// Fails with `Conflict(ResourceBusy)`, writing nothing, when a block
    /// would overlap another.
    #[tracing::instrument(skip_all)]
    pub async fn insert_appointment(&self, new: NewAppointment, mail: Vec<NewMail>) -> Result<i64> {
        self.write(move |conn| {
            Box::pin(async move {
                let at = new.created_at;
                let id = insert_appointment_row(conn, new).await?;
                for m in mail {
                    outbox::queue(conn, m, at).await?;
                }
                Ok(id)
            })
        })
        .await
    }

    /// Holds a time: the appointment `new` with `hold` (status 'held'),
    /// its blocks and its mail in one transaction, after counting the caps
    /// in that same transaction. `Ok(Err(_))`, writing nothing, when a cap
    /// is reached; `Conflict(ResourceBusy)` when a block would overlap
    /// another.
    #[tracing::instrument(skip_all)]
    pub async fn hold_appointment(
        &self,
        new: NewAppointment,
        hold: NewHold,
        caps: HoldCaps,
        mail: Vec<NewMail>,
    ) -> Result<Result<i64, CapReached>> {
        let backend = self.backend();
        self.write(move |conn| {
            Box::pin(async move {
                if backend == super::Backend::Postgres {
                    sqlx::query("SELECT pg_advisory_xact_lock($1)")
                        .bind(HOLD_LOCK)
                        .execute(&mut *conn)
                        .await?;
                }
                let now = new.created_at;
                let day_ago = crate::time::before(now, crate::time::days(1));
                let mut checks = vec![
                    (
                        Cap::Email,
                        OPEN_BY_EMAIL,
                        Key::Text(&hold.email),
                        now,
                        caps.per_email,
                    ),
                    (
                        Cap::Location,
                        UNCONFIRMED_AT_LOCATION,
                        Key::Id(new.location_id),
                        day_ago,
                        caps.per_location_per_day,
                    ),
                ];
                if let Some(client) = &hold.client {
                    checks.insert(
                        0,
                        (
                            Cap::Client,
                            OPEN_BY_CLIENT,
                            Key::Text(client),
                            now,
                            caps.per_client,
                        ),
                    );
                }
                for (cap, sql, key, since, limit) in checks {
                    if let Some(first) = cap_reached(conn, sql, key, since, limit).await? {
                        let until = match cap {
                            Cap::Location => crate::time::after(first, crate::time::days(1)),
                            Cap::Client | Cap::Email => first,
                        };
                        return Ok(Err(CapReached { cap, until }));
                    }
                }
                let new = NewAppointment {
                    hold: Some(hold),
                    ..new
                };
                let id = insert_appointment_row(conn, new).await?;
                for m in mail {
                    outbox::queue(conn, m, now).await?;
                }
                Ok(Ok(id))
            })
        })
        .await
    }

    /// Confirms the hold `id` at `now`, with its queue case and mail, in
    /// one transaction: booked, its reminder due at `reminder_due_at`, its
    /// holder's digests forgotten. False, changing nothing, when it is not
    /// held any more or expired by `now`.
    #[tracing::instrument(skip_all, fields(appointment = id))]
    pub async fn confirm_hold(
        &self,
        id: i64,
        now: Timestamp,
        reminder_due_at: Option<Timestamp>,
        case: super::triage::NewTriageCase,
        mail: Vec<NewMail>,
    ) -> Result<bool> {
        self.write(move |conn| {
            Box::pin(async move {
                let confirmed = sqlx::query(
                    "UPDATE appointments SET status = 'booked', confirmed_at = $1, updated_at = $1, \
                     reminder_due_at = $2, holder_client = NULL, holder_email = NULL \
                     WHERE id = $3 AND status = 'held' AND hold_expires_at > $1",
                )
                .bind(Millis(now))
                .bind(reminder_due_at.map(Millis))
                .bind(id)
                .execute(&mut *conn)
                .await?;
                if confirmed.rows_affected() != 1 {
                    return Ok(false);
                }
                super::triage::insert_case(conn, case, Some(id)).await?;
                for m in mail {
                    outbox::queue(conn, m, now).await?;
                }
                Ok(true)
            })
        })
        .await
    }

    /// Lapses every hold not confirmed by `now`: its time is released (its
    /// blocks deleted) and its holder's digests forgotten. Returns how many.
    /// Reads first, so that a turn with nothing to do writes nothing.
    #[tracing::instrument(skip_all)]
    pub async fn lapse_holds(&self, now: Timestamp) -> Result<u64> {
        let due: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM appointments WHERE status = 'held' AND hold_expires_at <= $1 LIMIT 1",
        )
        .bind(Millis(now))
        .fetch_optional(self.pool())
        .await?;
        if due.is_none() {
            return Ok(0);
        }
        self.write(move |conn| {
            Box::pin(async move {
                let lapsed = sqlx::query(
                    "UPDATE appointments SET status = 'lapsed', updated_at = $1, \
                     holder_client = NULL, holder_email = NULL \
                     WHERE status = 'held' AND hold_expires_at <= $1",
                )
                .bind(Millis(now))
                .execute(&mut *conn)
                .await?
                .rows_affected();
                sqlx::query(
                    "DELETE FROM appointment_blocks WHERE appointment_id IN \
                     (SELECT id FROM appointments WHERE status = 'lapsed')",
                )
                .execute(&mut *conn)
                .await?;
                Ok(lapsed)
            })
        })
        .await
    }

    /// Deletes holds that lapsed before `before`, details and all: nobody
    /// confirmed them, and they count against the location's daily cap for
    /// a day only.
    pub async fn purge_lapsed_holds(&self, before: Timestamp) -> Result<u64> {
        self.write_statement(move |conn| {
            Box::pin(async move {
                Ok(sqlx::query(
                    "DELETE FROM appointments WHERE status = 'lapsed' AND updated_at < $1",
                )
                .bind(Millis(before))
                .execute(&mut *conn)
                .await?
                .rows_affected())
            })
        })
        .await
    }

    pub async fn appointment_by_confirm_hash(&self, hash: &str) -> Result<Option<AppointmentRow>> {
        self.appointment_where("confirm_hash", hash).await
    }

    /// The appointment whose `column` (a unique text column) is `value`.
    async fn appointment_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<AppointmentRow>> {
        let sql = format!("SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE {column} = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(value.to_string())
            .fetch_optional(self.pool())
            .await?)
    }

    pub async fn appointment_by_manage_hash(&self, hash: &str) -> Result<Option<AppointmentRow>> {
        self.appointment_where("manage_hash", hash).await
    }

    pub async fn appointment_by_uid(&self, uid: &str) -> Result<Option<AppointmentRow>> {
        self.appointment_where("uid", uid).await
    }

    pub async fn appointment_by_id(&self, id: i64) -> Result<Option<AppointmentRow>> {
        let sql = format!("SELECT {APPOINTMENT_COLUMNS} FROM appointments WHERE id = $1");
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.pool())
            .await?)
    }

    /// The resources an appointment holds (none once cancelled).
    pub async fn appointment_resources(&self, id: i64) -> Result<Vec<i64>> {
        Ok(sqlx::query(
            "SELECT resource_id FROM appointment_blocks WHERE appointment_id = $1 ORDER BY resource_id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| r.try_get("resource_id"))
        .collect::<sqlx::Result<_>>()?)
    }

    /// The appointments at `location_id` starting in `from..until`, in time
    /// order, each with the resources it holds (none once cancelled).
    /// Lapsed holds were never bookings and are left out.
    pub async fn appointments_between(
        &self,
        location_id: i64,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<(AppointmentRow, Vec<i64>)>> {
        let sql = format!(
            "SELECT {APPOINTMENT_COLUMNS} FROM appointments \
             WHERE location_id = $1 AND starts_at >= $2 AND starts_at < $3 \
             AND status <> 'lapsed' ORDER BY starts_at, id LIMIT 2000"
        );
        let rows: Vec<AppointmentRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(location_id)
            .bind(Millis(from))
            .bind(Millis(until))
            .fetch_all(self.pool())
            .await?;
        let blocks: Vec<(i64, i64)> = sqlx::query(
            "SELECT b.appointment_id, b.resource_id FROM appointment_blocks b \
             JOIN appointments a ON a.id = b.appointment_id \
             WHERE a.location_id = $1 AND a.starts_at >= $2 AND a.starts_at < $3 \
             ORDER BY b.appointment_id, b.resource_id",
        )
        .bind(location_id)
        .bind(Millis(from))
        .bind(Millis(until))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("appointment_id")?, r.try_get("resource_id")?)))
        .collect::<sqlx::Result<_>>()?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let held = blocks
                    .iter()
                    .filter(|(a, _)| *a == row.id)
                    .map(|(_, r)| *r)
                    .collect();
                (row, held)
            })
            .collect())
    }

    /// Cancels or moves an appointment with its mail, in one transaction.
    /// Returns false, changing nothing, when the appointment was changed
    /// (or cancelled) since it was read. A move that would double-book fails
    /// with `Conflict(ResourceBusy)`.
    #[tracing::instrument(skip_all, fields(appointment = change.id))]
    pub async fn change_appointment(
        &self,
        change: AppointmentChange,
        mail: Vec<NewMail>,
    ) -> Result<bool> {
        self.write(move |conn| {
            Box::pin(async move {
                let AppointmentChange {
                    id,
                    expected_sequence,
                    at,
                    what,
                } = change;
                if !update_appointment(conn, id, expected_sequence, at, &what).await? {
                    return Ok(false);
                }
                if let ChangeKind::Move { blocks, .. } = &what {
                    insert_blocks(conn, id, blocks).await?;
                }
                for m in mail {
                    outbox::queue(conn, m, at).await?;
                }
                Ok(true)
            })
        })
        .await
    }

    /// Booked appointments whose reminder is due at `now`, oldest first.
    pub async fn due_reminders(&self, now: Timestamp, limit: i64) -> Result<Vec<AppointmentRow>> {
        let sql = format!(
            "SELECT {APPOINTMENT_COLUMNS} FROM appointments \
             WHERE reminder_due_at <= $1 AND reminder_sent_at IS NULL AND status = 'booked' \
             ORDER BY reminder_due_at, id LIMIT $2"
        );
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(Millis(now))
            .bind(limit)
            .fetch_all(self.pool())
            .await?)
    }

    /// Marks the reminder of appointment `id` (at `sequence`) as sent and
    /// queues it, unless another worker did first or the appointment changed:
    /// then false, and nothing is queued. Each reminder goes out once.
    pub async fn queue_reminder(
        &self,
        id: i64,
        sequence: i64,
        now: Timestamp,
        mail: NewMail,
    ) -> Result<bool> {
        self.write(move |conn| {
            Box::pin(async move {
                let claimed = sqlx::query(
                    "UPDATE appointments SET reminder_sent_at = $1 WHERE id = $2 AND sequence = $3 \
                     AND reminder_sent_at IS NULL AND status = 'booked'",
                )
                .bind(Millis(now))
                .bind(id)
                .bind(sequence)
                .execute(&mut *conn)
                .await?;
                if claimed.rows_affected() != 1 {
                    return Ok(false);
                }
                outbox::queue(conn, mail, now).await?;
                Ok(true)
            })
        })
        .await
    }

    /// Adds a location, a resource or an appointment type (with what it
    /// needs), or changes one (`id` > 0). A slug used twice is refused with
    /// `Conflict(Other)`.
    pub async fn save_setup(&self, change: SetupChange) -> Result<i64> {
        self.write(move |conn| {
            Box::pin(async move {
                match change {
                    SetupChange::Location(l) if l.id == 0 => insert_location(conn, &l).await,
                    SetupChange::Location(l) => {
                        sqlx::query(
                            "UPDATE booking_locations SET name = $1, address = $2, phone = $3, \
                             map_url = $4, time_zone = $5, active = $6 WHERE id = $7",
                        )
                        .bind(l.name)
                        .bind(l.address)
                        .bind(l.phone)
                        .bind(l.map_url)
                        .bind(l.time_zone)
                        .bind(Flag(l.active))
                        .bind(l.id)
                        .execute(&mut *conn)
                        .await?;
                        Ok(l.id)
                    }
                    SetupChange::Resource(r) if r.id == 0 => insert_resource(conn, &r).await,
                    SetupChange::Resource(r) => {
                        sqlx::query("UPDATE booking_resources SET name = $1, active = $2 WHERE id = $3")
                            .bind(r.name)
                            .bind(Flag(r.active))
                            .bind(r.id)
                            .execute(&mut *conn)
                            .await?;
                        Ok(r.id)
                    }
                    SetupChange::Type(t) if t.id == 0 => insert_type(conn, &t).await,
                    SetupChange::Type(t) => {
                        sqlx::query(
                            "UPDATE booking_types SET name = $1, description = $2, \
                             duration_minutes = $3, buffer_before_minutes = $4, \
                             buffer_after_minutes = $5, step_minutes = $6, min_notice_minutes = $7, \
                             horizon_days = $8, public_booking = $9, active = $10 WHERE id = $11",
                        )
                        .bind(t.name.clone())
                        .bind(t.description.clone())
                        .bind(t.duration_minutes)
                        .bind(t.buffer_before_minutes)
                        .bind(t.buffer_after_minutes)
                        .bind(t.step_minutes)
                        .bind(t.min_notice_minutes)
                        .bind(t.horizon_days)
                        .bind(Flag(t.public_booking))
                        .bind(Flag(t.active))
                        .bind(t.id)
                        .execute(&mut *conn)
                        .await?;
                        sqlx::query("DELETE FROM booking_type_needs WHERE type_id = $1")
                            .bind(t.id)
                            .execute(&mut *conn)
                            .await?;
                        insert_needs(conn, t.id, &t.needs).await?;
                        Ok(t.id)
                    }
                    SetupChange::Hours(h) => insert_hours(conn, &h).await,
                    SetupChange::Exception(e) => Ok(sqlx::query(
                        "INSERT INTO booking_exceptions (location_id, resource_id, day, start_minute, \
                         end_minute, kind, note) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    )
                    .bind(e.location_id)
                    .bind(e.resource_id)
                    .bind(e.day)
                    .bind(e.start_minute)
                    .bind(e.end_minute)
                    .bind(e.kind)
                    .bind(e.note)
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get("id")?),
                    SetupChange::RemoveHours(id) => {
                        sqlx::query("DELETE FROM booking_hours WHERE id = $1")
                            .bind(id)
                            .execute(&mut *conn)
                            .await?;
                        Ok(id)
                    }
                    SetupChange::RemoveException(id) => {
                        sqlx::query("DELETE FROM booking_exceptions WHERE id = $1")
                            .bind(id)
                            .execute(&mut *conn)
                            .await?;
                        Ok(id)
                    }
                }
            })
        })
        .await
    }

    /// The exceptions at every location from `from` (YYYY-MM-DD) on.
    pub async fn upcoming_exceptions(&self, from: &str) -> Result<Vec<ExceptionRow>> {
        Ok(sqlx::query(
            "SELECT id, location_id, resource_id, day, start_minute, end_minute, kind, note \
             FROM booking_exceptions WHERE day >= $1 ORDER BY day, id LIMIT 500",
        )
        .bind(from.to_string())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(exception)
        .collect::<sqlx::Result<_>>()?)
    }

    /// Writes `seed` as the clinic's booking set-up, once (recorded as the
    /// data migration `name`), and only into a database with no locations.
    /// Returns whether it did.
    pub async fn seed_booking(&self, name: &'static str, seed: SeedSetup) -> Result<bool> {
        let now = Millis(Timestamp::now());
        self.write(move |conn| {
            Box::pin(async move {
                if !super::data_migrations::claim(conn, name, now).await? {
                    return Ok(false);
                }
                let existing: i64 = sqlx::query("SELECT COUNT(*) AS n FROM booking_locations")
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get("n")?;
                if existing > 0 {
                    return Ok(false);
                }
                let mut location_ids = Vec::new();
                for l in &seed.locations {
                    location_ids.push(insert_location(conn, l).await?);
                }
                let mut resource_ids = Vec::new();
                for r in &seed.resources {
                    resource_ids.push(insert_resource(conn, r).await?);
                }
                for t in &seed.types {
                    insert_type(conn, t).await?;
                }
                for h in &seed.hours {
                    let h = HoursRow {
                        resource_id: resource_ids[h.resource_id as usize],
                        location_id: location_ids[h.location_id as usize],
                        ..*h
                    };
                    insert_hours(conn, &h).await?;
                }
                Ok(true)
            })
        })
        .await
    }
}
