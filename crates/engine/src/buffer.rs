//! The state buffer and the choice of start states (`docs/algorithm.md`, "PUCT reuse").
//!
//! Every state ever created keeps its parent in `lineage`, even after eviction, so
//! that visit counts and lineage blocking see the whole tree. Live states carry
//! their PUCT statistics: `visits` (n: rollouts started from the state or any
//! descendant) and `best_child` (Q: the best value among direct children, once
//! expanded).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use discover_contract::Solution;

use crate::Provenance;

/// The exploration constant c of PUCT.
pub const PUCT_C: f64 = 1.0;
/// At most this many states survive a flush.
pub const CAPACITY: usize = 1000;
/// At most this many children of one parent survive a flush.
pub const CHILDREN_PER_PARENT: usize = 2;

/// How start states are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reuse {
    /// PUCT over the whole buffer with lineage blocking (the paper's method).
    Puct,
    /// The top B states by value (ablation).
    Greedy,
    /// Always the initial states (ablation: no reuse).
    None,
}

impl Reuse {
    pub fn name(&self) -> &'static str {
        match self {
            Reuse::Puct => "puct",
            Reuse::Greedy => "greedy",
            Reuse::None => "none",
        }
    }
}

/// A state: a solution plus what produced it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub id: u64,
    pub parent: Option<u64>,
    /// The step that created it; 0 for initial states.
    pub step: u32,
    pub solution: Solution,
    /// The verifier's score.
    pub score: f64,
    /// The reward: larger is better (see `engine::reward`).
    pub value: f64,
    /// The program that produced it and its output, for code-writing policies.
    #[serde(flatten)]
    pub provenance: Provenance,
    pub initial: bool,
    /// n: rollouts started from this state or any of its descendants.
    pub visits: u64,
    /// Q once expanded: the best value among direct children.
    pub best_child: Option<f64>,
}

/// A child to insert: a state without its identity and statistics.
#[derive(Clone, Debug)]
pub struct NewState {
    pub parent: Option<u64>,
    pub step: u32,
    pub solution: Solution,
    pub score: f64,
    pub value: f64,
    pub provenance: Provenance,
}

/// The buffer, serialised whole into each step's checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Buffer {
    states: Vec<State>,
    /// id -> parent of every state ever created.
    lineage: BTreeMap<u64, Option<u64>>,
    /// T: all rollouts so far.
    total_rollouts: u64,
    /// The best state ever seen; flushes never evict it.
    best: u64,
}

impl Buffer {
    /// A buffer holding the initial states. Panics if there are none.
    pub fn new(initial: Vec<NewState>) -> Buffer {
        assert!(!initial.is_empty(), "a buffer needs at least one initial state");
        let mut buffer =
            Buffer { states: Vec::new(), lineage: BTreeMap::new(), total_rollouts: 0, best: 0 };
        for s in initial {
            let id = buffer.push(s, true);
            if buffer.get(id).unwrap().value > buffer.best().value {
                buffer.best = id;
            }
        }
        buffer
    }

    pub fn states(&self) -> &[State] {
        &self.states
    }

    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    pub fn total_rollouts(&self) -> u64 {
        self.total_rollouts
    }

    /// The best state ever seen (by value; the first to reach it wins ties).
    pub fn best(&self) -> &State {
        self.get(self.best).expect("the best state is never evicted")
    }

    pub fn get(&self, id: u64) -> Option<&State> {
        self.states.iter().find(|s| s.id == id)
    }

    fn push(&mut self, s: NewState, initial: bool) -> u64 {
        // Ids are dense from 0 and the lineage keeps every one ever given.
        let id = self.lineage.len() as u64;
        self.lineage.insert(id, s.parent);
        self.states.push(State {
            id,
            parent: s.parent,
            step: s.step,
            solution: s.solution,
            score: s.score,
            value: s.value,
            provenance: s.provenance,
            initial,
            visits: 0,
            best_child: None,
        });
        id
    }

    /// `id` and its ancestors, nearest first (evicted ones included).
    fn ancestry(&self, id: u64) -> impl Iterator<Item = u64> + '_ {
        std::iter::successors(Some(id), |i| self.lineage.get(i).copied().flatten())
    }

    /// PUCT scores of the live states, in buffer order:
    /// `Q_i + c scale P_i sqrt(1 + T) / (1 + n_i)` with the rank prior
    /// `P_i = (N - rank_i) / (N (N + 1) / 2)`.
    pub fn puct_scores(&self) -> Vec<f64> {
        let n = self.states.len();
        let values = |initial_too: bool| {
            self.states.iter().filter(move |s| initial_too || !s.initial).map(|s| s.value)
        };
        let spread = |vs: &mut dyn Iterator<Item = f64>| {
            let (lo, hi) = vs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
            hi - lo
        };
        let any_child = self.states.iter().any(|s| !s.initial);
        let scale = spread(&mut values(!any_child)).max(1e-6);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| {
            self.states[b].value.total_cmp(&self.states[a].value).then(self.states[a].id.cmp(&self.states[b].id))
        });
        let mut rank = vec![0; n];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r;
        }
        let total = (n * (n + 1)) as f64 / 2.0;
        let explore = PUCT_C * scale * (1.0 + self.total_rollouts as f64).sqrt();
        self.states
            .iter()
            .zip(rank)
            .map(|(s, r)| {
                let prior = (n - r) as f64 / total;
                s.best_child.unwrap_or(s.value) + explore * prior / (1.0 + s.visits as f64)
            })
            .collect()
    }

    /// Up to `b` start states, by `reuse`. Deterministic.
    pub fn select(&self, reuse: Reuse, b: usize) -> Vec<u64> {
        match reuse {
            Reuse::None => self.states.iter().filter(|s| s.initial).map(|s| s.id).take(b).collect(),
            Reuse::Greedy => {
                let mut order: Vec<&State> = self.states.iter().collect();
                order.sort_by(|x, y| y.value.total_cmp(&x.value).then(x.id.cmp(&y.id)));
                order.into_iter().take(b).map(|s| s.id).collect()
            }
            Reuse::Puct => self.select_puct(b),
        }
    }

    /// Sort by (score, value) descending; take a state unless a state on its
    /// lineage (an ancestor or a descendant) was taken already.
    fn select_puct(&self, b: usize) -> Vec<u64> {
        let scores = self.puct_scores();
        let mut order: Vec<usize> = (0..self.states.len()).collect();
        order.sort_by(|&x, &y| {
            let (sx, sy) = (&self.states[x], &self.states[y]);
            scores[y].total_cmp(&scores[x]).then(sy.value.total_cmp(&sx.value)).then(sx.id.cmp(&sy.id))
        });
        let mut taken: Vec<u64> = Vec::new();
        let mut taken_set: HashSet<u64> = HashSet::new();
        // Ancestors (and selves) of taken states: a candidate in here is an ancestor.
        let mut blocked_up: HashSet<u64> = HashSet::new();
        for i in order {
            if taken.len() == b {
                break;
            }
            let id = self.states[i].id;
            let is_descendant = self.ancestry(id).skip(1).any(|a| taken_set.contains(&a));
            if blocked_up.contains(&id) || is_descendant {
                continue;
            }
            taken.push(id);
            taken_set.insert(id);
            blocked_up.extend(self.ancestry(id));
        }
        taken
    }

    /// Count one rollout started from `start`: T and the n of `start` and of
    /// every live ancestor grow by one, whatever the rollout's outcome.
    pub fn record_rollout(&mut self, start: u64) {
        self.total_rollouts += 1;
        let up: HashSet<u64> = self.ancestry(start).collect();
        for s in self.states.iter_mut().filter(|s| up.contains(&s.id)) {
            s.visits += 1;
        }
    }

    /// A valid child of `parent` with `value` was produced (inserted or not):
    /// `parent` is expanded and its Q is the best such value.
    pub fn record_child_value(&mut self, parent: u64, value: f64) {
        if let Some(s) = self.states.iter_mut().find(|s| s.id == parent) {
            s.best_child = Some(s.best_child.map_or(value, |q| q.max(value)));
        }
    }

    /// Insert a child unless a live state has the same construction (or, for
    /// states without one, the same code). Returns the new id, or the id of the
    /// duplicate as `Err`. The best state is updated on insertion.
    pub fn insert(&mut self, child: NewState) -> Result<u64, u64> {
        if let Some(dup) = self.states.iter().find(|s| same(s, &child)) {
            return Err(dup.id);
        }
        let id = self.push(child, false);
        if self.states.last().unwrap().value > self.best().value {
            self.best = id;
        }
        Ok(id)
    }

    /// End of step: keep the top-2 children of each parent, then at most
    /// `CAPACITY` states by value. Initial states and the best state stay.
    /// Returns how many states were evicted.
    pub fn flush(&mut self) -> usize {
        let before = self.states.len();
        let best = self.best;
        let protected = |s: &State| s.initial || s.id == best;
        let by_value = |a: &(f64, u64), b: &(f64, u64)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        let mut by_parent: HashMap<u64, Vec<(f64, u64)>> = HashMap::new();
        for s in self.states.iter().filter(|s| s.parent.is_some()) {
            by_parent.entry(s.parent.unwrap()).or_default().push((s.value, s.id));
        }
        let mut evict: HashSet<u64> = HashSet::new();
        for children in by_parent.values_mut() {
            children.sort_by(by_value);
            evict.extend(children.iter().skip(CHILDREN_PER_PARENT).map(|c| c.1));
        }
        self.states.retain(|s| protected(s) || !evict.contains(&s.id));
        if self.states.len() > CAPACITY {
            // Protected states first, then by value; keep CAPACITY (or all protected).
            let mut order: Vec<(bool, (f64, u64))> =
                self.states.iter().map(|s| (protected(s), (s.value, s.id))).collect();
            order.sort_by(|a, b| b.0.cmp(&a.0).then(by_value(&a.1, &b.1)));
            let n_protected = order.iter().filter(|o| o.0).count();
            let keep: HashSet<u64> = order.iter().take(CAPACITY.max(n_protected)).map(|o| o.1 .1).collect();
            self.states.retain(|s| keep.contains(&s.id));
        }
        before - self.states.len()
    }

    /// Values of the live states: (count, best, mean).
    pub fn stats(&self) -> BufferStats {
        let n = self.states.len();
        let best = self.states.iter().map(|s| s.value).fold(f64::NEG_INFINITY, f64::max);
        let mean = self.states.iter().map(|s| s.value).sum::<f64>() / n.max(1) as f64;
        BufferStats { states: n, best_value: best, mean_value: mean, total_rollouts: self.total_rollouts }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BufferStats {
    pub states: usize,
    pub best_value: f64,
    pub mean_value: f64,
    pub total_rollouts: u64,
}

/// Same construction (values bit for bit, and text), or for states without
/// values, the same code.
fn same(s: &State, c: &NewState) -> bool {
    if s.solution.values.is_empty() && c.solution.values.is_empty() {
        return s.provenance.code.is_some() && s.provenance.code == c.provenance.code;
    }
    s.solution.text == c.solution.text
        && s.solution.values.len() == c.solution.values.len()
        && s.solution.values.iter().zip(&c.solution.values).all(|(a, b)| a.to_bits() == b.to_bits())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_state(parent: Option<u64>, value: f64) -> NewState {
        NewState {
            parent,
            step: parent.map_or(0, |_| 1),
            solution: Solution::new(vec![value, parent.map_or(-1.0, |p| p as f64)]),
            score: value,
            value,
            provenance: Provenance::default(),
        }
    }

    /// A (0, v 1.0) and B (1, v 1.2) initial; C (2, 1.5) and D (3, 1.1) children
    /// of A; E (4, 2.0) a child of C.
    fn hand_buffer() -> Buffer {
        let mut b = Buffer::new(vec![new_state(None, 1.0), new_state(None, 1.2)]);
        assert_eq!(b.insert(new_state(Some(0), 1.5)), Ok(2));
        assert_eq!(b.insert(new_state(Some(0), 1.1)), Ok(3));
        assert_eq!(b.insert(new_state(Some(2), 2.0)), Ok(4));
        b.record_child_value(0, 1.5);
        b.record_child_value(0, 1.1);
        b.record_child_value(2, 2.0);
        for start in [0, 2, 2, 4, 1] {
            b.record_rollout(start);
        }
        b
    }

    #[test]
    fn visits_count_the_rollouts_of_every_descendant() {
        let b = hand_buffer();
        let n: Vec<u64> = b.states().iter().map(|s| s.visits).collect();
        // A: its own 1 + C's 2 + E's 1; C: 2 + E's 1.
        assert_eq!(n, vec![4, 1, 3, 0, 1]);
        assert_eq!(b.total_rollouts(), 5);
        assert_eq!(b.best().id, 4);
    }

    #[test]
    fn puct_scores_match_the_hand_computation() {
        let b = hand_buffer();
        // scale = 2.0 - 1.1 over the non-initial states; N = 5, sum of ranks 15;
        // ranks by value: E 0, C 1, B 2, D 3, A 4; sqrt(1 + T) = sqrt(6).
        let (scale, root) = (0.9, 6f64.sqrt());
        let expected = [
            1.5 + scale * (1.0 / 15.0) * root / 5.0, // A: Q = best child 1.5, n = 4
            1.2 + scale * (3.0 / 15.0) * root / 2.0, // B: never expanded, Q = v
            2.0 + scale * (4.0 / 15.0) * root / 4.0, // C: Q = 2.0 (E), n = 3
            1.1 + scale * (2.0 / 15.0) * root / 1.0, // D: n = 0
            2.0 + scale * (5.0 / 15.0) * root / 2.0, // E
        ];
        let got = b.puct_scores();
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() < 1e-12, "{got:?} vs {expected:?}");
        }
    }

    #[test]
    fn puct_picks_by_score_and_blocks_lineages() {
        let b = hand_buffer();
        // Scores: E 2.367, C 2.147, A 1.529, B 1.420, D 1.394. E blocks its
        // ancestors C and A; D (C's sibling) stays free.
        assert_eq!(b.select(Reuse::Puct, 3), vec![4, 1, 3]);
        assert_eq!(b.select(Reuse::Puct, 10), vec![4, 1, 3], "only three lineages are free");
        assert_eq!(b.select(Reuse::Puct, 1), vec![4]);
        assert_eq!(b.select(Reuse::Greedy, 3), vec![4, 2, 1]);
        assert_eq!(b.select(Reuse::None, 8), vec![0, 1]);
        // Picking an ancestor first blocks its descendants.
        let mut b = hand_buffer();
        for _ in 0..40 {
            b.record_rollout(4); // E gets crowded out by its visits
        }
        let picks = b.select(Reuse::Puct, 5);
        assert!(!picks.contains(&4) || !picks.contains(&2), "{picks:?}");
        for &p in &picks {
            let lineage: Vec<u64> = b.ancestry(p).collect();
            assert!(picks.iter().all(|&q| q == p || !lineage.contains(&q)), "{picks:?}");
        }
        // Deterministic.
        assert_eq!(picks, b.select(Reuse::Puct, 5));
    }

    #[test]
    fn duplicates_are_rejected() {
        let mut b = hand_buffer();
        assert_eq!(b.insert(new_state(Some(0), 1.5)), Err(2));
        let mut code_only = new_state(Some(1), 0.5);
        code_only.solution = Solution::default();
        code_only.provenance.code = Some("print(1)".into());
        let id = b.insert(code_only.clone()).unwrap();
        assert_eq!(b.insert(code_only), Err(id));
    }

    #[test]
    fn flush_keeps_two_children_per_parent_and_the_protected() {
        let mut b = Buffer::new(vec![new_state(None, 1.0)]);
        for v in [1.3, 1.9, 1.1, 1.7] {
            b.insert(new_state(Some(0), v)).unwrap();
        }
        assert_eq!(b.flush(), 2);
        let values: Vec<f64> = b.states().iter().map(|s| s.value).collect();
        assert_eq!(values, vec![1.0, 1.9, 1.7]);
        // Lineage survives eviction: a grandchild of an evicted state still
        // counts visits up to the root.
        b.insert(new_state(Some(2), 2.5)).unwrap(); // child of 1.9 (id 2)
        b.record_rollout(5);
        assert_eq!(b.get(0).unwrap().visits, 1);
    }

    #[test]
    fn flush_caps_the_buffer_and_never_evicts_initial_or_best() {
        // A chain (each state one child of the one before), the best early on.
        let mut b = Buffer::new(vec![new_state(None, 0.0)]);
        let mut parent = 0;
        for i in 0..1200u64 {
            let v = if i == 3 { 100.0 } else { 1.0 + i as f64 * 1e-3 };
            parent = b.insert(new_state(Some(parent), v)).unwrap();
        }
        assert_eq!(b.flush(), 201);
        assert_eq!(b.len(), CAPACITY);
        assert!(b.get(0).is_some(), "initial state kept");
        assert_eq!(b.best().value, 100.0);
        // The lowest-valued non-protected states went.
        assert!(b.get(1).is_none() && b.get(1200).is_some());
    }
}
