//! The account's pacing: one game at a time per account, and at most `max_games_per_hour`
//! started per rolling hour, recorded under the replay folder (`.geoguessr/`).

use super::SiteSessionError;
use crate::browser::geoguessr::settings::SiteOptions;
use crate::replay::ReplayError;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The pacing record under the replay folder (start times of recent games per account).
pub(crate) const PACING_DIR: &str = ".geoguessr";
/// The rolling window of `max_games_per_hour`.
const PACING_WINDOW: Duration = Duration::from_secs(3600);

/// One game at a time per account, and at most `max_games_per_hour` started per rolling hour,
/// recorded under `replay_root/.geoguessr/`. Held for the game; the lock goes with the file.
pub(super) struct Pacing {
    _lock: std::fs::File,
}

impl Pacing {
    /// Takes the account's slot; `count` = a new game, held to the hourly budget and pause.
    pub(super) fn claim(
        root: &Path,
        account: &str,
        opts: &SiteOptions,
        count: bool,
    ) -> Result<Pacing, SiteSessionError> {
        let dir = root.join(PACING_DIR);
        let io = |e: std::io::Error| SiteSessionError::Replay(ReplayError::Io(e));
        fs_err::create_dir_all(&dir).map_err(io)?;
        let name: String = account
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(64)
            .collect();
        let name = if name.is_empty() {
            "account".to_string()
        } else {
            name
        };
        let lock = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(format!("{name}.lock")))
            .map_err(io)?;
        // Released when the file closes, also when the process dies.
        if lock.file().try_lock().is_err() {
            return Err(SiteSessionError::Pacing(
                "another geoagent is playing on this account: one game at a time per account"
                    .into(),
            ));
        }
        if !count {
            return Ok(Pacing {
                _lock: lock.into_file(),
            });
        }
        let starts_path = dir.join(format!("{name}.json"));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut starts: Vec<u64> = std::fs::read_to_string(&starts_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        starts.retain(|t| now.saturating_sub(*t) < PACING_WINDOW.as_secs());
        if starts.len() as u32 >= opts.max_games_per_hour {
            let wait = starts
                .iter()
                .min()
                .map_or(0, |t| PACING_WINDOW.as_secs().saturating_sub(now - t));
            return Err(SiteSessionError::Pacing(format!(
                "{} game(s) started in the last hour (geoguessr.max_games_per_hour = {}): wait about {} min",
                starts.len(),
                opts.max_games_per_hour,
                wait.div_ceil(60)
            )));
        }
        if let Some(last) = starts.iter().max() {
            let since = now.saturating_sub(*last);
            if since < opts.game_pause.as_secs() {
                return Err(SiteSessionError::Pacing(format!(
                    "the last game started {since} s ago; geoguessr.game_pause_secs = {} asks for a pause between games",
                    opts.game_pause.as_secs()
                )));
            }
        }
        starts.push(now);
        std::fs::write(
            &starts_path,
            serde_json::to_string(&starts).unwrap_or_default(),
        )
        .map_err(io)?;
        Ok(Pacing {
            _lock: lock.into_file(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacing_limits_games_per_hour_and_concurrency() {
        let dir = tempfile::tempdir().unwrap();
        let opts = SiteOptions {
            max_games_per_hour: 2,
            game_pause: Duration::ZERO,
            ..SiteOptions::default()
        };
        let a = Pacing::claim(dir.path(), "me", &opts, true).unwrap();
        let e = Pacing::claim(dir.path(), "me", &opts, true).err().unwrap();
        assert!(e.to_string().contains("one game at a time"), "{e}");
        drop(a);
        let b = Pacing::claim(dir.path(), "me", &opts, true).unwrap();
        drop(b);
        let e = Pacing::claim(dir.path(), "me", &opts, true).err().unwrap();
        assert!(e.to_string().contains("max_games_per_hour"), "{e}");
        // Another account has its own budget.
        Pacing::claim(dir.path(), "you", &opts, true).unwrap();
    }
}
