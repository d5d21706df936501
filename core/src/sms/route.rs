//! Which way one message goes: relay, encrypted SMS, or plain SMS/MMS.
//!
//! [`choose_route`] is a pure function of what we know about the recipient
//! and the network ([`RouteFacts`]) and the user's policy
//! ([`TransportPolicy`]); [`route_facts`] gathers the facts from the store.
//!
//! The rules, in order:
//! 1. A recipient on Sotto (we hold their identity key) always gets an
//!    encrypted route. Never is a Sotto contact silently downgraded to
//!    plain SMS: that needs the user's explicit choice for the message.
//!    - relay, when they have one, data is up and "SMS only" is off;
//!    - encrypted SMS, when we have their number and "never send encrypted
//!      texts by SMS" is off;
//!    - otherwise, if they have a relay and the policy allows it, the
//!      message waits in the outbox for data;
//!    - otherwise there is no route, and the app says why.
//! 2. Anyone else gets plain SMS, or plain MMS when there are attachments,
//!    which the model marks as not encrypted.

use crate::error::{Error, Result};
use crate::store::{ContactId, SottoStore};

/// The user's transport settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportPolicy {
    /// "Never send encrypted texts by SMS" (say, SMS costs money abroad,
    /// or the user does not want the carrier to see that Sotto is used).
    pub never_encrypted_sms: bool,
    /// "SMS only": never use the relay (no data connection wanted at all).
    pub sms_only: bool,
}

/// What we know about the recipient and the network right now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RouteFacts {
    /// We hold the recipient's identity key: they are on Sotto.
    pub on_sotto: bool,
    /// They told us a relay they receive on.
    pub has_relay: bool,
    /// We know a phone number of theirs.
    pub has_phone: bool,
    /// A data connection to the relay is up.
    pub data_up: bool,
    /// The message has attachments.
    pub has_attachments: bool,
    /// The user chose "send unencrypted" for this one message.
    pub user_chose_plain: bool,
}

/// Where a message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Sealed, through the relay, now.
    Relay,
    /// Through the relay once data is back; it waits in the outbox.
    RelayWhenOnline,
    /// Signal ciphertext in SMS.
    EncryptedSms,
    /// A plain, unencrypted SMS.
    PlainSms,
    /// A plain, unencrypted MMS (text and attachments).
    PlainMms,
}

impl Route {
    /// Whether the message is end-to-end encrypted on this route.
    pub fn encrypted(self) -> bool {
        matches!(
            self,
            Route::Relay | Route::RelayWhenOnline | Route::EncryptedSms
        )
    }
}

/// Chooses the route for one message; see the module docs for the rules.
pub fn choose_route(facts: &RouteFacts, policy: &TransportPolicy) -> Result<Route> {
    let plain = || {
        if !facts.has_phone {
            Err(Error::NoRoute("no phone number for a plain SMS"))
        } else if facts.has_attachments {
            Ok(Route::PlainMms)
        } else {
            Ok(Route::PlainSms)
        }
    };
    if !facts.on_sotto || facts.user_chose_plain {
        return plain();
    }
    if facts.has_attachments {
        // Sotto messages carry no attachments yet; they go as plain MMS
        // only if the user chose so for the message.
        return Err(Error::NoRoute("attachments are not encrypted yet"));
    }
    let relay_allowed = facts.has_relay && !policy.sms_only;
    if relay_allowed && facts.data_up {
        return Ok(Route::Relay);
    }
    if facts.has_phone && !policy.never_encrypted_sms {
        return Ok(Route::EncryptedSms);
    }
    if relay_allowed {
        return Ok(Route::RelayWhenOnline);
    }
    Err(Error::NoRoute(
        "the policy allows neither the relay nor encrypted SMS",
    ))
}

/// The facts about `contact` as the store knows them. `data_up` is the
/// network's state; the two per-message flags start unset.
pub fn route_facts<S: SottoStore>(
    store: &S,
    contact: &ContactId,
    data_up: bool,
) -> Result<RouteFacts> {
    let stored = store.contact(contact)?.ok_or(Error::UnknownContact)?;
    Ok(RouteFacts {
        on_sotto: on_sotto(store, contact)?,
        has_relay: stored.relay.is_some(),
        has_phone: !store.phones_of(contact)?.is_empty(),
        data_up,
        has_attachments: false,
        user_chose_plain: false,
    })
}

/// Whether texts to `contact` are encrypted: we trust a key for them, and
/// no handshake by SMS is still waiting for their number to show it holds
/// that key. A key alone is not enough: the sender number of a hello is
/// easily forged, and our answer goes to the real number.
pub fn on_sotto<S: SottoStore>(store: &S, contact: &ContactId) -> Result<bool> {
    Ok(store.identity_record(contact)?.is_some() && !store.handshake_pending(contact)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sotto() -> RouteFacts {
        RouteFacts {
            on_sotto: true,
            has_relay: true,
            has_phone: true,
            data_up: true,
            ..RouteFacts::default()
        }
    }

    const DEFAULT: TransportPolicy = TransportPolicy {
        never_encrypted_sms: false,
        sms_only: false,
    };
    const NO_ENCRYPTED_SMS: TransportPolicy = TransportPolicy {
        never_encrypted_sms: true,
        sms_only: false,
    };
    const SMS_ONLY: TransportPolicy = TransportPolicy {
        never_encrypted_sms: false,
        sms_only: true,
    };
    const BOTH: TransportPolicy = TransportPolicy {
        never_encrypted_sms: true,
        sms_only: true,
    };

    #[test]
    fn the_decision_table() {
        let offline = RouteFacts {
            data_up: false,
            ..sotto()
        };
        let sms_contact = RouteFacts {
            has_relay: false,
            ..sotto()
        };
        let relay_only_contact = RouteFacts {
            has_phone: false,
            ..sotto()
        };
        let stranger = RouteFacts {
            on_sotto: false,
            has_relay: false,
            ..sotto()
        };
        let cases = [
            (sotto(), DEFAULT, Some(Route::Relay)),
            (offline, DEFAULT, Some(Route::EncryptedSms)),
            (sms_contact, DEFAULT, Some(Route::EncryptedSms)),
            (sotto(), SMS_ONLY, Some(Route::EncryptedSms)),
            (sotto(), NO_ENCRYPTED_SMS, Some(Route::Relay)),
            (offline, NO_ENCRYPTED_SMS, Some(Route::RelayWhenOnline)),
            (sms_contact, NO_ENCRYPTED_SMS, None),
            (sotto(), BOTH, None),
            (relay_only_contact, DEFAULT, Some(Route::Relay)),
            (
                RouteFacts {
                    data_up: false,
                    ..relay_only_contact
                },
                DEFAULT,
                Some(Route::RelayWhenOnline),
            ),
            (relay_only_contact, SMS_ONLY, None),
            (stranger, DEFAULT, Some(Route::PlainSms)),
            (stranger, BOTH, Some(Route::PlainSms)),
            (
                RouteFacts {
                    has_attachments: true,
                    ..stranger
                },
                DEFAULT,
                Some(Route::PlainMms),
            ),
            (
                RouteFacts {
                    has_phone: false,
                    ..stranger
                },
                DEFAULT,
                None,
            ),
            (
                RouteFacts {
                    user_chose_plain: true,
                    ..sotto()
                },
                DEFAULT,
                Some(Route::PlainSms),
            ),
            (
                RouteFacts {
                    has_attachments: true,
                    ..sotto()
                },
                DEFAULT,
                None,
            ),
        ];
        for (i, (facts, policy, expected)) in cases.iter().enumerate() {
            assert_eq!(choose_route(facts, policy).ok(), *expected, "case {i}");
        }
    }

    #[test]
    fn a_sotto_contact_is_never_downgraded_without_the_users_choice() {
        for bits in 0u8..64 {
            let facts = RouteFacts {
                on_sotto: true,
                has_relay: bits & 1 != 0,
                has_phone: bits & 2 != 0,
                data_up: bits & 4 != 0,
                has_attachments: bits & 8 != 0,
                user_chose_plain: false,
            };
            let policy = TransportPolicy {
                never_encrypted_sms: bits & 16 != 0,
                sms_only: bits & 32 != 0,
            };
            if let Ok(route) = choose_route(&facts, &policy) {
                assert!(route.encrypted(), "{facts:?} {policy:?}");
                assert!(
                    !(policy.sms_only && matches!(route, Route::Relay | Route::RelayWhenOnline))
                );
                assert!(!(policy.never_encrypted_sms && route == Route::EncryptedSms));
            }
        }
    }
}
