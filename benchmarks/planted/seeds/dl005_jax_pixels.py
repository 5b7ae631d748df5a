# planted: rule=DL005 framework=jax
import argparse

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image


def load_batch(paths):
    return np.stack([np.asarray(Image.open(path).convert("RGB")) for path in paths])


@jax.jit
def brightness_jitter(images, key):
    return jnp.clip(images + jax.random.uniform(key, images.shape[:1])[:, None, None, None], 0, 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("images", nargs="+")
    args = parser.parse_args()
    pixels = jnp.asarray(load_batch(args.images))  # PRODUCER
    centred = pixels - 128  # BUG
    print(brightness_jitter(centred, jax.random.PRNGKey(0)).shape)


if __name__ == "__main__":
    main()
