"""Benchmark: relevance scoring per item, the plain rule (every term's pattern on every field) beside
`score_text` (patterns run only on fields that hold one of the term's literal needles), same run.

Items are the lines of the test data as titles, with the next lines as summary and a 20 kB article text,
so that the figures include the article pages that collection scores.

    python3 bench/scoring.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_relevance import _plain_score, _test_texts  # noqa: E402

from newsletter.collect.relevance import score_text  # noqa: E402


def main() -> None:
    """Print ms per item for both, medians of 3 runs over the same items, and check they agree."""
    texts = _test_texts()
    article = " ".join(texts[:400])[:20_000]
    shapes = {
        "title + summary": [(t, texts[(i + 1) % len(texts)], "") for i, t in enumerate(texts[:2000])],
        "with a 20 kB article": [(t, texts[(i + 1) % len(texts)], article) for i, t in enumerate(texts[:200])],
    }
    for shape, items in shapes.items():
        figures = {}
        for name, fn in (("plain rule", _plain_score), ("score_text", score_text)):
            runs = []
            for _ in range(3):
                start = time.perf_counter()
                scores = [fn(*item) for item in items]
                runs.append((time.perf_counter() - start) / len(items) * 1000)
            figures[name] = (statistics.median(runs), scores)
        assert figures["plain rule"][1] == figures["score_text"][1], "scores differ"
        plain, fast = figures["plain rule"][0], figures["score_text"][0]
        print(f"{shape}: {len(items)} items, scores identical")
        print(f"  plain rule  {plain:.3f} ms/item")
        print(f"  score_text  {fast:.3f} ms/item  ({plain / fast:.1f}x cheaper)")


if __name__ == "__main__":
    main()
