#!/usr/bin/env python3
"""Compare two MoICE router checkpoints (safetensors, float32): per layer and tensor, Frobenius norm of A, of B-A,
max |B-A|, and the relative change ||B-A||/||A||. Standard library only."""
import json, struct, sys, math

def load(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in hdr.items():
        if name == '__metadata__':
            continue
        assert info['dtype'] == 'F32', info
        a, b = info['data_offsets']
        out[name] = struct.unpack('<%df' % ((b - a) // 4), data[a:b])
    return hdr.get('__metadata__', {}), out

ma, A = load(sys.argv[1]); mb, B = load(sys.argv[2])
assert A.keys() == B.keys()
print('A:', sys.argv[1], ma); print('B:', sys.argv[2], mb)
layers = sorted({int(k.split('.')[2]) for k in A})
print('layer  tensor   |A|       |B-A|      max|B-A|   |B-A|/|A|')
tot_a = tot_d = 0.0; maxd = 0.0; rels = []
for L in layers:
    for g in ('gate_1', 'gate_2', 'gate_3'):
        k = f'model.layers.{L}.self_attn.{g}.weight'
        a, b = A[k], B[k]
        na = math.sqrt(sum(x * x for x in a)); d = [y - x for x, y in zip(a, b)]
        nd = math.sqrt(sum(x * x for x in d)); md = max(abs(x) for x in d)
        tot_a += na * na; tot_d += nd * nd; maxd = max(maxd, md); rels.append(nd / na)
        print(f'{L:5d}  {g}  {na:9.5f}  {nd:10.3e}  {md:10.3e}  {nd/na:10.3e}')
print(f'all    |A| {math.sqrt(tot_a):.5f}  |B-A| {math.sqrt(tot_d):.4e}  max|B-A| {maxd:.4e}  '
      f'|B-A|/|A| {math.sqrt(tot_d/tot_a):.4e}  (per-tensor relative change: min {min(rels):.3e}, max {max(rels):.3e})')
