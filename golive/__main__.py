"""``python -m golive``: the same as the ``golive`` command."""

from .bot.cli import main

main()
