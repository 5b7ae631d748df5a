# planted: rule=DL103 framework=pytorch
import torch
from torch import nn


class LanguageModelTrainer:
    def __init__(self, model, loader, max_norm=1.0):
        self.model = model
        self.loader = loader
        self.max_norm = max_norm
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
        self.criterion = nn.CrossEntropyLoss()

    def train_epoch(self):
        self.model.train()
        for tokens, targets in self.loader:
            self.optimizer.zero_grad()
            logits = self.model(tokens)
            loss = self.criterion(logits.view(-1, logits.size(-1)), targets.view(-1))
            loss.backward()
            self.optimizer.step()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_norm)  # PRODUCER BUG


def main():
    model = nn.Sequential(nn.Embedding(100, 32), nn.Linear(32, 100))
    data = torch.utils.data.TensorDataset(torch.randint(0, 100, (64, 16)),
                                          torch.randint(0, 100, (64, 16)))
    trainer = LanguageModelTrainer(model, torch.utils.data.DataLoader(data, batch_size=8))
    for epoch in range(2):
        trainer.train_epoch()


if __name__ == "__main__":
    main()
