//! The two facts sockeye reads from a certificate itself, outside webpki: its validity dates
//! (to check a pinned certificate, which webpki cannot verify as a server certificate when it is
//! marked as a CA) and whether it is marked as a CA (to say so when it is refused).
//!
//! Only what RFC 5280 section 4.1 puts before those fields is walked, in DER: a certificate that
//! does not parse gives `None`, and the caller treats that as a bad encoding.

use std::time::Duration;

use rustls::pki_types::UnixTime;

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// `[0] EXPLICIT Version`.
const VERSION: u8 = 0xA0;
/// `[3] EXPLICIT Extensions`.
const EXTENSIONS: u8 = 0xA3;
/// id-ce-basicConstraints, 2.5.29.19.
const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1D, 0x13];

/// When a certificate is valid: `notBefore` and `notAfter`, inclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Validity {
    pub(super) not_before: UnixTime,
    pub(super) not_after: UnixTime,
}

/// The fields of a `TBSCertificate` up to and including `validity`, and what follows it.
struct Tbs<'a> {
    validity: &'a [u8],
    after_validity: &'a [u8],
}

/// The validity period of a DER certificate.
pub(super) fn validity(cert: &[u8]) -> Option<Validity> {
    let tbs = tbs(cert)?;
    let (not_before, rest) = time(tbs.validity)?;
    let (not_after, rest) = time(rest)?;
    if !rest.is_empty() {
        return None;
    }
    Some(Validity {
        not_before,
        not_after,
    })
}

/// Whether a DER certificate says it is a CA (basicConstraints with `cA` true).
pub(super) fn is_ca(cert: &[u8]) -> Option<bool> {
    let tbs = tbs(cert)?;
    // subject, subjectPublicKeyInfo, then optional unique IDs and extensions.
    let (_, rest) = expect(tbs.after_validity, SEQUENCE)?;
    let (_, mut rest) = expect(rest, SEQUENCE)?;
    while let Some((tag, body, after)) = element(rest) {
        rest = after;
        if tag != EXTENSIONS {
            continue;
        }
        let (mut extensions, _) = expect(body, SEQUENCE)?;
        while !extensions.is_empty() {
            let (extension, after) = expect(extensions, SEQUENCE)?;
            extensions = after;
            let (oid, fields) = expect(extension, OID)?;
            if oid != BASIC_CONSTRAINTS {
                continue;
            }
            let fields = match element(fields)? {
                (BOOLEAN, _, after) => after, // critical
                _ => fields,
            };
            let (value, _) = expect(fields, OCTET_STRING)?;
            let (constraints, _) = expect(value, SEQUENCE)?;
            return Some(matches!(
                element(constraints),
                Some((BOOLEAN, [flag], _)) if *flag != 0
            ));
        }
    }
    Some(false)
}

fn tbs(cert: &[u8]) -> Option<Tbs<'_>> {
    let (cert, _) = expect(cert, SEQUENCE)?;
    let (tbs, _) = expect(cert, SEQUENCE)?;
    let rest = match element(tbs)? {
        (VERSION, _, after) => after,
        _ => tbs,
    };
    let (_serial, rest) = expect(rest, INTEGER)?;
    let (_signature, rest) = expect(rest, SEQUENCE)?;
    let (_issuer, rest) = expect(rest, SEQUENCE)?;
    let (validity, after_validity) = expect(rest, SEQUENCE)?;
    Some(Tbs {
        validity,
        after_validity,
    })
}

/// One DER element: its tag, its contents, and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7F);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let len = bytes
            .iter()
            .fold(0usize, |len, byte| len << 8 | usize::from(*byte));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (body, after) = rest.split_at(len);
    Some((tag, body, after))
}

/// The contents of an element that must have tag `tag`, and what follows it.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    match element(input)? {
        (found, body, after) if found == tag => Some((body, after)),
        _ => None,
    }
}

/// A `Time` (RFC 5280 section 4.1.2.5): UTCTime `YYMMDDHHMMSSZ` (years 1950 to 2049) or
/// GeneralizedTime `YYYYMMDDHHMMSSZ`.
fn time(input: &[u8]) -> Option<(UnixTime, &[u8])> {
    let (tag, text, rest) = element(input)?;
    let (year, text) = match tag {
        UTC_TIME if text.len() == 13 => {
            let year = number(&text[..2])?;
            (
                if year >= 50 { 1900 + year } else { 2000 + year },
                &text[2..],
            )
        }
        GENERALIZED_TIME if text.len() == 15 => (number(&text[..4])?, &text[4..]),
        _ => return None,
    };
    if text[10] != b'Z' {
        return None;
    }
    let field = |at: usize| number(&text[at..at + 2]);
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    // Before 1970 is as good as 1970 for a `notBefore`, and no certificate expires then.
    let seconds = u64::try_from(seconds).unwrap_or(0);
    Some((
        UnixTime::since_unix_epoch(Duration::from_secs(seconds)),
        rest,
    ))
}

/// ASCII digits as a number.
fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |value, digit| {
        digit
            .is_ascii_digit()
            .then(|| value * 10 + u32::from(digit - b'0'))
    })
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use rcgen::{date_time_ymd, BasicConstraints, CertificateParams, IsCa, KeyPair};

    use super::*;

    fn secs(time: UnixTime) -> u64 {
        time.as_secs()
    }

    fn self_signed(is_ca: IsCa, from: (i32, u8, u8), to: (i32, u8, u8)) -> Vec<u8> {
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("parameters");
        params.is_ca = is_ca;
        params.not_before = date_time_ymd(from.0, from.1, from.2);
        params.not_after = date_time_ymd(to.0, to.1, to.2);
        let key = KeyPair::generate().expect("a key");
        params
            .self_signed(&key)
            .expect("a certificate")
            .der()
            .to_vec()
    }

    #[test]
    fn dates_are_read_in_both_time_forms() {
        // rcgen writes UTCTime before 2050 and GeneralizedTime from 2050 on, as RFC 5280 asks.
        let cert = self_signed(IsCa::NoCa, (2020, 1, 1), (2049, 12, 31));
        let dates = validity(&cert).expect("the dates");
        assert_eq!(secs(dates.not_before), 1_577_836_800);
        assert_eq!(secs(dates.not_after), 2_524_521_600);

        let cert = self_signed(IsCa::NoCa, (1960, 2, 29), (2100, 3, 1));
        let dates = validity(&cert).expect("the dates");
        assert_eq!(secs(dates.not_before), 0, "before 1970 counts as 1970");
        assert_eq!(secs(dates.not_after), 4_107_542_400);
    }

    #[test]
    fn the_ca_flag_is_read_from_basic_constraints() {
        let dates = ((2020, 1, 1), (2040, 1, 1));
        let ca = self_signed(IsCa::Ca(BasicConstraints::Unconstrained), dates.0, dates.1);
        assert_eq!(is_ca(&ca), Some(true));
        let not_ca = self_signed(IsCa::ExplicitNoCa, dates.0, dates.1);
        assert_eq!(is_ca(&not_ca), Some(false));
        let no_extension = self_signed(IsCa::NoCa, dates.0, dates.1);
        assert_eq!(is_ca(&no_extension), Some(false));
    }

    #[test]
    fn what_is_not_a_certificate_is_none() {
        for bytes in [
            &b""[..],
            b"\x30",
            b"\x30\x82\xff\xff",
            b"\x30\x03\x02\x01\x00",
        ] {
            assert_eq!(validity(bytes), None, "{bytes:?}");
            assert_eq!(is_ca(bytes), None, "{bytes:?}");
        }
        let cert = self_signed(IsCa::NoCa, (2020, 1, 1), (2040, 1, 1));
        assert_eq!(validity(&cert[..cert.len() / 2]), None);
    }

    /// `is_ca` reads certificates a server sent: every truncation and every single-byte change
    /// of a real certificate must give an answer or `None`, never a panic.
    #[test]
    fn damaged_certificates_never_panic() {
        let cert = self_signed(
            IsCa::Ca(BasicConstraints::Unconstrained),
            (2020, 1, 1),
            (2040, 1, 1),
        );
        for end in 0..cert.len() {
            let _ = (is_ca(&cert[..end]), validity(&cert[..end]));
        }
        let mut damaged = cert.to_vec();
        for at in 0..damaged.len() {
            for value in [0x00, 0x7f, 0x80, 0x81, 0x84, 0x85, 0xff] {
                let original = std::mem::replace(&mut damaged[at], value);
                let _ = (is_ca(&damaged), validity(&damaged));
                damaged[at] = original;
            }
        }
    }

    #[test]
    fn days_count_from_1970() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }
}
