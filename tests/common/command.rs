//! Running the `geoagent` binary as a user would, with none of the caller's settings: every test
//! that runs the binary starts from here, so a `GEOAGENT_*` or provider variable in the shell that
//! runs `cargo test` never changes what a test sees.

use std::path::Path;
use std::process::{Command, Output};

/// Prefixes of the variables the binary reads settings or keys from.
const SETTING_PREFIXES: [&str; 5] = ["GEOAGENT_", "OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_"];

/// Removes from `cmd` every inherited variable that carries geoagent settings or a provider key,
/// for a command that wraps the binary (`prlimit ... geoagent`).
pub fn clean_env(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars() {
        if SETTING_PREFIXES.iter().any(|p| k.starts_with(p)) {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// The binary, to be run in `cwd`, with a clean environment ([`clean_env`]).
pub fn geoagent(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_geoagent"));
    cmd.current_dir(cwd);
    clean_env(&mut cmd);
    cmd
}

/// Runs the binary in `cwd` with `args` and the variables `env`, and waits for its output.
pub fn run(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    geoagent(cwd)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run geoagent")
}

/// Exit status, stdout and stderr, for an assertion message.
pub fn said(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Asserts the run succeeded (showing what it said when not) and returns its stdout.
pub fn stdout_ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", said(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}
