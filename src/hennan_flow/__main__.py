"""`python -m hennan_flow` is the `hennan-flow` command."""

from .cli import main

if __name__ == "__main__":
    main()
