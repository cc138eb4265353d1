"""Why the shapes classifiers misread a cvae's squares and triangles (docs/claims-latent.md,
"What the shapes classifiers read"): their predictions on the renderer's test images as
drawn, with the background noise removed, blurred by a Gaussian of sigma px, and on each
cvae's reconstructions G(E(x), D(x)) (AIP with 0 steps), as drawn, with background noise
added and sharpened by an unsharp mask. Prints a markdown row per image set: the shape
classifier's accuracy, share of all images called circle and of the squares and triangles
called circle; the red-circle classifier's accuracy and share of red squares and triangles
called "red circle", for the larger and the smaller half of the objects by area; and the
squares and triangles called circle on light and on dark backgrounds apart.

    PYTHONPATH=build/python /usr/bin/python3 scripts/shape-sharpness.py [--n 1000] [CVAE.pt ...]

About 2 min for the renderer's rows and 2 min per cvae at n 1000 on two threads (2026-12-03).
--only-reconstructions prints each cvae's reconstruction row alone (about 3 min per cvae on one
thread).
"""

import argparse

import torch
import torch.nn.functional as F

import cfx


def blur(x, sigma):
    r = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-t**2 / (2 * sigma * sigma))
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (r, r, r, r), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def predict(model, images, threads):
    """The classifier's decision on each image [N]: a one-step pixel search, whose items carry
    the prediction on the input."""
    e = cfx.explain(model, images.clamp(0, 1), method="pixel", steps=1, threads=threads)
    return torch.tensor([it["original_class"] for it in e.items])


def reconstructions(model, X, cvae, threads):
    """G(E(x), D(x)) of each image: AIP with no search step."""
    return cfx.explain(model, X, method="aip", steps=0, cvae=cvae, threads=threads).counterfactuals


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cvaes", nargs="*")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--model", default="models/shapes-cnn.pt", help="rule 'shape'")
    ap.add_argument("--red-circle-model", default="models/shapes-red-circle-cnn.pt")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only-reconstructions", action="store_true",
                    help="print each cvae's reconstruction row only")
    a = ap.parse_args()
    X, y, names = cfx.load_dataset("shapes", n=a.n)
    assert names == ["circle", "square", "triangle"], names
    polygon = y != 0
    gen = torch.Generator().manual_seed(0)
    # The renderer's noise is grey (equal in R, G, B); only the object is coloured, so its
    # pixels give its colour and area (the test split is drawn with the "shape" rule).
    grey = (X.max(1).values - X.min(1).values) < 1e-4
    area = (~grey).flatten(1).sum(1).float()
    rgb = torch.stack([(X[:, c] * ~grey).flatten(1).sum(1) / area for c in range(3)], 1)
    red = (rgb[:, 0] > 0.5) & (rgb[:, 1] < 0.35) & (rgb[:, 2] < 0.35)
    red_circle = (red & ~polygon).long()
    larger = area >= area.median()
    red_polygon = red & polygon
    # The background is the median of the grey pixels; light backgrounds sit near 0.8, dark
    # ones near 0.1.
    light = torch.stack([X[i, 0][grey[i]].median() for i in range(len(X))]) > 0.5

    def row(images, what):
        p = predict(a.model, images, a.threads)
        called = (p == 0) & polygon
        q = predict(a.red_circle_model, images, a.threads)
        print(f"| {what} | {(p == y).float().mean():.3f} | {(p == 0).float().mean():.3f} | "
              f"{called.sum() / polygon.sum():.3f} | {(q == red_circle).float().mean():.3f} | "
              f"{(q[red_polygon & larger] == 1).float().mean():.3f} / "
              f"{(q[red_polygon & ~larger] == 1).float().mean():.3f} | "
              f"{(called & light).sum() / (polygon & light).sum():.3f} / "
              f"{(called & ~light).sum() / (polygon & ~light).sum():.3f} |", flush=True)

    print(f"n = {a.n} shapes test images ({int(polygon.sum())} squares and triangles; red ones "
          f"larger / smaller half: {int((red_polygon & larger).sum())} / "
          f"{int((red_polygon & ~larger).sum())}; on light / dark backgrounds: "
          f"{int((polygon & light).sum())} / {int((polygon & ~light).sum())}); classifiers "
          f"{a.model}, {a.red_circle_model}\n")
    print("| images | shape: accuracy | shape: called circle | shape: squares and triangles "
          "called circle | red circle: accuracy | red circle: red squares and triangles called "
          "red circle, larger / smaller half | shape: squares and triangles called circle, "
          "light / dark background |")
    print("|---|---|---|---|---|---|---|")
    for path in a.cvaes if a.only_reconstructions else []:
        row(reconstructions(a.model, X, path, a.threads),
            f"{path.split('/')[-1]}: reconstructions")
    if a.only_reconstructions:
        return
    row(X, "renderer, as drawn")
    clean = X.clone()
    for i in range(len(X)):
        clean[i][:, grey[i]] = X[i, 0][grey[i]].median()
    row(clean, "renderer, background noise removed")
    for s in (0.5, 0.75, 1.0, 1.5):
        row(blur(X, s), f"renderer, blurred σ {s} px")
    for path in a.cvaes:
        R = reconstructions(a.model, X, path, a.threads)
        name = path.split("/")[-1]
        row(R, f"{name}: reconstructions")
        noise = (torch.rand(R.shape[0], 1, *R.shape[2:], generator=gen) - 0.5) * 2 * 0.02 * 3**0.5
        row(R + noise, f"{name}: reconstructions + the renderer's noise (σ 0.02)")
        for amount in (0.5, 1.0):
            row(R + amount * (R - blur(R, 1.0)), f"{name}: reconstructions, unsharp mask {amount}")


if __name__ == "__main__":
    main()
