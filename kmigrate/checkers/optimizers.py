"""Optimizer rules (catalogue 1, 2, 9, 11, 26, 34, 35), rewritten together in one pass.

Every finding on one optimizer call carries the same combined rewrite of that call, built from
the enabled rules only, so that ``Adam(lr=1e-3, decay=1e-5)`` becomes one clean Keras 3 call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import libcst as cst

from kmigrate.checkers import _calls
from kmigrate.engine import Checker, FixSpec, InsertImport, NodeEdit
from kmigrate.names import Names

OPTIMIZERS = {
    "SGD": 0.01,
    "Adam": 0.001,
    "AdamW": 0.001,
    "Adamax": 0.001,
    "Adagrad": 0.001,
    "Adadelta": 0.001,
    "RMSprop": 0.001,
    "Nadam": 0.001,
    "Ftrl": 0.001,
    "Lion": 0.0001,  # the Keras 2 default (catalogue 9)
    "Adafactor": 0.001,
}
SCHEDULE_PREFIX = "keras.optimizers.schedules."
TF_ONLY_KWARGS = {"jit_compile": "safe", "adaptive_epsilon": "unsafe", "schedule_decay": "unsafe"}
OPTIMIZER_NAMES = {"optimizer", "opt"}

KM_DECAY, KM_LR_ATTR, KM_LION, KM_NADAM = "KM101", "KM102", "KM103", "KM104"
KM_EPS_NONE, KM_LR_KW, KM_TF_ONLY, KM_LR_TYPE, KM_LEGACY = "KM201", "KM301", "KM302", "KM303", "KM304"


def is_optimizer(names: Names, node: cst.BaseExpression) -> bool:
    """Whether ``node`` is clearly an optimizer (``model.optimizer``, ``opt = Adam(...)``, ``opt``).

    Shared with backend.py so that KM102 and KM250 agree on who reports ``K.get_value(X.lr)``.
    """
    if isinstance(node, cst.Attribute) and node.attr.value == "optimizer":
        return True
    if isinstance(node, cst.Name):
        if optimizer_class(names.instance_of(node)) is not None:
            return True
        return node.value in OPTIMIZER_NAMES and names.imports_keras
    return False


def optimizer_class(name: str | None) -> str | None:
    """``keras.optimizers.legacy.Adam`` -> ``Adam``; None for anything else."""
    if name is None or not name.startswith("keras.optimizers."):
        return None
    rest = name[len("keras.optimizers.") :]
    if rest.startswith("legacy."):
        rest = rest[len("legacy.") :]
    return rest if rest in OPTIMIZERS else None


_LAST_NAMES = frozenset({*OPTIMIZERS, "set_value", "get_value"})


@dataclass
class _Part:
    code: str
    node: cst.CSTNode
    message: str
    safe: bool = True


@dataclass
class _Plan:
    """What each enabled rule changes in one optimizer call."""

    parts: list[_Part] = field(default_factory=list)
    rename_lr: bool = False
    drop: set[str] = field(default_factory=set)
    func: str | None = None
    lr_value: str | None = None  # new learning-rate expression
    lr_target: cst.Arg | None = None  # the argument it replaces (None: append learning_rate=)
    imports: tuple[InsertImport, ...] = ()


class OptimizerChecker(Checker):
    # A constructor finding needs its class name spelled (``keras.optimizers.Adam``); the
    # ``lr`` findings need ``.lr``.
    needles: ClassVar[frozenset[str]] = frozenset(OPTIMIZERS) | {"lr"}

    def visit_Call(self, node: cst.Call) -> None:
        if not _calls.may_resolve_to(node.func, _LAST_NAMES):
            return
        callee = self.ctx.names.resolve_keras(node.func)
        cls = optimizer_class(callee)
        if cls is not None:
            assert callee is not None
            self._optimizer_call(node, callee, cls)
            return
        if callee in ("keras.backend.set_value", "keras.backend.get_value"):
            self._backend_lr(node, callee)

    # ------------------------------------------------------------ constructor
    def _optimizer_call(self, node: cst.Call, callee: str, cls: str) -> None:
        ctx = self.ctx
        plan = _Plan()
        legacy = callee.startswith("keras.optimizers.legacy.")
        lr_kw = _calls.keyword(node, "lr")
        lr_arg = _calls.keyword(node, "learning_rate") or _calls.positional(node, 0)
        decay = _calls.keyword(node, "decay")

        if legacy:
            new_func, imports = ctx.spell(f"keras.optimizers.{cls}", like=node.func)
            plan.func = new_func
            plan.imports += imports
            plan.parts.append(
                _Part(
                    KM_LEGACY,
                    node.func,
                    f"`optimizers.legacy.{cls}` does not exist in Keras 3: constructing it raises "
                    "`ImportError`",
                    # Legacy Nadam's momentum schedule has no Keras 3 equivalent (catalogue 11).
                    safe=cls != "Nadam",
                )
            )
        if lr_kw is not None:
            if lr_arg is None:
                plan.rename_lr = True
                plan.parts.append(
                    _Part(
                        KM_LR_KW,
                        lr_kw,
                        f"`{cls}(lr=...)` raises `ValueError: Argument(s) not recognized` in Keras 3 "
                        "(and TF 2.11+ optimizers silently ignore it)",
                    )
                )
            else:
                plan.parts.append(
                    _Part(KM_LR_KW, lr_kw, f"`{cls}` gets both `lr=` and `learning_rate=`; Keras 3 "
                          "rejects `lr=`", safe=False)
                )
        current_lr = lr_arg if lr_arg is not None else lr_kw

        for name, safety in TF_ONLY_KWARGS.items():
            arg = _calls.keyword(node, name)
            if arg is None:
                continue
            plan.drop.add(name)
            plan.parts.append(
                _Part(
                    KM_TF_ONLY,
                    arg,
                    f"`{cls}({name}=...)` raises `ValueError: Argument(s) not recognized` in Keras 3",
                    safe=safety == "safe",
                )
            )

        eps = _calls.keyword(node, "epsilon")
        if eps is not None and isinstance(eps.value, cst.Name) and eps.value.value == "None":
            plan.drop.add("epsilon")
            plan.parts.append(
                _Part(
                    KM_EPS_NONE,
                    eps,
                    f"`{cls}(epsilon=None)` fails at the first training step in Keras 3 "
                    "(`ValueError: None values not supported`); Keras 2 used 1e-7",
                )
            )

        if current_lr is not None and self._needs_float(current_lr.value):
            plan.lr_target = current_lr
            plan.lr_value = f"float({ctx.code_for(current_lr.value)})"
            plan.parts.append(
                _Part(
                    KM_LR_TYPE,
                    current_lr.value,
                    f"Keras 3 rejects a non-float learning rate in `{cls}` "
                    "(`ValueError: Argument learning_rate should be float`)",
                )
            )

        if decay is not None:
            plan.drop.add("decay")
            if not _calls.is_zero(decay.value):
                self._plan_decay(node, cls, plan, decay, current_lr)
            else:
                plan.parts.append(
                    _Part(KM_DECAY, decay, f"`{cls}(decay=0)` is ignored by Keras 3 (with a warning)")
                )

        if cls == "Lion" and current_lr is None and not _calls.has_double_star(node):
            plan.lr_target = None
            plan.lr_value = plan.lr_value or "1e-4"
            plan.parts.append(
                _Part(
                    KM_LION,
                    node,
                    "`Lion()` trains with learning rate 1e-3 in Keras 3 instead of Keras 2's 1e-4",
                )
            )

        if cls == "Nadam" and (legacy or decay is not None or lr_kw is not None
                               or _calls.keyword(node, "schedule_decay") is not None):
            plan.parts.append(
                _Part(
                    KM_NADAM,
                    node.func,
                    "legacy `Nadam`'s momentum schedule differs from Keras 3's: the training "
                    "trajectory changes (no Keras 3 argument restores it)",
                )
            )
        self._emit(node, plan)

    @staticmethod
    def _needs_float(value: cst.BaseExpression) -> bool:
        if isinstance(value, cst.Integer):
            return True
        if isinstance(value, cst.UnaryOperation) and isinstance(value.expression, cst.Integer):
            return True
        if isinstance(value, cst.Call):
            name = value.func
            text = name.attr.value if isinstance(name, cst.Attribute) else (
                name.value if isinstance(name, cst.Name) else ""
            )
            return text in {"float32", "float64", "float16"}
        return False

    def _plan_decay(
        self,
        node: cst.Call,
        cls: str,
        plan: _Plan,
        decay: cst.Arg,
        current_lr: cst.Arg | None,
    ) -> None:
        ctx = self.ctx
        if current_lr is not None:
            value = current_lr.value
            if isinstance(value, cst.Call) and (
                (ctx.names.resolve_keras(value.func) or "").startswith(SCHEDULE_PREFIX)
            ):
                plan.parts.append(
                    _Part(
                        KM_DECAY,
                        decay,
                        f"`{cls}(decay=...)` is ignored by Keras 3, and the learning rate is already "
                        "a schedule: combine them by hand",
                        safe=False,
                    )
                )
                plan.drop.discard("decay")
                return
            base = plan.lr_value if plan.lr_target is current_lr and plan.lr_value else ctx.code_for(value)
            literal = _calls.is_number(value) or plan.lr_value is not None
        else:
            base = repr(OPTIMIZERS[cls])
            literal = True
        schedule, imports = ctx.spell(SCHEDULE_PREFIX + "InverseTimeDecay", like=node.func)
        rate = ctx.code_for(decay.value)
        plan.lr_value = f"{schedule}({base}, decay_steps=1, decay_rate={rate})"
        plan.lr_target = current_lr
        plan.imports += imports
        plan.parts.append(
            _Part(
                KM_DECAY,
                decay,
                f"`{cls}(decay=...)` is ignored by Keras 3: it trains at a constant learning rate "
                "instead of `lr / (1 + decay * t)`",
                safe=literal,
            )
        )

    def _rewrite(self, node: cst.Call, plan: _Plan, codes: set[str]) -> cst.Call:
        call = node
        new_lr_kw = "learning_rate"
        if plan.lr_value is not None and (
            KM_DECAY in codes or KM_LR_TYPE in codes or KM_LION in codes
        ):
            target = plan.lr_target
            if target is None:
                call = _calls.append(call, new_lr_kw, plan.lr_value)
            else:
                call = _calls.replace_value(call, target, plan.lr_value)
        if plan.rename_lr and KM_LR_KW in codes:
            call = _calls.rename(call, "lr", new_lr_kw)
        drops = set()
        if KM_DECAY in codes and "decay" in plan.drop:
            drops.add("decay")
        if KM_EPS_NONE in codes and "epsilon" in plan.drop:
            drops.add("epsilon")
        if KM_TF_ONLY in codes:
            drops |= plan.drop & set(TF_ONLY_KWARGS)
        if drops:
            call = _calls.remove(call, *drops)
        if plan.func is not None and KM_LEGACY in codes:
            call = call.with_changes(func=cst.parse_expression(plan.func))
        return call

    def _emit(self, node: cst.Call, plan: _Plan) -> None:
        ctx = self.ctx
        fixable = [p for p in plan.parts if p.code != KM_NADAM and ctx.enabled(p.code)]
        safe_codes = {p.code for p in fixable if p.safe}
        all_codes = {p.code for p in fixable}
        # A combined rewrite may only contain the changes that are safe for the safe finding.
        unsafe_codes = {p.code for p in fixable if not p.safe}
        safe_codes -= unsafe_codes
        safe_fix = unsafe_fix = None
        imports = plan.imports
        if safe_codes:
            new = self._rewrite(node, plan, safe_codes)
            if new is not node:
                safe_fix = FixSpec(self._title(safe_codes), (NodeEdit(node, new), *imports), "safe")
        if all_codes:
            new = self._rewrite(node, plan, all_codes)
            if new is not node:
                unsafe_fix = FixSpec(self._title(all_codes), (NodeEdit(node, new), *imports), "unsafe")
        for part in plan.parts:
            if part.code == KM_NADAM:
                ctx.report(part.code, part.node, part.message)
                continue
            fix = safe_fix if part.code in safe_codes else unsafe_fix
            ctx.report(part.code, part.node, part.message, fix)

    @staticmethod
    def _title(codes: set[str]) -> str:
        steps = []
        if KM_LEGACY in codes:
            steps.append("use the Keras 3 optimizer class")
        if KM_LR_KW in codes:
            steps.append("rename `lr=` to `learning_rate=`")
        if KM_DECAY in codes:
            steps.append("replace `decay=` with an `InverseTimeDecay` schedule")
        if KM_LR_TYPE in codes:
            steps.append("pass the learning rate as a float")
        if KM_LION in codes:
            steps.append("pass Keras 2's `learning_rate=1e-4`")
        if KM_EPS_NONE in codes:
            steps.append("drop `epsilon=None`")
        if KM_TF_ONLY in codes:
            steps.append("drop arguments Keras 3 does not accept")
        text = ", ".join(steps) or "rewrite the optimizer call"
        return text[0].upper() + text[1:]

    # ------------------------------------------------------------ optimizer.lr
    def _is_optimizer(self, node: cst.BaseExpression) -> bool:
        return is_optimizer(self.ctx.names, node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value != "lr" or not self._is_optimizer(node.value):
            return
        # K.set_value/K.get_value(opt.lr) are rewritten as a whole by _backend_lr.
        parent = self.ctx.parent()
        grand = self.ctx.parent(2)
        if isinstance(parent, cst.Arg) and isinstance(grand, cst.Call):
            callee = self.ctx.names.resolve_keras(grand.func)
            if callee in ("keras.backend.set_value", "keras.backend.get_value") and grand.args and grand.args[0] is parent:
                return
        assigned = isinstance(parent, (cst.AssignTarget, cst.AugAssign)) or (
            isinstance(parent, cst.AnnAssign) and parent.target is node
        )
        obj = self.ctx.code_for(node.value)
        if assigned:
            message = (
                f"assigning `{obj}.lr` does nothing in Keras 3: the optimizer has no `lr`, so the "
                "learning rate silently stays unchanged"
            )
        else:
            message = f"`{obj}.lr` raises `AttributeError` in Keras 3 (the attribute is `learning_rate`)"
        self.ctx.report(
            KM_LR_ATTR,
            node,
            message,
            FixSpec("Use `learning_rate` instead of `lr`", (NodeEdit(node.attr, "learning_rate"),)),
        )

    def _backend_lr(self, node: cst.Call, callee: str) -> None:
        if not node.args or node.args[0].keyword is not None:
            return
        target = node.args[0].value
        if not (
            isinstance(target, cst.Attribute)
            and target.attr.value == "lr"
            and self._is_optimizer(target.value)
        ):
            return
        obj = self.ctx.code_for(target.value)
        parent = self.ctx.parent()
        if callee.endswith("set_value"):
            if len(node.args) != 2 or not isinstance(parent, cst.Expr):
                self.ctx.report(KM_LR_ATTR, node, f"`{obj}.lr` does not exist in Keras 3")
                return
            value = self.ctx.code_for(node.args[1].value)
            self.ctx.report(
                KM_LR_ATTR,
                node,
                f"`K.set_value({obj}.lr, ...)` fails in Keras 3: the optimizer has no `lr` and "
                "`keras.backend.set_value` is gone",
                FixSpec(
                    "Assign `learning_rate` directly",
                    (NodeEdit(node, f"{obj}.learning_rate = {value}") ,),
                ) if isinstance(parent, cst.Expr) and self._whole_statement(parent) else None,
            )
        else:
            if len(node.args) != 1:
                self.ctx.report(KM_LR_ATTR, node, f"`{obj}.lr` does not exist in Keras 3")
                return
            self.ctx.report(
                KM_LR_ATTR,
                node,
                f"`K.get_value({obj}.lr)` fails in Keras 3: the optimizer has no `lr` and "
                "`keras.backend.get_value` is gone",
                FixSpec("Read `learning_rate` as a float", (NodeEdit(node, f"float({obj}.learning_rate)"),)),
            )

    def _whole_statement(self, expr: cst.Expr) -> bool:
        line = self.ctx.parent(2)
        return isinstance(line, cst.SimpleStatementLine) and len(line.body) >= 1
