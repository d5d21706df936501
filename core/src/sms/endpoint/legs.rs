//! The handshake legs of [`SmsEndpoint`]: saying hello, answering hellos
//! (at once, or after the user agreed), sending legs again that got no
//! answer, and giving the same reply to a leg that comes again.

use super::*;

impl SmsEndpoint {
    /// Starts a discovery handshake with `to`: finds or creates the contact
    /// for the number (named `name` if new) and sends it a hello.
    pub fn start_handshake<S: SottoStore>(
        &mut self,
        store: &mut S,
        to: &PhoneNumber,
        name: &str,
        now: SystemTime,
        rng: &mut (impl Rng + CryptoRng),
    ) -> Result<(ContactId, Step)> {
        if !to.is_e164() {
            return Err(Error::InvalidPhoneNumber);
        }
        let (contact, _) = contact_for(store, to, name, rng)?;
        let payload = handshake::hello(store)?.to_bytes();
        let mut step = Step::default();
        self.send_payload(store, to, payload.clone(), None, now, &mut step)?;
        self.hellos.insert(
            to.clone(),
            PendingHello {
                contact: contact.clone(),
                payload,
                sent_at_ms: millis(now),
                attempts: 1,
            },
        );
        Ok((contact, step))
    }

    /// Sends handshake legs again that waited [`SmsConfig::hello_retry`];
    /// gives up on those sent [`SmsConfig::hello_attempts`] times.
    pub(super) fn retry_legs(
        config: &SmsConfig,
        legs: &mut BTreeMap<PhoneNumber, PendingHello>,
        now_ms: u64,
        step: &mut Step,
    ) -> Result<()> {
        let retry_ms = config.hello_retry.as_millis() as u64;
        let mut given_up = Vec::new();
        for (to, leg) in legs.iter_mut() {
            if leg.sent_at_ms + retry_ms > now_ms {
                continue;
            }
            if leg.attempts >= config.hello_attempts {
                given_up.push(to.clone());
                continue;
            }
            leg.attempts += 1;
            leg.sent_at_ms = now_ms;
            Self::encode_with(config.data_sms, to, &leg.payload, step)?;
        }
        for to in given_up {
            legs.remove(&to);
            step.events.push(SmsEvent::HandshakeUnanswered { to });
        }
        Ok(())
    }

    /// Sends our promised relay on its own (a ContactHandshake, 2 SMS) to
    /// contacts we sent no text within [`SmsConfig::hello_retry`] of the
    /// promise (a text would have carried it for free), and forgets
    /// promises that went out as often as they may once a resend request
    /// can no longer ask for them. One contact's failure (say, its session
    /// was reset for a new identity) drops that promise only.
    pub(super) fn send_owed_relays<S: SottoStore>(
        &mut self,
        store: &mut S,
        now: SystemTime,
        rng: &mut (impl Rng + CryptoRng),
        step: &mut Step,
    ) -> Result<()> {
        let now_ms = millis(now);
        let retry_ms = self.config.hello_retry.as_millis() as u64;
        let keep_ms = self.config.sent_cache_age.as_millis() as u64;
        self.relay_owed
            .retain(|_, owed| owed.rides < MAX_RELAY_RIDES || owed.since_ms + keep_ms > now_ms);
        let Some(own) = self.config.own_relay.clone() else {
            return Ok(());
        };
        let due: Vec<(PhoneNumber, ContactId)> = self
            .relay_owed
            .iter()
            .filter(|(_, owed)| owed.rides == 0 && owed.since_ms + retry_ms <= now_ms)
            .map(|(to, owed)| (to.clone(), owed.contact.clone()))
            .collect();
        for (to, contact) in due {
            let sent = handshake::relay_rider(store, &contact, &own, now, rng)
                .and_then(|outgoing| self.send_outgoing(store, &to, &outgoing, now, step));
            match sent {
                Ok(()) => {
                    if let Some(owed) = self.relay_owed.get_mut(&to) {
                        owed.rides = 1;
                        owed.since_ms = now_ms;
                    }
                }
                Err(error @ Error::Storage(_)) => return Err(error),
                Err(error) => {
                    tracing::warn!(%error, "a promised relay address cannot be sent; dropped");
                    self.relay_owed.remove(&to);
                }
            }
        }
        Ok(())
    }

    /// A handshake leg we replied to came again: our reply was probably
    /// lost, so send the same reply again (at most once per half retry
    /// interval, however many parts of the leg come again).
    pub(super) fn repeat_reply(
        &mut self,
        from: &PhoneNumber,
        id: WireId,
        now: SystemTime,
        step: &mut Step,
    ) -> Result<()> {
        let now_ms = millis(now);
        let quiet_ms = self.config.hello_retry.as_millis() as u64 / 2;
        let Some(answer) = self.replies.get_mut(&(from.clone(), id)) else {
            return Ok(());
        };
        if answer.resent_at_ms + quiet_ms > now_ms {
            return Ok(());
        }
        answer.resent_at_ms = now_ms;
        let payload = answer.payload.clone();
        Self::encode_with(self.config.data_sms, from, &payload, step)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn take_hello<S: SottoStore>(
        &mut self,
        store: &mut S,
        from: &PhoneNumber,
        id: WireId,
        bundle: &[u8],
        now: SystemTime,
        rng: &mut (impl Rng + CryptoRng),
        step: &mut Step,
    ) -> Result<()> {
        if self.replies.contains_key(&(from.clone(), id)) {
            return self.repeat_reply(from, id, now, step);
        }
        if !from.is_e164() {
            step.events.push(SmsEvent::Failed {
                from: from.clone(),
                id,
                error: Error::InvalidPhoneNumber,
            });
            return Ok(());
        }
        let bundle = match handshake::check_hello(bundle) {
            Ok(bundle) => bundle,
            Err(error) => {
                step.events.push(SmsEvent::Failed {
                    from: from.clone(),
                    id,
                    error,
                });
                return Ok(());
            }
        };
        // Answered unasked: a contact whose key we hold (their new hello
        // must carry that key, or the answer fails), or a number our own
        // hello waits for (both said hello at once). A contact without a
        // key (a hello of ours given up, say) is a stranger again.
        let known = match store.contact_by_phone(from)? {
            Some(contact) => {
                store.identity_record(&contact)?.is_some() || self.hellos.contains_key(from)
            }
            None => false,
        };
        if self.config.ask_before_answering_strangers && !known {
            let request = StrangerRequest::Hello { id, bundle };
            self.wait_for_user(from, request, now, step);
            return Ok(());
        }
        // One answer per number per quiet period, whatever the hellos say:
        // each answer costs ~16 SMS.
        let quiet_ms = self.config.hello_retry.as_millis() as u64 / 2;
        if self
            .unconfirmed
            .get(from)
            .is_some_and(|u| u.sent_at_ms + quiet_ms > millis(now))
        {
            return Ok(());
        }
        if !known && !self.room_for_an_answer(now, step) {
            return Ok(());
        }
        self.answer_checked(store, from, id, &bundle, from.as_str(), now, rng, step)
    }

    /// Keeps what a stranger sent for the user to decide on (at most
    /// [`MAX_WAITING_STRANGERS`]: a full list refuses newcomers rather than
    /// pushing out what the user may be looking at).
    pub(super) fn wait_for_user(
        &mut self,
        from: &PhoneNumber,
        request: StrangerRequest,
        now: SystemTime,
        step: &mut Step,
    ) {
        if !self.waiting.contains_key(from) && self.waiting.len() >= MAX_WAITING_STRANGERS {
            tracing::info!("a stranger's request was dropped: too many wait for the user");
            return;
        }
        // A hello and a first message from one number: the hello is the
        // one to answer (a first message can come again, as a resend).
        let keep_hello = matches!(
            (self.waiting.get(from), &request),
            (
                Some((StrangerRequest::Hello { .. }, _)),
                StrangerRequest::Message { .. }
            )
        );
        if !keep_hello {
            self.waiting.insert(from.clone(), (request, millis(now)));
        }
        step.events
            .push(SmsEvent::StrangerWaiting { from: from.clone() });
    }

    /// The numbers whose hello or first message waits for the user.
    pub fn strangers_waiting(&self) -> Vec<PhoneNumber> {
        self.waiting.keys().cloned().collect()
    }

    /// The user agrees to talk to `from` (see [`SmsEvent::StrangerWaiting`]):
    /// answers its hello, or takes its first message, creating the contact
    /// under `name`. The number stays "not proven" until the safety number
    /// is compared; after a hello, its thread stays plain until the
    /// handshake completes.
    pub fn accept_stranger<S: SottoStore>(
        &mut self,
        store: &mut S,
        from: &PhoneNumber,
        name: &str,
        now: SystemTime,
        rng: &mut (impl Rng + CryptoRng),
    ) -> Result<Step> {
        let (request, _) = self.waiting.remove(from).ok_or(Error::UnknownContact)?;
        let mut step = Step::default();
        match request {
            StrangerRequest::Hello { id, bundle } => {
                self.answer_checked(store, from, id, &bundle, name, now, rng, &mut step)?
            }
            StrangerRequest::Message { id, envelope } => {
                let (contact, _) = contact_for(store, from, name, rng)?;
                match messaging::receive(store, &contact, &envelope.to_bytes(), now, rng) {
                    Ok(received) => step.events.push(SmsEvent::Received { contact, received }),
                    Err(error @ Error::Storage(_)) => return Err(error),
                    Err(error) => step.events.push(SmsEvent::Failed {
                        from: from.clone(),
                        id,
                        error,
                    }),
                }
            }
        }
        Ok(step)
    }

    /// Forgets what a stranger sent, without answering or storing it.
    pub fn decline_stranger(&mut self, from: &PhoneNumber) {
        self.waiting.remove(from);
    }

    /// Whether `envelope` from `from` answers our pending hello to that
    /// number: a PreKey message built on the one-time prekeys our hello
    /// carried. Only the holder of the number saw them.
    pub(super) fn answers_our_hello(&self, from: &PhoneNumber, envelope: &Envelope) -> bool {
        let Some(hello) = self.hellos.get(from) else {
            return false;
        };
        if envelope.kind != EnvelopeKind::PreKey {
            return false;
        }
        let Ok(message) =
            libsignal_protocol::PreKeySignalMessage::try_from(&envelope.ciphertext[..])
        else {
            return false;
        };
        let Ok(SmsFrame::Hello { bundle }) = SmsFrame::from_bytes(&hello.payload) else {
            return false;
        };
        // Our own bundle: its ids are all that is needed, not its signatures.
        let Ok(bundle) = handshake::decode_compact_bundle(&bundle) else {
            return false;
        };
        let ours = (
            bundle.pre_key_id().ok().flatten(),
            bundle.kyber_pre_key_id().ok(),
        );
        let theirs = (message.pre_key_id(), message.kyber_pre_key_id());
        ours.0.is_some() && ours == theirs
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn answer_checked<S: SottoStore>(
        &mut self,
        store: &mut S,
        from: &PhoneNumber,
        id: WireId,
        bundle: &PreKeyBundle,
        name: &str,
        now: SystemTime,
        rng: &mut (impl Rng + CryptoRng),
        step: &mut Step,
    ) -> Result<()> {
        let (contact, new_contact) = contact_for(store, from, name, rng)?;
        if store.identity_record(&contact)?.is_none() {
            // The hello's key is trusted by answering it, but only the real
            // number gets the answer: until their last leg comes back in
            // the session it makes, the number is not on Sotto.
            in_transaction(store, |store| store.set_handshake_pending(from, true))?;
        }
        let answered = handshake::answer(
            store,
            &contact,
            bundle,
            self.config.own_relay.as_ref(),
            now,
            rng,
        );
        let outgoing = match answered {
            Ok(outgoing) => outgoing,
            Err(error @ Error::Storage(_)) => return Err(error),
            Err(error) => {
                step.events.push(SmsEvent::Failed {
                    from: from.clone(),
                    id,
                    error,
                });
                return Ok(());
            }
        };
        // Both sides may have said hello at once: ours stays pending, and
        // their answer to it completes the handshake as any answer does.
        let payload = outgoing.envelope.to_bytes();
        self.remember_reply(from, id, payload.clone(), now);
        self.unconfirmed.insert(
            from.clone(),
            PendingHello {
                contact: contact.clone(),
                payload,
                sent_at_ms: millis(now),
                attempts: 1,
            },
        );
        self.send_outgoing(store, from, &outgoing, now, step)?;
        step.events.push(SmsEvent::HandshakeAnswered {
            contact,
            new_contact,
        });
        Ok(())
    }

    /// Remembers the reply to a handshake leg, within [`MAX_REPLIES`].
    pub(super) fn remember_reply(
        &mut self,
        from: &PhoneNumber,
        id: WireId,
        payload: Vec<u8>,
        now: SystemTime,
    ) {
        if self.replies.len() >= MAX_REPLIES {
            let oldest = self
                .replies
                .iter()
                .min_by_key(|(_, r)| r.resent_at_ms)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.replies.remove(&oldest);
            }
        }
        self.replies.insert(
            (from.clone(), id),
            GivenAnswer {
                payload,
                resent_at_ms: millis(now),
            },
        );
    }

    /// The handshake legs waiting for the other side, to keep across a
    /// restart ([`SmsEndpoint::restore_legs`]): without them a hello is not
    /// sent again, and its answer does not report the session ready.
    pub fn waiting_legs(&self) -> Vec<WaitingLeg> {
        let legs = |kind: LegKind, map: &BTreeMap<PhoneNumber, PendingHello>| {
            map.iter()
                .map(|(to, leg)| WaitingLeg {
                    kind,
                    to: to.clone(),
                    contact: leg.contact.clone(),
                    payload: leg.payload.clone(),
                    sent_at_ms: leg.sent_at_ms,
                    attempts: leg.attempts,
                })
                .collect::<Vec<_>>()
        };
        let mut all = legs(LegKind::Hello, &self.hellos);
        all.extend(legs(LegKind::Answer, &self.unconfirmed));
        all.extend(self.relay_owed.iter().map(|(to, owed)| WaitingLeg {
            kind: LegKind::RelayOwed,
            to: to.clone(),
            contact: owed.contact.clone(),
            payload: Vec::new(),
            sent_at_ms: owed.since_ms,
            attempts: owed.rides,
        }));
        all
    }

    /// Puts back the legs [`SmsEndpoint::waiting_legs`] returned before a
    /// restart (on a fresh endpoint, before anything else).
    pub fn restore_legs(&mut self, legs: impl IntoIterator<Item = WaitingLeg>) {
        for leg in legs {
            let pending = |leg: WaitingLeg| PendingHello {
                contact: leg.contact,
                payload: leg.payload,
                sent_at_ms: leg.sent_at_ms,
                attempts: leg.attempts,
            };
            match leg.kind {
                LegKind::Hello => {
                    self.hellos.insert(leg.to.clone(), pending(leg));
                }
                LegKind::Answer => {
                    self.unconfirmed.insert(leg.to.clone(), pending(leg));
                }
                LegKind::RelayOwed => {
                    let owed = OwedRelay {
                        contact: leg.contact,
                        since_ms: leg.sent_at_ms,
                        rides: leg.attempts.min(MAX_RELAY_RIDES),
                    };
                    self.relay_owed.insert(leg.to, owed);
                }
            }
        }
    }

    /// The contact a pending hello to `to` was for, if one is pending.
    pub fn pending_handshake(&self, to: &PhoneNumber) -> Option<&ContactId> {
        self.hellos.get(to).map(|h| &h.contact)
    }
}

/// Which handshake leg waits (ordered as the store keeps them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LegKind {
    /// Our hello, waiting for its answer.
    Hello,
    /// Our answer to their hello, waiting for their side of the handshake.
    Answer,
    /// Our relay, promised in the last leg (`relay_follows`), waiting to go
    /// out with our next text (or on its own) and for their next message.
    /// Its `payload` is empty; `attempts` counts the times it went out.
    RelayOwed,
}

/// A handshake leg waiting for the other side (see
/// [`SmsEndpoint::waiting_legs`]).
#[derive(Clone, PartialEq, Eq)]
pub struct WaitingLeg {
    /// Which leg.
    pub kind: LegKind,
    /// The number it went to.
    pub to: PhoneNumber,
    /// The contact of that number.
    pub contact: ContactId,
    /// The payload, to send again.
    pub payload: Vec<u8>,
    /// When it was last sent (ms since the epoch).
    pub sent_at_ms: u64,
    /// How many times it was sent.
    pub attempts: u8,
}

impl std::fmt::Debug for WaitingLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitingLeg")
            .field("kind", &self.kind)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// The contact linked to `phone`, or a new one named `name` linked to it.
pub(super) fn contact_for<S: SottoStore>(
    store: &mut S,
    phone: &PhoneNumber,
    name: &str,
    rng: &mut (impl Rng + CryptoRng),
) -> Result<(ContactId, bool)> {
    if let Some(contact) = store.contact_by_phone(phone)? {
        return Ok((contact, false));
    }
    let contact = ContactId::random(rng);
    in_transaction(store, |store| {
        store.save_contact(&Contact {
            id: contact.clone(),
            name: name.to_owned(),
            relay: None,
        })?;
        store.link_phone(phone, &contact)
    })?;
    Ok((contact, true))
}
