"""Runs the Fashion-MNIST comparisons from a pack (tools/device/pack-compare.sh) as a pool of
single-threaded processes, one per core: every `mlzoo train` (wasm, one thread) and PyTorch run
(tools/reference/fashion_mnist_train.py, CPU, one thread) of MODELS x SEEDS, and the AdamW-vs-SAM runs
(the bundled packages/optimizers/scripts/sam-fashion-mnist.main.ts). Longest jobs start first. Each
finished job appends one JSON line to RESULTS/results.jsonl; its stderr goes to RESULTS/logs/.

tools/device/run-compare.sh unpacks node and calls this; settings come from the environment (see
SETTINGS below), e.g. MODELS=vit_fashion_mnist,deep_mlp_fashion_mnist SEEDS=0 TRAIN_IMAGES=256.
"""
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SETTINGS = {
    'MODELS': 'vit_fashion_mnist,mixer_fashion_mnist,resmlp_fashion_mnist,gmlp_fashion_mnist,deep_mlp_fashion_mnist',
    'SEEDS': '0,1,2',
    'TRAIN_IMAGES': '10000',
    'EPOCHS': '3',
    'BATCH_SIZE': '64',
    'LR': '0.001',
    'WEIGHT_DECAY': '0.05',
    'WARMUP_EPOCHS': '1',
    'LIMIT_TEST': '',
    'SAM_MODEL': 'mixer_fashion_mnist',
    'SAM_SEEDS': '0,1',
    'SAM_RHO': '0.05',
    'SAM_TRAIN_IMAGES': '',
    'SAM_EPOCHS': '',
    'SAM_TEST_SIZE': '',
    'HESSIAN_SIZE': '128',  # 256 Mixer images in one pass ran out of wasm memory
    'HESSIAN_ITERATIONS': '15',
    'JOBS': str(os.cpu_count() or 1),
    'FRAMEWORKS': 'mlzoo,pytorch,sam',
    # 'longest': longest jobs first (shortest wall time with many cores); 'seed': every job of seed 0
    # first (longest first within a seed), then seed 1, ...: complete pairs early when cores are few
    'ORDER': 'longest',
}
# relative cost per training image, to start the longest jobs first (measured order on wasm)
COST = {'vit_fashion_mnist': 10, 'mixer_fashion_mnist': 4, 'resmlp_fashion_mnist': 2.5,
        'gmlp_fashion_mnist': 2.5, 'deep_mlp_fashion_mnist': 0.2}


def setting(name):
    return os.environ.get(name, SETTINGS[name])


def main():
    pack, results, node = sys.argv[1], sys.argv[2], sys.argv[3]
    os.makedirs(os.path.join(results, 'logs'), exist_ok=True)
    data = os.path.join(pack, 'data')
    models = [model for model in setting('MODELS').split(',') if model]
    seeds = [int(seed) for seed in setting('SEEDS').split(',') if seed]
    frameworks = setting('FRAMEWORKS').split(',')
    environment = dict(os.environ, MLZOO_BACKEND='wasm', MLZOO_WASM_THREADS='1', OMP_NUM_THREADS='1',
                       MKL_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='',
                       PYTHONUNBUFFERED='1')
    recipe = ['--epochs', setting('EPOCHS'), '--batch-size', setting('BATCH_SIZE'), '--lr', setting('LR'),
              '--limit-train', setting('TRAIN_IMAGES'), '--seed']
    schedule = ['--optimizer', 'adamw', '--weight-decay', setting('WEIGHT_DECAY'), '--lr-schedule', 'cosine',
                '--warmup-epochs', setting('WARMUP_EPOCHS')]
    limit_test = ['--limit-test', setting('LIMIT_TEST')] if setting('LIMIT_TEST') else []
    jobs = []
    for model in models:
        config = None
        if 'pytorch' in frameworks:
            info = subprocess.run([node, os.path.join(pack, 'mlzoo.mjs'), 'info', model, '--json', '--backend', 'cpu'],
                                  check=True, capture_output=True, text=True, env=environment).stdout
            config = json.dumps(json.loads(info)['models'][0]['config'])
        for seed in seeds:
            cost = COST.get(model, 3)
            if 'mlzoo' in frameworks:
                jobs.append({'name': f'mlzoo-{model}-{seed}', 'kind': 'mlzoo', 'model': model, 'seed': seed,
                             'cost': cost,
                             'command': [node, os.path.join(pack, 'mlzoo.mjs'), 'train', model, '--data-dir', data,
                                         *recipe, str(seed), *schedule, *limit_test, '--backend', 'wasm',
                                         '--out', os.path.join(results, 'weights', f'{model}-{seed}.safetensors'),
                                         '--json', '--no-progress']})
            if 'pytorch' in frameworks:
                jobs.append({'name': f'pytorch-{model}-{seed}', 'kind': 'pytorch', 'model': model, 'seed': seed,
                             'cost': cost / 5,
                             'command': [sys.executable, os.path.join(ROOT, 'tools/reference/fashion_mnist_train.py'),
                                         '--model', model, '--data-dir', data, *recipe, str(seed), *schedule,
                                         '--threads', '1', '--config', config]})
    if 'sam' in frameworks:
        for seed in [int(seed) for seed in setting('SAM_SEEDS').split(',') if seed]:
            for method in ('adamw', 'sam'):
                sam_model = setting('SAM_MODEL')
                jobs.append({'name': f'sam-{sam_model}-{method}-{seed}', 'kind': 'sam', 'model': sam_model,
                             'seed': seed, 'method': method,
                             'cost': COST.get(sam_model, 3) * (2 if method == 'sam' else 1) * 1.3,
                             'command': [node, os.path.join(pack, 'sam-fashion-mnist.mjs'), '--data-dir', data,
                                         '--model', sam_model, '--method', method, '--seed', str(seed),
                                         '--epochs', setting('SAM_EPOCHS') or setting('EPOCHS'),
                                         '--train-size', setting('SAM_TRAIN_IMAGES') or setting('TRAIN_IMAGES'),
                                         *(['--test-size', setting('SAM_TEST_SIZE')] if setting('SAM_TEST_SIZE') else []),
                                         '--batch-size', setting('BATCH_SIZE'), '--lr', setting('LR'),
                                         '--warmup-epochs', setting('WARMUP_EPOCHS'),
                                         '--weight-decay', setting('WEIGHT_DECAY'), '--rho', setting('SAM_RHO'),
                                         '--hessian-size', setting('HESSIAN_SIZE'),
                                         '--hessian-iterations', setting('HESSIAN_ITERATIONS'), '--backend', 'wasm']})
    if setting('ORDER') == 'seed':
        jobs.sort(key=lambda job: (job['seed'], -COST.get(job['model'], 3), job['name']))
    else:
        jobs.sort(key=lambda job: -job['cost'])
    lock = threading.Lock()
    started = time.time()
    with open(os.path.join(results, 'settings.json'), 'w') as handle:
        json.dump({name: setting(name) for name in SETTINGS} | {'jobs': [job['name'] for job in jobs]}, handle)

    def run(job):
        begin = time.time()
        with open(os.path.join(results, 'logs', job['name'] + '.err'), 'w') as stderr:
            process = subprocess.run(job['command'], stdout=subprocess.PIPE, stderr=stderr, text=True, env=environment)
        record = {key: job[key] for key in ('name', 'kind', 'model', 'seed') if key in job}
        record.update(status=process.returncode, wall_seconds=round(time.time() - begin, 1),
                      started_at=round(begin - started, 1))
        stdout = process.stdout.strip()
        try:
            record['result'] = json.loads(stdout if stdout.startswith('{') else stdout.splitlines()[-1])
        except (ValueError, IndexError):
            record['stdout_tail'] = stdout[-2000:]
        with lock, open(os.path.join(results, 'results.jsonl'), 'a') as handle:
            handle.write(json.dumps(record) + '\n')
        print(f'{time.time() - started:7.1f} s  {job["name"]}: exit {process.returncode}, {record["wall_seconds"]} s',
              flush=True)

    with ThreadPoolExecutor(max_workers=int(setting('JOBS'))) as pool:
        list(pool.map(run, jobs))
    print(f'all {len(jobs)} jobs done in {time.time() - started:.1f} s', flush=True)
    with open(os.path.join(results, 'DONE'), 'w') as handle:
        handle.write('done\n')


if __name__ == '__main__':
    main()
