//! Measurement-based care over a treatment course: how the latest PHQ-9
//! compares with the baseline, with the definitions of FACTS §5.
//!
//! - **Response**: the latest total at least 50% lower than the baseline
//!   (NCQA HEDIS DRR-E).
//! - **Remission**: the latest total below 5 (NCQA DRR-E, CMS159).
//! - **Partial response**: a 25–49% reduction; **non-response**: under 25%
//!   (Fava group).
//! - **Minimal important change**: 5 points (Löwe et al. 2004).
//! - Those measures apply to an *elevated* baseline, a total of 10 or more
//!   (HEDIS index score). Below 10, or with no follow-up yet, the category
//!   is [`Category::InsufficientData`]; the percent change is still given
//!   when the baseline is above 0.
//!
//! Percentages are compared in whole numbers (`2 × drop ≥ baseline`), never
//! in floating point, so 50% is exactly 50%.

/// The totals that define the categories.
pub const ELEVATED_BASELINE: u8 = 10;
pub const REMISSION_BELOW: u8 = 5;
pub const MINIMAL_IMPORTANT_CHANGE: u8 = 5;
/// The session by which less than 25% improvement is an early warning.
pub const DEFAULT_EARLY_NON_RESPONSE_SESSION: u32 = 20;

/// Where a course stands, from the latest PHQ-9 against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Remission,
    Response,
    PartialResponse,
    NonResponse,
    InsufficientData,
}

impl Category {
    /// The JSON and CSV spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Remission => "remission",
            Category::Response => "response",
            Category::PartialResponse => "partial-response",
            Category::NonResponse => "non-response",
            Category::InsufficientData => "insufficient-data",
        }
    }
}

/// The category of `latest` against `baseline` (PHQ-9 totals, 0–27).
/// Remission comes first: a total below 5 from an elevated baseline is a
/// remission (and, from 10 or more, always also a response).
pub fn classify(baseline: u8, latest: u8) -> Category {
    if baseline < ELEVATED_BASELINE {
        return Category::InsufficientData;
    }
    if latest < REMISSION_BELOW {
        return Category::Remission;
    }
    let drop = i32::from(baseline) - i32::from(latest);
    let b = i32::from(baseline);
    if 2 * drop >= b {
        Category::Response
    } else if 4 * drop >= b {
        Category::PartialResponse
    } else {
        Category::NonResponse
    }
}

/// The percent change from `baseline` to `latest`: negative is fewer
/// symptoms (−50.0 is a halving). `None` from a baseline of 0.
pub fn percent_change(baseline: u8, latest: u8) -> Option<f64> {
    (baseline > 0).then(|| (f64::from(latest) - f64::from(baseline)) * 100.0 / f64::from(baseline))
}

/// At least the minimal important change (5 points) fewer.
pub fn minimal_important_improvement(baseline: u8, latest: u8) -> bool {
    baseline >= latest && baseline - latest >= MINIMAL_IMPORTANT_CHANGE
}

/// At least the minimal important change (5 points) more: worse.
pub fn minimal_important_worsening(from: u8, to: u8) -> bool {
    to >= from && to - from >= MINIMAL_IMPORTANT_CHANGE
}

/// Why a course's category is [`Category::InsufficientData`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InsufficientReason {
    /// No check-in counts as the baseline.
    NoBaseline,
    /// The baseline and nothing after it yet.
    NoFollowUp,
    /// A baseline below 10, for which the measures are not defined.
    BaselineBelow10,
}

impl InsufficientReason {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InsufficientReason::NoBaseline => "no-baseline",
            InsufficientReason::NoFollowUp => "no-follow-up",
            InsufficientReason::BaselineBelow10 => "baseline-below-10",
        }
    }
}

/// A PHQ-9 taken during a course: its total and how many sessions had been
/// given when it was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckIn {
    pub total: u8,
    pub sessions_done: u32,
}

/// A course's measurements summed up.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub baseline: Option<u8>,
    pub latest: Option<u8>,
    pub percent_change: Option<f64>,
    pub category: Category,
    pub minimal_important_improvement: bool,
    /// Less than 25% better at the latest check-in taken once
    /// `early_session` sessions were done (or an elevated baseline that is
    /// not a quarter lower by then): time to consider another protocol.
    pub early_non_response: bool,
    /// Why the category is `InsufficientData`; `None` for any other.
    pub category_reason: Option<InsufficientReason>,
    /// The latest check-in is at least 5 points (the minimal important
    /// change) above the baseline, or above the check-in before it.
    pub worsening: bool,
}

/// Sums up `check_ins` in the order taken; the first is the baseline.
pub fn progress(check_ins: &[CheckIn], early_session: u32) -> Progress {
    progress_from(
        check_ins,
        (!check_ins.is_empty()).then_some(0),
        early_session,
    )
}

/// Sums up `check_ins` in the order taken, with the one at index
/// `baseline` as the baseline (`None`: none counts). Only the check-ins
/// after the baseline are follow-ups; any before it count only as the
/// check-in before the latest, for worsening.
pub fn progress_from(
    check_ins: &[CheckIn],
    baseline: Option<usize>,
    early_session: u32,
) -> Progress {
    let baseline_at = baseline.filter(|b| *b < check_ins.len());
    let follow_ups = baseline_at.map_or(&[][..], |b| &check_ins[b + 1..]);
    let baseline = baseline_at.map(|b| check_ins[b].total);
    let latest = follow_ups.last().map(|c| c.total);
    let worsening = match check_ins {
        [.., previous, last] if minimal_important_worsening(previous.total, last.total) => true,
        _ => matches!((baseline, latest), (Some(b), Some(l)) if minimal_important_worsening(b, l)),
    };
    let category_reason = match (baseline, latest) {
        (None, _) => Some(InsufficientReason::NoBaseline),
        (Some(b), _) if b < ELEVATED_BASELINE => Some(InsufficientReason::BaselineBelow10),
        (Some(_), None) => Some(InsufficientReason::NoFollowUp),
        _ => None,
    };
    let (category, percent, mic) = match (baseline, latest) {
        (Some(b), Some(l)) => (
            classify(b, l),
            percent_change(b, l),
            minimal_important_improvement(b, l),
        ),
        _ => (Category::InsufficientData, None, false),
    };
    let early_non_response = match baseline {
        Some(b) if b >= ELEVATED_BASELINE => follow_ups
            .iter()
            .rev()
            .find(|c| c.sessions_done >= early_session)
            .is_some_and(|c| {
                let drop = i32::from(b) - i32::from(c.total);
                4 * drop < i32::from(b)
            }),
        _ => false,
    };
    Progress {
        baseline,
        latest,
        percent_change: percent,
        category,
        minimal_important_improvement: mic,
        early_non_response,
        category_reason,
        worsening,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FACTS §5 restated independently, with fractions: reduction r =
    /// (baseline − latest) / baseline.
    fn expected(baseline: u8, latest: u8) -> Category {
        if baseline <= 9 {
            return Category::InsufficientData;
        }
        let r = (f64::from(baseline) - f64::from(latest)) / f64::from(baseline);
        if latest <= 4 {
            Category::Remission
        } else if r >= 0.5 - 1e-12 {
            Category::Response
        } else if r >= 0.25 - 1e-12 {
            Category::PartialResponse
        } else {
            Category::NonResponse
        }
    }

    #[test]
    fn every_baseline_and_latest_pair_is_classified_as_facts_section_5_says() {
        let mut seen = std::collections::HashSet::new();
        for baseline in 0..=27u8 {
            for latest in 0..=27u8 {
                let got = classify(baseline, latest);
                assert_eq!(got, expected(baseline, latest), "{baseline} -> {latest}");
                seen.insert(got);
                // Percent change: negative when better, undefined from 0.
                match percent_change(baseline, latest) {
                    None => assert_eq!(baseline, 0),
                    Some(p) => {
                        let want = (f64::from(latest) / f64::from(baseline) - 1.0) * 100.0;
                        assert!((p - want).abs() < 1e-9, "{baseline} -> {latest}: {p}");
                    }
                }
                assert_eq!(
                    minimal_important_improvement(baseline, latest),
                    i32::from(baseline) - i32::from(latest) >= 5,
                    "{baseline} -> {latest}"
                );
            }
        }
        assert_eq!(seen.len(), 5, "every category occurs");
    }

    #[test]
    fn the_boundaries_fall_where_the_definitions_put_them() {
        // Exactly half is a response; one point short is partial.
        assert_eq!(classify(20, 10), Category::Response);
        assert_eq!(classify(20, 11), Category::PartialResponse);
        assert_eq!(classify(21, 10), Category::Response); // 52%
        assert_eq!(classify(21, 11), Category::PartialResponse); // 47.6%
        // Exactly a quarter is a partial response.
        assert_eq!(classify(20, 15), Category::PartialResponse);
        assert_eq!(classify(20, 16), Category::NonResponse);
        // Remission is below 5, from an elevated baseline.
        assert_eq!(classify(10, 4), Category::Remission);
        assert_eq!(classify(10, 5), Category::Response);
        assert_eq!(classify(9, 0), Category::InsufficientData);
        assert_eq!(classify(0, 0), Category::InsufficientData);
        // Worse is non-response.
        assert_eq!(classify(12, 20), Category::NonResponse);
    }

    #[test]
    fn progress_needs_a_baseline_and_a_follow_up() {
        let at = |total, sessions_done| CheckIn {
            total,
            sessions_done,
        };
        assert_eq!(progress(&[], 20).category, Category::InsufficientData);
        let one = progress(&[at(20, 0)], 20);
        assert_eq!(
            (one.baseline, one.latest, one.category),
            (Some(20), None, Category::InsufficientData)
        );
        let p = progress(&[at(20, 0), at(15, 10), at(9, 20)], 20);
        assert_eq!((p.baseline, p.latest), (Some(20), Some(9)));
        assert_eq!(p.category, Category::Response);
        assert_eq!(p.percent_change, Some(-55.0));
        assert!(p.minimal_important_improvement);
        assert!(!p.early_non_response);
    }

    #[test]
    fn early_non_response_looks_at_the_latest_check_in_from_the_chosen_session_on() {
        let at = |total, sessions_done| CheckIn {
            total,
            sessions_done,
        };
        // Not yet at session 20: no flag, whatever the scores.
        assert!(!progress(&[at(20, 0), at(20, 10)], 20).early_non_response);
        // At session 20 less than a quarter better (20 -> 16 is 20%).
        assert!(progress(&[at(20, 0), at(18, 10), at(16, 20)], 20).early_non_response);
        // Exactly a quarter better is not flagged.
        assert!(!progress(&[at(20, 0), at(15, 20)], 20).early_non_response);
        // Improvement later clears the flag.
        assert!(!progress(&[at(20, 0), at(16, 20), at(12, 25)], 20).early_non_response);
        // Another session count, set by the clinic.
        assert!(progress(&[at(20, 0), at(18, 10)], 10).early_non_response);
        // A baseline below 10 has no response to miss.
        assert!(!progress(&[at(8, 0), at(8, 20)], 20).early_non_response);
    }

    #[test]
    fn the_baseline_may_be_a_later_check_in_and_earlier_ones_are_not_follow_ups() {
        let at = |total, sessions_done| CheckIn {
            total,
            sessions_done,
        };
        // A screening of 12, then the baseline of 20, then 9: measured from 20.
        let all = [at(12, 0), at(20, 0), at(9, 20)];
        let p = progress_from(&all, Some(1), 20);
        assert_eq!((p.baseline, p.latest), (Some(20), Some(9)));
        assert_eq!(p.category, Category::Response);
        assert_eq!(p.category_reason, None);
        // The baseline itself is no follow-up.
        let p = progress_from(&all[..2], Some(1), 20);
        assert_eq!((p.baseline, p.latest), (Some(20), None));
        assert_eq!(p.category_reason, Some(InsufficientReason::NoFollowUp));
        // No baseline counts: nothing is measured, whatever was taken.
        let p = progress_from(&all, None, 20);
        assert_eq!((p.baseline, p.latest), (None, None));
        assert_eq!(p.category, Category::InsufficientData);
        assert_eq!(p.category_reason, Some(InsufficientReason::NoBaseline));
        assert!(!p.early_non_response);
        // A baseline below 10 says so, with or without a follow-up.
        for n in [1, 2] {
            let p = progress_from(&[at(8, 0), at(7, 10)][..n], Some(0), 20);
            assert_eq!(p.category_reason, Some(InsufficientReason::BaselineBelow10));
        }
        assert_eq!(
            progress(&[], 20).category_reason,
            Some(InsufficientReason::NoBaseline)
        );
    }

    #[test]
    fn worsening_is_five_points_above_the_baseline_or_the_check_in_before() {
        let at = |total, sessions_done| CheckIn {
            total,
            sessions_done,
        };
        // 20 to 24 is 4 points: not yet; 20 to 25 is.
        let p = progress(&[at(20, 0), at(24, 10)], 20);
        assert!(!p.worsening);
        assert_eq!(p.category, Category::NonResponse);
        assert!(progress(&[at(20, 0), at(25, 10)], 20).worsening);
        // Against the check-in before: 12 then 17, from a baseline of 14.
        assert!(progress(&[at(14, 0), at(12, 5), at(17, 10)], 20).worsening);
        assert!(!progress(&[at(14, 0), at(12, 5), at(16, 10)], 20).worsening);
        // Against the baseline over several check-ins of +3 each.
        assert!(progress(&[at(12, 0), at(15, 5), at(18, 10)], 20).worsening);
        assert!(!progress(&[at(12, 0), at(14, 5), at(16, 10)], 20).worsening);
        // Better again: no longer worse.
        assert!(!progress(&[at(12, 0), at(18, 5), at(11, 10)], 20).worsening);
        // A baseline below 10 is still watched.
        assert!(progress(&[at(6, 0), at(11, 5)], 20).worsening);
        for from in 0..=27u8 {
            for to in 0..=27u8 {
                assert_eq!(
                    minimal_important_worsening(from, to),
                    i32::from(to) - i32::from(from) >= 5,
                    "{from} -> {to}"
                );
            }
        }
    }
}
