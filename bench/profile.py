"""`make bench-profile`: where a message's time goes inside the Rasa server (bench/turn_profile.py).

Starts an action server (and an idle stack around it, the embedded defaults in a temporary VAR_DIR,
ports 5605-5695) and runs the runtime-A profiler against it. `--postgres URL` keeps the
conversations in PostgreSQL instead of SQLite; every other argument goes to the profiler.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile

from bot.devtools.devstack import ROOT, Ports, Stack
from bot.devtools.launcher import prepare_database
from bot.settings import Settings

PROFILER = ROOT / ".venv-rasa" / "bin" / "python"


def main() -> None:
    """Start the services the profiler needs, run it, stop them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL URL for the conversations (default: SQLite)")
    args, rest = parser.parse_known_args()
    with tempfile.TemporaryDirectory() as var_dir:
        env: dict[str, str | None] = {"VAR_DIR": var_dir, "DATABASE_URL": args.postgres, "REDIS_URL": None}
        prepare_database(Settings.from_env({k: v for k, v in env.items() if v}))
        stack = Stack(Ports(5605, 5655, 5680, 5690), env=env, simulator=True, desk=False)
        print("starting an action server ...", flush=True)
        stack.start()
        try:
            profiler_env = {**os.environ, **{k: str(v) for k, v in stack.env.items() if v is not None}}
            command = [str(PROFILER), "-m", "bench.turn_profile", *[a for a in rest if a != "--"]]
            subprocess.run(command, cwd=ROOT, env=profiler_env, check=True)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
