# planted: rule=DL006 framework=keras
import argparse

import numpy as np
import tensorflow as tf


def standardise(features):
    means = tf.reduce_mean(features, axis=1)  # PRODUCER
    centred = features - means  # BUG
    return centred / (tf.math.reduce_std(features, axis=1, keepdims=True) + 1e-6)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=32)
    args = parser.parse_args()
    features = tf.constant(np.random.rand(args.rows, 16), dtype=tf.float32)
    model = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu"),
                                 tf.keras.layers.Dense(1)])
    print(model(standardise(features)).shape)


if __name__ == "__main__":
    main()
