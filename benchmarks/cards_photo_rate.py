"""Success rate of cards.decode_photo per degradation category.

Usage: .venv/bin/python benchmarks/cards_photo_rate.py [cards]   (default 5 cards, 30 photos each)

The degraded photos are the ones the tests use (tests/cards/card_photo_samples.py), made from real printed
cards with a fresh signed token each; every card gets a different random seed.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cards import NoCodeFound, card_url, decode_photo, generate_card_id, new_signing_key, sign_card  # noqa: E402
from tests.cards.card_photo_samples import printed_card, samples  # noqa: E402


def main(card_count: int) -> None:
    private_key, _ = new_signing_key()
    successes: dict[str, int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    seconds: dict[str, float] = defaultdict(float)
    for seed in range(card_count):
        token = sign_card(generate_card_id(), 1, private_key)
        card = printed_card(card_url("https://linli.example.cn", token))
        for category, _, photo in samples(card, seed=seed):
            started = time.perf_counter()
            try:
                found = decode_photo(photo) == [token]
            except NoCodeFound:
                found = False
            seconds[category] += time.perf_counter() - started
            successes[category] += found
            totals[category] += 1

    print(f"{'category':<12} {'decoded':>9} {'rate':>6} {'ms/photo':>9}")
    for category in totals:
        print(
            f"{category:<12} {successes[category]:>4}/{totals[category]:<4} "
            f"{successes[category] / totals[category]:>6.0%} {1000 * seconds[category] / totals[category]:>9.0f}"
        )
    total, decoded = sum(totals.values()), sum(successes.values())
    print(f"{'all':<12} {decoded:>4}/{total:<4} {decoded / total:>6.0%} {1000 * sum(seconds.values()) / total:>9.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
