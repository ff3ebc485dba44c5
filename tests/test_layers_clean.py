"""Keras 3 code, and code that never touches Keras, get no findings from the layer rules."""

from __future__ import annotations

from kmigrate.catalogue import load_rules
from kmigrate.runner import check_text
from kmigrate.versions import Target

LAYER_CODES = {
    "KM105", "KM106", "KM107", "KM108", "KM109",
    "KM305", "KM306", "KM307", "KM308", "KM309", "KM310", "KM311", "KM312", "KM313", "KM314",
    "KM315", "KM316", "KM317", "KM401", "KM402",
}

KERAS3_PROGRAM = '''
"""A small Keras 3 program: functional CNN+RNN, a Sequential text model, a custom layer."""
import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops, regularizers

keras.utils.set_random_seed(0)


class Gate(layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, inputs, training=None):
        h = inputs * self.w
        if training:
            h = tf.nn.dropout(h, 0.1)
        return tf.concat([tf.nn.relu(h), tf.reduce_mean(h, axis=-1, keepdims=True)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


def conv_block(x, filters):
    y = layers.Conv2D(filters, 3, padding="same")(x)
    y = layers.BatchNormalization()(y)
    return layers.Activation("relu")(y + x)


images = keras.Input(shape=(28, 28, 8))
x = conv_block(images, 8)
x = layers.MaxPooling2D()(x)
x = layers.AveragePooling2D(pool_size=2)(x)
x = layers.LeakyReLU(negative_slope=0.1)(x)
x = layers.ReLU(threshold=0.5)(x)
x = layers.Reshape((7 * 7, 8))(x)
x = layers.LSTM(16, return_sequences=True)(x)
x = layers.GRU(8, recurrent_activation="sigmoid")(x)
x = ops.concatenate([x, ops.mean(x, axis=-1, keepdims=True)], axis=-1)
x = Gate()(x)
outputs = layers.Dense(10, activation="softmax",
                       kernel_regularizer=regularizers.L1L2(l1=1e-5, l2=1e-4))(x)
model = keras.Model(inputs={"images": images}, outputs=[outputs])
for layer in model.layers:
    print(layer.name, layer.output.shape)
print(model.input_shape, model.output_shape)

frames = keras.Input((4, 16, 16, 1))
clips = layers.ConvLSTM2D(4, 3)(frames)
gates = layers.Dense(4, activation="hard_sigmoid")(layers.Flatten()(clips))

text = keras.Sequential([
    keras.Input(shape=(10,)),
    layers.Embedding(1000, 16, mask_zero=True),
    layers.Bidirectional(layers.LSTM(8)),
    layers.Dense(1, activation=keras.activations.relu),
])
text.add(layers.Dense(1))
att = layers.MultiHeadAttention(num_heads=2, key_dim=4)
soft = layers.Softmax(axis=-1)
inp = layers.InputLayer(shape=(3,))
ds = tf.data.Dataset.from_tensor_slices(np.ones((8, 28, 28, 8), "float32")).shuffle(8, seed=0).batch(4)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="sparse_categorical_crossentropy")
'''

TF_ONLY = '''
import numpy as np
import tensorflow as tf

tf.random.set_seed(0)
x = tf.concat([tf.ones((2, 2)), tf.zeros((2, 2))], axis=-1)
y = tf.nn.relu(tf.reduce_sum(x, axis=1))
'''


def _layer_rules():
    return {r.code: r for r in load_rules() if r.code in LAYER_CODES}


def test_every_layer_rule_is_checked_here() -> None:
    assert set(_layer_rules()) == LAYER_CODES


def test_keras3_program_is_clean() -> None:
    diags = check_text(KERAS3_PROGRAM, "clean.py", _layer_rules(), Target())
    assert diags == [], [(d.code, d.span.line, d.message) for d in diags]


def test_tensorflow_only_code_is_clean() -> None:
    diags = check_text(TF_ONLY, "tf_only.py", _layer_rules(), Target())
    assert diags == [], [(d.code, d.span.line, d.message) for d in diags]
