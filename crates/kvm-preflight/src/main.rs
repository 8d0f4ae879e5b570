//! `kvm-preflight`: checks that this machine can run hyperlight-js micro-VMs.
//!
//! Exit status 0 when `/dev/kvm` opens, reports KVM API 12 and can create a VM
//! and a vCPU; 1 with a diagnosis on standard error when it cannot; 2 on a
//! usage error.

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: kvm-preflight [--device PATH] [--quiet]\n\
    Checks that PATH (default /dev/kvm) is a working KVM device: opens it, checks the API\n\
    version, creates a VM and a vCPU. Exits 1 with what to fix when it is not.";

fn main() -> ExitCode {
    let mut device = PathBuf::from(kvm_preflight::DEFAULT_DEVICE);
    let mut quiet = false;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--device") => match args.next() {
                Some(path) => device = PathBuf::from(path),
                None => return usage_error("--device needs a path"),
            },
            Some("--quiet" | "-q") => quiet = true,
            Some("--help" | "-h") => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => return usage_error(&format!("unknown argument {arg:?}")),
        }
    }

    match kvm_preflight::check_device(&device) {
        Ok(report) => {
            if !quiet {
                println!("kvm-preflight: ok: {report}");
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{}", kvm_preflight::failure_message(&err.to_string()));
            ExitCode::FAILURE
        }
    }
}

fn usage_error(problem: &str) -> ExitCode {
    eprintln!("kvm-preflight: {problem}\n{USAGE}");
    ExitCode::from(2)
}
