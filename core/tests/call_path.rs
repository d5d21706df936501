//! The media path on loopback without TURN: direct UDP between two host
//! candidates, datagrams both ways, and a stranger who cannot get a path
//! chosen or inject media. (The TURN paths are tested in
//! `relay/tests/turn.rs`, against the relay's TURN server and coturn.)

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use sotto_core::call::{
    CallId, CallKeys, CallParties, CalleeHandshake, CallerHandshake, Candidate, CandidateKind,
    LocalCandidates, MediaPath, PathConfig, PathKind, Role,
};
use sotto_core::Error;

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const DEADLINE: Duration = Duration::from_secs(10);

fn call_keys(seed: u64) -> TestResult<(CallKeys, CallKeys)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let alice = *libsignal_protocol::IdentityKeyPair::generate(&mut rng).identity_key();
    let bob = *libsignal_protocol::IdentityKeyPair::generate(&mut rng).identity_key();
    let parties = CallParties {
        caller: &alice,
        callee: &bob,
    };
    let call_id = CallId::random(&mut rng);
    let (caller, commitment) = CallerHandshake::start(call_id, &mut rng);
    let (callee, key) = CalleeHandshake::accept(call_id, commitment, &mut rng);
    let (caller_keys, revealed) = caller.finish(&key, parties)?;
    Ok((caller_keys, callee.finish(&revealed, parties)?))
}

async fn exchange(from: &MediaPath, to: &MediaPath, payload: &[u8]) -> TestResult {
    let mut buf = [0u8; 1500];
    let n = tokio::time::timeout(DEADLINE, async {
        loop {
            from.send(payload).await?;
            if let Ok(got) =
                tokio::time::timeout(Duration::from_millis(100), to.recv(&mut buf)).await
            {
                return got;
            }
        }
    })
    .await
    .map_err(|_| "no datagram in time")??;
    assert_eq!(&buf[..n], payload);
    Ok(())
}

#[tokio::test]
async fn two_host_candidates_connect_directly_and_carry_datagrams() -> TestResult {
    let (alice_keys, bob_keys) = call_keys(1)?;
    let config = PathConfig::new(LOOPBACK, None);
    let alice = LocalCandidates::gather(&config).await?;
    let bob = LocalCandidates::gather(&config).await?;
    assert_eq!(alice.candidates().len(), 1);
    assert_eq!(alice.candidates()[0].kind, CandidateKind::Host);
    let (for_bob, for_alice) = (alice.candidates().to_vec(), bob.candidates().to_vec());
    let (alice, bob) = tokio::join!(
        alice.connect(&for_alice, Role::Caller, &alice_keys.path, &config),
        bob.connect(&for_bob, Role::Callee, &bob_keys.path, &config),
    );
    let (alice, bob) = (alice?, bob?);
    assert_eq!(alice.kind(), PathKind::Direct);
    assert_eq!(bob.kind(), PathKind::Direct);
    for n in 0..5u8 {
        exchange(&alice, &bob, &[0x80, 111, 0, n]).await?;
        exchange(&bob, &alice, &[0x80, 111, 1, n]).await?;
    }

    // A stranger sending to Alice's socket is not heard: only the chosen
    // pair's datagrams reach the pipeline.
    let stranger = tokio::net::UdpSocket::bind((LOOPBACK, 0)).await?;
    stranger
        .send_to(&[0x80, 111, 9, 9], for_bob[0].address)
        .await?;
    exchange(&bob, &alice, &[0x80, 111, 2, 0]).await?;
    alice.close().await;
    bob.close().await;
    Ok(())
}

#[tokio::test]
async fn without_the_call_key_no_path_is_chosen() -> TestResult {
    let (alice_keys, _) = call_keys(2)?;
    // Mallory has her own key: her checks do not verify at Alice's end.
    let (_, mallory_keys) = call_keys(3)?;
    let mut config = PathConfig::new(LOOPBACK, None);
    config.timeout = Duration::from_millis(800);
    let alice = LocalCandidates::gather(&config).await?;
    let mallory = LocalCandidates::gather(&config).await?;
    let (for_mallory, for_alice) = (alice.candidates().to_vec(), mallory.candidates().to_vec());
    let (alice, mallory) = tokio::join!(
        alice.connect(&for_alice, Role::Caller, &alice_keys.path, &config),
        mallory.connect(&for_mallory, Role::Callee, &mallory_keys.path, &config),
    );
    assert!(matches!(alice, Err(Error::NoMediaPath)));
    assert!(matches!(mallory, Err(Error::NoMediaPath)));
    Ok(())
}

#[tokio::test]
async fn no_remote_candidates_means_no_path() -> TestResult {
    let (keys, _) = call_keys(4)?;
    let config = PathConfig::new(LOOPBACK, None);
    let alice = LocalCandidates::gather(&config).await?;
    let nothing: [Candidate; 0] = [];
    assert!(matches!(
        alice
            .connect(&nothing, Role::Caller, &keys.path, &config)
            .await,
        Err(Error::NoMediaPath)
    ));
    Ok(())
}
