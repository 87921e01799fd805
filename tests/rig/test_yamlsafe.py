"""The plan's YAML loader (rig.shared.yamlsafe): dates that do not exist are YAML errors."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from rig.shared import yamlsafe


def test_dates_still_read_as_dates() -> None:
    assert yamlsafe.safe_load("due: 2027-02-28\n") == {"due": dt.date(2027, 2, 28)}


def test_a_date_that_does_not_exist_is_a_yaml_error_with_its_line() -> None:
    """Every loader of station, limits, protocol and profile files turns a YAML error
    into one naming the file and line; a bare ValueError went past them as a traceback."""
    with pytest.raises(yaml.YAMLError) as info:
        yamlsafe.safe_load("version: 1\ncalibration:\n  due: 2027-02-30\n")
    assert "'2027-02-30' is not a date" in str(info.value)
    mark = info.value.problem_mark  # type: ignore[attr-defined]
    assert (mark.line + 1, mark.column + 1) == (3, 8)
