//! Turning the panorama between views, and checking from pixels that it turned.
//!
//! Two ways a person turns Street View: drag the panorama (grab: dragging left turns right) or
//! hold an arrow key (about 90° a second, so four views cost about four seconds of a timed
//! round). A drag turns as far as it is long, in a few tens of milliseconds, but how many
//! degrees a pixel is depends on the site's field of view, which is not known (it varies with
//! the window and the provider). So it is measured: after a full circle of equal drags the view
//! must show the start view again, and the horizontal shift left between the two gives the
//! circle's length in drag pixels ([`Strip::shift_to`]).

use serde::Deserialize;

/// Views are compared at this width (px): wide enough for a fraction of a degree, small enough
/// to compare every shift in a millisecond or two.
const STRIP_WIDTH: u32 = 240;
/// The band of rows compared, as fractions of the view's height: just above the horizon, where
/// a turn moves distant things as a pure horizontal shift; the near ground below it (and the
/// car) distorts as the view turns, and the sky above carries little to match.
const BAND: (f64, f64) = (0.30, 0.50);
/// A pixel whose channels differ by more than this on average (0–255) has changed.
const CHANGED_LEVELS: u32 = 30;
/// A turn happened when at least this share of the band's pixels changed: JPEG noise and a
/// re-drawn frame change far fewer, any turn of a few degrees far more.
const CHANGED_SHARE: f64 = 0.02;
/// Views are matched on their edges across (per pixel, the difference between its left and
/// right neighbours summed over channels, smoothed across): a sky's gradient runs up and down, so a shifted sky matches itself
/// everywhere in raw pixels and hid the few posts a sparse scene has (CI, 2026-12-07: a circle
/// that never found its start view again). A shift's mismatch is the edges' difference over
/// the overlap divided by their sum: 0 for the same scene, about 1 for unrelated edges.
/// An overlap whose edges average less than this per pixel (JPEG noise in a smooth sky) holds
/// nothing to match and counts as a full mismatch.
const EDGE_MIN: f64 = 0.25;
/// A shift matches when its mismatch is at most this: on the replica's captures the same scene
/// re-drawn and re-encoded scored 0.03–0.1 (unsmoothed), a scene turned by the wrong amount
/// 0.6–0.9.
const MATCH_MAX: f64 = 0.4;
/// ...and when every shift at least [`MATCH_APART`] strip pixels away mismatches at least this
/// many times more, and by at least [`MATCH_MARGIN`]: the match is the only one (a scene that
/// repeats, or holds one thin post, matches in several places and says nothing).
const MATCH_UNIQUENESS: f64 = 1.5;
const MATCH_MARGIN: f64 = 0.05;
/// Shifts this close (strip pixels) to the best one are its own valley, not a second match.
const MATCH_APART: isize = 6;
/// Shifts are searched up to this fraction of the width each way: the overlap stays at least
/// half a view, enough to tell one shift from another.
const MAX_SHIFT_SHARE: f64 = 0.5;

/// How the page turns the view (`geoguessr.turning`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
    strum::VariantArray,
)]
#[serde(try_from = "String")]
#[strum(serialize_all = "lowercase", ascii_case_insensitive)]
pub enum Turning {
    /// A pointer drag on the panorama, how far a pixel turns measured in the first round: 4
    /// views in 3.37 s on the replica against 5.40 s with keys.
    #[default]
    Drag,
    /// Holding the turn key for `geoguessr.turn_hold_ms` per 90°: slower; where a drag does
    /// not turn the view, the page falls back to it by itself.
    Keys,
}

impl TryFrom<String> for Turning {
    type Error = crate::text::UnknownName;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        crate::text::closed_name(&name)
    }
}

/// A view reduced for comparison: the band above the horizon, RGB, [`STRIP_WIDTH`] wide.
#[derive(Clone)]
pub(crate) struct Strip {
    w: usize,
    h: usize,
    rgb: Vec<u8>,
    /// Edges across, `w × h`: see [`EDGE_MIN`].
    edges: Vec<f32>,
    /// Full-size pixels per strip pixel.
    scale: f64,
}

impl Strip {
    /// The strip of a captured JPEG view.
    pub(crate) fn of(jpeg: &[u8]) -> Result<Strip, String> {
        let img = image::load_from_memory(jpeg)
            .map_err(|e| format!("unreadable view ({e})"))?
            .into_rgb8();
        let (fw, fh) = img.dimensions();
        if fw < 8 || fh < 8 {
            return Err(format!("a {fw}×{fh} view is too small to compare"));
        }
        let top = (f64::from(fh) * BAND.0) as u32;
        let rows = ((f64::from(fh) * (BAND.1 - BAND.0)) as u32).max(1);
        let band = image::imageops::crop_imm(&img, 0, top, fw, rows).to_image();
        let w = STRIP_WIDTH.min(fw);
        let h = ((f64::from(rows) * f64::from(w) / f64::from(fw)).round() as u32).max(1);
        let small = image::imageops::resize(&band, w, h, image::imageops::FilterType::Triangle);
        let (w, h) = (w as usize, h as usize);
        let rgb = small.into_raw();
        // Central differences, then smoothed across: an edge spreads over a few strip pixels,
        // so a shift between two strip pixels still lines it up with itself.
        let raw: Vec<f32> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| {
                let (l, r) = (y * w + x.saturating_sub(1), y * w + (x + 1).min(w - 1));
                (0..3)
                    .map(|c| f32::from(rgb[l * 3 + c].abs_diff(rgb[r * 3 + c])))
                    .sum::<f32>()
            })
            .collect();
        let edges = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| {
                let at = |x: usize| raw[y * w + x.min(w - 1)];
                (at(x.saturating_sub(2))
                    + 2.0 * at(x.saturating_sub(1))
                    + 3.0 * at(x)
                    + 2.0 * at(x + 1)
                    + at(x + 2))
                    / 9.0
            })
            .collect();
        Ok(Strip {
            w,
            h,
            rgb,
            edges,
            scale: f64::from(fw) / w as f64,
        })
    }

    /// The mismatch (0–1, see [`EDGE_MIN`]) between `self(x + r)` and `other(x)`'s edges over
    /// their overlap.
    fn mismatch(&self, other: &Strip, r: isize) -> f64 {
        let ew = self.w;
        let (mut diff, mut sum, mut n) = (0f64, 0f64, 0usize);
        for y in 0..self.h.min(other.h) {
            for x in 0..ew {
                let sx = x as isize + r;
                if sx < 0 || sx as usize >= ew {
                    continue;
                }
                let (a, b) = (self.edges[y * ew + sx as usize], other.edges[y * ew + x]);
                diff += f64::from((a - b).abs());
                sum += f64::from(a + b);
                n += 1;
            }
        }
        if n == 0 || sum < EDGE_MIN * 2.0 * n as f64 {
            1.0
        } else {
            diff / sum
        }
    }

    /// Whether `other` shows a different view than `self` (the view turned), not the same one
    /// re-drawn.
    pub(crate) fn changed(&self, other: &Strip) -> bool {
        if self.w != other.w || self.h != other.h {
            return true;
        }
        let changed = self
            .rgb
            .chunks_exact(3)
            .zip(other.rgb.chunks_exact(3))
            .filter(|(a, b)| {
                let d: u32 = a
                    .iter()
                    .zip(*b)
                    .map(|(p, q)| u32::from(p.abs_diff(*q)))
                    .sum();
                d > CHANGED_LEVELS * 3
            })
            .count();
        changed as f64 / (self.w * self.h).max(1) as f64 >= CHANGED_SHARE
    }

    /// The horizontal shift `r` (full-size px) with `other(x) ≈ self(x + r)`: how far past
    /// `self`'s heading `other` looks, in pixels (positive: turned further right). `None` when
    /// no shift within half a view matches, or the scene matches everywhere alike.
    pub(crate) fn shift_to(&self, other: &Strip) -> Option<f64> {
        if self.w != other.w || self.h != other.h {
            return None;
        }
        let max = (self.w as f64 * MAX_SHIFT_SHARE) as isize;
        let diffs: Vec<(isize, f64)> = (-max..=max).map(|r| (r, self.mismatch(other, r))).collect();
        let (at, best) = diffs.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1))?;
        let runner_up = diffs
            .iter()
            .filter(|(r, _)| (r - at).abs() >= MATCH_APART)
            .map(|d| d.1)
            .min_by(f64::total_cmp)?;
        if best > MATCH_MAX
            || runner_up < best * MATCH_UNIQUENESS
            || runner_up < best + MATCH_MARGIN
        {
            return None;
        }
        // A parabola through the best shift and its neighbours places it between pixels.
        let i = (at + max) as usize;
        let frac = match (diffs.get(i.wrapping_sub(1)), diffs.get(i + 1)) {
            (Some(&(_, l)), Some(&(_, r))) if l + r - 2.0 * best > 0.0 => {
                (0.5 * (l - r) / (l + r - 2.0 * best)).clamp(-0.5, 0.5)
            }
            _ => 0.0,
        };
        Some((at as f64 + frac) * self.scale)
    }
}

/// Degrees per drag pixel from a full circle: `dragged` px in all turned the view `residual` px
/// past the start (see [`Strip::shift_to`]), so one turn of 360° is `dragged - residual` px.
/// `None` when that is not a plausible circle (shorter than one view, which no field of view
/// under 180° gives).
pub(crate) fn degrees_per_px(dragged: f64, residual: f64, view_width: f64) -> Option<f64> {
    let circle = dragged - residual;
    (circle > 2.0 * view_width && circle.is_finite()).then(|| 360.0 / circle)
}

/// Splits a drag of `total` px (sign: direction) into equal parts of at most `reach` px each:
/// the pointer must stay inside the window.
pub(crate) fn drag_parts(total: f64, reach: f64) -> Vec<f64> {
    let n = (total.abs() / reach.max(1.0)).ceil().max(1.0) as usize;
    vec![total / n as f64; n]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A synthetic panorama 360° around, `circle` px long: sky, ground and coloured posts at
    /// fixed headings; `view(at)` is the `width`-px window starting at `at` px.
    fn view(circle: u32, width: u32, at: f64) -> Vec<u8> {
        let h = 240;
        let img = image::RgbImage::from_fn(width, h, |x, y| {
            let u = ((x as f64 + at).rem_euclid(f64::from(circle))) as u32;
            if y > h / 2 {
                return image::Rgb([90, 122, 58]);
            }
            // Posts of irregular colours and heights: a scene that repeats would match at
            // its period too.
            let slot = u / 37;
            let post = slot.wrapping_mul(2_654_435_761).rotate_left(13) % 7;
            let top = h / 8 + (slot.wrapping_mul(40_503) % (h / 4));
            if (u % 37) < 9 && y > top && post != 0 {
                image::Rgb([35 * post as u8, 230 - 30 * post as u8, 20 + 33 * post as u8])
            } else {
                image::Rgb([150, 190, 230])
            }
        });
        jpeg(img)
    }

    fn jpeg(img: image::RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(
                &mut std::io::Cursor::new(&mut out),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        out
    }

    #[test]
    fn the_shift_past_the_start_is_measured_to_a_few_pixels() {
        let (circle, w) = (2880, 800);
        let start = Strip::of(&view(circle, w, 100.0)).unwrap();
        for residual in [-300.0, -37.0, 0.0, 12.5, 333.0] {
            let probe = Strip::of(&view(circle, w, 100.0 + residual)).unwrap();
            let got = start.shift_to(&probe).expect("a match");
            assert!((got - residual).abs() < 4.0, "{residual}: {got}");
        }
        // Beyond half a view there is too little overlap to say.
        let far = Strip::of(&view(circle, w, 100.0 + 600.0)).unwrap();
        let got = start.shift_to(&far);
        assert!(got.is_none_or(|g| (g - 600.0).abs() < 4.0), "{got:?}");
    }

    /// A sparse scene like the replica's worst rounds: a sky darkening upwards, ground, and
    /// two thin posts and a box in `width` px of a `circle` px panorama, window at `at`.
    fn sparse(circle: u32, width: u32, at: f64) -> Vec<u8> {
        let h = 360;
        let img = image::RgbImage::from_fn(width, h, |x, y| {
            let u = (x as f64 + at).rem_euclid(f64::from(circle));
            if y >= h / 2 {
                return image::Rgb([90, 122, 58]);
            }
            let on = |from: f64, w: f64, top: u32| u >= from && u < from + w && y >= top;
            if on(100.0, 35.0, 155) || on(1195.0, 10.0, 173) {
                image::Rgb([119, 119, 119])
            } else if on(203.0, 3.0, 146) {
                image::Rgb([40, 70, 200])
            } else {
                let t = f64::from(y) / f64::from(h / 2);
                image::Rgb([
                    (90.0 + 90.0 * t) as u8,
                    (140.0 + 70.0 * t) as u8,
                    210 + (30.0 * t) as u8,
                ])
            }
        });
        jpeg(img)
    }

    #[test]
    fn a_sparse_scene_matches_where_it_is_and_only_there() {
        // Seen twice unturned: a match at 0 (the median rule found none, and a circle never
        // closed); turned by a quarter of a view: that shift.
        let (circle, w) = (4608, 1280);
        let start = Strip::of(&sparse(circle, w, 0.0)).unwrap();
        let same = start.shift_to(&Strip::of(&sparse(circle, w, 0.0)).unwrap());
        assert!(same.is_some_and(|g| g.abs() < 4.0), "{same:?}");
        let turned = start.shift_to(&Strip::of(&sparse(circle, w, 96.0)).unwrap());
        assert!(turned.is_some_and(|g| (g - 96.0).abs() < 8.0), "{turned:?}");
        // Turned so far that only sky overlaps: nothing to say.
        let away = start.shift_to(&Strip::of(&sparse(circle, w, 2300.0)).unwrap());
        assert_eq!(away, None);
    }

    #[test]
    fn a_featureless_scene_says_nothing_and_a_turn_is_seen() {
        let flat = |shade: u8| {
            jpeg(image::RgbImage::from_pixel(
                400,
                200,
                image::Rgb([shade, shade, shade]),
            ))
        };
        let a = Strip::of(&flat(120)).unwrap();
        assert_eq!(a.shift_to(&Strip::of(&flat(120)).unwrap()), None);
        let v0 = Strip::of(&view(2880, 800, 0.0)).unwrap();
        assert!(!v0.changed(&Strip::of(&view(2880, 800, 0.0)).unwrap()));
        assert!(v0.changed(&Strip::of(&view(2880, 800, 720.0)).unwrap()));
        assert!(Strip::of(b"nope").is_err());
    }

    #[test]
    fn a_circle_gives_degrees_per_pixel_and_drags_stay_in_the_window() {
        // Four drags of 800 px came back 320 px past the start: 360° is 2,880 px.
        assert_eq!(degrees_per_px(3200.0, 320.0, 800.0), Some(0.125));
        assert_eq!(degrees_per_px(900.0, 0.0, 800.0), None);
        assert_eq!(degrees_per_px(f64::NAN, 0.0, 800.0), None);
        assert_eq!(drag_parts(-1000.0, 798.0), vec![-500.0, -500.0]);
        assert_eq!(drag_parts(700.0, 798.0), vec![700.0]);
        assert_eq!(crate::text::closed_name(" keys"), Ok(Turning::Keys));
        assert!(crate::text::closed_name::<Turning>("wiggle")
            .unwrap_err()
            .to_string()
            .contains("'wiggle' is not one of drag, keys"));
    }
}
