//! The log's Overview table: one row per infrastructure, found by its
//! headings (matched case-insensitively: `Infrastructure`, `Status`, `Last
//! Run`, `Max Batch (WS)`, `Max Batch (HTTP)`), written in the log's own
//! words (`✅ Complete`). Only the reported infrastructure's row changes;
//! a new infrastructure gets a row at the table's end.

/// What a run says for its infrastructure's row.
pub struct OverviewRow {
    pub infrastructure: String,
    /// Complete, Failed, Interrupted, Running.
    pub status: &'static str,
    /// YYYY-MM-DD.
    pub last_run: String,
    pub max_ws: String,
    pub max_http: String,
}

/// The status as the log writes it.
fn status_word(status: &str) -> String {
    match status {
        "Complete" => "✅ Complete".into(),
        "Failed" => "❌ Failed".into(),
        "Interrupted" => "⚠️ Interrupted".into(),
        other => format!("⏳ {other}"),
    }
}

/// The cells of a table line (`| a | b |` → ["a", "b"]), untrimmed.
fn cells(line: &str) -> Vec<&str> {
    let t = line.trim();
    let inner = t.strip_prefix('|').unwrap_or(t);
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    inner.split('|').collect()
}

/// A heading cell reduced for matching: lower case, single spaces.
fn norm(cell: &str) -> String {
    cell.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The Overview table's header line: the first table line after a `##
/// Overview` heading whose first cell is `Infrastructure`.
fn header_at(lines: &[&str]) -> Option<usize> {
    let overview = lines
        .iter()
        .position(|l| norm(l.trim_start_matches('#')) == "overview" && l.starts_with("##"))?;
    (overview..lines.len()).find(|&i| {
        lines[i].trim_start().starts_with('|')
            && cells(lines[i]).first().map(|c| norm(c)) == Some("infrastructure".into())
    })
}

/// `text` with `row` written into its Overview table (`None` when the text
/// has no Overview table).
pub fn upsert(text: &str, row: &OverviewRow) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let trimmed: Vec<&str> = lines
        .iter()
        .map(|l| l.trim_end_matches(['\n', '\r']))
        .collect();
    let h = header_at(&trimmed)?;
    let heads = cells(trimmed[h]);
    let value = |head: &str, old: Option<&str>| -> String {
        match norm(head).as_str() {
            "infrastructure" => row.infrastructure.clone(),
            "status" => status_word(row.status),
            "last run" => row.last_run.clone(),
            "max batch (ws)" => row.max_ws.clone(),
            "max batch (http)" => row.max_http.clone(),
            _ => old.map_or("-".into(), |o| o.trim().to_string()),
        }
    };
    // Cells padded to the heading's width, as the log's rows are.
    let render = |old: Option<Vec<&str>>| -> String {
        let mut out = String::from("|");
        for (i, head) in heads.iter().enumerate() {
            let v = value(head, old.as_ref().and_then(|o| o.get(i).copied()));
            let width = head.chars().count().saturating_sub(2);
            out.push_str(&format!(" {v:<width$} |"));
        }
        out.push('\n');
        out
    };
    let mut end = h + 1;
    while end < trimmed.len() && trimmed[end].trim_start().starts_with('|') {
        end += 1;
    }
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let existing = (h + 2..end).find(|&i| {
        cells(trimmed[i])
            .first()
            .is_some_and(|c| c.trim() == row.infrastructure)
    });
    match existing {
        Some(i) => out[i] = render(Some(cells(trimmed[i]))),
        None => out.insert(end, render(None)),
    }
    Some(out.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "# Log\n\n## Overview\n\n| Infrastructure | Status | Last Run | Max Batch (WS) | Max Batch (HTTP) |\n|---|---|---|---|---|\n| local-uvicorn  | ✅ Complete | 2026-01-09 | 2048 | - |\n| slurm-single   | -      | -        | -              | -                |\n\n---\n";

    fn row(infra: &str) -> OverviewRow {
        OverviewRow {
            infrastructure: infra.into(),
            status: "Complete",
            last_run: "2026-11-30".into(),
            max_ws: "512".into(),
            max_http: "-".into(),
        }
    }

    #[test]
    fn only_the_infrastructures_row_changes() {
        let out = upsert(LOG, &row("slurm-single")).unwrap();
        let changed: Vec<(&str, &str)> = LOG
            .lines()
            .zip(out.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(changed.len(), 1, "{out}");
        assert_eq!(
            changed[0].1,
            "| slurm-single   | ✅ Complete | 2026-11-30 | 512            | -                |"
        );
    }

    #[test]
    fn a_new_infrastructure_is_a_new_row_and_headings_match_in_any_case() {
        let log = LOG.replace("Last Run", "LAST run");
        let out = upsert(&log, &row("k8s")).unwrap();
        assert_eq!(out.lines().count(), log.lines().count() + 1);
        let new = out.lines().nth(8).unwrap();
        assert!(
            new.starts_with("| k8s ") && new.contains("| 2026-11-30 "),
            "{out}"
        );
        assert_eq!(upsert("# no table\n", &row("k8s")), None);
    }
}
