"""``python -m lifecycle``."""

from lifecycle.cli import main

main()
