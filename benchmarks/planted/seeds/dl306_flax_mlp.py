# planted: rule=DL306 framework=jax
import jax
import jax.numpy as jnp
import optax
from flax import linen as nn
from flax.training import train_state


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(256)(x))
        x = nn.Dropout(0.5, deterministic=True)(x)  # PRODUCER BUG
        return nn.Dense(10)(x)


def train_step(state, batch, rng):
    def loss_fn(params):
        logits = state.apply_fn({"params": params}, batch["x"], rngs={"dropout": rng})
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
    grads = jax.grad(loss_fn)(state.params)
    return state.apply_gradients(grads=grads)


def main():
    model = MLP()
    params = model.init(jax.random.PRNGKey(0), jnp.ones((1, 32)))["params"]
    state = train_state.TrainState.create(apply_fn=model.apply, params=params, tx=optax.sgd(0.1))
    batch = {"x": jnp.ones((8, 32)), "y": jnp.zeros((8,), jnp.int32)}
    state = train_step(state, batch, jax.random.PRNGKey(1))


if __name__ == "__main__":
    main()
