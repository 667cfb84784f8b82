//! Connection-management findings (being written).
