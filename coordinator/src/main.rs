//! The `envload` binary: a thin shell over [`envload_coordinator::main_with`].

fn main() -> std::process::ExitCode {
    envload_coordinator::main_with(std::env::args_os())
}
