"""The Python package: tensors in, an explanation out, the CLI's numbers, cfx.Error on bad
input, the GIL released during a run and Ctrl-C stopping it. Run by `make test` (ctest
`python`) with PYTHONPATH=build/python."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading

import pytest
import torch

import cfx

SOURCE = os.environ.get("CFX_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CLI = os.environ.get("CFX_CLI", os.path.join(SOURCE, "build", "cfx"))
SHIPPED = os.path.join(SOURCE, "models", "fashion-mnist-cnn.pt")


@pytest.fixture(scope="module")
def fashion():
    return cfx.load_dataset("fashion-mnist", split="test", n=6)


class Net(torch.nn.Module):
    """A classifier written in Python and never exported by its author."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2))
        self.head = torch.nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def test_version_methods_and_datasets(fashion):
    assert cfx.__version__.count(".") == 2
    ms = {m["name"]: m for m in cfx.methods()}
    assert {"pixel", "disc", "fido"} <= set(ms)
    assert ms["pixel"]["kind"] == "counterfactual" and ms["fido"]["kind"] == "saliency"
    assert isinstance(ms["pixel"]["defaults"], dict) and "steps" in ms["pixel"]["defaults"]
    X, y, classes = fashion
    assert list(X.shape) == [6, 1, 28, 28] and X.dtype == torch.float32
    assert 0 <= X.min() and X.max() <= 1
    assert y.dtype == torch.int64 and len(classes) == 10 and classes[0] == "T-shirt/top"


def test_a_python_model_is_explained_without_exporting_it(fashion):
    X, _, _ = fashion
    net = Net()
    torch.set_num_threads(2)
    ex = cfx.explain(net, X, method="pixel", steps=30, seed=1, threads=1)
    assert torch.get_num_threads() == 2  # the run's thread count is given back
    assert ex.counterfactuals.shape == X.shape
    assert ex.valid.dtype == torch.bool and ex.valid.shape == (6,)
    assert len(ex.items) == 6 and ex.summary["items"] == 6
    assert ex.document["model"]["path"] == "<python Net>"
    # target "auto" is the runner-up class of the model's own logits
    with torch.no_grad():
        runner_up = net(X).topk(2, 1).indices[:, 1]
    assert torch.equal(ex.targets, runner_up)
    assert [it["target_class"] for it in ex.items] == runner_up.tolist()
    assert net.training  # the caller's module is left as it was
    # a model that cannot be scripted is traced on X
    class Untypable(Net):
        def forward(self, x, *extra):
            return super().forward(x)

    ex2 = cfx.explain(Untypable(), X[:2], method="pixel", steps=5)
    assert ex2.counterfactuals.shape == (2, 1, 28, 28)


def test_per_item_targets_numpy_and_paths_give_the_same_items(fashion, tmp_path):
    X, _, classes = fashion
    targets = [1, "Bag", 3, 4, 5, "pred"]
    ex = cfx.explain(SHIPPED, X, target=targets, method="pixel", steps=25, seed=2)
    assert ex.targets[:5].tolist() == [1, classes.index("Bag"), 3, 4, 5]
    assert ex.targets[5] == ex.items[5]["original_class"]
    same = cfx.explain(SHIPPED, X.numpy(), target=ex.targets, method="pixel",
                       steps=25, seed=2)
    assert torch.equal(same.counterfactuals, ex.counterfactuals)
    # paths: the PNGs that save() wrote of the inputs are the inputs again (8-bit images)
    ex.save(tmp_path / "out")
    paths = [str(tmp_path / "out" / it["original"]) for it in ex.items]
    from_files = cfx.explain(SHIPPED, paths, target=ex.targets, method="pixel", steps=25, seed=2)
    assert [it["input"] for it in from_files.items] == paths
    for i, p in enumerate(paths):
        assert torch.allclose(cfx._cfx.read_image(p), X[i], atol=0.5 / 255 + 1e-6)
    # a folder of images: every image in it, in name order
    folder = tmp_path / "originals"
    folder.mkdir()
    for p in paths:
        shutil.copy(p, folder)
    in_folder = cfx.explain(SHIPPED, str(folder), method="pixel", steps=2)
    assert [it["input"] for it in in_folder.items] == sorted(
        str(folder / os.path.basename(p)) for p in paths)


def test_a_model_file_without_metadata_takes_the_shape_of_x(fashion, tmp_path):
    X, _, _ = fashion
    path = str(tmp_path / "plain.pt")
    torch.jit.script(Net()).save(path)  # no cfx.json: no input shape, no class names
    ex = cfx.explain(path, X[:2], method="pixel", steps=3)
    assert ex.document["model"]["input_shape"] == [1, 28, 28]
    assert ex.document["model"]["path"] == path


def test_numbers_equal_the_cli(fashion, tmp_path):
    out = tmp_path / "cli"
    cmd = [CLI, "explain", "--model", SHIPPED, "--data", "fashion-mnist", "--split", "test",
           "--n", "6", "--method", "pixel", "--steps", "40", "--seed", "3", "--batch-size", "4",
           "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    cli = json.loads((out / "result.json").read_text())
    X, _, _ = fashion
    ex = cfx.explain(SHIPPED, X, method="pixel", steps=40, seed=3, batch_size=4)
    keys = ["target_class", "original_class", "target_prob", "valid", "l1", "l2", "l0", "steps"]
    for a, b in zip(ex.items, cli["items"]):
        assert {k: a[k] for k in keys} == {k: b[k] for k in keys}
    assert ex.summary["validity"] == cli["summary"]["validity"]
    assert ex.config == cli["config"]
    # and save() writes what the CLI writes
    ex.save(tmp_path / "py")
    saved = json.loads((tmp_path / "py" / "result.json").read_text())
    assert saved["items"] == ex.items
    for name in ["report.html", "images/0000_counterfactual.png", "images/0005_diff.png"]:
        assert (tmp_path / "py" / name).is_file(), name


def test_batches_side_by_side_give_the_one_thread_numbers(fashion):
    X, _, _ = fashion
    kw = dict(method="disc", fit_steps=60, steps=30, seed=2, batch_size=2)
    serial = cfx.explain(SHIPPED, X, threads=1, batch_workers=1, **kw)
    side = cfx.explain(SHIPPED, X, threads=2, batch_workers=2, **kw)
    assert serial.document["run"]["batch_workers"] == 1
    assert side.document["run"]["batch_workers"] == 2
    # two batches at a time, one thread each: what one thread computes, bit for bit
    assert torch.equal(serial.counterfactuals, side.counterfactuals)
    keys = ["target_prob", "l1", "steps", "trace"]
    assert [{k: a[k] for k in keys} for a in side.items] == \
        [{k: a[k] for k in keys} for a in serial.items]
    with pytest.raises(cfx.Error, match="batch_workers"):
        cfx.explain(SHIPPED, X, batch_workers=-1, **kw)


def test_saliency_methods_return_maps(fashion):
    X, _, _ = fashion
    s = cfx.explain(SHIPPED, X[:2], method="occlusion", target="pred")
    assert s.saliency.shape == (2, 1, 28, 28) and s.counterfactuals is None
    assert "mean_class_prob" in s.summary
    f = cfx.saliency(SHIPPED, X[:2], method="fido", steps=20, seed=1)
    assert f.saliency.shape == (2, 1, 28, 28) and f.valid is None
    assert [it["target_class"] for it in f.items] == [it["original_class"] for it in f.items]
    with pytest.raises(cfx.Error, match="counterfactual"):
        cfx.saliency(SHIPPED, X[:2], method="pixel")


def test_aip_takes_its_search_options_as_keywords(fashion):
    # AIP's attributes-only search with the greedy step (docs/methods.md): the option reaches
    # the search (config), the attributes move and z stays, so every item says in attribute
    # words what changed, and a bad step name is one cfx.Error line.
    X, _, _ = fashion
    ex = cfx.explain(SHIPPED, X[:3], method="aip", optimise="a", attribute_step="greedy",
                     steps=15)
    assert ex.config["options"]["attribute_step"] == "greedy"
    assert ex.config["options"]["optimise"] == "a"
    searched = [it for it in ex.items if it["steps"] > 0]
    assert searched, "every reconstruction already had its target"
    for it in searched:
        assert it["attribute_summary"] != "no attribute changed", it
    with pytest.raises(cfx.Error, match="attribute_step") as e:
        cfx.explain(SHIPPED, X[:2], method="aip", attribute_step="sideways")
    assert "\n" not in str(e.value)


def test_bad_input_raises_cfx_error_with_one_line(fashion):
    X, _, _ = fashion
    assert issubclass(cfx.Error, ValueError)
    cases = [
        (dict(method="nope"), "unknown method"),
        (dict(target=10), "out of range"),
        (dict(target="Banana"), "Banana"),
        (dict(target=[1, 2]), "targets for 6"),
        (dict(batch_size=0), "batch_size"),
        (dict(steps=-5), "steps"),
        (dict(lr=float("nan")), "lr"),
        (dict(device="tpu"), "tpu"),
        (dict(bogus_option=1), "bogus_option"),
    ]
    for kw, words in cases:
        with pytest.raises(cfx.Error) as e:
            cfx.explain(SHIPPED, X, **kw)
        assert words in str(e.value) and "\n" not in str(e.value), (kw, str(e.value))
    bad = X.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(cfx.Error, match="NaN"):
        cfx.explain(SHIPPED, bad)
    with pytest.raises(cfx.Error, match="shape"):
        cfx.explain(SHIPPED, torch.rand(2, 3, 28, 28))
    with pytest.raises(cfx.Error, match="not found"):
        cfx.explain("/no/such/model.pt", X)
    with pytest.raises(cfx.Error, match="N, C, H, W"):
        cfx.explain(SHIPPED, torch.rand(28, 28))
    with pytest.raises(cfx.Error):
        cfx.explain(object(), X)


def test_memory_that_cannot_fit_and_a_file_size_limit_raise_cfx_error(fashion, tmp_path,
                                                                      monkeypatch):
    X, _, _ = fashion
    # CFX_MEMORY_LIMIT_MB stands in for a small machine: the batch is refused before it runs.
    monkeypatch.setenv("CFX_MEMORY_LIMIT_MB", "4")
    with pytest.raises(cfx.Error, match="lower the batch size"):
        cfx.explain(SHIPPED, X, method="pixel", steps=2)
    monkeypatch.delenv("CFX_MEMORY_LIMIT_MB")
    ex = cfx.explain(SHIPPED, X, method="pixel", steps=2)
    # Python ignores SIGXFSZ: past the limit the write fails and says so, leaving no file.
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    try:
        with pytest.raises(cfx.Error, match="File too large"):
            ex.save(str(tmp_path / "out"))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    left = [p.name for p in (tmp_path / "out").rglob("*") if p.is_file() and
            (p.name.startswith(".tmp.") or p.stat().st_size >= 4096)]
    assert left == []


def test_messages_name_python_keywords_not_cli_flags(fashion, monkeypatch):
    X, _, _ = fashion
    monkeypatch.setenv("CFX_MEMORY_LIMIT_MB", "4")
    with pytest.raises(cfx.Error, match=r"lower the batch size \(batch_size\) to at most") as e:
        cfx.explain(SHIPPED, X, method="pixel", steps=2)
    assert "--" not in str(e.value)
    monkeypatch.delenv("CFX_MEMORY_LIMIT_MB")
    with pytest.raises(cfx.Error) as e:
        cfx.explain(SHIPPED, X[:2], method="dip-aux", steps=2)
    assert ('cfx.train("classifier", out=PATH, head="loss", init=MODEL, head_only=True)'
            in str(e.value)), str(e.value)
    with pytest.raises(cfx.Error) as e:
        cfx.saliency(SHIPPED, X[:2], method="pixel")
    assert "use cfx.explain() (see cfx.methods())" in str(e.value), str(e.value)
    with pytest.raises(cfx.Error) as e:
        cfx.evaluate(SHIPPED, X[:2], methods=["pixel"], bogus=1)
    assert "(see cfx.methods())" in str(e.value) and "--" not in str(e.value), str(e.value)


VOLATILE = ("seconds", "peak_mb", "peak_mb_per_item")


def _steady(summary):
    """A summary without its timings and memory, which differ from run to run."""
    return {k: v for k, v in summary.items() if k not in VOLATILE}


def test_evaluate_equals_cli_eval_and_writes_its_files(fashion, tmp_path):
    out = tmp_path / "cli"
    cmd = [CLI, "eval", "--model", SHIPPED, "--data", "fashion-mnist", "--n", "4",
           "--methods", "pixel,gradient", "--set", "pixel.steps=25", "--seed", "2",
           "--cout-steps", "4", "--curve-steps", "4", "--surrogate", "12", "--sanity",
           "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    cli = json.loads((out / "eval.json").read_text())
    X, _, _ = fashion
    ev = cfx.evaluate(SHIPPED, X[:4], methods=["pixel", "gradient"], pixel__steps=25, seed=2,
                      cout_steps=4, curve_steps=4, surrogate=12, sanity=True,
                      data="fashion-mnist", threads=1, out=tmp_path / "py")
    assert [m["method"] for m in ev["methods"]] == ["pixel", "gradient"]
    for a, b in zip(ev["methods"], cli["methods"]):
        assert a["config"] == b["config"]
        assert _steady(a["summary"]) == _steady(b["summary"]), a["method"]
    assert "surrogate_agreement_with_counterfactuals" in ev["methods"][0]["summary"]
    assert "sanity_rank_corr" in ev["methods"][1]["summary"]
    assert ev["fid_network"].endswith("fashion-mnist-oracle-resnet.pt")  # found beside the model
    saved = json.loads((tmp_path / "py" / "eval.json").read_text())
    assert saved == ev
    for name in ["eval.csv", "report.html", "pixel/result.json", "gradient/maps"]:
        assert (tmp_path / "py" / name).exists(), name
    # A model from memory, every method's option at once, per-item targets.
    ev = cfx.evaluate(Net(), X[:3], methods="pixel", steps=5, target=[1, 2, 3], cout_steps=0)
    assert ev["items"] == 3 and ev["methods"][0]["summary"]["validity"]["n"] == 3
    # Batches side by side, recorded per method; the one-thread numbers.
    side = cfx.evaluate(Net(), X[:3], methods="pixel", steps=5, target=[1, 2, 3], cout_steps=0,
                        batch_size=2, threads=2, batch_workers=2)
    one = cfx.evaluate(Net(), X[:3], methods="pixel", steps=5, target=[1, 2, 3], cout_steps=0,
                       batch_size=2, threads=1)
    assert side["methods"][0]["batch_workers"] == 2 and one["methods"][0]["batch_workers"] == 1
    assert _steady(side["methods"][0]["summary"]) == _steady(one["methods"][0]["summary"])
    with pytest.raises(cfx.Error, match="batch_workers = 2000"):
        cfx.evaluate(SHIPPED, X[:2], batch_workers=2000)
    assert ev["model"] == "<python Net>"
    with pytest.raises(cfx.Error, match="nope"):
        cfx.evaluate(SHIPPED, X[:2], methods=["pixel", "nope"])
    with pytest.raises(cfx.Error, match="FID needs items of a dataset"):
        cfx.evaluate(SHIPPED, X[:2], fid_net=SHIPPED)
    with pytest.raises(cfx.Error, match="curve_steps = 0"):
        cfx.evaluate(SHIPPED, X[:2], curve_steps=0)


def test_global_scores_equal_cli_global(tmp_path):
    shapes = os.path.join(SOURCE, "models", "shapes-cnn.pt")
    out = tmp_path / "cli"
    cmd = [CLI, "global", "--model", shapes, "--outcome", "circle", "--samples", "24",
           "--batch-size", "10", "--bootstrap", "20", "--seed", "3", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    cli = json.loads((out / "global.json").read_text())
    g = cfx.global_scores(shapes, "circle", samples=24, batch_size=10, bootstrap=20, seed=3,
                          threads=1, out=tmp_path / "py")
    assert g["scores"] == cli["scores"]
    assert g["config"] == cli["config"]
    assert (tmp_path / "py" / "global.png").is_file()
    # The true scores beside the learned ones (shapes), and several shift predictors as a list.
    assert "oracle" in g["scores"][0] and "oracle_reference" in g["summary"]
    shifter = os.path.join(SOURCE, "models", "shapes-shifter.pt")
    two = cfx.global_scores(shapes, "circle", samples=8, bootstrap=20, threads=1,
                            shifter=[shifter, shifter], reference="none", only="circle")
    assert two["config"]["shifters"] == 2 and "oracle_reference" not in two["summary"]
    assert two["scores"][0]["necessity_and_sufficiency"]["n"] == 16
    # Interventions in the cvae's attribute code (found beside the model).
    code = cfx.global_scores(shapes, "circle", via="code", samples=6, bootstrap=20, threads=1,
                             reference="none", only="circle,red")
    assert code["config"]["via"] == "code" and code["config"]["shifters"] == 0
    assert code["config"]["generator"].endswith("shapes-cvae.pt")
    # Several cvaes as a list: their samples are pooled (the same one twice: twice the n).
    cvae = os.path.join(SOURCE, "models", "shapes-cvae.pt")
    pooled = cfx.global_scores(shapes, "circle", via="code", generator=[cvae, cvae], samples=6,
                               bootstrap=20, threads=1, reference="none", only="circle,red")
    assert pooled["config"]["generators"] == 2 and code["config"]["generators"] == 1
    assert pooled["scores"][0]["necessity_and_sufficiency"]["n"] == \
        2 * code["scores"][0]["necessity_and_sufficiency"]["n"]
    with pytest.raises(cfx.Error, match="remove shifter"):
        cfx.global_scores(shapes, "circle", via="code", shifter=shifter, samples=4)
    with pytest.raises(cfx.Error, match="hexagon"):
        cfx.global_scores(shapes, "hexagon", samples=4)
    with pytest.raises(cfx.Error, match="input_shape"):
        cfx.global_scores(Net(), "circle", samples=4)


def test_the_gil_is_released_and_ctrl_c_stops_a_run(fashion):
    X, _, _ = fashion
    count = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            count[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    before = count[0]
    cfx.explain(SHIPPED, X, method="pixel", steps=300, seed=1)
    during = count[0] - before
    stop.set()
    t.join()
    # With the GIL held by the run, the other thread would be frozen for its whole length.
    assert during > 10000, during

    # A real SIGINT half a second into a run that would take an hour: a strong L1 term keeps
    # every item below the confidence it must reach, so no item stops early. If Ctrl-C did not
    # reach the run, it would end by ctest's timeout, not here.
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    got = []
    with pytest.raises(KeyboardInterrupt):
        got.append(cfx.explain(SHIPPED, X.repeat(50, 1, 1, 1), method="pixel", steps=100000,
                               l1=100.0, confidence=0.999999))
    timer.join()
    assert got == []

    # The same with batches side by side on two worker threads: the run reports progress on
    # this thread, so Ctrl-C still reaches it and stops both workers.
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        got.append(cfx.explain(SHIPPED, X.repeat(50, 1, 1, 1), method="pixel", steps=100000,
                               l1=100.0, confidence=0.999999, batch_size=64, threads=2,
                               batch_workers=2))
    timer.join()
    assert got == []


def test_pip_install_gives_a_package_that_works_outside_the_source(tmp_path):
    """`pip install --no-build-isolation .` (here with --target, which needs no venv): the
    package imports from where pip put it and runs a model."""
    import importlib.util  # find, not import: setuptools patches distutils, which torch loaded
    for needed in ("pip", "setuptools", "wheel"):
        if importlib.util.find_spec(needed) is None:
            pytest.skip(f"{needed} is not installed (Debian: python3-{needed})")
    site = tmp_path / "site"
    env = dict(os.environ)
    if "CFX_BUILD_DIR" not in env:
        env["CFX_BUILD_DIR"] = os.path.join(SOURCE, "build")
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation",
                        "--no-deps", "--no-index", "--target", str(site), SOURCE],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    env["PYTHONPATH"] = str(site)
    code = ("import cfx; X, _, _ = cfx.load_dataset('fashion-mnist', n=2); "
            f"ex = cfx.explain({SHIPPED!r}, X, steps=5); print(cfx.__file__, len(ex.valid))")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    path, n = r.stdout.split()
    assert path.startswith(str(site)) and n == "2"


def test_train_equals_cli_train_and_names_bad_options(tmp_path):
    kinds = {t["kind"]: t for t in cfx.trainers()}
    assert {"classifier", "vae", "shifter", "cvae", "text-cvae"} <= set(kinds)
    assert kinds["classifier"]["defaults"]["epochs"] == 8 and kinds["classifier"]["help"]["epochs"]
    cmd = [CLI, "train", "classifier", "-q", "--data", "shapes", "--shapes-size", "16",
           "--limit", "64", "--epochs", "1", "--width", "4", "--no-augment", "--seed", "5",
           "-o", str(tmp_path / "cli.pt")]
    subprocess.run(cmd, check=True, capture_output=True)
    side = cfx.train("classifier", tmp_path / "py.pt", data="shapes", shapes_size=16, limit=64,
                     epochs=1, width=4, augment=False, seed=5, threads=1)
    cli = json.loads((tmp_path / "cli.json").read_text())
    assert (tmp_path / "py.pt").read_bytes() == (tmp_path / "cli.pt").read_bytes()
    assert side["command"].startswith("python: cfx.train('classifier'")
    for doc in (side, cli):  # the command and the minutes differ
        doc.pop("command")
        doc["training"].pop("seconds")
    assert side == cli
    X = torch.rand(2, 3, 16, 16)
    assert cfx.explain(tmp_path / "py.pt", X, steps=3).counterfactuals.shape == X.shape
    with pytest.raises(cfx.Error, match="known: classifier"):
        cfx.train("gan", tmp_path / "g.pt")
    with pytest.raises(cfx.Error, match="unknown option 'epoch'"):
        cfx.train("classifier", tmp_path / "c.pt", epoch=1)
    with pytest.raises(cfx.Error, match="must be an integer"):
        cfx.train("classifier", tmp_path / "c.pt", epochs="two")


def test_shapes_load_at_the_size_asked_and_other_datasets_refuse_a_size():
    X, y, classes = cfx.load_dataset("shapes", split="test", n=3, size=64)
    assert X.shape == (3, 3, 64, 64) and len(y) == 3 and len(classes) == 3
    small, _, _ = cfx.load_dataset("shapes", split="test", n=3)
    assert small.shape == (3, 3, 32, 32)
    with cfx.Session() as s:  # the size is part of what a session caches by
        assert s.load_dataset("shapes", n=3, size=64)[0].shape[-1] == 64
        assert s.load_dataset("shapes", n=3)[0].shape[-1] == 32
        assert s.datasets_loaded == 2
    with pytest.raises(cfx.Error, match="size applies to the shapes dataset only"):
        cfx.load_dataset("fashion-mnist", n=2, size=64)
    with pytest.raises(cfx.Error, match="size = 0"):
        cfx.load_dataset("shapes", n=2, size=0)


def test_a_session_loads_once_and_equals_the_plain_calls(fashion, tmp_path):
    X, _, _ = fashion
    net = Net()
    plain = cfx.explain(net, X, method="pixel", steps=20, seed=3, threads=1)
    with cfx.Session(seed=3, threads=1) as s:
        Xs, ys, classes = s.load_dataset("fashion-mnist", n=6)
        assert torch.equal(Xs, X) and len(classes) == 10
        s.load_dataset("fashion-mnist", n=6)
        assert s.datasets_loaded == 1
        a = s.explain(net, X, method="pixel", steps=20)
        b = s.explain(net, X, method="pixel", steps=20, target="pred")
        sal = s.saliency(net, X, method="gradient")
        assert s.models_loaded == 1  # scripted and loaded once for three calls
        assert torch.equal(a.counterfactuals, plain.counterfactuals)
        assert a.summary["validity"] == plain.summary["validity"]
        assert b.document["run"]["target"] == "pred" and a.document["run"]["target"] == "auto"
        assert sal.saliency is not None
        # The session's defaults give way to a call's keywords.
        c = s.explain(net, X, method="pixel", steps=20, seed=4, batch_size=2)
        assert (a.config["seed"], a.config["batch_size"]) == (3, 64)
        assert (c.config["seed"], c.config["batch_size"]) == (4, 2)
        # Changed weights are scripted and loaded again; unchanged ones are not.
        with torch.no_grad():
            net.head.bias.add_(1.0)
        d = s.explain(net, X, method="pixel", steps=20)
        assert s.models_loaded == 2
        fresh = cfx.explain(net, X, method="pixel", steps=20, seed=3, threads=1)
        assert torch.equal(d.counterfactuals, fresh.counterfactuals)
        # A model file is loaded once, and again when it is rewritten.
        path = tmp_path / "m.pt"
        shutil.copy(SHIPPED, path)
        shutil.copy(SHIPPED[:-3] + ".json", tmp_path / "m.json")
        s.explain(str(path), X, steps=5)
        s.evaluate(str(path), X, methods=["pixel"], steps=5, cout_steps=0, fid_net="none")
        assert s.models_loaded == 3
        os.utime(path, (1, 1))
        s.explain(str(path), X, steps=5)
        assert s.models_loaded == 4
        with pytest.raises(cfx.Error, match="nope"):
            s.explain(net, X, method="nope")
    assert not os.path.exists(s._tmp.name)  # the scripted files are gone with the session


def test_explain_text_equals_cli_explain_text(tmp_path):
    texts = ["The movie was not good, sadly!", "the pizza was good", "the food was bad"]
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n")
    doc = cfx.explain_text(texts, target="positive", seed=2, steps=120, threads=1,
                           out=tmp_path / "py")
    cli = subprocess.run([CLI, "explain-text", "-q", "--texts", str(tmp_path / "in.txt"),
                          "--target", "positive", "--seed", "2", "--steps", "120",
                          "--threads", "1", "--out", str(tmp_path / "cli")],
                         capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    back = json.loads((tmp_path / "cli" / "result.json").read_text())
    written = json.loads((tmp_path / "py" / "result.json").read_text())
    assert written == doc
    assert [it["text"] for it in doc["items"]] == texts
    assert doc["items"] == back["items"]
    assert doc["config"]["options"] == back["config"]["options"]
    assert doc["config"]["options"]["steps"] == 120 and doc["config"]["target"] == "positive"
    assert doc["config"]["command"] == "python explain_text"
    assert {k: v for k, v in doc["summary"].items() if "second" not in k} == \
        {k: v for k, v in back["summary"].items() if "second" not in k}
    assert doc["items"][0]["unknown_words"] == ["sadly"] and doc["items"][1]["steps"] == 0
    one = cfx.explain_text("the pizza was good", target="negative", steps=50)
    assert len(one["items"]) == 1 and one["items"][0]["target"] == "negative"
    corpus = cfx.explain_text(corpus="test", n=4, steps=10)
    assert len(corpus["items"]) == 4
    with pytest.raises(cfx.Error, match="exactly one of texts, texts_file or corpus"):
        cfx.explain_text()
    with pytest.raises(cfx.Error, match="neutral"):
        cfx.explain_text("the movie was good", target="neutral")
    with pytest.raises(cfx.Error, match="stepz"):
        cfx.explain_text("the movie was good", stepz=3)
    with pytest.raises(cfx.Error, match="optimise"):
        cfx.explain_text("the movie was good", optimise="q")


def test_info_and_methods_equal_the_cli():
    cli = subprocess.run([CLI, "info", "--json", SHIPPED], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    want = json.loads(cli.stdout)
    want.pop("threads")
    assert cfx.info(SHIPPED) == want
    assert want["dataset"] == "fashion-mnist" and want["input_shape"] == [1, 28, 28]
    mine = cfx.info(Net(), input_shape=(1, 28, 28), class_names=[str(i) for i in range(10)])
    assert mine["input_shape"] == [1, 28, 28] and mine["path"] == "<python Net>"
    assert mine["parameters"] == sum(p.numel() for p in Net().parameters())
    cli = subprocess.run([CLI, "methods", "--json"], capture_output=True, text=True)
    assert cfx.methods() == json.loads(cli.stdout)
    with pytest.raises(cfx.Error, match="input_shape"):
        cfx.info(Net())
