"""``python -m gitboard`` runs the command line.

``python -m gitboard hook-impl pre-receive`` (what the installed hook runs) goes straight to
:func:`gitboard.store.hooks.pre_receive_main`, without loading the command line (typer): a
push waits for it.
"""

import sys

if __name__ == "__main__":
    if sys.argv[1:3] == ["hook-impl", "pre-receive"]:
        from gitboard.store.hooks import pre_receive_main

        sys.exit(pre_receive_main())
    from gitboard.cli.main import main

    main()
