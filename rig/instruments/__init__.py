"""Instrument drivers of the end-of-line bench and the unit's service port.

Roles and drivers: logger :class:`~rig.instruments.daq970a.Daq970aLogger`, supply
:class:`~rig.instruments.e36313a.E36313aOutput`, stage
:class:`~rig.instruments.arroyo5305.Arroyo5305Stage`, unit
:class:`~rig.instruments.cryo_unit.CryoUnitPort`; open them with the helpers of
:mod:`rig.instruments.connect`. Test plans depend on the protocols of
:mod:`rig.instruments.interfaces`.
"""
