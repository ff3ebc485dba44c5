"""Dynamic equivalence: run a construct under Keras 2 and Keras 3 and compare the numbers.

Parent side (never imports TensorFlow):

* :mod:`.locate`, :mod:`.units`, :mod:`.shapes` find the construct a fix touches (a Keras
  constructor call, a custom class, an activation-like function), cut it out of its module with
  the module-level names it needs, and choose the input shape;
* :mod:`.specs` turns that into a :class:`.spec.ProbeSpec` (original for Keras 2, rewrite for
  Keras 3); :mod:`.settings` reads ``[tool.kmigrate.verify]``;
* :mod:`.client` runs the worker process (timeouts, restarts); :mod:`.api` is what the CLI calls
  (``FixVerifier`` for ``fix --verify``, ``verify_paths`` for ``kmigrate verify``);
  :mod:`.report` renders the results.

Worker side (``python -m kmigrate.verify.worker``): :mod:`.sandbox` binds every Keras spelling
to one Keras, :mod:`.dispatch` runs a request, :mod:`.probe_layer`, :mod:`.probe_values` and
:mod:`.probe_callback` measure, :mod:`.compare` turns measurements into a verdict.
"""
