# planted: rule=DL002 framework=pytorch
import torch
import torch.nn.functional as F
from torch import nn


class Trainer:
    def __init__(self, model, loader, lr=0.01):
        self.model = model
        self.loader = loader
        self.optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)

    def train_epoch(self):
        self.model.train()
        total = 0.0
        for inputs, targets in self.loader:
            self.optimizer.zero_grad()
            scores = self.model(inputs)
            probabilities = torch.softmax(scores, dim=-1)  # PRODUCER
            loss = F.cross_entropy(probabilities, targets)  # BUG
            loss.backward()
            self.optimizer.step()
            total += loss.item()
        return total / len(self.loader)


def main():
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 4))
    data = torch.utils.data.TensorDataset(torch.randn(256, 20), torch.randint(0, 4, (256,)))
    loader = torch.utils.data.DataLoader(data, batch_size=32, shuffle=True)
    trainer = Trainer(model, loader)
    for epoch in range(3):
        print(epoch, trainer.train_epoch())


if __name__ == "__main__":
    main()
