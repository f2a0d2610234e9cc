//! Free text from forms. Single-line fields (names, addresses) hold no
//! control characters at all; multi-line fields (messages) hold line breaks
//! and tabs but no other control characters. Neither holds the Unicode
//! controls that change the direction text is displayed in: a name with a
//! right-to-left override reads differently on a staff screen from what was
//! stored, which is how file names and links are disguised.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    Empty,
    TooLong,
    /// A control or bidirectional-override character.
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
    (c.is_control() && !allowed_control) || is_bidi_control(c)
}

fn check(text: &str, max_chars: usize, multi_line: bool) -> Result<(), TextError> {
    if text.is_empty() {
        Err(TextError::Empty)
    } else if text.chars().any(|c| forbidden(c, multi_line)) {
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
    fn multi_lines() {
        assert_eq!(multi_line("Hi\r\nthere\r\n", 100).unwrap(), "Hi\nthere");
        assert_eq!(multi_line("a\tb", 100).unwrap(), "a\tb");
        assert_eq!(multi_line("a\0b", 100), Err(TextError::Forbidden));
        assert_eq!(multi_line("a\u{202D}b", 100), Err(TextError::Forbidden));
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
    }
}
