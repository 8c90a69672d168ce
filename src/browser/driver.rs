//! The chromedriver process: found, started on a free loopback port, waited for, and always
//! stopped together with every browser it launched.
//!
//! chromedriver runs in its own process group, and the Chromium it launches stays in that group
//! (measured here). Killing chromedriver alone while a session is open leaves Chromium orphaned,
//! so stopping signals the whole group.
//!
//! geoagent may also be killed outright (SIGKILL skips every destructor). chromedriver then dies
//! of its parent-death signal, but that signal is not passed on to Chromium. So every chromedriver
//! comes with a [`Watchdog`]: a tiny `sh` in its own process group that blocks reading a pipe only
//! geoagent holds open. When geoagent ends in any way without stopping the driver, the pipe
//! closes, and the watchdog kills the driver's process group and removes the browser profile.

use super::BrowserError;
use rustix::process::{Pid, Signal};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

/// chromedriver is normally ready in under 0.1 s, but on a 2-core machine under load 7 it took
/// over 15 s (issue 24), and a slow machine is not an error: the wait ends early anyway when the
/// process exits, so only a driver that runs but never answers costs this long.
pub(crate) const DRIVER_READY_TIMEOUT: Duration = Duration::from_secs(180);
/// After this long without an answer the user is told what is being waited for, so a slow start
/// does not look like a hang.
pub(crate) const DRIVER_PATIENCE_NOTICE: Duration = Duration::from_secs(3);
/// How often the waiting message is repeated.
pub(crate) const DRIVER_NOTICE_EVERY: Duration = Duration::from_secs(15);
/// The driver's last output lines kept to explain a failed start (its own errors are short).
const DRIVER_OUTPUT_LINES: usize = 12;
/// A kept line is cut to this many characters: the output is the driver's, not ours.
const DRIVER_OUTPUT_LINE_CHARS: usize = 300;
/// How long an exited driver's output may take to be read to its end; it is already written.
const DRIVER_OUTPUT_DRAIN: Duration = Duration::from_secs(1);
/// How often to ask `/status` while waiting; cheap on loopback.
pub(crate) const DRIVER_POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How long a graceful stop may take before the process group is killed.
pub(crate) const DRIVER_STOP_GRACE: Duration = Duration::from_secs(2);
/// The watchdog's shell: wait for the pipe to close, kill the group, let the killed processes
/// go, remove the profile. `$1` is the process group, `$2` the profile folder.
const WATCHDOG_SCRIPT: &str =
    "read -r _; kill -s KILL -- \"-$1\" 2>/dev/null; sleep 0.3; rm -rf -- \"$2\"";
/// The shell the watchdog runs in (POSIX, present on every Linux).
const WATCHDOG_SHELL: &str = "/bin/sh";

/// Where to look for chromedriver when no path is configured.
const DRIVER_NAMES: &[&str] = &["chromedriver"];
const DRIVER_FALLBACK_PATHS: &[&str] = &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];

/// Finds chromedriver: the configured path if any, else `PATH`, else the Debian locations.
pub(crate) fn locate(configured: Option<&Path>) -> Result<PathBuf, BrowserError> {
    if let Some(p) = configured {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(BrowserError::DriverNotFound {
                looked: p.display().to_string(),
            })
        };
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path_var) {
        for name in DRIVER_NAMES {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    DRIVER_FALLBACK_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| BrowserError::DriverNotFound {
            looked: format!("PATH, {}", DRIVER_FALLBACK_PATHS.join(", ")),
        })
}

/// A running chromedriver.
#[derive(Debug)]
pub(crate) struct Chromedriver {
    child: Option<Child>,
    pgid: Option<i32>,
    url: String,
    watchdog: Option<Watchdog>,
    binary: PathBuf,
    output: DriverOutput,
}

/// Cleans up after a geoagent that died without stopping its driver (see the module docs).
#[derive(Debug)]
struct Watchdog {
    child: std::process::Child,
}

impl Watchdog {
    /// Guards process group `pgid` and the browser profile folder `profile`.
    fn spawn(pgid: i32, profile: &Path) -> std::io::Result<Watchdog> {
        // The pipe's write end stays in this process only: std creates it close-on-exec, so no
        // other child (chromedriver, Chromium) holds it open after geoagent is gone.
        use std::os::unix::process::CommandExt;
        let child = std::process::Command::new(WATCHDOG_SHELL)
            .arg("-c")
            .arg(WATCHDOG_SCRIPT)
            .arg("geoagent-watchdog")
            .arg(pgid.to_string())
            .arg(profile)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own group: a Ctrl-C in the terminal or a kill of geoagent's group spares it.
            .process_group(0)
            .spawn()?;
        Ok(Watchdog { child })
    }

    /// The driver was stopped properly: end the watchdog without letting it act.
    fn dismiss(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Chromedriver {
    /// Starts `binary` on a free port of 127.0.0.1 and waits until it answers `/status` ready.
    /// `profile` is the browser's profile folder, removed by the watchdog if geoagent dies.
    pub async fn start(binary: &Path, profile: &Path) -> Result<Chromedriver, BrowserError> {
        let port = free_port()?;
        let mut cmd = Command::new(binary);
        cmd.arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        #[cfg(target_os = "linux")]
        // SAFETY: prctl(2) is async-signal-safe and touches no memory of the parent; it runs in
        // the forked child before exec. If geoagent is killed (SIGKILL skips every Drop),
        // chromedriver is killed too instead of living on with its browsers.
        unsafe {
            cmd.pre_exec(|| {
                rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
                    .map_err(std::io::Error::from)
            });
        }
        let mut child = cmd.spawn().map_err(|source| BrowserError::DriverSpawn {
            path: binary.display().to_string(),
            source,
        })?;
        let output = DriverOutput::default();
        if let Some(out) = child.stdout.take() {
            output.follow(out);
        }
        if let Some(err) = child.stderr.take() {
            output.follow(err);
        }
        let pgid = child.id().map(|id| id as i32);
        let mut driver = Chromedriver {
            child: Some(child),
            pgid,
            url: format!("http://127.0.0.1:{port}"),
            watchdog: None,
            binary: binary.to_path_buf(),
            output,
        };
        if let Some(pgid) = pgid {
            driver.watchdog = Some(Watchdog::spawn(pgid, profile).map_err(|source| {
                BrowserError::DriverSpawn {
                    path: WATCHDOG_SHELL.into(),
                    source,
                }
            })?);
        }
        driver.wait_ready().await?;
        Ok(driver)
    }

    /// The WebDriver endpoint, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn wait_ready(&mut self) -> Result<(), BrowserError> {
        let client = reqwest::Client::builder()
            .timeout(DRIVER_POLL_INTERVAL * 10)
            .build()
            .map_err(|e| BrowserError::DriverNotReady {
                url: self.url.clone(),
                detail: e.to_string(),
            })?;
        let status = format!("{}/status", self.url);
        let start = Instant::now();
        let mut last = String::from("no answer");
        let mut next_notice = DRIVER_PATIENCE_NOTICE;
        while start.elapsed() < DRIVER_READY_TIMEOUT {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(BrowserError::DriverExited {
                    path: self.binary.display().to_string(),
                    status: status.to_string(),
                    output: self.output.last_lines(true).await,
                });
            }
            if start.elapsed() >= next_notice {
                eprintln!(
                    "Waiting for chromedriver ({}) to answer on {}: {} s so far (a busy machine is slow to start it; giving up after {} s)",
                    crate::text::line(&self.binary.display().to_string(), 200),
                    self.url,
                    start.elapsed().as_secs(),
                    DRIVER_READY_TIMEOUT.as_secs()
                );
                next_notice = start.elapsed() + DRIVER_NOTICE_EVERY;
            }
            match client.get(&status).send().await {
                Ok(resp) => match resp.json::<serde_json::Value>().await {
                    Ok(v) if v["value"]["ready"].as_bool() == Some(true) => return Ok(()),
                    Ok(v) => last = format!("not ready: {v}"),
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(DRIVER_POLL_INTERVAL).await;
        }
        let output = self.output.last_lines(false).await;
        Err(BrowserError::DriverNotReady {
            url: self.url.clone(),
            detail: format!(
                "it still runs but did not answer in {} s (last: {}); its last output: {output}",
                DRIVER_READY_TIMEOUT.as_secs(),
                crate::text::line(&last, DRIVER_OUTPUT_LINE_CHARS)
            ),
        })
    }

    /// Stops chromedriver and everything in its process group (the browsers it started).
    pub async fn stop(mut self) {
        self.terminate();
        if let Some(mut child) = self.child.take() {
            if tokio::time::timeout(DRIVER_STOP_GRACE, child.wait())
                .await
                .is_err()
            {
                kill_group(self.pgid, Signal::KILL);
                let _ = child.wait().await;
            }
        }
        if let Some(w) = self.watchdog.take() {
            w.dismiss();
        }
    }

    fn terminate(&self) {
        kill_group(self.pgid, Signal::TERM);
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        if self.child.is_some() {
            // Drop cannot wait; SIGKILL the group so no Chromium outlives us. The watchdog is
            // left to notice the closed pipe and remove the profile once the browser is gone.
            kill_group(self.pgid, Signal::KILL);
        }
    }
}

/// Runs `work`, telling the user what it waits for (`what()`) once it has taken
/// [`DRIVER_PATIENCE_NOTICE`] and again every [`DRIVER_NOTICE_EVERY`], so a slow start on a busy
/// machine does not look like a hang. `limit` is the caller's own deadline, quoted to the user;
/// `why` says why the wait may be long.
pub(crate) async fn with_notice<T>(
    what: impl Fn() -> String,
    why: &str,
    limit: Duration,
    work: impl std::future::Future<Output = T>,
) -> T {
    let start = Instant::now();
    tokio::pin!(work);
    let mut next = DRIVER_PATIENCE_NOTICE;
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tokio::time::sleep(next.saturating_sub(start.elapsed())) => {
                eprintln!(
                    "Waiting for {}: {} s so far ({why}; giving up after {} s)",
                    crate::text::line(&what(), 300),
                    start.elapsed().as_secs(),
                    limit.as_secs()
                );
                next = start.elapsed() + DRIVER_NOTICE_EVERY;
            }
        }
    }
}

/// The last lines chromedriver wrote (stdout and stderr together; it reports a port in use or a
/// missing library there), read all along so its pipes never fill.
#[derive(Debug, Clone, Default)]
struct DriverOutput {
    lines: Arc<Mutex<VecDeque<String>>>,
    /// Streams not yet at EOF.
    open: Arc<AtomicUsize>,
}

impl DriverOutput {
    fn follow(&self, stream: impl AsyncRead + Unpin + Send + 'static) {
        let lines = self.lines.clone();
        let open = self.open.clone();
        open.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream);
            let mut buf = Vec::new();
            // Bytes, not `lines()`: the output is not ours and may be neither UTF-8 nor short;
            // a line is kept cut, and reading goes on to EOF so the driver never blocks.
            while let Ok(n) = reader.read_until(b'\n', &mut buf).await {
                if n == 0 {
                    break;
                }
                let line =
                    crate::text::line(&String::from_utf8_lossy(&buf), DRIVER_OUTPUT_LINE_CHARS);
                buf.clear();
                if line.trim().is_empty() {
                    continue;
                }
                let mut kept = lines.lock().unwrap_or_else(|p| p.into_inner());
                if kept.len() == DRIVER_OUTPUT_LINES {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
            open.fetch_sub(1, Ordering::SeqCst);
        });
    }

    /// The kept lines joined with " | ", or a note that there were none. After the process
    /// exited, first lets the readers reach the end of what it left in its pipes (a child it
    /// started may hold them open, hence the deadline).
    async fn last_lines(&self, exited: bool) -> String {
        let deadline = Instant::now() + DRIVER_OUTPUT_DRAIN;
        while exited && self.open.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            tokio::time::sleep(DRIVER_POLL_INTERVAL).await;
        }
        let kept = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if kept.is_empty() {
            "(nothing)".to_string()
        } else {
            kept.iter().cloned().collect::<Vec<_>>().join(" | ")
        }
    }
}

fn kill_group(pgid: Option<i32>, signal: Signal) {
    // A group we created (never 0 or 1, which would mean our own group or init's).
    if let Some(pid) = pgid.filter(|p| *p > 1).and_then(Pid::from_raw) {
        // Already gone is fine: the point is that it is gone.
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

/// Asks the OS for a free port on loopback. There is a small window before chromedriver binds
/// it; a clash shows up as `DriverExited` with chromedriver's own "address already in use".
fn free_port() -> Result<u16, BrowserError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(BrowserError::Port)?;
    Ok(listener.local_addr().map_err(BrowserError::Port)?.port())
}
