"""Saving and loading (catalogue 17, 18, 19, 31, 51, 58): KM251-KM255, KM370, KM409.

File names decide the format in Keras 3, so most findings read a path literal (a string, an
f-string, or the last argument of ``os.path.join``). A path held in a variable is not guessed
at. Findings that depend on the whole module (a file both written and read here, a model
class that is saved somewhere in the module) are decided in ``leave_Module``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, cast

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.diagnostics import Safety
from kmigrate.engine import Checker, FixSpec, NodeEdit

KM_SAVE, KM_LOAD, KM_WEIGHTS, KM_K2_FILE, KM_CONFIG = "KM251", "KM252", "KM253", "KM254", "KM255"
KM_CHECKPOINT, KM_YAML = "KM370", "KM409"
MODEL_EXTS = (".keras", ".h5", ".hdf5")
MODEL_CLASSES = {"keras.Model", "keras.Sequential", "keras.models.Model", "keras.models.Sequential"}
MODEL_WORDS = {"net", "network", "autoencoder", "encoder", "decoder", "generator", "discriminator",
               "classifier", "regressor", "critic", "actor", "vae", "gan", "unet", "transformer"}


@dataclass(frozen=True)
class Path:
    """A path literal: the string node to edit, and its text without quotes (tail only)."""

    node: cst.BaseExpression
    tail: str

    def has(self, *exts: str) -> bool:
        return self.tail.lower().endswith(exts)


@dataclass
class _Pending:
    weights_saved: dict[str, str] = field(default_factory=dict)  # literal -> new literal
    models_saved: dict[str, str] = field(default_factory=dict)  # literal -> new literal
    written: set[str] = field(default_factory=set)  # every path this module writes (save, save_weights, checkpoint)
    loads: list[tuple[str, cst.Call, Path]] = field(default_factory=list)
    model_classes: list[cst.ClassDef] = field(default_factory=list)
    saves_models: bool = False
    writes_json: bool = False


def _quoted_end(code: str) -> int:
    for quote in ('"""', "'''", '"', "'"):
        if code.endswith(quote):
            return len(code) - len(quote)
    return len(code)


def _with_tail(module: cst.Module, path: Path, old_ext: str, new_ext: str) -> str:
    """The literal's code with ``old_ext`` at its end replaced by ``new_ext``."""
    code = module.code_for_node(path.node)
    end = _quoted_end(code)
    return code[: end - len(old_ext)] + new_ext + code[end:]


class SavingChecker(Checker):
    # Each finding starts from one of these calls (functions by their last name component,
    # methods by their attribute); KM255 also needs a save (`save`, `save_model`, `ModelCheckpoint`).
    needles: ClassVar[frozenset[str]] = frozenset({
        "save_model", "save", "load_model", "model_from_json", "ModelCheckpoint", "save_weights",
        "load_weights", "to_yaml",
    })

    def __init__(self, ctx) -> None:  # type: ignore[no-untyped-def]
        super().__init__(ctx)
        self.pending = _Pending()

    # ------------------------------------------------------------ helpers
    def _path(self, expr: cst.BaseExpression | None) -> Path | None:
        if isinstance(expr, cst.SimpleString):
            value = _calls.string_value(expr)
            return Path(expr, value) if value is not None and "\\" not in expr.value else None
        if isinstance(expr, cst.FormattedString) and expr.parts:
            last = expr.parts[-1]
            tail = last.value if isinstance(last, cst.FormattedStringText) else ""
            return Path(expr, tail)
        if isinstance(expr, cst.Call) and self.ctx.names.resolve(expr.func) == "os.path.join" and expr.args:
            return self._path(expr.args[-1].value)
        return None

    def _model_like(self, expr: cst.BaseExpression) -> bool:
        if self.ctx.names.instance_of(expr) in MODEL_CLASSES:
            return True
        resolved = self.ctx.names.resolve(expr)
        if resolved is not None:
            return False  # a module or an imported function: np.save, torch.save, joblib, ...
        last = expr.attr.value if isinstance(expr, cst.Attribute) else getattr(expr, "value", "")
        return isinstance(last, str) and ("model" in last.lower() or last.lower() in MODEL_WORDS)

    def _swap(self, call: cst.Call, path: Path, new: str) -> cst.Call:
        """``call`` with the path literal (possibly inside ``os.path.join``) replaced by ``new``."""
        return cast(cst.Call, call.deep_replace(path.node, cst.parse_expression(new)))

    def _literal_key(self, path: Path) -> str | None:
        """The same file for two literals: a string by its value (either quote), an f-string by its code."""
        if isinstance(path.node, cst.SimpleString):
            return "=" + path.tail
        return self.ctx.code_for(path.node) if isinstance(path.node, cst.FormattedString) else None

    def _written(self, expr: cst.BaseExpression | None) -> None:
        """Remember a path this module writes: a literal by its key, a variable by its code."""
        path = self._path(expr) if expr is not None else None
        key = self._literal_key(path) if path is not None else None
        if key is None and isinstance(expr, (cst.Name, cst.Attribute)):
            key = "$" + self.ctx.code_for(expr)
        if key is not None:
            self.pending.written.add(key)

    def _written_here(self, node: cst.Call, path: Path) -> bool:
        """Whether the module itself writes the file ``node`` loads (then Keras 3 wrote it)."""
        key = self._literal_key(path)
        if key is not None and key in self.pending.written:
            return True
        arg = _calls.argument(node, "filepath", 0)
        return arg is not None and "$" + self.ctx.code_for(arg.value) in self.pending.written

    def _method(self, node: cst.Call) -> str | None:
        if type(node.func) is cst.Attribute and self.ctx.names.imports_keras:
            return node.func.attr.value
        return None

    # ------------------------------------------------------------ visits
    def visit_Call(self, node: cst.Call) -> None:
        callee = self.ctx.names.resolve_keras(node.func)
        method = self._method(node) if callee is None else None
        if callee in ("keras.models.save_model", "keras.saving.save_model"):
            self._save(node, _calls.argument(node, "filepath", 1), "`save_model`")
        elif method == "save" and self._model_like(node.func.value):  # type: ignore[attr-defined]
            self._save(node, _calls.argument(node, "filepath", 0), f"`{self.ctx.code_for(node.func)}`")
        elif callee in ("keras.models.load_model", "keras.saving.load_model"):
            path = self._path(getattr(_calls.argument(node, "filepath", 0), "value", None))
            if path is not None:
                self.pending.loads.append(("model", node, path))
        elif callee == "keras.models.model_from_json":
            self.pending.loads.append(("json", node, Path(node, "")))
        elif callee == "keras.callbacks.ModelCheckpoint":
            self._checkpoint(node)
        elif method == "save_weights":
            self._save_weights(node)
        elif method == "load_weights":
            self._load_weights(node)
        elif method == "to_json":
            self.pending.writes_json = True
        elif method == "to_yaml" and self.ctx.names.resolve(node.func.value) is None:  # type: ignore[attr-defined]
            self.ctx.report(KM_YAML, node, "`to_yaml()` was removed (arbitrary code execution on load): "
                            "`AttributeError` in Keras 3; use `to_json()` and `keras.models.model_from_json`")

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        if not any(self.ctx.names.resolve_keras(b.value) in MODEL_CLASSES - {"keras.Sequential"} for b in node.bases):
            return
        methods = {s.name.value: s for s in node.body.body if isinstance(s, cst.FunctionDef)}
        init = methods.get("__init__")
        if "get_config" in methods or init is None:
            return
        params = init.params
        named = [p for p in (*params.posonly_params, *params.params, *params.kwonly_params)
                 if p.name.value != "self"]
        if named:
            self.pending.model_classes.append(node)

    # ------------------------------------------------------------ model.save / load_model
    def _save(self, node: cst.Call, arg: cst.Arg | None, shown: str) -> None:
        self.pending.saves_models = True
        fmt = _calls.keyword(node, "save_format")
        fmt_value = _calls.string_value(fmt.value) if fmt is not None else None
        path = self._path(arg.value) if arg is not None else None
        key = self._literal_key(path) if path is not None else None
        self._written(arg.value if arg is not None else None)
        if path is not None and not path.has(*MODEL_EXTS):
            if path.tail.endswith(("/", "\\")):
                fix = None
            else:
                ext = ".h5" if fmt_value == "h5" else ".keras"
                new = _with_tail(self.ctx.module, path, "", ext)
                call = self._swap(node, path, new)
                call = _calls.remove(call, "save_format") if fmt is not None else call
                fix = FixSpec(f"Save to a `{ext}` file", (NodeEdit(node, call),), "unsafe")
                if key is not None:
                    self.pending.models_saved[key] = new
            self.ctx.report(KM_SAVE, path.node, f"{shown} without a `.keras`/`.h5` extension raises `ValueError` in "
                            "Keras 3 (Keras 2 wrote a SavedModel directory): save as `.keras`, or use "
                            "`model.export(path)` for TF Serving/TFLite", fix)
        elif fmt is not None:
            consistent = path is not None and (
                (fmt_value == "h5" and path.has(".h5", ".hdf5")) or (fmt_value == "keras" and path.has(".keras"))
            )
            fix = None if fmt_value == "tf" else FixSpec(
                "Drop `save_format=`", (NodeEdit(node, _calls.remove(node, "save_format")),),
                "safe" if consistent else "unsafe")
            # saving_api.save_model only warns when the path ends in .h5/.hdf5/.keras (case-sensitive).
            if path is not None and path.tail.endswith((".h5", ".hdf5", ".keras")):
                message = ("`save_format=` is deprecated in Keras 3 and ignored with a warning: the file extension "
                           "alone selects the format")
                if not consistent and fmt_value is not None:
                    message += f" (here `.{path.tail.rsplit('.', 1)[-1]}`, not the `{fmt_value}` format asked for)"
            else:
                message = ("`save_format=` raises `ValueError` in Keras 3 unless the path ends in `.keras`/`.h5`: "
                           "the file extension alone selects the format")
            self.ctx.report(KM_SAVE, fmt, message, fix)

    def _report_loads(self) -> None:
        for kind, node, path in self.pending.loads:
            if kind == "json":
                if not self.pending.writes_json:
                    self.ctx.report(KM_K2_FILE, node, self._k2_json_message())
                continue
            if kind != "model":
                continue  # load_weights: _report_weight_loads
            key = self._literal_key(path)
            if not path.has(*MODEL_EXTS, ".weights.h5"):
                fix = None
                if key is not None and key in self.pending.models_saved:
                    fix = FixSpec("Load the renamed file", (NodeEdit(path.node, self.pending.models_saved[key]),))
                self.ctx.report(KM_LOAD, path.node, "`load_model` cannot read a SavedModel directory in Keras 3 "
                                "(`ValueError: File format not supported`): re-save it as `.keras` with Keras 2, or "
                                "reload it for inference with `keras.layers.TFSMLayer(path, "
                                "call_endpoint='serving_default')`, which returns a dict", fix)
            elif path.has(".h5", ".hdf5") and not self._written_here(node, path):
                if _calls.keyword(node, "compile") is not None:
                    detail, tail = "RNN layers fail (`time_major`)", ""
                else:
                    detail = "RNN layers fail (`time_major`) and string-compiled losses/metrics fail"
                    tail = ", or pass `compile=False` (the optimizer state is lost)"
                self.ctx.report(KM_K2_FILE, node, f"a `.h5` file written by Keras 2 often fails to load in Keras 3: "
                                f"{detail}; rebuild the model in code and call `load_weights` on the same file "
                                f"(identical layouts){tail}")

    @staticmethod
    def _k2_json_message() -> str:
        return ("JSON written by Keras 2's `to_json()` fails in Keras 3's `model_from_json` (`Could not locate "
                "class 'Functional'`): rebuild the model in code and load the weights")

    # ------------------------------------------------------------ weights
    def _weights_name(self, path: Path) -> str | None:
        if path.tail.endswith(("/", "\\")):
            return None
        # `best.weights` becomes `best.weights.h5`, not `best.weights.weights.h5`.
        for ext in (".h5", ".hdf5", ".H5", ".weights"):
            if path.tail.endswith(ext):
                return _with_tail(self.ctx.module, path, ext, ".weights.h5")
        return _with_tail(self.ctx.module, path, "", ".weights.h5")

    def _save_weights(self, node: cst.Call) -> None:
        arg = _calls.argument(node, "filepath", 0)
        path = self._path(arg.value) if arg is not None else None
        self._written(arg.value if arg is not None else None)
        fmt = _calls.keyword(node, "save_format")
        call = _calls.remove(node, "save_format") if fmt is not None else node
        fixed_path = False
        if path is not None and not path.has(".weights.h5"):
            new = self._weights_name(path)
            if new is not None:
                call = self._swap(call, path, new)
                fixed_path = True
                key = self._literal_key(path)
                if key is not None:
                    self.pending.weights_saved[key] = new
            fix = FixSpec("Save to a `.weights.h5` file", (NodeEdit(node, call),), "unsafe") if fixed_path else None
            self.ctx.report(KM_WEIGHTS, path.node, "`save_weights` raises `ValueError` in Keras 3 unless the file "
                            "name ends in `.weights.h5` (Keras 2 wrote a TF checkpoint or legacy HDF5 here)", fix)
        if fmt is not None:
            # Safe only when the name is already right; with the rename the fix is the path's (unsafe).
            safety: Safety = "safe" if path is not None and path.has(".weights.h5") else "unsafe"
            self.ctx.report(KM_WEIGHTS, fmt, "`save_weights(save_format=...)` raises `TypeError` in Keras 3: the "
                            "`.weights.h5` extension selects the format",
                            FixSpec("Drop `save_format=`", (NodeEdit(node, call),), safety))

    def _load_weights(self, node: cst.Call) -> None:
        arg = _calls.argument(node, "filepath", 0)
        path = self._path(arg.value) if arg is not None else None
        if path is not None:
            self.pending.loads.append(("weights", node, path))

    def _report_weight_loads(self) -> None:
        for kind, node, path in self.pending.loads:
            if kind != "weights":
                continue
            key = self._literal_key(path)
            if key is not None and key in self.pending.weights_saved:
                self.ctx.report(KM_WEIGHTS, path.node, "this file is written by `save_weights` under a name Keras 3 "
                                "rejects; load it under its new `.weights.h5` name",
                                FixSpec("Load the renamed file", (NodeEdit(path.node, self.pending.weights_saved[key]),)))
                continue
            by_name = _calls.keyword(node, "by_name")
            if not path.has(*MODEL_EXTS, ".weights.h5"):
                self.ctx.report(KM_WEIGHTS, path.node, "Keras 3 cannot read TF-format checkpoints "
                                "(`ValueError: File format not supported`): convert once with Keras 2 "
                                "(`load_weights` then `save_weights('x.h5')`), then load the `.h5` file")
            elif by_name is not None and self.ctx.code_for(by_name.value) not in ("False", "0", "None") and not (
                path.has(".h5", ".hdf5") and not path.has(".weights.h5")
            ):
                self.ctx.report(KM_WEIGHTS, by_name, "`load_weights(by_name=True)` raises `ValueError` in Keras 3 "
                                "except for legacy `.h5` files")

    # ------------------------------------------------------------ ModelCheckpoint
    def _checkpoint(self, node: cst.Call) -> None:
        positional = [a for a in node.args if a.keyword is None]
        only = _calls.keyword(node, "save_weights_only")
        weights = only is not None and self.ctx.code_for(only.value) == "True"
        if not weights and (only is None or self.ctx.code_for(only.value) == "False") and len(positional) < 5:
            self.pending.saves_models = True
        arg = _calls.argument(node, "filepath", 0)
        path = self._path(arg.value) if arg is not None else None
        self._written(arg.value if arg is not None else None)
        known = only is None or self.ctx.code_for(only.value) in ("True", "False")
        if path is not None and known and len(positional) < 5:
            if weights and not path.has(".weights.h5"):
                new = self._weights_name(path)
                self.ctx.report(KM_CHECKPOINT, path.node, "`ModelCheckpoint(save_weights_only=True)` raises "
                                "`ValueError` in Keras 3 unless the path ends in `.weights.h5`",
                                FixSpec("Use a `.weights.h5` path", (NodeEdit(path.node, new),)) if new else None)
            elif not weights and not path.has(*MODEL_EXTS) and not path.tail.endswith(("/", "\\")):
                self.ctx.report(KM_CHECKPOINT, path.node, "`ModelCheckpoint` of a full model raises `ValueError` in "
                                "Keras 3 unless the path ends in `.keras` (Keras 2 wrote a SavedModel directory)",
                                FixSpec("Save `.keras` files", (NodeEdit(path.node, _with_tail(self.ctx.module, path, "", ".keras")),)))
        period = _calls.keyword(node, "period")
        if period is not None:
            fix = None
            if self.ctx.code_for(period.value) == "1":
                fix = FixSpec("Drop `period=1` (the default saves every epoch)",
                              (NodeEdit(node, _calls.remove(node, "period")),), "safe")
            self.ctx.report(KM_CHECKPOINT, period, "`ModelCheckpoint(period=...)` raises `TypeError` in Keras 3: "
                            "use `save_freq=` (in batches: `period * steps_per_epoch`)", fix)
        options = _calls.keyword(node, "options")
        if options is not None:
            self.ctx.report(KM_CHECKPOINT, options, "`ModelCheckpoint(options=...)` raises `TypeError` in Keras 3 "
                            "(TensorFlow save options do not apply to `.keras`/`.weights.h5` files)",
                            FixSpec("Drop `options=`", (NodeEdit(node, _calls.remove(node, "options")),), "safe"))

    # ------------------------------------------------------------ module-level decisions
    def leave_Module(self, node: cst.Module) -> None:
        self._report_loads()
        self._report_weight_loads()
        if not self.pending.saves_models:
            return
        for cls in self.pending.model_classes:
            self.ctx.report(KM_CONFIG, cls.name, f"`{cls.name.value}` subclasses `Model` with `__init__` arguments "
                            "but no `get_config`: saving it as `.keras` raises `NotImplementedError` in Keras 3 "
                            "(or records the defaults instead of the arguments passed)")
