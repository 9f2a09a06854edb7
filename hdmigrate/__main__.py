"""`python -m hdmigrate` is the `hdmigrate` command."""

from hdmigrate.commands.cli import main

main()
