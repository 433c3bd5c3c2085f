"""``python -m ipt_measures`` runs the ``ipt`` command line."""

from .cli import main

main()
