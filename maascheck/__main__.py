"""`python -m maascheck` runs the CLI."""

import sys

from maascheck.cli import main

sys.exit(main())
