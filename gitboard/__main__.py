"""``python -m gitboard`` runs the command line."""

from gitboard.cli.main import main

if __name__ == "__main__":
    main()
