# planted: rule=DL102 framework=pytorch
import argparse

import torch
from torch import nn


def fit(model, loader, epochs, lr):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        scheduler.step()  # PRODUCER BUG
        model.train()
        for images, labels in loader:
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch} lr {scheduler.get_last_lr()[0]:.5f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=90)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()
    data = torch.utils.data.TensorDataset(torch.randn(256, 10), torch.randint(0, 3, (256,)))
    loader = torch.utils.data.DataLoader(data, batch_size=32, shuffle=True)
    fit(nn.Linear(10, 3), loader, args.epochs, args.lr)


if __name__ == "__main__":
    main()
