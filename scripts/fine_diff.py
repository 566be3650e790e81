#!/usr/bin/env python3
"""Paired log-likelihood differences between two methods of an eval results.csv, printed with more digits than
summary.md: n, mean difference, 95% percentile bootstrap CI (10,000 resamples, seed 1), pairs where A > B, min/max."""
import csv, random, sys
rows = list(csv.DictReader(open(sys.argv[1])))
def key(r): return (r['task'], r['length'], r['depth'], r['sample'])
by = {}
for r in rows: by.setdefault(r['method'], {})[key(r)] = float(r['loglik'])
for spec in sys.argv[2:]:
    a, b = spec.split('|')
    ks = sorted(set(by[a]) & set(by[b]))
    d = [by[a][k] - by[b][k] for k in ks]
    rnd = random.Random(1); n = len(d)
    means = sorted(sum(d[rnd.randrange(n)] for _ in range(n)) / n for _ in range(10000))
    print(f'{a} - {b}: n {n}  mean {sum(d)/n:+.6f}  95% CI [{means[249]:+.6f}, {means[9749]:+.6f}]  '
          f'{sum(x > 0 for x in d)}/{n} pairs > 0  min {min(d):+.6f}  max {max(d):+.6f}')
