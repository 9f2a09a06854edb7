"""`python -m hdmigrate` is the `hdmigrate` command."""

from hdmigrate.cli import main

main()
