//! A bounded pool of browser sessions shared by the games of a run: at most `size` browsers exist
//! at once (idle + leased), a finished game hands its browser back for the next one, and a
//! browser that crashed is replaced (closed and launched again) without giving up the slot.
//!
//! The pool keeps its own gauge of live browsers and their peak, so tests and benchmarks can check
//! the limit without counting processes.
//!
//! On a shared WebDriver endpoint (a Selenium Grid) a browser holds one of the Grid's slots, and
//! the Grid may have fewer slots than the pool. An idle browser must then never keep a slot that
//! another game is waiting for: a finished game's browser is closed when a launch is waiting
//! (its slot goes to the Grid's queue, which serves the waiting launch), and a game replacing a
//! crashed browser takes an idle one before asking the Grid for a new session.

use super::{Browser, BrowserError, BrowserOptions};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::info;

struct Shared {
    opts: BrowserOptions,
    size: usize,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Browser>>,
    live: AtomicUsize,
    peak: AtomicUsize,
    launched: AtomicUsize,
    /// Launches in progress (a session asked for and not yet there).
    launching: AtomicUsize,
}

/// Counts a launch in progress until dropped (also when the launch is cancelled).
struct Launching<'a>(&'a AtomicUsize);

impl<'a> Launching<'a> {
    fn start(n: &'a AtomicUsize) -> Launching<'a> {
        n.fetch_add(1, Ordering::SeqCst);
        Launching(n)
    }
}

impl Drop for Launching<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Browser>> {
        // Pushing and popping leave the list consistent, so a poisoned lock is still good.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn launch(&self) -> Result<Browser, BrowserError> {
        let b = {
            let _counted = Launching::start(&self.launching);
            Browser::launch(&self.opts).await?
        };
        self.launched.fetch_add(1, Ordering::SeqCst);
        let now = self.live.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        info!(live = now, launch = ?b.timing, "browser launched");
        Ok(b)
    }

    async fn close(&self, b: Browser) {
        b.close().await;
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Up to `size` browser sessions, launched on demand and reused. Cheap to clone.
#[derive(Clone)]
pub struct BrowserPool {
    shared: Arc<Shared>,
}

impl BrowserPool {
    /// A pool of at most `size` (at least 1) browsers launched with `opts`.
    pub fn new(opts: BrowserOptions, size: usize) -> BrowserPool {
        let size = size.max(1);
        BrowserPool {
            shared: Arc::new(Shared {
                opts,
                size,
                permits: Arc::new(Semaphore::new(size)),
                idle: Mutex::new(Vec::new()),
                live: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                launched: AtomicUsize::new(0),
                launching: AtomicUsize::new(0),
            }),
        }
    }

    pub fn size(&self) -> usize {
        self.shared.size
    }

    /// Browsers alive right now (idle and leased).
    pub fn live(&self) -> usize {
        self.shared.live.load(Ordering::SeqCst)
    }

    /// The most browsers that were ever alive at once.
    pub fn peak(&self) -> usize {
        self.shared.peak.load(Ordering::SeqCst)
    }

    /// Browsers launched so far, replacements included.
    pub fn launched(&self) -> usize {
        self.shared.launched.load(Ordering::SeqCst)
    }

    /// Waits for a free slot, then hands out an idle browser or launches one.
    pub(crate) async fn acquire(&self) -> Result<Lease, BrowserError> {
        let permit = self
            .shared
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| BrowserError::Contract(format!("browser pool closed: {e}")))?;
        let idle = self.shared.idle().pop();
        let browser = match idle {
            Some(b) => b,
            None => self.shared.launch().await?,
        };
        Ok(Lease {
            browser: Some(browser),
            pool: self.clone(),
            _permit: permit,
        })
    }

    /// Closes every idle browser (leased ones close when their lease is dropped or replaced).
    pub(crate) async fn close_idle(&self) {
        let idle: Vec<Browser> = std::mem::take(&mut *self.shared.idle());
        for b in idle {
            self.shared.close(b).await;
        }
    }
}

/// One browser slot of the pool, held by one game at a time.
pub(crate) struct Lease {
    browser: Option<Browser>,
    pool: BrowserPool,
    _permit: OwnedSemaphorePermit,
}

impl Lease {
    /// Takes the browser out (a `LocalGame` owns it while it plays); give it back with
    /// [`Self::put`] or replace it with [`Self::relaunch`].
    pub fn take(&mut self) -> Option<Browser> {
        self.browser.take()
    }

    pub fn put(&mut self, b: Browser) {
        self.browser = Some(b);
    }

    /// Closes `broken` (a crashed or unresponsive browser) and puts another in its slot: an idle
    /// one when there is one (no launch, and on a Grid no new slot needed), else a fresh one.
    pub(crate) async fn relaunch(
        &mut self,
        broken: Option<Browser>,
    ) -> Result<Browser, BrowserError> {
        if let Some(b) = broken.or_else(|| self.browser.take()) {
            self.pool.shared.close(b).await;
        }
        let idle = self.pool.shared.idle().pop();
        match idle {
            Some(b) => Ok(b),
            None => self.pool.shared.launch().await,
        }
    }

    /// Closes the browser in this slot for good (it failed and should not serve another game).
    pub(crate) async fn discard(mut self, broken: Option<Browser>) {
        if let Some(b) = broken.or_else(|| self.browser.take()) {
            self.pool.shared.close(b).await;
        }
    }

    /// Returns the browser to the pool for the next game, or, on a shared WebDriver endpoint
    /// while another game waits for a session there, closes it so its slot serves that game.
    pub async fn release(mut self) {
        let Some(b) = self.browser.take() else {
            return;
        };
        let shared = &self.pool.shared;
        if shared.opts.webdriver_url.is_some() && shared.launching.load(Ordering::SeqCst) > 0 {
            info!(
                "a game waits for a WebDriver session: closing this idle browser to free its slot"
            );
            shared.close(b).await;
        } else {
            shared.idle().push(b);
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(b) = self.browser.take() {
            // Dropped without release (an error path or cancellation): the browser's chromedriver
            // is killed by its own Drop; count it gone.
            self.pool.shared.live.fetch_sub(1, Ordering::SeqCst);
            drop(b);
        }
    }
}
