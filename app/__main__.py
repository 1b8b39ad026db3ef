"""`python -m app ...` is the same as the `chatcentre` command."""

from app.cli import main

main()
