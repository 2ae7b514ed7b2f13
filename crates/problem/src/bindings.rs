//! Host bindings for the two worlds of `wit/problem.wit`.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "problem",
});

/// The `contest` world. It shares the `types` and `diagnostics` interfaces with
/// the `problem` world, so one host state serves both.
pub mod contest {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "contest",
        with: {
            "discover:problem/types": super::discover::problem::types,
            "discover:problem/diagnostics": super::discover::problem::diagnostics,
        },
    });
}
