//! The raster pass: per-column values (heading, hills, tree line, roadside wall), rows painted
//! in parallel threads, then props drawn far to near.

use super::noise::{fast_floor, hash2, periodic_noise, smoothstep, unit, value_noise};
use super::palette::{mix, Rgb};
use super::{Scene, Wall, CAMERA_HEIGHT_M, TREELINE_DISTANCE_M};
use crate::game::builtin::Climate;
use image::RgbImage;
use std::f32::consts::{FRAC_PI_2, PI, TAU};
use std::ops::Range;

/// Gap (m, each side of the road) kept free in the horizon tree line so the road reaches the
/// horizon.
const TREELINE_ROAD_GAP_M: f32 = 9.0;
/// Roadside walls farther than this along the view ray (m) give way to the horizon tree line.
const MAX_WALL_DISTANCE_M: f32 = 3_000.0;
/// Most threads one painting uses: rows are independent, and more than a few threads only
/// compete with the rest of the program on small machines.
const MAX_PAINT_THREADS: usize = 4;

#[derive(Debug, Clone, Copy)]
pub(super) struct Column {
    pub(super) heading: f32,
    pub(super) sin_h: f32,
    pub(super) cos_h: f32,
    /// Top (rad) of the far hills and their height relative to the tallest possible (0–1).
    pub(super) far_top: f32,
    pub(super) far_peak: f32,
    pub(super) near_top: f32,
    pub(super) tree_top: f32,
    pub(super) building: bool,
    /// The roadside wall seen in this column: top and bottom pitch (rad), distance along the
    /// ray (m, 0 when none) and position along the road (m).
    pub(super) wall_top: f32,
    pub(super) wall_bottom: f32,
    pub(super) wall_r: f32,
    pub(super) wall_n: f32,
    /// Hash of the wall tree in front here, and where across its crown (−1..1) this column is.
    pub(super) wall_tree: u32,
    pub(super) wall_rel: f32,
    pub(super) wall: Option<Wall>,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Row {
    pub(super) y: usize,
    pub(super) pitch: f32,
    pub(super) sin_p: f32,
    pub(super) cos_p: f32,
    /// Clear-sky colour at this pitch.
    pub(super) sky: Rgb,
}

impl Scene {
    /// The whole panorama (the painter's tests look at every row).
    #[cfg(test)]
    pub(super) fn render(&self, width: u32, height: u32) -> RgbImage {
        self.render_band(width, height, 0..height as usize)
    }

    /// Paints the rows `rows` of a `width`×`height` panorama (the others stay black).
    pub(super) fn render_band(&self, width: u32, height: u32, rows: Range<usize>) -> RgbImage {
        let mut img = RgbImage::new(width, height);
        if width == 0 || height == 0 || rows.is_empty() {
            return img;
        }
        let (w, h) = (width as usize, height as usize);
        let cols: Vec<Column> = (0..w).map(|x| self.column(x, w)).collect();
        let buf: &mut [u8] = &mut img;
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_PAINT_THREADS);
        let rows_per_chunk = rows.len().div_ceil(threads);
        let band = &mut buf[rows.start * w * 3..rows.end * w * 3];
        std::thread::scope(|scope| {
            for (i, chunk) in band.chunks_mut(rows_per_chunk * w * 3).enumerate() {
                let cols = &cols;
                let first = rows.start + i * rows_per_chunk;
                scope.spawn(move || self.render_rows(chunk, first, w, h, cols));
            }
        });
        for prop in &self.props {
            self.draw_prop(buf, w, h, &rows, prop, &cols);
        }
        img
    }

    /// Paints whole rows starting at row `first` into `chunk`; pixels depend only on their own
    /// position, so the split between threads never changes the result.
    fn render_rows(&self, chunk: &mut [u8], first: usize, w: usize, h: usize, cols: &[Column]) {
        let d_heading = TAU / w as f32;
        let d_pitch = PI / h as f32;
        let sun_dir = self.sun.direction();
        for (i, row_px) in chunk.chunks_exact_mut(w * 3).enumerate() {
            let y = first + i;
            let pitch = (0.5 - (y as f32 + 0.5) / h as f32) * PI;
            let (sin_p, cos_p) = pitch.sin_cos();
            let up = (pitch / FRAC_PI_2).max(0.0);
            let row = Row {
                y,
                pitch,
                sin_p,
                cos_p,
                sky: mix(self.palette.horizon, self.palette.zenith, up.powf(0.45)),
            };
            for (x, px) in row_px.chunks_exact_mut(3).enumerate() {
                let col = &cols[x];
                let c = if col.wall_r > 0.0 && pitch < col.wall_top && pitch > col.wall_bottom {
                    self.wall(col, &row, x)
                } else if pitch >= 0.0 {
                    self.above_horizon(col, &row, x, sun_dir, d_heading)
                } else {
                    self.ground(col, &row, x, d_heading, d_pitch)
                };
                px[0] = c[0].clamp(0.0, 255.0) as u8;
                px[1] = c[1].clamp(0.0, 255.0) as u8;
                px[2] = c[2].clamp(0.0, 255.0) as u8;
            }
        }
    }

    /// Per-column values: heading, the roadside wall and the horizon silhouettes' tops.
    pub(super) fn column(&self, x: usize, w: usize) -> Column {
        let u = (x as f32 + 0.5) / w as f32;
        let heading = (u - 0.5) * TAU;
        let (sin_h, cos_h) = heading.sin_cos();
        let s = self.seed;

        // Two hill layers: far (high, hazy, snow-capped in the Alps) and near (lower, greener).
        let profile = |seed: u32, base_cells: u32| {
            let (mut sum, mut norm, mut amp, mut cells) = (0.0, 0.0, 1.0, base_cells);
            for o in 0..7 {
                let a = if o < 2 {
                    amp
                } else {
                    amp * self.hill_rough * 2.0
                };
                sum += a * periodic_noise(u, cells, seed.wrapping_add(o));
                norm += a;
                amp *= 0.5;
                cells *= 2;
            }
            // Stretch: averaging octaves flattens the profile toward 0.5.
            let v = (0.5 + (sum / norm - 0.5) * 2.2).clamp(0.0, 1.0);
            ((v - 0.3) / 0.7).max(0.0).powf(1.4)
        };
        let far = profile(s.wrapping_add(100), 6);
        let mut far_deg = far * self.palette.hill_deg * self.hill_scale * 1.4;
        if self.climate == Climate::Desert && self.hill_rough > 0.4 {
            // Mesas: flat tops.
            far_deg = far_deg.min(self.palette.hill_deg * 0.8);
        }
        let near = profile(s.wrapping_add(150), 4);
        let near_deg = near * self.palette.hill_deg.min(6.0) * self.hill_scale * self.near_hills;

        // Tree line: patches of forest with per-tree bumps, kept off the road's line.
        let gap = (TREELINE_ROAD_GAP_M / TREELINE_DISTANCE_M).atan();
        let near_road = heading.abs() < gap || (PI - heading.abs()) < gap;
        let patch = periodic_noise(u, 24, s.wrapping_add(200)) * 0.7
            + periodic_noise(u, 90, s.wrapping_add(201)) * 0.3;
        let mut tree_top = 0.0;
        if !near_road && patch < self.treeline_share {
            let trees = if self.treeline_spiky { 1400 } else { 700 };
            let t = u * trees as f32;
            let f = t.fract();
            let i = t.floor() as i32;
            let size = 0.6 + 0.7 * unit(hash2(i, 7, s));
            let shape = if self.treeline_spiky {
                1.0 - (f - 0.5).abs() * 2.0
            } else {
                (1.0 - ((f - 0.5) * 2.0).powi(2)).max(0.0).sqrt()
            };
            let edge = smoothstep(0.0, 0.08, self.treeline_share - patch);
            tree_top = (self.treeline_deg * size * (0.35 + 0.65 * shape) * edge).to_radians();
        }
        let mut building = false;
        if let Some((town_heading, half)) = self.town {
            let dh = (heading - town_heading + PI).rem_euclid(TAU) - PI;
            if dh.abs() < half && !near_road {
                let b = (u * 500.0).floor() as i32;
                if unit(hash2(b, 9, s)) < 0.7 {
                    let height = (0.4 + 1.4 * unit(hash2(b, 10, s))).to_radians();
                    if height > tree_top {
                        tree_top = height;
                        building = true;
                    }
                }
            }
        }

        // The roadside wall (forest edge or hedge) on this column's side of the road.
        let (mut wall_top, mut wall_bottom, mut wall_r, mut wall_n) = (0.0, 0.0, 0.0, 0.0);
        let (mut wall_tree, mut wall_rel) = (0u32, 0.0f32);
        let side = usize::from(sin_h >= 0.0);
        let mut wall_kind = self.walls[side];
        if let Some(wall) = &wall_kind {
            let across = sin_h.abs();
            let r = wall.offset / across.max(1e-6);
            let n = r * cos_h;
            let clearing = value_noise(n / 45.0, side as f32 * 17.0, s ^ 0xc1ea);
            if r < MAX_WALL_DISTANCE_M && clearing > wall.openness {
                // Crowns: the tallest of the neighbouring trees' cones (conifers) or domes
                // (broadleaf) at this point along the road.
                let spacing = if wall.spiky { 2.8 } else { 5.0 };
                let cell = fast_floor(n / spacing);
                let (mut best, mut rel_best, mut tree_best) = (f32::MIN, 0.0, 0u32);
                for i in cell - 1..=cell + 1 {
                    let key = |salt: u32| unit(hash2(i, side as i32, s ^ salt));
                    let centre = (i as f32 + 0.5 + 0.6 * (key(0x3a12) - 0.5)) * spacing;
                    let height = wall.height * (0.75 + 0.5 * key(0x3a11));
                    let half = spacing * (0.7 + 0.4 * key(0x3a13));
                    let rel = (n - centre) / half;
                    let top = if wall.spiky {
                        height * (1.0 - 0.55 * rel.abs())
                    } else {
                        height * (1.0 - 0.3 * rel * rel)
                    };
                    if top > best {
                        (best, rel_best, tree_best) =
                            (top, rel.clamp(-1.5, 1.5), hash2(i, side as i32, s));
                    }
                }
                // Where a column spans many trees, show their average height instead of aliasing.
                let fp_n = wall.offset / (across * across).max(1e-6) * TAU / w as f32;
                let detail = (1.0 - fp_n / spacing).clamp(0.0, 1.0);
                let top_m = best * detail + wall.height * 0.85 * (1.0 - detail);
                let edge = smoothstep(0.0, 0.08, clearing - wall.openness);
                let top_m = top_m * (0.3 + 0.7 * edge);
                wall_tree = tree_best;
                wall_rel = rel_best * detail;
                wall_top = ((top_m - CAMERA_HEIGHT_M) / r).atan();
                wall_bottom = (-CAMERA_HEIGHT_M / r).atan();
                wall_r = r;
                wall_n = n;
            }
        }
        if wall_r == 0.0 {
            wall_kind = None;
        }
        Column {
            heading,
            sin_h,
            cos_h,
            far_top: far_deg.to_radians() + 0.002,
            far_peak: far,
            near_top: near_deg.to_radians(),
            tree_top,
            building,
            wall_top,
            wall_bottom,
            wall_r,
            wall_n,
            wall_tree,
            wall_rel,
            wall: wall_kind,
        }
    }
}
