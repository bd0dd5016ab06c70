//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP, HMAC-SHA-1, 6 digits, 30 s
//! steps): what authenticator apps compute. Secrets are 160 random bits, shown to the user once
//! in base32 (RFC 4648, no padding) and as an `otpauth://` URI.

use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::{MetaError, Result};

/// Seconds per step.
pub const STEP_SECS: i64 = 30;
/// Steps accepted either side of now (clock drift between server and phone).
const SKEW: i64 = 1;
const DIGITS: u32 = 6;
const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A new random secret, base32.
pub fn generate_totp_secret() -> Result<String> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).map_err(|e| MetaError::Random(e.to_string()))?;
    Ok(base32(&bytes))
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(B32[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(B32[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes base32 (case, spaces and padding ignored, as users type it); `None` if invalid.
fn unbase32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| !matches!(c, b' ' | b'-' | b'=')) {
        let v = B32.iter().position(|x| *x == c.to_ascii_uppercase())?;
        acc = (acc << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The HOTP value of `key` at `counter` with `digits` digits (RFC 4226 section 5.3).
fn hotp(key: &[u8], counter: u64, digits: u32) -> Option<u32> {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).ok()?;
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = usize::from(h.last()? & 0x0f);
    let bin = u32::from_be_bytes(h.get(off..off + 4)?.try_into().ok()?) & 0x7fff_ffff;
    Some(bin % 10u32.pow(digits))
}

/// The 6-digit code of `secret` (base32) at time step `step`.
pub fn totp_code(secret: &str, step: i64) -> Option<String> {
    let key = unbase32(secret)?;
    let code = hotp(&key, u64::try_from(step).ok()?, DIGITS)?;
    Some(format!("{code:06}"))
}

/// The step of `unix_secs`.
pub fn step_of(unix_secs: i64) -> i64 {
    unix_secs.div_euclid(STEP_SECS)
}

/// The step, within one step of `unix_secs`, whose code is `code`; `None` when none is. The
/// caller refuses a step at or before the last one used (a code works once).
pub fn verify_totp(secret: &str, code: &str, unix_secs: i64) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_of(unix_secs);
    (now - SKEW..=now + SKEW).find(|s| {
        totp_code(secret, *s).is_some_and(|c| {
            // Constant-time comparison: a timing difference would leak digits.
            c.bytes()
                .zip(code.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        })
    })
}

/// The `otpauth://` URI authenticator apps import (as text or QR code).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &str) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1: the key is the ASCII of "12345678901234567890".
    #[test]
    fn rfc_6238_test_vectors() {
        let key = b"12345678901234567890";
        for (t, want) in [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000_i64, 65_353_130),
        ] {
            let step = u64::try_from(step_of(t)).unwrap();
            assert_eq!(hotp(key, step, 8), Some(want), "T = {t}");
        }
        let secret = base32(key);
        assert_eq!(secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(totp_code(&secret, step_of(59)).as_deref(), Some("287082"));
    }

    #[test]
    fn codes_verify_within_one_step_and_nothing_else() {
        let s = generate_totp_secret().unwrap();
        assert_eq!(s.len(), 32);
        assert_eq!(unbase32(&s).map(|b| b.len()), Some(20));
        let now = 1_700_000_000;
        let code = totp_code(&s, step_of(now)).unwrap();
        assert_eq!(verify_totp(&s, &code, now), Some(step_of(now)));
        assert_eq!(verify_totp(&s, &code, now + 30), Some(step_of(now)));
        assert_eq!(verify_totp(&s, &code, now + 90), None);
        assert_eq!(verify_totp(&s, "12345", now), None);
        assert_eq!(verify_totp(&s, "abcdef", now), None);
        assert_eq!(
            verify_totp(&s.to_lowercase(), &format!(" {code} "), now),
            Some(step_of(now)),
            "users type secrets and codes loosely"
        );
        assert!(unbase32("not base32!").is_none());
        let uri = otpauth_uri("Kasbah", "ana@soc", &s);
        assert!(
            uri.starts_with("otpauth://totp/Kasbah:ana%40soc?secret="),
            "{uri}"
        );
    }
}
