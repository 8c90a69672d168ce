//! The report's world map: land from the vendored world-atlas TopoJSON (`web/vendor`, decoded by
//! the small reader below) projected to SVG paths (equirectangular: x = longitude, y = −latitude),
//! with each round's truth, guess and the great-circle line between them.

use crate::geo::LatLon;
use maud::{html, Markup, PreEscaped};
use std::fmt::Write as _;
use std::sync::OnceLock;

const LAND_TOPOJSON: &str = include_str!("../../web/vendor/countries-110m.json");
/// The object of the TopoJSON file holding all land as one geometry.
const LAND_OBJECT: &str = "land";
/// Points sampled along each guess-to-truth line: enough for a smooth curve on a 1000 px map.
const LINE_SAMPLES: usize = 64;
/// Decimal places of projected coordinates: 0.01° is ~1 km, far below a pixel.
const DECIMALS: usize = 2;

/// One round on the map.
pub struct Pin {
    pub truth: LatLon,
    pub guess: LatLon,
    /// Tooltip text (escaped when rendered).
    pub label: String,
    /// Index into the players' colours.
    pub player: usize,
    /// Link to the round's card (`#id` on the same page, or a page beside the report).
    pub href: String,
}

fn push_lonlat_ring(d: &mut String, ring: &[(f64, f64)], shift: f64) {
    for (i, (lon, lat)) in ring.iter().enumerate() {
        let _ = write!(
            d,
            "{}{:.*} {:.*}",
            if i == 0 { "M" } else { "L" },
            DECIMALS,
            lon + shift,
            DECIMALS,
            -lat
        );
    }
    d.push('Z');
}

/// Appends a ring. A ring that crosses the antimeridian (Russia's Chukotka, Fiji) would draw a
/// line across the whole map: it is unwrapped into continuous longitudes (beyond ±180) and drawn
/// twice, once shifted by 360°, so the viewBox clips each copy to its half.
fn push_ring(d: &mut String, ring: &[Vec<f64>]) {
    let pts: Vec<(f64, f64)> = ring
        .iter()
        .filter(|p| p.len() >= 2)
        .map(|p| (p[0], p[1]))
        .collect();
    let mut unwrapped: Vec<(f64, f64)> = Vec::with_capacity(pts.len());
    let mut offset = 0.0;
    for (i, (lon, lat)) in pts.iter().enumerate() {
        if i > 0 {
            let prev = pts[i - 1].0;
            if lon - prev > 180.0 {
                offset -= 360.0;
            } else if prev - lon > 180.0 {
                offset += 360.0;
            }
        }
        unwrapped.push((lon + offset, *lat));
    }
    // A ring circling the pole (Antarctica) cannot be unwrapped into a closed shape: keep it.
    if offset != 0.0 {
        push_lonlat_ring(d, &pts, 0.0);
        return;
    }
    push_lonlat_ring(d, &unwrapped, 0.0);
    let (min, max) = unwrapped
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), (x, _)| {
            (a.min(*x), b.max(*x))
        });
    if max > 180.0 {
        push_lonlat_ring(d, &unwrapped, -360.0);
    }
    if min < -180.0 {
        push_lonlat_ring(d, &unwrapped, 360.0);
    }
}

/// The SVG path data of all land (computed once). Empty if the bundled data cannot be read,
/// which a unit test rules out for the shipped file.
pub(crate) fn land_path() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| match decode_land() {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("the bundled world map could not be read: {e}");
            String::new()
        }
    })
}

/// The parts of a TopoJSON topology the land map reads (the format's spec:
/// github.com/topojson/topojson-specification). Arcs are quantized and delta-encoded; a polygon
/// ring lists arcs by index, `!i` (one's complement) meaning arc `i` reversed.
#[derive(serde::Deserialize)]
struct Topology {
    transform: Transform,
    arcs: Vec<Vec<[f64; 2]>>,
    objects: std::collections::HashMap<String, TopoObject>,
}

#[derive(serde::Deserialize)]
struct Transform {
    scale: [f64; 2],
    translate: [f64; 2],
}

#[derive(serde::Deserialize)]
#[serde(tag = "type")]
enum TopoObject {
    GeometryCollection {
        geometries: Vec<TopoObject>,
    },
    Polygon {
        arcs: Vec<Vec<i64>>,
    },
    MultiPolygon {
        arcs: Vec<Vec<Vec<i64>>>,
    },
    #[serde(other)]
    Other,
}

impl Topology {
    /// Arc `i` in longitude/latitude, undoing the delta encoding and the quantization.
    fn arc(&self, i: usize) -> Option<Vec<Vec<f64>>> {
        let (mut x, mut y) = (0.0, 0.0);
        let t = &self.transform;
        self.arcs.get(i).map(|arc| {
            arc.iter()
                .map(|[dx, dy]| {
                    x += dx;
                    y += dy;
                    vec![
                        x * t.scale[0] + t.translate[0],
                        y * t.scale[1] + t.translate[1],
                    ]
                })
                .collect()
        })
    }

    /// A ring from its arc indices; consecutive arcs share their joining point, kept once.
    fn ring(&self, arcs: &[i64]) -> Result<Vec<Vec<f64>>, String> {
        let mut ring: Vec<Vec<f64>> = Vec::new();
        for &a in arcs {
            let (index, reversed) = if a < 0 { (!a, true) } else { (a, false) };
            let mut points = usize::try_from(index)
                .ok()
                .and_then(|i| self.arc(i))
                .ok_or_else(|| format!("arc {a} is not in the topology"))?;
            if reversed {
                points.reverse();
            }
            let skip = usize::from(!ring.is_empty());
            ring.extend(points.into_iter().skip(skip));
        }
        Ok(ring)
    }

    fn push_geometry(&self, g: &TopoObject, d: &mut String) -> Result<(), String> {
        match g {
            TopoObject::GeometryCollection { geometries } => {
                for g in geometries {
                    self.push_geometry(g, d)?;
                }
            }
            TopoObject::Polygon { arcs } => {
                for r in arcs {
                    push_ring(d, &self.ring(r)?);
                }
            }
            TopoObject::MultiPolygon { arcs } => {
                for r in arcs.iter().flatten() {
                    push_ring(d, &self.ring(r)?);
                }
            }
            TopoObject::Other => {}
        }
        Ok(())
    }
}

fn decode_land() -> Result<String, String> {
    let topo: Topology = serde_json::from_str(LAND_TOPOJSON).map_err(|e| e.to_string())?;
    let land = topo
        .objects
        .get(LAND_OBJECT)
        .ok_or_else(|| format!("no object `{LAND_OBJECT}`"))?;
    let mut d = String::new();
    topo.push_geometry(land, &mut d)?;
    if d.is_empty() {
        return Err(format!("object `{LAND_OBJECT}` holds no polygon"));
    }
    Ok(d)
}

/// SVG path data for a line of (lon, lat) points, broken where it crosses the antimeridian.
pub(crate) fn line_path(points: &[(f64, f64)]) -> String {
    let mut d = String::new();
    let mut prev: Option<f64> = None;
    for (lon, lat) in points {
        let cmd = match prev {
            Some(p) if (lon - p).abs() <= 180.0 => "L",
            _ => "M",
        };
        let _ = write!(d, "{cmd}{lon:.*} {:.*}", DECIMALS, DECIMALS, -lat);
        prev = Some(*lon);
    }
    d
}

/// The map with every pin; `colors[player]` colours its guesses and lines.
pub fn render(pins: &[Pin], colors: &[String]) -> Markup {
    let color = |i: usize| {
        colors
            .get(i % colors.len().max(1))
            .cloned()
            .unwrap_or_else(|| "#d33".into())
    };
    html! {
        svg id="worldmap" xmlns="http://www.w3.org/2000/svg" viewBox="-180 -90 360 180"
            role="img" aria-label="World map of truths and guesses" {
            rect x="-180" y="-90" width="360" height="180" fill="#eaf2f8" {}
            path class="land" d=(PreEscaped(land_path())) fill="#d9d4c7" stroke="#b4ad9c"
                stroke-width="0.2" fill-rule="evenodd" {}
            @for p in pins {
                path class="line" d=(line_path(&crate::geo::great_circle_points(p.guess, p.truth, LINE_SAMPLES)))
                    fill="none" stroke=(color(p.player)) stroke-width="0.4" stroke-opacity="0.8" {}
            }
            @for p in pins {
                a href=(p.href) {
                    circle class="truth" cx=(format!("{:.2}", p.truth.lon)) cy=(format!("{:.2}", -p.truth.lat))
                        r="1.3" fill="#1a7f37" stroke="#fff" stroke-width="0.3" {
                        title { "Truth · " (p.label) }
                    }
                    circle class="guess" cx=(format!("{:.2}", p.guess.lon)) cy=(format!("{:.2}", -p.guess.lat))
                        r="1.1" fill=(color(p.player)) stroke="#fff" stroke-width="0.3" {
                        title { "Guess · " (p.label) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reversed_arc_joins_its_neighbour_once() {
        // Two arcs (quantized, delta-encoded) closing a triangle: 0 runs (0,0)->(2,0)->(2,2),
        // 1 runs (0,0)->(2,2) and is used reversed (`!1` = -2).
        let topo: Topology = serde_json::from_str(
            r#"{"transform":{"scale":[1,1],"translate":[10,20]},
                "arcs":[[[0,0],[2,0],[0,2]],[[0,0],[2,2]]],
                "objects":{"land":{"type":"Polygon","arcs":[[0,-2]]}}}"#,
        )
        .unwrap();
        let mut d = String::new();
        topo.push_geometry(&topo.objects["land"], &mut d).unwrap();
        assert_eq!(d, "M10.00 -20.00L12.00 -20.00L12.00 -22.00L10.00 -20.00Z");
        let bad: Topology = serde_json::from_str(
            r#"{"transform":{"scale":[1,1],"translate":[0,0]},"arcs":[],
                "objects":{"land":{"type":"Polygon","arcs":[[7]]}}}"#,
        )
        .unwrap();
        assert!(bad.push_geometry(&bad.objects["land"], &mut d).is_err());
    }

    #[test]
    fn land_decodes_to_rings_without_map_wide_jumps() {
        let d = land_path();
        assert!(
            d.matches('Z').count() > 100,
            "{} rings",
            d.matches('Z').count()
        );
        for ring in d.split('Z').filter(|r| !r.is_empty()) {
            let lons: Vec<f64> = ring
                .split(['M', 'L'])
                .filter(|s| !s.is_empty())
                .map(|p| p.split(' ').next().unwrap().parse().unwrap())
                .collect();
            assert!(lons.iter().all(|x| (-540.0..=540.0).contains(x)));
            let jumps = lons
                .windows(2)
                .filter(|w| (w[1] - w[0]).abs() > 180.0)
                .count();
            // Only the ring around the South Pole may run from one edge to the other.
            assert!(jumps <= 1, "a ring jumps across the map {jumps} times");
        }
    }

    #[test]
    fn a_ring_across_the_antimeridian_is_drawn_on_both_sides() {
        let mut d = String::new();
        let ring = vec![
            vec![170.0, 60.0],
            vec![-170.0, 60.0],
            vec![-170.0, 70.0],
            vec![170.0, 70.0],
            vec![170.0, 60.0],
        ];
        push_ring(&mut d, &ring);
        assert_eq!(
            d,
            "M170.00 -60.00L190.00 -60.00L190.00 -70.00L170.00 -70.00L170.00 -60.00Z\
             M-190.00 -60.00L-170.00 -60.00L-170.00 -70.00L-190.00 -70.00L-190.00 -60.00Z"
        );
    }

    #[test]
    fn great_circle_ends_at_both_points_and_breaks_at_the_antimeridian() {
        let a = LatLon::new(35.0, 170.0).unwrap();
        let b = LatLon::new(40.0, -170.0).unwrap();
        let pts = crate::geo::great_circle_points(a, b, 16);
        assert!((pts[0].0 - 170.0).abs() < 1e-9 && (pts[0].1 - 35.0).abs() < 1e-9);
        assert!((pts[16].0 + 170.0).abs() < 1e-9 && (pts[16].1 - 40.0).abs() < 1e-9);
        let d = line_path(&pts);
        assert_eq!(d.matches('M').count(), 2, "{d}");
        let same = crate::geo::great_circle_points(a, a, 4);
        assert!(same.iter().all(|p| (p.0 - 170.0).abs() < 1e-9));
    }

    #[test]
    fn pins_are_escaped() {
        let p = Pin {
            truth: LatLon::new(1.0, 2.0).unwrap(),
            guess: LatLon::new(3.0, 4.0).unwrap(),
            label: "<b>x</b>".into(),
            player: 0,
            href: "#r1".into(),
        };
        let s = render(&[p], &["#123456".into()]).into_string();
        assert!(s.contains("&lt;b&gt;x&lt;/b&gt;") && !s.contains("<b>"));
        assert!(s.contains("cx=\"4.00\" cy=\"-3.00\""), "{s}");
    }
}
