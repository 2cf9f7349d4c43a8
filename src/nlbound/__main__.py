"""`python -m nlbound` runs the command line."""

import sys

from nlbound.cli.main import main

sys.exit(main())
