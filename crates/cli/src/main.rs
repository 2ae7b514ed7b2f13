fn main() -> std::process::ExitCode {
    discover::cli::main()
}
