import json
import subprocess
import sys
import threading

import pytest

from minuet.models import heap, retained_heap


class FakeLibc:
    """Records the mallopt and malloc_trim calls a real glibc would get."""

    def __init__(self):
        self.calls = []

    def mallopt(self, parameter, value):
        self.calls.append(("mallopt", parameter, value))
        return 1

    def malloc_trim(self, pad):
        self.calls.append(("malloc_trim", pad))
        return 1


@pytest.fixture
def libc(monkeypatch):
    fake = FakeLibc()
    monkeypatch.setattr(heap, "_glibc", lambda: fake)
    monkeypatch.delenv("MINUET_RETAIN_HEAP", raising=False)
    yield fake
    assert heap._depth == 0


SET = [("mallopt", -3, 32 << 20), ("mallopt", -1, 1 << 30)]
RESTORE = [("mallopt", -1, 64 << 20), ("malloc_trim", 0)]


def test_thresholds_are_set_inside_and_restored_on_exit(libc):
    with retained_heap():
        assert libc.calls == SET
    assert libc.calls == SET + RESTORE


def test_nested_uses_set_once_and_restore_after_the_outermost(libc):
    with retained_heap():
        with retained_heap():
            pass
        assert libc.calls == SET
        with retained_heap():
            pass
        assert libc.calls == SET
    assert libc.calls == SET + RESTORE


def test_restored_when_the_block_raises(libc):
    with pytest.raises(RuntimeError, match="boom"), retained_heap():
        raise RuntimeError("boom")
    assert libc.calls == SET + RESTORE


def test_concurrent_uses_share_one_setting(libc):
    inside = threading.Barrier(3)

    def work():
        with retained_heap():
            inside.wait()
            inside.wait()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    with retained_heap():
        inside.wait()  # all three are inside
        assert libc.calls == SET
        inside.wait()
    for thread in threads:
        thread.join()
    assert libc.calls == SET + RESTORE


@pytest.mark.parametrize("value", ["0", "false", "No"])
def test_environment_variable_opts_out(libc, monkeypatch, value):
    monkeypatch.setenv("MINUET_RETAIN_HEAP", value)
    with retained_heap():
        pass
    assert libc.calls == []


def test_does_nothing_without_glibc(monkeypatch):
    monkeypatch.setattr(heap.sys, "platform", "darwin")
    assert heap._glibc() is None
    with retained_heap():
        pass
    assert heap._depth == 0


_FAULTS = """
import json, resource, torch
from minuet.models import retained_heap

def faults(rounds=6):
    # minor page faults while four 24 MiB tensors are made and freed in turn
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(rounds):
        buffers = [torch.empty(6 << 20).fill_(1.0) for _ in range(4)]
        del buffers
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

outside = faults()
with retained_heap():
    faults(rounds=1)  # the first round takes the memory
    inside = faults()
print(json.dumps([outside, inside, resource.getpagesize()]))
"""


@pytest.mark.skipif(heap._glibc() is None, reason="the retained heap acts on glibc only")
def test_freed_buffers_are_not_faulted_in_again(monkeypatch):
    # in a fresh process, so that glibc's thresholds are its defaults outside
    monkeypatch.delenv("MINUET_RETAIN_HEAP", raising=False)
    run = subprocess.run([sys.executable, "-c", _FAULTS], capture_output=True, text=True,
                         check=True)
    outside, inside, _ = json.loads(run.stdout.splitlines()[-1])
    # outside, every round faults its buffers in afresh (fewer faults where the
    # kernel maps transparent huge pages); inside, almost none are
    assert outside > 6 * 4 * 4 * (6 << 20) // (2 << 20)  # at least one fault per 2 MiB
    assert inside < outside / 20
