"""Heat conduction in the layered phantom on its stage plate, stepped by implicit Euler.

Geometry
    The phantom is cut into coaxial columns around the jet's axis: the centre
    of the sensor spot, the rest of the spot, the surround where channel 102
    sits, and the far field out to the plate's edge. Each column is a 1D
    finite-volume stack through the three layers (nodes at cell faces, so the
    top node *is* the surface and layer interfaces fall on nodes). Neighbouring
    columns exchange heat laterally at every depth (an axisymmetric ring
    model); with a single column, or lateral coupling off, it is plain 1D
    conduction. All column bottoms sit on one lumped stage plate.

Boundaries
    Top: natural convection to room air, plus the CO2 jet (its own gas
    temperature and heat-transfer coefficient, scaled per column by the jet's
    footprint) while the jet flows. Bottom: contact conductance to the plate.
    Plate: heat capacity, loss to the room, and the TEC's heat as forcing.

Integration
    With capacities C and conductances L + B the model is
    ``C dT/dt = -(L + B) T + f``. Implicit (backward) Euler,
    ``(C/dt + L + B) T' = C/dt T + f``, is unconditionally stable; it is
    evaluated in the eigenbasis of ``C^-1/2 (L + B) C^-1/2`` (one basis per
    boundary configuration: jet flowing or not), where each mode is a scalar
    recursion ``z' = (z + dt g) / (1 + dt mu)``. That makes a step O(N), lets
    steps of any length be taken between events, and gives ``n`` equal
    substeps in closed form, ``z_n = a^n z + (1 - a^n) g / mu`` with
    ``a = 1 / (1 + dt mu)``. The result is identical to solving the
    tridiagonal implicit system at every substep (a test checks this against
    a banded solver).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .materials import PHANTOM_LAYERS, STAGE, Layer, StageDesign


@dataclass(frozen=True, slots=True)
class Column:
    """One coaxial ring of the phantom, ``r_inner``–``r_outer`` from the jet axis."""

    name: str
    r_inner_m: float
    r_outer_m: float
    jet_factor: float
    """Jet heat-transfer coefficient here, as a fraction of the spot centre's."""

    @property
    def area_m2(self) -> float:
        return math.pi * (self.r_outer_m**2 - self.r_inner_m**2)

    @property
    def r_node_m(self) -> float:
        """Radius that halves the ring's area: where its temperature is taken to sit."""
        return math.sqrt((self.r_inner_m**2 + self.r_outer_m**2) / 2.0)


JET_FOOTPRINT = (1.0, 1.0, 0.6)
"""Jet heat-transfer coefficient over the spot's centre, its edge and the surround
(5–15 mm), relative to the centre: the nozzle is designed to cover the 10 mm spot
evenly, and the spreading wall jet still cools the surround at about half strength."""


def default_columns(
    stage: StageDesign = STAGE, footprint: tuple[float, float, float] = JET_FOOTPRINT
) -> tuple[Column, ...]:
    """Centre and edge of the 10 mm sensor spot, the surround (channel 102 at 10 mm), far field."""
    r_plate = math.sqrt(stage.plate_area_m2 / math.pi)
    centre, edge, surround = footprint
    return (
        Column("centre", 0.0, 2.5e-3, centre),
        Column("spot_edge", 2.5e-3, 5.0e-3, edge),
        Column("surround", 5.0e-3, 15.0e-3, surround),
        Column("far", 15.0e-3, r_plate, 0.0),
    )


def graded_cells(thickness: float, first: float, ratio: float, largest: float) -> list[float]:
    """Cell lengths that start at ``first``, grow by ``ratio`` up to ``largest`` and sum exactly."""
    cells: list[float] = []
    size = first
    total = 0.0
    while total + size < thickness * (1 - 1e-9):
        cells.append(size)
        total += size
        size = min(size * ratio, largest)
    remainder = thickness - total
    if cells and remainder < 0.5 * cells[-1]:
        cells[-1] += remainder
    else:
        cells.append(remainder)
    return cells


def default_cells(layers: Sequence[Layer]) -> list[list[float]]:
    """Fine cells at the surface (25 µm) where the jet's gradient is steep, coarser below."""
    out: list[list[float]] = []
    size = 25e-6
    for layer in layers:
        cells = graded_cells(layer.thickness_m, min(size, layer.thickness_m), 1.25, 400e-6)
        out.append(cells)
        size = cells[-1]
    return out


@dataclass
class _Mode:
    mu: np.ndarray
    basis: np.ndarray  # Q: columns are eigenvectors of the scaled operator
    to_temps: np.ndarray  # C^-1/2 Q: modal -> temperatures
    g_ambient: np.ndarray
    g_gas: np.ndarray
    g_tec: np.ndarray


class ThermalModel:
    """The phantom and stage plate as one linear network, advanced by implicit Euler.

    Temperatures in °C, times in µs (integers, the scheduler's unit), power in W.
    """

    def __init__(
        self,
        *,
        layers: Sequence[Layer] = PHANTOM_LAYERS,
        columns: Sequence[Column] | None = None,
        stage: StageDesign = STAGE,
        cells: Sequence[Sequence[float]] | None = None,
        lateral: bool = True,
        jet_htc_w_m2k: float = 100.0,
        jet_temp_c: float = -70.0,
        ambient_c: float = 22.0,
        initial_c: float | None = None,
        plate_heat_capacity_j_k: float | None = None,
        max_step_us: int = 5_000,
    ) -> None:
        self.layers = tuple(layers)
        self.columns = tuple(columns) if columns is not None else default_columns(stage)
        self.stage = stage
        self.jet_htc = float(jet_htc_w_m2k)
        self.jet_temp_c = float(jet_temp_c)
        self.ambient_c = float(ambient_c)
        self.max_step_us = int(max_step_us)
        layer_cells = [list(c) for c in (cells or default_cells(self.layers))]
        if len(layer_cells) != len(self.layers):
            raise ValueError("one list of cells per layer is needed")

        # --- one column's node stack -------------------------------------------------
        cell_len: list[float] = []
        cell_mat: list[int] = []
        for li, cl in enumerate(layer_cells):
            cell_len.extend(cl)
            cell_mat.extend([li] * len(cl))
        n_nodes = len(cell_len) + 1
        self.depths_m = np.concatenate([[0.0], np.cumsum(cell_len)])
        cap_area = np.zeros(n_nodes)  # J/(m^2 K) per node
        cond_area = np.zeros(n_nodes - 1)  # W/(m^2 K) between node i and i+1
        lat_k_dz = np.zeros(n_nodes)  # sum k * length over the node's control volume (W/K per rad)
        for i, (length, li) in enumerate(zip(cell_len, cell_mat, strict=True)):
            mat = self.layers[li].material
            rc = mat.density_kg_m3 * mat.specific_heat_j_kgk
            cap_area[i] += rc * length / 2
            cap_area[i + 1] += rc * length / 2
            cond_area[i] = mat.conductivity_w_mk / length
            lat_k_dz[i] += mat.conductivity_w_mk * length / 2
            lat_k_dz[i + 1] += mat.conductivity_w_mk * length / 2
        self.nodes_per_column = n_nodes

        # --- the whole network --------------------------------------------------------
        ncol = len(self.columns)
        n = ncol * n_nodes + 1
        self.plate_index = n - 1
        cap = np.zeros(n)
        lap = np.zeros((n, n))

        def connect(a: int, b: int, g: float) -> None:
            lap[a, a] += g
            lap[b, b] += g
            lap[a, b] -= g
            lap[b, a] -= g

        for c, col in enumerate(self.columns):
            base = c * n_nodes
            area = col.area_m2
            cap[base : base + n_nodes] = cap_area * area
            for i in range(n_nodes - 1):
                connect(base + i, base + i + 1, cond_area[i] * area)
            connect(base + n_nodes - 1, self.plate_index, stage.contact_w_m2k * area)
        if lateral:
            for c in range(ncol - 1):
                inner, outer = self.columns[c], self.columns[c + 1]
                log_ratio = math.log(outer.r_node_m / inner.r_node_m)
                for i in range(n_nodes):
                    g = 2 * math.pi * lat_k_dz[i] / log_ratio
                    connect(c * n_nodes + i, (c + 1) * n_nodes + i, g)
        cap[self.plate_index] = (
            plate_heat_capacity_j_k
            if plate_heat_capacity_j_k is not None
            else stage.plate_heat_capacity_j_k
        )
        self.capacity = cap
        self._laplacian = lap

        # Boundary conductances (W/K) to ambient and to the jet gas.
        b_amb = np.zeros(n)
        b_gas_on = np.zeros(n)
        for c, col in enumerate(self.columns):
            top = c * n_nodes
            b_amb[top] += stage.natural_convection_w_m2k * col.area_m2
            b_gas_on[top] += self.jet_htc * col.jet_factor * col.area_m2
        b_amb[self.plate_index] += stage.plate_loss_w_k
        self._b_amb = b_amb
        self._b_gas_on = b_gas_on
        self._modes: dict[bool, _Mode] = {}
        self._transfer: dict[tuple[bool, bool], np.ndarray] = {}

        # --- observables: named rows of the temperature vector -----------------------
        self.surface_index = {col.name: c * n_nodes for c, col in enumerate(self.columns)}

        # --- state ----------------------------------------------------------------------
        self.jet_on = False
        self.tec_power_w = 0.0
        self.t_us = 0
        self._steady_parts_cache: dict[bool, tuple[np.ndarray, np.ndarray]] = {}
        self._span_cache: dict[tuple[bool, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        start = self.ambient_c if initial_c is None else float(initial_c)
        mode = self._mode(False)
        self._z = mode.basis.T @ (np.sqrt(cap) * np.full(n, start))

    # --- modal machinery -----------------------------------------------------------------
    def _mode(self, jet_on: bool) -> _Mode:
        mode = self._modes.get(jet_on)
        if mode is None:
            b = self._b_amb + (self._b_gas_on if jet_on else 0.0)
            s = 1.0 / np.sqrt(self.capacity)
            op = (self._laplacian + np.diag(b)) * s[:, None] * s[None, :]
            mu, basis = np.linalg.eigh(op)
            to_temps = s[:, None] * basis
            proj = basis.T * s[None, :]  # Q^T C^-1/2
            e_plate = np.zeros(len(b))
            e_plate[self.plate_index] = 1.0
            mode = _Mode(
                mu=mu,
                basis=basis,
                to_temps=to_temps,
                g_ambient=proj @ self._b_amb,
                g_gas=proj @ (self._b_gas_on if jet_on else np.zeros(len(b))),
                g_tec=proj @ e_plate,
            )
            self._modes[jet_on] = mode
        return mode

    def _steady_parts(self, jet_on: bool) -> tuple[np.ndarray, np.ndarray]:
        """The modal equilibrium split as ``base + P * per_watt``: ``base`` from the room
        and the jet (fixed per boundary configuration), ``per_watt`` from the TEC."""
        parts = self._steady_parts_cache.get(jet_on)
        if parts is None:
            mode = self._mode(jet_on)
            base = (self.ambient_c * mode.g_ambient + self.jet_temp_c * mode.g_gas) / mode.mu
            parts = self._steady_parts_cache[jet_on] = (base, mode.g_tec / mode.mu)
        return parts

    def _steady(self) -> np.ndarray:
        """Modal equilibrium under the present boundary conditions."""
        base, per_watt = self._steady_parts(self.jet_on)
        return base + self.tec_power_w * per_watt

    def span_terms(self, span_us: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(A, B0, B1)`` with ``z(t + span) = A z + B0 + P B1`` under the present jet.

        ``A = a^n`` of ``n`` equal implicit-Euler substeps of at most ``max_step``;
        ``B0 = (1 - A) base`` and ``B1 = (1 - A) per_watt`` (see :meth:`_steady_parts`).
        Cached per (jet, span): the bench steps by a few recurring spans (control
        ticks, scan offsets), so a step is three vector operations and no solve.
        """
        key = (self.jet_on, span_us)
        terms = self._span_cache.get(key)
        if terms is None:
            if len(self._span_cache) >= 4096:
                self._span_cache.clear()
            n = len(self.capacity)
            if span_us <= 0:
                terms = (np.ones(n), np.zeros(n), np.zeros(n))
            else:
                nsub = -(-span_us // self.max_step_us)
                dt = span_us / nsub / 1e6
                an = (1.0 / (1.0 + dt * self._mode(self.jet_on).mu)) ** nsub
                base, per_watt = self._steady_parts(self.jet_on)
                rest = 1.0 - an
                terms = (an, rest * base, rest * per_watt)
            self._span_cache[key] = terms
        return terms

    def _stepped(self, t_us: int) -> np.ndarray:
        """Modal state at ``t_us`` after equal implicit-Euler substeps of at most max_step."""
        span = t_us - self.t_us
        if span <= 0:
            return self._z
        a, b0, b1 = self.span_terms(span)
        return a * self._z + b0 + self.tec_power_w * b1

    # --- public API ------------------------------------------------------------------------
    def commit(self, t_us: int) -> None:
        """Advance the state to ``t_us`` with the present boundary conditions."""
        if t_us > self.t_us:
            self._z = self._stepped(t_us)
            self.t_us = t_us

    def set_jet(self, t_us: int, flowing: bool) -> None:
        self.commit(t_us)
        if flowing == self.jet_on:
            return
        key = (self.jet_on, flowing)
        transfer = self._transfer.get(key)
        if transfer is None:
            transfer = self._mode(flowing).basis.T @ self._mode(self.jet_on).basis
            self._transfer[key] = transfer
        self._z = transfer @ self._z
        self.jet_on = flowing

    def set_tec_power(self, t_us: int, watts: float) -> None:
        self.commit(t_us)
        self.tec_power_w = float(watts)

    def temperatures(self, t_us: int | None = None) -> np.ndarray:
        """Every node's temperature at ``t_us`` (default: the committed time), no commit."""
        z = self._z if t_us is None else self._stepped(t_us)
        return self._mode(self.jet_on).to_temps @ z

    def observer(self, indices: Sequence[int] | np.ndarray) -> Observer:
        """A cheap reader of a few nodes (or weighted sums of nodes, one row of weights
        per reading) at arbitrary times: sensor sampling."""
        arr = np.asarray(indices)
        if arr.ndim == 1:
            rows = np.zeros((len(arr), len(self.capacity)))
            rows[np.arange(len(arr)), arr.astype(int)] = 1.0
            arr = rows
        return Observer(self, arr)

    def index_at_depth(self, column: str, depth_m: float) -> int:
        c = [col.name for col in self.columns].index(column)
        i = int(np.argmin(np.abs(self.depths_m - depth_m)))
        return c * self.nodes_per_column + i

    def column_profile(self, column: str, t_us: int | None = None) -> np.ndarray:
        c = [col.name for col in self.columns].index(column)
        temps = self.temperatures(t_us)
        return temps[c * self.nodes_per_column : (c + 1) * self.nodes_per_column]

    # --- used by tests: the same network solved directly as a banded system --------------
    def implicit_euler_reference(self, temps: np.ndarray, dt_s: float, steps: int) -> np.ndarray:
        """Plain implicit Euler with a dense solve per step, to check the modal stepping."""
        b = self._b_amb + (self._b_gas_on if self.jet_on else 0.0)
        f = self._b_amb * self.ambient_c + (
            self._b_gas_on * self.jet_temp_c if self.jet_on else 0.0
        )
        f = f.copy()
        f[self.plate_index] += self.tec_power_w
        a = np.diag(self.capacity / dt_s) + self._laplacian + np.diag(b)
        t = temps.copy()
        for _ in range(steps):
            t = np.linalg.solve(a, self.capacity / dt_s * t + f)
        return t


_Terms = tuple[list[np.ndarray], list[float], list[float]]
"""An observer's rows scaled by ``A``, and their products with ``B0`` and ``B1``."""


class Observer:
    """Reads fixed linear combinations of a :class:`ThermalModel`'s nodes at any time
    without committing.

    Sensors sample the phantom at many instants between commits, mostly at a handful
    of recurring offsets from the last commit (control ticks, scan channels). With
    ``z(t) = A z + B0 + P B1`` (:meth:`ThermalModel.span_terms`) a row ``r`` of node
    weights reads ``(r A) . z + r . B0 + P (r . B1)``; the three terms are kept per
    (boundary configuration, offset), so a sample is one dot product and nothing is
    recomputed when the model commits (ten times a second under the stage's loop).
    The result equals ``r @ temperatures(t)`` up to rounding.
    """

    _LIMIT = 4096

    def __init__(self, model: ThermalModel, rows: np.ndarray) -> None:
        self.model = model
        self.rows = np.atleast_2d(np.asarray(rows, dtype=float))
        if self.rows.shape[1] != len(model.capacity):
            raise ValueError("one weight per node is needed in each row")
        self._temps_rows: dict[bool, np.ndarray] = {}
        self._by_span: dict[tuple[bool, int], _Terms] = {}

    def _terms(self, t_us: int) -> _Terms:
        m = self.model
        span = t_us - m.t_us
        if span < 0:
            span = 0
        key = (m.jet_on, span)
        terms = self._by_span.get(key)
        if terms is None:
            if len(self._by_span) >= self._LIMIT:
                self._by_span.clear()
            rows = self._temps_rows.get(m.jet_on)
            if rows is None:
                rows = self._temps_rows[m.jet_on] = self.rows @ m._mode(m.jet_on).to_temps
            a, b0, b1 = m.span_terms(span)
            terms = (list(rows * a), (rows @ b0).tolist(), (rows @ b1).tolist())
            self._by_span[key] = terms
        return terms

    def at(self, t_us: int) -> np.ndarray:
        """Every observed row at ``t_us``."""
        scaled, r0, r1 = self._terms(t_us)
        z = self.model._z
        p = self.model.tec_power_w
        return np.array(
            [float(r.dot(z)) + c0 + p * c1 for r, c0, c1 in zip(scaled, r0, r1, strict=True)]
        )

    def node(self, t_us: int, k: int) -> float:
        """Observed row ``k`` at ``t_us``."""
        scaled, r0, r1 = self._terms(t_us)
        # ndarray.dot, not @: half the call overhead on vectors this short (~100 modes)
        return float(scaled[k].dot(self.model._z)) + r0[k] + self.model.tec_power_w * r1[k]
