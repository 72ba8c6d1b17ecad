//! `sockeye completions SHELL` and `sockeye man`: shell completion scripts (clap_complete) and
//! roff man pages (clap_mangen), both generated from the same clap definitions as `--help`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use clap_complete::Shell;

use crate::exit::EXIT_USAGE;

/// `sockeye completions`' arguments.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  sockeye completions bash > ~/.local/share/bash-completion/completions/sockeye
  sockeye completions zsh > ~/.zfunc/_sockeye        (with fpath+=~/.zfunc before compinit)
  sockeye completions fish > ~/.config/fish/completions/sockeye.fish
  source <(sockeye completions bash)                 (this shell only)")]
pub(crate) struct CompletionsArgs {
    /// The shell to write a completion script for; the script goes to stdout.
    #[arg(value_enum)]
    pub(crate) shell: Shell,
}

/// `sockeye man`'s arguments.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  sockeye man | man -l -                    (read the page for sockeye)
  sockeye man connect | man -l -            (the page for sockeye connect)
  sockeye man --out ~/.local/share/man/man1 (write sockeye.1, sockeye-connect.1, …)")]
pub(crate) struct ManArgs {
    /// The subcommand whose page to print (its file is sockeye-COMMAND.1); without one, the
    /// page for sockeye itself.
    #[arg(value_name = "COMMAND", conflicts_with = "out")]
    pub(crate) command: Option<String>,
    /// Write every page (sockeye.1 and sockeye-COMMAND.1 for each subcommand) into DIR, created
    /// if missing, instead of printing one; prints the paths written.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
}

/// Writes the completion script of `cmd` (sockeye's, from `flags`) for `args.shell` to stdout.
pub(crate) fn completions(
    args: &CompletionsArgs,
    mut cmd: clap::Command,
) -> anyhow::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "sockeye", &mut script);
    write_stdout(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints one man page of `cmd` (sockeye's, from `flags`) or of a subcommand, or writes them all
/// into `--out DIR`.
pub(crate) fn man(args: &ManArgs, cmd: clap::Command) -> anyhow::Result<ExitCode> {
    // Built, so that each subcommand's display name is `sockeye-COMMAND` (its page's name), and
    // without the `help` subcommand, which has no page of its own.
    let mut top = cmd.disable_help_subcommand(true);
    top.build();
    if let Some(dir) = &args.out {
        for path in write_all(&top, dir)? {
            write_stdout(format!("{}\n", path.display()).as_bytes())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let cmd = match &args.command {
        None => top,
        Some(name) => match top.find_subcommand(name) {
            Some(sub) => sub.clone(),
            None => {
                let names: Vec<&str> = top.get_subcommands().map(|sub| sub.get_name()).collect();
                note!(
                    "error: no subcommand {name:?}; man pages exist for: {}",
                    names.join(", ")
                );
                return Ok(ExitCode::from(EXIT_USAGE));
            }
        },
    };
    write_stdout(&render(&page(cmd))?)?;
    Ok(ExitCode::SUCCESS)
}

/// The roff of `man`. clap_mangen heads the text after the options (`after_help`: the
/// examples and notes) "EXTRA"; it is called NOTES here, a usual man page section. Text lines
/// never start with `.SH` (roff escapes a leading dot), so only the heading is renamed.
fn render(man: &clap_mangen::Man) -> anyhow::Result<Vec<u8>> {
    let mut roff = Vec::new();
    man.render(&mut roff).context("rendering a man page")?;
    let roff = String::from_utf8(roff).context("a man page in UTF-8")?;
    Ok(roff
        .replacen("\n.SH EXTRA\n", "\n.SH NOTES\n", 1)
        .into_bytes())
}

/// The man page of `cmd`, in section 1, from this version of sockeye.
fn page(cmd: clap::Command) -> clap_mangen::Man {
    clap_mangen::Man::new(cmd)
        .source(format!("sockeye {}", env!("CARGO_PKG_VERSION")))
        .manual("User Commands")
}

/// Writes the page of `top` and of each of its subcommands into `dir`; returns their paths.
fn write_all(top: &clap::Command, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    let pages = std::iter::once(top).chain(top.get_subcommands().filter(|sub| !sub.is_hide_set()));
    for cmd in pages {
        let man = page(cmd.clone());
        let path = dir.join(man.get_filename());
        std::fs::write(&path, render(&man)?)
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Writes `bytes` to stdout; a closed pipe (`sockeye man | head`) is not an error.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(err).context("writing to stdout")
        }
        _ => Ok(()),
    }
}
