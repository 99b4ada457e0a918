// The browser demo: everything a Node user does, in a page. Uses the cpu backend by default and
// webgpu when the page is opened with ?backend=webgpu and the browser has navigator.gpu.
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgpu';
import {
  decodeSafetensors,
  encodeSafetensorsAsync,
  evaluate,
  fit,
  manualSeed,
  setBackend,
} from '@mlzoo/core';
import { loadFashionMnist } from '@mlzoo/data';
import { MlpClassifier } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

export interface DemoResult {
  backend: string;
  accuracy: number;
  trainImages: number;
  testImages: number;
  checkpointBytes: number;
  reloadIdentical: boolean;
  seconds: number;
}

const status = document.querySelector<HTMLElement>('#status')!;
const progress = document.querySelector<HTMLProgressElement>('#progress')!;
const log = document.querySelector<HTMLElement>('#log')!;
const say = (line: string) => {
  status.textContent = line;
  log.textContent += `${line}\n`;
};

async function predictions(model: MlpClassifier, images: tf.Tensor): Promise<Int32Array> {
  const labels = tf.tidy(() => tf.argMax(model.forward(images), -1));
  const values = (await labels.data()) as Int32Array;
  labels.dispose();
  return values;
}

async function main(): Promise<DemoResult> {
  const started = performance.now();
  const requested = new URLSearchParams(location.search).get('backend') === 'webgpu' ? 'webgpu' : 'cpu';
  const backend = await setBackend(requested);
  // tfjs runs ops on tensors under 1,000 elements on the CPU by default; keep everything on WebGPU.
  if (backend === 'webgpu') tf.env().set('WEBGPU_CPU_FORWARD', false);
  say(`backend: ${backend}`);
  const dataUrl = new URL('./data/', location.href).href;
  const train = await loadFashionMnist({ split: 'train', source: { url: dataUrl } });
  const test = await loadFashionMnist({ split: 'test', source: { url: dataUrl } });
  say(`loaded ${train.images.shape[0]} training and ${test.images.shape[0]} test images`);

  manualSeed(0);
  const config = { imgSize: 28, inChans: 1, numClasses: 10, hiddenDims: [128] };
  const model = new MlpClassifier(config);
  const optimizer = tf.train.adam(2e-3);
  await fit(
    model,
    { x: train.images, y: train.labels },
    {
      optimizer,
      epochs: 3,
      batchSize: 64,
      onProgress: ({ epoch, epochs, step, stepsPerEpoch, loss }) => {
        progress.value = (epoch - 1 + step / stepsPerEpoch) / epochs;
        status.textContent = `epoch ${epoch}/${epochs}, step ${step}/${stepsPerEpoch}, loss ${loss.toFixed(3)}`;
      },
    },
  );
  const { accuracy = 0 } = await evaluate(model, { x: test.images, y: test.labels });
  say(`test accuracy: ${(accuracy * 100).toFixed(1)}%`);

  const state = model.stateDict();
  const bytes = await encodeSafetensorsAsync(state, { model: 'mlp_fashion_mnist' });
  tf.dispose(Object.values(state));
  const reloaded = new MlpClassifier(config);
  const decoded = decodeSafetensors(bytes);
  reloaded.loadStateDict(decoded);
  tf.dispose(Object.values(decoded));
  const [before, after] = [await predictions(model, test.images), await predictions(reloaded, test.images)];
  const reloadIdentical = before.every((value, index) => value === after[index]);
  say(
    `saved ${bytes.byteLength} bytes of safetensors; reloaded model predicts ${reloadIdentical ? 'identically' : 'DIFFERENTLY'}`,
  );

  const result: DemoResult = {
    backend,
    accuracy,
    trainImages: train.images.shape[0]!,
    testImages: test.images.shape[0]!,
    checkpointBytes: bytes.byteLength,
    reloadIdentical,
    seconds: (performance.now() - started) / 1000,
  };
  optimizer.dispose();
  model.dispose();
  reloaded.dispose();
  tf.dispose([train.images, train.labels, test.images, test.labels]);
  return result;
}

declare global {
  interface Window {
    mlzooDemo?: { result?: DemoResult; error?: string };
  }
}

window.mlzooDemo = {};
main().then(
  (result) => {
    window.mlzooDemo = { result };
  },
  (error: unknown) => {
    say(`failed: ${(error as Error).message}`);
    window.mlzooDemo = { error: String((error as Error).stack ?? error) };
  },
);
