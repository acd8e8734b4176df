//! `envload report`'s figures on the fixed results set: every figure is
//! written as a PNG that decodes (and is not blank) and an SVG that parses
//! and names what it plots; `index.html` inlines them all; the
//! batch-per-core figure takes cores from run.json and `--cores`.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use support::{out_dir, run, text};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report")
}

fn report(name: &str, extra: &[&str]) -> (support::OutDir, String) {
    let out = out_dir(name);
    let _ = std::fs::remove_dir_all(&out);
    let f = fixtures();
    let a = f.join("envload-run");
    let b = f.join("reference/hf-spaces/2026-10-01");
    let mut args = vec![
        "report",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let res = run(&args);
    assert!(res.status.success(), "{:?}", text(&res));
    (out, text(&res).1)
}

/// Decodes a PNG; returns (width, height, distinct pixel values).
fn decode_png(path: &Path) -> (u32, u32, usize) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let px = info.color_type.samples();
    let distinct: BTreeSet<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    (info.width, info.height, distinct.len())
}

/// Parses an SVG; returns all its text content.
fn svg_text(path: &Path) -> String {
    let src = std::fs::read_to_string(path).unwrap();
    let doc =
        roxmltree::Document::parse(&src).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        doc.root_element().tag_name().name(),
        "svg",
        "{}",
        path.display()
    );
    doc.descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_figure_is_a_decodable_png_and_svg() {
    let (out, _) = report("report-figures", &["--cores", "hf-spaces=2"]);
    let stems = [
        "success_vs_batch_wait_0.1",
        "success_vs_batch_wait_1.0",
        "max_batch_by_infrastructure",
        "max_batch_within_slo_wait_0.1",
        "max_batch_within_slo_wait_1.0",
        "total_p99_heatmap_wait_0.1",
        "total_p99_heatmap_wait_1.0",
        "batch_per_core",
    ];
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    for stem in stems {
        let (w, h, colours) = decode_png(&out.join(format!("{stem}.png")));
        assert_eq!((w, h), (960, 600), "{stem}.png");
        assert!(colours > 4, "{stem}.png looks blank ({colours} colours)");
        let words = svg_text(&out.join(format!("{stem}.svg")));
        assert!(!words.trim().is_empty(), "{stem}.svg has no text");
        assert!(
            html.contains(&format!("<figcaption>{stem}</figcaption>")),
            "index.html lacks {stem}"
        );
    }
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "index.html must load nothing from elsewhere"
    );
    let success = svg_text(&out.join("success_vs_batch_wait_0.1.svg"));
    assert!(success.contains("95% threshold"), "{success}");
    assert!(success.contains("hf-spaces (ws)"), "{success}");
    // hf-spaces holds 128 WebSocket sessions at ≥ 95%, but only 64 within
    // the p99 limit of 1.2 s at wait 0.1.
    let slo = svg_text(&out.join("max_batch_within_slo_wait_0.1.svg"));
    assert!(
        slo.contains("p99 &lt;= 1.2 s") || slo.contains("p99 <= 1.2 s"),
        "{slo}"
    );
    assert!(slo.contains("64") && !slo.contains("128"), "{slo}");
    // local-uvicorn's run.json says 8 cores: ws max 64 → 8.0 per core;
    // hf-spaces' 2 cores come from --cores: ws max 128 → 64.0.
    let per_core = svg_text(&out.join("batch_per_core.svg"));
    for want in ["local-uvicorn", "8.0/core", "hf-spaces", "64.0/core"] {
        assert!(per_core.contains(want), "{want}: {per_core}");
    }
}

#[test]
fn infrastructures_without_a_core_count_are_named_and_left_out() {
    let (out, stderr) = report("report-figures-nocores", &[]);
    assert!(
        stderr.contains("no core count for hf-spaces") && stderr.contains("--cores hf-spaces=N"),
        "{stderr}"
    );
    let per_core = svg_text(&out.join("batch_per_core.svg"));
    assert!(per_core.contains("8.0/core"), "{per_core}");
    assert!(!per_core.contains("hf-spaces"), "{per_core}");
    // --cores overrides run.json.
    let (out, _) = report("report-figures-override", &["--cores", "local-uvicorn=16"]);
    let per_core = svg_text(&out.join("batch_per_core.svg"));
    // 64 ws sessions / 16 cores, 32 http / 16.
    assert!(
        per_core.contains("4.0/core") && per_core.contains("2.0/core"),
        "{per_core}"
    );
    assert!(!per_core.contains("8.0/core"), "{per_core}");
}

#[test]
fn a_bad_core_count_is_named() {
    for bad in ["hf-spaces", "hf-spaces=0", "=4", "hf-spaces=two"] {
        let res = run(&[
            "report",
            fixtures().join("envload-run").to_str().unwrap(),
            "--out",
            out_dir("report-figures-bad").to_str().unwrap(),
            "--cores",
            bad,
        ]);
        assert_eq!(res.status.code(), Some(2), "{bad}");
        assert!(text(&res).1.contains(bad), "{bad}: {:?}", text(&res));
    }
}

#[test]
fn figures_need_no_system_font_and_a_bad_envload_font_is_named() {
    // The built-in font draws text (the PNG checks above run with no
    // ENVLOAD_FONT); a path that is not a font is refused by name.
    let not_a_font = support::out_file("report-figures-font", "ttf");
    std::fs::write(&not_a_font, b"not a font").unwrap();
    let res = std::process::Command::new(support::envload())
        .args(["report", fixtures().join("envload-run").to_str().unwrap()])
        .args([
            "--out",
            out_dir("report-figures-font-out").to_str().unwrap(),
        ])
        .env("ENVLOAD_FONT", &*not_a_font)
        .output()
        .unwrap();
    assert_eq!(res.status.code(), Some(1));
    let err = text(&res).1;
    assert!(
        err.contains("ENVLOAD_FONT") && err.contains(not_a_font.to_str().unwrap()),
        "{err}"
    );
}
