"""Simulated catalogue: departments, categories with repurchase cycles, products with prices.

Inside a category, consecutive products form substitute sets (a brand's line: flavours, sizes) of
settings.simulate.substitute_set_size; popularity ranks are random, so a set mixes hits and tails.

Departments cycle through types from fresh food (bought weekly) to durables (yearly) so even a
tiny preset spans high-frequency and slow categories. Products are laid out contiguously by
category, which lets the order simulator sample "a product of category c" with one searchsorted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from configs.settings import SimulateSettings

# (department type, min cycle days, max cycle days): the order spreads cycles even for 4 departments
DEPARTMENT_TYPES: tuple[tuple[str, float, float], ...] = (
    ("fresh", 7.0, 12.0),
    ("durables", 180.0, 365.0),
    ("pantry", 14.0, 30.0),
    ("household", 30.0, 60.0),
    ("snacks", 10.0, 21.0),
    ("personal_care", 45.0, 90.0),
    ("baby", 20.0, 40.0),
    ("appliances", 240.0, 365.0),
)
ZIPF_EXPONENT = 1.1
NEW_ARRIVAL_DAYS = 60


@dataclass(frozen=True)
class Catalog:
    cat_dept: np.ndarray  # (n_cat,) department index
    cat_cycle: np.ndarray  # (n_cat,) repurchase cycle in days
    cat_popularity: np.ndarray  # (n_cat,) relative popularity within its department
    cat_start: np.ndarray  # (n_cat,) first product index of the category
    cat_end: np.ndarray  # (n_cat,) one past the last product index
    prod_cat: np.ndarray  # (n_prod,) category index
    prod_price: np.ndarray  # (n_prod,) list price
    prod_rel_price: np.ndarray  # (n_prod,) price / category median
    prod_pop: np.ndarray  # (n_prod,) Zipf weight within the category
    prod_launch: np.ndarray  # (n_prod,) launch day (0 = start_date; negative = before)
    prod_slow: np.ndarray  # (n_prod,) bool: overstocked, a push candidate
    prod_set: np.ndarray  # (n_prod,) substitute set index (global)
    prod_set_start: np.ndarray  # (n_prod,) first product index of its substitute set
    prod_set_end: np.ndarray  # (n_prod,) one past the last product index of its set

    @property
    def n_categories(self) -> int:
        return int(self.cat_cycle.size)

    @property
    def n_products(self) -> int:
        return int(self.prod_cat.size)


def build_catalog(cfg: SimulateSettings, rng: np.random.Generator, n_days: int) -> Catalog:
    """Categories, cycles, Zipf popularity, lognormal prices, launches and slow movers."""
    n_dept, per_dept, per_cat = (
        cfg.n_departments,
        cfg.categories_per_department,
        cfg.products_per_category,
    )
    n_cat = n_dept * per_dept
    cat_dept = np.repeat(np.arange(n_dept, dtype=np.int32), per_dept)
    lo = np.array([DEPARTMENT_TYPES[d % len(DEPARTMENT_TYPES)][1] for d in range(n_dept)])
    hi = np.array([DEPARTMENT_TYPES[d % len(DEPARTMENT_TYPES)][2] for d in range(n_dept)])
    u = rng.random(n_cat)
    cat_cycle = np.round(np.exp(np.log(lo[cat_dept]) + u * np.log(hi[cat_dept] / lo[cat_dept])))
    cat_popularity = rng.dirichlet(np.full(per_dept, 2.0), size=n_dept).reshape(-1) * per_dept

    n_prod = n_cat * per_cat
    prod_cat = np.repeat(np.arange(n_cat, dtype=np.int32), per_cat)
    cat_start = np.arange(n_cat, dtype=np.int64) * per_cat
    cat_end = cat_start + per_cat
    ranks = np.argsort(rng.random((n_cat, per_cat)), axis=1) + 1  # 1 = most popular
    prod_pop = (1.0 / ranks**ZIPF_EXPONENT).reshape(-1)
    cat_median = np.exp(np.log(8.0) + 0.6 * np.log(cat_cycle / 7.0) + rng.normal(0, 0.4, n_cat))
    rel = np.exp(rng.normal(0.0, 0.35, n_prod))
    prod_price = np.maximum(np.round(cat_median[prod_cat] * rel, 1), 0.5)
    prod_rel_price = prod_price / cat_median[prod_cat]

    # launches: most long before the start; new arrivals in the last 60 days (never a top seller)
    prod_launch = -rng.integers(30, 1000, n_prod)
    top = ranks.reshape(-1) == 1
    new = (rng.random(n_prod) < cfg.new_product_share) & ~top
    prod_launch[new] = rng.integers(max(n_days - NEW_ARRIVAL_DAYS, 0), n_days, int(new.sum()))

    # slow movers: overstocked older products, drawn towards the less popular ones
    n_slow = int(round(cfg.slow_moving_share * n_prod))
    eligible = np.flatnonzero(~new)
    weight = 1.0 / prod_pop[eligible] ** 0.5
    chosen = rng.choice(
        eligible, size=min(n_slow, eligible.size), replace=False, p=weight / weight.sum()
    )
    prod_slow = np.zeros(n_prod, dtype=bool)
    prod_slow[chosen] = True
    within = np.arange(n_prod) - cat_start[prod_cat]
    size = cfg.substitute_set_size
    set_start = cat_start[prod_cat] + within // size * size
    sets_per_cat = -(-per_cat // size)
    return Catalog(
        cat_dept=cat_dept,
        cat_cycle=cat_cycle.astype(np.float64),
        cat_popularity=cat_popularity,
        cat_start=cat_start,
        cat_end=cat_end,
        prod_cat=prod_cat,
        prod_price=prod_price,
        prod_rel_price=prod_rel_price,
        prod_pop=prod_pop,
        prod_launch=prod_launch.astype(np.int64),
        prod_slow=prod_slow,
        prod_set=prod_cat.astype(np.int64) * sets_per_cat + within // size,
        prod_set_start=set_start,
        prod_set_end=np.minimum(set_start + size, cat_end[prod_cat]),
    )


class ProductSampler:
    """Draw a product of a given category by popularity x price sensitivity, among launched ones.

    Price-sensitivity is bucketed into a few bins so one cumulative weight table per bin serves
    every user; the table is rebuilt only when the set of launched products changes.
    """

    GAMMAS = (0.0, 1.0, 2.5)

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.weights = np.stack(
            [catalog.prod_pop * catalog.prod_rel_price ** (-g) for g in self.GAMMAS]
        )
        self._launched = -1
        self._cum = np.zeros((len(self.GAMMAS), catalog.n_products + 1))
        self._flat = self._cum.reshape(-1)
        self._set_open = np.zeros(0, dtype=bool)

    @classmethod
    def bins(cls, price_sensitivity: np.ndarray) -> np.ndarray:
        """Price-sensitivity in [0, 1] -> bin index into GAMMAS."""
        return np.minimum(
            (price_sensitivity * len(cls.GAMMAS)).astype(np.int64), len(cls.GAMMAS) - 1
        )

    def _refresh(self, day: int) -> None:
        launched = self.catalog.prod_launch <= day
        count = int(launched.sum())
        if count == self._launched:
            return
        self._launched = count
        self._cum[:, 1:] = np.cumsum(self.weights * launched, axis=1)
        # all bins in one increasing array (bin b shifted past bin b - 1): one searchsorted
        offsets = np.concatenate([[0.0], np.cumsum(self._cum[:-1, -1] + 1.0)])
        self._flat = (self._cum + offsets[:, None]).reshape(-1)
        self._set_open = np.bincount(self.catalog.prod_set, weights=launched) > 0

    def sample(self, day: int, cats: np.ndarray, bins: np.ndarray, u: np.ndarray) -> np.ndarray:
        """One product index per (category, bin, uniform) triple."""
        return self.sample_range(
            day, self.catalog.cat_start[cats], self.catalog.cat_end[cats], bins, u
        )

    def sample_range(
        self, day: int, start: np.ndarray, end: np.ndarray, bins: np.ndarray, u: np.ndarray
    ) -> np.ndarray:
        """One product of [start, end) per row (a category or a substitute set), same weights."""
        self._refresh(day)
        shift = bins * (self.catalog.n_products + 1)
        lo, hi = self._flat[shift + start], self._flat[shift + end]
        pos = np.searchsorted(self._flat, lo + u * (hi - lo), side="right") - 1 - shift
        return np.clip(pos, start, end - 1)

    def mass(self, day: int, start: np.ndarray, end: np.ndarray, bins: np.ndarray) -> np.ndarray:
        """Total sampling weight of launched products in [start, end) per row."""
        self._refresh(day)
        return self._cum[bins, end] - self._cum[bins, start]

    def set_open(self, day: int) -> np.ndarray:
        """(n_sets,) whether a substitute set has a launched product on `day` (any bin)."""
        self._refresh(day)
        return self._set_open

    def weight(self, day: int, products: np.ndarray, bins: np.ndarray) -> np.ndarray:
        """Sampling weight of each product (0 when not launched on `day`)."""
        launched = self.catalog.prod_launch[products] <= day
        return self.weights[bins, products] * launched
