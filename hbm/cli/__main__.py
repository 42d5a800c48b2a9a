"""``python -m hbm.cli``: the same as the ``hbm`` command."""

import sys

from hbm.cli import main

sys.exit(main())
