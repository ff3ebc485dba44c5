"""What passes between the verify stages: probe specifications, settings and outcomes.

Everything here is plain data that crosses the pipe to the worker as JSON, so this module
imports nothing heavier than the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kmigrate.diagnostics import Span, Verdict

Shape = tuple[int | None, ...]

#: Shapes tried, in order, when neither the code, a hint comment nor the configuration gives one.
DEFAULT_SHAPES: tuple[Shape, ...] = ((2, 8), (2, 5, 8), (2, 8, 8, 3), (2, 3, 6, 6, 2), (2, 2, 4, 4, 4, 2))


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float


@dataclass(frozen=True)
class Tolerances:
    """Per probe kind. Defaults sit two orders above the float32 noise floor (Appendix B.3)."""

    layer: Tolerance = Tolerance(1e-5, 1e-5)
    trajectory: Tolerance = Tolerance(1e-4, 1e-4)
    value: Tolerance = Tolerance(1e-5, 1e-5)

    def to_json(self) -> dict[str, list[float]]:
        return {k: [t.atol, t.rtol] for k, t in vars(self).items()}


@dataclass(frozen=True)
class VerifySettings:
    tolerances: Tolerances = field(default_factory=Tolerances)
    #: ``[tool.kmigrate.verify] input-shapes``: class or callee name -> shape; "*" for all.
    input_shapes: tuple[tuple[str, Shape], ...] = ()
    timeout: float = 60.0
    steps: int = 20
    python: str | None = None  # interpreter for the worker; default: the running one


@dataclass(frozen=True)
class Unit:
    """A runnable piece of user code: ``source`` defines names, ``entry`` builds the object.

    ``entry`` is an expression evaluated in the namespace ``source`` filled. ``legacy_optimizers``
    makes Keras 2 optimizer classes resolve to ``tf_keras.optimizers.legacy`` (Appendix B.5).
    """

    source: str
    entry: str
    legacy_optimizers: bool = False

    def to_json(self) -> dict[str, object]:
        return {"source": self.source, "entry": self.entry, "legacy": self.legacy_optimizers}


@dataclass(frozen=True)
class ProbeSpec:
    """Run ``before`` under Keras 2 and ``after`` under Keras 3 and compare."""

    label: str
    before: Unit
    after: Unit
    shapes: tuple[Shape, ...] = DEFAULT_SHAPES
    shape_source: str = "default ladder"
    tolerances: Tolerances = field(default_factory=Tolerances)
    steps: int = 20

    def to_json(self) -> dict[str, object]:
        return {
            "label": self.label,
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "shapes": [list(s) for s in self.shapes],
            "shape_source": self.shape_source,
            "tolerances": self.tolerances.to_json(),
            "steps": self.steps,
        }


@dataclass(frozen=True)
class Located:
    """A construct found in a module: where it is and how to probe it (or why not)."""

    path: str
    span: Span
    label: str
    spec: ProbeSpec | None
    reason: str = ""  # why ``spec`` is None


@dataclass(frozen=True)
class ProbeOutcome:
    """The verdict on one construct, with what the probe measured it on."""

    path: str
    span: Span
    label: str
    verdict: Verdict
    kind: str = ""
    shape: Shape | None = None
    shape_source: str = ""
    seconds: float = 0.0
    cell: int | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "cell": self.cell,
            "label": self.label,
            "kind": self.kind,
            "input_shape": list(self.shape) if self.shape is not None else None,
            "input_shape_source": self.shape_source,
            "seconds": round(self.seconds, 3),
            **self.verdict.to_json(),
        }
