//! The built-in image descriptor: a small global embedding computed from pixels alone, so
//! retrieval works offline with no embedding model.
//!
//! Three blocks, each L2-normalised and weighted, then the whole vector normalised:
//! - a joint RGB colour histogram (4×4×4 bins): palette of sky, vegetation, soil, road;
//! - the spatial layout: mean colour of a 4×4 grid, centred on mid-grey so it is signed
//!   (bright sky above dark road versus a uniform scene);
//! - texture: gradient-orientation histograms (8 bins, weighted by magnitude) in three
//!   horizontal bands (sky, horizon, ground), plus each band's mean gradient strength.
//!
//! It is far weaker than a learned embedding (it sees colour and layout, not script or
//! architecture), which the `rag` prompt tells the model.

use image::imageops::FilterType;
use image::RgbImage;

/// Identifies this descriptor in an index's header; bump the suffix when the maths changes.
pub const DESCRIPTOR_NAME: &str = "builtin:descriptor-v1";
/// Colour histogram bins per channel.
const HIST_BINS: usize = 4;
/// Layout grid cells per side.
const GRID: usize = 4;
/// Gradient-orientation bins (over 0..180°: a gradient and its opposite are the same edge).
const ORIENT_BINS: usize = 8;
/// Horizontal bands for texture statistics.
const BANDS: usize = 3;
/// Length of a descriptor.
pub const DESCRIPTOR_DIM: usize =
    HIST_BINS * HIST_BINS * HIST_BINS + GRID * GRID * 3 + BANDS * (ORIENT_BINS + 1);
/// Images are reduced to this size first: the descriptor only looks at coarse statistics, and it
/// keeps one descriptor under a millisecond whatever the input size.
const WORK_WIDTH: u32 = 96;
const WORK_HEIGHT: u32 = 64;
/// Relative weights of the colour, layout and texture blocks (after each is unit length).
const BLOCK_WEIGHTS: [f32; 3] = [1.0, 1.0, 0.8];
/// The vertical band of an equirectangular panorama that a level view with ~90° field of view
/// covers: from 45° above to 45° below the horizon.
const PANO_BAND: (f64, f64) = (0.25, 0.75);
/// Slices a panorama is cut into, like the agent's default four views.
pub(crate) const PANO_SLICES: u32 = 4;

fn unit(v: &mut [f32], weight: f32) {
    let n: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x *= weight / n);
    }
}

/// The descriptor of one image (never zero: the colour histogram always has mass).
pub fn describe(img: &RgbImage) -> Vec<f32> {
    let small = image::imageops::resize(img, WORK_WIDTH, WORK_HEIGHT, FilterType::Triangle);
    let (w, h) = (WORK_WIDTH as usize, WORK_HEIGHT as usize);
    let px = |x: usize, y: usize| {
        let p = small.get_pixel(x as u32, y as u32).0;
        [f32::from(p[0]), f32::from(p[1]), f32::from(p[2])]
    };

    let mut hist = vec![0f32; HIST_BINS * HIST_BINS * HIST_BINS];
    let mut grid = vec![0f32; GRID * GRID * 3];
    let mut grid_n = [0f32; GRID * GRID];
    for y in 0..h {
        for x in 0..w {
            let p = px(x, y);
            let bin = |c: f32| ((c as usize * HIST_BINS) / 256).min(HIST_BINS - 1);
            hist[(bin(p[0]) * HIST_BINS + bin(p[1])) * HIST_BINS + bin(p[2])] += 1.0;
            let cell = (y * GRID / h) * GRID + x * GRID / w;
            for c in 0..3 {
                grid[cell * 3 + c] += p[c] / 255.0 - 0.5;
            }
            grid_n[cell] += 1.0;
        }
    }
    for (cell, n) in grid_n.iter().enumerate() {
        if *n > 0.0 {
            for c in 0..3 {
                grid[cell * 3 + c] /= n;
            }
        }
    }

    let mut texture = vec![0f32; BANDS * (ORIENT_BINS + 1)];
    let luma = |x: usize, y: usize| {
        let p = px(x, y);
        0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]
    };
    for y in 1..h - 1 {
        let band = y * BANDS / h;
        for x in 1..w - 1 {
            let gx = luma(x + 1, y) - luma(x - 1, y);
            let gy = luma(x, y + 1) - luma(x, y - 1);
            let mag = (gx * gx + gy * gy).sqrt();
            if mag < 1.0 {
                continue;
            }
            let angle = gy.atan2(gx).rem_euclid(std::f32::consts::PI);
            let bin =
                ((angle / std::f32::consts::PI * ORIENT_BINS as f32) as usize).min(ORIENT_BINS - 1);
            let base = band * (ORIENT_BINS + 1);
            texture[base + bin] += mag;
            texture[base + ORIENT_BINS] += mag;
        }
    }
    let band_px = ((w - 2) * (h - 2) / BANDS) as f32 * 255.0;
    texture.iter_mut().for_each(|t| *t /= band_px);

    unit(&mut hist, BLOCK_WEIGHTS[0]);
    unit(&mut grid, BLOCK_WEIGHTS[1]);
    unit(&mut texture, BLOCK_WEIGHTS[2]);
    let mut out = hist;
    out.extend(grid);
    out.extend(texture);
    unit(&mut out, 1.0);
    out
}

/// The unit-length mean of several vectors of one length (`None` for none, or a zero mean).
pub fn mean(vectors: &[Vec<f32>]) -> Option<Vec<f32>> {
    let first = vectors.first()?;
    let mut sum = vec![0f32; first.len()];
    for v in vectors {
        sum.iter_mut().zip(v).for_each(|(s, x)| *s += x);
    }
    super::normalise(&mut sum)?;
    Some(sum)
}

/// The level band of an equirectangular panorama cut into [`PANO_SLICES`] views, so a reference
/// is described the way the agent's captured views are.
pub fn panorama_slices(pano: &RgbImage) -> Vec<RgbImage> {
    let (w, h) = pano.dimensions();
    let top = (f64::from(h) * PANO_BAND.0) as u32;
    let band_h = ((f64::from(h) * (PANO_BAND.1 - PANO_BAND.0)) as u32).max(1);
    let slice_w = (w / PANO_SLICES).max(1);
    (0..PANO_SLICES)
        .map(|i| image::imageops::crop_imm(pano, i * slice_w, top, slice_w, band_h).to_image())
        .collect()
}

/// The descriptor of a panorama: the mean over its slices.
pub fn describe_panorama(pano: &RgbImage) -> Vec<f32> {
    let parts: Vec<Vec<f32>> = panorama_slices(pano).iter().map(describe).collect();
    // Every slice descriptor is unit length with a non-negative histogram block, so the mean is
    // never zero.
    mean(&parts).unwrap_or_else(|| describe(pano))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scene(sky: [u8; 3], ground: [u8; 3], stripes: bool) -> RgbImage {
        RgbImage::from_fn(200, 120, |x, y| {
            if y < 60 {
                image::Rgb(sky)
            } else if stripes && (x / 10) % 2 == 0 {
                image::Rgb([20, 20, 20])
            } else {
                image::Rgb(ground)
            }
        })
    }

    #[test]
    fn unit_length_fixed_size_and_similar_scenes_are_closer() {
        let a = describe(&scene([120, 170, 230], [40, 140, 40], false));
        assert_eq!(a.len(), DESCRIPTOR_DIM);
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
        let a2 = describe(&scene([125, 175, 225], [45, 135, 45], false));
        let desert = describe(&scene([200, 200, 210], [210, 170, 110], true));
        let sim = |x: &[f32], y: &[f32]| crate::index::dot(x, y);
        assert!(sim(&a, &a2) > 0.95, "{}", sim(&a, &a2));
        assert!(
            sim(&a, &desert) < sim(&a, &a2) - 0.2,
            "{}",
            sim(&a, &desert)
        );
        // Flat black has no texture and still a usable vector.
        let black = describe(&RgbImage::new(10, 10));
        assert!(black.iter().all(|x| x.is_finite()) && black.iter().any(|x| *x != 0.0));
    }

    #[test]
    fn panorama_descriptor_matches_its_own_views() {
        let pano = RgbImage::from_fn(400, 200, |x, y| {
            if y < 90 {
                image::Rgb([100, 150, 220])
            } else if x < 200 {
                image::Rgb([30, 120, 30])
            } else {
                image::Rgb([190, 160, 100])
            }
        });
        let slices = panorama_slices(&pano);
        assert_eq!(slices.len(), PANO_SLICES as usize);
        assert_eq!(slices[0].dimensions(), (100, 100));
        let p = describe_panorama(&pano);
        let views = mean(&slices.iter().map(describe).collect::<Vec<_>>()).expect("mean");
        assert!(crate::index::dot(&p, &views) > 0.999);
    }
}
