"""cfx: counterfactual explanations of image classifiers, from Python.

Tensors in, an explanation object out::

    import cfx
    X, y, classes = cfx.load_dataset("fashion-mnist", split="test", n=16)
    ex = cfx.explain(model, X, target="auto", method="disc", seed=1)
    ex.counterfactuals, ex.valid, ex.items, ex.summary
    ex.save("out/explain")        # the CLI's result.json, images/ and report.html

The engine is the C++ library (``cfx._cfx``); results equal the CLI's for the same seed and
inputs. A user error raises :class:`cfx.Error` (a ``ValueError``) with the CLI's one line.
"""

import html
import json
import math
import os
import tempfile

import torch

from ._cfx import Error, __version__
from . import _cfx

__all__ = ["Error", "Explanation", "Session", "__version__", "evaluate", "explain",
           "explain_text", "global_scores", "info", "load_dataset", "methods", "saliency", "train", "trainers"]


def methods():
    """Every registered method: a list of dicts {name, kind, description, paper, defaults}."""
    return json.loads(_cfx.methods())


def info(model, input_shape=None, class_names=None, mean=None, std=None):
    """What `cfx info --json` says of a model: a dict {path, arch, input_shape, classes, mean,
    std, dataset, parameters, bn_layers, feature_layers, heads}. model: a file path, or a
    torch.nn.Module with input_shape=(C, H, W)."""
    X = None if input_shape is None else torch.zeros([2] + list(input_shape))
    with tempfile.TemporaryDirectory(prefix="cfx-") as tmp:
        return json.loads(_cfx.describe(_model_spec(model, X, tmp, class_names, mean, std)))


def trainers():
    """Every kind of model cfx trains: a list of dicts {kind, description, defaults, help},
    defaults and help keyed by option, as `cfx train <kind> --help` shows them."""
    out = []
    for t in _cfx.trainers():
        t = dict(t)
        t["defaults"] = json.loads(t["defaults"])
        t["help"] = json.loads(t["help"])
        out.append(t)
    return out


def train(kind, out, threads=None, progress=False, **options):
    """Trains a model as `cfx train <kind>` does and writes it to `out` (its sidecar
    NAME.json beside it); returns the sidecar as a dict (seed, options, training curves,
    held-out quality, and the call as its command).

    kind: classifier, autoencoder, inpainter, vae, attributes, shifter, cvae,
        text-classifier or text-cvae (see trainers()).
    options: the kind's options by their keys, e.g. data="mnist", epochs=4, seed=1
        (the CLI's flags with '_' for '-').
    """
    _check_options(f"train {kind}", options)
    args = ", ".join([repr(kind), f"out={str(out)!r}"] +
                     [f"{k}={v!r}" for k, v in sorted(options.items())])
    job = {"kind": str(kind), "options": options, "out": str(out),
           "command": f"python: cfx.train({args})"}
    doc = _cfx.train(json.dumps(job), _threads(threads), bool(progress))
    return json.loads(doc)


def _global_job(outcome, samples=2000, seed=0, latents="data", data="", split="test",
                generator="", attributes="", shifter="", only="", batch_size=256, strength=1.0,
                bootstrap=1000, confidence=0.95, device="cpu", reference="auto", via="shift"):
    """The global job of global_scores()'s keywords (also cfx.distributed's)."""
    if isinstance(outcome, (str, int)):
        outcome = [outcome]
    outcome = [s for o in outcome for s in str(o).split(",") if s]

    def paths(p):  # a path, or a list of them
        return ",".join(map(str, p)) if isinstance(p, (list, tuple)) else str(p)
    return {
        "outcome": outcome, "via": str(via), "generator": paths(generator),
        "attributes": str(attributes), "shifter": paths(shifter), "latents": str(latents),
        "data": str(data),
        "split": str(split), "samples": int(samples), "batch_size": int(batch_size),
        "strength": float(strength), "only": ",".join(only) if isinstance(only, (list, tuple))
        else str(only), "bootstrap": int(bootstrap), "confidence": float(confidence),
        "seed": int(seed), "device": str(device), "reference": str(reference),
    }


def load_dataset(name, split="test", n=-1, seed=0, size=None, _session=None):
    """(X [N, C, H, W] float in [0, 1], y [N] int64, class names) of a built-in dataset
    ("fashion-mnist", "mnist", "shapes") or an image folder root/<class>/*.png. `size`:
    the side in pixels shapes are rendered at (default 32; shapes only)."""
    return _cfx.load_dataset(str(name), str(split), int(n), int(seed),
                             -1 if size is None else int(size),
                             session=None if _session is None else _session._engine)[:3]


def _images(X, names=None):
    """X as a float32 [N, C, H, W] tensor in [0, 1], and a name per item: `names` if given,
    else the image paths X names, else none ([])."""
    given = names
    names = []
    if isinstance(X, (str, os.PathLike)) or (
        isinstance(X, (list, tuple)) and X and isinstance(X[0], (str, os.PathLike))
    ):
        paths = [X] if isinstance(X, (str, os.PathLike)) else list(X)
        if len(paths) == 1 and os.path.isdir(paths[0]):
            root = paths[0]
            paths = sorted(
                os.path.join(root, f)
                for f in os.listdir(root)
                if f.lower().endswith((".png", ".jpg", ".jpeg", ".bmp"))
            )
            if not paths:
                raise Error(f"no images (png/jpg/bmp) in folder {root}")
        X = torch.stack([_cfx.read_image(str(p)) for p in paths])
        names = [str(p) for p in paths]
    if not isinstance(X, torch.Tensor):
        try:
            X = torch.as_tensor(X)
        except Exception as e:  # numpy arrays, nested lists
            raise Error(f"images must be a tensor, an array, image paths or a folder: {e}")
    if X.dim() == 3:
        X = X.unsqueeze(1)  # [N, H, W]: one channel
    if X.dim() != 4:
        raise Error(f"images must be [N, C, H, W], got {list(X.shape)}")
    if not X.is_floating_point():
        X = X.float() / 255.0 if X.dtype == torch.uint8 else X.float()
    if given is not None:
        names = [str(n) for n in given]
        if len(names) != len(X):
            raise Error(f"got {len(names)} names for {len(X)} images")
    return X.detach().to("cpu", torch.float32).contiguous(), names


def _targets(target, n):
    """The target spec(s) as strings: one for all items, or one per item."""
    if isinstance(target, torch.Tensor):
        target = target.tolist()
    if isinstance(target, (list, tuple)):
        if len(target) != n:
            raise Error(f"got {len(target)} targets for {n} images (give one, or one per image)")
        return [str(int(t)) if isinstance(t, (int, bool)) else str(t) for t in target]
    return [str(target)]


def _module_state(model):
    """What changes when a module's weights do: each parameter's and buffer's storage and
    in-place version counter (optimisers and load_state_dict bump it)."""
    return tuple((n, t.data_ptr(), t._version, tuple(t.shape)) for n, t in
                 list(model.named_parameters()) + list(model.named_buffers()))


def _model_file(model, X, tmp, session=None):
    """A TorchScript file for `model` (a path, a ScriptModule, or an nn.Module we script, or
    trace on X when scripting fails), and the name outputs give it ("" for a file). A session
    keeps the file of a module whose weights have not changed since (and the engine then
    keeps the loaded model)."""
    if isinstance(model, (str, os.PathLike)):
        return str(model), ""
    if session is not None and isinstance(model, torch.nn.Module):
        return session._module_file(model, X)
    if not isinstance(model, torch.nn.Module):
        raise Error(f"model must be a torch.nn.Module, a ScriptModule or a file path, got "
                    f"{type(model).__name__}")
    if X is None:
        raise Error("a model from memory needs input_shape=(C, H, W) here (or pass its file)")
    name = f"<python {type(model).__name__}>"
    scripted = model
    if not isinstance(model, torch.jit.ScriptModule):
        was_training = model.training
        model.eval()
        try:
            scripted = torch.jit.script(model)
        except Exception:
            with torch.no_grad():
                scripted = torch.jit.trace(model, X[: min(2, len(X))])
        finally:
            model.train(was_training)
    path = os.path.join(tmp, "model.pt")
    scripted.save(path)
    return path, name


def _model_spec(model, X, tmp, class_names, mean, std, session=None):
    """What the engine loads: the model's file and what overrides its metadata, as JSON. A
    model from memory takes its input shape from X; a file keeps its own, and takes X's only
    when it states none."""
    path, source = _model_file(model, X, tmp, session)
    shape = [] if X is None else list(X.shape[1:])
    return json.dumps({
        "path": path,
        "source": source,
        "input_shape": shape if source else [],
        "fallback_shape": [] if source else shape,
        "classes": list(class_names or []),
        "mean": list(mean or []),
        "std": list(std or []),
    })


def _check_options(what, options):
    for k, v in options.items():
        if isinstance(v, float) and not math.isfinite(v):
            raise Error(f"{what} option {k} = {v} (must be a finite number)")


def _threads(threads):
    return 0 if threads is None else int(threads)


def _engine(session):
    return None if session is None else session._engine


class Explanation:
    """What cfx.explain() returns: tensors and the result.json document, in memory."""

    def __init__(self, outcome):
        self._outcome = outcome
        self.document = json.loads(outcome.document)
        cf, sal, valid = outcome.counterfactuals, outcome.saliency, outcome.valid
        self.counterfactuals = cf if cf is not None and cf.numel() else None  # [N, C, H, W]
        self.saliency = sal if sal is not None and sal.numel() else None  # [N, 1, H, W]
        self.valid = valid if valid is not None and valid.numel() else None  # bool [N]
        self.targets = outcome.targets  # int64 [N]

    @property
    def items(self):
        """One dict per item: the keys of result.json's items."""
        return self.document["items"]

    @property
    def summary(self):
        return self.document["summary"]

    @property
    def config(self):
        return self.document["config"]

    def save(self, out_dir):
        """Writes the CLI's files into out_dir: result.json, images/, maps/, report.html."""
        self._outcome.save(str(out_dir))
        return str(out_dir)

    def to_json(self):
        return json.dumps(self.document, indent=2)

    def __len__(self):
        return len(self.items)

    def __repr__(self):
        s = self.summary
        if "validity" in s:
            return (f"<cfx.Explanation {len(self)} items, validity {s['validity']:.3f}, "
                    f"mean L1 {s['mean_l1']:.4f}>")
        return f"<cfx.Explanation {len(self)} saliency maps>"

    def _repr_html_(self):
        cols = ["index", "original_class_name", "target_class_name", "counterfactual_class_name",
                "target_prob", "valid", "l1", "class_prob", "saliency_area", "steps"]
        cols = [c for c in cols if any(c in it for it in self.items)]
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        rows = []
        for it in self.items[:50]:
            cells = []
            for c in cols:
                v = it.get(c, "")
                cells.append(f"<td>{v:.3f}</td>" if isinstance(v, float) else
                             f"<td>{html.escape(str(v))}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        more = f"<p>... {len(self) - 50} more</p>" if len(self) > 50 else ""
        return f"<p>{html.escape(repr(self))}</p><table><tr>{head}</tr>{''.join(rows)}</table>{more}"


def saliency(model, X, method="fido", target="pred", **kwargs):
    """Saliency maps of a saliency method (fido, fido-sdr, bbmp, gradient, occlusion): like
    explain(), with the maps in `.saliency` [N, 1, H, W]; the target defaults to the
    predicted class, as in `cfx saliency`."""
    return explain(model, X, target=target, method=method, _kind="saliency", **kwargs)


def explain(model, X, target="auto", method="pixel", seed=0, batch_size=64, device="cpu",
            threads=None, batch_workers=0, progress=False, class_names=None, mean=None,
            std=None, _kind="", _session=None, **options):
    """Counterfactuals (or saliency maps, for a saliency method) of `model` on images `X`.

    model: a torch.nn.Module (scripted, or traced on X if it cannot be scripted), a
        torch.jit.ScriptModule, or a path to a TorchScript archive or cfx checkpoint.
    X: a float tensor or array [N, C, H, W] in [0, 1] ([N, H, W] for one channel; uint8 is
        divided by 255), a list of image paths, or a folder of images.
    target: "auto" (runner-up class), "pred", a class index or name, or one per item.
    options: the method's options (see cfx.methods()), e.g. steps=200, lr=0.05.
    threads: CPU threads (None: one per available CPU, or OMP_NUM_THREADS).
    batch_workers: batches run side by side, each on threads/batch_workers threads (0: one
        per thread; 1: one at a time); every built-in method runs them side by side.
    """
    X, names = _images(X)
    _check_options(method, options)
    job = {
        "method": str(method),
        "options": options,
        "targets": _targets(target, len(X)),
        "seed": int(seed),
        "batch_size": int(batch_size),
        "batch_workers": int(batch_workers),
        "device": str(device),
        "kind": _kind,
    }
    with tempfile.TemporaryDirectory(prefix="cfx-") as tmp:
        spec = _model_spec(model, X, tmp, class_names, mean, std, _session)
        outcome = _cfx.explain(spec, X, names, json.dumps(job), _threads(threads),
                               bool(progress), session=_engine(_session))
    return Explanation(outcome)


def evaluate(model, X, methods=("pixel",), target="auto", seed=0, batch_size=64, device="cpu",
             threads=None, batch_workers=0, progress=False, out=None, resume=False, data=None, split="test",
             offset=0,
             oracle="", autoencoders="", attributes="", fid_net="", fid_reference=2000,
             corrupt="none", surrogate=0, sanity=False, curve_steps=28, cout_steps=50,
             class_names=None, mean=None, std=None, _session=None, **options):
    """Runs every method of `methods` on the same images and targets and scores them with
    the field's metrics, as `cfx eval` does. Returns eval.json as a dict; with `out`, also
    writes the CLI's files there (eval.json, eval.csv, report.html, one folder per method).

    model, X, target, seed, batch_size, device, threads, batch_workers: as in explain();
        eval.json's methods record the batch_workers each used.
    options: method options, "key=value" for every method (steps=100) or, with the method's
        name and a double underscore, for one (disc__steps=100); a dict `sets` is also taken.
    out, resume: with resume, the finished batches an earlier run with the same settings
        left in out are loaded instead of run (as `cfx eval --resume`).
    data, split, offset: where X came from, if it is items offset.. of a dataset's split:
        FID then compares with that split's real images, and surrogate agreement
        (surrogate=M) takes M held-out items after X.
    oracle, autoencoders, attributes, fid_net: companion model files (see `cfx eval --help`).
    """
    X, names = _images(X)
    job, where = _eval_job(len(X), methods=methods, target=target, seed=seed,
                           batch_size=batch_size, batch_workers=batch_workers, device=device,
                           out=out, resume=resume,
                           data=data, split=split, offset=offset, oracle=oracle,
                           autoencoders=autoencoders, attributes=attributes, fid_net=fid_net,
                           fid_reference=fid_reference, corrupt=corrupt, surrogate=surrogate,
                           sanity=sanity, curve_steps=curve_steps, cout_steps=cout_steps,
                           **options)
    with tempfile.TemporaryDirectory(prefix="cfx-") as tmp:
        spec = _model_spec(model, X, tmp, class_names, mean, std, _session)
        doc = _cfx.evaluate(spec, X, names, json.dumps(where), json.dumps(job),
                            "" if out is None else str(out), _threads(threads), bool(progress),
                            session=_engine(_session))
    return json.loads(doc)


def _eval_job(n, methods=("pixel",), target="auto", seed=0, batch_size=64, batch_workers=0,
              device="cpu", out=None, resume=False, data=None, split="test", offset=0, oracle="",
              autoencoders="", attributes="", fid_net="", fid_reference=2000, corrupt="none",
              surrogate=0, sanity=False, curve_steps=28, cout_steps=50, **options):
    """The eval job and the items' origin of evaluate()'s keywords (also cfx.distributed's)."""
    if isinstance(methods, str):
        methods = [m for m in methods.split(",") if m]
    sets = dict(options.pop("sets", {}) or {})
    for k, v in options.items():
        sets[k.replace("__", ".", 1)] = v
    _check_options("eval", sets)
    job = {
        "methods": list(methods), "options": sets, "targets": _targets(target, n),
        "seed": int(seed), "batch_size": int(batch_size), "batch_workers": int(batch_workers),
        "device": str(device), "corrupt": str(corrupt), "oracle": str(oracle or ""),
        "autoencoders": str(autoencoders or ""), "attributes": str(attributes or ""),
        "fid_net": str(fid_net or ""), "fid_reference": int(fid_reference),
        "surrogate": int(surrogate), "sanity": bool(sanity), "curve_steps": int(curve_steps),
        "cout_steps": int(cout_steps),
    }
    if out is not None:  # finished batches are kept beside the results, as the CLI does
        job["batches_dir"] = str(out)
        job["resume"] = bool(resume)
    elif resume:
        raise Error("resume needs out (the folder of the earlier run's batches)")
    where = {"data": str(data or ""), "split": str(split), "offset": int(offset)}
    return job, where


def global_scores(model, outcome, samples=2000, seed=0, latents="data", data="", split="test",
                  generator="", attributes="", shifter="", only="", batch_size=256,
                  strength=1.0, bootstrap=1000, confidence=0.95, device="cpu", threads=None,
                  progress=False, out=None, input_shape=None, class_names=None, mean=None,
                  std=None, reference="auto", via="shift", _session=None):
    """Which attributes an outcome of `model` causally depends on, as `cfx global` does:
    necessity, sufficiency, both, and contrastive attribution per attribute with bootstrap
    intervals. Returns global.json as a dict; with `out`, also writes global.json, global.png
    and report.html there.

    model: a classifier file (its generator, attribute classifier and shift predictor are
        found beside it, as in the CLI) or a module (then pass shifter=, and input_shape=).
    outcome: a class name or index, or a list of them ("Sneaker", [5, 7]).
    generator: "oracle" on shapes: the renderer intervenes exactly (the true scores).
    via: "shift": through the shift predictor (the paper); "code": change the attribute code
        of a cvae (generator=, default <dataset>-cvae.pt beside the model) and keep its z;
        generator= may then list several cvaes, trained independently: the intervals include
        the variation between them.
    shifter: a path, or several (a list) of one generator: the intervals then include the
        variation between the shift predictors.
    reference: "auto": on shapes, a learned generator's scores also get the true ones beside
        them (scores[i]["oracle"], ["abs_error"]); "none": not.
    """
    job = _global_job(outcome, samples=samples, seed=seed, latents=latents, data=data,
                      split=split, generator=generator, attributes=attributes, shifter=shifter,
                      only=only, batch_size=batch_size, strength=strength, bootstrap=bootstrap,
                      confidence=confidence, device=device, reference=reference, via=via)
    X = None if input_shape is None else torch.zeros([2] + list(input_shape))
    with tempfile.TemporaryDirectory(prefix="cfx-") as tmp:
        spec = _model_spec(model, X, tmp, class_names, mean, std, _session)
        doc = _cfx.global_scores(spec, json.dumps(job), "" if out is None else str(out),
                                 _threads(threads), bool(progress), session=_engine(_session))
    return json.loads(doc)


def explain_text(texts=None, target="auto", texts_file=None, corpus=None, n=200, corpus_seed=0,
                 method="aip", model=None, cvae=None, optimise="both", seed=0, batch_size=64,
                 device="cpu", threads=None, progress=False, out=None, **options):
    """Counterfactual sentences for the text classifier, as `cfx explain-text` does (AIP in
    attribute words, METHODS.md §4). Returns result.json as a dict (config, one item per
    sentence: the reconstruction, the counterfactual, the attributes that moved, validity,
    tokens changed; the summary); with `out`, also writes it there.

    texts: a sentence or a list of them; or texts_file (one sentence per line), or corpus
        ("train"/"test": n sentences of the corpus grammar, seeded by corpus_seed).
    model, cvae: text classifier and text cvae checkpoints (None: the shipped ones).
    target: a class name or index, or "auto" (the runner-up class).
    optimise: what moves: "both" (z and a), "a" or "z".
    options: the search's steps, lr, attribute_lr, attribute_step, alpha, beta, confidence,
        temperature, straight_through (see `cfx explain-text --help`).
    """
    if isinstance(texts, str):
        texts = [texts]
    _check_options("explain_text", options)
    options = dict(options, seed=int(seed), batch_size=int(batch_size), device=str(device))
    job = {
        "method": str(method), "model": str(model or ""), "cvae": str(cvae or ""),
        "texts": [str(t) for t in (texts or [])], "texts_file": str(texts_file or ""),
        "corpus": str(corpus or ""), "n": int(n), "corpus_seed": int(corpus_seed),
        "target": str(target), "optimise": str(optimise), "options": options,
    }
    doc = _cfx.explain_text(json.dumps(job), "" if out is None else str(out), _threads(threads),
                            bool(progress))
    return json.loads(doc)


class Session:
    """Keeps models and datasets loaded between calls, with defaults for every call::

        with cfx.Session(device="cpu", threads=2, seed=1) as s:
            X, y, classes = s.load_dataset("fashion-mnist", n=64)
            ex = s.explain(model, X, method="disc")      # model scripted and loaded once
            ev = s.evaluate(model, X, methods=["pixel", "disc"])

    The module-level functions load everything afresh at every call; a session loads a model
    file again only when it changed, and scripts a torch.nn.Module again only when its weights
    changed (an optimiser step or load_state_dict). Keyword arguments given to a call win over
    the session's defaults. Results equal the module-level functions'. Not for two threads at
    once.
    """

    def __init__(self, device="cpu", threads=None, progress=False, seed=0, batch_size=64):
        self.defaults = {"device": device, "threads": threads, "progress": progress,
                         "seed": seed, "batch_size": batch_size}
        self._engine = _cfx.Session()
        self._tmp = tempfile.TemporaryDirectory(prefix="cfx-session-")
        self._modules = {}  # id(module) -> (module, weight state, file)
        self._files = 0

    def _module_file(self, model, X):
        entry = self._modules.get(id(model))
        state = _module_state(model)
        if entry is not None and entry[0] is model and entry[1] == state:
            return entry[2], f"<python {type(model).__name__}>"
        self._files += 1  # a new name: the engine's cache tells files apart by name and time
        folder = os.path.join(self._tmp.name, str(self._files))
        os.makedirs(folder)
        path, source = _model_file(model, X, folder)
        self._modules[id(model)] = (model, state, path)
        return path, source

    def _with(self, kwargs, keys):
        merged = {k: v for k, v in self.defaults.items() if k in keys}
        merged.update(kwargs)
        merged["_session"] = self
        return merged

    def explain(self, model, X, **kwargs):
        """cfx.explain() with the session's defaults and caches."""
        return explain(model, X, **self._with(kwargs, self.defaults))

    def saliency(self, model, X, method="fido", target="pred", **kwargs):
        """cfx.saliency() with the session's defaults and caches."""
        return self.explain(model, X, method=method, target=target, _kind="saliency", **kwargs)

    def evaluate(self, model, X, **kwargs):
        """cfx.evaluate() with the session's defaults and caches."""
        return evaluate(model, X, **self._with(kwargs, self.defaults))

    def global_scores(self, model, outcome, **kwargs):
        """cfx.global_scores() with the session's defaults (no batch size: global's is its
        own) and caches."""
        return global_scores(model, outcome,
                             **self._with(kwargs, ("device", "threads", "progress", "seed")))

    def load_dataset(self, name, split="test", n=-1, seed=0, size=None):
        """cfx.load_dataset(), loaded once per name, split, n, seed and size."""
        return load_dataset(name, split=split, n=n, seed=seed, size=size, _session=self)

    @property
    def models_loaded(self):
        """How many model files the engine has loaded (cache misses) in this session."""
        return self._engine.classifiers_loaded

    @property
    def datasets_loaded(self):
        return self._engine.datasets_loaded

    def close(self):
        """Forgets the loaded models and removes the session's scripted model files."""
        self._engine.clear()
        self._modules.clear()
        self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
