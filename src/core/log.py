"""Progress output: one flushed line per event, with elapsed seconds.

Under torchrun only rank 0 logs (src/core/ranks.py): the other ranks run the same steps and
would repeat every line; their errors still reach stderr as tracebacks or `error:` lines."""
import sys
import time

from src.core import ranks

_T0 = time.perf_counter()


def log(msg: str) -> None:
    if not ranks.is_main():
        return
    print(f"[{time.perf_counter() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)
