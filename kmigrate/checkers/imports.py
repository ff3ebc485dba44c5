"""Which Keras a module imports (catalogue 16, 59): KM150, KM371, KM372.

KM150 rewrites ``tf.keras`` spellings to ``keras`` (the migration guide's first step) only when
that cannot turn working code into an ImportError: the Keras 3 ``tf.keras`` namespace still
serves a few Keras 2 symbols that plain ``keras`` lacks (backend math, ``Tokenizer``,
``ImageDataGenerator``, ``losses.Reduction``, the short loss aliases, ...; c22, c25), and a module
that uses one of them keeps its imports. The rules that rewrite those symbols (KM151, KM250,
KM408, ...) run first; once they have, a later fix pass can switch the imports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

import libcst as cst

from kmigrate.checkers._backend_ops import ALL_REMOVED
from kmigrate.engine import Checker, FixSpec, InsertImport, NodeEdit
from kmigrate.names import canonical, dotted, keras_origin

KM_GATEWAY, KM_PYTHON_KERAS, KM_MIXED = "KM150", "KM371", "KM372"
TF_KERAS = "tensorflow.keras"
PYTHON_KERAS = "tensorflow.python.keras"
_ALIASES = ("mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE", "kld", "KLD",
            "kullback_leibler_divergence", "logcosh")
# Names the Keras 3 tf.keras namespace serves and plain keras 3 does not (c22, c25 and a
# namespace diff of keras._tf_keras.keras against keras 3.15).
COMPAT_ONLY: frozenset[str] = frozenset({
    *(f"keras.backend.{n}" for n in ALL_REMOVED),
    *(f"keras.losses.{n}" for n in (*_ALIASES, "Reduction")),
    *(f"keras.metrics.{n}" for n in _ALIASES),
    *(f"keras.layers.{n}" for n in ("RandomHeight", "RandomWidth", "ThresholdedReLU")),
    *(f"keras.preprocessing.image.{n}" for n in (
        "ImageDataGenerator", "Iterator", "DirectoryIterator", "NumpyArrayIterator", "apply_affine_transform",
        "apply_brightness_shift", "apply_channel_shift", "random_brightness", "random_channel_shift",
        "random_rotation", "random_shear", "random_shift", "random_zoom")),
    *(f"keras.preprocessing.sequence.{n}" for n in ("TimeseriesGenerator", "skipgrams", "make_sampling_table")),
})
COMPAT_ONLY_PREFIXES = ("keras.preprocessing.text",)
# Keras 3's public top-level names (`dir(keras)` of keras 3.15) and public modules deeper than
# one level: a `tensorflow.python.keras` import is only redirected to a path that exists there.
_KERAS3_TOP = frozenset({
    "DTypePolicy", "FloatDTypePolicy", "Function", "Initializer", "Input", "InputSpec", "KerasTensor",
    "Layer", "Loss", "Metric", "Model", "Operation", "Optimizer", "Quantizer", "Regularizer",
    "Sequential", "Variable", "activations", "applications", "backend", "callbacks", "config",
    "constraints", "datasets", "distribution", "dtype_policies", "export", "initializers", "layers",
    "legacy", "losses", "metrics", "mixed_precision", "models", "ops", "optimizers", "preprocessing",
    "quantizers", "random", "regularizers", "saving", "tree", "utils", "visualization", "wrappers",
})
_KERAS3_DEEP = ("keras.optimizers.schedules", "keras.preprocessing.image", "keras.preprocessing.sequence",
                "keras.applications.", "keras.datasets.")
# Private Keras 2 paths that KM407 reports (and rewrites where it can): redirecting to them keeps
# a finding on the line, so the import is not silently turned into a ModuleNotFoundError.
_KM407_PATHS = ("keras.engine", "keras.layers.", "keras.utils.np_utils", "keras.utils.vis_utils",
                "keras.utils.generic_utils", "keras.utils.data_utils", "keras.utils.multi_gpu",
                "keras.utils.training_utils", "keras.wrappers.scikit_learn", "keras.callbacks.experimental",
                "keras.experimental", "keras.premade", "keras.estimator", "keras.dtensor")
# A lower-case name imported from a public package that is really one of Keras 2's private
# modules (`utils.tf_utils`, `utils.conv_utils`, `layers.base_layer_utils`, ...).
_MODULE_LIKE = re.compile(r"(_utils?|_config|_v\d|_lib)$|^(tf_|base_)")


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    # "a.b." matches strictly below a.b; "a.b" matches a.b itself and below.
    return any(path.startswith(p) if p.endswith(".") else path == p or path.startswith(p + ".") for p in prefixes)


def _known_path(path: str) -> bool:
    parts = path.split(".")
    if len(parts) == 1 or (len(parts) == 2 and parts[1] in _KERAS3_TOP):
        return True
    return _under(path, _KM407_PATHS) or _under(path, _KERAS3_DEEP)


def redirect_exists(module: str, names: list[str]) -> bool:
    """Whether `from <module> import <names>` (module already rewritten to `keras...`) can work
    in Keras 3 or is reported by KM407; ``names`` empty for a plain ``import module``."""
    if not _known_path(module):
        return False
    for name in names:
        if module == "keras":
            if name not in _KERAS3_TOP:
                return False
        elif name[:1].islower() and _MODULE_LIKE.search(name) and not _known_path(f"{module}.{name}"):
            return False
    return True


def compat_only(name: str) -> bool:
    parts = name.split(".")
    if any(".".join(parts[:i]) in COMPAT_ONLY for i in range(2, len(parts) + 1)):
        return True  # the name or an object it is an attribute of (`losses.Reduction.SUM`)
    return any(name == p or name.startswith(p + ".") for p in COMPAT_ONLY_PREFIXES)


@dataclass
class _Gateway:
    first: cst.CSTNode | None = None
    edits: list[NodeEdit] = field(default_factory=list)
    needs_import: bool = False
    provides_import: bool = False  # an edit already writes `import keras`
    blocker: str | None = None


class ImportsChecker(Checker):
    # KM150 needs the `keras` of a `tensorflow.keras` name, KM371 the `python` of
    # `tensorflow.python.keras`, KM372 a `tf_keras` import. KM150 (off by default) makes the set
    # as broad as `keras` for all three: the words are shared by the checker's rules.
    needles: ClassVar[frozenset[str]] = frozenset({"keras", "python", "tf_keras"})

    def __init__(self, ctx) -> None:  # type: ignore[no-untyped-def]
        super().__init__(ctx)
        self.gateway = _Gateway()
        self.first_tf_keras: cst.CSTNode | None = None
        self.first_keras: cst.CSTNode | None = None
        self.keras_shadowed = False  # the name `keras` is used for something that is not Keras
        # Only KM150 reads `gateway`; without it most references need no look (below).
        self.gateway_on = ctx.enabled(KM_GATEWAY)

    # ------------------------------------------------------------ helpers
    def _keras_free(self) -> bool:
        """Whether the name ``keras`` may be bound to the Keras 3 package here."""
        binding = self.ctx.names.bindings.get("keras")
        if self.keras_shadowed:
            return False
        return binding is None or binding.raw in ("keras", TF_KERAS, PYTHON_KERAS)

    def _home(self) -> str:
        """Where a `tensorflow.python.keras` import should point: the module's own Keras spelling
        (`tensorflow.keras` in a tf.keras module) when Keras 3 serves it, else `keras`."""
        names = self.ctx.names
        if names.origin in ("keras", TF_KERAS):
            return names.origin
        # The tensorflow.python.keras imports being rewritten outvote the rest: count the others.
        votes = [keras_origin(b.raw) for b in names.bindings.values()]
        return TF_KERAS if votes.count(TF_KERAS) > votes.count("keras") else "keras"

    def _block(self, name: str, node: cst.CSTNode) -> None:
        if self.gateway.blocker is None and compat_only(name):
            self.gateway.blocker = self.ctx.code_for(node)

    def _see(self, origin: str | None, node: cst.CSTNode) -> None:
        if origin == "tf_keras" and self.first_tf_keras is None:
            self.first_tf_keras = node
        if origin == "keras" and self.first_keras is None:
            self.first_keras = node

    # ------------------------------------------------------------ imports
    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None:
            return
        module = dotted(node.module) or ""
        names = node.names
        if module in ("tensorflow", "tensorflow.python") and not isinstance(names, cst.ImportStar):
            for alias in names:
                if dotted(alias.name) == "keras":
                    self._keras_module_import(node, module, alias)
            return
        origin = keras_origin(module)
        self._see(origin, node)
        if origin == TF_KERAS:
            self.gateway.first = self.gateway.first or node
            self.gateway.edits.append(NodeEdit(node.module, "keras" + module[len(TF_KERAS):]))
            self._block(canonical(module), node)
            if not isinstance(names, cst.ImportStar):
                for alias in names:
                    self._block(f"{canonical(module)}.{dotted(alias.name)}", alias)
        elif origin == PYTHON_KERAS:
            home = self._home()
            rest = module[len(PYTHON_KERAS):]
            imported = [] if isinstance(names, cst.ImportStar) else [dotted(a.name) or "" for a in names]
            fix = None
            if redirect_exists("keras" + rest, imported):  # else an ImportError nothing reports
                fix = FixSpec(f"Import from `{home}`", (NodeEdit(node.module, home + rest),))
            self.ctx.report(KM_PYTHON_KERAS, node, self._python_keras_message(module), fix)

    def _keras_module_import(self, node: cst.ImportFrom, module: str, alias: cst.ImportAlias) -> None:
        local = alias.asname.name.value if alias.asname is not None else "keras"  # type: ignore[union-attr]
        single = isinstance(node.names, (list, tuple)) and len(node.names) == 1
        new = "import keras" if local == "keras" else f"import keras as {local}"
        if module == "tensorflow.python" and self._home() == TF_KERAS:
            new = "from tensorflow import keras" + ("" if local == "keras" else f" as {local}")
        if module == "tensorflow":
            self.gateway.first = self.gateway.first or node
            if single:
                self.gateway.edits.append(NodeEdit(node, new))
                self.gateway.provides_import = self.gateway.provides_import or local == "keras"
            else:
                self.gateway.blocker = self.gateway.blocker or self.ctx.code_for(node)
            return
        fix = FixSpec("Import `keras`", (NodeEdit(node, new),)) if single else None
        self.ctx.report(KM_PYTHON_KERAS, alias, self._python_keras_message(PYTHON_KERAS), fix)

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            raw = dotted(alias.name) or ""
            origin = keras_origin(raw)
            self._see(origin, node)
            if origin == TF_KERAS:
                self.gateway.first = self.gateway.first or node
                if alias.asname is not None:
                    self.gateway.edits.append(NodeEdit(alias.name, "keras" + raw[len(TF_KERAS):]))
                self._block(canonical(raw), alias)
            elif origin == PYTHON_KERAS:
                fix = None
                home = self._home()
                if (alias.asname is not None and (home != TF_KERAS or raw != PYTHON_KERAS)
                        and redirect_exists("keras" + raw[len(PYTHON_KERAS):], [])):
                    fix = FixSpec(f"Import `{home}`", (NodeEdit(alias.name, home + raw[len(PYTHON_KERAS):]),))
                self.ctx.report(KM_PYTHON_KERAS, alias, self._python_keras_message(raw), fix)

    @staticmethod
    def _python_keras_message(raw: str) -> str:
        return (f"`{raw}` is TensorFlow's frozen copy of Keras 2.6: its layers fail on Keras 3 tensors "
                "(`AttributeError: 'tuple' object has no attribute 'rank'`)")

    # ------------------------------------------------------------ references
    def visit_Attribute(self, node: cst.Attribute) -> None:
        # Import statements are visited whole (kmigrate.walk), so this is always a usage.
        if not self.gateway_on and node.attr.value != "keras":
            return  # only KM150 looks past `tensorflow.python.keras` itself
        raw = self.ctx.names.raw(node)
        if raw is None:
            return
        parent = self.ctx.parent()
        chain_top = not (type(parent) is cst.Attribute and parent.value is node)
        origin = keras_origin(raw)
        if origin == TF_KERAS:
            self.gateway.first = self.gateway.first or node
            if chain_top:
                self._block(canonical(raw), node)
        if raw == TF_KERAS:  # `tf.keras` itself: the part a rewrite replaces
            self.gateway.edits.append(NodeEdit(node, "keras"))
            self.gateway.needs_import = True
        elif raw == PYTHON_KERAS:
            fix = None
            if self._keras_free():
                fix = FixSpec("Use `keras`", (NodeEdit(node, "keras"), InsertImport("import keras")))
            self.ctx.report(KM_PYTHON_KERAS, node, self._python_keras_message(PYTHON_KERAS), fix)

    def visit_Name(self, node: cst.Name) -> None:
        if not self.gateway_on and node.value != "keras":
            return  # only KM150 looks past a name `keras` (runs for every name of the file)
        # `type() is`: isinstance() on a libcst ABC is a Python-level call.
        if type(self.ctx.parent()) is cst.Attribute:
            return
        raw = self.ctx.names.raw(node)
        if raw is not None and keras_origin(raw) == TF_KERAS:
            self._block(canonical(raw), node)
        if node.value == "keras" and raw is None:
            self.keras_shadowed = True

    # ------------------------------------------------------------ module
    def leave_Module(self, node: cst.Module) -> None:
        if self.first_tf_keras is not None and self.first_keras is not None:
            later = max((self.first_tf_keras, self.first_keras), key=lambda n: self._order(n))
            self.ctx.report(KM_MIXED, later, "this module imports both `tf_keras` (Keras 2) and `keras` (Keras 3): "
                            "their layers and tensors do not mix (`AttributeError` when one calls the other)")
        gateway = self.gateway
        if gateway.first is None:
            return
        message = ("`tf.keras` is Keras 3 on TensorFlow 2.16+ (with the `keras` 3 package installed): every "
                   "Keras 3 difference applies to this module")
        fix = None
        if gateway.blocker is not None:
            message += (f"; its imports stay `tf.keras` because `{gateway.blocker}` exists only in the `tf.keras` "
                        "compat namespace")
        elif gateway.edits and (not gateway.needs_import or self._keras_free()):
            imports = (InsertImport("import keras"),) if gateway.needs_import and not gateway.provides_import else ()
            fix = FixSpec("Import `keras` instead of `tf.keras`", (*gateway.edits, *imports))
        self.ctx.report(KM_GATEWAY, gateway.first, message, fix)

    def _order(self, node: cst.CSTNode) -> int:
        for i, stmt in enumerate(self.ctx.module.body):
            # Imports sit in SimpleStatementLine.body; a compound statement's body is a block.
            if isinstance(stmt, cst.SimpleStatementLine) and node in stmt.body:
                return i
        return len(self.ctx.module.body)
