# planted: rule=DL203 framework=pytorch
import torch
from torch import nn


class Discriminator(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, 64), nn.LeakyReLU(0.2), nn.Linear(64, 1))

    def forward(self, x):
        return self.net(x)


def discriminator_step(discriminator, optimizer, real, fake):
    criterion = nn.BCELoss()
    optimizer.zero_grad()
    real_scores = torch.sigmoid(discriminator(real))  # PRODUCER
    loss = criterion(real_scores, torch.ones_like(real_scores))  # BUG
    loss = loss + criterion(torch.sigmoid(discriminator(fake)), torch.zeros(fake.size(0), 1))
    loss.backward()
    optimizer.step()
    return loss.item()


def main():
    discriminator = Discriminator(16)
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=2e-4)
    print(discriminator_step(discriminator, optimizer, torch.randn(8, 16), torch.randn(8, 16)))


if __name__ == "__main__":
    main()
