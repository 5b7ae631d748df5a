# planted: rule=DL104 framework=pytorch
import argparse

import torch
import torch.nn.functional as F
from torch import nn


def train(model, loader, optimizer, epochs):
    for epoch in range(epochs):
        epoch_loss = 0.0
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = F.mse_loss(model(inputs), targets)  # PRODUCER
            loss.backward()
            optimizer.step()
            epoch_loss += loss  # BUG
        print(f"epoch {epoch}: {epoch_loss / len(loader)}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    data = torch.utils.data.TensorDataset(torch.randn(512, 4), torch.randn(512, 1))
    loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))
    train(model, loader, torch.optim.Adam(model.parameters()), args.epochs)


if __name__ == "__main__":
    main()
