"""The mask dataflow of kmigrate.graph, on small modules."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from kmigrate.graph import Graph, Layer, MaskSource, Model, Seq, Tensor, masks_of
from kmigrate.names import Names

HEAD = "import tensorflow as tf\nfrom tensorflow import keras\nfrom tensorflow.keras import layers\n"


def build(body: str) -> Graph:
    module = cst.parse_module(HEAD + textwrap.dedent(body))
    return Graph(module, Names(module))


def only_model(graph: Graph) -> Model:
    assert len(graph.models) == 1, graph.models
    return graph.models[0]


def kinds(sources: frozenset[MaskSource]) -> set[tuple[str, str | None]]:
    return {(s.kind, s.applied_to) for s in sources}


def test_embedding_mask_reaches_the_output_through_lstm_and_dense() -> None:
    graph = build("""
        ids = keras.Input(shape=(None,), dtype="int32")
        x = layers.Embedding(100, 8, mask_zero=True)(ids)
        x = layers.LSTM(8, return_sequences=True)(x)
        out = layers.Dense(100, activation="softmax")(x)
        model = keras.Model(ids, out)
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(X, Y)
    """)
    model = only_model(graph)
    assert kinds(model.masks) == {("embedding", "ids")}
    assert {s.pad for s in model.masks} == {0}
    assert [u.method for u in model.uses] == ["compile", "fit"]
    assert model.bindings == {"model"} and not model.escaped


@pytest.mark.parametrize(
    "middle",
    [
        "x = layers.GRU(64)(x)",
        "x = layers.LSTM(8, return_sequences=False)(x)",
        "x = layers.Lambda(lambda t: t * 2)(x)",
        "x = tf.reduce_mean(x, axis=1, keepdims=True)",
        "x = x * 2.0",
        "x = layers.GlobalAveragePooling1D()(x)",
        "x = layers.Conv1D(4, 3)(x)",
        "x = layers.Bidirectional(layers.GRU(4))(x)",
        "x = MyCustomLayer()(x)",
        "x = layers.LSTM(8, return_sequences=flag)(x)",
    ],
)
def test_layers_that_consume_or_drop_the_mask(middle: str) -> None:
    graph = build(f"""
        ids = keras.Input(shape=(None,), dtype="int32")
        x = layers.Embedding(100, 8, mask_zero=True)(ids)
        {middle}
        model = keras.Model(ids, layers.Dense(1)(x))
    """)
    assert only_model(graph).masks == frozenset()


@pytest.mark.parametrize(
    "middle",
    [
        "x = layers.Dropout(0.2)(x)",
        "x = layers.TimeDistributed(layers.Dense(4))(x)",
        "x = layers.Bidirectional(layers.LSTM(4, return_sequences=True))(x)",
        "x = layers.LayerNormalization()(layers.Activation('relu')(x))",
        "x = layers.Attention()([x, other])",
        "x = layers.MultiHeadAttention(2, 4)(x, other)",
        "x = layers.Concatenate()([other, x])",
        "x = layers.add([x, other])",
        "x = tf.keras.layers.SimpleRNN(4, return_sequences=True)(x)",
    ],
)
def test_layers_that_keep_the_mask(middle: str) -> None:
    graph = build(f"""
        ids = keras.Input(shape=(None,), dtype="int32")
        other = keras.Input(shape=(None, 8))
        x = layers.Embedding(100, 8, mask_zero=True)(ids)
        {middle}
        model = keras.Model([ids, other], layers.Dense(1)(x))
    """)
    assert kinds(only_model(graph).masks) == {("embedding", "ids")}


def test_attention_keeps_the_query_mask_not_the_value_mask() -> None:
    graph = build("""
        q_ids = keras.Input(shape=(None,), dtype="int32")
        v_ids = keras.Input(shape=(None,), dtype="int32")
        q = layers.Embedding(100, 8)(q_ids)
        v = layers.Embedding(100, 8, mask_zero=True)(v_ids)
        model = keras.Model([q_ids, v_ids], layers.Attention()([q, v]))
    """)
    assert only_model(graph).masks == frozenset()


def test_no_mask_without_mask_zero_and_masking_layer_source() -> None:
    graph = build("""
        ids = keras.Input(shape=(None,), dtype="int32")
        a = layers.LSTM(4, return_sequences=True)(layers.Embedding(10, 4)(ids))
        frames = keras.Input(shape=(None, 3))
        b = layers.GRU(4, return_sequences=True)(layers.Masking(mask_value=-1.0)(frames))
        m1 = keras.Model(ids, a)
        m2 = keras.Model(frames, b)
    """)
    m1, m2 = graph.models
    assert m1.masks == frozenset()
    assert {(s.kind, s.pad) for s in m2.masks} == {("masking", -1.0)}


def test_layer_instances_bound_to_names_record_their_calls() -> None:
    graph = build("""
        ids = keras.Input(shape=(None,), dtype="int32")
        emb = layers.Embedding(100, 8, mask_zero=True)
        rnn = layers.LSTM(8, return_sequences=True)
        x = emb(ids)
        y = rnn(x)
        z = rnn(y)
        model = keras.Model(ids, z)
    """)
    rnn = next(layer for layer in graph.layers if layer.cls == "LSTM")
    assert rnn.binding == "rnn" and len(rnn.calls) == 2 and not rnn.escaped
    assert kinds(only_model(graph).masks) == {("embedding", "ids")}
    calls = [lc for lc in graph.layer_calls if lc.layer is rnn]
    assert [lc.mask_text for lc in calls] == ["emb.compute_mask(ids)"] * 2


def test_return_state_unpacking() -> None:
    graph = build("""
        ids = keras.Input(shape=(None,), dtype="int32")
        x = layers.Embedding(100, 8, mask_zero=True)(ids)
        out, h, c = layers.LSTM(8, return_sequences=True, return_state=True)(x)
        enc_out, *enc_state = layers.LSTM(8, return_state=True)(x)
        gru_out, gru_h = layers.GRU(8, return_sequences=True, return_state=True)(x)
        m_out = keras.Model(ids, out)
        m_h = keras.Model(ids, h)
        m_state = keras.Model(ids, enc_state)
        m_enc = keras.Model(ids, enc_out)
        m_gru = keras.Model(ids, [gru_out, gru_h])
    """)
    m_out, m_h, m_state, m_enc, m_gru = graph.models
    assert kinds(m_out.masks) == {("embedding", "ids")}
    assert m_h.masks == m_enc.masks == frozenset()
    assert m_state.outputs is not None and len(m_state.outputs) == 2 and m_state.masks == frozenset()
    assert m_gru.outputs is not None and [bool(masks_of(o)) for o in m_gru.outputs] == [True, False]


def test_sequential_list_and_add() -> None:
    graph = build("""
        tagger = keras.Sequential([
            layers.Embedding(100, 8, mask_zero=True),
            layers.LSTM(8, return_sequences=True),
            layers.Dense(5),
        ])
        stacked = tf.keras.models.Sequential()
        stacked.add(layers.Embedding(100, 8, mask_zero=True))
        stacked.add(layers.GRU(4))
        stacked.add(layers.Dense(1))
        with_input = keras.Sequential([keras.Input(shape=(None,)), layers.Masking(), layers.Dense(2)])
    """)
    tagger, stacked, with_input = graph.models
    assert {s.kind for s in tagger.masks} == {"embedding"} and tagger.kind == "sequential"
    assert stacked.masks == frozenset()
    assert [u.method for u in stacked.uses] == ["add", "add", "add"]
    assert {s.kind for s in with_input.masks} == {"masking"}


def test_builder_function_model_is_followed_to_its_callers() -> None:
    graph = build("""
        def build_model(vocab):
            ids = keras.Input(shape=(None,), dtype="int32")
            x = layers.Embedding(vocab, 8, mask_zero=True)(ids)
            return keras.Model(ids, layers.Dense(vocab)(layers.LSTM(8, return_sequences=True)(x)))

        def main():
            model = build_model(100)
            model.compile(loss="mse", metrics=["mae"])
            model.fit(X, Y)

        if __name__ == "__main__":
            main()
    """)
    model = only_model(graph)
    assert model.masks and [u.method for u in model.uses] == ["compile", "fit"]
    assert model.bindings == {"model"} and not model.escaped


def test_models_and_layers_escape_when_used_out_of_sight() -> None:
    graph = build("""
        model = keras.Model(a, b)
        train(model)
        att = layers.Attention()
        blocks = [att]
        kept = layers.Attention()
        y = kept([q, v])
        read = layers.Attention()
        read.trainable = False
    """)
    assert only_model(graph).escaped
    looked_at = build("""
        model = keras.Model(a, b)
        print(model)
        keras.utils.plot_model(model, "model.png")
        model.summary()
    """)
    assert not only_model(looked_at).escaped
    escaped = {layer.binding: layer.escaped for layer in graph.layers}
    assert escaped == {"att": True, "kept": False, "read": True}


def test_a_layer_name_rebound_in_the_same_scope_is_not_attributed() -> None:
    graph = build("""
        att = layers.Attention()
        if flag:
            att = layers.Attention(use_scale=True)
        y = att([q, v])
    """)
    assert [layer.escaped for layer in graph.layers] == [True, True]
    graph = build("""
        def make(att=None):
            if att is None:
                att = layers.Attention()
            return att([q, v])
    """)
    assert graph.layers[0].escaped


def test_names_complete_needs_every_read_resolved() -> None:
    graph = build("""
        def later(x):
            return att([x, x])

        att = layers.Attention()
        y = att([q, v])
    """)
    att = graph.layers[0]
    assert len(att.calls) == 2  # the function body is walked with the module's final bindings
    assert graph.names_complete({"att"})
    graph = build("""
        def rebind():
            global att
            att = None

        att = layers.Attention()
    """)
    assert not graph.names_complete({"att"})


def test_self_attributes_inside_a_class() -> None:
    graph = build("""
        class Block(keras.layers.Layer):
            def call(self, x):
                return self.att([x, x])

            def __init__(self):
                super().__init__()
                self.att = layers.Attention()
    """)
    att = graph.layers[0]
    assert att.binding == "self.att" and len(att.calls) == 1 and not att.escaped
    assert graph.attr_complete("att")
    outside = build("""
        class Block(keras.layers.Layer):
            def __init__(self):
                self.att = layers.Attention()

        block = Block()
        block.att([q, v])
    """)
    assert not outside.attr_complete("att")
    inherited = build("""
        class Base(keras.layers.Layer):
            def __init__(self):
                self.att = layers.Attention()

        class Child(Base):
            def call(self, x):
                return self.att([x, x])
    """)
    assert not inherited.attr_complete("att")


def test_explicit_mask_argument() -> None:
    graph = build("""
        ids = keras.Input(shape=(None,), dtype="int32")
        emb_layer = layers.Embedding(100, 8, mask_zero=True)
        x = emb_layer(ids)
        y = layers.LSTM(8, return_sequences=True)(x, initial_state=s, mask=emb_layer.compute_mask(ids))
        z = layers.GRU(8, return_sequences=True)(layers.Dense(8)(ids), mask=some_mask)
        m1 = keras.Model(ids, y)
        m2 = keras.Model(ids, z)
    """)
    m1, m2 = graph.models
    assert kinds(m1.masks) == {("embedding", "ids")}
    assert {s.kind for s in m2.masks} == {"explicit"}


def test_mask_is_not_spelled_when_a_name_was_rebound() -> None:
    graph = build("""
        ids = keras.Input(shape=(None,), dtype="int32")
        emb = layers.Embedding(100, 8, mask_zero=True)
        x = emb(ids)
        ids = keras.Input(shape=(None,), dtype="int32")
        y = layers.GRU(8)(x, initial_state=s)
    """)
    gru = next(lc for lc in graph.layer_calls if lc.layer.cls == "GRU")
    assert gru.masks and gru.mask_text is None


def test_dict_and_unknown_outputs() -> None:
    graph = build("""
        inp = keras.Input(shape=(4,))
        a = layers.Dense(1, name="a")(inp)
        named = keras.Model(inp, {"a": a, "b": layers.Dense(1)(inp)})
        unknown = keras.Model(inp, heads(inp))
        listed = keras.Model(inputs=[inp], outputs=[a, make(inp), a])
    """)
    named, unknown, listed = graph.models
    assert named.output_keys == ("a", "b") and named.outputs is not None and len(named.outputs) == 2
    assert unknown.outputs is None
    assert listed.outputs is not None and len(listed.outputs) == 3


def test_non_keras_names_are_not_layers() -> None:
    graph = build("""
        from mylib import Embedding, Model
        x = Embedding(10, 4, mask_zero=True)(ids)
        m = Model(ids, x)
        import torch
        rnn = torch.nn.LSTM(4, 4)
    """)
    assert graph.models == [] and graph.layers == []


def test_values_are_plain_data() -> None:
    t = Tensor()
    assert masks_of(Seq((t, Tensor(frozenset({MaskSource("explicit")}))))) == {MaskSource("explicit")}
    assert isinstance(Layer("Dense", cst.parse_expression("f()")), Layer)  # type: ignore[arg-type]
