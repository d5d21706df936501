//! SRTP and SRTCP with AEAD_AES_256_GCM (RFC 7714), one direction per
//! object, through webrtc-rs's sans-IO `rtc-srtp` crate.
//!
//! What this module owns: the boundary around the crate. It checks the
//! packet shape before the crate sees it, pins the peer's SSRC, sets the
//! replay windows to [`REPLAY_WINDOW`], refuses to let the SRTCP index wrap
//! (the crate would silently reuse nonces after 2³¹ reports), and maps the
//! crate's errors to ours, which name the failed check only. What it does
//! not own: the key derivation (RFC 3711 §4.3 with the AES_256_CM PRF of
//! RFC 6188, as RFC 7714 §11 requires), the IVs and AAD of RFC 7714 §8–§9,
//! the rollover counter and the replay windows, which are the crate's; the
//! AES-GCM primitive, which is ring's; and the keys, which the call layer
//! derives.
//!
//! The evidence that the crate does what RFC 7714 says is in
//! `tests/rfc_vectors.rs` (the RFC's vectors against a reference model,
//! then this module byte for byte against that model) and
//! `tests/interop.rs` (libsrtp2, the reference implementation, both ways).
//!
//! Not accepted: SRTCP with the E flag clear (authenticated only, RFC 7714
//! §9.3). The crate always authenticates the E flag as set, so it can
//! neither verify such a packet nor notice a flag cleared on the way; this
//! module refuses E = 0 outright. Sotto always encrypts SRTCP, and so do
//! libsrtp2 and WebRTC stacks by default.

use rtc_srtp::context::Context;
use rtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use rtc_srtp::protection_profile::ProtectionProfile;

use rtc_shared::error::Error as SrtpLayerError;

use crate::error::{Error, Result};
use crate::keys::SrtpKeys;

/// Length of the AES-GCM authentication tag appended to every packet.
pub const TAG_LEN: usize = 16;
/// Length of the E flag and SRTCP index trailer (RFC 7714 §9).
pub const SRTCP_INDEX_LEN: usize = 4;
/// How many packets behind the newest one are still accepted once
/// (RFC 3711 §3.3.2 asks for at least 64; the issue for at least 128).
pub const REPLAY_WINDOW: usize = 128;

/// The SRTCP index is 31 bits (RFC 3711 §3.4); the crate starts at 1.
const MAX_SRTCP_INDEX: u32 = (1 << 31) - 1;

/// The one profile Sotto speaks.
const PROFILE: ProtectionProfile = ProtectionProfile::AeadAes256Gcm;

/// A crate context under `keys`; with replay windows when it receives.
fn context(keys: &SrtpKeys, receiving: bool) -> Result<Context> {
    let provider = rtc_srtp::crypto::default_provider()
        .map_err(|_| Error::Config("no SRTP crypto provider"))?;
    let (rtp_window, rtcp_window) = if receiving {
        (
            Some(srtp_replay_protection(REPLAY_WINDOW)),
            Some(srtcp_replay_protection(REPLAY_WINDOW)),
        )
    } else {
        (None, None)
    };
    Context::new(
        &keys.master_key,
        &keys.master_salt,
        PROFILE,
        rtp_window,
        rtcp_window,
        provider.crypto(),
    )
    .map_err(|_| Error::Config("SRTP context refused the keys"))
}

/// Our error for one of the crate's. Its messages can name SSRCs and
/// sequence numbers; ours name the failed check only.
fn srtp_error(error: &SrtpLayerError) -> Error {
    match error {
        SrtpLayerError::ErrFailedToVerifyAuthTag => Error::AuthenticationFailed,
        SrtpLayerError::SrtpSsrcDuplicated(..) | SrtpLayerError::SrtcpSsrcDuplicated(..) => {
            Error::Replayed
        }
        SrtpLayerError::ErrExceededMaxPackets => Error::KeyExhausted,
        _ => Error::Malformed("refused by the SRTP layer"),
    }
}

/// The protecting half of one direction: turns RTP and RTCP into SRTP and
/// SRTCP under the sender's keys.
pub struct SrtpSender {
    context: Context,
    /// SRTCP packets protected so far: the crate numbers them from 1 and
    /// would wrap to 0 after 2³¹ − 1, reusing nonces.
    srtcp_sent: u32,
}

impl SrtpSender {
    /// A sender deriving its session keys from the master keys.
    pub fn new(master: &SrtpKeys) -> Result<Self> {
        Ok(SrtpSender {
            context: context(master, false)?,
            srtcp_sent: 0,
        })
    }

    /// Protect one RTP packet (RFC 7714 §8): the header stays clear and is
    /// authenticated, the payload is encrypted, a 16-octet tag is appended.
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>> {
        rtp_header_len(packet)?;
        let sealed = self
            .context
            .encrypt_rtp(packet)
            .map_err(|e| srtp_error(&e))?;
        Ok(sealed.to_vec())
    }

    /// Protect one (compound) RTCP packet (RFC 7714 §9, E flag set): the
    /// first 8 octets stay clear, the rest is encrypted, then the tag and
    /// the E flag with the 31-bit SRTCP index.
    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>> {
        check_rtcp_header(packet)?;
        if self.srtcp_sent >= MAX_SRTCP_INDEX {
            return Err(Error::KeyExhausted);
        }
        let sealed = self
            .context
            .encrypt_rtcp(packet)
            .map_err(|e| srtp_error(&e))?;
        self.srtcp_sent += 1;
        Ok(sealed.to_vec())
    }
}

/// The verifying half of one direction: authenticates and decrypts SRTP and
/// SRTCP from the peer, rejecting replays.
///
/// The first packet that authenticates fixes the peer's SSRC; packets from
/// any other SSRC are refused before they reach the crate, since one call
/// carries one audio stream (and the crate keeps state per SSRC it sees).
/// Until then every packet is tried on a fresh context, which becomes the
/// receiver's once a packet authenticates: forged packets under made-up
/// SSRCs leave nothing behind.
pub struct SrtpReceiver {
    peer: Peer,
}

/// What the receiver knows of the peer's stream.
enum Peer {
    /// Nothing authenticated yet: the master keys, for trial contexts.
    Unknown(SrtpKeys),
    /// The stream's SSRC and the context that has followed it since its
    /// first authentic packet (the master keys are gone by then).
    Pinned { ssrc: u32, context: Box<Context> },
}

impl SrtpReceiver {
    /// A receiver deriving its session keys from the master keys.
    pub fn new(master: &SrtpKeys) -> Result<Self> {
        // Fail here, not on the first packet, if the keys are refused.
        context(master, true)?;
        Ok(SrtpReceiver {
            peer: Peer::Unknown(master.clone()),
        })
    }

    /// The peer's SSRC, once a packet from it authenticated.
    pub fn remote_ssrc(&self) -> Option<u32> {
        match self.peer {
            Peer::Unknown(_) => None,
            Peer::Pinned { ssrc, .. } => Some(ssrc),
        }
    }

    /// Runs `open` on the pinned context, or, before the peer's SSRC is
    /// known, on a fresh one that is kept if the packet authenticates.
    fn open(
        &mut self,
        ssrc: u32,
        open: impl FnOnce(&mut Context) -> Result<Vec<u8>>,
    ) -> Result<Vec<u8>> {
        match &mut self.peer {
            Peer::Pinned { ssrc: known, .. } if *known != ssrc => Err(Error::UnknownSsrc),
            Peer::Pinned { context, .. } => open(context),
            Peer::Unknown(keys) => {
                let mut trial = context(keys, true)?;
                let plain = open(&mut trial)?;
                self.peer = Peer::Pinned {
                    ssrc,
                    context: Box::new(trial),
                };
                Ok(plain)
            }
        }
    }

    /// Verify and decrypt one SRTP packet; returns the plain RTP packet.
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>> {
        let header_len = rtp_header_len(packet)?;
        if packet.len() < header_len + TAG_LEN {
            return Err(Error::Malformed("SRTP packet shorter than its tag"));
        }
        let ssrc = read_u32(packet, 8);
        self.open(ssrc, |context| {
            context
                .decrypt_rtp(packet)
                .map(|plain| plain.to_vec())
                .map_err(|e| srtp_error(&e))
        })
    }

    /// Verify and decrypt one SRTCP packet (E flag set); returns the plain
    /// RTCP compound packet.
    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>> {
        check_rtcp_header(packet)?;
        if packet.len() < 8 + TAG_LEN + SRTCP_INDEX_LEN {
            return Err(Error::Malformed("SRTCP packet shorter than tag and index"));
        }
        // The crate authenticates the E flag as set whatever the packet
        // says, so a packet whose E flag was cleared on the way would still
        // open; refusing E = 0 here makes the flag count, as RFC 7714 §9.3
        // means it to.
        if packet[packet.len() - SRTCP_INDEX_LEN] & 0x80 == 0 {
            return Err(Error::Malformed(
                "SRTCP with the E flag clear (authenticated only) is not accepted",
            ));
        }
        let ssrc = read_u32(packet, 4);
        self.open(ssrc, |context| {
            context
                .decrypt_rtcp(packet)
                .map(|plain| plain.to_vec())
                .map_err(|e| srtp_error(&e))
        })
    }
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

fn check_rtcp_header(packet: &[u8]) -> Result<()> {
    if packet.len() < 8 {
        return Err(Error::Malformed("shorter than an RTCP header"));
    }
    if packet[0] >> 6 != 2 {
        return Err(Error::Malformed("RTCP version is not 2"));
    }
    Ok(())
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

    fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
        let mut p = vec![0x80, 111];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0, 0, 0, 0]);
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(b"opus payload");
        p
    }

    #[test]
    fn sequence_wrap_keeps_both_sides_in_step() {
        let mut tx = SrtpSender::new(&keys(1)).unwrap();
        let mut rx = SrtpReceiver::new(&keys(1)).unwrap();
        for seq in (0xfff0u16..=0xffff).chain(0..0x20) {
            let sealed = tx.protect_rtp(&rtp(seq, 7)).unwrap();
            assert_eq!(rx.unprotect_rtp(&sealed).unwrap(), rtp(seq, 7));
        }
    }

    #[test]
    fn window_accepts_reordering_within_128_and_rejects_older() {
        let mut tx = SrtpSender::new(&keys(2)).unwrap();
        let mut rx = SrtpReceiver::new(&keys(2)).unwrap();
        let sealed: Vec<_> = (0..300u16)
            .map(|s| tx.protect_rtp(&rtp(s, 7)).unwrap())
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

    #[test]
    fn forgeries_before_the_first_packet_leave_no_trace() {
        let mut tx = SrtpSender::new(&keys(3)).unwrap();
        let mut forger = SrtpSender::new(&keys(4)).unwrap();
        let mut rx = SrtpReceiver::new(&keys(3)).unwrap();
        for ssrc in 0..50u32 {
            let forged = forger.protect_rtp(&rtp(ssrc as u16, ssrc)).unwrap();
            assert_eq!(rx.unprotect_rtp(&forged), Err(Error::AuthenticationFailed));
        }
        assert_eq!(rx.remote_ssrc(), None);
        let genuine = tx.protect_rtp(&rtp(5, 9)).unwrap();
        rx.unprotect_rtp(&genuine).unwrap();
        assert_eq!(rx.remote_ssrc(), Some(9));
        // Pinned: another SSRC is refused before any crypto.
        let other = tx.protect_rtp(&rtp(6, 10)).unwrap();
        assert_eq!(rx.unprotect_rtp(&other), Err(Error::UnknownSsrc));
        // The genuine packet again is a replay: the trial context was kept.
        assert_eq!(rx.unprotect_rtp(&genuine), Err(Error::Replayed));
    }
}
