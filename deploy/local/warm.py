"""Run a service's console script in two steps: import it now, call it when told.

The launcher keeps one such process ready beside each service process (`--warm-spares`): when
the service dies, the spare is told to go and works within a second, while on a busy box a
cold start spends many seconds importing. Usage: warm.py <console script name>; one line on
stdin starts it, end of input stops it.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points


def main() -> int:
    """Load the entry point, wait for the word, run it as its own script would."""
    name = sys.argv[1]
    (script,) = entry_points(group="console_scripts", name=name)
    run = script.load()  # the imports: the cost a cold restart pays while nothing works
    if not sys.stdin.readline():  # end of input without a word: the launcher is stopping
        return 0
    sys.argv = [name]
    run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
