//! A course's alerts and the check-in it is due, as pure functions of what
//! is recorded on it, the clinic's settings and the time.

use super::Authorization;
use crate::config::{CheckInCadence, Tms};
use crate::storage::tms::{CheckInRecord, CourseRecord, MotorThreshold, SessionRecord};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp};

/// An alert, by its API name.
pub type Alert = &'static str;

/// Months after the acute course at which a follow-up PHQ-9 is due.
pub const FOLLOW_UP_MONTHS: [i64; 3] = [1, 3, 6];

/// A check-in is due, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckInDue {
    /// Before the first session.
    Baseline,
    /// A week since the last (cadence `weekly`).
    Weekly,
    /// Session N has been given and no check-in since (cadence `sessions`).
    AtSession(u32),
    /// The course is completed and none was taken after its last session.
    EndOfCourse,
    /// N months after the last session.
    FollowUp(i64),
}

impl CheckInDue {
    /// For the API: `baseline`, `weekly`, `session-20`, `end-of-course`,
    /// `follow-up-3-months`.
    pub fn name(self) -> String {
        match self {
            CheckInDue::Baseline => "baseline".into(),
            CheckInDue::Weekly => "weekly".into(),
            CheckInDue::AtSession(n) => format!("session-{n}"),
            CheckInDue::EndOfCourse => "end-of-course".into(),
            CheckInDue::FollowUp(m) => format!("follow-up-{m}-months"),
        }
    }
}

/// What the alerts are computed from.
pub(super) struct Facts<'a> {
    pub course: &'a CourseRecord,
    pub holds: usize,
    pub motor_thresholds: &'a [MotorThreshold],
    /// The last "yes" to a medication change on the checklist.
    pub medication_change: Option<Timestamp>,
    /// The last seizure or fainting (side effect, adverse event or
    /// checklist "yes").
    pub seizure: Option<Timestamp>,
    pub sessions: &'a [SessionRecord],
    pub check_ins: &'a [CheckInRecord],
    /// Which of `check_ins` is the baseline, if one counts.
    pub baseline: Option<usize>,
    pub authorizations: &'a [Authorization],
    pub progress: &'a clinical::mbc::Progress,
    /// Booked sessions missed in a row, up to now.
    pub missed_in_a_row: usize,
    pub now: Timestamp,
    pub tz: &'a TimeZone,
    pub config: &'a Tms,
}

fn date(raw: &str) -> Option<Date> {
    raw.parse().ok()
}

impl Facts<'_> {
    fn takes_sessions(&self) -> bool {
        matches!(self.course.status.as_str(), "planned" | "active")
    }

    fn sessions_left_in_plan(&self) -> bool {
        (self.sessions.len() as i64) < self.course.planned_sessions
    }

    /// The alerts, most pressing first: `worsening` (the latest PHQ-9 at
    /// least 5 points above the baseline or the one before it),
    /// `hold-open`, `motor-threshold-due` (none yet, the latest older than
    /// `tms.motor_threshold_valid_days`, or older than the last medication
    /// change or seizure or fainting), `missed-sessions` (the configured number of
    /// booked sessions missed in a row), `sessions-beyond-authorization` (more sessions
    /// than authorized, or one outside every authorization's dates),
    /// `authorization-expired`, `authorization-running-out`,
    /// `check-in-due`, `early-non-response`.
    pub fn alerts(&self) -> Vec<Alert> {
        let mut out = Vec::new();
        if self.progress.worsening {
            out.push("worsening");
        }
        if self.holds > 0 {
            out.push("hold-open");
        }
        let latest = self.motor_thresholds.last();
        // The same question as the session's hard stop asks.
        let threshold_due = latest.is_none_or(|m| {
            super::holds::stale(
                m,
                self.medication_change,
                self.seizure,
                self.now,
                self.config.motor_threshold_valid_days,
            )
            .is_some()
        });
        if self.takes_sessions() && threshold_due {
            out.push("motor-threshold-due");
        }
        if self.missed_in_a_row >= self.config.missed_sessions_alert {
            out.push("missed-sessions");
        }
        out.extend(self.authorization_alerts());
        if self.check_in_due().is_some() {
            out.push("check-in-due");
        }
        if self.progress.early_non_response {
            out.push("early-non-response");
        }
        out
    }

    fn authorization_alerts(&self) -> Option<Alert> {
        if self.authorizations.is_empty() {
            return None;
        }
        let windows: Vec<(Date, Date)> = self
            .authorizations
            .iter()
            .filter_map(|a| Some((date(&a.record.valid_from)?, date(&a.record.valid_to)?)))
            .collect();
        let total: i64 = self
            .authorizations
            .iter()
            .map(|a| a.record.sessions_authorized)
            .sum();
        let used = self.sessions.len() as i64;
        let uncovered = self.sessions.iter().any(|s| {
            let day = crate::time::date_in(s.started_at, self.tz);
            !windows
                .iter()
                .any(|(from, to)| (*from..=*to).contains(&day))
        });
        if used > total || uncovered {
            return Some("sessions-beyond-authorization");
        }
        if !self.takes_sessions() || !self.sessions_left_in_plan() {
            return None;
        }
        let today = crate::time::date_in(self.now, self.tz);
        let last_day = windows.iter().map(|(_, to)| *to).max()?;
        if today > last_day {
            return Some("authorization-expired");
        }
        let days_left = (last_day - today).get_days() as i64;
        let few_sessions = total - used <= self.config.authorization_warn_sessions
            && self.course.planned_sessions > total;
        (few_sessions || days_left <= self.config.authorization_warn_days)
            .then_some("authorization-running-out")
    }

    fn taken_since(&self, at: Timestamp) -> bool {
        self.check_ins.iter().any(|c| c.taken_at >= at)
    }

    fn months_after(&self, at: Timestamp, months: i64) -> Option<Timestamp> {
        at.to_zoned_datetime(self.tz.clone())
            .checked_add(Span::new().months(months))
            .ok()
            .map(|z| z.timestamp())
    }

    /// The check-in now due, if any: the baseline before anything else
    /// (none yet, or, before the first session, none that still counts);
    /// during the course, by the clinic's cadence (a week after the last,
    /// or once session N of `check_in_sessions` has been given); after a
    /// completed course, one after its last session, then at 1, 3 and 6
    /// months (a check-in up to a week early counts).
    pub fn check_in_due(&self) -> Option<CheckInDue> {
        match self.course.status.as_str() {
            "planned" | "active" | "paused" => {
                let Some(last) = self.check_ins.last() else {
                    return Some(CheckInDue::Baseline);
                };
                if self.sessions.is_empty() && self.baseline.is_none() {
                    return Some(CheckInDue::Baseline);
                }
                match self.config.check_in_cadence {
                    CheckInCadence::Weekly => (!self.sessions.is_empty()
                        && self.now.duration_since(last.taken_at)
                            >= SignedDuration::from_hours(24 * 7))
                    .then_some(CheckInDue::Weekly),
                    CheckInCadence::Sessions => {
                        let reached = self
                            .config
                            .check_in_sessions
                            .iter()
                            .rev()
                            .find(|n| (**n as usize) <= self.sessions.len())?;
                        let given = self.sessions[*reached as usize - 1].started_at;
                        (!self.taken_since(given)).then_some(CheckInDue::AtSession(*reached))
                    }
                }
            }
            "completed" => {
                let end = self.sessions.last()?.started_at;
                if !self.taken_since(end) {
                    return Some(CheckInDue::EndOfCourse);
                }
                let (months, due) = FOLLOW_UP_MONTHS
                    .iter()
                    .rev()
                    .filter_map(|m| Some((*m, self.months_after(end, *m)?)))
                    .find(|(_, due)| self.now >= *due)?;
                let window = due - SignedDuration::from_hours(24 * 7);
                (!self.taken_since(window)).then_some(CheckInDue::FollowUp(months))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::tms::SessionDetails;

    const DAY: i64 = 24;

    fn at(day: i64) -> Timestamp {
        "2026-03-02T09:00:00Z".parse::<Timestamp>().unwrap() + SignedDuration::from_hours(DAY * day)
    }

    fn course(status: &str) -> CourseRecord {
        CourseRecord {
            id: 1,
            uid: "c".into(),
            patient_id: 1,
            protocol: "10hz".into(),
            planned_sessions: 36,
            start_date: "2026-03-02".into(),
            status: status.into(),
            stop_reason: None,
            target: None,
            localization: None,
            created_at: at(0),
            version: 1,
        }
    }

    /// One session a day from day 1.
    fn sessions(n: i64) -> Vec<SessionRecord> {
        (1..=n)
            .map(|d| SessionRecord {
                id: d,
                uid: d.to_string(),
                started_at: at(d),
                intensity_percent_mt: 120,
                pulses: 3000,
                side_effects: Vec::new(),
                motor_threshold: 50,
                motor_threshold_at: at(0),
                details: SessionDetails::default(),
            })
            .collect()
    }

    /// Check-ins at these instants.
    fn check_ins(times: &[Timestamp]) -> Vec<CheckInRecord> {
        times
            .iter()
            .enumerate()
            .map(|(i, t)| CheckInRecord {
                id: i as i64,
                taken_at: *t,
                total: 15,
                self_harm_flag: false,
                case_id: None,
                source: "staff".into(),
            })
            .collect()
    }

    fn due(
        status: &str,
        sessions: &[SessionRecord],
        check_ins: &[CheckInRecord],
        now: Timestamp,
        config: &Tms,
    ) -> Option<CheckInDue> {
        let record = course(status);
        let progress = clinical::mbc::progress(&[], 20);
        let baseline = super::super::baseline::baseline_index(
            check_ins,
            sessions.first().map(|x| x.started_at),
            now,
            &TimeZone::UTC,
            config.baseline_valid_days,
        );
        Facts {
            course: &record,
            holds: 0,
            motor_thresholds: &[],
            medication_change: None,
            seizure: None,
            sessions,
            check_ins,
            baseline,
            authorizations: &[],
            progress: &progress,
            missed_in_a_row: 0,
            now,
            tz: &TimeZone::UTC,
            config,
        }
        .check_in_due()
    }

    #[test]
    fn the_baseline_comes_first() {
        let weekly = Tms::demo();
        assert_eq!(
            due("planned", &[], &[], at(0), &weekly),
            Some(CheckInDue::Baseline)
        );
        assert_eq!(due("stopped", &[], &[], at(0), &weekly), None);
    }

    #[test]
    fn weekly_means_seven_days_after_the_last() {
        let weekly = Tms::demo();
        let s = sessions(10);
        let c = check_ins(&[at(0)]);
        assert_eq!(due("active", &s, &c, at(6), &weekly), None);
        assert_eq!(
            due("active", &s, &c, at(7), &weekly),
            Some(CheckInDue::Weekly)
        );
        let c = check_ins(&[at(0), at(7)]);
        assert_eq!(due("active", &s, &c, at(10), &weekly), None);
        // Before any session, the baseline is enough while it is fresh
        // (14 days); older, a new one is due.
        assert_eq!(due("planned", &[], &c[..1], at(14), &weekly), None);
        assert_eq!(
            due("planned", &[], &c[..1], at(15), &weekly),
            Some(CheckInDue::Baseline)
        );
    }

    #[test]
    fn by_session_number_a_missed_week_does_not_shift_them() {
        let mut config = Tms::demo();
        config.check_in_cadence = CheckInCadence::Sessions;
        let c = check_ins(&[at(0)]);
        assert_eq!(due("active", &sessions(9), &c, at(40), &config), None);
        assert_eq!(
            due("active", &sessions(10), &c, at(11), &config),
            Some(CheckInDue::AtSession(10))
        );
        // Taken after session 10: nothing due until session 20.
        let c = check_ins(&[at(0), at(10) + SignedDuration::from_hours(1)]);
        assert_eq!(due("active", &sessions(19), &c, at(19), &config), None);
        assert_eq!(
            due("active", &sessions(20), &c, at(21), &config),
            Some(CheckInDue::AtSession(20))
        );
        // Session 36 reached with none since 30: the one at 36.
        let c = check_ins(&[at(0), at(31)]);
        assert_eq!(
            due("active", &sessions(36), &c, at(37), &config),
            Some(CheckInDue::AtSession(36))
        );
    }

    #[test]
    fn after_the_course_one_at_its_end_then_at_1_3_and_6_months() {
        let weekly = Tms::demo();
        let s = sessions(36);
        let end = at(36);
        let c = check_ins(&[at(0), at(30)]);
        assert_eq!(
            due("completed", &s, &c, at(37), &weekly),
            Some(CheckInDue::EndOfCourse)
        );
        let c = check_ins(&[at(0), end + SignedDuration::from_hours(2)]);
        assert_eq!(due("completed", &s, &c, at(50), &weekly), None);
        // 2026-04-07 + 1 month = 2026-05-07 (day 66).
        assert_eq!(
            due("completed", &s, &c, at(66), &weekly),
            Some(CheckInDue::FollowUp(1))
        );
        // A check-in up to a week early counts.
        let mut early = c.clone();
        early.extend(check_ins(&[at(61)]));
        assert_eq!(due("completed", &s, &early, at(66), &weekly), None);
        // Three months on, with only the 1-month one: the 3-month one.
        assert_eq!(
            due("completed", &s, &early, at(36 + 92), &weekly),
            Some(CheckInDue::FollowUp(3))
        );
        assert_eq!(
            due("completed", &s, &early, at(36 + 184), &weekly),
            Some(CheckInDue::FollowUp(6))
        );
        assert_eq!(due("stopped", &s, &c, at(100), &weekly), None);
    }

    /// The alerts of an active course with check-ins of these totals, the
    /// first as the baseline, and `holds` open holds.
    fn alerts_for(totals: &[u8], holds: usize) -> Vec<Alert> {
        let record = course("active");
        let config = Tms::demo();
        let s = sessions(20);
        let c: Vec<CheckInRecord> = totals
            .iter()
            .enumerate()
            .map(|(i, t)| CheckInRecord {
                total: i64::from(*t),
                // The baseline on day 0, the others after session 20.
                ..check_ins(&[if i == 0 {
                    at(0)
                } else {
                    at(20) + SignedDuration::from_hours(i as i64)
                }])[0]
                    .clone()
            })
            .collect();
        let progress = super::super::progress(&c, &s, Some(0), 20);
        Facts {
            course: &record,
            holds,
            motor_thresholds: &[],
            medication_change: None,
            seizure: None,
            sessions: &s,
            check_ins: &c,
            baseline: Some(0),
            authorizations: &[],
            progress: &progress,
            missed_in_a_row: 0,
            now: at(21),
            tz: &TimeZone::UTC,
            config: &config,
        }
        .alerts()
    }

    #[test]
    fn worsening_by_five_points_is_the_first_alert() {
        // 20 to 25 at session 20: worse by the minimal important change.
        let alerts = alerts_for(&[20, 25], 1);
        assert_eq!(alerts[..2], ["worsening", "hold-open"], "{alerts:?}");
        assert!(alerts.contains(&"early-non-response"));
        // 20 to 24 is 4 points: not worsening (still an early non-response).
        let alerts = alerts_for(&[20, 24], 1);
        assert!(!alerts.contains(&"worsening"), "{alerts:?}");
        assert!(alerts.contains(&"early-non-response"));
        // Five above the check-in before, though not above the baseline.
        assert_eq!(alerts_for(&[20, 10, 15], 0)[0], "worsening");
        assert!(!alerts_for(&[20, 10, 14], 0).contains(&"worsening"));
    }
}
