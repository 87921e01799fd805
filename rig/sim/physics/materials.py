"""Thermal properties of the skin-equivalent phantom, its stage and the air around it.

Values are the typical ones of human skin layers that skin-equivalent phantoms
are made to match (epidermis, dermis, subcutaneous fat; e.g. the IT'IS tissue
property database and Duck, *Physical Properties of Tissue*); they are design
constants of the simulated bench, not per-unit parameters.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Material:
    name: str
    conductivity_w_mk: float
    density_kg_m3: float
    specific_heat_j_kgk: float

    @property
    def diffusivity_m2_s(self) -> float:
        return self.conductivity_w_mk / (self.density_kg_m3 * self.specific_heat_j_kgk)


@dataclass(frozen=True, slots=True)
class Layer:
    material: Material
    thickness_m: float


EPIDERMIS = Material("epidermis-equivalent", 0.21, 1200.0, 3590.0)
DERMIS = Material("dermis-equivalent", 0.37, 1116.0, 3300.0)
SUBCUTIS = Material("subcutis-equivalent", 0.21, 971.0, 2350.0)

PHANTOM_LAYERS: tuple[Layer, ...] = (
    Layer(EPIDERMIS, 0.1e-3),
    Layer(DERMIS, 1.9e-3),
    Layer(SUBCUTIS, 4.0e-3),
)
"""The 6 mm layered phantom of ``bench.md``: 0.1 mm, 1.9 mm and 4 mm, top first."""


@dataclass(frozen=True, slots=True)
class StageDesign:
    """The stage plate, its TEC and the phantom's surroundings."""

    plate_heat_capacity_j_k: float = 125.0
    """Aluminium plate 80 × 80 × 8 mm (≈ 0.14 kg × 900 J/kgK)."""
    plate_area_m2: float = 0.080 * 0.080
    plate_loss_w_k: float = 0.35
    """Plate to room through its edges and the TEC's own conductance."""
    contact_w_m2k: float = 2000.0
    """Phantom bottom to plate, through a thin layer of thermal paste."""
    natural_convection_w_m2k: float = 8.0
    """Still air on the phantom's top: free convection plus linearised radiation."""
    tec_heating_max_w: float = 40.0
    tec_cooling_max_w: float = 28.0
    """Heat pumped out of the plate at full current with no temperature difference."""
    tec_delta_t_max_k: float = 62.0
    """Temperature difference (sink minus plate) at which cooling capacity vanishes."""
    tec_current_max_a: float = 5.0


STAGE = StageDesign()
