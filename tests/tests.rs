//! One integration-test binary (ripgrep style): faster links, shared helpers.

mod cli;
mod corpus;
mod dns;
mod http_scripts;
mod lab;
mod scenarios;
mod schema;
mod support;
