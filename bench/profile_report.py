"""Summarise py-spy raw profiles (`bench/run.py --profile DIR`): where a server's time goes.

`python bench/profile_report.py DIR/*.txt [--top N]` prints the frames with the most samples, by
self time and inclusive time, as file:function and share of all samples (idle included: py-spy
runs with --nonblocking, and a server waiting in epoll shows as EpollSelector.select).
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

LINE_NO = re.compile(r":\d+\)$")


def load(paths: list[Path]) -> tuple[collections.Counter[str], collections.Counter[str], int]:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = [LINE_NO.sub(")", f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
            for frame in set(frames):
                inclusive[frame] += n
            if frames:
                own[frames[-1]] += n
    return own, inclusive, total


def short(frame: str) -> str:
    """`func (path/to/site-packages/pkg/mod.py)` → `pkg/mod.py:func`."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{where}:{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    own, inclusive, total = load(args.paths)
    print(f"{total} samples")
    print("-- self")
    for frame, n in own.most_common(args.top):
        print(f"{n / total * 100:5.1f} %  {short(frame)}")
    print("-- inclusive")
    for frame, n in inclusive.most_common(args.top):
        print(f"{n / total * 100:5.1f} %  {short(frame)}")


if __name__ == "__main__":
    main()
