//! How hard a text is to read, as a US school grade (Flesch–Kincaid).
//!
//! Patient materials aim at grade 6–8. The tests hold the home page, the
//! self-assessment and result pages and every safety and consent message at
//! grade 8 or below, and education pages and posts at 10 or below;
//! `check-config` warns about a clinic's own pages above those grades.
//!
//! The formula (Kincaid et al. 1975):
//!
//! ```text
//! grade = 0.39 × words / sentences + 11.8 × syllables / words − 15.59
//! ```
//!
//! Counting is what makes two tools disagree, so here it is exactly:
//!
//! - **Blocks.** Text comes in blocks: a paragraph, a list item, a heading, a
//!   table cell, a button. A block always ends a sentence, so a heading or a
//!   list item without a full stop is one sentence.
//! - **Sentences.** Inside a block a sentence ends at `.`, `!` or `?`
//!   followed by a space or the end of the block. A full stop after a
//!   one-letter word or after `Dr`, `Mr`, `Mrs`, `Ms`, `St`, `vs`, `etc`,
//!   `e.g`, `i.e` or `U.S` does not end one.
//! - **Words.** A word is a run of characters between spaces that holds at
//!   least one letter; punctuation around it is dropped. A hyphenated word
//!   ("self-assessment") is one word whose syllables are those of its parts.
//!   A token with no letter (a number such as 988, a date, a dash) is not a
//!   word.
//! - **Syllables.** For each part of a word, lowercased, letters only:
//!   1. count the groups of consecutive vowels (`a e i o u y`; a `y` that
//!      starts the part is a consonant);
//!   2. a final `e` is silent (one fewer), unless the part ends in a
//!      consonant then `le` ("table") or the `e` follows a vowel ("free",
//!      "issue"), and unless it is the only vowel group ("the");
//!   3. a final `ed` is silent after a letter other than `t` or `d`
//!      ("asked", but "needed");
//!   4. a final `es` is silent after a letter other than `s`, `x`, `z`, `c`
//!      or `g` and not after `ch` or `sh` ("takes", but "boxes", "changes");
//!   5. at least one syllable.
//!
//! The rule miscounts some words (as every rule does); it is the same rule
//! for every page, which is what a gate needs.

/// Counts over one or more texts; add them up, then ask for the grade.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub sentences: usize,
    pub words: usize,
    pub syllables: usize,
    /// The words of the longest sentence: an average can hide one long
    /// sentence among short labels, and one is enough to lose a reader.
    pub longest: usize,
}

impl Counts {
    /// The counts of blocks of plain text (see the module's rules).
    pub fn of_blocks<'a>(blocks: impl IntoIterator<Item = &'a str>) -> Counts {
        let mut c = Counts::default();
        for block in blocks {
            c += Counts::of_block(block);
        }
        c
    }

    /// The counts of one block of plain text.
    pub fn of_block(block: &str) -> Counts {
        let mut c = Counts::default();
        let mut open = false;
        let mut words = 0;
        for token in block.split_whitespace() {
            let word = token.trim_matches(|ch: char| !ch.is_alphanumeric());
            if word.chars().any(char::is_alphabetic) {
                c.words += 1;
                words += 1;
                c.longest = c.longest.max(words);
                c.syllables += word
                    .split(['-', '–', '/'])
                    .filter(|p| !p.is_empty())
                    .map(syllables)
                    .sum::<usize>();
                open = true;
            }
            let core = token.trim_end_matches(['"', '\'', ')', '’', '”', '*', '_']);
            let ends = core.ends_with(['.', '!', '?']);
            if ends && open && !(core.ends_with('.') && is_abbreviation(word)) {
                c.sentences += 1;
                open = false;
                words = 0;
            }
        }
        if open {
            c.sentences += 1;
        }
        c
    }

    /// The Flesch–Kincaid grade; 0 for a text without words.
    pub fn grade(&self) -> f64 {
        if self.words == 0 || self.sentences == 0 {
            return 0.0;
        }
        let words = self.words as f64;
        0.39 * words / self.sentences as f64 + 11.8 * self.syllables as f64 / words - 15.59
    }
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.sentences += o.sentences;
        self.words += o.words;
        self.syllables += o.syllables;
        self.longest = self.longest.max(o.longest);
    }
}

fn is_abbreviation(word: &str) -> bool {
    let w = word.to_lowercase();
    w.chars().count() == 1
        || [
            "dr", "mr", "mrs", "ms", "st", "vs", "etc", "e.g", "i.e", "u.s",
        ]
        .contains(&w.as_str())
}

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

/// Syllables in one word (without hyphens), by the module's rule.
pub fn syllables(word: &str) -> usize {
    let w: Vec<u8> = word
        .chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase() as u8)
        .collect();
    if w.is_empty() {
        return 1;
    }
    let mut groups = 0;
    let mut in_vowels = false;
    for (i, &c) in w.iter().enumerate() {
        let vowel = is_vowel(c) && !(i == 0 && c == b'y');
        if vowel && !in_vowels {
            groups += 1;
        }
        in_vowels = vowel;
    }
    let n = w.len();
    let at = |back: usize| (n > back).then(|| w[n - 1 - back]);
    let consonant = |c: Option<u8>| c.is_some_and(|c| !is_vowel(c));
    let silent = match (at(1), at(0)) {
        (Some(b'l'), Some(b'e')) => !consonant(at(2)),
        // "free", "dye", "issue": the e shares its vowel group.
        (Some(before), Some(b'e')) if is_vowel(before) => false,
        (_, Some(b'e')) => true,
        (Some(b'e'), Some(b'd')) => !matches!(at(2), Some(b't' | b'd')),
        (Some(b'e'), Some(b's')) => {
            let sibilant = matches!(at(2), Some(b's' | b'x' | b'z' | b'c' | b'g'))
                || (at(2) == Some(b'h') && matches!(at(3), Some(b'c' | b's')));
            !sibilant
        }
        _ => false,
    };
    // "the" keeps its one.
    if silent && groups > 1 {
        groups -= 1;
    }
    groups.max(1)
}

/// Elements whose text is not read: scripts, styles, drawings, and
/// anything marked `data-verbatim` (an instrument's exact wording, which
/// is reproduced as published and is not ours to simplify).
const SKIPPED: &[&str] = &["script", "style", "svg", "template", "title"];

/// Elements that end a block of text.
const BLOCKS: &[&str] = &[
    "p",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "td",
    "th",
    "dt",
    "dd",
    "caption",
    "figcaption",
    "legend",
    "label",
    "button",
    "summary",
    "blockquote",
    "div",
    "section",
    "article",
    "header",
    "footer",
    "main",
    "nav",
    "ul",
    "ol",
    "table",
    "tr",
    "br",
    "form",
    "fieldset",
    "aside",
    "details",
    "option",
];

/// The blocks of text in a piece of HTML this application wrote (well
/// formed; not a general HTML parser), without skipped elements.
pub fn html_blocks(html: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current = String::new();
    // While skipping: the element's name and how deep inside it we are.
    let mut skip: Option<(String, usize)> = None;
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        if skip.is_none() {
            current.push_str(&rest[..lt]);
        }
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else { break };
        let tag = &after[..gt];
        rest = &after[gt + 1..];
        if tag.starts_with('!') {
            continue;
        }
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let self_closing = tag.ends_with('/')
            || matches!(
                name.as_str(),
                "br" | "img" | "input" | "meta" | "link" | "hr"
            );
        if let Some((skipped, depth)) = &mut skip {
            if *skipped == name && !self_closing {
                if closing {
                    *depth -= 1;
                    if *depth == 0 {
                        skip = None;
                    }
                } else {
                    *depth += 1;
                }
            }
            continue;
        }
        if !closing
            && !self_closing
            && (SKIPPED.contains(&name.as_str()) || tag.contains("data-verbatim"))
        {
            skip = Some((name, 1));
            continue;
        }
        if BLOCKS.contains(&name.as_str()) {
            push_block(&mut blocks, &mut current);
        } else {
            current.push(' ');
        }
    }
    if skip.is_none() {
        current.push_str(rest);
    }
    push_block(&mut blocks, &mut current);
    blocks
}

fn push_block(blocks: &mut Vec<String>, current: &mut String) {
    let text = decode(current);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if !text.is_empty() {
        blocks.push(text);
    }
    current.clear();
}

/// The entities our templates and Markdown produce.
fn decode(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&#160;", " ")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syllables_follow_the_documented_rule() {
        for (word, n) in [
            ("the", 1),
            ("cat", 1),
            ("take", 1),
            ("table", 2),
            ("free", 1),
            ("asked", 1),
            ("needed", 2),
            ("wanted", 2),
            ("takes", 1),
            ("boxes", 2),
            ("changes", 2),
            ("wishes", 2),
            ("yes", 1),
            ("you", 1),
            ("every", 3),
            ("depression", 3),
            ("treatment", 2),
            ("resistant", 3),
            ("anxiety", 3),
            ("medicine", 3),
            ("psychotherapy", 5),
            ("a", 1),
            ("rhythm", 1),
            ("be", 1),
            ("see", 1),
            ("dye", 1),
            ("issue", 2),
            ("blue", 1),
        ] {
            assert_eq!(syllables(word), n, "{word}");
        }
    }

    #[test]
    fn sentences_end_at_stops_and_blocks() {
        let c = Counts::of_block("Call Dr. Smith today. Are you safe? Yes!");
        assert_eq!((c.sentences, c.words, c.longest), (3, 8, 4));
        let c = Counts::of_block("A heading without a stop");
        assert_eq!(c.sentences, 1);
        // Numbers are not words; a hyphenated word is one.
        let c = Counts::of_block("Call or text 988 for a self-assessment.");
        assert_eq!(
            (c.sentences, c.words, c.syllables),
            (1, 6, 1 + 1 + 1 + 1 + 1 + 4)
        );
        assert_eq!(Counts::of_block("").grade(), 0.0);
    }

    #[test]
    fn the_grade_is_the_kincaid_formula() {
        // 2 sentences, 10 words, 14 syllables.
        let c = Counts {
            sentences: 2,
            words: 10,
            syllables: 14,
            longest: 6,
        };
        let expected = 0.39 * 5.0 + 11.8 * 1.4 - 15.59;
        assert!((c.grade() - expected).abs() < 1e-9);
        // Short words in short sentences read easily; long ones do not.
        assert!(Counts::of_block("We can help. Call us. We are here for you.").grade() < 3.0);
        assert!(
            Counts::of_block(
                "Comprehensive interdisciplinary neuromodulation evaluations necessitate \
                 individualized psychopharmacological considerations."
            )
            .grade()
                > 16.0
        );
    }

    /// The public messages about safety and consent: what someone in
    /// crisis reads, and what they agree to.
    fn safety_and_consent_messages() -> Vec<(&'static str, String)> {
        const ABOUT: &[&str] = &[
            "crisis",
            "safety",
            "consent",
            "not-monitored",
            "do-not-wait",
            "urgent-note",
            "not-advice",
            "check-in-urgent",
            "demo-notice",
        ];
        const STAFF: &[&str] = &["staff-", "course-", "mail-course-"];
        include_str!("../../locales/en-US/main.ftl")
            .lines()
            .filter_map(|line| line.split_once(" = "))
            .filter(|(key, _)| {
                ABOUT.iter().any(|a| key.contains(a)) && !STAFF.iter().any(|s| key.starts_with(s))
            })
            .map(|(key, text)| {
                // A placeholder stands for a short name ("the clinic").
                let mut plain = String::new();
                let mut rest = text;
                while let Some(at) = rest.find('{') {
                    plain.push_str(&rest[..at]);
                    plain.push_str("the clinic");
                    rest = &rest[at + rest[at..].find('}').map_or(1, |e| e + 1)..];
                }
                plain.push_str(rest);
                (key, plain)
            })
            .collect()
    }

    /// Each safety or consent message of ten words or more reads at grade 8
    /// or below; the shorter ones (labels, headings), too short to measure
    /// alone, are measured together. No sentence is over 25 words.
    #[test]
    fn safety_and_consent_messages_read_at_grade_8_or_below() {
        let messages = safety_and_consent_messages();
        assert!(messages.len() > 20, "{messages:?}");
        let mut short = Counts::default();
        let mut over = Vec::new();
        for (key, text) in &messages {
            let c = Counts::of_block(text);
            if c.longest > 25 {
                over.push(format!("{key}: a sentence of {} words: {text}", c.longest));
            }
            if c.words >= 10 {
                if c.grade() > 8.0 {
                    over.push(format!("{key}: grade {:.1}: {text}", c.grade()));
                }
            } else {
                short += c;
            }
        }
        assert!(over.is_empty(), "above grade 8: {over:#?}");
        assert!(
            short.grade() <= 8.0,
            "the short messages: {:.1}",
            short.grade()
        );
    }

    #[test]
    fn html_becomes_blocks_without_what_is_skipped() {
        let html = "<h2>Help</h2><p>Call <a href=\"tel:988\">988</a> now &amp; talk.</p>\
                    <script>var x = 1;</script><ul><li>One</li><li>Two<br>Three</li></ul>\
                    <legend data-verbatim><span>Little interest</span> in things</legend>\
                    <svg><title>Chart</title><text>12</text></svg><p>End</p>";
        assert_eq!(
            html_blocks(html),
            ["Help", "Call 988 now & talk.", "One", "Two", "Three", "End"]
        );
    }
}
