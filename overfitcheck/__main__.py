"""`python -m overfitcheck`: the same command line as the `overfitcheck` script."""

from .entry import main

main()
