//! The plain values of calls that cross the FFI: where a call's audio is
//! ([`CallAudioSpec`]), its phase, path, end reason and media counters, and
//! [`CallStatus`]. Nothing here runs a call; it only converts from the
//! core's call types (`sotto_core::call`, `sotto_core::app::CallStatus`).

use sotto_core::app;
use sotto_core::call::{CallId, CallState, EndReason, MediaStatus, PathKind, Sas};

/// Where a call's audio comes from and where the other side's goes. Audio
/// never crosses the FFI: the core opens what this names when media starts
/// and closes it when the call ends.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum CallAudioSpec {
    /// The default microphone and speaker (cpal: AAudio on Android). The
    /// app must hold `RECORD_AUDIO`; a microphone that cannot be opened
    /// ends the call with `MEDIA_FAILED`. Refused with `InvalidInput` by a
    /// library built without its `device` feature.
    Device,
    /// Audio files, for tests and recordings: `input_wav` (any rate and
    /// channel count, read whole when the call is placed or answered) is
    /// sent, then silence; what the other side says is written to
    /// `output_wav` (48 kHz mono 16-bit), complete once `CallEnded` arrives.
    Files {
        /// The WAV file to send.
        input_wav: String,
        /// The WAV file to write (replaced if it exists).
        output_wav: String,
    },
}

/// Where a call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum CallPhase {
    /// No call yet.
    Idle,
    /// We called; the other phone rings.
    OutgoingRinging,
    /// The other side calls; answer with `answerCall` or decline with
    /// `rejectCall`.
    IncomingRinging,
    /// Answered: the keys are being finished and the media path set up.
    Connecting,
    /// Media flows.
    Connected,
    /// The last call ended (`CallStatus.endReason` says why).
    Ended,
}

/// How a call's media travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum CallPath {
    /// UDP straight to the other phone.
    Direct,
    /// Through the relay's TURN server (the other phone never learns this
    /// device's address).
    Relayed,
}

/// Why a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum CallEndReason {
    /// This phone's user hung up, or cancelled the outgoing call.
    HungUpHere,
    /// The other side hung up.
    HungUpThere,
    /// This phone's user declined the incoming call.
    DeclinedHere,
    /// The other side declined.
    DeclinedThere,
    /// The other side was in another call.
    BusyThere,
    /// Nobody answered in time.
    NoAnswer,
    /// The incoming call was not answered: it timed out or the caller gave up.
    Missed,
    /// Media did not start in time after the answer.
    ConnectTimeout,
    /// The media path or the audio failed.
    MediaFailed,
}

/// A call's media counters ("stats").
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct CallStats {
    /// RTP packets sent.
    pub packets_sent: u64,
    /// SRTP bytes sent (UDP payload).
    pub bytes_sent: u64,
    /// Authentic audio packets received.
    pub packets_received: u64,
    /// Datagrams rejected (failed authentication, replays, malformed).
    pub packets_rejected: u64,
    /// Packets lost in the stream received (RFC 3550 cumulative count).
    pub packets_lost: i64,
    /// Loss fraction the other side reported last (0.0 to 1.0).
    pub remote_loss: f64,
    /// Interarrival jitter of the stream received, in milliseconds.
    pub jitter_ms: f64,
    /// Round-trip time from the last RTCP report, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// The Opus bitrate in force, bits per second.
    pub bitrate: u32,
    /// Frames decoded from their own packet.
    pub frames_decoded: u64,
    /// Frames rebuilt from a redundant copy (RED) or Opus FEC.
    pub frames_recovered: u64,
    /// Frames concealed (losses, underruns, pauses).
    pub frames_concealed: u64,
    /// Audio buffered ahead of playout, in milliseconds.
    pub playout_delay_ms: f64,
    /// Whether any of the other side's audio has been played out.
    pub audio_received: bool,
}

impl From<&MediaStatus> for CallStats {
    fn from(status: &MediaStatus) -> Self {
        let stats = &status.stats;
        Self {
            packets_sent: stats.packets_sent,
            bytes_sent: stats.bytes_sent,
            packets_received: stats.packets_received,
            packets_rejected: stats.packets_rejected,
            packets_lost: stats.local_cumulative_lost,
            remote_loss: stats.remote_loss,
            jitter_ms: stats.local_jitter_secs * 1000.0,
            rtt_ms: stats.rtt_secs.map(|s| s * 1000.0),
            bitrate: stats.bitrate,
            frames_decoded: stats.jitter.decoded,
            frames_recovered: stats.jitter.recovered_red + stats.jitter.recovered_fec,
            frames_concealed: stats.jitter.concealed,
            playout_delay_ms: stats.jitter.current_delay_ms,
            audio_received: status.first_audio_at.is_some(),
        }
    }
}

/// The call in progress, or the last one.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct CallStatus {
    /// The call's id (32 hex digits); null when there was no call yet.
    pub call_id: Option<String>,
    /// The contact on the other end; null when there was no call yet.
    pub contact_id: Option<String>,
    /// Where the call is.
    pub phase: CallPhase,
    /// Whether this phone placed the call (false when it was called, or
    /// before the call is answered on an incoming one).
    pub outgoing: bool,
    /// Why the last call ended, when `phase` is `ENDED`.
    pub end_reason: Option<CallEndReason>,
    /// The two authentication words to read aloud, once the keys are
    /// agreed; empty before.
    pub sas_words: Vec<String>,
    /// The media path, while media runs.
    pub path: Option<CallPath>,
    /// The media counters, while media runs (the final ones after the end).
    pub stats: Option<CallStats>,
    /// Whether the microphone is muted.
    pub muted: bool,
    /// The playout gain, 0.0 (speaker off) to 4.0; 1.0 as received.
    pub speaker_gain: f32,
}

impl From<app::CallStatus> for CallStatus {
    fn from(status: app::CallStatus) -> Self {
        let (call, phase, outgoing, end_reason) = match &status.state {
            CallState::Idle => (None, CallPhase::Idle, false, None),
            CallState::OutgoingRinging { call, .. } => {
                (Some(call), CallPhase::OutgoingRinging, true, None)
            }
            CallState::IncomingRinging { call, .. } => {
                (Some(call), CallPhase::IncomingRinging, false, None)
            }
            CallState::Connecting { call, role, .. } => (
                Some(call),
                CallPhase::Connecting,
                *role == sotto_core::call::Role::Caller,
                None,
            ),
            CallState::Connected { call, role } => (
                Some(call),
                CallPhase::Connected,
                *role == sotto_core::call::Role::Caller,
                None,
            ),
            CallState::Ended { call, reason } => {
                (Some(call), CallPhase::Ended, false, Some((*reason).into()))
            }
        };
        Self {
            call_id: call.map(|c| call_id_text(&c.call_id)),
            contact_id: call.map(|c| c.peer.as_str().to_owned()),
            phase,
            outgoing,
            end_reason,
            sas_words: status.sas.as_ref().map(sas_words).unwrap_or_default(),
            path: status.path.map(CallPath::from),
            stats: status.media.as_ref().map(CallStats::from),
            muted: status.muted,
            speaker_gain: status.speaker_gain,
        }
    }
}

impl From<PathKind> for CallPath {
    fn from(kind: PathKind) -> Self {
        match kind {
            PathKind::Direct => CallPath::Direct,
            PathKind::Relayed => CallPath::Relayed,
        }
    }
}

impl From<EndReason> for CallEndReason {
    fn from(reason: EndReason) -> Self {
        match reason {
            EndReason::HungUpHere => CallEndReason::HungUpHere,
            EndReason::HungUpThere => CallEndReason::HungUpThere,
            EndReason::DeclinedHere => CallEndReason::DeclinedHere,
            EndReason::DeclinedThere => CallEndReason::DeclinedThere,
            EndReason::BusyThere => CallEndReason::BusyThere,
            EndReason::NoAnswer => CallEndReason::NoAnswer,
            EndReason::Missed => CallEndReason::Missed,
            EndReason::ConnectTimeout => CallEndReason::ConnectTimeout,
            EndReason::MediaFailed => CallEndReason::MediaFailed,
        }
    }
}

/// A call id as the bindings show it: 32 lowercase hex digits.
pub(crate) fn call_id_text(id: &CallId) -> String {
    hex::encode(id.0)
}

/// The two words of an authentication string.
pub(crate) fn sas_words(sas: &Sas) -> Vec<String> {
    sas.words().iter().map(|w| (*w).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use sotto_core::call::CallRef;
    use sotto_core::store::ContactId;

    use super::*;

    #[test]
    fn an_ended_call_reports_its_reason_and_ids() {
        let status = app::CallStatus {
            state: CallState::Ended {
                call: CallRef {
                    call_id: CallId([0x0f; 16]),
                    peer: ContactId::from_string("c1".into()),
                },
                reason: EndReason::DeclinedThere,
            },
            sas: None,
            path: None,
            media: None,
            muted: false,
            speaker_gain: 1.0,
        };
        let status = CallStatus::from(status);
        assert_eq!(status.phase, CallPhase::Ended);
        assert_eq!(status.end_reason, Some(CallEndReason::DeclinedThere));
        assert_eq!(status.call_id.as_deref(), Some("0f".repeat(16).as_str()));
        assert_eq!(status.contact_id.as_deref(), Some("c1"));
        assert!(status.sas_words.is_empty());
    }

    #[test]
    fn stats_convert_seconds_to_milliseconds() {
        let mut media = MediaStatus::default();
        media.stats.local_jitter_secs = 0.004;
        media.stats.rtt_secs = Some(0.02);
        media.stats.jitter.recovered_red = 2;
        media.stats.jitter.recovered_fec = 1;
        let stats = CallStats::from(&media);
        assert!((stats.jitter_ms - 4.0).abs() < 1e-9);
        assert_eq!(stats.rtt_ms.map(|ms| ms.round()), Some(20.0));
        assert_eq!(stats.frames_recovered, 3);
        assert!(!stats.audio_received);
    }
}
