//! The report's charts as SVG, drawn with plotters' SVG backend: a points histogram and a
//! distance CDF, one series per player. Text in the SVG is escaped by the backend.

use plotters::prelude::*;

/// Width and height of each chart in CSS pixels: two fit side by side on a laptop screen.
pub(crate) const CHART_SIZE: (u32, u32) = (560, 340);
/// Histogram bin width in points: 10 bins over 0–5000.
pub(crate) const POINTS_BIN: u32 = 500;
/// The CDF's x axis (log scale) starts here, in km: closer guesses are drawn at this value.
pub(crate) const CDF_MIN_KM: f64 = 0.1;
/// And ends here: half the Earth's circumference, the largest possible distance.
pub(crate) const CDF_MAX_KM: f64 = 20_040.0;

#[derive(Debug, thiserror::Error)]
#[error("drawing the {chart} chart failed: {detail}")]
pub struct ChartError {
    pub chart: &'static str,
    pub detail: String,
}

/// The colour of player `k` in every chart, as CSS hex, so the map and cards can match.
pub(crate) fn color_hex(k: usize) -> String {
    let c = Palette99::pick(k).to_rgba();
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// One player's values for a chart.
pub struct Series<'a> {
    pub label: &'a str,
    pub values: Vec<f64>,
}

fn err<E: std::fmt::Debug>(chart: &'static str) -> impl Fn(E) -> ChartError {
    move |e| ChartError {
        chart,
        detail: format!("{e:?}"),
    }
}

/// Rounds per 500-point bin, bars of the players side by side within each bin.
pub(crate) fn points_histogram(series: &[Series]) -> Result<String, ChartError> {
    let bins = (5000 / POINTS_BIN) as usize;
    let counts: Vec<Vec<usize>> = series
        .iter()
        .map(|s| {
            let mut c = vec![0usize; bins];
            for v in &s.values {
                let i = ((v.max(0.0) as u32) / POINTS_BIN).min(bins as u32 - 1) as usize;
                c[i] += 1;
            }
            c
        })
        .collect();
    let top = counts.iter().flatten().copied().max().unwrap_or(0).max(1);
    // Room above the highest bar for the legend; whole numbers only on the count axis.
    let ymax = (top as f64 * 1.3).ceil().max(top as f64 + 1.0);
    let y_labels = (ymax as usize + 1).min(11);
    let mut svg = String::new();
    {
        let e = err("points histogram");
        let root = SVGBackend::with_string(&mut svg, CHART_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(&e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Points per round", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..5000f64, 0f64..ymax)
            .map_err(&e)?;
        chart
            .configure_mesh()
            .x_desc("points")
            .y_desc("rounds")
            .x_labels(11)
            .y_labels(y_labels)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .disable_x_mesh()
            .draw()
            .map_err(&e)?;
        let width = f64::from(POINTS_BIN) / (series.len().max(1) as f64 + 0.5);
        for (k, (s, c)) in series.iter().zip(&counts).enumerate() {
            let color = Palette99::pick(k).to_rgba();
            let rects = c.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| {
                let x0 = i as f64 * f64::from(POINTS_BIN) + width * (k as f64 + 0.25);
                Rectangle::new([(x0, 0.0), (x0 + width, *n as f64)], color.filled())
            });
            chart
                .draw_series(rects)
                .map_err(&e)?
                .label(s.label)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(&e)?;
        root.present().map_err(&e)?;
    }
    Ok(svg)
}

/// The empirical CDF of `values` as step points: (x, share of values ≤ x).
pub(crate) fn cdf_points(values: &[f64], min: f64) -> Vec<(f64, f64)> {
    let mut v: Vec<f64> = values.iter().map(|d| d.max(min)).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    let mut out = vec![(min, 0.0)];
    for (i, x) in v.iter().enumerate() {
        let before = out.last().map(|p| p.1).unwrap_or(0.0);
        out.push((*x, before));
        out.push((*x, (i + 1) as f64 / n));
    }
    out.push((CDF_MAX_KM, if v.is_empty() { 0.0 } else { 1.0 }));
    out
}

/// Share of rounds within each distance (log scale), one line per player.
pub(crate) fn distance_cdf(series: &[Series]) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let e = err("distance CDF");
        let root = SVGBackend::with_string(&mut svg, CHART_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(&e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Distance CDF", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(44)
            .build_cartesian_2d((CDF_MIN_KM..CDF_MAX_KM).log_scale(), 0f64..1.02f64)
            .map_err(&e)?;
        chart
            .configure_mesh()
            .x_desc("distance (km, log scale)")
            .y_desc("share of rounds within")
            .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
            .x_label_formatter(&|x| {
                if *x < 1.0 {
                    format!("{x:.1}")
                } else {
                    format!("{x:.0}")
                }
            })
            .draw()
            .map_err(&e)?;
        for (k, s) in series.iter().enumerate() {
            let color = Palette99::pick(k).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    cdf_points(&s.values, CDF_MIN_KM),
                    color.stroke_width(2),
                ))
                .map_err(&e)?
                .label(s.label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(&e)?;
        root.present().map_err(&e)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_steps_up_to_one() {
        let p = cdf_points(&[10.0, 0.0, 1000.0], 0.1);
        assert_eq!(p.first(), Some(&(0.1, 0.0)));
        assert_eq!(p.last(), Some(&(CDF_MAX_KM, 1.0)));
        // 0 km is drawn at the axis minimum and counts at once.
        assert_eq!(p[2], (0.1, 1.0 / 3.0));
        assert!(p.windows(2).all(|w| w[0].1 <= w[1].1 && w[0].0 <= w[1].0));
    }

    #[test]
    fn charts_are_svg_with_escaped_labels() {
        let s = [
            Series {
                label: "<script>alert(1)</script>",
                values: vec![0.0, 2500.0, 5000.0, 4999.0],
            },
            Series {
                label: "b & c",
                values: vec![100.0],
            },
        ];
        let h = points_histogram(&s).unwrap();
        assert!(h.starts_with("<svg"), "{}", &h[..60]);
        assert!(h.contains("&lt;script&gt;") && !h.contains("<script>"));
        assert!(h.contains("b &amp; c"));
        assert!(h.matches("<rect").count() >= 4);
        let c = distance_cdf(&s).unwrap();
        assert!(c.contains("<polyline") || c.contains("<path"), "no line");
        assert!(c.contains("&lt;script&gt;"));
    }
}
