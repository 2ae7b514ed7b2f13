//! `--name N` flags of the benchmarks (shared with `#[path]`; benches have no lib).
// Each bench uses part of this.
#![allow(dead_code)]

/// The number after `--name` in this process's arguments, else `default`.
pub fn flag(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number")))
        .unwrap_or(default)
}

/// A benchmark's arguments, checked: `--help` prints `usage` and exits;
/// an unknown argument or a value that does not parse is refused (exit 2)
/// instead of silently running the default, which for the long benchmarks
/// is an hour of both cores.
pub struct Args(Vec<String>);

impl Args {
    /// This process's arguments; `valued` flags take one value, `switches` none.
    pub fn parse(usage: &str, valued: &[&str], switches: &[&str]) -> Args {
        // cargo bench appends --bench to a harness-less bench's arguments.
        let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
        let mut i = 0;
        while i < args.len() {
            let a = args[i].as_str();
            if a == "--help" || a == "-h" {
                println!("{usage}");
                std::process::exit(0);
            } else if valued.contains(&a) {
                if args.get(i + 1).is_none_or(|v| v.starts_with("--")) {
                    refuse(&format!("{a} needs a value"), usage);
                }
                i += 2;
            } else if switches.contains(&a) {
                i += 1;
            } else {
                refuse(&format!("unexpected argument {a:?}"), usage);
            }
        }
        Args(args)
    }

    /// The value after `name`, parsed; `None` if the flag is absent.
    pub fn value<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        let raw = self.0.iter().position(|a| a == name).map(|i| &self.0[i + 1])?;
        match raw.parse() {
            Ok(v) => Some(v),
            Err(_) => refuse(&format!("{name} {raw:?}: not a valid value"), ""),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }
}

/// Print `error: message` and the usage, exit 2: for values that parse but
/// are out of range.
pub fn refuse(message: &str, usage: &str) -> ! {
    eprintln!("error: {message}");
    if !usage.is_empty() {
        eprintln!("\n{usage}");
    }
    std::process::exit(2);
}
