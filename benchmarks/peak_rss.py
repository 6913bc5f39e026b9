"""Peak resident memory of a command (the embedded models run inside the process that
uses them, so this is the whole footprint).

    python benchmarks/peak_rss.py adaswitch ask "Tom has 3 apples and buys 5 more."
"""

from __future__ import annotations

import resource
import subprocess
import sys


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        f"exit {done.returncode}; peak RSS {peak_kib / 1024:.0f} MB ({peak_kib / 1024**2:.2f} GiB)"
    )


if __name__ == "__main__":
    main()
