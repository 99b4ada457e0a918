"""PyTorch side of the Fashion-MNIST comparison (scripts/compare-fashion-mnist.mjs runs both sides).

Trains one zoo architecture, re-created in PyTorch by the golden-fixture scripts in tools/fixtures (the
same modules the fixtures prove equal to the mlzoo models), with the recipe `mlzoo train` uses: images
scaled to [0, 1] (no normalisation, no augmentation), cross-entropy, a fresh shuffle per epoch, and
`mlzoo train`'s optimizer options with the same meaning:
  --optimizer adam    Adam, PyTorch defaults but eps 1e-7 (tfjs's tf.train.adam)
  --optimizer adamw   AdamW, eps 1e-8, decoupled --weight-decay (default 0.01) (@mlzoo/optimizers' AdamW)
  --lr-schedule constant | cosine   cosine: update k (from 0) runs at rate
      k < W: lr * k / W;  else lr * (1 + cos(pi * min(1, (k - W) / (T - W)))) / 2
      with T = epochs * ceil(train images / batch), W = --warmup-epochs * ceil(train images / batch)
      (@mlzoo/optimizers' cosineWithWarmup, which `mlzoo train --lr-schedule cosine` uses).
Prints one JSON line with the test accuracy.

  /usr/bin/python3 tools/reference/fashion_mnist_train.py --model vit_fashion_mnist --epochs 2 \\
      --batch-size 64 --lr 1e-3 --seed 0 --data-dir ../shared/data/fashion-mnist [--limit-train N] \\
      [--optimizer adamw --weight-decay 0.05 --lr-schedule cosine --warmup-epochs 1]
"""
import argparse
import gzip
import importlib
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'fixtures'))

from reference_models import build_model  # noqa: E402


def read_idx(path):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as handle:
        data = handle.read()
    zero, dtype, rank = struct.unpack('>HBB', data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f'{path}: not an unsigned-byte IDX file')
    shape = struct.unpack('>' + 'I' * rank, data[4:4 + 4 * rank])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(shape)


def load_split(directory, split):
    prefix = 'train' if split == 'train' else 't10k'
    def find(kind):
        for name in (f'{prefix}-{kind}-idx{3 if kind == "images" else 1}-ubyte.gz',
                     f'{prefix}-{kind}-idx{3 if kind == "images" else 1}-ubyte'):
            if os.path.exists(os.path.join(directory, name)):
                return os.path.join(directory, name)
        raise FileNotFoundError(f'{directory}: no {prefix} {kind} file')
    images = read_idx(find('images')).astype(np.float32) / 255.0
    labels = read_idx(find('labels')).astype(np.int64)
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels)  # NCHW


def cosine_with_warmup(learning_rate, total_steps, warmup_steps):
    """The rate of update `step` (0 = the first): @mlzoo/optimizers' cosineWithWarmup, floor 0."""
    def rate(step):
        if step < warmup_steps:
            return learning_rate * step / warmup_steps
        span = total_steps - warmup_steps
        progress = 1.0 if span == 0 else min(1.0, (step - warmup_steps) / span)
        return 0.5 * learning_rate * (1 + math.cos(math.pi * progress))
    return rate


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--model', required=True)
    parser.add_argument('--epochs', type=int, default=2)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--data-dir', required=True)
    parser.add_argument('--limit-train', type=int, default=None)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--optimizer', choices=['adam', 'adamw'], default='adam')
    parser.add_argument('--weight-decay', type=float, default=None)
    parser.add_argument('--lr-schedule', choices=['constant', 'cosine'], default='constant')
    parser.add_argument('--warmup-epochs', type=int, default=0)
    parser.add_argument('--config', default=None,
                        help='the preset config as JSON (`mlzoo info <model> --json`); default: ask the built CLI')
    args = parser.parse_args()
    if args.optimizer == 'adam' and args.weight_decay:
        parser.error('--weight-decay needs --optimizer adamw (Adam here has no weight decay)')
    if args.lr_schedule == 'constant' and args.warmup_epochs:
        parser.error('--warmup-epochs needs --lr-schedule cosine')
    if not 0 <= args.warmup_epochs <= args.epochs:
        parser.error(f'--warmup-epochs must be an integer from 0 to the number of epochs ({args.epochs})')
    weight_decay = (0.01 if args.weight_decay is None else args.weight_decay) if args.optimizer == 'adamw' else 0.0
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_x, train_y = load_split(args.data_dir, 'train')
    test_x, test_y = load_split(args.data_dir, 'test')
    if args.limit_train:
        train_x, train_y = train_x[:args.limit_train], train_y[:args.limit_train]
    model = build_model(args.model, json.loads(args.config) if args.config else None)
    parameters = sum(p.numel() for p in model.parameters())
    if args.optimizer == 'adamw':
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, eps=1e-8, weight_decay=weight_decay)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, eps=1e-7)
    steps_per_epoch = math.ceil(len(train_x) / args.batch_size)
    if args.lr_schedule == 'cosine':
        rate_at = cosine_with_warmup(args.lr, args.epochs * steps_per_epoch, args.warmup_epochs * steps_per_epoch)
    else:
        rate_at = lambda step: args.lr  # noqa: E731
    step = 0
    generator = torch.Generator().manual_seed(args.seed)
    start = time.time()
    history = []
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        total, count = 0.0, 0
        for begin in range(0, len(order), args.batch_size):
            index = order[begin:begin + args.batch_size]
            for group in optimizer.param_groups:
                group['lr'] = rate_at(step)
            optimizer.zero_grad()
            loss = F.cross_entropy(model(train_x[index]), train_y[index])
            loss.backward()
            optimizer.step()
            step += 1
            total += loss.item() * len(index)
            count += len(index)
        history.append({'epoch': epoch + 1, 'loss': total / count})
    train_seconds = time.time() - start
    model.eval()
    correct = 0
    with torch.no_grad():
        for begin in range(0, len(test_x), 500):
            correct += (model(test_x[begin:begin + 500]).argmax(1) == test_y[begin:begin + 500]).sum().item()
    print(json.dumps({'model': args.model, 'framework': 'pytorch', 'torch': torch.__version__,
                      'parameters': parameters, 'seed': args.seed, 'epochs': args.epochs,
                      'optimizer': args.optimizer, 'weight_decay': weight_decay,
                      'lr_schedule': args.lr_schedule, 'warmup_epochs': args.warmup_epochs,
                      'threads': args.threads, 'steps': step,
                      'train_images': len(train_x), 'test_accuracy': correct / len(test_x),
                      'train_seconds': train_seconds, 'history': history}))


if __name__ == '__main__':
    main()
