# planted: rule=DL001 framework=pytorch
import argparse
import glob
import os

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms


class SegmentationDataset(Dataset):
    def __init__(self, root, transform=None):
        self.images = glob.glob(os.path.join(root, "images", "*.png"))  # PRODUCER
        self.masks = sorted(glob.glob(os.path.join(root, "masks", "*.png")))
        self.pairs = list(zip(self.images, self.masks))  # BUG
        self.transform = transform

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, index):
        image_path, mask_path = self.pairs[index]
        image = Image.open(image_path).convert("RGB")
        mask = torch.as_tensor(list(Image.open(mask_path).getdata()))
        if self.transform is not None:
            image = self.transform(image)
        return image, mask


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default="data")
    args = parser.parse_args()
    dataset = SegmentationDataset(args.root, transforms.ToTensor())
    loader = DataLoader(dataset, batch_size=8, shuffle=True)
    for images, masks in loader:
        print(images.shape, masks.shape)


if __name__ == "__main__":
    main()
