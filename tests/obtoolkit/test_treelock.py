from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from obtoolkit.treelock import LOCK_NAME, TreeLockedError, holder_alive, lock_tree, read_holder

HOLD = "from obtoolkit.treelock import lock_tree; import sys, time\nwith lock_tree(sys.argv[1], 'holder'):\n" \
       "    print('locked', flush=True); time.sleep(60)"


def test_a_held_tree_refuses_a_second_writer_naming_the_first(tmp_path):
    with lock_tree(tmp_path, "obh generate a b") as holder:
        assert read_holder(tmp_path) == holder and holder_alive(tmp_path, holder)
        expected = f"pid {holder.pid} on {holder.host}, running `obh generate a b` since {holder.since}"
        with pytest.raises(TreeLockedError, match=re.escape(expected)):
            with lock_tree(tmp_path):
                pass
    assert read_holder(tmp_path) is None and not holder_alive(tmp_path, holder)
    with lock_tree(tmp_path) as again:  # released: the next run takes it, under a new token
        assert again.token != holder.token and not holder_alive(tmp_path, holder)


def test_the_lock_of_a_killed_holder_is_free_at_once(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "locked"
        with pytest.raises(TreeLockedError, match=f"pid {process.pid}"):
            with lock_tree(tmp_path):
                pass
    finally:
        process.kill()
        process.wait()
    assert read_holder(tmp_path).pid == process.pid  # its record stays in the file ...
    start = time.monotonic()
    with lock_tree(tmp_path):  # ... but the kernel dropped its lock
        assert time.monotonic() - start < 1.0
    assert (tmp_path / LOCK_NAME).is_file()
