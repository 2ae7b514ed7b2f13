//! `ahc039`: AtCoder Heuristic Contest 039, "Purse Seine Fishing", as a contest
//! component.
//!
//! A case is 5000 mackerels and 5000 sardines on the integer grid [0, 1e5]^2; the
//! program prints an axis-parallel simple polygon (the last one it prints counts)
//! and scores `max(0, 1 + mackerels inside - sardines inside)`, boundary points
//! counting as inside. All geometry here is integer.
//!
//! The generator draws with the same generators, in the same order, as the
//! official one (ChaCha20 seeded with `seed_from_u64(seed)`, rand 0.8), so seed
//! `s` reproduces the official input `s` byte for byte (a test pins all 150).

use std::collections::BTreeSet;
use std::fmt::Write;

use discover_guest::text::Tokens;
use discover_guest::{export_contest, Budgets, Contest, Direction, Spec};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Points of each species.
pub const N: usize = 5000;
/// Coordinates lie in [0, D].
pub const D: i64 = 100_000;
/// Most vertices a polygon may have.
pub const MAX_VERTICES: usize = 1000;
/// Longest perimeter allowed.
pub const MAX_PERIMETER: i64 = 4 * D;

pub struct Ahc039;

const STATEMENT: &str = "\
AHC039 \"Purse Seine Fishing\" (maximize).

There are N = 5000 mackerels and N = 5000 sardines at distinct integer points of the square \
0 <= x, y <= 100000. Print one polygon that encloses many mackerels and few sardines.

Input (stdin):
  N
  x_0 y_0
  ...
  x_{2N-1} y_{2N-1}
Lines 1..N after the first are the mackerels, the next N lines the sardines.

Output (stdout): a polygon as
  m
  a_0 b_0
  ...
  a_{m-1} b_{m-1}
You may print several polygons one after another; only the last one is scored.

Rules for the polygon (any violation makes the case invalid, score 0):
  - 4 <= m <= 1000 vertices, every vertex an integer point with 0 <= a, b <= 100000;
  - every edge (including the one from the last vertex back to the first) is parallel to the x or y axis;
  - all vertices are distinct (three consecutive vertices may be collinear);
  - the polygon is simple: non-adjacent edges share no point, adjacent edges meet only at their common vertex;
  - the perimeter is at most 400000;
  - either orientation (clockwise or counter-clockwise).

Score of a case: max(0, 1 + a - b), where a and b are the mackerels and sardines inside the polygon; \
points on the boundary count as inside. The contest score is the sum over the cases.

Inputs: for each species, 10..25 Gaussian clusters with weights U[0,1), centres uniform in \
[20000, 80000]^2 and standard deviations uniform in [1000, 5000]; points are drawn from the clusters \
by weight, rounded, and kept when inside the square and not already taken.";

impl Contest for Ahc039 {
    fn spec() -> Spec {
        Spec::new("ahc039", "AHC039: Purse Seine Fishing", Direction::Maximize)
            .statement(STATEMENT)
            .best_known(567_062.0 / 150.0, "TTT-Discover (arXiv 2601.16175): 567,062 over the 150 official cases")
            .budgets(Budgets {
                // Scoring one output: 10^4 points against up to 1000 edges, plus
                // parsing whatever else the program printed.
                evaluate_fuel: 2_000_000_000,
                evaluate_millis: 10_000,
                memory_mib: 512,
                // The contest's time limit per case.
                candidate_seconds: 2,
            })
    }

    fn generate(seed: u64) -> String {
        let points = generate_points(seed);
        let mut out = String::with_capacity(12 * points.len() + 8);
        let _ = writeln!(out, "{N}");
        for (x, y) in points {
            let _ = writeln!(out, "{x} {y}");
        }
        out
    }

    fn score(input: &str, output: &str) -> Result<f64, String> {
        let points = parse_input(input)?;
        let polygon = last_polygon(output)?;
        check_polygon(&polygon)?;
        Ok(case_score(&points, &polygon.iter().map(|v| v.point).collect::<Vec<_>>()) as f64)
    }
}

export_contest!(Ahc039);

/// The 2N points of `seed`: mackerels, then sardines.
pub fn generate_points(seed: u64) -> Vec<(i64, i64)> {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let mut points = Vec::with_capacity(2 * N);
    let mut taken = BTreeSet::new();
    for species in 0..2 {
        // The draws and their types (i32 ranges, f64 weights) are the official
        // generator's: another type would consume the stream differently.
        let clusters = rng.gen_range(10i32..=25i32) as usize;
        let weights: Vec<f64> = (0..clusters).map(|_| rng.r#gen::<f64>()).collect();
        let centres: Vec<(i32, i32)> =
            (0..clusters).map(|_| (rng.gen_range(20000..=80000), rng.gen_range(20000..=80000))).collect();
        let sigmas: Vec<f64> = (0..clusters).map(|_| rng.gen_range(1000..=5000) as f64).collect();
        let indices: Vec<usize> = (0..clusters).collect();
        while taken.len() < N * (1 + species) {
            let i = *indices.choose_weighted(&mut rng, |&i| weights[i]).expect("weights are positive");
            let gx: f64 = rng.sample(rand_distr::StandardNormal);
            let gy: f64 = rng.sample(rand_distr::StandardNormal);
            let x = (centres[i].0 as f64 + sigmas[i] * gx).round() as i64;
            let y = (centres[i].1 as f64 + sigmas[i] * gy).round() as i64;
            if (0..=D).contains(&x) && (0..=D).contains(&y) && taken.insert((x, y)) {
                points.push((x, y));
            }
        }
    }
    points
}

fn parse_input(input: &str) -> Result<Vec<(i64, i64)>, String> {
    let mut t = Tokens::new(input);
    let bad = |e: String| format!("the input is not an AHC039 input: {e}");
    let (n, _) = t.read::<usize>("N", 1..=N).map_err(bad)?;
    let mut points = Vec::with_capacity(2 * n);
    for _ in 0..2 * n {
        let (x, _) = t.read::<i64>("x", 0..=D).map_err(bad)?;
        let (y, _) = t.read::<i64>("y", 0..=D).map_err(bad)?;
        points.push((x, y));
    }
    Ok(points)
}

/// One vertex of the output and the line it was printed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vertex {
    pub point: (i64, i64),
    pub line: usize,
}

/// Every polygon in the output must parse; the last one is returned.
pub fn last_polygon(output: &str) -> Result<Vec<Vertex>, String> {
    let mut t = Tokens::new(output);
    let mut last = None;
    while !t.is_empty() {
        let (m, _) = t.read::<usize>("the vertex count m", 4..=MAX_VERTICES)?;
        let mut polygon = Vec::with_capacity(m);
        for k in 0..m {
            let (x, line) = t.read::<i64>(&format!("x of vertex {k}"), 0..=D)?;
            let (y, _) = t.read::<i64>(&format!("y of vertex {k}"), 0..=D)?;
            polygon.push(Vertex { point: (x, y), line });
        }
        last = Some(polygon);
    }
    last.ok_or_else(|| "the output has no polygon (expected `m` and then m vertices)".to_string())
}

/// The polygon rules of the statement; the error names the first broken rule,
/// its vertex, line and coordinates.
pub fn check_polygon(polygon: &[Vertex]) -> Result<(), String> {
    let m = polygon.len();
    let at = |k: usize| polygon[k % m];
    let show = |v: Vertex| format!("({}, {}) on line {}", v.point.0, v.point.1, v.line);
    let mut perimeter = 0i64;
    for k in 0..m {
        let (p, q, r) = (at(k), at(k + 1), at(k + 2));
        if p.point == q.point {
            return Err(format!("vertices {k} and {} are the same point {}", (k + 1) % m, show(q)));
        }
        if p.point.0 != q.point.0 && p.point.1 != q.point.1 {
            return Err(format!(
                "the edge from vertex {k} {} to vertex {} {} is not parallel to an axis",
                show(p),
                (k + 1) % m,
                show(q)
            ));
        }
        perimeter += (p.point.0 - q.point.0).abs() + (p.point.1 - q.point.1).abs();
        // Two collinear edges in a row that turn back overlap: the boundary
        // touches itself at vertex k + 1.
        let (d1, d2) = ((q.point.0 - p.point.0, q.point.1 - p.point.1), (r.point.0 - q.point.0, r.point.1 - q.point.1));
        if d1.0 * d2.1 == d1.1 * d2.0 && d1.0 * d2.0 + d1.1 * d2.1 < 0 {
            return Err(format!(
                "the polygon is not simple: the boundary turns back on itself at vertex {} {}",
                (k + 1) % m,
                show(q)
            ));
        }
    }
    // Non-adjacent edges must share no point. Edges are axis-parallel segments,
    // so they share a point exactly when their bounding boxes overlap.
    let bbox = |k: usize| {
        let (p, q) = (at(k).point, at(k + 1).point);
        (p.0.min(q.0), p.0.max(q.0), p.1.min(q.1), p.1.max(q.1))
    };
    let boxes: Vec<_> = (0..m).map(bbox).collect();
    for i in 0..m {
        for j in i + 2..m {
            if i == 0 && j == m - 1 {
                continue; // adjacent through the wrap-around
            }
            let (a, b) = (boxes[i], boxes[j]);
            if a.0.max(b.0) <= a.1.min(b.1) && a.2.max(b.2) <= a.3.min(b.3) {
                return Err(format!(
                    "the polygon is not simple: edge {i} (from {}) and edge {j} (from {}) share the point ({}, {})",
                    show(at(i)),
                    show(at(j)),
                    a.0.max(b.0),
                    a.2.max(b.2)
                ));
            }
        }
    }
    if perimeter > MAX_PERIMETER {
        return Err(format!("the perimeter is {perimeter}, more than {MAX_PERIMETER}"));
    }
    Ok(())
}

/// `max(0, 1 + mackerels inside - sardines inside)` for a valid polygon;
/// `points` holds the mackerels first, then as many sardines.
pub fn case_score(points: &[(i64, i64)], polygon: &[(i64, i64)]) -> i64 {
    let n = points.len() / 2;
    let mut score = 1i64;
    for (i, &p) in points.iter().enumerate() {
        if inside(p, polygon) {
            score += if i < n { 1 } else { -1 };
        }
    }
    score.max(0)
}

/// Whether `p` is inside or on the boundary of a simple axis-parallel polygon:
/// on an edge, or crossed by an odd number of horizontal edges above it (a ray
/// cast upwards; edges counted over half-open x ranges so a vertex counts once).
pub fn inside(p: (i64, i64), polygon: &[(i64, i64)]) -> bool {
    let m = polygon.len();
    let mut crossings = false;
    for k in 0..m {
        let (a, b) = (polygon[k], polygon[(k + 1) % m]);
        let (x0, x1, y0, y1) = (a.0.min(b.0), a.0.max(b.0), a.1.min(b.1), a.1.max(b.1));
        if x0 <= p.0 && p.0 <= x1 && y0 <= p.1 && p.1 <= y1 {
            return true;
        }
        if a.1 == b.1 && a.1 > p.1 && x0 <= p.0 && p.0 < x1 {
            crossings = !crossings;
        }
    }
    crossings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(mackerels: &[(i64, i64)], sardines: &[(i64, i64)]) -> String {
        assert_eq!(mackerels.len(), sardines.len());
        let mut s = format!("{}\n", mackerels.len());
        for (x, y) in mackerels.iter().chain(sardines) {
            s += &format!("{x} {y}\n");
        }
        s
    }

    fn polygon(vertices: &[(i64, i64)]) -> String {
        let mut s = format!("{}\n", vertices.len());
        for (x, y) in vertices {
            s += &format!("{x} {y}\n");
        }
        s
    }

    const SQUARE: [(i64, i64); 4] = [(10, 10), (20, 10), (20, 20), (10, 20)];

    #[test]
    fn boundary_points_count_as_inside() {
        // Mackerels: a corner, an edge point, an interior point, one outside.
        // Sardines: one on an edge, three outside.
        let case = input(&[(10, 10), (15, 20), (12, 13), (30, 30)], &[(20, 15), (0, 0), (21, 15), (15, 21)]);
        // 1 + 3 - 1 = 3, in either orientation.
        assert_eq!(Ahc039::score(&case, &polygon(&SQUARE)), Ok(3.0));
        let reversed: Vec<_> = SQUARE.iter().rev().copied().collect();
        assert_eq!(Ahc039::score(&case, &polygon(&reversed)), Ok(3.0));
    }

    #[test]
    fn the_score_is_never_negative_and_the_last_polygon_counts() {
        let case = input(&[(0, 0), (1, 1)], &[(15, 15), (11, 11)]);
        assert_eq!(Ahc039::score(&case, &polygon(&SQUARE)), Ok(0.0)); // 1 + 0 - 2 -> 0
        let around_mackerels = [(0, 0), (1, 0), (1, 1), (0, 1)];
        let two = polygon(&SQUARE) + &polygon(&around_mackerels);
        assert_eq!(Ahc039::score(&case, &two), Ok(3.0));
    }

    #[test]
    fn concave_polygons_count_the_notch_as_outside() {
        // An L shape: the square [0,20]^2 without its top-right quarter.
        let l = [(0, 0), (20, 0), (20, 10), (10, 10), (10, 20), (0, 20)];
        let case = input(&[(5, 15), (15, 5), (10, 15)], &[(15, 15), (25, 5), (15, 11)]);
        // Mackerels all inside (one on the inner edge), no sardine inside: 1 + 3.
        assert_eq!(Ahc039::score(&case, &polygon(&l)), Ok(4.0));
    }

    #[test]
    fn rule_violations_name_the_line_and_value() {
        let case = input(&[(1, 1)], &[(2, 2)]);
        let err = |out: &str| Ahc039::score(&case, out).unwrap_err();
        assert_eq!(err(""), "the output has no polygon (expected `m` and then m vertices)");
        assert_eq!(err("3\n0 0\n1 0\n1 1\n"), "line 1: the vertex count m 3 is outside [4, 1000]");
        let mut big = vec![(0, 0)];
        big.extend((0..1000).map(|i| (i, 1)));
        assert_eq!(err(&polygon(&big)), "line 1: the vertex count m 1001 is outside [4, 1000]");
        assert_eq!(
            err("4\n0 0\n100001 0\n1 1\n0 1\n"),
            "line 3: x of vertex 1 100001 is outside [0, 100000]"
        );
        assert_eq!(err("4\n0 0\n1 0\n1 1\n"), "line 5: the output ends where x of vertex 3 was expected");
        assert_eq!(err("4\n0 0\n1 zero\n"), "line 3: y of vertex 1 `zero` is not an integer");
        assert_eq!(
            err(&polygon(&[(0, 0), (10, 0), (10, 10), (1, 9)])),
            "the edge from vertex 2 (10, 10) on line 4 to vertex 3 (1, 9) on line 5 is not parallel to an axis"
        );
        assert_eq!(
            err(&polygon(&[(0, 0), (10, 0), (10, 0), (0, 10)])),
            "vertices 1 and 2 are the same point (10, 0) on line 4"
        );
    }

    #[test]
    fn a_polygon_touching_itself_is_invalid() {
        let case = input(&[(1, 1)], &[(2, 2)]);
        // Two squares joined at the corner (10, 10): a figure eight.
        let eight = [(0, 0), (10, 0), (10, 10), (20, 10), (20, 20), (10, 20), (10, 10), (0, 10)];
        let e = Ahc039::score(&case, &polygon(&eight)).unwrap_err();
        assert!(e.starts_with("the polygon is not simple"), "{e}");
        // A vertex lying on a non-adjacent edge.
        let pinch = [(0, 0), (10, 0), (10, 10), (5, 10), (5, 0), (4, 0), (4, 12), (0, 12)];
        let e = Ahc039::score(&case, &polygon(&pinch)).unwrap_err();
        assert!(e.contains("not simple"), "{e}");
        // A spike: the boundary goes out and comes straight back.
        let spike = [(0, 0), (10, 0), (10, 10), (10, 20), (10, 15), (0, 15)];
        let e = Ahc039::score(&case, &polygon(&spike)).unwrap_err();
        assert_eq!(e, "the polygon is not simple: the boundary turns back on itself at vertex 3 (10, 20) on line 5");
        // Crossing edges.
        let cross = [(0, 0), (10, 0), (10, 10), (5, 10), (5, -0), (6, 0)];
        assert!(Ahc039::score(&case, &polygon(&cross)).is_err());
    }

    #[test]
    fn the_perimeter_may_be_4e5_but_not_more() {
        let case = input(&[(1, 1)], &[(2, 2)]);
        let full = [(0, 0), (D, 0), (D, D), (0, D)];
        assert_eq!(Ahc039::score(&case, &polygon(&full)), Ok(1.0)); // perimeter exactly 4e5: 1 + 1 - 1
        let notched = [(0, 0), (D, 0), (D, D), (1, D), (1, 1), (0, 1)];
        assert_eq!(Ahc039::score(&case, &polygon(&notched)), Ok(1.0));
        let comb: Vec<(i64, i64)> = {
            // A comb with two teeth of height 1e5 on a wide base: perimeter > 4e5.
            vec![(0, 0), (D, 0), (D, D), (D - 10, D), (D - 10, 10), (20, 10), (20, D), (0, D)]
        };
        assert_eq!(
            Ahc039::score(&case, &polygon(&comb)).unwrap_err(),
            "the perimeter is 599980, more than 400000"
        );
    }

    #[test]
    fn generated_inputs_follow_the_statement() {
        for seed in [0, 1, 149] {
            let text = Ahc039::generate(seed);
            let points = parse_input(&text).unwrap();
            assert_eq!(points.len(), 2 * N);
            assert_eq!(points.iter().collect::<BTreeSet<_>>().len(), 2 * N, "distinct");
            assert!(points.iter().all(|&(x, y)| (0..=D).contains(&x) && (0..=D).contains(&y)));
        }
        assert_eq!(Ahc039::generate(7), Ahc039::generate(7));
        assert_ne!(Ahc039::generate(7), Ahc039::generate(8));
    }
}
