# planted: rule=DL002 framework=keras
import argparse

from tensorflow import keras
from tensorflow.keras import layers


def build_model(num_classes):
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)  # PRODUCER
    return keras.Model(inputs=inputs, outputs=outputs)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    (x_train, y_train), _ = keras.datasets.mnist.load_data()
    x_train = x_train.astype("float32")[..., None] / 255.0
    model = build_model(10)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),  # BUG
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=128)


if __name__ == "__main__":
    main()
