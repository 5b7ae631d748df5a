# planted: rule=DL301 framework=pytorch
import torch
from torch import nn


class MultiHeadRegressor(nn.Module):
    def __init__(self, features, tasks):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(features, 64), nn.ReLU())
        self.heads = [nn.Linear(64, 1) for _ in range(tasks)]  # PRODUCER BUG

    def forward(self, x):
        shared = self.trunk(x)
        return torch.cat([head(shared) for head in self.heads], dim=1)


def main():
    model = MultiHeadRegressor(10, 3)
    optimizer = torch.optim.Adam(model.parameters())
    loss = nn.functional.mse_loss(model(torch.randn(4, 10)), torch.randn(4, 3))
    loss.backward()
    optimizer.step()


if __name__ == "__main__":
    main()
