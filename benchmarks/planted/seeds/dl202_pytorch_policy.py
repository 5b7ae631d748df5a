# planted: rule=DL202 framework=pytorch
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Categorical


class Policy(nn.Module):
    def __init__(self, observations, actions):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(observations, 128), nn.ReLU())
        self.head = nn.Linear(128, actions)

    def forward(self, state):
        scores = self.head(self.body(state))
        return F.softmax(scores)  # PRODUCER BUG


def select_action(policy, state):
    probabilities = policy(torch.as_tensor(state, dtype=torch.float32).unsqueeze(0))
    distribution = Categorical(probabilities)
    action = distribution.sample()
    return action.item(), distribution.log_prob(action)


def main():
    policy = Policy(4, 2)
    print(select_action(policy, [0.0, 0.1, 0.2, 0.3]))


if __name__ == "__main__":
    main()
