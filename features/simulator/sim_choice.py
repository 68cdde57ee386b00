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
from features.simulator.sim_catalog import Catalog, ProductSampler
from features.simulator.sim_world import World

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
        n_fav, c = self.cfg.favourites_per_category, self.catalog
        cats = slot_cat.reshape(-1)
        bins = np.repeat(self.bins, k)
        first = self.sampler.sample(0, cats, bins, rng.random(cats.size))
        # later favourites: half from the first one's substitute set (launched: it holds the
        # first), half from the category
        same = rng.random((n_fav - 1, cats.size)) < SAME_SET_FAVOURITE
        start = np.where(same, c.prod_set_start[first], c.cat_start[cats])
        end = np.where(same, c.prod_set_end[first], c.cat_end[cats])
        u = rng.random(start.shape)
        rest = self.sampler.sample_range(
            0, start.reshape(-1), end.reshape(-1), np.tile(bins, n_fav - 1), u.reshape(-1)
        )
        fav = np.concatenate([first[None, :], rest.reshape(n_fav - 1, -1)]).T
        return fav.reshape(n, k, n_fav)

    def _in_set(
        self, day: int, of: np.ndarray, cats: np.ndarray, bins: np.ndarray, u: np.ndarray
    ) -> np.ndarray:
        """A product of `of`'s substitute set (its category when nothing there is launched)."""
        c = self.catalog
        start, end = c.prod_set_start[of], c.prod_set_end[of]
        empty = ~self.sampler.set_open(day)[c.prod_set[of]]
        start = np.where(empty, c.cat_start[cats], start)
        end = np.where(empty, c.cat_end[cats], end)
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

    def probabilities(
        self,
        k: int,
        cats: np.ndarray,
        day: int,
        prods: np.ndarray | None = None,
        rows: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact choice distribution of a purchase of slot k (category cats, one per row) on
        `day`, given today's state: probabilities of prods (n_rows, m) product indices of the
        row's category (-1: padding, probability 0), by default every product of the category.
        rows: the chunk rows cats and prods belong to (default: all).

        The same mixture choose() samples: favourites, their substitute sets, the group memory
        and exploration (which also takes the group share of an empty or stale memory slot).
        """
        cfg, c, sampler = self.cfg, self.catalog, self.sampler
        rows = np.arange(self.bins.size) if rows is None else rows
        row_bins, group, favs = self.bins[rows], self.group[rows], self.fav[rows, k]
        if prods is None:
            per = int(c.cat_end[0] - c.cat_start[0])
            prods = c.cat_start[cats][:, None] + np.arange(per)[None, :]
        real = prods >= 0
        safe = np.where(real, prods, 0)
        bins = np.broadcast_to(row_bins[:, None], prods.shape)
        weight = sampler.weight(day, safe, bins) * real
        explore = weight / sampler.mass(day, c.cat_start[cats], c.cat_end[cats], row_bins)[:, None]
        prob = np.zeros(prods.shape)
        prod_set = c.prod_set[safe]
        for j in range(self.fav.shape[2]):
            fav = favs[:, j]
            w_loyal, w_sub = (
                cfg.loyalty * self.fav_weight[j],
                cfg.substitute_share * self.fav_weight[j],
            )
            prob += w_loyal * (prods == fav[:, None])
            set_mass = sampler.mass(day, c.prod_set_start[fav], c.prod_set_end[fav], row_bins)
            ok = set_mass > 0
            scale = np.where(ok, w_sub / np.where(ok, set_mass, 1.0), 0.0)[:, None]
            prob += np.where(prod_set == c.prod_set[fav][:, None], weight * scale, 0.0)
            if not ok.all():  # rare: nothing of the set launched, the draw explores instead
                prob += w_sub * (~ok)[:, None] * explore
        seen = self.memory_prod[group, cats]
        fresh = (seen >= 0) & (day - self.memory_day[group, cats] <= ADOPTION_DAYS)
        share = cfg.group_adoption / MEMORY_SLOTS
        for j in range(MEMORY_SLOTS):
            prob += share * fresh[:, j, None] * (prods == seen[:, j, None])
        rest = 1.0 - cfg.loyalty - cfg.substitute_share - cfg.group_adoption * fresh.mean(axis=1)
        return prods, (prob + rest[:, None] * explore) * real


def candidate_products(catalog: Catalog, keep: np.ndarray) -> np.ndarray:
    """(n_cat, m) the kept products of each category, padded with -1."""
    cats = catalog.prod_cat[keep]
    products = np.flatnonzero(keep)
    count = np.bincount(cats, minlength=catalog.n_categories)
    out = np.full((catalog.n_categories, max(int(count.max(initial=0)), 1)), -1, dtype=np.int64)
    rank = np.arange(products.size) - np.repeat(np.cumsum(count) - count, count)
    out[cats, rank] = products
    return out


def choice_truth(
    choice: ProductChoice,
    slot_cat: np.ndarray,
    day: int,
    keep: np.ndarray,
    min_prob: float,
    slots: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(row, slot, product, probability) of the choice distribution on `day` for the (row, slot)
    pairs with slots[row, slot], the products with keep[product] (e.g. the push candidates) and
    probability >= min_prob."""
    candidates = candidate_products(choice.catalog, keep)
    parts: list[tuple[np.ndarray, ...]] = []
    for k in range(slot_cat.shape[1]):
        rows = np.flatnonzero(slots[:, k])
        cats = slot_cat[rows, k]
        prods, prob = choice.probabilities(k, cats, day, candidates[cats], rows)
        row, col = np.nonzero(prob >= min_prob)
        parts.append((rows[row], np.full(row.size, k), prods[row, col], prob[row, col]))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, np.zeros(0)
    row, slot, product, prob = (np.concatenate([p[i] for p in parts]) for i in range(4))
    return row, slot.astype(np.int64), product, prob
