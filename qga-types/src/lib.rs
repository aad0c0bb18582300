//! qga-types: filled in by its issue.
