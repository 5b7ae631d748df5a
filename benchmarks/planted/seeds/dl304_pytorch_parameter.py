# planted: rule=DL304 framework=pytorch
import math

import torch
from torch import nn


class ScaledLinear(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.Tensor(out_features, in_features))  # PRODUCER BUG
        self.scale = math.sqrt(in_features)

    def forward(self, x):
        return x @ self.weight.t() / self.scale


def main():
    layer = ScaledLinear(8, 4)
    print(layer(torch.randn(2, 8)))


if __name__ == "__main__":
    main()
