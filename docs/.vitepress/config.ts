import { defineConfig } from 'vitepress';

export default defineConfig({
  title: 'mlzoo',
  description: 'Composable model-zoo packages on TensorFlow.js, with PyTorch-compatible state dicts',
  cleanUrls: true,
  lastUpdated: false,
  srcExclude: ['examples/**', 'test/**'],
  themeConfig: {
    nav: [
      { text: 'Guide', link: '/guide/getting-started' },
      { text: 'Reference', link: '/reference/core' },
    ],
    sidebar: [
      {
        text: 'Guide',
        items: [
          { text: 'Getting started', link: '/guide/getting-started' },
          { text: 'Modules and state dicts', link: '/guide/modules-and-state-dicts' },
          { text: 'safetensors', link: '/guide/safetensors' },
          { text: 'Training', link: '/guide/training' },
          { text: 'Fashion-MNIST', link: '/guide/fashion-mnist' },
          { text: 'Contributing a model', link: '/guide/contributing-a-model' },
        ],
      },
      {
        text: 'Reference',
        items: [
          { text: '@mlzoo/core', link: '/reference/core' },
          { text: '@mlzoo/layers', link: '/reference/layers' },
          { text: '@mlzoo/vit', link: '/reference/vit' },
          { text: '@mlzoo/mixers', link: '/reference/mixers' },
          { text: '@mlzoo/kan', link: '/reference/kan' },
          { text: '@mlzoo/optimizers', link: '/reference/optimizers' },
          { text: '@mlzoo/data', link: '/reference/data' },
          { text: '@mlzoo/testing', link: '/reference/testing' },
          { text: 'mlzoo CLI', link: '/reference/cli' },
        ],
      },
    ],
    search: { provider: 'local' },
    outline: [2, 3],
  },
});
