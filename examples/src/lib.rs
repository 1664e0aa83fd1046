//! Workspace member that holds the runnable examples (see `examples/README.md`).
