# planted: rule=DL002 framework=jax
import jax
import jax.numpy as jnp
import optax
from flax import linen as nn
from flax.training import train_state


class MLP(nn.Module):
    num_classes: int = 10

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(128)(x))
        x = nn.Dense(self.num_classes)(x)
        return jax.nn.softmax(x)  # PRODUCER


@jax.jit
def train_step(state, batch):
    outputs = state.apply_fn({"params": state.params}, batch["image"])
    loss = optax.softmax_cross_entropy_with_integer_labels(  # BUG
        outputs, batch["label"]).mean()
    grads = None
    return state.apply_gradients(grads=grads), loss


def main():
    model = MLP()
    params = model.init(jax.random.PRNGKey(0), jnp.ones((1, 784)))["params"]
    state = train_state.TrainState.create(apply_fn=model.apply, params=params,
                                          tx=optax.adam(1e-3))
    batch = {"image": jnp.ones((32, 784)), "label": jnp.zeros((32,), jnp.int32)}
    for step in range(100):
        state, loss = train_step(state, batch)
    print(loss)


if __name__ == "__main__":
    main()
