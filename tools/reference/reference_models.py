"""PyTorch builders for the Fashion-MNIST comparison: each mlzoo preset's config (camelCase, as
`mlzoo info <name> --json` prints it) -> the PyTorch re-creation from tools/fixtures (the module the
golden fixtures prove equal to the mlzoo model), initialised as the mlzoo model is (timm's schemes).
The KAN is defined here (efficient-kan's computation in pykan's layout, the forward mlzoo's KANLinear
runs); it is used for speed (tools/reference/bench_pytorch.py), not checked by a golden fixture.
"""
import json
import math
import os
import subprocess
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tools', 'fixtures'))

import layers as fixture_layers  # noqa: E402
import mixers_mlps  # noqa: E402
import mixers_timm  # noqa: E402
import vision_transformer  # noqa: E402


def preset_config(name):
    """The preset's config from the built CLI (the single source of truth for both sides)."""
    out = subprocess.run(['node', os.path.join(ROOT, 'apps', 'cli', 'dist', 'cli.js'), 'info', name, '--json',
                          '--backend', 'cpu'], check=True, capture_output=True, text=True).stdout
    return json.loads(out)['models'][0]['config']


def trunc_normal_(tensor, std, a=None, b=None):
    # timm's trunc_normal_ cuts at absolute a, b (default -2, 2), as mlzoo's init.truncNormal
    nn.init.trunc_normal_(tensor, std=std, a=-2.0 if a is None else a, b=2.0 if b is None else b)


def init_vit(model):
    """timm VisionTransformer weight_init '': Linear trunc_normal(.02) bias 0, pos_embed trunc_normal(.02),
    cls_token normal(1e-6); conv and LayerNorm keep PyTorch defaults."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, 0.02)
                if module.bias is not None:
                    module.bias.zero_()
        trunc_normal_(model.pos_embed, 0.02)
        if model.cls_token is not None:
            nn.init.normal_(model.cls_token, std=1e-6)


def init_mixer(model):
    """timm mlp_mixer _init_weights: Linear xavier_uniform, bias N(0, 1e-6) inside MLPs else 0; the stem
    conv lecun_normal (truncated), bias 0; head zero; gMLP's gating projection N(0, 1e-6), bias 1."""
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, nn.Linear):
                if name == 'head':
                    module.weight.zero_()
                    module.bias.zero_()
                    continue
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    if 'mlp' in name:
                        nn.init.normal_(module.bias, std=1e-6)
                    else:
                        module.bias.zero_()
            elif isinstance(module, nn.Conv2d):
                fan_in = module.weight[0].numel()
                std = math.sqrt(1.0 / fan_in) / 0.8796256610342398
                trunc_normal_(module.weight, std, -2 * std, 2 * std)
                if module.bias is not None:
                    module.bias.zero_()
        for module in model.modules():
            if isinstance(module, mixers_timm.SpatialGatingUnit):
                nn.init.normal_(module.proj.weight, std=1e-6)
                nn.init.ones_(module.proj.bias)


def mixer_arguments(config):
    ratio = config.get('mlpRatio', [0.5, 4.0])
    return dict(num_classes=config['numClasses'], img_size=config['imgSize'], in_chans=config['inChans'],
                patch_size=config['patchSize'], num_blocks=config['numBlocks'], embed_dim=config['embedDim'],
                mlp_ratio=tuple(ratio) if isinstance(ratio, list) else ratio)


def build_vit(config):
    model = vision_transformer.VisionTransformer(
        img_size=config['imgSize'], patch_size=config['patchSize'], in_chans=config['inChans'],
        num_classes=config['numClasses'], embed_dim=config['embedDim'], depth=config['depth'],
        num_heads=config['numHeads'], mlp_ratio=config['mlpRatio'])
    init_vit(model)
    return model


def build_mixer(config):
    model = mixers_timm.mixer(**mixer_arguments(config))
    init_mixer(model)
    return model


def build_resmlp(config):
    model = mixers_timm.resmlp(init_values=config.get('initValues', 1e-4), **mixer_arguments(config))
    init_mixer(model)
    return model


def build_gmlp(config):
    model = mixers_timm.gmlp(**mixer_arguments(config))
    init_mixer(model)
    return model


def build_deep_mlp(config):
    # PyTorch default init, as mlzoo's DeepMlp (Linear: kaiming-uniform a=sqrt(5))
    return mixers_mlps.bottleneck_mlp(config['imgSize'], config['inChans'], config['numClasses'],
                                      config['numBlocks'], config['width'], config.get('expansionFactor', 4))


def build_mlp(config):
    # PyTorch default init (Linear: kaiming-uniform a=sqrt(5)); fc1 ... head as mlzoo's MlpClassifier
    if config.get('activation', 'relu') != 'relu' or config.get('dropRate', 0) != 0:
        raise SystemExit(f'build_mlp: only ReLU without dropout is re-created, got {json.dumps(config)}')
    in_features = config['imgSize'] ** 2 * config['inChans']
    return fixture_layers.MlpClassifier(in_features, config['hiddenDims'], config['numClasses'])


class KANLinear(nn.Module):
    """One B-spline KAN layer computed the efficient-kan way (Blealtan/efficient-kan, src/efficient_kan/kan.py)
    with pykan's parameter layout, as mlzoo's KANLinear (packages/kan/src/kan-linear.ts) computes it:
    y = silu(x) @ (scale_base * mask) + B(x).view(B, in * M) @ (coef * scale_sp * mask).permute(0, 2, 1)
    .reshape(in * M, out), with coef [in, out, M = G + k], scale_base and scale_sp [in, out] trainable and
    grid [in, G + 2k + 1] and mask [in, out] buffers (in * out * (M + 2) parameters, as mlzoo counts).
    Init as pykan's KANLayer in distribution (scale_base U(-1, 1)/sqrt(in), scale_sp 1/sqrt(in)); the
    spline coefficients are small noise drawn directly instead of pykan's least-squares fit of noise."""

    def __init__(self, in_features, out_features, grid_size=5, spline_order=3, grid_range=(-1.0, 1.0),
                 noise_scale=0.5):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.grid_size, self.spline_order = grid_size, spline_order
        low, high = grid_range
        step = (high - low) / grid_size
        knots = low + step * torch.arange(-spline_order, grid_size + spline_order + 1, dtype=torch.float32)
        self.register_buffer('grid', knots[None, :].expand(in_features, -1).contiguous())
        basis = grid_size + spline_order
        self.coef = nn.Parameter((torch.rand(in_features, out_features, basis) - 0.5) * noise_scale / grid_size)
        self.scale_base = nn.Parameter((torch.rand(in_features, out_features) * 2 - 1) / math.sqrt(in_features))
        self.scale_sp = nn.Parameter(torch.full((in_features, out_features), 1 / math.sqrt(in_features)))
        self.register_buffer('mask', torch.ones(in_features, out_features))

    def b_splines(self, x):
        """Cox-de Boor recursion: [B, in] -> [B, in, G + k] (efficient-kan's b_splines)."""
        grid = self.grid
        x = x.unsqueeze(-1)
        bases = ((x >= grid[:, :-1]) & (x < grid[:, 1:])).to(x.dtype)
        for k in range(1, self.spline_order + 1):
            bases = ((x - grid[:, :-(k + 1)]) / (grid[:, k:-1] - grid[:, :-(k + 1)]) * bases[:, :, :-1]
                     + (grid[:, k + 1:] - x) / (grid[:, k + 1:] - grid[:, 1:-k]) * bases[:, :, 1:])
        return bases

    def forward(self, x):
        batch = x.shape[0]
        weight = (self.coef * (self.scale_sp * self.mask).unsqueeze(2)).permute(0, 2, 1).reshape(
            self.in_features * (self.grid_size + self.spline_order), self.out_features)
        spline = self.b_splines(x).reshape(batch, -1) @ weight
        return spline + F.silu(x) @ (self.scale_base * self.mask)


class KANClassifier(nn.Module):
    """mlzoo's KANClassifier: flattened NHWC image (C = 1 here, so NCHW flattens the same) -> act_fun.{l}."""

    def __init__(self, in_features, hidden_dims, num_classes, grid_size, spline_order, grid_range):
        super().__init__()
        widths = [in_features, *hidden_dims, num_classes]
        self.act_fun = nn.ModuleList([KANLinear(widths[index], widths[index + 1], grid_size, spline_order,
                                                grid_range) for index in range(len(widths) - 1)])

    def forward(self, x):
        x = x.flatten(1)
        for layer in self.act_fun:
            x = layer(x)
        return x


def build_kan(config):
    if config.get('basis', 'bspline') != 'bspline' or config.get('baseActivation', 'silu') != 'silu':
        raise SystemExit(f'build_kan: only the B-spline basis with SiLU is re-created, got {json.dumps(config)}')
    in_features = config['imgSize'] ** 2 * config['inChans']
    return KANClassifier(in_features, config.get('hiddenDims', [64]), config['numClasses'],
                         config.get('gridSize', 5), config.get('splineOrder', 3),
                         tuple(config.get('gridRange', (-1.0, 1.0))))


BUILDERS = {
    'mlp_fashion_mnist': build_mlp,
    'kan_fashion_mnist': build_kan,
    'vit_fashion_mnist': build_vit,
    'mixer_fashion_mnist': build_mixer,
    'resmlp_fashion_mnist': build_resmlp,
    'gmlp_fashion_mnist': build_gmlp,
    'deep_mlp_fashion_mnist': build_deep_mlp,
}


def build_model(name, config=None):
    """The PyTorch model for an mlzoo preset; `config` (the preset's, camelCase) skips asking the CLI."""
    if name not in BUILDERS:
        raise SystemExit(f'no PyTorch builder for {name} (have: {", ".join(BUILDERS)})')
    if config is None:
        config = preset_config(name)
    model = BUILDERS[name](config)
    return model
