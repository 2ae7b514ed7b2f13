//! A problem that misbehaves on request, to prove that the host survives it.
//! `values[0]` picks the misbehaviour of `evaluate`:
//!
//! | 0 | behaves: valid, score = values.len() |
//! | 1 | loops forever                        |
//! | 2 | allocates 64 MiB at a time up to 8 GiB, touching every page |
//! | 3 | panics with a message                |
//! | 4 | claims a valid verdict with a NaN score |
//! | 5 | recurses without end                 |
//! | 6 | returns `Err` (cannot judge)         |
//! | 7 | claims an invalid verdict without a reason |

use std::hint::black_box;

use discover_guest::{export_problem, Direction, Problem, Solution, Spec, Verdict};

pub struct Hostile;

impl Problem for Hostile {
    fn spec() -> Spec {
        Spec::new("hostile", "A hostile problem (tests only)", Direction::Maximize)
            .statement("values[0] selects a misbehaviour; see the crate docs.")
    }

    fn initial(_seed: u64) -> Solution {
        Solution::new(vec![0.0])
    }

    fn evaluate(solution: &Solution) -> Result<Verdict, String> {
        let mode = solution.values.first().copied().unwrap_or(0.0) as u32;
        match mode {
            1 => {
                let mut i = 0u64;
                loop {
                    i = black_box(i.wrapping_add(1));
                }
            }
            2 => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                for _ in 0..128 {
                    hoard.push(black_box(vec![1u8; 64 << 20]));
                }
                Ok(Verdict::valid(hoard.len() as f64))
            }
            3 => panic!("the hostile problem panics on purpose (mode {mode})"),
            4 => Ok(Verdict::valid(f64::NAN)),
            5 => {
                // values[1] > 0 bounds the depth; the tests leave it 0: unbounded.
                let limit = solution.values.get(1).copied().filter(|&l| l > 0.0).unwrap_or(f64::INFINITY);
                Ok(Verdict::valid(recurse(0.0, limit)))
            }
            6 => Err("this problem cannot judge anything".to_string()),
            7 => Ok(Verdict { reason: None, ..Verdict::invalid("") }),
            _ => Ok(Verdict::valid(solution.values.len() as f64)),
        }
    }
}

/// Not a tail call (work follows the recursive call) and no locals in linear
/// memory: every level costs Wasm stack, so the engine's stack limit is what stops it.
fn recurse(x: f64, limit: f64) -> f64 {
    if x >= limit {
        return x;
    }
    recurse(x + 1.0, limit) * 0.5 + x
}

export_problem!(Hostile);
