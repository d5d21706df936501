//! Fixtures for the CLI's end-to-end tests: the `sotto` binary run as a
//! separate process per command, a `sotto relay serve` process on loopback,
//! and accounts in temporary directories. Every process is bounded in time.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// The longest any one command may run before the test fails.
const COMMAND_LIMIT: Duration = Duration::from_secs(90);

/// What a finished command printed and how it exited.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// Fails (with the output) unless the command exited 0.
    pub fn ok(self) -> TestResult<Self> {
        if self.status.success() {
            Ok(self)
        } else {
            Err(format!(
                "command failed ({}):\n{}\n{}",
                self.status, self.stdout, self.stderr
            )
            .into())
        }
    }

    /// The stdout lines parsed as JSON values.
    pub fn json_lines(&self) -> TestResult<Vec<serde_json::Value>> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| Ok(serde_json::from_str(l)?))
            .collect()
    }

    /// The single JSON value on stdout.
    pub fn json(&self) -> TestResult<serde_json::Value> {
        Ok(serde_json::from_str(self.stdout.trim())?)
    }
}

/// Runs `sotto` with `args` (and `stdin`), waiting at most
/// [`COMMAND_LIMIT`].
pub fn sotto(args: &[&str], envs: &[(&str, &str)], stdin: Option<&str>) -> TestResult<Run> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sotto"));
    command
        .args(args)
        .env_remove("SOTTO_PASSPHRASE")
        .env_remove("SOTTO_DATA_DIR")
        .env("RUST_LOG", "warn")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in envs {
        command.env(key, value);
    }
    let mut child = command.spawn()?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())?;
    }
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = wait_bounded(&mut child, COMMAND_LIMIT)?;
    Ok(Run {
        status,
        stdout: out_reader.join().map_err(|_| "reader panicked")?,
        stderr: err_reader.join().map_err(|_| "reader panicked")?,
    })
}

fn wait_bounded(child: &mut Child, limit: Duration) -> TestResult<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("a sotto command ran longer than {limit:?}").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `sotto relay serve` on a loopback port; interrupted (SIGINT) and waited
/// for on `stop`, killed on drop.
pub struct Relay {
    child: Child,
    pub invite: String,
    pub port: u16,
}

impl Relay {
    /// Starts a relay keeping its data under `data_dir` on `port` (0: any).
    pub fn start(data_dir: &Path, port: u16) -> TestResult<Self> {
        Self::start_with(data_dir, port, &[])
    }

    /// Starts a relay with the embedded TURN server on loopback (loopback
    /// peers allowed, as on any single machine).
    pub fn start_with_turn(data_dir: &Path) -> TestResult<Self> {
        std::fs::create_dir_all(data_dir)?;
        let config = data_dir.join("relay.toml");
        std::fs::write(
            &config,
            "[turn]\nenabled = true\nlisten = \"127.0.0.1:0\"\nallow_loopback_peers = true\n",
        )?;
        let config = config.to_str().ok_or("path")?.to_owned();
        Self::start_with(data_dir, 0, &["--config", &config])
    }

    fn start_with(data_dir: &Path, port: u16, extra: &[&str]) -> TestResult<Self> {
        let listen = format!("127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_sotto"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(["relay", "serve", "--listen", &listen])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let invite = line.trim().to_owned();
        let port = invite
            .split('/')
            .nth(2)
            .and_then(|p| p.parse().ok())
            .ok_or("the relay did not print an invite")?;
        Ok(Self {
            child,
            invite,
            port,
        })
    }

    /// Stops the relay as an operator does (SIGINT) and checks it exits 0.
    pub fn stop(mut self) -> TestResult {
        Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()?;
        let status = wait_bounded(&mut self.child, Duration::from_secs(20))?;
        if !status.success() {
            return Err(format!("relay exited with {status}").into());
        }
        Ok(())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// How a test account is unlocked.
pub enum Unlock {
    /// `SOTTO_PASSPHRASE`.
    Passphrase(&'static str),
    /// `--key-file`.
    KeyFile(PathBuf),
}

/// One account: a data directory and its key.
pub struct Account {
    pub dir: PathBuf,
    pub unlock: Unlock,
}

impl Account {
    pub fn new(dir: PathBuf, unlock: Unlock) -> Self {
        Self { dir, unlock }
    }

    /// Runs a command for this account, with stdin.
    pub fn run_with_stdin(&self, args: &[&str], stdin: Option<&str>) -> TestResult<Run> {
        let dir = self.dir.to_str().ok_or("path")?;
        let mut full = vec!["--data-dir", dir];
        let key_file;
        let mut envs = Vec::new();
        match &self.unlock {
            Unlock::Passphrase(passphrase) => envs.push(("SOTTO_PASSPHRASE", *passphrase)),
            Unlock::KeyFile(path) => {
                key_file = path.to_str().ok_or("path")?.to_owned();
                full.extend(["--key-file", key_file.as_str()]);
            }
        }
        full.extend_from_slice(args);
        sotto(&full, &envs, stdin)
    }

    /// Runs a command for this account.
    pub fn run(&self, args: &[&str]) -> TestResult<Run> {
        self.run_with_stdin(args, None)
    }

    /// `init` on `relay`; returns the contact invite.
    pub fn init(&self, relay: &str) -> TestResult<String> {
        let run = self.run(&["--json", "init", "--relay", relay])?.ok()?;
        let value = run.json()?;
        assert_eq!(value["registered"], true, "registered with the relay");
        Ok(value["invite"].as_str().ok_or("no invite")?.to_owned())
    }
}

/// `text` spoken into a WAV file in `dir` by espeak-ng (installed by
/// `scripts/setup.sh`), or, without it, `seconds` of the synthetic
/// speech-like signal.
pub fn speech_wav(dir: &Path, name: &str, text: &str, seconds: f64) -> TestResult<PathBuf> {
    let path = dir.join(name);
    let spoken = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "150", "-w"])
        .arg(&path)
        .arg(text)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !spoken {
        eprintln!("espeak-ng not available: using the synthetic speech-like signal");
        let samples = sotto_voice::audio::synth::SpeechLikeSource::generate(seconds, 7);
        sotto_voice::audio::wav::write_wav(&path, &samples, 48_000)?;
    }
    Ok(path)
}

/// How closely the speech in the WAV `received` follows the WAV `sent`,
/// with up to half a second of delay (see
/// `sotto_voice::audio::speech::compare`): near 1 when the speech came
/// through, near 0 for silence or other audio. `sent` is brought to speech
/// level first, as espeak-ng writes it quietly.
pub fn heard_correlation(sent: &Path, received: &Path) -> TestResult<f64> {
    use sotto_voice::audio::speech::{compare, normalise};
    use sotto_voice::audio::wav::read_wav_48k_mono;
    let said = normalise(&read_wav_48k_mono(sent)?);
    Ok(compare(&said, &read_wav_48k_mono(received)?, 24_000).correlation)
}
