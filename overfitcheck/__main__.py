"""`python -m overfitcheck`: the same command line as the `overfitcheck` script."""

from .cli import main

main()
