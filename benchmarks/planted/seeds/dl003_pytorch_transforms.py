# planted: rule=DL003 framework=pytorch
import argparse
import os

import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms


class FolderImages(Dataset):
    def __init__(self, root, labels):
        self.files = sorted(os.listdir(root))
        self.root = root
        self.labels = labels
        self.transform = transforms.Compose([transforms.Resize(32), transforms.ToTensor()])

    def __len__(self):
        return len(self.files)

    def __getitem__(self, index):
        image = Image.open(os.path.join(self.root, self.files[index])).convert("RGB")
        tensor = self.transform(image)  # PRODUCER
        return tensor / 255.0, self.labels[index]  # BUG


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="data")
    args = parser.parse_args()
    dataset = FolderImages(args.data, torch.zeros(1000, dtype=torch.long))
    loader = DataLoader(dataset, batch_size=64, shuffle=True, num_workers=2)
    model = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
    optimizer = torch.optim.Adam(model.parameters())
    for images, labels in loader:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()


if __name__ == "__main__":
    main()
