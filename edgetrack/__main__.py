"""``python -m edgetrack``: the operator CLI."""

from edgetrack.cli import main

main()
