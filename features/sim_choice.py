"""Which product a member buys when they buy a category: favourites, substitutes, the group.

Real grocery logs show members rebuying the exact products they like, switching among a few close
substitutes and picking up what their neighbours buy; a push model trained on the simulator must
see the same. Per member and category slot there are a few favourite products (drawn by
popularity x price sensitivity; the later ones often from the first one's substitute set) with
geometric weights. A purchase of the category is (settings.simulate shares):
- loyalty: a favourite, by weight;
- substitute_share: a substitute of a favourite (by weight), drawn within its substitute set;
- group_adoption: one of a few remembered purchases of the category by the member's group in the
  last ADOPTION_DAYS (a random memory slot; an empty or stale one explores instead);
- the rest explores: popularity x price sensitivity over the whole category.
A bought product that is not a favourite replaces a non-top favourite with probability
adopt_share, so tastes drift and products spread through groups. Purchases of one day become
group memories after the day's choices, so choice_probabilities is exact for a day's purchases.
The group memory is per chunk of users (a group split over chunks remembers each part apart).
"""

from __future__ import annotations

import numpy as np

from configs.settings import SimulateSettings
from features.sim_catalog import Catalog, ProductSampler
from features.sim_world import World

ADOPTION_DAYS = 28
MEMORY_SLOTS = 4  # remembered recent purchases per (group, category)
FAVOURITE_DECAY = 0.55  # weight of the j-th favourite ~ decay ** j
SAME_SET_FAVOURITE = 0.5  # a later favourite comes from the first one's substitute set


class ProductChoice:
    """Per-chunk product-choice state: favourites per (row, slot), recent purchases per group."""

    def __init__(
        self,
        catalog: Catalog,
        cfg: SimulateSettings,
        world: World,
        users: np.ndarray,
        slot_cat: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        self.catalog, self.cfg = catalog, cfg
        self.sampler = ProductSampler(catalog)
        self.bins = ProductSampler.bins(world.user_price_sens[users])
        self.group = world.user_group[users]
        n_fav = cfg.favourites_per_category
        w = FAVOURITE_DECAY ** np.arange(n_fav)
        self.fav_weight = w / w.sum()
        self._fav_cum = np.cumsum(self.fav_weight)
        self.fav = self._initial_favourites(slot_cat, rng)
        shape = (world.group_store.size, catalog.n_categories, MEMORY_SLOTS)
        self.memory_prod = np.full(shape, -1, dtype=np.int32)
        self.memory_day = np.full(shape, np.iinfo(np.int32).min // 2, dtype=np.int32)

    def _initial_favourites(self, slot_cat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n, k = slot_cat.shape
        cats = slot_cat.reshape(-1)
        bins = np.repeat(self.bins, k)
        fav = np.empty((cats.size, self.cfg.favourites_per_category), dtype=np.int64)
        fav[:, 0] = self.sampler.sample(0, cats, bins, rng.random(cats.size))
        for j in range(1, fav.shape[1]):
            same = rng.random(cats.size) < SAME_SET_FAVOURITE
            fav[:, j] = np.where(
                same,
                self._in_set(0, fav[:, 0], cats, bins, rng.random(cats.size)),
                self.sampler.sample(0, cats, bins, rng.random(cats.size)),
            )
        return fav.reshape(n, k, -1)

    def _in_set(
        self, day: int, of: np.ndarray, cats: np.ndarray, bins: np.ndarray, u: np.ndarray
    ) -> np.ndarray:
        """A product of `of`'s substitute set (its category when nothing there is launched)."""
        c = self.catalog
        start, end = c.prod_set_start[of], c.prod_set_end[of]
        empty = self.sampler.launched_weights(day)[bins, start] == 0
        if empty.any():  # rare: check the whole set, not just its first product
            cum = np.cumsum(self.sampler.launched_weights(day), axis=1)
            mass = cum[bins, end - 1] - np.where(start > 0, cum[bins, start - 1], 0.0)
            bad = mass <= 0
            start = np.where(bad, c.cat_start[cats], start)
            end = np.where(bad, c.cat_end[cats], end)
        return self.sampler.sample_range(day, start, end, bins, u)

    def choose(
        self, r: np.ndarray, ik: np.ndarray, cats: np.ndarray, day: int, rng: np.random.Generator
    ) -> np.ndarray:
        """The product of each purchase (row r, slot ik, category cats) on `day`."""
        cfg, bins = self.cfg, self.bins[r]
        mode = rng.random(r.size)
        pick = np.searchsorted(self._fav_cum, rng.random(r.size) * self._fav_cum[-1], side="right")
        pick = np.minimum(pick, self.fav.shape[2] - 1)
        fav = self.fav[r, ik, pick]
        slot = rng.integers(0, MEMORY_SLOTS, r.size)
        seen = self.memory_prod[self.group[r], cats, slot]
        fresh = (seen >= 0) & (day - self.memory_day[self.group[r], cats, slot] <= ADOPTION_DAYS)
        u = rng.random(r.size)
        loyal = mode < cfg.loyalty
        sub = ~loyal & (mode < cfg.loyalty + cfg.substitute_share)
        grp = (mode >= cfg.loyalty + cfg.substitute_share) & (
            mode < cfg.loyalty + cfg.substitute_share + cfg.group_adoption
        )
        product = self.sampler.sample(day, cats, bins, u)
        if sub.any():
            product[sub] = self._in_set(day, fav[sub], cats[sub], bins[sub], u[sub])
        take = grp & fresh
        product[take] = seen[take]
        product[loyal] = fav[loyal]
        return product

    def remember(
        self,
        r: np.ndarray,
        ik: np.ndarray,
        cats: np.ndarray,
        product: np.ndarray,
        day: int,
        rng: np.random.Generator,
    ) -> None:
        """After a day's purchases: adopt new products as favourites, add them to group memory."""
        n_fav = self.fav.shape[2]
        known = (self.fav[r, ik] == product[:, None]).any(axis=1)
        adopt = ~known & (rng.random(r.size) < self.cfg.adopt_share)
        pos = rng.integers(1, n_fav, r.size) if n_fav > 1 else np.zeros(r.size, dtype=np.int64)
        self.fav[r[adopt], ik[adopt], pos[adopt]] = product[adopt]
        slot = rng.integers(0, MEMORY_SLOTS, r.size)
        self.memory_prod[self.group[r], cats, slot] = product
        self.memory_day[self.group[r], cats, slot] = day

    def probabilities(self, k: int, cats: np.ndarray, day: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact choice distribution of a purchase of slot k (category cats, one per row) on
        `day`, given today's state: (n_rows, products_per_category) products and probabilities.

        The same mixture choose() samples: favourites, their substitute sets, the group memory
        and exploration (which also takes the group share of an empty or stale memory slot).
        """
        cfg, c = self.cfg, self.catalog
        per = int(c.cat_end[0] - c.cat_start[0])
        prods = c.cat_start[cats][:, None] + np.arange(per)[None, :]
        weights = self.sampler.launched_weights(day)[self.bins[:, None], prods]
        explore = weights / weights.sum(axis=1, keepdims=True)
        prob = np.zeros(prods.shape)
        for j in range(self.fav.shape[2]):
            fav = self.fav[:, k, j][:, None]
            prob += cfg.loyalty * self.fav_weight[j] * (prods == fav)
            in_set = weights * (prods >= c.prod_set_start[fav]) * (prods < c.prod_set_end[fav])
            mass = in_set.sum(axis=1, keepdims=True)
            dist = np.where(mass > 0, in_set / np.where(mass > 0, mass, 1.0), explore)
            prob += cfg.substitute_share * self.fav_weight[j] * dist
        seen = self.memory_prod[self.group, cats]
        fresh = (seen >= 0) & (day - self.memory_day[self.group, cats] <= ADOPTION_DAYS)
        share = cfg.group_adoption / MEMORY_SLOTS
        for j in range(MEMORY_SLOTS):
            prob += share * fresh[:, j, None] * (prods == seen[:, j, None])
        rest = 1.0 - cfg.loyalty - cfg.substitute_share - cfg.group_adoption * fresh.mean(axis=1)
        return prods, prob + rest[:, None] * explore


def choice_truth(
    choice: ProductChoice, slot_cat: np.ndarray, day: int, keep: np.ndarray, min_prob: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(row, slot, product, probability) of the choice distribution on `day` for the products
    with keep[product] (e.g. the push candidates) and probability >= min_prob."""
    parts: list[tuple[np.ndarray, ...]] = []
    for k in range(slot_cat.shape[1]):
        prods, prob = choice.probabilities(k, slot_cat[:, k], day)
        row, col = np.nonzero(keep[prods] & (prob >= min_prob))
        parts.append((row, np.full(row.size, k), prods[row, col], prob[row, col]))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0)
    row, slot, product, prob = (np.concatenate([p[i] for p in parts]) for i in range(4))
    return row, slot.astype(np.int64), product, prob
