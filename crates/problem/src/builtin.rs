//! The problems compiled into this binary (built by `build.rs` from `problems/`).

mod generated {
    include!(concat!(env!("OUT_DIR"), "/components/builtin.rs"));
}

/// Ids of the built-in problems, in display order.
pub fn ids() -> impl Iterator<Item = &'static str> {
    generated::BUILTIN.iter().map(|(id, _)| *id)
}

/// The component bytes of a built-in problem.
pub fn component(id: &str) -> Option<&'static [u8]> {
    generated::BUILTIN.iter().find(|(i, _)| *i == id).map(|(_, bytes)| *bytes)
}

/// The starting program of a built-in contest problem (`problems/<id>/starter.cpp`).
pub fn starter(id: &str) -> Option<&'static str> {
    generated::STARTERS.iter().find(|(i, _)| *i == id).map(|(_, source)| *source)
}

/// Where the build put the test-only components (the hostile problem). Tests use it.
#[doc(hidden)]
pub const TEST_COMPONENTS_DIR: &str = generated::TEST_COMPONENTS_DIR;

/// The component `discover pack new --kind component` writes, and its Rust
/// source (`problems/pack-template`): a complete construction problem
/// (`spread-points`) to start from.
pub fn template() -> (&'static [u8], &'static str) {
    (generated::TEMPLATE, generated::TEMPLATE_SOURCE)
}
