//! qapi-codegen: filled in by its issue.
