//! SMS: Sotto over text messages, and the plain-SMS model.
//!
//! - [`SmsCodec`] ([`segment`]) turns a payload into standalone 160-character
//!   GSM-7 texts (or data SMS) with Sotto's own part header, and back;
//!   [`alphabet`] is the carrier-safe radix-82 encoding it writes;
//! - [`frame`]: what a payload is (an encrypted envelope, a handshake hello,
//!   a resend request);
//! - [`reassembly`]: parts back into payloads, within time and memory bounds;
//! - [`gsm7`]: the GSM 7-bit alphabet and plain-SMS segmentation;
//! - [`handshake`]: discovering a phone number's Sotto identity by SMS;
//! - [`SmsEndpoint`] ([`endpoint`]): the state machine between the radio
//!   and the messaging layer;
//! - [`phone`]: phone numbers normalised to E.164;
//! - [`route`]: relay, encrypted SMS or plain SMS/MMS, per message;
//! - [`plain`]: the plain-SMS model (threads, states, MMS, history import).
//!
//! `docs/sms-transport.md` describes the wire format and its costs. Nothing
//! here does I/O: the Android layer moves SMS in and out.

pub mod alphabet;
pub mod endpoint;
pub mod frame;
pub mod gsm7;
pub mod handshake;
pub mod phone;
pub mod plain;
pub mod reassembly;
pub mod route;
pub mod segment;

pub use endpoint::{
    LegKind, OutgoingSms, SmsBody, SmsConfig, SmsEndpoint, SmsEvent, Step, WaitingLeg,
};
pub use frame::SmsFrame;
pub use phone::PhoneNumber;
pub use reassembly::{Expiry, Incomplete, Offer, Reassembler, ReassemblyLimits};
pub use route::{choose_route, Route, RouteFacts, TransportPolicy};
pub use segment::{Segment, SmsCodec, TextSms, WireId};
