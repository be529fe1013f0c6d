//! The command tree as users meet it: --help of every subcommand, the not-yet-implemented
//! answers, and the committed man pages and completions, which must not drift from the tree.

use std::fs;
use std::path::Path;

use crate::util::{TempDir, hl7, root, run};

const SUBCOMMANDS: [&str; 10] = [
    "listen",
    "send",
    "simulate",
    "parse",
    "ack",
    "convert",
    "flatten",
    "ilp",
    "completions",
    "man",
];

/// The stdout of `hl7 ARGS`, which must succeed.
fn stdout_of(args: &[&str]) -> String {
    let o = run(args, b"");
    assert_eq!(o.code, 0, "{args:?}: {}", o.stderr);
    o.text().to_string()
}

fn same_dirs(generated: &Path, committed: &Path, regenerate: &str) {
    let mut names: Vec<_> = fs::read_dir(generated)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    let mut committed_names: Vec<_> = fs::read_dir(committed)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    committed_names.sort();
    assert_eq!(
        names,
        committed_names,
        "{} holds other files than the clap tree makes; run `{regenerate}`",
        committed.display()
    );
    for n in names {
        let a = fs::read(generated.join(&n)).unwrap();
        let b = fs::read(committed.join(&n)).unwrap();
        assert!(
            a == b,
            "{} drifted from the clap tree; run `{regenerate}` and commit",
            committed.join(&n).display()
        );
    }
}

#[test]
fn man_pages_match_the_clap_tree() {
    let dir = TempDir::new("man");
    hl7().arg("man").arg(dir.path()).assert().success();
    same_dirs(dir.path(), &root().join("man"), "cargo run -- man man");
    let top = fs::read_to_string(dir.join("hl7.1")).unwrap();
    for sub in SUBCOMMANDS {
        assert!(
            top.contains(&format!("hl7\\-{sub}(1)")),
            "man/hl7.1 does not list {sub}"
        );
    }
}

#[test]
fn completions_match_the_clap_tree() {
    let dir = TempDir::new("completions");
    hl7()
        .args(["completions", "--dir"])
        .arg(dir.path())
        .assert()
        .success();
    same_dirs(
        dir.path(),
        &root().join("completions"),
        "cargo run -- completions --dir completions",
    );
    let bash = stdout_of(&["completions", "bash"]);
    assert!(bash.contains("--select") && bash.contains("parse"));
}

#[test]
fn man_without_dir_prints_the_main_page() {
    assert!(stdout_of(&["man"]).contains(".TH hl7 1"));
}

#[test]
fn every_subcommand_has_help() {
    let top = stdout_of(&["--help"]);
    for sub in SUBCOMMANDS {
        assert!(top.contains(sub), "hl7 --help does not list {sub}");
        assert!(
            stdout_of(&[sub, "--help"]).contains("Usage: hl7 "),
            "{sub} --help"
        );
    }
    for (sub, flags) in [
        (
            "parse",
            &["--to", "--shape", "--select", "--strict", "--from"][..],
        ),
        (
            "listen",
            &[
                "--archive",
                "--ack-mode",
                "--max-message-size",
                "--idle-timeout",
                "--allow",
                "--count",
                "--tls-cert",
            ],
        ),
    ] {
        let help = stdout_of(&[sub, "--help"]);
        for flag in flags {
            assert!(help.contains(flag), "{sub} --help lacks {flag}");
        }
    }
}

#[test]
fn usage_errors_exit_2() {
    hl7().args(["parse", "--to", "xml"]).assert().code(2);
    hl7().arg("frobnicate").assert().code(2);
    hl7().assert().code(2);
    hl7().arg("--version").assert().success();
}
