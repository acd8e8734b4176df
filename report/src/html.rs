//! `index.html`: one self-contained page with the tables (from tables.md)
//! and every figure inlined as SVG.

use std::fmt::Write;
use std::path::Path;

/// Builds the page from `tables_md` and the SVG figures named by `stems`.
pub fn render(tables_md: &str, out: &Path, stems: &[String]) -> Result<String, String> {
    let mut page = String::from(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>envload report</title>\n\
         <style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse;margin:1em 0}\
         td,th{border:1px solid #999;padding:4px 8px;text-align:right}th{background:#eee}figure{margin:2em 0}</style>\n\
         </head><body>\n",
    );
    let mut in_table = false;
    for line in tables_md.lines() {
        let t = line.trim();
        if let Some(h) = t.strip_prefix("## ") {
            let _ = writeln!(page, "<h2>{}</h2>", escape(h));
        } else if let Some(h) = t.strip_prefix("# ") {
            let _ = writeln!(page, "<h1>{}</h1>", escape(h));
        } else if t.starts_with('|') {
            let cells: Vec<&str> = t.trim_matches('|').split('|').map(str::trim).collect();
            if cells.iter().all(|c| c.chars().all(|ch| ch == '-')) {
                continue;
            }
            let tag = if in_table { "td" } else { "th" };
            if !in_table {
                page.push_str("<table>\n");
                in_table = true;
            }
            let row: String = cells
                .iter()
                .map(|c| format!("<{tag}>{}</{tag}>", escape(c)))
                .collect();
            let _ = writeln!(page, "<tr>{row}</tr>");
        } else if in_table {
            page.push_str("</table>\n");
            in_table = false;
        }
    }
    if in_table {
        page.push_str("</table>\n");
    }
    page.push_str("<h2>Figures</h2>\n");
    for stem in stems {
        let svg_path = out.join(format!("{stem}.svg"));
        let svg = std::fs::read_to_string(&svg_path)
            .map_err(|e| format!("{}: {e}", svg_path.display()))?;
        let _ = writeln!(
            page,
            "<figure>{svg}<figcaption>{}</figcaption></figure>",
            escape(stem)
        );
    }
    page.push_str("</body></html>\n");
    Ok(page)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
