"""Starting and stopping the simulated bench leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess

import psutil
import pytest

from tests.sim.simproc import SimProcess, cryorig_command

pytestmark = pytest.mark.timeout(300)


def _ports(resources: dict[str, str]) -> list[tuple[str, int]]:
    out = []
    for key in ("logger", "supply", "stage"):
        _, host, port, _ = resources[key].split("::")
        out.append((host, int(port)))
    host, port = resources["device_url"].removeprefix("socket://").rsplit(":", 1)
    out.append((host, int(port)))
    host, port = resources["control"].rsplit(":", 1)
    out.append((host, int(port)))
    return out


def _refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1.0).close()
    except ConnectionRefusedError:
        return True
    return False


def _pts() -> set[str]:
    return set(os.listdir("/dev/pts"))


def test_start_stop_fifty_times_leaves_no_process_port_or_pty() -> None:
    me = psutil.Process()
    children_before = {c.pid for c in me.children(recursive=True)}
    pts_before = _pts()
    ways = ("quit", "sigterm", "sigint")
    for i in range(50):
        sim = SimProcess("--seed", str(i))
        res = sim.resources
        assert os.path.exists(res["device"])
        pid = sim.proc.pid
        how = ways[i % 3]
        if how == "quit":
            assert sim.close() == 0
        else:
            sim.proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGINT)
            assert sim.proc.wait(10) == 0
            sim.close()
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        for host, port in _ports(res):
            assert _refused(host, port), f"port {port} still open after stop #{i} ({how})"
        assert not os.path.exists(res["device"]) or os.path.basename(res["device"]) not in (
            _pts() - pts_before
        )
    assert {c.pid for c in me.children(recursive=True)} - children_before == set()
    assert _pts() - pts_before == set()


def test_bad_profile_is_refused_before_anything_is_served(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("params:\n  sensor_lag_s: -2\n")
    proc = subprocess.run(
        [*cryorig_command(), "sim", "serve", "--unit-profile", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert str(bad) in proc.stderr and "params.sensor_lag_s" in proc.stderr and "-2" in proc.stderr


def test_resource_line_is_the_contract() -> None:
    with SimProcess() as sim:
        res = sim.resources
        assert set(res) == {"logger", "supply", "stage", "device", "device_url", "control"}
        for key in ("logger", "supply", "stage"):
            assert res[key].startswith("TCPIP0::127.0.0.1::") and res[key].endswith("::SOCKET")
        assert res["device"].startswith("/dev/pts/")
        assert res["device_url"].startswith("socket://127.0.0.1:")
        json.dumps(res)
        assert sim.control("TIME?") == "0.000000"
        assert sim.control("ADVANCE 1.5") == "OK 1.500000"
        assert sim.control("ADVANCE -1").startswith("ERR ")
        assert sim.control("ADVANCE soon").startswith("ERR ")
        assert sim.control("TRUE? nonsense").startswith("ERR ")
        assert sim.control("BOGUS").startswith("ERR ")
        assert sim.control("FAULT logger melt").startswith("ERR ")
        assert sim.control("FAULT toaster drop").startswith("ERR ")
        assert sim.control("POWER SIDEWAYS").startswith("ERR ")
        for name in ("surface_c", "spot_c", "ref_tc_c", "supply_v"):
            float(sim.true(name))
        for name in ("valve_flowing", "supply_output", "stage_output"):
            assert sim.true(name) == "0"
        assert sim.true("device_state") == "OFF"


def test_cryorig_command_runs() -> None:
    proc = subprocess.run([*cryorig_command(), "sim", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "serve" in proc.stdout
