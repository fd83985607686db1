"""Keep a training process's resident memory near what it uses.

Batches of varying shape make the CPU allocator ask glibc's malloc for blocks of
ever-changing sizes. glibc serves large blocks with mmap (returned to the system on
free) only below a threshold that it raises each time such a block is freed, up to
32 MB; past that, tensors come from the heap, whose holes are kept, and the resident
size grows epoch after epoch (CoNLL-2003 tagger, batch 32: 850 MB after one epoch,
1,020 MB after four). Fixing the threshold at 64 KB stops the drift at the same
speed (580 MB after one epoch, 656 MB after two: `bench-defaults` reports peak RSS)."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
THRESHOLD = 64 * 1024


def limit_heap_growth() -> bool:
    """Fix glibc's mmap threshold (a fixed threshold also turns off its growth). False
    where there is no glibc (macOS, Windows, musl): nothing to do there."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD))
