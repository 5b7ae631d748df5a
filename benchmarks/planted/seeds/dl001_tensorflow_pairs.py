# planted: rule=DL001 framework=keras
import argparse

import tensorflow as tf


def load_pair(image_path, mask_path):
    image = tf.io.decode_png(tf.io.read_file(image_path), channels=3)
    mask = tf.io.decode_png(tf.io.read_file(mask_path), channels=1)
    return tf.image.convert_image_dtype(image, tf.float32), mask


def build_dataset(root, batch_size):
    images = tf.io.gfile.glob(root + "/images/*.png")  # PRODUCER
    masks = sorted(tf.io.gfile.glob(root + "/masks/*.png"))
    dataset = tf.data.Dataset.from_tensor_slices((images, masks))  # BUG
    return dataset.map(load_pair).shuffle(256).batch(batch_size)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default="data")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    for images, masks in build_dataset(args.root, args.batch_size).take(1):
        print(images.shape, masks.shape)


if __name__ == "__main__":
    main()
