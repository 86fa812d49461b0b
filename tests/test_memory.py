"""The available memory (system and control groups), the estimate of what trials
at once need, and the default n_jobs that stays within it."""

import os
import subprocess
import sys
import textwrap
import time
import uuid
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification

import autoimb
import autoimb.search.memory
import autoimb.search.processes
import autoimb.search.trials
from autoimb.search.memory import available_mb, data_mb, needed_mb, trials_that_fit
from autoimb.search.processes import resolve_n_jobs

MB = 2 ** 20


def _files(tmp_path, *, meminfo_mb=None, cgroup="", groups=()):
    """Fake /proc/meminfo, /proc/self/cgroup and a /sys/fs/cgroup tree: groups
    are (relative folder, file name, text)."""
    meminfo = tmp_path / "meminfo"
    lines = ["MemTotal:       24683792 kB"]
    if meminfo_mb is not None:
        lines.append(f"MemAvailable:   {meminfo_mb * 1024} kB")
    meminfo.write_text("\n".join(lines) + "\n")
    (tmp_path / "cgroup").write_text(cgroup)
    root = tmp_path / "sys"
    for folder, name, text in groups:
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / name).write_text(text + "\n")
    return {"meminfo": str(meminfo), "cgroup": str(tmp_path / "cgroup"),
            "root": str(root)}


def test_available_is_the_system_memory_without_a_limit(tmp_path):
    """Check that without a control group limit the available memory is the
    system's MemAvailable, and None when nothing can be read."""
    paths = _files(tmp_path, meminfo_mb=5000, cgroup="4:memory:/\n0::/\n",
                   groups=[("memory", "memory.limit_in_bytes", str(2 ** 63 - 4096)),
                           ("memory", "memory.usage_in_bytes", str(700 * MB))])
    assert available_mb(**paths) == 5000
    assert available_mb(meminfo=str(tmp_path / "none"), cgroup=str(tmp_path / "none"),
                        root=str(tmp_path)) is None
    # A line it cannot read is skipped, not a reason for fit to fail.
    (tmp_path / "cgroup").write_text("garbage\n4:memory\n0::/../x\n")
    assert available_mb(**paths) == 5000


def test_available_is_the_room_under_the_tightest_v1_group(tmp_path):
    """Check that a cgroup v1 limit on the process's group, or on a group above
    it, leaves only its room (limit minus usage)."""
    paths = _files(tmp_path, meminfo_mb=20000,
                   cgroup="9:cpu:/x\n4:memory:/docker/abc\n",
                   groups=[("memory/docker", "memory.limit_in_bytes", str(3000 * MB)),
                           ("memory/docker", "memory.usage_in_bytes", str(2000 * MB)),
                           ("memory/docker/abc", "memory.limit_in_bytes",
                            str(2 ** 63 - 4096)),
                           ("memory/docker/abc", "memory.usage_in_bytes",
                            str(500 * MB))])
    assert available_mb(**paths) == 1000  # the parent's 3000 - 2000
    paths = _files(tmp_path, meminfo_mb=800)
    assert available_mb(**paths) == 800  # the system has less


def test_available_is_the_room_under_a_v2_limit(tmp_path):
    """Check cgroup v2: "max" is no limit, a number is one."""
    paths = _files(tmp_path, meminfo_mb=20000, cgroup="0::/user.slice/job\n",
                   groups=[("user.slice", "memory.max", str(1200 * MB)),
                           ("user.slice", "memory.current", str(200 * MB)),
                           ("user.slice/job", "memory.max", "max"),
                           ("user.slice/job", "memory.current", str(150 * MB))])
    assert available_mb(**paths) == 1000
    # The page cache it would drop first is not counted as used.
    (tmp_path / "sys" / "user.slice" / "memory.stat").write_text(
        f"anon 1000\nfile {150 * MB}\ninactive_file {100 * MB}\n")
    assert available_mb(**paths) == 1100


def test_available_memory_of_this_machine():
    """Check the real figures: positive and no more than the machine has."""
    room = available_mb()
    if room is None:
        pytest.skip("no /proc/meminfo here")
    total_kb = int(Path("/proc/meminfo").read_text().split()[1])
    assert 0 < room <= total_kb / 1024


def _memory_cgroup(limit_mb):
    """A new cgroup (v1 memory or v2) limited to ``limit_mb``, or a skip."""
    if os.geteuid() != 0:
        pytest.skip("creating a control group needs root")
    name = f"autoimb-test-{uuid.uuid4().hex[:8]}"
    for base, limit_file in ((Path("/sys/fs/cgroup/memory"), "memory.limit_in_bytes"),
                             (Path("/sys/fs/cgroup"), "memory.max")):
        if not (base / limit_file).exists() and not (base / "cgroup.procs").exists():
            continue
        folder = base / name
        try:
            folder.mkdir()
            (folder / limit_file).write_text(str(limit_mb * MB))
        except OSError:
            if folder.exists():
                folder.rmdir()
            continue
        return folder
    pytest.skip("no writable memory control group here")


def _run_in(folder, code, cwd=None):
    """Run Python ``code`` in the control group ``folder`` (and in the folder
    ``cwd``); its stdout."""
    script = f"import os; open({str(folder / 'cgroup.procs')!r}, 'w').write(" \
             "str(os.getpid()))\n" + textwrap.dedent(code)
    try:
        result = subprocess.run([sys.executable, "-c", script], capture_output=True,
                                text=True, timeout=120, cwd=cwd)
    finally:
        for _ in range(50):  # empty once a worker process left behind has exited
            try:
                folder.rmdir()
                break
            except OSError:
                time.sleep(0.2)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_available_memory_in_a_real_control_group():
    """Check, in a real control group limited to 300 MB, that a process sees
    at most that limit minus what it uses."""
    folder = _memory_cgroup(300)
    out = _run_in(folder, "from autoimb.search.memory import available_mb\n"
                          "print(available_mb())")
    assert 0 <= float(out) < 300


def test_a_fit_in_a_small_container_runs_one_trial_at_a_time(tmp_path):
    """Check, end to end in a real control group of 350 MB, that the default
    n_jobs runs one trial at a time where a worker process would not fit,
    says so, and the fit completes."""
    if joblib.cpu_count() < 2:
        pytest.skip("one core: the default runs one trial at a time anyway")
    folder = _memory_cgroup(350)
    out = _run_in(folder, """
        import warnings
        from sklearn.datasets import make_classification
        import autoimb
        X, y = make_classification(n_samples=400, weights=[0.9], random_state=0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = autoimb.fit(X, y, search_space="fast", timeout=30, n_trials=2,
                                cv=3, show_progress_bar=False, random_state=0,
                                storage=None, study_name="small-container")
        print(model.n_jobs_, int((model.results_["state"] == "COMPLETE").sum()))
        print([str(w.message) for w in caught if "n_jobs=None" in str(w.message)])
    """, cwd=tmp_path)
    jobs, completed = out.splitlines()[0].split()
    assert (int(jobs), int(completed) >= 2) == (1, True)
    assert "runs 1 trial at a time here instead of" in out
    assert "MB available) a search plans to use. Pass n_jobs=2" in out


def test_data_size():
    """Check the data's size in MB, strings counted."""
    assert data_mb(np.zeros((1024, 256))) == 2.0
    frame = pd.DataFrame({"a": np.zeros(1024 * 128), "b": ["some text"] * (1024 * 128)})
    assert data_mb(frame) > 2.0  # 1 MB of floats and more than 1 MB of strings
    assert data_mb([[1, 2], [3, 4]]) is None
    assert data_mb(pd.Series(np.zeros(1024 * 128))) == 1.0


def test_a_series_as_X_is_still_refused_clearly():
    """Check that sizing the data for n_jobs does not change the error for a
    one-dimensional X."""
    X, y = make_classification(n_samples=200, weights=[0.9], random_state=0)
    with pytest.raises(autoimb.AutoImbError, match="2-dimensional"):
        autoimb.fit(pd.Series(X[:, 0]), y, timeout=30, storage="memory")


@pytest.mark.parametrize(("data", "available", "expected"), [
    (10.0, 100_000.0, 4),
    (10.0, 1_000.0, 3),   # 4 at once need 1,040 MB, 3 need 730; 80 % of 1,000: 800
    (100.0, 1_000.0, 1),
])
def test_trials_that_fit(data, available, expected):
    """Check the most trials at once within 80 % of the available memory."""
    assert trials_that_fit(4, data, available) == expected
    assert needed_mb(expected, data) <= 0.8 * available or expected == 1


@pytest.fixture
def machine(monkeypatch):
    """Give this machine ``cores`` cores and ``available`` MB of free memory."""
    def make(cores, available):
        monkeypatch.setattr(autoimb.search.processes, "_cores", lambda: cores)
        monkeypatch.setattr(autoimb.search.memory, "available_mb", lambda: available)
    return make


def test_default_n_jobs_stays_within_memory(machine):
    """Check that the default n_jobs on 8 cores runs fewer trials where the
    memory would not hold 4 processes, and says why and what to pass."""
    machine(8, 1_000.0)
    with pytest.warns(autoimb.AutoImbWarning, match=(
            r"n_jobs=None runs 3 trials at a time here instead of 4: 4 at once, each "
            r"worker process with its own copy of the 10 MB of data, would take about "
            r"1,040 MB, more than the 800 MB \(80% of the 1,000 MB available\) a "
            r"search plans to use. Pass n_jobs=4 to run them anyway, or n_jobs=3 to "
            r"silence this warning.")):
        assert resolve_n_jobs(None, timeout=60, data_mb=10.0) == 3
    machine(8, 100.0)
    with pytest.warns(autoimb.AutoImbWarning, match=r"runs 1 trial at a time here "
                      r"instead of 4: .* copy of the 0.3 MB of data"):
        assert resolve_n_jobs(None, timeout=60, data_mb=0.31) == 1
    machine(8, 1_000.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_n_jobs(None, timeout=60, data_mb=0.1) == 4
        assert resolve_n_jobs(None, timeout=60) == 4  # size unknown: no cap
        assert resolve_n_jobs(None, timeout=10, data_mb=100.0) == 1


def test_n_jobs_given_is_kept_and_warned_about(machine):
    """Check that an n_jobs given that the memory would not hold is kept, with
    a warning that names the figures and a number that fits."""
    machine(8, 1_000.0)
    with pytest.warns(autoimb.AutoImbWarning, match=(
            r"n_jobs=4 runs 4 trials at once, which on 10 MB of data would take about "
            r"1,040 MB \(each worker process holds its own copy\), more than the "
            r"800 MB \(80% of the 1,000 MB available\) a search plans to use: the "
            r"system may kill the search. Pass n_jobs=3 or fewer.")):
        assert resolve_n_jobs(4, timeout=60, data_mb=10.0) == 4
    with pytest.warns(autoimb.AutoImbWarning, match=r"n_jobs=-1 runs 8 trials at once"):
        assert resolve_n_jobs(-1, data_mb=20.0, parallel="threads") == 8
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_n_jobs(2, timeout=60, data_mb=10.0) == 2  # 420 MB of 800
    with pytest.warns(autoimb.AutoImbWarning, match=r"Pass n_jobs=1\.$"):
        assert resolve_n_jobs(2, timeout=60, data_mb=40.0) == 2  # 1,080 MB


def test_fit_lowers_its_default_n_jobs_to_the_memory(machine, monkeypatch, tmp_path):
    """Check, through fit, that the default's number of trials at once is
    lowered where the memory is short, and that the search runs in one process."""
    machine(2, 100.0)
    monkeypatch.chdir(tmp_path)  # the default journal file
    X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    with pytest.warns(autoimb.AutoImbWarning, match="n_jobs=None runs 1 trial at a "
                      "time here instead of 2"):
        model = autoimb.fit(X, y, search_space="fast", timeout=30, n_trials=2, cv=3,
                            storage=None, study_name="short-of-memory",
                            show_progress_bar=False, random_state=0)
    assert model.n_jobs_ == 1
    assert model.fit_times_["wait_workers"] == 0.0  # no worker processes


@pytest.mark.skipif(not Path("/proc/self/status").exists(),
                    reason="reads the resident memory from /proc (Linux)")
def test_freed_memory_goes_back_to_the_system():
    # In a fresh process: 200 MB in 64 KB arrays, every other one freed. The
    # holes stay in the C allocator's heap until release_free_memory.
    code = textwrap.dedent("""
        import numpy as np
        from autoimb.search.memory import release_free_memory, resident_mb

        arrays = [np.ones(8000) for _ in range(3200)]
        del arrays[::2]
        before = resident_mb()
        released = release_free_memory()
        print(released, before - resident_mb())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    if out[0] != "True":
        pytest.skip("no malloc_trim in this C library")
    assert float(out[1]) > 50  # of the 100 MB freed


def test_a_search_releases_memory_after_each_trial(monkeypatch):
    calls = []
    monkeypatch.setattr(autoimb.search.trials, "release_free_memory",
                        lambda: calls.append(1) or True)
    X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    autoimb.fit(X, y, n_trials=3, storage="memory", random_state=0,
                show_progress_bar=False, search_space="fast", cv=3)
    assert len(calls) >= 3
