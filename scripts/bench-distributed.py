"""The benchmark of docs/distributed.md: one explanation of N Fashion-MNIST items on one
machine, then through cfx.distributed on 1 worker x T threads and W workers x 1 thread, side
by side in one run; and the client-side overhead per shard, from a method that does almost
nothing (1 pixel step).

    PYTHONPATH=build/python /usr/bin/python3 scripts/bench-distributed.py [--n 256] [--method disc]
"""

import argparse
import os
import sys
import tempfile
import time

import torch

import cfx
import cfx.distributed as cd


def timed(f):
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--method", default="disc")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    a = p.parse_args()
    model = os.path.join(os.path.dirname(__file__), "..", "models", "fashion-mnist-cnn.pt")
    X = cfx.load_dataset("fashion-mnist", split="test", n=a.n)[0]
    cores = len(os.sched_getaffinity(0))
    rows = []

    s, ref = timed(lambda: cfx.explain(model, X, method=a.method, seed=1,
                                       batch_size=a.batch_size, threads=cores))
    rows.append((f"one machine, cfx.explain, {cores} threads", s))
    for workers, threads in [(1, cores), (a.workers, 1)]:
        with cd.local_cluster(workers) as cluster, cluster.get_client() as client:
            with tempfile.TemporaryDirectory() as out:
                s, ex = timed(lambda: cd.explain(client, model, X, method=a.method, seed=1,
                                                 batch_size=a.batch_size, threads=threads,
                                                 out=out, progress=False))
            same = torch.equal(ex.counterfactuals, ref.counterfactuals)
            rows.append((f"cfx.distributed, {workers} worker(s) x {threads} thread(s)"
                         f"{'' if same else ' (DIFFERS from one machine)'}", s))
            if workers == a.workers:
                # Overhead: 1 step of pixel, so the shards' engine time is close to nothing;
                # the same on one machine (with out=, so both write the same files) is the
                # baseline the shards' overhead is measured against.
                with tempfile.TemporaryDirectory() as out:
                    one, _ = timed(lambda: cfx.explain(model, X, method="pixel", steps=1,
                                                       seed=1, batch_size=a.batch_size,
                                                       threads=1).save(out))
                rows.append(("pixel 1 step, one machine (the baseline of the overhead)", one))
                for shard_batches in (1, 4):
                    with tempfile.TemporaryDirectory() as out:
                        s, _ = timed(lambda: cd.explain(
                            client, model, X, method="pixel", steps=1, seed=1,
                            batch_size=a.batch_size, shard_batches=shard_batches, out=out,
                            progress=False))
                    shards = -(-a.n // (a.batch_size * shard_batches))
                    rows.append((f"pixel 1 step, {shards} shard(s): "
                                 f"{(s - one) / shards * 1000:.0f} ms overhead per shard", s))
    base = rows[0][1]
    print(f"{a.n} items, {a.method}, batch size {a.batch_size}, {cores} cores")
    for name, s in rows:
        print(f"  {name:62s} {s:8.1f} s   {base / s:5.2f}x one machine")
    return 0


if __name__ == "__main__":
    sys.exit(main())
