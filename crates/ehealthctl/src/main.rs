//! `ehealthctl`: see `ehealthctl --help` and README.md ("Operator CLI").

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match ehealthctl::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
