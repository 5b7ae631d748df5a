# planted: rule=DL201 framework=pytorch
import math

import torch
import torch.nn.functional as F
from torch import nn


class PointerHead(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)

    def forward(self, states, targets):
        scores = self.query(states) @ self.key(states).transpose(1, 2) / math.sqrt(states.size(-1))
        attention = F.softmax(scores, dim=-1)  # PRODUCER
        log_attention = torch.log(attention)  # BUG
        return F.nll_loss(log_attention.flatten(0, 1), targets.flatten())


def main():
    head = PointerHead(32)
    loss = head(torch.randn(2, 5, 32), torch.randint(0, 5, (2, 5)))
    loss.backward()


if __name__ == "__main__":
    main()
