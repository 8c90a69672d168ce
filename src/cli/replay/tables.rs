//! The terminal text of `replay list` and `replay show`: tables and round details drawn from what
//! `replay::catalog` reads (domain code returns data; the command line draws it).

use crate::replay::catalog::{recorded_mean, CatalogError, SessionRow, Spend};
use crate::replay::Replay;
use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use std::fmt::Write as _;
use std::path::Path;

/// Characters of a prompt or answer shown per round in `show` without `--round` (the full text
/// is shown with `--round N`).
const SUMMARY_TEXT_CHARS: usize = 160;
/// How much of a name (session, map, model, strategy, place) a table cell or header line shows:
/// a replay is someone else's file, and a name as long as a book would push the table off screen.
const SHOWN_NAME_CHARS: usize = 80;
/// How much of one recorded line (a rationale, a parser note) `replay show --round` prints.
const SHOWN_LINE_CHARS: usize = 1_000;
/// How much of a recorded prompt, raw answer or error `replay show --round` prints: more than any
/// honest exchange, less than a crafted one could flood a terminal with.
const SHOWN_TEXT_CHARS: usize = 32_000;

pub(crate) fn spend_cell(s: &Spend) -> String {
    if s.input_tokens == 0 && s.output_tokens == 0 && s.cost_usd.is_none() {
        return "–".into();
    }
    let mut out = format!("{} in / {} out", s.input_tokens, s.output_tokens);
    if let Some(c) = s.cost_usd {
        let _ = write!(out, "\n${c:.4}");
    }
    out
}

/// The `replay list` table.
pub fn render_list(rows: &[SessionRow], root: &Path) -> String {
    if rows.is_empty() {
        return format!(
            "No sessions in {} (`geoagent play` writes them there; --dir picks another folder).",
            root.display()
        );
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "Session",
        "Date (UTC)",
        "Map",
        "Model",
        "Strategy",
        "Rounds",
        "Mean points",
        "Tokens / cost",
        "Parent",
    ]);
    for r in rows {
        if let Some(e) = &r.error {
            t.add_row(vec![
                name(&r.id),
                crate::text::line(&format!("unreadable: {e}"), SUMMARY_TEXT_CHARS),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            continue;
        }
        let rounds = if r.rounds == r.planned_rounds {
            r.rounds.to_string()
        } else {
            format!("{}/{}", r.rounds, r.planned_rounds)
        };
        let model = match r.environment {
            Some(crate::environment::Kind::LocalGame) | None => name(&r.reasoner),
            Some(kind) => format!("{}\n({kind})", name(&r.reasoner)),
        };
        t.add_row(vec![
            name(&r.id),
            r.created
                .map(|c| c.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default(),
            name(&r.map),
            model,
            name(&r.strategy),
            rounds,
            match (r.mean_points, r.recorded_mean_points) {
                (Some(m), Some(rec)) => format!("{m:.0} *\n(rec. {rec:.0})"),
                (Some(m), None) => format!("{m:.0}"),
                (None, _) => "–".into(),
            },
            spend_cell(&r.spend),
            r.parent.as_deref().map_or_else(|| "–".into(), name),
        ]);
    }
    for col in [5, 6] {
        if let Some(c) = t.column_mut(col) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    let torn: usize = rows.iter().map(|r| r.skipped).sum();
    let mut out = format!("{t}\n{} session(s) in {}", rows.len(), root.display());
    if rows.iter().any(|r| r.recorded_mean_points.is_some()) {
        let _ = write!(
            out,
            "\n* re-scored with today's scoring (rescored.json, `replay rescore`); rec. = as recorded"
        );
    }
    if torn > 0 {
        let _ = write!(
            out,
            "\n{torn} line(s) skipped (a torn last line of a session killed mid-round, or a round recorded twice)"
        );
    }
    out
}

/// A recorded line (a rationale, a note, a warning) as one printed line.
fn line_of(s: &str) -> String {
    crate::text::line(s, SHOWN_LINE_CHARS)
}

/// A recorded prompt, answer or error, its own line breaks kept.
fn text_of(s: &str) -> String {
    crate::text::lines(s, SHOWN_TEXT_CHARS)
}

/// A recorded name as a table cell or header value.
fn name(s: &str) -> String {
    crate::text::line(s, SHOWN_NAME_CHARS)
}

fn header(r: &Replay) -> String {
    let m = &r.manifest;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Session {} ({})",
        name(&m.session_id),
        name(&r.dir.display().to_string())
    );
    let _ = writeln!(
        out,
        "  created {} by geoagent {} · format {} · environment {}",
        m.created.format("%Y-%m-%d %H:%M:%S UTC"),
        name(&m.geoagent_version),
        m.format_version,
        m.environment
    );
    let _ = writeln!(
        out,
        "  map {} ({}{}, size {}) · challenge {} · {} of {} round(s)",
        name(&m.map.id),
        name(&m.map.name),
        if m.map.synthetic { ", synthetic" } else { "" },
        m.map
            .known_size_km()
            .map_or("unknown".into(), |s| format!("{s:.1} km")),
        name(&m.challenge.id),
        r.rounds.len(),
        m.challenge.rounds
    );
    let _ = writeln!(
        out,
        "  reasoner {} · strategy {} · {} view(s) per round, zoom steps {}, JPEG quality {}",
        name(&m.reasoner),
        name(&m.strategy_label()),
        m.capture.headings,
        m.capture.zoom_steps,
        m.capture.jpeg_quality
    );
    if let Some(p) = &m.parent {
        let _ = writeln!(out, "  re-run of session {}", name(p));
    }
    for s in &r.skipped {
        let _ = writeln!(out, "  warning: {}", line_of(s));
    }
    out
}

/// `replay show`: the session and every round in short, or one round in full.
pub(crate) fn render_show(r: &Replay, round: Option<usize>) -> Result<String, CatalogError> {
    let mut out = header(r);
    let Some(n) = round else {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
            "Round", "Truth", "Guess", "Distance", "Points", "Source", "Answer",
        ]);
        for rec in &r.rounds {
            let answer = rec
                .guess
                .exchanges
                .iter()
                .rev()
                .find_map(|e| e.raw.as_deref().or(e.error.as_deref()))
                .or(rec.guess.rationale.as_deref())
                .unwrap_or("");
            let truth = match &rec.result.place {
                Some(p) => format!("{}\n{}", name(p), rec.result.truth),
                None => rec.result.truth.to_string(),
            };
            t.add_row(vec![
                rec.round.to_string(),
                truth,
                rec.result.guess.to_string(),
                format!("{:.1} km", rec.result.distance_km),
                match crate::replay::rescore::recorded_points(r, rec.round) {
                    Some(was) => format!("{} *\n(rec. {was})", rec.result.points),
                    None => rec.result.points.to_string(),
                },
                rec.guess.source.to_string(),
                crate::text::line(answer, SUMMARY_TEXT_CHARS),
            ]);
        }
        for col in [0, 3, 4] {
            if let Some(c) = t.column_mut(col) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        let total: u64 = r.rounds.iter().map(|x| u64::from(x.result.points)).sum();
        let _ = write!(
            out,
            "{t}\nTotal {total} / {} points · `--round N` shows a round's views, prompt and full answer",
            5000 * r.rounds.len()
        );
        if let Some(rec) = recorded_mean(r) {
            let _ = write!(
                out,
                "\n* re-scored with today's scoring (rescored.json, `replay rescore`); rec. = as recorded (total {} as recorded)",
                (rec * r.rounds.len() as f64).round()
            );
        }
        return Ok(out);
    };
    let rec = r
        .rounds
        .iter()
        .find(|x| x.round == n)
        .ok_or_else(|| CatalogError::NoRound {
            session: r.manifest.session_id.clone(),
            round: n,
            have: r
                .rounds
                .iter()
                .map(|x| x.round.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let _ = writeln!(out, "\nRound {n}");
    let _ = writeln!(out, "Views:");
    for v in &rec.views {
        // Only a view the replay accepts is printed as a path; a crafted one is shown as refused.
        let file = match r.view_bytes(v).and_then(|_| r.view_path(v)) {
            Ok(p) => p.display().to_string(),
            Err(e) => format!("[not shown: {e}]"),
        };
        let _ = writeln!(
            out,
            "  {} (heading {:.0}°, pitch {:.0}°, fov {:.0}°, {}×{}, {} bytes)",
            file, v.heading, v.pitch, v.fov, v.width, v.height, v.bytes
        );
    }
    if rec.guess.exchanges.is_empty() {
        let _ = writeln!(out, "Model exchanges: none ({})", rec.guess.source);
    }
    for (i, e) in rec.guess.exchanges.iter().enumerate() {
        let _ = writeln!(
            out,
            "Exchange {} ({}): {} image(s), {} attempt(s), {} ms, {} in / {} out tokens",
            i + 1,
            e.purpose,
            e.images,
            e.attempts,
            e.elapsed_ms,
            e.usage.input_tokens,
            e.usage.output_tokens
        );
        if let Some(s) = &e.system {
            let _ = writeln!(out, "--- system prompt ---\n{}", text_of(s));
        }
        let _ = writeln!(out, "--- prompt ---\n{}", text_of(&e.prompt));
        match (&e.raw, &e.error) {
            (Some(raw), _) => {
                let _ = writeln!(out, "--- raw answer ---\n{}", text_of(raw));
            }
            (None, Some(err)) => {
                let _ = writeln!(out, "--- error ---\n{}", text_of(err));
            }
            (None, None) => {}
        }
    }
    let g = &rec.guess;
    let _ = writeln!(out, "--- parsed guess ---");
    let _ = writeln!(out, "  position   {}", g.pos);
    let _ = writeln!(out, "  source     {}", g.source);
    if let Some(c) = &g.country {
        let _ = writeln!(out, "  country    {}", name(c));
    }
    if let Some(c) = g.confidence {
        let _ = writeln!(out, "  confidence {c:.2}");
    }
    if let Some(rat) = &g.rationale {
        let _ = writeln!(out, "  rationale  {}", line_of(rat));
    }
    for note in &g.notes {
        let _ = writeln!(out, "  parser note: {}", line_of(note));
    }
    let res = &rec.result;
    let _ = writeln!(out, "--- result ---");
    let _ = writeln!(
        out,
        "  truth      {}{}",
        res.truth,
        res.place
            .as_ref()
            .map(|p| format!(" ({})", name(p)))
            .unwrap_or_default()
    );
    let _ = writeln!(out, "  guess      {}", res.guess);
    let _ = writeln!(out, "  distance   {:.1} km", res.distance_km);
    let _ = write!(out, "  points     {}", res.points);
    if let Some(was) = crate::replay::rescore::recorded_points(r, n) {
        let _ = write!(
            out,
            " (re-scored with today's scoring; {was} as recorded in {})",
            crate::replay::ROUNDS_FILE
        );
    }
    Ok(out)
}
