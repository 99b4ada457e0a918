"""PyTorch builders for the Fashion-MNIST comparison: each mlzoo preset's config (camelCase, as
`mlzoo info <name> --json` prints it) -> the PyTorch re-creation from tools/fixtures (the module the
golden fixtures prove equal to the mlzoo model), initialised as the mlzoo model is (timm's schemes).
"""
import json
import math
import os
import subprocess
import sys

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tools', 'fixtures'))

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


BUILDERS = {
    'vit_fashion_mnist': build_vit,
    'mixer_fashion_mnist': build_mixer,
    'resmlp_fashion_mnist': build_resmlp,
    'gmlp_fashion_mnist': build_gmlp,
    'deep_mlp_fashion_mnist': build_deep_mlp,
}


def build_model(name):
    if name not in BUILDERS:
        raise SystemExit(f'no PyTorch builder for {name} (have: {", ".join(BUILDERS)})')
    config = preset_config(name)
    model = BUILDERS[name](config)
    return model
