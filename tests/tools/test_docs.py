"""The README and the docs stand alone on a clone: every picture they show is a tracked file, and
the command-line table is the one the argparse parser gives (tools/cli_table.py)."""
import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pictures(text):
    """The local pictures a Markdown text shows: ![alt](path) and <img src="path">."""
    links = re.findall(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)", text) + re.findall(r"<img\b[^>]*\bsrc=[\"']([^\"']+)", text)
    return [link.split("#")[0] for link in links if not re.match(r"[a-z][a-z0-9+.-]*:", link)]


def test_pictures_are_found_in_markdown():
    text = '![a](x/y.png) ![b]( <z.png> ) <img alt="c" src="w.jpg"> ![d](https://e.org/f.png)'
    assert pictures(text) == ["x/y.png", "z.png", "w.jpg"]


def test_every_picture_the_docs_show_is_a_tracked_file():
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files cannot be listed")
    tracked = set(subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout.split("\0"))
    shown = [(doc, (doc.parent / p).resolve().relative_to(ROOT).as_posix()) for doc in DOCS
             for p in pictures(doc.read_text(encoding="utf-8"))]
    assert shown, "the README shows pictures; none were found: is the pattern broken?"
    missing = [f"{doc.name}: {path}" for doc, path in shown if path not in tracked]
    assert not missing, f"pictures the docs show that a clone does not have (commit them): {missing}"


def test_readme_command_table_is_the_parsers():
    cli_table = _tool("cli_table")
    assert cli_table.readme_table(cli_table.README.read_text(encoding="utf-8")) == cli_table.table(), (
        "the README's command-line table differs from the parser's: run python tools/cli_table.py --write")
