"""``python -m resattn_min COMMAND``: the command line (``resattn_min.cli``)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
