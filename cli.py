"""`python cli.py ...` from a checkout, without installing: the same as the `oldfilm` command."""
import sys

from oldfilm.cli import main

if __name__ == "__main__":
    sys.exit(main())
