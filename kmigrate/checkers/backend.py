"""Keras 2 backend functions (``K.*``): KM151 (catalogue 13), KM250 (30), KM501 (30, portability).

Keras 3's ``keras.backend`` lost 138 functions. The ``tf.keras.backend`` compat module of Keras 3
still serves most of them on the TensorFlow backend, so the same call is a late error through
``keras``/``tf_keras`` (KM151/KM250) and only a portability issue through ``tf.keras`` (KM501),
except for the functions the compat module lacks or that fail on Keras 3 variables.
"""

from __future__ import annotations

from typing import ClassVar

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.checkers._backend_ops import COMPAT_BROKEN, COMPAT_MISSING, FUNCTIONS, LEGACY_MODULES, Op, lookup
from kmigrate.checkers.optimizers import is_optimizer
from kmigrate.engine import Checker, Context, FixSpec, InsertImport, NodeEdit
from kmigrate.names import dotted, keras_origin
from kmigrate.checkers._calls import has_comment as _has_comment

KM_DEFAULTS, KM_REMOVED, KM_COMPAT = "KM151", "KM250", "KM501"
PREFIX = "keras.backend."
# Spellings through which Keras 3 serves the compat ``tf.keras.backend``.
COMPAT_ORIGINS = ("tensorflow.keras",)
_EQUAL = cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))
_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.Float, cst.SimpleString)
_UNKNOWN = object()  # a name spelling not looked up yet
# Statements whose blocks _patched looks into (classes without subclasses: compared by type).
_BLOCKS = frozenset({cst.If, cst.Try, cst.Else, cst.ExceptHandler, cst.Finally, cst.With})


def _atom(module: cst.Module, expr: cst.BaseExpression) -> str:
    code = module.code_for_node(expr)
    return code if isinstance(expr, _ATOMS) else f"({code})"


def _patched(module: cst.Module, names) -> frozenset[str]:  # type: ignore[no-untyped-def]
    """Backend functions the module defines itself (``K.where = where``, module level, also under
    ``if``/``try``): ``K.where`` then calls the module's own function, not Keras 2's."""
    found: set[str] = set()
    stack: list[cst.CSTNode] = list(module.body)
    while stack:
        stmt = stack.pop()
        if type(stmt) in _BLOCKS:
            stack.extend(stmt.body.body if isinstance(stmt.body, cst.IndentedBlock) else ())
            stack.extend(x for x in (getattr(stmt, "orelse", None), getattr(stmt, "finalbody", None)) if x)
            stack.extend(getattr(stmt, "handlers", ()))
        elif type(stmt) is cst.SimpleStatementLine:
            for small in stmt.body:  # type: ignore[attr-defined]
                targets = [t.target for t in small.targets] if type(small) is cst.Assign else []
                for target in targets:
                    if isinstance(target, cst.Attribute) and names.resolve(target.value) == "keras.backend":
                        found.add(target.attr.value)
    return frozenset(found)


class BackendChecker(Checker):
    # Every finding names ``keras.backend.<fn>``, and a resolved name's components after the
    # import root are all spelled in the file: ``backend`` is rarer than any set of <fn>.
    needles: ClassVar[frozenset[str]] = frozenset({PREFIX.split(".")[1]})
    patched: frozenset[str] = frozenset()

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._names: dict[str, object] = {}  # a Name's spelling -> its _function()

    def visit_Module(self, node: cst.Module) -> None:
        self.patched = _patched(node, self.ctx.names)

    def _function(self, node: cst.BaseExpression) -> tuple[str, str] | None:
        """(function name, import origin) when ``node`` names a removed ``keras.backend`` function."""
        if type(node) is cst.Attribute:  # not isinstance(): a Python-level call on libcst's ABCs
            # The function's name is the attribute's: most attributes are ruled out unresolved.
            attr = node.attr.value  # type: ignore[attr-defined]
            if attr not in FUNCTIONS or attr in self.patched:
                return None
        raw = self.ctx.names.raw(node)
        origin = keras_origin(raw) if raw is not None else None
        if raw is None or origin is None:
            return None
        name = "keras" + raw[len(origin) :]
        if not name.startswith(PREFIX) or "." in name[len(PREFIX) :]:
            return None
        fn = name[len(PREFIX) :]
        return (fn, origin) if lookup(fn) is not None else None

    def _code(self, fn: str, origin: str, default_changed: bool) -> str:
        if origin in COMPAT_ORIGINS and fn not in COMPAT_MISSING | COMPAT_BROKEN:
            return KM_COMPAT
        return KM_DEFAULTS if default_changed else KM_REMOVED

    def _message(self, code: str, shown: str, fn: str, op: Op, origin: str) -> str:
        compat = origin in COMPAT_ORIGINS
        if code == KM_COMPAT:
            text = (f"`{shown}` exists only in the TensorFlow-only `tf.keras.backend` compat module of "
                    "Keras 3: it breaks with `import keras` and on the JAX and PyTorch backends")
        elif code == KM_DEFAULTS:
            text = f"`{shown}` is gone from Keras 3, and its `keras.ops` namesake is not a drop-in: {op.hazard}"
        elif compat and fn in COMPAT_BROKEN:
            text = (f"`{shown}` fails in Keras 3: the `tf.keras` compat version raises `AttributeError` on "
                    "Keras 3 variables, and `keras.backend` has no such function")
        elif compat:
            text = (f"`{shown}` is missing from Keras 3, even from its `tf.keras` compat namespace: "
                    "`AttributeError` when this line runs")
        else:
            text = f"`{shown}` does not exist in Keras 3's `keras.backend`: `AttributeError` when this line runs"
        if op.target is None and op.hint:
            text += f"; {op.hint}"
        return text

    # ------------------------------------------------------------ calls
    def visit_Call(self, node: cst.Call) -> None:
        found = self._function(node.func)
        if found is None:
            return
        fn, origin = found
        receiver = self._lr_receiver(node) if fn in ("set_value", "get_value") else None
        if receiver is not None and is_optimizer(self.ctx.names, receiver):
            return  # KM102 rewrites K.set_value/get_value(optimizer.lr, ...) as a whole
        op, default_changed = lookup(fn)  # type: ignore[misc]
        code = self._code(fn, origin, default_changed)
        shown = self.ctx.code_for(node.func)
        message = self._message(code, shown, fn, op, origin)
        fix = None
        if receiver is not None and not (isinstance(receiver, cst.Name) and receiver.value == "self"):
            # `K.get_value(clone.lr)`: if `clone` is an optimizer, `convert_to_numpy(clone.lr)` still
            # fails (Keras 3 optimizers have no `lr`); `self.lr` is the user's own attribute.
            obj = self.ctx.code_for(receiver)
            message += (f"; and if `{obj}` is an optimizer, `{obj}.lr` is `{obj}.learning_rate` in Keras 3 "
                        f"(read `float({obj}.learning_rate)`, assign `{obj}.learning_rate = value`)")
        elif fn == "shape" and self._used_as_tensor(node):
            message += ("; here the result is used as a tensor, and `keras.ops.shape` returns a Python tuple "
                        "(`* 32` would repeat it, `+` would concatenate): rewrite by hand, e.g. "
                        "`keras.ops.convert_to_tensor(keras.ops.shape(x))`")
        # A function imported by name keeps its (failing) import: leave the rewrite to a human.
        elif isinstance(node.func, cst.Attribute) and op.target is not None:
            fix = self._fix(node, op, code)
        self.ctx.report(code, node, message, fix)

    def _used_as_tensor(self, node: cst.Call) -> bool:
        """Whether ``K.shape(x)`` (or a slice of it) feeds arithmetic, a comparison or an attribute.

        Keras 2 returned a tensor there; Keras 3's tuple silently repeats (``* n``), concatenates
        (``+``) or compares as a whole. A single index (``K.shape(x)[0]``) is a scalar in both.
        """
        expr: cst.CSTNode = node
        depth = 1
        parent = self.ctx.parent(depth)
        while (isinstance(parent, cst.Subscript) and parent.value is expr
               and any(isinstance(e.slice, cst.Slice) for e in parent.slice)):
            expr, depth = parent, depth + 1
            parent = self.ctx.parent(depth)
        if isinstance(parent, cst.ComparisonTarget):
            return True
        if isinstance(parent, (cst.BinaryOperation, cst.UnaryOperation, cst.Comparison)):
            return True
        if isinstance(parent, cst.AugAssign) and parent.value is expr:
            return True
        return isinstance(parent, cst.Attribute) and parent.value is expr

    @staticmethod
    def _lr_receiver(node: cst.Call) -> cst.BaseExpression | None:
        """``X`` in ``K.get_value(X.lr)`` / ``K.set_value(X.lr, v)``, else None."""
        if not node.args or node.args[0].keyword is not None:
            return None
        target = node.args[0].value
        if isinstance(target, cst.Attribute) and target.attr.value == "lr":
            return target.value
        return None

    def _root(self, like: cst.BaseExpression) -> tuple[str, tuple[InsertImport, ...]] | None:
        """Text that names the ``keras`` package here (``keras``, ``tf.keras``), plus an import."""
        names = self.ctx.names
        spelled = names.spell_like(like, "keras")
        if spelled is not None:
            return spelled, ()
        statement, local = names.import_for("keras")
        if local in names.bindings or any(b.raw == local for b in names.bindings.values()):
            return None
        return local, (InsertImport(statement),)

    def _fix(self, node: cst.Call, op: Op, code: str) -> FixSpec | None:
        if _calls.has_star(node) or op.target is None:
            return None
        root = self._root(node.func)
        if root is None:
            return None
        root_text, imports = root
        if op.template:
            text = self._template(node, op, root_text)
            if text is None:
                return None
            new: str | cst.CSTNode = text
        else:
            call = self._call(node, op)
            if call is None:
                return None
            func = cst.parse_expression(root_text + op.target[len("keras") :])  # type: ignore[index]
            new = call.with_changes(func=func)
        if isinstance(new, str) and root_text + "." not in new:
            imports = ()
        title = ("Rewrite with `keras.ops` and Keras 2's explicit arguments" if code == KM_DEFAULTS
                 else "Rewrite with the Keras 3 equivalent")
        return FixSpec(title, (NodeEdit(node, new), *imports), op.safety)  # type: ignore[arg-type]

    def _bound(self, node: cst.Call, op: Op) -> list[cst.BaseExpression] | None:
        """The argument for each Keras 2 parameter, in order, or None if unusual."""
        values: dict[str, cst.BaseExpression] = {}
        index = 0
        for arg in node.args:
            if arg.keyword is None:
                if index >= len(op.params):
                    return None
                values[op.params[index]] = arg.value
                index += 1
            elif arg.keyword.value in op.params and arg.keyword.value not in values:
                values[arg.keyword.value] = arg.value
            else:
                return None
        if set(values) != set(op.params[: len(values)]) or len(values) != len(op.params):
            return None
        return [values[p] for p in op.params]

    def _template(self, node: cst.Call, op: Op, root: str) -> str | None:
        args = self._bound(node, op)
        if args is None or _has_comment(node):
            return None  # a template re-renders the call from its arguments: comments would be lost
        module = self.ctx.module
        if op.target == "{shape}":
            x = _atom(module, args[0])
            parent = self.ctx.parent()
            # `K.int_shape(x)[-1]`: indexing the shape works directly; elsewhere a real tuple.
            if isinstance(parent, cst.Subscript) and parent.value is node:
                return f"{x}.shape"
            return f"tuple({x}.shape)"
        if ".assign" in (op.target or "") and not isinstance(self.ctx.parent(), cst.Expr):
            return None  # K.set_value returned None; keep the rewrite to statements
        texts = [module.code_for_node(a) for a in args]
        texts[0] = _atom(module, args[0]) if (op.target or "").startswith("{0}") else texts[0]
        return op.target.format(*texts, root=root)  # type: ignore[union-attr]

    def _call(self, node: cst.Call, op: Op) -> cst.Call | None:
        renames = dict(op.renames)
        positional = [a for a in node.args if a.keyword is None]
        keywords = {a.keyword.value for a in node.args if a.keyword is not None}
        if len(positional) > len(op.params) or keywords - set(op.params):
            return None
        if op.swap:
            if len(positional) < 2 or keywords & set(op.params[:2]):
                return None
        keep = len(op.params) if op.keep is None else op.keep
        args: list[cst.Arg] = []
        for i, arg in enumerate(node.args):
            if arg.keyword is None and i >= keep:
                arg = arg.with_changes(keyword=cst.Name(op.params[i]), equal=_EQUAL)
            if arg.keyword is not None and arg.keyword.value in renames:
                arg = arg.with_changes(keyword=cst.Name(renames[arg.keyword.value]))
            args.append(arg)
        if op.swap:
            first, second = args[0], args[1]
            args[0] = second.with_changes(comma=first.comma)
            args[1] = first.with_changes(comma=second.comma)
        call = _calls.with_args(node, args)
        for param, default in op.explicit:
            index = op.params.index(param) if param in op.params else len(op.params)
            if index < len(positional) or param in keywords:
                continue
            call = _calls.append(call, renames.get(param, param), default)
        return call

    # ------------------------------------------------------------ references and imports
    def visit_Attribute(self, node: cst.Attribute) -> None:
        found = self._function(node)  # cheap and almost always None: test it first
        if found is not None:
            self._reference(node, found)

    def visit_Name(self, node: cst.Name) -> None:
        # Runs for every name of the file; what a name means depends on its spelling alone.
        found = self._names.get(node.value, _UNKNOWN)
        if found is _UNKNOWN:
            found = self._names[node.value] = self._function(node)
        if found is not None:
            self._reference(node, found)  # type: ignore[arg-type]

    def _reference(self, node: cst.Attribute | cst.Name, found: tuple[str, str]) -> None:
        fn, origin = found
        parent = self.ctx.parent()
        if isinstance(parent, cst.Call) and parent.func is node:
            return
        if isinstance(parent, cst.Attribute) and parent.value is node and fn in LEGACY_MODULES:
            pass  # `K.control_flow_ops.while_loop(...)`: the module is what is missing
        elif isinstance(parent, cst.Attribute) and (parent.value is node or isinstance(node, cst.Name)):
            return  # inside a longer chain, or the attribute part of one
        if isinstance(parent, cst.Arg) and parent.keyword is node:
            return
        if isinstance(parent, (cst.Param, cst.AssignTarget, cst.FunctionDef, cst.ClassDef)):
            return
        # Names inside import statements are never visited (kmigrate.walk): visit_ImportFrom.
        op, default_changed = lookup(fn)  # type: ignore[misc]
        code = self._code(fn, origin, default_changed)
        self.ctx.report(code, node, self._message(code, self.ctx.code_for(node), fn, op, origin))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
            return
        module = dotted(node.module)
        origin = keras_origin(module) if module is not None else None
        if module is None or origin is None or "keras" + module[len(origin) :] != "keras.backend":
            return
        for alias in node.names:
            fn = self.ctx.code_for(alias.name)
            found = lookup(fn)
            if found is None:
                continue
            code = self._code(fn, origin, found[1])
            message = self._message(code, f"{module}.{fn}", fn, found[0], origin)
            if code != KM_COMPAT:
                message = f"`from {module} import {fn}` raises `ImportError` in Keras 3" + (
                    f": {found[0].hazard}" if found[0].hazard else ""
                )
            self.ctx.report(code, alias, message)
