//! Where a key is in a YAML file: the line of `variables.infrastructures[2].
//! deploy_script` in block-style YAML (the style the reference matrix is
//! written in), so a message about a value the YAML parser accepted — an
//! unknown key, a script that is not there, an unset variable — names its
//! line as the parser's own errors do. Flow style (`[1, 2]`, `{a: 1}`) is
//! followed as far as its first line; a path not found gives `None`.

/// One step of a path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// `a.b[2].c` (serde_ignored's `a.b.2.c` too) as steps.
pub fn steps(path: &str) -> Vec<Step> {
    path.split(['.', '['])
        // serde_ignored writes `?` for the step into an optional value.
        .filter(|s| !s.is_empty() && *s != "?")
        .map(|s| {
            let s = s.trim_end_matches(']');
            match s.parse() {
                Ok(i) => Step::Index(i),
                Err(_) => Step::Key(s.to_string()),
            }
        })
        .collect()
}

/// `a.b.2.c` as `a.b[2].c`.
pub fn display(steps: &[Step]) -> String {
    let mut out = String::new();
    for s in steps {
        match s {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// A line that holds something: where its content starts, and where its
/// `- ` is when it opens a sequence item.
struct Line<'a> {
    number: usize,
    indent: usize,
    content: &'a str,
    dash: Option<usize>,
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let mut indent = raw.len() - raw.trim_start().len();
        let mut content = raw.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let mut dash = None;
        if content == "-" || content.starts_with("- ") {
            dash = Some(indent);
            let rest = content[1..].trim_start();
            indent += content.len() - rest.len();
            content = rest;
        }
        out.push(Line {
            number: i + 1,
            indent,
            content,
            dash,
        });
    }
    out
}

/// The 1-based line the path leads to.
pub fn line_of(text: &str, path: &[Step]) -> Option<usize> {
    let all = lines(text);
    let mut range: &[Line] = &all;
    let mut found = None;
    for step in path {
        match step {
            Step::Key(key) => {
                let block = range
                    .iter()
                    .filter(|l| !l.content.is_empty())
                    .map(|l| l.indent)
                    .min()?;
                let at = range.iter().position(|l| {
                    l.indent == block && {
                        let c = l.content.trim_start_matches(['"', '\'']);
                        c.strip_prefix(key.as_str()).is_some_and(|r| {
                            r.trim_start_matches(['"', '\''])
                                .trim_start()
                                .starts_with(':')
                        })
                    }
                })?;
                let line = &range[at];
                found = Some(line.number);
                let indent = line.indent;
                let end = range[at + 1..]
                    .iter()
                    // The value: deeper lines, and a sequence's items,
                    // whose `- ` may stand at the key's own column.
                    .position(|l| !(l.indent > indent || l.dash.is_some_and(|d| d >= indent)))
                    .map_or(range.len(), |e| at + 1 + e);
                range = &range[at + 1..end];
            }
            Step::Index(i) => {
                let dash = range.iter().filter_map(|l| l.dash).min();
                let Some(dash) = dash else {
                    // A flow sequence (`[1, 2]`): its key's line is as close
                    // as this gets.
                    return found;
                };
                let items: Vec<usize> = range
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.dash == Some(dash))
                    .map(|(k, _)| k)
                    .collect();
                let start = *items.get(*i)?;
                let end = items.get(i + 1).copied().unwrap_or(range.len());
                found = Some(range[start].number);
                range = &range[start..end];
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# a comment
experiment:
  name: \"x\"

variables:
  infrastructures:
    - id: a
      deploy_script: \"./a.sh\"
      env_vars:
        WORKERS: 4
    - id: b
      deploy_script: \"sbatch b.sh\"
  modes:
  - http
  - ws
  batch_sizes: [1, 2]
output:
  base_dir: r
";

    fn at(path: &str) -> Option<usize> {
        line_of(TEXT, &steps(path))
    }

    #[test]
    fn a_path_leads_to_its_line() {
        assert_eq!(at("experiment.name"), Some(3));
        assert_eq!(at("variables.infrastructures"), Some(6));
        assert_eq!(at("variables.infrastructures[0]"), Some(7));
        assert_eq!(at("variables.infrastructures[0].id"), Some(7));
        assert_eq!(
            at("variables.infrastructures[0].env_vars.WORKERS"),
            Some(10)
        );
        assert_eq!(at("variables.infrastructures.1.deploy_script"), Some(12));
        assert_eq!(at("variables.modes[1]"), Some(15));
        assert_eq!(at("variables.batch_sizes[1]"), Some(16));
        assert_eq!(at("output.base_dir"), Some(18));
        assert_eq!(at("variables.infrastructures[2]"), None);
        assert_eq!(at("variables.name"), None);
        assert_eq!(at("output.deploy_script"), None);
    }

    #[test]
    fn paths_print_as_written() {
        assert_eq!(
            display(&steps("variables.infrastructures.0.?.bogus")),
            "variables.infrastructures[0].bogus"
        );
    }
}
