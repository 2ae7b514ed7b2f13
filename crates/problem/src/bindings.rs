//! Host bindings for the `problem` world of `wit/problem.wit`.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "problem",
});
