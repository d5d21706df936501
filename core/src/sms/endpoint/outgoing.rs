//! The sending side of [`SmsEndpoint`]: encrypted texts (one or fanned
//! out), payloads into SMS, the cache of sent payloads, and answering
//! resend requests (parts again, or the text encrypted afresh).

use super::*;

impl SmsEndpoint {
    /// Encrypts a text for `contact` and returns the SMS that carry it.
    /// While our relay is owed to them (see [`handshake::our_side`]), it
    /// rides along in the text.
    pub fn send_text<S: SottoStore>(
        &mut self,
        store: &mut S,
        contact: &ContactId,
        text: &str,
        now: SystemTime,
        rng: &mut (impl Rng + CryptoRng),
    ) -> Result<Step> {
        let phone = store
            .phones_of(contact)?
            .into_iter()
            .next()
            .ok_or(Error::NoRoute("the contact has no phone number"))?;
        let rider = self.relay_rider_for(&phone, contact, MAX_RELAY_RIDES);
        let outgoing =
            messaging::send_text_with_relay(store, contact, text, rider.as_ref(), now, rng)?;
        let mut step = Step::default();
        let text = Some((contact.clone(), outgoing.message_id));
        let kept = (MAX_REFRESHES, rider.is_some());
        self.carry_with(store, &phone, &outgoing, text, kept, now, &mut step)?;
        // Counted once its SMS exist: a text that could not be carried
        // took nothing to them.
        if rider.is_some() {
            if let Some(owed) = self.relay_owed.get_mut(&phone) {
                owed.rides = owed.rides.saturating_add(1);
                owed.since_ms = millis(now);
            }
        }
        Ok(step)
    }

    /// Our relay, if it is owed to `contact` at `phone` and has gone out
    /// fewer than `rides` times.
    fn relay_rider_for(
        &self,
        phone: &PhoneNumber,
        contact: &ContactId,
        rides: u8,
    ) -> Option<RelayInvite> {
        self.relay_owed
            .get(phone)
            .filter(|owed| &owed.contact == contact && owed.rides < rides)
            .and_then(|_| self.config.own_relay.clone())
    }

    /// Carries the SMS share of a group text (the per-member 1:1 envelopes
    /// of [`crate::groups::GroupSent::sms`] or
    /// [`crate::groups::fan_out_again`]) to each member's phone. Each copy
    /// carries the group id inside, so the member files it in the group.
    /// Their parts can be sent again on request; unlike a 1:1 text, a group
    /// text is not encrypted afresh for a receiver that could not decrypt it.
    pub fn send_group_fanout<S: SottoStore>(
        &mut self,
        store: &mut S,
        fanout: &[(ContactId, Outgoing)],
        now: SystemTime,
    ) -> Result<Step> {
        let mut phones = Vec::with_capacity(fanout.len());
        for (contact, _) in fanout {
            let phone = store
                .phones_of(contact)?
                .into_iter()
                .next()
                .ok_or(Error::NoRoute("a group member has no phone number"))?;
            phones.push(phone);
        }
        let mut step = Step::default();
        for ((_, outgoing), phone) in fanout.iter().zip(&phones) {
            self.send_outgoing(store, phone, outgoing, now, &mut step)?;
        }
        Ok(step)
    }

    /// Carries an envelope already queued by the messaging layer (a receipt,
    /// an outbox entry left from before a restart) to `to`.
    pub fn send_outgoing<S: SottoStore>(
        &mut self,
        store: &mut S,
        to: &PhoneNumber,
        outgoing: &Outgoing,
        now: SystemTime,
        step: &mut Step,
    ) -> Result<()> {
        self.carry_with(store, to, outgoing, None, (MAX_REFRESHES, false), now, step)
    }

    /// Puts an envelope on the air and keeps it for resend requests: with
    /// the stored 1:1 `text` it carries, if any (so it can be encrypted
    /// afresh), how many times it may be, and whether it carries our relay.
    #[allow(clippy::too_many_arguments)]
    fn carry_with<S: SottoStore>(
        &mut self,
        store: &mut S,
        to: &PhoneNumber,
        outgoing: &Outgoing,
        text: Option<(ContactId, MessageId)>,
        (refreshes_left, carries_relay): (u8, bool),
        now: SystemTime,
        step: &mut Step,
    ) -> Result<()> {
        let payload = outgoing.envelope.to_bytes();
        self.encode(to, &payload, step)?;
        self.keep_sent(store, to, payload, text, refreshes_left, carries_relay, now)?;
        step.outbox_ids.push(outgoing.outbox_id);
        Ok(())
    }

    /// Answers a resend request: the missing parts as they were sent, or,
    /// for an empty list (the receiver could not decrypt the whole), the
    /// text encrypted afresh under the current session. libsignal keeps
    /// only a few old receiving chains, so in a lively conversation a
    /// ciphertext that arrives many minutes late may no longer decrypt. A
    /// text is encrypted afresh at most [`MAX_REFRESHES`] times.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn resend<S: SottoStore>(
        &mut self,
        store: &mut S,
        from: &PhoneNumber,
        id: WireId,
        count: u8,
        missing: &[u8],
        now: SystemTime,
        rng: &mut (impl Rng + CryptoRng),
        step: &mut Step,
    ) -> Result<()> {
        // Sending again is a retry: never to a stranger (see `automatic`).
        if !automatic::is_accepted_contact(store, from)? {
            return Ok(());
        }
        let Some(sent) = self.sent.iter_mut().find(|s| &s.to == from && s.id == id) else {
            // Too old or never ours: nothing to resend.
            return Ok(());
        };
        if missing.is_empty() {
            let Some((contact, message_id)) = sent.text.clone() else {
                return Ok(());
            };
            if sent.refreshes_left == 0 {
                return Ok(());
            }
            // A fresh copy is about the size of this one; not made (and
            // the refresh not spent) if it could not go this hour.
            let copy_sms = Self::bodies(sent.data, &sent.payload)?.len();
            let refreshes_left = sent.refreshes_left - 1;
            let row = sent.row;
            let carried_relay = sent.carries_relay;
            if !self.room_for(copy_sms, now, step) {
                return Ok(());
            }
            let Some(sent) = self.sent.iter_mut().find(|s| s.row == row) else {
                return Ok(());
            };
            // Asked once for this copy; a second request must not fork it.
            sent.refreshes_left = 0;
            // A fresh copy carries the relay if the first did, or if it is
            // still owed (the first's flag is not kept across a restart).
            let rider = if carried_relay {
                self.config.own_relay.clone()
            } else {
                self.relay_rider_for(from, &contact, u8::MAX)
            };
            in_transaction(store, |store| store.set_sent_sms_refreshes(row, 0))?;
            let resent = messaging::resend_with_relay(
                store,
                &contact,
                &message_id,
                rider.as_ref(),
                now,
                rng,
            );
            let outgoing = match resent {
                Ok(outgoing) => outgoing,
                Err(error @ Error::Storage(_)) => return Err(error),
                // Deleted meanwhile (disappearing, no history): nothing to send.
                Err(_) => return Ok(()),
            };
            let text = Some((contact, message_id));
            let kept = (refreshes_left, rider.is_some());
            return self.carry_with(store, from, &outgoing, text, kept, now, step);
        }
        let bodies = Self::bodies(sent.data, &sent.payload)?;
        if bodies.len() != usize::from(count) {
            return Ok(());
        }
        // Each part goes again a few times in all, however many requests
        // ask for it (each in the list once).
        sent.part_resends.resize(bodies.len(), 0);
        let mut parts: Vec<usize> = missing
            .iter()
            .map(|&index| usize::from(index))
            .filter(|&index| index < bodies.len())
            .filter(|&index| sent.part_resends[index] < automatic::MAX_PART_RESENDS)
            .collect();
        parts.sort_unstable();
        parts.dedup();
        // Counted only if they can go this hour (`cap_automatic` decides).
        if self.automatic.fits(parts.len(), millis(now)) {
            for &index in &parts {
                sent.part_resends[index] += 1;
            }
        }
        for index in parts {
            step.outgoing.push(OutgoingSms {
                to: from.clone(),
                body: bodies[index].clone(),
            });
        }
        Ok(())
    }

    pub(super) fn send_payload<S: SottoStore>(
        &mut self,
        store: &mut S,
        to: &PhoneNumber,
        payload: Vec<u8>,
        text: Option<(ContactId, MessageId)>,
        now: SystemTime,
        step: &mut Step,
    ) -> Result<()> {
        self.encode(to, &payload, step)?;
        self.keep_sent(store, to, payload, text, MAX_REFRESHES, false, now)
    }

    /// Adds a sent payload to the cache and to the store (one commit), so a
    /// resend request finds it even after a restart.
    #[allow(clippy::too_many_arguments)]
    fn keep_sent<S: SottoStore>(
        &mut self,
        store: &mut S,
        to: &PhoneNumber,
        payload: Vec<u8>,
        text: Option<(ContactId, MessageId)>,
        refreshes_left: u8,
        carries_relay: bool,
        now: SystemTime,
    ) -> Result<()> {
        let mut sent = SentPayload {
            to: to.clone(),
            id: WireId::of(&payload),
            payload,
            data: self.config.data_sms,
            at_ms: millis(now),
            text,
            refreshes_left,
            row: 0,
            carries_relay,
            part_resends: Vec::new(),
        };
        let record = SentSms {
            id: 0,
            phone: sent.to.clone(),
            wire_id: sent.id.0,
            payload: sent.payload.clone(),
            data: sent.data,
            sent_at_ms: sent.at_ms,
            text: sent.text.clone(),
            refreshes_left: sent.refreshes_left,
        };
        sent.row = in_transaction(store, |store| store.keep_sent_sms(&record))?;
        self.sent.push_back(sent);
        self.trim_sent(store)
    }

    /// Drops the oldest sent payloads beyond [`SmsConfig::sent_cache`].
    pub(super) fn trim_sent<S: SottoStore>(&mut self, store: &mut S) -> Result<()> {
        while self.sent.len() > self.config.sent_cache {
            if let Some(old) = self.sent.pop_front() {
                in_transaction(store, |store| store.forget_sent_sms(old.row))?;
            }
        }
        Ok(())
    }

    /// Asks `to` for parts of message `id` again (all of it, encrypted
    /// afresh, if `missing` is empty).
    pub(super) fn request_resend(
        &mut self,
        to: &PhoneNumber,
        id: WireId,
        count: u8,
        missing: Vec<u8>,
        step: &mut Step,
    ) -> Result<()> {
        self.requests_sent = self.requests_sent.wrapping_add(1);
        let request = SmsFrame::ResendRequest {
            id,
            count,
            missing,
            nonce: self.requests_sent,
        };
        self.encode(to, &request.to_bytes(), step)
    }

    pub(super) fn encode(&self, to: &PhoneNumber, payload: &[u8], step: &mut Step) -> Result<()> {
        Self::encode_with(self.config.data_sms, to, payload, step)
    }

    pub(super) fn encode_with(
        data: bool,
        to: &PhoneNumber,
        payload: &[u8],
        step: &mut Step,
    ) -> Result<()> {
        for body in Self::bodies(data, payload)? {
            step.outgoing.push(OutgoingSms {
                to: to.clone(),
                body,
            });
        }
        Ok(())
    }

    pub(super) fn bodies(data: bool, payload: &[u8]) -> Result<Vec<SmsBody>> {
        Ok(if data {
            SmsCodec::to_data(payload)?
                .into_iter()
                .map(|bytes| SmsBody::Data {
                    port: DATA_PORT,
                    bytes,
                })
                .collect()
        } else {
            SmsCodec::to_texts(payload)?
                .into_iter()
                .map(SmsBody::Text)
                .collect()
        })
    }
}
