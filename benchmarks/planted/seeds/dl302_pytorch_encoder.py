# planted: rule=DL302 framework=pytorch
import torch
import torch.nn.functional as F
from torch import nn


class Encoder(nn.Module):
    def __init__(self, vocab, dim, dropout=0.1):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        self.rnn = nn.GRU(dim, dim, batch_first=True)
        self.dropout = dropout

    def forward(self, tokens):
        embedded = F.dropout(self.embedding(tokens), p=self.dropout)  # PRODUCER BUG
        outputs, hidden = self.rnn(embedded)
        return outputs, hidden


def main():
    encoder = Encoder(100, 32)
    encoder.eval()
    with torch.no_grad():
        outputs, _ = encoder(torch.randint(0, 100, (2, 7)))
    print(outputs.shape)


if __name__ == "__main__":
    main()
