# planted: rule=DL501 framework=pytorch
import argparse

import torch
from torch import nn


def resume(model, optimizer, path):
    checkpoint = torch.load(path, map_location="cpu")  # PRODUCER BUG
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--resume", required=True)
    args = parser.parse_args()
    model = nn.Linear(4, 2)
    optimizer = torch.optim.Adam(model.parameters())
    print("resumed at epoch", resume(model, optimizer, args.resume))


if __name__ == "__main__":
    main()
