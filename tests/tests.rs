//! One integration-test binary (ripgrep style): faster links, shared helpers.

mod attacks;
mod blame_props;
mod cli;
mod corpus;
mod dns;
mod formats;
mod har;
mod html;
mod http_scripts;
mod lab;
mod robustness;
mod scenarios;
mod schema;
mod support;
