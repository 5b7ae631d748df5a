# planted: rule=DL107 framework=pytorch
import argparse

import torch
import torchvision
from torch import nn


def build(num_classes, lr):
    model = torchvision.models.resnet18(weights="DEFAULT")
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.fc = nn.Linear(model.fc.in_features, num_classes)  # PRODUCER BUG
    return model, optimizer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--classes", type=int, default=5)
    args = parser.parse_args()
    model, optimizer = build(args.classes, 0.001)
    images, labels = torch.randn(4, 3, 224, 224), torch.randint(0, args.classes, (4,))
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(images), labels).backward()
    optimizer.step()


if __name__ == "__main__":
    main()
