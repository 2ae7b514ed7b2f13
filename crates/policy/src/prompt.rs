//! Prompts for LLM policies and the code in their answers (`docs/algorithm.md`,
//! "Prompts for LLM policies").
//!
//! A prompt carries the problem statement and the candidate contract, the
//! budget, the target (the best known value), and the start state: its code,
//! its score before -> after the run that produced it, the last characters of
//! what it printed, and its solution (which the program also receives). The
//! program executed is the last fenced code block of the expected language in
//! the completion, even if the completion was cut off inside it.

use discover_contract::text::tail_chars;
use std::fmt::Write;

use discover_contract::{Direction, Spec, OUTPUT_TAIL_CHARS};
use discover_engine::State;

/// A chat message (the shape every chat API and template takes).
pub use discover_llm::Message;

/// The language candidates are written in, and what a program must do, as the
/// candidate runtime words it (`CandidateRuntime::language` and `::contract`).
#[derive(Clone, Debug, PartialEq)]
pub struct Language {
    /// As a Markdown fence names it: `python`.
    pub name: String,
    /// As people name it: `Python`.
    pub title: String,
    /// The contract text for this problem.
    pub contract: String,
}

impl Language {
    pub fn new(name: &str, contract: String) -> Language {
        let title = match name {
            "python" => "Python".to_string(),
            "cpp" => "C++".to_string(),
            other => other.to_string(),
        };
        Language { name: name.to_string(), title, contract }
    }
}

/// At most this many of the parent's numbers are shown (the program gets all).
const PREVIEW_VALUES: usize = 24;

fn system(language: &Language) -> String {
    format!(
        "You are an expert in mathematical optimisation and scientific programming. \
         You improve a solution to one problem by writing a {} program that starts from it. \
         Think about what limits the current solution, then write the complete program. \
         End your answer with exactly one ```{} code block: the program that is run.",
        language.title, language.name
    )
}

/// `# Problem: TITLE` and the statement.
fn problem_header(spec: &Spec) -> String {
    format!("# Problem: {}\n\n{}\n\n", spec.title, spec.statement.trim())
}

fn goal(spec: &Spec) -> &'static str {
    match spec.direction {
        Direction::Maximize => "higher is better",
        Direction::Minimize => "lower is better",
    }
}

/// The messages for one rollout from `start`.
pub fn render(spec: &Spec, language: &Language, start: &State, budget_seconds: f64) -> Vec<Message> {
    let (contract, fence) = (&language.contract, &language.name);
    let mut user = problem_header(spec);
    let _ = write!(user, "Score: {}.", goal(spec));
    match &spec.best_known {
        Some(b) => {
            let _ = writeln!(user, " Target: beat the best known value {} ({}).\n", b.value, b.source);
        }
        None => user.push_str(" No best known value is recorded: any improvement counts.\n\n"),
    }
    let _ = writeln!(user, "# Your program\n\n{contract}\n\nBudget: {budget_seconds:.0} seconds.\n");

    user.push_str("# Current solution\n\n");
    match start.provenance.before {
        Some(before) => {
            let _ = writeln!(user, "Score {before} -> {} after the program below ran.", start.score);
        }
        None => {
            let _ = writeln!(user, "Score {} (a starting construction; no program produced it).", start.score);
        }
    }
    let values = &start.solution.values;
    let shown: Vec<String> = values.iter().take(PREVIEW_VALUES).map(|v| format!("{v}")).collect();
    let more = if values.len() > PREVIEW_VALUES { format!(", ... ({} values in all)", values.len()) } else { String::new() };
    let _ = writeln!(user, "Its values (your `parent`): [{}{more}]", shown.join(", "));
    if let Some(code) = &start.provenance.code {
        let _ = writeln!(user, "\nThe program that produced it:\n\n```{fence}\n{}\n```", code.trim_end());
    }
    if let Some(stdout) = start.provenance.stdout.as_deref().filter(|s| !s.trim().is_empty()) {
        let tail = tail_chars(stdout, OUTPUT_TAIL_CHARS);
        let _ = writeln!(user, "\nThe last {} characters it printed:\n\n```\n{}\n```", tail.chars().count(), tail.trim_end());
    }
    let _ = write!(
        user,
        "\nWrite a program that returns a better solution than this one. Reply with your reasoning, \
         then the complete program in one ```{fence} block."
    );
    vec![Message::new("system", system(language)), Message::new("user", user)]
}

fn contest_system(language: &Language) -> String {
    format!(
        "You are an expert competitive programmer in heuristic contests (AtCoder Heuristic Contest). \
         You improve a {} program for one contest problem: it is run on many test inputs and each \
         output is scored. Think about what limits the current program, then write the complete \
         program. End your answer with exactly one ```{} code block: the program that is run.",
        language.title, language.name
    )
}

/// The messages for one rollout from `start` on a contest problem: the
/// statement, the limits and contract, the parent program with its score and
/// per-case summary (or why it failed to compile or run).
pub fn render_contest(spec: &Spec, language: &Language, start: &State) -> Vec<Message> {
    let fence = &language.name;
    let mut user = problem_header(spec);
    let _ = write!(user, "Reward: the mean case score over the test cases, a failed case counting as 0 ({}).", goal(spec));
    match &spec.best_known {
        Some(b) => {
            let _ = writeln!(user, " Target: a mean case score above {} ({}).\n", b.value, b.source);
        }
        None => user.push_str("\n\n"),
    }
    current_program(&mut user, language, start, "Mean case score");
    let _ = write!(
        user,
        "\nWrite a program with a higher mean case score. Keep every case valid and within the time limit. \
         Reply with your reasoning, then the complete program in one ```{fence} block."
    );
    vec![Message::new("system", contest_system(language)), Message::new("user", user)]
}

/// The messages for one rollout from `start` on a native plugin problem (a
/// GPU kernel, a biology method): the statement, where candidates run (the
/// GPU's name and capability, or CPU mode), the contract, and the parent
/// program with its score and figures (per-shape times, say).
pub fn render_plugin(spec: &Spec, environment: &str, language: &Language, start: &State) -> Vec<Message> {
    let fence = &language.name;
    let mut user = problem_header(spec);
    let _ = write!(user, "Score: {}.", goal(spec));
    match &spec.best_known {
        Some(b) => {
            let _ = writeln!(user, " Best known: {} ({}).\n", b.value, b.source);
        }
        None => user.push_str("\n\n"),
    }
    if !environment.trim().is_empty() {
        let _ = writeln!(user, "# Where your program runs\n\n{}\n", environment.trim());
    }
    current_program(&mut user, language, start, "Score");
    let _ = write!(
        user,
        "\nWrite a better program ({}). It must stay correct on every test. \
         Reply with your reasoning, then the complete program in one ```{fence} block.",
        goal(spec)
    );
    let system = format!(
        "You are an expert performance engineer. You improve a {} program for one problem: it is \
         checked for correctness and then measured. Think about what limits the current program, then \
         write the complete program. End your answer with exactly one ```{} code block: the program that is run.",
        language.title, language.name
    );
    vec![Message::new("system", system), Message::new("user", user)]
}

/// The contract, then the parent program with its score (`label`), and how it
/// did (the contest report or the plugin's verdict and figures).
fn current_program(user: &mut String, language: &Language, start: &State, label: &str) {
    let fence = &language.name;
    let _ = writeln!(user, "# Your program\n\n{}\n", language.contract);
    user.push_str("# Current program\n\n");
    match start.provenance.before {
        Some(before) => {
            let _ = writeln!(user, "{label} {before} -> {} with the program below.", start.score);
        }
        None => {
            let _ = writeln!(user, "{label} {} (the starting program).", start.score);
        }
    }
    if let Some(code) = start.provenance.code.as_deref().or(start.solution.text.as_deref()) {
        let _ = writeln!(user, "\n```{fence}\n{}\n```", code.trim_end());
    }
    if let Some(summary) = start.provenance.stdout.as_deref().filter(|s| !s.trim().is_empty()) {
        let _ = writeln!(user, "\nHow it did:\n{}", summary.trim_end());
    }
}

/// The program in a completion: the last fenced block tagged `language` (or,
/// if none is tagged, the last untagged block). A block the completion ends
/// inside counts, up to where it was cut off. `None` when there is no block.
pub fn extract_code(completion: &str, language: &str) -> Option<String> {
    struct Block {
        tag: String,
        lines: Vec<String>,
    }
    let mut blocks: Vec<Block> = Vec::new();
    // The open fence: its character, its length and the block being filled.
    let mut open: Option<(char, usize, Block)> = None;
    for line in completion.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let fence = ['`', '~'].into_iter().find_map(|c| {
            let n = trimmed.chars().take_while(|&x| x == c).count();
            (indent <= 3 && n >= 3).then_some((c, n))
        });
        let closes = match (&open, fence) {
            (Some((c, n, _)), Some((fc, fl))) => fc == *c && fl >= *n && trimmed[fl..].trim().is_empty(),
            _ => false,
        };
        if closes {
            let (_, _, block) = open.take().expect("a block is open");
            blocks.push(block);
        } else if let Some((_, _, block)) = &mut open {
            block.lines.push(line.to_string());
        } else if let Some((c, n)) = fence {
            let tag = trimmed[n..].split_whitespace().next().unwrap_or("").to_lowercase();
            open = Some((c, n, Block { tag, lines: Vec::new() }));
        }
    }
    if let Some((_, _, block)) = open {
        blocks.push(block);
    }
    let wanted = |tag: &str| {
        tag == language
            || (language == "python" && matches!(tag, "py" | "python3"))
            || (language == "cpp" && matches!(tag, "c++" | "cc" | "cxx"))
    };
    let block = blocks.iter().rev().find(|b| wanted(&b.tag)).or_else(|| blocks.iter().rev().find(|b| b.tag.is_empty()))?;
    let code = block.lines.join("\n");
    (!code.trim().is_empty()).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use discover_contract::{BestKnown, Budgets, Shape, Solution};

    fn spec() -> Spec {
        Spec {
            id: "toy".into(),
            title: "Toy packing".into(),
            statement: "Pack things.".into(),
            direction: Direction::Maximize,
            best_known: Some(BestKnown { value: 2.635, source: "the literature".into() }),
            shape: Shape { min_len: 30, max_len: 30, multiple_of: 3 },
            budgets: Budgets::default(),
        }
    }

    fn state(code: Option<&str>, stdout: Option<&str>, before: Option<f64>) -> State {
        State {
            id: 4,
            parent: before.map(|_| 1),
            step: 2,
            solution: Solution::new((0..30).map(|i| i as f64 / 8.0).collect()),
            score: 2.5,
            value: 2.5,
            provenance: discover_engine::Provenance {
                code: code.map(str::to_string),
                stdout: stdout.map(str::to_string),
                before,
            },
            initial: before.is_none(),
            visits: 0,
            best_child: None,
        }
    }

    #[test]
    fn a_prompt_has_everything_the_algorithm_lists() {
        let long_output = format!("{}THE END", "x".repeat(2000));
        let messages = render(&spec(), &Language::new("python", "CONTRACT".into()), &state(Some("def solve(p, x):\n    return x"), Some(&long_output), Some(2.25)), 120.0);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].role, "system");
        let user = &messages[1].content;
        for needle in ["Toy packing", "Pack things.", "higher is better", "2.635", "the literature", "CONTRACT",
            "Budget: 120 seconds", "Score 2.25 -> 2.5", "def solve(p, x):", "THE END", "0.125", "(30 values in all)"] {
            assert!(user.contains(needle), "missing {needle:?} in\n{user}");
        }
        // Only the tail of the output: 500 characters, ending in THE END.
        assert!(!user.contains(&"x".repeat(501)));
        assert!(user.contains(&format!("{}THE END", "x".repeat(493))));
        // The parent's own code is in a block, but the reply's program is what counts.
        assert_eq!(extract_code(user, "python").as_deref(), Some("def solve(p, x):\n    return x"));
    }

    #[test]
    fn an_initial_state_has_no_program_and_no_before() {
        let user = &render(&spec(), &Language::new("python", "C".into()), &state(None, None, None), 60.0)[1].content;
        assert!(user.contains("a starting construction"), "{user}");
        assert!(!user.contains("The program that produced it"));
        assert!(!user.contains("printed"));
    }

    #[test]
    fn the_last_python_block_wins() {
        let text = "Plan:\n```python\nfirst()\n```\nthen output:\n```\n1 2 3\n```\nFinal:\n```python\ndef solve(p, x):\n    return x\n```\nDone.";
        assert_eq!(extract_code(text, "python").unwrap(), "def solve(p, x):\n    return x");
    }

    #[test]
    fn a_truncated_block_still_counts() {
        let text = "```python\nok()\n```\nBetter:\n```python\ndef solve(p, x):\n    return x * 2";
        assert_eq!(extract_code(text, "python").unwrap(), "def solve(p, x):\n    return x * 2");
    }

    #[test]
    fn other_languages_and_no_blocks_give_nothing_or_the_untagged_block() {
        assert_eq!(extract_code("no code here", "python"), None);
        assert_eq!(extract_code("```rust\nfn main() {}\n```", "python"), None);
        assert_eq!(extract_code("```\nprint(1)\n```", "python").unwrap(), "print(1)");
        assert_eq!(extract_code("```py\nprint(2)\n```", "python").unwrap(), "print(2)");
        assert_eq!(extract_code("```python\n\n```", "python"), None);
    }

    #[test]
    fn contest_prompts_carry_the_program_its_summary_and_cpp_blocks_are_found() {
        let mut start = state(Some("int main() { puts(\"4\"); }"), Some("3 of 5 cases valid; First failed case: seed 2"), Some(1.0));
        start.solution.text = start.provenance.code.clone();
        let language = Language::new("cpp", "CPP CONTRACT".into());
        let messages = render_contest(&spec(), &language, &start);
        let user = &messages[1].content;
        for needle in ["Toy packing", "CPP CONTRACT", "Mean case score 1 -> 2.5", "```cpp\nint main()", "First failed case: seed 2", "higher mean case score"] {
            assert!(user.contains(needle), "missing {needle:?} in\n{user}");
        }
        assert!(messages[0].content.contains("```cpp"));
        let reply = "Idea.\n```c++\nint main() { return 0; }\n```";
        assert_eq!(extract_code(reply, "cpp").unwrap(), "int main() { return 0; }");
    }

    #[test]
    fn plugin_prompts_carry_where_it_runs_the_contract_the_kernel_and_its_figures() {
        let mut start = state(Some("def custom_kernel(data):\n    ..."), Some("valid; score 2.5\nb1_n64_us = 2.5"), Some(3.0));
        start.solution.text = start.provenance.code.clone();
        let language = Language::new("python", "KERNEL CONTRACT".into());
        let messages = render_plugin(&spec(), "GPU: NVIDIA H200 (compute capability 9.0)", &language, &start);
        let user = &messages[1].content;
        for needle in [
            "Toy packing",
            "# Where your program runs\n\nGPU: NVIDIA H200 (compute capability 9.0)",
            "KERNEL CONTRACT",
            "Score 3 -> 2.5",
            "```python\ndef custom_kernel(data):",
            "b1_n64_us = 2.5",
            "stay correct on every test",
        ] {
            assert!(user.contains(needle), "missing {needle:?} in\n{user}");
        }
        assert!(messages[0].content.contains("performance engineer") && messages[0].content.contains("```python"));
    }

    #[test]
    fn longer_fences_contain_shorter_ones() {
        let text = "````python\ns = '''\n```\n'''\n````";
        assert_eq!(extract_code(text, "python").unwrap(), "s = '''\n```\n'''");
    }
}
