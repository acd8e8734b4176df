//! The generated code under `src/generated/` is checked in so a fresh clone
//! builds without `protoc`. This test regenerates it from the `.proto` (with
//! protox, a pure-Rust compiler) and fails on any difference.
//! `ENVLOAD_BLESS=1 cargo test -p envload-proto --test regenerate` rewrites it.

use std::path::Path;

#[test]
fn generated_code_matches_the_proto() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fds = protox::compile(["envload/v1/envload.proto"], [root.join("proto")])
        .expect("the .proto compiles");
    let out = tempdir();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .out_dir(&out)
        .compile_fds(fds)
        .expect("code generation succeeds");
    let generated = std::fs::read_to_string(out.join("envload.v1.rs")).unwrap();
    let _ = std::fs::remove_dir_all(&out);
    let committed_path = root.join("src/generated/envload.v1.rs");
    if std::env::var_os("ENVLOAD_BLESS").is_some() {
        std::fs::write(&committed_path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == generated,
        "src/generated/envload.v1.rs is stale: run ENVLOAD_BLESS=1 cargo test -p envload-proto --test regenerate"
    );
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("envload-proto-gen-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
