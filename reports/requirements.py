"""Short titles of the device requirements, for report tables.

The authoritative text is ``shared/specs/device-requirements.md``, which lives
outside this package (it is the product's document, not the rig's), so an
installed rig cannot read it. The titles are kept here as data instead;
``tests/reports/test_requirements.py`` parses the spec when it is present and
fails if an ID of its table is missing here, so the two cannot drift apart
unnoticed.
"""

from __future__ import annotations

REQUIREMENTS: dict[str, str] = {
    "REQ-ID-01": (
        "Identity: answers within 100 ms with model, serial and firmware; serial equals "
        "the scanned label; firmware approved"
    ),
    "REQ-PWR-01": "Supply current: idle ≤ 150 mA at 24 V; valve open 0.55–1.00 A; never > 1.5 A",
    "REQ-PWR-02": (
        "Undervoltage: below 20.0 V while cooling the valve closes within 200 ms, FAULT F03, "
        "no reopening until acknowledged"
    ),
    "REQ-ST-01": "Built-in self test passes",
    "REQ-COOL-01": (
        "SHOCK to 4.0 °C: surface from 33 °C to ≤ 5.0 °C within 30.0 s of valve opening, "
        "never below 2.5 °C"
    ),
    "REQ-COOL-02": "Thermal-shock rate: drop ≥ 14 °C in the first 30 s; mean 30→10 °C ≥ 1.0 °C/s",
    "REQ-HOLD-01": "HOLD keeps the surface within target ± 2.0 °C for the whole programmed hold",
    "REQ-SAFE-01": (
        "Over-cooling cutoff at 2.0 °C skin reading: valve closes within 200 ms, CUTOFF, "
        "no reopening until > 8.0 °C and acknowledged"
    ),
    "REQ-SAFE-02": "Phantom surface never below 0.0 °C during any treatment or the cutoff test",
    "REQ-SAFE-03": "Maximum continuous valve-open time 60 s (± 0.5 s), then closes with F04",
    "REQ-SAFE-04": "Failed skin sensor closes the valve within 200 ms and reports F01 or F02",
    "REQ-SENS-01": "Corrected skin reading within ± 0.5 °C of the reference from 2 °C to 40 °C",
    "REQ-CAL-01": "Calibration coefficients read back identical and survive a power cycle",
}
"""REQ ID → short title (the spec's wording, shortened for a table cell)."""

UNKNOWN_TITLE = "(not a requirement known to this version of the report software)"


def requirement_title(req_id: str) -> str:
    """The title of ``req_id``; an unknown ID is said to be unknown rather than hidden,
    because a report row without its requirement text would look complete when it is not."""
    return REQUIREMENTS.get(req_id, UNKNOWN_TITLE)
