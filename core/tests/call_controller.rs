//! Two phones' `CallController`s driven by the test shell
//! (`support/call_shell.rs`) without the voice pipeline: signals through
//! Signal sessions, candidates on loopback, connectivity checks, then a
//! datagram over the resulting path.

mod support;

use std::time::Duration;

use sotto_core::call::{CallState, EndReason};
use sotto_core::Result;
use support::call_shell::{now_ms, run, Phone};
use support::*;

#[tokio::test]
async fn two_controllers_set_up_a_call_and_carry_media() -> Result<()> {
    let mut rng = rng(91);
    let (alice, bob) = in_memory_pair(&mut rng)?;
    let mut phones = [Phone::keys_only(alice), Phone::keys_only(bob)];
    let peer = phones[0].party.peer.clone();
    let dial = phones[0].controller.dial(peer, now_ms(), &mut rng)?;
    run(&mut phones, 0, dial, &mut rng).await?;
    assert!(matches!(
        phones[1].controller.state(),
        CallState::IncomingRinging { .. }
    ));
    let accept = phones[1].controller.accept(now_ms(), &mut rng)?;
    run(&mut phones, 1, accept, &mut rng).await?;

    for phone in &phones {
        assert!(
            matches!(phone.controller.state(), CallState::Connected { .. }),
            "{:?}",
            phone.controller.state()
        );
    }
    let (a, b) = (&phones[0], &phones[1]);
    assert_eq!(a.sas, b.sas);
    assert!(a.sas.is_some());
    let (a_keys, b_keys) = (
        a.keys.as_ref().expect("alice's media keys"),
        b.keys.as_ref().expect("bob's media keys"),
    );
    assert!(same_key(&a_keys.send, &b_keys.receive));
    assert!(same_key(&a_keys.receive, &b_keys.send));
    let (a_path, b_path) = (
        a.path.as_ref().expect("alice's path"),
        b.path.as_ref().expect("bob's path"),
    );
    let mut buf = [0u8; 64];
    let payload = [0x80, 111, 0, 1];
    let n = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            a_path.send(&payload).await?;
            if let Ok(got) =
                tokio::time::timeout(Duration::from_millis(100), b_path.recv(&mut buf)).await
            {
                return got;
            }
        }
    })
    .await
    .expect("a datagram in time")?;
    assert_eq!(&buf[..n], &payload);

    // Alice hangs up: both end, and both close their paths.
    let hang_up = phones[0].controller.hang_up(now_ms(), &mut rng)?;
    run(&mut phones, 0, hang_up, &mut rng).await?;
    assert_eq!(phones[0].ended, Some(EndReason::HungUpHere));
    assert_eq!(phones[1].ended, Some(EndReason::HungUpThere));
    assert!(phones[0].path.is_none() && phones[1].path.is_none());
    Ok(())
}
