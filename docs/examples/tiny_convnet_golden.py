"""Golden fixture for the docs' TinyConvNet, computed with PyTorch.

Run from the repository root:  /usr/bin/python3 docs/examples/tiny_convnet_golden.py

Builds the same network in PyTorch with the same parameter names, draws weights and an input from a
fixed seed, and writes docs/examples/fixtures/tiny_convnet.safetensors with the state dict (PyTorch
layouts: conv OIHW, Linear [out, in]) under `params.`, the input as NHWC and the logits. The tfjs
model must load the state dict by key and reproduce the logits.
"""
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tools', 'fixtures'))
import safetensors_io  # noqa: E402  (a numpy safetensors writer: the safetensors package is not needed)


class TinyConvNet(nn.Module):
    def __init__(self, in_chans=1, num_classes=10, widths=(8, 16)):
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, widths[0], 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(widths[0], widths[1], 3, stride=2, padding=1)
        self.head = nn.Linear(widths[1], num_classes)

    def forward(self, x):  # x: NCHW
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.head(x.mean(dim=(2, 3)))


def main():
    torch.manual_seed(0)
    model = TinyConvNet().eval()
    images = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        logits = model(images)
    tensors = {f'params.{name}': value.numpy() for name, value in model.state_dict().items()}
    tensors['input'] = images.permute(0, 2, 3, 1).contiguous().numpy()  # NCHW -> NHWC
    tensors['output'] = logits.numpy()
    os.makedirs(os.path.join(HERE, 'fixtures'), exist_ok=True)
    path = os.path.join(HERE, 'fixtures', 'tiny_convnet.safetensors')
    safetensors_io.write(path, tensors, {'torch': torch.__version__, 'model': 'tiny_convnet'})
    print(f'wrote {path}')


if __name__ == '__main__':
    main()
