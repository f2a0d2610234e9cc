//! The second factor: time-based one-time codes (RFC 6238: SHA-1, six
//! digits, 30-second steps, one step of clock drift either way), which every
//! authenticator app reads from a QR code.

use totp_rs::{Algorithm, Builder, Totp};

/// 160 random bits, the size RFC 4226 recommends.
pub fn new_secret() -> Vec<u8> {
    let mut secret = vec![0u8; 20];
    getrandom::fill(&mut secret).expect("the operating system's random source failed");
    secret
}

fn totp(secret: &[u8], account: &str, issuer: &str) -> Totp {
    // ':' separates issuer and account in the otpauth label.
    let clean = |s: &str| s.replace(':', " ");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret.to_vec())
        .with_account_name(clean(account))
        .with_issuer(Some(clean(issuer)))
        .build()
        .expect("a 20-byte secret and 6 digits are valid")
}

/// The secret as people type it into an app that cannot scan: base32.
pub fn secret_text(secret: &[u8]) -> String {
    totp(secret, "x", "x").secret().to_base32()
}

/// The `otpauth://` address an app scans.
pub fn provisioning_url(secret: &[u8], account: &str, issuer: &str) -> String {
    totp(secret, account, issuer)
        .to_url()
        .expect("the account and issuer are set")
}

/// The address as a QR code, an SVG document drawn here (no script, no
/// outside service).
pub fn qr_svg(url: &str) -> String {
    qrcode::QrCode::new(url.as_bytes())
        .expect("an otpauth address fits in a QR code")
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build()
}

/// The time step whose code `code` is at `unix_seconds`, within one step
/// either way.
pub fn check(secret: &[u8], code: &str, unix_seconds: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    totp(secret, "x", "x").check(&code, unix_seconds)
}

/// The code at `unix_seconds` (for tests, and for nothing else).
pub fn code_at(secret: &[u8], unix_seconds: u64) -> String {
    totp(secret, "x", "x").generate(unix_seconds).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_test_vector() {
        // RFC 6238 appendix B, SHA-1: secret "12345678901234567890", T = 59 s.
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59), "287082");
        assert_eq!(code_at(secret, 1111111109), "081804");
        assert_eq!(check(secret, "081804", 1111111109), Some(1111111109 / 30));
        assert_eq!(
            check(secret, "081 804", 1111111109 + 30),
            Some(1111111109 / 30)
        );
        assert_eq!(check(secret, "081804", 1111111109 + 95), None);
        assert_eq!(check(secret, "81804", 1111111109), None);
    }

    #[test]
    fn the_qr_code_is_an_svg_without_script_or_style() {
        let url = provisioning_url(&new_secret(), "a@clinic.example", "Riverbend: Mood");
        assert!(
            url.starts_with("otpauth://totp/Riverbend%20%20Mood:a%40clinic.example?"),
            "{url}"
        );
        let svg = qr_svg(&url);
        assert!(svg.contains("<svg") && !svg.contains("<script") && !svg.contains("style="));
    }
}
