"""Why SAM(AdamW) starts slowly on mixer_fashion_mnist: PyTorch runs from the same initial weights and
batches as sam_mixer_trajectory.py (the files packages/optimizers/scripts/sam-mixer-trajectory.ts
writes), changing one thing at a time, and prints the loss after each run's last update.

The suspected mechanism: the Mixer's classifier head starts at zero (timm's init), so at the first
updates the gradient reaches the inner layers only through the head. SAM's second gradient is taken at
w + e, whose head is e = rho * g / ||g|| itself: the inner layers see a head pointing along the ascent
direction, and AdamW's per-coordinate normalisation turns those small gradients into full-size steps.

  /usr/bin/python3 tools/reference/sam_mixer_ablation.py packages/optimizers/.tmp/sam-mixer-trajectory
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'fixtures'))

import reference_models  # noqa: E402
import safetensors_io  # noqa: E402
from sam_mixer_trajectory import adamw_step, cosine_with_warmup, sam_step  # noqa: E402


def run(settings, config, initial, batches, learning_rates, method, rho, head_init, base):
    model = reference_models.build_model(settings['model'], config)
    model.load_state_dict(initial, strict=True)
    if head_init == 'random':
        generator = torch.Generator().manual_seed(1)
        with torch.no_grad():
            model.head.weight.copy_(torch.randn(model.head.weight.shape, generator=generator) * 0.02)
    model.train()
    if base == 'adamw':
        optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rates[0], weight_decay=settings['weightDecay'])
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=learning_rates[0], momentum=0.9)
    scale = 1.0 if base == 'adamw' else 100.0  # SGD needs a larger rate than AdamW
    losses = []
    for step, (images, labels) in enumerate(batches):
        for group in optimizer.param_groups:
            group['lr'] = learning_rates[step] * scale
        if method == 'sam':
            losses.append(sam_step(model, optimizer, images, labels, rho)[0])
        else:
            losses.append(adamw_step(model, optimizer, images, labels))
    return losses


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('directory')
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    tensors, metadata = safetensors_io.read(os.path.join(arguments.directory, 'sam-mixer-trajectory.safetensors'))
    with open(os.path.join(arguments.directory, 'sam-mixer-trajectory.json')) as file:
        settings = json.load(file)
    config = json.loads(metadata['config'])
    steps = settings['steps']
    learning_rates = [cosine_with_warmup(step, settings['learningRate'], settings['totalSteps'],
                                         settings['warmupSteps']) for step in range(steps)]
    batches = [(torch.from_numpy(np.array(tensors[f'batch.{step}.images'])).permute(0, 3, 1, 2).contiguous(),
                torch.from_numpy(np.array(tensors[f'batch.{step}.labels'])).long()) for step in range(steps)]
    initial = {name[len('initial.'):]: torch.from_numpy(np.array(value))
               for name, value in tensors.items() if name.startswith('initial.')}
    cases = [
        ('AdamW, zero head (the comparison)', 'adamw', 0.0, 'zero', 'adamw'),
        ('SAM(AdamW) rho 0.05, zero head (the comparison)', 'sam', 0.05, 'zero', 'adamw'),
        ('SAM(AdamW) rho 0.01, zero head', 'sam', 0.01, 'zero', 'adamw'),
        ('SAM(AdamW) rho 0.2, zero head', 'sam', 0.2, 'zero', 'adamw'),
        ('AdamW, head N(0, 0.02)', 'adamw', 0.0, 'random', 'adamw'),
        ('SAM(AdamW) rho 0.05, head N(0, 0.02)', 'sam', 0.05, 'random', 'adamw'),
        ('SGD momentum 0.9, lr x100, zero head', 'sgd', 0.0, 'zero', 'sgd'),
        ('SAM(SGD momentum 0.9, lr x100) rho 0.05, zero head', 'sam', 0.05, 'zero', 'sgd'),
    ]
    results = {}
    print(f'{steps} updates, batches and schedule of sam_mixer_trajectory.py; loss at the weights before update '
          f'1, 8, 16, 24, {steps} (mean of the last 4)')
    for name, method, rho, head_init, base in cases:
        losses = run(settings, config, initial, batches, learning_rates, method if method == 'sam' else 'plain',
                     rho, head_init, base)
        results[name] = losses
        picks = [losses[0], losses[7], losses[15], losses[23], losses[-1]]
        print(f'{name:55s} ' + '  '.join(f'{value:.4f}' for value in picks)
              + f'  (last 4: {np.mean(losses[-4:]):.4f})', flush=True)
    with open(os.path.join(arguments.directory, 'sam-mixer-ablation-torch.json'), 'w') as file:
        json.dump(results, file, indent=2)


if __name__ == '__main__':
    main()
