//! The command tree as users meet it: --help of every subcommand, the not-yet-implemented
//! answers, and the committed man pages and completions, which must not drift from the tree.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

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

fn hl7() -> Command {
    Command::cargo_bin("hl7").unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hl7-cli-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
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
    let dir = scratch("man");
    hl7().arg("man").arg(&dir).assert().success();
    same_dirs(
        &dir,
        Path::new(env!("CARGO_MANIFEST_DIR")).join("man").as_path(),
        "cargo run -- man man",
    );
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
    let dir = scratch("completions");
    hl7()
        .args(["completions", "--dir"])
        .arg(&dir)
        .assert()
        .success();
    same_dirs(
        &dir,
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("completions")
            .as_path(),
        "cargo run -- completions --dir completions",
    );
    let bash = hl7()
        .args(["completions", "bash"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let bash = String::from_utf8(bash).unwrap();
    assert!(bash.contains("--select") && bash.contains("parse"));
}

#[test]
fn man_without_dir_prints_the_main_page() {
    let out = hl7()
        .arg("man")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8(out).unwrap().contains(".TH hl7 1"));
}

#[test]
fn every_subcommand_has_help() {
    let top = hl7()
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let top = String::from_utf8(top).unwrap();
    for sub in SUBCOMMANDS {
        assert!(top.contains(sub), "hl7 --help does not list {sub}");
        let help = hl7()
            .args([sub, "--help"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert!(
            String::from_utf8(help).unwrap().contains("Usage: hl7 "),
            "{sub} --help"
        );
    }
    let parse = hl7()
        .args(["parse", "--help"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let parse = String::from_utf8(parse).unwrap();
    for flag in ["--to", "--shape", "--select", "--strict", "--from"] {
        assert!(parse.contains(flag), "parse --help lacks {flag}");
    }
    let listen = hl7()
        .args(["listen", "--help"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let listen = String::from_utf8(listen).unwrap();
    for flag in [
        "--archive",
        "--ack-mode",
        "--max-message-size",
        "--idle-timeout",
        "--allow",
        "--count",
        "--tls-cert",
    ] {
        assert!(listen.contains(flag), "listen --help lacks {flag}");
    }
}

#[test]
fn usage_errors_exit_2() {
    hl7().args(["parse", "--to", "xml"]).assert().code(2);
    hl7().arg("frobnicate").assert().code(2);
    hl7().assert().code(2);
    hl7().arg("--version").assert().success();
}
