//! Opus at 48 kHz mono in 20 ms frames (RFC 6716, RFC 7587), through the
//! `opus` crate's libopus bindings.
//!
//! What this module owns: the encoder and decoder settings the call needs
//! (VoIP application, in-band FEC, optional DTX, bitrate and expected loss
//! changed at run time) and the three ways of producing a frame on the
//! receive side: decode, recover from the next packet's FEC, conceal.

use opus::{Application, Bitrate, Channels};

use crate::error::{Error, Result};

/// Sample rate of the whole pipeline.
pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 20 ms mono frame.
pub const FRAME_SAMPLES: usize = 960;
/// Duration of one frame in milliseconds.
pub const FRAME_MS: u32 = 20;
/// The largest Opus packet (RFC 6716 §3.4, R4).
const MAX_PACKET: usize = 1275;

/// Lowest and highest bitrate the encoder is driven between (bit/s).
pub const MIN_BITRATE: u32 = 12_000;
/// See [`MIN_BITRATE`].
pub const MAX_BITRATE: u32 = 32_000;

/// An Opus encoder configured for calls.
pub struct OpusEncoder {
    inner: opus::Encoder,
    bitrate: u32,
    buf: Vec<u8>,
}

impl OpusEncoder {
    /// VoIP mode, in-band FEC on, DTX as asked, starting at `bitrate`.
    pub fn new(bitrate: u32, dtx: bool) -> Result<Self> {
        let mut inner = opus::Encoder::new(SAMPLE_RATE, Channels::Mono, Application::Voip)?;
        inner.set_inband_fec(true)?;
        inner.set_dtx(dtx)?;
        inner.set_vbr(true)?;
        // Complexity 9 is libopus's and WebRTC's desktop default; set it
        // explicitly so a libopus with another default changes nothing.
        inner.set_complexity(9)?;
        let mut enc = OpusEncoder {
            inner,
            bitrate: 0,
            buf: vec![0; MAX_PACKET],
        };
        enc.set_bitrate(bitrate)?;
        Ok(enc)
    }

    /// Encoder complexity, 0 (cheapest) to 10 (libopus's best).
    pub fn set_complexity(&mut self, complexity: u8) -> Result<()> {
        self.inner.set_complexity(i32::from(complexity.min(10)))?;
        Ok(())
    }

    /// Change the target bitrate (clamped to 6–510 kbit/s by libopus).
    pub fn set_bitrate(&mut self, bitrate: u32) -> Result<()> {
        if bitrate != self.bitrate {
            self.inner
                .set_bitrate(Bitrate::Bits(bitrate.min(510_000) as i32))?;
            self.bitrate = bitrate;
        }
        Ok(())
    }

    /// The current target bitrate.
    pub fn bitrate(&self) -> u32 {
        self.bitrate
    }

    /// Tell the encoder how much loss to expect: libopus sizes its in-band
    /// FEC (LBRR) from this, and sends none at 0 %.
    pub fn set_expected_loss(&mut self, percent: u8) -> Result<()> {
        self.inner
            .set_packet_loss_perc(i32::from(percent.min(100)))?;
        Ok(())
    }

    /// Encode one 20 ms frame. With DTX on, a packet of at most two bytes
    /// means "silence, nothing needs sending" (RFC 6716 §2.1.9).
    pub fn encode(&mut self, pcm: &[i16]) -> Result<&[u8]> {
        check_frame(pcm.len())?;
        let n = self.inner.encode(pcm, &mut self.buf)?;
        Ok(&self.buf[..n])
    }

    /// Samples of look-ahead the encoder adds (part of the mouth-to-ear delay).
    pub fn lookahead(&mut self) -> Result<usize> {
        Ok(self.inner.get_lookahead()?.max(0) as usize)
    }
}

pub(crate) fn check_frame(len: usize) -> Result<()> {
    if len != FRAME_SAMPLES {
        return Err(Error::FrameSize {
            expected: FRAME_SAMPLES,
            got: len,
        });
    }
    Ok(())
}

/// Samples per channel at 48 kHz that an Opus packet decodes to.
pub fn packet_samples(packet: &[u8]) -> Result<usize> {
    Ok(opus::packet::get_nb_samples(packet, SAMPLE_RATE)?)
}

/// An Opus decoder producing 20 ms frames.
pub struct OpusDecoder {
    inner: opus::Decoder,
}

impl OpusDecoder {
    /// A mono 48 kHz decoder.
    pub fn new() -> Result<Self> {
        Ok(OpusDecoder {
            inner: opus::Decoder::new(SAMPLE_RATE, Channels::Mono)?,
        })
    }

    /// Decode a packet that carries this frame.
    pub fn decode(&mut self, packet: &[u8], out: &mut [i16]) -> Result<()> {
        check_frame(out.len())?;
        let n = self.inner.decode(packet, out, false)?;
        fill_rest(out, n);
        Ok(())
    }

    /// Rebuild this (lost) frame from the in-band FEC of the *next* packet.
    pub fn decode_fec(&mut self, next_packet: &[u8], out: &mut [i16]) -> Result<()> {
        check_frame(out.len())?;
        let n = self.inner.decode(next_packet, out, true)?;
        fill_rest(out, n);
        Ok(())
    }

    /// Conceal a lost frame (libopus PLC; comfort noise after DTX).
    pub fn conceal(&mut self, out: &mut [i16]) -> Result<()> {
        check_frame(out.len())?;
        let n = self.inner.decode(&[], out, false)?;
        fill_rest(out, n);
        Ok(())
    }
}

fn fill_rest(out: &mut [i16], decoded: usize) {
    if decoded < out.len() {
        out[decoded..].fill(0);
    }
}
