//! Relay and contact invites on arbitrary text: parsing never panics, and a
//! contact invite that parses prints back to text that parses to the same
//! invite.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sotto_core::app::ContactInvite;
use sotto_core::relay::invite::RelayInvite;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = RelayInvite::parse(text);
    if let Ok(invite) = ContactInvite::parse(text) {
        let again = ContactInvite::parse(&invite.to_string());
        assert!(again.is_ok_and(|again| again == invite));
    }
});
