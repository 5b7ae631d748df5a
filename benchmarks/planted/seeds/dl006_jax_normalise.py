# planted: rule=DL006 framework=jax
import jax
import jax.numpy as jnp


def normalise_counts(counts):
    totals = jnp.sum(counts, axis=1)  # PRODUCER
    return counts / totals  # BUG


@jax.jit
def transition_matrix(counts):
    smoothed = counts + 1.0
    return normalise_counts(smoothed)


def main():
    counts = jax.random.poisson(jax.random.PRNGKey(0), 3.0, (8, 8)).astype(jnp.float32)
    print(transition_matrix(counts))


if __name__ == "__main__":
    main()
