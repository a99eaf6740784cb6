"""``python -m databuild_assets.cli``: the same as the ``databuild`` console script (tests
and the fault runners start the CLI this way, with the interpreter under test)."""

from .commands import main

main()
