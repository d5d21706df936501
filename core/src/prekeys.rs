//! The local account and its prekeys: creation, rotation, replenishment,
//! and handing out our own PreKeyBundle.
//!
//! PQXDH needs, on our side: a signed EC prekey, a signed ML-KEM-1024
//! ("Kyber") prekey, and optionally a one-time EC prekey. We keep a batch of
//! one-time EC and one-time Kyber prekeys and a Kyber *last-resort* key used
//! when the one-time Kyber keys run out. Signed keys rotate on a schedule;
//! the previous one is kept so that messages built on it still decrypt.

use std::time::{Duration, SystemTime};

use libsignal_protocol::{
    kem, GenericSignedPreKey, IdentityKeyPair, KeyPair, KyberPreKeyId, KyberPreKeyRecord,
    PreKeyBundle, PreKeyId, PreKeyRecord, PrivateKey, SignedPreKeyId, SignedPreKeyRecord,
    Timestamp,
};
use rand::{CryptoRng, Rng};

use crate::error::{Error, Result};
use crate::store::{in_transaction, LocalAccount, PreKeyState, SottoStore};
use crate::{block_on, millis, DEVICE_ID};

/// When and how many prekeys to make.
#[derive(Clone, Copy, Debug)]
pub struct PreKeyPolicy {
    /// How many one-time prekeys of each kind to make at once.
    pub batch: u32,
    /// Replenish when fewer than this many one-time prekeys are left unhanded.
    pub low_water: u32,
    /// Age at which the signed EC prekey is replaced.
    pub signed_rotation: Duration,
    /// Age at which the Kyber last-resort prekey is replaced.
    pub last_resort_rotation: Duration,
    /// How long a replaced signed or last-resort key is kept, so bundles
    /// already handed out (in an invite, an SMS handshake, a relay) still
    /// lead to sessions.
    pub retired_key_grace: Duration,
}

impl Default for PreKeyPolicy {
    fn default() -> Self {
        Self {
            batch: 100,
            low_water: 20,
            signed_rotation: Duration::from_secs(7 * 24 * 3600),
            last_resort_rotation: Duration::from_secs(30 * 24 * 3600),
            retired_key_grace: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// What [`maintain_prekeys`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PreKeyReport {
    /// One-time EC prekeys made.
    pub new_one_time: u32,
    /// One-time Kyber prekeys made.
    pub new_one_time_kyber: u32,
    /// Whether a new signed EC prekey was made.
    pub rotated_signed: bool,
    /// Whether a new Kyber last-resort prekey was made.
    pub rotated_last_resort: bool,
}

impl PreKeyReport {
    /// Whether anything changed, so the published prekeys need uploading.
    pub fn changed(&self) -> bool {
        *self != Self::default()
    }
}

/// Creates the local account: identity key pair, registration id, and a
/// full set of prekeys.
pub fn create_account<S, R>(
    store: &mut S,
    policy: &PreKeyPolicy,
    now: SystemTime,
    rng: &mut R,
) -> Result<LocalAccount>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    in_transaction(store, |store| {
        if store.local_account()?.is_some() {
            return Err(Error::AccountExists);
        }
        let account = LocalAccount {
            identity: IdentityKeyPair::generate(rng),
            // libsignal registration ids are 14-bit and non-zero.
            registration_id: rng.random_range(1..=0x3FFF),
        };
        store.create_local_account(&account)?;
        store.save_prekey_state(&PreKeyState {
            next_ec_id: 1,
            next_kyber_id: 1,
            next_signed_id: 1,
            ec_handed_out_below: 1,
            kyber_handed_out_below: 1,
            ..PreKeyState::default()
        })?;
        maintain_in_transaction(store, &account, policy, now, rng)?;
        Ok(account)
    })
}

/// Rotates signed keys that are due and replenishes one-time prekeys that
/// run low. Call it at start-up and after handing out bundles.
pub fn maintain_prekeys<S, R>(
    store: &mut S,
    policy: &PreKeyPolicy,
    now: SystemTime,
    rng: &mut R,
) -> Result<PreKeyReport>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    in_transaction(store, |store| {
        let account = store.local_account()?.ok_or(Error::NoAccount)?;
        maintain_in_transaction(store, &account, policy, now, rng)
    })
}

fn maintain_in_transaction<S, R>(
    store: &mut S,
    account: &LocalAccount,
    policy: &PreKeyPolicy,
    now: SystemTime,
    rng: &mut R,
) -> Result<PreKeyReport>
where
    S: SottoStore,
    R: Rng + CryptoRng,
{
    let now_ms = millis(now);
    let mut state = store.prekey_state()?;
    let mut report = PreKeyReport::default();
    let identity_private = account.identity.private_key();

    let signed_due = state.active_signed_id.is_none()
        || now_ms.saturating_sub(state.signed_created_at_ms)
            >= policy.signed_rotation.as_millis() as u64;
    if signed_due {
        let id = state.next_signed_id;
        let key_pair = KeyPair::generate(rng);
        let signature = identity_private
            .calculate_signature(&key_pair.public_key.serialize(), rng)
            .map_err(|_| Error::Protocol("signing the prekey failed"))?;
        let record = SignedPreKeyRecord::new(
            id.into(),
            Timestamp::from_epoch_millis(now_ms),
            &key_pair,
            &signature,
        );
        block_on(store.save_signed_pre_key(SignedPreKeyId::from(id), &record))?;
        state.active_signed_id = Some(id);
        state.signed_created_at_ms = now_ms;
        state.next_signed_id = id + 1;
        report.rotated_signed = true;
    }

    let last_resort_due = state.active_last_resort_id.is_none()
        || now_ms.saturating_sub(state.last_resort_created_at_ms)
            >= policy.last_resort_rotation.as_millis() as u64;
    if last_resort_due {
        let id = state.next_kyber_id;
        let record = kyber_record(id, identity_private, now_ms, rng)?;
        block_on(store.save_kyber_pre_key(KyberPreKeyId::from(id), &record))?;
        store.mark_kyber_last_resort(id)?;
        state.active_last_resort_id = Some(id);
        state.last_resort_created_at_ms = now_ms;
        state.next_kyber_id = id + 1;
        report.rotated_last_resort = true;
    }

    retire_old_keys(store, &state, policy, now_ms)?;

    let unhanded_ec = store
        .one_time_prekey_ids()?
        .into_iter()
        .filter(|&id| id >= state.ec_handed_out_below)
        .count() as u32;
    if unhanded_ec < policy.low_water {
        for _ in 0..policy.batch {
            let id = state.next_ec_id;
            let record = PreKeyRecord::new(PreKeyId::from(id), &KeyPair::generate(rng));
            block_on(store.save_pre_key(PreKeyId::from(id), &record))?;
            state.next_ec_id = id + 1;
        }
        report.new_one_time = policy.batch;
    }

    let unhanded_kyber = store
        .one_time_kyber_prekey_ids()?
        .into_iter()
        .filter(|&id| id >= state.kyber_handed_out_below)
        .count() as u32;
    if unhanded_kyber < policy.low_water {
        for _ in 0..policy.batch {
            let id = state.next_kyber_id;
            let record = kyber_record(id, identity_private, now_ms, rng)?;
            block_on(store.save_kyber_pre_key(KyberPreKeyId::from(id), &record))?;
            state.next_kyber_id = id + 1;
        }
        report.new_one_time_kyber = policy.batch;
    }

    store.save_prekey_state(&state)?;
    Ok(report)
}

/// A signed ML-KEM-1024 prekey made with our clock and RNG (libsignal's own
/// `KyberPreKeyRecord::generate` reads the system clock and OS RNG itself).
fn kyber_record<R: Rng + CryptoRng>(
    id: u32,
    identity_private: &PrivateKey,
    now_ms: u64,
    rng: &mut R,
) -> Result<KyberPreKeyRecord> {
    let key_pair = kem::KeyPair::generate(kem::KeyType::Kyber1024, rng);
    let signature = identity_private
        .calculate_signature(&key_pair.public_key.serialize(), rng)
        .map_err(|_| Error::Protocol("signing the prekey failed"))?;
    Ok(KyberPreKeyRecord::new(
        id.into(),
        Timestamp::from_epoch_millis(now_ms),
        &key_pair,
        &signature,
    ))
}

/// Deletes replaced signed and last-resort keys once they are older than
/// their rotation period plus the grace period: by then no bundle that
/// carries them should still be in use.
fn retire_old_keys<S: SottoStore>(
    store: &mut S,
    state: &PreKeyState,
    policy: &PreKeyPolicy,
    now_ms: u64,
) -> Result<()> {
    let grace = policy.retired_key_grace.as_millis() as u64;
    let signed_lifetime = policy.signed_rotation.as_millis() as u64 + grace;
    for id in store.signed_prekey_ids()? {
        if Some(id) == state.active_signed_id {
            continue;
        }
        let record = block_on(store.get_signed_pre_key(id.into()))?;
        if record.timestamp()?.epoch_millis() + signed_lifetime <= now_ms {
            store.remove_signed_prekey(id)?;
        }
    }
    let last_resort_lifetime = policy.last_resort_rotation.as_millis() as u64 + grace;
    for id in store.last_resort_kyber_prekey_ids()? {
        if Some(id) == state.active_last_resort_id {
            continue;
        }
        let record = block_on(store.get_kyber_pre_key(id.into()))?;
        if record.timestamp()?.epoch_millis() + last_resort_lifetime <= now_ms {
            store.remove_kyber_prekey(id)?;
        }
    }
    Ok(())
}

/// Builds our own PreKeyBundle for one contact (or one relay hand-out),
/// consuming one one-time EC and one one-time Kyber prekey if any are left;
/// otherwise the bundle carries the Kyber last-resort key and no EC one-time
/// key. Each one-time key goes into at most one bundle.
pub fn take_prekey_bundle<S: SottoStore>(store: &mut S) -> Result<PreKeyBundle> {
    in_transaction(store, |store| {
        let account = store.local_account()?.ok_or(Error::NoAccount)?;
        let mut state = store.prekey_state()?;
        let signed_id = state.active_signed_id.ok_or(Error::NoAccount)?;
        let signed = block_on(store.get_signed_pre_key(signed_id.into()))?;

        let one_time_ec = store
            .one_time_prekey_ids()?
            .into_iter()
            .find(|&id| id >= state.ec_handed_out_below);
        let one_time_ec = match one_time_ec {
            Some(id) => {
                state.ec_handed_out_below = id + 1;
                let record = block_on(store.get_pre_key(id.into()))?;
                Some((PreKeyId::from(id), record.public_key()?))
            }
            None => None,
        };

        let one_time_kyber = store
            .one_time_kyber_prekey_ids()?
            .into_iter()
            .find(|&id| id >= state.kyber_handed_out_below);
        let kyber_id = match one_time_kyber {
            Some(id) => {
                state.kyber_handed_out_below = id + 1;
                id
            }
            None => state.active_last_resort_id.ok_or(Error::NoAccount)?,
        };
        let kyber = block_on(store.get_kyber_pre_key(kyber_id.into()))?;
        store.save_prekey_state(&state)?;

        Ok(PreKeyBundle::new(
            account.registration_id,
            DEVICE_ID,
            one_time_ec,
            signed_id.into(),
            signed.public_key()?,
            signed.signature()?,
            kyber_id.into(),
            kyber.public_key()?,
            kyber.signature()?,
            *account.identity.identity_key(),
        )?)
    })
}

/// A signed prekey as published: id, public key, signature by the identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedKey {
    /// Key id.
    pub id: u32,
    /// Serialized public key.
    pub public_key: Vec<u8>,
    /// Signature by the identity key (empty for one-time EC prekeys).
    pub signature: Vec<u8>,
}

/// Everything a relay needs to hand out bundles for us.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreKeyUpload {
    /// The active signed EC prekey.
    pub signed: Option<PublishedKey>,
    /// The active Kyber last-resort prekey.
    pub last_resort: Option<PublishedKey>,
    /// One-time EC prekeys not handed out before.
    pub one_time: Vec<PublishedKey>,
    /// One-time Kyber prekeys not handed out before.
    pub one_time_kyber: Vec<PublishedKey>,
}

/// Collects the prekeys to upload to a relay: the active signed and
/// last-resort keys, and every one-time key not handed out yet, which are
/// marked handed out (each goes to one relay, once).
pub fn take_for_upload<S: SottoStore>(store: &mut S) -> Result<PreKeyUpload> {
    in_transaction(store, |store| {
        let mut state = store.prekey_state()?;
        let signed_id = state.active_signed_id.ok_or(Error::NoAccount)?;
        let last_resort_id = state.active_last_resort_id.ok_or(Error::NoAccount)?;
        let signed = block_on(store.get_signed_pre_key(signed_id.into()))?;
        let last_resort = block_on(store.get_kyber_pre_key(last_resort_id.into()))?;
        let mut upload = PreKeyUpload {
            signed: Some(PublishedKey {
                id: signed_id,
                public_key: signed.public_key()?.serialize().to_vec(),
                signature: signed.signature()?,
            }),
            last_resort: Some(PublishedKey {
                id: last_resort_id,
                public_key: last_resort.public_key()?.serialize().to_vec(),
                signature: last_resort.signature()?,
            }),
            ..PreKeyUpload::default()
        };
        for id in store.one_time_prekey_ids()? {
            if id >= state.ec_handed_out_below {
                let record = block_on(store.get_pre_key(id.into()))?;
                upload.one_time.push(PublishedKey {
                    id,
                    public_key: record.public_key()?.serialize().to_vec(),
                    signature: Vec::new(),
                });
                state.ec_handed_out_below = id + 1;
            }
        }
        for id in store.one_time_kyber_prekey_ids()? {
            if id >= state.kyber_handed_out_below {
                let record = block_on(store.get_kyber_pre_key(id.into()))?;
                upload.one_time_kyber.push(PublishedKey {
                    id,
                    public_key: record.public_key()?.serialize().to_vec(),
                    signature: record.signature()?,
                });
                state.kyber_handed_out_below = id + 1;
            }
        }
        store.save_prekey_state(&state)?;
        Ok(upload)
    })
}
