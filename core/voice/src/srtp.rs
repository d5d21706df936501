//! SRTP and SRTCP with AEAD_AES_256_GCM (RFC 7714), one direction per object.
//!
//! What this module owns: the key derivation (RFC 3711 §4.3 with the
//! AES_256_CM PRF of RFC 6188, as RFC 7714 §11 and its erratum 4938 require),
//! the packet transforms of RFC 7714 §8–§9, rollover-counter estimation
//! (RFC 3711 Appendix A) and the replay windows (RFC 3711 §3.3.2). What it
//! does not own: the AES and GCM primitives, which come from the audited
//! RustCrypto `aes`, `ctr` and `aes-gcm` crates, and the keys, which the call
//! layer derives.
//!
//! Why not `webrtc-srtp`: it offers the same profile on the same RustCrypto
//! primitives, but only builds contexts from *master* keys, so the RFC 7714
//! §16–§17 vectors (which are given with session keys) cannot be run against
//! it; it does not wipe its keys; and it brings `tokio` and the webrtc-util
//! stack into a crate that otherwise needs neither. libsrtp2 bindings would
//! need `unsafe` and a C library cross-compiled for Android. The transform
//! here is small, follows the RFC section by section, passes the RFC vectors
//! and interoperates with libsrtp2 in both directions (see `tests/interop.rs`).

use aes::cipher::{KeyIvInit, StreamCipher};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::keys::{SrtpKeys, MASTER_SALT_LEN};

/// Length of the AES-GCM authentication tag appended to every packet.
pub const TAG_LEN: usize = 16;
/// Length of the E flag and SRTCP index trailer (RFC 7714 §9).
pub const SRTCP_INDEX_LEN: usize = 4;
/// How many packets behind the newest one are still accepted once
/// (RFC 3711 §3.3.2 asks for at least 64; the issue for at least 128).
pub const REPLAY_WINDOW: u64 = 128;

/// The 48-bit SRTP packet index space (RFC 3711 §3.2.1).
const MAX_SRTP_INDEX: u64 = (1 << 48) - 1;
/// The 31-bit SRTCP index space (RFC 3711 §3.4).
const MAX_SRTCP_INDEX: u32 = (1 << 31) - 1;

// Key derivation labels (RFC 3711 §4.3.1 and §4.3.2).
const LABEL_SRTP_KEY: u8 = 0x00;
const LABEL_SRTP_SALT: u8 = 0x02;
const LABEL_SRTCP_KEY: u8 = 0x03;
const LABEL_SRTCP_SALT: u8 = 0x05;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// The session key and salt of one of SRTP or SRTCP in one direction.
///
/// Production code never builds these by hand: [`SrtpSender::new`] and
/// [`SrtpReceiver::new`] derive them from [`SrtpKeys`]. They are public so
/// that the RFC 7714 §16–§17 vectors, which are given as session keys, can
/// be checked against the very code that protects calls.
#[derive(Clone, Zeroize)]
#[zeroize(drop)]
pub struct SessionKeys {
    key: [u8; 32],
    salt: [u8; 12],
}

impl SessionKeys {
    /// Session keys from their raw bytes.
    pub fn new(key: [u8; 32], salt: [u8; 12]) -> Self {
        SessionKeys { key, salt }
    }

    /// Derive the SRTP (`rtcp == false`) or SRTCP session keys from master
    /// keys, with key derivation rate 0.
    pub fn derive(master: &SrtpKeys, rtcp: bool) -> Self {
        let (key_label, salt_label) = if rtcp {
            (LABEL_SRTCP_KEY, LABEL_SRTCP_SALT)
        } else {
            (LABEL_SRTP_KEY, LABEL_SRTP_SALT)
        };
        let mut salt14 = Zeroizing::new([0u8; 14]);
        // RFC 7714 erratum 4938: the 96-bit salt is multiplied by 2^16 to
        // form the 112-bit salt the RFC 3711/6188 KDF expects.
        salt14[..MASTER_SALT_LEN].copy_from_slice(&master.master_salt);
        let mut keys = SessionKeys {
            key: [0; 32],
            salt: [0; 12],
        };
        aes_256_cm_prf(&master.master_key, &salt14, key_label, &mut keys.key);
        aes_256_cm_prf(&master.master_key, &salt14, salt_label, &mut keys.salt);
        keys
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new((&self.key).into())
    }
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys { .. }")
    }
}

/// The AES_256_CM PRF of RFC 6188 §4 (the RFC 3711 §4.3.3 construction):
/// the keystream of AES-256 in counter mode under the master key, starting
/// at IV = (label ‖ 0⁴⁸ XOR master salt) · 2¹⁶.
///
/// Public so that the RFC 6188 §7.2 key-derivation vectors can be checked.
pub fn aes_256_cm_prf(master_key: &[u8; 32], master_salt: &[u8; 14], label: u8, out: &mut [u8]) {
    let mut iv = Zeroizing::new([0u8; 16]);
    iv[..14].copy_from_slice(master_salt);
    // key_id = label ‖ r with r = index DIV kdr = 0 (kdr is 0): 56 bits at
    // the low end of the 112-bit salt, so the label sits in octet 7.
    iv[7] ^= label;
    out.fill(0);
    let mut ctr = Aes256Ctr::new(master_key.into(), (&*iv).into());
    ctr.apply_keystream(out);
}

/// Length of the RTP header (fixed part, CSRCs and extension), checked
/// against the packet length.
pub(crate) fn rtp_header_len(packet: &[u8]) -> Result<usize> {
    if packet.len() < 12 {
        return Err(Error::Malformed("shorter than an RTP header"));
    }
    if packet[0] >> 6 != 2 {
        return Err(Error::Malformed("RTP version is not 2"));
    }
    let csrc_count = usize::from(packet[0] & 0x0f);
    let mut len = 12 + 4 * csrc_count;
    if packet[0] & 0x10 != 0 {
        // RFC 3550 §5.3.1: a 4-octet extension header, then `length` words.
        if packet.len() < len + 4 {
            return Err(Error::Malformed("truncated RTP header extension"));
        }
        let words = usize::from(u16::from_be_bytes([packet[len + 2], packet[len + 3]]));
        len += 4 + 4 * words;
    }
    if packet.len() < len {
        return Err(Error::Malformed("truncated RTP header"));
    }
    Ok(len)
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// RFC 7714 §8.1: IV = (0x0000 ‖ SSRC ‖ ROC ‖ SEQ) XOR salt.
fn srtp_iv(salt: &[u8; 12], ssrc: u32, index: u64) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
    // ROC ‖ SEQ is the 48-bit packet index.
    iv[6..12].copy_from_slice(&index.to_be_bytes()[2..8]);
    for (b, s) in iv.iter_mut().zip(salt) {
        *b ^= s;
    }
    iv
}

/// RFC 7714 §9.1: IV = (0x0000 ‖ SSRC ‖ 0x0000 ‖ 0 ‖ SRTCP index) XOR salt.
fn srtcp_iv(salt: &[u8; 12], ssrc: u32, index: u32) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
    iv[8..12].copy_from_slice(&index.to_be_bytes());
    for (b, s) in iv.iter_mut().zip(salt) {
        *b ^= s;
    }
    iv
}

/// The protecting half of one direction: turns RTP and RTCP into SRTP and
/// SRTCP under the sender's keys.
pub struct SrtpSender {
    rtp_keys: SessionKeys,
    rtp: Aes256Gcm,
    rtcp_keys: SessionKeys,
    rtcp: Aes256Gcm,
    /// Rollover counter and last sequence number sent, for the packet index.
    roc: u32,
    last_seq: Option<u16>,
    next_srtcp_index: u32,
}

impl SrtpSender {
    /// A sender deriving its session keys from the master keys.
    pub fn new(master: &SrtpKeys) -> Self {
        Self::from_session_keys(
            SessionKeys::derive(master, false),
            SessionKeys::derive(master, true),
        )
    }

    /// A sender from already-derived session keys (for the RFC vectors).
    pub fn from_session_keys(rtp: SessionKeys, rtcp: SessionKeys) -> Self {
        SrtpSender {
            rtp: rtp.cipher(),
            rtp_keys: rtp,
            rtcp: rtcp.cipher(),
            rtcp_keys: rtcp,
            roc: 0,
            last_seq: None,
            next_srtcp_index: 0,
        }
    }

    /// Set the SRTCP index the next protected RTCP packet carries.
    /// Only conformance tests need this: a session starts at 0.
    pub fn set_next_srtcp_index(&mut self, index: u32) {
        self.next_srtcp_index = index & MAX_SRTCP_INDEX;
    }

    /// Protect one RTP packet (RFC 7714 §8): the header stays clear and is
    /// authenticated, the payload is encrypted, a 16-octet tag is appended.
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>> {
        let header_len = rtp_header_len(packet)?;
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = read_u32(packet, 8);
        if let Some(last) = self.last_seq {
            // The sender's own sequence numbers only go forward; a wrap
            // bumps the rollover counter (RFC 3711 §3.3.1).
            if seq < last && last - seq > 0x8000 {
                self.roc = self.roc.checked_add(1).ok_or(Error::KeyExhausted)?;
            }
        }
        let index = (u64::from(self.roc) << 16) | u64::from(seq);
        if index > MAX_SRTP_INDEX {
            return Err(Error::KeyExhausted);
        }
        self.last_seq = Some(seq);
        let iv = srtp_iv(&self.rtp_keys.salt, ssrc, index);
        let sealed = self
            .rtp
            .encrypt(
                Nonce::from_slice(&iv),
                Payload {
                    msg: &packet[header_len..],
                    aad: &packet[..header_len],
                },
            )
            .map_err(|_| Error::Malformed("payload too long for AES-GCM"))?;
        let mut out = Vec::with_capacity(header_len + sealed.len());
        out.extend_from_slice(&packet[..header_len]);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Protect one (compound) RTCP packet (RFC 7714 §9, E flag set): the
    /// first 8 octets stay clear, the rest is encrypted, then the tag and
    /// the E flag with the 31-bit SRTCP index.
    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>> {
        check_rtcp_header(packet)?;
        let index = self.next_srtcp_index;
        if index > MAX_SRTCP_INDEX {
            return Err(Error::KeyExhausted);
        }
        self.next_srtcp_index = index + 1;
        let ssrc = read_u32(packet, 4);
        let trailer = (0x8000_0000 | index).to_be_bytes();
        let mut aad = [0u8; 12];
        aad[..8].copy_from_slice(&packet[..8]);
        aad[8..].copy_from_slice(&trailer);
        let iv = srtcp_iv(&self.rtcp_keys.salt, ssrc, index);
        let sealed = self
            .rtcp
            .encrypt(
                Nonce::from_slice(&iv),
                Payload {
                    msg: &packet[8..],
                    aad: &aad,
                },
            )
            .map_err(|_| Error::Malformed("RTCP packet too long for AES-GCM"))?;
        let mut out = Vec::with_capacity(8 + sealed.len() + SRTCP_INDEX_LEN);
        out.extend_from_slice(&packet[..8]);
        out.extend_from_slice(&sealed);
        out.extend_from_slice(&trailer);
        Ok(out)
    }
}

fn check_rtcp_header(packet: &[u8]) -> Result<()> {
    if packet.len() < 8 {
        return Err(Error::Malformed("shorter than an RTCP header"));
    }
    if packet[0] >> 6 != 2 {
        return Err(Error::Malformed("RTCP version is not 2"));
    }
    Ok(())
}

/// A sliding replay window over packet indices (RFC 3711 §3.3.2).
#[derive(Debug, Default, Clone)]
struct ReplayWindow {
    /// Highest index accepted so far; `None` before the first packet.
    highest: Option<u64>,
    /// Bit `i` set: index `highest - i` was accepted.
    seen: u128,
}

impl ReplayWindow {
    /// Whether `index` may still be accepted. Does not record it: that
    /// happens only after the packet authenticated.
    fn check(&self, index: u64) -> Result<()> {
        let Some(highest) = self.highest else {
            return Ok(());
        };
        if index > highest {
            return Ok(());
        }
        let behind = highest - index;
        if behind >= REPLAY_WINDOW || self.seen & (1u128 << behind) != 0 {
            return Err(Error::Replayed);
        }
        Ok(())
    }

    fn record(&mut self, index: u64) {
        match self.highest {
            None => {
                self.highest = Some(index);
                self.seen = 1;
            }
            Some(highest) if index > highest => {
                let ahead = index - highest;
                self.seen = if ahead >= REPLAY_WINDOW {
                    0
                } else {
                    self.seen << ahead
                };
                self.seen |= 1;
                self.highest = Some(index);
            }
            Some(highest) => self.seen |= 1u128 << (highest - index),
        }
    }
}

/// The verifying half of one direction: authenticates and decrypts SRTP and
/// SRTCP from the peer, rejecting replays.
///
/// The first packet that authenticates fixes the peer's SSRC; packets from
/// any other SSRC are refused, since one call carries one audio stream.
pub struct SrtpReceiver {
    rtp_keys: SessionKeys,
    rtp: Aes256Gcm,
    rtcp_keys: SessionKeys,
    rtcp: Aes256Gcm,
    remote_ssrc: Option<u32>,
    rtp_window: ReplayWindow,
    rtcp_window: ReplayWindow,
}

impl SrtpReceiver {
    /// A receiver deriving its session keys from the master keys.
    pub fn new(master: &SrtpKeys) -> Self {
        Self::from_session_keys(
            SessionKeys::derive(master, false),
            SessionKeys::derive(master, true),
        )
    }

    /// A receiver from already-derived session keys (for the RFC vectors).
    pub fn from_session_keys(rtp: SessionKeys, rtcp: SessionKeys) -> Self {
        SrtpReceiver {
            rtp: rtp.cipher(),
            rtp_keys: rtp,
            rtcp: rtcp.cipher(),
            rtcp_keys: rtcp,
            remote_ssrc: None,
            rtp_window: ReplayWindow::default(),
            rtcp_window: ReplayWindow::default(),
        }
    }

    /// The peer's SSRC, once a packet from it authenticated.
    pub fn remote_ssrc(&self) -> Option<u32> {
        self.remote_ssrc
    }

    fn check_ssrc(&self, ssrc: u32) -> Result<()> {
        match self.remote_ssrc {
            Some(known) if known != ssrc => Err(Error::UnknownSsrc),
            _ => Ok(()),
        }
    }

    /// Estimate the 48-bit index of a received sequence number
    /// (RFC 3711 Appendix A).
    fn estimate_index(&self, seq: u16) -> Result<u64> {
        let Some(highest) = self.rtp_window.highest else {
            return Ok(u64::from(seq));
        };
        let roc = highest >> 16;
        let s_l = highest & 0xffff;
        let seq = u64::from(seq);
        let v = if s_l < 0x8000 {
            if seq > s_l && seq - s_l > 0x8000 {
                // From before the last wrap; with ROC 0 it cannot exist.
                roc.checked_sub(1).ok_or(Error::Replayed)?
            } else {
                roc
            }
        } else if s_l - 0x8000 > seq {
            roc + 1
        } else {
            roc
        };
        let index = (v << 16) | seq;
        if index > MAX_SRTP_INDEX {
            return Err(Error::KeyExhausted);
        }
        Ok(index)
    }

    /// Verify and decrypt one SRTP packet; returns the plain RTP packet.
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>> {
        let header_len = rtp_header_len(packet)?;
        if packet.len() < header_len + TAG_LEN {
            return Err(Error::Malformed("SRTP packet shorter than its tag"));
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = read_u32(packet, 8);
        self.check_ssrc(ssrc)?;
        let index = self.estimate_index(seq)?;
        self.rtp_window.check(index)?;
        let iv = srtp_iv(&self.rtp_keys.salt, ssrc, index);
        let payload = self
            .rtp
            .decrypt(
                Nonce::from_slice(&iv),
                Payload {
                    msg: &packet[header_len..],
                    aad: &packet[..header_len],
                },
            )
            .map_err(|_| Error::AuthenticationFailed)?;
        // Only an authentic packet moves the window and fixes the SSRC.
        self.rtp_window.record(index);
        self.remote_ssrc = Some(ssrc);
        let mut out = Vec::with_capacity(header_len + payload.len());
        out.extend_from_slice(&packet[..header_len]);
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// Verify and (when the E flag is set) decrypt one SRTCP packet;
    /// returns the plain RTCP compound packet.
    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>> {
        check_rtcp_header(packet)?;
        if packet.len() < 8 + TAG_LEN + SRTCP_INDEX_LEN {
            return Err(Error::Malformed("SRTCP packet shorter than tag and index"));
        }
        let ssrc = read_u32(packet, 4);
        self.check_ssrc(ssrc)?;
        let trailer_at = packet.len() - SRTCP_INDEX_LEN;
        let trailer = read_u32(packet, trailer_at);
        let encrypted = trailer & 0x8000_0000 != 0;
        let index = trailer & MAX_SRTCP_INDEX;
        self.rtcp_window.check(u64::from(index))?;
        let iv = srtcp_iv(&self.rtcp_keys.salt, ssrc, index);
        let nonce = Nonce::from_slice(&iv);
        let body = &packet[..trailer_at];
        let plain = if encrypted {
            let mut aad = [0u8; 12];
            aad[..8].copy_from_slice(&packet[..8]);
            aad[8..].copy_from_slice(&packet[trailer_at..]);
            let rest = self
                .rtcp
                .decrypt(
                    nonce,
                    Payload {
                        msg: &body[8..],
                        aad: &aad,
                    },
                )
                .map_err(|_| Error::AuthenticationFailed)?;
            let mut out = Vec::with_capacity(8 + rest.len());
            out.extend_from_slice(&packet[..8]);
            out.extend_from_slice(&rest);
            out
        } else {
            // RFC 7714 §9.3: with E clear the whole packet and the trailer
            // are associated data and only the tag is "ciphertext".
            let (clear, tag) = body.split_at(body.len() - TAG_LEN);
            let mut aad = Vec::with_capacity(clear.len() + SRTCP_INDEX_LEN);
            aad.extend_from_slice(clear);
            aad.extend_from_slice(&packet[trailer_at..]);
            self.rtcp
                .decrypt(
                    nonce,
                    Payload {
                        msg: tag,
                        aad: &aad,
                    },
                )
                .map_err(|_| Error::AuthenticationFailed)?;
            clear.to_vec()
        };
        self.rtcp_window.record(u64::from(index));
        self.remote_ssrc = Some(ssrc);
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(fill: u8) -> SrtpKeys {
        SrtpKeys {
            master_key: [fill; 32],
            master_salt: [fill ^ 0x5a; 12],
        }
    }

    fn rtp(seq: u16) -> Vec<u8> {
        let mut p = vec![0x80, 111];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef]);
        p.extend_from_slice(b"opus payload");
        p
    }

    #[test]
    fn sequence_wrap_moves_the_rollover_counter_on_both_sides() {
        let mut tx = SrtpSender::new(&keys(1));
        let mut rx = SrtpReceiver::new(&keys(1));
        for seq in (0xfff0u16..=0xffff).chain(0..0x20) {
            let sealed = tx.protect_rtp(&rtp(seq)).unwrap();
            assert_eq!(rx.unprotect_rtp(&sealed).unwrap(), rtp(seq));
        }
        assert_eq!(tx.roc, 1);
        assert_eq!(rx.rtp_window.highest, Some((1 << 16) | 0x1f));
    }

    #[test]
    fn window_accepts_reordering_within_128_and_rejects_older() {
        let mut tx = SrtpSender::new(&keys(2));
        let mut rx = SrtpReceiver::new(&keys(2));
        let sealed: Vec<_> = (0..300u16)
            .map(|s| tx.protect_rtp(&rtp(s)).unwrap())
            .collect();
        rx.unprotect_rtp(&sealed[200]).unwrap();
        // 127 behind the newest: still inside the window.
        rx.unprotect_rtp(&sealed[73]).unwrap();
        assert_eq!(rx.unprotect_rtp(&sealed[73]), Err(Error::Replayed));
        // 128 behind: outside.
        assert_eq!(rx.unprotect_rtp(&sealed[72]), Err(Error::Replayed));
        rx.unprotect_rtp(&sealed[299]).unwrap();
        rx.unprotect_rtp(&sealed[250]).unwrap();
    }
}
