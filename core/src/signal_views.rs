//! Lets one `SottoStore` stand in for every store argument of a libsignal
//! call.
//!
//! libsignal's operations take each store as a separate `&mut dyn` argument
//! (its own in-memory store keeps them as separate fields). Sotto keeps them
//! all behind one connection and one transaction, so this module hands out
//! several `View`s of the same store, each borrowing it only for the duration
//! of one store call. The calls never overlap: libsignal awaits them one by
//! one, and our store futures complete without suspending.

// The RefCell borrows are held across `.await`s of store futures that never
// suspend, so no other borrow can run in between.
#![allow(clippy::await_holding_refcell_ref)]

use std::cell::RefCell;

use async_trait::async_trait;
use libsignal_protocol::{
    Direction, IdentityChange, IdentityKey, IdentityKeyPair, IdentityKeyStore, KyberPreKeyId,
    KyberPreKeyRecord, KyberPreKeyStore, PreKeyId, PreKeyRecord, PreKeyStore, ProtocolAddress,
    PublicKey, SenderKeyRecord, SenderKeyStore, SessionRecord, SessionStore, SignalProtocolError,
    SignedPreKeyId, SignedPreKeyRecord, SignedPreKeyStore,
};

use crate::store::SottoStore;

type SignalResult<T> = std::result::Result<T, SignalProtocolError>;

/// One borrowable view of a shared store.
pub(crate) struct View<'c, 's, S>(&'c RefCell<&'s mut S>);

impl<S> Clone for View<'_, '_, S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for View<'_, '_, S> {}

impl<'c, 's, S> View<'c, 's, S> {
    pub(crate) fn new(cell: &'c RefCell<&'s mut S>) -> Self {
        Self(cell)
    }
}

#[async_trait(?Send)]
impl<S: SottoStore> IdentityKeyStore for View<'_, '_, S> {
    async fn get_identity_key_pair(&self) -> SignalResult<IdentityKeyPair> {
        let store = self.0.borrow();
        store.get_identity_key_pair().await
    }
    async fn get_local_registration_id(&self) -> SignalResult<u32> {
        let store = self.0.borrow();
        store.get_local_registration_id().await
    }
    async fn save_identity(
        &mut self,
        address: &ProtocolAddress,
        identity: &IdentityKey,
    ) -> SignalResult<IdentityChange> {
        let mut store = self.0.borrow_mut();
        store.save_identity(address, identity).await
    }
    async fn is_trusted_identity(
        &self,
        address: &ProtocolAddress,
        identity: &IdentityKey,
        direction: Direction,
    ) -> SignalResult<bool> {
        let store = self.0.borrow();
        store
            .is_trusted_identity(address, identity, direction)
            .await
    }
    async fn get_identity(&self, address: &ProtocolAddress) -> SignalResult<Option<IdentityKey>> {
        let store = self.0.borrow();
        store.get_identity(address).await
    }
}

#[async_trait(?Send)]
impl<S: SottoStore> PreKeyStore for View<'_, '_, S> {
    async fn get_pre_key(&self, id: PreKeyId) -> SignalResult<PreKeyRecord> {
        let store = self.0.borrow();
        store.get_pre_key(id).await
    }
    async fn save_pre_key(&mut self, id: PreKeyId, record: &PreKeyRecord) -> SignalResult<()> {
        let mut store = self.0.borrow_mut();
        store.save_pre_key(id, record).await
    }
    async fn remove_pre_key(&mut self, id: PreKeyId) -> SignalResult<()> {
        let mut store = self.0.borrow_mut();
        store.remove_pre_key(id).await
    }
}

#[async_trait(?Send)]
impl<S: SottoStore> SignedPreKeyStore for View<'_, '_, S> {
    async fn get_signed_pre_key(&self, id: SignedPreKeyId) -> SignalResult<SignedPreKeyRecord> {
        let store = self.0.borrow();
        store.get_signed_pre_key(id).await
    }
    async fn save_signed_pre_key(
        &mut self,
        id: SignedPreKeyId,
        record: &SignedPreKeyRecord,
    ) -> SignalResult<()> {
        let mut store = self.0.borrow_mut();
        store.save_signed_pre_key(id, record).await
    }
}

#[async_trait(?Send)]
impl<S: SottoStore> KyberPreKeyStore for View<'_, '_, S> {
    async fn get_kyber_pre_key(&self, id: KyberPreKeyId) -> SignalResult<KyberPreKeyRecord> {
        let store = self.0.borrow();
        store.get_kyber_pre_key(id).await
    }
    async fn save_kyber_pre_key(
        &mut self,
        id: KyberPreKeyId,
        record: &KyberPreKeyRecord,
    ) -> SignalResult<()> {
        let mut store = self.0.borrow_mut();
        store.save_kyber_pre_key(id, record).await
    }
    async fn mark_kyber_pre_key_used(
        &mut self,
        id: KyberPreKeyId,
        ec_prekey_id: SignedPreKeyId,
        base_key: &PublicKey,
    ) -> SignalResult<()> {
        let mut store = self.0.borrow_mut();
        store
            .mark_kyber_pre_key_used(id, ec_prekey_id, base_key)
            .await
    }
}

#[async_trait(?Send)]
impl<S: SottoStore> SessionStore for View<'_, '_, S> {
    async fn load_session(&self, address: &ProtocolAddress) -> SignalResult<Option<SessionRecord>> {
        let store = self.0.borrow();
        store.load_session(address).await
    }
    async fn store_session(
        &mut self,
        address: &ProtocolAddress,
        record: &SessionRecord,
    ) -> SignalResult<()> {
        let mut store = self.0.borrow_mut();
        store.store_session(address, record).await
    }
}

#[async_trait(?Send)]
impl<S: SottoStore> SenderKeyStore for View<'_, '_, S> {
    async fn store_sender_key(
        &mut self,
        sender: &ProtocolAddress,
        distribution_id: uuid::Uuid,
        record: &SenderKeyRecord,
    ) -> SignalResult<()> {
        let mut store = self.0.borrow_mut();
        store
            .store_sender_key(sender, distribution_id, record)
            .await
    }
    async fn load_sender_key(
        &mut self,
        sender: &ProtocolAddress,
        distribution_id: uuid::Uuid,
    ) -> SignalResult<Option<SenderKeyRecord>> {
        let mut store = self.0.borrow_mut();
        store.load_sender_key(sender, distribution_id).await
    }
}
