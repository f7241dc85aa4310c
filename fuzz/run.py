"""``make fuzz``: every target under atheris (coverage-guided), for a while each.

    python -m fuzz.run [SECONDS_PER_TARGET] [TARGET ...]
"""

from __future__ import annotations

import subprocess
import sys

from fuzz.targets import TARGETS

CHILD = """
import sys, atheris
with atheris.instrument_imports():
    from fuzz.targets import TARGETS
atheris.Setup([sys.argv[0], "-max_total_time=" + sys.argv[2], "-rss_limit_mb=2048"],
              TARGETS[sys.argv[1]])
atheris.Fuzz()
"""


def main() -> int:
    seconds = sys.argv[1] if len(sys.argv) > 1 else "60"
    names = sys.argv[2:] or list(TARGETS)
    failed = []
    for name in names:
        print(f"== fuzzing {name} for {seconds} s", flush=True)
        result = subprocess.run([sys.executable, "-c", CHILD, name, seconds], check=False)
        if result.returncode:
            failed.append(name)
    print("failed: " + ", ".join(failed) if failed else "no failures")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
