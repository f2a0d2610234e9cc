//! The instrument texts and codes must equal `shared/clinical/FACTS.md`
//! exactly. The sheet is vendored under `tests/data/` so a clone tests on its
//! own; when the project's `shared/` folder sits beside the clone, the copy is
//! also checked against it so the two cannot drift.

use clinical::instrument::{DIFFICULTY, FREQUENCY, GAD7, PFIZER_FOOTER, PHQ2, PHQ9};
use std::path::Path;

fn facts() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = std::fs::read_to_string(dir.join("tests/data/FACTS.md")).unwrap();
    let shared = dir.join("../../../shared/clinical/FACTS.md");
    if let Ok(original) = std::fs::read_to_string(&shared) {
        assert_eq!(
            copy,
            original,
            "tests/data/FACTS.md is out of date: copy {} over it and re-check the instruments",
            shared.display()
        );
    }
    copy
}

/// The text of a section, from its `## N.` heading to the next `## `.
fn section(doc: &str, heading: &str) -> String {
    let start = doc
        .find(heading)
        .unwrap_or_else(|| panic!("no section {heading}"));
    let rest = &doc[start + heading.len()..];
    let end = rest.find("\n## ").unwrap_or(rest.len());
    rest[..end].to_string()
}

/// Table rows `| a | b | c | …` as trimmed cells.
fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("|---"))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// The bold text after a line prefix, e.g. `Stem: **…**`.
fn bold_after(text: &str, prefix: &str) -> String {
    let line = text.lines().find(|l| l.starts_with(prefix)).unwrap();
    let start = line.find("**").unwrap() + 2;
    let end = start + line[start..].find("**").unwrap();
    line[start..end].to_string()
}

#[test]
fn phq9_items_stem_and_codes_match_the_fact_sheet() {
    let doc = facts();
    let s = section(&doc, "## 1. PHQ-9");
    assert_eq!(PHQ9.stem, bold_after(&s, "Stem: "));
    let items: Vec<_> = rows(&s)
        .into_iter()
        .filter(|r| r[0].parse::<u8>().is_ok_and(|n| (1..=9).contains(&n)) && r.len() == 4)
        .collect();
    assert_eq!(items.len(), 9);
    for (item, row) in PHQ9.items.iter().zip(&items) {
        assert_eq!(item.number.to_string(), row[0]);
        assert_eq!(item.text, row[1], "item {}", item.number);
        assert_eq!(item.loinc, row[2], "item {}", item.number);
    }
    let difficulty = PHQ9.difficulty.unwrap();
    assert_eq!(difficulty.text, bold_after(&s, "Verbatim (Pfizer form): "));
    assert_eq!(difficulty.loinc, Some("69722-7"));
    assert!(s.contains("The item LOINC is **69722-7**"));
    assert!(s.contains(&format!("The standard footer reads: \"{PFIZER_FOOTER}\"")));
}

#[test]
fn answer_options_match_the_fact_sheet() {
    let doc = facts();
    let s = section(&doc, "## 1. PHQ-9");
    let table = rows(&s);
    for option in FREQUENCY {
        assert!(
            table.iter().any(|r| r.len() == 3
                && r[0] == option.value.to_string()
                && r[1] == option.label
                && r[2] == option.loinc),
            "{option:?}"
        );
    }
    for option in DIFFICULTY {
        let code = format!("**{}**", option.loinc);
        assert!(
            table.iter().any(|r| r.len() == 2
                && r[0] == option.label
                && (r[1] == option.loinc || r[1] == code)),
            "{option:?}"
        );
    }
}

#[test]
fn gad7_items_stem_and_codes_match_the_fact_sheet() {
    let doc = facts();
    let s = section(&doc, "## 2. GAD-7");
    assert_eq!(GAD7.stem, bold_after(&s, "Stem (Pfizer form): "));
    let items: Vec<_> = rows(&s)
        .into_iter()
        .filter(|r| r[0].parse::<u8>().is_ok_and(|n| (1..=7).contains(&n)))
        .collect();
    assert_eq!(items.len(), 7);
    for (item, row) in GAD7.items.iter().zip(&items) {
        assert_eq!(item.text, row[1], "item {}", item.number);
        assert_eq!(item.loinc, row[2], "item {}", item.number);
    }
    assert_eq!(
        GAD7.difficulty.unwrap().text,
        bold_after(&s, "Difficulty item (not scored): ")
    );
    assert!(s.contains(&format!("| Total score (0–21) | {} |", GAD7.total_loinc)));
}

#[test]
fn panel_and_total_codes_match_the_loinc_table() {
    let doc = facts();
    let s = section(&doc, "## 3. LOINC code table");
    assert!(s.contains(&format!("| PHQ-9 panel | **{}**", PHQ9.panel_loinc)));
    assert!(s.contains(&format!("| PHQ-9 total | **{}**", PHQ9.total_loinc)));
    assert!(s.contains(&format!(
        "| PHQ-2 panel / total | **{}** / **{}**",
        PHQ2.panel_loinc, PHQ2.total_loinc
    )));
    assert!(s.contains(&format!("| GAD-7 panel | **{}**", GAD7.panel_loinc)));
    assert!(s.contains(&format!("| GAD-7 total | **{}**", GAD7.total_loinc)));
    let item_codes: Vec<&str> = PHQ9.items.iter().map(|i| i.loinc).collect();
    assert!(s.contains(&item_codes.join(", ")));
    let gad_codes: Vec<&str> = GAD7.items.iter().map(|i| i.loinc).collect();
    assert!(s.contains(&format!("| GAD-7 items | {} |", gad_codes.join(", "))));
    // The GAD-7 difficulty code is unverified: we must not claim one.
    assert!(s.contains("| GAD-7 difficulty item | **UNVERIFIED.**"));
    assert_eq!(GAD7.difficulty.unwrap().loinc, None);
}
