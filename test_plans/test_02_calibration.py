"""EOL step 2 — the skin sensor's calibration, before the treatments that depend on it.

A comparison calibration against the reference surface thermocouple at 2, 4, 10, 20,
33 and 40 °C (``protocols/calibration.yaml``): as found, adjusted, as left, and the
calibration memory across a power cycle and a REBOOT (:mod:`calibration.procedure`).
Each as-left point is judged within ±0.5 °C under guarded acceptance (the guard band
is the point's expanded uncertainty); the certificate is rendered from the same
record (``calibration.json`` in the run's directory).
"""

from __future__ import annotations

import pytest

from calibration.procedure import SkinSensorCalibration
from rig.measure import measures


@pytest.mark.requirement("REQ-SENS-01", "REQ-CAL-01")
@measures(
    "sens.fit_gain",
    "sens.fit_offset",
    "sens.as_left_error_02c",
    "sens.as_left_error_04c",
    "sens.as_left_error_10c",
    "sens.as_left_error_20c",
    "sens.as_left_error_33c",
    "sens.as_left_error_40c",
    "calmem.readback_identical",
    "calmem.survives_power_cycle",
    "calmem.survives_reboot",
)
def test_skin_sensor_calibration(bench, protocols, measurements):
    """As found at every point; fit gain and offset; write them (service mode) and read
    them back; as left at every point; power-cycle and REBOOT: CAL? still identical."""
    procedure = SkinSensorCalibration(
        bench, protocols.calibration, record_measurement=measurements.record
    )
    procedure.run()
