#!/usr/bin/env python3
"""A ResNet-18-shaped classifier for timing cfx at 224x224 (issue 19, scripts/bench-224.sh).

torchvision's ResNet-18 layout (7x7 stem, four stages of two basic blocks, 64-512 channels,
11.2M parameters) written out here, because Debian's python3-torchvision is optional; random
weights (seed 0) with batch-norm statistics from three batches of noise, so activations have
a plausible scale. Scripted, with cfx.json metadata: 3x224x224 input, Fashion-MNIST's classes.
Random weights are fine for time and memory, not for quality.

    /usr/bin/python3 scripts/resnet18_shaped.py OUT.pt
"""
import json
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


torch.manual_seed(0)
m = ResNet18().eval()
with torch.no_grad():  # BN statistics of a plausible scale, so activations are not degenerate
    m.train()
    for _ in range(3):
        m(torch.rand(8, 3, 224, 224))
    m.eval()
s = torch.jit.script(m)
meta = {"input_shape": [3, 224, 224],
        "classes": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                    "Sneaker", "Bag", "Ankle boot"],
        "mean": [0.286], "std": [0.353], "arch": "resnet18-shaped", "dataset": "fashion-mnist"}
torch.jit.save(s, sys.argv[1], _extra_files={"cfx.json": json.dumps(meta)})
print(sum(p.numel() for p in m.parameters()), "parameters")
