//! Progress as a user sees it: one plain line per case when stderr is a pipe (a CI log), and a
//! clock that ticks while a case runs on a terminal.

mod common;
use common::*;
use std::process::Command;

#[test]
fn piped_stderr_gets_one_line_per_case_as_it_ends() {
    let out = tempfile::tempdir().unwrap();
    let (o, run) = run_into(
        out.path(),
        &["scenario", "floor", "--quick", "--filter", "floor/memcpy/*", "--no-report"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let ids: Vec<String> =
        cases(&run.unwrap()).iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    let err = stderr(&o);
    // `[ 2/6] floor/memcpy/64  ok  12.3 GB/s  51 ms  ETA 0s`
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(lines.len(), ids.len(), "{err}");
    for (k, (line, id)) in lines.iter().zip(&ids).enumerate() {
        let n = format!("{}/{}]", k + 1, ids.len());
        assert!(line.contains(&n), "{line} lacks {n}");
        assert!(line.contains(&format!(" {id}  ok  ")), "{line} lacks {id}");
        assert!(line.contains("B/s") && line.contains("ETA "), "{line}");
    }
    assert!(!err.contains('\x1b'), "escape codes in a log: {err:?}");
}

/// Text a terminal would show, without colour and cursor codes, split into the frames the bar
/// drew (each redraw starts at a carriage return or a new line).
fn frames(raw: &str) -> Vec<String> {
    let mut text = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters final-letter. Colours (`m`) are dropped; cursor moves and
            // erases end a frame.
            let mut last = ' ';
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        last = d;
                        break;
                    }
                }
            }
            if last != 'm' {
                text.push('\n');
            }
        } else {
            text.push(c);
        }
    }
    text.split(['\r', '\n']).map(str::to_string).collect()
}

#[test]
fn the_clock_ticks_while_a_case_runs_on_a_terminal() {
    if try_output_within(Command::new("script").arg("--version"), QUICK_LIMIT).is_err() {
        eprintln!("skipped: `script` (util-linux) is needed to give ipcbench a pseudo-terminal");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    // One case measured for 2 s: the bar draws on its own only when the case starts and ends,
    // so a frame showing a clock past 1 s with 0 of 1 done was drawn by the tick.
    let cmd = format!(
        "{} scenario pingpong --transport pipe --size 64 --process fork --duration 2s \
         --no-report --out {}",
        env!("CARGO_BIN_EXE_ipcbench"),
        out.path().display()
    );
    let o = output_within(Command::new("script").args(["-qefc", &cmd, "/dev/null"]), RUN_LIMIT);
    let raw = String::from_utf8_lossy(&o.stdout).to_string();
    let err = stderr(&o);
    if !o.status.success() && !out.path().join("latest.json").exists() {
        // A container without /dev/pts (or /dev/ptmx) has no pseudo-terminal to give.
        let no_pty = format!("{raw}{err}").to_lowercase();
        if ["pseudo-terminal", "openpty", "/dev/pts", "ptmx"].iter().any(|w| no_pty.contains(w)) {
            println!("SKIPPED: `script` cannot open a pseudo-terminal here: {}", err.trim());
            return;
        }
    }
    assert!(o.status.success(), "{raw}\n{err}");
    let frames = frames(&raw);
    // The run's clock (`HH:MM:SS`) past 1 s with the case not done: whenever the ticks came on
    // a busy host, one came while the case ran, between 1 s and its end.
    let past_a_second = |f: &str| {
        f.split_whitespace().any(|w| {
            let p: Vec<&str> = w.split(':').collect();
            p.len() == 3
                && p.iter().all(|x| x.len() == 2 && x.bytes().all(|b| b.is_ascii_digit()))
                && w != "00:00:00"
        })
    };
    let ticked =
        frames.iter().any(|f| past_a_second(f) && f.contains(" 0/1 ") && f.contains("ETA"));
    assert!(ticked, "no frame drawn while the case ran past 1 s: {frames:#?}");
}
