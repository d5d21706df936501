//! Known-answer tests: RFC 7714 §16.2 and §17 (AEAD_AES_256_GCM), and the
//! RFC 6188 §7.2 AES_256_CM PRF key derivation, against the code that
//! protects calls.

mod support;

use sotto_voice::srtp::{aes_256_cm_prf, SessionKeys, SrtpReceiver, SrtpSender};
use sotto_voice::Error;
use support::TestResult;

fn hex(s: &str) -> Vec<u8> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(clean).expect("test vector is hex")
}

/// RFC 7714 §16: the session key and salt all AES-256 vectors use.
fn session() -> SessionKeys {
    let key: [u8; 32] = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        .try_into()
        .expect("32 bytes");
    let salt: [u8; 12] = hex("517569642070726f2071756f")
        .try_into()
        .expect("12 bytes");
    SessionKeys::new(key, salt)
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
fn rfc7714_16_2_srtp_encrypt_and_decrypt() -> TestResult {
    let mut sender = SrtpSender::from_session_keys(session(), session());
    assert_eq!(sender.protect_rtp(&hex(RTP_PLAIN))?, hex(RTP_PROTECTED));

    let mut receiver = SrtpReceiver::from_session_keys(session(), session());
    assert_eq!(receiver.unprotect_rtp(&hex(RTP_PROTECTED))?, hex(RTP_PLAIN));
    // The same packet again is a replay.
    assert_eq!(
        receiver.unprotect_rtp(&hex(RTP_PROTECTED)),
        Err(Error::Replayed)
    );
    Ok(())
}

#[test]
fn rfc7714_17_2_srtcp_encrypt_and_decrypt() -> TestResult {
    let mut sender = SrtpSender::from_session_keys(session(), session());
    sender.set_next_srtcp_index(0x5d4);
    assert_eq!(sender.protect_rtcp(&hex(RTCP_PLAIN))?, hex(RTCP_PROTECTED));

    let mut receiver = SrtpReceiver::from_session_keys(session(), session());
    assert_eq!(
        receiver.unprotect_rtcp(&hex(RTCP_PROTECTED))?,
        hex(RTCP_PLAIN)
    );
    assert_eq!(
        receiver.unprotect_rtcp(&hex(RTCP_PROTECTED)),
        Err(Error::Replayed)
    );
    Ok(())
}

#[test]
fn rfc7714_17_4_srtcp_authentication_only() -> TestResult {
    let mut receiver = SrtpReceiver::from_session_keys(session(), session());
    assert_eq!(
        receiver.unprotect_rtcp(&hex(RTCP_TAG_ONLY))?,
        hex(RTCP_PLAIN)
    );

    // Flip one bit of the clear payload: the tag no longer verifies.
    let mut tampered = hex(RTCP_TAG_ONLY);
    tampered[20] ^= 1;
    let mut fresh = SrtpReceiver::from_session_keys(session(), session());
    assert_eq!(
        fresh.unprotect_rtcp(&tampered),
        Err(Error::AuthenticationFailed)
    );
    Ok(())
}

/// RFC 6188 §7.2: AES_256_CM PRF with a 112-bit master salt.
#[test]
fn rfc6188_7_2_key_derivation() {
    let key: [u8; 32] = hex("f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6")
        .try_into()
        .expect("32 bytes");
    let salt: [u8; 14] = hex("3b04803de51ee7c96423ab5b78d2")
        .try_into()
        .expect("14 bytes");

    let mut cipher_key = [0u8; 32];
    aes_256_cm_prf(&key, &salt, 0x00, &mut cipher_key);
    assert_eq!(
        cipher_key.to_vec(),
        hex("5ba1064e30ec51613cad926c5a28ef731ec7fb397f70a960653caf06554cd8c4")
    );

    let mut cipher_salt = [0u8; 14];
    aes_256_cm_prf(&key, &salt, 0x02, &mut cipher_salt);
    assert_eq!(cipher_salt.to_vec(), hex("fa31791685ca444a9e07c6c64e93"));

    let mut auth_key = [0u8; 20];
    aes_256_cm_prf(&key, &salt, 0x01, &mut auth_key);
    assert_eq!(
        auth_key.to_vec(),
        hex("fd9c32d39ed5fbb5a9dc96b30818454d1313dc05")
    );
}
