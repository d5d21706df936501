//! Encrypted calls, as a third exported block of `Account`: place, answer,
//! reject, hang up, mute, speaker, the media path policy and the call's
//! status. The calls run in the core's call shell (`sotto_core::app::Calls`)
//! of the account's relay connection, so they need `connect()` first; their
//! events come through the account's listener (`AccountEvent.Call…`).
//!
//! Audio frames never cross the FFI: the app names the audio with a
//! [`CallAudioSpec`] (the devices, or WAV files) and the core opens it when
//! media starts and closes it when the call ends.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use sotto_core::app::{BoxedSink, BoxedSource, CallAudio};
use sotto_core::store::ContactId;
use sotto_voice::audio::wav::{WavSink, WavSource};
use sotto_voice::audio::FrameSink;

use crate::account::Account;
use crate::call_records::{call_id_text, CallAudioSpec, CallStatus};
use crate::error::{Result, SottoError};

#[uniffi::export]
impl Account {
    /// Calls a contact with the audio of `audio`; returns the call's id (32
    /// hex digits) once the offer is queued. The first call or text to a
    /// contact fetches their prekeys from the relay, so this may wait for
    /// the network. Then watch the events: `CallStateChanged`
    /// (`OUTGOING_RINGING`, `CONNECTING`, `CONNECTED`), `CallSas`,
    /// `CallMediaStarted` and finally `CallEnded`.
    ///
    /// Throws `NotConnected` without `connect()`, `CallInProgress` while
    /// another call runs, `InvalidInput` for an input WAV file that cannot
    /// be read, an output file whose directory does not exist, or `DEVICE`
    /// in a build without audio devices; `UnknownContact`, `NotDeliverable`,
    /// `Network` and `UntrustedIdentity` as for `sendText`;
    /// `CalledFromCallback` from a listener.
    pub fn place_call(&self, contact_id: String, audio: CallAudioSpec) -> Result<String> {
        let calls = self.calls()?;
        let audio = call_audio(audio)?;
        let contact = ContactId::from_string(contact_id);
        let id = self
            .runtime
            .block_on(async { calls.place(&contact, audio).await })??;
        Ok(call_id_text(&id))
    }

    /// Answers the ringing call (after `CallStateChanged` with
    /// `INCOMING_RINGING`) with the audio of `audio`; returns its id.
    ///
    /// Throws `NoSuchCall` if nothing rings, `NotConnected`, `InvalidInput`
    /// as for `placeCall`, `CalledFromCallback` from a listener.
    pub fn answer_call(&self, audio: CallAudioSpec) -> Result<String> {
        let calls = self.calls()?;
        let audio = call_audio(audio)?;
        let id = self
            .runtime
            .block_on(async { calls.answer(audio).await })??;
        Ok(call_id_text(&id))
    }

    /// Declines the ringing call; the caller sees `DECLINED_THERE`.
    ///
    /// Throws `NoSuchCall` if nothing rings, `NotConnected`,
    /// `CalledFromCallback` from a listener.
    pub fn reject_call(&self) -> Result<()> {
        let calls = self.calls()?;
        Ok(self.runtime.block_on(async { calls.reject().await })??)
    }

    /// Hangs up the call in progress, or cancels the outgoing one that
    /// still rings.
    ///
    /// Throws `NoSuchCall` without a call, `NotConnected`,
    /// `CalledFromCallback` from a listener.
    pub fn hang_up_call(&self) -> Result<()> {
        let calls = self.calls()?;
        Ok(self.runtime.block_on(async { calls.hang_up().await })??)
    }

    /// Mutes or unmutes the microphone: silence is sent while muted. It
    /// holds for the rest of the call; a new call starts unmuted. Does not
    /// wait (allowed from a listener).
    pub fn set_call_muted(&self, muted: bool) -> Result<()> {
        Ok(self.calls()?.set_muted(muted)?)
    }

    /// The speaker volume of the call: 0.0 (off) to 4.0, 1.0 as received;
    /// values outside are clamped. A new call starts at 1.0. Does not wait.
    pub fn set_speaker_gain(&self, gain: f32) -> Result<()> {
        Ok(self.calls()?.set_speaker_gain(gain)?)
    }

    /// "Always relay calls": with `true`, later calls send media through
    /// the relay's TURN server only, so the other phone never learns this
    /// device's address. Saved in the account's encrypted settings (it
    /// holds across `connect`s and restarts) and applied to the running
    /// connection at once. Behind a SOCKS5 proxy calls are always relayed.
    /// Does not need `connect()`.
    pub fn set_relay_only_calls(&self, relay_only: bool) -> Result<()> {
        self.set_call_path_policy(relay_only)
    }

    /// Whether "always relay calls" is on (see `setRelayOnlyCalls`); off
    /// for a new account.
    pub fn relay_only_calls(&self) -> Result<bool> {
        Ok(self.core.app()?.settings().relay_only_calls)
    }

    /// The call in progress, or the last one: phase, authentication words,
    /// path and media counters (`CallPhase.IDLE` before any call).
    ///
    /// Throws `NotConnected`, `CalledFromCallback` from a listener.
    pub fn call_status(&self) -> Result<CallStatus> {
        let calls = self.calls()?;
        let status = self.runtime.block_on(async { calls.status().await })??;
        Ok(status.into())
    }
}

/// The core's audio for a spec. A WAV input is read now, so a bad file is
/// refused before the call starts; the output file is only created when
/// media starts, so a refused call leaves an existing file alone.
fn call_audio(spec: CallAudioSpec) -> Result<CallAudio> {
    match spec {
        CallAudioSpec::Device => device_audio(),
        CallAudioSpec::Files {
            input_wav,
            output_wav,
        } => {
            let source = WavSource::open(Path::new(&input_wav))
                .map_err(|_| SottoError::InvalidInput("the input WAV file cannot be read"))?;
            let output = PathBuf::from(output_wav);
            let directory = match output.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
                _ => PathBuf::from("."),
            };
            if !directory.is_dir() || output.is_dir() {
                return Err(SottoError::InvalidInput(
                    "the output WAV path is not a file in an existing directory",
                ));
            }
            Ok(CallAudio::opened_by(move || {
                let sink = WavFileSink::create(&output)?;
                Ok((Box::new(source) as BoxedSource, Box::new(sink) as BoxedSink))
            }))
        }
    }
}

#[cfg(feature = "device")]
fn device_audio() -> Result<CallAudio> {
    Ok(CallAudio::devices(
        sotto_voice::audio::device::DeviceConfig::default(),
    ))
}

#[cfg(not(feature = "device"))]
fn device_audio() -> Result<CallAudio> {
    Err(SottoError::InvalidInput(
        "this build of Sotto has no audio device support; use WAV files",
    ))
}

/// A WAV file written as the call plays out, and finished (its header's
/// lengths written) when the call's audio closes, which is before
/// `CallEnded` is reported.
struct WavFileSink {
    /// `None` only while finishing.
    wav: Option<WavSink<BufWriter<std::fs::File>>>,
}

impl WavFileSink {
    fn create(path: &Path) -> sotto_core::Result<Self> {
        Ok(Self {
            wav: Some(WavSink::create(path)?),
        })
    }
}

impl FrameSink for WavFileSink {
    fn write_frame(&mut self, frame: &[i16]) -> sotto_voice::Result<()> {
        match &mut self.wav {
            Some(wav) => wav.write_frame(frame),
            None => Ok(()),
        }
    }
}

impl Drop for WavFileSink {
    fn drop(&mut self) {
        if let Some(wav) = self.wav.take() {
            if let Err(error) = wav.finalize() {
                // hound's message names neither the path nor the audio.
                tracing::warn!(%error, "could not finish the call's output WAV file");
            }
        }
    }
}
