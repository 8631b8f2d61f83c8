"""The baselines' three-convolutional-layer classifier with K + 1 outputs (K classes + non-iD)."""
from torch import nn


class ThreeConvNet(nn.Module):
    """(B, 1, 28, 28) -> logits (B, num_outputs). Width doubles per conv layer."""

    def __init__(self, num_outputs: int = 11, width: int = 32, dropout: float = 0.0):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),          # 14x14
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),      # 7x7
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 3x3
            nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(4 * w * 9, num_outputs))

    def forward(self, x):
        return self.head(self.features(x))
