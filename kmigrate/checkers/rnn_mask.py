"""An RNN called with ``initial_state=`` runs without the implicit mask (catalogue 62).

Keras 3's ``Layer.__call__`` fills in ``mask`` from the input only when the call has exactly one
tensor argument. With ``initial_state`` the RNN runs over the padding. That changes what the
user sees only when padded steps feed real outputs: a ``Bidirectional`` layer (its backward
direction reads the padding first), ``go_backwards=True``, the last output of an RNN without
``return_sequences``, or the returned states. A forward RNN with ``return_sequences=True`` and no
``return_state`` keeps its real-step outputs (only padded steps differ, and the mask still
travels on to the loss), so it is not flagged.
"""

from __future__ import annotations

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.checkers._append import append_arg
from kmigrate.checkers.masked_metrics import MASK_SOURCE_WORDS, names_mask_source
from kmigrate.engine import Checker, FixSpec, NodeEdit
from kmigrate.graph import RNN_STATES, Layer, LayerCall, graph_of

KM_RNN_MASK = "KM126"


def _consequence(layer: Layer) -> str | None:
    """What changes at real steps when this RNN runs unmasked; None when nothing visible does."""
    inner = layer.inner if layer.cls == "Bidirectional" else layer
    if inner is None or inner.cls not in RNN_STATES:
        return None
    if layer.cls == "Bidirectional":
        return "its backward direction reads the padding first, so the outputs at real steps change"
    if inner.flag("go_backwards") is True:
        return "with `go_backwards=True` it reads the padding first, so the outputs at real steps change"
    if inner.flag("return_sequences") is False:
        return "its output is the state after the padded steps, not after the last real token"
    if inner.flag("return_state") is True:
        return "the returned states are the states after the padded steps, not after the last real token"
    return None


class RnnMaskChecker(Checker):
    # The graph is only built where a mask source is named (rarer than the RNN class names;
    # ``initial_state`` itself may be passed by position).
    needles = MASK_SOURCE_WORDS

    def visit_Module(self, node: cst.Module) -> None:
        if not self.ctx.enabled(KM_RNN_MASK) or not self.ctx.names.imports_keras:
            return
        if not self.ctx.mentions("initial_state") or not names_mask_source(self.ctx):
            return
        for call in graph_of(self.ctx).layer_calls:
            self._check(call)

    def _check(self, lc: LayerCall) -> None:
        call = lc.call
        state = _calls.argument(call, "initial_state", 1)
        given = _calls.keyword(call, "mask")
        # ``mask=None`` is what Keras 3 uses anyway: still unmasked, but not ours to append to.
        explicit_none = given is not None and isinstance(given.value, cst.Name) and given.value.value == "None"
        if state is None or not lc.masks or (given is not None and not explicit_none):
            return
        if _calls.has_double_star(call):
            return
        consequence = _consequence(lc.layer)
        if consequence is None:
            return
        name = f"`{lc.layer.cls}`"
        message = (
            f"{name} called with `initial_state=` does not receive the input's mask in Keras 3 and "
            f"runs over the padding: {consequence}"
        )
        fix = None
        if lc.mask_text is not None and not explicit_none:
            fix = FixSpec(
                f"Pass the mask explicitly: `mask={lc.mask_text}`",
                (NodeEdit(call, append_arg(call, "mask", lc.mask_text)),),
            )
        self.ctx.report(KM_RNN_MASK, call, message, fix)
