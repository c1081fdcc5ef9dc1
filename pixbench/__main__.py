"""``python -m pixbench`` runs the command line."""

from pixbench.cli import main

if __name__ == "__main__":
    main()
