//! `sotto demo` end to end: it must exit 0 and say every check passed.

use std::process::Command;

#[test]
fn demo_runs_and_every_check_passes() {
    let output = Command::new(env!("CARGO_BIN_EXE_sotto"))
        .arg("demo")
        .output()
        .expect("run sotto demo");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("both phones show the same safety number"));
    assert!(stdout.contains("a replay of the same envelope is rejected"));
    assert!(stdout.contains("Bob decrypted it and knew it came from Alice"));
    assert!(stdout.contains("the relay's database holds no message text"));
    assert!(stdout.contains("both phones hold a Signal session, set up over SMS only"));
    assert!(stdout.contains("Dave decrypted exactly what Carol sent"));
    assert!(stdout.contains("no SMS on the line shows the text"));
    assert!(stdout.contains("both phones show the same authentication string"));
    assert!(stdout.contains("Bob heard Alice's words"));
    assert!(stdout.contains("Alice heard Bob's words"));
    assert!(stdout.contains("Alice hung up; the call ended on both phones"));
    assert!(stdout.trim_end().ends_with("All checks passed."));
}

#[test]
fn help_lists_the_demo() {
    let output = Command::new(env!("CARGO_BIN_EXE_sotto"))
        .arg("--help")
        .output()
        .expect("run sotto");
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("demo"));
}
