#!/usr/bin/env python3
"""Summarise a routing-stats CSV (`bin/moice forward --routing-stats FILE.csv`): how MoICE's routers share each head's
attention among the RoPE bases.

    python3 scripts/routing_shares.py FILE.csv [FILE2.csv ...]

Per file: the mean weight of each base over all layers and heads (1/N everywhere = no preference), the largest and
smallest (layer, head) mean weight of each base, and per layer the mean weight of the model's own base (expert 0).
Standard library only.
"""
import collections
import csv
import sys


def summarise(path):
    rows = list(csv.DictReader(open(path, newline="")))
    if not rows:
        sys.exit(f"routing_shares: {path}: no rows")
    experts = sorted({int(r["expert"]) for r in rows})
    base = {int(r["expert"]): r["base"] for r in rows}
    by_expert = collections.defaultdict(list)
    own_by_layer = collections.defaultdict(list)
    for r in rows:
        w = float(r["mean_weight"])
        by_expert[int(r["expert"])].append(w)
        if int(r["expert"]) == 0:
            own_by_layer[int(r["layer"])].append(w)
    print(f"{path}: {len(experts)} bases, {len(by_expert[0])} (layer, head) pairs, uniform = {1 / len(experts):.4f}")
    print("  base        mean weight   min (layer,head)   max (layer,head)")
    for e in experts:
        ws = by_expert[e]
        print(f"  {base[e]:>10}  {sum(ws) / len(ws):.4f}        {min(ws):.4f}             {max(ws):.4f}")
    print("  own base (expert 0) mean weight by layer: "
          + " ".join(f"{l}:{sum(v) / len(v):.3f}" for l, v in sorted(own_by_layer.items())))


for p in sys.argv[1:] or sys.exit(__doc__):
    summarise(p)
