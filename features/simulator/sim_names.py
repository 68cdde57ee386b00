"""Plausible product and category names for the simulated catalogue (seeded, all in code).

Why: push-list reasons and the operator page read "Brightfield Oat milk Vanilla 1L" and
"replenishment due: Oat milk every 9 days", not "P000123" and "C007", so the demo shows what a
shop with a named catalogue sees. Each department type (sim_catalog.DEPARTMENT_TYPES) has a
small vocabulary of category nouns with a line of variants and pack sizes; a category's name is
a noun of its department's type (qualified, e.g. "Organic ...", once the nouns run out, so
names stay unique), and a product's name is its substitute set's brand, the category name, a
variant and a size: products of one set are one brand's line, as in sim_catalog.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from features.simulator.sim_catalog import DEPARTMENT_TYPES, Catalog

# department type -> (category nouns, variants of a brand's line, pack sizes)
VOCABULARY: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "fresh": (
        ("Oat milk", "Whole milk", "Greek yogurt", "Free-range eggs", "Sourdough bread",
         "Chicken breast", "Tomatoes", "Bananas", "Apples", "Baby spinach", "Cheddar",
         "Tofu"),
        ("Classic", "Light", "Organic"),
        ("250g", "500g", "1kg"),
    ),
    "durables": (
        ("Frying pan", "Saucepan", "Kitchen knife", "Chopping board", "Bath towel",
         "Bed sheet", "Storage box", "Thermos flask", "Desk lamp", "Umbrella", "Backpack",
         "Pillow"),
        ("Basic", "Pro", "Deluxe"),
        ("S", "M", "L"),
    ),
    "pantry": (
        ("Jasmine rice", "Spaghetti", "Olive oil", "Soy sauce", "Canned tomatoes",
         "Peanut butter", "Rolled oats", "Ground coffee", "Green tea", "Flour", "Honey",
         "Chickpeas"),
        ("Original", "Wholegrain", "Organic"),
        ("500g", "1kg", "2kg"),
    ),
    "household": (
        ("Dish soap", "Laundry detergent", "Toilet paper", "Paper towels", "Trash bags",
         "Sponges", "Glass cleaner", "Fabric softener", "Bleach", "Dishwasher tablets",
         "Cling film", "Air freshener"),
        ("Lemon", "Fresh", "Sensitive"),
        ("500ml", "1L", "2L"),
    ),
    "snacks": (
        ("Potato chips", "Dark chocolate", "Salted peanuts", "Cookies", "Rice crackers",
         "Gummy bears", "Popcorn", "Granola bars", "Dried mango", "Pretzels", "Sparkling water",
         "Orange juice"),
        ("Original", "Spicy", "Sea salt"),
        ("100g", "200g", "Family pack"),
    ),
    "personal_care": (
        ("Shampoo", "Conditioner", "Toothpaste", "Body wash", "Hand soap", "Deodorant",
         "Face cream", "Sunscreen", "Razor blades", "Cotton pads", "Lip balm", "Mouthwash"),
        ("Classic", "Sensitive", "Herbal"),
        ("50ml", "250ml", "500ml"),
    ),
    "baby": (
        ("Diapers", "Baby wipes", "Infant formula", "Baby food pouches", "Baby shampoo",
         "Teething rusks", "Baby lotion", "Nursing pads", "Baby cereal", "Bibs",
         "Sippy cups", "Diaper cream"),
        ("Newborn", "Sensitive", "Organic"),
        ("Small", "Medium", "Large"),
    ),
    "appliances": (
        ("Electric kettle", "Toaster", "Rice cooker", "Blender", "Hair dryer", "Air fryer",
         "Vacuum cleaner", "Steam iron", "Coffee maker", "Microwave", "Electric fan",
         "Water filter"),
        ("Compact", "Standard", "Premium"),
        ("White", "Black", "Silver"),
    ),
}  # fmt: skip
QUALIFIERS = ("Organic", "Premium", "Value", "Imported", "Local", "Family")
BRANDS = (
    "Brightfield", "Northwind", "Sunvale", "Harbor", "Meadowlark", "Bluepeak", "Oakridge",
    "Riverstone", "Goldleaf", "Silverline", "Greenway", "Maple & Co", "Clearwater", "Redrock",
    "Fairmont", "Pinecrest", "Willowby", "Stonebridge", "Evergreen", "Larkspur",
)  # fmt: skip
LINES = ("", " Select", " Gold", " Everyday", " Signature")
SEED_SALT = 0x6E616D65  # names draw from their own stream: the simulated data stays as it was


def _qualified(noun: str, round_: int) -> str:
    if round_ == 0:
        return noun
    if round_ <= len(QUALIFIERS):
        return f"{QUALIFIERS[round_ - 1]} {noun.lower()}"
    return f"{noun} {round_ + 1}"


def category_names(catalog: Catalog, seed: int) -> list[str]:
    """One unique name per category: its department type's nouns, in a seeded order."""
    rng = np.random.default_rng([seed, SEED_SALT])
    orders = {t: rng.permutation(len(VOCABULARY[t][0])) for t, _, _ in DEPARTMENT_TYPES}
    used: dict[str, int] = {}
    out = []
    for dept in catalog.cat_dept.tolist():
        kind = DEPARTMENT_TYPES[dept % len(DEPARTMENT_TYPES)][0]
        nouns = VOCABULARY[kind][0]
        k = used.get(kind, 0)
        used[kind] = k + 1
        out.append(_qualified(nouns[orders[kind][k % len(nouns)]], k // len(nouns)))
    return out


def product_names(catalog: Catalog, seed: int, set_size: int) -> list[str]:
    """'<brand> <category name> <variant> <size>': one brand per substitute set (sets of
    SET_SIZE consecutive products of a category), variants and sizes along the set."""
    rng = np.random.default_rng([seed, SEED_SALT, 1])
    cats = category_names(catalog, seed)
    out: list[str] = []
    bounds = zip(catalog.cat_start.tolist(), catalog.cat_end.tolist(), strict=True)
    for c, (start, end) in enumerate(bounds):
        kind = DEPARTMENT_TYPES[int(catalog.cat_dept[c]) % len(DEPARTMENT_TYPES)][0]
        _, variants, sizes = VOCABULARY[kind]
        brands = rng.permutation(len(BRANDS))
        for within in range(end - start):
            s, j = divmod(within, set_size)
            brand = BRANDS[brands[s % len(BRANDS)]] + LINES[(s // len(BRANDS)) % len(LINES)]
            variant = variants[(j // len(sizes)) % len(variants)]
            out.append(f"{brand} {cats[c]} {variant} {sizes[j % len(sizes)]}")
    return out


def name_columns(catalog: Catalog, seed: int, set_size: int) -> tuple[pa.Array, pa.Array]:
    """(product_name, category_name) per product, as the products table holds them."""
    cats = pa.array(category_names(catalog, seed), pa.string())
    prods = pa.array(product_names(catalog, seed, set_size), pa.string())
    return prods, cats.take(pa.array(catalog.prod_cat.astype(np.int64)))
