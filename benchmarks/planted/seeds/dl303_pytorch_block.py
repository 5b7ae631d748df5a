# planted: rule=DL303 framework=pytorch
import torch
from torch import nn


class ConvBlock(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1),  # PRODUCER BUG
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x):
        return self.block(x)


def main():
    block = ConvBlock(3, 16)
    print(block(torch.randn(2, 3, 32, 32)).shape)


if __name__ == "__main__":
    main()
