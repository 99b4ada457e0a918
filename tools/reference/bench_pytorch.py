"""PyTorch side of `mlzoo bench --reference pytorch`: one measurement per invocation, one JSON line out.

  /usr/bin/python3 tools/reference/bench_pytorch.py --measure vit_fashion_mnist --mode train \\
      [--batch 128] [--threads 2] [--warmup-seconds 1] [--min-seconds 2] [--repeats 3] [--config '{...}']
  /usr/bin/python3 tools/reference/bench_pytorch.py --check     (torch and BLAS found? versions as JSON)
  OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 tools/reference/bench_pytorch.py --probe [--threads 2]
                                                                (a quick 1024^3 GEMM rate, as JSON)

--measure is a model preset name (re-created by reference_models.py) or `matmul` (1024x1024 @ 1024x1024
float32, GFLOP/s); --mode is `train` (forward + cross-entropy + backward + optimizer step on random
images and labels; Adam by default, the optimizer `mlzoo train` uses, or --optimizer adamw) or
`inference` (eval mode, no_grad). Timing is the same as the zoo side's (apps/cli/src/bench-measure.ts):
warm-up steps for --warmup-seconds (at least one), then --repeats timed blocks of whole steps, each
block running for at least --min-seconds; the result is the median block's throughput. Memory: the
process's peak resident set (getrusage ru_maxrss) and its resident set before the model was built.

--probe times a few 1024^3 products (after one warm-up product) and prints their median GFLOP/s with the
OPENBLAS_CORETYPE it ran under: `mlzoo bench --reference pytorch` runs it under OpenBLAS's own core
detection and under a few forced core types, and keeps the fastest for every PyTorch process (on some
VMs the detected core runs GEMM 4-6x slower than the CPU allows).

It refuses to run (exit code 3) when torch multiplies matrices with the reference BLAS (Debian's default
libblas: ~55x slower than OpenBLAS, a meaningless baseline) unless --allow-reference-blas is given.
Exit code 2: torch is not installed for this interpreter.
"""
import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
INSTALL_HINT = ('install it with: sudo apt-get install python3-torch libopenblas0-openmp '
                '(and run /usr/bin/python3: a pyenv or venv python cannot see Debian\'s packages)')

try:
    import torch
    import torch.nn.functional as F
except ImportError as error:
    print(json.dumps({'error': 'torch-missing', 'python': sys.executable,
                      'message': f'{sys.executable} cannot import torch ({error}); {INSTALL_HINT}'}))
    sys.exit(2)


def resident_kib():
    """Current resident set in KiB (VmRSS)."""
    with open('/proc/self/status') as handle:
        for line in handle:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return None


def blas_libraries():
    """The BLAS/LAPACK shared objects mapped into this process (resolved paths, deduplicated)."""
    found = []
    try:
        with open('/proc/self/maps') as handle:
            for line in handle:
                path = line.split()[-1] if len(line.split()) >= 6 else ''
                name = os.path.basename(path)
                if ('blas' in name or 'lapack' in name or 'mkl' in name) and path not in found:
                    found.append(path)
    except OSError:
        pass
    return found


def blas_kind(libraries):
    """openblas-openmp, openblas-pthread, openblas-serial, openblas, mkl, reference or unknown."""
    joined = ' '.join(libraries)
    if 'mkl' in joined:
        return 'mkl'
    if 'openblas' in joined:
        for variant in ('openmp', 'pthread', 'serial'):
            if f'openblas-{variant}' in joined:
                return f'openblas-{variant}'
        return 'openblas'
    if any(os.path.basename(os.path.dirname(path)) == 'blas' for path in libraries):
        return 'reference'
    return 'unknown'


def run_blocks(step, images_per_step, warmup_seconds, min_seconds, repeats):
    """Warm-up, then `repeats` timed blocks of whole steps (each >= min_seconds); per-block throughputs."""
    started = time.perf_counter()
    warmup_steps = 0
    while warmup_steps == 0 or time.perf_counter() - started < warmup_seconds:
        step()
        warmup_steps += 1
    blocks = []
    for _ in range(repeats):
        steps = 0
        began = time.perf_counter()
        while steps == 0 or time.perf_counter() - began < min_seconds:
            step()
            steps += 1
        elapsed = time.perf_counter() - began
        blocks.append({'steps': steps, 'seconds': elapsed, 'perSecond': images_per_step * steps / elapsed})
    return warmup_steps, blocks


def measure_matmul(args):
    size = args.matmul_size
    a = torch.rand(size, size)
    b = torch.rand(size, size)
    warmup_steps, blocks = run_blocks(lambda: torch.mm(a, b), 2 * size ** 3 / 1e9, args.warmup_seconds,
                                      args.min_seconds, args.repeats)
    return {'unit': 'GFLOP/s', 'detail': f'[{size}, {size}] x [{size}, {size}] float32',
            'warmupSteps': warmup_steps, 'blocks': blocks}


def probe_gemm(size, products):
    """GFLOP/s of each of `products` timed [size, size] x [size, size] float32 products, after one warm-up."""
    a = torch.rand(size, size)
    b = torch.rand(size, size)
    torch.mm(a, b)
    rates = []
    for _ in range(products):
        began = time.perf_counter()
        torch.mm(a, b)
        rates.append(2 * size ** 3 / (time.perf_counter() - began) / 1e9)
    return rates


def measure_model(args):
    sys.path.insert(0, HERE)
    from reference_models import build_model  # noqa: E402

    config = json.loads(args.config) if args.config else None
    model = build_model(args.measure, config)
    parameters = sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(args.batch, 1, 28, 28, generator=generator)  # NCHW; the zoo feeds NHWC
    labels = torch.arange(args.batch) % 10
    if args.mode == 'train':
        model.train()
        optimizer_class = torch.optim.AdamW if args.optimizer == 'adamw' else torch.optim.Adam
        optimizer = optimizer_class(model.parameters(), lr=1e-3)

        def step():
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
            loss.item()

        detail = f'batch {args.batch}, {"AdamW" if args.optimizer == "adamw" else "Adam"}'
    else:
        model.eval()

        def step():
            with torch.no_grad():
                model(images).sum().item()

        detail = f'batch {args.batch}'
    warmup_steps, blocks = run_blocks(step, args.batch, args.warmup_seconds, args.min_seconds, args.repeats)
    return {'unit': 'images/s', 'detail': detail, 'parameters': parameters, 'warmupSteps': warmup_steps,
            'blocks': blocks}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--measure', help='a model preset name, or matmul')
    parser.add_argument('--check', action='store_true',
                        help='only check torch and its BLAS and print the environment as JSON')
    parser.add_argument('--probe', action='store_true',
                        help='only time a few 1024^3 products (under the OPENBLAS_CORETYPE of the environment)')
    parser.add_argument('--probe-products', type=int, default=5)
    parser.add_argument('--mode', choices=['train', 'inference'], default='train')
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--warmup-seconds', type=float, default=1.0)
    parser.add_argument('--min-seconds', type=float, default=2.0)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--matmul-size', type=int, default=1024)
    parser.add_argument('--optimizer', choices=['adam', 'adamw'], default='adam')
    parser.add_argument('--config', help='the preset config as JSON (default: ask the built mlzoo CLI)')
    parser.add_argument('--allow-reference-blas', action='store_true',
                        help='measure even when torch uses the reference BLAS (flagged in the output)')
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    baseline_kib = resident_kib()
    # One product maps the BLAS library in (torch loads it lazily) and gives a quick GEMM rate.
    probe = torch.rand(512, 512)
    torch.mm(probe, probe)
    began = time.perf_counter()
    for _ in range(4):
        torch.mm(probe, probe)
    probe_gflops = 4 * 2 * 512 ** 3 / (time.perf_counter() - began) / 1e9
    libraries = blas_libraries()
    kind = blas_kind(libraries)
    environment = {
        'python': sys.executable, 'pythonVersion': platform.python_version(), 'torch': torch.__version__,
        'threads': torch.get_num_threads(), 'blas': kind, 'blasLibraries': libraries,
        'probeGflops': probe_gflops,
        'parallelBackend': torch.__config__.parallel_info().splitlines()[-1].split(':', 1)[-1].strip(),
    }
    if kind == 'reference' and not args.allow_reference_blas:
        print(json.dumps({'error': 'reference-blas', **environment,
                          'message': f'torch uses the reference BLAS ({", ".join(libraries)}; {probe_gflops:.1f} '
                                     f'GFLOP/s on a 512 product): a meaningless baseline, ~55x slower than '
                                     f'OpenBLAS; {INSTALL_HINT}'}))
        sys.exit(3)

    if args.probe:
        rates = probe_gemm(1024, args.probe_products)
        print(json.dumps({'side': 'pytorch', 'probe': True, 'coreType': os.environ.get('OPENBLAS_CORETYPE'),
                          'size': 1024, 'gflops': statistics.median(rates), 'products': rates,
                          'threads': torch.get_num_threads(), 'blas': kind}))
        return
    if args.check:
        sys.path.insert(0, HERE)
        from reference_models import BUILDERS  # noqa: E402
        print(json.dumps({'side': 'pytorch', 'check': True, 'models': list(BUILDERS), **environment}))
        return
    if not args.measure:
        parser.error('--measure is required (a model preset name, or matmul)')
    result = measure_matmul(args) if args.measure == 'matmul' else measure_model(args)
    throughputs = [block['perSecond'] for block in result['blocks']]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        'side': 'pytorch', 'measure': args.measure, 'mode': 'matmul' if args.measure == 'matmul' else args.mode,
        'batch': None if args.measure == 'matmul' else args.batch, **result,
        'median': statistics.median(throughputs),
        'peakRssBytes': usage.ru_maxrss * 1024, 'baselineRssBytes': baseline_kib * 1024 if baseline_kib else None,
        **environment,
    }))


if __name__ == '__main__':
    main()
