"""`hdmigrate ARGV` run in this process (for the scripts that watch it from inside): its exit code."""

from __future__ import annotations


def run_cli(argv: list[str]) -> int:
    from hdmigrate.commands.cli import cli
    try:
        cli.main(args=argv, prog_name="hdmigrate")
    except SystemExit as e:
        return 0 if e.code is None else e.code if isinstance(e.code, int) else 1
    return 0
