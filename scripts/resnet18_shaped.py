#!/usr/bin/env python3
"""A ResNet-18-shaped classifier for timing cfx at 224x224 (issue 19, scripts/bench-224.sh).

torchvision's ResNet-18 layout (7x7 stem, four stages of two basic blocks, 64-512 channels,
11.2M parameters) written out here, because Debian's python3-torchvision is optional. Scripted,
with cfx.json metadata (3x224x224 input).

    /usr/bin/python3 scripts/resnet18_shaped.py OUT.pt
        random weights (seed 0), batch-norm statistics from three batches of noise, so
        activations have a plausible scale; Fashion-MNIST's class names. Fine for time and
        memory, not for quality: it decides almost uniformly and hardly moves.
    /usr/bin/python3 scripts/resnet18_shaped.py OUT.pt --train shapes [--n 2000]
        a classifier that decides: the same random convolutions (seed 0), batch-norm
        statistics of n shapes training images rendered at 224x224 (cfx.load_dataset), and a
        linear head trained on their pooled features (full-batch Adam, 400 steps, seed 0);
        train and test accuracy printed. Needs cfx's Python module (PYTHONPATH=build/python).
        Training the convolutions too would take hours on 2 cores; random convolutional
        features separate the shapes classes well enough for a model whose decisions can be
        flipped and whose counterfactuals converge (the point of the 224 benchmark).
"""
import json
import os
import sys
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = nn.Sequential()
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.down(x))


class ResNet18(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                                  nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        layers, cin = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.layers(self.stem(x)), 1), 1))


def features(m, x):
    return torch.flatten(nn.functional.adaptive_avg_pool2d(m.layers(m.stem(x)), 1), 1)


def train_on_shapes(m, n):
    import cfx
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    X, y, classes = cfx.load_dataset("shapes", split="train", n=n, seed=0, size=224)
    Xt, yt, _ = cfx.load_dataset("shapes", split="test", n=500, seed=0, size=224)
    mean = X.mean((0, 2, 3)).tolist()
    std = X.std((0, 2, 3)).tolist()
    norm = lambda t: (t - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
    with torch.no_grad():
        # Batch-norm statistics of the data (cumulative average over every batch).
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.reset_running_stats()
                mod.momentum = None
        m.train()
        for i in range(0, len(X), 50):
            m(norm(X[i:i + 50]))
        m.eval()
        f = torch.cat([features(m, norm(X[i:i + 50])) for i in range(0, len(X), 50)])
        ft = torch.cat([features(m, norm(Xt[i:i + 50])) for i in range(0, len(Xt), 50)])
    m.fc = nn.Linear(512, len(classes))
    mu, sd = f.mean(0), f.std(0) + 1e-6
    # The head reads standardised features; fold the standardisation into its weights after.
    head = nn.Linear(512, len(classes))
    opt = torch.optim.Adam(head.parameters(), lr=0.01, weight_decay=1e-4)
    for step in range(400):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(head((f - mu) / sd), y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        m.fc.weight.copy_(head.weight / sd)
        m.fc.bias.copy_(head.bias - (head.weight * (mu / sd)).sum(1))
        acc = (m.fc(f).argmax(1) == y).float().mean().item()
        acc_t = (m.fc(ft).argmax(1) == yt).float().mean().item()
    print(f"train accuracy {acc:.3f} (n={len(X)}), test accuracy {acc_t:.3f} (n={len(Xt)}), "
          f"final loss {loss.item():.3f}")
    return {"classes": list(classes), "mean": mean, "std": std, "dataset": "shapes",
            "train_accuracy": acc, "test_accuracy": acc_t}


args = sys.argv[1:]
out = args[0]
torch.manual_seed(0)
m = ResNet18().eval()
if "--train" in args:
    assert args[args.index("--train") + 1] == "shapes", "--train supports shapes only"
    n = int(args[args.index("--n") + 1]) if "--n" in args else 2000
    extra = train_on_shapes(m, n)
else:
    with torch.no_grad():  # BN statistics of a plausible scale, so activations are not degenerate
        m.train()
        for _ in range(3):
            m(torch.rand(8, 3, 224, 224))
        m.eval()
    extra = {"classes": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot"],
             "mean": [0.286], "std": [0.353], "dataset": "fashion-mnist"}
s = torch.jit.script(m)
meta = {"input_shape": [3, 224, 224], "arch": "resnet18-shaped", **extra}
torch.jit.save(s, out, _extra_files={"cfx.json": json.dumps(meta)})
print(sum(p.numel() for p in m.parameters()), "parameters")
