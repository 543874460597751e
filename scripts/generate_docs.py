#!/usr/bin/env python3
"""Writes the options tables of README.md and docs/*.md from the commands' own help, so that
they cannot drift from the command line.

A generated part sits between two markers that name the command whose help it shows:

    <!-- generated from: mnist-ddp train --help -->
    ...
    <!-- end of generated part -->

`mnist-ddp SUBCOMMAND... --help` becomes a table (option, default, meaning) read from the
argument parser's own description of the command (`--experimental-dump-help`, the source of
`--help` itself); `scripts/NAME --help` becomes that script's help text as a code block.

    scripts/generate_docs.py            rewrite the generated parts in place
    scripts/generate_docs.py --check    change nothing; exit 1 naming each part that differs
    --binary PATH                       the mnist-ddp to ask (default: .build/release/mnist-ddp)
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN = re.compile(r"<!-- generated from: (?P<command>[^>]+?) -->\n")
END = "<!-- end of generated part -->"


def documents():
    return [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))


def cell(text):
    """Text as one Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def option_table(binary, subcommands):
    info = json.loads(subprocess.run(
        [binary, *subcommands, "--experimental-dump-help"], check=True, capture_output=True, text=True).stdout)
    rows = ["| option | default | meaning |", "|---|---|---|"]
    for argument in info["command"].get("arguments", []):
        names = argument.get("names", [])
        if not argument.get("shouldDisplay", True) or any(n["name"] in ("help", "version") for n in names):
            continue
        spelled = ", ".join(("--" if n["kind"] == "long" else "-") + n["name"] for n in names)
        if argument["kind"] == "positional":
            spelled = argument["valueName"].upper()
        elif argument["kind"] == "option":
            spelled += " <" + argument["valueName"] + ">"
        if argument.get("isRepeating"):
            spelled += " …"
        default = argument.get("defaultValue")
        default = "`" + default + "`" if default else "off" if argument["kind"] == "flag" else "—"
        rows.append("| `" + cell(spelled) + "` | " + cell(default) + " | " + cell(argument.get("abstract", "")) + " |")
    if len(rows) == 2:
        raise SystemExit(f"generate_docs: mnist-ddp {' '.join(subcommands)} has no options of its own; name a subcommand")
    return "\n".join(rows) + "\n"


def script_help(script):
    text = subprocess.run([str(ROOT / script), "--help"], check=True, capture_output=True, text=True).stdout
    return "```\n" + text.rstrip("\n") + "\n```\n"


def generated(command, binary):
    words = command.split()
    if words[0] == "mnist-ddp" and words[-1] == "--help":
        return option_table(binary, words[1:-1])
    if words[0].startswith("scripts/") and words[1:] == ["--help"]:
        return script_help(words[0])
    raise SystemExit(f"generate_docs: cannot generate from '{command}'")


def regenerate(text, binary):
    parts, position = [], 0
    for begin in BEGIN.finditer(text):
        end = text.index(END, begin.end())
        parts += [text[position:begin.end()], generated(begin["command"], binary)]
        position = end
    return "".join(parts) + text[position:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a part differs")
    parser.add_argument("--binary", default=str(ROOT / ".build/release/mnist-ddp"))
    arguments = parser.parse_args()
    stale = []
    for document in documents():
        text = document.read_text()
        fresh = regenerate(text, arguments.binary)
        if fresh == text:
            continue
        if arguments.check:
            stale.append(str(document.relative_to(ROOT)))
        else:
            document.write_text(fresh)
            print(f"generate_docs: rewrote {document.relative_to(ROOT)}")
    if stale:
        print("generate_docs: out of date with --help (run scripts/generate_docs.py): " + ", ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
