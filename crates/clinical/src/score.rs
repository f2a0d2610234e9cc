//! Scoring: from raw answers to a checked set of responses, then to a total,
//! a severity, the self-harm safety flag and (for clinicians) the PHQ-9
//! syndrome algorithm.

use crate::instrument::{Instrument, InstrumentId, Interpretation, Severity};

/// Which field of a response set a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldError {
    /// 1-based item number.
    Item(u8),
    Difficulty,
}

/// What is wrong with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    Missing,
    OutOfRange,
}

/// A complete, valid set of answers to one instrument. The only way to build
/// one is [`Responses::parse`], so every `Responses` can be scored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Responses {
    instrument: InstrumentId,
    answers: Vec<u8>,
    difficulty: Option<u8>,
}

impl Responses {
    /// Checks raw answers (one per item, in item order; `None` = unanswered)
    /// and the difficulty answer. Returns every problem at once so a form can
    /// show each beside its field.
    ///
    /// Every item is required: FACTS.md §1.5 leaves pro-rating of missing
    /// items unverified, so no partial total is ever computed. The difficulty
    /// question is required when any item is above 0 ("If you checked off any
    /// problems…"); when all items are 0 it may be given or left out.
    pub fn parse(
        instrument: InstrumentId,
        answers: &[Option<i64>],
        difficulty: Option<i64>,
    ) -> Result<Self, Vec<(FieldError, Problem)>> {
        let def = instrument.definition();
        let mut errors = Vec::new();
        let mut values = Vec::with_capacity(def.items.len());
        for (index, item) in def.items.iter().enumerate() {
            match answers.get(index).copied().flatten() {
                None => errors.push((FieldError::Item(item.number), Problem::Missing)),
                Some(raw) => match item.options.iter().find(|o| i64::from(o.value) == raw) {
                    Some(option) => values.push(option.value),
                    None => errors.push((FieldError::Item(item.number), Problem::OutOfRange)),
                },
            }
        }
        if answers.len() > def.items.len() {
            // More answers than items: report against the first extra position.
            errors.push((
                FieldError::Item(def.items.len() as u8 + 1),
                Problem::OutOfRange,
            ));
        }
        let difficulty = match (def.difficulty, difficulty) {
            (_, None) => None,
            (None, Some(_)) => {
                errors.push((FieldError::Difficulty, Problem::OutOfRange));
                None
            }
            (Some(question), Some(raw)) => {
                match question.options.iter().find(|o| i64::from(o.value) == raw) {
                    Some(option) => Some(option.value),
                    None => {
                        errors.push((FieldError::Difficulty, Problem::OutOfRange));
                        None
                    }
                }
            }
        };
        let any_problem_reported = answers.iter().flatten().any(|&v| v > 0);
        if def.difficulty.is_some()
            && difficulty.is_none()
            && !errors.contains(&(FieldError::Difficulty, Problem::OutOfRange))
            && any_problem_reported
        {
            errors.push((FieldError::Difficulty, Problem::Missing));
        }
        if errors.is_empty() {
            Ok(Responses {
                instrument,
                answers: values,
                difficulty,
            })
        } else {
            Err(errors)
        }
    }

    /// [`Responses::parse`] for a repeat measurement in treatment, where
    /// the difficulty question may be left out: every item is still
    /// required and checked, and the difficulty is checked when given. The
    /// difficulty is not part of the total, so the score is the same.
    pub fn parse_repeat(
        instrument: InstrumentId,
        answers: &[Option<i64>],
        difficulty: Option<i64>,
    ) -> Result<Self, Vec<(FieldError, Problem)>> {
        Self::parse(instrument, answers, difficulty).or_else(|errors| {
            let only_difficulty_missing =
                difficulty.is_none() && errors == [(FieldError::Difficulty, Problem::Missing)];
            if only_difficulty_missing {
                Ok(Responses {
                    instrument,
                    answers: answers.iter().map(|a| a.unwrap_or(0) as u8).collect(),
                    difficulty: None,
                })
            } else {
                Err(errors
                    .into_iter()
                    .filter(|e| {
                        difficulty.is_some() || *e != (FieldError::Difficulty, Problem::Missing)
                    })
                    .collect())
            }
        })
    }

    pub fn instrument(&self) -> InstrumentId {
        self.instrument
    }

    pub fn answers(&self) -> &[u8] {
        &self.answers
    }

    pub fn difficulty(&self) -> Option<u8> {
        self.difficulty
    }

    pub fn score(&self) -> Score {
        score(self.instrument.definition(), &self.answers)
    }
}

/// The PHQ-9 diagnostic algorithm's outcome (FACTS.md §1.7). For clinicians
/// only: never shown to the person screening themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syndrome {
    MajorDepressive,
    OtherDepressive,
    None,
}

/// The scored result of a complete response set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    pub total: u8,
    pub max: u8,
    pub severity: Severity,
    /// Any answer above 0 on the instrument's safety item (PHQ-9 item 9).
    pub self_harm_flag: bool,
    /// PHQ-9 only.
    pub syndrome: Option<Syndrome>,
}

fn score(def: &Instrument, answers: &[u8]) -> Score {
    let total: u8 = answers.iter().sum();
    let severity = match def.interpretation {
        Interpretation::Bands(bands) => bands
            .iter()
            .find(|b| (b.min..=b.max).contains(&total))
            .map(|b| b.severity)
            .expect("bands cover every possible total"),
        Interpretation::Cutoff { positive_at } if total >= positive_at => Severity::Positive,
        Interpretation::Cutoff { .. } => Severity::Negative,
    };
    let self_harm_flag = def
        .safety_item
        .is_some_and(|n| answers[usize::from(n) - 1] >= 1);
    let syndrome = (def.id == InstrumentId::Phq9).then(|| phq9_syndrome(answers));
    Score {
        total,
        max: def.max_total(),
        severity,
        self_harm_flag,
        syndrome,
    }
}

/// CamCOPS' rule: an item counts at "More than half the days" or more, item 9
/// at "Several days" or more; one of items 1–2 must count.
fn phq9_syndrome(answers: &[u8]) -> Syndrome {
    let core = answers[..2].iter().filter(|&&a| a >= 2).count();
    let other = answers[2..8].iter().filter(|&&a| a >= 2).count() + usize::from(answers[8] >= 1);
    match (core, core + other) {
        (0, _) => Syndrome::None,
        (_, n) if n >= 5 => Syndrome::MajorDepressive,
        (_, n) if n >= 2 => Syndrome::OtherDepressive,
        _ => Syndrome::None,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_repeat_measurement_may_leave_out_only_the_difficulty_question() {
        use crate::InstrumentId;
        let items = |v: [i64; 9]| v.map(Some);
        let r = Responses::parse_repeat(
            InstrumentId::Phq9,
            &items([1, 1, 1, 1, 1, 1, 1, 1, 2]),
            None,
        )
        .unwrap();
        let score = r.score();
        assert_eq!((score.total, score.self_harm_flag), (10, true));
        assert_eq!(r.difficulty(), None);
        // The same score as with the difficulty answered.
        let full = Responses::parse(
            InstrumentId::Phq9,
            &items([1, 1, 1, 1, 1, 1, 1, 1, 2]),
            Some(1),
        )
        .unwrap();
        assert_eq!(full.score(), score);
        // Items are still all required and checked; a given difficulty is checked.
        let mut missing = items([1; 9]).to_vec();
        missing[3] = None;
        assert_eq!(
            Responses::parse_repeat(InstrumentId::Phq9, &missing, None).unwrap_err(),
            [(FieldError::Item(4), Problem::Missing)],
            "the difficulty is not reported missing"
        );
        assert!(
            Responses::parse_repeat(
                InstrumentId::Phq9,
                &items([4, 0, 0, 0, 0, 0, 0, 0, 0]),
                None
            )
            .is_err()
        );
        assert!(Responses::parse_repeat(InstrumentId::Phq9, &items([1; 9]), Some(9)).is_err());
    }
    use super::*;
    use proptest::prelude::*;

    fn some(answers: &[i64]) -> Vec<Option<i64>> {
        answers.iter().copied().map(Some).collect()
    }

    /// Independent restatement of the published bands (FACTS.md §1.6).
    fn expected_phq9_band(total: u32) -> Severity {
        match total {
            0..=4 => Severity::NoneMinimal,
            5..=9 => Severity::Mild,
            10..=14 => Severity::Moderate,
            15..=19 => Severity::ModeratelySevere,
            20..=27 => Severity::Severe,
            _ => unreachable!(),
        }
    }

    #[test]
    fn every_one_of_the_262144_phq9_answer_sets() {
        let mut seen_flagged = 0u32;
        for code in 0u32..4u32.pow(9) {
            let digits: Vec<i64> = (0..9).map(|i| i64::from((code >> (2 * i)) & 3)).collect();
            let any_positive = digits.iter().any(|&d| d > 0);
            let difficulty = any_positive.then_some(i64::from(code % 4));
            let r = Responses::parse(InstrumentId::Phq9, &some(&digits), difficulty)
                .unwrap_or_else(|e| panic!("{digits:?}: {e:?}"));
            let s = r.score();
            let total: u32 = digits.iter().map(|&d| d as u32).sum();
            assert_eq!(u32::from(s.total), total, "{digits:?}");
            assert_eq!(s.max, 27);
            assert_eq!(s.severity, expected_phq9_band(total), "{digits:?}");
            assert_eq!(s.self_harm_flag, digits[8] >= 1, "{digits:?}");
            // Syndrome, restated independently: count qualifying symptoms.
            let qualifying: Vec<bool> = (0..9)
                .map(|i| {
                    if i == 8 {
                        digits[i] >= 1
                    } else {
                        digits[i] >= 2
                    }
                })
                .collect();
            let n = qualifying.iter().filter(|&&q| q).count();
            let core = qualifying[0] || qualifying[1];
            let expected = if core && n >= 5 {
                Syndrome::MajorDepressive
            } else if core && n >= 2 {
                Syndrome::OtherDepressive
            } else {
                Syndrome::None
            };
            assert_eq!(s.syndrome, Some(expected), "{digits:?}");
            seen_flagged += u32::from(s.self_harm_flag);
        }
        // Three quarters of all answer sets have item 9 above 0.
        assert_eq!(seen_flagged, 3 * 4u32.pow(8));
    }

    #[test]
    fn every_gad7_answer_set() {
        for code in 0u32..4u32.pow(7) {
            let digits: Vec<i64> = (0..7).map(|i| i64::from((code >> (2 * i)) & 3)).collect();
            let r = Responses::parse(InstrumentId::Gad7, &some(&digits), Some(1)).unwrap();
            let s = r.score();
            let total: u32 = digits.iter().map(|&d| d as u32).sum();
            assert_eq!(u32::from(s.total), total);
            assert_eq!(s.max, 21);
            let expected = match total {
                0..=4 => Severity::Minimal,
                5..=9 => Severity::Mild,
                10..=14 => Severity::Moderate,
                15..=21 => Severity::Severe,
                _ => unreachable!(),
            };
            assert_eq!(s.severity, expected);
            assert!(!s.self_harm_flag);
            assert_eq!(s.syndrome, None);
        }
    }

    #[test]
    fn every_phq2_answer_set() {
        for a in 0..4 {
            for b in 0..4 {
                let s = Responses::parse(InstrumentId::Phq2, &some(&[a, b]), None)
                    .unwrap()
                    .score();
                assert_eq!(i64::from(s.total), a + b);
                assert_eq!(s.max, 6);
                let expected = if a + b >= 3 {
                    Severity::Positive
                } else {
                    Severity::Negative
                };
                assert_eq!(s.severity, expected);
            }
        }
    }

    #[test]
    fn band_edges() {
        let at = |total: i64| {
            // Spread the total across items 1–8 so item 9 stays 0.
            let mut answers = vec![0i64; 9];
            let mut left = total;
            for a in answers.iter_mut().take(8) {
                *a = left.min(3);
                left -= *a;
            }
            answers[8] = left;
            Responses::parse(InstrumentId::Phq9, &some(&answers), Some(0))
                .unwrap()
                .score()
        };
        assert_eq!(at(0).severity, Severity::NoneMinimal);
        assert_eq!(at(4).severity, Severity::NoneMinimal);
        assert_eq!(at(5).severity, Severity::Mild);
        assert_eq!(at(9).severity, Severity::Mild);
        assert_eq!(at(10).severity, Severity::Moderate);
        assert_eq!(at(14).severity, Severity::Moderate);
        assert_eq!(at(15).severity, Severity::ModeratelySevere);
        assert_eq!(at(19).severity, Severity::ModeratelySevere);
        assert_eq!(at(20).severity, Severity::Severe);
        assert_eq!(at(24).severity, Severity::Severe);
        assert!(!at(24).self_harm_flag);
        assert!(at(27).self_harm_flag);
    }

    #[test]
    fn item9_alone_raises_the_flag_whatever_the_total() {
        let s = Responses::parse(
            InstrumentId::Phq9,
            &some(&[0, 0, 0, 0, 0, 0, 0, 0, 1]),
            Some(0),
        )
        .unwrap()
        .score();
        assert_eq!(s.total, 1);
        assert_eq!(s.severity, Severity::NoneMinimal);
        assert!(s.self_harm_flag);
    }

    #[test]
    fn missing_items_are_each_reported() {
        let mut answers = some(&[1, 1, 1, 1, 1, 1, 1, 1, 1]);
        answers[2] = None;
        answers[8] = None;
        let errors = Responses::parse(InstrumentId::Phq9, &answers, None).unwrap_err();
        assert_eq!(
            errors,
            vec![
                (FieldError::Item(3), Problem::Missing),
                (FieldError::Item(9), Problem::Missing),
                (FieldError::Difficulty, Problem::Missing),
            ]
        );
    }

    #[test]
    fn short_and_long_answer_lists_are_rejected() {
        let errors = Responses::parse(InstrumentId::Phq9, &some(&[0; 8]), None).unwrap_err();
        assert_eq!(errors, vec![(FieldError::Item(9), Problem::Missing)]);
        let errors = Responses::parse(InstrumentId::Gad7, &some(&[0; 8]), None).unwrap_err();
        assert_eq!(errors, vec![(FieldError::Item(8), Problem::OutOfRange)]);
    }

    #[test]
    fn difficulty_rules() {
        // All zero: difficulty optional.
        assert!(Responses::parse(InstrumentId::Phq9, &some(&[0; 9]), None).is_ok());
        assert_eq!(
            Responses::parse(InstrumentId::Phq9, &some(&[0; 9]), Some(2))
                .unwrap()
                .difficulty(),
            Some(2)
        );
        // Out of range difficulty is reported once, not also as missing.
        let errors = Responses::parse(InstrumentId::Phq9, &some(&[1; 9]), Some(4)).unwrap_err();
        assert_eq!(errors, vec![(FieldError::Difficulty, Problem::OutOfRange)]);
        // PHQ-2 has no difficulty question.
        let errors = Responses::parse(InstrumentId::Phq2, &some(&[1, 1]), Some(0)).unwrap_err();
        assert_eq!(errors, vec![(FieldError::Difficulty, Problem::OutOfRange)]);
    }

    #[test]
    fn difficulty_is_required_even_when_another_item_is_invalid() {
        let errors = Responses::parse(
            InstrumentId::Phq9,
            &some(&[2, 0, 0, 0, 0, 0, 0, 0, 7]),
            None,
        )
        .unwrap_err();
        assert!(errors.contains(&(FieldError::Item(9), Problem::OutOfRange)));
        assert!(errors.contains(&(FieldError::Difficulty, Problem::Missing)));
    }

    #[test]
    fn syndrome_examples_from_the_algorithm() {
        let syn = |a: [i64; 9]| {
            Responses::parse(InstrumentId::Phq9, &some(&a), Some(1))
                .unwrap()
                .score()
                .syndrome
        };
        // Five items at 2 including item 1.
        assert_eq!(
            syn([2, 0, 2, 2, 2, 2, 0, 0, 0]),
            Some(Syndrome::MajorDepressive)
        );
        // Four at 2 plus item 9 at 1 counts as five.
        assert_eq!(
            syn([2, 0, 2, 2, 2, 0, 0, 0, 1]),
            Some(Syndrome::MajorDepressive)
        );
        // Five at 2 but neither item 1 nor 2.
        assert_eq!(syn([1, 1, 2, 2, 2, 2, 2, 0, 0]), Some(Syndrome::None));
        assert_eq!(
            syn([0, 2, 2, 0, 0, 0, 0, 0, 0]),
            Some(Syndrome::OtherDepressive)
        );
        assert_eq!(syn([0, 2, 0, 0, 0, 0, 0, 0, 0]), Some(Syndrome::None));
    }

    proptest! {
        #[test]
        fn any_integers_either_parse_to_a_valid_score_or_name_each_bad_field(
            raw in proptest::collection::vec(proptest::option::of(-5i64..8), 0..12),
            difficulty in proptest::option::of(-2i64..6),
        ) {
            match Responses::parse(InstrumentId::Phq9, &raw, difficulty) {
                Ok(r) => {
                    prop_assert_eq!(raw.len(), 9);
                    let s = r.score();
                    prop_assert!(s.total <= 27);
                    prop_assert_eq!(i64::from(s.total), raw.iter().map(|a| a.unwrap()).sum::<i64>());
                }
                Err(errors) => {
                    prop_assert!(!errors.is_empty());
                    for (field, _) in errors {
                        if let FieldError::Item(n) = field {
                            let idx = usize::from(n) - 1;
                            prop_assert!(idx >= 9 || raw.get(idx).copied().flatten().is_none_or(|v| !(0..=3).contains(&v)));
                        }
                    }
                }
            }
        }

        #[test]
        fn raising_one_answer_never_lowers_the_severity(
            answers in proptest::collection::vec(0i64..4, 9),
            which in 0usize..9,
        ) {
            let before = Responses::parse(InstrumentId::Phq9, &some(&answers), Some(1)).unwrap().score();
            let mut raised = answers.clone();
            raised[which] = (raised[which] + 1).min(3);
            let after = Responses::parse(InstrumentId::Phq9, &some(&raised), Some(1)).unwrap().score();
            prop_assert!(after.total >= before.total);
            prop_assert!(after.severity >= before.severity);
            prop_assert!(after.self_harm_flag >= before.self_harm_flag);
        }
    }
}
