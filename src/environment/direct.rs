//! Direct mode: the game without a browser. Views are rendered on the CPU from the same
//! equirectangular panoramas the local game serves (painted by [`panorama`] for the built-in
//! world, image files for map packs), with the page's projection, canvas size and capture JPEG
//! quality; guesses are scored locally with [`score`] and the map's size.
//!
//! Fairness is the same as in the browser: [`DirectGame::observe_round`] returns an
//! [`Observation`] (pixels and the map's public facts, images re-encoded from pixels so no
//! metadata survives); the truth only comes back in the [`RoundResult`] of a guess.
//!
//! Rendering a panorama costs far more than playing a round with a fast model, so the rendered
//! views of each location are cached ([`ViewCache`], bounded) and rendering is limited to one
//! job per CPU core, so a run of thousands of rounds over a 91-location map paints each place
//! once.

use super::CaptureOptions;
use super::{Environment, GuessTiming, Observation, View};
use crate::game::integrity::{fit_within, load_clean, IntegrityError};
use crate::game::{panorama, score, Challenge, ChallengeKey, Imagery, Location, Map, RoundResult};
use crate::game::{MAX_PANORAMA_HEIGHT, MAX_PANORAMA_WIDTH};
use crate::geo::LatLon;
use image::RgbImage;
use std::path::PathBuf;
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::Semaphore;

/// Width of a rendered view: the local game's panorama canvas at the default 1280×720 viewport
/// is 800×600 CSS pixels (4:3), so direct views match browser captures pixel for pixel in size.
pub(crate) const VIEW_WIDTH: u32 = 800;
/// Height of a rendered view (see [`VIEW_WIDTH`]).
pub(crate) const VIEW_HEIGHT: u32 = 600;
/// Horizontal field of view of an unzoomed view, the page's start view (`START_VIEW` in app.js).
pub(crate) const START_FOV_DEG: f64 = 90.0;
/// The page zooms by this factor per step (`+` key).
pub(crate) const ZOOM_FACTOR: f64 = 1.5;
/// The page never zooms in past this field of view (`FOV_MIN` in app.js).
pub(crate) const MIN_FOV_DEG: f64 = 15.0;
/// Locations whose rendered views are kept. Four 800×600 views are ~0.3 MB of JPEG, so this
/// caps the cache near 80 MB while covering every location of the built-in world several times.
pub(crate) const MAX_CACHED_LOCATIONS: usize = 256;
/// Bumped whenever rendering changes, so views cached on disk by an older build are not reused.
pub(crate) const RENDER_VERSION: u32 = 1;

/// Why a direct round could not be played. Each names what to fix.
#[derive(Debug, Error)]
pub enum DirectError {
    /// The pack image is missing, corrupt, oversized or not an image (the error names the file).
    #[error("{0}; check the map pack's image file")]
    Image(#[from] IntegrityError),
    #[error("cannot encode a view as JPEG: {0}")]
    Encode(#[source] image::ImageError),
    #[error("rendering task failed: {0}")]
    Task(String),
    #[error("map `{map}` has no location `{id}` (the challenge and the map disagree)")]
    UnknownLocation { map: String, id: String },
    #[error("round {round} is outside the challenge's {rounds} rounds")]
    NoSuchRound { round: usize, rounds: usize },
}

/// Rendered views per (map, location) for one capture setting, bounded; a location asked for
/// by several rounds at once is rendered once (the others wait for it). Shared by every round of
/// a run (cheap to clone through `Arc`).
pub(crate) struct ViewCache {
    capture: CaptureOptions,
    size: (u32, u32),
    cells: quick_cache::sync::Cache<(String, String), Arc<Vec<View>>>,
    /// One render at a time per core: rendering is pure CPU, more would only add memory.
    permits: Semaphore,
    /// Where rendered views persist between runs (painting a panorama costs ~0.3–1 s of CPU).
    disk: Option<PathBuf>,
}

impl ViewCache {
    /// A cache rendering `capture`'s views at the page's default canvas size.
    pub fn new(capture: CaptureOptions) -> ViewCache {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        ViewCache {
            capture,
            size: (VIEW_WIDTH, VIEW_HEIGHT),
            cells: quick_cache::sync::Cache::new(MAX_CACHED_LOCATIONS),
            permits: Semaphore::new(cores),
            disk: None,
        }
    }

    /// Also keeps rendered views in `dir` across runs (a folder per map, a sub-folder per
    /// location and setting). The folder names hold location ids: it is a private cache on the
    /// machine running the agent, never sent to the model.
    pub(crate) fn with_disk(mut self, dir: PathBuf) -> ViewCache {
        self.disk = Some(dir);
        self
    }

    /// The default on-disk cache: `$XDG_CACHE_HOME/geoagent/views`, else `~/.cache/geoagent/views`.
    pub(crate) fn default_disk_dir() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
        Some(base.join("geoagent").join("views"))
    }

    /// How many locations are cached now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.cells.len()
    }

    /// The views of `loc`, rendered on first use (off the async threads).
    pub async fn views(&self, map_id: &str, loc: &Location) -> Result<Arc<Vec<View>>, DirectError> {
        let key = (map_id.to_string(), loc.id.clone());
        self.cells
            .get_or_insert_async(&key, async {
                let _permit = self
                    .permits
                    .acquire()
                    .await
                    .map_err(|e| DirectError::Task(e.to_string()))?;
                let (loc, capture, size) = (loc.clone(), self.capture.clone(), self.size);
                // A photo is one view of its own size, which the disk cache's fixed layout of
                // `view_angles` files at the view size does not describe; photos are cheap to fit.
                let photo = matches!(loc.imagery, Imagery::Photo { .. });
                let disk = self.disk.as_ref().filter(|_| !photo).map(|d| {
                    d.join(sanitize(map_id))
                        .join(disk_key(&loc, &capture, size))
                });
                let views = tokio::task::spawn_blocking(move || match disk {
                    Some(dir) => cached_on_disk(&dir, &loc, &capture, size),
                    None => render_views(&loc, &capture, size),
                })
                .await
                .map_err(|e| DirectError::Task(e.to_string()))??;
                Ok(Arc::new(views))
            })
            .await
    }
}

/// The equirectangular panorama of a location, as the local game would serve it. A painted
/// one has only the rows `views` sample (each `(heading, fov)` at pitch 0): painting costs per
/// row, and a level view never sees the sky's top or the ground under the camera.
pub(crate) fn load_panorama(
    loc: &Location,
    views: &[(f64, f64)],
    view_size: (u32, u32),
) -> Result<RgbImage, DirectError> {
    match &loc.imagery {
        Imagery::Generated => {
            let (w, h) = (panorama::PANORAMA_WIDTH, panorama::PANORAMA_HEIGHT);
            let rows = sampled_rows(views, view_size, h);
            Ok(panorama::paint_rows(loc, w, h, rows))
        }
        // Size-checked, bomb-checked, pixels only, as the local game serves it.
        Imagery::File { path } | Imagery::Photo { path } => Ok(fit_within(
            load_clean(path)?.to_rgb8(),
            MAX_PANORAMA_WIDTH,
            MAX_PANORAMA_HEIGHT,
        )),
    }
}

/// Rows beyond the exact band that a view's bilinear sampling may touch (one each side, plus
/// one for rounding).
const BAND_MARGIN_ROWS: u32 = 2;

/// The rows of a `height`-row panorama that level views `(heading, fov)` of `w`×`h` pixels
/// sample: the steepest ray of a level view is its top (bottom) centre, at
/// `atan(tan(fov/2) · h/w)` above (below) the horizon.
fn sampled_rows(views: &[(f64, f64)], (w, h): (u32, u32), height: u32) -> std::ops::Range<u32> {
    let aspect = f64::from(h) / f64::from(w.max(1));
    let steepest = views
        .iter()
        .map(|(_, fov)| ((fov.to_radians() / 2.0).tan() * aspect).atan())
        .fold(0.0, f64::max);
    let rows = f64::from(height);
    let half = (steepest / std::f64::consts::PI * rows).ceil() as u32 + BAND_MARGIN_ROWS;
    let mid = height / 2;
    mid.saturating_sub(half)..(mid + half).min(height)
}

/// Every view the browser would capture for `capture`: `headings` views evenly spread from
/// north at the start field of view, then one zoomed view at heading 0 when `zoom_steps > 0`.
pub(crate) fn view_angles(capture: &CaptureOptions) -> Vec<(f64, f64)> {
    let k = capture.headings.max(1);
    let mut out: Vec<(f64, f64)> = (0..k)
        .map(|i| (360.0 * i as f64 / k as f64, START_FOV_DEG))
        .collect();
    if capture.zoom_steps > 0 {
        let fov = (START_FOV_DEG / ZOOM_FACTOR.powi(capture.zoom_steps as i32)).max(MIN_FOV_DEG);
        out.push((0.0, fov));
    }
    out
}

/// A file-name-safe form of an id.
fn sanitize(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The cache folder name of a location's views: its id plus a hash of everything the pixels
/// depend on (imagery file and its size and time, capture settings, view size, renderer).
fn disk_key(loc: &Location, capture: &CaptureOptions, size: (u32, u32)) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    RENDER_VERSION.hash(&mut h);
    loc.id.hash(&mut h);
    loc.pos.lat.to_bits().hash(&mut h);
    loc.pos.lon.to_bits().hash(&mut h);
    if let Some(path) = loc.imagery.path() {
        path.hash(&mut h);
        if let Ok(m) = std::fs::metadata(path) {
            m.len().hash(&mut h);
            m.modified().ok().hash(&mut h);
        }
    }
    (
        capture.headings,
        capture.zoom_steps,
        capture.jpeg_quality,
        size,
    )
        .hash(&mut h);
    format!("{}-{:016x}", sanitize(&loc.id), h.finish())
}

/// Reads a location's views from `dir`, or renders them and stores them there (each file
/// written to a temporary name and renamed, so a killed run never leaves half an image). Disk
/// problems only cost a re-render: they are logged, never fatal.
fn cached_on_disk(
    dir: &std::path::Path,
    loc: &Location,
    capture: &CaptureOptions,
    size: (u32, u32),
) -> Result<Vec<View>, DirectError> {
    let angles = view_angles(capture);
    let read: Option<Vec<View>> = angles
        .iter()
        .enumerate()
        .map(|(i, (heading, fov))| {
            std::fs::read(dir.join(format!("v{i}.jpg")))
                .ok()
                .map(|jpeg| View {
                    heading: *heading,
                    heading_ref: crate::environment::HeadingRef::Compass,
                    pitch: 0.0,
                    fov: *fov,
                    width: size.0,
                    height: size.1,
                    jpeg,
                })
        })
        .collect();
    if let Some(views) = read {
        return Ok(views);
    }
    let views = render_views(loc, capture, size)?;
    let store = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (i, v) in views.iter().enumerate() {
            let tmp = dir.join(format!("v{i}.jpg.tmp{}", std::process::id()));
            std::fs::write(&tmp, &v.jpeg)?;
            std::fs::rename(&tmp, dir.join(format!("v{i}.jpg")))?;
        }
        Ok(())
    };
    if let Err(e) = store() {
        tracing::warn!(
            "view cache {}: {e}; views are rendered again next time",
            dir.display()
        );
    }
    Ok(views)
}

fn render_views(
    loc: &Location,
    capture: &CaptureOptions,
    (w, h): (u32, u32),
) -> Result<Vec<View>, DirectError> {
    let angles = view_angles(capture);
    let pano = load_panorama(loc, &angles, (w, h))?;
    if matches!(loc.imagery, Imagery::Photo { .. }) {
        return photo_view(pano, capture, (w, h)).map(|v| vec![v]);
    }
    angles
        .into_iter()
        .map(|(heading, fov)| {
            let img = render_view(&pano, heading, 0.0, fov, w, h);
            let mut jpeg = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, capture.jpeg_quality)
                .encode_image(&img)
                .map_err(DirectError::Encode)?;
            Ok(View {
                heading,
                heading_ref: crate::environment::HeadingRef::Compass,
                pitch: 0.0,
                fov,
                width: w,
                height: h,
                jpeg,
            })
        })
        .collect()
}

/// A single photo is one view, whatever the capture settings: the page shows it flat at the
/// start heading and only background elsewhere, so other headings would add no information.
fn photo_view(
    photo: RgbImage,
    capture: &CaptureOptions,
    (w, h): (u32, u32),
) -> Result<View, DirectError> {
    let img = fit_within(photo, w, h);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, capture.jpeg_quality)
        .encode_image(&img)
        .map_err(DirectError::Encode)?;
    Ok(View {
        heading: 0.0,
        heading_ref: crate::environment::HeadingRef::Compass,
        pitch: 0.0,
        fov: START_FOV_DEG,
        width: img.width(),
        height: img.height(),
        jpeg,
    })
}

/// Projects an equirectangular panorama to a `w`×`h` perspective view, exactly as the page's
/// fragment shader does (heading clockwise from north at the image centre column, pitch up,
/// `fov` horizontal degrees), with bilinear sampling like the page's LINEAR texture filter.
pub(crate) fn render_view(
    pano: &RgbImage,
    heading: f64,
    pitch: f64,
    fov: f64,
    w: u32,
    h: u32,
) -> RgbImage {
    let (pw, ph) = pano.dimensions();
    let mut out = RgbImage::new(w, h);
    if pw == 0 || ph == 0 {
        return out;
    }
    let half_w = (fov.to_radians() / 2.0).tan();
    let half_h = half_w * f64::from(h) / f64::from(w.max(1));
    let (sp, cp) = pitch.to_radians().sin_cos();
    let (sh, ch) = heading.to_radians().sin_cos();
    let raw = pano.as_raw();
    let stride = pw as usize * 3;
    let texel = |x: usize, y: usize, c: usize| f64::from(raw[y * stride + x * 3 + c]);
    for py in 0..h {
        let ny = 1.0 - 2.0 * (f64::from(py) + 0.5) / f64::from(h);
        for px in 0..w {
            let nx = 2.0 * (f64::from(px) + 0.5) / f64::from(w) - 1.0;
            let (x, y, z) = (nx * half_w, ny * half_h, 1.0);
            let (y, z) = (y * cp + z * sp, -y * sp + z * cp);
            let (x, z) = (x * ch + z * sh, -x * sh + z * ch);
            let lon = x.atan2(z);
            let lat = y.atan2((x * x + z * z).sqrt());
            let u = (0.5 + lon / std::f64::consts::TAU).rem_euclid(1.0);
            let v = 0.5 - lat / std::f64::consts::PI;
            // Texel centres sit at (i + 0.5) / size, as in GL; clamp at the edges like the page.
            let fx = (u * f64::from(pw) - 0.5).clamp(0.0, f64::from(pw - 1));
            let fy = (v * f64::from(ph) - 0.5).clamp(0.0, f64::from(ph - 1));
            let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
            let (x1, y1) = ((x0 + 1).min(pw as usize - 1), (y0 + 1).min(ph as usize - 1));
            let (ax, ay) = (fx - x0 as f64, fy - y0 as f64);
            let mut rgb = [0u8; 3];
            for (c, slot) in rgb.iter_mut().enumerate() {
                let top = texel(x0, y0, c) * (1.0 - ax) + texel(x1, y0, c) * ax;
                let bottom = texel(x0, y1, c) * (1.0 - ax) + texel(x1, y1, c) * ax;
                *slot = (top * (1.0 - ay) + bottom * ay).round().clamp(0.0, 255.0) as u8;
            }
            out.put_pixel(px, py, image::Rgb(rgb));
        }
    }
    out
}

/// One challenge played without a browser. Rounds are independent, so a run may observe and
/// score them concurrently through `&self`, each round through its own [`DirectRound`].
pub(crate) struct DirectGame {
    map: Arc<Map>,
    challenge: Challenge,
    cache: Arc<ViewCache>,
}

impl DirectGame {
    /// The game of challenge (`map`, `seed`, `rounds`), its places picked with `key`.
    pub fn new(
        map: Arc<Map>,
        seed: u64,
        rounds: usize,
        key: &ChallengeKey,
        cache: Arc<ViewCache>,
    ) -> DirectGame {
        let challenge = Challenge::with_key(&map, seed, rounds, key);
        DirectGame {
            map,
            challenge,
            cache,
        }
    }

    pub fn challenge(&self) -> &Challenge {
        &self.challenge
    }

    pub fn rounds(&self) -> usize {
        self.challenge.location_ids.len()
    }

    /// The answer for a round: private to this module and [`Self::score_round`].
    fn location(&self, round: usize) -> Result<&Location, DirectError> {
        let id = round
            .checked_sub(1)
            .and_then(|i| self.challenge.location_ids.get(i))
            .ok_or(DirectError::NoSuchRound {
                round,
                rounds: self.rounds(),
            })?;
        self.map
            .location(id)
            .ok_or_else(|| DirectError::UnknownLocation {
                map: self.map.id.clone(),
                id: id.clone(),
            })
    }

    /// What the agent sees in `round` (1-based): the views and the map's public facts only.
    pub(crate) async fn observe_round(&self, round: usize) -> Result<Observation, DirectError> {
        let t0 = std::time::Instant::now();
        let loc = self.location(round)?;
        let views = self.cache.views(&self.map.id, loc).await?;
        Ok(Observation {
            round,
            rounds: self.rounds(),
            views: views.as_ref().clone(),
            map_view: self.map.view,
            map_name: self.map.name.clone(),
            capture_ms: t0.elapsed().as_millis() as u64,
        })
    }

    /// Renders the views of `round` into the cache (or reads them from disk) without building
    /// an observation: a run calls it ahead of the rounds, so views are ready when they start.
    pub(crate) async fn prepare_round(&self, round: usize) -> Result<(), DirectError> {
        let loc = self.location(round)?;
        self.cache.views(&self.map.id, loc).await.map(drop)
    }

    /// Scores a guess for `round` with GeoGuessr's formula and the map's size; after the guess the
    /// truth, place and country are public.
    pub(crate) fn score_round(&self, round: usize, at: LatLon) -> Result<RoundResult, DirectError> {
        let loc = self.location(round)?;
        let distance_km = at.distance_km(&loc.pos);
        Ok(RoundResult {
            round,
            guess: at,
            truth: loc.pos,
            distance_km,
            points: score(distance_km, self.map.size_km),
            place: loc.place.clone(),
            country: loc.country.clone(),
        })
    }

    /// The map's location id of `round`, for the replay (only after its guess).
    pub fn location_id(&self, round: usize) -> Option<String> {
        self.location(round).ok().map(|l| l.id.clone())
    }
}

/// One round of a [`DirectGame`] as an [`Environment`]. Rounds are independent, so a run plays
/// many at once, each through its own handle ([`DirectGame::round`]).
pub(crate) struct DirectRound<'a> {
    game: &'a DirectGame,
    round: usize,
}

impl DirectGame {
    /// A handle playing round `round` (1-based) of this challenge.
    pub fn round(&self, round: usize) -> DirectRound<'_> {
        DirectRound { game: self, round }
    }
}

#[async_trait::async_trait]
impl Environment for DirectRound<'_> {
    type Error = DirectError;

    async fn observe(&mut self) -> Result<Observation, DirectError> {
        self.game.observe_round(self.round).await
    }

    async fn guess(&mut self, at: LatLon) -> Result<(RoundResult, GuessTiming), DirectError> {
        let t0 = std::time::Instant::now();
        let result = self.game.score_round(self.round, at)?;
        Ok((
            result,
            GuessTiming {
                guess_ms: t0.elapsed().as_millis() as u64,
            },
        ))
    }

    fn location_id(&self) -> Option<String> {
        self.game.location_id(self.round)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::builtin;

    /// A panorama whose red channel encodes the column and green the row.
    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 255 / (w - 1)) as u8, (y * 255 / (h - 1)) as u8, 0])
        })
    }

    #[test]
    fn heading_picks_the_column_like_the_shader() {
        let pano = gradient(1024, 512);
        // Heading 0 looks at the centre column (u = 0.5), heading 90 at u = 0.75.
        let v0 = render_view(&pano, 0.0, 0.0, 90.0, 41, 31);
        let v90 = render_view(&pano, 90.0, 0.0, 90.0, 41, 31);
        let centre = |img: &RgbImage| *img.get_pixel(20, 15);
        assert!(
            (i32::from(centre(&v0)[0]) - 127).abs() <= 2,
            "{:?}",
            centre(&v0)
        );
        assert!(
            (i32::from(centre(&v90)[0]) - 191).abs() <= 2,
            "{:?}",
            centre(&v90)
        );
        // The horizon is the middle row; the view's top looks up (smaller rows of the pano).
        assert!((i32::from(centre(&v0)[1]) - 127).abs() <= 2);
        assert!(v0.get_pixel(20, 0)[1] < v0.get_pixel(20, 30)[1]);
        // East is to the right at heading 0.
        assert!(v0.get_pixel(40, 15)[0] > v0.get_pixel(0, 15)[0]);
    }

    /// Issue 15: views rendered from the band-painted panorama are pixel for pixel those of the
    /// full panorama, for every capture setting's angles.
    #[test]
    fn views_from_the_painted_band_equal_views_from_the_full_panorama() {
        let loc = builtin::world().locations[7].clone();
        let (pw, ph) = (panorama::PANORAMA_WIDTH, panorama::PANORAMA_HEIGHT);
        let full = panorama::paint(&loc, pw, ph);
        let capture = CaptureOptions {
            headings: 4,
            zoom_steps: 1,
            jpeg_quality: 80,
        };
        let angles = view_angles(&capture);
        let size = (VIEW_WIDTH, VIEW_HEIGHT);
        let band = load_panorama(&loc, &angles, size).unwrap();
        let rows = sampled_rows(&angles, size, ph);
        assert!(
            rows.len() < ph as usize / 2,
            "{rows:?}: most rows are skipped"
        );
        for (heading, fov) in angles {
            let a = render_view(&full, heading, 0.0, fov, size.0, size.1);
            let b = render_view(&band, heading, 0.0, fov, size.0, size.1);
            assert!(a.as_raw() == b.as_raw(), "heading {heading} fov {fov}");
        }
    }

    #[test]
    fn zoom_narrows_the_view() {
        let pano = gradient(1024, 512);
        let wide = render_view(&pano, 0.0, 0.0, 90.0, 41, 31);
        let narrow = render_view(&pano, 0.0, 0.0, 30.0, 41, 31);
        let span = |img: &RgbImage| img.get_pixel(40, 15)[0] - img.get_pixel(0, 15)[0];
        assert!(span(&narrow) * 2 < span(&wide));
    }

    #[test]
    fn view_angles_follow_the_capture_settings() {
        let c = CaptureOptions {
            headings: 4,
            zoom_steps: 2,
            jpeg_quality: 80,
        };
        let a = view_angles(&c);
        assert_eq!(
            a,
            vec![
                (0.0, 90.0),
                (90.0, 90.0),
                (180.0, 90.0),
                (270.0, 90.0),
                (0.0, 40.0)
            ]
        );
        let deep = CaptureOptions { zoom_steps: 9, ..c };
        assert_eq!(view_angles(&deep).last(), Some(&(0.0, MIN_FOV_DEG)));
    }

    #[tokio::test]
    async fn disk_cache_gives_the_same_views_to_a_new_run() {
        let dir = tempfile::tempdir().unwrap();
        let map = Arc::new(builtin::world());
        let capture = CaptureOptions {
            headings: 1,
            zoom_steps: 1,
            jpeg_quality: 60,
        };
        let loc = &map.locations[3];
        let first = ViewCache::new(capture.clone()).with_disk(dir.path().to_path_buf());
        let a = first.views(&map.id, loc).await.unwrap();
        let second = ViewCache::new(capture).with_disk(dir.path().to_path_buf());
        let b = second.views(&map.id, loc).await.unwrap();
        assert_eq!(a.len(), 2);
        for (x, y) in a.iter().zip(b.iter()) {
            assert_eq!((x.heading, x.fov, &x.jpeg), (y.heading, y.fov, &y.jpeg));
        }
        let files = walk(dir.path());
        assert_eq!(files, 2, "two JPEGs stored, nothing else left behind");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rounds_asking_for_one_location_at_once_render_it_once() {
        let map = Arc::new(builtin::world());
        let cache = Arc::new(ViewCache::new(CaptureOptions {
            headings: 1,
            zoom_steps: 0,
            jpeg_quality: 60,
        }));
        let loc = map.locations[5].clone();
        let asks: Vec<_> = (0..4)
            .map(|_| {
                let (cache, map, loc) = (cache.clone(), map.clone(), loc.clone());
                tokio::spawn(async move { cache.views(&map.id, &loc).await.unwrap() })
            })
            .collect();
        let mut got = Vec::new();
        for a in asks {
            got.push(a.await.unwrap());
        }
        // One render shared by all: the same allocation, not four equal ones.
        assert!(got.iter().all(|v| Arc::ptr_eq(v, &got[0])));
        assert_eq!(cache.len(), 1);
    }

    fn walk(p: &std::path::Path) -> usize {
        std::fs::read_dir(p)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p)
                } else {
                    1
                }
            })
            .sum()
    }

    #[tokio::test]
    async fn rounds_render_once_and_score_locally() {
        let map = Arc::new(builtin::world());
        let cache = Arc::new(ViewCache::new(CaptureOptions {
            headings: 2,
            zoom_steps: 0,
            jpeg_quality: 70,
        }));
        let game = DirectGame::new(map.clone(), 5, 3, &ChallengeKey::PUBLIC, cache.clone());
        let obs = game.observe_round(2).await.unwrap();
        assert_eq!((obs.round, obs.rounds, obs.views.len()), (2, 3, 2));
        let v = &obs.views[0];
        assert_eq!((v.width, v.height), (VIEW_WIDTH, VIEW_HEIGHT));
        let img = image::load_from_memory(&v.jpeg).unwrap();
        assert_eq!(img.width(), VIEW_WIDTH);
        // Fairness: the observation serialises without anything about the place.
        let loc = map.location(&game.challenge().location_ids[1]).unwrap();
        let json = serde_json::to_string(&obs).unwrap();
        assert!(!json.contains(&loc.id), "{json}");
        if let Some(p) = &loc.place {
            assert!(!json.contains(p.as_str()));
        }
        assert!(!json.contains(&format!("{:.3}", loc.pos.lat)));
        // Same location again: served from the cache, same bytes.
        let again = game.observe_round(2).await.unwrap();
        assert_eq!(again.views[0].jpeg, obs.views[0].jpeg);
        assert_eq!(cache.len(), 1);
        // Scoring: at the truth is 5000, far away is little.
        let r = game.score_round(2, loc.pos).unwrap();
        assert_eq!((r.points, r.place.clone()), (5000, loc.place.clone()));
        let far = LatLon::new(
            -loc.pos.lat,
            loc.pos.lon + 180.0 - 360.0 * f64::from(loc.pos.lon > 0.0),
        )
        .unwrap();
        let r = game.score_round(2, far).unwrap();
        assert_eq!(r.points, score(r.distance_km, map.size_km));
        assert!(r.points < 100);
        assert!(matches!(
            game.score_round(4, far),
            Err(DirectError::NoSuchRound {
                round: 4,
                rounds: 3
            })
        ));
    }
}
