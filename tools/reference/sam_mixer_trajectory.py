"""The PyTorch half of the SAM-on-a-Mixer check (packages/optimizers/scripts/sam-mixer-trajectory.ts writes
the inputs): loads mlzoo's initial mixer_fashion_mnist weights into the PyTorch re-creation the golden
fixtures prove equal (reference_models.build_model), replays the same batches with torch.optim.AdamW and
with a textbook first-order SAM over it, and compares the per-update losses and the weights after the
first and the last update with mlzoo's.

Textbook SAM (Foret et al. 2021, davda54/sam): g = grad L(w); e = rho * g / (||g||_2 + 1e-12) with the norm
global over all parameters; w <- w + e; g_sam = grad L(w + e); w <- w - e; AdamW steps with g_sam.
The learning rate of each update is recomputed here from the cosine-with-warmup formula (linear warmup
from 0 over W updates, then 0.5 * lr * (1 + cos(pi * (t - W) / (T - W)))) and checked against mlzoo's.

  /usr/bin/python3 tools/reference/sam_mixer_trajectory.py packages/optimizers/.tmp/sam-mixer-trajectory
  (OPENBLAS_CORETYPE=SkylakeX where OpenBLAS detects a slower core, as the repo's PyTorch benchmarks do)

Writes <dir>/sam-mixer-trajectory-torch.json and prints the comparison; exits 1 when a loss differs by
more than --tolerance (relative, default 1e-3) within the first --strict-steps updates (default 8).
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'fixtures'))

import reference_models  # noqa: E402
import safetensors_io  # noqa: E402


def cosine_with_warmup(step, learning_rate, total_steps, warmup_steps):
    if step < warmup_steps:
        return learning_rate * step / warmup_steps
    span = total_steps - warmup_steps
    progress = 1.0 if span == 0 else min(1.0, (step - warmup_steps) / span)
    return 0.5 * learning_rate * (1 + math.cos(math.pi * progress))


def loss_of(model, images, labels):
    return F.cross_entropy(model(images), labels)


def sam_step(model, optimizer, images, labels, rho):
    """One textbook SAM step; returns the loss at w (before the update)."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    loss = loss_of(model, images, labels)
    grads = torch.autograd.grad(loss, parameters)
    with torch.no_grad():
        norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads)).float()
        perturbations = [rho * g / (norm + 1e-12) for g in grads]
        for p, e in zip(parameters, perturbations):
            p.add_(e)
    perturbed_loss = loss_of(model, images, labels)
    sam_grads = torch.autograd.grad(perturbed_loss, parameters)
    with torch.no_grad():
        for p, e, g in zip(parameters, perturbations, sam_grads):
            p.sub_(e)
            p.grad = g.clone()
    optimizer.step()
    return loss.item(), perturbed_loss.item(), norm.item()


def adamw_step(model, optimizer, images, labels):
    optimizer.zero_grad(set_to_none=True)
    loss = loss_of(model, images, labels)
    loss.backward()
    optimizer.step()
    return loss.item()


def state_difference(model, tensors, prefix):
    """||w_torch - w_mlzoo|| / ||w_mlzoo|| over the whole state dict, and the tensor with the largest such
    ratio of its own. A few biases have an exactly zero gradient (a token-MLP output bias is constant over
    the channels, which the next LayerNorm removes): their gradient is float rounding, which Adam's
    normalisation turns into full-size steps, so they differ between any two implementations."""
    squared_difference, squared_norm, worst = 0.0, 0.0, (0.0, '')
    for name, value in model.state_dict().items():
        expected = torch.from_numpy(np.array(tensors[f'{prefix}.{name}'])).double()
        difference = (value.detach().double() - expected).norm().item()
        norm = expected.norm().item()
        squared_difference += difference ** 2
        squared_norm += norm ** 2
        ratio = difference / max(norm, 1e-30)
        if ratio > worst[0]:
            worst = (ratio, name)
    return math.sqrt(squared_difference / squared_norm), worst


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('directory')
    parser.add_argument('--tolerance', type=float, default=1e-3)
    parser.add_argument('--strict-steps', type=int, default=8)
    parser.add_argument('--threads', type=int, default=2, help='torch threads (1 on a loaded machine)')
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    tensors, metadata = safetensors_io.read(os.path.join(arguments.directory, 'sam-mixer-trajectory.safetensors'))
    with open(os.path.join(arguments.directory, 'sam-mixer-trajectory.json')) as file:
        settings = json.load(file)
    config = json.loads(metadata['config'])
    steps = settings['steps']
    learning_rates = [cosine_with_warmup(step, settings['learningRate'], settings['totalSteps'],
                                         settings['warmupSteps']) for step in range(steps)]
    worst_rate = max(abs(a - b) for a, b in zip(learning_rates, settings['learningRates']))
    if worst_rate > 1e-12:
        raise SystemExit(f'learning rates differ from mlzoo\'s by up to {worst_rate}')
    batches = [(torch.from_numpy(np.array(tensors[f'batch.{step}.images'])).permute(0, 3, 1, 2).contiguous(),
                torch.from_numpy(np.array(tensors[f'batch.{step}.labels'])).long()) for step in range(steps)]
    initial = {name[len('initial.'):]: torch.from_numpy(np.array(value))
               for name, value in tensors.items() if name.startswith('initial.')}
    report = {'settings': {key: settings[key] for key in settings if key not in ('losses', 'learningRates')},
              'methods': {}}
    failed = False
    for method in ('adamw', 'sam'):
        torch.manual_seed(0)
        model = reference_models.build_model(settings['model'], config)
        model.load_state_dict(initial, strict=True)
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rates[0], betas=(0.9, 0.999), eps=1e-8,
                                      weight_decay=settings['weightDecay'])
        losses, perturbed_losses, norms = [], [], []
        step1 = None
        for step, (images, labels) in enumerate(batches):
            for group in optimizer.param_groups:
                group['lr'] = learning_rates[step]
            if method == 'sam':
                loss, perturbed, norm = sam_step(model, optimizer, images, labels, settings['rho'])
                perturbed_losses.append(perturbed)
                norms.append(norm)
            else:
                loss = adamw_step(model, optimizer, images, labels)
            losses.append(loss)
            if step == 0:
                step1 = state_difference(model, tensors, f'step1.{method}')
        final = state_difference(model, tensors, f'final.{method}')
        ours = settings['losses'][method]
        relative = [abs(a - b) / abs(b) for a, b in zip(losses, ours)]
        print(f'\n{method}: update, lr, torch loss, mlzoo loss, relative difference'
              + (', torch loss at w + e, ||g||' if method == 'sam' else ''))
        for step in range(steps):
            extra = f'  {perturbed_losses[step]:.6f}  {norms[step]:.4e}' if method == 'sam' else ''
            print(f'{step + 1:3d}  {learning_rates[step]:.3e}  {losses[step]:.6f}  {ours[step]:.6f}  '
                  f'{relative[step]:.2e}{extra}')
        print(f'{method}: weights differ by {step1[0]:.2e} (relative L2) after update 1, {final[0]:.2e} after '
              f'update {steps}; the worst tensor then: {final[1][1]} {final[1][0]:.2e}')
        strict = max(relative[:arguments.strict_steps])
        if strict > arguments.tolerance:
            failed = True
            print(f'{method}: FAIL, relative loss difference {strict:.2e} > {arguments.tolerance} '
                  f'within the first {arguments.strict_steps} updates')
        report['methods'][method] = {
            'torchLosses': losses, 'mlzooLosses': ours, 'relativeDifference': relative,
            'torchPerturbedLosses': perturbed_losses or None, 'torchGradientNorms': norms or None,
            'weightsAfterFirstUpdate': {'relativeL2': step1[0], 'worstTensor': step1[1][1],
                                        'worstTensorRelativeL2': step1[1][0]},
            'weightsAtEnd': {'relativeL2': final[0], 'worstTensor': final[1][1], 'worstTensorRelativeL2': final[1][0]},
        }
    with open(os.path.join(arguments.directory, 'sam-mixer-trajectory-torch.json'), 'w') as file:
        json.dump(report, file, indent=2)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
