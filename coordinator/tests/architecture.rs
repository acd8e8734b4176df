//! The layering rules of docs/ARCHITECTURE.md, checked on the sources: no
//! import cycle between the modules of any crate (every `crate::a::b` or
//! `super::x` path outside `#[cfg(test)]` is an edge to the deepest module
//! it names; a module and its own submodules are one unit), nothing
//! below the command line (`cmd`) imports it, and the crates depend on each
//! other one way: the report reads through the result format only, the
//! result format knows nothing of the engine or the report, and the engine
//! builds no plotting.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every crate of the workspace, by folder.
const CRATES: [&str; 6] = [
    "proto",
    "agent",
    "benchenv",
    "results",
    "report",
    "coordinator",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Module path (`a::b`, "" for the crate root) → file, for one crate's src.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(src).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("lib" | "main" | "mod")
                ) {
                    parts.pop();
                }
                // `generated/` is prost's output, included by path.
                if parts.first().is_some_and(|p| p == "generated") {
                    continue;
                }
                out.insert(parts.join("::"), p);
            }
        }
    }
    out
}

/// The identifier paths written after `prefix` (`crate::`, `super::`),
/// with `{a, b::c}` groups expanded one level.
fn paths_after(text: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            out.extend(group[..end].split(',').map(|s| s.trim().to_string()));
        } else {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            out.push(rest[..end].trim_end_matches(':').to_string());
        }
    }
    out
}

/// Edges module → module it imports.
fn edges(mods: &BTreeMap<String, PathBuf>) -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, file) in mods {
        let text = std::fs::read_to_string(file).unwrap();
        let text = text.split("#[cfg(test)]").next().unwrap();
        let own: Vec<&str> = if m.is_empty() {
            Vec::new()
        } else {
            m.split("::").collect()
        };
        // `super` is the module this one is declared in.
        let base: Vec<&str> = own[..own.len().saturating_sub(1)].to_vec();
        let mut targets: Vec<Vec<String>> = paths_after(text, "crate::")
            .into_iter()
            .map(|p| p.split("::").map(str::to_string).collect())
            .collect();
        for p in paths_after(text, "super::") {
            let mut full: Vec<String> = base.iter().map(|s| s.to_string()).collect();
            full.extend(p.split("::").map(str::to_string));
            targets.push(full);
        }
        let entry = g.entry(m.clone()).or_default();
        for t in targets {
            let deepest = (1..=t.len())
                .rev()
                .map(|k| t[..k].join("::"))
                .find(|cand| mods.contains_key(cand));
            if let Some(d) = deepest {
                let related = d == *m || m.starts_with(&format!("{d}::"));
                if !related && !d.is_empty() {
                    entry.insert(d);
                }
            }
        }
    }
    g
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        for w in t.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
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
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn no_crate_has_an_import_cycle() {
    let mut found = Vec::new();
    for krate in CRATES {
        let src = repo().join(krate).join("src");
        for c in cycles(&edges(&modules(&src))) {
            found.push(format!("{krate}: {}", c.join(" <-> ")));
        }
    }
    assert!(found.is_empty(), "import cycles:\n{}", found.join("\n"));
}

#[test]
fn nothing_below_the_command_line_imports_it() {
    let src = repo().join("coordinator/src");
    let g = edges(&modules(&src));
    let offenders: Vec<String> = g
        .iter()
        .filter(|(m, _)| !m.is_empty() && *m != "cmd" && !m.starts_with("cmd::"))
        .filter(|(_, to)| to.iter().any(|t| t == "cmd" || t.starts_with("cmd::")))
        .map(|(m, _)| m.clone())
        .collect();
    assert!(
        offenders.is_empty(),
        "engine modules importing cmd: {offenders:?}"
    );
}

#[test]
fn the_checker_sees_a_cycle_when_there_is_one() {
    let dir = std::env::temp_dir().join(format!("envload-arch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(dir.join("lib.rs"), "mod a; mod b;").unwrap();
    std::fs::write(dir.join("a.rs"), "mod x;\nuse crate::b::thing;").unwrap();
    std::fs::write(dir.join("a/x.rs"), "use super::Y;").unwrap();
    std::fs::write(
        dir.join("b.rs"),
        "use crate::a::Y;\n#[cfg(test)]\nuse crate::c;",
    )
    .unwrap();
    std::fs::write(dir.join("c.rs"), "use crate::b::Z;").unwrap();
    let found = cycles(&edges(&modules(&dir)));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(found, vec![vec!["a".to_string(), "b".to_string()]]);
}

/// The workspace crates (`envload-*`) and other crates `krate` depends on,
/// from its Cargo.toml's `[dependencies]` (dev-dependencies are not the
/// crate's own).
fn dependencies(krate: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let text = std::fs::read_to_string(repo().join(krate).join("Cargo.toml")).unwrap();
    let mut in_deps = false;
    let (mut ours, mut theirs) = (BTreeSet::new(), BTreeSet::new());
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        let Some(name) = line
            .split(['.', ' ', '='])
            .next()
            .filter(|n| in_deps && !n.is_empty())
        else {
            continue;
        };
        if name.starts_with('#') {
            continue;
        }
        match name.strip_prefix("envload-") {
            Some(ours_name) => ours.insert(ours_name.to_string()),
            None => theirs.insert(name.to_string()),
        };
    }
    (ours, theirs)
}

#[test]
fn the_crates_depend_on_each_other_one_way() {
    let ours = |k: &str| dependencies(k).0.into_iter().collect::<Vec<_>>();
    assert_eq!(ours("proto"), Vec::<String>::new());
    assert_eq!(ours("benchenv"), Vec::<String>::new());
    assert_eq!(ours("agent"), ["proto"]);
    assert_eq!(
        ours("results"),
        ["agent", "proto"],
        "the result format knows nothing of the engine or the report"
    );
    assert_eq!(
        ours("report"),
        ["results"],
        "the report reads through the result format only"
    );
    assert_eq!(
        ours("coordinator"),
        ["agent", "benchenv", "proto", "report", "results"]
    );
    for krate in CRATES {
        assert!(repo().join(krate).join("src").is_dir(), "{krate}/src");
    }
}

#[test]
fn only_the_report_builds_plotting() {
    for krate in CRATES {
        let plots = dependencies(krate).1.contains("plotters");
        assert_eq!(plots, krate == "report", "{krate} and plotters");
    }
}

#[test]
fn no_engine_module_reads_or_writes_result_files_by_hand() {
    // run.json and summary.csv are the result format's: the engine writes
    // them through envload-results, the report reads them through it.
    let mut found = Vec::new();
    for krate in ["coordinator", "report"] {
        for (m, file) in modules(&repo().join(krate).join("src")) {
            let text = std::fs::read_to_string(&file).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for needle in ["\"run.json\"", "\"summary.csv\"", "run[\"", "doc[\""] {
                if code.contains(needle) {
                    found.push(format!("{krate}::{m} ({needle})"));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "result files handled outside envload-results: {found:?}"
    );
}
