//! Prints our build of a directory, for diffing by hand against
//! `kustomize build` while working on a conformance case.

fn main() -> std::process::ExitCode {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: build <dir>");
        return std::process::ExitCode::from(2);
    };
    match driftless_kustomize::build(std::path::Path::new(&dir)) {
        Ok(out) => {
            print!("{out}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
