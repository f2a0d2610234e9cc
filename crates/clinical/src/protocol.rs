//! TMS protocols as data (FACTS §7.2). A clinic adds its own by building a
//! [`Protocol`] with the same fields; the built-in ones carry only what
//! FACTS marks as verified (a parameter it does not confirm is `None`).

use std::borrow::Cow;

/// A way of giving TMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    /// Stable id used by the API: `10hz`, `itbs`, `accelerated-itbs`,
    /// `custom`, or one of the clinic's own.
    pub id: Cow<'static, str>,
    pub name: Cow<'static, str>,
    /// Pulses in one session, when the protocol fixes it.
    pub pulses_per_session: Option<u32>,
    /// Intensity as a percentage of the motor threshold, when fixed.
    pub intensity_percent_mt: Option<u16>,
    /// Sessions on one treatment day.
    pub sessions_per_day: u32,
    /// Sessions a course plans unless the clinician says otherwise.
    pub default_planned_sessions: u32,
    /// About how long a session takes, in seconds, when known.
    pub session_seconds: Option<u32>,
}

/// 30 daily sessions, then a taper of 3, 2 and 1 a week (FACTS §7.2).
pub const STANDARD_COURSE: u32 = 36;

pub const BUILT_IN: [Protocol; 4] = [
    Protocol {
        id: Cow::Borrowed("10hz"),
        name: Cow::Borrowed("10 Hz rTMS, 120% MT, 3,000 pulses"),
        pulses_per_session: Some(3000),
        intensity_percent_mt: Some(120),
        sessions_per_day: 1,
        default_planned_sessions: STANDARD_COURSE,
        session_seconds: Some(2250),
    },
    Protocol {
        id: Cow::Borrowed("itbs"),
        name: Cow::Borrowed("iTBS, 600 pulses"),
        pulses_per_session: Some(600),
        // 120% RMT in THREE-D is UNVERIFIED in FACTS: the clinician sets it.
        intensity_percent_mt: None,
        sessions_per_day: 1,
        default_planned_sessions: STANDARD_COURSE,
        session_seconds: Some(180),
    },
    Protocol {
        id: Cow::Borrowed("accelerated-itbs"),
        name: Cow::Borrowed(
            "Accelerated iTBS (SNT-style), 1,800 pulses, 10 sessions a day for 5 days",
        ),
        pulses_per_session: Some(1800),
        intensity_percent_mt: Some(90),
        sessions_per_day: 10,
        default_planned_sessions: 50,
        session_seconds: None,
    },
    Protocol {
        id: Cow::Borrowed("custom"),
        name: Cow::Borrowed("Custom protocol"),
        pulses_per_session: None,
        intensity_percent_mt: None,
        sessions_per_day: 1,
        default_planned_sessions: STANDARD_COURSE,
        session_seconds: None,
    },
];

/// A built-in protocol by its id.
pub fn built_in(id: &str) -> Option<&'static Protocol> {
    BUILT_IN.iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_protocols_match_facts_section_7_2() {
        let ten = built_in("10hz").unwrap();
        assert_eq!(
            (ten.pulses_per_session, ten.intensity_percent_mt),
            (Some(3000), Some(120))
        );
        assert_eq!(ten.default_planned_sessions, 36);
        let itbs = built_in("itbs").unwrap();
        assert_eq!(itbs.pulses_per_session, Some(600));
        assert_eq!(itbs.intensity_percent_mt, None, "not verified in FACTS");
        let snt = built_in("accelerated-itbs").unwrap();
        assert_eq!(
            (snt.sessions_per_day, snt.default_planned_sessions),
            (10, 50)
        );
        assert_eq!(
            snt.pulses_per_session.unwrap() * snt.default_planned_sessions,
            90_000
        );
        assert!(built_in("custom").is_some());
        assert!(built_in("5hz").is_none());
        let ids: std::collections::HashSet<_> = BUILT_IN.iter().map(|p| &p.id).collect();
        assert_eq!(ids.len(), BUILT_IN.len());
    }
}
