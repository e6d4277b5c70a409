"""Regenerate the built-in JSONL datasets (deterministic): `python -m shared.datasets.generate`.

The items are written for this project; no data set is downloaded.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).parent / "builtin"

POSITIVE = ["excellent", "great", "fantastic", "sturdy", "delightful", "reliable", "superb", "comfortable",
            "well made", "a joy to use"]
NEGATIVE = ["terrible", "awful", "flimsy", "disappointing", "useless", "cheaply made", "unreliable",
            "uncomfortable", "a waste of money", "a pain to use"]
POS_VERBS = ["love", "adore", "really like", "would buy again"]
NEG_VERBS = ["hate", "regret buying", "returned", "would never buy again"]
PRODUCTS = ["blender", "backpack", "phone case", "desk lamp", "kettle", "headphones", "running shoes",
            "coffee grinder", "umbrella", "keyboard", "water bottle", "tent"]
TEMPLATES = ["I {v} this {p}.", "This {p} is {w}.", "The {p} is {w} and {w2}.", "Bought the {p}: {w}!",
             "My new {p} is {w}. I {v} it.", "Honestly, the {p} feels {w}."]

CAPITALS = {
    "France": "Paris", "Germany": "Berlin", "Italy": "Rome", "Spain": "Madrid", "Portugal": "Lisbon",
    "Japan": "Tokyo", "China": "Beijing", "India": "New Delhi", "Canada": "Ottawa", "Mexico": "Mexico City",
    "Brazil": "Brasilia", "Argentina": "Buenos Aires", "Egypt": "Cairo", "Kenya": "Nairobi", "Russia": "Moscow",
    "Norway": "Oslo", "Sweden": "Stockholm", "Finland": "Helsinki", "Denmark": "Copenhagen", "Poland": "Warsaw",
    "Greece": "Athens", "Turkey": "Ankara", "Ireland": "Dublin", "Austria": "Vienna", "Belgium": "Brussels",
    "Netherlands": "Amsterdam", "Switzerland": "Bern", "Australia": "Canberra", "Thailand": "Bangkok",
    "Peru": "Lima", "Chile": "Santiago", "Cuba": "Havana", "Hungary": "Budapest", "Czechia": "Prague",
    "South Korea": "Seoul", "Vietnam": "Hanoi", "Iran": "Tehran", "Iraq": "Baghdad", "Nigeria": "Abuja",
    "Morocco": "Rabat",
}

NAMES = ["Alice", "Bob", "Chen", "Dana", "Emeka", "Fatima", "Goran", "Hana", "Ivan", "Julia", "Kofi", "Lena"]
CITIES = ["Lyon", "Osaka", "Denver", "Porto", "Leeds", "Cusco", "Gdansk", "Perth"]


def sentiment(rng: random.Random, n: int = 80) -> list[dict[str, object]]:
    items = []
    for i in range(n):
        label = "positive" if i % 2 == 0 else "negative"
        words, verbs = (POSITIVE, POS_VERBS) if label == "positive" else (NEGATIVE, NEG_VERBS)
        w, w2 = rng.sample(words, 2)
        text = rng.choice(TEMPLATES).format(w=w, w2=w2, v=rng.choice(verbs), p=rng.choice(PRODUCTS))
        items.append({"id": f"sent-{i:03d}", "input": text, "expected": label,
                      "metadata": {"labels": ["positive", "negative"]}})
    return items


def capitals() -> list[dict[str, object]]:
    return [{"id": f"cap-{i:03d}", "input": f"What is the capital of {country}?", "expected": city,
             "metadata": {"country": country}} for i, (country, city) in enumerate(CAPITALS.items())]


def arithmetic(rng: random.Random, n: int = 60) -> list[dict[str, object]]:
    items = []
    for i in range(n):
        a, b = rng.randint(2, 60), rng.randint(2, 40)
        op = rng.choice(["+", "-", "*"])
        value = a + b if op == "+" else a - b if op == "-" else a * b
        items.append({"id": f"math-{i:03d}", "input": f"What is {a} {op} {b}? Answer with a number only.",
                      "expected": value, "metadata": {}})
    return items


def extraction(rng: random.Random, n: int = 40) -> list[dict[str, object]]:
    items = []
    for i in range(n):
        name, age, city = rng.choice(NAMES), rng.randint(18, 80), rng.choice(CITIES)
        text = f"{name} is {age} years old and lives in {city}."
        items.append({"id": f"json-{i:03d}", "input": text,
                      "expected": {"name": name, "age": age, "city": city}, "metadata": {}})
    return items


def write(name: str, items: list[dict[str, object]]) -> None:
    HERE.mkdir(exist_ok=True)
    (HERE / f"{name}.jsonl").write_text("".join(json.dumps(i, sort_keys=True) + "\n" for i in items))


def main() -> None:
    rng = random.Random(20261128)
    write("sentiment", sentiment(rng))
    write("capitals", capitals())
    write("arithmetic", arithmetic(rng))
    write("extraction", extraction(rng))


if __name__ == "__main__":
    main()
