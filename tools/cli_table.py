"""The README's command-line table, made from the argparse parser itself so that it cannot drift
from what `vrnfast` accepts: one row per subcommand, its synopsis (every option, with its choices)
and its help line.

    python tools/cli_table.py            # print the table
    python tools/cli_table.py --write    # replace the table between the README's markers

tests/tools/test_docs.py checks that the README holds exactly this table.
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- cli-table: made by tools/cli_table.py -->", "<!-- /cli-table -->"


def _subcommands(parser):
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {c.dest: c.help for c in sub._choices_actions}
    return [(name, p, helps.get(name, "")) for name, p in sub.choices.items()]


def _argument(action) -> str:
    """One argument as the synopsis shows it: required ones bare, optional ones in brackets."""
    if not action.option_strings:  # a positional
        name = action.metavar or ("|".join(action.choices) if action.choices else action.dest.upper())
        return f"{name}..." if action.nargs in ("+", "*") else name
    flag = action.option_strings[0]
    if action.nargs == 0:  # store_true / store_false
        text = flag
    else:
        if action.choices:
            value = "|".join(map(str, action.choices))
        elif isinstance(action.metavar, tuple):
            value = " ".join(action.metavar)
        else:
            value = action.metavar or action.dest.upper()
        text = f"{flag} {value}"
    return text if action.required else f"[{text}]"


def synopsis(name, parser) -> str:
    args = [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]
    positional = [a for a in args if not a.option_strings]
    return " ".join([f"vrnfast {name}"] + [_argument(a) for a in positional + [a for a in args if a.option_strings]])


def table(parser=None) -> str:
    if parser is None:
        from vrnfast.cli import build_parser

        parser = build_parser()
    rows = ["| command | does |", "| --- | --- |"]
    for name, sub, help_text in _subcommands(parser):
        command = synopsis(name, sub).replace("|", "\\|")  # a bar inside a table cell is escaped
        rows.append(f"| `{command}` | {help_text} |")
    return "\n".join(rows)


def readme_table(text: str) -> str:
    """The table between the README's markers."""
    if START not in text or END not in text:
        raise SystemExit(f"README.md has no {START} ... {END} markers")
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def main(argv):
    if argv == ["--write"]:
        text = README.read_text()
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        README.write_text(f"{before}{START}\n{table()}\n{END}{after}")
        print(f"wrote the command-line table into {README}")
    elif not argv:
        print(table())
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
