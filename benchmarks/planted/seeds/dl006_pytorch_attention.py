# planted: rule=DL006 framework=pytorch
import torch
from torch import nn


class CountAttention(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)

    def forward(self, x):
        scores = torch.relu(self.query(x) @ self.key(x).transpose(-1, -2))
        totals = scores.sum(dim=1)  # PRODUCER
        weights = scores / totals  # BUG
        return weights @ x


def main():
    layer = CountAttention(16)
    print(layer(torch.randn(4, 16)).shape)


if __name__ == "__main__":
    main()
