//! Known-answer tests for SRTP/SRTCP with AEAD_AES_256_GCM.
//!
//! The RFC 7714 §16–§17 vectors are given under *session* keys, and the
//! SRTP crate (`rtc-srtp`) only takes *master* keys, from which it derives
//! the session keys itself (RFC 3711 §4.3); the derivation cannot be run
//! backwards. So the evidence comes in two links:
//!
//! 1. `model`, a deliberately plain reading of RFC 7714 §8–§9 and RFC 6188
//!    §4 on the RustCrypto primitives, reproduces every vector of RFC 7714
//!    §16.2, §17.2 and §17.4 and the key derivation of RFC 6188 §7.2;
//! 2. `sotto_voice::srtp` (the crate behind our API) produces the very
//!    bytes the model produces, and opens what the model seals, under
//!    master keys, across a rollover of the sequence number and at the
//!    SRTCP index of the RFC's vector.
//!
//! The model exists for this test only; calls never run it.

mod support;

use sotto_voice::srtp::{SrtpReceiver, SrtpSender};
use sotto_voice::{Error, SrtpKeys};
use support::TestResult;

fn hex(s: &str) -> Vec<u8> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(clean).expect("test vector is hex")
}

/// RFC 7714 §8–§9 and RFC 6188 §4, written for reading, not for speed.
mod model {
    use aes::cipher::{KeyIvInit, StreamCipher};
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use aes_gcm::{Aes256Gcm, Nonce};
    use sotto_voice::SrtpKeys;

    /// The session key and salt of SRTP or SRTCP in one direction.
    pub struct Session {
        pub key: [u8; 32],
        pub salt: [u8; 12],
    }

    /// The AES_256_CM PRF (RFC 6188 §4, RFC 3711 §4.3.3) with kdr 0: the
    /// keystream of AES-256-CTR under the master key from
    /// IV = (label ‖ 0⁴⁸ XOR salt) · 2¹⁶.
    pub fn prf(master_key: &[u8; 32], salt: &[u8; 14], label: u8, out: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(salt);
        iv[7] ^= label;
        out.fill(0);
        ctr::Ctr128BE::<aes::Aes256>::new(master_key.into(), (&iv).into()).apply_keystream(out);
    }

    /// RFC 7714 §11 with erratum 4938: the 96-bit master salt times 2¹⁶ is
    /// the 112-bit salt of the PRF. Labels 0/2 for SRTP, 3/5 for SRTCP.
    pub fn derive(master: &SrtpKeys, rtcp: bool) -> Session {
        let (key_label, salt_label) = if rtcp { (3, 5) } else { (0, 2) };
        let mut salt = [0u8; 14];
        salt[..12].copy_from_slice(&master.master_salt);
        let mut session = Session {
            key: [0; 32],
            salt: [0; 12],
        };
        prf(&master.master_key, &salt, key_label, &mut session.key);
        prf(&master.master_key, &salt, salt_label, &mut session.salt);
        session
    }

    fn xor_salt(mut iv: [u8; 12], salt: &[u8; 12]) -> [u8; 12] {
        for (b, s) in iv.iter_mut().zip(salt) {
            *b ^= s;
        }
        iv
    }

    /// RFC 7714 §8.1: IV = (0x0000 ‖ SSRC ‖ ROC ‖ SEQ) XOR salt.
    fn rtp_iv(s: &Session, packet: &[u8], roc: u32) -> [u8; 12] {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&packet[8..12]);
        iv[6..10].copy_from_slice(&roc.to_be_bytes());
        iv[10..12].copy_from_slice(&packet[2..4]);
        xor_salt(iv, &s.salt)
    }

    /// RFC 7714 §9.1: IV = (0x0000 ‖ SSRC ‖ 0x0000 ‖ 0 ‖ index) XOR salt.
    fn rtcp_iv(s: &Session, packet: &[u8], index: u32) -> [u8; 12] {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&packet[4..8]);
        iv[8..12].copy_from_slice(&index.to_be_bytes());
        xor_salt(iv, &s.salt)
    }

    /// RFC 7714 §8: a 12-octet header (no CSRC, no extension) is the AAD.
    pub fn seal_rtp(s: &Session, packet: &[u8], roc: u32) -> Vec<u8> {
        let gcm = Aes256Gcm::new((&s.key).into());
        let iv = rtp_iv(s, packet, roc);
        let sealed = gcm
            .encrypt(
                Nonce::from_slice(&iv),
                Payload {
                    msg: &packet[12..],
                    aad: &packet[..12],
                },
            )
            .expect("seal");
        [&packet[..12], &sealed].concat()
    }

    pub fn open_rtp(s: &Session, packet: &[u8], roc: u32) -> Option<Vec<u8>> {
        let gcm = Aes256Gcm::new((&s.key).into());
        let iv = rtp_iv(s, packet, roc);
        let plain = gcm
            .decrypt(
                Nonce::from_slice(&iv),
                Payload {
                    msg: &packet[12..],
                    aad: &packet[..12],
                },
            )
            .ok()?;
        Some([&packet[..12], &plain].concat())
    }

    /// RFC 7714 §9 with the E flag set: the first 8 octets and the
    /// E‖index word are the AAD.
    pub fn seal_rtcp(s: &Session, packet: &[u8], index: u32) -> Vec<u8> {
        let gcm = Aes256Gcm::new((&s.key).into());
        let word = (0x8000_0000 | index).to_be_bytes();
        let aad = [&packet[..8], &word].concat();
        let sealed = gcm
            .encrypt(
                Nonce::from_slice(&rtcp_iv(s, packet, index)),
                Payload {
                    msg: &packet[8..],
                    aad: &aad,
                },
            )
            .expect("seal");
        [&packet[..8], &sealed, &word].concat()
    }

    pub fn open_rtcp(s: &Session, packet: &[u8]) -> Option<Vec<u8>> {
        let gcm = Aes256Gcm::new((&s.key).into());
        let (body, word) = packet.split_at(packet.len() - 4);
        let index = u32::from_be_bytes(word.try_into().ok()?) & 0x7fff_ffff;
        let aad = [&packet[..8], word].concat();
        let plain = gcm
            .decrypt(
                Nonce::from_slice(&rtcp_iv(s, packet, index)),
                Payload {
                    msg: &body[8..],
                    aad: &aad,
                },
            )
            .ok()?;
        Some([&packet[..8], &plain].concat())
    }

    /// RFC 7714 §9.3/§17.4, E flag clear: the whole packet and the
    /// E‖index word are AAD, only the tag is "ciphertext".
    pub fn verify_rtcp_auth_only(s: &Session, packet: &[u8]) -> Option<Vec<u8>> {
        let gcm = Aes256Gcm::new((&s.key).into());
        let (body, word) = packet.split_at(packet.len() - 4);
        let index = u32::from_be_bytes(word.try_into().ok()?) & 0x7fff_ffff;
        let (clear, tag) = body.split_at(body.len() - 16);
        let aad = [clear, word].concat();
        gcm.decrypt(
            Nonce::from_slice(&rtcp_iv(s, packet, index)),
            Payload {
                msg: tag,
                aad: &aad,
            },
        )
        .ok()?;
        Some(clear.to_vec())
    }
}

/// RFC 7714 §16: the session key and salt all AES-256 vectors use.
fn rfc_session() -> model::Session {
    model::Session {
        key: hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
            .try_into()
            .expect("32 bytes"),
        salt: hex("517569642070726f2071756f")
            .try_into()
            .expect("12 bytes"),
    }
}

const RTP_PLAIN: &str = "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973
                         20646976 69736120 696e2070 61727465 73207472 6573";

/// RFC 7714 §16.2.1/§16.2.2.
const RTP_PROTECTED: &str = "8040f17b 8041f8d3 5501a0b2 32b1de78 a822fe12 ef9f78fa 332e33aa
                             b1801238 9a58e2f3 b50b2a02 76ffae0f 1ba63799 b87b7aa3 db36dfff
                             d6b0f9bb 7878d7a7 6c13";

const RTCP_PLAIN: &str = "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930
                          4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef";

/// RFC 7714 §17.2: SRTCP, E flag set, index 0x5d4.
const RTCP_PROTECTED: &str = "81c8000d 4d617273 d50ae4d1 f5ce5d30 4ba297e4 7d470c28 2c3ece5d
                              bffe0a50 a2eaa5c1 110555be 8415f658 c61de047 6f1b6fad 1d1eb30c
                              4446839f 57ff6f6c b26ac3be 800005d4";

/// RFC 7714 §17.4: SRTCP authenticated only (E flag clear).
const RTCP_TAG_ONLY: &str = "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930
                             4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef 91db4afb
                             feee5a97 8fab4393 ed2615fe 000005d4";

#[test]
fn model_reproduces_rfc7714_16_2_srtp() {
    assert_eq!(
        model::seal_rtp(&rfc_session(), &hex(RTP_PLAIN), 0),
        hex(RTP_PROTECTED)
    );
    assert_eq!(
        model::open_rtp(&rfc_session(), &hex(RTP_PROTECTED), 0),
        Some(hex(RTP_PLAIN))
    );
}

#[test]
fn model_reproduces_rfc7714_17_2_srtcp() {
    assert_eq!(
        model::seal_rtcp(&rfc_session(), &hex(RTCP_PLAIN), 0x5d4),
        hex(RTCP_PROTECTED)
    );
    assert_eq!(
        model::open_rtcp(&rfc_session(), &hex(RTCP_PROTECTED)),
        Some(hex(RTCP_PLAIN))
    );
}

#[test]
fn model_reproduces_rfc7714_17_4_srtcp_authentication_only() {
    assert_eq!(
        model::verify_rtcp_auth_only(&rfc_session(), &hex(RTCP_TAG_ONLY)),
        Some(hex(RTCP_PLAIN))
    );
    let mut tampered = hex(RTCP_TAG_ONLY);
    tampered[20] ^= 1;
    assert_eq!(
        model::verify_rtcp_auth_only(&rfc_session(), &tampered),
        None
    );
}

/// RFC 6188 §7.2: AES_256_CM PRF with a 112-bit master salt.
#[test]
fn model_reproduces_rfc6188_7_2_key_derivation() {
    let key: [u8; 32] = hex("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6")
        .try_into()
        .expect("32 bytes");
    let salt: [u8; 14] = hex("3b04803de51ee7c96423ab5b78d2")
        .try_into()
        .expect("14 bytes");
    let mut cipher_key = [0u8; 32];
    model::prf(&key, &salt, 0x00, &mut cipher_key);
    assert_eq!(
        cipher_key.to_vec(),
        hex("5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4")
    );
    let mut cipher_salt = [0u8; 14];
    model::prf(&key, &salt, 0x02, &mut cipher_salt);
    assert_eq!(cipher_salt.to_vec(), hex("fa31791685ca444a9e07c6c64e93"));
    let mut auth_key = [0u8; 20];
    model::prf(&key, &salt, 0x01, &mut auth_key);
    assert_eq!(
        auth_key.to_vec(),
        hex("fd9c32d39ed5fbb5a9dc96b30818454d1313dc05")
    );
}

/// Three unrelated master keys.
fn masters() -> Vec<SrtpKeys> {
    (0u8..3)
        .map(|n| {
            let mut master_key = [0u8; 32];
            for (i, b) in master_key.iter_mut().enumerate() {
                *b = (i as u8).wrapping_mul(37).wrapping_add(n.wrapping_mul(101));
            }
            SrtpKeys {
                master_key,
                master_salt: [0x51 ^ n; 12],
            }
        })
        .collect()
}

/// The RFC's RTP packet with another sequence number.
fn rtp_with_seq(seq: u16) -> Vec<u8> {
    let mut packet = hex(RTP_PLAIN);
    packet[2..4].copy_from_slice(&seq.to_be_bytes());
    packet
}

#[test]
fn our_sender_produces_the_models_bytes_across_a_rollover() -> TestResult {
    for master in masters() {
        let session = model::derive(&master, false);
        let mut sender = SrtpSender::new(&master)?;
        for seq in (0xff00u16..=0xffff).chain(0..0x100) {
            let roc = u32::from(seq < 0xff00);
            let plain = rtp_with_seq(seq);
            assert_eq!(
                sender.protect_rtp(&plain)?,
                model::seal_rtp(&session, &plain, roc),
                "sequence number {seq:#x}"
            );
        }
    }
    Ok(())
}

#[test]
fn our_sender_produces_the_models_srtcp_with_increasing_indices() -> TestResult {
    for master in masters() {
        let session = model::derive(&master, true);
        let mut sender = SrtpSender::new(&master)?;
        let mut last = None;
        for _ in 0..20 {
            let sealed = sender.protect_rtcp(&hex(RTCP_PLAIN))?;
            let word = u32::from_be_bytes(sealed[sealed.len() - 4..].try_into()?);
            assert_ne!(word & 0x8000_0000, 0, "E flag set: SRTCP is encrypted");
            let index = word & 0x7fff_ffff;
            assert!(last.is_none_or(|l| index > l), "a fresh index per packet");
            last = Some(index);
            assert_eq!(sealed, model::seal_rtcp(&session, &hex(RTCP_PLAIN), index));
        }
    }
    Ok(())
}

#[test]
fn our_receiver_opens_what_the_model_seals_and_refuses_replays() -> TestResult {
    for master in masters() {
        let rtp_session = model::derive(&master, false);
        let rtcp_session = model::derive(&master, true);
        let mut receiver = SrtpReceiver::new(&master)?;
        for seq in (0xfff0u16..=0xffff).chain(0..0x10) {
            let roc = u32::from(seq < 0xfff0);
            let sealed = model::seal_rtp(&rtp_session, &rtp_with_seq(seq), roc);
            assert_eq!(receiver.unprotect_rtp(&sealed)?, rtp_with_seq(seq));
        }
        // The SRTCP packet of RFC 7714 §17.2 (its index 0x5d4), under the
        // session keys derived from this master key, from the SSRC of the
        // RTP stream (the receiver takes one stream).
        let mut report = hex(RTCP_PLAIN);
        report[4..8].copy_from_slice(&hex(RTP_PLAIN)[8..12]);
        let sealed = model::seal_rtcp(&rtcp_session, &report, 0x5d4);
        assert_eq!(receiver.unprotect_rtcp(&sealed)?, report);
        assert_eq!(receiver.unprotect_rtcp(&sealed), Err(Error::Replayed));
        let last = model::seal_rtp(&rtp_session, &rtp_with_seq(0x0f), 1);
        assert_eq!(receiver.unprotect_rtp(&last), Err(Error::Replayed));
        // One flipped bit anywhere after the clear header: refused.
        let mut tampered = model::seal_rtp(&rtp_session, &rtp_with_seq(0x10), 1);
        let at = tampered.len() - 3;
        tampered[at] ^= 0x20;
        assert_eq!(
            receiver.unprotect_rtp(&tampered),
            Err(Error::AuthenticationFailed)
        );
    }
    Ok(())
}

/// The one part of RFC 7714 not taken: SRTCP sent with the E flag clear
/// (authenticated only) is refused with a clear error.
#[test]
fn authenticated_only_srtcp_is_refused() -> TestResult {
    let master = &masters()[0];
    let session = model::derive(master, true);
    // Build an authenticated-only packet as §9.3 describes, under the
    // derived keys, and check the model accepts it before our receiver.
    let plain = hex(RTCP_PLAIN);
    let word = 0x0000_05d4u32.to_be_bytes();
    let tag = {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&plain[4..8]);
        iv[8..12].copy_from_slice(&word);
        for (b, s) in iv.iter_mut().zip(&session.salt) {
            *b ^= s;
        }
        aes_gcm::Aes256Gcm::new((&session.key).into())
            .encrypt(
                aes_gcm::Nonce::from_slice(&iv),
                Payload {
                    msg: &[],
                    aad: &[plain.as_slice(), &word].concat(),
                },
            )
            .map_err(|_| "seal")?
    };
    let packet = [plain.as_slice(), &tag, &word].concat();
    assert_eq!(
        model::verify_rtcp_auth_only(&session, &packet),
        Some(plain.clone())
    );
    let mut receiver = SrtpReceiver::new(master)?;
    assert!(matches!(
        receiver.unprotect_rtcp(&packet),
        Err(Error::Malformed(_))
    ));
    // An encrypted packet whose E flag was cleared on the way: refused too.
    let mut cleared = model::seal_rtcp(&session, &plain, 7);
    let at = cleared.len() - 4;
    cleared[at] &= 0x7f;
    assert!(receiver.unprotect_rtcp(&cleared).is_err());
    Ok(())
}
