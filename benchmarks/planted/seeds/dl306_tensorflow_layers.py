# planted: rule=DL306 framework=keras
import tensorflow as tf


def model_fn(features, labels, mode):
    hidden = tf.compat.v1.layers.dense(features["x"], 256, activation=tf.nn.relu)
    hidden = tf.compat.v1.layers.dropout(hidden, rate=0.4)  # PRODUCER BUG
    logits = tf.compat.v1.layers.dense(hidden, 10)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    optimizer = tf.compat.v1.train.AdamOptimizer(1e-3)
    train_op = optimizer.minimize(loss, global_step=tf.compat.v1.train.get_global_step())
    return tf.estimator.EstimatorSpec(mode=mode, loss=loss, train_op=train_op)


def main():
    estimator = tf.estimator.Estimator(model_fn=model_fn)
    print(estimator)


if __name__ == "__main__":
    main()
