# planted: rule=DL305 framework=pytorch
import torch
import torchvision
from torch import nn


class FeatureExtractor(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = torchvision.models.resnet18()
        self.backbone.fc = nn.Identity()
        self.projection = nn.Linear(512, 128)

    def forward(self, images):
        features = self.backbone.forward(images)  # PRODUCER BUG
        return self.projection(features)


def main():
    extractor = FeatureExtractor()
    extractor.eval()
    with torch.no_grad():
        print(extractor(torch.randn(1, 3, 224, 224)).shape)


if __name__ == "__main__":
    main()
