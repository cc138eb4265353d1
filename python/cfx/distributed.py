"""cfx on a Dask cluster: explanations of many images, split into shards across workers.

    from dask.distributed import Client
    import cfx.distributed
    client = Client("tcp://scheduler:8786")  # or cfx.distributed.local_cluster(2).get_client()
    ex = cfx.distributed.explain(client, "models/fashion-mnist-cnn.pt", X, method="disc",
                                 seed=1, batch_size=64, out="out/disc")

How it stays equal to a single-machine run: a shard is a run of whole engine batches (the
unit `--resume` keeps), seeded as the single-machine run seeds them (seed + the index of the
batch's first item), so each worker writes the very batch files the single-machine run would
have. The client keeps every finished shard's batch files in `<out>/batches` (atomically, as
they arrive) beside the settings the engine checks on resume, and then joins them with the
engine's own resume path: result.json, the images and the report are written by the same code
as `cfx explain --resume`. A shard whose worker dies is run again by Dask on another worker; a
client killed and run again with `resume=True` runs only the shards whose files are missing.

Models reach the workers by value (the TorchScript or checkpoint bytes, sent once per run and
written to a file per worker) unless `model_by="path"`, which has each worker load the path
itself (shared storage). Images and targets always travel by value, shard by shard.

evaluate() computes each method's explanations on the workers the same way and scores them on
the client. Global scores are not distributed yet (docs/distributed.md).
"""

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time

import torch

from . import (Error, Explanation, _cfx, _check_options, _eval_job, _global_job, _images,
               _model_spec, _targets, _threads)

__all__ = ["evaluate", "explain", "global_scores", "local_cluster", "saliency", "main"]

_BATCH = re.compile(r"^(\d{6})-(\d{6})\.pt$")


def _write_atomic(path, data):
    tmp = os.path.join(os.path.dirname(path), f".tmp.{os.path.basename(path)}.{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _model_payload(model, X, model_by, tmp, class_names=None, mean=None, std=None):
    """What workers need to load the model: its spec, and its file's bytes when by value."""
    spec = json.loads(_model_spec(model, X, tmp, class_names, mean, std))
    if model_by == "path":
        if spec["source"]:
            raise Error("model_by='path' needs a model file on shared storage, not a module")
        return {"by": "path", "spec": spec}
    if model_by != "value":
        raise Error(f"model_by = {model_by!r} (use 'value' or 'path')")
    data, side = _read_model(spec["path"])
    return {"by": "value", "spec": spec, "data": data, "sidecar": side,
            "digest": _digest(data, side), "name": os.path.basename(spec["path"])}


def _read_model(path):
    """A model file's bytes and its cfx sidecar's (None for a TorchScript file without)."""
    with open(path, "rb") as f:
        data = f.read()
    sidecar = os.path.splitext(path)[0] + ".json"
    side = None
    if path.endswith(".pt") and os.path.isfile(sidecar):
        with open(sidecar, "rb") as f:
            side = f.read()
    return data, side


def _digest(data, side):
    return hashlib.sha256(data + (side or b"")).hexdigest()[:16]


_SAME_FILE = {}  # on a worker: (client path, digest) -> whether this worker sees that file


def _sees_same_file(payload):
    """Whether the model file at the client's path is, on this worker, the one sent (the
    same machine, or shared storage): then methods find companion models beside it."""
    key = (payload["spec"]["path"], payload["digest"])  # a file changed since is not the same
    if key not in _SAME_FILE:
        try:
            _SAME_FILE[key] = _digest(*_read_model(key[0])) == payload["digest"]
        except OSError:
            _SAME_FILE[key] = False
    return _SAME_FILE[key]


def _worker_model_spec(payload):
    """On a worker: the model spec with a path this worker can read (written once per run
    unless the worker sees the client's file itself)."""
    spec = dict(payload["spec"])
    if payload["by"] == "path" or (not spec["source"] and _sees_same_file(payload)):
        return spec
    root = os.path.join(tempfile.gettempdir(), f"cfx-models-{os.getuid()}", payload["digest"])
    path = os.path.join(root, payload["name"])
    if not os.path.isfile(path):
        os.makedirs(root, exist_ok=True)
        if payload["sidecar"] is not None:
            _write_atomic(os.path.splitext(path)[0] + ".json", payload["sidecar"])
        _write_atomic(path, payload["data"])
    spec["path"] = path
    return spec


_WORKER_PREPARED = False


def _prepare_worker():
    """Once per worker process, before its first task: malloc as the client has it, and
    stacks on SIGUSR1."""
    global _WORKER_PREPARED
    if _WORKER_PREPARED:
        return
    _WORKER_PREPARED = True
    _tune_malloc()
    _dump_stacks_on_sigusr1()


def _tune_malloc():
    """Gives glibc's malloc back its usual thresholds. Dask's nanny starts workers with
    MALLOC_TRIM_THRESHOLD_=65536, which also fixes the mmap threshold, so every tensor above
    128 KiB is mmap'ed and unmapped again: the engine ran 2.5x slower in a worker than in the
    client (disc, 32 items: 19.2 s against 7.2 s; 7.7 s after this)."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 64 << 20)  # M_TRIM_THRESHOLD
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD (glibc's dynamic maximum)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to undo


def _dump_stacks_on_sigusr1():
    """Once per process: SIGUSR1 prints every thread's Python stack to stderr (faulthandler),
    so a run that seems stuck can be asked where each process is: `kill -USR1 PID`, or the
    whole local cluster at once with the client's process group."""
    import faulthandler
    import signal
    if hasattr(signal, "SIGUSR1"):
        try:
            faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)
        except (ValueError, RuntimeError, OSError, AttributeError):
            pass  # no stderr to write to, or not on the main interpreter: nothing to dump


def _run_shard(payload, X, names, job, threads):
    """On a worker: one shard's engine run; returns its batch files {local name: bytes}."""
    _prepare_worker()
    spec = _worker_model_spec(payload)
    with tempfile.TemporaryDirectory(prefix="cfx-shard-") as tmp:
        job = dict(job, batches_dir=os.path.join(tmp, "batches"), resume=False)
        _cfx.explain(json.dumps(spec), X, names, json.dumps(job), int(threads), False)
        out = {}
        for name in sorted(os.listdir(job["batches_dir"])):
            if _BATCH.match(name):
                with open(os.path.join(job["batches_dir"], name), "rb") as f:
                    out[name] = f.read()
        return out


@contextlib.contextmanager
def _out_root(out):
    """The run's folder: `out`, or a temporary one removed afterwards."""
    if out is not None:
        yield str(out)
        return
    tmp = tempfile.mkdtemp(prefix="cfx-distributed-")
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _result(future, what):
    """A task's result; a failure on the worker that is not a user error names `what`."""
    try:
        return future.result()
    except Error:
        raise
    except Exception as e:
        raise Error(f"{what} failed on its worker: {e}") from None


def _check_shard_batches(shard_batches):
    if int(shard_batches) < 1:
        raise Error(f"shard_batches = {shard_batches} (at least 1)")


def _shard_ranges(n, batch_size, shard_batches):
    """Items lo..hi of each shard: shard_batches whole engine batches of batch_size items."""
    _check_shard_batches(shard_batches)
    shard = int(batch_size) * int(shard_batches)
    return [(i, min(n, i + shard)) for i in range(0, n, shard)]


def _have(batches, lo, hi, batch_size):
    """Whether every batch file of items lo..hi is in `batches`."""
    return all(os.path.isfile(os.path.join(batches, f"{i:06d}-{min(hi, i + batch_size):06d}.pt"))
               for i in range(lo, hi, batch_size))


def _connect(client):
    if isinstance(client, str):
        from dask.distributed import Client
        try:
            return Client(client, timeout="5s")
        except (OSError, TimeoutError) as e:
            raise Error(f"cannot reach the Dask scheduler at {client}: {e}") from None
    return client


WORKER_TIMEOUT = 30  # seconds to wait for a first worker before giving up
CLOSE_TIMEOUT = 30  # seconds the command line waits for its client and local cluster to stop


def _workers(client):
    """The number of workers, after waiting up to WORKER_TIMEOUT s for the first: a
    scheduler with none would leave the run waiting for ever."""
    timeout = WORKER_TIMEOUT
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError):
        raise Error(f"no Dask worker joined the scheduler {client.scheduler.address} in "
                    f"{timeout} s (start workers with `dask worker ADDRESS`)") from None
    return len(client.scheduler_info().get("workers", {}))


def explain(client, model, X, target="auto", method="pixel", seed=0, batch_size=64,
            shard_batches=1, out=None, resume=False, model_by="value", threads=1,
            device="cpu", progress=True, names=None, _kind="", **options):
    """cfx.explain() across the workers of a Dask `client` (a Client or a scheduler address).

    The arguments are explain()'s, plus:
    shard_batches: engine batches per shard (a shard is shard_batches * batch_size items);
    out: folder for result.json, the images, the report and the shards' batch files (kept,
        so a killed client can go on with resume=True); None: a temporary folder;
    model_by: "value" (the model file's bytes go to the workers) or "path" (each worker reads
        the path: shared storage);
    threads: the engine's threads per task on a worker;
    names: what each item is, result.json's "input" (default: the image paths, else "item i").
    Returns a cfx.Explanation equal to the single-machine run's for the same seed.
    """
    _check_options(method, options)
    X, names = _images(X, names)
    names = names or [f"item {i}" for i in range(len(X))]
    ranges = _shard_ranges(len(X), batch_size, shard_batches)
    client = _connect(client)
    n = len(X)
    targets = _targets(target, n)
    job = {"method": str(method), "options": options, "targets": targets, "seed": int(seed),
           "batch_size": int(batch_size), "device": str(device), "kind": _kind}
    with _out_root(out) as root:
        batches = os.path.join(root, "batches")
        os.makedirs(batches, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="cfx-") as tmp:
            payload = _model_payload(model, X, model_by, tmp)
            spec = json.dumps(payload["spec"])
            settings = json.loads(_cfx.explain_batch_settings(spec, X, json.dumps(job),
                                                              _threads(threads)))
            _prepare_batches(batches, settings, resume)
            todo = [r for r in ranges if not _have(batches, *r, int(batch_size))]
            workers = _workers(client) if todo else 0
            if progress:
                print(f"cfx: {len(todo)} of {len(ranges)} shard(s) to run on {workers} "
                      "worker(s)", file=sys.stderr, flush=True)
            _run_shards(client, payload, [dict(X=X, names=names, job=job, todo=todo,
                                               batches=batches)], threads, progress)
            final = dict(job, batches_dir=batches, resume=True)
            outcome = _cfx.explain(spec, X, names, json.dumps(final), _threads(threads), False)
        ex = Explanation(outcome)
        if out is not None:
            ex.save(out)
        return ex


def saliency(client, model, X, method="fido", target="pred", **kwargs):
    """cfx.saliency() across a Dask cluster: explain() with a saliency method."""
    return explain(client, model, X, target=target, method=method, _kind="saliency", **kwargs)


def _prepare_batches(batches, settings, resume):
    """The batch folder's settings, as the engine checks them: a fresh run starts empty; a
    resumed one must have been made with the same settings."""
    path = os.path.join(batches, "config.json")
    text = json.dumps(settings, indent=2, sort_keys=True) + "\n"
    if resume and os.path.isfile(path):
        with open(path) as f:
            old = json.load(f)
        if old != settings:
            raise Error(f"cannot resume: {batches} holds batches of a run with other settings; "
                        "drop resume to start over, or use another out")
        return
    for name in os.listdir(batches):
        if _BATCH.match(name) or name.startswith(".tmp."):
            os.remove(os.path.join(batches, name))
    _write_atomic(path, text.encode())


def _bar(done, total, seconds):
    """The shards' progress on stderr, as the engine's bars: redrawn in place on a terminal,
    a line per finished shard otherwise (logs)."""
    width = 30
    filled = width * done // total
    eta = f", {seconds / done * (total - done):.0f} s left" if done < total else ""
    line = (f"shards [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
            f"{seconds:.1f} s{eta}")
    if sys.stderr.isatty():
        sys.stderr.write("\r" + line + ("\n" if done == total else ""))
    else:
        sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _run_shards(client, payload, work, threads, progress):
    """Runs the shards `todo` of every entry of `work` ({X, names, job, todo, batches}) on the
    workers, and writes each finished shard's batch files into its `batches` folder."""
    from dask.distributed import as_completed

    if not any(w["todo"] for w in work):
        return
    # The model goes to every worker once per run, not with every shard.
    if payload["by"] == "value":
        [payload] = client.scatter([payload], broadcast=True)
    futures = {}
    for w in work:
        job, targets = w["job"], w["job"]["targets"]
        for lo, hi in w["todo"]:
            shard_job = dict(job, seed=job["seed"] + lo,
                             targets=targets if len(targets) == 1 else targets[lo:hi])
            tag = hashlib.sha1(json.dumps(shard_job, sort_keys=True).encode()).hexdigest()[:8]
            f = client.submit(_run_shard, payload, w["X"][lo:hi].clone(), w["names"][lo:hi],
                              shard_job, threads, pure=False, retries=2,
                              key=f"cfx-shard-{job['method']}-{lo:06d}-{hi:06d}-{tag}")
            futures[f] = (w["batches"], lo)
    start, done = time.monotonic(), 0
    try:
        for f in as_completed(list(futures)):
            batches, lo = futures[f]
            files = _result(f, f"the shard at item {lo}")
            for name, data in files.items():
                m = _BATCH.match(name)
                a, b = int(m.group(1)) + lo, int(m.group(2)) + lo
                _write_atomic(os.path.join(batches, f"{a:06d}-{b:06d}.pt"), data)
            done += 1
            if progress:
                _bar(done, len(futures), time.monotonic() - start)
    finally:
        for f in futures:
            f.cancel()


def evaluate(client, model, X, out=None, resume=False, shard_batches=1, model_by="value",
             threads=1, progress=True, class_names=None, mean=None, std=None, names=None,
             **kwargs):
    """cfx.evaluate() with every method's explanations computed on the workers of `client`
    and the metrics (which need every item: intervals, FID, COUT, surrogates) on the client,
    from the same batches a single-machine run would have made. `kwargs` are evaluate()'s
    (methods, target, seed, batch_size, data, oracle, ..., method options). The sanity
    check's runs on a randomised model stay on the client. Returns eval.json as a dict;
    with `out`, also the CLI's files there. names: as explain()'s."""
    X, names = _images(X, names)
    names = names or [f"item {i}" for i in range(len(X))]
    _check_shard_batches(shard_batches)
    client = _connect(client)
    with _out_root(out) as root:
        job, where = _eval_job(len(X), out=root, resume=True, **kwargs)  # the final call joins
        with tempfile.TemporaryDirectory(prefix="cfx-") as tmp:
            payload = _model_payload(model, X, model_by, tmp, class_names, mean, std)
            spec = json.dumps(payload["spec"])
            plans = _cfx.eval_batch_plans(spec, X, names, json.dumps(where), json.dumps(job),
                                          _threads(threads))
            size = int(job["batch_size"])
            ranges = _shard_ranges(len(X), size, shard_batches)
            work = []
            for p in plans:
                batches = p["batches_dir"]
                os.makedirs(batches, exist_ok=True)
                _prepare_batches(batches, json.loads(p["settings"]), resume)
                method_job = {"method": p["method"], "options": json.loads(p["options"]),
                              "targets": [str(int(t)) for t in p["targets"].tolist()],
                              "seed": job["seed"], "batch_size": size,
                              "device": job["device"], "kind": ""}
                work.append(dict(X=p["images"], names=names, job=method_job, batches=batches,
                                 todo=[r for r in ranges if not _have(batches, *r, size)]))
            todo = sum(len(w["todo"]) for w in work)
            workers = _workers(client) if todo else 0
            if progress:
                print(f"cfx: {todo} of {len(ranges) * len(work)} shard(s) to run on {workers} "
                      "worker(s)", file=sys.stderr, flush=True)
            _run_shards(client, payload, work, threads, progress)
            doc = _cfx.evaluate(spec, X, names, json.dumps(where), json.dumps(job),
                                "" if out is None else str(out), _threads(threads), False)
        return json.loads(doc)


def _global_shard(payload, job, latents, threads):
    """On a worker: the intervention samples of some latents."""
    _prepare_worker()
    spec = _worker_model_spec(payload)
    return _cfx.global_samples(json.dumps(spec), json.dumps(job), latents, int(threads))


def global_scores(client, model, outcome, shard_batches=1, out=None, model_by="value",
                  threads=1, progress=True, input_shape=None, class_names=None, mean=None,
                  std=None, **kwargs):
    """cfx.global_scores() with the intervention samples drawn on the workers: the client
    takes the latents (encoded images, or drawn with the seed, as one machine does), workers
    sample the interventions of shards of them (each sample depends only on its latent), and
    the client bootstraps the scores. `kwargs` are global_scores()'s (samples, seed, latents,
    data, generator, shifter, bootstrap, ...). The shift predictor, generator and attribute
    classifier are found beside the model file, so with a model sent by value the workers
    must see that folder (shared storage), or pass their paths. Returns global.json as a dict;
    with `out`, also global.png and report.html there."""
    _check_shard_batches(shard_batches)  # before the latents are made
    job = _global_job(outcome, **kwargs)
    client = _connect(client)
    X = None if input_shape is None else torch.zeros([2] + list(input_shape))
    with tempfile.TemporaryDirectory(prefix="cfx-") as tmp:
        payload = _model_payload(model, X, model_by, tmp, class_names, mean, std)
        spec = json.dumps(payload["spec"])
        latents, source = _cfx.global_latents(spec, json.dumps(job), _threads(threads))
        ranges = _shard_ranges(len(latents), job["batch_size"], shard_batches)
        workers = _workers(client)
        if progress:
            print(f"cfx: {len(ranges)} shard(s) of intervention samples on {workers} worker(s)",
                  file=sys.stderr, flush=True)
        from dask.distributed import wait
        if payload["by"] == "value":
            [payload_ref] = client.scatter([payload], broadcast=True)
        else:
            payload_ref = payload
        start = time.monotonic()
        futures = [client.submit(_global_shard, payload_ref, job, latents[lo:hi].clone(),
                                 threads, pure=False, retries=2,
                                 key=f"cfx-global-{lo:06d}-{hi:06d}-{os.getpid()}-{time.time_ns()}")
                   for lo, hi in ranges]
        try:
            wait(futures)
            parts = [_result(f, "a global-scores shard") for f in futures]
        finally:
            for f in futures:
                f.cancel()
        sample_s = time.monotonic() - start
        samples = {k: torch.cat([p[k] for p in parts]) for k in parts[0] if k != "names"}
        samples["names"] = parts[0]["names"]
        doc = _cfx.global_outcome(spec, json.dumps(job), samples, source, sample_s,
                                  "" if out is None else str(out), _threads(threads))
    return json.loads(doc)


def _run_command(a, client, X, names, options):
    """The command line's run; prints its summary and returns the file it wrote."""
    if a.command == "global":
        g = global_scores(client, a.model, a.outcome, shard_batches=a.shard_batches, out=a.out,
                          model_by=a.model_by, threads=a.threads, samples=a.samples,
                          seed=a.seed, latents=a.latents, data=a.data or "", split=a.split,
                          bootstrap=a.bootstrap, batch_size=a.batch_size)
        for sc in g["scores"]:
            est = sc["necessity_and_sufficiency"]["estimate"]
            print(f"{sc['attribute']:18s} necessity and sufficiency {est}")
        return "global.json"
    if a.command == "eval":
        ev = evaluate(client, a.model, X, out=a.out, resume=a.resume, methods=a.methods,
                      target=a.target or "auto", seed=a.seed, batch_size=a.batch_size,
                      shard_batches=a.shard_batches, model_by=a.model_by, threads=a.threads,
                      data=a.data, split=a.split, offset=a.offset, oracle=a.oracle,
                      autoencoders=a.autoencoders, names=names, sets=options)
        for m in ev["methods"]:
            key = "validity" if "validity" in m["summary"] else "deletion_auc"
            print(f"{m['method']:10s} {key} {m['summary'][key]['mean']:.3f}")
        return "eval.json"
    saliency_run = a.command == "saliency"
    ex = explain(client, a.model, X, target=a.target or ("pred" if saliency_run else "auto"),
                 method=a.method or ("fido" if saliency_run else "pixel"), seed=a.seed,
                 batch_size=a.batch_size, shard_batches=a.shard_batches, out=a.out,
                 resume=a.resume, model_by=a.model_by, threads=a.threads, names=names,
                 _kind="saliency" if saliency_run else "counterfactual", **options)
    s = ex.summary
    if "validity" in s:
        print(f"{len(ex)} item(s), validity {s['validity']:.3f}, mean L1 {s['mean_l1']:.4f}")
    else:
        print(f"{len(ex)} item(s), mean saliency area {s.get('mean_saliency_area', 0):.3f}")
    return "result.json"


def local_cluster(n_workers):
    """A LocalCluster of n_workers single-threaded processes, as the command line's --workers
    starts it (use it as a context manager, or close it), without Dask's statistical
    profiler: on Python 3.11 before 3.11.9 its two samplers (the event loop's and a watcher
    thread's sys._current_frames) can deadlock a worker for good (CPython gh-106883); it hung
    a shard of a CI run until the test's 300 s timeout. cfx does not use the profiles."""
    import copy

    import dask
    from dask.distributed import LocalCluster
    # A whole copy for the nannies: they merge it over the global config only one level deep,
    # so a temporary dask.config.set would be undone for the workers they restart.
    config = copy.deepcopy(dask.config.config)
    config.setdefault("distributed", {}).setdefault("worker", {}).setdefault("profile", {})
    config["distributed"]["worker"]["profile"]["enabled"] = False
    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                        dashboard_address=None, config=config)


def main(argv=None):
    """python3 -m cfx.distributed explain|saliency|eval|global --scheduler ADDR | --workers N"""
    p = argparse.ArgumentParser(prog="python3 -m cfx.distributed",
                                description="cfx explanations across a Dask cluster")
    p.add_argument("command", choices=["explain", "saliency", "eval", "global"])
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--scheduler", help="address of a running Dask scheduler, tcp://HOST:PORT")
    where.add_argument("--workers", type=int, help="start a local cluster of N worker processes")
    p.add_argument("--model", "-m", required=True)
    p.add_argument("--data", help="dataset name or image folder root (global: images to "
                   "encode; default the classifier's dataset)")
    p.add_argument("--split", default="test")
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--method")
    p.add_argument("--methods", default="pixel", help="eval: comma-separated methods")
    p.add_argument("--oracle", default="", help="eval: independent classifier")
    p.add_argument("--autoencoders", default="", help="eval: class autoencoders (IM1/IM2)")
    p.add_argument("--outcome", help="global: class or classes (names or indices)")
    p.add_argument("--samples", type=int, default=2000, help="global: samples")
    p.add_argument("--latents", default="data", help="global: data or prior")
    p.add_argument("--bootstrap", type=int, default=1000, help="global: bootstrap resamples")
    p.add_argument("--target", "-t")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--shard-batches", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="engine threads per task")
    p.add_argument("--model-by", default="value", choices=["value", "path"])
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", "-o", required=True)
    p.add_argument("--resume", action="store_true")
    a = p.parse_args(argv)
    _dump_stacks_on_sigusr1()
    try:
        options = {}
        for s in a.set:
            if "=" not in s or s.startswith("="):
                raise Error(f"--set expects key=value, got '{s}'")
            k, v = s.split("=", 1)
            try:
                options[k] = json.loads(v)
            except ValueError:
                options[k] = v
        X, names = None, None
        if a.command == "global":
            if not a.outcome:
                raise Error("global needs --outcome (a class name or index, or a list)")
        else:
            if not a.data:
                raise Error(f"{a.command} needs --data (a dataset name or image folder root)")
            if a.n < 1 or a.offset < 0:
                raise Error(f"--n {a.n} / --offset {a.offset} (n >= 1, offset >= 0)")
            # The images and names `cfx explain --data` gives this model: shapes rendered at
            # its size, other datasets resized to it.
            with tempfile.TemporaryDirectory(prefix="cfx-") as tmp:
                spec = _model_spec(a.model, None, tmp, None, None, None)
                X, names = _cfx.load_inputs(a.data, a.split, a.n, a.offset, a.seed, spec)
        cluster = None
        if a.workers is not None:
            if a.workers < 1:
                raise Error(f"--workers {a.workers} (at least 1)")
            cluster = local_cluster(a.workers)
            client = cluster.get_client()
        else:
            client = _connect(a.scheduler)
        try:
            written = _run_command(a, client, X, names, options)
        finally:
            # Bounded: the outputs are written; a cluster slow to stop must not keep the
            # command (and a pipe it writes to) open.
            try:
                client.close(timeout=CLOSE_TIMEOUT)
                if cluster is not None:
                    cluster.close(timeout=CLOSE_TIMEOUT)
            except TimeoutError:
                print(f"cfx: note: the Dask cluster did not stop within {CLOSE_TIMEOUT} s; "
                      "leaving it", file=sys.stderr)
        print(f"wrote {a.out}/{written}")
        return 0
    except Error as e:
        print(f"cfx: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
