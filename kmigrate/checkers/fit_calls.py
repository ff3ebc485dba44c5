"""`compile`/`fit`/`*_on_batch` signature removals (catalogue 47, 54).

Keras 3 moved the data-loading knobs (`workers`, `use_multiprocessing`, `max_queue_size`) from
`fit`/`evaluate`/`predict` to the `PyDataset` constructor: a `fit(workers=...)` moves them into
the module's own `Sequence(...)` call when that constructor forwards `**kwargs`.
"""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.checkers._nodes import statements
from kmigrate.checkers._sequences import SequenceClass, sequence_classes, super_init_fixable
from kmigrate.checkers._train import method_name
from kmigrate.engine import Checker, FixSpec, NodeEdit

KM_GENERATOR, KM_COMPILE, KM_WORKERS, KM_RESET = "KM350", "KM351", "KM352", "KM353"
KM_SUPER = "KM355"  # sequence_init.py
WORKER_ARGS = ("workers", "use_multiprocessing", "max_queue_size")
# Keras 2 positional parameters of the generator methods (tf_keras Model.*_generator).
GENERATOR_PARAMS = {
    "fit_generator": ("x", "steps_per_epoch", "epochs", "verbose", "callbacks", "validation_data",
                      "validation_steps", "validation_freq", "class_weight", "max_queue_size",
                      "workers", "use_multiprocessing", "shuffle", "initial_epoch"),
    "evaluate_generator": ("x", "steps", "callbacks", "max_queue_size", "workers",
                           "use_multiprocessing", "verbose"),
    "predict_generator": ("x", "steps", "callbacks", "max_queue_size", "workers",
                          "use_multiprocessing", "verbose"),
}  # fmt: skip


_EQUAL = cst.AssignEqual(
    whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
)


class FitCallsChecker(Checker):
    # Every finding is a `*_generator` method or a removed keyword, both spelled at the call.
    needles: ClassVar[frozenset[str]] = frozenset(
        {*GENERATOR_PARAMS, *WORKER_ARGS, "sample_weight_mode", "target_tensors", "reset_metrics"}
    )

    _sequences: dict[str, SequenceClass] | None = None
    _instances: dict[str, str] | None = None

    # ------------------------------------------------------------ module facts
    def _scan(self) -> dict[str, SequenceClass]:
        if self._sequences is None:
            self._sequences = sequence_classes(self.ctx)
            self._instances = self._sequence_instances(self._sequences)
        return self._sequences

    def _sequence_instances(self, sequences: dict[str, SequenceClass]) -> dict[str, str]:
        """Names bound exactly once, to ``LocalSequence(...)``."""
        counts: dict[str, list[str | None]] = {}
        for node in statements(self.ctx.module):
            if type(node) is not cst.Assign:
                continue
            for t in node.targets:
                if isinstance(t.target, cst.Name):
                    v = node.value
                    cls = (
                        v.func.value
                        if isinstance(v, cst.Call) and isinstance(v.func, cst.Name)
                        and v.func.value in sequences
                        else None
                    )
                    counts.setdefault(t.target.value, []).append(cls)
        return {n: c[0] for n, c in counts.items() if len(c) == 1 and c[0] is not None}

    # ------------------------------------------------------------ calls
    def visit_Call(self, node: cst.Call) -> None:
        method = method_name(node)
        if method is None or not self.ctx.names.imports_keras:
            return
        if method in GENERATOR_PARAMS:
            self._generator(node, method)
        if method in ("fit", "evaluate", "predict") or method in GENERATOR_PARAMS:
            self._workers(node, method)
        elif method == "compile":
            self._compile(node)
        elif method in ("train_on_batch", "test_on_batch"):
            self._reset_metrics(node, method)

    def _generator(self, node: cst.Call, method: str) -> None:
        if _calls.has_star(node):
            fix = None
        else:
            params = GENERATOR_PARAMS[method]
            args: list[cst.Arg] = []
            index = 0
            for arg in node.args:
                if arg.keyword is None:
                    if index > 0:
                        arg = arg.with_changes(keyword=cst.Name(params[index]), equal=_EQUAL)
                    index += 1
                elif arg.keyword.value == "generator":
                    arg = arg.with_changes(keyword=cst.Name("x"))
                args.append(arg)
            new_method = method[: -len("_generator")]
            call = _calls.with_args(node, args)
            func = node.func.with_changes(attr=cst.Name(new_method))  # type: ignore[attr-defined]
            call = call.with_changes(func=func)
            if new_method != "fit" and _calls.keyword(call, "verbose") is None:
                call = _calls.append(call, "verbose", "0")  # the *_generator default
            fix = FixSpec(f"Call `{new_method}()` with the same arguments", (NodeEdit(node, call),))
        self.ctx.report(
            KM_GENERATOR,
            node.func,
            f"`{method}()` does not exist in Keras 3 (`AttributeError`): "
            f"`{method[: -len('_generator')]}()` takes generators and `Sequence`s directly",
            fix,
        )

    def _workers(self, node: cst.Call, method: str) -> None:
        present = [a for a in node.args if a.keyword is not None and a.keyword.value in WORKER_ARGS]
        if not present:
            return
        receiver = node.func.value  # type: ignore[attr-defined]
        bound = self.ctx.names.instance_of(receiver) if isinstance(receiver, cst.Name) else None
        if bound is not None and not bound.startswith("keras."):
            return
        names = ", ".join(f"`{a.keyword.value}=`" for a in present)  # type: ignore[union-attr]
        edits: tuple[NodeEdit, ...] = (NodeEdit(node, _calls.remove(node, *WORKER_ARGS)),)
        title = f"Drop {names} (they only affect loading speed)"
        target = self._dataset_constructor(node)
        if target is not None:
            new_ctor = target
            for a in present:
                name = a.keyword.value  # type: ignore[union-attr]
                if _calls.keyword(target, name) is None:  # the constructor's own value wins
                    new_ctor = _calls.append(new_ctor, name, a.value)
            if _contains(node, target):
                inner = node.deep_replace(target, new_ctor)
                new_call = _calls.remove(inner, *WORKER_ARGS)  # type: ignore[arg-type]
                edits = (NodeEdit(node, new_call),)
            else:
                edits = (*edits, NodeEdit(target, new_ctor))
            title = f"Pass {names} to the `PyDataset` constructor"
        self.ctx.report(
            KM_WORKERS,
            present[0],
            f"`{method.replace('_generator', '')}()` raises `TypeError` on {names} in Keras 3: "
            "data-loading settings belong "
            "to the `PyDataset` (`Sequence`) constructor",
            FixSpec(title, edits),
        )

    def _dataset_constructor(self, node: cst.Call) -> cst.Call | None:
        """The ``LocalSequence(...)`` call that builds ``x``, if it forwards ``**kwargs``."""
        sequences = self._scan()
        arg = _calls.argument(node, "x", 0) or _calls.keyword(node, "generator")
        if arg is None:
            return None
        value = arg.value
        if isinstance(value, cst.Name) and self._instances and value.value in self._instances:
            ctor = self._find_constructor(value.value)
        elif isinstance(value, cst.Call) and isinstance(value.func, cst.Name):
            ctor = value
        else:
            return None
        if ctor is None or not isinstance(ctor.func, cst.Name):
            return None
        seq = sequences.get(ctor.func.value)
        if seq is None or _calls.has_double_star(ctor) or not self._forwards(seq):
            return None
        return ctor

    def _forwards(self, seq: SequenceClass) -> bool:
        """The constructor passes ``**kwargs`` on, or KM355's fix makes it do so in this pass."""
        return seq.forwards_kwargs or (self.ctx.enabled(KM_SUPER) and super_init_fixable(seq))

    def _find_constructor(self, name: str) -> cst.Call | None:
        for stmt in self.ctx.module.body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign) and any(
                        isinstance(t.target, cst.Name) and t.target.value == name for t in small.targets
                    ):
                        return small.value if isinstance(small.value, cst.Call) else None
        return None  # bound inside a function: too far to edit safely

    def _compile(self, node: cst.Call) -> None:
        mode = _calls.keyword(node, "sample_weight_mode")
        if mode is not None:
            self.ctx.report(
                KM_COMPILE,
                mode,
                "`compile()` raises `TypeError` on `sample_weight_mode=` in Keras 3 (temporal "
                "sample weights work without it)",
                FixSpec(
                    "Drop `sample_weight_mode=`",
                    (NodeEdit(node, _calls.remove(node, "sample_weight_mode")),),
                ),
            )
        tensors = _calls.keyword(node, "target_tensors")
        if tensors is not None:
            self.ctx.report(
                KM_COMPILE,
                tensors,
                "`compile()` raises `TypeError` on `target_tensors=` in Keras 3: pass the targets "
                "to `fit()` (or a dataset) instead",
            )

    def _reset_metrics(self, node: cst.Call, method: str) -> None:
        arg = _calls.keyword(node, "reset_metrics")
        if arg is None:
            return
        literal = self.ctx.code_for(arg.value).strip()
        fix = None
        message = f"`{method}()` raises `TypeError` on `reset_metrics=` in Keras 3"
        if literal == "True":
            fix = FixSpec(
                "Drop `reset_metrics=True` (Keras 3 always resets)",
                (NodeEdit(node, _calls.remove(node, "reset_metrics")),),
            )
            message += ", which always resets the metrics on each call (Keras 2's default)"
        else:
            message += (
                ", which always resets the metrics on each call: accumulate the returned "
                "values yourself"
            )
        self.ctx.report(KM_RESET, arg, message, fix)


def _contains(outer: cst.CSTNode, inner: cst.CSTNode) -> bool:
    found = [False]

    class Finder(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if node is inner:
                found[0] = True
            return not found[0]

    outer.visit(Finder())
    return found[0]
