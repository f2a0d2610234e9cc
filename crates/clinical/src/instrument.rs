//! Instrument definitions: verbatim item text, answer options and values,
//! LOINC codes, severity bands and the copyright footer.
//!
//! Texts follow `shared/clinical/FACTS.md` exactly (a test compares them).
//! Patients see the Pfizer wording, never the LOINC display strings.

use std::fmt;

/// The instruments activepath knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstrumentId {
    Phq9,
    Gad7,
    Phq2,
}

impl InstrumentId {
    pub const ALL: [InstrumentId; 3] = [InstrumentId::Phq9, InstrumentId::Gad7, InstrumentId::Phq2];

    /// The stable identifier used in URLs, the API and the database.
    pub fn slug(self) -> &'static str {
        match self {
            InstrumentId::Phq9 => "phq9",
            InstrumentId::Gad7 => "gad7",
            InstrumentId::Phq2 => "phq2",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|id| id.slug() == slug)
    }

    pub fn definition(self) -> &'static Instrument {
        match self {
            InstrumentId::Phq9 => &PHQ9,
            InstrumentId::Gad7 => &GAD7,
            InstrumentId::Phq2 => &PHQ2,
        }
    }
}

impl fmt::Display for InstrumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// One answer choice of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerOption {
    pub value: u8,
    pub label: &'static str,
    /// LOINC answer code (LA…).
    pub loinc: &'static str,
}

/// One scored item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// 1-based number as printed on the form.
    pub number: u8,
    pub text: &'static str,
    pub loinc: &'static str,
    /// The answer options, in value order. Usually the shared frequency scale;
    /// GAD-7 item 2 carries its own LOINC answer codes (FACTS.md §3, §9.4).
    pub options: &'static [AnswerOption],
}

/// The unscored functional-difficulty question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DifficultyQuestion {
    pub text: &'static str,
    /// `None` where no LOINC code is verified (GAD-7: FACTS.md §3).
    pub loinc: Option<&'static str>,
    pub options: &'static [AnswerOption],
}

/// Severity labels. The slug is part of the public API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// PHQ-9 0–4.
    NoneMinimal,
    /// GAD-7 0–4.
    Minimal,
    Mild,
    Moderate,
    ModeratelySevere,
    Severe,
    /// PHQ-2 below its cut-off.
    Negative,
    /// PHQ-2 at or above its cut-off: go on to the full PHQ-9.
    Positive,
}

impl Severity {
    pub const ALL: [Severity; 8] = [
        Severity::NoneMinimal,
        Severity::Minimal,
        Severity::Mild,
        Severity::Moderate,
        Severity::ModeratelySevere,
        Severity::Severe,
        Severity::Negative,
        Severity::Positive,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Severity::NoneMinimal => "none-minimal",
            Severity::Minimal => "minimal",
            Severity::Mild => "mild",
            Severity::Moderate => "moderate",
            Severity::ModeratelySevere => "moderately-severe",
            Severity::Severe => "severe",
            Severity::Negative => "negative",
            Severity::Positive => "positive",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.slug() == slug)
    }
}

/// A closed range of totals with its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    pub min: u8,
    pub max: u8,
    pub severity: Severity,
}

/// How a total is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpretation {
    /// Contiguous bands covering 0..=max total.
    Bands(&'static [Band]),
    /// A screening cut-off: positive at or above it.
    Cutoff { positive_at: u8 },
}

/// A complete instrument definition.
#[derive(Debug, PartialEq, Eq)]
pub struct Instrument {
    pub id: InstrumentId,
    /// Stored with every result, so a later wording or scoring change never
    /// silently reinterprets old answers.
    pub version: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    pub stem: &'static str,
    pub items: &'static [Item],
    pub difficulty: Option<DifficultyQuestion>,
    pub interpretation: Interpretation,
    pub panel_loinc: &'static str,
    pub total_loinc: &'static str,
    pub copyright: &'static str,
    /// 1-based number of the item whose any non-zero answer raises the
    /// self-harm safety flag (PHQ-9 item 9).
    pub safety_item: Option<u8>,
}

impl Instrument {
    pub fn max_total(&self) -> u8 {
        self.items
            .iter()
            .map(|item| item.options.iter().map(|o| o.value).max().unwrap_or(0))
            .sum()
    }

    pub fn item(&self, number: u8) -> Option<&'static Item> {
        self.items.iter().find(|i| i.number == number)
    }
}

/// Pfizer's footer, shown on every form and printed result (FACTS.md §1.1).
pub const PFIZER_FOOTER: &str = "Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke and colleagues, with an educational grant from Pfizer Inc. No permission required to reproduce, translate, display or distribute.";

/// The frequency scale shared by the PHQ and GAD-7 items (FACTS.md §1.3).
#[rustfmt::skip]
pub const FREQUENCY: [AnswerOption; 4] = [
    AnswerOption { value: 0, label: "Not at all", loinc: "LA6568-5" },
    AnswerOption { value: 1, label: "Several days", loinc: "LA6569-3" },
    AnswerOption { value: 2, label: "More than half the days", loinc: "LA6570-1" },
    AnswerOption { value: 3, label: "Nearly every day", loinc: "LA6571-9" },
];

/// GAD-7 item 2 in LOINC codes value 2 as LA18938-3 ("More days than not");
/// patients still see the Pfizer label (FACTS.md §9.4).
#[rustfmt::skip]
const GAD7_ITEM2_OPTIONS: [AnswerOption; 4] = [
    FREQUENCY[0],
    FREQUENCY[1],
    AnswerOption { value: 2, label: "More than half the days", loinc: "LA18938-3" },
    FREQUENCY[3],
];

/// Difficulty answers. "Very" and "Extremely" are deliberately out of numeric
/// LOINC order (FACTS.md §1.4): map by code, never by position.
#[rustfmt::skip]
pub const DIFFICULTY: [AnswerOption; 4] = [
    AnswerOption { value: 0, label: "Not difficult at all", loinc: "LA6572-7" },
    AnswerOption { value: 1, label: "Somewhat difficult", loinc: "LA6573-5" },
    AnswerOption { value: 2, label: "Very difficult", loinc: "LA6575-0" },
    AnswerOption { value: 3, label: "Extremely difficult", loinc: "LA6574-3" },
];

const PHQ_STEM: &str =
    "Over the last 2 weeks, how often have you been bothered by any of the following problems?";

#[rustfmt::skip]
const PHQ9_ITEMS: [Item; 9] = [
    Item { number: 1, text: "Little interest or pleasure in doing things", loinc: "44250-9", options: &FREQUENCY },
    Item { number: 2, text: "Feeling down, depressed, or hopeless", loinc: "44255-8", options: &FREQUENCY },
    Item { number: 3, text: "Trouble falling or staying asleep, or sleeping too much", loinc: "44259-0", options: &FREQUENCY },
    Item { number: 4, text: "Feeling tired or having little energy", loinc: "44254-1", options: &FREQUENCY },
    Item { number: 5, text: "Poor appetite or overeating", loinc: "44251-7", options: &FREQUENCY },
    Item { number: 6, text: "Feeling bad about yourself — or that you are a failure or have let yourself or your family down", loinc: "44258-2", options: &FREQUENCY },
    Item { number: 7, text: "Trouble concentrating on things, such as reading the newspaper or watching television", loinc: "44252-5", options: &FREQUENCY },
    Item { number: 8, text: "Moving or speaking so slowly that other people could have noticed? Or the opposite — being so fidgety or restless that you have been moving around a lot more than usual", loinc: "44253-3", options: &FREQUENCY },
    Item { number: 9, text: "Thoughts that you would be better off dead or of hurting yourself in some way", loinc: "44260-8", options: &FREQUENCY },
];

#[rustfmt::skip]
const PHQ9_BANDS: [Band; 5] = [
    Band { min: 0, max: 4, severity: Severity::NoneMinimal },
    Band { min: 5, max: 9, severity: Severity::Mild },
    Band { min: 10, max: 14, severity: Severity::Moderate },
    Band { min: 15, max: 19, severity: Severity::ModeratelySevere },
    Band { min: 20, max: 27, severity: Severity::Severe },
];

pub static PHQ9: Instrument = Instrument {
    id: InstrumentId::Phq9,
    version: "phq9/en-US/1",
    name: "PHQ-9",
    title: "Patient Health Questionnaire (PHQ-9)",
    stem: PHQ_STEM,
    items: &PHQ9_ITEMS,
    difficulty: Some(DifficultyQuestion {
        text: "If you checked off any problems, how difficult have these problems made it for you to do your work, take care of things at home, or get along with other people?",
        loinc: Some("69722-7"),
        options: &DIFFICULTY,
    }),
    interpretation: Interpretation::Bands(&PHQ9_BANDS),
    panel_loinc: "44249-1",
    total_loinc: "44261-6",
    copyright: PFIZER_FOOTER,
    safety_item: Some(9),
};

// GAD-7 punctuation is marked UNVERIFIED in FACTS.md §2.1 (copies differ in
// commas); the text follows the copy FACTS.md tabulates. The difficulty item
// has no verified LOINC code, so none is claimed.
#[rustfmt::skip]
const GAD7_ITEMS: [Item; 7] = [
    Item { number: 1, text: "Feeling nervous, anxious, or on edge", loinc: "69725-0", options: &FREQUENCY },
    Item { number: 2, text: "Not being able to stop or control worrying", loinc: "68509-9", options: &GAD7_ITEM2_OPTIONS },
    Item { number: 3, text: "Worrying too much about different things", loinc: "69733-4", options: &FREQUENCY },
    Item { number: 4, text: "Trouble relaxing", loinc: "69734-2", options: &FREQUENCY },
    Item { number: 5, text: "Being so restless that it is hard to sit still", loinc: "69735-9", options: &FREQUENCY },
    Item { number: 6, text: "Becoming easily annoyed or irritable", loinc: "69689-8", options: &FREQUENCY },
    Item { number: 7, text: "Feeling afraid as if something awful might happen", loinc: "69736-7", options: &FREQUENCY },
];

#[rustfmt::skip]
const GAD7_BANDS: [Band; 4] = [
    Band { min: 0, max: 4, severity: Severity::Minimal },
    Band { min: 5, max: 9, severity: Severity::Mild },
    Band { min: 10, max: 14, severity: Severity::Moderate },
    Band { min: 15, max: 21, severity: Severity::Severe },
];

pub static GAD7: Instrument = Instrument {
    id: InstrumentId::Gad7,
    version: "gad7/en-US/1",
    name: "GAD-7",
    title: "Generalized Anxiety Disorder scale (GAD-7)",
    stem: "Over the last 2 weeks, how often have you been bothered by the following problems?",
    items: &GAD7_ITEMS,
    difficulty: Some(DifficultyQuestion {
        text: "If you checked off any problems, how difficult have these made it for you to do your work, take care of things at home, or get along with other people?",
        loinc: None,
        options: &DIFFICULTY,
    }),
    interpretation: Interpretation::Bands(&GAD7_BANDS),
    panel_loinc: "69737-5",
    total_loinc: "70274-6",
    copyright: PFIZER_FOOTER,
    safety_item: None,
};

const PHQ2_ITEMS: [Item; 2] = [PHQ9_ITEMS[0], PHQ9_ITEMS[1]];

pub static PHQ2: Instrument = Instrument {
    id: InstrumentId::Phq2,
    version: "phq2/en-US/1",
    name: "PHQ-2",
    title: "Patient Health Questionnaire (PHQ-2)",
    stem: PHQ_STEM,
    items: &PHQ2_ITEMS,
    difficulty: None,
    // Kroenke, Spitzer & Williams 2003: 3 was the optimal cut-point (FACTS.md §1.9).
    interpretation: Interpretation::Cutoff { positive_at: 3 },
    panel_loinc: "55757-9",
    total_loinc: "55758-7",
    copyright: PFIZER_FOOTER,
    safety_item: None,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_round_trip() {
        for id in InstrumentId::ALL {
            assert_eq!(InstrumentId::from_slug(id.slug()), Some(id));
            assert_eq!(id.definition().id, id);
        }
        for s in Severity::ALL {
            assert_eq!(Severity::from_slug(s.slug()), Some(s));
        }
        assert_eq!(InstrumentId::from_slug("PHQ9"), None);
    }

    #[test]
    fn max_totals() {
        assert_eq!(PHQ9.max_total(), 27);
        assert_eq!(GAD7.max_total(), 21);
        assert_eq!(PHQ2.max_total(), 6);
    }

    #[test]
    fn bands_cover_the_whole_range_without_gaps() {
        for id in InstrumentId::ALL {
            let def = id.definition();
            if let Interpretation::Bands(bands) = def.interpretation {
                assert_eq!(bands[0].min, 0);
                assert_eq!(bands.last().unwrap().max, def.max_total());
                for pair in bands.windows(2) {
                    assert_eq!(pair[0].max + 1, pair[1].min, "{id}");
                }
            }
        }
    }

    #[test]
    fn options_are_in_value_order() {
        for id in InstrumentId::ALL {
            for item in id.definition().items {
                for (i, o) in item.options.iter().enumerate() {
                    assert_eq!(usize::from(o.value), i);
                }
            }
        }
        for (i, o) in DIFFICULTY.iter().enumerate() {
            assert_eq!(usize::from(o.value), i);
        }
    }

    #[test]
    fn difficulty_codes_are_mapped_by_meaning_not_position() {
        assert_eq!(DIFFICULTY[2].label, "Very difficult");
        assert_eq!(DIFFICULTY[2].loinc, "LA6575-0");
        assert_eq!(DIFFICULTY[3].label, "Extremely difficult");
        assert_eq!(DIFFICULTY[3].loinc, "LA6574-3");
    }

    #[test]
    fn gad7_item2_uses_its_own_loinc_answer_code_but_the_pfizer_label() {
        let opt = GAD7.item(2).unwrap().options[2];
        assert_eq!(opt.loinc, "LA18938-3");
        assert_eq!(opt.label, "More than half the days");
        assert_eq!(opt.value, 2);
    }

    #[test]
    fn phq2_is_the_first_two_phq9_items() {
        assert_eq!(PHQ2.items, &PHQ9.items[..2]);
        assert_eq!(PHQ2.stem, PHQ9.stem);
    }
}
