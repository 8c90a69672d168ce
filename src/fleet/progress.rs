//! Progress of a long run: rounds done, mean points so far, ETA and tokens (the cost) so far.
//! A bar on a terminal; plain log lines, at most one per [`PLAIN_LOG_INTERVAL`], when stderr is
//! a file or a pipe (CI logs, `nohup`).

use crate::replay::RoundRecord;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Plain progress lines are rate-limited to this: often enough to see a run move in a log,
/// rare enough that a 1,000-round run writes a page, not a book.
pub(crate) const PLAIN_LOG_INTERVAL: Duration = Duration::from_secs(5);
/// How often the terminal bar redraws on its own (for the elapsed clock).
const BAR_TICK: Duration = Duration::from_millis(250);

/// Totals so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Rounds recorded, including those recorded before a resume.
    pub done: u64,
    /// Rounds recorded by this process.
    pub done_now: u64,
    pub points: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl Tally {
    pub fn mean_points(&self) -> f64 {
        if self.done == 0 {
            0.0
        } else {
            self.points as f64 / self.done as f64
        }
    }

    fn add(&mut self, r: &RoundRecord) {
        self.done += 1;
        self.points += u64::from(r.result.points);
        self.input_tokens += r.guess.usage.input_tokens;
        self.output_tokens += r.guess.usage.output_tokens;
    }
}

/// Shared by every worker of a run (`Arc<Progress>`).
pub struct Progress {
    label: String,
    total: u64,
    bar: Option<ProgressBar>,
    tally: Mutex<Tally>,
    started: Instant,
    last_line: Mutex<Option<Instant>>,
}

fn tokens(n: u64) -> String {
    if n >= 1_000_000 {
        format!("{:.1}M", n as f64 / 1e6)
    } else if n >= 1_000 {
        format!("{:.1}k", n as f64 / 1e3)
    } else {
        n.to_string()
    }
}

impl Progress {
    /// A display for `total` rounds of which `already` were recorded before (a resume). A bar
    /// when stderr is a terminal, else log lines.
    pub fn new(label: &str, total: usize, already: &[RoundRecord]) -> Progress {
        Self::with_terminal(label, total, already, std::io::stderr().is_terminal())
    }

    /// [`Self::new`] with the terminal decision made by the caller (tests, `--no-progress`).
    pub fn with_terminal(
        label: &str,
        total: usize,
        already: &[RoundRecord],
        terminal: bool,
    ) -> Progress {
        let mut tally = Tally::default();
        for r in already {
            tally.add(r);
        }
        let bar = terminal.then(|| {
            let b = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {wide_bar:.cyan/blue} {pos}/{len} rounds · {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            b.set_style(style);
            b.set_prefix(label.to_string());
            b.set_position(tally.done);
            b.enable_steady_tick(BAR_TICK);
            b
        });
        let p = Progress {
            label: label.to_string(),
            total: total as u64,
            bar,
            tally: Mutex::new(tally),
            started: Instant::now(),
            last_line: Mutex::new(None),
        };
        p.refresh(tally, true);
        p
    }

    fn tally_lock(&self) -> std::sync::MutexGuard<'_, Tally> {
        // Adding numbers cannot leave the tally half-updated; a poisoned lock is still good.
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The totals so far.
    pub(crate) fn tally(&self) -> Tally {
        *self.tally_lock()
    }

    /// Seconds left at this process's pace, once it has finished a round.
    pub(crate) fn eta(&self, t: &Tally) -> Option<Duration> {
        if t.done_now == 0 {
            return None;
        }
        let per_round = self.started.elapsed().as_secs_f64() / t.done_now as f64;
        let left = self.total.saturating_sub(t.done) as f64;
        Some(Duration::from_secs_f64(per_round * left))
    }

    /// One line: rounds, mean points, ETA, tokens.
    pub fn status(&self, t: &Tally) -> String {
        let eta = match self.eta(t) {
            Some(d) => format!("ETA {}s", d.as_secs()),
            None => "ETA -".into(),
        };
        format!(
            "mean {:.0} pts · {eta} · tokens {} in / {} out",
            t.mean_points(),
            tokens(t.input_tokens),
            tokens(t.output_tokens)
        )
    }

    /// Counts a recorded round.
    pub fn round(&self, r: &RoundRecord) {
        let t = {
            let mut t = self.tally_lock();
            t.add(r);
            t.done_now += 1;
            *t
        };
        self.refresh(t, t.done >= self.total);
    }

    fn refresh(&self, t: Tally, force: bool) {
        match &self.bar {
            Some(b) => {
                b.set_position(t.done);
                b.set_message(self.status(&t));
            }
            None => {
                let mut last = self.last_line.lock().unwrap_or_else(|e| e.into_inner());
                let due = match *last {
                    Some(at) => at.elapsed() >= PLAIN_LOG_INTERVAL,
                    None => true,
                };
                if force || due {
                    *last = Some(Instant::now());
                    eprintln!(
                        "{}: {}/{} rounds · {}",
                        self.label,
                        t.done,
                        self.total,
                        self.status(&t)
                    );
                }
            }
        }
    }

    /// Prints a message without breaking the bar.
    pub fn line(&self, msg: &str) {
        match &self.bar {
            // A message can quote a model's error or a session's name: sanitised like every
            // other line the program prints.
            Some(b) => b.println(crate::text::screen(msg)),
            None => eprintln!("{}", crate::text::screen(msg)),
        }
    }

    /// Final state: the bar is left on screen, or one last log line.
    pub fn finish(&self) {
        let t = self.tally();
        match &self.bar {
            Some(b) => b.finish_with_message(self.status(&t)),
            None => self.refresh(t, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_and_status_without_terminal() {
        let p = Progress::with_terminal("test", 10, &[], false);
        assert_eq!(p.tally().done, 0);
        assert!(p.status(&p.tally()).contains("ETA -"));
        let t = Tally {
            done: 4,
            done_now: 2,
            points: 10_000,
            input_tokens: 12_345,
            output_tokens: 999,
        };
        let s = p.status(&t);
        assert!(s.contains("mean 2500 pts"), "{s}");
        assert!(s.contains("12.3k in / 999 out"), "{s}");
        assert!(p.eta(&t).is_some());
    }
}
