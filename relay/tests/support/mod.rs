//! Fixtures for the relay's end-to-end tests: a real `sotto-relay` process
//! on loopback, and client accounts built on `sotto-core`'s public API.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use rand::SeedableRng;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use sotto_core::messaging::{self, Received};
use sotto_core::prekeys::{self, PreKeyPolicy};
use sotto_core::relay::client::{Delivery, Login, RelayConnection};
use sotto_core::relay::invite::RelayInvite;
use sotto_core::relay::sealed;
use sotto_core::store::{Contact, ContactId, DatabaseKey, SottoStore, SqlCipherStore};
use sotto_core::IdentityKey;

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// A `sotto-relay` child process; stopped (SIGINT, then waited for) on drop.
pub struct RelayProcess {
    child: Child,
    pub invite: RelayInvite,
    pub data_dir: PathBuf,
}

impl RelayProcess {
    /// Starts the relay on a free loopback port with `data_dir`.
    pub fn start(data_dir: &Path) -> TestResult<Self> {
        Self::start_on(data_dir, 0)
    }

    /// Starts the relay on loopback port `port` (0: any free port).
    pub fn start_on(data_dir: &Path, port: u16) -> TestResult<Self> {
        Self::start_with(data_dir, port, "")
    }

    /// Starts the relay with `config` as its `relay.toml`, with limits per
    /// source address raised unless `config` sets them: every test client
    /// comes from 127.0.0.1.
    pub fn start_with(data_dir: &Path, port: u16, config: &str) -> TestResult<Self> {
        std::fs::create_dir_all(data_dir)?;
        let config_path = data_dir.join("relay.toml");
        std::fs::write(&config_path, loopback_limits(config)?)?;
        let listen = format!("127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_sotto-relay"))
            .arg("--config")
            .arg(&config_path)
            .args([
                "--listen",
                &listen,
                "--public-host",
                "127.0.0.1",
                "--data-dir",
            ])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let invite = RelayInvite::parse(&line)?;
        Ok(Self {
            child,
            invite,
            data_dir: data_dir.to_owned(),
        })
    }

    /// Stops the relay the way an operator does (SIGINT) and waits for it.
    pub fn stop(mut self) -> TestResult {
        self.interrupt_and_wait()
    }

    /// Kills the relay with SIGKILL, as the OOM killer would: no shutdown
    /// code runs, so anything acknowledged but held only in the relay's
    /// memory is lost.
    pub fn kill(mut self) -> TestResult {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    fn interrupt_and_wait(&mut self) -> TestResult {
        if self.child.try_wait()?.is_none() {
            Command::new("kill")
                .args(["-INT", &self.child.id().to_string()])
                .status()?;
            // Bounded: a relay that does not stop within 20 s fails the test.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            let status = loop {
                if let Some(status) = self.child.try_wait()? {
                    break status;
                }
                if std::time::Instant::now() > deadline {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err("the relay did not shut down within 20 s".into());
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            };
            if !status.success() {
                return Err(format!("relay exited with {status}").into());
            }
        }
        Ok(())
    }
}

/// `config` with the limits per source address raised to what a machine
/// full of test clients needs, where it does not set them itself.
fn loopback_limits(config: &str) -> TestResult<String> {
    let mut table: toml::Table = toml::from_str(config)?;
    let limits = table
        .entry("limits")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .ok_or("[limits] is not a table")?;
    for key in [
        "max_connections_per_address",
        "accounts_per_address_per_hour",
    ] {
        limits.entry(key).or_insert(toml::Value::Integer(1_000_000));
    }
    Ok(toml::to_string(&table)?)
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A client account with its own SQLCipher store.
pub struct Account {
    pub name: &'static str,
    pub store: SqlCipherStore,
    pub rng: StdRng,
}

impl Account {
    pub fn create(dir: &Path, name: &'static str, seed: u64) -> TestResult<Self> {
        let mut rng = StdRng::seed_from_u64(seed);
        let key = DatabaseKey::generate(&mut rng);
        let mut store = SqlCipherStore::open(&dir.join(format!("{name}.db")), &key)?;
        let policy = PreKeyPolicy {
            batch: 20,
            low_water: 5,
            ..PreKeyPolicy::default()
        };
        prekeys::create_account(&mut store, &policy, SystemTime::now(), &mut rng)?;
        Ok(Self { name, store, rng })
    }

    pub fn identity(&self) -> TestResult<IdentityKey> {
        let account = self.store.local_account()?.ok_or("no account")?;
        Ok(*account.identity.identity_key())
    }

    /// Connects and logs in.
    pub async fn connect(&mut self, invite: &RelayInvite) -> TestResult<RelayConnection> {
        let account = self.store.local_account()?.ok_or("no account")?;
        let login = Login {
            identity: &account.identity,
            registration_id: account.registration_id,
        };
        Ok(RelayConnection::connect(invite, Some(login), &mut self.rng).await?)
    }

    /// Connects, logs in and uploads every prekey not uploaded before.
    pub async fn register(&mut self, invite: &RelayInvite) -> TestResult<RelayConnection> {
        let mut connection = self.connect(invite).await?;
        let upload = prekeys::take_for_upload(&mut self.store)?;
        connection.upload_prekeys(&upload).await?;
        Ok(connection)
    }

    /// Adds `other` as a contact known by its identity key (as from an
    /// invite); returns the contact id.
    pub fn add_contact(&mut self, other: &IdentityKey, name: &str) -> TestResult<ContactId> {
        let id = ContactId::random(&mut self.rng);
        self.store.save_contact(&Contact {
            id: id.clone(),
            name: name.into(),
            relay: None,
        })?;
        self.store.trust_identity(&id, other)?;
        Ok(id)
    }
}

/// Test-only verifier: any certificate, with the TLS 1.3 handshake
/// signature checked (for tests about frames, or that play the relay's
/// client by hand).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Opens a raw TLS 1.3 stream to the relay on loopback `port`, accepting
/// any certificate; nothing is read or sent yet.
pub async fn raw_tls(
    port: u16,
) -> TestResult<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?)
}

/// Searches `dir`'s files for `needle`.
pub fn files_contain(dir: &Path, needle: &[u8]) -> TestResult<bool> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            let bytes = std::fs::read(entry.path())?;
            if bytes.windows(needle.len()).any(|w| w == needle) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Sends `text` from `from` to the contact `to` through `connection`,
/// sealed with a certificate from the relay.
pub async fn send_sealed(
    from: &mut Account,
    connection: &mut RelayConnection,
    to: &sotto_core::store::ContactId,
    recipient: &sotto_core::IdentityKey,
    text: &str,
) -> TestResult {
    let certificate = connection.sender_certificate().await?;
    let out = messaging::send_text(&mut from.store, to, text, SystemTime::now(), &mut from.rng)?;
    let payload = sealed::seal(&from.store, to, &out.envelope, &certificate, &mut from.rng)?;
    connection.send_sealed(recipient, payload).await?;
    messaging::mark_sent(&mut from.store, out.outbox_id)?;
    Ok(())
}

/// Takes the next delivery and commits it to `account`'s store, without
/// acknowledging it to the relay.
pub async fn receive_and_commit(
    account: &mut Account,
    connection: &mut RelayConnection,
    invite: &RelayInvite,
) -> TestResult<(Delivery, Received)> {
    let delivery = connection.next_delivery().await?;
    let got = messaging::receive_sealed(
        &mut account.store,
        &delivery.payload,
        &invite.trust_root,
        SystemTime::UNIX_EPOCH + Duration::from_millis(delivery.received_at_ms),
        SystemTime::now(),
        &mut account.rng,
    )?;
    Ok((delivery, got.received))
}

/// Receives `count` deliveries, committing each before acknowledging it.
pub async fn receive_texts(
    account: &mut Account,
    connection: &mut RelayConnection,
    invite: &RelayInvite,
    count: usize,
) -> TestResult<Vec<String>> {
    let mut texts = Vec::new();
    for _ in 0..count {
        let (delivery, received) = receive_and_commit(account, connection, invite).await?;
        connection.ack(delivery.envelope_id).await?;
        match received {
            Received::Text(message) => texts.push(message.body),
            other => return Err(format!("expected a text, got {other:?}").into()),
        }
    }
    Ok(texts)
}
