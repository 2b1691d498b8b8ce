"""`python -m app.settings`: print the settings tables as Markdown, write them into a file, or check the settings.

python -m app.settings                       # the tables, as Markdown
python -m app.settings --write README.md     # the tables, between the file's markers
python -m app.settings --check "pixline web" # this environment's settings: one line per bad one, exit status 2
"""

import argparse
from pathlib import Path

from app.settings import exit_on_config_error, read
from app.settings.markdown import render_markdown, write


def main() -> None:
    """Print the tables, write them into a file between its markers, or check this environment's settings."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", type=Path, default=None, help="A Markdown file with the settings markers.")
    parser.add_argument("--check", metavar="PROGRAM", default=None, help="Check the settings; lines start PROGRAM:.")
    args = parser.parse_args()
    if args.check is not None:
        with exit_on_config_error(args.check):
            read()
    elif args.write is not None:
        write(args.write)
    else:
        print(render_markdown(), end="")


if __name__ == "__main__":
    main()
