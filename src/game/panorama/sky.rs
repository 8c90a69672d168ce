//! Above the horizon: the sun's place (from latitude, season and hour), the sky with its
//! clouds and glare, and the distant layers in front of it (tree line, town, hills).

use super::noise::{cloud_noise, fbm, hash2, signed, smoothstep, value_noise};
use super::palette::{mix, rgb, scale, Rgb};
use super::raster::{Column, Row};
use super::{Scene, GRAIN_GROUND, TREELINE_DISTANCE_M};

/// Sun disc radius (rad): a little larger than the real 0.27° so it stays visible at 2048 px.
const SUN_DISC_RAD: f32 = 0.012;
/// Grain in the sky: real skies are smooth, but not perfectly.
const GRAIN_SKY: f32 = 1.5;

/// Where the sun stands: heading (rad, clockwise from north) and elevation (rad).
#[derive(Debug, Clone, Copy)]
pub(super) struct Sun {
    pub(super) azimuth: f32,
    pub(super) elevation: f32,
}

impl Sun {
    /// The sun for latitude `lat_deg`, declination `decl_deg` and hour angle `hour_deg` (negative
    /// before solar noon), by the standard spherical-astronomy formulas.
    pub(super) fn at(lat_deg: f64, decl_deg: f64, hour_deg: f64) -> Sun {
        let (lat, decl, ha) = (
            lat_deg.to_radians(),
            decl_deg.to_radians(),
            hour_deg.to_radians(),
        );
        let sin_el = lat.sin() * decl.sin() + lat.cos() * decl.cos() * ha.cos();
        let elevation = sin_el.clamp(-1.0, 1.0).asin();
        // Azimuth measured from south, positive westward; +π turns it to "from north".
        let from_south = ha
            .sin()
            .atan2(ha.cos() * lat.sin() - decl.tan() * lat.cos());
        let azimuth = (from_south + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU);
        Sun {
            azimuth: azimuth as f32,
            elevation: elevation as f32,
        }
    }

    pub(super) fn direction(&self) -> [f32; 3] {
        let c = self.elevation.cos();
        [
            self.azimuth.sin() * c,
            self.azimuth.cos() * c,
            self.elevation.sin(),
        ]
    }
}

impl Scene {
    pub(super) fn above_horizon(
        &self,
        col: &Column,
        row: &Row,
        x: usize,
        sun: [f32; 3],
        d_heading: f32,
    ) -> Rgb {
        let p = &self.palette;
        let s = self.seed;
        let grain = signed(hash2(x as i32, row.y as i32, s ^ 0x5151));
        if row.pitch < col.tree_top {
            let (ang_x, ang_y) = (col.heading * 180.0, row.pitch * 900.0);
            let base = if col.building {
                let lit = value_noise(ang_x * 0.3, 0.0, s ^ 77);
                mix(rgb(150, 146, 140), rgb(200, 196, 188), lit)
            } else {
                let leaf = value_noise(ang_x * 1.3, ang_y * 1.3, s ^ 78);
                mix(p.foliage_dark, p.foliage, leaf * 0.9)
            };
            let haze = 1.0 - (-TREELINE_DISTANCE_M / p.visibility_m).exp() + 0.12;
            let c = mix(base, p.horizon, haze);
            return [
                c[0] + grain * GRAIN_GROUND * 0.6,
                c[1] + grain * GRAIN_GROUND * 0.6,
                c[2] + grain * GRAIN_GROUND * 0.6,
            ];
        }
        if row.pitch < col.near_top {
            let tex = fbm(
                col.heading * 60.0,
                row.pitch * 200.0,
                s ^ 91,
                5,
                d_heading * 60.0,
            );
            let base = mix(p.foliage_dark, p.ground[1], 0.35 + 0.4 * tex);
            let c = mix(base, p.horizon, 0.38);
            return [
                c[0] + grain * GRAIN_SKY * 3.0,
                c[1] + grain * GRAIN_SKY * 3.0,
                c[2] + grain * GRAIN_SKY * 3.0,
            ];
        }
        if row.pitch < col.far_top {
            let rel = row.pitch / col.far_top.max(1e-4);
            let tex = fbm(
                col.heading * 40.0,
                row.pitch * 120.0,
                s ^ 90,
                5,
                d_heading * 40.0,
            );
            let mut base = scale(p.hill, 0.8 + 0.4 * tex);
            if p.snow && col.far_peak > 0.3 {
                let snow_line = 0.5 + 0.3 * tex;
                base = mix(
                    base,
                    rgb(236, 240, 246),
                    smoothstep(snow_line, snow_line + 0.05, rel),
                );
            }
            // Lower slopes are farther away through more air.
            let haze = if p.snow { 0.22 } else { 0.42 } + 0.2 * (1.0 - rel);
            let c = mix(base, p.horizon, haze);
            return [
                c[0] + grain * GRAIN_SKY * 2.0,
                c[1] + grain * GRAIN_SKY * 2.0,
                c[2] + grain * GRAIN_SKY * 2.0,
            ];
        }
        self.sky(col, row, sun, grain)
    }

    pub(super) fn sky(&self, col: &Column, row: &Row, sun: [f32; 3], grain: f32) -> Rgb {
        let mut c = row.sky;

        // Ray direction and its angle to the sun.
        let dir = [col.sin_h * row.cos_p, col.cos_h * row.cos_p, row.sin_p];
        let cos_sun = dir[0] * sun[0] + dir[1] * sun[1] + dir[2] * sun[2];

        let threshold = 1.0 - self.cloud_cover;
        // Clouds on a flat layer overhead: perspective squeezes them toward the horizon.
        let lift = row.sin_p.max(0.02);
        let cx = dir[0] / lift * 0.9;
        let cy = dir[1] / lift * 0.9;
        let footprint = (1.0 / lift) * 0.004;
        let n = cloud_noise(cx, cy, self.seed ^ 0xc10d, footprint, threshold - 0.05);
        let density =
            smoothstep(threshold - 0.05, threshold + 0.18, n) * smoothstep(0.0, 0.12, row.sin_p);
        if density > 0.0 {
            let shade = fbm(
                cx * 2.0 + 5.0,
                cy * 2.0,
                self.seed ^ 0x5ade,
                3,
                footprint * 2.0,
            );
            let toward_sun = (cos_sun * 0.5 + 0.5).powi(2);
            let cloud = mix(
                rgb(160, 166, 178),
                rgb(250, 250, 250),
                (0.35 + 0.5 * shade + 0.3 * toward_sun).min(1.0),
            );
            c = mix(c, cloud, density);
        }

        // Sun: glare and halo on top of everything in the sky.
        let x = cos_sun - 1.0; // ≈ −γ²/2 for a small angle γ to the sun
        let glow = 0.75 * (x / 0.0015).exp() + 0.35 * (x / 0.03).exp() + 0.18 * (x / 0.25).exp();
        c = mix(c, rgb(255, 252, 240), glow.min(1.0));
        if cos_sun > SUN_DISC_RAD.cos() {
            c = rgb(255, 255, 250);
        }
        [
            c[0] + grain * GRAIN_SKY,
            c[1] + grain * GRAIN_SKY,
            c[2] + grain * GRAIN_SKY,
        ]
    }
}
