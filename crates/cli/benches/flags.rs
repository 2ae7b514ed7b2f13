//! `--name N` flags of the benchmarks (shared with `#[path]`; benches have no lib).

/// The number after `--name` in this process's arguments, else `default`.
pub fn flag(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name} takes a number")))
        .unwrap_or(default)
}
