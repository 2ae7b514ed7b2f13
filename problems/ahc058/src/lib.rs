//! `ahc058`: AtCoder Heuristic Contest 058, apple production planning, as a
//! contest component.
//!
//! N = 10 machine ids on L = 4 levels; over T = 500 turns the program strengthens
//! one machine per turn (or waits); level-0 machines make apples, higher levels
//! make machines of the level below. The case score is `round(1e5 log2 S)` for
//! the final apple count S. Apple counts outgrow 2^53 (strong plans reach about
//! 2^57), so the simulation is exact in `i128` and refuses to wrap.
//!
//! The generator draws as the official one does (ChaCha20 seeded with
//! `seed_from_u64(seed)`, rand 0.8 `gen_range` over closed f64 ranges), so seed
//! `s` reproduces the official input `s` byte for byte (a test pins all 150).

use std::fmt::Write;

use discover_guest::text::short;
use discover_guest::{export_contest, Budgets, Contest, Direction, Spec};
use rand::{Rng, SeedableRng};

pub const N: usize = 10;
pub const L: usize = 4;
pub const T: usize = 500;
pub const K: i128 = 1;

pub struct Ahc058;

const STATEMENT: &str = "\
AHC058 apple production planning (maximize).

There are N x L machine types: N = 10 ids and L = 4 levels; machine j^i has level i and id j. \
Level-0 machine j produces A_j apples per unit of power; C_{i,j} is the base cost of machine j^i.

State: B_{i,j} = 1 (machines owned) and P_{i,j} = 0 (power) for every machine; S = K = 1 apples.
Each of T = 500 turns:
  1. choose one action:
     - strengthen machine j^i: pay C_{i,j} * (P_{i,j} + 1) apples (only if S stays >= 0), then P_{i,j} += 1;
     - or do nothing;
  2. production, for every id j, in level order 0, 1, 2, 3:
     - level 0: S += A_j * B_{0,j} * P_{0,j};
     - level i >= 1: B_{i-1,j} += B_{i,j} * P_{i,j}.

Input (stdin):
  N L T K
  A_0 ... A_{N-1}
  C_{0,0} ... C_{0,N-1}
  ...
  C_{L-1,0} ... C_{L-1,N-1}
with N = 10, L = 4, T = 500, K = 1, 1 <= A_j <= 100 (sorted, A_0 = 1), 1 <= C_{i,j} <= 1.25e12 (C_{0,0} = 1).

Output (stdout): exactly T = 500 action lines, in turn order: `i j` to strengthen machine j^i, or `-1` to \
do nothing. Lines starting with `#` are comments and are ignored, as are blank lines. An unaffordable \
action, a level or id out of range, fewer or more than T actions make the case invalid (score 0).

Score of a case: round(1e5 * log2(S)) for the apples S after the last turn (exact integer arithmetic: S \
exceeds 2^53 in good plans). The contest score is the sum over the cases.

Inputs: A_0 = 1; A_j = round(10^U[0,2]) for j >= 1, then A is sorted; C_{0,0} = 1; \
C_{i,j} = round(A_j * 500^i * 10^U[0,2]) otherwise.";

impl Contest for Ahc058 {
    fn spec() -> Spec {
        Spec::new("ahc058", "AHC058: apple production planning", Direction::Maximize)
            .statement(STATEMENT)
            .best_known(848_414_228.0 / 150.0, "TTT-Discover (arXiv 2601.16175): 848,414,228 over the 150 official cases")
            .budgets(Budgets { evaluate_fuel: 200_000_000, evaluate_millis: 5_000, memory_mib: 256, candidate_seconds: 2 })
    }

    fn generate(seed: u64) -> String {
        let case = generate_case(seed);
        let mut out = String::new();
        let join = |v: &[i64]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" ");
        let _ = writeln!(out, "{N} {L} {T} {K}");
        let _ = writeln!(out, "{}", join(&case.a));
        for row in &case.c {
            let _ = writeln!(out, "{}", join(row));
        }
        out
    }

    fn score(input: &str, output: &str) -> Result<f64, String> {
        let case = parse_input(input)?;
        let actions = parse_actions(output)?;
        let apples = simulate(&case, &actions)?;
        if apples <= 0 {
            return Err(format!("the plan ends with {apples} apples; the score needs at least 1"));
        }
        // The official tester converts to f64 before the logarithm; so do we.
        Ok((100_000.0 * (apples as f64).log2()).round())
    }
}

export_contest!(Ahc058);

/// One case: production rates `a[j]` and costs `c[i][j]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    pub a: Vec<i64>,
    pub c: Vec<Vec<i64>>,
}

pub fn generate_case(seed: u64) -> Case {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let mut a = vec![1i64; N];
    for aj in a.iter_mut().skip(1) {
        *aj = 10f64.powf(rng.gen_range(0.0..=2.0)).round() as i64;
    }
    a.sort();
    let mut c = vec![vec![0i64; N]; L];
    for (level, row) in c.iter_mut().enumerate() {
        for (id, cost) in row.iter_mut().enumerate() {
            *cost = if level == 0 && id == 0 {
                1
            } else {
                let base = a[id] as f64 * 500f64.powi(level as i32);
                (base * 10f64.powf(rng.gen_range(0.0..=2.0))).round() as i64
            };
        }
    }
    Case { a, c }
}

fn parse_input(input: &str) -> Result<Case, String> {
    let numbers: Vec<i64> = input
        .split_whitespace()
        .map(|t| t.parse::<i64>().map_err(|_| format!("the input is not an AHC058 input: `{}`", short(t))))
        .collect::<Result<_, _>>()?;
    let expected = 4 + N + L * N;
    if numbers.len() != expected || numbers[..4] != [N as i64, L as i64, T as i64, K as i64] {
        return Err(format!("the input is not an AHC058 input ({} numbers, header {:?})", numbers.len(), &numbers[..numbers.len().min(4)]));
    }
    let a = numbers[4..4 + N].to_vec();
    let c = numbers[4 + N..].chunks(N).map(|row| row.to_vec()).collect();
    Ok(Case { a, c })
}

/// One turn's action and the line it was printed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Strengthen { level: usize, id: usize, line: usize },
    Wait { line: usize },
}

/// Exactly T action lines; comments (`#...`) and blank lines skipped.
pub fn parse_actions(output: &str) -> Result<Vec<Action>, String> {
    let mut actions = Vec::with_capacity(T);
    for (i, raw) in output.lines().enumerate() {
        let line = i + 1;
        let text = raw.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        if actions.len() == T {
            return Err(format!("line {line}: `{}` is action {}, but exactly {T} are expected", short(text), T + 1));
        }
        let tokens: Vec<&str> = text.split_whitespace().collect();
        let int = |t: &str, what: &str| {
            t.parse::<i64>().map_err(|_| format!("line {line}: {what} `{}` is not an integer", short(t)))
        };
        let action = match tokens.as_slice() {
            [wait] if int(wait, "the level")? == -1 => Action::Wait { line },
            [level, id] => {
                let (level, id) = (int(level, "the level")?, int(id, "the id")?);
                if !(0..L as i64).contains(&level) {
                    return Err(format!("line {line}: level {level} does not exist (levels are 0..={})", L - 1));
                }
                if !(0..N as i64).contains(&id) {
                    return Err(format!("line {line}: id {id} does not exist (ids are 0..={})", N - 1));
                }
                Action::Strengthen { level: level as usize, id: id as usize, line }
            }
            _ => {
                return Err(format!(
                    "line {line}: `{}` is not an action (expected `i j` or `-1`)",
                    short(text)
                ))
            }
        };
        actions.push(action);
    }
    if actions.len() < T {
        return Err(format!("the output has {} action lines, exactly {T} are expected", actions.len()));
    }
    Ok(actions)
}

/// The apples after the plan, or the first action that cannot be paid.
pub fn simulate(case: &Case, actions: &[Action]) -> Result<i128, String> {
    let overflow = || "the apple count overflows 128 bits".to_string();
    let mut machines = [[1i128; N]; L];
    let mut power = [[0i128; N]; L];
    let mut apples = K;
    for (turn, action) in actions.iter().enumerate() {
        if let Action::Strengthen { level, id, line } = *action {
            let cost = (case.c[level][id] as i128).checked_mul(power[level][id] + 1).ok_or_else(overflow)?;
            if apples < cost {
                return Err(format!(
                    "line {line} (turn {turn}): strengthening machine {id}^{level} costs {cost} apples, only {apples} are left"
                ));
            }
            apples -= cost;
            power[level][id] += 1;
        }
        for level in 0..L {
            for id in 0..N {
                let made = machines[level][id].checked_mul(power[level][id]).ok_or_else(overflow)?;
                if level == 0 {
                    let produced = made.checked_mul(case.a[id] as i128).ok_or_else(overflow)?;
                    apples = apples.checked_add(produced).ok_or_else(overflow)?;
                } else {
                    machines[level - 1][id] = machines[level - 1][id].checked_add(made).ok_or_else(overflow)?;
                }
            }
        }
    }
    Ok(apples)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A case where every machine costs its listed price: A = 1..10, C = 1, 2, ...
    fn case() -> String {
        let mut s = format!("{N} {L} {T} {K}\n");
        s += &(1..=N).map(|a| a.to_string()).collect::<Vec<_>>().join(" ");
        s += "\n";
        for level in 0..L {
            let row: Vec<String> = (0..N).map(|id| (1 + id + 100 * level).to_string()).collect();
            s += &row.join(" ");
            s += "\n";
        }
        s
    }

    fn waits(n: usize) -> String {
        "-1\n".repeat(n)
    }

    #[test]
    fn doing_nothing_keeps_one_apple_and_scores_zero() {
        assert_eq!(Ahc058::score(&case(), &waits(T)), Ok(0.0)); // log2(1) = 0
    }

    #[test]
    fn a_hand_computed_plan() {
        // Turn 0: strengthen 0^0 (cost 1 * 1 = 1; apples 1 -> 0), then produce
        // A_0 * B * P = 1 * 1 * 1 = 1 apple per turn for 500 turns: S = 500.
        let out = format!("0 0\n{}", waits(T - 1));
        let expected = (100_000.0 * 500f64.log2()).round();
        assert_eq!(Ahc058::score(&case(), &out), Ok(expected));
        assert_eq!(expected, 896_578.0);
        // Comments and blank lines do not count as actions.
        let commented = format!("# plan\n0 0\n\n{}# end\n", waits(T - 1));
        assert_eq!(Ahc058::score(&case(), &commented), Ok(expected));
    }

    #[test]
    fn level_one_machines_make_machines() {
        // Turn 0: 0^0 (apples 1 -> 0; +1 => 1). Turn 1: wait (+1 => 2).
        // Turns 2..: wait until 101 apples, then strengthen 0^1 (cost 101).
        let mut case = parse_input(&case()).unwrap();
        let mut actions = vec![Action::Strengthen { level: 0, id: 0, line: 1 }];
        actions.extend((1..T).map(|t| Action::Wait { line: t + 1 }));
        // After turn t (0-based) with only 0^0 at power 1, apples = t + 1.
        // Strengthen 0^1 at turn 101: 101 apples before, cost 101 -> 0.
        actions[101] = Action::Strengthen { level: 1, id: 0, line: 102 };
        // Production comes before level 1 adds machines, so turn t (>= 101)
        // makes B_{0,0} = t - 100 apples: the sum of 1..=399.
        let expected: i128 = (1..=399).sum();
        assert_eq!(simulate(&case, &actions), Ok(expected));
        case.c[1][0] = 102;
        let err = simulate(&case, &actions).unwrap_err();
        assert_eq!(err, "line 102 (turn 101): strengthening machine 0^1 costs 102 apples, only 101 are left");
    }

    #[test]
    fn an_unaffordable_action_is_invalid() {
        // Machine 9^0 costs 10; there is 1 apple.
        let out = format!("0 9\n{}", waits(T - 1));
        assert_eq!(
            Ahc058::score(&case(), &out).unwrap_err(),
            "line 1 (turn 0): strengthening machine 9^0 costs 10 apples, only 1 are left"
        );
    }

    #[test]
    fn counts_past_2_pow_53_stay_exact() {
        // Cheap machines everywhere make the count explode; i128 keeps it exact.
        let mut case = parse_input(&case()).unwrap();
        for row in case.c.iter_mut() {
            row.iter_mut().for_each(|c| *c = 1);
        }
        case.a = vec![100; N];
        // Strengthen 0^0, 1^0, 2^0, 3^0 in turn, every turn: the count grows
        // like the fourth power of time.
        let actions: Vec<Action> = (0..T).map(|t| Action::Strengthen { level: t % L, id: 0, line: t + 1 }).collect();
        let apples = simulate(&case, &actions).unwrap();
        assert!(apples > 1i128 << 60, "{apples}");
        // The f64 conversion would have lost the low bits; the integer did not.
        assert_ne!(apples as f64 as i128, apples);
    }

    #[test]
    fn malformed_outputs_name_the_line() {
        let err = |out: &str| Ahc058::score(&case(), out).unwrap_err();
        assert_eq!(err(&waits(T - 1)), "the output has 499 action lines, exactly 500 are expected");
        assert_eq!(err(&waits(T + 1)), "line 501: `-1` is action 501, but exactly 500 are expected");
        assert_eq!(err("4 0\n"), "line 1: level 4 does not exist (levels are 0..=3)");
        assert_eq!(err("-1\n0 10\n"), "line 2: id 10 does not exist (ids are 0..=9)");
        assert_eq!(err("0 1 2\n"), "line 1: `0 1 2` is not an action (expected `i j` or `-1`)");
        assert_eq!(err("5\n"), "line 1: `5` is not an action (expected `i j` or `-1`)");
        assert_eq!(err("x 1\n"), "line 1: the level `x` is not an integer");
    }

    #[test]
    fn generated_inputs_follow_the_statement() {
        for seed in [0, 1, 149] {
            let case = parse_input(&Ahc058::generate(seed)).unwrap();
            assert_eq!(case.a[0], 1);
            assert!(case.a.windows(2).all(|w| w[0] <= w[1]));
            assert!(case.a.iter().all(|&a| (1..=100).contains(&a)));
            assert_eq!(case.c[0][0], 1);
            assert!(case.c.iter().flatten().all(|&c| (1..=1_250_000_000_000).contains(&c)));
        }
    }
}
