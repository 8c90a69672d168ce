//! Deterministic noise and coverage maths for the painter: stable hashes, value noise and
//! fractal noise, and box-filtered coverage of bands, dashes and soft edges, so distant detail
//! fades instead of aliasing.

/// FNV-1a of the location id: a hash that never changes between Rust versions (unlike std's).
pub(super) fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[inline(always)]
pub(super) fn hash2(x: i32, y: i32, seed: u32) -> u32 {
    let mut h = seed
        ^ (x as u32).wrapping_mul(0x27d4_eb2d)
        ^ (y as u32).wrapping_mul(0x1656_67b1).rotate_left(13);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297a_2d39);
    h ^= h >> 15;
    h
}

/// `floor` for noise coordinates (well inside i32): `f32::floor` is a libm call on baseline
/// x86-64, and it showed up in profiles.
#[inline(always)]
pub(super) fn fast_floor(x: f32) -> i32 {
    let i = x as i32;
    if x < i as f32 {
        i - 1
    } else {
        i
    }
}

/// Uniform in [0, 1).
#[inline(always)]
pub(super) fn unit(h: u32) -> f32 {
    (h >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Uniform in [-1, 1).
#[inline(always)]
pub(super) fn signed(h: u32) -> f32 {
    unit(h) * 2.0 - 1.0
}

/// Smooth value noise in [0, 1).
#[inline(always)]
pub(super) fn value_noise(x: f32, y: f32, seed: u32) -> f32 {
    let (xi, yi) = (fast_floor(x), fast_floor(y));
    let (xf, yf) = (xi as f32, yi as f32);
    let (fx, fy) = (x - xf, y - yf);
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let a = unit(hash2(xi, yi, seed));
    let b = unit(hash2(xi + 1, yi, seed));
    let c = unit(hash2(xi, yi + 1, seed));
    let d = unit(hash2(xi + 1, yi + 1, seed));
    let top = a + (b - a) * sx;
    let bottom = c + (d - c) * sx;
    top + (bottom - top) * sy
}

/// Fractal value noise in about [0, 1); octaves finer than `footprint` (in input units per
/// pixel) fade out instead of aliasing.
#[inline]
pub(super) fn fbm(x: f32, y: f32, seed: u32, octaves: u32, footprint: f32) -> f32 {
    let (mut sum, mut norm, mut amp, mut freq) = (0.0, 0.0, 1.0, 1.0);
    for o in 0..octaves {
        let weight = (1.5 - freq * footprint * 2.0).clamp(0.0, 1.0);
        norm += amp;
        if weight > 0.0 {
            sum += amp * weight * value_noise(x * freq, y * freq, seed.wrapping_add(o * 7919))
                + amp * (1.0 - weight) * 0.5;
        } else {
            sum += amp * 0.5;
        }
        amp *= 0.5;
        freq *= 2.03;
    }
    sum / norm
}

/// Five-octave [`fbm`] for clouds that stops early (returning 0) once the remaining octaves
/// cannot lift the sum above `floor`: most of a clear sky costs two octaves instead of five.
pub(super) fn cloud_noise(x: f32, y: f32, seed: u32, footprint: f32, floor: f32) -> f32 {
    const OCTAVES: u32 = 5;
    const NORM: f32 = 1.0 + 0.5 + 0.25 + 0.125 + 0.0625;
    let (mut sum, mut amp, mut freq) = (0.0, 1.0, 1.0);
    for o in 0..OCTAVES {
        let weight = (1.5 - freq * footprint * 2.0).clamp(0.0, 1.0);
        let n = if weight > 0.0 {
            value_noise(x * freq, y * freq, seed.wrapping_add(o * 7919))
        } else {
            0.5
        };
        sum += amp * (weight * n + (1.0 - weight) * 0.5);
        amp *= 0.5;
        freq *= 2.03;
        // Everything still to come adds at most twice the next amplitude.
        if o >= 1 && (sum + 2.0 * amp) / NORM < floor {
            return 0.0;
        }
    }
    sum / NORM
}

/// Value noise over a circle: `u` in [0, 1) wraps, so horizon layers join at heading 180.
pub(super) fn periodic_noise(u: f32, cells: u32, seed: u32) -> f32 {
    let x = u.rem_euclid(1.0) * cells as f32;
    let i = x.floor();
    let f = x - i;
    let i = i as u32 % cells;
    let a = unit(hash2(i as i32, 0, seed));
    let b = unit(hash2(((i + 1) % cells) as i32, 0, seed));
    let s = f * f * (3.0 - 2.0 * f);
    a + (b - a) * s
}

#[inline(always)]
pub(super) fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Share of the pixel footprint `[pos − fp/2, pos + fp/2]` inside `[centre − half, centre + half]`.
#[inline(always)]
pub(super) fn band(pos: f32, fp: f32, centre: f32, half: f32) -> f32 {
    let lo = (pos - fp * 0.5).max(centre - half);
    let hi = (pos + fp * 0.5).min(centre + half);
    ((hi - lo) / fp).clamp(0.0, 1.0)
}

/// Share of the footprint covered by dashes `on` long every `period` (box-filtered square wave).
#[inline(always)]
pub(super) fn dashes(pos: f32, fp: f32, on: f32, period: f32) -> f32 {
    let integral = |x: f32| {
        let k = fast_floor(x / period) as f32;
        k * on + (x - k * period).min(on)
    };
    let (a, b) = (pos - fp * 0.5, pos + fp * 0.5);
    ((integral(b) - integral(a)) / fp).clamp(0.0, 1.0)
}

/// A soft edge: coverage from a signed distance (m, negative inside) and the pixel size (m).
#[inline(always)]
pub(super) fn soft(sd: f32, px: f32) -> f32 {
    (0.5 - sd / px).clamp(0.0, 1.0)
}
