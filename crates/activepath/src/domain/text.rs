//! Free text from forms. Single-line fields (names, addresses) hold no
//! control characters at all; multi-line fields (messages) hold line breaks
//! and tabs but no other control characters. Neither holds the Unicode
//! controls that change the direction text is displayed in: a name with a
//! right-to-left override reads differently on a staff screen from what was
//! stored, which is how file names and links are disguised.
//!
//! Single-line fields also hold nothing invisible: no format character
//! (Unicode general category Cf: zero-width space, word joiner, soft
//! hyphen, byte-order mark, tag characters, …), no other default-ignorable
//! character (variation selectors out of place, the combining grapheme
//! joiner, Hangul fillers) and no braille blank. Each of them lets two
//! names that look the same on a screen be different records, or a name
//! carry text nobody sees (tag characters spell ASCII invisibly). Two of
//! them are parts of real words, and are kept where they do that work: the
//! zero-width non-joiner and joiner between letters of the scripts that
//! write with them (Persian "علی‌رضا"; Arabic, Syriac, N'Ko, the Indic
//! scripts, Myanmar, Khmer, Mongolian) or right after a virama (Sinhala
//! "ශ්‍රී", a Malayalam chillu); the joiner inside an emoji sequence; a
//! variation selector right after what it selects (an emoji, a CJK
//! ideograph, a Mongolian letter). Anywhere else (between Latin letters,
//! at the start, beside a space) they do nothing but hide. Multi-line
//! text (messages, a reason, notes) is not held to this: it is read, not
//! compared, and pasted text often carries soft hyphens and zero-width
//! spaces the writer cannot see, let alone remove.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    Empty,
    TooLong,
    /// A control or bidirectional-override character, or (on one line) an
    /// invisible one.
    Forbidden,
}

/// Bidirectional formatting characters (Unicode TR9): embeddings,
/// overrides, isolates and the implicit marks.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

fn forbidden(c: char, multi_line: bool) -> bool {
    let allowed_control = multi_line && matches!(c, '\n' | '\t');
    // The line and paragraph separators break a line as `\n` does.
    let line_break = !multi_line && matches!(c, '\u{2028}' | '\u{2029}');
    (c.is_control() && !allowed_control) || is_bidi_control(c) || line_break
}

/// Unicode general category Cf (Format), as of Unicode 18.0: characters
/// that shape or mark the text around them and draw nothing themselves
/// (the bidirectional controls among them).
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

const ZWNJ: char = '\u{200C}';
const ZWJ: char = '\u{200D}';

/// Characters that are not format characters but draw as nothing, or as
/// nothing of their own: the other default-ignorable code points (Unicode
/// DerivedCoreProperties) and the blanks that are letters or symbols
/// (Hangul fillers, the braille blank), which pass for a space or for
/// nothing at all.
fn is_blank(c: char) -> bool {
    matches!(
        c,
        '\u{034F}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180D}'
            | '\u{180F}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// Letters of the scripts that are written with the zero-width non-joiner
/// and joiner: Arabic (Persian, Urdu, Kurdish, …), Syriac, Thaana, N'Ko and
/// their extensions; the Indic scripts from Devanagari to Sinhala;
/// Myanmar, Khmer and Mongolian; Arabic presentation forms.
fn joins_with_zw(c: char) -> bool {
    matches!(
        c,
        '\u{0600}'..='\u{08FF}'
            | '\u{0900}'..='\u{0DFF}'
            | '\u{1000}'..='\u{109F}'
            | '\u{1780}'..='\u{18AF}'
            | '\u{A8E0}'..='\u{A8FF}'
            | '\u{FB50}'..='\u{FDFF}'
            | '\u{FE70}'..='\u{FEFC}'
    ) && !is_format(c)
}

/// Pictographs that take an emoji presentation selector or join into an
/// emoji sequence (arrows, symbols, dingbats, the emoji planes).
fn is_emoji(c: char) -> bool {
    matches!(
        c,
        '\u{00A9}'
            | '\u{00AE}'
            | '\u{203C}'
            | '\u{2049}'
            | '\u{2122}'
            | '\u{2139}'
            | '\u{2190}'..='\u{21FF}'
            | '\u{2300}'..='\u{23FF}'
            | '\u{24C2}'
            | '\u{25A0}'..='\u{27BF}'
            | '\u{2900}'..='\u{297F}'
            | '\u{2B00}'..='\u{2BFF}'
            | '\u{3030}'
            | '\u{303D}'
            | '\u{3297}'
            | '\u{3299}'
            | '\u{1F000}'..='\u{1FAFF}'
    )
}

/// The viramas (canonical combining class 9) of the scripts in
/// [`joins_with_zw`]: after one, a joiner or non-joiner chooses the form
/// of the conjunct, also at the end of a word (the IDNA rule, RFC 5892).
fn is_virama(c: char) -> bool {
    matches!(
        c,
        '\u{094D}'
            | '\u{09CD}'
            | '\u{0A4D}'
            | '\u{0ACD}'
            | '\u{0B4D}'
            | '\u{0BCD}'
            | '\u{0C4D}'
            | '\u{0CCD}'
            | '\u{0D3B}'..='\u{0D3C}'
            | '\u{0D4D}'
            | '\u{0DCA}'
            | '\u{1039}'..='\u{103A}'
            | '\u{17D2}'
    )
}

/// CJK ideographs, which take ideographic variation selectors.
fn is_ideograph(c: char) -> bool {
    matches!(
        c,
        '\u{3400}'..='\u{4DBF}'
            | '\u{4E00}'..='\u{9FFF}'
            | '\u{F900}'..='\u{FAFF}'
            | '\u{20000}'..='\u{3FFFF}'
    )
}

/// Whether `c`, between `before` and `after`, is an invisible character
/// doing a visible job there (see the module's note); anything else
/// invisible is not.
fn needed_here(c: char, before: Option<char>, after: Option<char>) -> bool {
    let emoji_part = |x: char| is_emoji(x) || x == '\u{FE0F}';
    match c {
        ZWNJ | ZWJ
            if before.is_some_and(is_virama)
                || (before.is_some_and(joins_with_zw) && after.is_some_and(joins_with_zw)) =>
        {
            true
        }
        ZWJ => before.is_some_and(emoji_part) && after.is_some_and(is_emoji),
        '\u{FE0E}' | '\u{FE0F}' => before.is_some_and(is_emoji),
        '\u{FE00}'..='\u{FE0D}' | '\u{E0100}'..='\u{E01EF}' => before.is_some_and(is_ideograph),
        '\u{180B}'..='\u{180D}' | '\u{180F}' => {
            before.is_some_and(|b| matches!(b, '\u{1820}'..='\u{18AF}'))
        }
        _ => false,
    }
}

/// Whether single-line `text` holds a character that hides: one that
/// draws as nothing where it stands.
fn hides_something(text: &str) -> bool {
    let mut before = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if (is_format(c) || is_blank(c)) && !needed_here(c, before, chars.peek().copied()) {
            return true;
        }
        before = Some(c);
    }
    false
}

fn check(text: &str, max_chars: usize, multi_line: bool) -> Result<(), TextError> {
    if text.is_empty() {
        Err(TextError::Empty)
    } else if text.chars().any(|c| forbidden(c, multi_line))
        || (!multi_line && hides_something(text))
    {
        Err(TextError::Forbidden)
    } else if text.chars().count() > max_chars {
        Err(TextError::TooLong)
    } else {
        Ok(())
    }
}

/// One line of text, trimmed, 1 to `max_chars` characters.
pub fn single_line(raw: &str, max_chars: usize) -> Result<String, TextError> {
    let text = raw.trim();
    check(text, max_chars, false)?;
    Ok(text.to_string())
}

/// Several lines, trimmed, with Windows and old Mac line ends made `\n`.
pub fn multi_line(raw: &str, max_chars: usize) -> Result<String, TextError> {
    let text = raw.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.trim();
    check(text, max_chars, true)?;
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn single_lines() {
        assert_eq!(single_line("  Ana Rivera ", 100).unwrap(), "Ana Rivera");
        assert_eq!(
            single_line("José Ñúñez-O'Brien", 100).unwrap(),
            "José Ñúñez-O'Brien"
        );
        assert_eq!(single_line("   ", 100), Err(TextError::Empty));
        for bad in [
            "Ana\0",
            "Ana\nBob",
            "Ana\rBob",
            "Ana\tB",
            "Ana\u{202E}gpj.exe",
            "\u{2067}x",
            "a\u{7f}",
        ] {
            assert_eq!(single_line(bad, 100), Err(TextError::Forbidden), "{bad:?}");
        }
        assert_eq!(single_line(&"é".repeat(101), 100), Err(TextError::TooLong));
        assert!(single_line(&"é".repeat(100), 100).is_ok());
    }

    #[test]
    fn invisible_characters_are_refused_on_one_line() {
        for bad in [
            "Ana\u{200B}Rivera",
            "\u{200B}Ana",
            "Ana\u{200B}",
            "Ana\u{200C}Rivera",
            "Ana\u{200D}Rivera",
            "Ana \u{200D}Rivera",
            "\u{200D}",
            "A\u{00AD}na",
            "Ana\u{2060}",
            "Ana\u{2061}b",
            "Ana\u{2062}b",
            "Ana\u{2063}b",
            "Ana\u{2064}b",
            "\u{FEFF}Ana",
            "Ana\u{180E}",
            "Ana\u{E0041}\u{E0042}",
            "Ana\u{E0001}",
            "Ana\u{E007F}",
            "\u{0600}12",
            "a\u{FFF9}b\u{FFFA}c\u{FFFB}",
            "Ana\u{034F}",
            "Ana\u{3164}",
            "\u{3164}",
            "\u{115F}\u{1160}",
            "Ana\u{FFA0}",
            "Ana\u{2800}Rivera",
            "Ana\u{FE0F}",
            "Ana\u{E0100}",
            "Ana\u{17B4}",
            "Ana\u{2028}Bob",
            "Ana\u{2029}Bob",
            // Between letters of scripts that use them, but at an end.
            "\u{200C}علی",
            "علی\u{200C}",
            "علی\u{200C} رضا",
            // A joiner before a virama joins nothing.
            "Ana\u{200D}\u{094D}",
            // A joiner after an emoji, but not before one.
            "Ana 👍\u{200D}",
            "Ana 👍\u{200D}b",
        ] {
            assert_eq!(single_line(bad, 100), Err(TextError::Forbidden), "{bad:?}");
        }
    }

    #[test]
    fn joiners_stay_where_a_script_or_an_emoji_needs_them() {
        for ok in [
            // Persian: Alireza, with the non-joiner between its parts.
            "علی\u{200C}رضا",
            "می\u{200C}خواهم",
            // Sinhala "Sri": a joiner after the virama.
            "ශ්\u{200D}රී",
            // Devanagari and Malayalam half forms, Bengali ya-phala.
            "क्\u{200D}ष",
            "क्\u{200C}ष",
            // A Malayalam chillu as older keyboards write it: a joiner
            // after the virama at the end of a word.
            "ന്\u{200D}",
            "ന്\u{200D} ക",
            // Emoji sequences: family, rainbow flag, woman running.
            "Ana 👩\u{200D}👩\u{200D}👧",
            "Ana 🏳\u{FE0F}\u{200D}🌈",
            "Ana 🏃\u{200D}♀\u{FE0F}",
            "Ana ❤\u{FE0F}",
            // A CJK name with an ideographic variation selector.
            "葛\u{E0100}飾",
        ] {
            assert_eq!(single_line(ok, 100), Ok(ok.to_string()), "{ok:?}");
        }
    }

    #[test]
    fn the_format_table_matches_unicode_at_the_edge_of_each_range() {
        // Spot checks at the edges of each range, against the Unicode
        // Character Database's Cf list.
        for c in [
            '\u{00AD}',
            '\u{0600}',
            '\u{0605}',
            '\u{061C}',
            '\u{06DD}',
            '\u{070F}',
            '\u{0890}',
            '\u{0891}',
            '\u{08E2}',
            '\u{180E}',
            '\u{200B}',
            '\u{200F}',
            '\u{202A}',
            '\u{202E}',
            '\u{2060}',
            '\u{2064}',
            '\u{2066}',
            '\u{206F}',
            '\u{FEFF}',
            '\u{FFF9}',
            '\u{FFFB}',
            '\u{110BD}',
            '\u{110CD}',
            '\u{13430}',
            '\u{1343F}',
            '\u{1BCA0}',
            '\u{1BCA3}',
            '\u{1D173}',
            '\u{1D17A}',
            '\u{E0001}',
            '\u{E0020}',
            '\u{E007F}',
        ] {
            assert!(is_format(c), "{c:?}");
        }
        for c in [
            '\u{00AC}',
            '\u{00AE}',
            '\u{0606}',
            '\u{061B}',
            '\u{0892}',
            '\u{2065}',
            '\u{2070}',
            '\u{FFFC}',
            '\u{13440}',
            '\u{1D17B}',
            '\u{E0002}',
            '\u{E0080}',
            'a',
            ' ',
        ] {
            assert!(!is_format(c), "{c:?}");
        }
        // Every bidirectional control is a format character.
        for c in ('\0'..='\u{10FFFF}').filter(|c| is_bidi_control(*c)) {
            assert!(is_format(c), "{c:?}");
        }
    }

    #[test]
    fn multi_lines() {
        assert_eq!(multi_line("Hi\r\nthere\r\n", 100).unwrap(), "Hi\nthere");
        assert_eq!(multi_line("a\tb", 100).unwrap(), "a\tb");
        assert_eq!(multi_line("a\0b", 100), Err(TextError::Forbidden));
        assert_eq!(multi_line("a\u{202D}b", 100), Err(TextError::Forbidden));
        // Pasted text keeps its invisible marks: it is read, not compared.
        assert_eq!(
            multi_line("co\u{00AD}operate\u{200B}", 100).unwrap(),
            "co\u{00AD}operate\u{200B}"
        );
    }

    proptest! {
        #[test]
        fn accepted_text_never_holds_a_forbidden_character(s in "\\PC*|[\\x00-\\x1f\\u{202a}-\\u{202e}a-z ]*") {
            if let Ok(t) = single_line(&s, 1000) {
                prop_assert!(!t.chars().any(|c| c.is_control() || is_bidi_control(c)));
                prop_assert_eq!(t.trim(), t.as_str());
            }
            if let Ok(t) = multi_line(&s, 1000) {
                prop_assert!(!t.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)));
            }
        }

        /// Whatever the text around it, one invisible character outside
        /// the places it is needed makes a single line refused, and the
        /// same line without it is not refused for that.
        #[test]
        fn an_invisible_character_in_a_name_is_refused(
            before in "[A-Za-zÀ-ÿ' -]{0,20}",
            after in "[A-Za-zÀ-ÿ' -]{0,20}",
            hidden in prop::sample::select(vec![
                '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{2061}', '\u{2062}', '\u{2063}',
                '\u{2064}', '\u{FEFF}', '\u{00AD}', '\u{180E}', '\u{034F}', '\u{3164}', '\u{115F}',
                '\u{1160}', '\u{2800}', '\u{FFA0}', '\u{FE0F}', '\u{E0020}', '\u{E0041}', '\u{E007F}',
                '\u{E0001}', '\u{E0100}', '\u{17B5}', '\u{2066}', '\u{206A}',
            ]),
        ) {
            let name = format!("Ana{before}{hidden}{after}Rivera");
            prop_assert_eq!(single_line(&name, 100), Err(TextError::Forbidden));
            let plain = format!("Ana{before}{after}Rivera");
            prop_assert_eq!(single_line(&plain, 100), Ok(plain.clone()));
        }

        /// Anything accepted on one line has no invisible character
        /// outside a joining script, an emoji or an ideograph.
        #[test]
        fn accepted_lines_show_every_character(s in "\\PC{0,30}|[a-z\u{200b}-\u{200d}\u{2060}\u{feff}\u{3164}\u{e0041} ]{0,30}") {
            if let Ok(t) = single_line(&s, 1000) {
                let chars: Vec<char> = t.chars().collect();
                for (i, &c) in chars.iter().enumerate() {
                    if is_format(c) || is_blank(c) {
                        let before = i.checked_sub(1).map(|j| chars[j]);
                        prop_assert!(before.is_some_and(|b| joins_with_zw(b) || is_emoji(b) || is_ideograph(b) || b == '\u{FE0F}' || ('\u{1820}'..='\u{18AF}').contains(&b)), "{:?} in {:?}", c, t);
                    }
                }
            }
        }
    }
}
