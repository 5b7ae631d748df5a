# planted: rule=DL005 framework=keras
import argparse

from tensorflow import keras
from tensorflow.keras import layers


def build_model():
    model = keras.Sequential([
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10),
    ])
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()  # PRODUCER
    model = build_model()
    model.fit(x_train, y_train, epochs=args.epochs)  # BUG


if __name__ == "__main__":
    main()
