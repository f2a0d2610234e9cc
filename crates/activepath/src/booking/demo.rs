//! The demo clinic's booking set-up, written into a new database so that
//! `serve` offers real times at once: two locations, two clinicians and a
//! TMS chair, four appointment types (the last, TMS sessions, booked by a
//! course) and weekday hours. A clinic changes
//! or replaces all of it in the staff portal; it is written once, and never
//! again once any location exists.

use crate::storage::Storage;
use crate::storage::booking::{HoursRow, LocationRow, ResourceRow, SeedSetup, TypeRow};

/// The data migration that records the seeding.
pub const SEED: &str = "booking_demo_setup";

fn location(
    slug: &str,
    name: &str,
    address: &str,
    map: &str,
    tz: &str,
    position: i64,
) -> LocationRow {
    LocationRow {
        id: 0,
        slug: slug.into(),
        name: name.into(),
        address: address.into(),
        phone: String::new(),
        map_url: map.into(),
        time_zone: tz.into(),
        position,
        active: true,
    }
}

fn resource(slug: &str, name: &str, kind: &str) -> ResourceRow {
    ResourceRow {
        id: 0,
        slug: slug.into(),
        name: name.into(),
        kind: kind.into(),
        active: true,
    }
}

#[allow(clippy::too_many_arguments)]
fn kind(
    slug: &str,
    name: &str,
    description: &str,
    duration: i64,
    buffer_after: i64,
    step: i64,
    public: bool,
    needs: &[&str],
    position: i64,
) -> TypeRow {
    TypeRow {
        id: 0,
        slug: slug.into(),
        name: name.into(),
        description: description.into(),
        duration_minutes: duration,
        buffer_before_minutes: 0,
        buffer_after_minutes: buffer_after,
        step_minutes: step,
        // Booked the evening before at the latest, so the clinic can prepare.
        min_notice_minutes: 12 * 60,
        horizon_days: 60,
        public_booking: public,
        position,
        active: true,
        needs: needs.iter().map(|n| n.to_string()).collect(),
    }
}

/// Weekly hours: (resource, location) are positions in the lists above.
fn weekdays(resource: i64, location: i64, days: &[i64], start: i64, end: i64) -> Vec<HoursRow> {
    days.iter()
        .map(|&weekday| HoursRow {
            id: 0,
            resource_id: resource,
            location_id: location,
            weekday,
            start_minute: start,
            end_minute: end,
        })
        .collect()
}

pub fn setup(time_zone: &str) -> SeedSetup {
    let mut hours = Vec::new();
    // Dr. Rivera: the main clinic Monday to Thursday, the north office on
    // Friday. Jordan Lee, NP: the main clinic Monday, Wednesday, Friday.
    hours.extend(weekdays(0, 0, &[1, 2, 3, 4], 9 * 60, 17 * 60));
    hours.extend(weekdays(0, 1, &[5], 9 * 60, 13 * 60));
    hours.extend(weekdays(1, 0, &[1, 3, 5], 10 * 60, 18 * 60));
    // The TMS chair, for the treatment courses a later version books.
    hours.extend(weekdays(2, 0, &[1, 2, 3, 4, 5], 8 * 60, 18 * 60));
    SeedSetup {
        locations: vec![
            location(
                "main",
                "Riverbend main clinic",
                "120 Example Avenue, Suite 4, Springfield, ST 00000",
                "https://www.openstreetmap.org/search?query=120%20Example%20Avenue%20Springfield",
                time_zone,
                0,
            ),
            location(
                "north",
                "Riverbend north office",
                "8 Demo Road, Northfield, ST 00000",
                "https://www.openstreetmap.org/search?query=8%20Demo%20Road%20Northfield",
                time_zone,
                1,
            ),
        ],
        resources: vec![
            resource(
                "dr-rivera",
                "Dr. Sam Rivera, MD (psychiatrist)",
                "clinician",
            ),
            resource("jordan-lee", "Jordan Lee, PMHNP", "clinician"),
            resource("tms-chair-1", "TMS chair 1", "tms_chair"),
        ],
        types: vec![
            kind(
                "initial-consultation",
                "Initial consultation (in person)",
                "A first visit of about an hour with a psychiatric clinician. You talk about what you are going through, what has helped so far, and the options, including TMS.",
                60,
                15,
                30,
                true,
                &["clinician"],
                0,
            ),
            kind(
                "phone-consultation",
                "Phone consultation",
                "A 30-minute call with a clinician to talk through whether the clinic is right for you. We call the number you give.",
                30,
                10,
                30,
                true,
                &["clinician"],
                1,
            ),
            kind(
                "tms-mapping",
                "TMS mapping session",
                "Finding the treatment spot and motor threshold before a TMS course. Booked by the clinic.",
                60,
                15,
                30,
                false,
                &["clinician", "tms_chair"],
                2,
            ),
            TypeRow {
                // A TMS course books its sessions ahead, from the day itself.
                min_notice_minutes: 0,
                horizon_days: 365,
                ..kind(
                    "tms-session",
                    "TMS treatment session",
                    "A session of a TMS course on the chair. Booked by the clinic for the whole course.",
                    40,
                    5,
                    15,
                    false,
                    &["tms_chair"],
                    3,
                )
            },
        ],
        hours,
    }
}

/// Seeds the demo set-up into a database that has none. Returns whether it
/// did.
pub async fn seed(storage: &Storage, time_zone: &str) -> anyhow::Result<bool> {
    Ok(storage.seed_booking(SEED, setup(time_zone)).await?)
}
