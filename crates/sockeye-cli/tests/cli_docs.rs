//! `sockeye completions SHELL`, `sockeye man` and the Examples section of every `--help`: the
//! bash script run by bash, the man pages rendered by man(1) (when installed), and the
//! subcommands and flags read from the binary's own `--help`, so a new one is covered too.

#[path = "../../sockeye/tests/common/mod.rs"]
mod common;
#[path = "../../sockeye/tests/tls_support/pki.rs"]
mod pki;
mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use pki::TestDir;
use support::sockeye;

/// `sockeye ARGS…` run to the end; it must succeed. Returns its stdout.
fn run(args: &[&str]) -> String {
    let output = sockeye(args).output().expect("run sockeye");
    assert!(
        output.status.success(),
        "sockeye {args:?}: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// The subcommands `sockeye --help` lists (without `help`).
fn subcommands() -> Vec<String> {
    let help = run(&["--help"]);
    let names: Vec<String> = help
        .lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect();
    for expected in [
        "demo",
        "connect",
        "serve",
        "bench",
        "probe",
        "completions",
        "man",
    ] {
        assert!(names.iter().any(|name| name == expected), "{names:?}");
    }
    names
}

/// Every long flag (`--name`) the `--help` of `sockeye SUBCOMMAND` lists.
fn long_flags(subcommand: &str) -> Vec<String> {
    let help = run(&[subcommand, "--help"]);
    let flags: Vec<String> = help
        .lines()
        .map(str::trim_start)
        .filter(|line| line.starts_with('-'))
        .filter_map(|line| {
            line.split([' ', ','])
                .find(|word| word.starts_with("--"))
                // `--verbose...`: a flag that may be repeated.
                .map(|word| {
                    word.split('=')
                        .next()
                        .unwrap_or(word)
                        .trim_end_matches("...")
                })
                .map(str::to_owned)
        })
        .collect();
    assert!(flags.len() > 20, "{flags:?}");
    flags
}

/// The completions bash offers for the words of `line` (the last one being completed), from
/// the script `sockeye completions bash` prints, loaded into a real bash.
fn bash_completions(line: &[&str]) -> Vec<String> {
    let script = run(&["completions", "bash"]);
    let words = line
        .iter()
        .map(|word| format!("'{word}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let driver = format!(
        "{script}\n\
         complete -p sockeye || exit 3\n\
         COMP_WORDS=({words}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n\
         COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}\n\
         _sockeye sockeye \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    );
    let output = Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg(&driver)
        .output()
        .expect("run bash");
    assert!(
        output.status.success(),
        "bash: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let mut lines = stdout.lines();
    let registered = lines.next().unwrap_or_default();
    assert_eq!(
        registered,
        "complete -o bashdefault -o default -o nosort -F _sockeye sockeye"
    );
    lines.map(str::to_owned).collect()
}

#[test]
fn bash_completes_every_subcommand_and_the_flags_of_connect() {
    let offered = bash_completions(&["sockeye", ""]);
    for name in subcommands() {
        assert!(offered.contains(&name), "{name} not in {offered:?}");
    }
    let offered = bash_completions(&["sockeye", "connect", "--close-"]);
    assert_eq!(
        offered,
        ["--close-code", "--close-reason", "--close-timeout"],
        "{offered:?}"
    );
    let offered = bash_completions(&["sockeye", "completions", "z"]);
    assert_eq!(offered, ["zsh"]);
    let offered = bash_completions(&["sockeye", "serve", "--mode", ""]);
    assert_eq!(offered, ["echo", "json", "broadcast"]);
}

#[test]
fn every_shell_gets_a_script_that_names_every_subcommand() {
    let names = subcommands();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = run(&["completions", shell]);
        for name in &names {
            assert!(script.contains(name.as_str()), "{shell}: no {name}");
        }
        // Long flags without their dashes: fish's script says `-l cacert`.
        for flag in ["cacert", "max-memory", "show-secrets", "ping-interval"] {
            assert!(script.contains(flag), "{shell}: no {flag}");
        }
    }
    let output = sockeye(&["completions", "tcsh"])
        .output()
        .expect("run sockeye");
    assert_eq!(output.status.code(), Some(2));
}

/// `roff` rendered by `man -l -` in a UTF-8 locale with groff's warnings on: the text and the
/// warnings; `None` when man(1) is not installed.
fn rendered(roff: &str) -> Option<(String, String)> {
    let mut child = Command::new("man")
        .args(["--warnings", "-l", "-"])
        .env("LC_ALL", "C.UTF-8")
        .env("MANWIDTH", "200")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(roff.as_bytes())
        .expect("write to man");
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("wait for man");
    assert!(status.success(), "man: {status}");
    Some((
        String::from_utf8(stdout).expect("UTF-8"),
        String::from_utf8(stderr).expect("UTF-8"),
    ))
}

#[test]
fn man_page_of_connect_is_roff_that_names_every_flag() {
    let roff = run(&["man", "connect"]);
    assert!(roff.contains("\n.TH sockeye-connect 1 "), "{roff}");
    for section in [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH DESCRIPTION",
        ".SH OPTIONS",
        ".SH NOTES",
    ] {
        assert!(roff.contains(section), "no {section}");
    }
    let flags = long_flags("connect");
    for flag in &flags {
        // roff escapes each `-` as `\-`; options are set in bold.
        let escaped = format!("\\fB{}\\fR", flag.replace('-', "\\-"));
        assert!(roff.contains(&escaped), "no {escaped} in the roff");
    }
    match rendered(&roff) {
        Some((text, warnings)) => {
            assert_eq!(warnings, "", "groff warnings");
            assert!(text.starts_with("sockeye-connect(1)"), "{text}");
            let options = text
                .split("\nOPTIONS\n")
                .nth(1)
                .expect("an OPTIONS section");
            for flag in &flags {
                assert!(options.contains(flag.as_str()), "man shows no {flag}");
            }
            let notes = text.split("\nNOTES\n").nth(1).expect("a NOTES section");
            assert!(notes.trim_start().starts_with("Examples:"), "{text}");
        }
        None => eprintln!("man(1) is not installed: the roff was checked, not rendered"),
    }
}

#[test]
fn man_pages_for_sockeye_and_each_subcommand() {
    let top = run(&["man"]);
    assert!(top.contains("\n.TH sockeye 1 "), "{top}");
    let names = subcommands();
    for name in &names {
        assert!(top.contains(&format!("sockeye\\-{}(1)", name.replace('-', "\\-"))));
        let page = run(&["man", name]);
        assert!(page.contains(&format!("\n.TH sockeye-{name} 1 ")), "{page}");
        if let Some((_, warnings)) = rendered(&page) {
            assert_eq!(warnings, "", "groff warnings for sockeye-{name}");
        }
    }

    // A reader that stops early (`sockeye man | head`) is no error.
    let mut child = sockeye(&["man", "connect"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sockeye");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait for sockeye");
    assert!(output.status.success(), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");

    let output = sockeye(&["man", "no-such-command"])
        .output()
        .expect("run sockeye");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("connect"), "{stderr}");

    let dir = TestDir::new("man");
    let out = dir.path().join("man1");
    let listed = run(&["man", "--out", out.to_str().expect("UTF-8 path")]);
    let mut expected: Vec<String> = std::iter::once("sockeye.1".to_owned())
        .chain(names.iter().map(|name| format!("sockeye-{name}.1")))
        .collect();
    expected.sort();
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .expect("read --out DIR")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .into_string()
                .expect("UTF-8")
        })
        .collect();
    files.sort();
    assert_eq!(files, expected);
    assert_eq!(listed.lines().count(), expected.len(), "{listed}");
    let written = std::fs::read_to_string(out.join("sockeye-connect.1")).expect("read the page");
    assert_eq!(written, run(&["man", "connect"]));
}

#[test]
fn every_help_has_examples_of_its_own_command() {
    let mut helps = vec![(String::new(), run(&["--help"]))];
    for name in subcommands() {
        helps.push((name.clone(), run(&[&name, "--help"])));
        helps.push((name.clone(), run(&[&name, "-h"])));
        helps.push((name.clone(), run(&["help", &name])));
    }
    for (name, help) in helps {
        let examples: Vec<&str> = help
            .lines()
            .skip_while(|line| *line != "Examples:")
            .skip(1)
            .take_while(|line| line.starts_with("  "))
            .collect();
        let own = format!("sockeye {name}");
        assert!(
            examples.len() >= 2 && examples.iter().all(|line| line.contains(own.trim_end())),
            "sockeye {name} --help: no Examples section of its own:\n{help}"
        );
    }
}
