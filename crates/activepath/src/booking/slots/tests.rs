use super::*;
use jiff::civil::date;
use proptest::prelude::*;

const CLINICIAN: i64 = 1;
const ROOM: i64 = 2;
const SECOND_CLINICIAN: i64 = 3;

fn minutes(m: i64) -> SignedDuration {
    SignedDuration::from_mins(m)
}

fn timing(duration: i64, step: i64) -> Timing {
    Timing {
        duration: minutes(duration),
        buffer_before: SignedDuration::ZERO,
        buffer_after: SignedDuration::ZERO,
        step: minutes(step),
        min_notice: SignedDuration::ZERO,
        horizon_days: 365,
        needs: vec![ResourceKind::Clinician],
    }
}

fn every_day(resource: i64, start: DayMinute, end: DayMinute) -> Vec<WeeklyHours> {
    [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ]
    .into_iter()
    .map(|weekday| WeeklyHours {
        resource,
        weekday,
        start,
        end,
    })
    .collect()
}

const ONE_CLINICIAN: &[Resource] = &[Resource {
    id: CLINICIAN,
    kind: ResourceKind::Clinician,
}];

fn tz(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

/// A time long before the dates the tests look at.
fn long_ago() -> Timestamp {
    "2026-01-01T00:00:00Z".parse().unwrap()
}

/// The local times ("9:00", "1:30 EST") of the slots on `day`.
fn local_times(s: &Schedule, day: Date) -> Vec<String> {
    s.slots(day, day, long_ago())
        .iter()
        .map(|slot| {
            let z = slot.start.to_zoned_datetime(s.tz.clone());
            assert_eq!(z.date(), day);
            format!("{}:{:02} {}", z.hour(), z.minute(), z.strftime("%Z"))
        })
        .collect()
}

#[test]
fn office_hours_stay_at_nine_across_both_new_york_changes() {
    let ny = tz("America/New_York");
    let t = timing(60, 30);
    let hours = every_day(CLINICIAN, 9 * 60, 17 * 60);
    let s = Schedule {
        tz: &ny,
        timing: &t,
        resources: ONE_CLINICIAN,
        hours: &hours,
        exceptions: &[],
        busy: &[],
    };
    for (day, zone) in [
        (date(2026, 3, 7), "EST"),
        (date(2026, 3, 8), "EDT"),
        (date(2026, 10, 31), "EDT"),
        (date(2026, 11, 1), "EST"),
    ] {
        let times = local_times(&s, day);
        assert_eq!(times.len(), 15, "{day}: 9:00 to 16:00 every half hour");
        assert_eq!(times[0], format!("9:00 {zone}"), "{day}");
        assert_eq!(times[14], format!("16:00 {zone}"), "{day}");
        for slot in s.slots(day, day, long_ago()) {
            assert_eq!(slot.end.duration_since(slot.start), minutes(60));
        }
    }
    // And the instants are the right ones: 9:00 EDT is 13:00 UTC.
    let first = &s.slots(date(2026, 3, 8), date(2026, 3, 8), long_ago())[0];
    assert_eq!(first.start.to_string(), "2026-03-08T13:00:00Z");
    let first = &s.slots(date(2026, 11, 1), date(2026, 11, 1), long_ago())[0];
    assert_eq!(first.start.to_string(), "2026-11-01T14:00:00Z");
}

#[test]
fn night_hours_lose_the_skipped_hour_and_keep_the_repeated_one() {
    let ny = tz("America/New_York");
    let t = timing(60, 30);
    let hours = every_day(CLINICIAN, 0, 4 * 60);
    let s = Schedule {
        tz: &ny,
        timing: &t,
        resources: ONE_CLINICIAN,
        hours: &hours,
        exceptions: &[],
        busy: &[],
    };
    // Spring: 00:00 to 04:00 is three real hours; 2:xx does not exist.
    assert_eq!(
        local_times(&s, date(2026, 3, 8)),
        ["0:00 EST", "0:30 EST", "1:00 EST", "1:30 EST", "3:00 EDT"]
    );
    // Autumn: five real hours; 1:00 and 1:30 happen twice, and both are
    // offered as different instants.
    assert_eq!(
        local_times(&s, date(2026, 11, 1)),
        [
            "0:00 EDT", "0:30 EDT", "1:00 EDT", "1:30 EDT", "1:00 EST", "1:30 EST", "2:00 EST",
            "2:30 EST", "3:00 EST"
        ]
    );
}

#[test]
fn half_hour_zones_open_on_their_own_clock() {
    // India: +05:30 all year. St. John's: -03:30, and -02:30 in summer,
    // changing on the same dates as New York.
    for (name, day, utc) in [
        ("Asia/Kolkata", date(2026, 3, 8), "2026-03-08T03:30:00Z"),
        ("America/St_Johns", date(2026, 3, 7), "2026-03-07T12:30:00Z"),
        ("America/St_Johns", date(2026, 3, 8), "2026-03-08T11:30:00Z"),
        (
            "America/St_Johns",
            date(2026, 11, 1),
            "2026-11-01T12:30:00Z",
        ),
    ] {
        let zone = tz(name);
        let t = timing(45, 15);
        let hours = every_day(CLINICIAN, 9 * 60, 12 * 60);
        let s = Schedule {
            tz: &zone,
            timing: &t,
            resources: ONE_CLINICIAN,
            hours: &hours,
            exceptions: &[],
            busy: &[],
        };
        let slots = s.slots(day, day, long_ago());
        assert_eq!(slots[0].start.to_string(), utc, "{name} {day}");
        // 9:00 to 11:15 every quarter hour.
        assert_eq!(slots.len(), 10, "{name} {day}");
        let last = slots.last().unwrap().start.to_zoned_datetime(zone.clone());
        assert_eq!((last.hour(), last.minute()), (11, 15));
    }
}

#[test]
fn buffers_keep_time_free_around_other_bookings() {
    let utc = TimeZone::UTC;
    let mut t = timing(60, 30);
    t.buffer_before = minutes(15);
    t.buffer_after = minutes(15);
    let hours = every_day(CLINICIAN, 9 * 60, 17 * 60);
    let day = date(2026, 12, 1);
    let at = |h: i8, m: i8| local_instant(&utc, day, (h as u16) * 60 + m as u16);
    // Booked 12:00-13:00, with its buffers 11:45-13:15.
    let busy = [Busy {
        resource: CLINICIAN,
        from: at(11, 45),
        until: at(13, 15),
    }];
    let s = Schedule {
        tz: &utc,
        timing: &t,
        resources: ONE_CLINICIAN,
        hours: &hours,
        exceptions: &[],
        busy: &busy,
    };
    let starts: Vec<_> = s
        .slots(day, day, long_ago())
        .iter()
        .map(|x| x.start)
        .collect();
    // 10:30 would block 10:15-11:45: touches, allowed. 11:00 would block
    // until 12:15: refused. 13:30 would block from 13:15: allowed.
    assert!(starts.contains(&at(10, 30)));
    assert!(!starts.contains(&at(11, 0)));
    assert!(!starts.contains(&at(13, 0)));
    assert!(starts.contains(&at(13, 30)));
    assert_eq!(s.check(at(11, 0), long_ago()), Err(Unavailable::NotOffered));
    assert_eq!(
        s.check(at(13, 30), long_ago()).unwrap().resources,
        [CLINICIAN]
    );
}

#[test]
fn notice_horizon_and_the_step_are_enforced_on_a_booking() {
    let utc = TimeZone::UTC;
    let mut t = timing(30, 30);
    t.min_notice = minutes(24 * 60);
    t.horizon_days = 14;
    let hours = every_day(CLINICIAN, 9 * 60, 17 * 60);
    let s = Schedule {
        tz: &utc,
        timing: &t,
        resources: ONE_CLINICIAN,
        hours: &hours,
        exceptions: &[],
        busy: &[],
    };
    let now: Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
    let ts = |s: &str| s.parse::<Timestamp>().unwrap();
    assert_eq!(
        s.check(ts("2026-12-02T09:30:00Z"), now),
        Err(Unavailable::TooSoon)
    );
    assert!(s.check(ts("2026-12-02T10:00:00Z"), now).is_ok());
    assert!(s.check(ts("2026-12-15T16:30:00Z"), now).is_ok());
    assert_eq!(
        s.check(ts("2026-12-16T09:00:00Z"), now),
        Err(Unavailable::TooFar)
    );
    // Off the half-hour step, and outside hours.
    assert_eq!(
        s.check(ts("2026-12-03T10:10:00Z"), now),
        Err(Unavailable::NotOffered)
    );
    assert_eq!(
        s.check(ts("2026-12-03T17:00:00Z"), now),
        Err(Unavailable::NotOffered)
    );
    // The offered list agrees with the checks.
    let all = s.slots(date(2026, 12, 1), date(2027, 1, 31), now);
    assert_eq!(all.first().unwrap().start, ts("2026-12-02T10:00:00Z"));
    assert_eq!(all.last().unwrap().start, ts("2026-12-15T16:30:00Z"));
}

#[test]
fn exceptions_close_a_day_or_part_of_it_and_add_extra_hours() {
    let utc = TimeZone::UTC;
    let t = timing(60, 60);
    let hours = every_day(CLINICIAN, 9 * 60, 12 * 60);
    let holiday = date(2026, 12, 25);
    let short = date(2026, 12, 24);
    let extra = date(2026, 12, 27);
    let exceptions = [
        Exception {
            resource: None,
            date: holiday,
            span: None,
            kind: ExceptionKind::Closed,
        },
        Exception {
            resource: Some(CLINICIAN),
            date: short,
            span: Some((10 * 60, 11 * 60)),
            kind: ExceptionKind::Closed,
        },
        Exception {
            resource: Some(CLINICIAN),
            date: extra,
            span: Some((14 * 60, 16 * 60)),
            kind: ExceptionKind::Open,
        },
    ];
    let s = Schedule {
        tz: &utc,
        timing: &t,
        resources: ONE_CLINICIAN,
        hours: &hours,
        exceptions: &exceptions,
        busy: &[],
    };
    assert!(local_times(&s, holiday).is_empty());
    assert_eq!(local_times(&s, short), ["9:00 UTC", "11:00 UTC"]);
    assert_eq!(
        local_times(&s, extra),
        [
            "9:00 UTC",
            "10:00 UTC",
            "11:00 UTC",
            "14:00 UTC",
            "15:00 UTC"
        ]
    );
}

#[test]
fn a_type_that_needs_a_room_and_a_clinician_takes_one_of_each_that_is_free() {
    let utc = TimeZone::UTC;
    let mut t = timing(60, 60);
    t.needs = vec![ResourceKind::Clinician, ResourceKind::Room];
    let resources = [
        Resource {
            id: CLINICIAN,
            kind: ResourceKind::Clinician,
        },
        Resource {
            id: ROOM,
            kind: ResourceKind::Room,
        },
        Resource {
            id: SECOND_CLINICIAN,
            kind: ResourceKind::Clinician,
        },
    ];
    let mut hours = every_day(CLINICIAN, 9 * 60, 11 * 60);
    hours.extend(every_day(SECOND_CLINICIAN, 9 * 60, 11 * 60));
    hours.extend(every_day(ROOM, 10 * 60, 12 * 60));
    let day = date(2026, 12, 1);
    let at = |h: u16| local_instant(&utc, day, h * 60);
    let busy = [Busy {
        resource: CLINICIAN,
        from: at(10),
        until: at(11),
    }];
    let s = Schedule {
        tz: &utc,
        timing: &t,
        resources: &resources,
        hours: &hours,
        exceptions: &[],
        busy: &busy,
    };
    // Only 10:00 has a room and a clinician; the first clinician is busy,
    // so the second one is used.
    let slots = s.slots(day, day, long_ago());
    assert_eq!(slots.len(), 1);
    assert_eq!(slots[0].start, at(10));
    assert_eq!(slots[0].resources, [SECOND_CLINICIAN, ROOM]);
}

#[test]
fn the_nearest_free_times_surround_the_one_taken() {
    let utc = TimeZone::UTC;
    let t = timing(60, 60);
    let hours = every_day(CLINICIAN, 9 * 60, 17 * 60);
    let day = date(2026, 12, 1);
    let taken = local_instant(&utc, day, 12 * 60);
    let busy = [Busy {
        resource: CLINICIAN,
        from: taken,
        until: taken + minutes(60),
    }];
    let s = Schedule {
        tz: &utc,
        timing: &t,
        resources: ONE_CLINICIAN,
        hours: &hours,
        exceptions: &[],
        busy: &busy,
    };
    let near: Vec<_> = s
        .nearest(taken, long_ago(), 3, 2)
        .iter()
        .map(|x| x.start)
        .collect();
    assert_eq!(near, [taken - minutes(60), taken + minutes(60)]);
}

const ZONES: &[&str] = &[
    "America/New_York",
    "America/St_Johns",
    "Asia/Kolkata",
    "Australia/Adelaide",
    "Europe/London",
    "Pacific/Chatham",
    "UTC",
];

prop_compose! {
    fn a_timing()(duration in 1i64..=180, step in 5i64..=60, before in 0i64..=30,
                   after in 0i64..=30, notice in 0i64..=2880, horizon in 0u16..=60) -> Timing {
        Timing {
            duration: minutes(duration),
            buffer_before: minutes(before),
            buffer_after: minutes(after),
            step: minutes(step),
            min_notice: minutes(notice),
            horizon_days: horizon,
            needs: vec![ResourceKind::Clinician],
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever the zone, rules and bookings: every offered slot lies inside
    /// the opening hours on its own local date, lasts exactly its duration,
    /// keeps its buffers clear of every booking, respects notice and
    /// horizon, and is accepted by `check`; slots are in order, once each.
    #[test]
    fn offered_slots_obey_every_rule(
        zone in 0usize..ZONES.len(),
        t in a_timing(),
        open in 0u16..=1200, length in 1u16..=600,
        day_offset in 0i64..400,
        now_offset_minutes in 0i64..(60 * 24 * 400),
        bookings in proptest::collection::vec((0i64..(60 * 24 * 400), 1i64..240), 0..20),
    ) {
        let zone = tz(ZONES[zone]);
        let end = (open + length).min(END_OF_DAY);
        let hours = every_day(CLINICIAN, open, end);
        let base: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let busy: Vec<Busy> = bookings.iter().map(|&(at, len)| Busy {
            resource: CLINICIAN,
            from: base + minutes(at),
            until: base + minutes(at + len),
        }).collect();
        let s = Schedule { tz: &zone, timing: &t, resources: ONE_CLINICIAN, hours: &hours, exceptions: &[], busy: &busy };
        let now = base + minutes(now_offset_minutes);
        let from = date(2026, 1, 1).checked_add(jiff::Span::new().days(day_offset)).unwrap();
        let to = from.checked_add(jiff::Span::new().days(6)).unwrap();
        let slots = s.slots(from, to, now);
        let last_day = now.to_zoned_datetime(zone.clone()).date()
            .checked_add(jiff::Span::new().days(i64::from(t.horizon_days))).unwrap();
        for pair in slots.windows(2) {
            prop_assert!(pair[0].start < pair[1].start);
        }
        for slot in &slots {
            prop_assert_eq!(slot.end.duration_since(slot.start), t.duration);
            prop_assert!(slot.start >= now + t.min_notice);
            let day = slot.start.to_zoned_datetime(zone.clone()).date();
            prop_assert!(day >= from && day <= to && day <= last_day);
            let (a, b) = (local_instant(&zone, day, open), local_instant(&zone, day, end));
            prop_assert!(a <= slot.start && slot.end <= b, "inside the day's hours");
            let (bf, bu) = slot.blocked(&t);
            for busy in &busy {
                prop_assert!(bu <= busy.from || busy.until <= bf, "clear of bookings");
            }
            prop_assert_eq!(s.check(slot.start, now), Ok(slot.clone()));
        }
    }

    /// Every step from the start of the hours that fits and is free is
    /// offered: nothing bookable is hidden.
    #[test]
    fn every_free_step_is_offered(
        zone in 0usize..ZONES.len(),
        t in a_timing(),
        open in 0u16..=1200, length in 1u16..=600,
        day_offset in 0i64..400,
    ) {
        let zone = tz(ZONES[zone]);
        let end = (open + length).min(END_OF_DAY);
        let hours = every_day(CLINICIAN, open, end);
        let s = Schedule { tz: &zone, timing: &t, resources: ONE_CLINICIAN, hours: &hours, exceptions: &[], busy: &[] };
        let day = date(2026, 1, 1).checked_add(jiff::Span::new().days(day_offset)).unwrap();
        let now = local_instant(&zone, day, 0) - minutes(24 * 60 * 3);
        let mut t2 = t.clone();
        t2.min_notice = SignedDuration::ZERO;
        t2.horizon_days = 30;
        let s = Schedule { timing: &t2, ..s };
        let (a, b) = (local_instant(&zone, day, open), local_instant(&zone, day, end));
        let mut expected = Vec::new();
        let mut start = a;
        while start + t2.duration <= b {
            expected.push(start);
            start += t2.step;
        }
        let got: Vec<_> = s.slots(day, day, now).iter().map(|x| x.start).collect();
        prop_assert_eq!(got, expected);
    }
}
