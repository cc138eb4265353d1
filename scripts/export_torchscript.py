#!/usr/bin/env python3
"""Trains a small Fashion-MNIST CNN and exports it as TorchScript for cfx.

Writes into --out DIR:
  scripted.pt   torch.jit.script of the model, with cfx.json metadata inside
  traced.pt     torch.jit.trace of the same model, with cfx.json metadata inside
  reference.pt  TorchScript container holding a reference input (images in [0, 1],
                before normalisation) and the model's logits for it, for tests

The network has a conv-bn-relu stem, one residual basic block (two conv-bn layers and an
identity add), pooling and a linear head. Normalisation (mean/std) is NOT part of the
exported model: cfx applies it from cfx.json, so the model expects normalised input.

Run with a Python that has torch (Debian: /usr/bin/python3):
  /usr/bin/python3 scripts/export_torchscript.py --out models/ts --train-size 20000 --epochs 1
  /usr/bin/python3 scripts/export_torchscript.py --out /tmp/m --epochs 0   # untrained, for tests
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot"]
MEAN, STD = 0.2860, 0.3530


def read_idx(path):
    """Reads an IDX file (optionally gzipped) into a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(data_dir, prefix, limit):
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    if limit > 0:
        images, labels = images[:limit], labels[:limit]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)  # [N,1,28,28] in [0,1]
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def normalize(x):
    return (x - MEAN) / STD


class BasicBlock(nn.Module):
    """Residual block: conv-bn-relu-conv-bn, identity add, relu."""

    def __init__(self, ch):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + x)


class SmallResNet(nn.Module):
    def __init__(self, num_classes=10, ch=16):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(1, ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(inplace=True),  # in place: cfx must capture stem.1 before it
            nn.MaxPool2d(2),  # 14x14
        )
        self.layer1 = nn.Sequential(BasicBlock(ch))
        self.pool = nn.MaxPool2d(2)  # 7x7
        self.fc = nn.Linear(ch * 7 * 7, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer1(x)
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(normalize(x[i:i + batch])).argmax(1) == y[i:i + batch]).sum().item()
    return correct / max(1, len(x))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--data", default=DATA_DIR, help="folder with the Fashion-MNIST IDX .gz files")
    p.add_argument("--train-size", type=int, default=40000, help="training images (0 = all)")
    p.add_argument("--test-size", type=int, default=0, help="test images (0 = all 10000)")
    p.add_argument("--epochs", type=int, default=1, help="0 writes an untrained model")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-meta", action="store_true",
                   help="also write scripted_nometa.pt / traced_nometa.pt without cfx.json")
    args = p.parse_args()

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)

    model = SmallResNet()
    if args.epochs > 0:
        t0 = time.time()
        x, y = load_split(args.data, "train", args.train_size)
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                              weight_decay=5e-4)
        steps = args.epochs * ((len(x) + args.batch_size - 1) // args.batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
        gen = torch.Generator().manual_seed(args.seed)
        for epoch in range(args.epochs):
            model.train()
            perm = torch.randperm(len(x), generator=gen)
            total = 0.0
            for i in range(0, len(x), args.batch_size):
                idx = perm[i:i + args.batch_size]
                loss = F.cross_entropy(model(normalize(x[idx])), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * len(idx)
            print(f"epoch {epoch + 1}/{args.epochs}: loss {total / len(x):.4f} "
                  f"({time.time() - t0:.1f}s)", flush=True)
        xt, yt = load_split(args.data, "t10k", args.test_size)
        print(f"test accuracy: {evaluate(model, xt, yt):.4f} on {len(xt)} images", flush=True)
    else:
        # Untrained weights, but non-trivial BN running statistics so tests can check them.
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 2.0)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
    model.eval()

    meta = {"input_shape": [1, 28, 28], "classes": CLASSES, "mean": [MEAN], "std": [STD]}
    extra = {"cfx.json": json.dumps(meta)}
    example = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(args.seed + 1))
    scripted = torch.jit.script(model)
    traced = torch.jit.trace(model, normalize(example))
    scripted.save(os.path.join(args.out, "scripted.pt"), _extra_files=extra)
    traced.save(os.path.join(args.out, "traced.pt"), _extra_files=extra)
    if args.no_meta:
        scripted.save(os.path.join(args.out, "scripted_nometa.pt"))
        traced.save(os.path.join(args.out, "traced_nometa.pt"))

    # Reference pair: x in [0, 1] (what cfx gets) and the logits of the normalised x.
    with torch.no_grad():
        logits = model(normalize(example))

    class Reference(nn.Module):
        def __init__(self, x, y):
            super().__init__()
            self.register_buffer("input", x)
            self.register_buffer("logits", y)

        def forward(self):
            return self.input

    torch.jit.script(Reference(example, logits)).save(os.path.join(args.out, "reference.pt"))
    print(f"wrote {args.out}/scripted.pt, traced.pt, reference.pt", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
