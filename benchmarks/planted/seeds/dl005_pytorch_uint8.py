# planted: rule=DL005 framework=pytorch
import argparse

import cv2
import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(torch.flatten(self.body(x), 1))


def predict(model, path):
    frame = cv2.resize(cv2.imread(path), (64, 64))
    batch = torch.from_numpy(frame).permute(2, 0, 1)[None]  # PRODUCER
    with torch.no_grad():
        return model(batch)  # BUG


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("image")
    args = parser.parse_args()
    model = SmallCNN()
    model.eval()
    print(predict(model, args.image))


if __name__ == "__main__":
    main()
