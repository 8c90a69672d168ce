//! Prompt templates: loading the Markdown files in `agent_prompts/`, checking their
//! `{{variable}}` placeholders when they are loaded, and rendering them for a round.
//!
//! File format (documented for users in `agent_prompts/README.md`):
//! - `{{name}}` (spaces inside the braces allowed) is replaced by a variable from [`VARIABLES`].
//! - A line that is exactly `---user---` splits the file: the part above is the system prompt,
//!   the part below the user prompt. Without it the whole file is the user prompt.
//! - `<!-- ... -->` comments are notes for template authors and are removed on load.
//!
//! Unknown variables and missing required ones are load-time errors, so a typo in a template fails
//! at startup instead of sending the model a literal `{{vews}}`.

pub mod files;

use crate::environment::{HeadingRef, View};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The line separating the system part from the user part.
pub(crate) const USER_MARKER: &str = "---user---";
/// Every variable a template may use.
pub(crate) const VARIABLES: [&str; 13] = [
    "round",
    "rounds",
    "map_name",
    "view_count",
    "views",
    "hints",
    "previous_answer",
    "problem",
    // Strategy variables (see `agent::strategy`), filled through `render`'s `extra`.
    "country",
    "country_candidates",
    "near_references",
    "far_references",
    "previous_guess",
];
/// The file every strategy's repair turn uses.
pub(crate) const REPAIR_FILE: &str = "repair.md";

/// The prompts shipped with the program, so it works without an `agent_prompts/` directory.
const BUILTIN: [(&str, &str); 7] = [
    ("cot", include_str!("../../../agent_prompts/cot.md")),
    ("direct", include_str!("../../../agent_prompts/direct.md")),
    ("repair", include_str!("../../../agent_prompts/repair.md")),
    ("coarse", include_str!("../../../agent_prompts/coarse.md")),
    ("fine", include_str!("../../../agent_prompts/fine.md")),
    ("rag", include_str!("../../../agent_prompts/rag.md")),
    ("revise", include_str!("../../../agent_prompts/revise.md")),
];

/// What a template is for; decides which variables it must use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    /// The round's question: must show the model `{{views}}`.
    Answer,
    /// The follow-up after an unreadable answer: must tell the model the `{{problem}}`.
    Repair,
    /// Coarse-to-fine's second step: must name the chosen `{{country}}`.
    Refine,
    /// Retrieval-augmented question: must show `{{views}}` and the `{{near_references}}`.
    Retrieval,
    /// Interactive revision after a person's hints: must show the `{{hints}}`.
    Revise,
}

impl TemplateKind {
    fn required(self) -> &'static [&'static str] {
        match self {
            TemplateKind::Answer => &["views"],
            TemplateKind::Repair => &["problem"],
            TemplateKind::Refine => &["country"],
            TemplateKind::Retrieval => &["views", "near_references"],
            TemplateKind::Revise => &["hints"],
        }
    }
}

/// Where templates come from: the files compiled into the program, or a folder of Markdown files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptSource {
    Builtin,
    Dir(PathBuf),
    /// A set read into memory once (a user's folder, or one recorded in a session).
    Files(std::sync::Arc<files::PromptFiles>),
}

impl PromptSource {
    /// Loads one template by name (`coarse` reads `coarse.md`).
    pub fn template(&self, name: &str, kind: TemplateKind) -> Result<PromptTemplate, PromptError> {
        check_strategy(name)?;
        match self {
            PromptSource::Builtin => builtin_template(name, kind),
            PromptSource::Dir(dir) => PromptTemplate::load(&dir.join(format!("{name}.md")), kind),
            PromptSource::Files(set) => {
                let path = set.dir().join(format!("{name}.md"));
                match set.text(name) {
                    Some(text) => PromptTemplate::parse(path, text, kind),
                    None => Err(PromptError::Missing {
                        path,
                        dir: set.dir().to_path_buf(),
                        available: set.files().iter().map(|(n, _)| format!("{n}.md")).collect(),
                    }),
                }
            }
        }
    }

    /// The answer template `name` with the shared repair template.
    pub fn set(&self, name: &str) -> Result<PromptSet, PromptError> {
        match self {
            PromptSource::Builtin => PromptSet::builtin(name),
            PromptSource::Dir(dir) => PromptSet::load(dir, name),
            PromptSource::Files(_) => Ok(PromptSet {
                answer: self.template(name, TemplateKind::Answer)?,
                repair: self.template("repair", TemplateKind::Repair)?,
            }),
        }
    }
}

/// The shipped text of template `name`.
pub(crate) fn builtin_text(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

fn builtin_template(name: &str, kind: TemplateKind) -> Result<PromptTemplate, PromptError> {
    let source = PathBuf::from(format!("builtin:{name}.md"));
    match BUILTIN.iter().find(|(n, _)| *n == name) {
        Some((_, text)) => PromptTemplate::parse(source, text, kind),
        None => Err(PromptError::Missing {
            path: source,
            dir: PathBuf::from("builtin"),
            available: BUILTIN.iter().map(|(n, _)| format!("{n}.md")).collect(),
        }),
    }
}

/// A template that cannot be used, naming the file and what to fix.
#[derive(Debug, Error)]
pub enum PromptError {
    #[error(
        "prompt template {path} does not exist; templates in {dir}: {}",
        list_or_none(available)
    )]
    Missing {
        path: PathBuf,
        dir: PathBuf,
        available: Vec<String>,
    },
    #[error("could not read prompt template {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("prompt template {path} line {line} uses unknown variable {{{{{name}}}}}; known: {}", VARIABLES.join(", "))]
    UnknownVariable {
        path: PathBuf,
        line: usize,
        name: String,
    },
    #[error("prompt template {path} must use {{{{{name}}}}} somewhere in its text")]
    MissingVariable { path: PathBuf, name: String },
    #[error("prompt template {path} line {line}: {problem}")]
    Syntax {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    #[error("prompt template {path} refused: {problem}")]
    Refused { path: PathBuf, problem: String },
    #[error("prompt template {path} has no user part (nothing after the `{USER_MARKER}` line)")]
    EmptyUser { path: PathBuf },
    #[error("prompt strategy {0:?} is not a plain name; use e.g. \"cot\" or \"direct\" (a file <name>.md in the prompt directory)")]
    BadStrategy(String),
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".to_string()
    } else {
        v.join(", ")
    }
}

/// One view as the prompt describes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewInfo {
    pub heading: f64,
    /// A compass heading, or degrees right of the start view (direction unknown).
    pub heading_ref: HeadingRef,
    pub pitch: f64,
    pub fov: f64,
}

impl From<&View> for ViewInfo {
    fn from(v: &View) -> Self {
        Self {
            heading: v.heading,
            heading_ref: v.heading_ref,
            pitch: v.pitch,
            fov: v.fov,
        }
    }
}

/// Values for a round's prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptVars {
    pub round: usize,
    pub rounds: usize,
    pub map_name: String,
    pub views: Vec<ViewInfo>,
    /// Extra hints (from the user or retrieval); rendered as a bullet list, empty when none.
    pub hints: Vec<String>,
}

/// A rendered prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub system: Option<String>,
    pub user: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Lit(String),
    Var(&'static str),
}

/// A checked template.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptTemplate {
    /// Where it came from (a path, or `builtin:<name>`), for messages.
    pub source: PathBuf,
    system: Option<Vec<Segment>>,
    user: Vec<Segment>,
}

/// The templates a reasoner uses.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptSet {
    pub answer: PromptTemplate,
    pub repair: PromptTemplate,
}

impl PromptSet {
    /// Loads `<dir>/<strategy>.md` as the answer prompt and `<dir>/repair.md` as the repair prompt.
    pub fn load(dir: &Path, strategy: &str) -> Result<PromptSet, PromptError> {
        check_strategy(strategy)?;
        Ok(PromptSet {
            answer: PromptTemplate::load(
                &dir.join(format!("{strategy}.md")),
                TemplateKind::Answer,
            )?,
            repair: PromptTemplate::load(&dir.join(REPAIR_FILE), TemplateKind::Repair)?,
        })
    }

    /// The templates compiled into the program (the `agent_prompts/` of this source tree).
    pub fn builtin(strategy: &str) -> Result<PromptSet, PromptError> {
        check_strategy(strategy)?;
        Ok(PromptSet {
            answer: builtin_template(strategy, TemplateKind::Answer)?,
            repair: builtin_template("repair", TemplateKind::Repair)?,
        })
    }
}

fn check_strategy(strategy: &str) -> Result<(), PromptError> {
    let ok = !strategy.is_empty()
        && strategy
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(PromptError::BadStrategy(strategy.to_string()))
    }
}

impl PromptTemplate {
    /// Reads and checks a template file.
    pub fn load(path: &Path, kind: TemplateKind) -> Result<PromptTemplate, PromptError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
                return Err(PromptError::Missing {
                    path: path.to_path_buf(),
                    available: list_templates(&dir),
                    dir,
                });
            }
            Err(source) => {
                return Err(PromptError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        Self::parse(path.to_path_buf(), &text, kind)
    }

    /// Checks template text; `source` names it in errors.
    pub fn parse(source: PathBuf, text: &str, kind: TemplateKind) -> Result<Self, PromptError> {
        let text = strip_comments(&source, text)?;
        let mut system_text = None;
        let mut user_lines = Vec::new();
        let mut user_start_line = 1;
        for (i, line) in text.lines().enumerate() {
            if line.trim() == USER_MARKER && system_text.is_none() {
                system_text = Some(user_lines.join("\n"));
                user_lines.clear();
                user_start_line = i + 2;
            } else {
                user_lines.push(line);
            }
        }
        let user_text = user_lines.join("\n");
        if user_text.trim().is_empty() {
            return Err(PromptError::EmptyUser { path: source });
        }
        let system = match system_text {
            Some(s) if !s.trim().is_empty() => Some(segments(&source, &s, 1)?),
            _ => None,
        };
        let user = segments(&source, &user_text, user_start_line)?;
        for required in kind.required() {
            let uses = |segs: &[Segment]| segs.contains(&Segment::Var(required));
            if !uses(&user) && !system.as_deref().is_some_and(uses) {
                return Err(PromptError::MissingVariable {
                    path: source,
                    name: required.to_string(),
                });
            }
        }
        Ok(Self {
            source,
            system,
            user,
        })
    }

    /// Fills in the variables. `extra` supplies `previous_answer` and `problem` (and may override
    /// any other); a variable with no value renders empty.
    pub fn render(&self, vars: &PromptVars, extra: &[(&str, &str)]) -> Rendered {
        let value = |name: &str| -> String {
            if let Some((_, v)) = extra.iter().rev().find(|(k, _)| *k == name) {
                return (*v).to_string();
            }
            match name {
                "round" => vars.round.to_string(),
                "rounds" => vars.rounds.to_string(),
                "map_name" => vars.map_name.clone(),
                "view_count" => vars.views.len().to_string(),
                "views" => describe_views(&vars.views),
                "hints" => vars
                    .hints
                    .iter()
                    .filter(|h| !h.trim().is_empty())
                    .map(|h| format!("- {}", h.trim()))
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => String::new(),
            }
        };
        let fill = |segs: &[Segment]| {
            let mut out = String::new();
            for s in segs {
                match s {
                    Segment::Lit(t) => out.push_str(t),
                    Segment::Var(name) => out.push_str(&value(name)),
                }
            }
            tidy(&out)
        };
        Rendered {
            system: self.system.as_deref().map(fill),
            user: fill(&self.user),
        }
    }
}

/// The `.md` files in `dir`, sorted, for "did you mean" messages.
pub(crate) fn list_templates(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".md") && !n.eq_ignore_ascii_case("README.md"))
        .collect();
    names.sort();
    names
}

fn strip_comments(source: &Path, text: &str) -> Result<String, PromptError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 4..];
        let Some(end) = after.find("-->") else {
            let line = text[..text.len() - rest.len() + start]
                .lines()
                .count()
                .max(1);
            return Err(PromptError::Syntax {
                path: source.to_path_buf(),
                line,
                problem: "`<!--` comment is never closed with `-->`".into(),
            });
        };
        // Keep the comment's line breaks so reported line numbers still match the file.
        out.extend(after[..end].chars().filter(|c| *c == '\n'));
        rest = &after[end + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

fn segments(source: &Path, text: &str, first_line: usize) -> Result<Vec<Segment>, PromptError> {
    let mut segs = Vec::new();
    let mut rest = text;
    let line_of = |rest: &str| first_line + text[..text.len() - rest.len()].matches('\n').count();
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            segs.push(Segment::Lit(rest[..open].to_string()));
        }
        let after = &rest[open + 2..];
        let close = after.find("}}").filter(|c| !after[..*c].contains('\n'));
        let Some(close) = close else {
            return Err(PromptError::Syntax {
                path: source.to_path_buf(),
                line: line_of(&rest[open..]),
                problem: "`{{` is not closed by `}}` on the same line".into(),
            });
        };
        let name = after[..close].trim();
        let Some(known) = VARIABLES.iter().find(|v| **v == name) else {
            return Err(PromptError::UnknownVariable {
                path: source.to_path_buf(),
                line: line_of(&rest[open..]),
                name: name.to_string(),
            });
        };
        segs.push(Segment::Var(known));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        segs.push(Segment::Lit(rest.to_string()));
    }
    Ok(segs)
}

/// Trims trailing spaces and collapses runs of blank lines left by empty variables.
fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank_run = 0;
    for line in s.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out
}

/// "View 1: heading 0° (north), fov 90°", one line per view; pitch only when it is not level.
/// Views turned from a start view of unknown direction (geoguessr.com) are "View 1: start view
/// (compass direction unknown; …), fov 90°", "View 2: start view +90°, fov 90°": never a compass
/// word the model would take for the sun's side.
pub(crate) fn describe_views(views: &[ViewInfo]) -> String {
    let mut out = String::new();
    let mut start_said = false;
    for (i, v) in views.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        // Photos given on the command line have no known direction or field of view.
        if !v.heading.is_finite() {
            let _ = write!(out, "View {}: direction unknown", i + 1);
            if v.fov.is_finite() {
                let _ = write!(out, ", fov {}°", fmt_deg(v.fov));
            }
            continue;
        }
        let heading = v.heading.rem_euclid(360.0);
        match v.heading_ref {
            HeadingRef::Compass => {
                let _ = write!(
                    out,
                    "View {}: heading {}° ({})",
                    i + 1,
                    fmt_deg(heading),
                    compass_name(heading)
                );
            }
            HeadingRef::Start => {
                let turned = fmt_deg(heading);
                let _ = write!(out, "View {}: start view", i + 1);
                if turned != "0" && turned != "360" {
                    let _ = write!(out, " +{turned}°");
                }
                if !start_said {
                    out.push_str(" (compass direction unknown; +N° = turned N° right of it)");
                    start_said = true;
                }
            }
        }
        /// Pitches closer to level than this are described as level: they do not change what the
        /// model should look for.
        const LEVEL_PITCH_DEG: f64 = 0.5;
        if v.pitch.abs() >= LEVEL_PITCH_DEG {
            let _ = write!(
                out,
                ", pitch {}° ({})",
                fmt_deg(v.pitch),
                if v.pitch > 0.0 { "up" } else { "down" }
            );
        }
        let _ = write!(out, ", fov {}°", fmt_deg(v.fov));
    }
    out
}

fn fmt_deg(d: f64) -> String {
    let r = (d * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// The nearest of the eight compass points.
pub(crate) fn compass_name(heading: f64) -> &'static str {
    const NAMES: [&str; 8] = [
        "north",
        "north-east",
        "east",
        "south-east",
        "south",
        "south-west",
        "west",
        "north-west",
    ];
    let idx = ((heading.rem_euclid(360.0) + 22.5) / 45.0).floor() as usize % 8;
    NAMES[idx]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> PromptVars {
        PromptVars {
            round: 2,
            rounds: 5,
            map_name: "World".into(),
            views: vec![
                ViewInfo {
                    heading: 0.0,
                    heading_ref: HeadingRef::Compass,
                    pitch: 0.0,
                    fov: 90.0,
                },
                ViewInfo {
                    heading: 135.0,
                    heading_ref: HeadingRef::Compass,
                    pitch: -10.0,
                    fov: 60.5,
                },
                ViewInfo {
                    heading: 370.0,
                    heading_ref: HeadingRef::Compass,
                    pitch: 0.2,
                    fov: 90.0,
                },
            ],
            hints: vec![],
        }
    }

    fn parse(text: &str, kind: TemplateKind) -> Result<PromptTemplate, PromptError> {
        PromptTemplate::parse(PathBuf::from("t.md"), text, kind)
    }

    #[test]
    fn describes_views_with_compass_names() {
        assert_eq!(
            describe_views(&vars().views),
            "View 1: heading 0° (north), fov 90°\n\
             View 2: heading 135° (south-east), pitch -10° (down), fov 60.5°\n\
             View 3: heading 10° (north), fov 90°"
        );
        // Turned from a start view of unknown direction: no compass word at all.
        let relative: Vec<ViewInfo> = vars()
            .views
            .into_iter()
            .map(|v| ViewInfo {
                heading_ref: HeadingRef::Start,
                ..v
            })
            .collect();
        let text = describe_views(&relative);
        assert_eq!(
            text,
            "View 1: start view (compass direction unknown; +N° = turned N° right of it), fov 90°\n\
             View 2: start view +135°, pitch -10° (down), fov 60.5°\n\
             View 3: start view +10°, fov 90°"
        );
        for word in ["north", "south", "east", "west", "heading"] {
            assert!(!text.contains(word), "{word} in {text}");
        }
        assert_eq!(compass_name(337.6), "north");
        assert_eq!(compass_name(337.4), "north-west");
        assert_eq!(compass_name(-90.0), "west");
    }

    #[test]
    fn renders_system_and_user_parts() {
        let t = parse(
            "You are {{ map_name }} player.\n---user---\nRound {{round}}/{{rounds}}, {{view_count}} views:\n{{views}}\n\n{{hints}}\n\nAnswer.",
            TemplateKind::Answer,
        )
        .expect("valid");
        let r = t.render(&vars(), &[]);
        assert_eq!(r.system.as_deref(), Some("You are World player."));
        assert!(r
            .user
            .starts_with("Round 2/5, 3 views:\nView 1: heading 0° (north)"));
        // Empty hints leave a single blank line, not three.
        assert!(r.user.ends_with("fov 90°\n\nAnswer."), "{}", r.user);
        let mut v = vars();
        v.hints = vec!["Signs are in Cyrillic".into(), "  ".into()];
        let r = t.render(&v, &[]);
        assert!(
            r.user.contains("\n\n- Signs are in Cyrillic\n\nAnswer."),
            "{}",
            r.user
        );
    }

    #[test]
    fn without_marker_everything_is_user_and_comments_vanish() {
        let t = parse(
            "<!-- author note with {{bogus}} -->\nWhere? {{views}}",
            TemplateKind::Answer,
        )
        .expect("valid");
        let r = t.render(&vars(), &[]);
        assert_eq!(r.system, None);
        assert!(r.user.starts_with("Where? View 1"), "{}", r.user);
    }

    #[test]
    fn extra_values_fill_repair_variables() {
        let t = parse(
            "Your answer:\n{{previous_answer}}\nProblem: {{problem}}",
            TemplateKind::Repair,
        )
        .expect("valid");
        let r = t.render(
            &vars(),
            &[("previous_answer", "somewhere"), ("problem", "no lat")],
        );
        assert_eq!(r.user, "Your answer:\nsomewhere\nProblem: no lat");
        // Unset variables render empty.
        let r = t.render(&vars(), &[("problem", "x")]);
        assert_eq!(r.user, "Your answer:\n\nProblem: x");
    }

    #[test]
    fn unknown_variable_names_file_line_and_name() {
        let err = parse("a\nb {{vews}}", TemplateKind::Answer).expect_err("typo");
        let msg = err.to_string();
        assert!(
            matches!(&err, PromptError::UnknownVariable { line: 2, name, .. } if name == "vews"),
            "{msg}"
        );
        assert!(
            msg.contains("t.md") && msg.contains("{{vews}}") && msg.contains("views"),
            "{msg}"
        );
        let err =
            parse("sys {{nope}}\n---user---\n{{views}}", TemplateKind::Answer).expect_err("typo");
        assert!(matches!(err, PromptError::UnknownVariable { line: 1, .. }));
        let err = parse("sys\n---user---\nx\n{{nope}}", TemplateKind::Answer).expect_err("typo");
        assert!(
            matches!(err, PromptError::UnknownVariable { line: 4, .. }),
            "{err}"
        );
    }

    #[test]
    fn required_variables_are_enforced() {
        let err = parse("Where is this?", TemplateKind::Answer).expect_err("no views");
        assert!(err.to_string().contains("{{views}}"), "{err}");
        let err = parse("Try again: {{views}}", TemplateKind::Repair).expect_err("no problem");
        assert!(err.to_string().contains("{{problem}}"), "{err}");
        // The system part counts too.
        parse("{{views}}\n---user---\nGo.", TemplateKind::Answer).expect("views in system");
    }

    #[test]
    fn syntax_errors() {
        assert!(matches!(
            parse("x {{views", TemplateKind::Answer),
            Err(PromptError::Syntax { line: 1, .. })
        ));
        assert!(matches!(
            parse("x <!-- open\n{{views}}", TemplateKind::Answer),
            Err(PromptError::Syntax { .. })
        ));
        assert!(matches!(
            parse("{{views}}\n---user---\n  \n", TemplateKind::Answer),
            Err(PromptError::EmptyUser { .. })
        ));
    }

    #[test]
    fn missing_file_lists_what_exists() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("cot.md"), "{{views}}").expect("write");
        std::fs::write(dir.path().join("README.md"), "docs").expect("write");
        let err = PromptSet::load(dir.path(), "fancy").expect_err("missing");
        let msg = err.to_string();
        assert!(msg.contains("fancy.md") && msg.contains("cot.md"), "{msg}");
        assert!(!msg.contains("README"), "{msg}");
        // The answer template exists but repair.md does not.
        let err = PromptSet::load(dir.path(), "cot").expect_err("no repair");
        assert!(err.to_string().contains("repair.md"), "{err}");
        std::fs::write(dir.path().join("repair.md"), "fix: {{problem}}").expect("write");
        let set = PromptSet::load(dir.path(), "cot").expect("loads");
        assert_eq!(set.repair.source, dir.path().join("repair.md"));
        assert!(matches!(
            PromptSet::load(dir.path(), "../etc/passwd"),
            Err(PromptError::BadStrategy(_))
        ));
    }

    #[test]
    fn shipped_templates_load_from_disk_and_builtin() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("agent_prompts");
        for strategy in ["cot", "direct"] {
            let disk = PromptSet::load(&dir, strategy).expect("shipped templates are valid");
            let builtin = PromptSet::builtin(strategy).expect("builtin");
            let v = vars();
            assert_eq!(disk.answer.render(&v, &[]), builtin.answer.render(&v, &[]));
            let r = disk.answer.render(&v, &[]);
            let all = format!("{}\n{}", r.system.unwrap_or_default(), r.user);
            assert!(all.contains("View 2: heading 135° (south-east)"), "{all}");
            assert!(
                all.to_lowercase().contains("synthetic"),
                "{strategy} must mention synthetic imagery"
            );
            assert!(all.contains("\"lat\""), "{strategy} must ask for JSON lat");
            assert!(!all.contains("{{"), "{all}");
        }
        assert!(PromptSet::builtin("nope").is_err());
    }

    #[test]
    fn shipped_cot_prompt_snapshot() {
        let set = PromptSet::builtin("cot").expect("builtin");
        let r = set.answer.render(&vars(), &[]);
        insta::assert_snapshot!(
            "cot_prompt",
            format!(
                "=== system ===\n{}\n=== user ===\n{}",
                r.system.unwrap_or_default(),
                r.user
            )
        );
        let r = set.repair.render(
            &vars(),
            &[
                ("previous_answer", "It looks like France."),
                ("problem", "no coordinates found"),
            ],
        );
        insta::assert_snapshot!(
            "repair_prompt",
            format!(
                "=== system ===\n{}\n=== user ===\n{}",
                r.system.unwrap_or_default(),
                r.user
            )
        );
    }
}
