//! Phone numbers as thread keys: normalised to E.164 through `phonenumber`
//! (a port of Google's libphonenumber), with the user's home region for
//! numbers written without a country code.
//!
//! Not every SMS sender is a phone number: short codes ("87121") and
//! alphanumeric sender ids ("Vodafone") cannot be written in E.164. They are
//! kept as they are (short codes without separators), so that they still
//! thread consistently; [`PhoneNumber::is_e164`] tells them apart.
//!
//! A phone number is user data: its `Debug` form is redacted, errors never
//! carry it, and the only way to read it is [`PhoneNumber::as_str`].

use std::str::FromStr;

use crate::error::{Error, Result};

/// The longest alphanumeric sender id (TS 23.040 §9.1.2.5: 11 characters).
const MAX_ALPHANUMERIC: usize = 11;
/// Short codes are at most 8 digits in every numbering plan we know.
const MAX_SHORT_CODE: usize = 8;

/// A normalised SMS address: E.164 (`+4915112345678`), a short code, or an
/// alphanumeric sender id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

impl std::fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PhoneNumber(..)")
    }
}

impl PhoneNumber {
    /// Normalises `input` as written by a user or reported by the phone.
    /// `default_region` (an ISO 3166 code such as `"DE"`) applies to numbers
    /// without a country code.
    pub fn parse(input: &str, default_region: &str) -> Result<Self> {
        let trimmed = input.trim();
        let region = phonenumber::country::Id::from_str(&default_region.to_ascii_uppercase())
            .map_err(|_| Error::InvalidPhoneNumber)?;
        let digits: String = trimmed.chars().filter(|c| c.is_ascii_digit()).collect();
        let separators_only = trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || " -.()".contains(c));
        // Short codes first: libphonenumber would read "87121" as a (bogus)
        // subscriber number of the default region.
        if separators_only && !digits.is_empty() && digits.len() <= MAX_SHORT_CODE {
            return Ok(Self(digits));
        }
        if let Ok(number) = phonenumber::parse(Some(region), trimmed) {
            if phonenumber::is_valid(&number) {
                let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
                return Ok(Self(e164));
            }
        }
        let alphanumeric = !trimmed.is_empty()
            && trimmed.chars().count() <= MAX_ALPHANUMERIC
            && trimmed.chars().any(|c| c.is_ascii_alphabetic())
            && trimmed
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " -.&".contains(c));
        if alphanumeric {
            return Ok(Self(trimmed.to_owned()));
        }
        Err(Error::InvalidPhoneNumber)
    }

    /// Rebuilds a number stored by [`PhoneNumber::as_str`]. Only checks the
    /// form, since it was normalised before it was stored.
    pub fn from_stored(text: String) -> Result<Self> {
        let ok = !text.is_empty()
            && text.len() <= 16
            && (text.starts_with('+') && text[1..].chars().all(|c| c.is_ascii_digit())
                || text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || " -.&".contains(c)));
        if ok {
            Ok(Self(text))
        } else {
            Err(Error::InvalidPhoneNumber)
        }
    }

    /// The normalised form (E.164 with a leading `+`, or the short code or
    /// sender id). This is user data: do not log it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a real phone number in E.164 (one that can answer a
    /// handshake), not a short code or sender id.
    pub fn is_e164(&self) -> bool {
        self.0.starts_with('+')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_normalise_to_e164_with_the_default_region() -> Result<()> {
        let berlin = PhoneNumber::parse("+49 30 901820", "DE")?;
        assert_eq!(berlin.as_str(), "+4930901820");
        assert_eq!(PhoneNumber::parse("030 901820", "DE")?, berlin);
        assert_eq!(PhoneNumber::parse("0049 (30) 90-18-20", "de")?, berlin);
        assert_eq!(PhoneNumber::parse("+4930901820", "US")?, berlin);
        let us = PhoneNumber::parse("(650) 253-0000", "US")?;
        assert_eq!(us.as_str(), "+16502530000");
        assert!(us.is_e164());
        Ok(())
    }

    #[test]
    fn short_codes_and_sender_ids_are_kept() -> Result<()> {
        let short = PhoneNumber::parse("87121", "GB")?;
        assert_eq!(short.as_str(), "87121");
        assert!(!short.is_e164());
        assert_eq!(PhoneNumber::parse("Vodafone", "GB")?.as_str(), "Vodafone");
        Ok(())
    }

    #[test]
    fn junk_is_refused_without_echoing_it() {
        for junk in [
            "",
            "+",
            "hello world, how are you",
            "+49 30 9018201234567890",
            "☎",
        ] {
            let err = PhoneNumber::parse(junk, "DE").expect_err(junk);
            assert!(!err.to_string().contains(junk) || junk.is_empty());
        }
        assert!(PhoneNumber::parse("+4930901820", "XX").is_err());
    }

    #[test]
    fn debug_is_redacted() -> Result<()> {
        let number = PhoneNumber::parse("+4930901820", "DE")?;
        assert_eq!(format!("{number:?}"), "PhoneNumber(..)");
        Ok(())
    }
}
