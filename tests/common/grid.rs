//! A real Selenium Grid 4 on 127.0.0.1: a hub and nodes, each node serving Debian's Chromium
//! through `/usr/bin/chromedriver` with a fixed number of slots. The jar comes from the npm
//! package `@nightwatch/selenium-server` 4.20.0, installed by `scripts/setup --grid` outside the
//! checkout; Java is Debian's OpenJDK 17.
//!
//! Every process runs in its own process group and is killed with it (the node's chromedrivers
//! and browsers too) when the [`Grid`] is dropped; [`Grid::kill_node`] does the same to one node
//! mid-test, as a machine dying would.
//!
//! Use from `tests/*.rs` with `mod common;` and from benches with
//! `#[path = "../tests/common/grid.rs"] mod grid;`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Grid release the tests run; `scripts/setup --grid` fetches the same.
pub const SELENIUM_VERSION: &str = "4.20.0";
/// A hub and its nodes start in 3–10 s here; a loaded CI machine gets plenty of slack.
const GRID_READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How often to ask the hub's `/status` while waiting.
const POLL: Duration = Duration::from_millis(250);
/// How often the hub checks that its nodes are alive (its default is 120 s): a killed node is
/// noticed within seconds, as on a Grid whose health check is tuned for short jobs.
const HEALTHCHECK_SECS: u32 = 2;
/// How long a read of `/status` may take.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// The Selenium server jar: `GEOAGENT_SELENIUM_JAR`, else where `scripts/setup --grid` puts it. Panics
/// with what to run when it or Java is missing: CI installs both, so a missing one is a
/// failure, never a skip.
pub fn require_grid() -> PathBuf {
    let jar = std::env::var_os("GEOAGENT_SELENIUM_JAR")
        .map(PathBuf::from)
        .or_else(|| {
            let dir = std::env::var_os("GEOAGENT_SELENIUM_DIR")
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME")
                        .map(|h| PathBuf::from(h).join(".cache/geoagent/selenium"))
                })?;
            Some(dir.join(format!("selenium-server-{SELENIUM_VERSION}.jar")))
        })
        .unwrap_or_default();
    assert!(
        jar.is_file(),
        "the Selenium Grid jar is missing ({}): run scripts/setup --grid (it installs openjdk-17-jre-headless \
         and selenium-server-{SELENIUM_VERSION}.jar from npm @nightwatch/selenium-server@{SELENIUM_VERSION} \
         into ~/.cache/geoagent/selenium), or set GEOAGENT_SELENIUM_JAR",
        jar.display()
    );
    let java = Command::new("java")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        java.is_ok_and(|s| s.success()),
        "java is missing: run scripts/setup --grid (apt-get install -y openjdk-17-jre-headless)"
    );
    jar
}

/// One Grid process (hub or node) in its own process group.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn kill(&mut self) {
        // The process group this test created.
        if let Some(pgid) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
        let _ = self.child.wait();
    }
}

/// A running hub with nodes; everything is killed when dropped.
pub struct Grid {
    /// `http://127.0.0.1:PORT`, the WebDriver endpoint to hand `--webdriver`.
    pub url: String,
    hub: Proc,
    nodes: Vec<Option<Proc>>,
    node_ports: Vec<u16>,
}

impl Drop for Grid {
    fn drop(&mut self) {
        for n in self.nodes.iter_mut().flatten() {
            n.kill();
        }
        self.hub.kill();
    }
}

/// A free port on loopback (there is a small window before the Grid binds it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The node configuration: no driver detection or download (offline), one driver configuration
/// serving Debian's Chromium through Debian's chromedriver with `slots` sessions.
pub fn node_config(slots: usize) -> String {
    format!(
        r#"[node]
detect-drivers = false
selenium-manager = false
max-sessions = {slots}
override-max-sessions = true

[[node.driver-configuration]]
display-name = "Debian Chromium"
stereotype = '{{"browserName": "chrome", "goog:chromeOptions": {{"binary": "/usr/bin/chromium"}}}}'
max-sessions = {slots}
webdriver-executable = "/usr/bin/chromedriver"
"#
    )
}

fn spawn(jar: &Path, args: &[String], log: PathBuf, tmp: &Path) -> Proc {
    let out = std::fs::File::create(&log).unwrap();
    let err = out.try_clone().unwrap();
    let child = Command::new("java")
        .arg(format!("-Djava.io.tmpdir={}", tmp.display()))
        .arg("-jar")
        .arg(jar)
        .args(args)
        .env("TMPDIR", tmp)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .expect("start java");
    Proc { child, log }
}

impl Grid {
    /// Starts a hub and `slots.len()` nodes (node `i` with `slots[i]` sessions) on 127.0.0.1,
    /// with logs under `dir`, and waits until the hub sees every node up.
    pub fn start(dir: &Path, slots: &[usize]) -> Grid {
        let jar = require_grid();
        let tmp = dir.join("grid-tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let (port, publish, subscribe) = (free_port(), free_port(), free_port());
        let bus = [
            "--publish-events".to_string(),
            format!("tcp://127.0.0.1:{publish}"),
            "--subscribe-events".to_string(),
            format!("tcp://127.0.0.1:{subscribe}"),
        ];
        let mut hub_args = vec![
            "hub".to_string(),
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
            "--healthcheck-interval".into(),
            HEALTHCHECK_SECS.to_string(),
        ];
        hub_args.extend(bus.iter().cloned());
        let hub = spawn(&jar, &hub_args, dir.join("hub.log"), &tmp);
        let mut grid = Grid {
            url: format!("http://127.0.0.1:{port}"),
            hub,
            nodes: Vec::new(),
            node_ports: Vec::new(),
        };
        for (i, n) in slots.iter().enumerate() {
            let config = dir.join(format!("node{i}.toml"));
            let node_port = free_port();
            grid.node_ports.push(node_port);
            std::fs::write(&config, node_config(*n)).unwrap();
            let mut args = vec![
                "node".to_string(),
                "--config".into(),
                config.display().to_string(),
                "--host".into(),
                "127.0.0.1".into(),
                "--port".into(),
                node_port.to_string(),
                "--heartbeat-period".into(),
                HEALTHCHECK_SECS.to_string(),
            ];
            args.extend(bus.iter().cloned());
            let node = spawn(&jar, &args, dir.join(format!("node{i}.log")), &tmp);
            grid.nodes.push(Some(node));
        }
        grid.wait_until(GRID_READY_TIMEOUT, "every node registered and up", |s| {
            s["value"]["ready"].as_bool() == Some(true) && up_nodes(s) == slots.len()
        });
        grid
    }

    /// The hub's `/status` document (`Null` when it does not answer).
    pub fn status(&self) -> serde_json::Value {
        let port: u16 = self.url.rsplit(':').next().unwrap().parse().unwrap();
        http_get_json(port, "/status").unwrap_or(serde_json::Value::Null)
    }

    /// Sessions running on each node, by node index order of the hub's list.
    pub fn sessions(&self) -> usize {
        let s = self.status();
        s["value"]["nodes"]
            .as_array()
            .map(|nodes| {
                nodes
                    .iter()
                    .flat_map(|n| n["slots"].as_array().cloned().unwrap_or_default())
                    .filter(|slot| !slot["session"].is_null())
                    .count()
            })
            .unwrap_or(0)
    }

    /// The index of a node that runs a session now, if any.
    pub fn busy_node(&self) -> Option<usize> {
        let s = self.status();
        let nodes = s["value"]["nodes"].as_array()?;
        nodes.iter().find_map(|n| {
            let busy = n["slots"]
                .as_array()?
                .iter()
                .any(|slot| !slot["session"].is_null());
            let port: u16 = n["uri"].as_str()?.rsplit(':').next()?.parse().ok()?;
            busy.then(|| self.node_ports.iter().position(|p| *p == port))
                .flatten()
        })
    }

    /// Kills node `i` with its chromedrivers and browsers, as if its machine died.
    pub fn kill_node(&mut self, i: usize) {
        if let Some(mut n) = self.nodes.get_mut(i).and_then(Option::take) {
            n.kill();
        }
    }

    /// Waits until `cond` holds for the hub's status; panics with the logs' tails after `limit`,
    /// or at once when the hub or a node has exited (a taken port, no Java, a bad jar): waiting
    /// out the limit for a process that is gone only hides its exit status.
    pub fn wait_until(
        &mut self,
        limit: Duration,
        what: &str,
        cond: impl Fn(&serde_json::Value) -> bool,
    ) {
        let t0 = Instant::now();
        loop {
            if cond(&self.status()) {
                return;
            }
            let mut procs = vec![&mut self.hub];
            procs.extend(self.nodes.iter_mut().flatten());
            let exited = procs.into_iter().find_map(|p| {
                let status = p.child.try_wait().ok().flatten()?;
                Some((p.log.clone(), status))
            });
            if let Some((log, status)) = exited {
                panic!(
                    "Grid: not {what}: the process logging to {} exited ({status})\n{}",
                    log.display(),
                    self.logs()
                );
            }
            if t0.elapsed() > limit {
                panic!("Grid: not {what} after {limit:?}\n{}", self.logs());
            }
            std::thread::sleep(POLL);
        }
    }

    /// The last lines of every Grid log, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        let mut procs = vec![&self.hub];
        procs.extend(self.nodes.iter().flatten());
        for p in procs {
            let text = std::fs::read_to_string(&p.log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            out.push_str(&format!("--- {}\n", p.log.display()));
            for l in tail.iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

fn up_nodes(status: &serde_json::Value) -> usize {
    status["value"]["nodes"]
        .as_array()
        .map(|n| n.iter().filter(|n| n["availability"] == "UP").count())
        .unwrap_or(0)
}

/// A plain HTTP/1.0 GET on loopback (the harness needs no HTTP client of its own).
fn http_get_json(port: u16, path: &str) -> Option<serde_json::Value> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(STATUS_TIMEOUT)).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let body = text.split_once("\r\n\r\n")?.1;
    serde_json::from_str(body).ok()
}
