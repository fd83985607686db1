"""`limit_heap_growth` fixes glibc's mmap threshold on Linux: after it, a freed large
tensor goes back to the system (the resident size falls), which is what keeps a long
training run's RSS from drifting."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHILD = """
import sys
from rnn_cli.training.memory import limit_heap_growth
if sys.argv[1] == "fixed":
    assert limit_heap_growth()
import torch

def rss_mb():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024

# glibc raises its threshold each time an mmapped block is freed: after one 8 MB block
# comes and goes, the next ones of that size come from the heap and stay resident.
for _ in range(3):
    x = torch.ones(2 * 1024 * 1024)  # 8 MB
    del x
base = rss_mb()
blocks = [torch.ones(2 * 1024 * 1024) for _ in range(8)]  # 64 MB
keep = torch.ones(16)  # allocated last: heap memory below it cannot be trimmed
del blocks
print(rss_mb() - base)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_tensors_leave_the_resident_set_with_the_fix() -> None:
    def held(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True)
        return int(out.stdout.strip())

    assert held("fixed") < 16  # MB still resident after freeing 64 MB
    assert held("default") >= 48  # the drift the fix removes (so this test can fail)
