//! The crate's shape, checked: dependencies between modules point one way, down the layer table
//! written once in `src/lib.rs` (`# Layers`, the rows of the design notes' Modules table), no
//! import cycle comes back (between top-level modules, or between the sibling files of any folder
//! at any depth), no file has over 800 lines of code before its tests, `src/lib.rs` declares
//! exactly the folders and files of `src/`, and clap stays in `src/cli/`.
//!
//! Edges are read from the source text (`crate::x` paths, `use crate::{x, y}` groups, `super::`
//! paths between siblings), with comments and the `#[cfg(test)] mod tests` tail cut away: test-only
//! imports are not architecture. Plain std, so it costs no build time and runs in milliseconds.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layer table, top to bottom, read from the `# Layers` block of `src/lib.rs`'s docs (the one
/// place it is written): each row is a line of space-separated module names.
fn layers() -> Vec<Vec<String>> {
    let lib = fs::read_to_string(src_dir().join("lib.rs")).expect("src/lib.rs");
    let mut rows = Vec::new();
    let mut in_layers = false;
    let mut in_block = false;
    for line in lib.lines().map_while(|l| l.strip_prefix("//!")) {
        let line = line.trim();
        if line.starts_with('#') {
            in_layers = line == "# Layers";
        } else if in_layers && line.starts_with("```") {
            if in_block {
                break;
            }
            in_block = true;
        } else if in_block && !line.is_empty() {
            rows.push(line.split_whitespace().map(str::to_string).collect());
        }
    }
    assert!(
        !rows.is_empty(),
        "src/lib.rs has no `# Layers` table (a ```text block of module rows)"
    );
    rows
}

/// Lines of code a file may have before its `#[cfg(test)]` tail (the project's rule): a room a
/// newcomer can read in one sitting.
const MAX_CODE_LINES: usize = 800;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Source text with comments and the trailing test module removed.
fn architecture_text(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    let mut out = String::with_capacity(text.len());
    let mut in_block = 0usize;
    for line in text.lines() {
        let mut rest = line;
        let mut kept = String::new();
        loop {
            if in_block > 0 {
                match rest.find("*/") {
                    Some(i) => {
                        in_block -= 1;
                        rest = &rest[i + 2..];
                    }
                    None => break,
                }
            } else {
                let line_c = rest.find("//");
                let block_c = rest.find("/*");
                match (line_c, block_c) {
                    (Some(l), Some(b)) if b < l => {
                        kept.push_str(&rest[..b]);
                        in_block += 1;
                        rest = &rest[b + 2..];
                    }
                    (Some(l), _) => {
                        kept.push_str(&rest[..l]);
                        break;
                    }
                    (None, Some(b)) => {
                        kept.push_str(&rest[..b]);
                        in_block += 1;
                        rest = &rest[b + 2..];
                    }
                    (None, None) => {
                        kept.push_str(rest);
                        break;
                    }
                }
            }
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

fn ident_at(s: &str) -> Option<&str> {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (end > 0).then(|| &s[..end])
}

/// The first path segment after every occurrence of `prefix` (`prefix` ends in `::`), including
/// each item of a `prefix{a, b::c}` group.
fn segments_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(prefix) {
        let at = from + i;
        from = at + prefix.len();
        // `foo_crate::x`, `self::super::x` or `super::super::x` must not count as `crate::x` /
        // `super::x`.
        if at > 0 {
            let before = text[..at].chars().next_back().unwrap_or(' ');
            if before.is_ascii_alphanumeric() || before == '_' || before == ':' {
                continue;
            }
        }
        let rest = &text[from..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1usize;
            let mut item_start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start && depth == 1 => {
                        item_start = false;
                        if let Some(id) = ident_at(&group[j..]) {
                            found.insert(id.to_string());
                        }
                    }
                    _ => {}
                }
            }
        } else if let Some(id) = ident_at(rest) {
            found.insert(id.to_string());
        }
    }
    found
}

fn rs_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = entry.expect("directory entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Direct children of `dir` that are modules: `x.rs` files and folders, by module name.
fn child_modules(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| {
            let p = e.ok()?.path();
            let name = p.file_name()?.to_str()?.to_string();
            if p.is_dir() {
                // A folder of data or fixtures is not a module; one holding .rs files is.
                if rs_files(&p).is_empty() {
                    None
                } else {
                    Some(name)
                }
            } else {
                name.strip_suffix(".rs").map(str::to_string)
            }
        })
        .filter(|n| n != "mod" && n != "lib" && n != "main")
        .collect()
}

type Graph = BTreeMap<String, BTreeSet<String>>;

fn top_level_graph() -> (BTreeSet<String>, Graph) {
    let src = src_dir();
    let mods = child_modules(&src);
    let mut graph: Graph = mods.iter().map(|m| (m.clone(), BTreeSet::new())).collect();
    for file in rs_files(&src) {
        let rel = file.strip_prefix(&src).expect("under src");
        let first = rel.components().next().expect("a component");
        let me = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if !mods.contains(&me) {
            continue;
        }
        for target in segments_after(&architecture_text(&file), "crate::") {
            if target != me && mods.contains(&target) {
                graph.get_mut(&me).expect("known").insert(target);
            }
        }
    }
    (mods, graph)
}

/// Strongly connected parts with more than one member (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn strong<'a>(t: &mut T<'a>, v: &'a str) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        t.on.insert(v);
        if let Some(ws) = t.g.get(v) {
            for w in ws {
                let w = w.as_str();
                if !t.index.contains_key(w) {
                    strong(t, w);
                    let lw = t.low[w];
                    let lv = t.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if t.on.contains(w) {
                    let iw = t.index[w];
                    let lv = t.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
        }
        if t.low[v] == t.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                t.out.push(comp);
            }
        }
    }
    let mut t = T {
        g: graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !t.index.contains_key(v.as_str()) {
            strong(&mut t, v);
        }
    }
    t.out
}

fn describe(graph: &Graph) -> String {
    graph
        .iter()
        .filter(|(_, to)| !to.is_empty())
        .map(|(from, to)| {
            format!(
                "{from} -> {}",
                to.iter().cloned().collect::<Vec<_>>().join(" ")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn top_level_modules_have_no_cycle() {
    let (_, graph) = top_level_graph();
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "import cycles between top-level modules: {found:?}\nthe graph:\n{}",
        describe(&graph)
    );
}

#[test]
fn dependencies_point_down_the_layer_table() {
    let (mods, graph) = top_level_graph();
    let table = layers();
    let row = |m: &str| table.iter().position(|r| r.iter().any(|x| x == m));
    let unplaced: Vec<_> = mods.iter().filter(|m| row(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "modules missing from the `# Layers` table of src/lib.rs: {unplaced:?}"
    );
    let mut upward = Vec::new();
    for (from, targets) in &graph {
        for to in targets {
            if row(to) < row(from) {
                upward.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that point up the layer table: {upward:?}\nthe graph:\n{}",
        describe(&graph)
    );
}

/// Every folder below `src/` holding modules, with its module path (`agent`, `agent::parse`).
fn module_folders() -> Vec<(PathBuf, String)> {
    let src = src_dir();
    let mut out = Vec::new();
    let mut stack: Vec<(PathBuf, String)> = child_modules(&src)
        .into_iter()
        .map(|m| (src.join(&m), m))
        .collect();
    while let Some((dir, path)) = stack.pop() {
        if !dir.is_dir() {
            continue;
        }
        for child in child_modules(&dir) {
            stack.push((dir.join(&child), format!("{path}::{child}")));
        }
        out.push((dir, path));
    }
    out.sort();
    out
}

/// The import graph between the child modules of one folder: an edge `a -> b` when a file of `a`
/// (itself or anything below it) names its sibling `b` through `crate::path::b` or `super::…::b`.
fn sibling_graph(dir: &Path, module_path: &str) -> Graph {
    let siblings = child_modules(dir);
    let mut graph: Graph = siblings
        .iter()
        .map(|s| (s.clone(), BTreeSet::new()))
        .collect();
    for file in rs_files(dir) {
        let rel = file.strip_prefix(dir).expect("under the folder");
        let comps: Vec<_> = rel.components().collect();
        let me = comps[0]
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if !siblings.contains(&me) {
            continue; // mod.rs: the folder's root may use its children
        }
        // How deep the file's module sits below the folder's: `x.rs` and `x/mod.rs` are one
        // level (`super::` is the folder), `x/y.rs` two (`super::super::`), and so on.
        let depth = if rel.ends_with("mod.rs") {
            comps.len() - 1
        } else {
            comps.len()
        };
        let text = architecture_text(&file);
        let mut targets = segments_after(&text, &format!("crate::{module_path}::"));
        targets.extend(segments_after(&text, &"super::".repeat(depth)));
        for t in targets {
            if t != me && siblings.contains(&t) {
                graph.get_mut(&me).expect("known").insert(t);
            }
        }
    }
    graph
}

#[test]
fn sibling_files_have_no_cycle_at_any_depth() {
    let mut failures = Vec::new();
    for (dir, path) in module_folders() {
        let graph = sibling_graph(&dir, &path);
        for c in cycles(&graph) {
            failures.push(format!("{path}: {c:?}\n{}", describe(&graph)));
        }
    }
    assert!(
        failures.is_empty(),
        "import cycles between sibling files: {failures:#?}"
    );
}

#[test]
fn the_sibling_reader_sees_a_cycle_two_folders_down() {
    let dir = tempfile::tempdir().expect("temp dir");
    let parse = dir.path().join("parse");
    fs::create_dir_all(parse.join("json")).expect("mkdir");
    fs::write(parse.join("mod.rs"), "mod json; mod prose;\n").expect("write");
    fs::write(parse.join("json/mod.rs"), "use super::prose::x;\n").expect("write");
    fs::write(
        parse.join("prose.rs"),
        "use crate::agent::parse::json::y;\n",
    )
    .expect("write");
    let graph = sibling_graph(&parse, "agent::parse");
    assert_eq!(
        cycles(&graph),
        vec![vec!["json".to_string(), "prose".to_string()]]
    );
    // `super::super::x` from a file one level down is not the sibling `x`.
    fs::write(parse.join("prose.rs"), "use super::super::json::y;\n").expect("write");
    assert!(cycles(&sibling_graph(&parse, "agent::parse")).is_empty());
}

/// Lines that count as code: not blank, not only a comment.
fn code_lines(text: &str) -> usize {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .count()
}

#[test]
fn no_file_has_over_800_lines_of_code_before_its_tests() {
    let src = src_dir();
    let mut big = Vec::new();
    for file in rs_files(&src) {
        let text = fs::read_to_string(&file).expect("read");
        let head = match text.find("#[cfg(test)]") {
            Some(i) => &text[..i],
            None => &text[..],
        };
        let n = code_lines(head);
        if n > MAX_CODE_LINES {
            big.push(format!(
                "{} ({n})",
                file.strip_prefix(&src).expect("under src").display()
            ));
        }
    }
    assert!(
        big.is_empty(),
        "files over {MAX_CODE_LINES} lines of code before #[cfg(test)] (split them along a seam, \
         tests into x/tests.rs): {big:?}"
    );
}

#[test]
fn lib_rs_declares_exactly_the_folders_and_files_of_src() {
    let src = src_dir();
    let lib = fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l
                .strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("pub(crate) mod "))
                .or_else(|| l.strip_prefix("mod "))?;
            rest.strip_suffix(';').map(str::to_string)
        })
        .collect();
    assert_eq!(
        declared,
        child_modules(&src),
        "src/lib.rs's `mod` lines and the folders/files of src/ differ"
    );
}

#[test]
fn clap_is_used_only_in_cli() {
    let src = src_dir();
    let cli = src.join("cli");
    let offenders: Vec<_> = rs_files(&src)
        .into_iter()
        .filter(|f| !f.starts_with(&cli) && !f.ends_with("main.rs"))
        .filter(|f| {
            let t = architecture_text(f);
            t.contains("clap::")
                || t.contains("use clap")
                || t.contains("#[arg(")
                || t.contains("#[command(")
        })
        .collect();
    assert!(offenders.is_empty(), "clap outside src/cli/: {offenders:?}");
}

#[test]
fn the_edge_reader_sees_groups_paths_and_ignores_comments() {
    let dir = tempfile::tempdir().expect("temp dir");
    let f = dir.path().join("x.rs");
    fs::write(
        &f,
        "//! see crate::nope\nuse crate::{alpha::A, beta::{B, C}, gamma};\nfn f() { crate::delta::g(); }\n/* crate::eps */ let s = my_crate::zeta;\n#[cfg(test)]\nmod tests { use crate::omega; }\n",
    )
    .expect("write");
    let got = segments_after(&architecture_text(&f), "crate::");
    let want: BTreeSet<String> = ["alpha", "beta", "gamma", "delta"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(got, want);
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("a".into());
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(cycles(&g), vec![vec!["a".to_string(), "b".to_string()]]);
}
