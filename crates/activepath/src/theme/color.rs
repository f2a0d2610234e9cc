//! Colours as the theme writes them, and WCAG 2.2 contrast between them.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

pub const WHITE: Rgb = Rgb(255, 255, 255);
pub const BLACK: Rgb = Rgb(0, 0, 0);

impl Rgb {
    /// `#rgb`, `#rrggbb` or `rgb(r, g, b)` / `rgb(r g b)`.
    pub fn parse(raw: &str) -> Result<Rgb, String> {
        let s = raw.trim();
        let bad = || {
            format!(
                "{raw:?} is not a colour this site can check; write it as #rrggbb (e.g. #1f5f8b)"
            )
        };
        if let Some(hex) = s.strip_prefix('#') {
            let digit = |i: usize| u8::from_str_radix(hex.get(i..i + 1)?, 16).ok();
            let pair = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
            let rgb = match hex.len() {
                3 => (|| Some(Rgb(digit(0)? * 17, digit(1)? * 17, digit(2)? * 17)))(),
                6 => (|| Some(Rgb(pair(0)?, pair(2)?, pair(4)?)))(),
                _ => None,
            };
            return rgb.ok_or_else(bad);
        }
        let inner = s
            .strip_prefix("rgb(")
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(bad)?;
        let parts: Vec<u8> = inner
            .split([',', ' '])
            .filter(|p| !p.is_empty())
            .map(|p| p.trim().parse::<u8>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        match parts[..] {
            [r, g, b] => Ok(Rgb(r, g, b)),
            _ => Err(bad()),
        }
    }

    /// Relative luminance (WCAG 2.2, sRGB).
    pub fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.0) + 0.7152 * lin(self.1) + 0.0722 * lin(self.2)
    }

    /// `self` moved `amount` (0..=1) of the way to `other`.
    pub fn mix(self, other: Rgb, amount: f64) -> Rgb {
        let m =
            |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * amount).round() as u8;
        Rgb(m(self.0, other.0), m(self.1, other.1), m(self.2, other.2))
    }
}

impl fmt::Display for Rgb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// The contrast ratio of two colours, 1 to 21.
pub fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (a.luminance(), b.luminance());
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse_in_the_usual_spellings() {
        assert_eq!(Rgb::parse("#1f5f8b"), Ok(Rgb(0x1f, 0x5f, 0x8b)));
        assert_eq!(Rgb::parse(" #FFF "), Ok(WHITE));
        assert_eq!(Rgb::parse("rgb(31, 95, 139)"), Ok(Rgb(31, 95, 139)));
        assert_eq!(Rgb::parse("rgb(31 95 139)"), Ok(Rgb(31, 95, 139)));
        for bad in ["blue", "#12", "#12345g", "rgb(1,2)", "rgb(300,0,0)", ""] {
            let e = Rgb::parse(bad).unwrap_err();
            assert!(e.contains("#rrggbb"), "{bad}: {e}");
        }
    }

    #[test]
    fn contrast_matches_the_wcag_reference_values() {
        assert!((contrast(BLACK, WHITE) - 21.0).abs() < 1e-9);
        assert!((contrast(WHITE, WHITE) - 1.0).abs() < 1e-9);
        // #767676 on white is the familiar just-passing grey, 4.54:1.
        let grey = Rgb::parse("#767676").unwrap();
        assert!((contrast(grey, WHITE) - 4.54).abs() < 0.01);
        // Symmetric.
        assert_eq!(contrast(grey, BLACK), contrast(BLACK, grey));
    }

    #[test]
    fn mixing_moves_towards_the_other_colour() {
        assert_eq!(BLACK.mix(WHITE, 0.5), Rgb(128, 128, 128));
        assert_eq!(Rgb(10, 20, 30).mix(WHITE, 0.0), Rgb(10, 20, 30));
        assert_eq!(Rgb(10, 20, 30).mix(BLACK, 1.0), BLACK);
    }
}
