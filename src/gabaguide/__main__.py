"""``python -m gabaguide`` runs the command line."""

from gabaguide.cli import main

main()
