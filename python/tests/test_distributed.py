"""cfx.distributed on a LocalCluster of 2 worker processes: the same numbers as one machine,
a worker killed mid-shard, a client killed and resumed, and a scheduler that is not there."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

import cfx

distributed = pytest.importorskip("dask.distributed")
import cfx.distributed as cd  # noqa: E402

SOURCE = os.environ.get("CFX_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SHIPPED = os.path.join(SOURCE, "models", "fashion-mnist-cnn.pt")


@pytest.fixture(scope="module")
def client():
    # As the command line starts one: without Dask's profiler (cd.local_cluster says why).
    cluster = cd.local_cluster(2)
    c = cluster.get_client()
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def X():
    return cfx.load_dataset("fashion-mnist", split="test", n=8)[0]


def _same(a, b):
    keys = ["target_class", "original_class", "counterfactual_class", "target_prob", "valid",
            "l1", "steps"]
    assert len(a.items) == len(b.items)
    for x, y in zip(a.items, b.items):
        assert {k: x.get(k) for k in keys} == {k: y.get(k) for k in keys}


def test_shards_give_the_single_machine_numbers(client, X, tmp_path):
    one = cfx.explain(SHIPPED, X, method="pixel", steps=25, seed=4, batch_size=2, threads=1)
    ex = cd.explain(client, SHIPPED, X, method="pixel", steps=25, seed=4, batch_size=2,
                    out=tmp_path / "px", progress=False)
    assert torch.equal(ex.counterfactuals, one.counterfactuals)
    _same(ex, one)
    assert ex.config == one.config
    assert (tmp_path / "px" / "result.json").is_file()
    assert (tmp_path / "px" / "report.html").is_file()
    # A stochastic method: FIDO's masks are drawn per batch from seed + its first item.
    one = cfx.saliency(SHIPPED, X, method="fido", infill="blur", steps=8, samples=2, seed=2,
                       batch_size=2, threads=1)
    s = cd.saliency(client, SHIPPED, X, method="fido", infill="blur", steps=8, samples=2,
                    seed=2, batch_size=2, shard_batches=2, progress=False)
    assert torch.equal(s.saliency, one.saliency)
    # A model from memory goes to the workers by value.
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    one = cfx.explain(net, X[:4], method="pixel", steps=10, batch_size=2, threads=1)
    ex = cd.explain(client, net, X[:4], method="pixel", steps=10, batch_size=2, progress=False)
    assert torch.equal(ex.counterfactuals, one.counterfactuals)


def test_evaluate_scores_the_batches_the_workers_made(client, X, tmp_path):
    kw = dict(methods=["pixel", "gradient"], pixel__steps=20, seed=2, batch_size=2,
              cout_steps=4, curve_steps=4, data="fashion-mnist")
    one = cfx.evaluate(SHIPPED, X[:6], threads=1, **kw)
    ev = cd.evaluate(client, SHIPPED, X[:6], out=tmp_path / "ev", progress=False, **kw)
    volatile = ("seconds", "peak_mb", "peak_mb_per_item")
    for a, b in zip(ev["methods"], one["methods"]):
        assert a["config"] == b["config"]
        assert {k: v for k, v in a["summary"].items() if k not in volatile} == \
            {k: v for k, v in b["summary"].items() if k not in volatile}, a["method"]
    assert ev["fid_reference_items"] == one["fid_reference_items"] > 0
    for name in ["eval.json", "eval.csv", "report.html", "pixel/result.json",
                 "pixel/batches/000004-000006.pt", "gradient/batches/config.json"]:
        assert (tmp_path / "ev" / name).exists(), name


def test_global_scores_sample_on_the_workers(client, tmp_path):
    shapes = os.path.join(SOURCE, "models", "shapes-cnn.pt")
    kw = dict(samples=24, batch_size=5, bootstrap=20, seed=3)
    one = cfx.global_scores(shapes, "circle", threads=1, **kw)
    g = cd.global_scores(client, shapes, "circle", out=tmp_path / "g", progress=False, **kw)
    assert g["scores"] == one["scores"]
    assert g["config"] == one["config"]
    assert g["summary"]["outcome_rate"] == one["summary"]["outcome_rate"]
    assert (tmp_path / "g" / "global.png").is_file()
    kw["latents"] = "prior"  # latents drawn with the seed on the client, as one machine does
    assert cd.global_scores(client, shapes, "circle", progress=False, **kw)["scores"] == \
        cfx.global_scores(shapes, "circle", threads=1, **kw)["scores"]
    # The oracle generator's latents are scenes (float64 rows); workers render their shards.
    kw.update(latents="data", generator="oracle")
    oracle = cd.global_scores(client, shapes, "circle", progress=False, **kw)
    assert oracle["config"]["generator"] == "oracle"
    assert oracle["scores"] == cfx.global_scores(shapes, "circle", threads=1, **kw)["scores"]
    # Through the cvae's attribute code: the client encodes, workers decode their shards.
    kw.update(generator="", via="code", only="circle,red,large")
    code = cd.global_scores(client, shapes, "circle", progress=False, **kw)
    assert code["config"]["via"] == "code"
    # Shapes edits are also read from their pixels, on the workers as on one machine.
    assert all(s["intervention_on_rate_pixels"] is not None for s in code["scores"])
    assert code["scores"] == cfx.global_scores(shapes, "circle", threads=1, **kw)["scores"]
    # Several cvaes: each row holds one block per cvae, so shards split them alike.
    kw["generator"] = [os.path.join(SOURCE, "models", "shapes-cvae.pt")] * 2
    pooled = cd.global_scores(client, shapes, "circle", progress=False, **kw)
    assert pooled["config"]["generators"] == 2
    assert pooled["scores"] == cfx.global_scores(shapes, "circle", threads=1, **kw)["scores"]


# Every item runs all its steps (the confidence is out of reach): about 2 s per shard.
SLOW = dict(method="pixel", steps=300, confidence=0.99999, seed=1, batch_size=2)


def test_a_worker_killed_mid_shard_loses_nothing(client, X, tmp_path):
    one = cfx.explain(SHIPPED, X, threads=1, **SLOW)
    pids = client.run(os.getpid)  # worker address -> pid
    result = {}

    def run():
        result["ex"] = cd.explain(client, SHIPPED, X, out=tmp_path / "k", progress=False, **SLOW)

    t = threading.Thread(target=run)
    t.start()
    victim = None
    deadline = time.monotonic() + 60
    while victim is None and time.monotonic() < deadline:  # a worker busy with a shard
        busy = [w for w, keys in client.processing().items()
                if any(str(k).startswith("cfx-shard-") for k in keys)]
        victim = busy[0] if busy else None
        time.sleep(0.05)
    assert victim is not None
    time.sleep(0.5)  # well inside its shard
    os.kill(pids[victim], signal.SIGKILL)
    t.join(timeout=300)
    assert not t.is_alive()
    ex = result["ex"]
    assert len(ex.items) == len(X)
    assert [it["index"] for it in ex.items] == list(range(len(X)))
    assert torch.equal(ex.counterfactuals, one.counterfactuals)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it


def _run_or_show(cmd, timeout):
    """subprocess.run; a run past `timeout` is killed with its process group and fails the
    test with everything it printed (pytest's own report cuts stderr short)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGUSR1)  # the client and its workers print their stacks
        time.sleep(2)
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail(f"{cmd} ran past {timeout} s; stdout:\n{out}\nstderr:\n{err}")
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def test_the_command_line_gives_the_images_cfx_explain_gives(client, tmp_path):
    # A TorchScript classifier of 3x40x40 images: shapes are rendered at its size, as the
    # single-machine `cfx explain --data shapes` renders them (before: always 32x32).
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3 * 40 * 40, 3)

        def forward(self, x):
            return self.fc(x.flatten(1))

    torch.manual_seed(0)
    path = str(tmp_path / "net40.pt")
    meta = {"input_shape": [3, 40, 40], "classes": ["circle", "square", "triangle"]}
    torch.jit.script(Net()).save(path, _extra_files={"cfx.json": json.dumps(meta)})
    args = ["--model", path, "--data", "shapes", "--n", "3", "--offset", "2", "--method",
            "pixel", "--set", "steps=4", "--batch-size", "2"]
    rc = cd.main(["explain", "--scheduler", client.scheduler.address] + args +
                 ["--out", str(tmp_path / "d")])
    assert rc == 0
    cli = os.environ.get("CFX_CLI")
    if cli:
        subprocess.run([cli, "explain", "--quiet", "--threads", "1"] + args +
                       ["--out", str(tmp_path / "one")], check=True, timeout=120)
    for out in ["d", "one"] if cli else ["d"]:
        doc = json.loads((tmp_path / out / "result.json").read_text())
        assert [it["input"] for it in doc["items"]] == [
            "shapes:test:2", "shapes:test:3", "shapes:test:4"]
    if cli:
        d = json.loads((tmp_path / "d" / "result.json").read_text())["items"]
        one = json.loads((tmp_path / "one" / "result.json").read_text())["items"]
        for a, b in zip(d, one):
            assert (a["l1"], a["target_class"], a["valid"]) == (b["l1"], b["target_class"],
                                                                b["valid"])
    # A dataset the model cannot read: one error line, exit 2.
    assert cd.main(["explain", "--scheduler", client.scheduler.address, "--model", SHIPPED,
                    "--data", "shapes", "--n", "1", "--out", str(tmp_path / "x")]) == 2


def test_a_killed_client_resumes_only_the_missing_shards(X, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "cfx.distributed", "explain", "--workers", "2",
           "--model", SHIPPED, "--data", "fashion-mnist", "--n", "8", "--batch-size", "2",
           "--method", "pixel", "--set", "steps=300", "--set", "confidence=0.99999",
           "--seed", "1", "--out", str(out)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    batches = out / "batches"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if batches.is_dir() and any(f.suffix == ".pt" for f in batches.iterdir()):
            break
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)  # the client and its local cluster
    p.wait()
    kept = sorted(f.name for f in batches.iterdir() if f.suffix == ".pt")
    assert 1 <= len(kept) < 4, kept
    r = _run_or_show(cmd + ["--resume"], timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"{4 - len(kept)} of 4 shard(s) to run" in r.stderr
    todo = 4 - len(kept)
    assert f"] {todo}/{todo} " in r.stderr  # the bar over shards reached its end
    doc = json.loads((out / "result.json").read_text())
    one = cfx.explain(SHIPPED, X, threads=1, **SLOW)
    assert [it["l1"] for it in doc["items"]] == [it["l1"] for it in one.items]
    # Inputs are named as `cfx explain --data` names them.
    assert [it["input"] for it in doc["items"]] == [f"fashion-mnist:test:{i}" for i in range(8)]


def test_the_local_cluster_runs_without_dask_profiler(client):
    # Its samplers deadlock Python 3.11 before 3.11.9 (gh-106883): a worker hung in CI.
    import dask
    flags = client.run(lambda: dask.config.get("distributed.worker.profile.enabled"))
    assert len(flags) == 2 and set(flags.values()) == {False}


def test_an_unreachable_scheduler_is_one_error_line(tmp_path, capsys, monkeypatch):
    rc = cd.main(["explain", "--scheduler", "tcp://127.0.0.1:9", "--model", SHIPPED,
                  "--data", "fashion-mnist", "--n", "2", "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("cfx: error: cannot reach the Dask scheduler")
    # A scheduler without workers: an error, not a run that waits for ever.
    with distributed.LocalCluster(n_workers=0, processes=True, dashboard_address=None) as empty, \
            empty.get_client() as c:
        monkeypatch.setattr(cd, "WORKER_TIMEOUT", 2)  # not the default 30 s here
        with pytest.raises(cfx.Error, match="no Dask worker joined"):
            cd.explain(c, SHIPPED, torch.rand(2, 1, 28, 28), progress=False)
    with pytest.raises(cfx.Error, match="shard_batches"):
        cd.explain("tcp://127.0.0.1:9", SHIPPED, torch.rand(2, 1, 28, 28), shard_batches=0)


def test_the_command_line_evaluates_on_a_local_cluster(tmp_path, capsys):
    rc = cd.main(["eval", "--workers", "2", "--model", SHIPPED, "--data", "fashion-mnist",
                  "--n", "4", "--batch-size", "2", "--methods", "pixel,gradient",
                  "--set", "pixel.steps=10", "--seed", "3",
                  "--out", str(tmp_path / "e")])
    assert rc == 0
    doc = json.loads((tmp_path / "e" / "eval.json").read_text())
    assert [m["method"] for m in doc["methods"]] == ["pixel", "gradient"]
    assert doc["methods"][0]["config"]["options"]["steps"] == 10
    assert "wrote" in capsys.readouterr().out
    rc = cd.main(["global", "--workers", "2", "--model",
                  os.path.join(SOURCE, "models", "shapes-cnn.pt"), "--outcome", "circle",
                  "--samples", "10", "--bootstrap", "10", "--batch-size", "5",
                  "--out", str(tmp_path / "g")])
    assert rc == 0
    assert json.loads((tmp_path / "g" / "global.json").read_text())["summary"]["samples"] == 10
    assert cd.main(["global", "--workers", "1", "--model", SHIPPED, "--out",
                    str(tmp_path / "x")]) == 2  # no --outcome: one error line
