"""Framework knowledge tables (Keras, TensorFlow, JAX), merged into `catalog`."""
