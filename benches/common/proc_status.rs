//! A process's memory and thread count from Linux's `/proc/<pid>/status`, read the same way by
//! every bench that reports them (and by tests/server_trust.rs, which checks the viewer's
//! figure). Include with `#[path = "common/proc_status.rs"] mod proc_status;`.
#![allow(dead_code)]

/// `/proc` gives memory in kB.
const KB_PER_MB: f64 = 1024.0;

/// The status text of this process (empty when /proc cannot be read).
pub fn own() -> String {
    std::fs::read_to_string("/proc/self/status").unwrap_or_default()
}

/// The status text of process `pid`.
pub fn of(pid: u32) -> std::io::Result<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
}

/// The number on the `name` line (`"Threads:"`, `"VmHWM:"` in kB) of `status`.
pub fn field(status: &str, name: &str) -> Option<f64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
}

/// The memory line `name` (`"VmHWM:"`, `"VmRSS:"`) of `status` in MB.
pub fn mb(status: &str, name: &str) -> Option<f64> {
    field(status, name).map(|kb| kb / KB_PER_MB)
}
